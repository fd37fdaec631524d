"""TinyLab's line protocol, as every sketch speaks it: the banner, the probe, the handshake.

Every TinyLab sketch greets with one banner line, ``#TINYLAB key=value ...``, at 115200 baud,
when it starts (an Uno resets when its port is opened) and again for every ``?`` line (a Nano
33 BLE, or a board left running, does not reset). The keys every banner carries are
:data:`REQUIRED_KEYS`; each sketch adds its own (the inference sketch's in
:mod:`tinylab.device`, the capture sketch's in :mod:`tinylab.capture`).

:func:`await_banner` is the one handshake both clients use: listen, ask with ``?`` when the
board stays quiet, drop what came before the banner, and say in plain words what was heard
when no banner comes. What follows the banner is left in the reader for the client.

>>> banner_fields("noise#TINYLAB proto=1 sketch=capture board=uno")
{'proto': '1', 'sketch': 'capture', 'board': 'uno'}
"""

from __future__ import annotations

import time

from .errors import NoBannerError
from .lines import ACK, TOO_LONG

__all__ = ["PROTOCOL_VERSION", "BAUDRATE", "BANNER_MARK", "REQUIRED_KEYS", "FIRST_PROBE_S",
           "PROBE_EVERY_S", "PROBE", "banner_fields", "check_banner", "await_banner", "heard_text"]

#: The protocol this TinyLab speaks (the banner's ``proto=``).
PROTOCOL_VERSION = 1
#: Serial speed of every TinyLab sketch.
BAUDRATE = 115200
BANNER_MARK = "#TINYLAB "
#: Keys every sketch's banner carries.
REQUIRED_KEYS = ("proto", "sketch", "board")
#: Listen this long for the boot banner before asking with "?", then ask again this often. An
#: Uno resets when the port opens and greets after its bootloader's ~1 s; a Nano 33 BLE and a
#: board left running do not reset, so they are asked.
FIRST_PROBE_S = 0.5
PROBE_EVERY_S = 1.0
#: What the host sends to ask for the banner: "\n" first ends whatever partial line the board
#: holds, then "?".
PROBE = b"\n?\n"


def banner_fields(line: str) -> dict | None:
    """The ``key=value`` words after the last ``#TINYLAB`` in ``line``, all as strings.

    None when there is no banner mark or a word is not ``key=value``. Anything before the
    mark is ignored: a board that resets mid-line leaves a partial line in front of its new
    banner. Each client turns the values it knows into numbers.
    """
    start = line.rfind(BANNER_MARK)
    if start < 0:
        return None
    fields = {}
    for word in line[start + len(BANNER_MARK):].split():
        key, equals, value = word.partition("=")
        if not equals:
            return None
        fields[key] = value
    return fields


def check_banner(banner: dict, port: str, sketch: str, *, flash: str, error) -> None:
    """Refuse a banner of another protocol version or another sketch, with what to flash.

    ``flash`` completes "flash ..." in the messages (e.g. ``"this version's capture
    sketch"``); ``error`` is the client's error class.
    """
    if banner["proto"] != PROTOCOL_VERSION:
        raise error(f"the board on {port} speaks TinyLab serial protocol {banner['proto']}, this "
                    f"TinyLab speaks {PROTOCOL_VERSION}: flash {flash}.")
    if banner["sketch"] != sketch:
        raise error(f"the board on {port} runs TinyLab's {banner['sketch']!r} sketch, not "
                    f"{sketch!r}: flash {flash} first.")


def await_banner(reader, timeout: float, parse, *, no_banner, ack: bytes | None = None):
    """Read lines until one is a banner; ask with :data:`PROBE` when the board stays quiet.

    Parameters
    ----------
    reader : tinylab.serial.lines.LineReader
        The open link. Lines before the banner are dropped (stale: sent before the port
        opened, or by another sketch); what follows it stays in the reader.
    timeout : float
        Seconds to wait for a banner.
    parse : callable
        ``parse(text)`` -> the banner's fields, or None for a line that is not this client's
        banner.
    no_banner : callable
        ``no_banner(heard)`` -> the message of the :class:`NoBannerError` raised after
        ``timeout``; ``heard`` lists the non-empty lines heard instead (an over-long one as
        a note), newest last.
    ack : bytes, optional
        An acknowledgement byte the sketch may send between lines (skipped).

    Returns
    -------
    (dict, bool)
        The banner's fields, and whether the board was asked with ``?`` (a second banner may
        then follow, answering a second ``?``).
    """
    started = time.monotonic()
    deadline, next_probe = started + timeout, started + FIRST_PROBE_S
    probed, heard = False, []
    while True:
        now = time.monotonic()
        if now >= deadline:
            raise NoBannerError(no_banner(heard))
        if now >= next_probe:
            reader.write(PROBE)
            probed, next_probe = True, now + PROBE_EVERY_S
        line = reader.next_line(min(deadline, next_probe), ack=ack)
        if line is None or line is ACK:
            continue
        if line is TOO_LONG:
            heard.append(f"(a line longer than {reader.max_line_bytes} bytes)")
            continue
        text = line.decode("ascii", errors="replace")
        banner = parse(text)
        if banner is not None:
            return banner, probed
        if text.strip():
            heard.append(text)


def heard_text(heard: list, buffer) -> str:
    """The end of a no-banner message: the last line heard, or the bytes, or nothing."""
    if heard:
        return f" Heard instead: {heard[-1][:80]!r}."
    if buffer:
        return f" Heard bytes but no line: {bytes(buffer[:40])!r}."
    return " Heard nothing."
