"""The exercise checker of lesson ``00_welcome``."""

from __future__ import annotations

from . import solutions
from ._result import CheckResult

__all__ = ["check_uno_weights"]


def check_uno_weights(answer) -> CheckResult:
    """Lesson 00: how many float32 weights fit in an Arduino Uno's 32,256 usable bytes of flash?"""
    name = "Weights in an Uno"
    expected = solutions.uno_weights()
    if answer is None:
        return CheckResult(name, False, "replace None with your number.")
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return CheckResult(name, False, f"expected a number, got {answer!r}.")
    if value == expected:
        return CheckResult(name, True, f"{expected:,} weights of 4 bytes fill the flash, before "
                                       f"a single byte of program: the 64-300-100-10 teacher "
                                       f"(50,610 parameters) cannot fit as float32.")
    if value == expected * 4 or value == 32768 // 4 or value == 32768:
        return CheckResult(name, False, "close: use the usable flash (32,256 bytes, the bootloader "
                                        "takes 512) and 4 bytes per float32 weight.")
    return CheckResult(name, False, "hint: flash_usable_bytes in tl.boards.load('uno'), divided "
                                    "by the bytes of one float32.")
