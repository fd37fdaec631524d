"""Record sensor data from a board over serial into a CSV file, then cut it into a dataset.

Introduced in lesson ``01_data`` (the capture section). The board runs TinyLab's capture
sketch (a real Nano 33 BLE Sense, or the virtual Uno's simulated IMU); it speaks this line
protocol at 115200 baud, every line ending in ``\\n`` (a ``\\r`` before it is ignored)::

    board: #TINYLAB proto=1 sketch=capture board=nano33ble sensor=lsm9ds1 rate_hz=100 columns=ax,ay,az,gx,gy,gz [units=g,g,g,dps,dps,dps] [simulated=1]
    board: 0.012,-0.981,0.034,1.25,-0.40,0.00      one data row: len(columns) numbers, comma-separated
    board: # any comment                           ignored
    board: ! an error in words                     counted, its text kept in the summary
    host:  ?                                       asks for the banner (only sent before the first one)
    host:  G punch                                 a sketch command, sent after the banner if asked

Labels live on the host: :func:`record` writes the recording's label into each row's ``label``
column itself; the board never needs to know it. Commands a sketch understands (``S``, ``T``,
``G <gesture>`` for the simulated IMU: docs/capture-protocol.md) go in ``commands=``; their
``#`` answers are ignored and ``!`` answers kept in the summary. A banner in the middle of the
data means the board reset; the recording goes on if the columns are the same.

Trigger mode (``record(..., windows=N)``): the host sends ``T`` and the board answers with one
framed window, ``# window start rows=50``, 50 rows, ``# window end`` (on a real board when the
acceleration crosses its threshold; docs/capture-protocol.md); the host arms the next one after
each end. A window is kept whole or not at all: its rows go to disk only after its end, with a
``window`` column holding its number, so that :func:`windows` never cuts across two gestures.
A window cut short (the board reset or went away, rows were lost, the recording stopped) is
dropped and counted in ``summary.windows_dropped`` by reason.

>>> summary = record(port, "punch.csv", rows=1000, label="punch",
...                  commands=["G punch"])                                  # doctest: +SKIP
>>> X, y = windows("punch.csv", length=50, step=25)                          # doctest: +SKIP
>>> summary = record(port, "flex.csv", windows=20, label="flex",
...                  commands=["G flex"])                                   # doctest: +SKIP
>>> save_dataset(X, y, "gestures", summary.meta(), columns=summary.columns)  # doctest: +SKIP

What reaches the disk stays there: every accepted row is written and flushed to the operating
system as it arrives (a crash, Ctrl-C or an unplugged board loses none), and ``os.fsync`` runs
at most once a second and at the end (a power cut loses at most the last second). Recording
into an existing file appends to it, after checking its header names the same columns.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .serial import protocol
from .serial.errors import ConnectionLostError, NoBannerError, SerialError
from .serial.lines import TOO_LONG, LineReader
from .serial.ports import POLL_S as _POLL_S
from .serial.ports import open_port
from .serial.protocol import BANNER_MARK, BAUDRATE, banner_fields

__all__ = ["CaptureError", "NoBannerError", "ConnectionLostError", "CaptureSummary",
           "REJECT_REASONS", "WINDOW_DROP_REASONS", "WINDOW_COLUMN", "parse_capture_banner",
           "check_row", "record", "windows",
           "save_dataset"]

#: Why a line from the board was not kept, in the order the summary lists them.
REJECT_REASONS = ("garbage", "too_long", "wrong_columns", "not_a_number", "not_finite",
                  "board_reset", "partial_at_close")
#: Why a triggered window was not kept (trigger mode), in the order the summary lists them:
#: the board greeted again inside it; the port went away inside it; it did not hold the rows
#: its start announced (a row lost or rejected, or its end lost); the recording ended inside it.
WINDOW_DROP_REASONS = ("board_reset", "lost_connection", "wrong_rows", "stopped")
LABEL_COLUMN = "label"
#: The column that numbers triggered windows in a recording (trigger mode only).
WINDOW_COLUMN = "window"
_WINDOW_START = re.compile(r"^#\s*window start(?:\s+rows=(\d+))?\s*$")
_WINDOW_END = re.compile(r"^#\s*window end\s*$")
#: Keys the capture sketch's banner carries: every sketch's (``protocol.REQUIRED_KEYS``) and its
#: own.
BANNER_KEYS = protocol.REQUIRED_KEYS + ("sensor", "rate_hz", "columns")

# After asking with "?", a banner equal to the first that arrives within this long after it
# answers a second "?": it is passed over, not taken for a reset. Rows in that time are kept.
_SETTLE_AFTER_PROBE_S = 0.3
# A data row of a dozen floats is ~120 bytes; a line longer than this is noise.
_MAX_LINE_BYTES = 512
# fsync the CSV at most this often (seconds); rows are flushed to the OS one by one anyway.
_FSYNC_EVERY_S = 1.0
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# What Arduino's Print::print(float) writes for values it cannot show.
_NOT_FINITE_WORDS = {"nan", "-nan", "inf", "+inf", "-inf", "infinity", "-infinity", "ovf", "-ovf"}
# Pause between host commands: each is answered before the next arrives (64-byte AVR buffer).
_COMMAND_GAP_S = 0.05
_LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")
_PRINTABLE = frozenset(range(32, 127)) | {9}


class CaptureError(SerialError):
    """The recording could not start or go on; the message says why and what to do.

    Not a kind of :class:`tinylab.device.DeviceError` (the inference sketch's): both are
    :class:`tinylab.serial.SerialError`.
    """


def parse_capture_banner(line: str) -> dict | None:
    """The capture banner's fields, or None if ``line`` holds no whole TinyLab banner.

    ``proto`` becomes ``int``, ``rate_hz`` ``float``, ``columns`` (and ``units``, when present)
    a list of str, ``simulated`` a bool (False when absent); other values stay strings.

    >>> parse_capture_banner("#TINYLAB proto=1 sketch=capture board=uno sensor=sim "
    ...                      "rate_hz=50 columns=ax,ay simulated=1")["columns"]
    ['ax', 'ay']
    """
    fields = banner_fields(line)
    if fields is None or any(key not in fields for key in ("proto", "sketch")):
        return None
    try:
        fields["proto"] = int(fields["proto"])
        if "rate_hz" in fields:
            fields["rate_hz"] = float(fields["rate_hz"])
    except ValueError:
        return None
    for key in ("columns", "units"):
        if key in fields:
            fields[key] = fields[key].split(",")
    fields["simulated"] = fields.get("simulated", "0") not in ("0", "")
    return fields


def check_row(text: str, n_columns: int) -> str | None:
    """Why the data row ``text`` is rejected (one of :data:`REJECT_REASONS`), or None if it is good.

    A good row is ``n_columns`` decimal numbers separated by commas, all finite.

    >>> check_row("1,-2.5,3e2", 3), check_row("1,2", 3), check_row("1,nan,3", 3)
    (None, 'wrong_columns', 'not_finite')
    """
    fields = [f.strip() for f in text.split(",")]
    if len(fields) != n_columns:
        return "wrong_columns"
    for value in fields:
        if value.lower() in _NOT_FINITE_WORDS:
            return "not_finite"
        if not _NUMBER.match(value):
            return "not_a_number"
        if not math.isfinite(float(value)):  # 1e999
            return "not_finite"
    return None


@dataclass
class CaptureSummary:
    """What one call of :func:`record` did.

    Attributes
    ----------
    path : str
        The CSV file written to.
    port : str
    banner : dict
        The board's capture banner (board, sensor, rate_hz, columns, simulated, ...).
    columns : list of str
        The data columns (the CSV has these plus ``label``).
    label : str
    rows_kept : int
        Rows appended by this recording.
    rows_in_file : int
        Data rows in the file afterwards (more than ``rows_kept`` when resumed).
    rejected : dict
        Lines not kept, by reason (:data:`REJECT_REASONS`).
    duration_s : float
        From the banner to the end of the recording.
    trigger : bool
        Recorded in trigger mode: framed windows, numbered in the ``window`` column.
    windows_kept : int
        Trigger mode: whole windows appended by this recording.
    windows_dropped : dict
        Trigger mode: windows not kept, by reason (:data:`WINDOW_DROP_REASONS`).
    rows_outside_windows : int
        Trigger mode: rows the board streamed before ``T`` took effect (not kept, not errors).
    ended : str
        ``"rows"``, ``"windows"`` or ``"seconds"`` (the target was reached),
        ``"interrupted"`` (Ctrl-C),
        ``"lost_connection"``, ``"silent"`` (no line within the timeout) or
        ``"board_changed"`` (the board reset into other columns).
    message : str
        Plain words on how it ended, when not as asked.
    board_messages : list of str
        The last ``!`` lines from the board.
    """

    path: str
    port: str
    banner: dict
    columns: list
    label: str
    rows_kept: int = 0
    rows_in_file: int = 0
    rejected: dict = field(default_factory=lambda: dict.fromkeys(REJECT_REASONS, 0))
    duration_s: float = 0.0
    ended: str = ""
    message: str = ""
    board_messages: list = field(default_factory=list)
    resumed: bool = False
    target_rows: int | None = None
    target_seconds: float | None = None
    trigger: bool = False
    target_windows: int | None = None
    windows_kept: int = 0
    windows_dropped: dict = field(default_factory=lambda: dict.fromkeys(WINDOW_DROP_REASONS, 0))
    rows_outside_windows: int = 0

    @property
    def lost_connection(self) -> bool:
        return self.ended == "lost_connection"

    @property
    def exit_status(self) -> int:
        """0: the recording ended as asked (or was stopped with Ctrl-C when no target was
        given); 130: Ctrl-C before the target; 1: the board went away, fell silent or changed."""
        if self.ended in ("rows", "windows", "seconds"):
            return 0
        if self.ended == "interrupted":
            no_target = (self.target_rows is None and self.target_seconds is None
                         and self.target_windows is None)
            return 0 if no_target else 130
        return 1

    def meta(self) -> dict:
        """The facts :func:`save_dataset` records as provenance, from the banner."""
        return {"board": self.banner.get("board"), "sensor": self.banner.get("sensor"),
                "sample_rate_hz": self.banner.get("rate_hz"),
                "units": dict(zip(self.columns, self.banner.get("units") or [])) or "unknown",
                "simulated": bool(self.banner.get("simulated")),
                "date": datetime.date.today().isoformat(),
                **({"trigger": f"one framed window of {self.banner.get('window_rows')} rows "
                               f"per gesture (capture trigger mode)"} if self.trigger else {})}

    def to_json(self) -> str:
        return json.dumps(dict(asdict(self), lost_connection=self.lost_connection,
                               exit_status=self.exit_status), indent=2)

    def to_text(self) -> str:
        rejected = ", ".join(f"{n} {reason.replace('_', ' ')}"
                             for reason, n in self.rejected.items() if n) or "none"
        simulated = " (simulated)" if self.banner.get("simulated") else ""
        lines = [f"recorded {self.rows_kept} rows labelled {self.label!r} from "
                 f"{self.banner.get('sensor')} on {self.banner.get('board')}{simulated} in "
                 f"{self.duration_s:.1f} s into {self.path}"
                 f"{f' (resumed: {self.rows_in_file} rows now)' if self.resumed else ''}",
                 f"rejected lines: {rejected}"]
        if self.trigger:
            dropped = ", ".join(f"{n} {reason.replace('_', ' ')}"
                                for reason, n in self.windows_dropped.items() if n) or "none"
            lines.insert(1, f"trigger mode: {self.windows_kept} whole windows kept; "
                            f"windows dropped: {dropped}")
        if self.board_messages:
            lines.append(f"the board said: {self.board_messages[-1]}")
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


# ----------------------------------------------------------------------------- the port

class _Link(LineReader):
    """The serial port and the bytes read from it, cut into lines (see module docstring).

    ``next_line`` returns bytes without the line end, None on timeout, or ``"too_long"`` once
    for each over-long line (its bytes are dropped up to the next ``\\n``). A port that goes
    away raises :class:`ConnectionLostError`. The reading is :class:`LineReader`'s, shared
    with ``tinylab.device``.
    """

    max_line_bytes = _MAX_LINE_BYTES

    def __init__(self, port: str, baudrate: int):
        super().__init__(open_port(port, baudrate, write_timeout=2.0, error=CaptureError), port)


def _await_banner(link: _Link, banner_timeout: float, baudrate: int) -> tuple[dict, float]:
    """Wait for the capture banner; return it and until when an equal one is a probe's echo.

    Lines before the banner are stale (sent before the port opened, or by another sketch) and
    dropped. Everything after it stays in ``link``'s buffer: a board may send its first rows
    in the same write as its banner, and those are rows like any other.
    """
    def no_banner(heard):
        speed = "" if baudrate == BAUDRATE else f" (this port was opened at {baudrate} baud)"
        return (f"no TinyLab capture banner on {link.port} within {banner_timeout:g} s: wrong "
                f"baud or wrong sketch? The capture sketch talks at {BAUDRATE} baud{speed}."
                f"{protocol.heard_text(heard, link.buffer)} Flash the capture sketch, or press "
                f"the board's reset button and try again.")

    banner, probed = protocol.await_banner(link, banner_timeout, parse_capture_banner,
                                           no_banner=no_banner)
    _check_banner(banner, link.port)
    return banner, (time.monotonic() + _SETTLE_AFTER_PROBE_S if probed else 0.0)


def _check_banner(banner: dict, port: str) -> None:
    protocol.check_banner(banner, port, "capture", error=CaptureError,
                          flash="this version's capture sketch")
    missing = [key for key in BANNER_KEYS if key not in banner]
    if missing or not all(banner["columns"]):
        raise CaptureError(f"the capture banner from {port} lacks {missing or 'column names'}: "
                           f"the sketch is broken or too old.")
    if LABEL_COLUMN in banner["columns"]:
        raise CaptureError(f"the board names a data column {LABEL_COLUMN!r}, which TinyLab keeps "
                           f"for the label: rename it in the sketch.")


# ----------------------------------------------------------------------------- the file

def _open_output(path: Path, header: list):
    """Open ``path`` for appending rows; write the header if the file is new or empty.

    Returns ``(handle, rows_already_there, next_window_number)``; the last is one more than the
    largest ``window`` value in the file (0 for a new file, or one without that column). An
    existing file whose header differs, or that ends in a partial line, is a
    :class:`CaptureError` and is left untouched.
    """
    rows_before, next_window = 0, 0
    if path.exists() and path.stat().st_size > 0:
        content = path.read_bytes()
        first = content.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", errors="replace")
        if first.split(",") != header:
            raise CaptureError(
                f"{path} already holds other columns ({first[:120]!r}); this board sends "
                f"{','.join(header)!r}. Record into a new file (nothing was written).")
        if not content.endswith(b"\n"):
            raise CaptureError(f"{path} ends in a partial line (was it edited, or copied while "
                               f"being written?): fix its last line or record into a new file.")
        rows_before = content.count(b"\n") - 1
        if WINDOW_COLUMN in header and rows_before:
            at = header.index(WINDOW_COLUMN)
            try:
                next_window = 1 + max(int(line.split(b",")[at])
                                      for line in content.splitlines()[1:] if line.strip())
            except (ValueError, IndexError):
                raise CaptureError(f"{path} has a {WINDOW_COLUMN!r} column that is not whole "
                                   f"numbers on every line: record into a new file.") from None
        handle = path.open("a", newline="")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w", newline="")
        handle.write(",".join(header) + "\n")
        handle.flush()
    return handle, rows_before, next_window


def record(port: str, out, rows: int | None = None, seconds: float | None = None,
           label: str | None = None, *, windows: int | None = None, trigger: bool = False,
           commands=(), columns=None, progress: bool = True, on_row=None,
           baudrate: int = BAUDRATE, banner_timeout: float = 8.0,
           timeout: float = 5.0) -> CaptureSummary:
    """Record rows from the capture sketch on ``port`` into the CSV file ``out``.

    Parameters
    ----------
    port : str
        ``/dev/ttyACM0``, ``COM3`` or the virtual Uno's pty.
    out : str or Path
        The CSV file (``columns..., label``, or ``columns..., window, label`` in trigger
        mode); an existing one with the same header is appended to.
    rows, seconds : optional
        Stop after this many kept rows, or this many seconds after the banner; with neither
        (nor ``windows``), record until Ctrl-C. In trigger mode rows are kept a whole window
        at a time, so ``rows`` stops at the first window end that reaches it.
    label : str, optional
        Written into every row's ``label`` column (letters, digits, ``_ . -``). None: an
        empty label.
    windows : int, optional
        Trigger mode, stopping after this many whole windows (implies ``trigger=True``).
    trigger : bool
        Trigger mode: send ``S`` before the commands (disarm), ``T`` after them and after each
        ``# window end``, and ``S`` at the end; keep
        only the rows of whole framed windows, numbered in the ``window`` column (continuing
        from the file's last number when resumed). See the module docstring.
    commands : list of str, optional
        Lines sent to the board after its banner, one every 50 ms (an Uno's receive buffer
        is 64 bytes), e.g. ``["G punch"]`` for the simulated IMU. In trigger mode they are
        sent again if the board resets.
    columns : list of str, optional
        The columns the board must announce; another set is a :class:`CaptureError`.
    progress : bool
        Show a tqdm bar (rows kept, rejects).
    on_row : callable, optional
        ``on_row(values, summary)`` after each row is on disk; ``values`` is a float64 array of
        shape (len(columns),). For live plots. A KeyboardInterrupt raised there ends the
        recording like Ctrl-C; any other exception propagates. Rows so far stay saved.
    baudrate, banner_timeout, timeout : optional
        Serial speed; seconds to wait for the banner; seconds of silence that end the
        recording (in trigger mode only inside a window or before the board answers ``T``:
        a real board is silent until the gesture).

    Returns
    -------
    CaptureSummary
        Ends ``"lost_connection"``, ``"silent"`` or ``"board_changed"`` when the board went
        wrong (``summary.exit_status`` is 1): the rows before are on disk all the same.
    """
    if rows is not None and (int(rows) != rows or rows < 1):
        raise ValueError(f"rows must be a whole number >= 1, got {rows!r}")
    if windows is not None and (int(windows) != windows or windows < 1):
        raise ValueError(f"windows must be a whole number >= 1, got {windows!r}")
    trigger = bool(trigger) or windows is not None
    if seconds is not None and not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    if label is not None and not _LABEL.match(label):
        raise ValueError(f"label must be letters, digits, '_', '.' or '-' (it goes into a CSV "
                         f"column), got {label!r}; for example 'punch'")
    if not banner_timeout > 0 or not timeout > 0:
        raise ValueError(f"timeouts must be > 0 s, got banner_timeout={banner_timeout}, "
                         f"timeout={timeout}")
    commands = [str(c) for c in commands]
    if any("\n" in c or not c.isascii() for c in commands):
        raise ValueError(f"commands must be single ASCII lines without '\\n', got {commands!r}")
    path = Path(out)
    link = _Link(port, int(baudrate))
    handle = summary = None
    try:
        banner, echoes_until = _await_banner(link, float(banner_timeout), int(baudrate))
        if columns is not None and list(columns) != banner["columns"]:
            raise CaptureError(f"the board on {port} sends columns {banner['columns']}, not the "
                               f"{list(columns)} asked for: is it the right board and sketch?")
        if trigger and WINDOW_COLUMN in banner["columns"]:
            raise CaptureError(f"the board names a data column {WINDOW_COLUMN!r}, which "
                               f"TinyLab keeps for window numbers in trigger mode: rename it "
                               f"in the sketch.")
        header = banner["columns"] + ([WINDOW_COLUMN] if trigger else []) + [LABEL_COLUMN]
        handle, rows_before, next_window = _open_output(path, header)
        summary = CaptureSummary(str(path), port, banner, list(banner["columns"]), label or "",
                                 rows_in_file=rows_before, resumed=rows_before > 0,
                                 target_rows=rows, target_seconds=seconds, trigger=trigger,
                                 target_windows=windows)
        # Trigger mode: "S" first disarms a board left armed (a Nano does not reset on open).
        _send_commands(link, (["S"] + commands + ["T"]) if trigger else commands)
        _stream(link, handle, summary, rows, seconds, float(timeout), progress, on_row,
                windows=windows, commands=commands, next_window=next_window,
                echoes_until=echoes_until)
        return summary
    finally:
        if summary is not None and trigger and link.serial is not None:
            try:
                link.write(b"S\n")  # leave the board streaming, as after a reset
            except ConnectionLostError:
                pass
        if handle is not None:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        link.close()


def _send_commands(link, commands) -> None:
    for command in commands:
        link.write(command.encode("ascii") + b"\n")
        time.sleep(_COMMAND_GAP_S)


def _classify(line, summary):
    """What one line from the board is: ``("row", values)`` (a good row, its fields as str),
    ``("comment", text)``, ``("banner", fields or None)`` or ``(None, None)`` (not kept; a
    rejected line is counted in ``summary.rejected``, a ``!`` line kept in board_messages)."""
    if line is TOO_LONG:
        summary.rejected["too_long"] += 1
        return None, None
    if BANNER_MARK.encode() in line:
        summary.rejected["board_reset"] += 1
        return "banner", parse_capture_banner(line.decode("ascii", errors="replace"))
    if any(byte not in _PRINTABLE for byte in line):
        summary.rejected["garbage"] += 1
        return None, None
    text = line.decode("ascii").strip()
    if text.startswith("#"):
        return "comment", text
    if not text:
        return None, None
    if text.startswith("!"):
        summary.board_messages = (summary.board_messages + [text[1:].strip()])[-5:]
        return None, None
    reason = check_row(text, len(summary.columns))
    if reason is not None:
        summary.rejected[reason] += 1
        return None, None
    return "row", [v.strip() for v in text.split(",")]


def _stream(link, handle, summary, rows, seconds, timeout, progress, on_row, *, windows=None,
            commands=(), next_window=0, echoes_until=0.0) -> None:
    """Read lines until a target, Ctrl-C or a failure; append the kept rows to ``handle``.

    A banner equal to the first one before ``echoes_until`` (a ``time.monotonic()`` value)
    answers a second ``?`` sent while waiting for the first: it is passed over.

    Stream mode keeps every good row as it comes. Trigger mode (``summary.trigger``) keeps the
    rows of each whole framed window when its end arrives, re-arms with ``T``, and drops a
    window cut short (see :data:`WINDOW_DROP_REASONS`).
    """
    from tqdm.auto import tqdm

    trigger = summary.trigger
    started = time.monotonic()
    last_heard, last_fsync = started, [started]
    stop_at = started + seconds if seconds is not None else float("inf")
    bar = tqdm(total=windows if trigger else rows, desc=f"recording {summary.label or 'rows'}",
               unit="window" if trigger else "row", disable=not progress, file=sys.stderr,
               leave=True)
    window = None        # trigger mode: the rows of the window being received
    window_rows = None   # ... and how many its start announced
    awaiting_arm = trigger  # trigger mode: "T" sent, its answer not seen yet

    def keep(kept_rows, suffix):
        for values in kept_rows:
            handle.write(",".join(values) + suffix)
        handle.flush()  # in the OS now: survives a crash or Ctrl-C of this process
        summary.rows_kept += len(kept_rows)
        summary.rows_in_file += len(kept_rows)
        if time.monotonic() - last_fsync[0] >= _FSYNC_EVERY_S:
            os.fsync(handle.fileno())  # on the disk now: survives a power cut
            last_fsync[0] = time.monotonic()
        bar.update(1 if trigger else len(kept_rows))
        if progress:
            bar.set_postfix(rejected=sum(summary.rejected.values()), refresh=False)
        if on_row is not None:
            for values in kept_rows:
                on_row(np.array(values, dtype=np.float64), summary)

    def target_reached():
        if rows is not None and summary.rows_kept >= rows:
            return "rows"
        if windows is not None and summary.windows_kept >= windows:
            return "windows"
        return None

    try:
        while True:
            now = time.monotonic()
            reached = target_reached()
            if reached:
                summary.ended = reached
                break
            if now >= stop_at:
                summary.ended = "seconds"
                break
            listening = not trigger or window is not None or awaiting_arm
            try:
                line = link.next_line(min(stop_at, now + _POLL_S))
            except ConnectionLostError as exc:
                if link.buffer:
                    summary.rejected["partial_at_close"] += 1
                summary.ended, summary.message = "lost_connection", f"{exc} Rows so far are saved."
                break
            if line is None:
                # silent only after a read found nothing: a host that stalled (a busy machine)
                # must not mistake the lines waiting for it for silence
                if listening and time.monotonic() - last_heard > timeout:
                    summary.ended = "silent"
                    summary.message = (f"the board on {link.port} sent nothing for {timeout:g} "
                                       f"s: has the capture sketch stopped? Rows so far are "
                                       f"saved.")
                    break
                continue
            last_heard = time.monotonic()
            if (last_heard < echoes_until and isinstance(line, bytes)
                    and parse_capture_banner(line.decode("ascii", "replace")) == summary.banner):
                continue
            kind, value = _classify(line, summary)
            if kind == "banner":
                if value is not None and value.get("columns") != summary.columns:
                    summary.ended = "board_changed"
                    summary.message = (f"the board reset and now sends columns "
                                       f"{value.get('columns')}, not {summary.columns}: "
                                       f"record them into another file. Rows so far are saved.")
                    break
                if trigger:  # it reset into stream mode: drop what it cut, set it up again
                    if window is not None:
                        summary.windows_dropped["board_reset"] += 1
                        window = None
                    _send_commands(link, list(commands) + ["T"])
                    awaiting_arm, last_heard = True, time.monotonic()
            elif kind == "row":
                if not trigger:
                    keep([value], f",{summary.label}\n")
                elif window is not None:
                    window.append(value)
                else:
                    summary.rows_outside_windows += 1
            elif kind == "comment" and trigger:
                start = _WINDOW_START.match(value)
                if start:
                    if window is not None:  # its end was lost
                        summary.windows_dropped["wrong_rows"] += 1
                    window, awaiting_arm = [], False
                    window_rows = int(start.group(1) or summary.banner.get("window_rows") or 0)
                elif _WINDOW_END.match(value) and window is not None:
                    if not window_rows or len(window) == window_rows:
                        summary.windows_kept += 1
                        keep(window, f",{next_window},{summary.label}\n")
                        next_window += 1
                    else:
                        summary.windows_dropped["wrong_rows"] += 1
                    window = None
                    if target_reached() is None:
                        link.write(b"T\n")
                        awaiting_arm, last_heard = True, time.monotonic()
                elif value.startswith("# armed"):
                    awaiting_arm = False
    except KeyboardInterrupt:
        summary.ended = "interrupted"
        summary.message = "stopped with Ctrl-C; rows so far are saved."
    finally:
        if window is not None:
            reason = {"lost_connection": "lost_connection",
                      "board_changed": "board_reset"}.get(summary.ended, "stopped")
            summary.windows_dropped[reason] += 1
        summary.duration_s = time.monotonic() - started
        bar.close()


# ----------------------------------------------------------------------------- datasets

def _read_capture_csv(path, label_column: str, columns=None):
    """``(values, labels, columns, window_numbers or None)`` of a CSV written by :func:`record`."""
    with Path(path).open(newline="") as handle:
        reader = csv.DictReader(handle)
        names = reader.fieldnames or []
        if label_column not in names:
            raise ValueError(f"{path} has no label column {label_column!r}; its header is {names}")
        framed = WINDOW_COLUMN in names and WINDOW_COLUMN != label_column
        if columns is None:
            kept_apart = (label_column, WINDOW_COLUMN) if framed else (label_column,)
            columns = [c for c in names if c not in kept_apart]
        columns = list(columns)
        absent = [c for c in columns if c not in names]
        if absent:
            raise ValueError(f"{path} lacks the columns {absent}; its header is {names}")
        values, labels, numbers = [], [], []
        for line_no, row in enumerate(reader, start=2):
            try:
                values.append([float(row[c]) for c in columns])
                if framed:
                    numbers.append(int(row[WINDOW_COLUMN]))
            except (TypeError, ValueError):
                raise ValueError(f"{path} line {line_no}: a value is missing or not a number") from None
            labels.append(row[label_column])
    return (np.asarray(values, dtype=np.float32).reshape(-1, len(columns)), np.asarray(labels),
            columns, np.asarray(numbers, dtype=np.int64) if framed else None)


def windows(data, length: int, step: int, label_column: str = LABEL_COLUMN, *, labels=None,
            columns=None, groups=None):
    """Cut a recording into fixed-length examples, one label each.

    Windows never straddle a change of label, nor of window number in a trigger-mode
    recording (its ``window`` column; ``groups`` for an array): each run of consecutive rows
    with the same label and number gives windows starting at 0, ``step``, ``2*step``, ...
    that fit wholly inside it (a run's tail shorter than ``length`` is dropped). A triggered
    window of 50 rows cut with ``length=50, step=50`` is one example.

    Parameters
    ----------
    data : str, Path or array-like of shape (n_rows, n_channels)
        A CSV written by :func:`record`, or the rows themselves (then ``labels`` is needed).
    length, step : int
        Rows per window, and rows between window starts (``step < length`` overlaps them).
    label_column : str
        The CSV column holding the label.
    labels : array-like of shape (n_rows,), optional
        The label of each row, when ``data`` is an array.
    columns : list of str, optional
        CSV columns to use as channels, in this order (default: all but the label and the
        window number).
    groups : array-like of shape (n_rows,), optional
        For an array: a number per row (like the ``window`` column); runs also end where it
        changes.

    Returns
    -------
    X : ndarray of float32, shape (n_windows, length, n_channels)
    y : ndarray of str, shape (n_windows,)
    """
    length, step = int(length), int(step)
    if length < 1 or step < 1:
        raise ValueError(f"length and step must be >= 1 rows, got length={length}, step={step}")
    if isinstance(data, (str, os.PathLike)):
        values, row_labels, _, groups = _read_capture_csv(data, label_column, columns)
    else:
        values = np.asarray(data, dtype=np.float32)
        if values.ndim == 1:
            values = values[:, None]
        if labels is None:
            raise ValueError("windows of an array need labels=..., one per row")
        row_labels = np.asarray(labels).astype(str)
        if values.ndim != 2 or len(row_labels) != len(values):
            raise ValueError(f"data must have shape (n_rows, n_channels) and labels (n_rows,), "
                             f"got {values.shape} and {row_labels.shape}")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (len(values),):
            raise ValueError(f"groups must have one value per row, shape ({len(values)},), got "
                             f"{groups.shape}")
    X, y = [], []
    run_start = 0
    for i in range(1, len(values) + 1):
        if (i == len(values) or row_labels[i] != row_labels[run_start]
                or (groups is not None and groups[i] != groups[run_start])):
            for start in range(run_start, i - length + 1, step):
                X.append(values[start:start + length])
                y.append(row_labels[run_start])
            run_start = i
    n_channels = values.shape[1] if values.ndim == 2 else 1
    X = np.asarray(X, dtype=np.float32).reshape(-1, length, n_channels)
    return X, np.asarray(y, dtype=str)


def save_dataset(X, y, name: str, meta: dict, *, columns=None, root=None,
                 overwrite: bool = False) -> Path:
    """Write windows as a recorded dataset ``root/name/{data.csv, meta.json, README.md}``.

    The format is the one :func:`tinylab.data.load_recorded` reads (see datasets/README.md):
    one example per CSV row, feature columns ``<channel>_<t>`` in row-major order of
    ``(length, n_channels)``, then ``label``.

    Parameters
    ----------
    X : array-like, shape (n_windows, length, n_channels)
    y : array-like of str, shape (n_windows,)
    name : str
        The dataset's folder name.
    meta : dict
        Provenance: ``board, sensor, sample_rate_hz, units, simulated`` are required (a
        :class:`CaptureSummary`'s ``meta()`` has them), ``date`` defaults to today; more keys
        (``command``, ``notes``) are kept.
    columns : list of str, optional
        Channel names (default ``ch0, ch1, ...``).
    root : str or Path, optional
        Where datasets live (default: TinyLab's ``datasets/``).
    overwrite : bool
        Replace an existing dataset of that name; otherwise that is an error.

    Returns
    -------
    Path of the folder written.
    """
    from .data import DATASETS_DIR

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(str)
    if X.ndim != 3 or len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X must have shape (n_windows, length, n_channels) with n_windows >= 1 "
                         f"and y shape (n_windows,); got {X.shape} and {y.shape}")
    if not _LABEL.match(str(name)):
        raise ValueError(f"name must be letters, digits, '_', '.' or '-', got {name!r}")
    required = ("board", "sensor", "sample_rate_hz", "units", "simulated")
    missing = [key for key in required if key not in meta]
    if missing:
        raise ValueError(f"meta lacks {missing}; it needs {list(required)} (summary.meta() "
                         f"from record() has them)")
    length, n_channels = X.shape[1:]
    columns = [f"ch{c}" for c in range(n_channels)] if columns is None else list(columns)
    if len(columns) != n_channels:
        raise ValueError(f"columns names {len(columns)} channels, X has {n_channels}")
    folder = Path(root if root is not None else DATASETS_DIR) / name
    if folder.exists() and not overwrite:
        raise ValueError(f"{folder} exists already: choose another name, or overwrite=True")
    folder.mkdir(parents=True, exist_ok=True)
    features = [f"{column}_{t}" for t in range(length) for column in columns]
    class_names = sorted(set(y.tolist()))
    with (folder / "data.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(features + [LABEL_COLUMN])
        for window, label in zip(X, y):
            writer.writerow([repr(float(v)) for v in window.reshape(-1)] + [label])
    provenance = dict(meta, date=meta.get("date") or datetime.date.today().isoformat(),
                      window_rows=length, channels=columns)
    low, high = float(X.min()), float(X.max())
    document = {"name": name, "label_column": LABEL_COLUMN, "feature_columns": features,
                "class_names": class_names, "input_shape": [length, n_channels],
                "normalization": {"offset": 0.0, "scale": 1.0, "raw_range": [low, high],
                                  "description": "raw sensor values, unscaled"},
                "provenance": provenance}
    (folder / "meta.json").write_text(json.dumps(document, indent=2) + "\n")
    simulated = "simulated " if meta["simulated"] else ""
    counts = ", ".join(f"{c}: {int((y == c).sum())}" for c in class_names)
    (folder / "README.md").write_text(
        f"# {name}\n\n{len(X)} windows of {length} rows x {n_channels} channels ({', '.join(columns)}) "
        f"from the {simulated}{meta['sensor']} on {meta['board']} at {meta['sample_rate_hz']} Hz, "
        f"recorded with TinyLab's capture on {provenance['date']}.\n\nClasses ({counts}).\n\n"
        f"Schema: `data.csv` has one window per row, columns `<channel>_<t>` in row-major order of "
        f"shape ({length}, {n_channels}), then `label`; see `meta.json` and datasets/README.md.\n\n"
        f"Recorded with: `{meta.get('command', 'tinylab capture --port PORT --out FILE.csv --label NAME')}`, "
        f"then `tinylab.capture.windows` and `save_dataset`.\n")
    return folder
