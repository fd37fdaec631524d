"""Quantization-aware training: the straight-through estimator, the grids, PTQ against QAT."""

import numpy as np
import pytest

import tinylab as tl
from tinylab._tensorflow import tf


# --------------------------------------------------------------------------- the kernel

def test_fake_quantize_matches_the_lesson_by_hand():
    # lesson 05's four numbers, asymmetric int8: s = 3/255, z = -43 -> back (-1, 0, 0.50588, 2)
    x = np.array([-1.0, 0.0, 0.5, 2.0], np.float32)
    back = np.asarray(tl.qat.fake_quantize(x, np.float32(3 / 255), np.float32(-43), -128, 127))
    params = tl.quantize.quantization_params(x, 8)
    expected = tl.quantize.dequantize(tl.quantize.quantize(x, params), params)
    # float32 arithmetic in both: within one float32 rounding of a value of at most 2
    np.testing.assert_allclose(back, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(back, [-1.0, 0.0, 43 / 85, 2.0], rtol=0, atol=1e-6)


def test_straight_through_gradient_is_one_inside_the_range_and_zero_outside():
    scale, zero_point, qmin, qmax = 0.25, 0.0, -4, 3   # the grid reaches [-1.0, 0.75]
    x = tf.constant(np.linspace(-2.0, 2.0, 81), tf.float32)   # steps of 0.05, ends included
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tl.qat.fake_quantize(x, tf.constant(scale), tf.constant(zero_point), qmin, qmax)
    gradient = tape.gradient(y, x).numpy()
    inside = (x.numpy() >= -1.0) & (x.numpy() <= 0.75)
    assert inside.sum() == 36 and (~inside).sum() == 45
    np.testing.assert_array_equal(gradient[inside], 1.0)   # exact: identity, not rounding's 0
    np.testing.assert_array_equal(gradient[~inside], 0.0)  # clipped values get no gradient
    # and the forward pass did round: every output is a level, clipped to the ends
    levels = y.numpy() / scale
    np.testing.assert_array_equal(levels, np.round(levels))
    assert y.numpy().min() == -1.0 and y.numpy().max() == 0.75


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_quantized_kernels_lie_on_their_symmetric_grid(bits):
    rng = np.random.default_rng(bits)
    model = tl.models.mlp((8, 8, 1), 10, hidden_units=(16,), seed=0)
    X = rng.random((20, 8, 8, 1)).astype(np.float32)
    qmodel = tl.qat.quantize_aware(model, bits, calibration=X)
    qmax = 2 ** (bits - 1) - 1
    for name, kernel in tl.qat.quantized_kernels(qmodel).items():
        original = np.asarray(model.get_layer(name).kernel)
        scale = np.abs(original).max(axis=0) / qmax           # one scale per output unit
        steps = kernel / scale
        # float32 division: each value within 1e-4 of a whole number, the whole number in range
        np.testing.assert_allclose(steps, np.round(steps), rtol=0, atol=1e-4)
        assert np.abs(np.round(steps)).max() == qmax          # the largest weight hits the end
        for unit in range(kernel.shape[1]):
            assert np.unique(kernel[:, unit]).size <= 2 ** bits - 1


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_fake_quantized_activations_lie_on_their_asymmetric_grid(bits):
    layer = tl.qat.FakeQuant(bits)
    layer.build((None, 5))
    layer.range_min.assign(-0.3)
    layer.range_max.assign(1.7)
    x = np.linspace(-1.0, 2.5, 200, dtype=np.float32).reshape(40, 5)
    y = np.asarray(layer(x))
    qmin, qmax = -2 ** (bits - 1), 2 ** (bits - 1) - 1
    scale = 2.0 / (qmax - qmin)
    zero_point = np.round(qmin + 0.3 / scale)
    q = y / scale + zero_point
    np.testing.assert_allclose(q, np.round(q), rtol=0, atol=1e-3)  # float32: 1e-3 of an integer
    assert np.round(q).min() == qmin and np.round(q).max() == qmax  # saturates at both ends
    assert np.unique(np.round(q)).size <= 2 ** bits


def test_calibration_sets_each_range_to_the_float_tensors_min_and_max():
    model = tl.models.mlp((4,), 3, hidden_units=(5,), seed=1)
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    qmodel = tl.qat.quantize_aware(model, 8, calibration=X)
    dense = model.layers[1]
    hidden = np.maximum(X @ np.asarray(dense.kernel) + np.asarray(dense.bias), 0)
    quant = qmodel.get_layer("dense_1_quant")
    assert float(quant.range_min.numpy()) == 0.0              # after a ReLU
    assert float(quant.range_max.numpy()) == pytest.approx(hidden.max(), rel=1e-5)
    assert float(qmodel.get_layer("input_quant").range_min.numpy()) == pytest.approx(X.min())


def test_pruned_weights_stay_zero_through_qat(digits):
    model = tl.models.build("student", seed=0)
    tl.train.fit(model, digits, epochs=2, progress=False)
    masks = tl.prune.prune_model(model, sparsity=0.8)
    qmodel = tl.qat.quantize_aware(model, 4, calibration=digits.X_train, masks=masks)
    tl.qat.fine_tune(qmodel, digits, epochs=1)
    for name, kernel in tl.qat.quantized_kernels(qmodel).items():
        assert np.all(kernel[~masks[name]] == 0.0)
        assert np.count_nonzero(kernel[masks[name]]) > 0


# --------------------------------------------------------------------------- PTQ against QAT

@pytest.fixture(scope="module")
def trained_student(digits):
    """Lesson 02's 64-32-10 student, trained briefly (10 epochs at 3e-3, seed 0): 96.3% on val."""
    model = tl.models.build("student", seed=0)
    tl.train.fit(model, digits, epochs=10, learning_rate=3e-3, seed=0, progress=False)
    return model


@pytest.mark.cross_cpu
def test_eight_bit_ptq_and_qat_stay_close_to_float(digits, trained_student):
    # Measured (seeds 0-3 of this recipe): PTQ at 8 bits within 0.4 points of float on the 270
    # validation digits, QAT (2 epochs) within 0.8. Tolerance: 2 points, about 5 digits.
    accuracy = lambda m: tl.train.accuracy(m, digits.X_val, digits.y_val)  # noqa: E731
    float_accuracy = accuracy(trained_student)
    ptq8 = tl.qat.ptq(trained_student, 8, calibration=digits.X_train)
    qat8 = tl.qat.quantize_aware(trained_student, 8, calibration=digits.X_train)
    tl.qat.fine_tune(qat8, digits, epochs=2, seed=0)
    assert abs(accuracy(ptq8) - float_accuracy) <= 0.02
    assert abs(accuracy(qat8) - float_accuracy) <= 0.02


@pytest.mark.cross_cpu
def test_eight_bit_ptq_agrees_with_tflite_int8(digits, trained_student):
    # The simulated integer model and TFLite's converter agree on the class of >= 99.6% of the
    # validation digits (measured, seeds 0-3); TFLite calibrates on 200 training digits, this
    # on all of them, so a digit near a boundary may differ. Tolerance: 98%.
    ptq8 = tl.qat.ptq(trained_student, 8, calibration=digits.X_train)
    flatbuffer = tl.convert.to_tflite(trained_student, "int8", representative=digits.X_train)
    same = np.mean(tl.convert.predict_classes(flatbuffer, digits.X_val)
                   == tl.train.predict_classes(ptq8, digits.X_val))
    assert same >= 0.98


@pytest.mark.cross_cpu
def test_qat_beats_ptq_at_two_bits(digits, trained_student):
    # Measured on the validation split, this recipe, seeds 0-3: PTQ 60-75%, QAT (3 epochs,
    # Adam 1e-3) 90-94%, a margin of 16-29 points (seed 0: 73.7% -> 91.5%). Asserted: 8 points.
    rows = tl.qat.compare(trained_student, digits, (2,), epochs=3)
    row = rows[0]
    assert row["bits"] == 2 and row["qat"] >= row["ptq"] + 0.08
    assert row["float"] == pytest.approx(
        tl.train.accuracy(trained_student, digits.X_val, digits.y_val))
    assert row["ptq"] == pytest.approx(
        tl.train.accuracy(row["ptq_model"], digits.X_val, digits.y_val))
    assert 0.0 <= row["float_tuned"] <= 1.0


def test_the_float_model_is_left_unchanged(digits, trained_student):
    before = [w.copy() for w in trained_student.get_weights()]
    qmodel = tl.qat.quantize_aware(trained_student, 4, calibration=digits.X_train[:50])
    tl.qat.fine_tune(qmodel, digits, epochs=1)
    for a, b in zip(before, trained_student.get_weights()):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("bits", [1, 9, 2.5, True, "8", None])
def test_bad_bits_are_refused_clearly(digits, bits):
    model = tl.models.build("student", seed=0)
    with pytest.raises(ValueError, match="bits must be a whole number from 2 to 8"):
        tl.qat.quantize_aware(model, bits, calibration=digits.X_train[:10])
    with pytest.raises(ValueError, match="activation_bits must be a whole number from 2 to 8"):
        tl.qat.quantize_aware(model, 8, calibration=digits.X_train[:10], activation_bits=bits)
    with pytest.raises(ValueError, match="bits must be a whole number"):
        tl.qat.compare(model, digits, (8, bits))


def test_other_bad_input_is_refused_clearly(digits):
    student = tl.models.build("student", seed=0)
    with pytest.raises(ValueError, match="Flatten and Dense"):
        tl.qat.quantize_aware(tl.models.build("cnn"), 8, calibration=digits.X_train[:10])
    with pytest.raises(ValueError, match="bool array of shape"):
        tl.qat.quantize_aware(student, 8, calibration=digits.X_train[:10],
                              masks={"dense_1": np.ones((3, 3), bool)})
    with pytest.raises(ValueError, match="not a Dense layer"):
        tl.qat.quantize_aware(student, 8, calibration=digits.X_train[:10],
                              masks={"flatten": np.ones((3, 3), bool)})
    with pytest.raises(ValueError, match="non-empty batch"):
        tl.qat.quantize_aware(student, 8, calibration=np.zeros((0, 8, 8, 1)))
    with pytest.raises(ValueError, match="quantize_aware"):
        tl.qat.fine_tune(student, digits)
    with pytest.raises(ValueError, match="part"):
        tl.qat.compare(student, digits, (8,), part="all")
