"""The exercise checker of lesson ``04_pruning``."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_prune_mask"]


def check_prune_mask(prune_mask) -> CheckResult:
    """Lesson 04: ``prune_mask(weights, quality)``, True (keep) where ``|w| > quality * std``."""
    name = "Prune by threshold"
    w44 = np.array([[0.9, -0.1, 0.0, -0.7], [0.2, 0.6, -0.3, 0.1],
                    [-0.8, 0.3, 0.5, -0.2], [0.1, -0.4, 0.0, -0.2]])
    probes = [(w44, 1.0), (np.random.default_rng(0).normal(0.2, 0.5, size=(64, 30)), 0.8),
              (np.array([3.0, -3.0, 1.0, -1.0]), 0.0), (np.array([2.0, -2.0, 2.0, -2.0]), 1.0)]
    for weights, quality in probes:
        got, failed = call_student(name, prune_mask, weights.copy(), quality, returns="the mask")
        if failed is not None:
            return failed
        got = np.asarray(got)
        if got.shape != weights.shape:
            return CheckResult(name, False, f"the mask should have the weights' shape "
                                            f"{weights.shape}, got {got.shape}.")
        if got.dtype != bool:
            return CheckResult(name, False, f"return a mask of True/False (dtype bool), got "
                                            f"{got.dtype}: compare, e.g. np.abs(w) > threshold, "
                                            f"rather than returning the pruned weights.")
        expected = solutions.prune_mask(weights, quality)
        if np.array_equal(got, expected):
            continue
        std = weights.std()
        if np.array_equal(got, np.abs(weights) >= quality * std):
            hint = ("a weight exactly at the threshold should be pruned: use > rather than >=.")
        elif np.array_equal(got, ~expected):
            hint = "your mask is inverted: True should mean keep (|w| above the threshold)."
        elif np.array_equal(got, weights > quality * std):
            hint = ("you pruned every negative weight: compare the magnitude np.abs(w), "
                    "a large negative weight matters as much as a large positive one.")
        elif np.array_equal(got, np.abs(weights) > quality):
            hint = "the threshold is quality times the standard deviation of the weights, np.std(w)."
        elif np.array_equal(got, np.abs(weights) > quality * np.abs(weights).std()):
            hint = "take the standard deviation of the weights themselves, not of |w|."
        else:
            hint = (f"for quality {quality} the threshold is {quality * std:.3f} and "
                    f"{int(expected.sum())} of {expected.size} weights should be kept; you kept "
                    f"{int(got.sum())}.")
        return CheckResult(name, False, hint)
    return CheckResult(name, True, "one threshold per layer, from that layer's own spread: on the "
                                   "4x4 example quality 1.0 keeps 5 of 16 weights.")
