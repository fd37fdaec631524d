"""The exercise checker of lesson ``01_data``."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_normalize"]


def _same(got, expected) -> bool:
    return got.shape == expected.shape and np.allclose(got, expected, atol=1e-6)


def check_normalize(normalize) -> CheckResult:
    """Lesson 01: a function that maps raw digit pixels (0..16) to floats in [0, 1].

    The probes include faint digits (no pixel at 16) and arrays whose smallest pixel is not 0,
    so that dividing by the array's own largest value, or rescaling each array by its own
    minimum and maximum, is caught and explained: a pixel's meaning must not depend on the
    other pixels it arrives with.
    """
    name = "Normalize the digits"
    probes = [np.array([0, 8, 16]), np.arange(17).reshape(1, 17),
              np.random.default_rng(0).integers(0, 17, size=(4, 8, 8, 1)),
              np.array([[2, 5, 9], [4, 7, 11]]),  # no pixel at 0 nor at 16
              np.array([[0, 3, 6, 12]])]          # a faint row: its darkest pixel is 12
    for raw in probes:
        got, failed = call_student(name, normalize, raw.copy(), returns="the normalized array")
        if failed is not None:
            return failed
        got = np.asarray(got, dtype=np.float64)
        if got.shape != raw.shape:
            return CheckResult(name, False, f"the output should keep the input's shape {raw.shape}, "
                                            f"got {got.shape}.")
        if _same(got, solutions.normalize(raw)):
            continue
        seen = f"for pixels {raw.ravel()[:4].tolist()} you returned {np.round(got.ravel()[:4], 4).tolist()}"
        low, high = raw.min(), raw.max()
        if high > 0 and _same(got, raw / high):
            return CheckResult(name, False, f"{seen}: you divided by the array's own largest "
                                            f"pixel ({high}). A faint digit would then look as "
                                            f"dark as a full one; divide by 16, the largest "
                                            f"value any pixel can take.")
        if high > low and _same(got, (raw - low) / (high - low)):
            return CheckResult(name, False, f"{seen}: you rescaled the array by its own minimum "
                                            f"and maximum ({low} and {high}), so a pixel's value "
                                            f"depends on the others around it. Map the pixel "
                                            f"range itself: 0 -> 0.0, 16 -> 1.0.")
        return CheckResult(name, False, f"{seen}; 0 should become 0.0 and 16 should become 1.0.")
    return CheckResult(name, True, "the network sees every pixel in [0, 1], as tl.data does.")
