"""Pruning: hand-computed masks, masks that survive training, dead neurons, sparse storage."""

import numpy as np
import pytest

import tinylab as tl
from tinylab import prune, workspace
from tinylab._tensorflow import keras

# The lesson's 4x4 example: mean 0, sum of squares 3.04, so std = sqrt(3.04 / 16) = sqrt(0.19)
# = 0.436; quality 1.0 keeps the five weights with |w| > 0.436.
W44 = np.array([[0.9, -0.1, 0.0, -0.7],
                [0.2, 0.6, -0.3, 0.1],
                [-0.8, 0.3, 0.5, -0.2],
                [0.1, -0.4, 0.0, -0.2]])


def small_mlp(seed=0, hidden=(12, 8)):
    return tl.models.mlp((8, 8, 1), 10, hidden, seed=seed, name="small")


# --------------------------------------------------------------------------- pure kernels

def test_threshold_mask_by_hand():
    threshold = prune.quality_threshold(W44, 1.0)
    assert threshold == pytest.approx(np.sqrt(0.19))
    expected = np.array([[1, 0, 0, 1],
                         [0, 1, 0, 0],
                         [1, 0, 1, 0],
                         [0, 0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(prune.threshold_mask(W44, threshold), expected)
    # a weight exactly on the threshold is pruned
    np.testing.assert_array_equal(prune.threshold_mask([0.5, -0.5, 0.51], 0.5), [False, False, True])
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        prune.threshold_mask(W44, -0.1)


def test_quality_threshold_is_quality_times_std():
    w = np.array([1.0, -1.0, 1.0, -1.0])  # std exactly 1
    assert prune.quality_threshold(w, 0.7) == pytest.approx(0.7)
    assert prune.quality_threshold(W44, 2.0) == pytest.approx(2 * W44.std())
    assert prune.quality_threshold(W44, 0) == 0


def test_sparsity_mask_prunes_exactly_the_smallest():
    mask = prune.sparsity_mask(W44, 0.5)  # 8 of 16 go: the zeros, the 0.1s and the 0.2s
    assert (~mask).sum() == 8
    kept = np.abs(W44[mask])
    pruned = np.abs(W44[~mask])
    assert kept.min() >= pruned.max()
    # ties are broken by position, so the count is exact even for all-equal weights
    assert (~prune.sparsity_mask(np.ones(10), 0.3)).sum() == 3


@pytest.mark.parametrize("target", [0.0, 0.1, 0.25, 0.5, 0.9, 0.95])
def test_sparsity_mask_reaches_the_target(target):
    w = np.random.default_rng(1).normal(size=(64, 30))
    mask = prune.sparsity_mask(w, target)
    assert (~mask).sum() == round(target * w.size)


def test_sparsity_mask_keeps_earlier_pruning():
    w = np.arange(1.0, 11.0)
    previous = np.ones(10, dtype=bool)
    previous[9] = False  # the largest weight was pruned before
    mask = prune.sparsity_mask(w, 0.3, previous)
    assert not mask[9]
    assert (~mask).sum() == 3  # the earlier one counts towards the 30%
    np.testing.assert_array_equal(np.flatnonzero(~mask), [0, 1, 9])


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, "lots"])
def test_sparsity_outside_0_1_is_refused(value):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        prune.sparsity_mask(W44, value)


def test_negative_quality_is_refused():
    with pytest.raises(ValueError, match="quality must be >= 0"):
        prune.quality_threshold(W44, -1)
    model = small_mlp()
    with pytest.raises(ValueError, match="quality must be >= 0"):
        prune.prune_model(model, quality={"dense_1": 1.0, "logits": -0.5})
    assert prune.sparsity(model) == 0  # nothing was pruned before the bad value was found


def test_layer_without_weights_and_unknown_layer_name_the_choices():
    model = small_mlp()
    with pytest.raises(ValueError, match=r"'flatten' has no weights.*dense_1.*dense_2.*logits"):
        prune.prune_model(model, sparsity=0.5, layers=["flatten"])
    with pytest.raises(ValueError, match=r"no layer 'dense_9'.*\['dense_1', 'dense_2', 'logits'\]"):
        prune.prune_model(model, sparsity=0.5, layers=["dense_9"])
    with pytest.raises(ValueError, match="exactly one of"):
        prune.prune_model(model, sparsity=0.5, quality=1.0)
    with pytest.raises(ValueError, match="exactly one of"):
        prune.prune_model(model)


# --------------------------------------------------------------------------- model steps

def test_prune_model_by_quality_uses_each_layers_std():
    model = small_mlp()
    kernel = np.asarray(model.get_layer("dense_1").kernel)
    masks = prune.prune_model(model, quality=1.0, layers=["dense_1"])
    np.testing.assert_array_equal(masks["dense_1"], np.abs(kernel) > kernel.std())
    assert set(masks) == {"dense_1"}
    assert np.all(np.asarray(model.get_layer("dense_1").kernel)[~masks["dense_1"]] == 0)
    assert np.all(np.asarray(model.get_layer("logits").kernel) != 0)


def test_pruning_twice_keeps_the_earlier_masks():
    model = small_mlp()
    first = prune.prune_model(model, sparsity=0.5)
    # the weights move (as in retraining): earlier-pruned ones would now be large
    model.get_layer("dense_1").kernel.assign(np.full((64, 12), 3.0, dtype=np.float32))
    second = prune.prune_model(model, sparsity=0.6, masks=first)
    for name in first:
        assert not np.any(second[name] & ~first[name]), f"{name}: a pruned weight came back"
        assert (~second[name]).sum() == round(0.6 * second[name].size)
    by_quality = prune.prune_model(model, quality=0.5, masks=second)
    for name in second:
        assert not np.any(by_quality[name] & ~second[name])


def test_per_layer_sparsity_dict():
    model = small_mlp()
    masks = prune.prune_model(model, sparsity={"dense_1": 0.9, "logits": 0.5})
    assert set(masks) == {"dense_1", "logits"}
    assert prune.sparsity(masks, layers=["dense_1"]) == pytest.approx(round(0.9 * 768) / 768)
    with pytest.raises(ValueError, match="not being pruned"):
        prune.prune_model(model, sparsity={"flatten": 0.5})


def test_masks_stay_exactly_zero_through_fit_with_adam(digits):
    model = small_mlp()
    masks = prune.prune_model(model, sparsity=0.7)
    prune.retrain(model, masks, digits, epochs=2, learning_rate=1e-2, progress=False)
    for name, mask in masks.items():
        kernel = np.asarray(model.get_layer(name).kernel)
        assert np.all(kernel[~mask] == 0.0), f"{name}: pruned weights moved"
        assert np.any(kernel[mask] != 0.0)
    assert model.get_layer("dense_1").kernel.constraint is None  # removed after retraining


def test_retraining_without_the_constraint_would_move_pruned_weights(digits):
    """The test above can fail: plain Adam does move pruned weights."""
    model = small_mlp()
    masks = prune.prune_model(model, sparsity=0.7)
    tl.train.fit(model, digits, epochs=1, learning_rate=1e-2, progress=False)
    assert np.any(np.asarray(model.get_layer("dense_1").kernel)[~masks["dense_1"]] != 0.0)


def test_schedule_ends_at_the_target():
    steps = prune.schedule(0.9, 4)
    assert len(steps) == 4 and steps[-1] == pytest.approx(0.9)
    assert all(a < b for a, b in zip(steps, steps[1:]))
    assert prune.schedule(0.8, 4, power=1) == pytest.approx([0.2, 0.4, 0.6, 0.8])
    per_layer = prune.schedule({"a": 0.9, "b": 0.5}, 2, power=1)
    assert per_layer[-1] == pytest.approx({"a": 0.9, "b": 0.5})
    with pytest.raises(ValueError, match="steps"):
        prune.schedule(0.9, 0)


@pytest.mark.cross_cpu
def test_iterative_prune_ends_at_the_target_and_keeps_accuracy(digits):
    model = small_mlp(hidden=(32, 16))
    tl.train.fit(model, digits, epochs=8, learning_rate=3e-3, progress=False)
    masks, history = prune.iterative_prune(model, digits, final_sparsity=0.8, steps=3,
                                           epochs_per_step=2, learning_rate=1e-3,
                                           progress=False)
    assert [row["step"] for row in history] == [0, 1, 2, 3]
    assert history[-1]["sparsity"] == pytest.approx(0.8, abs=1e-3)
    assert prune.sparsity(model) == pytest.approx(0.8, abs=1e-3)
    sparsities = [row["sparsity"] for row in history]
    assert sparsities == sorted(sparsities)
    assert history[-1]["accuracy_retrained"] > 0.6  # far better than chance (0.1)


def test_accuracy_without_retraining_leaves_the_model_alone(digits):
    model = small_mlp()
    before = [w.copy() for w in model.get_weights()]
    accuracies = prune.accuracy_without_retraining(model, digits, [0.0, 0.5, 0.9], part="val")
    assert accuracies.shape == (3,)
    assert accuracies[0] == pytest.approx(tl.train.accuracy(model, digits.X_val, digits.y_val))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- dead neurons

def _model_with_dead_units():
    model = small_mlp(seed=3, hidden=(6, 5))
    w1, b1 = model.get_layer("dense_1").get_weights()
    w2, b2 = model.get_layer("dense_2").get_weights()
    w3, b3 = model.get_layer("logits").get_weights()
    b1[:] = [0.3, -0.2, 0.5, 0.1, 0.0, 0.2]
    b2[:] = 0.05
    w1[:, 1] = 0.0          # unit 1: no inputs, relu(-0.2) = 0 feeds nothing
    w1[:, 2] = 0.0          # unit 2: no inputs, relu(0.5) = 0.5 feeds dense_2: folded into b2
    w2[4, :] = 0.0          # unit 4: no outputs
    w3[3, :] = 0.0          # dense_2 unit 3: no outputs
    w2[:, 0] = 0.0          # dense_2 unit 0: no inputs, relu(0.05) folded into logits' bias
    model.get_layer("dense_1").set_weights([w1, b1])
    model.get_layer("dense_2").set_weights([w2, b2])
    model.get_layer("logits").set_weights([w3, b3])
    return model


def test_dead_neurons_are_found():
    found = prune.dead_neurons(_model_with_dead_units())
    np.testing.assert_array_equal(found["dense_1"]["no_inputs"], [1, 2])
    np.testing.assert_array_equal(found["dense_1"]["no_outputs"], [4])
    np.testing.assert_array_equal(found["dense_2"]["no_inputs"], [0])
    np.testing.assert_array_equal(found["dense_2"]["no_outputs"], [3])


def test_removing_dead_neurons_keeps_the_outputs(digits):
    model = _model_with_dead_units()
    smaller, masks = prune.remove_dead_neurons(model)
    units = [smaller.get_layer(n).units for n in ("dense_1", "dense_2", "logits")]
    assert units == [3, 3, 10]
    X = digits.X_test
    np.testing.assert_allclose(smaller.predict(X, verbose=0), model.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-5)
    assert masks["dense_1"].shape == smaller.get_layer("dense_1").kernel.shape
    assert tl.models.count_params(smaller) < tl.models.count_params(model)


def test_dropping_a_live_constant_unit_without_folding_would_change_outputs(digits):
    """The folding matters: zeroing unit 2's contribution (relu(0.5) != 0) changes the logits."""
    model = _model_with_dead_units()
    w2, b2 = model.get_layer("dense_2").get_weights()
    naive = keras.models.clone_model(model)
    naive.set_weights(model.get_weights())
    w2_cut = w2.copy()
    w2_cut[2, :] = 0.0
    naive.get_layer("dense_2").set_weights([w2_cut, b2])
    assert not np.allclose(naive.predict(digits.X_test, verbose=0),
                           model.predict(digits.X_test, verbose=0), atol=1e-5)


def test_dead_neuron_removal_after_real_pruning(digits):
    model = small_mlp(hidden=(40, 20))
    tl.train.fit(model, digits, epochs=3, progress=False)
    masks = prune.prune_model(model, sparsity={"dense_1": 0.95, "dense_2": 0.9, "logits": 0.9})
    smaller, smaller_masks = prune.remove_dead_neurons(model, masks)
    assert tl.models.count_params(smaller) < tl.models.count_params(model)
    np.testing.assert_allclose(smaller.predict(digits.X_test, verbose=0),
                               model.predict(digits.X_test, verbose=0), rtol=1e-4, atol=1e-4)
    for name, mask in smaller_masks.items():
        kernel = np.asarray(smaller.get_layer(name).kernel)
        assert mask.shape == kernel.shape and np.all(kernel[~mask] == 0)


def test_remove_dead_neurons_refuses_a_cnn():
    with pytest.raises(ValueError, match="multilayer perceptrons"):
        prune.remove_dead_neurons(tl.models.build("cnn"))


# --------------------------------------------------------------------------- sparse storage

def test_a_gap_of_40_at_5_bits_needs_one_filler():
    values, gaps, n_fillers = prune.relative_indices([0.0] * 40 + [1.5], index_bits=5)
    assert n_fillers == 1
    assert values.tolist() == [0.0, 1.5]
    assert gaps.tolist() == [31, 8]  # 31 zeros, the filler, 8 zeros, the weight: 41 positions


@pytest.mark.parametrize("zeros, fillers", [(0, 0), (31, 0), (32, 1), (63, 1), (64, 2), (100, 3)])
def test_fillers_per_gap_at_5_bits(zeros, fillers):
    _, gaps, n_fillers = prune.relative_indices([0.0] * zeros + [2.0], index_bits=5)
    assert n_fillers == fillers
    assert gaps.max() <= 31


def test_relative_indices_by_hand():
    row = [0.0, 3.4, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.7]
    values, gaps, n_fillers = prune.relative_indices(row, index_bits=3)  # at most 7 zeros
    assert values.tolist() == pytest.approx([3.4, 0.9, 0.0, 1.7])
    assert gaps.tolist() == [1, 2, 7, 2]
    assert n_fillers == 1


def test_relative_indices_round_trip():
    w = np.random.default_rng(0).normal(size=(64, 30))
    w[prune.sparsity_mask(w, 0.95) == False] = 0  # noqa: E712
    for bits in (3, 5, 8):
        values, gaps, _ = prune.relative_indices(w, bits)
        stream = prune._decode(values, gaps, w.size)
        np.testing.assert_array_equal(stream.reshape(30, 64).T, w.astype(np.float32))


def test_sparse_storage_golden_bytes():
    kernel = np.zeros((41, 1))
    kernel[40, 0] = 1.5
    kernel[0, 0] = -2.0  # entries: -2.0 (gap 0), filler (gap 31), 1.5 (gap 7)
    rows = prune.paper_storage({"fc": kernel})
    fc, total = rows
    assert fc["kept"] == 2 and fc["fillers"] == 1 and fc["index_bits"] == 5
    assert fc["bytes_dense"] == 41 * 4
    assert fc["bytes_sparse"] == (3 * (32 + 5) + 7) // 8  # 111 bits -> 14 bytes
    assert total["bytes_sparse"] == fc["bytes_sparse"]
    conv = prune.paper_storage({"conv": np.zeros((3, 3, 1, 2))})[0]
    assert conv["index_bits"] == 8 and conv["bytes_sparse"] == 0


def test_sparse_storage_of_a_model_counts_biases_dense():
    model = small_mlp()
    prune.prune_model(model, sparsity=0.9)
    rows = prune.paper_storage(model)
    assert [r["layer"] for r in rows] == ["dense_1", "dense_2", "logits", "total"]
    dense_1 = rows[0]
    assert dense_1["bytes_dense"] == (64 * 12 + 12) * 4
    assert dense_1["kept_percent"] == pytest.approx(100 * round(0.1 * 768) / 768)
    assert rows[-1]["bytes_sparse"] < rows[-1]["bytes_dense"]
    with pytest.raises(ValueError, match="value_bits"):
        prune.paper_storage(model, value_bits=0)


# --------------------------------------------------------------------------- lesson helpers

def test_masks_round_trip_through_the_workspace():
    masks = prune.sparsity_mask(W44, 0.5)
    tl.workspace.save_arrays("pruned_masks", dense_1=masks, logits=~masks)
    assert tl.workspace.has_arrays("pruned_masks")
    loaded = tl.workspace.load_arrays("pruned_masks")
    assert set(loaded) == {"dense_1", "logits"}
    np.testing.assert_array_equal(loaded["dense_1"], masks)
    assert loaded["dense_1"].dtype == bool
    with pytest.raises(FileNotFoundError, match="lesson 04"):
        tl.workspace.load_arrays("absent")
    with pytest.raises(ValueError, match="at least one array"):
        tl.workspace.save_arrays("empty")


def test_prune_mask_checker_accepts_the_reference():
    assert tl.exercises.check_prune_mask(tl.exercises.solutions.prune_mask).passed
    assert "def prune_mask" in tl.exercises.show_solution("prune_mask")


@pytest.mark.parametrize("attempt, hint", [
    (lambda w, q: w > q * np.std(w), "np.abs"),
    (lambda w, q: np.abs(w) <= q * np.std(w), "inverted"),
    (lambda w, q: np.abs(w) >= q * np.std(w), "use > rather than >="),
    (lambda w, q: np.abs(w) > q, "standard deviation"),
    (lambda w, q: np.abs(w) > q * np.std(np.abs(w)), "not of |w|"),
    (lambda w, q: np.where(np.abs(w) > q * np.std(w), w, 0.0), "dtype bool"),
    (lambda w, q: None, "returned None"),
    (lambda w, q: np.abs(w) > 0.5, "should be kept"),
    (lambda w, q: (np.abs(w) > q * np.std(w)).ravel(), "shape"),
    ("mask", "pass your function"),
])
def test_prune_mask_checker_explains_common_mistakes(attempt, hint):
    result = tl.exercises.check_prune_mask(attempt)
    assert not result.passed
    assert hint in result.message


def test_prune_explorer_slider_looks_up_and_redraws(digits):
    model = small_mlp(hidden=(32, 16))
    tl.train.fit(model, digits, epochs=4, learning_rate=3e-3, progress=False)
    before = [w.copy() for w in model.get_weights()]
    panel = tl.widgets.prune_explorer(model, digits, step_percent=10, max_percent=90)
    c = panel.controls
    assert sorted(panel.accuracies) == list(range(0, 91, 10))
    # scored on validation (a choice), never on the test split
    assert panel.accuracies[0] == pytest.approx(
        tl.train.accuracy(model, digits.X_val, digits.y_val))
    assert "unpruned" in c["status"].value and "validation accuracy" in c["status"].value
    c["sparsity"].value = 90
    n_weights = 64 * 32 + 32 * 16 + 16 * 10
    kept = sum(round(0.1 * n) for n in (64 * 32, 32 * 16, 16 * 10))
    assert f"{kept:,} of {n_weights:,} weights" in c["status"].value
    assert f"{panel.accuracies[90]:.1%}" in c["status"].value
    c["layer"].value = "logits"
    assert "<b>90%</b>" in c["status"].value and "Error" not in c["status"].value
    curve, histogram = panel.shown
    assert "logits, 90% pruned" in histogram.axes[1].get_title()
    assert f"{round(0.1 * 160)} kept" in histogram.axes[1].get_title()
    for a, b in zip(before, model.get_weights()):  # the panel never changes the model
        np.testing.assert_array_equal(a, b)
    assert "validation accuracy" in curve.axes[0].get_title()
    with pytest.raises(ValueError, match="max_percent"):
        tl.widgets.prune_explorer(model, digits, max_percent=100)
    with pytest.raises(ValueError, match="part must be"):
        tl.widgets.prune_explorer(model, digits, part="holdout")


def test_load_or_prune_saves_then_reuses_then_prunes_again_on_new_settings(digits, monkeypatch):
    settings = dict(name="tiny", final_sparsity=0.5, steps=1, epochs_per_step=1, seed=0,
                    progress=False)
    model, masks = prune.load_or_prune(digits, **settings)
    assert set(masks) == {"dense_1", "logits"}
    assert 0.3 < prune.sparsity(masks) <= 0.5  # below 0.5: dead units took zeros with them
    card = workspace.load_card("tiny_pruned")
    assert card["final_sparsity"] == 0.5 and card["units"][-1] == 10

    calls = []
    original = prune.iterative_prune
    monkeypatch.setattr(prune, "iterative_prune",
                        lambda *a, **k: calls.append(k) or original(*a, **k))
    again, again_masks = prune.load_or_prune(digits, **settings)
    assert calls == []  # reused from the workspace
    np.testing.assert_array_equal(again_masks["dense_1"], masks["dense_1"])
    np.testing.assert_allclose(again.get_layer("logits").kernel, model.get_layer("logits").kernel)

    _, other = prune.load_or_prune(digits, **dict(settings, final_sparsity=0.8))
    assert len(calls) == 1 and prune.sparsity(other) > 0.6
