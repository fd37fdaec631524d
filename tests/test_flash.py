"""Tests for tinylab.flash: port discovery and uploads, against fake arduino-cli and avrdude.

No board is plugged in here, so these paths run against the fake tools of
tests/fakes/bin, which record their arguments and answer with the real tools' words
(tests/fakes/fake_tools.py says where each output comes from). PATH holds only the fakes
asked for (and python3 for them), so the real avrdude of the toolchain never runs here: the
failures a real board gives in its own words (permission, wrong chip, a missing core). The
avrdude route itself, and its bad-hex, busy and interrupted errors, run for real against the
virtual Uno's Optiboot in test_upload_virtual.py.
"""

import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tinylab import flash
from tinylab.flash import FlashError

FAKE_BIN = Path(__file__).parent / "fakes" / "bin"

# arduino-cli's own examples (docs/UPGRADING.md, 0.19.0 and 0.36.0).
BOARD_LIST_1X = """{
  "detected_ports": [
    {"matching_boards": [{"name": "Arduino Uno", "fqbn": "arduino:avr:uno"}],
     "port": {"address": "/dev/ttyACM1", "label": "/dev/ttyACM1", "protocol": "serial",
              "protocol_label": "Serial Port (USB)",
              "properties": {"pid": "0x0043", "serialNumber": "954323132383515092E1", "vid": "0x2341"},
              "hardware_id": "954323132383515092E1"}},
    {"port": {"address": "/dev/ttyS0", "label": "/dev/ttyS0", "protocol": "serial",
              "protocol_label": "Serial Port"}},
    {"port": {"address": "192.168.1.7", "label": "esp32 at 192.168.1.7", "protocol": "network",
              "protocol_label": "Network Port"}}
  ]
}"""
BOARD_LIST_019 = """[
  {"matching_boards": [{"name": "Arduino Uno", "fqbn": "arduino:avr:uno"}],
   "port": {"address": "/dev/ttyACM1", "label": "/dev/ttyACM1", "protocol": "serial",
            "protocol_label": "Serial Port (USB)",
            "properties": {"pid": "0x0043", "serialNumber": "954323132383515092E1", "vid": "0x2341"}}}
]"""
BOARD_LIST_018 = """[
  {"address": "/dev/ttyACM1", "protocol": "serial", "protocol_label": "Serial Port (USB)",
   "boards": [{"name": "Arduino Uno", "fqbn": "arduino:avr:uno", "vid": "0x2341", "pid": "0x0043"}],
   "serial_number": "954323132383515092E1"}
]"""
UNO_ON_ACM1 = {"device": "/dev/ttyACM1", "description": "Serial Port (USB)", "vid": 0x2341,
               "pid": 0x0043, "serial_number": "954323132383515092E1",
               "boards": [{"name": "Arduino Uno", "fqbn": "arduino:avr:uno"}]}


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """Put only the named fake tools on PATH; returns a helper to read what they were called with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)  # the fakes' interpreter, nothing else
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("TINYLAB_FAKE_LOG", str(log))
    for name in ("TINYLAB_FAKE_SCENARIO", "TINYLAB_FAKE_DETECTED", "TINYLAB_FAKE_CLI_VERSION"):
        monkeypatch.delenv(name, raising=False)

    class Tools:
        def install(self, *names):
            for name in names:
                (bin_dir / name).symlink_to(FAKE_BIN / name)
            return self

        def calls(self):
            if not log.exists():
                return []
            return [json.loads(line) for line in log.read_text().splitlines()]

        def scenario(self, name):
            monkeypatch.setenv("TINYLAB_FAKE_SCENARIO", name)

    return Tools()


@pytest.fixture
def no_pyserial_ports(monkeypatch):
    from serial.tools import list_ports

    ports = []
    monkeypatch.setattr(list_ports, "comports", lambda *args, **kwargs: list(ports))
    return ports


def _pyserial_port(device, vid=None, pid=None, description="n/a"):
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=description,
                           serial_number=None)


@pytest.fixture
def firmware(tmp_path):
    """A build folder as arduino-builder leaves it, with a 924-byte program, and a fake port."""
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    data = bytes((i * 7) & 0xFF for i in range(924))
    records = []
    for offset in range(0, len(data), 16):
        chunk = data[offset:offset + 16]
        record = [len(chunk), offset >> 8, offset & 0xFF, 0, *chunk]
        records.append(":" + "".join(f"{b:02X}" for b in record) + f"{-sum(record) & 0xFF:02X}")
    text = "\n".join(records + [":00000001FF"]) + "\n"
    (build_dir / "inference.ino.hex").write_text(text)
    (build_dir / "inference.ino.with_bootloader.hex").write_text(text)
    (build_dir / "inference.ino.elf").write_bytes(b"\x7fELF")
    port = tmp_path / "ttyACM0"  # the fakes only check that the port exists
    port.touch()
    build = SimpleNamespace(hex_path=build_dir / "inference.ino.hex", build_dir=build_dir, board="uno")
    return SimpleNamespace(build=build, hex=build.hex_path, dir=build_dir, port=str(port))


# ----------------------------------------------------------------------------- discovery

@pytest.mark.parametrize("text", [BOARD_LIST_1X, BOARD_LIST_019, BOARD_LIST_018])
def test_parse_board_list_reads_all_three_shapes(text):
    assert flash.parse_board_list(text)[0] == UNO_ON_ACM1


def test_parse_board_list_keeps_unknown_serial_ports_and_drops_network_ones():
    ports = flash.parse_board_list(BOARD_LIST_1X)
    assert [p["device"] for p in ports] == ["/dev/ttyACM1", "/dev/ttyS0"]
    assert ports[1]["boards"] == [] and ports[1]["vid"] is None


@pytest.mark.parametrize("text", ["", "[]", "null", "{}", '{"detected_ports": null}',
                                  '{"detected_ports": []}'])
def test_parse_board_list_reads_no_boards(text):
    assert flash.parse_board_list(text) == []


@pytest.mark.parametrize("version", ["1.1.1", "0.35.3", "0.18.3"])
def test_arduino_cli_ports_runs_board_list(tools, monkeypatch, version):
    tools.install("arduino-cli")
    monkeypatch.setenv("TINYLAB_FAKE_CLI_VERSION", version)
    ports = flash.arduino_cli_ports()
    assert [(p["device"], p["boards"][:1]) for p in ports] == [
        ("/dev/ttyACM0", [{"name": "Arduino Uno", "fqbn": "arduino:avr:uno"}]), ("/dev/ttyS0", [])]
    assert tools.calls() == [{"tool": "arduino-cli", "argv": ["board", "list", "--format", "json"]}]


def test_arduino_cli_ports_is_empty_without_arduino_cli(tools):
    assert flash.arduino_cli_ports() == [] and tools.calls() == []


def test_list_ports_merges_pyserial_and_arduino_cli(tools, monkeypatch, no_pyserial_ports):
    tools.install("arduino-cli")
    monkeypatch.setenv("TINYLAB_FAKE_DETECTED", "/dev/ttyTLACM0=nano33ble,/dev/ttyTLS0=")
    no_pyserial_ports += [_pyserial_port("/dev/ttyTLACM0", 0x2341, 0x805A, "Nano 33 BLE"),
                          _pyserial_port("/dev/ttyTLUSB0", 0x2341, 0x0043, "Arduino Uno")]
    ports = {p["device"]: p for p in flash.list_ports()}
    assert sorted(ports) == ["/dev/ttyTLACM0", "/dev/ttyTLS0", "/dev/ttyTLUSB0"]
    assert ports["/dev/ttyTLACM0"]["board_id"] == "nano33ble"
    assert ports["/dev/ttyTLACM0"]["fqbn"] == "arduino:mbed_nano:nano33ble"
    assert ports["/dev/ttyTLACM0"]["description"] == "Nano 33 BLE"   # pyserial's words kept
    assert ports["/dev/ttyTLUSB0"]["board_id"] == "uno"              # from the USB ids alone
    assert ports["/dev/ttyTLS0"]["board_id"] is None
    assert all(p["accessible"] is False for p in ports.values())   # no such devices here


def test_list_ports_falls_back_to_pyserial_when_arduino_cli_hangs(tools, monkeypatch,
                                                                  no_pyserial_ports):
    tools.install("arduino-cli")
    tools.scenario("hang")
    monkeypatch.setattr(flash, "_BOARD_LIST_TIMEOUT_S", 1)
    no_pyserial_ports.append(_pyserial_port("/dev/ttyACM0", 0x2341, 0x0043))
    started = time.monotonic()
    assert [p["device"] for p in flash.list_ports()] == ["/dev/ttyACM0"]
    assert time.monotonic() - started < 10
    with pytest.raises(FlashError, match="did not finish") as caught:
        flash.arduino_cli_ports()
    assert caught.value.reason == "timeout"


def test_find_port_picks_the_one_board(tools, no_pyserial_ports):
    no_pyserial_ports += [_pyserial_port("/dev/ttyS0"), _pyserial_port("/dev/ttyACM0", 0x2341, 0x0043)]
    assert flash.find_port() == "/dev/ttyACM0"
    assert flash.find_port("uno") == "/dev/ttyACM0"
    with pytest.raises(FlashError, match=r"no Arduino Nano 33 BLE Sense.*found.*"
                                         r"/dev/ttyACM0 \(Arduino Uno \(R3\)\), /dev/ttyS0 \(n/a\)"):
        flash.find_port("nano33ble")


def test_find_port_says_what_there_is_when_no_board_is_plugged_in(tools, no_pyserial_ports):
    with pytest.raises(FlashError, match="no serial ports at all") as caught:
        flash.find_port()
    assert caught.value.reason == "no-port" and "virtual Uno" in str(caught.value)
    no_pyserial_ports += [_pyserial_port("/dev/ttyACM0", 0x2341, 0x0043),
                          _pyserial_port("/dev/ttyACM1", 0x2A03, 0x0043)]
    with pytest.raises(FlashError, match=r"several boards.*port='/dev/ttyACM0'"):
        flash.find_port("uno")


# ----------------------------------------------------------------------------- choosing a tool

def test_uploader_prefers_arduino_cli_then_avrdude(tools):
    with pytest.raises(FlashError, match="sudo apt-get install -y avrdude") as caught:
        flash.uploader("uno")
    assert caught.value.reason == "no-uploader" and "arduino-cli" in str(caught.value)
    tools.install("avrdude")
    assert flash.uploader("uno")[0] == "avrdude"
    with pytest.raises(FlashError, match="arduino-cli core install arduino:mbed_nano"):
        flash.uploader("nano33ble")     # avrdude cannot program the nRF52840
    tools.install("arduino-cli")
    assert flash.uploader("uno")[0] == "arduino-cli"
    assert flash.uploader("uno", tool="avrdude")[0] == "avrdude"
    assert flash.uploader("nano33ble")[0] == "arduino-cli"
    with pytest.raises(ValueError, match="AVR boards only"):
        flash.uploader("nano33ble", tool="avrdude")


# ----------------------------------------------------------------------------- uploading

def test_upload_with_avrdude_runs_the_documented_command(tools, firmware):
    tools.install("avrdude")
    done = flash.upload(firmware.build, firmware.port)
    assert tools.calls() == [{"tool": "avrdude", "argv": [
        "-p", "atmega328p", "-c", "arduino", "-P", firmware.port, "-b", "115200", "-D",
        "-U", f"flash:w:{firmware.hex}:i"]}]
    assert done["tool"] == "avrdude" and done["bytes_written"] == 924
    assert done["port"] == firmware.port and done["board"] == "uno"
    assert "924 bytes of flash verified" in done["output"]


def test_upload_with_avrdude_takes_a_hex_file_or_a_build_folder(tools, firmware):
    tools.install("avrdude")
    flash.upload(firmware.hex, firmware.port, "uno")
    flash.upload(firmware.dir, firmware.port, "uno")  # the one .hex that is not with_bootloader
    assert [call["argv"][-1] for call in tools.calls()] == [f"flash:w:{firmware.hex}:i"] * 2


def test_upload_with_arduino_cli_uses_the_build_folder(tools, firmware):
    tools.install("arduino-cli", "avrdude")
    done = flash.upload(firmware.build, firmware.port)
    assert tools.calls() == [{"tool": "arduino-cli", "argv": [
        "upload", "-p", firmware.port, "--fqbn", "arduino:avr:uno", "--input-dir", str(firmware.dir)]}]
    assert done["tool"] == "arduino-cli" and done["bytes_written"] == 924
    flash.upload(firmware.hex, firmware.port, "uno")
    assert tools.calls()[-1]["argv"][-2:] == ["--input-file", str(firmware.hex)]


def test_upload_to_a_nano_33_ble_reads_bossacs_report(tools, tmp_path):
    tools.install("arduino-cli")
    build_dir = tmp_path / "nano"
    build_dir.mkdir()
    (build_dir / "inference.ino.bin").write_bytes(bytes(84088))
    port = tmp_path / "ttyACM1"
    port.touch()
    build = SimpleNamespace(hex_path=None, build_dir=build_dir, board="nano33ble")
    done = flash.upload(build, str(port))
    assert tools.calls()[0]["argv"][:5] == ["upload", "-p", str(port), "--fqbn",
                                            "arduino:mbed_nano:nano33ble"]
    assert done["bytes_written"] == 84088 and done["port"] == str(port)
    tools.scenario("not-in-sync")
    with pytest.raises(FlashError, match="double-press its reset button") as caught:
        flash.upload(build, str(port))
    assert caught.value.reason == "not-in-sync"


@pytest.mark.parametrize("tool", ["avrdude", "arduino-cli"])
@pytest.mark.parametrize("scenario, reason, advice", [
    ("permission", "permission", "sudo usermod -aG dialout $USER"),
    ("busy", "busy", "Serial Monitor"),
    ("not-in-sync", "not-in-sync", "press the reset button"),
])
def test_upload_failures_become_plain_words(tools, firmware, no_pyserial_ports, tool, scenario,
                                            reason, advice):
    tools.install(tool)
    tools.scenario(scenario)
    with pytest.raises(FlashError) as caught:
        flash.upload(firmware.build, firmware.port)
    assert caught.value.reason == reason
    assert advice in str(caught.value)
    assert caught.value.output  # what the tool said is kept for the curious


@pytest.mark.parametrize("tool", ["avrdude", "arduino-cli"])
def test_a_port_that_is_not_there_lists_the_ports(tools, firmware, no_pyserial_ports, tool):
    tools.install(tool)
    no_pyserial_ports.append(_pyserial_port("/dev/ttyS0"))
    with pytest.raises(FlashError, match=r"no serial port .*ttyGONE.*/dev/ttyS0") as caught:
        flash.upload(firmware.build, str(Path(firmware.port).with_name("ttyGONE")))
    assert caught.value.reason == "no-port"
    assert tools.calls()  # the tool ran (the port is not under /dev) and said so itself


def test_a_missing_dev_port_is_caught_before_any_tool_runs(tools, firmware, no_pyserial_ports):
    tools.install("avrdude")
    with pytest.raises(FlashError, match="no serial port /dev/ttyTINYLAB-GONE") as caught:
        flash.upload(firmware.build, "/dev/ttyTINYLAB-GONE")
    assert caught.value.reason == "no-port" and tools.calls() == []


def test_the_wrong_chip_is_named(tools, firmware):
    tools.install("avrdude")
    tools.scenario("wrong-chip")
    with pytest.raises(FlashError, match="not the Arduino Uno \\(R3\\)'s ATmega328P") as caught:
        flash.upload(firmware.build, firmware.port)
    assert caught.value.reason == "wrong-chip"


def test_a_missing_arduino_cli_core_says_how_to_install_it(tools, firmware):
    tools.install("arduino-cli")
    tools.scenario("no-core")
    with pytest.raises(FlashError, match="arduino-cli core install arduino:avr") as caught:
        flash.upload(firmware.build, firmware.port)
    assert caught.value.reason == "no-core"


def test_a_hung_upload_times_out(tools, firmware):
    tools.install("avrdude")
    tools.scenario("hang")
    started = time.monotonic()
    with pytest.raises(FlashError, match="did not finish within 1 s") as caught:
        flash.upload(firmware.build, firmware.port, timeout_s=1)
    assert caught.value.reason == "timeout" and time.monotonic() - started < 10


def test_upload_finds_the_port_when_none_is_given(tools, firmware, monkeypatch):
    tools.install("avrdude")
    monkeypatch.setattr(flash, "list_ports", lambda: [
        {"device": firmware.port, "board_id": "uno", "board": None, "description": "Uno"}])
    assert flash.upload(firmware.build)["port"] == firmware.port


def test_a_build_that_does_not_fit_is_never_uploaded(tools, firmware):
    from tinylab import build

    tools.install("avrdude")
    too_big = build.BuildResult(
        sketch="inference", sketch_dir=firmware.dir, board="uno", board_name="Arduino Uno (R3)",
        fqbn="arduino:avr:uno", toolchain="arduino-builder", build_dir=firmware.dir,
        elf_path=None, hex_path=None, flash_bytes=40000, ram_bytes=900,
        flash_limit_bytes=32256, ram_limit_bytes=2048, fits=False)
    with pytest.raises(FlashError, match="does not fit") as caught:
        flash.upload(too_big, firmware.port)
    assert caught.value.reason == "too-big" and tools.calls() == []


def test_upload_refuses_what_it_cannot_upload(tools, firmware, tmp_path):
    tools.install("avrdude")
    with pytest.raises(ValueError, match="no firmware at"):
        flash.upload(tmp_path / "missing.hex", firmware.port)
    with pytest.raises(ValueError, match="unknown board"):
        flash.upload(firmware.hex, firmware.port, "mega")
    with pytest.raises(ValueError, match="this build is for 'uno'"):
        flash.upload(firmware.build, firmware.port, "nano33ble")
    with pytest.raises(TypeError, match="BuildResult"):
        flash.upload(42, firmware.port)
    assert tools.calls() == []
