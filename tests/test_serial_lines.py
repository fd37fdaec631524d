"""Tests for tinylab.serial.lines: the line reader tinylab.device and tinylab.capture share.

No hardware: the "board" is the master side of a pty, written to by the test itself; the
reader opens the slave side with pyserial, as it opens /dev/ttyACM0.
"""

import os
import time
import tty

import pytest

from tinylab.serial import ports
from tinylab.serial.errors import ConnectionLostError
from tinylab.serial.lines import ACK, TOO_LONG, LineReader
from tinylab.serial.ports import open_port


class Pty:
    """A pty whose slave side is open as a LineReader; ``send`` writes as the board."""

    def __init__(self, max_line_bytes=None):
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self.reader = LineReader(open_port(self.port, 115200, write_timeout=1.0), self.port,
                                 max_line_bytes)

    def send(self, data: bytes):
        os.write(self.master, data)
        time.sleep(0.05)  # let the bytes cross the pty

    def unplug(self):
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def close(self):
        self.reader.close()
        self.unplug()
        os.close(self._slave)


@pytest.fixture
def pty():
    opened = Pty()
    yield opened
    opened.close()


@pytest.fixture
def short_lines():
    opened = Pty(max_line_bytes=16)
    yield opened
    opened.close()


def soon(seconds=1.0):
    return time.monotonic() + seconds


def test_lines_lose_their_line_end_and_a_partial_line_waits_for_its_end(pty):
    pty.send(b"1.0,2.0\r\n3.0,")
    assert pty.reader.next_line(soon()) == b"1.0,2.0"
    assert pty.reader.next_line(soon(0.2)) is None        # the rest has not come
    assert pty.reader.buffer == b"3.0,"                    # ... and is kept
    pty.send(b"4.0\n")                                      # a bare "\n" ends a line too
    assert pty.reader.next_line(soon()) == b"3.0,4.0"
    pty.send(b"\r\n")
    assert pty.reader.next_line(soon()) == b""             # an empty line is a line


def test_a_line_split_over_many_writes_comes_out_whole(pty):
    for piece in (b"#TIN", b"YLAB proto", b"=1 sketch=", b"capture\r", b"\n"):
        pty.send(piece)
    assert pty.reader.next_line(soon()) == b"#TINYLAB proto=1 sketch=capture"


def test_a_timeout_returns_none_on_time(pty):
    started = time.monotonic()
    assert pty.reader.next_line(started + 0.3) is None
    assert 0.29 <= time.monotonic() - started < 0.3 + 2 * ports.POLL_S + 0.1


def test_an_over_long_line_is_reported_once_and_the_next_line_is_whole(short_lines):
    reader = short_lines.reader
    # Without its end: reported as soon as it outgrows the limit, the tail dropped when it comes.
    short_lines.send(b"9" * 40)
    assert reader.next_line(soon()) is TOO_LONG and reader.dropped[:17] == b"9" * 17
    short_lines.send(b"9" * 40 + b",1\r\nok\r\n")
    assert reader.next_line(soon()) == b"ok"
    # With its end, in one piece: reported, then the next line.
    short_lines.send(b"x" * 17 + b"\nshort\n")
    assert reader.next_line(soon()) == TOO_LONG == "too_long"
    assert reader.next_line(soon()) == b"short"
    short_lines.send(b"y" * 16 + b"\n")                    # exactly the limit: a line
    assert reader.next_line(soon()) == b"y" * 16


def test_binary_noise_is_passed_through_for_the_caller_to_judge(pty):
    noise = bytes([0, 255, 254, 129, 7, 13]) + b"binary"
    pty.send(noise + b"\r\n1,2,3\r\n")
    assert pty.reader.next_line(soon()) == noise           # a "\r" inside a line stays
    assert pty.reader.next_line(soon()) == b"1,2,3"


def test_acks_count_only_between_lines(pty):
    pty.send(b".R 1 .5\r\n.")
    assert pty.reader.next_line(soon(), ack=b".") is ACK
    assert pty.reader.next_line(soon(), ack=b".") == b"R 1 .5"   # a "." inside a line is data
    assert pty.reader.next_line(soon(), ack=b".") is ACK
    pty.send(b".5,1\r\n")
    assert pty.reader.next_line(soon()) == b".5,1"              # without ack=, a "." is data


def test_a_close_mid_line_is_a_lost_connection_and_the_partial_line_is_kept(pty):
    pty.send(b"1,2,3\r\n4,5")
    assert pty.reader.next_line(soon()) == b"1,2,3"
    pty.unplug()
    with pytest.raises(ConnectionLostError, match=f"lost the connection to {pty.port}"):
        pty.reader.next_line(soon())
    assert pty.reader.buffer == b"4,5"                     # the caller counts it as partial
    assert pty.reader.serial is None                       # closed
    pty.reader.close()                                     # twice is fine


def test_on_lost_lets_the_owner_raise_its_own_error(pty):
    class Gone(Exception):
        pass

    def on_lost(exc):
        raise Gone(str(exc))

    pty.reader.on_lost = on_lost
    pty.unplug()
    with pytest.raises(Gone):
        pty.reader.next_line(soon())


def test_clear_drops_the_tail_of_a_line_it_cut(pty):
    pty.send(b"1.0,2.")
    pty.reader.clear()                                     # the board is mid-row
    pty.send(b"5\r\n3.0,4.0\r\n")
    assert pty.reader.next_line(soon()) == b"3.0,4.0"
    pty.send(b"7.")
    pty.reader.clear(drop_cut_line=False)                  # the caller knows the line is quiet
    pty.send(b"8\r\n")
    assert pty.reader.next_line(soon()) == b"8"


def test_clear_between_lines_keeps_the_next_line(pty):
    pty.reader.clear()
    pty.send(b"3.0,4.0\r\n")
    assert pty.reader.next_line(soon()) == b"3.0,4.0"


def test_writes_reach_the_board(pty):
    pty.reader.write(b"?\n")
    time.sleep(0.05)
    assert os.read(pty.master, 100) == b"?\n"


def test_open_port_says_what_is_wrong_in_the_callers_error(monkeypatch):
    class MyError(Exception):
        pass

    monkeypatch.setattr(ports, "serial_ports", lambda: [{"device": "/dev/ttyACM7", "board": "Uno"}])
    with pytest.raises(MyError, match=r"no serial port /dev/nope.*/dev/ttyACM7"):
        open_port("/dev/nope", 115200, write_timeout=1.0, error=MyError)


def test_a_second_open_of_the_same_port_is_busy(pty):
    with pytest.raises(RuntimeError, match="is busy"):
        open_port(pty.port, 115200, write_timeout=1.0)
