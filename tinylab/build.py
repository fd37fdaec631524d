"""Compile an Arduino sketch and measure what it costs: flash and RAM against the board's limits.

Lesson ``08_deploy`` compiles the inference sketch for each weight format and compares the
bytes each one takes on the chip. Two toolchains are supported:

- ``arduino-cli`` when it is on PATH (what owners of a Nano 33 BLE Sense use): ``compile
  --format json`` reports ``builder_result.executable_sections_size``;
- otherwise Debian's ``arduino-builder`` + ``arduino-core-avr`` + ``gcc-avr`` for AVR boards
  (the Uno), offline; flash and RAM come from the builder's "Sketch uses N bytes ... Global
  variables use M bytes" lines, or ``avr-size -A`` on the ELF.

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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from . import boards
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
_AVR_BUILDER_NEEDS = [  # (what, how to find it: command on PATH or absolute path)
    ("arduino-builder", "arduino-builder"),
    ("arduino-ctags", "arduino-ctags"),
    ("avr-gcc", "avr-gcc"),
    ("Arduino AVR core", "/usr/share/arduino/hardware/arduino/avr/boards.txt"),
    ("avr-libc", "/usr/lib/avr/include/avr/io.h"),
]
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


def missing_tools(board: str = "uno") -> list:
    """What this machine lacks to compile for ``board`` offline (empty when ready).

    With arduino-cli on PATH nothing is missing (its cores are its own business: a missing core
    shows up as a compile error naming it). Otherwise AVR boards need Debian's packages
    (:data:`AVR_APT_LINE`) and other boards need arduino-cli.
    """
    profile = boards.load(board)
    if shutil.which("arduino-cli"):
        return []
    if not _is_avr(profile):
        return ["arduino-cli"]
    return [name for name, locate in _AVR_BUILDER_NEEDS if not _present(locate)]


def _choose_toolchain(profile: dict, toolchain: str | None) -> str:
    if toolchain not in (None, "arduino-cli", "arduino-builder"):
        raise ValueError(f"toolchain must be None (choose automatically), 'arduino-cli' or "
                         f"'arduino-builder', got {toolchain!r}")
    where = f"the {profile['name']} ({profile['fqbn']})"
    if toolchain == "arduino-cli" or (toolchain is None and shutil.which("arduino-cli")):
        if not shutil.which("arduino-cli"):
            raise ToolchainMissing(f"arduino-cli is not on PATH; {ARDUINO_CLI_INSTALL}")
        return "arduino-cli"
    if not _is_avr(profile):
        raise ToolchainMissing(f"compiling for {where} needs arduino-cli, which is not on PATH; "
                               f"{ARDUINO_CLI_INSTALL}")
    missing = [name for name, locate in _AVR_BUILDER_NEEDS if not _present(locate)]
    if missing:
        raise ToolchainMissing(f"compiling for {where} offline needs Debian's Arduino toolchain; "
                               f"missing: {', '.join(missing)}. Install it with:\n  {AVR_APT_LINE}\n"
                               f"(or {ARDUINO_CLI_INSTALL.replace('mbed_nano', 'avr')})")
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
    toolchain : {None, "arduino-cli", "arduino-builder"}
        None picks arduino-cli when it is on PATH, else Debian's arduino-builder (AVR only).
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
    build = _build_with_arduino_cli if chosen == "arduino-cli" else _build_with_arduino_builder
    try:
        succeeded, output, flash_bytes, ram_bytes = build(sketch_dir, sketch, profile, work_dir)
        problem = None
        if flash_bytes is None and ram_bytes is None:
            flash_bytes, ram_bytes = _sizes_from_overflow(output, profile)
            if flash_bytes is None and ram_bytes is None:
                raise CompileError(f"compiling {sketch} for the {profile['name']} failed "
                                   f"({chosen}); the compiler says:\n{_first_errors(output)}", output)
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
