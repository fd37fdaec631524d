"""What this machine has for TinyLab, and how to get what it lacks.

``tinylab doctor`` (and lesson 00's environment check) reports the versions of Python and the
Python packages TinyLab runs on, which board toolchains are installed (Debian's
arduino-builder + avr-gcc + avrdude + simavr for the Uno and the virtual Uno, arduino-cli for
the Nano 33 BLE Sense), and which serial ports and boards are plugged in. Every missing piece
comes with the line that installs it.

Nothing here imports TensorFlow: versions come from package metadata, so the report takes
well under a second.
"""

from __future__ import annotations

import html
import importlib.metadata as metadata
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Check", "PACKAGES", "TOOLCHAIN", "APT_PACKAGES", "check_packages", "check_toolchain",
           "check_nano_core", "NANO_CORE", "NANO_CORE_FIX", "report", "to_text", "to_html",
           "apt_install_line"]


@dataclass
class Check:
    """One line of the report."""

    name: str
    category: str          # "python", "package", "toolchain", "board" or "dataset"
    ok: bool
    version: str | None = None
    detail: str = ""
    fix: str | None = None
    required: bool = True


#: Python distributions TinyLab needs, as (distribution name, what it is for).
PACKAGES = [
    ("tensorflow", "training and the TFLite converter"),
    ("keras", "the models (Keras 3)"),
    ("tflite-micro", "the TensorFlow Lite Micro interpreter, as on the MCU"),
    ("ai-edge-litert", "the LiteRT (TFLite) interpreter"),
    ("numpy", "arrays"),
    ("scikit-learn", "the digits dataset, k-means, metrics"),
    ("matplotlib", "plots"),
    ("ipywidgets", "the lesson panels"),
    ("jupyterlab", "the workbench"),
    ("voila", "the demo apps"),
    ("pyserial", "talking to boards over serial"),
]

#: Board tools: (name, Debian package, how to find it, what it is for, required for the virtual Uno).
#: "how to find it" is a command on PATH or an absolute path that must exist.
TOOLCHAIN = [
    ("arduino-builder", "arduino-builder", "arduino-builder", "compiles sketches offline", True),
    ("Arduino AVR core", "arduino-core-avr", "/usr/share/arduino/hardware/arduino/avr/boards.txt",
     "Arduino's core library for AVR boards (Uno)", True),
    ("arduino-ctags", "arduino-ctags", "arduino-ctags", "sketch preprocessing for arduino-builder", True),
    ("avr-gcc", "gcc-avr", "avr-gcc", "the C/C++ compiler for the ATmega328P", True),
    ("avr-libc", "avr-libc", "/usr/lib/avr/include/avr/io.h", "the C library for AVR", True),
    ("avrdude", "avrdude", "avrdude",
     "uploads firmware to an Uno (a real one, or the virtual one in bootloader mode)", True),
    ("simavr", "simavr", "simavr", "runs the firmware on the virtual Uno", True),
    ("simavr headers", "libsimavr-dev", "/usr/include/simavr/sim_avr.h",
     "builds the virtual Uno's serial harness", True),
    ("C compiler", "gcc", "gcc", "builds the virtual Uno's harness; tests the generated C on the host",
     True),
    ("C library headers", "libc6-dev", "/usr/include/stdio.h",
     "what the host C compiler needs (not pulled in with --no-install-recommends)", True),
]

#: Every Debian package the board toolchain needs (binder/apt.txt and the Makefile list the same).
APT_PACKAGES = [package for _, package, _, _, _ in TOOLCHAIN]

ARDUINO_CLI_FIX = ("install arduino-cli (https://arduino.github.io/arduino-cli/latest/installation/), "
                   "then: arduino-cli core install arduino:mbed_nano")

#: The Nano 33 BLE Sense's Arduino core (arduino-cli's id) and the IMU libraries the live and
#: capture sketches include (Rev2: BMI270 + BMM150; Rev1: LSM9DS1).
NANO_CORE = "arduino:mbed_nano"
NANO_CORE_FIX = ("arduino-cli core install arduino:mbed_nano, then the IMU's library: "
                 "arduino-cli lib install Arduino_BMI270_BMM150 (Nano 33 BLE Sense Rev2) or "
                 "arduino-cli lib install Arduino_LSM9DS1 (Rev1)")


def check_nano_core() -> Check:
    """Whether arduino-cli has the Nano 33 BLE Sense's core (``arduino-cli core list``).

    Optional: only the Nano's sketches (live_nano33ble, capture_nano33ble) need it; the fix
    names the core and the IMU libraries.
    """
    detail = "the Nano 33 BLE Sense's core: compiles its live and capture sketches (optional)"
    cli = shutil.which("arduino-cli")
    if cli is None:
        return Check("Nano 33 BLE core", "toolchain", False, None, detail + "; needs arduino-cli",
                     f"{ARDUINO_CLI_FIX}; then {NANO_CORE_FIX.split(', then ', 1)[1]}",
                     required=False)
    try:
        done = subprocess.run([cli, "core", "list"], capture_output=True, text=True, timeout=30)
        listed = done.stdout
    except (OSError, subprocess.TimeoutExpired):
        listed = ""
    match = re.search(rf"^{re.escape(NANO_CORE)}\s+(\S+)", listed, flags=re.MULTILINE)
    if match is None:
        return Check("Nano 33 BLE core", "toolchain", False, None,
                     detail + f"; {NANO_CORE} is not installed", NANO_CORE_FIX, required=False)
    return Check("Nano 33 BLE core", "toolchain", True, match.group(1), f"{detail} ({NANO_CORE})",
                 required=False)


def apt_install_line(packages=APT_PACKAGES) -> str:
    return "sudo apt-get install -y " + " ".join(packages)


def _requirement_for(distribution: str) -> str:
    """The requirement TinyLab declares for a distribution, e.g. ``tensorflow>=2.21,<2.22``."""
    try:
        for requirement in metadata.requires("tinylab") or []:
            name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
            if name.lower().replace("_", "-") == distribution and "extra ==" not in requirement:
                return requirement.split(";")[0].strip()
    except metadata.PackageNotFoundError:
        pass
    return distribution


def _python_check() -> Check:
    version = platform.python_version()
    ok = (3, 10) <= sys.version_info[:2] <= (3, 12)
    return Check("Python", "python", ok, version, sys.executable,
                 None if ok else "use Python 3.10-3.12 (TensorFlow 2.21 has wheels for those)")


def check_packages() -> list:
    """A :class:`Check` for Python and for each of :data:`PACKAGES`."""
    checks = [_python_check()]
    for distribution, purpose in PACKAGES:
        try:
            version = metadata.version(distribution)
            checks.append(Check(distribution, "package", True, version, purpose))
        except metadata.PackageNotFoundError:
            checks.append(Check(distribution, "package", False, None, purpose,
                                f"pip install '{_requirement_for(distribution)}'  (or: make lab)"))
    return checks


def _version_of(command: str) -> str | None:
    """First version-looking token a command prints, or None (5 s timeout, never hangs)."""
    for flags in (["--version"], ["-version"], ["-?"]):
        try:
            done = subprocess.run([command, *flags], capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = re.search(r"\b(\d+\.\d+(?:\.\d+)?)\b", done.stdout + done.stderr)
        if match:
            return match.group(1)
    return None


def check_toolchain() -> list:
    """A :class:`Check` for each board tool and for arduino-cli (optional)."""
    checks = []
    for name, package, locate, purpose, required in TOOLCHAIN:
        if locate.startswith("/"):
            found = Path(locate).exists()
            where, version = (locate if found else None), None
        else:
            where = shutil.which(locate)
            found = where is not None
            version = _version_of(where) if found and locate != "arduino-ctags" else None
        checks.append(Check(name, "toolchain", found, version,
                            f"{purpose}" + (f" ({where})" if where else ""),
                            None if found else apt_install_line([package]), required))
    cli = shutil.which("arduino-cli")
    checks.append(Check("arduino-cli", "toolchain", cli is not None,
                        _version_of(cli) if cli else None,
                        "compiles and uploads for every board, the Nano 33 BLE Sense included "
                        "(optional: Uno builds fall back to arduino-builder)",
                        None if cli else ARDUINO_CLI_FIX, required=False))
    return checks


def _board_check(ports) -> Check:
    boards = [p for p in ports if p["usb_name"]]
    if boards:
        listed = ", ".join(f"{p['usb_name']} on {p['device']}" for p in boards)
        return Check("boards", "board", True, None, listed, required=False)
    detail = ("no Arduino plugged in; the lessons use the virtual Uno (simavr) instead"
              + (f"; other serial ports: {', '.join(p['device'] for p in ports)}" if ports else ""))
    return Check("boards", "board", False, None, detail,
                 "optional: plug in an Arduino Uno or Nano 33 BLE Sense over USB "
                 "(on Linux, add yourself to the dialout group: sudo usermod -aG dialout $USER)",
                 required=False)


def _basicmotions_check() -> Check:
    """BasicMotions (real IMU recordings, lesson 09), found inside the installed sktime."""
    from .data import BASICMOTIONS_FIX, DatasetUnavailableError, basicmotions_folder, read_ts

    try:
        folder = basicmotions_folder()
        count = sum(len(read_ts(folder / f"BasicMotions_{part}.ts")[1]) for part in ("TRAIN", "TEST"))
    except (DatasetUnavailableError, ValueError) as error:
        reason = getattr(error, "message", str(error))
        return Check("BasicMotions", "dataset", False, None, f"real IMU recordings: {reason}",
                     BASICMOTIONS_FIX, required=False)
    return Check("BasicMotions", "dataset", True, None, f"{count} recordings in {folder}",
                 required=False)


def report() -> dict:
    """The whole report as plain data (what ``tinylab doctor --json`` prints)."""
    from . import __version__, machine
    from .serial.ports import serial_ports

    ports = serial_ports()
    toolchain = check_toolchain()
    missing_apt = [package for (_, package, *_), check in zip(TOOLCHAIN, toolchain) if not check.ok]
    checks = check_packages() + toolchain + [check_nano_core(), _board_check(ports),
                                              _basicmotions_check()]
    return {
        "tinylab": __version__,
        "platform": platform.platform(),
        # float training differs in its last bits between CPUs (docs/reproducibility.md)
        "cpu": machine.summary(),
        "ok": all(c.ok for c in checks if c.required),
        "checks": [asdict(c) for c in checks],
        "serial_ports": ports,
        "install_missing_toolchain": apt_install_line(missing_apt) if missing_apt else None,
    }


def to_text(rep: dict) -> str:
    """The report as a plain-text table for a terminal."""
    lines = [f"TinyLab {rep['tinylab']} on {rep['platform']}"]
    if rep.get("cpu"):
        lines.append(f"CPU: {rep['cpu']} (float results differ in their last bits between "
                     f"CPUs: docs/reproducibility.md)")
    lines.append("")
    for c in rep["checks"]:
        mark = "ok " if c["ok"] else ("-- " if not c["required"] else "NO ")
        lines.append(f"  {mark} {c['name']:<18} {c['version'] or '':<12} {c['detail']}")
        if c["fix"] and not c["ok"]:
            lines.append(f"       fix: {c['fix']}")
    if rep["install_missing_toolchain"]:
        lines += ["", f"All missing board tools at once: {rep['install_missing_toolchain']}"]
    lines += ["", "Everything required is here." if rep["ok"] else
              "Something required is missing: see the fix lines above."]
    return "\n".join(lines)


def to_html(rep: dict) -> str:
    """The report as an HTML table (lesson 00 shows it)."""
    rows = []
    for c in rep["checks"]:
        colour = "#1a7f37" if c["ok"] else ("#9a6700" if not c["required"] else "#cf222e")
        status = "ok" if c["ok"] else ("optional" if not c["required"] else "missing")
        fix = f"<code>{html.escape(c['fix'])}</code>" if c["fix"] and not c["ok"] else ""
        rows.append(f"<tr><td style='color:{colour};font-weight:bold'>{status}</td>"
                    f"<td>{html.escape(c['name'])}</td><td>{html.escape(c['version'] or '')}</td>"
                    f"<td style='text-align:left'>{html.escape(c['detail'])}</td>"
                    f"<td style='text-align:left'>{fix}</td></tr>")
    verdict = ("Everything required is here." if rep["ok"]
               else "Something required is missing: run the fix lines in a terminal.")
    return ("<table><thead><tr><th></th><th>piece</th><th>version</th><th>what it is for</th>"
            "<th>fix</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            f"<p><b>{verdict}</b></p>")
