"""A serial port that the browser holds: the kernel's side of the Web Serial board link (issue 20).

In a hub or on Binder the kernel runs on a server and the board is on the student's laptop. The
page opens the port with Web Serial (the widget :class:`tinylab.widgets.BoardLink`) and relays
its bytes both ways as widget messages. :class:`WebSerialPort` is the kernel's end: it has the
part of pyserial's ``Serial`` that TinyLab's serial code uses (``read``, ``in_waiting``,
``reset_input_buffer``, ``write``, ``close``, ``timeout``), so :class:`tinylab.device.Device`
and :class:`~tinylab.serial.lines.LineReader` run unchanged on it; the line protocol, pacing and
acknowledgements are the same bytes. A link is named ``webserial:<id>``
(:attr:`BoardLink.port <tinylab.widgets.BoardLink>`), and :func:`tinylab.serial.ports.open_port`
opens such a name here, so ``Device(link.port)`` is all a lesson writes.

The hard part is the wait. A cell that reads a board (``Device.infer_many``) blocks the kernel's
main thread, and ipykernel handles widget messages between cells, on that same thread: the bytes
the page sends would wait until the cell ends, and the read would time out. So a read that waits
pumps the kernel's shell messages itself (:class:`_KernelPump`): it takes the messages queued for
the main thread, hands those of the board links to their widgets at once, and keeps every other
message (a click, an ``execute_request`` of the next cell) in order, for the kernel to handle when
the running code returns. Nothing but a link's own bytes runs inside the wait, so no widget
callback runs re-entrantly. The same holds under Voila, where the blocking code runs inside a
widget callback (a button's) rather than a cell.

>>> link = tl.widgets.BoardLink(); link                               # doctest: +SKIP
>>> with tl.device.Device(link.port) as board:                        # doctest: +SKIP
...     run = board.infer_many(x_int8)
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref

from .errors import SerialError

__all__ = ["SCHEME", "WebLinkError", "WebSerialPort", "is_web_port", "open_web_port"]

#: The prefix of a browser-held port's name: ``webserial:<id>``.
SCHEME = "webserial:"
# How long opening waits for the page to answer that it holds a port and reset the board (s).
# A DTR pulse takes ~0.1 s on a real Uno; the rest is two trips through the Jupyter server.
OPEN_TIMEOUT_S = 5.0
# Bytes the kernel holds from the page before it drops more (a UART overrun): a real port's
# driver holds ~4 KB; a page (a Voila visitor's, say) cannot make the kernel hold more than this.
MAX_BUFFER_BYTES = 1 << 16

_links: "weakref.WeakValueDictionary[str, WebSerialPort]" = weakref.WeakValueDictionary()


class WebLinkError(SerialError):
    """The page holds no port (not connected, closed, or the link was lost)."""


def is_web_port(port) -> bool:
    """Whether ``port`` names a browser-held port (``webserial:...``)."""
    return isinstance(port, str) and port.startswith(SCHEME)


class WebSerialPort:
    """The kernel's end of a port held by the page, with pyserial's reading and writing API.

    Parameters
    ----------
    send : callable
        ``send(content: dict, buffers: list[bytes])``: a widget message to the page (the
        :class:`~tinylab.widgets.BoardLink` passes its ``send``).
    name : str, optional
        ``webserial:<id>`` (default: a fresh id).

    ``timeout`` (s) bounds each :meth:`read`, as pyserial's does; ``write_timeout`` is kept for
    the same API (a write is a message: it never blocks; a board that stops reading shows as a
    missing acknowledgement, which the protocol's own timeouts catch).
    """

    def __init__(self, send, name: str | None = None):
        self.name = name or f"{SCHEME}{uuid.uuid4().hex[:8]}"
        if not is_web_port(self.name):
            raise ValueError(f"a web port's name starts with {SCHEME!r}, got {self.name!r}")
        self._send = send
        self._received = bytearray()
        self._lock = threading.Condition()
        self.timeout: float | None = None
        self.write_timeout: float | None = None
        self.is_open = False
        self.connected = False       # the page holds an open port (it says so)
        self.lost: str | None = None   # why the page lost it, in its words
        self._opened = 0              # "opened" answers counted, to wait for the next one
        self.bytes_in = self.bytes_out = self.overrun_bytes = 0
        _links[self.name] = self

    # ---------------------------------------------------------------- messages from the page

    def receive(self, content: dict, buffers) -> None:
        """A message from the page (the widget's handler calls this, in the main thread or
        from the pump): ``{"op": "data"}`` with bytes in ``buffers``, ``"opened"``, ``"lost"``,
        ``"connected"``."""
        op = content.get("op") if isinstance(content, dict) else None
        with self._lock:
            if op == "data":
                for buffer in buffers or []:
                    chunk = bytes(buffer)
                    self.bytes_in += len(chunk)
                    if not self.is_open:      # bytes while closed are dropped, as pyserial's
                        continue
                    room = MAX_BUFFER_BYTES - len(self._received)
                    self._received += chunk[:max(0, room)]
                    self.overrun_bytes += max(0, len(chunk) - max(0, room))
            elif op == "opened":
                self._opened += 1
                self.connected, self.lost = True, None
            elif op == "connected":
                self.connected, self.lost = bool(content.get("value")), None
            elif op == "lost":
                self.connected = False
                self.lost = str(content.get("message") or "the page lost the port")
            self._lock.notify_all()

    # ---------------------------------------------------------------- pyserial's API

    def open(self, timeout_s: float = OPEN_TIMEOUT_S) -> None:
        """Ask the page to reset the board (DTR off and on, as opening a local port does) and
        wait, pumping the kernel's messages, until it says it did."""
        if not self.connected:
            raise WebLinkError(self._not_connected())
        before = self._opened
        with self._lock:
            self._received.clear()
        self._send({"op": "open"}, [])
        if not self._wait(lambda: self._opened > before or self.lost is not None, timeout_s):
            raise WebLinkError(f"the page did not answer within {timeout_s:g} s on {self.name}: "
                               f"is the notebook's tab still open, with the board connected?")
        if self.lost is not None:
            raise WebLinkError(self._not_connected())
        with self._lock:
            self._received.clear()   # what came before the reset is the old sketch's
        self.is_open = True

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait (handling the page's messages) until the student connected a board in the
        page, at most ``timeout_s``; whether one is connected."""
        return self._wait(lambda: self.connected, timeout_s)

    def close(self) -> None:
        """Stop taking bytes (the page keeps the port: the student connected it, not the
        kernel). Safe twice."""
        self.is_open = False
        with self._lock:
            self._received.clear()

    @property
    def in_waiting(self) -> int:
        self._check()
        self._wait(lambda: False, 0)   # take what the page has sent, without waiting
        return len(self._received)

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes, waiting at most ``timeout`` for them (pyserial's contract)."""
        self._check()
        self._wait(lambda: len(self._received) >= size or self.lost is not None,
                   self.timeout if self.timeout is not None else 3600.0)
        self._check()
        with self._lock:
            data = bytes(self._received[:size])
            del self._received[:size]
        return data

    def write(self, data: bytes) -> int:
        self._check()
        data = bytes(data)
        self._send({"op": "write"}, [data])
        self.bytes_out += len(data)
        return len(data)

    def reset_input_buffer(self) -> None:
        self._wait(lambda: False, 0)
        with self._lock:
            self._received.clear()

    def flush(self) -> None:
        """Nothing to flush: each write is one message, sent at once."""

    # ---------------------------------------------------------------- helpers

    def _not_connected(self) -> str:
        why = f" ({self.lost})" if self.lost else ""
        return (f"no board connected in the page for {self.name}{why}: click \"Connect a board\" "
                f"in the board link above and pick the board's port (Chrome, Edge or Opera; "
                f"Firefox and Safari have no Web Serial), or use the virtual Uno.")

    def _check(self) -> None:
        if self.lost is not None:
            self.is_open = False
            raise WebLinkError(f"the page lost the port: {self.lost}")
        if not self.is_open:
            raise WebLinkError(f"{self.name} is not open")

    def _wait(self, done, timeout_s: float) -> bool:
        """Until ``done()`` or ``timeout_s``, handling the page's messages for the links."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        pump = _KernelPump.get()
        while True:
            if done():
                return True
            remaining = deadline - time.monotonic()
            if pump is not None:
                pump.run(max(0.0, remaining))
            elif remaining > 0:   # no kernel (a test feeding bytes from a thread)
                with self._lock:
                    self._lock.wait(min(remaining, 0.05))
            if remaining <= 0:
                return done()


def open_web_port(port: str, baudrate: int, *, write_timeout: float, timeout: float,
                  error=SerialError) -> WebSerialPort:
    """The link ``port`` names, opened (its board reset); ``error`` if there is none or the
    page holds no port. What :func:`tinylab.serial.ports.open_port` does for ``webserial:``."""
    link = _links.get(port)
    if link is None:
        raise error(f"no board link {port} in this kernel: show a tl.widgets.BoardLink() and "
                    f"use its .port (a link lives as long as its widget)")
    link.timeout, link.write_timeout = timeout, write_timeout
    try:
        link.open()
    except WebLinkError as exc:
        raise error(str(exc)) from None
    return link


class _KernelPump:
    """Handles the board links' widget messages while the kernel's main thread is busy.

    ipykernel 7 receives shell messages on a thread of its own and passes them to the main
    thread over an in-process ZMQ socket, which the main thread's event loop reads between
    cells (and between widget callbacks). :meth:`run` reads that socket itself: a ``comm_msg``
    for a link goes to its widget now; any other message is scheduled, in arrival order, to be
    handled as if it arrived when the running code returns (the kernel's own handler, after
    the cell's lock). The socket is drained to the end each time, so no message is left behind
    an edge of its file descriptor that the kernel's stream would not see.

    ipykernel 6 (messages read by the main thread from the shell socket itself) takes the same
    path on ``kernel.shell_stream`` (not tested here). Without a kernel, :meth:`get` is None.
    """

    _instance = None

    def __init__(self, kernel, socket, replay):
        self.kernel, self.socket, self.replay = kernel, socket, replay
        self.deferred = 0    # messages put off until the running code returns (for tests)
        self.handled = 0     # link messages handled inside a wait

    @classmethod
    def get(cls):
        if cls._instance is not None:
            return cls._instance
        try:
            from ipykernel.kernelbase import Kernel
        except ImportError:
            return None
        if not Kernel.initialized() or threading.current_thread() is not threading.main_thread():
            return None
        kernel = Kernel.instance()
        thread = getattr(kernel, "shell_channel_thread", None)
        if thread is not None:                                   # ipykernel 7
            socket = thread.manager._shell_channel_to_main.to_socket

            def replay(msg):
                kernel.io_loop.add_callback(kernel.shell_main, None, msg)
        elif getattr(kernel, "shell_stream", None) is not None:  # ipykernel 6
            socket = kernel.shell_stream.socket

            def replay(msg):   # into the kernel's ordered queue, behind the running request
                kernel.schedule_dispatch(kernel.dispatch_shell, msg)
        else:
            return None
        cls._instance = cls(kernel, socket, replay)
        return cls._instance

    def run(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for shell messages; handle what came (all of it)."""
        import zmq

        if not self.socket.poll(int(timeout_s * 1000), zmq.POLLIN):
            return
        while True:
            try:
                msg = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._handle(msg)

    def _comm_manager(self):
        manager = getattr(self.kernel, "comm_manager", None)
        if manager is None:
            import comm

            manager = comm.get_comm_manager()
        return manager

    def _handle(self, msg) -> None:
        session = self.kernel.session
        try:
            idents, frames = session.feed_identities(msg, copy=False)
            # A peek: without its content unpacked the signature is not recorded, so the
            # kernel can still take this message later.
            peek = session.deserialize(list(frames), content=False, copy=False)
            if peek["header"]["msg_type"] == "comm_msg":
                comm_id = session.unpack(peek["content"]).get("comm_id")
                comms = self._comm_manager()
                if getattr(comms.get_comm(comm_id), "_tinylab_link", False):
                    full = session.deserialize(list(frames), content=True, copy=False)
                    comms.comm_msg(None, idents, full)
                    self.handled += 1
                    return
        except Exception:   # not ours to judge: the kernel's own handler will say what is wrong
            pass
        self.deferred += 1
        self.replay(msg)
