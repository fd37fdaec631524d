"""What can go wrong on a serial link before any sketch's own protocol is involved.

:class:`SerialError` is the root; each sketch's client has its own subclass for what its
protocol adds (:class:`tinylab.device.DeviceError` for the inference sketch,
:class:`tinylab.capture.CaptureError` for the capture sketch), and neither is a kind of the
other.
"""

from __future__ import annotations

from ..errors import TinyLabError

__all__ = ["SerialError", "ConnectionLostError", "NoBannerError"]


class SerialError(TinyLabError):
    """A serial link failed; the message says why and what to do."""


class ConnectionLostError(SerialError):
    """The serial port went away (board unplugged, virtual board stopped)."""


class NoBannerError(SerialError):
    """No TinyLab banner arrived after opening the port (wrong sketch, wrong baud, no sketch)."""
