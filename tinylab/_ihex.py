"""Intel HEX, the file avrdude uploads: read one, checked line by line.

avrdude and Optiboot trust the file; a corrupt or misplaced one is found here first, with the
line that is wrong (:func:`read`), and :func:`span` tells where in flash the bytes go, so an
upload can be refused before it writes anything (``tinylab.flash``) and a bootloader checked
against its section (``tinylab._bootloader``).
"""

from __future__ import annotations

from pathlib import Path

from .errors import TinyLabError

__all__ = ["HexError", "read", "span"]


class HexError(TinyLabError, ValueError):
    """The file is not valid Intel HEX; the message names the line and what is wrong."""


def read(path) -> dict:
    """``{address: byte}`` of every data byte in the Intel HEX file at ``path``.

    Checks each record's start code, hex digits, length and checksum, and that the file ends
    with an end-of-file record (a file cut short by an interrupted copy has none). Extended
    segment and linear address records (types 02 and 04) are applied; start address records
    (03 and 05) are ignored, as avrdude does for flash.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("ascii")
    except UnicodeDecodeError:
        raise HexError(f"{path} is not an Intel HEX file (it is binary: an ELF or a .bin?); "
                       f"upload the .hex the build wrote beside it") from None
    memory: dict = {}
    base, ended = 0, False
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        where = f"{path.name}, line {number}"
        if ended:
            raise HexError(f"{where}: data after the end-of-file record")
        if not line.startswith(":"):
            raise HexError(f"{where}: a record starts with ':', this one with {line[:1]!r}; "
                           f"is this an Intel HEX file?")
        try:
            record = bytes.fromhex(line[1:])
        except ValueError:
            raise HexError(f"{where}: not hexadecimal digits") from None
        if len(record) < 5 or len(record) != record[0] + 5:
            raise HexError(f"{where}: the record's length does not match its byte count "
                           f"(the file is cut short or edited)")
        if sum(record) & 0xFF:
            raise HexError(f"{where}: checksum mismatch (the file is corrupt: build it again)")
        count, address, kind, data = record[0], int.from_bytes(record[1:3], "big"), record[3], \
            record[4:-1]
        if kind == 0:
            for offset, byte in enumerate(data[:count]):
                memory[base + address + offset] = byte
        elif kind == 1:
            ended = True
        elif kind == 2:
            base = int.from_bytes(data, "big") << 4
        elif kind == 4:
            base = int.from_bytes(data, "big") << 16
        elif kind not in (3, 5):
            raise HexError(f"{where}: unknown record type {kind:02x}")
    if not ended:
        raise HexError(f"{path.name} has no end-of-file record: it is cut short (an interrupted "
                       f"build or copy); build it again")
    if not memory:
        raise HexError(f"{path.name} holds no data")
    return memory


def span(memory: dict) -> tuple:
    """``(lowest address, highest address + 1)`` of the bytes :func:`read` returned."""
    return min(memory), max(memory) + 1
