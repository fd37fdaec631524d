"""Find boards on serial ports and upload firmware to them (lesson 08).

Two ways of uploading, chosen by what is installed:

- ``arduino-cli upload -p PORT --fqbn FQBN --input-dir BUILD_DIR`` when arduino-cli is on PATH
  (every board; the only way here for the Nano 33 BLE Sense);
- ``avrdude -p atmega328p -c arduino -P PORT -b 115200 -D -U flash:w:FILE.hex:i`` otherwise, for
  AVR boards (the Uno's optiboot bootloader talks STK500 at 115200 baud).

Ports come from pyserial's ``serial.tools.list_ports`` and, when arduino-cli is installed, from
``arduino-cli board list --format json``, which also names the board on each port.

Uploads fail for a handful of reasons, each turned into a :class:`FlashError` whose ``reason``
is one of ``no-uploader, no-port, permission, busy, not-in-sync, wrong-chip, no-core, too-big,
bad-hex, interrupted, timeout, failed`` (and, through the browser, ``verify-mismatch,
browser-upload``) and whose message says what to do. Some are found before
the uploader runs, so nothing is written: a .hex that is corrupt or does not fit the board's
sketch area, a port another program holds. The port is held (``flock``, as pyserial's
exclusive mode and so every tinylab Device does) for the whole upload.

A third way needs no tool on the kernel's computer: a ``webserial:`` port (a board plugged into
the student's own computer, reached through the browser by :class:`tinylab.widgets.BoardLink`,
issue 20). The kernel checks the .hex as for avrdude and sends it; the page uploads it with
the STK500 programmer ``tinylab/widgets/_stk500.js`` (what ``avrdude -c arduino`` does), Uno
only. Its failures map to the same reasons, plus ``verify-mismatch`` (the flash read back
differs) and ``browser-upload`` (a board the browser cannot upload to).

The virtual Uno in bootloader mode (``tinylab.virtual.VirtualUno(bootloader=True)``) runs the
Uno's real Optiboot behind a pty, so the avrdude route is tested for real against it
(tests/test_upload_virtual.py), and the browser's through a real Chromium
(tests/test_board_link.py); the arduino-cli route and the Nano 33 BLE's are tested against
fake tools (tests/fakes/).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from . import boards
from .errors import TinyLabError
from .serial import web
from .serial.ports import DIALOUT_FIX, describe_ports, port_error_message, serial_ports, usb_ids

__all__ = ["FlashError", "arduino_cli_ports",
           "parse_board_list", "list_ports", "find_port", "uploader",
           "upload_command", "check_hex", "upload", "explain_failure"]

AVRDUDE_INSTALL = "sudo apt-get install -y avrdude"
ARDUINO_CLI_INSTALL = ("install arduino-cli "
                       "(https://arduino.github.io/arduino-cli/latest/installation/), "
                       "then: arduino-cli core install {core}")

# avrdude's STK500 programmer for the Uno's optiboot bootloader, and its speed (boards.txt:
# uno.upload.protocol=arduino, uno.upload.speed=115200).
_AVRDUDE_PROGRAMMER = "arduino"
_AVRDUDE_BAUD = 115200
# arduino-cli's board discovery: a few seconds at most (it waits 1 s for ports by default).
_BOARD_LIST_TIMEOUT_S = 20
# An upload that hears nothing retries for ~10-60 s (avrdude's 10 sync attempts) before failing.
_UPLOAD_TIMEOUT_S = 180


class FlashError(TinyLabError):
    """An upload or a port search failed; ``reason`` says which way, ``output`` what the tool said."""

    def __init__(self, message: str, reason: str = "failed", output: str = ""):
        super().__init__(message)
        self.reason = reason
        self.output = output


# ------------------------------------------------------------------------------------ ports

def _board_ids_by_fqbn() -> dict:
    return {boards.load(board_id)["fqbn"]: board_id for board_id in boards.available()}


def _hex_id(value) -> int | None:
    try:
        return int(str(value), 16) if value not in (None, "") else None
    except ValueError:
        return None


def parse_board_list(text: str) -> list:
    """Parse ``arduino-cli board list --format json`` in any of its three shapes.

    - arduino-cli >= 0.36 (and 1.x): ``{"detected_ports": [{"matching_boards": [...],
      "port": {"address", "label", "protocol", "protocol_label", "properties": {"vid",
      "pid", "serialNumber"}}}]}`` (``detected_ports`` may be missing or null when empty);
    - 0.19 to 0.35: the same list without the ``detected_ports`` wrapper;
    - before 0.19: ``[{"address", "protocol", "protocol_label", "boards": [{"name", "fqbn",
      "vid", "pid"}], "serial_number"}]``.

    Returns dicts with ``device, description, vid, pid, serial_number, boards`` (``boards``
    a list of ``{"name", "fqbn"}``), serial ports only.
    """
    data = (json.loads(text) if text.strip() else None) or []
    if isinstance(data, dict):
        data = data.get("detected_ports") or []
    if not isinstance(data, list):
        raise ValueError(f"unexpected arduino-cli board list output: {text[:200]!r}")
    found = []
    for item in data:
        if "port" in item:       # 0.19 and later
            port = item["port"] or {}
            properties = port.get("properties") or {}
            matches = item.get("matching_boards") or []
            vid, pid = _hex_id(properties.get("vid")), _hex_id(properties.get("pid"))
            serial_number = properties.get("serialNumber")
        else:                    # before 0.19
            port = item
            matches = item.get("boards") or []
            vid = _hex_id(matches[0].get("vid")) if matches else None
            pid = _hex_id(matches[0].get("pid")) if matches else None
            serial_number = item.get("serial_number")
        if port.get("protocol", "serial") != "serial" or not port.get("address"):
            continue
        found.append({"device": port["address"], "description": port.get("protocol_label", ""),
                      "vid": vid, "pid": pid, "serial_number": serial_number or None,
                      "boards": [{"name": m.get("name", ""), "fqbn": m.get("fqbn", "")}
                                 for m in matches]})
    return found


def arduino_cli_ports() -> list:
    """Ports and boards arduino-cli detects (``[]`` when arduino-cli is not installed).

    Raises :class:`FlashError` if arduino-cli is there but fails or hangs.
    """
    cli = shutil.which("arduino-cli")
    if cli is None:
        return []
    command = [cli, "board", "list", "--format", "json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_BOARD_LIST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise FlashError(f"arduino-cli board list did not finish within {_BOARD_LIST_TIMEOUT_S} s",
                         "timeout") from None
    if done.returncode != 0:
        raise FlashError(f"arduino-cli board list failed (exit {done.returncode}): "
                         f"{(done.stderr or done.stdout).strip()[-300:]}", "failed",
                         done.stdout + done.stderr)
    try:
        return parse_board_list(done.stdout)
    except ValueError as exc:
        raise FlashError(f"could not read arduino-cli board list's JSON: {exc}", "failed",
                         done.stdout) from None


def list_ports() -> list:
    """Every serial port, with the board on it when known.

    Returns dicts with the keys of :func:`tinylab.serial.ports.serial_ports` (``device,
    description, vid, pid, serial_number, board_id, usb_name``), ``board`` (a name, from
    arduino-cli), ``fqbn`` and ``accessible`` (this user may open it); ``board_id``
    (``"uno"``, ``"nano33ble"`` or None) comes from the FQBN when arduino-cli knows it, else
    from the USB ids.
    arduino-cli's view is merged in when it is installed; if it fails, pyserial's stands alone.
    """
    by_device = {port["device"]: dict(port, board=None, fqbn=None) for port in serial_ports()}
    try:
        detected = arduino_cli_ports()
    except FlashError:
        detected = []
    ids_by_fqbn = _board_ids_by_fqbn()
    for item in detected:
        port = by_device.setdefault(item["device"], {
            "device": item["device"], "description": item["description"], "vid": item["vid"],
            "pid": item["pid"], "serial_number": item["serial_number"], "board": None,
            "fqbn": None, "board_id": usb_ids().get((item["vid"], item["pid"]), {}).get("board_id"),
            "usb_name": usb_ids().get((item["vid"], item["pid"]), {}).get("name")})
        if item["boards"]:
            port["board"], port["fqbn"] = item["boards"][0]["name"], item["boards"][0]["fqbn"]
            port["board_id"] = ids_by_fqbn.get(port["fqbn"], port["board_id"])
    for port in by_device.values():
        device = port["device"]
        port["accessible"] = os.path.exists(device) and os.access(device, os.R_OK | os.W_OK)
    return sorted(by_device.values(), key=lambda p: p["device"])


def _port_error(port: str, code: int) -> str:
    """Why ``port`` cannot be used, listing the ports with arduino-cli's board names."""
    return port_error_message(port, code, list_ports() if code == errno.ENOENT else [])


def find_port(board: str | None = None) -> str:
    """The port of the one plugged-in board (of kind ``board``, e.g. ``"uno"``, if given).

    Raises :class:`FlashError` (reason ``no-port``) listing the ports there are when no board,
    or several, match.
    """
    if board is not None:
        boards.load(board)  # ValueError for an unknown board id
    ports = list_ports()
    matching = [p for p in ports if p["board_id"] and (board is None or p["board_id"] == board)]
    wanted = boards.load(board)["name"] if board else "Arduino board TinyLab knows"
    if len(matching) == 1:
        return matching[0]["device"]
    if not matching:
        raise FlashError(
            f"no {wanted} found ({describe_ports(ports)}). Plug it in with a USB data cable "
            f"(some cables only charge), or pass the port yourself (port='/dev/ttyACM0'); "
            f"`tinylab doctor` lists what it sees. No board at all? Use the virtual Uno.",
            "no-port")
    listed = ", ".join(p["device"] for p in matching)
    raise FlashError(f"several boards found ({listed}): pass the one to use, "
                     f"e.g. port={matching[0]['device']!r}", "no-port")


# ------------------------------------------------------------------------------------ upload

def uploader(board: str = "uno", tool: str | None = None) -> tuple:
    """``(tool name, executable path)`` of the uploader to use for ``board``.

    arduino-cli when installed, else avrdude for AVR boards. ``tool`` forces one of them.
    Raises :class:`FlashError` (reason ``no-uploader``) with the install line when none is there.
    """
    profile = boards.load(board)
    avr = profile["fqbn"].split(":")[1] == "avr"
    if tool not in (None, "arduino-cli", "avrdude"):
        raise ValueError(f"tool must be 'arduino-cli', 'avrdude' or None (choose), got {tool!r}")
    if tool == "avrdude" and not avr:
        raise ValueError(f"avrdude uploads to AVR boards only; the {profile['name']} needs arduino-cli")
    core = ":".join(profile["fqbn"].split(":")[:2])
    cli_fix = ARDUINO_CLI_INSTALL.format(core=core)
    if tool in (None, "arduino-cli") and shutil.which("arduino-cli"):
        return "arduino-cli", shutil.which("arduino-cli")
    if tool in (None, "avrdude") and avr and shutil.which("avrdude"):
        return "avrdude", shutil.which("avrdude")
    if tool == "arduino-cli" or not avr:
        raise FlashError(f"uploading to the {profile['name']} needs arduino-cli, which is not "
                         f"installed: {cli_fix}", "no-uploader")
    raise FlashError(f"no uploader for the {profile['name']}: neither avrdude nor arduino-cli is "
                     f"installed. Install avrdude: {AVRDUDE_INSTALL} (or {cli_fix})", "no-uploader")


def _firmware_of(build) -> tuple:
    """``(file to upload or None, build directory or None, board id or None)`` of ``build``."""
    if isinstance(build, (str, os.PathLike)):
        path = Path(build)
        if path.is_dir():
            return None, path, None
        if not path.is_file():
            raise ValueError(f"no firmware at {path}: compile the sketch first "
                             f"(tinylab.build.compile_sketch)")
        return path, None, None
    hex_path = getattr(build, "hex_path", None)
    build_dir = getattr(build, "build_dir", None)
    if hex_path is None and build_dir is None:
        raise TypeError(f"upload expects a BuildResult, a .hex file or a build folder, got "
                        f"{type(build).__name__}")
    return (Path(hex_path) if hex_path else None,
            Path(build_dir) if build_dir else None, getattr(build, "board", None))


def _hex_to_upload(firmware: Path | None, build_dir: Path | None) -> Path:
    """The .hex avrdude uploads: ``firmware``, else the one sketch .hex in ``build_dir``."""
    if firmware is not None and firmware.suffix.lower() == ".hex":
        return firmware
    hexes = sorted(p for p in (build_dir or Path(".")).glob("*.hex")
                   if not p.name.endswith(".with_bootloader.hex"))
    if firmware is None and len(hexes) == 1:
        return hexes[0]
    raise ValueError(f"avrdude uploads an Intel HEX file (.hex); got {firmware or build_dir}")


def upload_command(tool: str, executable: str, port: str, board: str, firmware: Path | None,
                   build_dir: Path | None) -> list:
    """The command line that uploads ``firmware`` (or the build in ``build_dir``) to ``port``."""
    profile = boards.load(board)
    if tool == "arduino-cli":
        command = [executable, "upload", "-p", port, "--fqbn", profile["fqbn"]]
        if build_dir is not None:
            return command + ["--input-dir", str(build_dir)]
        return command + ["--input-file", str(firmware)]
    firmware = _hex_to_upload(firmware, build_dir)
    return [executable, "-p", profile["mcu"].lower(), "-c", _AVRDUDE_PROGRAMMER, "-P", port,
            "-b", str(_AVRDUDE_BAUD), "-D", "-U", f"flash:w:{firmware}:i"]


#: (reason, pattern in the tool's output). Order matters: the first that matches wins.
_FAILURES = [
    ("permission", re.compile(r"permission denied", re.I)),
    ("busy", re.compile(r"device or resource busy|resource temporarily unavailable", re.I)),
    ("no-port", re.compile(r"(can't open device|cannot open port|no such file or directory|"
                           r"port not found|no upload port)", re.I)),
    ("no-core", re.compile(r"platform '?[\w-]+:[\w-]+'? (?:is )?not (?:found|installed)", re.I)),
    ("wrong-chip", re.compile(r"expected signature for|invalid device signature|"
                              r"device signature = 0x(?:000000|ffffff)", re.I)),
    ("bad-hex", re.compile(r"checksum mismatch|invalid record|address 0x[0-9a-f]+ out of range|"
                           r"input file .* (?:not found|cannot)", re.I)),
    ("not-in-sync", re.compile(r"not in sync|programmer is not responding|stk500_recv|"
                               r"stk500_getsync|no device found on", re.I)),
]


#: What avrdude prints once it has begun writing pages (its progress bar).
_WRITING = re.compile(r"^Writing \|", re.M)
_HALF_WRITTEN = ("the board now holds a half-written sketch and will run whatever that does: "
                 "upload again before you use it (tinylab checks the sketch's banner and model, "
                 "so it will not take that board for a working one)")


def explain_failure(output: str, port: str, board: str, returncode: int | None = None) -> FlashError:
    """Turn what a failed uploader printed into a :class:`FlashError` saying what to do."""
    profile = boards.load(board)
    reason = next((name for name, pattern in _FAILURES if pattern.search(output)), "failed")
    stopped = returncode is not None and returncode < 0
    if stopped or (reason in ("not-in-sync", "failed") and _WRITING.search(output)):
        how = (f"the uploader was stopped (signal {-returncode})" if stopped
               else "the board stopped answering in the middle of it (a cable pulled, a reset?)")
        wrote = " after it had begun writing" if _WRITING.search(output) else ""
        return FlashError(f"the upload to {port} was interrupted: {how}{wrote}. "
                          f"{_HALF_WRITTEN}.", "interrupted", output)
    if reason == "bad-hex":
        tail = "\n".join(output.strip().splitlines()[-3:])
        return FlashError(f"the uploader could not read the firmware file; nothing was written "
                          f"to {port}. Build it again:\n{tail}", reason, output)
    if reason == "permission":
        message = f"permission denied on {port}: {DIALOUT_FIX}."
    elif reason == "busy":
        message = _port_error(port, errno.EBUSY)
    elif reason == "no-port":
        message = _port_error(port, errno.ENOENT)
    elif reason == "no-core":
        platform = re.search(r"platform '?([\w-]+:[\w-]+)", output, re.I)
        core = platform.group(1) if platform else ":".join(profile["fqbn"].split(":")[:2])
        message = (f"arduino-cli lacks the core for the {profile['name']}: "
                   f"arduino-cli core install {core}")
    elif reason == "wrong-chip":
        message = (f"the chip on {port} is not the {profile['name']}'s {profile['mcu']}: is the "
                   f"right board chosen (board=...)? A clone with another chip needs its own profile.")
    elif reason == "not-in-sync":
        if profile["fqbn"].split(":")[1] == "avr":
            message = (f"the bootloader on {port} did not answer (avrdude: not in sync): check that "
                       f"it is the {profile['name']} and the right port, that nothing else uses the "
                       f"port, then retry (press the reset button just as the upload starts). "
                       f"Still failing: the board's bootloader may be missing or different (an old "
                       f"Nano bootloader talks at 57600 baud).")
        else:
            message = (f"the {profile['name']} on {port} did not answer its bootloader: double-press "
                       f"its reset button (the LED pulses) and retry with the port it shows then.")
    else:
        tail = "\n".join(output.strip().splitlines()[-6:])
        message = f"upload to {port} failed (exit {returncode}):\n{tail}"
    return FlashError(message, reason, output)


def check_hex(path: Path, board: str = "uno") -> None:
    """Refuse, before anything is written, a .hex that is corrupt or not a sketch for ``board``.

    Raises :class:`FlashError`: ``bad-hex`` (not Intel HEX, a bad checksum, cut short) or
    ``too-big`` (bytes beyond the sketch area, which on an Uno would overwrite Optiboot).
    """
    from . import _ihex

    profile = boards.load(board)
    try:
        memory = _ihex.read(path)
    except _ihex.HexError as exc:
        raise FlashError(f"{exc}. Nothing was uploaded.", "bad-hex") from None
    low, high = _ihex.span(memory)
    limit = profile.get("flash_usable_bytes")
    if limit is None or high <= limit:
        return
    if low >= limit:
        raise FlashError(f"{path.name} holds a bootloader (it starts at {low:#06x}, above the "
                         f"{limit:,} bytes of the {profile['name']}'s sketch area), not a sketch: "
                         f"upload the sketch's own .hex. Nothing was uploaded.", "bad-hex")
    raise FlashError(f"{path.name} reaches flash address {high - 1:#06x}, past the {limit:,} "
                     f"bytes the {profile['name']}'s sketches may use (the bootloader has the "
                     f"rest): it is not a sketch for the {profile['name']}, or it does not fit. "
                     f"Nothing was uploaded.", "too-big")


def _holders(port: str) -> list:
    """``"pid N (name)"`` of the other processes of this user with ``port`` open (Linux).

    The virtual Uno's harness holds its own pty open (raw mode), so it is not counted.
    """
    try:
        target = os.stat(port)
    except OSError:
        return []
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()) if os.path.isdir("/proc") else ():
        if int(pid) == os.getpid():
            continue
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            if name == "tinylab-harness":
                continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    held = os.stat(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if (held.st_dev, held.st_ino, held.st_rdev) == (target.st_dev, target.st_ino,
                                                               target.st_rdev):
                    found.append(f"pid {pid} ({name})")
                    break
        except OSError:        # another user's process, or one that just ended
            continue
    return found


@contextlib.contextmanager
def _holding(port: str):
    """Hold ``port`` for an upload: refused (``busy``) when another program has it open.

    The lock is pyserial's exclusive lock (``flock``), which every tinylab Device takes, so a
    notebook's open link is found, and no link opens on the port while it is being written.
    """
    if os.name != "posix" or not os.path.exists(port):
        yield
        return
    import fcntl

    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.EBUSY, errno.EAGAIN):
            raise FlashError(_port_error(port, errno.EBUSY), "busy") from None
        raise FlashError(_port_error(port, exc.errno), "failed") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FlashError(_port_error(port, errno.EBUSY), "busy") from None
        others = _holders(port)
        if others:
            raise FlashError(f"{port} is busy: {', '.join(others)} has it open (a serial monitor, "
                             f"screen, another notebook?). Close it, then upload again; nothing "
                             f"was written.", "busy")
        yield
    finally:
        os.close(fd)


#: The browser programmer's reasons (tinylab/widgets/_stk500.js, tinylab.serial.web) as this
#: module's: the same word where a local upload has one.
_WEB_REASONS = {"bad-hex": "bad-hex", "too-big": "too-big", "no-sync": "not-in-sync",
                "wrong-chip": "wrong-chip", "verify-mismatch": "verify-mismatch",
                "timeout": "timeout", "interrupted": "interrupted", "no-port": "no-port"}


def _upload_through_link(firmware: Path | None, build_dir: Path | None, port: str, board: str,
                         timeout_s: float) -> dict:
    """Upload through the browser's board link ``port`` (``webserial:...``): what
    :func:`upload` does for such a port."""
    profile = boards.load(board)
    if board != "uno":
        raise FlashError(
            f"the {profile['name']} cannot be uploaded to from the browser here: its "
            f"bootloader (reached by a double press of reset and a port that changes, with "
            f"arduino-cli's tools) cannot be driven from a web page; only the Uno's can. "
            f"Plug the {profile['name']} into the computer that runs Jupyter and upload there "
            f"(tinylab.flash.upload(build) in the notebook, or `tinylab deploy --port "
            f"/dev/ttyACM0 ...` run on that computer).", "browser-upload")
    hex_path = _hex_to_upload(firmware, build_dir)
    check_hex(hex_path, board)
    link = web.find_link(port, FlashError)
    if link.is_open:
        raise FlashError(f"{port} is busy: a tinylab Device in this kernel has it open. Close "
                         f"it (device.close(), or end its `with` block), then upload again; "
                         f"nothing was written.", "busy")
    hex_text = hex_path.read_text(encoding="ascii", errors="replace")
    started = time.monotonic()
    try:
        done = link.upload(hex_text, min(timeout_s, web.upload_timeout_s(hex_text)))
    except web.WebUploadError as exc:
        raise FlashError(f"uploading through the browser ({port}) failed: {exc}",
                         _WEB_REASONS.get(exc.reason, "failed"), str(exc)) from None
    except KeyboardInterrupt:
        raise FlashError(f"the upload to {port} was interrupted (you stopped it): the page was "
                         f"asked to stop. {_HALF_WRITTEN}.", "interrupted") from None
    output = (f"uploaded {done['bytes_written']} bytes in {done['pages']} pages to the "
              f"{done['chip']} (bootloader {done['bootloader_version']}) in "
              f"{done['seconds']:.2f} s, from the page")
    return {"tool": "web-serial", "command": ["_stk500.js", "upload", port, str(hex_path)],
            "board": board, "port": port, "seconds": round(time.monotonic() - started, 2),
            "bytes_written": done["bytes_written"], "output": output}


def upload(build, port: str | None = None, board: str | None = None, *, tool: str | None = None,
           timeout_s: float = _UPLOAD_TIMEOUT_S) -> dict:
    """Upload a build to a real board.

    Parameters
    ----------
    build : tinylab.build.BuildResult, or path to a .hex file or to a build folder
        A BuildResult is checked against the board's flash and RAM first (nothing is uploaded
        if it does not fit).
    port : str, optional
        ``/dev/ttyACM0``, ``COM3``...; found with :func:`find_port` when omitted. A
        ``webserial:`` port (:attr:`tinylab.widgets.BoardLink.port`) uploads through the
        browser: the Uno only, no uploader needed (``tool`` is then ignored).
    board : str, optional
        Board id (``"uno"``, ``"nano33ble"``); defaults to the build's board, else ``"uno"``.
    tool : {"arduino-cli", "avrdude"}, optional
        Force an uploader; by default arduino-cli when installed, else avrdude (AVR only).
    timeout_s : float
        Give up after this many seconds.

    Returns
    -------
    dict
        ``tool, command, port (the port the sketch runs on afterwards: arduino-cli reports a
        new one when the board re-enumerates), board, seconds, bytes_written (or None), output``.
        Through the browser, ``tool`` is ``"web-serial"``.

    Raises
    ------
    FlashError
        With ``reason`` one of ``no-uploader, no-port, permission, busy, not-in-sync,
        wrong-chip, no-core, too-big, bad-hex, interrupted, timeout, failed`` (through the
        browser also ``verify-mismatch``, and ``browser-upload`` for a board other than the
        Uno) and a message saying what to do.
    """
    firmware, build_dir, build_board = _firmware_of(build)
    board = board or build_board or "uno"
    boards.load(board)  # ValueError for an unknown board id
    if build_board is not None and build_board != board:
        raise ValueError(f"this build is for {build_board!r}, not {board!r}: compile it for {board!r}")
    from . import build as build_module

    if isinstance(build, build_module.BuildResult):
        try:
            build_module.check_fits(build)
        except build_module.DoesNotFit as exc:
            raise FlashError(str(exc), "too-big") from None
    if web.is_web_port(port):
        return _upload_through_link(firmware, build_dir, port, board, timeout_s)
    tool_name, executable = uploader(board, tool)
    if port is None:
        port = find_port(board)
    if port.startswith("/dev/") and not os.path.exists(port):
        raise FlashError(_port_error(port, errno.ENOENT), "no-port")
    if port.startswith("/dev/") and not os.access(port, os.R_OK | os.W_OK):
        raise FlashError(_port_error(port, errno.EACCES), "permission")
    command = upload_command(tool_name, executable, port, board, firmware, build_dir)
    if tool_name == "avrdude":
        check_hex(_hex_to_upload(firmware, build_dir), board)
    started = time.monotonic()
    with _holding(port):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            said = (exc.stdout or b"") + (exc.stderr or b"")
            said = said.decode(errors="replace") if isinstance(said, bytes) else said
            half = f" {_HALF_WRITTEN}" if _WRITING.search(said) else ""
            raise FlashError(f"{tool_name} did not finish within {timeout_s:g} s uploading to "
                             f"{port}, and was stopped: unplug and replug the board, then retry."
                             f"{half}", "timeout", said) from None
        except KeyboardInterrupt:
            raise FlashError(f"the upload to {port} was interrupted (you stopped it). "
                             f"{_HALF_WRITTEN}.", "interrupted") from None
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0:
        raise explain_failure(output, port, board, done.returncode)
    written = re.search(r"(\d+) bytes of flash written|Write (\d+) bytes to flash", output)
    new_port = re.search(r"New upload port: (\S+)", output)
    return {"tool": tool_name, "command": command, "board": board,
            "port": new_port.group(1) if new_port else port,
            "seconds": round(time.monotonic() - started, 2),
            "bytes_written": int(next(g for g in written.groups() if g)) if written else None,
            "output": output}
