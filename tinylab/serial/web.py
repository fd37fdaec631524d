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

An upload goes the same way (:meth:`WebSerialPort.upload`): the kernel sends the .hex and the
page runs the STK500 programmer (``tinylab/widgets/_stk500.js``) on its port, then says how it
went; :func:`tinylab.flash.upload` does this for a ``webserial:`` port.

A page that stops answering (its tab closed, the browser asleep) cannot say so. While a read or
an upload waits and the page has been silent for :data:`PING_AFTER_S`, the kernel pings it;
no answer within :data:`PAGE_SILENT_S` is a :class:`WebLinkError` that says the page stopped
answering. A kernel interrupt (Ctrl-C, the stop button) stops a wait at once with
``KeyboardInterrupt``, as it stops a local read.

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

__all__ = ["SCHEME", "WebLinkError", "WebUploadError", "WebSerialPort", "is_web_port",
           "find_link", "open_web_port", "upload_timeout_s"]

#: The prefix of a browser-held port's name: ``webserial:<id>``.
SCHEME = "webserial:"
# How long opening waits for the page to answer that it holds a port and reset the board (s).
# A DTR pulse takes ~0.1 s on a real Uno; the rest is two trips through the Jupyter server.
OPEN_TIMEOUT_S = 5.0
# Bytes the kernel holds from the page before it drops more (a UART overrun): a real port's
# driver holds ~4 KB; a page (a Voila visitor's, say) cannot make the kernel hold more than this.
MAX_BUFFER_BYTES = 1 << 16
# A page silent this long during a wait is pinged; one that answers nothing for PAGE_SILENT_S
# after the ping has stopped answering (s): 2.5 s in all, under a Device's 5 s timeout, so a
# closed tab is named as such rather than taken for a silent board. A live page answers a ping
# from its message handler (not a timer a background tab would slow) in ~10 ms on a LAN and
# well under a second on Binder; a board that is merely slow does not stop its pongs.
PING_AFTER_S = 0.5
PAGE_SILENT_S = 2.0
# A gap this long between two waits may have left the page's messages unread (nobody pumped
# them): the silence clock starts again at the next wait rather than calling the page silent.
PUMP_GAP_S = 0.5
# How long an upload may take (s): the programmer's own bounds (4 resets and syncs: up to 9 s
# before "no-sync") plus, per character of the .hex text (~2.8 per byte of flash), ~10 times
# what writing and reading back a byte takes at 115,200 baud through the Jupyter server. The
# inference firmware's 22 kB of text: ~37 s; its upload takes ~2.5 s.
UPLOAD_BASE_S = 15.0
UPLOAD_PER_CHAR_S = 0.001
# What the kernel keeps of a page's upload messages (a page cannot make it hold more).
_MAX_TEXT = 2000

_links: "weakref.WeakValueDictionary[str, WebSerialPort]" = weakref.WeakValueDictionary()


class WebLinkError(SerialError):
    """The page holds no port (not connected, closed, or the link was lost), or stopped
    answering."""


class WebUploadError(WebLinkError):
    """The page's programmer could not upload; ``reason`` is its own (``bad-hex``, ``too-big``,
    ``no-sync``, ``wrong-chip``, ``verify-mismatch``, ``timeout``, ``interrupted``), ``details``
    what it reported. :func:`tinylab.flash.upload` turns it into a ``FlashError``."""

    def __init__(self, message: str, reason: str = "failed", details: dict | None = None):
        super().__init__(message)
        self.reason, self.details = reason, details or {}


def is_web_port(port) -> bool:
    """Whether ``port`` names a browser-held port (``webserial:...``)."""
    return isinstance(port, str) and port.startswith(SCHEME)


def upload_timeout_s(hex_text: str) -> float:
    """The bound on uploading ``hex_text`` through a link (s): grows with the file's size."""
    return UPLOAD_BASE_S + UPLOAD_PER_CHAR_S * len(hex_text)


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

    What the page may say is a short list (:meth:`receive`); anything else is ignored, and
    what it says changes only this object's own state: bytes read, the port's state, the
    answer to the request the kernel is waiting for (matched by its id).
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
        self.ignored = 0              # page messages that were not ours to act on (for tests)
        # The page (a browser tab's id) where the student last connected a board: the kernel
        # talks to that one only, so a second tab of the same notebook, which holds no port,
        # neither answers for it nor calls it lost.
        self.holder: str | None = None
        # The request the kernel waits for: a ping's or an upload's id, and the answer.
        self._next_id = 0
        self._ping_id: int | None = None
        self._ping_at: float | None = None
        self._heard_at = self._pumped_at = 0.0
        self._upload: dict | None = None
        _links[self.name] = self

    # ---------------------------------------------------------------- messages from the page

    def receive(self, content: dict, buffers) -> None:
        """A message from the page (the widget's handler calls this, in the main thread or
        from the pump): ``{"op": "data"}`` with bytes in ``buffers``, ``"opened"``, ``"lost"``,
        ``"connected"``, ``"pong"``, and for the upload under way ``"progress"``,
        ``"uploaded"``, ``"upload-failed"``. Any other message (another op, an answer to no
        request of the kernel's) changes nothing."""
        op = content.get("op") if isinstance(content, dict) else None
        page = content.get("page") if isinstance(content, dict) else None
        with self._lock:
            if op == "connected" and content.get("value"):
                self.holder = page if isinstance(page, str) else None   # the latest pick wins
            elif self.holder is not None and page != self.holder:
                self.ignored += 1       # another tab's (it holds no port of this link's)
                return
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
                self.lost = _text(content.get("message")) or "the page lost the port"
            elif op == "pong" and self._ping_id is not None \
                    and content.get("id") == self._ping_id:
                self._ping_id = self._ping_at = None
                if content.get("connected") is False and self.connected:
                    self.connected = False
                    self.lost = "the page holds no port any more (was it reloaded?)"
            elif op in ("progress", "uploaded", "upload-failed") and self._upload is not None \
                    and content.get("id") == self._upload["id"]:
                self._upload_message(op, content)
            else:
                self.ignored += 1
                return
            self._heard_at = time.monotonic()
            self._lock.notify_all()

    def _upload_message(self, op: str, content: dict) -> None:
        if op == "progress":
            self._upload["progress"] = (_text(content.get("phase"), 20),
                                        _count(content.get("done")), _count(content.get("total")))
        elif op == "uploaded":
            self._upload["result"] = {
                "seconds": _number(content.get("seconds")),
                "bytes_written": _count(content.get("bytesWritten")),
                "data_bytes": _count(content.get("dataBytes")),
                "pages": _count(content.get("pages")),
                "chip": _text(content.get("chip"), 60),
                "bootloader_version": _text(content.get("bootloaderVersion"), 20),
                "sync_attempts": _count(content.get("syncAttempts"))}
        else:
            self._upload["failure"] = (_text(content.get("reason"), 40) or "failed",
                                       _text(content.get("message")) or "the upload failed")

    # ---------------------------------------------------------------- pyserial's API

    def open(self, timeout_s: float = OPEN_TIMEOUT_S) -> None:
        """Ask the page to reset the board (DTR off and on, as opening a local port does) and
        wait, pumping the kernel's messages, until it says it did."""
        if not self.connected:
            raise WebLinkError(self._not_connected())
        before = self._opened
        with self._lock:
            self._received.clear()
        self._to_page({"op": "open"}, [])
        if not self._wait(lambda: self._opened > before or self.lost is not None, timeout_s,
                          watch=True):
            raise WebLinkError(f"{self._silent(timeout_s)} ({self.name}).")
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
                   self.timeout if self.timeout is not None else 3600.0, watch=True)
        self._check()
        with self._lock:
            data = bytes(self._received[:size])
            del self._received[:size]
        return data

    def write(self, data: bytes) -> int:
        self._check()
        data = bytes(data)
        self._to_page({"op": "write"}, [data])
        self.bytes_out += len(data)
        return len(data)

    def reset_input_buffer(self) -> None:
        self._wait(lambda: False, 0)
        with self._lock:
            self._received.clear()

    def flush(self) -> None:
        """Nothing to flush: each write is one message, sent at once."""

    # ---------------------------------------------------------------- uploading

    def upload(self, hex_text: str, timeout_s: float | None = None, on_progress=None) -> dict:
        """Have the page upload ``hex_text`` (an Uno sketch's Intel HEX) to its board.

        The page stops relaying, runs ``tinylab/widgets/_stk500.js``'s ``upload`` on its port
        (resetting the board into Optiboot, writing and reading back every page), then relays
        again; this waits for its answer, handling the page's messages as reads do.

        Parameters
        ----------
        hex_text : str
            The .hex file's text (checked by the caller: :func:`tinylab.flash.upload` does).
        timeout_s : float, optional
            Give up after this many seconds (default :func:`upload_timeout_s`).
        on_progress : callable, optional
            ``on_progress(phase, done, total)`` as the page reports it (at most every ~0.1 s):
            phase ``"reset"`` (attempt, attempts), ``"write"``/``"verify"`` (bytes, bytes),
            ``"done"``.

        Returns
        -------
        dict
            ``seconds`` (the page's count), ``bytes_written``, ``data_bytes``, ``pages``,
            ``chip``, ``bootloader_version``, ``sync_attempts``.

        Raises
        ------
        WebUploadError
            The programmer's ``reason`` and its message, or: ``"no-port"`` (no board connected
            in the page), ``"interrupted"`` (the page lost its port meanwhile), ``"timeout"``
            (the page stopped answering, or the bound passed). ``KeyboardInterrupt`` (after
            asking the page to stop) on a kernel interrupt.
        """
        if not isinstance(hex_text, str):
            raise TypeError(f"hex_text is the .hex file's text (str), got "
                            f"{type(hex_text).__name__}")
        if not self.connected:
            raise WebUploadError(self._not_connected(), "no-port")
        timeout_s = upload_timeout_s(hex_text) if timeout_s is None else float(timeout_s)
        with self._lock:
            self._next_id += 1
            upload = self._upload = {"id": self._next_id, "progress": None, "result": None,
                                     "failure": None}
            self._received.clear()
        shown = [None]

        def finished() -> bool:
            if on_progress is not None and upload["progress"] not in (None, shown[0]):
                shown[0] = upload["progress"]
                on_progress(*shown[0])
            return upload["result"] is not None or upload["failure"] is not None \
                or self.lost is not None

        def half_written() -> str:
            begun = upload["progress"] is not None and upload["progress"][0] in ("write",
                                                                                 "verify")
            return (" The board may hold a half-written sketch, which will not run: upload "
                    "again." if begun else "")

        try:
            self._to_page({"op": "upload", "id": upload["id"]},
                       [hex_text.encode("ascii", errors="replace")])
            if not self._wait(finished, timeout_s, watch=True):
                self._to_page({"op": "stop-upload", "id": upload["id"]}, [])
                raise WebUploadError(
                    f"the upload through {self.name} did not finish within {timeout_s:g} s: "
                    f"is the notebook's tab still open, with the board connected? Connect it "
                    f"again, then upload again.{half_written()}", "timeout")
        except KeyboardInterrupt:
            self._to_page({"op": "stop-upload", "id": upload["id"]}, [])
            raise
        except WebUploadError:
            raise
        except WebLinkError as exc:       # the page stopped answering (_watch_page)
            raise WebUploadError(f"{exc}, then upload again.{half_written()}",
                                 "timeout") from None
        finally:
            with self._lock:
                self._upload = None
                self._received.clear()
        if upload["result"] is not None:
            return upload["result"]
        if upload["failure"] is not None:
            reason, message = upload["failure"]
            raise WebUploadError(message, reason)
        raise WebUploadError(f"the page lost its port during the upload ({self.lost}): check "
                             f"the USB cable, connect the board again, then upload again."
                             f"{half_written()}", "interrupted")

    # ---------------------------------------------------------------- helpers

    def _to_page(self, content: dict, buffers: list) -> None:
        """A message for the page that holds the port (every tab of the notebook gets it; the
        others ignore it)."""
        self._send({**content, "page": self.holder}, buffers)

    def _not_connected(self) -> str:
        why = f" ({self.lost})" if self.lost else ""
        return (f"no board connected in the page for {self.name}{why}: click \"Connect a board\" "
                f"in the board link above and pick the board's port (Chrome, Edge or Opera; "
                f"Firefox and Safari have no Web Serial), or use the virtual Uno.")

    def _silent(self, seconds: float) -> str:
        return (f"the page stopped answering for {seconds:g} s: is the notebook's tab still "
                f"open, with the board connected? Reopen it and connect the board again")

    def _check(self) -> None:
        if self.lost is not None:
            self.is_open = False
            raise WebLinkError(f"the page lost the port ({self.lost}): plug the board back "
                               f"in and click \"Connect a board\" in the page again")
        if not self.is_open:
            raise WebLinkError(f"{self.name} is not open")

    def _watch_page(self, now: float) -> None:
        """Ping a page silent for :data:`PING_AFTER_S`; raise if a ping went unanswered for
        :data:`PAGE_SILENT_S`."""
        if self._ping_at is not None and now - self._ping_at >= PAGE_SILENT_S:
            self._ping_id = self._ping_at = None
            raise WebLinkError(self._silent(round(now - self._heard_at, 1)))
        if self._ping_at is None and now - self._heard_at >= PING_AFTER_S:
            self._next_id += 1
            self._ping_id, self._ping_at = self._next_id, now
            self._to_page({"op": "ping", "id": self._ping_id}, [])

    def _wait(self, done, timeout_s: float, watch: bool = False) -> bool:
        """Until ``done()`` or ``timeout_s``, handling the page's messages for the links;
        with ``watch``, a page that stopped answering raises :class:`WebLinkError`."""
        now = time.monotonic()
        deadline = now + max(0.0, timeout_s)
        if now - self._pumped_at > PUMP_GAP_S:     # messages may wait unread: start afresh
            self._heard_at, self._ping_id, self._ping_at = now, None, None
        pump = _KernelPump.get()
        try:
            while True:
                if done():
                    return True
                now = time.monotonic()
                remaining = deadline - now
                if watch:
                    self._watch_page(now)
                    step = min(remaining, PING_AFTER_S / 4)
                else:
                    step = remaining
                if pump is not None:
                    pump.run(max(0.0, step))
                elif step > 0:   # no kernel (a test feeding bytes from a thread)
                    with self._lock:
                        self._lock.wait(min(step, 0.05))
                if remaining <= 0:
                    return done()
        finally:
            self._pumped_at = time.monotonic()


def _text(value, limit: int = _MAX_TEXT) -> str:
    """A page's string, at most ``limit`` characters ("" for anything else)."""
    return value[:limit] if isinstance(value, str) else ""


def _count(value) -> int | None:
    """A page's non-negative integer (None for anything else)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def _number(value) -> float | None:
    """A page's finite non-negative number (None for anything else)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 <= value < 1e9 else None


def find_link(port: str, error=SerialError) -> WebSerialPort:
    """The link named ``port`` in this kernel (not opened); ``error`` if there is none."""
    link = _links.get(port)
    if link is None:
        raise error(f"no board link {port} in this kernel: show a tl.widgets.BoardLink() and "
                    f"use its .port (a link lives as long as its widget)")
    return link


def open_web_port(port: str, baudrate: int, *, write_timeout: float, timeout: float,
                  error=SerialError) -> WebSerialPort:
    """The link ``port`` names, opened (its board reset); ``error`` if there is none or the
    page holds no port. What :func:`tinylab.serial.ports.open_port` does for ``webserial:``."""
    link = find_link(port, error)
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

    This needs ipykernel 7 (pinned ``>=7,<8`` in pyproject.toml): its shell-channel thread and
    that socket are what :meth:`get` takes. Outside a kernel, or in a thread other than the
    kernel's main one, :meth:`get` is None (waits then only sleep on the lock). A kernel
    interrupt arrives as ``KeyboardInterrupt`` out of the socket's poll, as out of any wait.
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
        if thread is None:   # not ipykernel 7 (a kernel embedded some other way)
            return None
        socket = thread.manager._shell_channel_to_main.to_socket

        def replay(msg):   # handled as if it arrived when the running code returns
            kernel.io_loop.add_callback(kernel.shell_main, None, msg)

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
