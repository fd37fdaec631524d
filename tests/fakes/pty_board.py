"""What the fake boards share: a pty whose master side a thread plays, ``port`` its slave side.

The test opens ``port`` like ``/dev/ttyACM0``; a subclass's ``_run`` plays the board. Like an
Uno, a board knows it was opened when pyserial sets the line's speed (``opened_speed``).
"""

import os
import termios
import threading
import tty


class PtyBoard:
    def __init__(self):
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo: the board's output must not come back as input
        self.port = os.ttyname(self._slave)
        self._initial_speed = termios.tcgetattr(self._slave)[4]
        self.lines = []  # every complete line the host sent (str)
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self._close()
        try:
            os.close(self._slave)
        except OSError:
            pass

    def _close(self):
        """The board is unplugged: the host's next read or write fails."""
        if not self._closed:
            self._closed = True
            try:
                os.close(self.master)
            except OSError:
                pass

    @property
    def opened_speed(self):
        """The speed the host opened the port at, or None while it is not open."""
        speed = termios.tcgetattr(self._slave)[4]
        return None if speed == self._initial_speed else speed
