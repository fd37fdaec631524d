"""Lesson 08: how long a battery lasts, from the cycles a board measured per inference."""

from __future__ import annotations

import html
import math

import ipywidgets as widgets
import numpy as np

from .. import energy
from ..plot.boards import battery_life as battery_life_figure
from ._panel import assemble, reporting_errors, show

#: The rates the figure spans, inferences per hour: one an hour to a hundred a second.
_RATES_PER_HOUR = np.logspace(0, math.log10(360_000), 121)


def energy_explorer(cycles, *, board: str = "uno", inferences_per_hour: float = 60,
                    capacity_mah: float = 2000, whole_board: bool = False) -> widgets.VBox:
    """Choose a build, a rate and a battery; see the energy per inference and the battery life.

    Everything is computed by :mod:`tinylab.energy` from the cycles the board counted and the
    datasheet currents it cites: time = cycles / clock, energy = volts * current * time, the
    average current of the duty cycle (awake for each inference, asleep in between), and the
    hours an ideal battery of that capacity lasts.

    Parameters
    ----------
    cycles : float or dict of str -> float
        CPU cycles per inference, or one per build (e.g. ``{"student · int8": 35_000, ...}``,
        the means of the lesson's board runs).
    board : str
        A profile of :data:`tinylab.energy.PROFILE_FIGURES` (``"uno"``).
    inferences_per_hour, capacity_mah : float
        Where the sliders start.
    whole_board : bool
        Start with the whole board's current instead of the bare chip's.

    Returns
    -------
    ipywidgets.VBox
        With ``controls`` (``build``, ``rate``, ``capacity``, ``draw``, ``info``, ``figure``)
        and ``state``: ``{"build", "cycles", "energy", "life"}`` (an
        :class:`~tinylab.energy.InferenceEnergy` and a :class:`~tinylab.energy.BatteryLife`)
        for what is shown.
    """
    builds = dict(cycles) if isinstance(cycles, dict) else {"the model": cycles}
    if not builds:
        raise ValueError("cycles must be a number of cycles per inference, or a non-empty dict "
                         "{build: cycles per inference}")
    for label, count in builds.items():
        energy.inference_seconds(count, 1.0)  # a clear error for a bad count, before any widget
    power = energy.profile(board)
    has_board = power.board_active_ma is not None
    if whole_board and not has_board:
        power.currents_ma(True)  # raises, naming the missing figure
    build = widgets.Dropdown(options=list(builds), description="build",
                             style={"description_width": "initial"})
    rate = widgets.FloatLogSlider(value=float(inferences_per_hour), base=10, min=0,
                                  max=math.log10(_RATES_PER_HOUR[-1]), step=0.05,
                                  description="inferences per hour", readout_format=",.0f",
                                  continuous_update=False, style={"description_width": "initial"})
    capacity = widgets.FloatLogSlider(value=float(capacity_mah), base=10, min=1.5, max=4,
                                      step=0.05, description="battery (mAh)",
                                      readout_format=",.0f", continuous_update=False,
                                      style={"description_width": "initial"})
    draw_options = [("bare chip", False)] + ([("whole board", True)] if has_board else [])
    draw = widgets.ToggleButtons(options=draw_options, value=bool(whole_board),
                                 description="current of", style={"description_width": "initial"})
    info = widgets.HTML()
    figure = widgets.Output()
    panel = widgets.VBox()

    def lives(count, mah, board_draw):
        hours = []
        for r in _RATES_PER_HOUR:
            try:
                hours.append(energy.battery_life(count, r, mah, power,
                                                 whole_board=board_draw).hours)
            except ValueError:  # more inferences than the hour holds
                hours.append(np.nan)
        return np.array(hours)

    def redraw(_=None):
        with reporting_errors(info):
            label, count = build.value, builds[build.value]
            one = energy.energy_per_inference(count, power, whole_board=draw.value)
            life = energy.battery_life(count, rate.value, capacity.value, power,
                                       whole_board=draw.value)
            who = f"the whole {power.board} board" if draw.value else f"the bare {power.mcu}"
            info.value = (
                f"<b>{html.escape(label)}</b>: {count:,.0f} cycles = "
                f"<b>{one.milliseconds:.2f} ms</b> at {power.clock_hz / 1e6:g} MHz; "
                f"{one.volts:g} V &times; {one.current_ma:g} mA ({who}) &times; time = "
                f"<b>{one.energy_uj:,.1f} µJ</b> per inference<br>"
                f"{rate.value:,.0f} inferences per hour: awake {life.duty:.4%} of the time, "
                f"average <b>{life.average_ma:,.4g} mA</b> &rarr; an ideal "
                f"{capacity.value:,.0f} mAh battery lasts <b>{life.to_text()}</b>")
            panel.state = {"build": label, "cycles": float(count), "energy": one, "life": life}
            curves = {"bare chip": lives(count, capacity.value, False)}
            if has_board:
                curves["whole board"] = lives(count, capacity.value, True)
            show(figure, battery_life_figure(
                _RATES_PER_HOUR, curves, chosen=(rate.value, life.hours),
                title=f"{label}: {capacity.value:,.0f} mAh, {power.mcu} at "
                      f"{power.clock_hz / 1e6:g} MHz"))

    panel.state = None
    return assemble(panel, [build, rate, capacity, draw], info, figure, redraw,
                    {"build": build, "rate": rate, "capacity": capacity, "draw": draw,
                     "info": info, "figure": figure})
