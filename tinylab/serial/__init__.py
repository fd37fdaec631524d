"""The serial layer: from a USB port to a TinyLab sketch's banner, layered one way.

::

    ports      which serial ports there are, which board each is (USB ids from boards/*.json),
               opening one, and what to do when it does not open
    lines      the bytes of an open port cut into lines, with deadlines (LineReader)
    protocol   TinyLab's line protocol shared by every sketch: the #TINYLAB banner, the "?"
               probe, the one banner handshake both clients use
    errors     what can go wrong at this layer (a port lost, no banner)

Each layer knows only the ones above it in this list. The two sketches' clients build on it:
:mod:`tinylab.device` talks to the inference sketch (lesson 08), :mod:`tinylab.capture`
records from the capture sketch (lesson 01); :mod:`tinylab.flash` only uploads. The wire
formats are in docs/serial-protocol.md and docs/capture-protocol.md.
"""

from . import errors, lines, ports, protocol  # noqa: F401
from .errors import ConnectionLostError, NoBannerError, SerialError

__all__ = ["errors", "lines", "ports", "protocol", "SerialError", "ConnectionLostError",
           "NoBannerError"]
