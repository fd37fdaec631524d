"""tinylab.virtual: the virtual Uno (simavr + a pty) talks over pyserial like a real board.

Every test here runs real firmware in simavr. Without simavr/libsimavr-dev/gcc or the Uno
toolchain they skip on a laptop and fail under CI (``CI`` set), naming the install lines.
"""

import os
import stat
import sys
import textwrap
import time

import pytest
import serial

from tinylab import boards, build, virtual

ECHO_SKETCH = boards.BOARDS_DIR / "sketches" / "echo"
BANNER = b"# tinylab protocol=1 sketch=echo board=uno\r\n"

BUSY_POLLING = """
// Polls the serial port in a tight loop and never sleeps: the worst case for an idle board.
void setup() {
  Serial.begin(115200);
  Serial.println(F("# busy"));
}
void loop() {
  if (Serial.available() > 0) Serial.write(Serial.read());
}
"""

HALTS = """
// Sleeps with interrupts disabled: nothing can ever wake the MCU (simavr: cpu_Done).
#include <avr/sleep.h>
void setup() {
  Serial.begin(115200);
  Serial.println(F("# halting"));
  Serial.flush();
  cli();
  sleep_enable();
  sleep_cpu();
}
void loop() {}
"""

CRASHES = """
// Calls a function at the last word of flash (erased, 0xFFFF): the program counter runs off
// the end of flash (simavr: cpu_Crashed).
void setup() {
  Serial.begin(115200);
  Serial.println(F("# crashing"));
  Serial.flush();
  void (*nowhere)(void) = (void (*)(void))0x3FFF;
  nowhere();
}
void loop() {}
"""


@pytest.fixture(scope="module")
def board_tools(tmp_path_factory, virtual_uno_tools):
    """Everything the virtual Uno needs, in a fresh cache; fails under CI when absent."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYLAB_CACHE", str(tmp_path_factory.mktemp("tinylab-cache")))
        yield


@pytest.fixture(scope="module")
def firmware(board_tools, tmp_path_factory):
    """Compile a named test sketch once per module: firmware("echo") -> its ELF path."""
    folder = tmp_path_factory.mktemp("sketches")
    sources = {"busy": BUSY_POLLING, "halts": HALTS, "crashes": CRASHES}
    built = {}

    def compiled(name):
        if name not in built:
            if name == "echo":
                sketch_dir = ECHO_SKETCH
            else:
                sketch_dir = folder / name
                sketch_dir.mkdir()
                (sketch_dir / f"{name}.ino").write_text(textwrap.dedent(sources[name]).lstrip())
            built[name] = build.check_fits(build.compile_sketch(sketch_dir)).elf_path
        return built[name]

    return compiled


def open_port(board):
    return serial.Serial(board.port, 115200, timeout=5)


def process_is_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_harness_is_built_once_and_cached(board_tools):
    first = virtual.harness_path()
    assert first.is_file() and os.access(first, os.X_OK)
    started = time.perf_counter()
    assert virtual.harness_path() == first
    assert time.perf_counter() - started < 0.5


def test_echo_firmware_answers_over_pyserial(firmware):
    with virtual.VirtualUno(firmware("echo")) as board, open_port(board) as port:
        assert board.port.startswith("/dev/pts/") and board.info["mcu"] == "atmega328p"
        assert port.readline() == BANNER
        for line in (b"hello", b"3,1,4,1,5,9,2,6", b"x" * 63):
            port.write(line + b"\n")
            assert port.readline() == line + b"\r\n"


def test_two_boards_run_at_once_on_their_own_ports(firmware):
    with virtual.VirtualUno(firmware("echo")) as first, virtual.VirtualUno(firmware("echo")) as second:
        assert first.port != second.port and first.pid != second.pid
        with open_port(first) as a, open_port(second) as b:
            assert a.readline() == BANNER and b.readline() == BANNER
            a.write(b"to the first\n")
            b.write(b"to the second\n")
            assert a.readline() == b"to the first\r\n"
            assert b.readline() == b"to the second\r\n"


def test_opening_the_port_again_resets_the_board_like_a_real_uno(firmware):
    with virtual.VirtualUno(firmware("echo")) as board:
        for _ in range(2):
            with open_port(board) as port:
                assert port.readline() == BANNER


def test_stop_leaves_no_process(firmware):
    board = virtual.VirtualUno(firmware("echo")).start()
    pid = board.pid
    assert board.running and not process_is_gone(pid)
    assert board.stop() == 0                    # SIGTERM -> clean exit
    assert not board.running and process_is_gone(pid)   # reaped: no zombie either
    assert board.stop() == 0                    # idempotent
    with pytest.raises(virtual.VirtualBoardError):
        board.check()                           # it has ended; check() says so


@pytest.mark.parametrize("sketch", ["echo", "busy"])
def test_an_idle_board_uses_little_cpu(firmware, sketch, record_property):
    """Paced to real time, an idle Uno costs a fraction of a core (a generous bound: a
    behaviour test, not a benchmark). "busy" never sleeps; "echo" sleeps between bytes."""
    with virtual.VirtualUno(firmware(sketch)) as board, open_port(board) as port:
        assert port.readline().startswith(b"# ")
        before, started = board.cpu_seconds(), time.monotonic()
        time.sleep(2.0)
        share = (board.cpu_seconds() - before) / (time.monotonic() - started)
    record_property(f"idle_cpu_share_{sketch}", share)
    print(f"idle virtual Uno ({sketch} sketch): {share:.0%} of one core")
    assert share < 0.5


@pytest.mark.parametrize("sketch, state, returncode", [("halts", "cpu_Done", 4),
                                                       ("crashes", "cpu_Crashed", 3)])
def test_a_firmware_that_stops_the_mcu_is_reported_not_hung_on(firmware, sketch, state, returncode):
    with virtual.VirtualUno(firmware(sketch)) as board, open_port(board) as port:
        try:
            assert port.readline().startswith(b"# ")    # the sketch's last words
        except serial.SerialException:
            pass                                 # the port vanished with the harness: fine too
        with pytest.raises(virtual.VirtualBoardCrashed) as stopped:
            board.wait(timeout_s=10)
        assert stopped.value.returncode == returncode == board.returncode
        assert state in str(stopped.value)       # simavr's verdict, from the harness's stderr
        with pytest.raises(virtual.VirtualBoardCrashed):
            board.check()


def test_a_file_that_is_not_firmware_fails_at_start_with_the_reason(board_tools, tmp_path):
    not_elf = tmp_path / "notes.elf"
    not_elf.write_text("not an ELF file\n")
    with pytest.raises(virtual.VirtualBoardError, match=r"(?s)could not load the firmware.*notes\.elf"):
        virtual.VirtualUno(not_elf).start()
    with pytest.raises(ValueError, match="no firmware at"):
        virtual.VirtualUno(tmp_path / "missing.elf")


def test_a_harness_that_never_reports_times_out_and_is_stopped(monkeypatch, tmp_path, firmware):
    silent = tmp_path / "silent-harness"
    silent.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    silent.chmod(silent.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(virtual, "harness_path", lambda: silent)
    board = virtual.VirtualUno(firmware("echo"), start_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(virtual.VirtualBoardError, match=r"did not start within 0\.5 s"):
        board.start()
    assert time.monotonic() - started < 5
    assert process_is_gone(board.pid)
