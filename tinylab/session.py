"""A firmware on a board, real or virtual, and the link to it: one home for "flash and talk".

Every place that puts a sketch on a board and talks to it (``tinylab deploy``, lesson 08, the
draw-a-digit app, lesson 01's capture panel, ``tinylab capture``, the gestures recording,
``bench/mcu.py``) does it through a :class:`BoardSession`:

- the firmware is checked against the board once, before anything runs or is uploaded
  (:func:`tinylab.build.check_fits`);
- with no port, the firmware runs on a virtual Uno (:class:`tinylab.virtual.VirtualUno`),
  started on :meth:`~BoardSession.open` and started again by :meth:`~BoardSession.ensure_running`
  when it has crashed or stopped;
- with a port, the firmware is uploaded (:func:`tinylab.flash.upload`) only when the board
  does not already greet with the model it carries (``model_hash``): a second run is instant;
- :meth:`~BoardSession.device` hands out the open inference link
  (:class:`tinylab.device.Device`), and :attr:`~BoardSession.port` the port for other
  clients (:func:`tinylab.capture.record` opens it itself).

>>> with BoardSession(firmware, model_hash=mlp.model_hash) as session:      # doctest: +SKIP
...     run = session.device().infer_many(x_int8)
>>> with BoardSession(capture_firmware) as session:                        # doctest: +SKIP
...     capture.record(session.port, "punch.csv", rows=500, commands=["G punch"])
"""

from __future__ import annotations

from . import build, device, virtual
from .serial.errors import SerialError

__all__ = ["BoardSession", "UPLOAD_POLICIES"]

#: When a session with a real port uploads its firmware (see :class:`BoardSession`).
UPLOAD_POLICIES = ("if-needed", "always", "never")

#: Seconds to wait for the banner of a real board that may already carry the model: an Uno
#: greets about a second after the port opens (its bootloader), so 3 s is plenty; a board
#: that stays quiet that long gets the firmware uploaded.
CARRIES_BANNER_TIMEOUT_S = 3.0


class BoardSession:
    """A firmware running on a board, and the serial link to it.

    Parameters
    ----------
    firmware : tinylab.build.BuildResult or None
        What should run. None with a ``port``: use the sketch the board already runs (a
        capture sketch flashed by hand); with no port a firmware is required.
    port : str, optional
        A real board's serial port. None: a virtual Uno runs ``firmware``.
    model_hash : str, optional
        The model the firmware carries (an inference firmware's ``TL_MODEL_HASH``): the banner
        must name it, and a real board that already greets with it is not uploaded to again.
    upload : {"if-needed", "always", "never"}
        With a port: upload ``firmware`` only when the board does not greet with
        ``model_hash`` (default; without a ``model_hash`` that is always), upload it whatever
        the board runs (``tinylab deploy``: deploying is flashing), or never (the sketch is on
        the board already, e.g. a capture sketch flashed by hand).
    speed : float
        The virtual Uno's pace (1.0: real time); see :class:`tinylab.virtual.VirtualUno`.
    timeout, banner_timeout : float
        For :meth:`device`: seconds for each answer, and for the banner.
    on_upload : callable, optional
        Called with the port just before an upload starts (a panel says "Uploading ...").

    Attributes
    ----------
    port : str or None
        Where the firmware answers (the virtual Uno's pty, or the real port, which may change
        after an upload); None before :meth:`open`.
    board : tinylab.virtual.VirtualUno or None
        The virtual Uno, while one is running.
    uploaded : dict or None
        What :func:`tinylab.flash.upload` reported, when this session uploaded.
    """

    def __init__(self, firmware=None, port: str | None = None, *, model_hash: str | None = None,
                 upload: str = "if-needed", speed: float = 1.0, timeout: float = 5.0,
                 banner_timeout: float = 8.0, on_upload=None):
        if upload not in UPLOAD_POLICIES:
            raise ValueError(f"upload must be one of {list(UPLOAD_POLICIES)}, got {upload!r}")
        if firmware is None and port is None:
            raise ValueError("a virtual board needs a firmware to run: give a BuildResult "
                             "(tinylab.build.compile_sketch), or the port of a real board")
        self.firmware = build.check_fits(firmware) if firmware is not None else None
        self.requested_port, self.model_hash = port, model_hash
        self.upload, self.speed = upload, float(speed)
        self.timeout, self.banner_timeout = float(timeout), float(banner_timeout)
        self.port: str | None = None
        self.board: virtual.VirtualUno | None = None
        self.uploaded: dict | None = None
        self.on_upload = on_upload
        self._device: device.Device | None = None

    # ----------------------------------------------------------------------------- life

    @property
    def virtual(self) -> bool:
        """True when the firmware runs on a virtual Uno."""
        return self.requested_port is None

    @property
    def running(self) -> bool:
        """The virtual Uno is running (a real board is taken to be, once open)."""
        if self.virtual:
            return self.board is not None and self.board.running
        return self.port is not None

    def open(self) -> "BoardSession":
        """Start the virtual Uno, or make sure the real board runs the firmware (upload)."""
        if self.virtual:
            self.ensure_running()
            return self
        self.port = self.requested_port
        if self.firmware is None or self.upload == "never" or (
                self.upload == "if-needed" and self._carries_the_model()):
            return self
        from . import flash

        if self.on_upload is not None:
            self.on_upload(self.port)
        self.uploaded = flash.upload(self.firmware, self.port, self.firmware.board)
        self.port = self.uploaded["port"]
        return self

    def _carries_the_model(self) -> bool:
        """The real board greets with ``model_hash`` already (its link is kept open)."""
        if self.model_hash is None:
            return False
        try:
            self._device = device.Device(self.port, timeout=self.timeout,
                                         banner_timeout=CARRIES_BANNER_TIMEOUT_S,
                                         expect_model=self.model_hash)
        except SerialError:  # another model, another sketch, or no sketch at all
            return False
        return True

    def ensure_running(self) -> "BoardSession":
        """Start the virtual Uno if it is not running (first use, or after a crash or stop)."""
        if self.virtual and not self.running:
            self._close_device()
            self._stop()
            self.board = virtual.VirtualUno(self.firmware, speed=self.speed).start()
            self.port = self.board.port
        return self

    def check(self) -> "BoardSession":
        """Raise the virtual Uno's own reason if it has ended (a crash, a halt, a kill)."""
        if self.virtual and self.board is not None:
            self.board.check()
        return self

    @property
    def link(self) -> device.Device | None:
        """The inference link if one is open (:meth:`device` opens one), else None."""
        return self._device if self._device is not None and self._device.is_open else None

    def device(self) -> device.Device:
        """The open inference link (:class:`tinylab.device.Device`), opened on first use.

        Opened again when it was closed (an error, a lost port); the virtual Uno is started
        again first if it has ended.
        """
        if self._device is not None and self._device.is_open and self.running:
            return self._device
        self._close_device()
        if self.virtual:
            self.ensure_running()
        elif self.port is None:
            self.open()
        self._device = device.Device(self.port, timeout=self.timeout,
                                     banner_timeout=self.banner_timeout,
                                     expect_model=self.model_hash)
        return self._device

    def _close_device(self) -> None:
        link, self._device = self._device, None
        if link is not None:
            link.close()

    def _stop(self) -> None:
        board, self.board = self.board, None
        if board is not None:
            board.stop()

    def close(self) -> None:
        """Close the link and stop the virtual Uno (safe twice)."""
        self._close_device()
        self._stop()

    def __enter__(self) -> "BoardSession":
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "virtual Uno" if self.virtual else self.requested_port
        state = "running" if self.running else "stopped"
        return f"BoardSession({where}, {state}, port={self.port!r})"
