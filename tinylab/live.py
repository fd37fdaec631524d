"""Live classification on the board: a sliding window of IMU readings, classified on the chip.

Lesson 09's gesture model classifies windows of ``steps`` readings (6 channels: ``ax ay az``
in g, ``gx gy gz`` in deg/s). On a board that reads its own sensor, the window slides: each
reading is standardized and quantized as it arrives (in integers, by the model's
``tl_model_quantize_reading``, :func:`tinylab.engine.raw_input`), pushed into a window that
is the model's input, and every ``hop`` readings the model runs on it. The C core that does
it, ``boards/live/tl_live.c``, is plain C99, shared by two sketches:

- ``live_sim``: readings arrive as text lines over serial (``S v1 ... v6``) in place of a
  sensor; the board answers ``K n`` (kept) or ``C class scores latency_us cycles stack``
  (classified). For the virtual Uno, and any board (docs/live.md);
- ``live_nano33ble``: the Nano 33 BLE Sense reads its IMU at ``rate_hz`` and prints the class
  name and latency of every classification.

:func:`write_live_sketch` writes either with the core, the model's C and ``live_config.h``;
:func:`live_reference` says which classifications a board must print for recorded rows (row,
class, int8 scores), and :func:`run_live` / :class:`LiveSession` feed recorded rows to a
running ``live_sim`` and collect what it printed, to compare byte for byte.

>>> ri = tl.engine.raw_input(mlp, data.normalization)                          # doctest: +SKIP
>>> firmware = tl.build.compile_sketch(write_live_sketch(mlp, ri, data.class_names, hop=10,
...                                                      rate_hz=50))           # doctest: +SKIP
>>> run = run_live(firmware, rows, ri)                                         # doctest: +SKIP
>>> run.matches(live_reference(mlp, ri, rows, hop=10))                         # doctest: +SKIP
True

Introduced with lesson ``09_gestures``.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _paths, engine
from .deploy import MEASURE_HEADER
from .serial import protocol
from .serial.errors import SerialError
from .serial.lines import ACK, TOO_LONG, LineReader
from .serial.ports import open_port

__all__ = ["SKETCHES", "CORE_DIR", "CORE_FILES", "LiveError", "write_live_sketch", "fixed_rows",
           "row_line", "live_reference", "LiveReference", "LiveRun", "LiveSession", "run_live",
           "ACK_EVERY_BYTES"]

#: The live sketch for each board: the virtual Uno (any board) takes readings over serial.
SKETCHES = {"uno": "live_sim", "nano33ble": "live_nano33ble"}
#: The C core both sketches share, copied beside them.
CORE_DIR = _paths.BOARDS_DIR / "live"
CORE_FILES = ("tl_live.h", "tl_live.c")
#: The live sketches' banner (Arduino C++), copied beside them with the core.
BANNER_HEADER = "tl_live_banner.h"
#: live_sim acknowledges every 32nd byte of a line with "." (its TL_ACK_EVERY), as the
#: inference sketch does: the host sends the next 32 bytes only after it.
ACK_EVERY_BYTES = 32
#: The Nano 33 BLE Sense's IMU channels, in the order live_nano33ble pushes them, and the units
#: its libraries (Arduino_LSM9DS1, Arduino_BMI270_BMM150) give them in.
NANO_CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
NANO_UNITS = ("g", "g", "g", "dps", "dps", "dps")

_BANNER_NUMBERS = ("proto", "inputs", "outputs", "channels", "decimals", "steps", "hop", "rate_hz")


class LiveError(SerialError):
    """A live sketch did not answer as its protocol says (docs/live.md)."""


# --------------------------------------------------------------------------------- the sketch


def _steps(raw_input) -> int:
    return raw_input.n_inputs // raw_input.n_channels


def _check_model_pair(mlp, raw_input):
    engine.reference.check_model(mlp)
    if not isinstance(raw_input, engine.RawInput):
        raise TypeError(f"raw_input must be a RawInput (tl.engine.raw_input(mlp, "
                        f"data.normalization)), got {type(raw_input).__name__}")
    if raw_input.base_model_hash != mlp.model_hash:
        raise ValueError(f"this RawInput was made for model {raw_input.base_model_hash}, not "
                         f"{mlp.model_hash}: make it from this model, "
                         f"tl.engine.raw_input(mlp, data.normalization)")
    if raw_input.n_inputs % raw_input.n_channels:
        raise ValueError(f"the model's {raw_input.n_inputs} inputs are not whole readings of "
                         f"{raw_input.n_channels} channels")


def _check_hop(hop, steps: int) -> int:
    if isinstance(hop, bool) or not isinstance(hop, (int, np.integer)) or not 1 <= hop <= 65535:
        raise ValueError(f"hop must be a whole number of readings from 1 to 65535 (a window is "
                         f"{steps} readings; e.g. {max(1, steps // 5)}), got {hop!r}")
    return int(hop)


def _class_words(class_names, n_outputs: int) -> list:
    names = [str(name) for name in class_names]
    if len(names) != n_outputs:
        raise ValueError(f"the model has {n_outputs} outputs but {len(names)} class names were "
                         f"given: pass data.class_names")
    for name in names:
        if not name or not name.isascii() or not name.isprintable():
            raise ValueError(f"class names must be printable ASCII for the board to print them, "
                             f"got {name!r}")
    return names


def _config_header(names, hop, rate_hz, unit_scale, raw_input, call) -> str:
    """live_config.h: the sketch's settings, generated."""
    words = [re.sub(r"[\s,=]+", "_", name) for name in names]   # one banner word
    c_names = ", ".join('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
                        for name in names)
    scales = ", ".join(f"{float(s)!r}f" for s in unit_scale)
    return f"""/* Generated by {call}.
 * The live sketch's settings (boards/sketches/live_*; docs/live.md). */
#ifndef LIVE_CONFIG_H
#define LIVE_CONFIG_H

/* A classification every TL_LIVE_HOP readings, once the window ({_steps(raw_input)} readings) is
 * full. */
#define TL_LIVE_HOP {hop}
/* Readings per second: the rate the model's training windows were recorded at. */
#define TL_LIVE_RATE_HZ {rate_hz}
#define TL_LIVE_CLASSES {len(names)}
#define TL_LIVE_CLASS_LIST "{','.join(words)}"
#define TL_LIVE_CLASS_NAMES {{{c_names}}}
/* Channel by channel ({', '.join(raw_input.channels)}): the model's unit per unit of the
 * sensor library (g, g, g, deg/s, deg/s, deg/s on the Nano 33 BLE Sense). 1.0: the model was
 * trained on readings in the library's units (TinyLab's Nano captures). */
#define TL_LIVE_UNIT_SCALE {{{scales}}}

#endif /* LIVE_CONFIG_H */
"""


def write_live_sketch(mlp, raw_input, class_names, *, board: str = "uno", hop: int | None = None,
                      rate_hz: int | None = None, format: str = "int8", unit_scale=None,
                      folder=None) -> Path:
    """A live sketch with the core, the model's C and its settings; returns the sketch folder.

    Parameters
    ----------
    mlp : tinylab.engine.IntegerModel
        The int8 model (``tl.deploy.integer_model(model, data)[0]``); its input is a window
        ``(steps, channels)``.
    raw_input : tinylab.engine.RawInput
        ``tl.engine.raw_input(mlp, data.normalization)``: how the board standardizes and
        quantizes each reading (``model.h`` gets ``tl_model_quantize_reading``).
    class_names : sequence of str
        One per output (``data.class_names``); printable ASCII.
    board : {"uno", "nano33ble"}
        ``"uno"``: ``live_sim``, readings over serial (compiles for any board; the virtual Uno
        runs it). ``"nano33ble"``: ``live_nano33ble``, readings from the Nano 33 BLE Sense's IMU.
    hop : int, optional
        Readings between two classifications, 1..65535; default a fifth of a window.
    rate_hz : int
        Readings per second, the rate the training windows were recorded at
        (``data.provenance["sample_rate_hz"]``: 50 for ``gestures``; 10 for BasicMotions).
        ``live_nano33ble`` reads its IMU at this rate; ``live_sim`` only announces it (the
        host paces it).
    format : {"int8", "sparse", "huffman"}
        The weights' format (:func:`tinylab.engine.generate_c`).
    unit_scale : sequence of float, optional
        Per channel, the model's unit per unit of the sensor library (g, deg/s): the Nano
        sketch pushes ``reading * unit_scale[c]``. Default 1.0 each (a model trained on Nano
        or TinyLab captures). BasicMotions does not state its units (docs/live.md).
    folder : str or Path, optional
        Receives ``<sketch>/`` (emptied first); default the per-user cache, named by the model,
        board and hop.

    Returns
    -------
    Path
        The sketch folder (``.../live_sim``), for :func:`tinylab.build.compile_sketch`.
    """
    _check_model_pair(mlp, raw_input)
    if board not in SKETCHES:
        raise ValueError(f"board must be one of {list(SKETCHES)} (the virtual Uno runs "
                         f"live_sim), got {board!r}")
    if format not in engine.FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {list(engine.FORMATS)}")
    steps = _steps(raw_input)
    hop = _check_hop(max(1, steps // 5) if hop is None else hop, steps)
    if (isinstance(rate_hz, bool) or not isinstance(rate_hz, (int, np.integer))
            or not 1 <= rate_hz <= 1000):
        raise ValueError(f"rate_hz must be a whole number of readings per second, 1..1000: the "
                         f"rate the model's windows were recorded at "
                         f"(data.provenance['sample_rate_hz']: 50 for gestures, 10 for "
                         f"BasicMotions), got {rate_hz!r}")
    names = _class_words(class_names, mlp.n_outputs)
    scale = [1.0] * raw_input.n_channels if unit_scale is None else list(unit_scale)
    if len(scale) != raw_input.n_channels or not all(
            isinstance(s, (int, float, np.number)) and math.isfinite(s) and s != 0 for s in scale):
        raise ValueError(f"unit_scale must hold {raw_input.n_channels} finite, non-zero numbers "
                         f"(one per channel: {', '.join(raw_input.channels)}), got {unit_scale!r}")
    if board == "nano33ble" and raw_input.n_channels != len(NANO_CHANNELS):
        raise ValueError(f"live_nano33ble pushes {len(NANO_CHANNELS)} channels "
                         f"({', '.join(NANO_CHANNELS)}); this model takes {raw_input.n_channels}")
    sketch = SKETCHES[board]
    source = _paths.SKETCHES_DIR / sketch / f"{sketch}.ino"
    needed = [source, MEASURE_HEADER,
              *(CORE_DIR / name for name in (*CORE_FILES, BANNER_HEADER))]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} is missing; the live sketches need a TinyLab "
                                f"checkout (git clone), not only the package")
    root = Path(folder) if folder is not None else (
        _cache_dir() / "sketches" / f"{raw_input.model_hash}-{format}-{sketch}-hop{hop}")
    sketch_dir = root / sketch
    if sketch_dir.exists():  # no file of an earlier sketch stays beside these (a stray main())
        shutil.rmtree(sketch_dir)
    sketch_dir.mkdir(parents=True)
    shutil.copyfile(source, sketch_dir / source.name)
    shutil.copyfile(MEASURE_HEADER, sketch_dir / MEASURE_HEADER.name)  # the inference sketch's
    for name in (*CORE_FILES, BANNER_HEADER):
        shutil.copyfile(CORE_DIR / name, sketch_dir / name)
    for name, text in engine.generate_c(mlp, format, name="model", raw_input=raw_input).items():
        (sketch_dir / name).write_text(text)
    call = (f"tinylab.live.write_live_sketch(mlp, raw_input, class_names, board={board!r}, "
            f"hop={hop}, rate_hz={int(rate_hz)}, format={format!r})")
    (sketch_dir / "live_config.h").write_text(
        _config_header(names, hop, int(rate_hz), scale, raw_input, call))
    return sketch_dir


def _cache_dir() -> Path:
    from .build import cache_dir

    return cache_dir()


# ------------------------------------------------------------------------ rows and reference


def _check_rows(raw_input, rows_raw) -> np.ndarray:
    rows = np.asarray(rows_raw)
    if rows.ndim != 2 or rows.shape[1] != raw_input.n_channels:
        raise ValueError(f"rows must have shape (n, {raw_input.n_channels}): one reading per row, "
                         f"channels {', '.join(raw_input.channels)}; got shape {rows.shape}"
                         + ("; windows (n, steps, channels) become rows with "
                            "X.reshape(-1, channels)" if rows.ndim == 3 else ""))
    if rows.dtype.kind not in "iuf":
        raise TypeError(f"rows must be numbers (readings in sensor units), got dtype {rows.dtype}")
    if rows.size and not np.all(np.isfinite(rows)):
        raise ValueError("rows holds NaN or infinite readings: a sensor that failed? Drop or "
                         "repair those rows first")
    return rows


def fixed_rows(raw_input, rows_raw) -> np.ndarray:
    """Each reading as the integer the board reads from its text, ``reading * 10**D`` rounded.

    :func:`tinylab.engine.to_fixed`, as :meth:`tinylab.engine.RawInput.fixed` sends whole
    windows (halves away from zero, saturated). ``rows_raw``: shape ``(n, channels)`` in
    sensor units; returns int32 of that shape.
    """
    return engine.to_fixed(_check_rows(raw_input, rows_raw), raw_input.decimals)


def row_line(fixed_row, decimals: int) -> str:
    """One reading as live_sim's ``S`` line: ``"S -0.019 0.011 0.975 0.800 0.600 -0.700"``."""
    return "S " + " ".join(engine.decimal_text(value, decimals)
                           for value in np.asarray(fixed_row, dtype=np.int64).tolist())


@dataclass
class LiveReference:
    """The classifications a live board must print for recorded rows (the host's reference).

    Attributes
    ----------
    rows : ndarray of int64, shape (k,)
        0-based index of the reading that made each classification due: ``steps - 1``, then
        every ``hop`` readings.
    labels : ndarray of int64, shape (k,)
        The class (first maximum of the scores).
    scores : ndarray of int8, shape (k, outputs)
    inputs : ndarray of int8, shape (k, inputs)
        The window each classification ran on, as the model's input.
    """

    rows: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    inputs: np.ndarray = field(repr=False, default=None)


def live_reference(mlp, raw_input, rows_raw, hop: int) -> LiveReference:
    """Which classifications a live board prints for ``rows_raw``, computed on the host.

    The board's own rule, in numpy: the window of the last ``steps`` readings, classified
    when it first fills and then every ``hop`` readings; each window quantized with
    :meth:`tinylab.engine.RawInput.quantize` and run with :func:`tinylab.engine.run_int8`.

    Parameters
    ----------
    mlp : tinylab.engine.IntegerModel
    raw_input : tinylab.engine.RawInput
    rows_raw : array_like of float, shape (n, channels)
        Readings in sensor units, oldest first.
    hop : int

    Returns
    -------
    LiveReference
    """
    _check_model_pair(mlp, raw_input)
    rows = _check_rows(raw_input, rows_raw)
    steps = _steps(raw_input)
    hop = _check_hop(hop, steps)
    due = np.arange(steps - 1, len(rows), hop, dtype=np.int64)
    if not len(due):
        empty = np.zeros((0, mlp.n_outputs), dtype=np.int8)
        return LiveReference(due, np.zeros(0, dtype=np.int64), empty,
                             np.zeros((0, mlp.n_inputs), dtype=np.int8))
    windows = np.stack([rows[end - steps + 1:end + 1] for end in due])
    inputs = raw_input.quantize(windows.reshape(len(due), -1))
    scores = engine.run_int8(mlp, inputs)
    return LiveReference(due, np.argmax(scores, axis=1).astype(np.int64), scores, inputs)


# ----------------------------------------------------------------------------- the serial side


@dataclass
class LiveRun:
    """What a live_sim board printed for a run of rows.

    Attributes
    ----------
    rows, labels, scores
        As :class:`LiveReference`: the reading that made each classification, the board's
        class and int8 scores.
    latency_us : ndarray of int64
        ``micros()`` around each classification on the board.
    cycles, stack_bytes : ndarray of int64 or None
        CPU cycles of each classification and the stack's peak (bytes below the top of RAM),
        when the board measures them (the Uno does).
    readings : int
        Readings the board kept (``K`` and ``C`` answers).
    banner : dict
    """

    rows: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    latency_us: np.ndarray
    cycles: np.ndarray | None
    stack_bytes: np.ndarray | None
    readings: int
    banner: dict

    def matches(self, reference: LiveReference) -> bool:
        """The same classifications at the same rows with the same scores, byte for byte."""
        return (np.array_equal(self.rows, reference.rows)
                and np.array_equal(self.labels, reference.labels)
                and np.array_equal(self.scores, reference.scores))


def _parse_banner(text: str) -> dict | None:
    fields = protocol.banner_fields(text)
    if fields is None or not all(key in fields for key in protocol.REQUIRED_KEYS):
        return None
    for key in _BANNER_NUMBERS:
        if key in fields:
            try:
                fields[key] = int(fields[key])
            except ValueError:
                return None
    fields["classes"] = fields.get("classes", "").split(",") if fields.get("classes") else []
    return fields


class LiveSession:
    """A board running ``live_sim``, on a serial port: send readings, read classifications.

    Parameters
    ----------
    port : str
        The board's port, or the virtual Uno's pty.
    timeout : float
        Seconds for each acknowledgement and each answer.
    banner_timeout : float
        Seconds to wait for the banner when opening.
    expect_model : str, optional
        The ``TL_MODEL_HASH`` the board must carry (:attr:`tinylab.engine.RawInput.model_hash`).

    Every line gets one answer (docs/live.md): ``K n`` (kept), ``C ...`` (classified) or
    ``! ...`` (refused). The line goes out in chunks of :data:`ACK_EVERY_BYTES`, each after
    the board's ``.``, and the next line only after the answer: no reading arrives while the
    model runs.
    """

    def __init__(self, port: str, *, timeout: float = 5.0, banner_timeout: float = 8.0,
                 expect_model: str | None = None):
        if not isinstance(port, str) or not port:
            raise ValueError(f"port must be a serial port name like '/dev/ttyACM0', got {port!r}")
        self.port, self.timeout = port, float(timeout)
        self.expect_model = expect_model
        link = open_port(port, protocol.BAUDRATE, write_timeout=self.timeout, error=LiveError)
        self._lines = LineReader(link, port)
        try:
            self.banner, _ = protocol.await_banner(
                self._lines, banner_timeout, _parse_banner, ack=b".",
                no_banner=lambda heard: (
                    f"no TinyLab banner on {port} within {banner_timeout:g} s: is the live_sim "
                    f"sketch flashed, at {protocol.BAUDRATE} baud?"
                    + protocol.heard_text(heard, self._lines.buffer)))
            protocol.check_banner(self.banner, port, "live", error=LiveError,
                                  flash="a live_sim sketch (tinylab.live.write_live_sketch)")
            if expect_model is not None and self.banner.get("model") != expect_model:
                raise LiveError(f"the board on {port} carries model {self.banner.get('model')}, "
                                f"not {expect_model}: flash the sketch you built")
            self._settle()
        except BaseException:
            self.close()
            raise

    def _settle(self, quiet_s: float = 0.15) -> None:
        """Read until the line is quiet (a second banner may answer a second "?"), then drop it."""
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < quiet_s:
            if self._lines.next_line(time.monotonic() + 0.05, ack=b".") is not None:
                quiet_since = time.monotonic()
        self._lines.clear(drop_cut_line=False)

    @property
    def n_outputs(self) -> int:
        return int(self.banner["outputs"])

    def close(self) -> None:
        """Close the port (safe twice)."""
        self._lines.close()

    def __enter__(self) -> "LiveSession":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _next(self, deadline: float, waiting_for: str, banner_ok: bool = False):
        token = self._lines.next_line(deadline, ack=b".")
        if token is None:
            raise LiveError(f"the board on {self.port} did not send {waiting_for} within "
                            f"{self.timeout:g} s: is it still running live_sim?")
        if token is ACK or token is TOO_LONG:
            return token
        text = token.decode("ascii", errors="replace")
        if protocol.BANNER_MARK in text and not banner_ok:
            raise LiveError(f"the board on {self.port} reset (it greeted again): a crash, a "
                            f"stack overflow, or another program opened the port; its window "
                            f"starts empty again")
        return text

    def ask(self, line: str) -> str:
        """Send one line (paced) and return the board's answer line: ``K``, ``C`` or ``!``
        (the banner for ``?``)."""
        if "\n" in line or not line.isascii():
            raise ValueError(f"send one ASCII line at a time, without '\\n': {line!r}")
        data = line.encode("ascii") + b"\n"
        for start in range(0, len(data), ACK_EVERY_BYTES):
            chunk = data[start:start + ACK_EVERY_BYTES]
            self._lines.write(chunk)
            if chunk.endswith(b"\n"):
                break
            deadline = time.monotonic() + self.timeout
            while self._next(deadline, "the '.' acknowledging 32 bytes") is not ACK:
                pass
        query = line.strip() == "?"
        deadline = time.monotonic() + self.timeout
        while True:
            token = self._next(deadline, "its answer", banner_ok=query)
            if isinstance(token, str) and (token[:1] in ("K", "C", "!")
                                           or (query and protocol.BANNER_MARK in token)):
                return token

    def push(self, fixed_row):
        """Send one reading (integers, ``reading * 10**decimals``); the board's answer, parsed.

        Returns None for ``K`` (kept), else ``(label, scores, latency_us, cycles,
        stack_bytes)`` (the last two None when not measured). A refused line is a
        :class:`LiveError` with the board's words.
        """
        answer = self.ask(row_line(fixed_row, int(self.banner["decimals"])))
        if answer.startswith("K"):
            return None
        if answer.startswith("!"):
            raise LiveError(f"the board refused the reading: {answer[1:].strip()}")
        values = [int(word) for word in answer[1:].split()]
        n = self.n_outputs
        if not n + 2 <= len(values) <= n + 4:
            raise LiveError(f"a C line carries the class, {n} scores, the latency and up to two "
                            f"measurements; got {answer[:80]!r}")
        cycles, stack_bytes = (values[n + 2:] + [None, None])[:2]
        scores = np.array(values[1:n + 1], dtype=np.int8)
        return values[0], scores, values[n + 1], cycles, stack_bytes

    def run(self, rows_fixed) -> LiveRun:
        """Push every reading of ``rows_fixed`` (int, shape (n, channels)): a :class:`LiveRun`."""
        rows_fixed = np.asarray(rows_fixed)
        channels = int(self.banner["channels"])
        if rows_fixed.ndim != 2 or rows_fixed.shape[1] != channels:
            raise ValueError(f"rows must have shape (n, {channels}), got {rows_fixed.shape}")
        found = []
        for index, row in enumerate(rows_fixed):
            try:
                answer = self.push(row)
            except LiveError as error:
                raise LiveError(f"row {index} of {len(rows_fixed)}: {error}") from None
            if answer is not None:
                found.append((index, *answer))
        n = self.n_outputs

        def column(i, dtype=np.int64):
            return np.array([f[i] for f in found], dtype=dtype)

        measured = [f for f in found if f[4] is not None]
        cycles = column(4) if found and len(measured) == len(found) else None
        stacked = [f for f in found if f[5] is not None]
        stack = column(5) if found and len(stacked) == len(found) else None
        scores = (np.stack([f[2] for f in found]) if found else np.zeros((0, n), dtype=np.int8))
        return LiveRun(rows=column(0), labels=column(1), scores=scores, latency_us=column(3),
                       cycles=cycles, stack_bytes=stack, readings=len(rows_fixed),
                       banner=dict(self.banner))


def run_live(firmware, rows_raw, raw_input, *, port: str | None = None, upload: str = "never",
             timeout: float = 5.0) -> LiveRun:
    """Feed recorded rows to a live_sim firmware (virtual Uno, or ``port``) and collect its answers.

    Parameters
    ----------
    firmware : tinylab.build.BuildResult
        live_sim compiled (:func:`write_live_sketch` then :func:`tinylab.build.compile_sketch`).
    rows_raw : array_like of float, shape (n, channels)
        Readings in sensor units, oldest first; sent as :func:`fixed_rows` text.
    raw_input : tinylab.engine.RawInput
        The one the firmware was written with (its ``model_hash`` is checked in the banner).
    port : str, optional
        A real board's port; None runs the firmware on a virtual Uno.
    upload : {"never", "if-needed", "always"}
        With a port: see :class:`tinylab.session.BoardSession`.

    Returns
    -------
    LiveRun
        Compare it with :func:`live_reference` (``run.matches(reference)``).
    """
    from .session import BoardSession

    fixed = fixed_rows(raw_input, rows_raw)
    with BoardSession(firmware, port, upload=upload) as session:
        with LiveSession(session.port, timeout=timeout,
                         expect_model=raw_input.model_hash) as live:
            return live.run(fixed)
