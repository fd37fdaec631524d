"""Tests for tinylab.augment: IMU augmentations on (n, steps, channels) arrays."""

import numpy as np
import pytest

from tinylab import augment


def _windows(n=5, steps=40, channels=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, steps, channels)).astype(np.float32)


STEPS = [
    (augment.jitter, 0.1),
    (augment.scale, 0.1),
    (augment.time_shift, 5),
    (augment.crop, 0.8),
]


@pytest.mark.parametrize("step, argument", STEPS)
def test_shape_dtype_kept_input_untouched_and_seeded(step, argument):
    X = _windows()
    before = X.copy()
    out = step(X, argument, 3)
    assert out.shape == X.shape and out.dtype == X.dtype and out is not X
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(step(X, argument, 3), out)
    np.testing.assert_array_equal(step(X, argument, np.random.default_rng(3)), out)
    assert not np.array_equal(step(X, argument, 4), out)


@pytest.mark.parametrize("step, argument", STEPS)
def test_wrong_ndim_is_refused(step, argument):
    with pytest.raises(ValueError, match=r"\(n, steps, channels\)"):
        step(np.zeros((40, 6)), argument, 0)


def test_jitter_adds_noise_of_std_sigma_around_zero():
    X = np.full((200, 100, 6), 3.0, dtype=np.float32)
    noise = augment.jitter(X, 0.05, 0) - X
    assert abs(noise.std() - 0.05) < 0.001 and abs(noise.mean()) < 0.001
    np.testing.assert_array_equal(augment.jitter(X, 0.0, 0), X)


def test_scale_factor_is_one_per_example_and_channel_constant_over_time():
    X = np.random.default_rng(0).uniform(1, 2, size=(300, 30, 6))
    factors = augment.scale(X, 0.1, 0) / X
    np.testing.assert_allclose(factors, factors[:, :1, :] * np.ones_like(factors), rtol=1e-12)
    per = factors[:, 0, :]
    assert abs(per.mean() - 1) < 0.02 and abs(per.std() - 0.1) < 0.01
    assert len(np.unique(per.round(12))) == per.size  # every (example, channel) its own


def test_time_shift_moves_a_marked_step_and_pads_with_edge_values():
    steps = 20
    X = np.zeros((400, steps, 2))
    X[:, 10, 0] = 1.0                        # a marked step
    X[:, :, 1] = np.arange(steps)            # a ramp shows the edge padding
    out = augment.time_shift(X, 4, 0)
    shifts = out[:, :, 0].argmax(axis=1) - 10
    assert set(shifts.tolist()) == set(range(-4, 5))
    for example, shift in zip(out, shifts):
        assert example[:, 0].sum() == 1.0
        want = np.clip(np.arange(steps) - shift, 0, steps - 1)
        np.testing.assert_array_equal(example[:, 1], want)
    later = out[shifts == 3][0, :, 1]
    assert later[:4].tolist() == [0, 0, 0, 0] and later[-1] == steps - 4   # first value repeated
    earlier = out[shifts == -2][0, :, 1]
    assert earlier[-3:].tolist() == [steps - 1] * 3                        # last value repeated
    np.testing.assert_array_equal(augment.time_shift(X, 0, 0), X)


def test_crop_of_fraction_one_is_the_identity():
    X = _windows()
    np.testing.assert_array_equal(augment.crop(X, 1.0, 0), X)


def test_crop_stretches_a_monotonic_ramp_to_a_monotonic_ramp_inside_its_range():
    steps = 50
    X = np.tile(np.arange(steps, dtype=np.float64)[None, :, None], (100, 1, 3))
    out = augment.crop(X, 0.6, 0)
    assert np.all(np.diff(out, axis=1) > 0)
    # a crop of L steps from start s maps linearly onto s .. s + L - 1
    first, last = out[:, 0, 0], out[:, -1, 0]
    lengths = last - first + 1
    assert np.all(lengths >= np.ceil(0.6 * steps) - 1e-9) and np.all(lengths <= steps + 1e-9)
    np.testing.assert_allclose(lengths, np.round(lengths), atol=1e-9)
    np.testing.assert_allclose(np.diff(out, axis=1), ((lengths - 1) / (steps - 1))[:, None, None]
                               * np.ones((1, steps - 1, 3)), rtol=1e-9)
    assert lengths.min() < steps  # some crops are real crops
    np.testing.assert_array_equal(out[:, :, 0], out[:, :, 2])  # one crop for every channel


@pytest.mark.parametrize("call, match", [
    (lambda X: augment.jitter(X, -0.1, 0), "sigma must be a finite number >= 0"),
    (lambda X: augment.scale(X, float("nan"), 0), "sigma must be a finite number >= 0"),
    (lambda X: augment.crop(X, 0.0, 0), r"min_fraction must lie in \(0, 1\]"),
    (lambda X: augment.crop(X, 1.5, 0), r"min_fraction must lie in \(0, 1\]"),
    (lambda X: augment.time_shift(X, -1, 0), "max_shift must be a whole number"),
    (lambda X: augment.time_shift(X, 40, 0), "max_shift must be a whole number"),
    (lambda X: augment.augment(X, [0] * 5, -1, 0), "copies must be a whole number"),
    (lambda X: augment.augment(X, [0] * 4, 1, 0), "one label per example"),
    (lambda X: augment.augment(X, [0] * 5, 1, 0, crop=0.0), r"min_fraction must lie in"),
])
def test_bad_arguments_say_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call(_windows())


def test_rng_must_be_a_generator_or_a_seed():
    with pytest.raises(TypeError, match="Generator or an int seed"):
        augment.jitter(_windows(), 0.1, "zero")


def test_augment_returns_originals_then_copies_with_labels():
    X, y = _windows(n=4), np.array([0, 1, 2, 3])
    before = X.copy()
    X_more, y_more = augment.augment(X, y, 3, 0, jitter=0.05, scale=0.1, shift=3, crop=0.9)
    assert X_more.shape == (16, 40, 6) and y_more.tolist() == [0, 1, 2, 3] * 4
    np.testing.assert_array_equal(X_more[:4], X)
    np.testing.assert_array_equal(X, before)
    assert not np.allclose(X_more[4:8], X)
    again, _ = augment.augment(X, y, 3, 0, jitter=0.05, scale=0.1, shift=3, crop=0.9)
    np.testing.assert_array_equal(again, X_more)
    plain, plain_y = augment.augment(X, y, 2, 0)
    np.testing.assert_array_equal(plain, np.concatenate([X, X, X]))
    assert augment.augment(X, y, 0, 0)[0].shape == X.shape


def test_augment_with_only_jitter_is_jitter_from_the_same_generator():
    X, y = _windows(n=3), np.arange(3)
    X_more, _ = augment.augment(X, y, 1, 7, jitter=0.2)
    np.testing.assert_array_equal(X_more[3:], augment.jitter(X, 0.2, 7))
