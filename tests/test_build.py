"""tinylab.build: compile sketches, measure flash/RAM, refuse what does not fit, cache builds.

These tests compile real sketches with Debian's arduino-builder (or arduino-cli when present).
Without the toolchain they skip on a laptop and fail under CI (``CI`` set), naming the install
line: CI must never pass by skipping them.
"""

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tinylab import boards, build

ECHO_SKETCH = boards.BOARDS_DIR / "sketches" / "echo"

TOO_BIG_FOR_FLASH = """
// 40 KB of constants in flash: more than the Uno's 32 KB (one AVR object may not exceed 32 KB).
const uint8_t table_a[20480] PROGMEM = {1};
const uint8_t table_b[20480] PROGMEM = {2};
void setup() { Serial.begin(115200); }
void loop() {
  static uint16_t i = 0;
  i++;
  Serial.write(pgm_read_byte(&table_a[i % sizeof(table_a)]) + pgm_read_byte(&table_b[i % sizeof(table_b)]));
}
"""

TOO_BIG_FOR_RAM = """
// 3000 bytes of buffers in RAM: more than the Uno's 2048.
uint8_t buffer_a[1500];
uint8_t buffer_b[1500];
void setup() { Serial.begin(115200); }
void loop() {
  static uint16_t i = 0;
  i++;
  buffer_a[i % 1500] = i;
  buffer_b[i % 1500] = i;
  Serial.write(buffer_a[(i * 7) % 1500] + buffer_b[(i * 3) % 1500]);
}
"""

SYNTAX_ERROR = """
void setup() {
  Serial.begin(115200);
  int x = ;
}
void loop() {}
"""


def write_sketch(folder: Path, name: str, code: str) -> Path:
    sketch_dir = folder / name
    sketch_dir.mkdir(parents=True, exist_ok=True)
    (sketch_dir / f"{name}.ino").write_text(textwrap.dedent(code).lstrip())
    return sketch_dir


@pytest.fixture(scope="module")
def build_cache(tmp_path_factory):
    """A fresh build cache for this module (TINYLAB_CACHE), so 'first build' really is first."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("tinylab-cache")
        patch.setenv("TINYLAB_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def uno_toolchain(build_cache):
    missing = build.missing_tools("uno")
    if missing:
        message = (f"the Uno toolchain is missing ({', '.join(missing)}); install it with: "
                   f"{build.AVR_APT_LINE}")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return build_cache


@pytest.fixture(scope="module")
def echo_build(uno_toolchain):
    return build.compile_sketch(ECHO_SKETCH, board="uno", force=True)


def test_echo_sketch_builds_within_the_unos_limits(echo_build):
    uno = boards.load("uno")
    assert echo_build.fits
    assert 0 < echo_build.flash_bytes < uno["flash_usable_bytes"]
    assert 0 < echo_build.ram_bytes < uno["ram_bytes"]
    assert (echo_build.flash_limit_bytes, echo_build.ram_limit_bytes) == (32256, 2048)
    assert echo_build.elf_path.is_file() and echo_build.hex_path.is_file()
    assert echo_build.hex_path.read_text().startswith(":")          # Intel HEX
    assert not echo_build.cached
    assert build.check_fits(echo_build) is echo_build
    print(f"echo sketch: {echo_build.flash_bytes} B flash, {echo_build.ram_bytes} B RAM, "
          f"first build {echo_build.build_seconds:.2f} s with {echo_build.toolchain}")


def test_reported_sizes_agree_with_avr_size(echo_build):
    """The builder's "Sketch uses N bytes" equals .text + .data of the ELF (avr-size -A)."""
    if echo_build.toolchain != "arduino-builder":
        pytest.skip("checked on the arduino-builder path")
    listing = subprocess.run(["avr-size", "-A", str(echo_build.elf_path)], capture_output=True,
                             text=True, check=True).stdout
    sizes = {name: int(size) for name, size in re.findall(r"^\.(\w+)\s+(\d+)", listing, re.MULTILINE)}
    assert echo_build.flash_bytes == sizes["text"] + sizes["data"]
    assert echo_build.ram_bytes == sizes["data"] + sizes["bss"]


def test_second_build_comes_from_the_cache(echo_build, tmp_path):
    again = build.compile_sketch(ECHO_SKETCH, board="uno")
    assert again.cached
    assert again.build_seconds < 0.5
    assert (again.elf_path, again.flash_bytes, again.ram_bytes) == (
        echo_build.elf_path, echo_build.flash_bytes, echo_build.ram_bytes)
    print(f"cached build: {again.build_seconds * 1000:.1f} ms")

    # A changed source file is a different build.
    copy = write_sketch(tmp_path, "echo", (ECHO_SKETCH / "echo.ino").read_text())
    same = build.compile_sketch(copy)              # same sources, same board: same build
    assert same.cached and same.elf_path == echo_build.elf_path and same.sketch_dir == copy
    (copy / "echo.ino").write_text((copy / "echo.ino").read_text() + "\n// changed\n")
    changed = build.compile_sketch(copy)
    assert not changed.cached and changed.build_dir != echo_build.build_dir


def test_a_sketch_too_big_for_flash_is_refused_before_upload(uno_toolchain, tmp_path):
    result = build.compile_sketch(write_sketch(tmp_path, "too_big", TOO_BIG_FOR_FLASH))
    assert not result.fits
    assert result.flash_bytes > 40960 > result.flash_limit_bytes
    assert result.elf_path is None                    # the linker could not place it
    with pytest.raises(build.DoesNotFit, match=r"does not fit the Arduino Uno") as refused:
        build.check_fits(result)
    message = str(refused.value)
    assert "flash" in message and "nothing was uploaded" in message
    assert f"{result.flash_bytes:,}" in message and "32,256" in message
    assert refused.value.result is result
    assert build.compile_sketch(write_sketch(tmp_path, "too_big", TOO_BIG_FOR_FLASH)).cached


def test_a_sketch_too_big_for_ram_is_refused(uno_toolchain, tmp_path):
    result = build.compile_sketch(write_sketch(tmp_path, "too_much_ram", TOO_BIG_FOR_RAM))
    assert not result.fits
    assert result.ram_bytes > 3000 > result.ram_limit_bytes
    with pytest.raises(build.DoesNotFit, match=r"RAM \(static\): 3,\d{3} of 2,048 bytes"):
        build.check_fits(result)


def test_a_syntax_error_shows_the_compilers_message(uno_toolchain, tmp_path):
    with pytest.raises(build.CompileError) as failed:
        build.compile_sketch(write_sketch(tmp_path, "broken", SYNTAX_ERROR))
    message = str(failed.value)
    assert "compiling broken for the Arduino Uno (R3) failed" in message
    assert re.search(r"broken\.ino:3:\d+: error: expected", message), message
    assert "int x = ;" in message                       # gcc's source line, as it showed it
    assert "error:" in failed.value.compiler_output


def test_unknown_board_and_not_a_sketch_are_plain_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown board 'mega'.*uno"):
        build.compile_sketch(ECHO_SKETCH, board="mega")
    (tmp_path / "notes").mkdir()
    with pytest.raises(ValueError, match=r"expected a folder NAME/ holding NAME\.ino"):
        build.compile_sketch(tmp_path / "notes")
    with pytest.raises(TypeError, match="BuildResult"):
        build.check_fits({"fits": True})
    with pytest.raises(ValueError, match="toolchain must be"):
        build.compile_sketch(ECHO_SKETCH, toolchain="make")


def test_no_toolchain_names_the_install_line(monkeypatch, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(build.ToolchainMissing) as missing_avr:
        build.compile_sketch(ECHO_SKETCH, board="uno")
    assert build.AVR_APT_LINE in str(missing_avr.value)
    assert "arduino-builder" in build.missing_tools("uno")
    with pytest.raises(build.ToolchainMissing, match=r"needs arduino-cli.*core install arduino:mbed_nano"):
        build.compile_sketch(ECHO_SKETCH, board="nano33ble")


FAKE_ARDUINO_CLI = """\
#!{python}
# A stand-in for arduino-cli: records its arguments, writes the files a real build leaves and
# answers `compile --format json` the way arduino-cli 0.x/1.x does.
import json, pathlib, sys
args = sys.argv[1:]
pathlib.Path({record!r}).write_text(json.dumps(args))
build_path = pathlib.Path(args[args.index("--build-path") + 1])
sketch = pathlib.Path(args[-1]).name
build_path.mkdir(parents=True, exist_ok=True)
for suffix in (".ino.elf", ".ino.hex", ".ino.bin"):
    (build_path / (sketch + suffix)).write_bytes(b"fake")
print(json.dumps({{
    "compiler_out": "Sketch uses 86016 bytes (8%) of program storage space. Maximum is 983040 bytes.",
    "compiler_err": "",
    "builder_result": {{
        "build_path": str(build_path),
        "executable_sections_size": [
            {{"name": "text", "size": 86016, "max_size": 983040}},
            {{"name": "data", "size": 45872, "max_size": 262144}}]}},
    "success": True}}))
"""


def test_arduino_cli_is_used_when_on_path(monkeypatch, tmp_path, build_cache):
    bin_dir, record = tmp_path / "bin", tmp_path / "arduino-cli-args.json"
    bin_dir.mkdir()
    fake = bin_dir / "arduino-cli"
    fake.write_text(FAKE_ARDUINO_CLI.format(python=sys.executable, record=str(record)))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    result = build.compile_sketch(ECHO_SKETCH, board="nano33ble", build_dir=tmp_path / "out")
    args = json.loads(record.read_text())
    assert args[:3] == ["compile", "--fqbn", "arduino:mbed_nano:nano33ble"]
    assert "--format" in args and args[args.index("--format") + 1] == "json"
    assert result.toolchain == "arduino-cli" and result.fits
    assert (result.flash_bytes, result.ram_bytes) == (86016, 45872)
    assert result.elf_path == tmp_path / "out" / "echo.ino.elf"
    record.unlink()
    assert build.compile_sketch(ECHO_SKETCH, board="nano33ble", build_dir=tmp_path / "out").cached
    assert not record.exists()                  # the cache answered; arduino-cli was not run
