"""The exercise checker of lesson ``01_data``."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_normalize"]


def check_normalize(normalize) -> CheckResult:
    """Lesson 01: a function that maps raw digit pixels (0..16) to floats in [0, 1]."""
    name = "Normalize the digits"
    probes = [np.array([0, 8, 16]), np.arange(17).reshape(1, 17),
              np.random.default_rng(0).integers(0, 17, size=(4, 8, 8, 1))]
    for raw in probes:
        got, failed = call_student(name, normalize, raw.copy(), returns="the normalized array")
        if failed is not None:
            return failed
        got = np.asarray(got)
        if got.shape != raw.shape:
            return CheckResult(name, False, f"the output should keep the input's shape {raw.shape}, "
                                            f"got {got.shape}.")
        if not np.allclose(got, solutions.normalize(raw), atol=1e-6):
            return CheckResult(name, False, f"for pixels {raw.ravel()[:3].tolist()} you returned "
                                            f"{np.round(got.ravel()[:3], 4).tolist()}; 0 should "
                                            f"become 0.0 and 16 should become 1.0.")
    return CheckResult(name, True, "the network sees every pixel in [0, 1], as tl.data does.")
