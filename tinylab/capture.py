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

>>> summary = record(port, "punch.csv", rows=1000, label="punch",
...                  commands=["G punch"])                                  # doctest: +SKIP
>>> X, y = windows("punch.csv", length=50, step=25)                          # doctest: +SKIP
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

from .device import (BANNER_MARK, BAUDRATE, PROTOCOL_VERSION, ConnectionLostError, DeviceError,
                     NoBannerError, banner_fields)

__all__ = ["CaptureError", "NoBannerError", "ConnectionLostError", "CaptureSummary",
           "REJECT_REASONS", "parse_capture_banner", "check_row", "record", "windows",
           "save_dataset"]

#: Why a line from the board was not kept, in the order the summary lists them.
REJECT_REASONS = ("garbage", "too_long", "wrong_columns", "not_a_number", "not_finite",
                  "board_reset", "partial_at_close")
LABEL_COLUMN = "label"
BANNER_KEYS = ("proto", "sketch", "board", "sensor", "rate_hz", "columns")

# How long one read waits before the loop looks at its deadlines again (seconds).
_POLL_S = 0.05
# Listen this long for the boot banner before asking with "?", then ask again this often
# (same as tinylab.device: an Uno greets ~1 s after the port opens, a Nano 33 BLE must be asked).
_FIRST_PROBE_S = 0.5
_PROBE_EVERY_S = 1.0
# After asking with "?", drop what arrives this long after the banner: a second banner
# answering a second "?" must not look like a reset.
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


class CaptureError(DeviceError):
    """The recording could not start or go on; the message says why and what to do."""


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
    ended : str
        ``"rows"`` or ``"seconds"`` (the target was reached), ``"interrupted"`` (Ctrl-C),
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

    @property
    def lost_connection(self) -> bool:
        return self.ended == "lost_connection"

    @property
    def exit_status(self) -> int:
        """0: the recording ended as asked (or was stopped with Ctrl-C when no target was
        given); 130: Ctrl-C before the target; 1: the board went away, fell silent or changed."""
        if self.ended in ("rows", "seconds"):
            return 0
        if self.ended == "interrupted":
            return 0 if self.target_rows is None and self.target_seconds is None else 130
        return 1

    def meta(self) -> dict:
        """The facts :func:`save_dataset` records as provenance, from the banner."""
        return {"board": self.banner.get("board"), "sensor": self.banner.get("sensor"),
                "sample_rate_hz": self.banner.get("rate_hz"),
                "units": dict(zip(self.columns, self.banner.get("units") or [])) or "unknown",
                "simulated": bool(self.banner.get("simulated")),
                "date": datetime.date.today().isoformat()}

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
        if self.board_messages:
            lines.append(f"the board said: {self.board_messages[-1]}")
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


# ----------------------------------------------------------------------------- the port

class _Link:
    """The serial port and the bytes read from it, cut into lines (see module docstring).

    ``next_line`` returns bytes without the line end, None on timeout, or the str
    ``"too_long"`` once for each over-long line (its bytes are dropped up to the next
    ``\\n``). A port that goes away raises :class:`ConnectionLostError`.
    """

    def __init__(self, port: str, baudrate: int):
        import serial

        link = serial.Serial()
        link.port, link.baudrate, link.timeout, link.write_timeout = port, baudrate, _POLL_S, 2.0
        link.exclusive = True  # a second reader would get half the lines: "busy" instead
        try:
            link.open()
        except (serial.SerialException, OSError) as exc:
            from . import flash

            raise CaptureError(flash.port_error_message(port, exc)) from None
        self.port, self.serial, self.buffer, self.skipping = port, link, bytearray(), False

    def close(self) -> None:
        if self.serial is not None:
            try:
                self.serial.close()
            except Exception:  # closing a vanished port must not hide the first error
                pass
            self.serial = None

    def write(self, data: bytes) -> None:
        try:
            self.serial.write(data)
        except Exception as exc:
            self._lost(exc)

    def clear(self) -> None:
        """Drop what has arrived. If that cut a line (bytes were waiting), also drop the rest
        of it: the board keeps sending, and the next bytes are the tail of a row, not a row."""
        try:
            cut = bool(self.buffer) or self.serial.in_waiting > 0
        except Exception as exc:
            self._lost(exc)
        self.serial.reset_input_buffer()
        self.buffer.clear()
        self.skipping = cut

    def _lost(self, exc):
        self.close()
        raise ConnectionLostError(f"lost the connection to {self.port} ({exc}): was the board "
                                  f"unplugged, or the virtual board stopped?") from None

    def next_line(self, deadline: float):
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                raw = bytes(self.buffer[:end])
                del self.buffer[:end + 1]
                if self.skipping:
                    self.skipping = False
                    continue
                if len(raw) > _MAX_LINE_BYTES:
                    return "too_long"
                return raw.rstrip(b"\r")
            if len(self.buffer) > _MAX_LINE_BYTES:
                self.buffer.clear()
                if not self.skipping:
                    self.skipping = True
                    return "too_long"
            if time.monotonic() >= deadline:
                return None
            try:
                self.buffer += self.serial.read(max(1, self.serial.in_waiting))
            except Exception as exc:  # SerialException, or a bare OSError (EIO) on a pty
                self._lost(exc)


def _await_banner(link: _Link, banner_timeout: float, baudrate: int) -> dict:
    started = time.monotonic()
    deadline, next_probe = started + banner_timeout, started + _FIRST_PROBE_S
    probed, heard = False, []
    while True:
        now = time.monotonic()
        if now >= deadline:
            heard_text = (f" Heard instead: {heard[-1][:80]!r}." if heard else
                          f" Heard bytes but no line: {bytes(link.buffer[:40])!r}." if link.buffer
                          else " Heard nothing.")
            speed = "" if baudrate == BAUDRATE else f" (this port was opened at {baudrate} baud)"
            raise NoBannerError(
                f"no TinyLab capture banner on {link.port} within {banner_timeout:g} s: wrong "
                f"baud or wrong sketch? The capture sketch talks at {BAUDRATE} baud{speed}.{heard_text}"
                f" Flash the capture sketch, or press the board's reset button and try again.")
        if now >= next_probe:
            link.write(b"\n?\n")  # "\n" ends a partial line the board holds; "?" asks
            probed, next_probe = True, now + _PROBE_EVERY_S
        line = link.next_line(min(deadline, next_probe))
        if not isinstance(line, bytes):
            continue
        text = line.decode("ascii", errors="replace")
        banner = parse_capture_banner(text)
        if banner is None:
            if text.strip():
                heard.append(text)
            continue
        _check_banner(banner, link.port)
        if probed:  # a second banner may answer a second "?": let it pass
            quiet_until = time.monotonic() + _SETTLE_AFTER_PROBE_S
            while time.monotonic() < quiet_until:
                link.next_line(quiet_until)
        link.clear()
        return banner


def _check_banner(banner: dict, port: str) -> None:
    if banner["proto"] != PROTOCOL_VERSION:
        raise CaptureError(f"the board on {port} speaks TinyLab serial protocol {banner['proto']}, "
                           f"this TinyLab speaks {PROTOCOL_VERSION}: flash this version's capture "
                           f"sketch.")
    if banner["sketch"] != "capture":
        raise CaptureError(f"the board on {port} runs TinyLab's {banner['sketch']!r} sketch, not "
                           f"'capture': flash the capture sketch first.")
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

    Returns ``(handle, rows_already_there)``. An existing file whose header differs, or that
    ends in a partial line, is a :class:`CaptureError` and is left untouched.
    """
    rows_before = 0
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
        handle = path.open("a", newline="")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w", newline="")
        handle.write(",".join(header) + "\n")
        handle.flush()
    return handle, rows_before


def record(port: str, out, rows: int | None = None, seconds: float | None = None,
           label: str | None = None, *, commands=(), columns=None, progress: bool = True,
           on_row=None,
           baudrate: int = BAUDRATE, banner_timeout: float = 8.0,
           timeout: float = 5.0) -> CaptureSummary:
    """Record rows from the capture sketch on ``port`` into the CSV file ``out``.

    Parameters
    ----------
    port : str
        ``/dev/ttyACM0``, ``COM3`` or the virtual Uno's pty.
    out : str or Path
        The CSV file (``columns..., label``); an existing one is appended to.
    rows, seconds : optional
        Stop after this many kept rows, or this many seconds after the banner; with neither,
        record until Ctrl-C.
    label : str, optional
        Written into every row's ``label`` column (letters, digits, ``_ . -``). None: an
        empty label.
    commands : list of str, optional
        Lines sent to the board after its banner, one every 50 ms (an Uno's receive buffer
        is 64 bytes), e.g. ``["G punch"]`` for the simulated IMU.
    columns : list of str, optional
        The columns the board must announce; another set is a :class:`CaptureError`.
    progress : bool
        Show a tqdm bar (rows kept, rejects).
    on_row : callable, optional
        ``on_row(values, summary)`` after each row is on disk; ``values`` is a float64 array of
        shape (len(columns),). For live plots. A KeyboardInterrupt raised there ends the
        recording like Ctrl-C; any other exception propagates. Rows so far stay saved.
    baudrate, banner_timeout, timeout : optional
        Serial speed; seconds to wait for the banner; seconds of silence that end the recording.

    Returns
    -------
    CaptureSummary
        Ends ``"lost_connection"``, ``"silent"`` or ``"board_changed"`` when the board went
        wrong (``summary.exit_status`` is 1): the rows before are on disk all the same.
    """
    if rows is not None and (int(rows) != rows or rows < 1):
        raise ValueError(f"rows must be a whole number >= 1, got {rows!r}")
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
    handle = None
    try:
        banner = _await_banner(link, float(banner_timeout), int(baudrate))
        if columns is not None and list(columns) != banner["columns"]:
            raise CaptureError(f"the board on {port} sends columns {banner['columns']}, not the "
                               f"{list(columns)} asked for: is it the right board and sketch?")
        handle, rows_before = _open_output(path, banner["columns"] + [LABEL_COLUMN])
        summary = CaptureSummary(str(path), port, banner, list(banner["columns"]), label or "",
                                 rows_in_file=rows_before, resumed=rows_before > 0,
                                 target_rows=rows, target_seconds=seconds)
        for command in commands:
            link.write(command.encode("ascii") + b"\n")
            time.sleep(_COMMAND_GAP_S)
        _stream(link, handle, summary, rows, seconds, float(timeout), progress, on_row)
        return summary
    finally:
        if handle is not None:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        link.close()


def _stream(link, handle, summary, rows, seconds, timeout, progress, on_row) -> None:
    from tqdm.auto import tqdm

    n_columns, suffix = len(summary.columns), f",{summary.label}\n"
    started = last_fsync = last_heard = time.monotonic()
    stop_at = started + seconds if seconds is not None else float("inf")
    bar = tqdm(total=rows, desc=f"recording {summary.label or 'rows'}", unit="row",
               disable=not progress, file=sys.stderr, leave=True)
    try:
        while True:
            now = time.monotonic()
            if rows is not None and summary.rows_kept >= rows:
                summary.ended = "rows"
                break
            if now >= stop_at:
                summary.ended = "seconds"
                break
            if now - last_heard > timeout:
                summary.ended = "silent"
                summary.message = (f"the board on {link.port} sent nothing for {timeout:g} s: "
                                   f"has the capture sketch stopped? Rows so far are saved.")
                break
            try:
                line = link.next_line(min(stop_at, now + _POLL_S))
            except ConnectionLostError as exc:
                if link.buffer:
                    summary.rejected["partial_at_close"] += 1
                summary.ended, summary.message = "lost_connection", f"{exc} Rows so far are saved."
                break
            if line is None:
                continue
            last_heard = time.monotonic()
            if line == "too_long":
                summary.rejected["too_long"] += 1
                continue
            if BANNER_MARK.encode() in line:
                summary.rejected["board_reset"] += 1
                banner = parse_capture_banner(line.decode("ascii", errors="replace"))
                if banner is not None and banner.get("columns") != summary.columns:
                    summary.ended = "board_changed"
                    summary.message = (f"the board reset and now sends columns "
                                       f"{banner.get('columns')}, not {summary.columns}: "
                                       f"record them into another file. Rows so far are saved.")
                    break
                continue
            if any(byte not in _PRINTABLE for byte in line):
                summary.rejected["garbage"] += 1
                continue
            text = line.decode("ascii").strip()
            if not text or text.startswith("#"):
                continue
            if text.startswith("!"):
                summary.board_messages = (summary.board_messages + [text[1:].strip()])[-5:]
                continue
            reason = check_row(text, n_columns)
            if reason is not None:
                summary.rejected[reason] += 1
                continue
            values = [v.strip() for v in text.split(",")]
            handle.write(",".join(values) + suffix)
            handle.flush()  # in the OS now: survives a crash or Ctrl-C of this process
            summary.rows_kept += 1
            summary.rows_in_file += 1
            if time.monotonic() - last_fsync >= _FSYNC_EVERY_S:
                os.fsync(handle.fileno())  # on the disk now: survives a power cut
                last_fsync = time.monotonic()
            bar.update(1)
            if progress:
                bar.set_postfix(rejected=sum(summary.rejected.values()), refresh=False)
            if on_row is not None:
                on_row(np.array(values, dtype=np.float64), summary)
    except KeyboardInterrupt:
        summary.ended = "interrupted"
        summary.message = "stopped with Ctrl-C; rows so far are saved."
    finally:
        summary.duration_s = time.monotonic() - started
        bar.close()


# ----------------------------------------------------------------------------- datasets

def _read_capture_csv(path, label_column: str, columns=None):
    with Path(path).open(newline="") as handle:
        reader = csv.DictReader(handle)
        names = reader.fieldnames or []
        if label_column not in names:
            raise ValueError(f"{path} has no label column {label_column!r}; its header is {names}")
        columns = [c for c in names if c != label_column] if columns is None else list(columns)
        absent = [c for c in columns if c not in names]
        if absent:
            raise ValueError(f"{path} lacks the columns {absent}; its header is {names}")
        values, labels = [], []
        for line_no, row in enumerate(reader, start=2):
            try:
                values.append([float(row[c]) for c in columns])
            except (TypeError, ValueError):
                raise ValueError(f"{path} line {line_no}: a value is missing or not a number") from None
            labels.append(row[label_column])
    return np.asarray(values, dtype=np.float32).reshape(-1, len(columns)), np.asarray(labels), columns


def windows(data, length: int, step: int, label_column: str = LABEL_COLUMN, *, labels=None,
            columns=None):
    """Cut a recording into fixed-length examples, one label each.

    Windows never straddle a change of label: each run of consecutive rows with the same label
    gives windows starting at 0, ``step``, ``2*step``, ... that fit wholly inside it (a run's
    tail shorter than ``length`` is dropped).

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
        CSV columns to use as channels, in this order (default: all but the label).

    Returns
    -------
    X : ndarray of float32, shape (n_windows, length, n_channels)
    y : ndarray of str, shape (n_windows,)
    """
    length, step = int(length), int(step)
    if length < 1 or step < 1:
        raise ValueError(f"length and step must be >= 1 rows, got length={length}, step={step}")
    if isinstance(data, (str, os.PathLike)):
        values, row_labels, _ = _read_capture_csv(data, label_column, columns)
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
    X, y = [], []
    run_start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or row_labels[i] != row_labels[run_start]:
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
