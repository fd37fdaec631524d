"""A board on the student's own computer, reached from a remote kernel over Web Serial (issue 20).

:class:`BoardLink` shows a "Connect a board" button; the student picks the port in the browser's
own chooser, and the page relays that port's bytes to the kernel and back (``_board_link.js``).
The kernel's end is :class:`tinylab.serial.web.WebSerialPort`: ``Device(link.port)`` opens it as
it opens ``/dev/ttyACM0``, and ``tinylab.flash.upload(build, link.port)`` uploads an Uno sketch
through it (the page runs ``_stk500.js``, whose text this widget hands to the page: anywidget
cannot import a module next to its own).

Safe by design. The page holds one port, the one the student picked in the browser's chooser
(a browser lets a page ask for a port only on a click, and lists only the ports the student
allows); the kernel cannot name another: no message asks for a port. The page writes to that
port only the bytes the kernel sends (``write``), a reset (``open``) and the .hex the kernel
sends (``upload``, checked by the page's programmer and by the kernel before it). The kernel
acts on a short list of page messages (:meth:`WebSerialPort.receive
<tinylab.serial.web.WebSerialPort.receive>`): bytes read (kept only while a Device has the port
open, and bounded), the port's state, answers to its own pending request matched by id.
Anything else, such as a visitor's crafted ``{op: "write"}``, is ignored; what the page says
can change only the link's own state, never run code or reach another port or file. The
synced traits a page may change (``name``, ``baudrate``, the programmer's text) are read only
by the page itself.

Browsers without Web Serial (Firefox, Safari, phones) show the button disabled, with a line
saying which browsers work and that the virtual Uno stays available.
"""

from __future__ import annotations

import functools
from pathlib import Path

import anywidget
import traitlets

from ..serial.protocol import BAUDRATE
from ..serial.web import WebSerialPort


@functools.lru_cache(maxsize=1)
def _stk500_source() -> str:
    """The text of ``_stk500.js`` (the browser's STK500 programmer), read once."""
    return Path(__file__).with_name("_stk500.js").read_text(encoding="utf-8")


class BoardLink(anywidget.AnyWidget):
    """The page's serial port, relayed to the kernel through widget messages.

    Attributes
    ----------
    port : str
        The link's port name (``webserial:<id>``), for :class:`tinylab.device.Device` and
        :func:`tinylab.flash.upload`.
    link : tinylab.serial.web.WebSerialPort
        The kernel's end (counters ``bytes_in``, ``bytes_out``; ``connected``, ``lost``).
    connected : bool
        The page holds a port the student picked (a trait: panels ``observe`` it to offer the
        link as a board). Set by the kernel from the page's messages, not synced back.
    """

    _esm = Path(__file__).with_name("_board_link.js")
    name = traitlets.Unicode().tag(sync=True)
    baudrate = traitlets.Int(BAUDRATE).tag(sync=True)
    # _stk500.js as text: the page imports it from a Blob URL when it first uploads.
    _stk500 = traitlets.Unicode().tag(sync=True)
    connected = traitlets.Bool(False)

    def __init__(self, **kwargs):
        self.link = WebSerialPort(self._send_to_page)
        super().__init__(name=self.link.name, _stk500=_stk500_source(), **kwargs)
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
        self.connected = self.link.connected
