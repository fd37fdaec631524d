"""The board server: one process that runs the boards for every kernel of the Voila apps.

Thirty visitors of the draw-a-digit app on one machine must not cost thirty virtual Unos
(issue 18). ``tinylab app`` starts this server beside Voila and puts the path of its Unix
socket in each kernel's environment (:data:`ENV`, ``TINYLAB_BOARD_SERVER``); a kernel that
finds it sends each drawing here (:class:`SharedBoardSession`) instead of starting a board of
its own. Without it, every kernel runs its own board, as before.

What the server runs
--------------------
- **Virtual Unos**: a small pool per firmware (``--boards K``, default 2), keyed by the
  content of the firmware (the SHA-256 of its ELF file) and the model hash its banner must
  carry. The first request for a firmware starts a board; a second one starts while the
  first is busy, up to K; then requests wait. Each board is a
  :class:`tinylab.session.BoardSession` with its open :class:`tinylab.device.Device`, so an
  answer is the board's own: its int8 scores and its cycle count.
- **Real boards**: a request that names a ``port`` is served by the one board on that port
  (one :class:`~tinylab.session.BoardSession` per port, uploaded to only when it does not
  greet with the model already), strictly one request at a time. A request with another
  firmware for the same port gets it uploaded first.

Requests for the same pool wait in one queue, first come first served, and a board serves
one request at a time. No wait is unbounded: a request waits in the queue at most its
``timeout_s``, the board's answer is bounded by the same ``timeout_s``
(:class:`~tinylab.device.Device`), starting a virtual Uno by its own limits (the harness's
10 s, the banner's 8 s), an upload by :func:`tinylab.flash.upload`'s. A virtual Uno that
crashed, stopped or went silent is stopped, the request it failed gets an error reply (the
board's own reason: "killed by signal 9", "did not answer within 5 s"), and the next request
starts a fresh one; a board found dead while idle is replaced before anyone uses it. A real
board is kept after a failed exchange (the Device gets back in step), closed when its port is
lost, and opened again by the next request.

Boards idle for ``--idle-s`` seconds (default :data:`IDLE_STOP_S`, 10 minutes; 0: never)
are stopped, so a lecture's boards do not run all night and a real board's port is free for
other programs; the next request starts one again (about a second). On SIGTERM or SIGINT the
server stops every board it started and removes its socket; with ``--exit-with-stdin``
(what :func:`start` passes) it does the same when its parent dies, and each virtual Uno's
harness also ends when the server does: no simavr is left behind.

The protocol
------------
JSON lines over the Unix socket: each request is one line (a JSON object, at most
:data:`MAX_REQUEST_BYTES`), each gets one reply line; a connection may carry several in turn.

Requests::

    {"op": "infer", "firmware": {...}, "model_hash": "1a2b3c4d", "port": null,
     "x": [-128, 3, ...], "timeout_s": 5.0}
    {"op": "open", "firmware": {...}, "model_hash": "1a2b3c4d", "port": null, "timeout_s": 5.0}
    {"op": "status"}

- ``firmware``: the :class:`tinylab.build.BuildResult` to run, as its fields
  (:func:`firmware_fields`: ``BuildResult.to_dict()`` without ``compiler_output``,
  ``flash_share`` and ``ram_share``). The server runs it only if its ELF file exists (and,
  for a port, its HEX file, which an upload needs) and it fits the board.
- ``model_hash``: the model the banner must name (``TL_MODEL_HASH``), or null.
- ``port``: null for a virtual Uno, or a real board's serial port (``/dev/ttyACM0``).
- ``x`` (``infer`` only): the model's int8 inputs, a list of integers in -128..127.
- ``timeout_s``: seconds to wait for a free board, and again for its answer (> 0, at most
  :data:`MAX_TIMEOUT_S`).

``open`` gets a board ready (starts one, or opens and uploads to the port) and answers its
banner: a panel calls it when it is built. ``status`` describes the server and its pools.

Replies::

    {"ok": true, "class": 7, "scores": [-12, 4, ...], "latency_us": 1836, "cycles": 29370,
     "stack_bytes": 164, "banner": {...}, "board": "virtual Uno 2", "boards": 2,
     "queued_ms": 3.1}
    {"ok": true, "banner": {...}, "board": "virtual Uno 1", "boards": 2}           (open)
    {"ok": true, "pid": 4242, "boards": 2, "idle_s": 600.0, "pools": [...]}        (status)
    {"ok": false, "error": {"kind": "VirtualBoardCrashed", "message": "..."}}

``scores`` are the board's int8 outputs, ``cycles`` and ``stack_bytes`` null when the board
does not measure them, ``banner`` the board's (:func:`tinylab.device.parse_banner`),
``boards`` the pool's size (1 for a port), ``queued_ms`` the time spent waiting for a board.
An error's ``kind`` is the name of a TinyLab error class (``VirtualBoardCrashed``,
``VirtualBoardError``, ``HarnessBuildError``, ``DeviceError``, ``BoardRejectedError``,
``BoardResetError``, ``NoBannerError``, ``ConnectionLostError``, ``SerialError``,
``FlashError``, ``BuildError``, ``BoardServerError``) or ``ValueError``/``TypeError`` (a
malformed request); the client raises that class with the message, so a panel words it as if
the board were its own. A malformed request gets an error reply and the server keeps serving.

Who may connect
---------------
The socket lives in a private folder (mode 0700, the user's own; :func:`start` makes one
with :func:`tempfile.mkdtemp`), so only the same user's kernels reach it; the server also
refuses a peer of another user (``SO_PEERCRED``).

>>> with start(boards=2) as server:                                         # doctest: +SKIP
...     os.environ.update(server.env)           # what `tinylab app` gives Voila's kernels
...     with SharedBoardSession(firmware, model_hash=mlp.model_hash) as session:
...         label, scores, latency_us = session.device().infer(x_int8)
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import socket as _socket
import socketserver
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from .errors import TinyLabError

__all__ = ["ENV", "DEFAULT_BOARDS", "IDLE_STOP_S", "MAX_REQUEST_BYTES", "MAX_TIMEOUT_S",
           "BoardServerError", "SharedBoardSession", "SharedDevice", "BoardServer", "start",
           "request", "firmware_fields", "serve", "main"]

#: The environment variable a kernel reads: the path of the board server's Unix socket.
ENV = "TINYLAB_BOARD_SERVER"
#: Virtual Unos per firmware. A warm board answers a drawing in about 60 ms, so two serve a
#: lecture hall of 30 drawing at once in about a second each; more boards cost CPU (a tenth
#: of a core each while idle) for shorter queues.
DEFAULT_BOARDS = 2
#: Seconds a board may stay idle before the server stops it (the next request starts one
#: again in about a second).
IDLE_STOP_S = 600.0
#: The longest request line the server reads (64 int8 inputs and a BuildResult take ~1.5 kB).
MAX_REQUEST_BYTES = 65536
#: The longest ``timeout_s`` a request may ask for.
MAX_TIMEOUT_S = 120.0
SOCKET_NAME = "boards.sock"
LOG_NAME = "board-server.log"

# Bounds the client allows the server beyond the request's own timeouts: starting a virtual
# Uno (the harness's 10 s, the banner's 8 s) or uploading to a port (flash.upload's 180 s).
_START_BOUND_S = 30.0
_UPLOAD_BOUND_S = 200.0
# A board retired after a failure is stopped with SIGTERM, and SIGKILL after this long (a
# stopped (SIGSTOP) process keeps SIGTERM pending, so it needs the kill).
_RETIRE_STOP_S = 1.0
# A connection that sends nothing for this long is closed (the client reconnects).
_CONNECTION_IDLE_S = 600.0
# On SIGTERM, busy boards get this long to finish their request before they are stopped.
_SHUTDOWN_GRACE_S = 10.0
_FIX = ("start the apps with `tinylab app` (it starts the board server), or unset "
        f"{ENV} to give each kernel its own virtual Uno")


class BoardServerError(TinyLabError):
    """The board server is not reachable, or could not serve a request in time.

    The message says which; the hint names the fix (``tinylab app``, or unset
    ``TINYLAB_BOARD_SERVER``) when the server is not there.
    """


# ----------------------------------------------------------------------------- firmware

_PATH_FIELDS = ("sketch_dir", "build_dir", "elf_path", "hex_path")
_LEFT_OUT = ("compiler_output", "flash_share", "ram_share")


def firmware_fields(firmware) -> dict:
    """A :class:`tinylab.build.BuildResult` as the plain fields a request carries.

    ``BuildResult.to_dict()`` (paths as strings) without ``compiler_output`` (long, and not
    needed to run it) and the derived ``flash_share`` and ``ram_share``.
    """
    from .build import BuildResult

    if not isinstance(firmware, BuildResult):
        raise TypeError(f"firmware must be a tinylab.build.BuildResult (tl.build.compile_sketch, "
                        f"tl.deploy.build_firmware), got {type(firmware).__name__}")
    return {key: value for key, value in firmware.to_dict().items() if key not in _LEFT_OUT}


def _firmware_from_fields(fields, port):
    """The BuildResult a request names, checked: its files exist and it fits the board."""
    from .build import BuildResult, check_fits

    if not isinstance(fields, dict):
        raise ValueError("'firmware' must be an object holding a BuildResult's fields "
                         "(tinylab.board_server.firmware_fields(build))")
    known = {field.name: field for field in dataclasses.fields(BuildResult)}
    needed = [name for name, field in known.items() if field.default is dataclasses.MISSING
              and field.default_factory is dataclasses.MISSING]
    missing = [name for name in needed if name not in fields]
    if missing:
        raise ValueError(f"'firmware' lacks the BuildResult fields {missing}")
    values = {name: fields[name] for name in known if name in fields}
    for name in _PATH_FIELDS:
        if values.get(name) is not None:
            if not isinstance(values[name], str):
                raise ValueError(f"firmware field {name!r} must be a path (a string)")
            values[name] = Path(values[name])
    firmware = BuildResult(**values)
    if firmware.elf_path is None or not firmware.elf_path.is_file():
        raise ValueError(f"no firmware at {firmware.elf_path}: the board server runs only a "
                         f"firmware whose files exist; compile the sketch first "
                         f"(tinylab.build.compile_sketch)")
    if port is not None and (firmware.hex_path is None or not firmware.hex_path.is_file()):
        raise ValueError(f"no HEX file at {firmware.hex_path}: a real board needs it for the "
                         f"upload; compile the sketch again")
    return check_fits(firmware)


_digests: dict = {}


def _elf_digest(path: Path) -> str:
    """The SHA-256 of an ELF file, cached by path, size and modification time."""
    info = path.stat()
    key = (str(path), info.st_size, info.st_mtime_ns)
    if key not in _digests:
        _digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return _digests[key]


# ----------------------------------------------------------------------------- the errors on the wire

def _error_kinds() -> dict:
    """Error class name -> class, for the kinds a reply may carry (most specific first)."""
    from . import build, device, flash, virtual
    from .serial import errors as serial_errors

    classes = (virtual.VirtualBoardCrashed, virtual.VirtualBoardError, virtual.HarnessBuildError,
               device.BoardRejectedError, device.BoardResetError, device.DeviceError,
               serial_errors.NoBannerError, serial_errors.ConnectionLostError,
               serial_errors.SerialError, flash.FlashError, build.BuildError, BoardServerError,
               ValueError, TypeError)
    return {cls.__name__: cls for cls in classes}


def _error_reply(error: BaseException) -> dict:
    kinds = _error_kinds()
    kind = next((cls.__name__ for cls in type(error).__mro__ if cls.__name__ in kinds), None)
    message = str(error)
    if kind is None:  # a bug of the server: say so, and keep serving
        kind = "BoardServerError"
        message = (f"the board server failed on this request ({type(error).__name__}: {error}); "
                   f"its log has the details")
    return {"ok": False, "error": {"kind": kind, "message": message}}


def _raise_error_reply(error: dict):
    """Raise the exception an error reply describes, as the class it names."""
    kinds = _error_kinds()
    kind = error.get("kind") if isinstance(error, dict) else None
    message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
    cls = kinds.get(kind, BoardServerError)
    try:
        raised = cls(message)
    except TypeError:  # a class whose constructor needs more: keep the kind and the words
        raised = BoardServerError(f"{kind}: {message}")
    raise raised


# ----------------------------------------------------------------------------- the client

def request(message: dict, *, socket=None, timeout_s: float = 10.0) -> dict:
    """Send one request to the board server and return its reply, an error reply included.

    Parameters
    ----------
    message : dict
        A request (see the module docstring).
    socket : str or Path, optional
        The server's socket; default ``$TINYLAB_BOARD_SERVER``.
    timeout_s : float
        Seconds to wait for the reply.

    Raises
    ------
    BoardServerError
        No server at the socket, or no reply within ``timeout_s``; the message says which and
        the hint what to do.
    """
    path = socket if socket is not None else os.environ.get(ENV)
    if not path:
        raise BoardServerError(f"no board server is set ({ENV} is empty)", hint=_FIX)
    line = (json.dumps(message) + "\n").encode()
    deadline = time.monotonic() + timeout_s
    with _connect(path, deadline) as connection:
        received = b""
        try:
            connection.sendall(line)
            while not received.endswith(b"\n"):
                connection.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = connection.recv(65536)
                if not chunk:
                    raise BoardServerError(
                        f"the board server at {path} closed the connection without answering "
                        f"(it stopped?)", hint="restart the apps with `tinylab app`")
                received += chunk
        except TimeoutError:
            raise BoardServerError(f"the board server at {path} did not answer within "
                                   f"{timeout_s:g} s", hint="restart the apps with `tinylab app`"
                                   ) from None
        except OSError as error:
            raise BoardServerError(f"the connection to the board server at {path} broke: "
                                   f"{error}", hint="restart the apps with `tinylab app`") from None
    try:
        reply = json.loads(received)
    except ValueError:
        raise BoardServerError(f"the board server at {path} answered something that is not "
                               f"JSON: {received[:120]!r}") from None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise BoardServerError(f"the board server at {path} answered without 'ok': {reply!r:.120}")
    return reply


def _connect(path, deadline: float):
    """A socket connected to the server at ``path``, or BoardServerError naming the fix."""
    while True:
        connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        connection.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            connection.connect(str(path))
            return connection
        except BlockingIOError:      # the server's backlog is full: it is busy accepting
            connection.close()
            if time.monotonic() > deadline:
                raise BoardServerError(f"the board server at {path} did not accept the "
                                       f"connection in time",
                                       hint="restart the apps with `tinylab app`") from None
            time.sleep(0.01)
        except (FileNotFoundError, ConnectionRefusedError, PermissionError) as error:
            connection.close()
            reason = {FileNotFoundError: "there is no socket",
                      ConnectionRefusedError: "nobody listens on the socket",
                      PermissionError: "the socket is not yours"}[type(error)]
            raise BoardServerError(f"no board server answers at {path} ({reason})",
                                   hint=_FIX) from None
        except OSError as error:
            connection.close()
            raise BoardServerError(f"cannot reach the board server at {path}: {error}",
                                   hint=_FIX) from None


class SharedBoardSession:
    """A firmware on one of the board server's boards: a :class:`tinylab.session.BoardSession`
    for a kernel that runs no board itself.

    The same interface as ``BoardSession`` where a panel uses it (:meth:`open`,
    :meth:`device`, :attr:`link`, :attr:`requested_port`, :attr:`running`, :meth:`close`);
    :attr:`board` is always None (this kernel runs no virtual Uno).

    Parameters
    ----------
    firmware : tinylab.build.BuildResult
        What should run (it must fit the board: :func:`tinylab.build.check_fits`).
    port : str, optional
        A real board's serial port on the server's machine; None: one of the server's
        virtual Unos.
    model_hash : str, optional
        The model the board's banner must name.
    timeout : float
        Seconds to wait for a free board, and again for its answer to one input.
    socket : str or Path, optional
        The server's socket; default ``$TINYLAB_BOARD_SERVER``.

    Attributes
    ----------
    banner : dict
        The board's banner, once :meth:`open` answered.
    boards : int or None
        How many boards serve this firmware on the server (1 for a port).
    """

    board = None  # this kernel runs no board: the server does
    port = None   # nor does it open a port

    def __init__(self, firmware, port: str | None = None, *, model_hash: str | None = None,
                 timeout: float = 5.0, socket=None):
        from .build import check_fits

        if firmware is None:
            raise ValueError("the board server runs a firmware: give the BuildResult "
                             "(tinylab.build.compile_sketch) to run")
        if not (isinstance(timeout, (int, float)) and 0 < timeout <= MAX_TIMEOUT_S):
            raise ValueError(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT_S:g}], "
                             f"got {timeout!r}")
        self.firmware = check_fits(firmware)
        self.requested_port, self.model_hash = port, model_hash
        self.timeout = float(timeout)
        self.socket = socket if socket is not None else os.environ.get(ENV)
        if not self.socket:
            raise BoardServerError(f"no board server is set ({ENV} is empty)", hint=_FIX)
        self.banner: dict = {}
        self.boards: int | None = None
        self.board_name: str | None = None
        self._fields = firmware_fields(self.firmware)
        self._opened = False
        self._device: SharedDevice | None = None

    @property
    def virtual(self) -> bool:
        """True when the firmware runs on the server's virtual Unos."""
        return self.requested_port is None

    @property
    def running(self) -> bool:
        """The server answered :meth:`open` (and this session was not closed since)."""
        return self._opened

    def _ask(self, message: dict) -> dict:
        """One request for this session's board; an error reply is raised as its class."""
        message = {"firmware": self._fields, "model_hash": self.model_hash,
                   "port": self.requested_port, "timeout_s": self.timeout, **message}
        start = _UPLOAD_BOUND_S if self.requested_port is not None else _START_BOUND_S
        reply = request(message, socket=self.socket, timeout_s=3 * self.timeout + start + 5)
        if not reply["ok"]:
            _raise_error_reply(reply.get("error"))
        return reply

    def open(self) -> "SharedBoardSession":
        """Get a board ready on the server (start one, or upload to the port if needed) and
        keep its banner."""
        reply = self._ask({"op": "open"})
        self.banner, self.boards = reply["banner"], reply.get("boards")
        self.board_name = reply.get("board")
        self._opened = True
        return self

    def ensure_running(self) -> "SharedBoardSession":
        """Open if not open (the server replaces a board that ended by itself)."""
        return self if self._opened else self.open()

    def check(self) -> "SharedBoardSession":
        """Nothing to check here: the server reports a board's end in its error reply."""
        return self

    @property
    def link(self) -> "SharedDevice | None":
        """The inference link if one is open (:meth:`device` opens one), else None."""
        return self._device if self._device is not None and self._device.is_open else None

    def device(self) -> "SharedDevice":
        """The inference link (:class:`SharedDevice`), opened on first use."""
        if self._device is not None and self._device.is_open and self._opened:
            return self._device
        if not self._opened:
            self.open()
        self._device = SharedDevice(self)
        return self._device

    def close(self) -> None:
        """Close the link (safe twice). The server's boards keep running for others."""
        if self._device is not None:
            self._device.close()
        self._device, self._opened = None, False

    def __enter__(self) -> "SharedBoardSession":
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "a shared virtual Uno" if self.virtual else self.requested_port
        return (f"SharedBoardSession({where}, {'open' if self._opened else 'closed'}, "
                f"socket={str(self.socket)!r})")


class SharedDevice:
    """The inference link of a :class:`SharedBoardSession`: :meth:`infer` as
    :class:`tinylab.device.Device` has it, each input sent to the board server.

    Attributes
    ----------
    banner : dict
        The board's banner.
    last_cycles, last_stack_bytes : int or None
        Measured by the board during the last :meth:`infer` (None if it does not measure).
    last_board : str or None
        Which of the server's boards answered last (``"virtual Uno 2"``, a port).
    last_queued_ms : float or None
        How long the last input waited on the server for a free board.
    """

    def __init__(self, session: SharedBoardSession):
        self._session = session
        self.banner = dict(session.banner)
        self.port = session.requested_port or "the board server's virtual Unos"
        self.timeout = session.timeout
        self.last_cycles: int | None = None
        self.last_stack_bytes: int | None = None
        self.last_board: str | None = session.board_name
        self.last_queued_ms: float | None = None
        self._open = True

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def n_inputs(self) -> int:
        return int(self.banner["inputs"])

    @property
    def n_outputs(self) -> int:
        return int(self.banner["outputs"])

    def infer(self, x):
        """Run the board's model on one int8 vector, on the server's board.

        Parameters
        ----------
        x : array-like of int, shape (inputs,)
            Values in -128..127 (the model's quantized input).

        Returns
        -------
        label : int
        scores : ndarray, shape (outputs,), int8
            The board's int8 outputs, as it computed them.
        latency_us : int
            ``micros()`` around the model call, measured on the board.

        The board's cycles and stack peak are left in ``last_cycles`` and
        ``last_stack_bytes``, as :meth:`tinylab.device.Device.infer` does.
        """
        from .device import DeviceError, check_input

        if not self._open:
            raise DeviceError("this shared board's link is closed: open a new one "
                              "(SharedBoardSession.device())")
        x = check_input(x, self.n_inputs)
        reply = self._session._ask({"op": "infer", "x": [int(v) for v in x]})
        scores = reply.get("scores")
        if not (isinstance(scores, list) and len(scores) == self.n_outputs
                and all(isinstance(s, int) and -128 <= s <= 127 for s in scores)
                and isinstance(reply.get("class"), int)):
            raise DeviceError(f"the board server's answer is garbled: {reply!r:.200}")
        self.banner = reply.get("banner") or self.banner
        self.last_cycles, self.last_stack_bytes = reply.get("cycles"), reply.get("stack_bytes")
        self.last_board, self.last_queued_ms = reply.get("board"), reply.get("queued_ms")
        return reply["class"], np.array(scores, dtype=np.int8), int(reply["latency_us"])

    def close(self) -> None:
        self._open = False

    def __repr__(self) -> str:
        return f"SharedDevice({self.port!r}, {'open' if self._open else 'closed'})"


# ----------------------------------------------------------------------------- the server's boards

def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} board server: {message}", file=sys.stderr, flush=True)


class _Board:
    """One board the server runs: its BoardSession, its open Device, the firmware it runs."""

    def __init__(self, session, firmware_key, name: str):
        self.session, self.firmware_key, self.name = session, firmware_key, name
        self.device = session.device()
        self.last_used = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.session.board.pid if self.session.board is not None else None

    def alive(self) -> bool:
        if self.session.virtual:
            return self.session.running and self.device.is_open
        return self.device.is_open

    def keeps_after(self, error: BaseException) -> bool:
        """Whether the board may serve again after ``error`` (else it is retired)."""
        from .device import BoardRejectedError
        from .serial.errors import ConnectionLostError

        if isinstance(error, BoardRejectedError):
            return True               # it answered "!": alive and in step
        if self.session.virtual:
            return False              # crashed, stopped or silent: a fresh one serves better
        return not isinstance(error, ConnectionLostError)   # a real board gets back in step

    def reason(self, error: BaseException) -> BaseException:
        """The virtual Uno's own reason if it has ended (a crash, a kill), else ``error``."""
        from .virtual import VirtualBoardError

        board = self.session.board
        if board is None:
            return error
        for _ in range(10):           # a killed harness may take a moment to be seen ended
            try:
                board.check()
            except VirtualBoardError as ended:
                return ended
            time.sleep(0.02)
        return error

    def close(self) -> None:
        if self.session.board is not None:
            self.session.board.stop(timeout_s=_RETIRE_STOP_S)
        self.session.close()


class _Pool:
    """Up to ``capacity`` boards for one key, handed out first come first served.

    Boards start on demand: the first request of an empty pool starts one and waits for it
    (so a board that cannot start tells that request why); a request that finds every board
    busy starts one more in the background, up to ``capacity``, and takes whichever board
    comes free first.
    """

    def __init__(self, key: tuple, capacity: int, about: dict):
        self.key, self.capacity, self.about = key, capacity, about
        self._changed = threading.Condition()
        self._idle: collections.deque = collections.deque()   # round robin: all stay warm
        self._waiting: collections.deque = collections.deque()
        self._boards: set = set()
        self._count = 0            # boards running or starting (their slots)
        self._starting = 0         # boards starting in the background
        self._busy = 0
        self._closing = False
        self.started = self.retired = self.most_busy = 0

    def acquire(self, deadline: float, firmware_key, start, wait_s: float) -> _Board:
        """A board for one request (``start()`` makes one when one must start).

        Raises BoardServerError when none is free by ``deadline`` (time.monotonic(): the
        request's ``wait_s`` after it arrived).
        """
        ticket, stale = object(), []
        try:
            with self._changed:
                self._waiting.append(ticket)
                try:
                    while True:
                        if self._closing:
                            raise BoardServerError("the board server is stopping",
                                                   hint="restart the apps with `tinylab app`")
                        if self._waiting[0] is ticket:
                            while self._idle:
                                board = self._idle.popleft()
                                if board.alive() and board.firmware_key == firmware_key:
                                    return self._hand_out(board)
                                stale.append(board)     # ended while idle, or another firmware
                                self._count -= 1
                            if self._count == 0:
                                self._count += 1        # started below, for this request
                                break
                            if self._count < self.capacity and not self._starting:
                                self._count += 1
                                self._starting += 1
                                threading.Thread(target=self._start_spare, args=(start,),
                                                 name="board-start", daemon=True).start()
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            what = (f"the board on {self.about['port']}" if self.about["port"]
                                    else f"all {self.capacity} shared virtual Unos")
                            raise BoardServerError(
                                f"{what} stayed busy with other visitors' requests for the "
                                f"{wait_s:g} s this one may wait", hint="try again in a moment")
                        self._changed.wait(remaining)
                finally:
                    self._waiting.remove(ticket)
                    self._changed.notify_all()
        finally:
            for board in stale:
                self._forget(board, "ended while idle" if not board.alive()
                             else "gives way to another firmware")
        try:
            board = start()
        except BaseException:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()
            raise
        with self._changed:
            self._boards.add(board)
            self.started += 1
            return self._hand_out(board)

    def _hand_out(self, board: _Board) -> _Board:
        self._busy += 1
        self.most_busy = max(self.most_busy, self._busy)
        return board

    def _start_spare(self, start) -> None:
        """Start one more board in the background; it joins the idle ones (or says why not)."""
        try:
            board = start()
        except Exception as error:
            _log(f"one more board could not start: {error}")
            with self._changed:
                self._count -= 1
                self._starting -= 1
                self._changed.notify_all()
            return
        with self._changed:
            self._starting -= 1
            self._boards.add(board)
            self.started += 1
            if not self._closing:
                self._idle.append(board)
                self._changed.notify_all()
                return
        self._forget(board, "stops with the server")
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def _forget(self, board: _Board, why: str) -> None:
        _log(f"{board.name} {why}: stopping it")
        board.close()
        with self._changed:
            self._boards.discard(board)
            self.retired += 1

    def release(self, board: _Board, keep: bool) -> None:
        """Hand ``board`` back after a request; ``keep=False`` stops it (its slot frees)."""
        with self._changed:
            self._busy -= 1
            board.last_used = time.monotonic()
            if keep and not self._closing:
                self._idle.append(board)
                self._changed.notify_all()
                return
        self._forget(board, "failed a request" if not keep else "is not needed any more")
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def stop_idle(self, idle_s: float) -> None:
        """Stop the boards idle for longer than ``idle_s`` seconds."""
        now = time.monotonic()
        with self._changed:
            old = [board for board in self._idle if now - board.last_used > idle_s]
            for board in old:
                self._idle.remove(board)
        for board in old:
            self._forget(board, f"was idle for {idle_s:g} s")
            with self._changed:
                self._count -= 1
                self._changed.notify_all()

    def close(self, grace_s: float) -> None:
        """Stop every board: the idle ones now, the busy ones once their request ends (or
        after ``grace_s``)."""
        with self._changed:
            self._closing = True
            idle, self._idle = list(self._idle), collections.deque()
            self._changed.notify_all()
        for board in idle:
            self._forget(board, "stops with the server")
            with self._changed:
                self._count -= 1
        deadline = time.monotonic() + grace_s
        with self._changed:
            while self._count > 0 and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            left = list(self._boards)
        for board in left:       # still busy after the grace: stopped under its request
            self._forget(board, "stops with the server (still busy)")

    def status(self) -> dict:
        with self._changed:
            return {**self.about, "capacity": self.capacity, "running": len(self._boards),
                    "idle": len(self._idle), "busy": self._busy, "waiting": len(self._waiting),
                    "started": self.started, "retired": self.retired,
                    "most_busy": self.most_busy,
                    "pids": sorted(board.pid for board in self._boards if board.pid)}


class _BoardServer:
    """What the server process holds: its pools, and how it answers one request."""

    def __init__(self, boards: int, idle_s: float):
        self.boards, self.idle_s = boards, idle_s
        self._pools: dict = {}
        self._lock = threading.Lock()
        self._names = 0

    def reply_to(self, line: bytes) -> dict:
        """The reply to one request line (an error reply for anything that went wrong)."""
        try:
            if len(line) > MAX_REQUEST_BYTES:
                raise ValueError(f"a request is one JSON line of at most {MAX_REQUEST_BYTES} "
                                 f"bytes")
            try:
                message = json.loads(line)
            except ValueError:
                raise ValueError(f"a request must be one JSON object per line, got "
                                 f"{line[:80]!r}") from None
            if not isinstance(message, dict):
                raise ValueError(f"a request must be a JSON object, got {type(message).__name__}")
            return self.handle(message)
        except Exception as error:  # every request gets a reply; the server keeps serving
            reply = _error_reply(error)
            if reply["error"]["message"].startswith("the board server failed"):
                _log("".join(traceback.format_exception(error)).rstrip())
            return reply

    def handle(self, message: dict) -> dict:
        from .serial.errors import SerialError
        from .virtual import VirtualBoardError

        op = message.get("op")
        if op == "status":
            return self.status()
        if op not in ("open", "infer"):
            raise ValueError(f"unknown op {op!r}: a request's 'op' is 'infer', 'open' or "
                             f"'status'")
        received = time.monotonic()
        timeout_s = message.get("timeout_s")
        if not (isinstance(timeout_s, (int, float)) and not isinstance(timeout_s, bool)
                and 0 < timeout_s <= MAX_TIMEOUT_S):
            raise ValueError(f"'timeout_s' must be a number of seconds in (0, "
                             f"{MAX_TIMEOUT_S:g}], got {timeout_s!r}")
        port = message.get("port")
        if port is not None and not (isinstance(port, str) and port and len(port) < 256):
            raise ValueError(f"'port' must be null (a virtual Uno) or a serial port's name, got "
                             f"{port!r}")
        model_hash = message.get("model_hash")
        if model_hash is not None and not (isinstance(model_hash, str) and len(model_hash) < 65):
            raise ValueError(f"'model_hash' must be null or the model's hash (8 hex digits), "
                             f"got {model_hash!r}")
        x = None
        if op == "infer":
            x = message.get("x")
            if not (isinstance(x, list) and 0 < len(x) <= 4096 and all(
                    isinstance(v, int) and not isinstance(v, bool) and -128 <= v <= 127
                    for v in x)):
                raise ValueError("'x' must be a list of the model's int8 inputs (integers in "
                                 "-128..127)")
            x = np.array(x, dtype=np.int8)
        firmware = _firmware_from_fields(message.get("firmware"), port)
        firmware_key = (_elf_digest(firmware.elf_path), model_hash)
        pool = self._pool(firmware_key, firmware, model_hash, port)
        board = pool.acquire(received + timeout_s, firmware_key,
                             lambda: self._start(firmware, firmware_key, model_hash, port,
                                                 timeout_s), timeout_s)
        queued_ms = (time.monotonic() - received) * 1000
        if port is not None:          # what the port's board runs now (for status)
            pool.about = {**pool.about, "firmware": str(firmware.elf_path),
                          "model_hash": model_hash}
        keep = False
        try:
            answer = {"ok": True, "banner": board.device.banner, "board": board.name,
                      "boards": pool.capacity}
            if op == "open":
                keep = True
                return answer
            board.device.timeout = float(timeout_s)
            try:
                label, scores, latency_us = board.device.infer(x)
            except (ValueError, TypeError):
                keep = True
                raise
            except (SerialError, VirtualBoardError) as error:
                keep = board.keeps_after(error)
                raise board.reason(error) from None
            keep = True
            return {**answer, "class": int(label), "scores": [int(s) for s in scores],
                    "latency_us": int(latency_us), "cycles": board.device.last_cycles,
                    "stack_bytes": board.device.last_stack_bytes,
                    "queued_ms": round(queued_ms, 2)}
        finally:
            pool.release(board, keep)

    def _pool(self, firmware_key, firmware, model_hash, port) -> _Pool:
        key = ("port", port) if port is not None else ("virtual",) + firmware_key
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                about = {"port": port, "firmware": str(firmware.elf_path),
                         "model_hash": model_hash}
                pool = self._pools[key] = _Pool(key, 1 if port is not None else self.boards,
                                                about)
        return pool

    def _start(self, firmware, firmware_key, model_hash, port, timeout_s) -> _Board:
        from .session import BoardSession

        with self._lock:
            self._names += 1
            name = port if port is not None else f"virtual Uno {self._names}"
        started = time.monotonic()
        session = BoardSession(firmware, port, model_hash=model_hash, timeout=timeout_s,
                               on_upload=lambda where: _log(f"uploading {firmware.sketch} to "
                                                            f"{where}"))
        try:
            board = _Board(session.open(), firmware_key, name)
        except BaseException:
            session.close()
            raise
        what = f"pid {board.pid}, {board.session.port}" if port is None else "opened"
        _log(f"{name} ready in {time.monotonic() - started:.2f} s ({what}; {firmware.elf_path})")
        return board

    def pools(self) -> list:
        with self._lock:
            return list(self._pools.values())

    def status(self) -> dict:
        return {"ok": True, "pid": os.getpid(), "boards": self.boards, "idle_s": self.idle_s,
                "pools": [pool.status() for pool in self.pools()]}

    def stop_idle(self) -> None:
        for pool in self.pools():
            pool.stop_idle(self.idle_s)

    def close(self) -> None:
        for pool in self.pools():
            pool.close(_SHUTDOWN_GRACE_S)


class _Handler(socketserver.StreamRequestHandler):
    """One connection: request lines in, reply lines out."""

    timeout = _CONNECTION_IDLE_S

    def handle(self) -> None:
        if not _same_user(self.connection):
            return
        while True:
            try:
                line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
            except OSError:       # idle too long, or the client went away
                return
            if not line.strip():
                if not line:
                    return
                continue
            reply = self.server.board_server.reply_to(line)
            try:
                self.wfile.write((json.dumps(reply) + "\n").encode())
            except OSError:
                return
            if len(line) > MAX_REQUEST_BYTES:   # the rest of that line is noise: hang up
                return


def _same_user(connection) -> bool:
    """The peer runs as this user (Linux's SO_PEERCRED; elsewhere the folder's mode decides)."""
    if not hasattr(_socket, "SO_PEERCRED"):
        return True
    credentials = connection.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED,
                                        struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", credentials)
    return uid == os.getuid()


class _UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128    # a lecture hall's kernels connect at once (the default is 5)


def _private_directory(directory: Path) -> Path:
    """``directory``, made with mode 0700 if missing; a ValueError unless it is private."""
    directory = Path(directory)
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
    info = directory.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{directory} is not a folder: give the board server's socket a path "
                         f"in a private folder")
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ValueError(f"the board server's socket must be in a private folder (yours, mode "
                         f"0700) so that only your kernels reach it, but {directory} is mode "
                         f"{stat.S_IMODE(info.st_mode):o}: run `chmod 700 {directory}`, or "
                         f"choose another folder")
    return directory


def _check_socket_path(socket_path: Path) -> Path:
    socket_path = Path(socket_path).absolute()
    if len(os.fsencode(socket_path)) > 100:   # sockaddr_un holds 108 bytes on Linux, 104 on macOS
        raise ValueError(f"the socket path {socket_path} is too long for a Unix socket (at most "
                         f"100 bytes): choose a shorter one, e.g. under /tmp")
    _private_directory(socket_path.parent)
    if socket_path.exists() or socket_path.is_symlink():
        if not stat.S_ISSOCK(socket_path.lstat().st_mode):
            raise ValueError(f"{socket_path} exists and is not a socket: choose another path")
        try:
            request({"op": "status"}, socket=socket_path, timeout_s=2.0)
        except BoardServerError:
            socket_path.unlink()           # left by a server that was killed
        else:
            raise BoardServerError(f"a board server already answers at {socket_path}",
                                   hint="use it, or stop it first")
    return socket_path


def serve(socket_path, boards: int = DEFAULT_BOARDS, *, idle_s: float = IDLE_STOP_S,
          exit_with_stdin: bool = False) -> None:
    """Run the board server on ``socket_path`` until SIGTERM or SIGINT (in the main thread).

    Parameters
    ----------
    socket_path : str or Path
        Where to listen; its folder must be private (made with mode 0700 if missing).
    boards : int
        Virtual Unos per firmware (a real board's port is always served by its one board).
    idle_s : float
        Stop a board idle this many seconds (0: never).
    exit_with_stdin : bool
        Also stop when standard input closes (the parent that started the server ended).
    """
    if not (isinstance(boards, int) and boards >= 1):
        raise ValueError(f"boards must be an integer >= 1, got {boards!r}")
    if not idle_s >= 0:
        raise ValueError(f"idle_s must be >= 0 seconds (0: never stop idle boards), got {idle_s!r}")
    socket_path = _check_socket_path(Path(socket_path))
    board_server = _BoardServer(boards, float(idle_s))
    old_umask = os.umask(0o077)
    try:
        listener = _UnixServer(str(socket_path), _Handler)
    finally:
        os.umask(old_umask)
    listener.board_server = board_server
    stopped, why = threading.Event(), []

    def stop(reason: str) -> None:
        """Leave serve_forever (from another thread: shutdown() waits for it to return)."""
        if not why:
            why.append(reason)
            threading.Thread(target=listener.shutdown, name="shutdown", daemon=True).start()

    previous = {signum: signal.signal(signum, lambda signum, _: stop(signal.Signals(signum).name))
                for signum in (signal.SIGTERM, signal.SIGINT)}
    if exit_with_stdin:
        def watch_stdin():
            try:
                while os.read(sys.stdin.fileno(), 4096):
                    pass
            except OSError:
                pass
            stop("standard input closed (the parent ended)")

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    if idle_s:
        def stop_idle_boards():
            while not stopped.wait(min(60.0, max(idle_s / 4, 1.0))):
                board_server.stop_idle()

        threading.Thread(target=stop_idle_boards, name="idle-boards", daemon=True).start()
    _log(f"listening on {socket_path} (pid {os.getpid()}, {boards} virtual Unos per firmware, "
         f"idle boards stopped after {idle_s:g} s)")
    try:
        listener.serve_forever(poll_interval=0.5)
    finally:
        stopped.set()
        _log(f"{why[0] if why else 'the server ended'}: stopping the boards")
        listener.server_close()
        socket_path.unlink(missing_ok=True)
        board_server.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _log("stopped")


def main(argv=None) -> int:
    """``python -m tinylab.board_server --socket PATH [--boards K] [--idle-s S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tinylab.board_server",
        description="Serve inference requests of the Voila apps' kernels on a few shared boards "
                    f"(the kernels find the socket in ${ENV}). Stop with SIGTERM or Ctrl-C.")
    parser.add_argument("--socket", required=True, type=Path,
                        help="the Unix socket to listen on, in a private folder (mode 0700)")
    parser.add_argument("--boards", type=int, default=DEFAULT_BOARDS,
                        help=f"virtual Unos per firmware (default {DEFAULT_BOARDS})")
    parser.add_argument("--idle-s", type=float, default=IDLE_STOP_S,
                        help=f"stop a board idle this many seconds (default {IDLE_STOP_S:g}; "
                             f"0: never)")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="also stop when standard input closes (the parent ended)")
    args = parser.parse_args(argv)
    try:
        serve(args.socket, args.boards, idle_s=args.idle_s, exit_with_stdin=args.exit_with_stdin)
    except (ValueError, TinyLabError) as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1
    return 0


# ----------------------------------------------------------------------------- starting it from Python

@dataclasses.dataclass
class BoardServer:
    """A board server started by :func:`start`; a context manager that stops it.

    Attributes
    ----------
    socket : Path
        Its Unix socket.
    process : subprocess.Popen
        The server process.
    boards : int
        Virtual Unos per firmware.
    directory : Path
        The private folder of the socket and the log.
    log_path : Path
        What the server printed (boards started, replaced, stopped; errors).
    """

    socket: Path
    process: subprocess.Popen
    boards: int
    directory: Path
    log_path: Path
    remove_directory: bool = False

    @property
    def env(self) -> dict:
        """What to add to the environment of Voila (its kernels inherit it)."""
        return {ENV: str(self.socket)}

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def status(self, timeout_s: float = 5.0) -> dict:
        """The server's ``status`` reply: its pid, and per pool its boards and their pids."""
        return request({"op": "status"}, socket=self.socket, timeout_s=timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM (the server stops its boards), SIGKILL after ``timeout_s``; safe twice.

        Returns the server's exit status.
        """
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.remove_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
        return self.process.returncode

    def __enter__(self) -> "BoardServer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start(directory=None, boards: int = DEFAULT_BOARDS, *, idle_s: float = IDLE_STOP_S,
          startup_timeout_s: float = 30.0, python: str = sys.executable) -> BoardServer:
    """Start a board server in the background and wait (bounded) until its socket answers.

    Parameters
    ----------
    directory : str or Path, optional
        A private folder for the socket and the log (made with mode 0700 if missing); default
        a fresh one from :func:`tempfile.mkdtemp`, removed by :meth:`BoardServer.stop`.
    boards : int
        Virtual Unos per firmware.
    idle_s : float
        Stop a board idle this many seconds (0: never).
    startup_timeout_s : float
        How long to wait for the socket to answer.
    python : str
        The Python that runs the server (default: this one).

    Returns
    -------
    BoardServer
        ``.socket``, ``.process``, ``.env`` (add it to Voila's environment), ``.stop()``.
        The server also stops when this Python ends (it watches its standard input).

    Raises
    ------
    BoardServerError
        When the server exits or does not answer within ``startup_timeout_s`` (its log
        attached).
    """
    if not (isinstance(boards, int) and boards >= 1):
        raise ValueError(f"boards must be an integer >= 1, got {boards!r}")
    made = directory is None
    directory = (Path(tempfile.mkdtemp(prefix="tinylab-boards-")) if made
                 else _private_directory(Path(directory)))
    socket_path = directory / SOCKET_NAME
    log_path = directory / LOG_NAME
    command = [python, "-m", "tinylab.board_server", "--socket", str(socket_path),
               "--boards", str(boards), "--idle-s", repr(float(idle_s)), "--exit-with-stdin"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = BoardServer(socket_path, process, boards, directory, log_path, made)
    deadline = time.monotonic() + startup_timeout_s
    while True:
        if process.poll() is not None:
            log_text = server.log()
            server.stop()
            raise BoardServerError(f"the board server exited with status {process.returncode}"
                                   f":\n{log_text[-2000:]}")
        try:
            server.status(timeout_s=2.0)
            return server
        except BoardServerError:
            if time.monotonic() > deadline:
                log_text = server.log()
                server.stop()
                raise BoardServerError(f"the board server did not answer on {socket_path} "
                                       f"within {startup_timeout_s:g} s:\n{log_text[-2000:]}"
                                       ) from None
            time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
