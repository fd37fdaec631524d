"""The Uno's bootloader for the virtual Uno: Optiboot, as ``arduino-core-avr`` ships it.

A real Uno's last 512 bytes of flash (0x7e00-0x7fff, the boot section its fuses reserve)
hold Optiboot, which speaks STK500v1 to ``avrdude -c arduino``. The virtual Uno runs the same
bootloader in bootloader mode (``tinylab.virtual.VirtualUno(bootloader=True)``), so uploads go
through the real avrdude and the real Optiboot.

``arduino-core-avr`` installs Optiboot 4.4's source beside its hex. Debian builds that hex
itself, with its own avr-gcc, and the result is 532 bytes: it runs past the end of flash
(to 0x8014), and no chip could hold it. When the shipped hex does not fit its section,
:func:`optiboot_hex` compiles the shipped source with the Makefile's ``atmega328`` settings
and two flags that keep a newer avr-gcc within 512 bytes (500 with avr-gcc 5.4), and caches
the result by the hash of the source, the compiler's version and the flags.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from . import _avr_core, _ihex
from .build import cache_dir
from .errors import TinyLabError

__all__ = ["BootloaderError", "OPTIBOOT_DIR", "BOOT_START", "FLASH_END", "optiboot_hex"]

OPTIBOOT_DIR = _avr_core.CORE_DIR / "bootloaders" / "optiboot"
#: The ATmega328P's 512-byte boot section (fuses high 0xDE: BOOTSZ = 256 words, BOOTRST on)
#: and its flash's end. boards.txt: uno.upload.maximum_size=32256 is the start.
BOOT_START, FLASH_END = 0x7E00, 0x8000
_INSTALL = "sudo apt-get install -y arduino-core-avr gcc-avr avr-libc"

# optiboot/Makefile's atmega328 target (Optiboot 4.4), the flags of its OPTIMIZE and LDFLAGS,
# and two more: -fno-tree-scev-cprop and -fno-move-loop-invariants undo optimizations that
# avr-gcc >= 4.8 applies and that grow this code by 32 bytes (532 -> 500 with avr-gcc 5.4).
_DEFINES = ["-DF_CPU=16000000L", "-DBAUD_RATE=115200", "-DLED_START_FLASHES=3"]
_CFLAGS = ["-Os", "-fno-inline-small-functions", "-fno-split-wide-types", "-mrelax",
           "-fno-tree-scev-cprop", "-fno-move-loop-invariants", "-mmcu=atmega328p"]
_LDFLAGS = [f"-Wl,--section-start=.text={BOOT_START:#x}", "-Wl,--section-start=.version=0x7ffe",
            "-Wl,--relax", "-Wl,--gc-sections", "-nostartfiles", "-nostdlib"]


class BootloaderError(TinyLabError):
    """The Uno's bootloader is not installed, or cannot be made to fit its boot section."""


def _fits(hex_path: Path) -> bool:
    low, high = _ihex.span(_ihex.read(hex_path))
    return BOOT_START <= low and high <= FLASH_END


def optiboot_hex() -> Path:
    """The Uno's Optiboot as an Intel HEX file that fits 0x7e00-0x7fff.

    The one ``arduino-core-avr`` ships when it fits, else one compiled from its source with
    avr-gcc (cached). Raises :class:`BootloaderError` naming the packages to install.
    """
    shipped, source = OPTIBOOT_DIR / "optiboot_atmega328.hex", OPTIBOOT_DIR / "optiboot.c"
    if not shipped.is_file() and not source.is_file():
        raise BootloaderError(f"the Uno's bootloader (Optiboot) is not installed: it comes with "
                              f"the Arduino AVR core ({OPTIBOOT_DIR}). Install it with: {_INSTALL}")
    if shipped.is_file() and _fits(shipped):
        return shipped
    compiler = shutil.which("avr-gcc")
    if compiler is None or not source.is_file():
        raise BootloaderError(f"{shipped} does not fit the Uno's 512-byte boot section, and "
                              f"rebuilding it needs avr-gcc and Optiboot's source: {_INSTALL}")
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.splitlines()[:1]
    sources = sorted(OPTIBOOT_DIR.glob("*.[ch]"))
    key = hashlib.sha256(json.dumps([version, _DEFINES, _CFLAGS, _LDFLAGS]).encode()
                         + b"".join(path.read_bytes() for path in sources)).hexdigest()[:16]
    target = cache_dir() / "optiboot" / key / "optiboot_atmega328.hex"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    elf = target.with_name(f"optiboot.elf.tmp{os.getpid()}")
    partial = target.with_name(f"{target.name}.tmp{os.getpid()}")
    try:
        built = subprocess.run([compiler, *_CFLAGS, *_DEFINES, *_LDFLAGS, "-o", str(elf),
                                str(source)], capture_output=True, text=True, timeout=120)
        if built.returncode != 0:
            raise BootloaderError(f"could not compile Optiboot from {source}:\n"
                                  f"{built.stderr.strip()[-2000:]}")
        subprocess.run(["avr-objcopy", "-j", ".text", "-j", ".version", "--set-section-flags",
                        ".version=alloc,load", "-O", "ihex", str(elf), str(partial)],
                       check=True, capture_output=True, timeout=60)
        if not _fits(partial):
            low, high = _ihex.span(_ihex.read(partial))
            raise BootloaderError(f"Optiboot compiled with {version[0] if version else compiler} "
                                  f"spans {low:#06x}-{high - 1:#06x}: it does not fit the Uno's "
                                  f"512-byte boot section (0x7e00-0x7fff), so this avr-gcc cannot "
                                  f"make the virtual Uno's bootloader")
        os.replace(partial, target)     # atomic: concurrent first uses each get a whole file
    finally:
        elf.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return target
