"""Talk to a board that runs TinyLab's inference sketch, over serial (lesson 08).

The board can be a real Arduino on a USB port (``/dev/ttyACM0``) or the virtual Uno's
pseudo-terminal (``tinylab.virtual``): both are opened the same way, with pyserial. The line
protocol is described in ``docs/serial-protocol.md``; in short::

    board: #TINYLAB proto=1 sketch=inference board=uno format=int8 model=1a2b3c4d inputs=64 outputs=10
    host:  I 0 -3 127 ... (64 int8 values)       sent in 32-byte chunks, each acknowledged by "."
    host:  W -0.019 0.009 0.997 ... (raw readings) a board whose banner says raw=6 decimals=3
    board: R 7 -12 4 ... (10 int8 scores) 1836 29370 164   class, scores, latency_us,
                                                           [cycles [stack_bytes]]
    board: ! expected 64 values, got 63           an error, for that line only

>>> with Device("/dev/ttyACM0") as board:                          # doctest: +SKIP
...     label, scores, latency_us = board.infer(x_int8)
...     label, scores, latency_us = board.infer_raw(window_in_g_and_dps, raw_input)

Nothing here blocks for longer than the timeouts given: a silent board, a board that resets
mid-answer, one unplugged mid-line or one that speaks another protocol ends in a
:class:`DeviceError` whose message says what happened and what to do.
"""

from __future__ import annotations

import collections
import sys
import time
from dataclasses import dataclass

import numpy as np

from .serial import protocol
from .serial.errors import ConnectionLostError, NoBannerError, SerialError
from .serial.lines import ACK as _ACK
from .serial.lines import TOO_LONG, LineReader, lost_message
from .serial.ports import POLL_S as _POLL_S
from .serial.ports import open_port
from .serial.web import WebLinkError
from .serial.protocol import BANNER_MARK, BAUDRATE, PROTOCOL_VERSION, banner_fields

__all__ = ["PROTOCOL_VERSION", "BAUDRATE", "ACK_EVERY_BYTES", "Device", "InferenceRun",
           "DeviceError", "NoBannerError", "BoardResetError", "BoardRejectedError",
           "ConnectionLostError", "parse_banner", "parse_answer", "format_input",
           "format_readings"]

#: The board acknowledges every 32nd byte of a line with "." (the sketch's TL_ACK_EVERY): the
#: host never has more than 32 bytes in flight, half of the AVR's 64-byte receive buffer.
ACK_EVERY_BYTES = 32
#: Keys the inference sketch's banner carries: every sketch's (``protocol.REQUIRED_KEYS``) and
#: its own (more keys are allowed and kept, as strings).
BANNER_KEYS = protocol.REQUIRED_KEYS + ("format", "model", "inputs", "outputs")

# After the banner: read until the line is quiet this long (an answer to a second "?" may follow).
_SETTLE_QUIET_S = 0.15
_SETTLE_MAX_S = 1.0
# A line longer than this is noise (wrong baud rate, another sketch dumping binary data).
_MAX_LINE_BYTES = 4096



def check_input(x, n_inputs: int) -> np.ndarray:
    """``x`` as the int8 vector a board's model takes (``n_inputs`` values in -128..127), or a
    ``ValueError``/``TypeError`` saying what is wrong with it (a local or a shared board)."""
    x = np.asarray(x)
    if x.ndim != 1 or x.shape[0] != n_inputs:
        raise ValueError(f"the board's model takes {n_inputs} int8 inputs, got an array "
                         f"of shape {x.shape}")
    if x.dtype.kind not in "iu":
        raise TypeError(f"inputs must be int8 (quantize them with the model's input scale and "
                        f"zero point first), got dtype {x.dtype}")
    if x.size and (x.min() < -128 or x.max() > 127):
        raise ValueError(f"inputs must lie in the int8 range -128..127, got "
                         f"{int(x.min())}..{int(x.max())}")
    return x.astype(np.int8)


class DeviceError(SerialError):
    """The board did not answer as the protocol says; the message says why and what to do.

    Errors of the link itself (:class:`NoBannerError`, :class:`ConnectionLostError`) are
    :class:`tinylab.serial.SerialError` too, but not kinds of this one.
    """


class BoardResetError(DeviceError):
    """The board printed its banner again in the middle of a conversation: it reset."""


class BoardRejectedError(DeviceError):
    """The board answered a line with ``!``: ``board_message`` holds its words."""

    def __init__(self, message: str, board_message: str = ""):
        super().__init__(message)
        self.board_message = board_message


def parse_banner(line: str) -> dict | None:
    """The banner's fields as a dict, or None if ``line`` holds no TinyLab banner.

    Integers (``proto``, ``inputs``, ``outputs``, and ``raw``, ``decimals`` when the board
    takes raw readings) become ``int``; other values stay strings.
    Anything before the last ``#TINYLAB`` is ignored (a board that resets mid-line leaves a
    partial line in front of its new banner).

    >>> parse_banner("#TINYLAB proto=1 sketch=inference board=uno format=int8 model=0a1b2c3d "
    ...              "inputs=64 outputs=10")["inputs"]
    64
    """
    fields = banner_fields(line)
    if fields is None or any(key not in fields for key in BANNER_KEYS):
        return None
    for key in ("proto", "inputs", "outputs", "raw", "decimals"):
        if key not in fields:
            continue
        try:
            fields[key] = int(fields[key])
        except ValueError:
            return None
    return fields


def format_input(x) -> bytes:
    """The line that sends one int8 vector: ``b"I v1 v2 ... vn\\n"`` (ASCII)."""
    return ("I " + " ".join(str(int(v)) for v in x) + "\n").encode("ascii")


def format_readings(raw_example, raw_input) -> bytes:
    """The line that sends one example of raw readings: ``b"W r1 r2 ... rn\\n"`` (ASCII), each
    reading with ``raw_input.decimals`` decimals (:meth:`tinylab.engine.RawInput.text`)."""
    return ("W " + raw_input.text(raw_example) + "\n").encode("ascii")


def parse_answer(line: str, n_outputs: int):
    """Parse ``R class s1 ... sm latency_us [cycles [stack_bytes]]``.

    Returns ``(class, scores, latency_us, cycles, stack_bytes)``: ``scores`` is an int8 array of
    shape ``(n_outputs,)``; ``cycles`` is None when the board does not count them,
    ``stack_bytes`` (the stack's peak during the inference, in bytes below the top of RAM) None
    when it does not measure it (only the AVR does; firmware older than the field never does).
    Raises :class:`DeviceError` for a garbled line (wrong field count, values out of range, or
    a class that is not the first maximum of the scores).

    >>> parse_answer("R 2 -5 3 7 1836 29370 164", 3)[3:]
    (29370, 164)
    """
    fields = line.split()
    if not fields or fields[0] != "R" or not n_outputs + 3 <= len(fields) <= n_outputs + 5:
        raise DeviceError(f"garbled answer from the board (expected 'R', a class, {n_outputs} "
                          f"scores and a latency): {line[:120]!r}")
    try:
        numbers = [int(word) for word in fields[1:]]
    except ValueError:
        raise DeviceError(f"garbled answer from the board (not all integers): {line[:120]!r}") from None
    label, scores = numbers[0], numbers[1:1 + n_outputs]
    latency_us = numbers[1 + n_outputs]
    cycles = numbers[2 + n_outputs] if len(numbers) >= n_outputs + 3 else None
    stack_bytes = numbers[3 + n_outputs] if len(numbers) == n_outputs + 4 else None
    if (not all(-128 <= s <= 127 for s in scores) or latency_us < 0
            or (cycles is not None and cycles < 0)
            or (stack_bytes is not None and stack_bytes < 0)
            or not 0 <= label < n_outputs or label != int(np.argmax(scores))):
        raise DeviceError(f"garbled answer from the board (class or scores out of range): "
                          f"{line[:120]!r}")
    return label, np.array(scores, dtype=np.int8), latency_us, cycles, stack_bytes


@dataclass
class InferenceRun:
    """What :meth:`Device.infer_many` measured, one row per sample.

    Attributes
    ----------
    labels : ndarray, shape (n,), int64
        The class the board chose (the first maximum of its scores).
    scores : ndarray, shape (n, outputs), int8
        The model's int8 outputs, as computed on the board.
    latency_us : ndarray, shape (n,), int64
        ``micros()`` around the model call on the board (4 us steps on a 16 MHz Uno).
    cycles : ndarray, shape (n,), int64, or None
        CPU cycles of the model call (Timer1 on the Uno), None if the board does not count them.
    banner : dict
        The board's banner (board, format, model hash, ...).
    stack_bytes : ndarray, shape (n,), int64, or None
        The stack's peak during each inference, in bytes below the top of RAM (the whole
        sketch's stack, the model call's frames included; measured by painting the free RAM),
        None if the board does not measure it (only the AVR does). Static RAM (the build's)
        plus its maximum is the RAM the firmware needs.
    """

    labels: np.ndarray
    scores: np.ndarray
    latency_us: np.ndarray
    cycles: np.ndarray | None
    banner: dict
    stack_bytes: np.ndarray | None = None


class Device:
    """A board running TinyLab's inference sketch, on a serial port.

    Opening waits for the sketch's banner (an Uno resets when its port opens; other boards
    are asked with ``?``), checks it speaks protocol 1, then empties the input buffer.

    Parameters
    ----------
    port : str
        ``/dev/ttyACM0``, ``COM3``, or the virtual Uno's pty (``VirtualUno(elf).port``).
    baudrate : int
        115200: the sketch's speed. Another value only serves to show what a mismatch does.
    timeout : float
        Seconds to wait for each acknowledgement and each answer.
    banner_timeout : float
        Seconds to wait for the banner when opening.
    expect_model : str, optional
        The model hash (``TL_MODEL_HASH``) the board should carry; a different one is an error.

    Attributes
    ----------
    banner : dict
        The banner's fields: ``proto, sketch, board, format, model, inputs, outputs``.
    last_cycles : int or None
        CPU cycles of the last :meth:`infer` (None if the board does not count them).
    last_stack_bytes : int or None
        The stack's peak during the last :meth:`infer`, in bytes below the top of RAM (None if
        the board does not measure it).
    """

    def __init__(self, port: str, baudrate: int = BAUDRATE, timeout: float = 5.0,
                 banner_timeout: float = 8.0, expect_model: str | None = None):
        if not isinstance(port, str) or not port:
            raise ValueError(f"port must be a serial port name like '/dev/ttyACM0', got {port!r}")
        if not timeout > 0 or not banner_timeout > 0:
            raise ValueError(f"timeouts must be > 0 s, got timeout={timeout}, "
                             f"banner_timeout={banner_timeout}")
        self.port, self.baudrate = port, int(baudrate)
        self.timeout, self.banner_timeout = float(timeout), float(banner_timeout)
        self.expect_model = expect_model
        self.banner: dict = {}
        self.last_cycles: int | None = None
        self.last_stack_bytes: int | None = None
        self._serial = None
        self._lines: LineReader | None = None
        self._heard = collections.deque(maxlen=3)  # last non-protocol lines, for error messages
        self._needs_resync = False
        self.open()

    # ----------------------------------------------------------------------------- opening

    def open(self) -> "Device":
        """Open the port and wait for the banner (called by the constructor)."""
        if self._serial is not None:
            return self
        # Exclusive: a second Device (or avrdude through pyserial) gets "busy".
        self._serial = open_port(self.port, self.baudrate, write_timeout=self.timeout,
                                 error=DeviceError)
        self._lines = LineReader(self._serial, self.port, _MAX_LINE_BYTES, on_lost=self._lost)
        self._needs_resync = False
        try:
            self.banner = self._await_banner()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Close the port (safe to call twice)."""
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:  # closing a port that vanished must not hide the first error
                pass
            self._serial = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        if not self.banner:
            return f"Device({self.port!r}, closed)"
        b = self.banner
        state = "" if self.is_open else ", closed"
        return (f"Device({self.port!r}: {b['sketch']} sketch on {b['board']}, model {b['model']} "
                f"({b['format']}), {b['inputs']} -> {b['outputs']}{state})")

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    @property
    def n_inputs(self) -> int:
        return self.banner["inputs"]

    @property
    def n_outputs(self) -> int:
        return self.banner["outputs"]

    def _await_banner(self) -> dict:
        banner, _ = protocol.await_banner(self._lines, self.banner_timeout, parse_banner,
                                          ack=b".", no_banner=self._no_banner_message)
        self._check_banner(banner)
        self._settle()
        return banner

    def _settle(self) -> None:
        """Read until the line is quiet (extra banners answer extra "?"), then drop it all."""
        quiet_since = time.monotonic()
        give_up = quiet_since + _SETTLE_MAX_S
        while time.monotonic() < give_up and time.monotonic() - quiet_since < _SETTLE_QUIET_S:
            if self._next_token(time.monotonic() + _POLL_S, waiting_for=None) is not None:
                quiet_since = time.monotonic()
        self._lines.clear(drop_cut_line=False)

    def _no_banner_message(self, heard_lines: list) -> str:
        heard = protocol.heard_text(list(self._heard) + heard_lines, self._lines.buffer)
        speed = ("" if self.baudrate == BAUDRATE else
                 f" This Device was opened at {self.baudrate} baud, the sketch talks at {BAUDRATE}.")
        return (f"no TinyLab banner on {self.port} within {self.banner_timeout:g} s: is the inference "
                f"sketch flashed, at {BAUDRATE} baud?{speed}{heard} Flash it with "
                f"tinylab.flash.upload(...), or press the board's reset button and try again.")

    def _check_banner(self, banner: dict) -> None:
        protocol.check_banner(banner, self.port, "inference", error=DeviceError,
                              flash="this TinyLab version's inference sketch (tinylab deploy "
                                    "does it)")
        if banner["inputs"] < 1 or banner["outputs"] < 1:
            raise DeviceError(f"the board's banner announces {banner['inputs']} inputs and "
                              f"{banner['outputs']} outputs: its model file is broken.")
        if self.expect_model is not None and banner["model"] != self.expect_model:
            raise DeviceError(
                f"the board on {self.port} carries model {banner['model']}, not "
                f"{self.expect_model}: flash the model you built (it may still hold an older one).")

    # ----------------------------------------------------------------------------- reading

    def _lost(self, exc: Exception):
        self.close()
        again = ("" if isinstance(exc, WebLinkError)
                 else " Plug it back in (or start it again) and open a new Device.")
        raise ConnectionLostError(f"{lost_message(self.port, exc)}{again}") from None

    def _next_token(self, deadline: float, waiting_for: str | None):
        """The next ack (``_ACK``) or complete line (str) before ``deadline``.

        On timeout: None if ``waiting_for`` is None, else a :class:`DeviceError` saying what
        was awaited.
        """
        token = self._lines.next_line(deadline, ack=b".")
        if token is _ACK:
            return _ACK
        if token is TOO_LONG:
            raise DeviceError(
                f"{_MAX_LINE_BYTES} bytes from {self.port} without a line end "
                f"({self._lines.dropped!r}...): wrong baud rate (the sketch talks at {BAUDRATE}) "
                f"or another sketch.")
        if token is not None:
            return token.decode("ascii", errors="replace")
        if waiting_for is None:
            return None
        self._needs_resync = True
        buffer = self._lines.buffer
        partial = f" (got a partial line: {bytes(buffer[:60])!r})" if buffer else ""
        raise DeviceError(
            f"the board on {self.port} did not send {waiting_for} within "
            f"{self.timeout:g} s{partial}: is it still running the inference sketch? A "
            f"model much slower than this timeout needs Device(..., timeout=...).")

    def _write(self, data: bytes) -> None:
        import serial

        try:
            self._serial.write(data)
        except serial.SerialTimeoutException:
            self._needs_resync = True
            raise DeviceError(f"the board on {self.port} stopped reading (a write blocked for "
                              f"{self.timeout:g} s): reset it and open a new Device.") from None
        except Exception as exc:
            self._lost(exc)

    def resync(self) -> None:
        """After an error mid-conversation: get back in step with the board.

        Sends an empty line (it ends any partial line the board holds) and "?", then drops
        everything until the banner that answers it: the board handles lines in order, so a
        late answer to an earlier line arrives before that banner and cannot be taken for the
        next answer. :meth:`infer` calls it by itself after an error.
        """
        self._write(protocol.PROBE)
        deadline = time.monotonic() + self.timeout + protocol.PROBE_EVERY_S
        while True:
            token = self._next_token(deadline, waiting_for="its banner (asked with '?' to get "
                                                           "back in step after an error)")
            fields = parse_banner(token) if isinstance(token, str) else None
            if fields is not None:
                self._check_banner(fields)
                self.banner = fields
                break
        self._settle()
        self._needs_resync = False

    # ----------------------------------------------------------------------------- inference

    def _check_input(self, x) -> np.ndarray:
        return check_input(x, self.n_inputs)

    def _on_banner(self, fields: dict):
        changed = (f"; it now carries model {fields['model']} instead of {self.banner['model']}"
                   if fields["model"] != self.banner.get("model") else "")
        self.banner = fields
        raise BoardResetError(
            f"the board on {self.port} reset while answering (it greeted again{changed}): a "
            f"crash or a stack overflow (RAM exhausted: compare the build's RAM use with the "
            f"board's), a brown-out (USB power, cable), or another program opened the port.")

    def _await_ack(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            token = self._next_token(deadline, waiting_for="the '.' acknowledging 32 bytes")
            if token is _ACK:
                return
            fields = parse_banner(token)
            if fields is not None:
                self._needs_resync = True
                self._on_banner(fields)
            if token.startswith("!") or token.startswith("R"):
                self._needs_resync = True
                raise DeviceError(f"the board answered before the line was complete "
                                  f"({token[:80]!r}): the conversation is out of step; it is "
                                  f"resynchronised before the next inference.")
            if token.strip() and not token.startswith("#"):
                self._heard.append(token)

    def _await_answer(self):
        deadline = time.monotonic() + self.timeout
        while True:
            token = self._next_token(deadline, waiting_for="its answer")
            if token is _ACK:
                continue  # a stray ack (the board held a partial line): harmless
            fields = parse_banner(token)
            if fields is not None:
                self._needs_resync = True
                self._on_banner(fields)
            if token.startswith("!"):
                message = token[1:].strip()
                raise BoardRejectedError(f"the board rejected the input: {message}", message)
            if token.startswith("R"):
                return parse_answer(token, self.n_outputs)
            if token.strip() and not token.startswith("#"):
                self._heard.append(token)  # noise on the line: skip it

    def _send_paced(self, line: bytes) -> None:
        """Send one line in chunks of ACK_EVERY_BYTES, each after the board acknowledged the last."""
        for start in range(0, len(line), ACK_EVERY_BYTES):
            chunk = line[start:start + ACK_EVERY_BYTES]
            self._write(chunk)
            if not chunk.endswith(b"\n"):
                self._await_ack()

    def ask(self, line: str) -> str:
        """Send one raw protocol line and return the board's answer line, unparsed.

        For exploring the protocol (lesson 08): ``ask("?")`` returns the banner,
        ``ask("I 1 2 3")`` the board's complaint (``"! expected 64 values, got 3"``). The line
        is paced like :meth:`infer`'s; the answer is the next line starting with ``R``, ``!``
        or ``#TINYLAB``.
        """
        if self._serial is None:
            raise DeviceError(f"the Device on {self.port} is closed: open a new one")
        if "\n" in line:
            raise ValueError(f"send one line at a time, without '\\n': {line!r}")
        if self._needs_resync:
            self.resync()
        try:
            self._send_paced(line.encode("ascii") + b"\n")
            deadline = time.monotonic() + self.timeout
            while True:
                token = self._next_token(deadline, waiting_for="its answer")
                if isinstance(token, str) and (token[:1] in ("R", "!") or BANNER_MARK in token):
                    return token
        except SerialError:  # DeviceError, or the link lost
            self._needs_resync = True
            raise

    def infer(self, x):
        """Run the board's model on one int8 vector.

        Parameters
        ----------
        x : array-like of int, shape (inputs,)
            Values in -128..127 (the model's quantized input).

        Returns
        -------
        label : int
            The class the board chose.
        scores : ndarray, shape (outputs,), int8
            The model's int8 outputs.
        latency_us : int
            ``micros()`` around the model call, measured on the board.

        The CPU cycles of the call and the stack's peak during it, when the board measures
        them, are left in ``last_cycles`` and ``last_stack_bytes``.
        """
        self._open_serial()
        return self._infer_line(format_input(self._check_input(x)))

    def _open_serial(self) -> None:
        """A DeviceError if the Device was closed."""
        if self._serial is None:
            raise DeviceError(f"the Device on {self.port} is closed: open a new one")

    def _infer_line(self, line: bytes):
        """Send one input line (``I`` or ``W``), return the answer's class, scores, latency."""
        if self._needs_resync:
            self.resync()
        try:
            self._send_paced(line)
            label, scores, latency_us, cycles, stack_bytes = self._await_answer()
        except BoardRejectedError:
            raise
        except SerialError:  # DeviceError, or the link lost
            self._needs_resync = True
            raise
        self.last_cycles, self.last_stack_bytes = cycles, stack_bytes
        return label, scores, latency_us

    @property
    def takes_raw(self) -> bool:
        """Whether the board's model takes raw readings (``W`` lines): its banner has ``raw=``."""
        return "raw" in self.banner

    def check_raw_input(self, raw_input) -> None:
        """A :class:`DeviceError` unless the board standardizes readings as ``raw_input`` says.

        The banner must announce raw input (``raw=`` channels, ``decimals=``) matching
        ``raw_input``, and the model hash :attr:`tinylab.engine.RawInput.model_hash` (the
        constants are part of the firmware's model).
        """
        from .engine import RawInput

        if not isinstance(raw_input, RawInput):
            raise TypeError(f"raw_input must be a tl.engine.RawInput (tl.engine.raw_input(model, "
                            f"data.normalization)), got {type(raw_input).__name__}")
        b = self.banner
        if not self.takes_raw:
            raise DeviceError(
                f"the board on {self.port} takes int8 inputs only (its banner has no 'raw=' "
                f"key): flash firmware built with raw input (tinylab deploy --inputs raw, or "
                f"tl.deploy.deploy(..., inputs='raw')), or send int8 inputs with infer()")
        if (b["raw"], b.get("decimals")) != (raw_input.n_channels, raw_input.decimals):
            raise DeviceError(
                f"the board on {self.port} reads {b['raw']} channels with {b.get('decimals')} "
                f"decimals, this RawInput {raw_input.n_channels} with {raw_input.decimals}: "
                f"flash the firmware built with this RawInput")
        if b["model"] != raw_input.model_hash:
            raise DeviceError(
                f"the board on {self.port} carries model {b['model']}, not {raw_input.model_hash} "
                f"(this model with these raw-input constants): flash the firmware built with "
                f"this RawInput")

    def infer_raw(self, raw_example, raw_input):
        """Run the board's model on one example of raw readings, sent as a ``W`` line.

        The board standardizes and quantizes each reading itself (``tl_model_quantize_reading``),
        bit-exact with ``raw_input.quantize``: the answer equals
        ``run_int8(model, raw_input.quantize(raw_example))``.

        Parameters
        ----------
        raw_example : array-like of float, shape (*input_shape) or (inputs,)
            Readings in sensor units (g, deg/s), channel last.
        raw_input : tinylab.engine.RawInput
            The constants the firmware was built with (checked against the banner).

        Returns
        -------
        label, scores, latency_us
            As :meth:`infer`; cycles and the stack's peak in ``last_cycles`` and
            ``last_stack_bytes``.
        """
        self._open_serial()
        self.check_raw_input(raw_input)
        return self._infer_line(format_readings(raw_example, raw_input))

    def infer_many(self, X, progress: bool = True, description: str = "on the board") -> InferenceRun:
        """Run the board's model on every row of ``X`` (int8, shape ``(n, inputs)``).

        Shows a tqdm bar (a widget in JupyterLab, text on a terminal) unless ``progress`` is
        False. Returns an :class:`InferenceRun`. An error names the sample it happened on.
        """
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, shape (n_samples, {self.n_inputs}); got shape {X.shape}")
        return self._run_many(len(X), lambda i: self.infer(X[i]), progress, description)

    def infer_many_raw(self, raw_X, raw_input, progress: bool = True,
                       description: str = "on the board (raw readings)") -> InferenceRun:
        """Run the board's model on every example of raw readings in ``raw_X`` (``W`` lines).

        ``raw_X`` has shape ``(n, *input_shape)`` or ``(n, inputs)``, in sensor units; see
        :meth:`infer_raw`. Returns an :class:`InferenceRun`, like :meth:`infer_many`.
        """
        self._open_serial()
        self.check_raw_input(raw_input)
        raw_X = np.asarray(raw_X)
        if raw_X.ndim < 2 or raw_X[0].size != self.n_inputs:
            raise ValueError(f"raw_X must hold examples of {self.n_inputs} readings along a first "
                             f"axis, shape (n, *input_shape); got shape {raw_X.shape}")
        lines = [format_readings(example, raw_input) for example in raw_X]  # checked up front
        return self._run_many(len(lines), lambda i: self._infer_line(lines[i]), progress,
                              description)

    def _run_many(self, n: int, infer_one, progress: bool, description: str) -> InferenceRun:
        labels = np.zeros(n, dtype=np.int64)
        scores = np.zeros((n, self.n_outputs), dtype=np.int8)
        latency_us = np.zeros(n, dtype=np.int64)
        cycles = np.zeros(n, dtype=np.int64)
        stack_bytes = np.zeros(n, dtype=np.int64)
        counted = measured = True
        from tqdm.auto import tqdm

        with tqdm(total=n, desc=description, unit="sample", disable=not progress,
                  file=sys.stderr, leave=True) as bar:
            for i in range(n):
                try:
                    labels[i], scores[i], latency_us[i] = infer_one(i)
                except BoardRejectedError as exc:
                    raise BoardRejectedError(f"sample {i} of {n}: {exc}", exc.board_message) from None
                except SerialError as exc:  # DeviceError, or the link lost
                    raise type(exc)(f"sample {i} of {n}: {exc}") from None
                if self.last_cycles is None:
                    counted = False
                else:
                    cycles[i] = self.last_cycles
                if self.last_stack_bytes is None:
                    measured = False
                else:
                    stack_bytes[i] = self.last_stack_bytes
                bar.update(1)
        return InferenceRun(labels, scores, latency_us, cycles if counted and n else None,
                            dict(self.banner), stack_bytes if measured and n else None)
