"""The exercise checker of lesson ``06_sharing``."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_share_linear"]


def _lesson_example():
    """The by-hand example of lesson 06: 5 kept weights, 3 pruned zeros, 1 bit."""
    weights = np.array([[-1.0, 0.0, 0.5, 0.0], [0.0, -0.8, 0.9, 0.7]])
    return weights, weights != 0, 1


def _probes():
    rng = np.random.default_rng(6)
    positive = np.array([[0.2, 0.0, 0.8], [0.5, 0.35, 0.0]])  # all kept weights > 0
    # exact ties: centroids -0.5, 0, 0.5, 1 and weights 0.25, 0.75, -0.25 half-way between;
    # the pruned 0.6 is not zero: the mask, not w != 0, says what is kept
    ties = np.array([-0.5, 0.25, 0.75, 1.0, -0.25, 0.0, 0.6])
    ties_mask = np.array([True, True, True, True, True, False, False])
    random = rng.normal(0.0, 0.3, size=(6, 5))
    random_mask = rng.random((6, 5)) < 0.4
    random_mask[0, :2] = True
    return [(ties, ties_mask, 2), _lesson_example(), (positive, positive != 0, 2),
            (random, random_mask, 3),
            (rng.normal(0.0, 0.1, size=(4, 12)), np.ones((4, 12), bool), 2)]


def _variant(weights, mask, bits, *, range_over="mask", assign="mask", count="power",
             endpoint=True, spacing="linear", tie="lower", distance="abs", base=0):
    """:func:`solutions.share_linear` with one usual mistake built in, to recognise it."""
    weights, mask = np.asarray(weights, dtype=np.float64), np.asarray(mask, dtype=bool)
    chosen = {"mask": mask, "nonzero": weights != 0, "all": np.ones_like(mask)}
    values = weights[chosen[range_over]]
    n = {"power": 2 ** bits, "plus_one": 2 ** bits + 1, "minus_one": 2 ** bits - 1,
         "bits": bits}[count]
    if spacing == "linear":
        centroids = np.linspace(values.min(), values.max(), n, endpoint=endpoint)
    elif spacing == "density":
        centroids = np.quantile(values, np.linspace(0.0, 1.0, n))
    else:  # symmetric, as the affine grid
        reach = np.abs(values).max()
        centroids = np.linspace(-reach, reach, n)
    targets = chosen[assign]
    gap = weights[targets][:, np.newaxis] - centroids
    gap = np.abs(gap) if distance == "abs" else gap
    if tie == "lower":
        nearest = np.argmin(gap, axis=1)
    else:  # the last of the equal distances: the upper neighbour
        nearest = gap.shape[1] - 1 - np.argmin(gap[:, ::-1], axis=1)
    indices = np.full(weights.shape, -1)
    indices[targets] = nearest + base
    return centroids, indices


_MISTAKES = (
    ("a pruned weight (mask False) got a cluster index: pruned weights belong to no cluster, "
     "give them -1. Only the kept weights are shared; the pruned ones stay 0.0.",
     dict(assign="all")),
    ("a pruned weight got a cluster index, and the centroids span the pruned weights too: "
     "share only weights[mask] (min, max and the assignment), and give pruned weights -1.",
     dict(range_over="all", assign="all")),
    ("you decided yourself which weights are kept (w != 0?): the mask says so. A pruned weight "
     "need not be 0 yet; this one is 0.6 with mask False, so it is not shared and its index "
     "is -1.", dict(range_over="nonzero", assign="nonzero")),
    ("the centroids span all the weights, pruned ones included: take min and max over the "
     "kept weights only (weights[mask]). Here every kept weight is positive, so the pruned "
     "zeros pulled the lowest centroid down to 0.", dict(range_over="all")),
    ("one centroid too many: np.linspace(lo, hi, 2**bits) already gives 2**bits values with "
     "both ends included (2**bits - 1 steps between them).", dict(count="plus_one")),
    ("one centroid too few: a bits-bit index names 2**bits centroids (np.linspace(lo, hi, "
     "2**bits)), not 2**bits - 1.", dict(count="minus_one")),
    ("the largest kept weight should be the last centroid: np.linspace includes its end by "
     "default; endpoint=False (or np.arange) stops a step short of it.", dict(endpoint=False)),
    ("a bits-bit index can name 2**bits centroids, not bits of them: np.linspace(lo, hi, "
     "2**bits).", dict(count="bits")),
    ("at an exact tie (a weight half-way between two centroids) take the lower index, the more "
     "negative centroid, as np.argmin does (it returns the first of equal values).",
     dict(tie="upper")),
    ("nearest means the smallest distance |w - c|: take np.abs of the differences before "
     "np.argmin.", dict(distance="signed")),
    ("indices count from 0: the most negative centroid is index 0, the largest 2**bits - 1.",
     dict(base=1)),
    ("those are quantiles (Han et al.'s 'density' start); the 'linear' start spaces the "
     "centroids evenly between the smallest and the largest kept weight.", dict(spacing="density")),
    ("that is the symmetric affine grid, from -max|w| to +max|w|; the linear start runs from "
     "the smallest kept weight to the largest, which need not be symmetric.",
     dict(spacing="symmetric")),
)


def _as_arrays(answer):
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return None
    try:
        return np.asarray(answer[0]), np.asarray(answer[1])
    except (TypeError, ValueError):
        return None


def _same(answer, expected) -> bool:
    centroids, indices = answer
    want_centroids, want_indices = expected
    return (centroids.shape == want_centroids.shape and indices.shape == want_indices.shape
            and np.issubdtype(centroids.dtype, np.number)
            and np.allclose(centroids, want_centroids, rtol=0, atol=1e-6)  # float32 allowed
            and np.array_equal(indices, want_indices))


def check_share_linear(share_linear) -> CheckResult:
    """Lesson 06: ``share_linear(weights, mask, bits)`` -> ``(centroids, indices)``.

    Probed with the lesson's by-hand example, a layer whose kept weights are all positive,
    exact ties, a random pruned kernel and an unpruned one. Centroids are compared within
    1e-6 (float32 answers pass); indices exactly. A wrong answer is compared with the usual
    mistakes (pruned weights given a cluster, the range taken over pruned weights, one
    centroid too many or too few, ties to the upper centroid, signed distances, indices
    from 1, quantiles, the symmetric grid) to give a hint.
    """
    name = "Share linear"
    for weights, mask, bits in _probes():
        answer, failed = call_student(name, share_linear, weights.copy(), mask.copy(), bits,
                                      returns="the pair (centroids, indices)")
        if failed is not None:
            return failed
        arrays = _as_arrays(answer)
        if arrays is None:
            return CheckResult(name, False, f"return a pair (centroids, indices), got "
                                            f"{type(answer).__name__}.")
        expected = solutions.share_linear(weights, mask, bits)
        if _same(arrays, expected):
            if not np.issubdtype(arrays[1].dtype, np.integer):
                return CheckResult(name, False, f"the indices are right, but as "
                                                f"{arrays[1].dtype}: return integers (the "
                                                f"board stores a {bits}-bit index), e.g. "
                                                f".astype(int).")
            continue
        if _same(arrays[::-1], expected):
            return CheckResult(name, False, "right values, wrong order: return (centroids, "
                                            "indices), the codebook first.")
        centroids, indices = arrays
        if indices.shape != weights.shape:
            return CheckResult(name, False, f"indices should have the weights' shape "
                                            f"{weights.shape}, one per weight, got "
                                            f"{indices.shape}.")
        for hint, spec in _MISTAKES:
            if _same(arrays, _variant(weights, mask, bits, **spec)):
                return CheckResult(name, False, hint)
        want_centroids, want_indices = expected
        if centroids.shape != want_centroids.shape or not np.allclose(
                centroids, want_centroids, rtol=0, atol=1e-6):
            return CheckResult(name, False, f"for bits={bits} the centroids should be "
                                            f"{np.round(want_centroids, 4).tolist()}, you returned "
                                            f"{np.round(centroids.astype(float), 4).tolist()}. "
                                            f"Hint: np.linspace(kept.min(), kept.max(), 2**bits) "
                                            f"with kept = weights[mask]. (Only the start: no "
                                            f"k-means steps.)")
        wrong = np.flatnonzero((indices != want_indices).ravel())[0]
        weight, given = weights.ravel()[wrong], indices.ravel()[wrong]
        want = int(want_indices.ravel()[wrong])
        if want >= 0 and isinstance(given, (int, np.integer)) and 0 <= given < len(want_centroids) \
                and abs(weight - want_centroids[want]) == abs(weight - want_centroids[given]):
            return CheckResult(name, False, f"weight {weight:g} lies exactly half-way between "
                                            f"centroids {want_centroids[want]:g} and "
                                            f"{want_centroids[given]:g}: at such a tie take the "
                                            f"lower index, as np.argmin does (it returns the "
                                            f"first of equal values); rounding (w - lo) / step "
                                            f"with np.round sends half the ties up.")
        return CheckResult(name, False, f"weight {weights.ravel()[wrong]:g} (mask "
                                        f"{bool(mask.ravel()[wrong])}) should get index "
                                        f"{int(want_indices.ravel()[wrong])}, you gave "
                                        f"{indices.ravel()[wrong]}. Hint: np.argmin(np.abs("
                                        f"kept[:, None] - centroids), axis=1), -1 where pruned.")
    return CheckResult(name, True, "linear start and nearest centroid, pruned weights left out: "
                                   "the first step of Deep Compression's weight sharing; the "
                                   "lesson's 5 kept weights share -1.0 and 0.9 with indices "
                                   "0, 0, 1, 1, 1. k-means then moves each centroid to the "
                                   "mean of its weights and assigns again.")
