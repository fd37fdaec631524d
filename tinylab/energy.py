"""Energy per inference and battery life, from the cycles a board counted and datasheet currents.

A board measures how many CPU cycles one inference takes (the inference sketch counts them
with a hardware timer, lesson 08). From there it is arithmetic:

    time     t = cycles / clock                                   (s)
    energy   E = V * I_active * t                                 (J; V * mA * ms = µJ)
    duty     d = inferences_per_hour * t / 3600                   (share of the time awake)
    average  I = d * I_active + (1 - d) * I_sleep                 (mA)
    battery  hours = capacity_mAh / I                             (h)

The currents are the chip's, from its datasheet, or the whole board's (an Arduino Uno's USB
bridge, regulator and power LED draw several times what its ATmega328P does, awake or asleep).
The battery is ideal: all of its capacity at any current, no self-discharge, no regulator loss;
a real one gives less. Waking from sleep costs time too (the ATmega328P's crystal start-up is
16K clock cycles, 1 ms at 16 MHz, datasheet section "Clock Sources"), which is left out here.

Every figure carries its source in :attr:`PowerProfile.sources`. None was measured by TinyLab:
no datasheet was downloaded to write this module, so each figure names the document, section
and table it comes from, and the ones read off a figure or recalled from a web page say so and
should be checked against that document before anyone relies on them.

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["PowerProfile", "InferenceEnergy", "BatteryLife", "PROFILE_FIGURES", "profile",
           "inference_seconds", "energy_per_inference", "average_current_ma", "battery_life"]

SECONDS_PER_HOUR = 3600.0

#: The figures of each board's power profile, with their sources. The clock comes from the
#: board's profile in ``boards/<id>.json`` (:func:`tinylab.boards.load`), sourced there.
PROFILE_FIGURES = {
    "uno": {
        "mcu": "ATmega328P",
        "volts": 5.0,
        "active_ma": 10.0,
        "sleep_ua": 4.2,
        "board_active_ma": 50.0,
        "board_sleep_ma": 35.0,
        "sources": {
            "volts": "Arduino Uno (R3): the ATmega328P runs from the board's regulated 5 V; at "
                     "16 MHz it needs 4.5-5.5 V (ATmega328P datasheet, Microchip DS40002061, "
                     "'Speed Grades', Maximum Frequency vs. VCC)",
            "active_ma": "ATmega328P datasheet (Microchip DS40002061; Atmel-7810/8271 before), "
                         "Typical Characteristics, figure 'Active Supply Current vs. Frequency "
                         "(1 - 20 MHz)': about 10 mA at 16 MHz and 5 V, read off the figure "
                         "(verify). The DC Characteristics table stops at 8 MHz for 5 V: "
                         "5.2 mA typical, 9 mA max; twice that, 10.4 mA, agrees",
            "sleep_ua": "ATmega328P datasheet, DC Characteristics table, Power-down mode with "
                        "the watchdog timer enabled (it wakes the chip for the next inference): "
                        "4.2 µA typical (8 µA max) at VCC = 3 V, the only voltage tabulated; "
                        "at 5 V it is higher (Typical Characteristics, 'Power-down Supply "
                        "Current vs. VCC (Watchdog Timer Enabled)': verify)",
            "board_active_ma": "whole Uno R3 board, measured by Nick Gammon, 'Power saving "
                               "techniques for microprocessors' (gammon.com.au/power), "
                               "'Baseline - Arduino Uno': about 50 mA running (round figure "
                               "recalled from that page, verify). The ATmega16U2 USB bridge, "
                               "the linear regulator, the op-amp and the power LED draw it",
            "board_sleep_ma": "same page and board: about 35 mA with the ATmega328P in "
                              "power-down (round figure recalled, verify): the rest of the board "
                              "keeps drawing. A 2011 Arduino forum report ('High power "
                              "consumption by the 8U2 USB interface in sleep mode') gives 32 mA "
                              "for a sleeping Uno with a logger shield",
        },
    },
    "nano33ble": {
        "mcu": "nRF52840",
        "volts": 3.0,
        "active_ma": 3.3,
        "sleep_ua": 1.5,
        "board_active_ma": None,
        "board_sleep_ma": None,
        "sources": {
            "volts": "nRF52840 Product Specification v1.7 (Nordic), section 'Current "
                     "consumption': its figures are at 3 V (the Nano 33 BLE Sense runs it at "
                     "3.3 V)",
            "active_ma": "nRF52840 Product Specification v1.7, 'Current consumption', CPU "
                         "running CoreMark from flash at 64 MHz, regulator DC/DC: 3.3 mA "
                         "typical (6.3 mA with the LDO regulator); verify which regulator the "
                         "Nano's firmware enables",
            "sleep_ua": "nRF52840 Product Specification v1.7, 'Current consumption', System ON "
                        "sleep woken by the RTC: about 1.5 µA typical without RAM retention "
                        "(retaining RAM adds to it, per retained block: see the same table; "
                        "verify)",
            "board_active_ma": "not given: no published measurement of the whole Nano 33 BLE "
                               "Sense board (sensors, LEDs, regulator) is cited here; measure "
                               "it with a USB power meter or a µA meter",
            "board_sleep_ma": "not given, as board_active_ma",
        },
    },
}


@dataclass(frozen=True)
class PowerProfile:
    """What a board's chip (and the whole board, where a figure exists) draws.

    Attributes
    ----------
    board : str
        The board profile's id (``"uno"``, ``"nano33ble"``).
    mcu : str
    clock_hz : float
        CPU clock, Hz.
    volts : float
        Supply voltage the currents are given at, V.
    active_ma : float
        The chip computing, mA.
    sleep_ua : float
        The chip in its deepest sleep that a timer can still wake, µA.
    board_active_ma, board_sleep_ma : float or None
        The whole board's draw with the chip awake / asleep, mA; None where no figure is cited.
    sources : dict of str -> str
        Where each figure comes from.
    """

    board: str
    mcu: str
    clock_hz: float
    volts: float
    active_ma: float
    sleep_ua: float
    board_active_ma: float | None = None
    board_sleep_ma: float | None = None
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("clock_hz", "volts", "active_ma"):
            _positive(getattr(self, name), name)
        _non_negative(self.sleep_ua, "sleep_ua")
        for name in ("board_active_ma", "board_sleep_ma"):
            if getattr(self, name) is not None:
                _positive(getattr(self, name), name)

    def currents_ma(self, whole_board: bool = False) -> tuple:
        """``(awake_ma, asleep_ma)`` of the chip, or of the whole board."""
        if not whole_board:
            return self.active_ma, self.sleep_ua / 1000.0
        if self.board_active_ma is None or self.board_sleep_ma is None:
            raise ValueError(f"no cited figure for the whole {self.board} board's current "
                             f"({self.sources.get('board_active_ma', 'not given')}); use "
                             f"whole_board=False for the bare {self.mcu}")
        return self.board_active_ma, self.board_sleep_ma


def profile(board="uno") -> PowerProfile:
    """The power profile of ``board`` (a board id of :data:`PROFILE_FIGURES`), or ``board``
    itself if it is already a :class:`PowerProfile` (tests and students can make their own)."""
    if isinstance(board, PowerProfile):
        return board
    if board not in PROFILE_FIGURES:
        raise ValueError(f"no power profile for board {board!r}; choose one of "
                         f"{sorted(PROFILE_FIGURES)} or pass a PowerProfile")
    from . import boards

    figures = dict(PROFILE_FIGURES[board])
    board_profile = boards.load(board)
    sources = dict(figures.pop("sources"))
    sources["clock_hz"] = board_profile["sources"]["clock_hz"]
    return PowerProfile(board=board, clock_hz=float(board_profile["clock_hz"]), sources=sources,
                        **figures)


@dataclass(frozen=True)
class InferenceEnergy:
    """One inference: how long, at what current, and the energy (:func:`energy_per_inference`).

    Attributes
    ----------
    cycles : float
    seconds : float
    current_ma : float
    volts : float
    energy_uj : float
        ``volts * current_ma * seconds * 1000``, µJ.
    whole_board : bool
    """

    cycles: float
    seconds: float
    current_ma: float
    volts: float
    energy_uj: float
    whole_board: bool

    @property
    def milliseconds(self) -> float:
        return self.seconds * 1000.0


@dataclass(frozen=True)
class BatteryLife:
    """A duty cycle's average current and how long a battery lasts (:func:`battery_life`).

    Attributes
    ----------
    hours : float
        ``capacity_mah / average_ma`` (infinite only for a profile that draws nothing asleep,
        running no inference).
    average_ma : float
    duty : float
        Share of the time spent computing, 0 to 1.
    inferences_per_hour : float
    capacity_mah : float
    whole_board : bool
    """

    hours: float
    average_ma: float
    duty: float
    inferences_per_hour: float
    capacity_mah: float
    whole_board: bool

    @property
    def days(self) -> float:
        return self.hours / 24.0

    @property
    def years(self) -> float:
        return self.hours / (24.0 * 365.25)

    def to_text(self) -> str:
        """The battery life in the largest unit that reads well."""
        if self.hours < 48:
            return f"{self.hours:,.1f} hours"
        if self.days < 2 * 365.25:
            return f"{self.days:,.1f} days"
        return f"{self.years:,.1f} years"


def inference_seconds(cycles, clock_hz) -> float:
    """``cycles / clock_hz``: the time one inference takes, in seconds.

    Parameters
    ----------
    cycles : float
        CPU cycles per inference (e.g. the mean of :attr:`InferenceRun.cycles`), > 0.
    clock_hz : float
        > 0; 16e6 on the Uno.
    """
    return _positive(cycles, "cycles") / _positive(clock_hz, "clock_hz")


def energy_per_inference(cycles, board="uno", *, whole_board: bool = False) -> InferenceEnergy:
    """The energy of one inference: ``volts * current * cycles / clock``.

    Parameters
    ----------
    cycles : float
        CPU cycles per inference, as the board counted them, > 0.
    board : str or PowerProfile
        ``"uno"`` (ATmega328P at 16 MHz) or ``"nano33ble"`` (nRF52840 at 64 MHz), or a profile.
    whole_board : bool
        The whole board's current instead of the chip's (refused where no figure is cited).

    Returns
    -------
    InferenceEnergy
        ``energy_uj`` in µJ (V * mA * ms = µJ).
    """
    power = profile(board)
    seconds = inference_seconds(cycles, power.clock_hz)
    current_ma, _ = power.currents_ma(whole_board)
    energy_uj = power.volts * current_ma * seconds * 1000.0
    return InferenceEnergy(cycles=float(cycles), seconds=seconds, current_ma=current_ma,
                           volts=power.volts, energy_uj=energy_uj, whole_board=bool(whole_board))


def average_current_ma(cycles, inferences_per_hour, board="uno", *,
                       whole_board: bool = False) -> tuple:
    """The average current of a duty cycle: awake for each inference, asleep in between.

    Returns ``(average_ma, duty)``; ``duty = inferences_per_hour * seconds / 3600``. A rate the
    chip cannot keep up with (duty above 1) is a ValueError that says the most it can do.
    """
    power = profile(board)
    rate = _non_negative(inferences_per_hour, "inferences_per_hour")
    seconds = inference_seconds(cycles, power.clock_hz)
    duty = rate * seconds / SECONDS_PER_HOUR
    if duty > 1:
        most = SECONDS_PER_HOUR / seconds
        raise ValueError(f"{rate:,.0f} inferences per hour do not fit in an hour: each takes "
                         f"{seconds * 1000:.2f} ms on the {power.mcu}, so at most "
                         f"{most:,.0f} per hour")
    awake_ma, asleep_ma = power.currents_ma(whole_board)
    return duty * awake_ma + (1 - duty) * asleep_ma, duty


def battery_life(cycles, inferences_per_hour, capacity_mah, board="uno", *,
                 whole_board: bool = False) -> BatteryLife:
    """How long an ideal battery of ``capacity_mah`` lasts at a chosen duty cycle.

    Parameters
    ----------
    cycles : float
        CPU cycles per inference, > 0.
    inferences_per_hour : float
        >= 0; between inferences the chip sleeps (or the board idles with it).
    capacity_mah : float
        The battery's capacity, mAh, > 0 (e.g. 2000 for a pair of AA cells, 225 for a CR2032).
    board : str or PowerProfile
    whole_board : bool

    Returns
    -------
    BatteryLife
        ``hours = capacity_mah / average_ma``: an ideal battery (all of its capacity at any
        current, no self-discharge, no regulator loss).
    """
    capacity = _positive(capacity_mah, "capacity_mah")
    average_ma, duty = average_current_ma(cycles, inferences_per_hour, board,
                                          whole_board=whole_board)
    hours = capacity / average_ma if average_ma > 0 else math.inf
    return BatteryLife(hours=hours, average_ma=average_ma, duty=duty,
                       inferences_per_hour=float(inferences_per_hour), capacity_mah=capacity,
                       whole_board=bool(whole_board))


def _number(value, name: str) -> float:
    is_number = isinstance(value, (int, float)) or hasattr(value, "__float__")
    if isinstance(value, bool) or not is_number:
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def _positive(value, name: str) -> float:
    number = _number(value, name)
    if number <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return number


def _non_negative(value, name: str) -> float:
    number = _number(value, name)
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number
