"""A board on the student's own computer, reached from a remote kernel over Web Serial (issue 20).

:class:`BoardLink` shows a "Connect a board" button; the student picks the port in the browser's
own chooser, and the page relays that port's bytes to the kernel and back (``_board_link.js``).
The kernel's end is :class:`tinylab.serial.web.WebSerialPort`: ``Device(link.port)`` opens it as
it opens ``/dev/ttyACM0``.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

from ..serial.protocol import BAUDRATE
from ..serial.web import WebSerialPort


class BoardLink(anywidget.AnyWidget):
    """The page's serial port, relayed to the kernel through widget messages.

    Attributes
    ----------
    port : str
        The link's port name (``webserial:<id>``), for :class:`tinylab.device.Device`.
    link : tinylab.serial.web.WebSerialPort
        The kernel's end (counters ``bytes_in``, ``bytes_out``; ``connected``, ``lost``).
    """

    _esm = Path(__file__).with_name("_board_link.js")
    name = traitlets.Unicode().tag(sync=True)
    baudrate = traitlets.Int(BAUDRATE).tag(sync=True)

    def __init__(self, **kwargs):
        self.link = WebSerialPort(self._send_to_page)
        super().__init__(name=self.link.name, **kwargs)
        # Marks the comm whose messages tinylab.serial.web's pump hands over during a wait.
        self.comm._tinylab_link = True
        self.on_msg(self._on_page_message)

    @property
    def port(self) -> str:
        return self.link.name

    def _send_to_page(self, content: dict, buffers: list) -> None:
        self.send(content, buffers)

    def _on_page_message(self, _widget, content, buffers) -> None:
        self.link.receive(content, buffers)
