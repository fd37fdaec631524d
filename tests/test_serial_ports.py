"""Tests for tinylab.serial.ports: the ports there are, the board on each, opening errors.

pyserial's port list is replaced by a fixed one (``fake_ports``): which ports a machine has is
the one boundary no test machine can set; opening a port is tested on real ptys
(tests/test_serial_lines.py, tests/test_device.py, tests/test_capture.py).
"""

import errno
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from tinylab import boards
from tinylab.serial import ports
from tinylab.serial.errors import SerialError

ROOT = Path(__file__).resolve().parents[1]


def _port(device, vid, pid, description="USB serial"):
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=description,
                           serial_number=None)


@pytest.fixture
def fake_ports(monkeypatch):
    from serial.tools import list_ports

    found = []
    monkeypatch.setattr(list_ports, "comports", lambda *args, **kwargs: list(found))
    return found


KEYS = {"device", "description", "vid", "pid", "serial_number", "board_id", "usb_name"}


def test_serial_ports_lists_dicts_with_the_promised_keys():
    found = ports.serial_ports()
    assert isinstance(found, list)
    for port in found:
        assert set(port) == KEYS


def test_known_boards_are_recognized(fake_ports):
    fake_ports += [_port("/dev/ttyUSB0", 0x1A86, 0x7523), _port("/dev/ttyACM0", 0x2341, 0x0043),
                   _port("/dev/ttyS0", None, None, "n/a"), _port("/dev/ttyACM1", 0x1234, 0x5678),
                   _port("/dev/ttyACM2", 0x2341, 0x805A)]
    found = ports.serial_ports()
    assert [p["device"] for p in found] == ["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyACM2",
                                            "/dev/ttyS0", "/dev/ttyUSB0"]
    names = {p["device"]: p["usb_name"] for p in found}
    assert names == {"/dev/ttyACM0": "Arduino Uno R3", "/dev/ttyACM1": None,
                     "/dev/ttyACM2": "Arduino Nano 33 BLE (Sense)", "/dev/ttyS0": None,
                     "/dev/ttyUSB0": "CH340 USB serial (Uno/Nano clone)"}
    # a clone's USB chip is named, never taken for a board: it could be an Uno or a Nano
    ids = {p["device"]: p["board_id"] for p in found}
    assert ids == {"/dev/ttyACM0": "uno", "/dev/ttyACM1": None, "/dev/ttyACM2": "nano33ble",
                   "/dev/ttyS0": None, "/dev/ttyUSB0": None}
    assert found[0]["vid"] == 0x2341 and found[0]["pid"] == 0x0043
    for port in found:
        assert set(port) == KEYS


def test_usb_ids_come_from_the_board_profiles_only():
    table = ports.usb_ids()
    for board_id in boards.available():
        profile = boards.load(board_id)
        assert profile["sources"]["usb_ids"], f"{board_id}: usb_ids has no source"
        for entry in profile["usb_ids"]:
            key = (int(entry["vid"], 16), int(entry["pid"], 16))
            assert table[key]["name"] == entry["name"]
            assert table[key]["board_id"] == (None if entry.get("clone") else board_id)
    # one table in the package: no module keeps its own vendor/product ids
    for path in (ROOT / "tinylab").rglob("*.py"):
        assert not re.search(r"0x2341|0x2A03|0x1A86", path.read_text(), re.I), path


def test_port_error_messages_say_what_to_do(fake_ports):
    assert "sudo usermod -aG dialout $USER" in ports.port_error_message("/dev/ttyACM0", 13)
    assert "log out" in ports.port_error_message("/dev/ttyACM0", 13)
    assert "Serial Monitor" in ports.port_error_message("/dev/ttyACM0", errno.EBUSY)
    assert "ModemManager" in ports.port_error_message("/dev/ttyACM0", errno.EAGAIN)
    assert "no serial ports at all" in ports.port_error_message("/dev/ttyACM0", errno.ENOENT)
    fake_ports.append(_port("/dev/ttyUSB0", 0x1A86, 0x7523))
    assert "/dev/ttyUSB0 (CH340 USB serial (Uno/Nano clone))" in \
        ports.port_error_message("/dev/ttyACM0", errno.ENOENT)
    given = [{"device": "/dev/ttyACM3", "board": "Arduino Uno", "board_id": "uno"}]
    assert "/dev/ttyACM3 (Arduino Uno)" in ports.port_error_message("/x", errno.ENOENT, given)


def test_open_port_raises_the_callers_error_with_the_ports_listed(fake_ports):
    class MyError(RuntimeError):
        pass

    fake_ports.append(_port("/dev/ttyACM7", 0x2341, 0x0043))
    with pytest.raises(MyError, match=r"no serial port /dev/ttyTINYLAB9.*/dev/ttyACM7 \(Arduino Uno"):
        ports.open_port("/dev/ttyTINYLAB9", 115200, write_timeout=1.0, error=MyError)
    with pytest.raises(SerialError):
        ports.open_port("/dev/ttyTINYLAB9", 115200, write_timeout=1.0)
    json.dumps(ports.serial_ports())  # doctor --json prints them
