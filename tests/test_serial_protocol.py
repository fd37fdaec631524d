"""Tests for tinylab.serial.protocol (the banner handshake both clients use) and the layering.

The "board" is the master side of a pty written by the test (as in test_serial_lines.py);
the clients' own handshakes are tested with their fake boards in test_device.py and
test_capture.py.
"""

import ast
import os
import time
import tty
from pathlib import Path

import pytest

from tinylab import capture, device
from tinylab.serial import protocol
from tinylab.serial.errors import ConnectionLostError, NoBannerError, SerialError
from tinylab.serial.lines import LineReader
from tinylab.serial.ports import open_port

SERIAL = Path(__file__).resolve().parents[1] / "tinylab" / "serial"
BANNER = "#TINYLAB proto=1 sketch=capture board=uno sensor=x rate_hz=50 columns=a,b"


@pytest.fixture
def board():
    """(master fd, LineReader on the slave side, lines the host wrote)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    reader = LineReader(open_port(port, 115200, write_timeout=1.0), port, 256)
    yield master, reader
    reader.close()
    os.close(master)
    os.close(slave)


def _parse(text):
    fields = protocol.banner_fields(text)
    return fields if fields and all(k in fields for k in protocol.REQUIRED_KEYS) else None


def test_banner_fields_by_hand():
    assert protocol.banner_fields("12,3#TINYLAB proto=1 sketch=x board=uno") == \
        {"proto": "1", "sketch": "x", "board": "uno"}
    assert protocol.banner_fields("#TINYLAB proto=1 stray") is None
    assert protocol.banner_fields("1,2,3") is None
    # the last mark wins: a reset mid-banner leaves the first half in front
    assert protocol.banner_fields("#TINYLAB pro#TINYLAB proto=1")["proto"] == "1"


def test_check_banner_names_what_to_flash():
    class Mine(SerialError):
        pass

    good = {"proto": protocol.PROTOCOL_VERSION, "sketch": "capture", "board": "uno"}
    protocol.check_banner(good, "/dev/x", "capture", flash="the capture sketch", error=Mine)
    with pytest.raises(Mine, match="protocol 2, this TinyLab speaks 1: flash the capture sketch"):
        protocol.check_banner(dict(good, proto=2), "/dev/x", "capture", flash="the capture sketch",
                              error=Mine)
    with pytest.raises(Mine, match="'capture' sketch, not 'inference': flash the inference"):
        protocol.check_banner(good, "/dev/x", "inference", flash="the inference sketch", error=Mine)


def test_await_banner_drops_what_came_before_and_keeps_what_follows(board):
    master, reader = board
    os.write(master, b"stale,row\r\n\x81\x82 noise\r\nhalf,a,r")
    os.write(master, (BANNER + "\r\n1,2\r\n3,4\r\n").encode())  # rows in the banner's write
    banner, probed = protocol.await_banner(reader, 2.0, _parse, no_banner=str)
    assert banner["sketch"] == "capture" and banner["columns"] == "a,b" and not probed
    assert reader.next_line(time.monotonic() + 1) == b"1,2"
    assert reader.next_line(time.monotonic() + 1) == b"3,4"


def test_await_banner_asks_a_quiet_board_with_the_probe(board):
    master, reader = board
    started = time.monotonic()

    def answer():  # the board answers "?" once it is asked
        while time.monotonic() - started < 3:
            data = os.read(master, 64)
            if b"?" in data:
                os.write(master, (BANNER + "\r\n").encode())
                return

    import threading

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    banner, probed = protocol.await_banner(reader, 3.0, _parse, no_banner=str)
    thread.join(1)
    assert probed and banner["board"] == "uno"
    assert protocol.FIRST_PROBE_S <= time.monotonic() - started < protocol.FIRST_PROBE_S + 1


def test_no_banner_says_what_was_heard_including_over_long_noise(board):
    master, reader = board
    os.write(master, b"9" * 300 + b"\r\nhello there\r\n" + b"x" * 300)
    with pytest.raises(NoBannerError) as caught:
        protocol.await_banner(reader, 0.8, _parse, no_banner=lambda heard: repr(heard))
    heard = caught.value.args[0]
    assert "hello there" in heard and "(a line longer than 256 bytes)" in heard
    assert protocol.heard_text(["a", "b"], b"") == " Heard instead: 'b'."
    assert protocol.heard_text([], bytearray(b"xy")) == " Heard bytes but no line: b'xy'."
    assert protocol.heard_text([], b"") == " Heard nothing."


def test_a_port_lost_while_waiting_is_a_lost_connection(board):
    master, reader = board
    os.close(os.dup(master))
    reader.serial.close()  # the port vanishes under the reader
    with pytest.raises(ConnectionLostError):
        protocol.await_banner(reader, 1.0, _parse, no_banner=str)


def test_the_clients_errors_are_serial_errors_but_not_each_others():
    assert issubclass(device.DeviceError, SerialError)
    assert issubclass(capture.CaptureError, SerialError)
    assert not issubclass(capture.CaptureError, device.DeviceError)
    assert not issubclass(device.DeviceError, capture.CaptureError)
    # the link's own errors belong to neither client
    for error in (NoBannerError, ConnectionLostError):
        assert not issubclass(error, (device.DeviceError, capture.CaptureError))
    assert device.NoBannerError is capture.NoBannerError is NoBannerError


def test_the_serial_layer_imports_downward_only():
    # ports and lines know nothing of protocols; nothing here knows a client or flash; the
    # browser's port (web) is a byte pipe below ports, which opens it for a webserial: name
    layers = ["errors", "web", "ports", "lines", "protocol"]
    for position, name in enumerate(layers):
        tree = ast.parse((SERIAL / f"{name}.py").read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported.add((1, node.module))
            elif isinstance(node, ast.ImportFrom) and node.level == 2:  # from .. import x
                imported |= {(2, node.module or alias.name) for alias in node.names}
        for level, module in imported:
            if level == 1:  # a sibling in tinylab/serial
                assert module in layers[:position], f"serial/{name}.py imports .{module}"
            else:  # tinylab itself: only the error root and the board profiles (USB ids)
                assert module in ("errors", "boards"), f"serial/{name}.py imports tinylab.{module}"
