"""Serial ports: which there are, which board each one is, opening one, and why it would not open.

The board on a port is known by its USB vendor and product ids, which pyserial reports; the
ids of each board live in its profile (``boards/*.json``, ``usb_ids``, with their source), so
this table has one home. A clone's USB chip (the CH340 of most Uno and Nano clones) is named
but not taken for a board: it could be either.

>>> link = open_port("/dev/ttyACM0", 115200, write_timeout=2.0)          # doctest: +SKIP
>>> [p["device"] for p in serial_ports() if p["board_id"] == "uno"]     # doctest: +SKIP
['/dev/ttyACM0']
"""

from __future__ import annotations

import errno
import functools

from .. import boards
from .errors import SerialError

__all__ = ["DIALOUT_FIX", "POLL_S", "usb_ids", "serial_ports", "describe_ports",
           "port_error_message", "open_port"]

#: The Linux fix for "permission denied" on a serial port.
DIALOUT_FIX = ("add yourself to the dialout group: sudo usermod -aG dialout $USER, then log out "
               "and back in (or reboot)")
#: How long one read of an open port waits before a caller's loop looks at its deadlines (s).
POLL_S = 0.05


@functools.lru_cache(maxsize=1)
def usb_ids() -> dict:
    """``{(vid, pid): {"board_id": ..., "name": ...}}`` from every board profile.

    ``board_id`` is None for a clone's USB chip (named, never taken for a board).
    """
    table = {}
    for board_id in boards.available():
        for entry in boards.load(board_id).get("usb_ids", []):
            key = (int(entry["vid"], 16), int(entry["pid"], 16))
            table[key] = {"board_id": None if entry.get("clone") else board_id,
                          "name": entry["name"]}
    return table


def serial_ports() -> list:
    """The serial ports pyserial sees, sorted by name, as dicts.

    Keys: ``device``, ``description``, ``vid``, ``pid``, ``serial_number`` (pyserial's; None
    where unknown), ``board_id`` (``"uno"``, ``"nano33ble"`` or None) and ``usb_name`` (what
    the USB ids say it is, e.g. ``"Arduino Uno R3"``, or None). [] without pyserial.
    """
    try:
        from serial.tools import list_ports
    except ImportError:
        return []
    known = usb_ids()
    found = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        vid, pid = getattr(port, "vid", None), getattr(port, "pid", None)
        entry = known.get((vid, pid), {}) if vid is not None else {}
        found.append({"device": port.device, "description": getattr(port, "description", "") or "",
                      "vid": vid, "pid": pid, "serial_number": getattr(port, "serial_number", None),
                      "board_id": entry.get("board_id"), "usb_name": entry.get("name")})
    return found


def describe_ports(ports: list) -> str:
    """``"serial ports here: /dev/ttyACM0 (Arduino Uno R3), /dev/ttyS0 (n/a)"`` for messages."""
    if not ports:
        return "no serial ports at all"
    shown = []
    for p in ports:
        what = (p.get("board") or (boards.load(p["board_id"])["name"] if p.get("board_id") else None)
                or p.get("usb_name") or p.get("description") or "unknown")
        shown.append(f"{p['device']} ({what})")
    return "serial ports here: " + ", ".join(shown)


def port_error_message(port: str, problem, ports: list | None = None) -> str:
    """A plain-words explanation of why ``port`` could not be opened.

    ``problem`` is the exception pyserial raised (its ``errno`` is used) or an errno number;
    ``ports`` the ports to list when ``port`` is absent (default :func:`serial_ports`;
    ``tinylab.flash`` passes its list with arduino-cli's board names).
    """
    code = problem if isinstance(problem, int) else getattr(problem, "errno", None)
    if code == errno.ENOENT:
        ports = serial_ports() if ports is None else ports
        return (f"no serial port {port}: {describe_ports(ports)}. Is the board plugged "
                f"in? Its port can change name after a replug or an upload.")
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied on {port}: {DIALOUT_FIX}."
    if code in (errno.EBUSY, errno.EAGAIN):
        return (f"{port} is busy: another program holds it (the Arduino IDE's Serial Monitor, "
                f"screen, another notebook with an open tinylab Device: close it). Just plugged "
                f"in? On Linux, ModemManager probes new ports for ~10 s: wait and retry.")
    return f"could not open {port}: {problem}"


def open_port(port: str, baudrate: int, *, write_timeout: float, error=SerialError):
    """Open ``port`` with pyserial for exclusive use; reads wait at most :data:`POLL_S`.

    A port that does not open (absent, busy, permission denied) raises ``error`` with the
    message of :func:`port_error_message` (the ports there are, the dialout fix); each client
    passes its own error class. Exclusive: a second reader would get half the lines, so it
    gets "busy" instead.
    """
    if port.startswith("webserial:"):   # a port the page holds (tinylab.widgets.BoardLink)
        from .web import open_web_port

        return open_web_port(port, baudrate, write_timeout=write_timeout, timeout=POLL_S,
                             error=error)
    import serial

    link = serial.Serial()
    link.port, link.baudrate = port, baudrate
    link.timeout, link.write_timeout = POLL_S, write_timeout
    link.exclusive = True
    try:
        link.open()
    except (serial.SerialException, OSError) as exc:
        raise error(port_error_message(port, exc)) from None
    return link
