"""The virtual Arduino Uno: the same firmware, run in simavr, behind a serial port.

Students without a board flash the *virtual* Uno in lesson ``08_deploy``. A small C harness
(``boards/simavr/harness.c``, built with the system C compiler on first use and cached) runs the
compiled ELF on simavr's ATmega328P at 16 MHz and exposes its UART as a pseudo-terminal
(``/dev/pts/N``). Host code opens it with pyserial exactly as it opens ``/dev/ttyACM0``::

    build = tl.build.compile_sketch("boards/sketches/echo")
    with tl.virtual.VirtualUno(build) as board:
        with serial.Serial(board.port, 115200, timeout=5) as port:
            banner = port.readline()            # b"# tinylab protocol=1 sketch=echo ...\\r\\n"
            port.write(b"hello\\n")
            port.readline()                     # b"hello\\r\\n"

Waiting for the banner, real or virtual
---------------------------------------
Opening a real Uno's port resets it (DTR): the bootloader runs for a moment, then the sketch
starts and prints its banner. pyserial discards whatever arrived before the port was open.
The virtual Uno does the same: its MCU is held in reset until the port is first opened, and
every later opening resets it again (the harness watches the pty with inotify, holds the
reset for 0.25 s while pyserial finishes opening and flushing, then lets the MCU run). So the
host does one thing for both boards: open the port, then read lines until the banner arrives
(allow a few seconds: a real Uno's bootloader waits up to ~1-2 s), and only then send.
Bytes sent before the banner may be lost on either board. With ``reset_on_open=False`` the
virtual MCU runs from power-on and never resets; its banner is then gone before the host can
open the port, so such a host must not wait for one.

Time and CPU
------------
simavr runs as fast as the host allows; the harness paces it to real time (``speed=1``): it
simulates 1 ms of AVR time, then sleeps until the wall clock catches up. A sketch that busy-polls
``Serial.available()`` costs about a quarter of one core here; one that sleeps when idle
(``sleep_mode()``, as the echo sketch does) about a tenth. ``speed=0`` runs flat out (a full
core), for benchmarks that count cycles rather than seconds.

Bootloader mode
---------------
``VirtualUno(bootloader=True)`` runs the Uno's own bootloader, Optiboot, at 0x7e00 and starts
it on every reset, with an application in flash (``firmware``) or none. Opening the port
resets the board into Optiboot, which waits about a second for an upload before it starts the
sketch, so the real ``avrdude -c arduino -P board.port`` (what :func:`tinylab.flash.upload`
runs) uploads to it exactly as to a real Uno, and the board then runs the new sketch.

Several boards can run at once, each on its own pty (use ``board.port``, never simavr's shared
``/tmp/simavr-uart0`` link). A firmware that crashes the simulated MCU ends the harness with a
reason on its stderr; :meth:`VirtualUno.check` and :meth:`VirtualUno.wait` turn that into a
:class:`VirtualBoardCrashed` carrying it.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import warnings
import weakref
from pathlib import Path

from . import boards
from .build import cache_dir
from .errors import TinyLabError

__all__ = ["VirtualUno", "VirtualBoardError", "VirtualBoardCrashed", "HarnessBuildError",
           "harness_path", "missing_tools", "HARNESS_SOURCE", "SIMAVR_APT_LINE"]

HARNESS_SOURCE = boards.BOARDS_DIR / "simavr" / "harness.c"
SIMAVR_APT_LINE = "sudo apt-get install -y simavr libsimavr-dev gcc"
_SIMAVR_INCLUDE = Path("/usr/include/simavr")
_COMPILE_FLAGS = ["-O2", "-std=gnu11", "-Wall", f"-I{_SIMAVR_INCLUDE}"]
# Tried in order: Debian's shared libsimavr pulls in libelf itself; static builds need -lelf.
_LINK_CHOICES = (["-lsimavr", "-lsimavrparts", "-lpthread", "-lutil"],
                 ["-lsimavr", "-lsimavrparts", "-lelf", "-lpthread", "-lutil"])

# The harness's exit statuses (see the top of harness.c) and what they mean for a student.
_EXIT_MEANINGS = {
    2: "the harness could not load the firmware",
    3: "the firmware crashed the simulated MCU",
    4: "the firmware halted the simulated MCU (it slept with interrupts disabled)",
    5: "the harness could not create a pseudo-terminal",
}


class VirtualBoardError(TinyLabError):
    """The virtual board could not start, or stopped unexpectedly."""

    def __init__(self, message: str, returncode: int | None = None, stderr: str = ""):
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class VirtualBoardCrashed(VirtualBoardError):
    """The firmware crashed or halted the simulated MCU (simavr cpu_Crashed / cpu_Done)."""


class HarnessBuildError(TinyLabError):
    """The simavr harness could not be compiled; the message says what to install."""


def missing_tools() -> list:
    """What this machine lacks to run the virtual Uno (empty when ready)."""
    missing = []
    if not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")):
        missing.append("a C compiler (gcc)")
    if not (_SIMAVR_INCLUDE / "sim_avr.h").is_file():
        missing.append(f"simavr headers ({_SIMAVR_INCLUDE}/sim_avr.h, package libsimavr-dev)")
    return missing


def harness_path(rebuild: bool = False) -> Path:
    """The compiled harness, built on first use and cached by the hash of its source.

    It lives in ``<cache>/simavr-harness/<hash>/tinylab-harness`` (see
    :func:`tinylab.build.cache_dir`); a changed ``harness.c`` gets a fresh build.
    """
    missing = missing_tools()
    if missing:
        raise HarnessBuildError(f"the virtual Uno needs {' and '.join(missing)}; install them "
                                f"with:\n  {SIMAVR_APT_LINE}")
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    source = HARNESS_SOURCE.read_bytes()
    key = hashlib.sha256(source + json.dumps([compiler, _COMPILE_FLAGS, _LINK_CHOICES]).encode())
    target = cache_dir() / "simavr-harness" / key.hexdigest()[:16] / "tinylab-harness"
    if target.is_file() and os.access(target, os.X_OK) and not rebuild:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.tmp{os.getpid()}")
    errors = []
    for libraries in _LINK_CHOICES:
        command = [compiler, *_COMPILE_FLAGS, "-o", str(partial), str(HARNESS_SOURCE), *libraries]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode == 0:
            os.replace(partial, target)   # atomic: concurrent first uses each get a whole file
            return target
        errors.append(f"$ {' '.join(command)}\n{done.stderr.strip()}")
    partial.unlink(missing_ok=True)
    raise HarnessBuildError("could not build the virtual Uno's simavr harness. Is simavr's "
                            f"development package installed? ({SIMAVR_APT_LINE})\n"
                            + "\n".join(errors[-1:]))


def _dying(pid: int) -> bool:
    """The process has been killed but cannot be reaped yet (Linux's zombie group leader).

    simavr's UART runs in a thread of its own. When the harness is killed, its main thread
    shows as a zombie at once, but waitpid() (so Popen.poll()) sees the exit only after every
    other thread has ended too: in between, poll() says "running" about a dead board.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False          # no /proc (macOS), or gone already: poll() tells


def _stop_process(process: subprocess.Popen, timeout_s: float) -> None:
    """SIGTERM, wait, SIGKILL if needed, and reap (no zombie)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


class VirtualUno:
    """An Arduino Uno simulated by simavr, its serial port a pty at :attr:`port`.

    Parameters
    ----------
    firmware : str, Path, tinylab.build.BuildResult or None
        The compiled sketch (an AVR ELF file, e.g. ``compile_sketch(...).elf_path``); with a
        bootloader, the application already in flash (None: an empty flash).
    speed : float
        Simulated time per real time: 1.0 = a real 16 MHz Uno; 0 = as fast as the host can
        (burns a core).
    reset_on_open : bool
        Reset the MCU whenever a program opens the port, as a real Uno does (see the module
        docstring); False lets it run from power-on untouched.
    start_timeout_s : float
        How long to wait for the harness to report its port before giving up.
    bootloader : bool or path
        Bootloader mode: the Uno's Optiboot (True; see :mod:`tinylab._bootloader`) or another
        Intel HEX bootloader runs first after every reset, as on a real Uno. Opening the port
        resets the board into it, so ``avrdude -c arduino -P board.port`` (or
        :func:`tinylab.flash.upload`) uploads a sketch exactly as to ``/dev/ttyACM0``; when no
        upload comes, Optiboot starts the sketch after about a second (the banner then comes
        about 1.7 s after the port opens, as on a real Uno).

    Use it as a context manager (``with VirtualUno(elf) as board:``) or call :meth:`start`
    and :meth:`stop`. Introduced in lesson ``08_deploy``.
    """

    def __init__(self, firmware=None, *, speed: float = 1.0, reset_on_open: bool = True,
                 start_timeout_s: float = 10.0, bootloader=False):
        if bootloader is True:
            from ._bootloader import optiboot_hex

            bootloader = optiboot_hex()
        self.bootloader = Path(bootloader) if bootloader else None
        if self.bootloader is not None and not self.bootloader.is_file():
            raise ValueError(f"no bootloader at {self.bootloader}")
        elf_path = getattr(firmware, "elf_path", firmware)
        if elf_path is None and (firmware is not None or self.bootloader is None):
            raise ValueError("this build has no ELF file (it did not link); check_fits() says why"
                             if firmware is not None else "give the firmware to run (an ELF "
                             "file or a BuildResult), or bootloader=True for an empty Uno that "
                             "waits for an upload")
        self.elf_path = Path(elf_path) if elf_path is not None else None
        if self.elf_path is not None and not self.elf_path.is_file():
            raise ValueError(f"no firmware at {self.elf_path}; compile the sketch first "
                             f"(tinylab.build.compile_sketch)")
        if not speed >= 0:
            raise ValueError(f"speed must be >= 0 (1.0 = real time, 0 = flat out), got {speed!r}")
        self.speed = float(speed)
        self.reset_on_open = bool(reset_on_open)
        self.start_timeout_s = float(start_timeout_s)
        self.port: str | None = None
        self.info: dict = {}
        self._process: subprocess.Popen | None = None
        self._stderr_path: Path | None = None
        self._stderr_text = ""
        self._finalizer = None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> "VirtualUno":
        """Start the harness and wait until it reports its pty (at most ``start_timeout_s``)."""
        if self._process is not None:
            raise VirtualBoardError("this virtual board is already started; stop() it first")
        command = [str(harness_path()), "-w", "-s", repr(self.speed)]
        if not self.reset_on_open:
            command.append("-R")
        if self.bootloader is not None:
            command += ["-b", str(self.bootloader)]
        if self.elf_path is not None:
            command.append(str(self.elf_path))
        handle, stderr_name = tempfile.mkstemp(prefix="tinylab-uno-", suffix=".log")
        os.close(handle)
        self._stderr_path, self._stderr_text = Path(stderr_name), ""
        try:
            with open(self._stderr_path, "ab") as stderr:   # a file, not a pipe: never fills up
                self._process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                                 stdout=subprocess.PIPE, stderr=stderr,
                                                 start_new_session=True)
        except OSError:
            self._stderr_path.unlink(missing_ok=True)
            raise
        # Stop the harness if this object is forgotten; the harness also exits when our end
        # of its stdin closes, so even a killed Python leaves nothing behind.
        self._finalizer = weakref.finalize(self, _stop_process, self._process, 2.0)
        try:
            self.info = json.loads(self._read_report_line())
            self.port = self.info["pty"]
        except BaseException:
            self.stop()
            raise
        if self.reset_on_open and not self.info.get("reset_on_open", True):
            warnings.warn("the virtual Uno cannot watch its port here (no inotify), so it runs "
                          "from power-on and does not reset when the port is opened: its banner "
                          f"will be gone before the host reads it{self._stderr_tail(3)}",
                          RuntimeWarning, stacklevel=2)
        return self

    def _read_report_line(self) -> str:
        deadline = time.monotonic() + self.start_timeout_s
        stdout = self._process.stdout
        received = b""
        while b"\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise VirtualBoardError(f"the virtual Uno did not start within "
                                        f"{self.start_timeout_s:g} s{self._stderr_tail()}",
                                        self._process.poll(), self.stderr_text())
            ready, _, _ = select.select([stdout], [], [], min(remaining, 0.1))
            if not ready:
                continue
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:    # EOF: the harness exited before reporting its port
                returncode = self._process.wait(timeout=5)
                raise self._exit_error(returncode, starting=True)
            received += chunk
        return received.split(b"\n", 1)[0].decode()

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """Stop the simulation (SIGTERM, then SIGKILL after ``timeout_s``) and reap the harness.

        Returns the harness's exit status (0 = stopped cleanly; None if it never started).
        Never raises because the firmware had crashed: :meth:`check` is for that.
        """
        if self._process is None:
            return None
        _stop_process(self._process, timeout_s)
        if self._finalizer is not None:
            self._finalizer.detach()
        self._stderr_text = self.stderr_text()
        if self._stderr_path is not None:
            self._stderr_path.unlink(missing_ok=True)
            self._stderr_path = None
        return self._process.returncode

    def __enter__(self) -> "VirtualUno":
        return self.start() if self._process is None else self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- state ------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """Process id of the harness (None before :meth:`start`)."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return (self._process is not None and self._process.poll() is None
                and not _dying(self._process.pid))

    @property
    def returncode(self) -> int | None:
        """The harness's exit status once it has ended, else None."""
        return None if self._process is None else self._process.poll()

    def stderr_text(self) -> str:
        """What the harness (and simavr) wrote to stderr so far."""
        if self._stderr_path is not None and self._stderr_path.is_file():
            return self._stderr_path.read_text(errors="replace")
        return self._stderr_text

    def _stderr_tail(self, lines: int = 12) -> str:
        tail = "\n".join(self.stderr_text().strip().splitlines()[-lines:])
        return f"; the harness said:\n{tail}" if tail else ""

    def _exit_error(self, returncode: int, starting: bool = False) -> VirtualBoardError:
        if returncode in (3, 4):
            return VirtualBoardCrashed(f"{_EXIT_MEANINGS[returncode]}{self._stderr_tail()}",
                                       returncode, self.stderr_text())
        if returncode in _EXIT_MEANINGS:
            reason = _EXIT_MEANINGS[returncode]
        elif returncode < 0:
            reason = f"the harness was killed by signal {-returncode}"
        else:
            reason = f"the harness exited with status {returncode}"
        when = " while starting" if starting else ""
        return VirtualBoardError(f"the virtual Uno stopped{when}: {reason}{self._stderr_tail()}",
                                 returncode, self.stderr_text())

    def check(self) -> "VirtualUno":
        """Raise if the simulation has ended (a crash, a halt or a kill); else return ``self``.

        Call it when a serial read times out or pyserial reports the port gone: it turns
        "no answer" into the reason, with the harness's stderr.
        """
        if self._process is None:
            raise VirtualBoardError("this virtual board was never started; use start() or 'with'")
        returncode = self._process.poll()
        if returncode is None and _dying(self._process.pid):
            try:    # killed, its threads still ending: the exit status follows in moments
                returncode = self._process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                pass
        if returncode is None:
            return self
        raise self._exit_error(returncode)

    def wait(self, timeout_s: float | None = None) -> int:
        """Wait for the simulation to end; return 0 if it was stopped, raise if it crashed.

        Raises ``TimeoutError`` if it is still running after ``timeout_s`` seconds.
        """
        if self._process is None:
            raise VirtualBoardError("this virtual board was never started; use start() or 'with'")
        try:
            returncode = self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"the virtual Uno is still running after {timeout_s:g} s") from None
        if returncode != 0:
            raise self._exit_error(returncode)
        return returncode

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) the harness has used so far (Linux only)."""
        if not self.running:
            raise VirtualBoardError("the virtual Uno is not running")
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])    # utime, stime (fields 14 and 15 of stat)
        return ticks / os.sysconf("SC_CLK_TCK")

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self._process else "not started")
        firmware = str(self.elf_path) if self.elf_path is not None else None
        boot = ", bootloader" if self.bootloader is not None else ""
        return f"VirtualUno({firmware!r}{boot}, port={self.port!r}, {state})"
