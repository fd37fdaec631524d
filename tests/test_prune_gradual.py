"""Gradual pruning (Zhu & Gupta 2017), the sensitivity scan, Han's q x sigma on a model."""

import numpy as np
import pytest

import tinylab as tl
from tinylab import prune
from tinylab._tensorflow import keras


def small_mlp(seed=0, hidden=(12, 8)):
    return tl.models.mlp((8, 8, 1), 10, hidden, seed=seed, name="small")


def trained_mlp(digits, hidden=(32, 16), epochs=4):
    model = small_mlp(hidden=hidden)
    tl.train.fit(model, digits, epochs=epochs, learning_rate=3e-3, progress=False)
    return model


# --------------------------------------------------------------------------- the schedule

def test_polynomial_sparsity_by_hand():
    # s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3, t0 = 0, n dt = 40, dt = 10, s_f = 0.8:
    # k = 0..4 updates: 0.8 (1 - (1 - k/4)^3) = 0, 0.4625, 0.7, 0.7875, 0.8
    steps = [0, 9, 10, 19, 20, 30, 39, 40, 41, 1000]
    got = prune.polynomial_sparsity(steps, final_sparsity=0.8, begin_step=0, end_step=40,
                                    frequency=10)
    expected = [0.0, 0.0, 0.4625, 0.4625, 0.7, 0.7875, 0.7875, 0.8, 0.8, 0.8]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_polynomial_sparsity_before_begin_initial_and_power():
    kwargs = dict(final_sparsity=0.5, begin_step=100, end_step=120, frequency=10)
    assert prune.polynomial_sparsity(99, **kwargs) == 0.0          # nothing before t0
    assert prune.polynomial_sparsity(100, **kwargs) == pytest.approx(0.0)
    # with s_i = 0.2 the first update already prunes 20%; power 1 is a straight line:
    # 0.5 + (0.2 - 0.5) (1 - 10/20) = 0.35 at t = 110
    linear = dict(kwargs, initial_sparsity=0.2, power=1)
    assert prune.polynomial_sparsity(100, **linear) == pytest.approx(0.2)
    assert prune.polynomial_sparsity(115, **linear) == pytest.approx(0.35)
    assert prune.polynomial_sparsity(120, **linear) == pytest.approx(0.5)
    assert isinstance(prune.polynomial_sparsity(5, **kwargs), float)


@pytest.mark.parametrize("options, message", [
    (dict(end_step=45), "not a multiple of frequency.*end_step=40 or 50"),
    (dict(end_step=0), "must come after begin_step"),
    (dict(frequency=0), "frequency must be a whole number"),
    (dict(frequency=2.5), "frequency must be a whole number"),
    (dict(begin_step=-10), "begin_step must be a whole number"),
    (dict(final_sparsity=1.0), r"final_sparsity must be in \[0, 1\)"),
    (dict(initial_sparsity=0.9), "must be >= initial_sparsity"),
    (dict(power=0), "power must be > 0"),
])
def test_polynomial_sparsity_refuses_bad_settings(options, message):
    settings = dict(final_sparsity=0.8, begin_step=0, end_step=40, frequency=10)
    with pytest.raises(ValueError, match=message):
        prune.polynomial_sparsity(0, **dict(settings, **options))


# --------------------------------------------------------------------------- gradual_prune

def test_gradual_prune_follows_the_schedule_and_ends_exactly(digits):
    model = trained_mlp(digits)
    n_train = len(digits.y_train)
    steps_per_epoch = -(-n_train // 32)
    end_step = 2 * steps_per_epoch  # ramp over the first two epochs, train one more
    masks, history = prune.gradual_prune(model, digits, final_sparsity=0.8, end_step=end_step,
                                         frequency=steps_per_epoch // 2, epochs=3,
                                         progress=False)
    # exactly round(0.8 n) weights pruned in every layer
    for name, mask in masks.items():
        assert (~mask).sum() == round(0.8 * mask.size), name
        kernel = np.asarray(model.get_layer(name).kernel)
        assert np.all(kernel[~mask] == 0.0), f"{name}: a pruned weight is not zero"
        assert np.all(kernel[mask] != 0.0), f"{name}: a kept weight is exactly zero"
    assert [row["epoch"] for row in history] == [0, 1, 2, 3]
    assert [row["step"] for row in history] == [0, steps_per_epoch, 2 * steps_per_epoch,
                                                3 * steps_per_epoch]
    # after epoch 1 (steps 0 to steps_per_epoch - 1 trained) the masks hold the sparsity of
    # the last update before that; the update at step steps_per_epoch opens epoch 2
    schedule = dict(final_sparsity=0.8, begin_step=0, end_step=end_step,
                    frequency=steps_per_epoch // 2)
    expected_after_1 = prune.polynomial_sparsity(steps_per_epoch - 1, **schedule)
    assert history[1]["sparsity"] == pytest.approx(expected_after_1, abs=0.01)
    assert history[3]["sparsity"] == pytest.approx(prune.sparsity(masks))
    sparsities = [row["sparsity"] for row in history]
    assert sparsities == sorted(sparsities)
    assert history[-1]["accuracy"] == pytest.approx(
        tl.train.accuracy(model, digits.X_val, digits.y_val))
    assert history[-1]["accuracy"] > 0.4  # far better than chance (0.1) for this small net
    assert model.get_layer("dense_1").kernel.constraint is None  # removed afterwards


def test_gradual_masks_only_grow_between_updates(digits, monkeypatch):
    """Record every mask the callback sets: each is a subset of the one before."""
    model = trained_mlp(digits, hidden=(16, 8), epochs=2)
    seen = []
    original = prune.sparsity_mask

    def recording(weights, target, previous=None):
        mask = original(weights, target, previous)
        seen.append((np.asarray(weights).shape, mask.copy()))
        return mask

    monkeypatch.setattr(prune, "sparsity_mask", recording)
    prune.gradual_prune(model, digits, final_sparsity=0.9, end_step=40, frequency=5, epochs=2,
                        progress=False, part=None)
    by_shape = {}
    for shape, mask in seen:
        by_shape.setdefault(shape, []).append(mask)
    assert len(by_shape) == 3 and all(len(m) == 9 for m in by_shape.values())  # t = 0, 5, ..., 40
    for masks in by_shape.values():
        for before, after in zip(masks, masks[1:]):
            assert not np.any(after & ~before), "a pruned weight came back"
        assert (~masks[-1]).sum() == round(0.9 * masks[-1].size)


def test_gradual_prune_keeps_earlier_masks_and_per_layer_targets(digits):
    model = trained_mlp(digits, hidden=(16, 8), epochs=2)
    earlier = prune.prune_model(model, sparsity={"dense_1": 0.5})
    masks, history = prune.gradual_prune(
        model, digits, final_sparsity={"dense_1": 0.7, "logits": 0.3}, end_step=20,
        frequency=10, epochs=1, masks=earlier, progress=False, part=None)
    assert set(masks) == {"dense_1", "logits"}
    assert not np.any(masks["dense_1"] & ~earlier["dense_1"])
    assert (~masks["dense_1"]).sum() == round(0.7 * masks["dense_1"].size)
    assert (~masks["logits"]).sum() == round(0.3 * masks["logits"].size)
    assert np.all(np.asarray(model.get_layer("dense_2").kernel) != 0)  # not pruned
    assert history[-1]["accuracy"] is None


def test_gradual_prune_refuses_bad_arguments(digits):
    model = small_mlp()
    before = [w.copy() for w in model.get_weights()]
    steps = -(-len(digits.y_train) // 32)
    cases = [
        (dict(end_step=steps), "leaves no training after the last mask update"),
        (dict(end_step=25, frequency=10), "not a multiple of frequency"),
        (dict(epochs=0), "epochs must be a whole number"),
        (dict(batch_size=0), "batch_size must be a whole number"),
        (dict(learning_rate=0), "learning_rate must be > 0"),
        (dict(final_sparsity=1.2), r"\[0, 1\)"),
        (dict(final_sparsity={"dense_9": 0.5}), "no layer 'dense_9'"),
        (dict(part="holdout"), "part must be 'train', 'val' or 'test'"),
    ]
    for options, message in cases:
        settings = dict(final_sparsity=0.5, end_step=20, frequency=10, epochs=1, progress=False)
        with pytest.raises(ValueError, match=message):
            prune.gradual_prune(model, digits, **dict(settings, **options))
    for a, b in zip(before, model.get_weights()):  # refused before touching the model
        np.testing.assert_array_equal(a, b)


def test_mask_constraint_update_changes_the_mask():
    constraint = prune.MaskConstraint(np.array([True, False, True]))
    w = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(constraint(w)), [1.0, 0.0, 3.0])
    constraint.update(np.array([False, False, True]))
    np.testing.assert_array_equal(np.asarray(constraint(w)), [0.0, 0.0, 3.0])


# --------------------------------------------------------------------------- sensitivity

def test_sensitivity_scan_prunes_one_layer_at_a_time(digits):
    model = trained_mlp(digits)
    before = [w.copy() for w in model.get_weights()]
    levels = [0.0, 0.5, 0.9]
    scan = prune.sensitivity_scan(model, digits, levels)
    assert list(scan) == ["dense_1", "dense_2", "logits"]
    baseline = tl.train.accuracy(model, digits.X_val, digits.y_val)
    for name, accuracies in scan.items():
        assert accuracies.shape == (3,)
        assert accuracies[0] == pytest.approx(baseline)  # 0% pruned: the model itself
    # the value at 90% for dense_2 is the model with dense_2 alone pruned, scored on val
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    prune.prune_model(copy, sparsity=0.9, layers=["dense_2"])
    assert scan["dense_2"][2] == pytest.approx(tl.train.accuracy(copy, digits.X_val, digits.y_val))
    for a, b in zip(before, model.get_weights()):  # the scan never changes the model
        np.testing.assert_array_equal(a, b)
    only = prune.sensitivity_scan(model, digits, [0.5], layers=["logits"], part="train")
    assert list(only) == ["logits"]
    with pytest.raises(ValueError, match="at least one"):
        prune.sensitivity_scan(model, digits, [])
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        prune.sensitivity_scan(model, digits, [0.5, 1.0])
    with pytest.raises(ValueError, match="part must be"):
        prune.sensitivity_scan(model, digits, [0.5], part="testing")


def test_choose_sparsities_by_hand():
    levels = [0.5, 0.7, 0.9]
    scan = {"a": [0.98, 0.975, 0.96],   # loses 0.5 pp at 70%, 2 pp at 90%
            "b": [0.98, 0.98, 0.975],   # never more than 0.5 pp
            "c": [0.96, 0.98, 0.98],    # too much at the first level already
            "d": [0.98, 0.90, 0.98]}    # a dip: every lower level must pass too
    chosen = prune.choose_sparsities(scan, levels, baseline=0.98, max_loss=0.01)
    assert chosen == {"a": 0.7, "b": 0.9, "c": 0.0, "d": 0.5}
    assert prune.choose_sparsities(scan, levels, 0.98, max_loss=0.03)["a"] == 0.9
    with pytest.raises(ValueError, match="increasing"):
        prune.choose_sparsities(scan, [0.9, 0.5, 0.7], 0.98)
    with pytest.raises(ValueError, match="max_loss must be >= 0"):
        prune.choose_sparsities(scan, levels, 0.98, max_loss=-0.01)
    with pytest.raises(ValueError, match="has 2 accuracies for 3 sparsities"):
        prune.choose_sparsities({"a": [0.9, 0.8]}, levels, 0.98)


def test_quality_scan_prunes_each_layer_at_q_times_its_std(digits):
    model = trained_mlp(digits)
    before = [w.copy() for w in model.get_weights()]
    rows = prune.quality_scan(model, digits, [0.0, 1.0])
    assert rows[0]["sparsity"] == 0.0 and rows[0]["accuracy"] == pytest.approx(
        tl.train.accuracy(model, digits.X_val, digits.y_val))
    for name, value in rows[1]["layers"].items():
        kernel = before[[l.name for l in model.layers if l.weights].index(name) * 2]
        expected = np.mean(np.abs(kernel) <= kernel.std())
        assert value == pytest.approx(expected), name
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="quality must be >= 0"):
        prune.quality_scan(model, digits, [1.0, -1.0])


def test_accuracy_without_retraining_scores_on_validation_by_default(digits):
    model = trained_mlp(digits, hidden=(16, 8), epochs=2)
    got = prune.accuracy_without_retraining(model, digits, [0.0])
    assert got[0] == pytest.approx(tl.train.accuracy(model, digits.X_val, digits.y_val))
