"""Compile an Arduino sketch and measure what it costs: flash and RAM against the board's limits.

Lesson ``08_deploy`` compiles the inference sketch for each weight format and compares the
bytes each one takes on the chip. Three toolchains are supported:

- ``arduino-cli`` when it is on PATH (what owners of a Nano 33 BLE Sense use): ``compile
  --format json`` reports ``builder_result.executable_sections_size``;
- otherwise Debian's ``arduino-builder`` + ``arduino-core-avr`` + ``gcc-avr`` for AVR boards
  (the Uno), offline; flash and RAM come from the builder's "Sketch uses N bytes ... Global
  variables use M bytes" lines, or ``avr-size -A`` on the ELF;
- where arduino-builder is not installed either (Ubuntu 24.04 may not package it), plain
  ``avr-gcc`` with the core sources ``arduino-core-avr`` installs, run by the core's own
  recipes (:mod:`tinylab._avr_core`): the same commands arduino-builder runs, so the same
  firmware, byte for byte; flash and RAM from ``avr-size -A``.

A build that is too big is not an error of the compiler but of the plan: when the linker
cannot place the program, :func:`compile_sketch` still returns a :class:`BuildResult` with
``fits=False`` and the bytes it needed, and :func:`check_fits` refuses it before any upload.

Builds are cached by a hash of the sketch's source files, the board and the toolchain, under
``$TINYLAB_CACHE/builds`` (default ``~/.cache/tinylab``), so building the same sketch again is
instant.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from . import _avr_core, boards
from .errors import TinyLabError

__all__ = ["BuildResult", "BuildError", "ToolchainMissing", "CompileError", "DoesNotFit",
           "compile_sketch", "check_fits", "missing_tools", "cache_dir", "AVR_APT_LINE"]

#: The Debian packages that compile Uno sketches offline.
AVR_APT_LINE = "sudo apt-get install -y arduino-builder arduino-core-avr arduino-ctags gcc-avr avr-libc"
ARDUINO_CLI_INSTALL = ("install arduino-cli (https://arduino.github.io/arduino-cli/latest/installation/), "
                       "then run: arduino-cli core install arduino:mbed_nano")

# Where Debian's packages put the Arduino hardware and builder tools (DESIGN.md, checked).
_DEBIAN_HARDWARE_DIRS = ("/usr/share/arduino/hardware", "/usr/share/arduino-builder")
_DEBIAN_TOOLS_DIR = "/usr/share/arduino-builder"
# Debian ships core 1.8.7 with avr-libc 2.0, whose float.h lacks DECIMAL_DIG: define it.
_DEBIAN_EXTRA_FLAGS = "compiler.cpp.extra_flags=-DDECIMAL_DIG=17"
_AVR_LIBC_HEADER = "/usr/lib/avr/include/avr/io.h"
# Parallel compiles of the plain avr-gcc build (arduino-builder runs one per core too).
_AVR_GCC_JOBS = max(1, min(4, os.cpu_count() or 1))
# ATmega328P datasheet (DS40002061) section 8.3: SRAM starts at 0x0100; avr-gcc maps the data
# space at 0x800000. Used to turn the linker's "address ... not within region `data'" into bytes.
_AVR_RAM_START = 0x800100

_SOURCE_SUFFIXES = {".ino", ".pde", ".h", ".hh", ".hpp", ".c", ".cc", ".cpp", ".cxx", ".s", ".S",
                    ".inc", ".ipp", ".tpp"}
_STAMP = "tinylab-build.json"
# Bump when the build recipe (flags, parsing) changes, so old cache entries are not reused.
_RECIPE_VERSION = "1"
# Generous: arduino-cli's first build of the mbed core for the Nano 33 BLE takes minutes.
_BUILD_TIMEOUT_S = 900


class BuildError(TinyLabError):
    """A sketch could not be built (base class of the errors below)."""


class ToolchainMissing(BuildError):
    """No toolchain on this machine can build for the board; the message says how to get one."""


class CompileError(BuildError):
    """The compiler or linker rejected the sketch; ``compiler_output`` holds everything it said."""

    def __init__(self, message: str, compiler_output: str = ""):
        super().__init__(message)
        self.compiler_output = compiler_output


class DoesNotFit(BuildError):
    """A build exceeds the board's flash or RAM; raised by :func:`check_fits` before any upload."""

    def __init__(self, message: str, result: "BuildResult"):
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class BuildResult:
    """One build of a sketch for a board, and what it costs.

    ``flash_bytes`` is program memory (code + constant data, ``.text + .data``), ``ram_bytes``
    static RAM (``.data + .bss``; the stack comes on top at run time). Either is ``None`` when
    the linker failed before it could be measured (the other then shows the overflow).
    ``elf_path``/``hex_path`` are ``None`` when the link failed because the program did not fit.
    """

    sketch: str
    sketch_dir: Path
    board: str
    board_name: str
    fqbn: str
    toolchain: str
    build_dir: Path
    elf_path: Path | None
    hex_path: Path | None
    flash_bytes: int | None
    ram_bytes: int | None
    flash_limit_bytes: int
    ram_limit_bytes: int
    fits: bool
    cached: bool = False
    build_seconds: float = 0.0
    compiler_output: str = ""
    problem: str | None = None

    @property
    def flash_share(self) -> float | None:
        """Fraction of the board's usable flash taken (1.0 = full)."""
        return None if self.flash_bytes is None else self.flash_bytes / self.flash_limit_bytes

    @property
    def ram_share(self) -> float | None:
        """Fraction of the board's RAM taken by static data (1.0 = full)."""
        return None if self.ram_bytes is None else self.ram_bytes / self.ram_limit_bytes

    def to_dict(self) -> dict:
        """Plain data (paths as strings), e.g. for ``--json`` output."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
        data["flash_share"], data["ram_share"] = self.flash_share, self.ram_share
        return data


def cache_dir() -> Path:
    """TinyLab's per-user cache: ``$TINYLAB_CACHE``, else ``$XDG_CACHE_HOME/tinylab``, else
    ``~/.cache/tinylab`` (created if missing)."""
    if os.environ.get("TINYLAB_CACHE"):
        folder = Path(os.environ["TINYLAB_CACHE"]).expanduser()
    else:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinylab"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _is_avr(profile: dict) -> bool:
    return profile["fqbn"].startswith("arduino:avr:")


def _present(locate: str) -> bool:
    return Path(locate).exists() if locate.startswith("/") else shutil.which(locate) is not None


def _builder_missing() -> list:
    """What Debian's arduino-builder route lacks here (empty when it can run)."""
    needs = [  # (what, how to find it: command on PATH or absolute path)
        ("arduino-builder", "arduino-builder"),
        ("arduino-ctags", "arduino-ctags"),
        ("avr-gcc", "avr-gcc"),
        ("Arduino AVR core", str(_avr_core.CORE_DIR / "boards.txt")),
        ("avr-libc", _AVR_LIBC_HEADER),
    ]
    return [name for name, locate in needs if not _present(locate)]


def _avr_gcc_missing() -> list:
    """(what, Debian package) the plain avr-gcc build lacks here; empty when it can run."""
    core = _avr_core.CORE_DIR
    needs = [("avr-gcc", "gcc-avr", shutil.which("avr-gcc") is not None),
             ("avr-libc", "avr-libc", Path(_AVR_LIBC_HEADER).is_file()),
             (f"the Arduino AVR core ({core})", "arduino-core-avr",
              all((core / name).exists() for name in ("platform.txt", "boards.txt", "cores")))]
    return [(what, package) for what, package, present in needs if not present]


def missing_tools(board: str = "uno") -> list:
    """What this machine lacks to compile for ``board`` offline (empty when ready).

    With arduino-cli on PATH nothing is missing (its cores are its own business: a missing core
    shows up as a compile error naming it). Otherwise AVR boards need Debian's packages
    (:data:`AVR_APT_LINE`), or, without arduino-builder, only avr-gcc, avr-libc and the
    Arduino AVR core (the plain avr-gcc build); other boards need arduino-cli.
    """
    profile = boards.load(board)
    if shutil.which("arduino-cli"):
        return []
    if not _is_avr(profile):
        return ["arduino-cli"]
    missing = _builder_missing()
    if missing and not shutil.which("arduino-builder") and not _avr_gcc_missing():
        return []
    return missing


def _choose_toolchain(profile: dict, toolchain: str | None) -> str:
    if toolchain not in (None, "arduino-cli", "arduino-builder", "avr-gcc"):
        raise ValueError(f"toolchain must be None (choose automatically), 'arduino-cli', "
                         f"'arduino-builder' or 'avr-gcc', got {toolchain!r}")
    where = f"the {profile['name']} ({profile['fqbn']})"
    if toolchain == "arduino-cli" or (toolchain is None and shutil.which("arduino-cli")):
        if not shutil.which("arduino-cli"):
            raise ToolchainMissing(f"arduino-cli is not on PATH; {ARDUINO_CLI_INSTALL}")
        return "arduino-cli"
    if not _is_avr(profile):
        raise ToolchainMissing(f"compiling for {where} needs arduino-cli, which is not on PATH; "
                               f"{ARDUINO_CLI_INSTALL}")
    plain_missing = _avr_gcc_missing()
    plain_line = f"sudo apt-get install -y {' '.join(package for _, package in plain_missing)}"
    if toolchain == "avr-gcc":
        if plain_missing:
            raise ToolchainMissing(f"compiling for {where} with plain avr-gcc needs "
                                   f"{', '.join(what for what, _ in plain_missing)}. "
                                   f"Install it with:\n  {plain_line}")
        return "avr-gcc"
    if toolchain is None and not shutil.which("arduino-builder") and not plain_missing:
        return "avr-gcc"
    missing = _builder_missing()
    if missing:
        raise ToolchainMissing(f"compiling for {where} offline needs Debian's Arduino toolchain; "
                               f"missing: {', '.join(missing)}. Install it with:\n  {AVR_APT_LINE}\n"
                               f"(where arduino-builder is not packaged, avr-gcc builds without it: "
                               f"sudo apt-get install -y gcc-avr avr-libc arduino-core-avr; "
                               f"or {ARDUINO_CLI_INSTALL.replace('mbed_nano', 'avr')})")
    return "arduino-builder"


def _sketch_files(sketch_dir: Path) -> list:
    return sorted(p for p in sketch_dir.rglob("*")
                  if p.is_file() and p.suffix in _SOURCE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(sketch_dir).parts))


def _resolve_sketch(sketch_dir) -> tuple:
    path = Path(sketch_dir).expanduser().resolve()
    if path.is_file() and path.suffix == ".ino":
        path = path.parent
    main = path / f"{path.name}.ino"
    if not path.is_dir() or not main.is_file():
        raise ValueError(f"{sketch_dir} is not an Arduino sketch: expected a folder NAME/ holding "
                         f"NAME.ino (e.g. boards/sketches/echo/echo.ino)")
    return path, path.name


def _build_key(sketch_dir: Path, board: str, profile: dict, toolchain: str) -> str:
    digest = hashlib.sha256()
    tool = shutil.which(toolchain) or toolchain
    tool_stamp = os.stat(tool).st_mtime_ns if os.path.exists(tool) else 0
    digest.update(json.dumps([_RECIPE_VERSION, board, profile["fqbn"], toolchain, tool,
                              tool_stamp]).encode())
    for path in _sketch_files(sketch_dir):
        digest.update(str(path.relative_to(sketch_dir)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _run(command: list) -> subprocess.CompletedProcess:
    # LC_ALL=C: plain ASCII quotes in gcc's messages, the same on every machine.
    env = {**os.environ, "LC_ALL": "C"}
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S,
                              env=env)
    except subprocess.TimeoutExpired as error:
        raise BuildError(f"{command[0]} did not finish within {_BUILD_TIMEOUT_S} s: "
                         f"{' '.join(command)}") from error


def _first_errors(output: str, max_lines: int = 12) -> str:
    """The compiler's first error and a few lines of context (gcc's source line and caret)."""
    lines = [line for line in output.splitlines()
             if line.strip() and not re.fullmatch(r"exit status \d+", line.strip())]
    for index, line in enumerate(lines):
        if re.search(r"\b(error|Error|fatal)\b", line):
            start = index - 1 if index > 0 and lines[index - 1].rstrip().endswith(":") else index
            return "\n".join(lines[start:start + max_lines])
    return "\n".join(lines[-max_lines:])


def _sizes_from_overflow(output: str, profile: dict) -> tuple:
    """(flash_bytes, ram_bytes) needed, from the linker's overflow messages; None if unknown."""
    flash_bytes = ram_bytes = None
    for region, extra in re.findall(r"region [`'](\w+)' overflowed by (\d+) bytes", output):
        if region.lower() in ("text", "flash", "rom"):
            flash_bytes = profile["flash_bytes"] + int(extra)
        elif region.lower() in ("data", "ram"):
            ram_bytes = profile["ram_bytes"] + int(extra)
    if _is_avr(profile) and profile["mcu"] == "ATmega328P":
        ends = re.findall(r"address (0x[0-9a-fA-F]+) of \S+ section [`']\.\w+' is not within "
                          r"region [`']data'", output)
        if ends:
            ram_bytes = max(int(end, 16) for end in ends) - _AVR_RAM_START
    return flash_bytes, ram_bytes


def _avr_size(elf_path: Path) -> tuple:
    """(flash_bytes, ram_bytes) from ``avr-size -A``: flash = .text + .data, RAM = .data + .bss + .noinit."""
    done = _run(["avr-size", "-A", str(elf_path)])
    if done.returncode != 0:
        raise BuildError(f"avr-size could not read {elf_path}: {done.stderr.strip()}")
    sections = {name: int(size) for name, size in
                re.findall(r"^\.(\w+)\s+(\d+)\s+\d+\s*$", done.stdout, flags=re.MULTILINE)}
    flash_bytes = sections.get("text", 0) + sections.get("data", 0)
    ram_bytes = sections.get("data", 0) + sections.get("bss", 0) + sections.get("noinit", 0)
    return flash_bytes, ram_bytes


def _artifacts(build_dir: Path, sketch: str) -> tuple:
    elf, hex_ = build_dir / f"{sketch}.ino.elf", build_dir / f"{sketch}.ino.hex"
    return (elf if elf.is_file() else None), (hex_ if hex_.is_file() else None)


def _build_with_arduino_builder(sketch_dir: Path, sketch: str, profile: dict, build_dir: Path):
    command = ["arduino-builder"]
    for hardware in _DEBIAN_HARDWARE_DIRS:
        command += ["-hardware", hardware]
    command += ["-tools", _DEBIAN_TOOLS_DIR, "-fqbn", profile["fqbn"], f"-prefs={_DEBIAN_EXTRA_FLAGS}",
                "-build-path", str(build_dir), str(sketch_dir / f"{sketch}.ino")]
    done = _run(command)
    output = done.stdout + done.stderr
    elf_path, _ = _artifacts(build_dir, sketch)
    flash_bytes = ram_bytes = None
    if elf_path is not None:
        used = re.search(r"Sketch uses (\d+) bytes", done.stdout)
        static = re.search(r"Global variables use (\d+) bytes", done.stdout)
        if used and static:
            flash_bytes, ram_bytes = int(used.group(1)), int(static.group(1))
        elif shutil.which("avr-size"):
            flash_bytes, ram_bytes = _avr_size(elf_path)
    return done.returncode == 0, output, flash_bytes, ram_bytes


def _run_all(commands: list) -> list:
    """Run independent commands (compiles), a few at a time; their results in the same order."""
    if len(commands) <= 1 or _AVR_GCC_JOBS == 1:
        return [_run(command) for command in commands]
    with ThreadPoolExecutor(max_workers=_AVR_GCC_JOBS) as pool:
        return list(pool.map(_run, commands))


def _compile_all(properties: dict, sources: list, source_root: Path, object_root: Path):
    """Compile ``sources`` by the core's recipes; (objects, output, all succeeded)."""
    objects = [_avr_core.object_path(source, source_root, object_root) for source in sources]
    commands = []
    for source, obj in zip(sources, objects):
        obj.parent.mkdir(parents=True, exist_ok=True)
        commands.append(_avr_core.command(properties, _avr_core.recipe_for(source),
                                          source_file=str(source), object_file=str(obj)))
    done = _run_all(commands)
    output = "".join(d.stdout + d.stderr for d in done)
    return objects, output, all(d.returncode == 0 for d in done)


def _build_with_avr_gcc(sketch_dir: Path, sketch: str, profile: dict, build_dir: Path):
    """The sketch built with plain avr-gcc by the recipes of the Arduino AVR core
    (:mod:`tinylab._avr_core`): the steps and commands of arduino-builder, without it."""
    try:
        properties = _avr_core.load(
            profile["fqbn"].rsplit(":", 1)[-1], build_path=build_dir, project_name=f"{sketch}.ino",
            compiler_dir=Path(shutil.which("avr-gcc")).parent, prefs=[_DEBIAN_EXTRA_FLAGS])
    except (OSError, ValueError) as error:
        raise ToolchainMissing(f"the Arduino AVR core in {_avr_core.CORE_DIR} is incomplete: "
                               f"{error}. Reinstall it with:\n"
                               f"  sudo apt-get install --reinstall -y arduino-core-avr") from error
    # The sketch: NAME.ino.cpp and copies of its files in build/sketch, compiled there.
    sketch_build = build_dir / "sketch"
    sources = _avr_core.prepare_sketch(sketch_dir, sketch, _sketch_files(sketch_dir), sketch_build)
    objects, output, succeeded = _compile_all(properties, sources, sketch_build, sketch_build)
    if not succeeded:
        return False, output, None, None
    # The core into core/core.a, one object at a time (recipe.ar.pattern); the variant's
    # sources, if any, are linked as objects.
    core_build = build_dir / "core"
    shutil.rmtree(core_build, ignore_errors=True)
    core_path = Path(properties["build.core.path"])
    core_objects, core_output, succeeded = _compile_all(
        properties, _avr_core.sources(core_path, recurse=True), core_path, core_build)
    output += core_output
    variant_path = Path(properties["build.variant.path"])
    if succeeded and variant_path.is_dir():
        variant_objects, variant_output, succeeded = _compile_all(
            properties, _avr_core.sources(variant_path, recurse=True), variant_path,
            build_dir / "variant")
        objects += variant_objects
        output += variant_output
    if not succeeded:
        return False, output, None, None
    for obj in core_objects:
        done = _run(_avr_core.command(properties, "recipe.ar.pattern", object_file=str(obj)))
        output += done.stdout + done.stderr
        if done.returncode != 0:
            return False, output, None, None
    # Link, then the .eep and .hex (a link that does not fit leaves no ELF: see compile_sketch).
    object_files = " ".join(f'"{obj}"' for obj in objects)
    for recipe in ("recipe.c.combine.pattern", "recipe.objcopy.eep.pattern",
                   "recipe.objcopy.hex.pattern"):
        done = _run(_avr_core.command(properties, recipe, object_files=object_files))
        output += done.stdout + done.stderr
        if done.returncode != 0:
            return False, output, None, None
    elf_path, _ = _artifacts(build_dir, sketch)
    flash_bytes, ram_bytes = _avr_size(elf_path)
    flash_limit, ram_limit = profile["flash_usable_bytes"], profile["ram_bytes"]
    # The two lines arduino-builder prints, and its verdict when the program is too big.
    output += (f"Sketch uses {flash_bytes} bytes ({flash_bytes * 100 // flash_limit}%) of program "
               f"storage space. Maximum is {flash_limit} bytes.\n"
               f"Global variables use {ram_bytes} bytes ({ram_bytes * 100 // ram_limit}%) of "
               f"dynamic memory, leaving {ram_limit - ram_bytes} bytes for local variables. "
               f"Maximum is {ram_limit} bytes.\n")
    succeeded = True
    if flash_bytes > flash_limit:
        output += "Sketch too big: it needs more flash than the board has.\n"
        succeeded = False
    if ram_bytes > ram_limit:
        output += "Not enough memory: the static data take more RAM than the board has.\n"
        succeeded = False
    return succeeded, output, flash_bytes, ram_bytes


def _avr_gcc_hint(output: str) -> str:
    """What the plain avr-gcc build does not do that arduino-builder does, when it shows."""
    if "was not declared in this scope" in output:
        return ("\n(if that is a function of the sketch: the avr-gcc toolchain does not write "
                "function prototypes as arduino-builder does; define or declare each function "
                "above its first use)")
    if re.search(r"fatal error: \S+\.h: No such file or directory", output):
        return ("\n(the avr-gcc toolchain compiles the core and the sketch's own files only, "
                "no Arduino libraries)")
    return ""


def _build_with_arduino_cli(sketch_dir: Path, sketch: str, profile: dict, build_dir: Path):
    done = _run(["arduino-cli", "compile", "--fqbn", profile["fqbn"], "--build-path", str(build_dir),
                 "--format", "json", str(sketch_dir)])
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return False, done.stdout + done.stderr, None, None
    output = "".join(str(report.get(key) or "") for key in ("compiler_out", "compiler_err", "error"))
    output += done.stderr
    sections = {s.get("name"): s for s in
                (report.get("builder_result") or {}).get("executable_sections_size") or []}
    flash_bytes = sections["text"]["size"] if "text" in sections else None
    ram_bytes = sections["data"]["size"] if "data" in sections else None
    succeeded = bool(report.get("success", done.returncode == 0)) and done.returncode == 0
    return succeeded, output, flash_bytes, ram_bytes


def _load_stamp(build_dir: Path, key: str) -> BuildResult | None:
    stamp = build_dir / _STAMP
    try:
        saved = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if saved.get("key") != key:
        return None
    fields = saved["result"]
    for name in ("elf_path", "hex_path"):
        if fields[name] is not None:
            fields[name] = build_dir / fields[name]
            if not fields[name].is_file():
                return None
    fields["sketch_dir"], fields["build_dir"] = Path(fields["sketch_dir"]), build_dir
    return BuildResult(**fields)


def _save_stamp(build_dir: Path, key: str, result: BuildResult) -> None:
    fields = result.to_dict()
    for name in ("flash_share", "ram_share", "cached", "build_seconds"):
        fields.pop(name)
    for name in ("elf_path", "hex_path"):
        if fields[name] is not None:
            fields[name] = Path(fields[name]).name      # relative: the folder may be renamed
    (build_dir / _STAMP).write_text(json.dumps({"key": key, "result": fields}, indent=1) + "\n")


def compile_sketch(sketch_dir, board: str = "uno", build_dir=None, *, toolchain: str | None = None,
                   force: bool = False) -> BuildResult:
    """Compile an Arduino sketch for a board and measure its flash and RAM.

    Parameters
    ----------
    sketch_dir : str or Path
        A sketch folder ``NAME/`` holding ``NAME.ino`` (and any ``.h``/``.cpp`` beside it), or
        the ``.ino`` file itself.
    board : str
        A board profile id from ``boards/`` (``"uno"``, ``"nano33ble"``).
    build_dir : str or Path, optional
        Where the build goes. Default: a folder in the per-user cache named by the hash of the
        sketch's files, the board and the toolchain.
    toolchain : {None, "arduino-cli", "arduino-builder", "avr-gcc"}
        None picks arduino-cli when it is on PATH, else Debian's arduino-builder (AVR only),
        else, for AVR boards, plain avr-gcc with the Arduino AVR core's sources and recipes.
    force : bool
        Rebuild even when the cache holds this exact build.

    Returns
    -------
    BuildResult
        ELF/HEX paths, ``flash_bytes``, ``ram_bytes``, the board's limits and ``fits``.
        ``cached`` says whether it came from the cache. A program too big to link still
        returns (``fits=False``); pass the result to :func:`check_fits` before uploading.

    Raises
    ------
    ValueError
        Unknown board, or a folder that is not a sketch.
    ToolchainMissing
        Nothing here can compile for the board (the message names the install line).
    CompileError
        The compiler rejected the sketch (the message shows its first error lines).

    Introduced in lesson ``08_deploy``.
    """
    profile = boards.load(board)
    sketch_dir, sketch = _resolve_sketch(sketch_dir)
    chosen = _choose_toolchain(profile, toolchain)
    started = time.perf_counter()
    key = _build_key(sketch_dir, board, profile, chosen)
    if build_dir is None:
        final_dir = cache_dir() / "builds" / f"{sketch}-{board}-{key[:16]}"
        work_dir = final_dir.with_name(f"{final_dir.name}.tmp{os.getpid()}")
    else:
        final_dir = work_dir = Path(build_dir).expanduser().resolve()

    if not force:
        cached = _load_stamp(final_dir, key)
        if cached is not None:
            return replace(cached, cached=True, sketch_dir=sketch_dir,
                           build_seconds=time.perf_counter() - started)

    if work_dir != final_dir:
        shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    for stale in _artifacts(work_dir, sketch) + (work_dir / _STAMP,):
        if stale is not None and stale.exists():
            stale.unlink()
    build = {"arduino-cli": _build_with_arduino_cli, "arduino-builder": _build_with_arduino_builder,
             "avr-gcc": _build_with_avr_gcc}[chosen]
    try:
        succeeded, output, flash_bytes, ram_bytes = build(sketch_dir, sketch, profile, work_dir)
        problem = None
        if flash_bytes is None and ram_bytes is None:
            flash_bytes, ram_bytes = _sizes_from_overflow(output, profile)
            if flash_bytes is None and ram_bytes is None:
                hint = _avr_gcc_hint(output) if chosen == "avr-gcc" else ""
                raise CompileError(f"compiling {sketch} for the {profile['name']} failed "
                                   f"({chosen}); the compiler says:\n{_first_errors(output)}{hint}",
                                   output)
            overflow = re.search(r"^.*(overflowed by|not within region).*$", output, re.MULTILINE)
            problem = "the linker could not place the program in the board's memory" + (
                ": " + re.sub(r" of \S+\.elf", "", overflow.group(0).split(": ", 1)[-1].strip())
                if overflow else "")
        elif not succeeded:
            verdict_line = re.search(r"^(Sketch too big|Not enough memory).*$", output, re.MULTILINE)
            problem = verdict_line.group(0) if verdict_line else _first_errors(output, max_lines=4)
        verdict = boards.fits(board, flash_bytes or 0, ram_bytes or 0)
        if not succeeded and verdict["fits"]:
            raise CompileError(f"building {sketch} for the {profile['name']} failed ({chosen}):\n"
                               f"{_first_errors(output)}", output)
        if work_dir != final_dir:
            if force:
                shutil.rmtree(final_dir, ignore_errors=True)
            try:
                os.replace(work_dir, final_dir)
            except OSError:             # another process finished the same build first
                shutil.rmtree(work_dir, ignore_errors=True)
        elf_path, hex_path = _artifacts(final_dir, sketch)
        result = BuildResult(
            sketch=sketch, sketch_dir=sketch_dir, board=board, board_name=profile["name"],
            fqbn=profile["fqbn"], toolchain=chosen, build_dir=final_dir, elf_path=elf_path,
            hex_path=hex_path, flash_bytes=flash_bytes, ram_bytes=ram_bytes,
            flash_limit_bytes=profile["flash_usable_bytes"], ram_limit_bytes=profile["ram_bytes"],
            fits=verdict["fits"] and (flash_bytes is not None and ram_bytes is not None),
            compiler_output=output, problem=problem)
        _save_stamp(final_dir, key, result)
    except BaseException:
        if work_dir != final_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
        raise
    return replace(result, build_seconds=time.perf_counter() - started)


def _amount(value: int | None, limit: int, what: str) -> str:
    if value is None:
        return f"{what}: not measured (the link failed first)"
    share = value / limit
    over = f", {value - limit:,} bytes too many" if value > limit else ""
    return f"{what}: {value:,} of {limit:,} bytes ({share:.0%}{over})"


def check_fits(result: BuildResult) -> BuildResult:
    """Refuse a build that exceeds its board's flash or RAM, before anything is uploaded.

    Returns ``result`` unchanged when it fits (so ``upload(check_fits(build))`` reads well);
    raises :class:`DoesNotFit` naming what overflowed and by how much otherwise.
    """
    if not isinstance(result, BuildResult):
        raise TypeError(f"check_fits expects the BuildResult of compile_sketch, got {type(result).__name__}")
    if result.fits:
        return result
    lines = [f"{result.sketch} does not fit the {result.board_name}; nothing was uploaded.",
             "  " + _amount(result.flash_bytes, result.flash_limit_bytes, "flash"),
             "  " + _amount(result.ram_bytes, result.ram_limit_bytes, "RAM (static)")]
    if result.problem:
        lines.append(f"  ({result.problem})")
    lines.append("Make the model smaller (pruning, quantization, Huffman coding) or use a bigger board.")
    raise DoesNotFit("\n".join(lines), result)
