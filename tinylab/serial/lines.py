"""The bytes of an open serial port, cut into lines with deadlines (:class:`LineReader`).

Every TinyLab sketch speaks ASCII lines ending in ``\\n`` (a ``\\r`` before it is dropped):
docs/serial-protocol.md, docs/capture-protocol.md. :class:`LineReader` cuts what arrives into
lines with a deadline, holds a partial line until its end comes, reports an over-long line
(noise: a wrong baud rate, another sketch) once and drops it, and turns a port that vanished
into :class:`~tinylab.serial.errors.ConnectionLostError`. What a line *means* is not its
business: :mod:`tinylab.serial.protocol` and the clients above it read them.

>>> from tinylab.serial.ports import open_port
>>> reader = LineReader(open_port("/dev/ttyACM0", 115200, write_timeout=2.0),
...                     "/dev/ttyACM0")                                        # doctest: +SKIP
>>> reader.next_line(time.monotonic() + 1.0)   # bytes, None or TOO_LONG   # doctest: +SKIP
"""

from __future__ import annotations

import time

from .errors import ConnectionLostError
from .web import WebLinkError

__all__ = ["TOO_LONG", "ACK", "LineReader"]

#: What :meth:`LineReader.next_line` returns, once, for a line longer than ``max_line_bytes``.
#: A str so that a caller may also compare it with ``"too_long"``.
TOO_LONG = "too_long"
#: What :meth:`LineReader.next_line` returns for an acknowledgement byte (see its ``ack``).
ACK = object()


def lost_message(port: str, exc: Exception) -> str:
    """What to say when ``port`` failed with ``exc``: a local port's likely causes, or the
    browser link's own words (they say what to click)."""
    if isinstance(exc, WebLinkError):
        return f"lost the connection to {port}: {exc}"
    return (f"lost the connection to {port} ({exc}): was the board unplugged, or the virtual "
            f"board stopped?")


class LineReader:
    """The bytes read from an open serial port, cut into lines.

    Parameters
    ----------
    serial : serial.Serial
        An open port (:func:`tinylab.serial.ports.open_port`), or anything with ``read``,
        ``in_waiting``, ``reset_input_buffer``, ``write`` and ``close``.
    port : str
        Its name, for messages.
    max_line_bytes : int, optional
        A line longer than this is noise (default: the class attribute, 4096).
    on_lost : callable, optional
        ``on_lost(exc)`` when the port fails; it should raise. Default: close and raise
        :class:`~tinylab.serial.errors.ConnectionLostError`.

    Attributes
    ----------
    buffer : bytearray
        Bytes received and not yet returned (a partial line, for messages).
    skipping : bool
        Dropping bytes up to the next ``\\n`` (the tail of an over-long or cut line).
    dropped : bytes
        The first 40 bytes of the last over-long line without an end (for messages).
    """

    max_line_bytes = 4096
    on_lost = None
    dropped = b""

    def __init__(self, serial, port: str, max_line_bytes: int | None = None, on_lost=None):
        self.serial, self.port = serial, port
        self.buffer, self.skipping = bytearray(), False
        if max_line_bytes is not None:
            self.max_line_bytes = int(max_line_bytes)
        if on_lost is not None:
            self.on_lost = on_lost

    def close(self) -> None:
        """Close the port (safe twice, and on a port that vanished)."""
        if self.serial is not None:
            try:
                self.serial.close()
            except Exception:  # closing a vanished port must not hide the first error
                pass
            self.serial = None

    def _lost(self, exc: Exception):
        self.close()
        if self.on_lost is not None:
            self.on_lost(exc)
        raise ConnectionLostError(lost_message(self.port, exc)) from None

    def write(self, data: bytes) -> None:
        """Write ``data``; a port that vanished is a lost connection."""
        try:
            self.serial.write(data)
        except Exception as exc:
            self._lost(exc)

    def read_some(self) -> None:
        """Append what has arrived (waits at most the port's read timeout for one byte)."""
        try:
            self.buffer += self.serial.read(max(1, self.serial.in_waiting))
        except Exception as exc:  # SerialException, or a bare OSError (EIO) on a pty
            self._lost(exc)

    def clear(self, drop_cut_line: bool = True) -> None:
        """Drop what has arrived.

        With ``drop_cut_line``, if that cut a line (bytes were waiting), the rest of it is
        dropped too when it comes: a board that keeps sending sends the tail of a row next,
        not a row.
        """
        try:
            cut = bool(self.buffer) or self.serial.in_waiting > 0
        except Exception as exc:
            self._lost(exc)
        self.serial.reset_input_buffer()
        self.buffer.clear()
        self.skipping = cut and drop_cut_line

    def next_line(self, deadline: float, ack: bytes | None = None):
        """The next line before ``deadline`` (a ``time.monotonic()`` value).

        Returns
        -------
        bytes
            A complete line, without ``\\n`` and a ``\\r`` before it.
        None
            Nothing complete by the deadline (a partial line stays in ``buffer``).
        TOO_LONG
            Once for each line longer than ``max_line_bytes``; its bytes are dropped up to the
            next ``\\n``.
        ACK
            When ``ack`` (one byte, e.g. ``b"."``) starts the buffer between lines: the
            inference sketch acknowledges input that way (docs/serial-protocol.md).
        """
        while True:
            if ack is not None and not self.skipping and self.buffer[:1] == ack:
                del self.buffer[:1]
                return ACK
            end = self.buffer.find(b"\n")
            if end >= 0:
                raw = bytes(self.buffer[:end])
                del self.buffer[:end + 1]
                if self.skipping:
                    self.skipping = False
                    continue
                if len(raw) > self.max_line_bytes:
                    return TOO_LONG
                return raw.rstrip(b"\r")
            if len(self.buffer) > self.max_line_bytes:
                self.dropped = bytes(self.buffer[:40])
                self.buffer.clear()
                if not self.skipping:
                    self.skipping = True
                    return TOO_LONG
            if time.monotonic() >= deadline:
                return None
            self.read_some()
