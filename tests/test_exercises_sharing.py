"""Lesson 06's exercise: the linear start and nearest-centroid step of weight sharing."""

import numpy as np
import pytest

import tinylab as tl
from tinylab import exercises as ex


def test_share_linear_by_hand():
    # lesson 06's example: kept -1.0, -0.8, 0.5, 0.9, 0.7; 1 bit -> centroids -1.0 and 0.9
    weights = np.array([[-1.0, 0.0, 0.5, 0.0], [0.0, -0.8, 0.9, 0.7]])
    centroids, indices = ex.solutions.share_linear(weights, weights != 0, 1)
    np.testing.assert_array_equal(centroids, [-1.0, 0.9])
    np.testing.assert_array_equal(indices, [[0, -1, 1, -1], [-1, 0, 1, 1]])
    # ties go to the lower index: 0.25 lies half-way between 0.0 and 0.5
    centroids, indices = ex.solutions.share_linear([-0.5, 0.25, 1.0], [True] * 3, 2)
    np.testing.assert_array_equal(centroids, [-0.5, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(indices, [0, 1, 3])


def test_share_linear_is_weight_sharings_first_step():
    # the same start as tl.quantize.initial_centroids("linear") over the kept weights
    rng = np.random.default_rng(0)
    weights, mask = rng.normal(size=(8, 6)), rng.random((8, 6)) < 0.5
    centroids, indices = ex.solutions.share_linear(weights, mask, 3)
    np.testing.assert_allclose(centroids, tl.quantize.initial_centroids(weights[mask], 8, "linear"))
    assert np.all(indices[~mask] == -1) and indices[mask].min() >= 0 and indices.max() <= 7


def test_share_linear_checker_accepts_the_solution_and_float32():
    result = ex.check_share_linear(ex.solutions.share_linear)
    assert result.passed and "-1.0 and 0.9" in result.message
    assert "share_linear" in ex.show_solution("share_linear")

    def in_float32(weights, mask, bits):
        centroids, indices = ex.solutions.share_linear(weights, mask, bits)
        return centroids.astype(np.float32), indices.astype(np.int32)

    assert ex.check_share_linear(in_float32).passed


def _solution(weights, mask, bits):
    return ex.solutions.share_linear(weights, mask, bits)


def _kept(weights, mask):
    return np.asarray(weights, float)[np.asarray(mask, bool)]


def _assign(weights, targets, centroids, upper=False, signed=False, base=0):
    weights = np.asarray(weights, float)
    gap = weights[targets][:, None] - centroids
    gap = gap if signed else np.abs(gap)
    nearest = (gap.shape[1] - 1 - np.argmin(gap[:, ::-1], axis=1)) if upper \
        else np.argmin(gap, axis=1)
    indices = np.full(weights.shape, -1)
    indices[targets] = nearest + base
    return indices


def _pruned_get_a_cluster(w, m, b):
    centroids, _ = _solution(w, m, b)
    return centroids, _assign(w, np.ones(np.shape(m), bool), centroids)


def _nonzero_as_mask(w, m, b):
    w = np.asarray(w, float)
    return _solution(w, w != 0, b)


def _range_over_every_weight(w, m, b):
    w = np.asarray(w, float)
    centroids = np.linspace(w.min(), w.max(), 2 ** b)
    return centroids, _assign(w, np.asarray(m, bool), centroids)


def _no_mask_at_all(w, m, b):
    w = np.asarray(w, float)
    return _solution(w, np.ones(w.shape, bool), b)


def _linspace(count, **options):
    def attempt(w, m, b):
        kept = _kept(w, m)
        centroids = np.linspace(kept.min(), kept.max(), count(b), **options)
        return centroids, _assign(w, np.asarray(m, bool), centroids)
    return attempt


def _arange(w, m, b):
    kept = _kept(w, m)
    step = (kept.max() - kept.min()) / 2 ** b
    centroids = np.arange(kept.min(), kept.max(), step)[:2 ** b]
    return centroids, _assign(w, np.asarray(m, bool), centroids)


def _assign_with(**options):
    def attempt(w, m, b):
        centroids, _ = _solution(w, m, b)
        return centroids, _assign(w, np.asarray(m, bool), centroids, **options)
    return attempt


def _rounded_to_the_grid(w, m, b):
    # index = round((w - lo) / step): np.round sends the exact ties 1.5 and 2.5 to 2 (even)
    centroids, _ = _solution(w, m, b)
    w, m = np.asarray(w, float), np.asarray(m, bool)
    step = centroids[1] - centroids[0]
    indices = np.full(w.shape, -1)
    indices[m] = np.round((w[m] - centroids[0]) / step).astype(int)
    return centroids, indices


def _quantiles(w, m, b):
    centroids = np.quantile(_kept(w, m), np.linspace(0, 1, 2 ** b))
    return centroids, _assign(w, np.asarray(m, bool), centroids)


def _symmetric(w, m, b):
    reach = np.abs(_kept(w, m)).max()
    centroids = np.linspace(-reach, reach, 2 ** b)
    return centroids, _assign(w, np.asarray(m, bool), centroids)


def _kmeans_run(w, m, b):
    # a student who runs k-means to the end: not the first step the exercise asks for
    centroids, indices = _solution(w, m, b)
    kept, labels = _kept(w, m), indices[np.asarray(m, bool)]
    for _ in range(10):
        centroids = np.array([kept[labels == k].mean() if np.any(labels == k) else c
                              for k, c in enumerate(centroids)])
        labels = np.argmin(np.abs(kept[:, None] - centroids), axis=1)
    return centroids, _assign(w, np.asarray(m, bool), centroids)


@pytest.mark.parametrize("attempt, hint", [
    (_pruned_get_a_cluster, "pruned weight (mask False) got a cluster index"),
    (_nonzero_as_mask, "the mask says so"),
    (_range_over_every_weight, "kept weights only"),
    (_no_mask_at_all, "got a cluster index"),
    (_linspace(lambda b: 2 ** b + 1), "one centroid too many"),
    (_linspace(lambda b: 2 ** b - 1), "one centroid too few"),
    (_linspace(lambda b: 2 ** b, endpoint=False), "endpoint=False"),
    (_arange, "endpoint=False"),
    (_linspace(lambda b: b), "not bits of them"),
    (_assign_with(upper=True), "take the lower index"),
    (_rounded_to_the_grid, "take the lower index"),
    (_assign_with(signed=True), "smallest distance |w - c|"),
    (_assign_with(base=1), "count from 0"),
    (_quantiles, "quantiles"),
    (_symmetric, "symmetric affine grid"),
    (_kmeans_run, "no k-means steps"),
    (lambda w, m, b: _solution(w, m, b)[::-1], "wrong order"),
    (lambda w, m, b: (_solution(w, m, b)[0], _solution(w, m, b)[1].ravel()), "shape"),
    (lambda w, m, b: (_solution(w, m, b)[0], _solution(w, m, b)[1].astype(float)),
     "return integers"),
    (lambda w, m, b: _solution(w, m, b)[0], "return a pair"),
    (lambda w, m, b: None, "returned None"),
    (lambda w, m, b: 1 / 0, "ZeroDivisionError"),
    ("share_linear", "pass your function"),
])
def test_share_linear_checker_explains_what_is_wrong(attempt, hint):
    result = ex.check_share_linear(attempt)
    assert not result.passed
    assert hint in result.message, result.message
