"""Tests for tinylab.crossval: folds, per-fold standardization, the intervals by hand."""

import io
import math

import numpy as np
import pytest

from tinylab import crossval, data


def _labels():
    return np.repeat([0, 1, 2, 3], 20)  # BasicMotions' 80: 20 per class


def test_folds_partition_the_indices_and_are_stratified():
    y = _labels()
    folds = crossval.stratified_folds(y, k=5, seed=0)
    assert len(folds) == 5
    tests = np.concatenate([test for _, test in folds])
    assert sorted(tests.tolist()) == list(range(80))
    for train, test in folds:
        assert set(train.tolist()) | set(test.tolist()) == set(range(80))
        assert not set(train.tolist()) & set(test.tolist())
        assert np.bincount(y[test]).tolist() == [4, 4, 4, 4]
        assert np.bincount(y[train]).tolist() == [16, 16, 16, 16]
    same = crossval.stratified_folds(y, k=5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, same))
    other = crossval.stratified_folds(y, k=5, seed=1)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


def test_groups_never_straddle_a_fold():
    y = np.repeat([0, 1], 30)
    groups = np.repeat(np.arange(20), 3)        # 20 recordings cut into 3 windows each
    for train, test in crossval.stratified_folds(y, k=5, seed=0, groups=groups):
        assert not set(groups[train]) & set(groups[test])


@pytest.mark.parametrize("k, match", [(1, ">= 2"), (0, ">= 2"), (2.5, ">= 2"), (True, ">= 2"),
                                      (21, "smallest class has 20")])
def test_bad_k_is_refused_clearly(k, match):
    with pytest.raises(ValueError, match=match):
        crossval.stratified_folds(_labels(), k=k)


def test_each_fold_is_standardized_on_its_training_part_only():
    rng = np.random.default_rng(0)
    y = _labels()
    X = rng.normal(loc=[5, -3, 0], scale=[2, 0.5, 10], size=(80, 7, 3)).astype(np.float32)
    received = []

    def record(X_train, y_train, X_test, y_test):
        received.append((X_train, y_train, X_test, y_test))
        return {"float": 0.5, "int8": 0.25}

    result = crossval.cross_validate(X, y, record, k=4, seed=0)
    assert len(received) == len(result.folds) == 4
    for (X_train, y_train, X_test, y_test), fold in zip(received, result.folds):
        mean, std = data.channel_statistics(X[fold.train_idx])
        np.testing.assert_allclose(fold.mean, mean) and np.testing.assert_allclose(fold.std, std)
        # standardized with the training part's statistics, not the test part's or all data's
        np.testing.assert_allclose(X_train, (X[fold.train_idx] - mean) / std, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(X_test, (X[fold.test_idx] - mean) / std, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(X_train.mean(axis=(0, 1)), 0, atol=1e-5)
        np.testing.assert_allclose(X_train.std(axis=(0, 1)), 1, atol=1e-5)
        assert abs(X_test.mean(axis=(0, 1))).max() > 1e-3   # the test part is not centred on itself
        assert X_train.dtype == np.float32
        np.testing.assert_array_equal(y_train, y[fold.train_idx])
        np.testing.assert_array_equal(y_test, y[fold.test_idx])
    assert result.names == ["float", "int8"]


def test_known_fold_accuracies_give_the_mean_and_t_interval_by_hand():
    accuracies = iter([0.75, 0.875, 0.8125, 0.9375, 1.0])   # 16 test examples per fold
    result = crossval.cross_validate(np.zeros((80, 4, 2)), _labels(),
                                     lambda *_: next(accuracies), k=5, seed=0)
    values = [0.75, 0.875, 0.8125, 0.9375, 1.0]
    mean = sum(values) / 5                                         # 0.875
    s = math.sqrt(sum((v - mean) ** 2 for v in values) / 4)        # sample std, ddof=1
    t_4 = 2.7764451051977987                                       # t(0.975, 4 degrees of freedom)
    half = t_4 * s / math.sqrt(5)
    assert result.mean("accuracy") == pytest.approx(0.875)
    assert result.t_interval("accuracy") == pytest.approx((mean - half, min(1.0, mean + half)))
    assert crossval.t_interval(values) == pytest.approx((mean - half, mean + half))
    # pooled: 12 + 14 + 13 + 15 + 16 = 70 of 80, Wilson by hand
    assert result.pooled("accuracy") == (70, 80)
    z, p, n = 1.959963984540054, 70 / 80, 80
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert result.wilson_interval("accuracy") == pytest.approx((centre - spread, centre + spread))
    table = result.table()["accuracy"]
    assert table["folds"] == values and table["pooled_correct"] == 70
    text = result.to_text()
    assert "5-fold cross-validation of 80 examples" in text and "87.5%" in text
    assert "t interval" in text and "Wilson interval of the 80 held-out predictions (70 right)" in text


def test_wilson_interval_golden_and_bounds():
    # 8 of 10 at 95%: (0.4902, 0.9433), a textbook value
    low, high = crossval.wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert crossval.wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert crossval.wilson_interval(0, 10)[0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="correct <= total"):
        crossval.wilson_interval(11, 10)


def test_scores_must_be_accuracies_with_the_same_names_every_fold():
    X, y = np.zeros((80, 4, 2)), _labels()
    with pytest.raises(ValueError, match="not an accuracy in"):
        crossval.cross_validate(X, y, lambda *_: 3.0, k=2)
    names = iter([{"float": 1.0}, {"int8": 1.0}])
    with pytest.raises(ValueError, match="return the same names every fold"):
        crossval.cross_validate(X, y, lambda *_: next(names), k=2)
    with pytest.raises(TypeError, match="must be a function"):
        crossval.cross_validate(X, y, "fit", k=2)
    with pytest.raises(ValueError, match=r"shape \(n, \.\.\., channels\)"):
        crossval.cross_validate(X, y[:10], lambda *_: 1.0, k=2)


def test_progress_bar_counts_the_folds(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(crossval.sys, "stderr", stream)
    crossval.cross_validate(np.zeros((80, 4, 2)), _labels(), lambda *_: 1.0, k=4, progress=True)
    assert "cross-validation" in stream.getvalue() and "4/4" in stream.getvalue()
