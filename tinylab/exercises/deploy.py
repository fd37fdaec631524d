"""The exercise checker of lesson ``08_deploy``."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_fits_uno"]


def check_fits_uno(int8_flash_bytes) -> CheckResult:
    """Lesson 08: ``int8_flash_bytes(widths)``, the flash an int8 MLP's weights and biases take.

    ``widths`` lists the layer widths, inputs first (``[64, 32, 10]`` is the student); the
    answer counts one byte per int8 weight and four per int32 bias. A wrong answer is compared
    with the usual slips (no biases, one-byte biases, float32, a bias per input) for a hint.
    """
    name = "Will it fit the Uno?"
    probes = [[64, 32, 10], [64, 300, 100, 10], [64, 16, 10], [784, 300, 100, 10], [64, 10]]
    for widths in probes:
        got, failed = call_student(name, int8_flash_bytes, list(widths), returns="the number of bytes")
        if failed is not None:
            return failed
        if isinstance(got, (bool, np.bool_)):
            return CheckResult(name, False, f"for widths {widths} you returned {got}: return the "
                                            f"number of bytes; whether it fits comes next.")
        try:
            value = float(got)
        except (TypeError, ValueError):
            return CheckResult(name, False, f"for widths {widths} you returned {got!r}: return "
                                            f"a number of bytes.")
        expected = solutions.int8_flash_bytes(widths)
        if value == expected:
            continue
        pairs = list(zip(widths[:-1], widths[1:]))
        weights = sum(a * b for a, b in pairs)
        units = sum(b for _, b in pairs)
        slips = {
            weights: "you counted the weights but not the biases: every unit of every layer has "
                     "one, an int32.",
            weights + units: "the biases are int32 in TFLite's int8 scheme, 4 bytes each, not 1 "
                             "(they are added to the 32-bit accumulator).",
            4 * (weights + units): "that is float32 (4 bytes per number): after int8 "
                                   "quantization a weight takes 1 byte.",
            weights + 4 * sum(a for a, _ in pairs): "a bias belongs to each unit a layer "
                                                    "*outputs* (n_out), not to its inputs.",
            weights + 4 * sum(widths): "the input layer has no biases: only the Dense layers "
                                       "(every width but the first) do.",
        }
        hint = slips.get(value, "for each consecutive pair (n_in, n_out) of widths add n_in * "
                                "n_out bytes of weights and 4 * n_out bytes of biases.")
        return CheckResult(name, False, f"for widths {widths} you returned {got!r}; expected "
                                        f"{expected:,} bytes. Hint: {hint}")
    from .. import boards

    uno = boards.load("uno")["flash_usable_bytes"]
    teacher, student = solutions.int8_flash_bytes([64, 300, 100, 10]), solutions.int8_flash_bytes([64, 32, 10])
    return CheckResult(name, True, f"the teacher's numbers alone take {teacher:,} bytes, more "
                                   f"than the Uno's {uno:,}: it cannot fit in int8, whatever the "
                                   f"program. The student's take {student:,}, leaving room for "
                                   f"the program around them.")
