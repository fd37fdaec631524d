"""Building and running generated C models for the engine's tests: host gcc, avr-gcc, simavr.

Compilers that are missing skip their tests, except under CI, where they fail.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinylab import engine
from tinylab.boards import BOARDS_DIR

KERNELS = BOARDS_DIR / "engine"
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"]


def tool(name, package):
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (sudo apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the C engine tests, not skip them")
        pytest.skip(message)
    return path


def write(files, folder: Path, *extra):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    for name in extra:
        shutil.copy(KERNELS / name, folder / name)
    return folder


def host_build(mlp, format, folder, fuse=True):
    gcc = tool("gcc", "gcc")
    write(engine.generate_c(mlp, format, fuse=fuse), folder, "host_main.c")
    program = folder / "model"
    built = subprocess.run([gcc, *CFLAGS, "-O2", "-I", str(folder), str(folder / "tl_model.c"),
                            str(folder / "host_main.c"), "-o", str(program)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    return program


def host_run(program, x_int8, n_outputs):
    done = subprocess.run([str(program)], input=np.ascontiguousarray(x_int8).tobytes(),
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return np.frombuffer(done.stdout, np.int8).reshape(len(x_int8), n_outputs)


def avr_size(path):
    size = subprocess.run([tool("avr-size", "binutils-avr"), str(path)], capture_output=True,
                          text=True, check=True).stdout.splitlines()[-1].split()
    return {"text": int(size[0]), "data": int(size[1]), "bss": int(size[2])}


def avr_build(mlp, format, folder, fuse=True):
    """avr-size of the model's object and of a whole ATmega328P program linking it."""
    avr_gcc = tool("avr-gcc", "gcc-avr avr-libc")
    write(engine.generate_c(mlp, format, fuse=fuse), folder, "avr_main.c")
    common = [avr_gcc, "-mmcu=atmega328p", "-Os", *CFLAGS, "-I", str(folder)]
    built = subprocess.run([*common, "-c", str(folder / "tl_model.c"), "-o",
                            str(folder / "tl_model.o")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    linked = subprocess.run([*common, str(folder / "tl_model.c"), str(folder / "avr_main.c"),
                             "-o", str(folder / "model.elf")], capture_output=True, text=True)
    return {"object": avr_size(folder / "tl_model.o"),
            "program": avr_size(folder / "model.elf") if linked.returncode == 0 else None}


def avr_run(mlp, format, x_int8, folder, fuse=True):
    """Outputs of the model on a simulated ATmega328P (simavr), or None if it does not fit."""
    avr_gcc, simavr = tool("avr-gcc", "gcc-avr avr-libc"), tool("simavr", "simavr")
    write(engine.generate_c(mlp, format, fuse=fuse), folder, "avr_check.c")
    rows = ",\n".join("{" + ", ".join(map(str, row)) + "}" for row in x_int8)
    (folder / "examples.h").write_text(
        f"#define N_EXAMPLES {len(x_int8)}\nstatic const int8_t examples[{len(x_int8)}]"
        f"[{x_int8.shape[1]}] PROGMEM = {{\n{rows}\n}};\n")
    built = subprocess.run([avr_gcc, "-mmcu=atmega328p", "-Os", *CFLAGS, "-I", str(folder),
                            str(folder / "tl_model.c"), str(folder / "avr_check.c"), "-o",
                            str(folder / "check.elf")], capture_output=True, text=True)
    if "overflowed" in built.stderr:
        return None
    assert built.returncode == 0, built.stderr[-3000:]
    done = subprocess.run([simavr, "-m", "atmega328p", "-f", "16000000",
                           str(folder / "check.elf")], capture_output=True, text=True, timeout=300)
    printed = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    lines = re.findall(rf"\b[0-9a-f]{{{2 * mlp.n_outputs}}}\b", printed)
    return np.array([np.frombuffer(bytes.fromhex(line), np.int8) for line in lines])


def inference_on_host(folder: Path, model_dir: Path, model_object: Path) -> Path:
    """The inference sketch (``boards/sketches/inference``) compiled for this computer with g++
    against the stand-in Arduino core (``tests/fakes/arduino_host``), around a model object
    compiled from ``model_dir``'s ``model.h``: the host program, which speaks the serial
    protocol on stdin/stdout."""
    tool("g++", "g++")
    fakes = Path(__file__).parent / "fakes" / "arduino_host"
    sketch = BOARDS_DIR / "sketches" / "inference" / "inference.ino"
    program = Path(folder) / "inference"
    subprocess.run(["g++", "-Wall", "-Wextra", "-Werror", "-o", str(program), "-x", "c++",
                    "-include", "Arduino.h", f"-I{fakes}", f"-I{model_dir}", '-DTL_BOARD="uno"',
                    str(sketch), str(fakes / "arduino_host.cpp"), "-x", "none",
                    str(model_object)], check=True)
    return program
