"""Lesson 09's exercise: standardize IMU windows per channel, with the training split's numbers."""

import numpy as np
import pytest

import tinylab as tl
from tinylab import exercises as ex
from tinylab.exercises.gestures import _probes, _slips


def test_reference_solution_by_hand():
    # channel 0 of the training windows: 1, 3, 1, 3 (mean 2, std 1); channel 1: 10, 30, 10, 30
    X_train = np.array([[[1.0, 10.0], [3.0, 30.0]], [[3.0, 30.0], [1.0, 10.0]]])
    X = np.array([[[2.0, 20.0], [4.0, 40.0]]])
    np.testing.assert_allclose(ex.solutions.standardize_channels(X_train, X), [[[0.0, 0.0], [2.0, 2.0]]])
    assert ex.solutions.standardize_channels(X_train, X).shape == X.shape


def test_reference_solution_gives_the_lessons_own_arrays():
    data = tl.data.load("gestures", seed=0)
    raw = tl.data.load_recorded(tl.data.DATASETS_DIR / "gestures", seed=0)
    for part in ("X_train", "X_test"):
        standardized = ex.solutions.standardize_channels(raw.X_train, getattr(raw, part))
        np.testing.assert_allclose(standardized, getattr(data, part), atol=1e-4)


def test_checker_accepts_the_reference_and_says_where_it_is_used():
    result = ex.check_standardize_channels(ex.solutions.standardize_channels)
    assert result.passed, result.message
    assert "tl.data.standardize_channels" in result.message and "ddof" not in result.message
    assert "standardize_channels" in ex.show_solution("standardize_channels")


def test_checker_accepts_float32_and_the_sample_std_with_a_note():
    def float32(X_train, X):
        mean, std = X_train.mean(axis=(0, 1)), X_train.std(axis=(0, 1))
        return ((X - mean) / std).astype(np.float32)

    assert ex.check_standardize_channels(float32).passed
    result = ex.check_standardize_channels(
        lambda X_train, X: (X - X_train.mean(axis=(0, 1))) / X_train.std(axis=(0, 1), ddof=1))
    assert result.passed and "ddof=1" in result.message


def _in_place(X_train, X):
    X -= X_train.mean(axis=(0, 1))
    X /= X_train.std(axis=(0, 1))
    return X


def _min_max(X_train, X):
    low, high = X_train.min(axis=(0, 1)), X_train.max(axis=(0, 1))
    return (X - low) / (high - low)


@pytest.mark.filterwarnings("ignore:divide by zero", "ignore:invalid value")
@pytest.mark.parametrize("attempt, hint", [
    (lambda X_train, X: None, "returned None"),
    (lambda X_train, X: 1 / 0, "ZeroDivisionError"),
    ("not a function", "pass your function"),
    # statistics from the wrong data
    (lambda X_train, X: (X - X.mean(axis=(0, 1))) / X.std(axis=(0, 1)), "from X, the windows"),
    (lambda X_train, X: (X - np.concatenate([X_train, X]).mean(axis=(0, 1)))
     / np.concatenate([X_train, X]).std(axis=(0, 1)), "X_train and X together"),
    # the wrong axes
    (lambda X_train, X: (X - X_train.mean()) / X_train.std(), "one mean and one std for all channels"),
    (lambda X_train, X: (X - X_train.mean(axis=0)) / X_train.std(axis=0), "the windows only (axis 0)"),
    (lambda X_train, X: (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True),
     "each window by its own"),
    # half the formula, or the wrong one
    (lambda X_train, X: X - X_train.mean(axis=(0, 1)), "did not divide by the std"),
    (lambda X_train, X: X / X_train.std(axis=(0, 1)), "did not subtract the mean"),
    (lambda X_train, X: (X - X_train.mean(axis=(0, 1))) / X_train.var(axis=(0, 1)), "variance"),
    (_min_max, "min-max scaling to [0, 1]"),
    (lambda X_train, X: 2 * _min_max(X_train, X) - 1, "min-max scaling to [-1, 1]"),
    # shapes, and arrays changed under the caller
    (lambda X_train, X: ((X - X_train.mean(axis=(0, 1))) / X_train.std(axis=(0, 1))).reshape(len(X), -1),
     "keep X's shape"),
    (lambda X_train, X: X_train.mean(axis=(0, 1)), "the statistics themselves"),
    (_in_place, "changed X in place"),
    (lambda X_train, X: (X - X_train.reshape(-1, 6).mean(axis=0)) / X_train.reshape(-1, 6).std(axis=0),
     "don't hard-code"),
    (lambda X_train, X: (X - X_train.mean(axis=(0, 1))) / 0.0, "NaN or inf"),
    (lambda X_train, X: (X - X_train.mean(axis=(0, 1))) / X_train.std(axis=(0, 1)) + 0.1,
     "every window and every time step of X_train"),
])
def test_checker_explains_what_is_wrong(attempt, hint):
    result = ex.check_standardize_channels(attempt)
    assert not result.passed
    assert hint in result.message, result.message


def test_every_slip_gives_its_own_answer_on_every_probe():
    """So the hint a student gets names their slip, not another one that happens to agree."""
    for X_train, X in _probes():
        reference = ex.solutions.standardize_channels(X_train, X)
        answers = [reference] + [answer for answer, _ in _slips(X_train, X)]
        for i, a in enumerate(answers):
            for b in answers[i + 1:]:
                assert not np.allclose(a, b, rtol=1e-3, atol=1e-3)


def test_probes_have_channels_that_vary_and_test_windows_with_their_own_statistics():
    for X_train, X in _probes():
        assert X_train.ndim == X.ndim == 3 and X_train.shape[1:] == X.shape[1:] and len(X) > 1
        assert np.all(X_train.std(axis=(0, 1)) > 0)
        assert not np.allclose(X.mean(axis=(0, 1)), X_train.mean(axis=(0, 1)))



def test_only_shape_errors_are_told_not_to_hard_code_the_gestures_shape():
    assert "hard-code" not in ex.check_standardize_channels(lambda X_train, X: 1 / 0).message
    assert "hard-code" not in ex.check_standardize_channels(lambda X_train, X: None).message
    hard_coded = ex.check_standardize_channels(lambda X_train, X: X.reshape(len(X), 50, 6))
    assert "3 time steps and 2 channels: don't hard-code" in hard_coded.message
