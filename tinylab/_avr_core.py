"""Build an AVR sketch with plain avr-gcc, from the recipes of the Arduino core itself.

Debian's ``arduino-core-avr`` installs Arduino's AVR core in :data:`CORE_DIR`: the core's
sources (``cores/arduino``), the pin maps (``variants/``), ``boards.txt`` (what each board is:
``uno.build.mcu=atmega328p``, ``uno.build.f_cpu=16000000L``, ...) and ``platform.txt`` (how to
build for them: ``recipe.cpp.o.pattern="{compiler.path}{compiler.cpp.cmd}" {compiler.cpp.flags}
-mmcu={build.mcu} ...``). arduino-builder and arduino-cli read those two files; so does
arduino-mk; so does this module, for machines where neither builder is packaged (Ubuntu 24.04,
Binder's image, may lack ``arduino-builder``). :func:`tinylab.build.compile_sketch` runs the
commands; this module only says what they are.

What arduino-builder does, and what is done here the same way (so the firmware comes out byte
for byte the same; ``tests/test_build_plain.py`` checks it):

1. Properties: ``platform.txt``, overlaid by the board's lines of ``boards.txt`` (``uno.`` cut
   off; the first option of each board menu), overlaid by what the builder sets itself
   (``runtime.ide.version=10600``, ``build.arch=AVR``, ``build.path``, ``includes``, ...) and by
   preferences given as ``key=value`` (arduino-builder's ``-prefs``). ``{name}`` in a value is
   replaced by the property ``name`` (repeatedly: values refer to values); an unknown
   ``{name}`` is dropped, as arduino-builder drops it.
2. The sketch: its ``.ino`` files (the main one first, then the others by name) become one
   C++ file, ``NAME.ino.cpp``: ``#include <Arduino.h>``, then each file after a
   ``#line 1 "its path"`` (so the compiler's messages name the student's file and line). The
   sketch's other files are copied beside it; its ``.S``, ``.c`` and ``.cpp`` files (top
   level, and ``src/`` recursively) are compiled, in that order of kinds, each kind by name.
3. The core: ``cores/<build.core>``'s ``.S``, ``.c``, ``.cpp`` files in that order, each
   object added to ``core/core.a`` by ``recipe.ar.pattern``; the variant's sources, if any,
   are linked as objects.
4. ``recipe.c.combine.pattern`` links, ``recipe.objcopy.eep.pattern`` and
   ``recipe.objcopy.hex.pattern`` write ``NAME.ino.eep`` and ``NAME.ino.hex``.

What is *not* done: arduino-builder also writes a prototype for every function of the
``.ino`` (it runs ``arduino-ctags``), so that a sketch may call a function defined further
down. TinyLab's sketches define each function before its first use (they are C++ as a C++
compiler reads them), so they need none; a sketch that does not gets gcc's "'name' was not
declared in this scope", and :mod:`tinylab.build` adds a hint saying to declare the function
first. Arduino libraries (``#include <SPI.h>``, ...) are not searched for either: TinyLab's
AVR sketches use none, and such an include fails with "No such file or directory".
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

#: Where Debian's ``arduino-core-avr`` puts Arduino's AVR core (platform.txt, boards.txt,
#: cores/, variants/). Tests point it elsewhere to play a machine without the package.
CORE_DIR = Path("/usr/share/arduino/hardware/arduino/avr")

#: The Arduino version arduino-builder passes as ``-DARDUINO=`` unless told otherwise.
IDE_VERSION = "10600"

#: arduino-builder's default warnings level; ``compiler.warning_flags.none`` is ``-w``.
WARNINGS_LEVEL = "none"

#: Source kinds in the order arduino-builder compiles them, with their recipe.
SOURCE_RECIPES = ((".S", "recipe.S.o.pattern"), (".c", "recipe.c.o.pattern"),
                  (".cpp", "recipe.cpp.o.pattern"))

#: What a build reads from platform.txt and boards.txt; :func:`load` refuses a core without them.
REQUIRED = ("recipe.c.o.pattern", "recipe.cpp.o.pattern", "recipe.S.o.pattern", "recipe.ar.pattern",
            "recipe.c.combine.pattern", "recipe.objcopy.eep.pattern", "recipe.objcopy.hex.pattern",
            "build.mcu", "build.f_cpu", "build.board", "build.core")

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.\-]+)\}")
_INCLUDES_ARDUINO_H = re.compile(r'^\s*#\s*include\s*[<"]Arduino\.h[>"]', re.MULTILINE)


def read_properties(path) -> dict:
    """``key=value`` lines of an Arduino ``.txt`` file (``#`` comments and blank lines skipped)."""
    properties = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        properties[key.strip()] = value.strip()
    return properties


def board_properties(boards_txt: dict, board_id: str) -> dict:
    """One board's properties from ``boards.txt``: its ``ID.`` keys without the prefix, and for
    each ``ID.menu.MENU`` the first option's keys (what the IDE picks when none is chosen)."""
    prefix = f"{board_id}."
    own = {key[len(prefix):]: value for key, value in boards_txt.items() if key.startswith(prefix)}
    if not own:
        boards = sorted({key.split(".", 1)[0] for key in boards_txt if key.endswith(".name")})
        raise ValueError(f"boards.txt has no board {board_id!r}; it has {boards}")
    plain = {key: value for key, value in own.items() if not key.startswith("menu.")}
    chosen = {}
    for key in own:                                  # boards.txt order: the first option wins
        parts = key.split(".")
        if parts[0] == "menu" and len(parts) > 3:
            chosen.setdefault(parts[1], parts[2])
    for menu, option in chosen.items():
        head = f"menu.{menu}.{option}."
        plain.update({key[len(head):]: value for key, value in own.items() if key.startswith(head)})
    return plain


def expand(text: str, properties: dict, max_rounds: int = 10) -> str:
    """``text`` with every ``{name}`` replaced by ``properties[name]``, again while values bring
    new ones (at most ``max_rounds``); names still unknown then are dropped."""
    for _ in range(max_rounds):
        expanded = _PLACEHOLDER.sub(lambda m: properties.get(m.group(1), m.group(0)), text)
        if expanded == text:
            break
        text = expanded
    return _PLACEHOLDER.sub("", text)


def quote_cpp(text: str) -> str:
    """``text`` as a C string literal, for ``#line`` (backslashes and quotes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load(board_id: str, *, build_path, project_name: str, compiler_dir, prefs=(),
         core_dir=None) -> dict:
    """The properties of a build of ``project_name`` for ``board_id``, as arduino-builder
    would set them (module docstring, step 1).

    ``compiler_dir`` is where ``avr-gcc`` and its fellows are (``compiler.path``); ``prefs``
    are extra ``key=value`` strings, applied last. A core that lacks a file or one of
    :data:`REQUIRED` raises ``OSError`` or ``ValueError`` naming it.
    """
    core_dir = Path(core_dir or CORE_DIR)
    properties = read_properties(core_dir / "platform.txt")
    properties.update(board_properties(read_properties(core_dir / "boards.txt"), board_id))
    missing = [key for key in REQUIRED if key not in properties]
    if missing:
        raise ValueError(f"{core_dir}'s platform.txt and boards.txt (board {board_id!r}) lack "
                         f"{', '.join(missing)}")
    level_flags = properties.get(f"compiler.warning_flags.{WARNINGS_LEVEL}")
    if level_flags is not None:
        properties["compiler.warning_flags"] = level_flags
    core_path = core_dir / "cores" / properties["build.core"]
    variant_path = core_dir / "variants" / properties["build.variant"]
    includes = [core_path] + ([variant_path] if properties.get("build.variant") else [])
    build_path = Path(build_path)
    properties.update({
        "compiler.path": str(compiler_dir).rstrip("/") + "/",
        "runtime.ide.version": IDE_VERSION,
        "software": "ARDUINO",
        "runtime.os": "linux",
        "build.arch": core_dir.name.upper(),
        "build.fqbn": f"arduino:{core_dir.name}:{board_id}",
        "build.path": str(build_path),
        "build.project_name": project_name,
        "build.core.path": str(core_path),
        "build.variant.path": str(variant_path),
        "build.system.path": str(core_dir / "system"),
        "runtime.platform.path": str(core_dir),
        "runtime.hardware.path": str(core_dir.parent),
        "archive_file": "core/core.a",
        "archive_file_path": str(build_path / "core" / "core.a"),
        "includes": " ".join(f'"-I{folder}"' for folder in includes),
    })
    for pref in prefs:
        key, _, value = pref.partition("=")
        properties[key.strip()] = value.strip()
    return properties


def command(properties: dict, recipe: str, **variables) -> list:
    """The argument list of ``recipe`` (a ``recipe.*.pattern`` key), expanded with
    ``properties`` and ``variables`` (``source_file``, ``object_file``, ``object_files``, ...)."""
    if recipe not in properties:
        raise ValueError(f"platform.txt has no {recipe}")
    return shlex.split(expand(properties[recipe], {**properties, **variables}))


def sources(folder: Path, recurse: bool = False) -> list:
    """The ``.S``, ``.c``, ``.cpp`` files of ``folder`` in arduino-builder's order: by kind,
    then by path; ``recurse`` descends into subfolders."""
    found = []
    for suffix, _ in SOURCE_RECIPES:
        pattern = f"**/*{suffix}" if recurse else f"*{suffix}"
        found += sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix == suffix)
    return found


def recipe_for(source: Path) -> str:
    """The compile recipe of a source file, by its suffix."""
    return dict(SOURCE_RECIPES)[source.suffix]


def merged_ino(sketch_dir: Path, sketch: str) -> str:
    """The sketch's ``.ino`` files as one C++ file (module docstring, step 2)."""
    main = sketch_dir / f"{sketch}.ino"
    others = sorted(p for p in sketch_dir.glob("*.ino") if p != main)
    parts = []
    for path in [main] + others:
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(f"#line 1 {quote_cpp(str(path))}\n{text}\n")
    source = "".join(parts)
    if not _INCLUDES_ARDUINO_H.search(source):
        source = "#include <Arduino.h>\n" + source
    return source


def prepare_sketch(sketch_dir: Path, sketch: str, files, into: Path) -> list:
    """Write ``NAME.ino.cpp`` and copies of the sketch's other ``files`` into ``into`` (a fresh
    folder); returns the sources to compile there, in arduino-builder's order."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    for path in files:
        if path.suffix in (".ino", ".pde"):
            continue
        target = into / path.relative_to(sketch_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (into / f"{sketch}.ino.cpp").write_text(merged_ino(sketch_dir, sketch), encoding="utf-8")
    found = sources(into)
    if (into / "src").is_dir():
        found += sources(into / "src", recurse=True)
    return found


def object_path(source: Path, source_root: Path, object_root: Path) -> Path:
    """Where the object of ``source`` goes: its place under ``object_root``, plus ``.o``."""
    return object_root / source.relative_to(source_root).with_name(source.name + ".o")
