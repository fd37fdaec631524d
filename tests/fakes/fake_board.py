"""A fake board for tests/test_device.py: a thread that plays the inference sketch on a pty.

The test opens ``FakeBoard.port`` (the pty's slave side) with ``tinylab.device.Device`` exactly
like ``/dev/ttyACM0``; the thread reads and writes the master side. It speaks TinyLab serial
protocol 1 (docs/serial-protocol.md) with the stand-in model of tests/fakes/model (see
:func:`reference_scores`), and can misbehave on request (``on_line``).

Like an Uno it greets when the port is opened: pyserial sets the line's speed on opening, which
the thread sees with ``tcgetattr``. Opened at another speed than 115200 it sends garbage, as a
real board would look at the wrong baud rate.
"""

import os
import select
import termios
import time

import numpy as np
from pty_board import PtyBoard

BANNER = ("#TINYLAB proto=1 sketch=inference board=uno format=int8 model=f00dcafe "
          "inputs=64 outputs=10")
N_INPUTS, N_OUTPUTS = 64, 10
ACK_EVERY = 32


def reference_scores(x) -> np.ndarray:
    """tests/fakes/model/model.c in numpy: clamp(i + sum_j x_j * ((i + j) % 3 - 1))."""
    x = np.asarray(x, dtype=np.int64)
    i = np.arange(N_OUTPUTS)[:, None]
    j = np.arange(len(x))[None, :]
    weights = (i + j) % 3 - 1
    return np.clip(np.arange(N_OUTPUTS) + weights @ x, -128, 127).astype(np.int8)


def answer_line(x, latency_us=1836, cycles=29370) -> bytes:
    scores = reference_scores(x)
    fields = ["R", str(int(np.argmax(scores)))] + [str(int(s)) for s in scores] + [str(latency_us)]
    if cycles is not None:
        fields.append(str(cycles))
    return (" ".join(fields) + "\r\n").encode()


class FakeBoard(PtyBoard):
    """Plays the board on the master side of a fresh pty; ``port`` is the side to open.

    Parameters
    ----------
    banner : str or None
        What the sketch prints at boot and for "?"; None: a board that never greets.
    greet_on_open : bool
        Greet when the host opens the port (an Uno, reset by DTR); False: greet only for "?"
        (a Nano 33 BLE, or a board left running).
    on_line : callable, optional
        ``on_line(board, index, text)`` for each complete "I" line (index counts from 0); return
        None for the normal answer, or a list of actions: bytes to write, a float to sleep,
        ``"close"`` to close the pty (the board is unplugged), ``"drop"`` to say nothing.
    cycles : int or None
        The cycles field of answers (None: a board that does not count them).
    send_acks : bool
        False: a board that never acknowledges (an old sketch, or one that hangs mid-line).
    """

    def __init__(self, banner=BANNER, greet_on_open=True, on_line=None, cycles=29370,
                 send_acks=True):
        self.banner, self.greet_on_open, self.on_line = banner, greet_on_open, on_line
        self.cycles, self.send_acks = cycles, send_acks
        super().__init__()
        self.input_lines = 0
        self.max_unacked_bytes = 0   # most bytes received past an ack not yet sent
        self.chunks = 0              # reads that carried line data

    def write(self, data: bytes):
        if self.opened_speed not in (None, termios.B115200):
            data = bytes((b * 7 + 0x80) & 0xFF for b in data.replace(b"\n", b"")) + b"\n"
        os.write(self.master, data)

    def _greet(self):
        if self.banner is not None:
            self.write((self.banner + "\r\n").encode())

    def _run(self):
        greeted = False
        line = bytearray()
        since_ack = 0
        while not self._stop.is_set() and not self._closed:
            if not greeted and self.greet_on_open and self.opened_speed is not None:
                time.sleep(0.1)  # the reset and the bootloader take a moment
                greeted = True
                self._greet()
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            self.chunks += 1
            for position, byte in enumerate(data):
                if byte == ord("\n"):
                    since_ack = 0
                    text = line.decode(errors="replace").rstrip("\r")
                    line.clear()
                    self.lines.append(text)
                    if self._handle(text) == "closed":
                        return
                    continue
                line.append(byte)
                since_ack += 1
                if since_ack == ACK_EVERY:
                    since_ack = 0
                    # Bytes already in this read beyond the ack were sent before the host saw it.
                    unacked = len(data) - position - 1
                    self.max_unacked_bytes = max(self.max_unacked_bytes, unacked)
                    if self.send_acks:
                        self.write(b".")

    def _handle(self, text):
        if not text.strip():
            return None
        if text.strip() == "?":
            self._greet()
            return None
        if not text.startswith("I"):
            self.write(b"! unknown command (byte %d): send 'I v1 v2 ...' or '?'\r\n" % ord(text[0]))
            return None
        index = self.input_lines
        self.input_lines += 1
        actions = self.on_line(self, index, text) if self.on_line else None
        if actions is None:
            actions = [self.normal_answer(text)]
        for action in actions:
            if action == "close":
                self._close()
                return "closed"
            if action == "drop":
                continue
            if isinstance(action, float):
                time.sleep(action)
            else:
                self.write(action)
        return None

    def normal_answer(self, text) -> bytes:
        values = [int(v) for v in text[1:].replace(",", " ").split()]
        if len(values) != N_INPUTS:
            return b"! expected %d values, got %d\r\n" % (N_INPUTS, len(values))
        return answer_line(values, cycles=self.cycles)
