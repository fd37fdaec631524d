"""The plain avr-gcc build (toolchain "avr-gcc"): Uno sketches without arduino-builder.

Where arduino-builder is not packaged (Ubuntu 24.04, Binder's image, may lack it), tinylab.build
compiles with avr-gcc and the Arduino AVR core's own recipes (tinylab/_avr_core.py). It runs
the commands arduino-builder runs, with the same flags, in the same order, so the firmware must
come out the same: these tests build TinyLab's real sketches both ways and compare the .hex
(and .eep) files byte for byte. Identical bytes are the same program, so nothing needs to run
on the virtual Uno to compare the two (tests/test_deploy.py runs the inference sketch there).

Real compilers throughout; only shutil.which (to hide arduino-cli and arduino-builder) and the
core's folder (to play a machine without arduino-core-avr) are patched. Without the tools these
tests skip on a laptop and fail under CI (``CI`` set), naming the install line.
"""

import os
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tinylab import _avr_core, boards, build, deploy, engine

ECHO_SKETCH = boards.BOARDS_DIR / "sketches" / "echo"
CAPTURE_SKETCH = boards.BOARDS_DIR / "sketches" / "capture_sim"   # a .cpp beside the .ino
REAL_WHICH = shutil.which


def _need(missing: list, line: str) -> None:
    if missing:
        message = f"missing {', '.join(missing)}; install with: {line}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def plain_tools():
    """avr-gcc, avr-libc and the Arduino AVR core: all the plain build needs."""
    missing = build._avr_gcc_missing()
    _need([what for what, _ in missing],
          "sudo apt-get install -y " + " ".join(package for _, package in missing))


@pytest.fixture
def both_toolchains(plain_tools):
    """The plain build and Debian's arduino-builder, to compare them."""
    _need(build._builder_missing(), build.AVR_APT_LINE)


def _student_mlp(seed=0):
    """A 64-32-10 int8 MLP with realistic scales, as deploy.integer_model makes them (no
    training needed: the compilers see the same C either way)."""
    rng = np.random.default_rng(seed)
    hidden = engine.FullyConnected.from_scales(
        rng.integers(-127, 128, (32, 64)), rng.integers(-20_000, 20_000, 32), input_scale=1 / 255,
        input_zero_point=-128, weight_scales=rng.uniform(0.002, 0.01, 32), output_scale=0.05,
        output_zero_point=-128, activation="RELU", name="hidden")
    logits = engine.FullyConnected.from_scales(
        rng.integers(-127, 128, (10, 32)), rng.integers(-5_000, 5_000, 10), input_scale=0.05,
        input_zero_point=-128, weight_scales=rng.uniform(0.005, 0.02, 10), output_scale=0.2,
        output_zero_point=20, name="logits")
    return engine.IntegerModel(ops=(hidden, logits), input_shape=(64,), output_shape=(10,),
                               input_scale=1 / 255, input_zero_point=-128, output_scale=0.2,
                               output_zero_point=20, model_hash="0000beef")


def _write_sketch(folder: Path, name: str, code: str) -> Path:
    sketch_dir = folder / name
    sketch_dir.mkdir(parents=True, exist_ok=True)
    (sketch_dir / f"{name}.ino").write_text(textwrap.dedent(code).lstrip())
    return sketch_dir


def _hide(monkeypatch, *commands):
    """Make shutil.which (as tinylab.build calls it) find none of ``commands``."""
    def which(name, *args, **kwargs):
        return None if name in commands else REAL_WHICH(name, *args, **kwargs)
    monkeypatch.setattr(build.shutil, "which", which)


# ---------------------------------------------------------------- the same firmware, both ways

@pytest.mark.parametrize("sketch", ["inference-int8", "inference-sparse", "inference-huffman",
                                    "capture_sim"])
def test_the_plain_build_equals_arduino_builders_byte_for_byte(both_toolchains, sketch, tmp_path):
    if sketch.startswith("inference-"):
        sketch_dir = deploy.write_sketch(_student_mlp(), sketch.split("-")[1], tmp_path / "sketch")
    else:
        sketch_dir = CAPTURE_SKETCH
    builds = {toolchain: build.compile_sketch(sketch_dir, "uno", tmp_path / toolchain,
                                              toolchain=toolchain, force=True)
              for toolchain in ("avr-gcc", "arduino-builder")}
    plain, builder = builds["avr-gcc"], builds["arduino-builder"]
    assert plain.toolchain == "avr-gcc" and plain.fits and not plain.cached
    assert plain.hex_path.read_bytes() == builder.hex_path.read_bytes()
    eep = [b.hex_path.with_suffix(".eep").read_bytes() for b in (plain, builder)]
    assert eep[0] == eep[1]
    assert (plain.flash_bytes, plain.ram_bytes) == (builder.flash_bytes, builder.ram_bytes)
    assert "Sketch uses" in plain.compiler_output
    print(f"{sketch}: {plain.flash_bytes} B flash, {plain.ram_bytes} B RAM both ways; "
          f"avr-gcc {plain.build_seconds:.2f} s, arduino-builder {builder.build_seconds:.2f} s")


# -------------------------------------------------------------------------- errors in plain words

def test_a_syntax_error_shows_the_compilers_first_error(plain_tools, tmp_path):
    broken = _write_sketch(tmp_path, "broken", """
        void setup() {
          Serial.begin(115200);
          int x = ;
        }
        void loop() {}
        """)
    with pytest.raises(build.CompileError) as failed:
        build.compile_sketch(broken, build_dir=tmp_path / "out", toolchain="avr-gcc")
    message = str(failed.value)
    assert "compiling broken for the Arduino Uno (R3) failed (avr-gcc)" in message
    # the student's file and line (#line 1 "broken.ino"), not the generated broken.ino.cpp
    assert re.search(r"/broken/broken\.ino:3:\d+: error: expected", message), message
    assert "int x = ;" in message
    assert "error:" in failed.value.compiler_output


def test_a_function_used_before_its_definition_gets_a_hint(plain_tools, tmp_path):
    """arduino-builder writes prototypes (with ctags); the plain build does not, and says so."""
    sketch = _write_sketch(tmp_path, "later", """
        void setup() { blink(); }
        void loop() {}
        void blink() { digitalWrite(13, HIGH); }
        """)
    with pytest.raises(build.CompileError, match=r"(?s)'blink' was not declared in this scope"
                       r".*declare each function above its first use"):
        build.compile_sketch(sketch, build_dir=tmp_path / "out", toolchain="avr-gcc")


def test_a_missing_core_names_its_package(plain_tools, monkeypatch, tmp_path):
    monkeypatch.setattr(_avr_core, "CORE_DIR", tmp_path / "no-core")
    with pytest.raises(build.ToolchainMissing) as missing:
        build.compile_sketch(ECHO_SKETCH, build_dir=tmp_path / "out", toolchain="avr-gcc")
    message = str(missing.value)
    assert "sudo apt-get install -y arduino-core-avr" in message
    assert str(tmp_path / "no-core") in message
    # nor is it chosen automatically then
    _hide(monkeypatch, "arduino-cli", "arduino-builder")
    with pytest.raises(build.ToolchainMissing, match="gcc-avr avr-libc arduino-core-avr"):
        build.compile_sketch(ECHO_SKETCH, build_dir=tmp_path / "out")
    assert "Arduino AVR core" in build.missing_tools("uno")


def test_a_missing_compiler_names_its_package(monkeypatch, tmp_path):
    _hide(monkeypatch, "avr-gcc")
    with pytest.raises(build.ToolchainMissing, match=r"needs avr-gcc.*\n  sudo apt-get install -y gcc-avr"):
        build.compile_sketch(ECHO_SKETCH, build_dir=tmp_path / "out", toolchain="avr-gcc")


def test_a_damaged_core_is_a_plain_error(plain_tools, monkeypatch, tmp_path):
    core = tmp_path / "avr"
    shutil.copytree(_avr_core.CORE_DIR / "cores", core / "cores")
    shutil.copy(_avr_core.CORE_DIR / "boards.txt", core)
    (core / "platform.txt").write_text("name=a platform.txt without recipes\n")
    monkeypatch.setattr(_avr_core, "CORE_DIR", core)
    with pytest.raises(build.ToolchainMissing,
                       match=r"(?s)incomplete.*recipe\.cpp\.o\.pattern.*--reinstall -y arduino-core-avr"):
        build.compile_sketch(ECHO_SKETCH, build_dir=tmp_path / "out", toolchain="avr-gcc")


# ------------------------------------------------------------------------------- automatic choice

def test_without_arduino_cli_and_arduino_builder_avr_gcc_is_chosen(plain_tools, monkeypatch,
                                                                      tmp_path):
    monkeypatch.setenv("TINYLAB_CACHE", str(tmp_path / "cache"))
    _hide(monkeypatch, "arduino-cli", "arduino-builder")
    assert build.missing_tools("uno") == []
    result = build.compile_sketch(ECHO_SKETCH)
    assert result.toolchain == "avr-gcc" and result.fits
    assert result.elf_path.is_file() and result.hex_path.read_text().startswith(":")
    assert build.check_fits(result) is result
    again = build.compile_sketch(ECHO_SKETCH)                   # the cache knows the toolchain
    assert again.cached and again.toolchain == "avr-gcc" and again.hex_path == result.hex_path
    # with arduino-builder back, the automatic choice is arduino-builder again: another build
    if REAL_WHICH("arduino-builder") and not build.missing_tools("uno"):
        _hide(monkeypatch, "arduino-cli")
        assert build._choose_toolchain(boards.load("uno"), None) == "arduino-builder"


def test_a_sketch_too_big_for_flash_is_measured_not_an_error(plain_tools, tmp_path):
    from test_build import TOO_BIG_FOR_FLASH  # the sketch the arduino-builder route is given

    sketch = _write_sketch(tmp_path, "too_big", TOO_BIG_FOR_FLASH)
    result = build.compile_sketch(sketch, build_dir=tmp_path / "out", toolchain="avr-gcc")
    assert not result.fits and result.flash_bytes > 40960 and result.elf_path is None
    with pytest.raises(build.DoesNotFit, match="does not fit the Arduino Uno"):
        build.check_fits(result)


# --------------------------------------------------------------------------- the recipes, by hand

def test_properties_expand_through_each_other_and_unknown_names_drop():
    properties = {"a": "{b}-{b}", "b": "{c}", "c": "x"}
    assert _avr_core.expand("[{a}] {unknown} {c}", properties) == "[x-x]  x"


def test_a_boards_menu_takes_its_first_option():
    boards_txt = {"nano.name": "Nano", "nano.build.mcu": "atmega328p",
                  "nano.menu.cpu.atmega328.build.f_cpu": "16000000L",
                  "nano.menu.cpu.atmega168.build.f_cpu": "8000000L"}
    assert _avr_core.board_properties(boards_txt, "nano") == {
        "name": "Nano", "build.mcu": "atmega328p", "build.f_cpu": "16000000L"}
    with pytest.raises(ValueError, match=r"no board 'mega'.*\['nano'\]"):
        _avr_core.board_properties(boards_txt, "mega")


def test_the_unos_compile_command_is_arduino_builders(plain_tools, tmp_path):
    properties = _avr_core.load("uno", build_path=tmp_path, project_name="x.ino",
                                compiler_dir="/usr/bin", prefs=[build._DEBIAN_EXTRA_FLAGS])
    argv = _avr_core.command(properties, "recipe.cpp.o.pattern", source_file="x.cpp",
                             object_file="x.cpp.o")
    core = _avr_core.CORE_DIR
    assert argv[0] == "/usr/bin/avr-g++" and argv[-3:] == ["x.cpp", "-o", "x.cpp.o"]
    for flag in ("-Os", "-w", "-std=gnu++11", "-flto", "-mmcu=atmega328p", "-DF_CPU=16000000L",
                 "-DARDUINO=10600", "-DARDUINO_AVR_UNO", "-DARDUINO_ARCH_AVR", "-DDECIMAL_DIG=17",
                 f"-I{core}/cores/arduino", f"-I{core}/variants/standard"):
        assert flag in argv, (flag, argv)
