"""A WebSocket <-> serial port relay, for browser tests of the Web Serial board link (issue 20).

Chromium has no fake serial device, so tests/test_web_serial_upload.py gives the page a
stand-in for ``navigator.serial`` (``web_serial.js`` beside this file) whose bytes go over a
WebSocket to this relay, which writes them to a serial port (the virtual Uno's pty) and sends
back what the port answers. It lives in tests/, not in the package: nothing TinyLab ships may
bridge a web page to a serial port (issue 20: "the page touches only the port the user picked";
a local relay that any open web page could reach would be exactly that hole), and the widget
talks to the real ``navigator.serial``. The widget's own tests, and a benchmark of its upload
time and per-digit latency, can use this relay the same way.

The relay also serves the test's page and its modules (``files``), so the page's origin is the
relay's own (``http://127.0.0.1:PORT``), the only origin whose pages may connect: Chromium's
local network access checks would block a page from elsewhere, and the relay lets no other site
reach the port. The protocol on the WebSocket (``ws://127.0.0.1:PORT/serial``), one client at a
time:

- binary messages are bytes, each way;
- text messages are JSON requests, each answered in order with ``{"id": ..., "ok": true}`` (or
  ``"error"``): ``{"op": "signals", "id": n, "dataTerminalReady": bool, ...}``. DTR turned off
  closes the port and DTR turned back on opens it again: the virtual Uno's harness resets the MCU
  on every opening of its pty, as a real Uno resets on the DTR edge (closing and opening a real
  Uno's port resets it too). Bytes that arrive while the port is closed are dropped, as a board
  held in reset drops them.

The port is opened when the client connects (Web Serial's ``port.open()``) and closed when it
leaves. Faults on request: ``cut_after_bytes`` ends the TCP connection without a
WebSocket goodbye once that many bytes went to the port (an unplugged board, a lost network);
``silence_after_bytes`` stops passing on what the port sends from then on (a board that hangs);
``garble_page`` flips one bit in the data of that page (counted from 0) of an STK500 "program
page" command on its way to the port (a noisy line).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading

import serial
import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket
from tornado.ioloop import IOLoop

STK_PROG_PAGE = 0x64   # then size (2 bytes), 'F', the data, CRC_EOP: one write of the page
START_TIMEOUT_S = 10
STOP_TIMEOUT_S = 10


class SerialRelay:
    """Relay one WebSocket client's bytes to ``port`` and back, in a thread of its own.

    Parameters
    ----------
    port : str
        The serial port (a pty, ``/dev/ttyACM0``), opened with pyserial, exclusively.
    files : dict
        ``{"/path": Path}``: what the relay serves over HTTP (the test page, its modules).
        ``"/"`` gets an empty HTML page unless given.
    baudrate : int
        The port's speed (a pty ignores it).
    cut_after_bytes : int or None
        Drop the connection (no WebSocket close frame) once this many bytes went to the port.
    silence_after_bytes : int or None
        Drop what the port sends once this many bytes went to it.
    garble_page : int or None
        Flip the lowest bit of data byte 5 of the ``garble_page``-th STK_PROG_PAGE command.

    Counters, for tests: ``to_port`` and ``from_port`` (bytes), ``dropped`` (bytes sent while
    the port was closed), ``signals`` (requests), ``opens`` (times the port was opened),
    ``clients`` (connections accepted), ``refused`` (connections refused), ``cut`` (True once
    the connection was dropped on purpose), ``pages`` (STK_PROG_PAGE commands seen).
    """

    def __init__(self, port: str, *, files: dict | None = None, baudrate: int = 115200,
                 cut_after_bytes: int | None = None, silence_after_bytes: int | None = None,
                 garble_page: int | None = None):
        self.port = port
        self.files = dict(files or {})
        self.baudrate = baudrate
        self.cut_after_bytes = cut_after_bytes
        self.silence_after_bytes = silence_after_bytes
        self.garble_page = garble_page
        self.pages = 0
        self.to_port = self.from_port = self.dropped = 0
        self.signals = self.opens = self.clients = self.refused = 0
        self.cut = False
        self.errors: list = []     # what went wrong on the relay's side, in words
        self.client_gone = threading.Event()
        self._client = None
        self._thread = threading.Thread(target=self._serve, name="serial-relay", daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self.port_number: int | None = None

    @property
    def origin(self) -> str:
        """The relay's own origin: its pages', the only one allowed on the WebSocket."""
        return f"http://127.0.0.1:{self.port_number}"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port_number}/serial"

    def start(self) -> "SerialRelay":
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or self.port_number is None:
            raise RuntimeError(f"the serial relay did not start within {START_TIMEOUT_S} s: "
                               f"{self.errors}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            raise RuntimeError(f"the serial relay did not stop within {STOP_TIMEOUT_S} s")

    def cut_now(self) -> None:
        """Drop the page's connection now, from any thread, as ``cut_after_bytes`` does (no
        WebSocket goodbye: an unplugged board). For a cut while only the board sends (a
        recording), where a count of bytes *to* the board cannot place it."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._cut)

    def _cut(self) -> None:
        if self._client is not None and not self.cut:
            self._client.cut()

    def __enter__(self) -> "SerialRelay":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as error:  # reported by start() or the test
            self.errors.append(f"{type(error).__name__}: {error}")
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        application = tornado.web.Application([
            (r"/serial", _SerialSocket, {"relay": self}),
            (r"(/.*)", _File, {"relay": self}),
        ])
        server = tornado.httpserver.HTTPServer(application)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        self.port_number = sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopping.wait()
        server.stop()
        if self._client is not None:
            self._client.close_port()
            self._client.close()
        await server.close_all_connections()


class _File(tornado.web.RequestHandler):
    def initialize(self, relay: SerialRelay) -> None:
        self.relay = relay

    def get(self, path: str) -> None:
        if path in self.relay.files:
            name = self.relay.files[path]
            kind = {".js": "text/javascript", ".html": "text/html"}.get(name.suffix, "text/plain")
            self.set_header("Content-Type", f"{kind}; charset=utf-8")
            self.write(name.read_bytes())
        elif path == "/":
            self.write("<!doctype html><title>TinyLab serial relay</title>")
        elif path == "/favicon.ico":
            self.set_status(204)
        else:
            self.send_error(404)


class _SerialSocket(tornado.websocket.WebSocketHandler):
    def initialize(self, relay: SerialRelay) -> None:
        self.relay = relay
        self.serial: serial.Serial | None = None
        self.pending = bytearray()   # bytes for the port that it did not take yet

    def check_origin(self, origin: str) -> bool:
        return origin == self.relay.origin

    def open(self) -> None:
        if self.relay._client is not None:
            self.relay.refused += 1
            self.close(1013, "the port is in use by another page")
            return
        self.relay._client = self
        self.relay.clients += 1
        self.relay.client_gone.clear()
        self.set_nodelay(True)
        try:
            self.open_port()
        except (OSError, serial.SerialException) as error:
            self.relay.errors.append(f"opening {self.relay.port}: {error}")
            self.close(1011, f"cannot open {self.relay.port}: {error}")

    def open_port(self) -> None:
        self.serial = serial.Serial(self.relay.port, self.relay.baudrate, timeout=0,
                                    exclusive=True)
        self.relay.opens += 1
        IOLoop.current().add_handler(self.serial.fileno(), self._on_port, IOLoop.READ)

    def close_port(self) -> None:
        if self.serial is None:
            return
        IOLoop.current().remove_handler(self.serial.fileno())
        self.serial.close()
        self.serial = None
        self.pending.clear()

    def _on_port(self, fd: int, events: int) -> None:
        if events & IOLoop.WRITE:
            self._flush()
        if not events & (IOLoop.READ | IOLoop.ERROR):
            return
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError as error:   # EIO: the board's side of the pty went away
            self.relay.errors.append(f"reading {self.relay.port}: {error}")
            self.close_port()
            self.close(1011, "the board went away")
            return
        if not data:
            return
        silence = self.relay.silence_after_bytes
        if silence is not None and self.relay.to_port >= silence:
            self.relay.dropped += len(data)
            return
        self.relay.from_port += len(data)
        try:
            self.write_message(data, binary=True)
        except tornado.websocket.WebSocketClosedError:
            pass

    def _flush(self) -> None:
        if self.serial is None:
            return
        fd = self.serial.fileno()
        while self.pending:
            try:
                written = os.write(fd, self.pending)
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno == errno.EINTR:
                    continue
                self.relay.errors.append(f"writing {self.relay.port}: {error}")
                self.close_port()
                self.close(1011, "the board went away")
                return
            del self.pending[:written]
        IOLoop.current().update_handler(
            fd, IOLoop.READ | (IOLoop.WRITE if self.pending else 0))

    def on_message(self, message) -> None:
        if isinstance(message, bytes):
            if self.serial is None:      # DTR off: the board is held in reset
                self.relay.dropped += len(message)
                return
            self.relay.to_port += len(message)
            if len(message) > 4 and message[0] == STK_PROG_PAGE and message[3] == ord("F"):
                if self.relay.pages == self.relay.garble_page:
                    message = bytearray(message)
                    message[4 + 5] ^= 0x01
                self.relay.pages += 1
            self.pending += message
            self._flush()
            cut = self.relay.cut_after_bytes
            if cut is not None and self.relay.to_port >= cut and not self.relay.cut:
                self.cut()
            return
        request = None
        try:
            request = json.loads(message)
            if request.get("op") != "signals":
                raise ValueError(f"unknown request {request.get('op')!r}")
            self.relay.signals += 1
            dtr = request.get("dataTerminalReady")
            if dtr is False:
                self.close_port()
            elif dtr is True and self.serial is None:
                self.open_port()
            answer = {"id": request.get("id"), "ok": True}
        except (ValueError, OSError, serial.SerialException) as error:
            answer = {"id": request.get("id") if isinstance(request, dict) else None,
                      "error": str(error)}
        self.write_message(json.dumps(answer))

    def cut(self) -> None:
        """End the connection without a close frame (the page sees code 1006), the pty shut."""
        self.relay.cut = True
        self.close_port()
        self.ws_connection.stream.close()

    def on_close(self) -> None:
        self.close_port()
        if self.relay._client is self:
            self.relay._client = None
            self.relay.client_gone.set()
