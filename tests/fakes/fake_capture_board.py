"""A fake board for tests/test_capture.py: a thread that plays the capture sketch on a pty.

The test opens ``FakeCaptureBoard.port`` (the pty's slave side) with ``tinylab.capture.record``
like ``/dev/ttyACM0``. Like an Uno it starts when the port is opened (pyserial sets the line's
speed, which the thread sees with ``tcgetattr``), then plays ``script``: bytes to write, a
float to sleep, ``"close"`` to close the pty (the board is unplugged), a callable to call then
(e.g. to send the host a Ctrl-C at a known point). Lines the host sends
are kept in ``lines``; ``?`` is answered with the banner.
"""

import os
import select
import time

from pty_board import PtyBoard

COLUMNS = ("ax", "ay", "az")
BANNER = ("#TINYLAB proto=1 sketch=capture board=uno sensor=simimu rate_hz=50 "
          "columns=ax,ay,az units=g,g,g simulated=1")


def row(i: int) -> bytes:
    """The i-th good row: three numbers a test can recognise on disk."""
    return b"%d,%d.5,-%d\r\n" % (i, i, i)


def rows(start: int, stop: int) -> bytes:
    return b"".join(row(i) for i in range(start, stop))


class FakeCaptureBoard(PtyBoard):
    """Plays ``script`` on the master side of a fresh pty once the host opens ``port``.

    ``stale`` is written first, before the banner (bytes left from before the reset: the host
    drops them). ``greet`` (default True) then writes the banner and goes on with the script at
    once, as a real board does: its first rows may share a write (a USB packet) with the
    banner, and the host must keep them. ``answer`` is what a ``?`` gets (default: the banner
    line). ``then`` is what happens after the script: ``"hold"`` (stay open, silent) or
    ``"close"``.
    """

    def __init__(self, script=(), banner=BANNER, greet=True, then="hold", stale=b"",
                 answer=None):
        self.script, self.banner, self.greet, self.then = list(script), banner, greet, then
        self.stale = stale
        self.answer = (banner + "\r\n").encode() if answer is None and banner else answer
        super().__init__()

    def _listen(self, seconds):
        """Read what the host sends for ``seconds``; answer "?" with the banner."""
        until = time.monotonic() + seconds
        pending = b""
        while not self._closed and time.monotonic() < until:
            ready, _, _ = select.select([self.master], [], [], 0.01)
            if not ready:
                continue
            try:
                pending += os.read(self.master, 4096)
            except OSError:
                return
            *complete, pending = pending.split(b"\n")
            for line in complete:
                text = line.decode(errors="replace").strip()
                if text:
                    self.lines.append(text)
                if text == "?" and self.answer:
                    os.write(self.master, self.answer)

    def _run(self):
        while self.opened_speed is None:
            if self._stop.wait(0.01):
                return
        if self.stale:
            os.write(self.master, self.stale)
        self._listen(0.1)  # the reset and the bootloader
        if self.greet and self.banner:
            os.write(self.master, (self.banner + "\r\n").encode())
        for action in self.script:
            if self._stop.is_set() or self._closed:
                return
            if action == "close":
                self._close()
                return
            if callable(action):  # e.g. a Ctrl-C sent to the host at this point of the script
                action()
            elif isinstance(action, float):
                self._listen(action)
            else:
                os.write(self.master, action)
                self._listen(0.01)
        if self.then == "close":
            self._listen(0.3)  # let the host read the last bytes before the "unplug"
            self._close()
            return
        while not self._stop.is_set() and not self._closed:
            self._listen(0.05)
