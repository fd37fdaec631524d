"""Lesson 08's exercise: an int8 dense layer written by the student, checked bit for bit.

The reference solution must pass; each realistic wrong answer, written as a student would
write it, must be rejected with the hint that names its mistake.
"""

import numpy as np
import pytest

from tinylab import engine
from tinylab import exercises as ex
from tinylab.exercises import solutions

high_mul = engine.saturating_rounding_doubling_high_mul


def _model(seed=0):
    """A 64-16-10 int8 MLP with realistic scales (as the converter makes them), per channel."""
    rng = np.random.default_rng(seed)
    hidden = engine.FullyConnected.from_scales(
        rng.integers(-127, 128, (16, 64)), rng.integers(-20_000, 20_000, 16), input_scale=1 / 255,
        input_zero_point=-128, weight_scales=rng.uniform(0.002, 0.01, 16), output_scale=0.05,
        output_zero_point=-128, activation="RELU", name="hidden")
    logits = engine.FullyConnected.from_scales(
        rng.integers(-127, 128, (10, 16)), rng.integers(-5_000, 5_000, 10), input_scale=0.05,
        input_zero_point=-128, weight_scales=rng.uniform(0.005, 0.02, 10), output_scale=0.2,
        output_zero_point=20, name="logits")
    return engine.IntegerModel(ops=(hidden, logits), input_shape=(64,), output_shape=(10,),
                               input_scale=1 / 255, input_zero_point=-128, output_scale=0.2,
                               output_zero_point=20, model_hash="0000beef")


@pytest.fixture(scope="module")
def mlp_and_X():
    return _model(), np.random.default_rng(1).uniform(0, 1, (150, 64))


# --------------------------------------------------------------------------- right answers

def test_the_reference_equals_the_engine_on_the_probes_and_the_model(mlp_and_X):
    mlp, X = mlp_and_X
    x = engine.quantize_inputs(mlp, X)
    for layer in mlp.layers:
        np.testing.assert_array_equal(solutions.int8_dense(x, layer), layer.run(x))
        x = layer.run(x)
    result = ex.check_int8_dense(solutions.int8_dense, mlp, X)
    assert result.passed, result.message
    assert "bit for bit" in result.message and "150 examples" in result.message


def test_the_reference_by_hand():
    # one input, zero point 3, weight 1, bias 5, M = 1/8 (multiplier 2**30, shift -2):
    # x = 14: acc = 11 + 5 = 16; high = round(16 / 2) = 8; 8 / 4 = 2; + zero point -2 = 0
    # x = 0:  acc = -3 + 5 = 2;   high = 1;  1 / 4 = 0.25 -> 0;        -2
    # x = 16: acc = 18;           high = 9;  9 / 4 = 2.25 -> 2;        0
    # x = 8:  acc = 10;           high = 5;  5 / 4 = 1.25 -> 1;        -1
    # x = 4:  acc = 6;            high = 3;  3 / 4 = 0.75 -> 1;        -1
    # x = -7: acc = -5;           high = round(-2.5) = -2 (gemmlowp: a negative half toward
    #         zero); -2 / 4 = -0.5 -> -1 (halves away from zero);      -3
    layer = engine.FullyConnected.from_scales([[1]], [5], input_scale=1.0, input_zero_point=3,
                                              weight_scales=[0.125], output_scale=1.0,
                                              output_zero_point=-2)
    assert (int(layer.multipliers[0]), int(layer.shifts[0])) == (2 ** 30, -2)
    x = np.array([[14], [0], [16], [8], [4], [-7]], np.int8)
    assert solutions.int8_dense(x, layer)[:, 0].tolist() == [0, -2, 0, -1, -1, -3]
    np.testing.assert_array_equal(solutions.int8_dense(x, layer), layer.run(x))
    assert solutions.int8_dense(x, layer).dtype == np.int8


def test_the_hand_made_probes_alone_accept_the_reference():
    result = ex.check_int8_dense(solutions.int8_dense)
    assert result.passed and "Pass mlp and X" in result.message


def test_any_integer_dtype_is_accepted():
    def int64_answer(x, layer):
        return solutions.int8_dense(x, layer).astype(np.int64)

    assert ex.check_int8_dense(int64_answer).passed


def test_show_solution_prints_the_reference():
    assert "saturating_rounding_doubling_high_mul" in ex.show_solution("int8_dense")


# --------------------------------------------------------------------------- wrong answers
# Each is a whole function, as a student would write it.

def _acc(x, layer):
    weights = layer.weights.T.astype(np.int64)
    return (x.astype(np.int64) - layer.input_zero_point) @ weights + layer.bias


def _round_shift(high, shifts):
    right = np.maximum(-np.asarray(shifts, np.int64), 0)
    half = (np.int64(1) << right) >> 1
    return np.sign(high) * ((np.abs(high) + half) >> right)


def _high(acc, layer):
    left = np.maximum(np.asarray(layer.shifts, np.int64), 0)
    return high_mul(acc << left, layer.multipliers).astype(np.int64)


def _finish(scaled, layer):
    return np.clip(scaled + layer.output_zero_point, layer.activation_min,
                   layer.activation_max).astype(np.int8)


def float_rounding(x, layer):
    real = layer.multipliers / 2 ** 31 * 2.0 ** layer.shifts
    return _finish(np.round(_acc(x, layer) * real), layer)


def float_rounding_from_the_scales(x, layer):
    real = layer.input_scale * layer.weight_scales.astype(np.float64) / layer.output_scale
    scaled = _acc(x, layer) * real
    return _finish(np.sign(scaled) * np.floor(np.abs(scaled) + 0.5), layer)


def forgot_input_zero_point(x, layer):
    acc = x.astype(np.int64) @ layer.weights.T.astype(np.int64) + layer.bias
    return _finish(_round_shift(_high(acc, layer), layer.shifts), layer)


def int8_overflow(x, layer):
    shifted = (x - np.int8(layer.input_zero_point)).astype(np.int64)  # wrapped in int8 already
    acc = shifted @ layer.weights.T.astype(np.int64) + layer.bias
    return _finish(_round_shift(_high(acc, layer), layer.shifts), layer)


def no_clamp(x, layer):
    scaled = _round_shift(_high(_acc(x, layer), layer), layer.shifts)
    return (scaled + layer.output_zero_point).astype(np.int8)


def no_clamp_no_cast(x, layer):
    return _round_shift(_high(_acc(x, layer), layer), layer.shifts) + layer.output_zero_point


def clamp_to_int8_only(x, layer):
    scaled = _round_shift(_high(_acc(x, layer), layer), layer.shifts)
    return np.clip(scaled + layer.output_zero_point, -128, 127).astype(np.int8)


def shift_rounds_down(x, layer):
    right = np.maximum(-layer.shifts.astype(np.int64), 0)
    return _finish(_high(_acc(x, layer), layer) >> right, layer)


def shift_rounds_half_up(x, layer):
    right = np.maximum(-layer.shifts.astype(np.int64), 0)
    high = _high(_acc(x, layer), layer)
    return _finish((high + ((1 << right) >> 1)) >> right, layer)


def shift_rounds_half_to_even(x, layer):
    right = np.maximum(-layer.shifts.astype(np.int64), 0)
    return _finish(np.round(_high(_acc(x, layer), layer) / 2 ** right), layer)


def bias_after_requantization(x, layer):
    acc = (x.astype(np.int64) - layer.input_zero_point) @ layer.weights.T.astype(np.int64)
    return _finish(_round_shift(_high(acc, layer), layer.shifts) + layer.bias, layer)


def no_bias(x, layer):
    acc = (x.astype(np.int64) - layer.input_zero_point) @ layer.weights.T.astype(np.int64)
    return _finish(_round_shift(_high(acc, layer), layer.shifts), layer)


def no_output_zero_point(x, layer):
    scaled = _round_shift(_high(_acc(x, layer), layer), layer.shifts)
    return np.clip(scaled, layer.activation_min, layer.activation_max).astype(np.int8)


def right_shifts_only(x, layer):
    high = high_mul(_acc(x, layer), layer.multipliers).astype(np.int64)
    return _finish(_round_shift(high, layer.shifts), layer)


@pytest.mark.parametrize("attempt, hint", [
    (float_rounding, "rounded acc \\* M in floating point"),
    (float_rounding_from_the_scales, "rounded acc \\* M in floating point"),
    (forgot_input_zero_point, "subtract the input zero point"),
    (int8_overflow, "overflows int8 and wraps around"),
    (no_clamp, "no clamp: astype\\(np.int8\\) wraps around"),
    (no_clamp_no_cast, "outside int8: clamp"),
    (clamp_to_int8_only, "not to int8's \\[-128, 127\\]"),
    (shift_rounds_down, ">> alone rounds down"),
    (shift_rounds_half_up, "rounds negative halves up"),
    (shift_rounds_half_to_even, "halves to the even neighbour"),
    (bias_after_requantization, "the bias is added after requantizing"),
    (no_bias, "the bias is missing"),
    (no_output_zero_point, "add the output zero point"),
    (right_shifts_only, "a positive shift means a left shift"),
])
def test_each_wrong_answer_is_rejected_with_its_hint(attempt, hint, mlp_and_X):
    mlp, X = mlp_and_X
    result = ex.check_int8_dense(attempt, mlp, X)
    assert not result.passed
    assert "Hint:" in result.message
    assert result.message and __import__("re").search(hint, result.message), result.message


def test_an_unknown_mistake_gets_the_first_wrong_output_to_recompute():
    def off_by_one(x, layer):
        out = solutions.int8_dense(x, layer).astype(np.int64)
        out[5, 0] += 1
        return np.clip(out, -128, 127).astype(np.int8)

    result = ex.check_int8_dense(off_by_one)
    assert not result.passed
    assert "example 5, unit 0" in result.message
    assert "recompute that one step by step" in result.message


def test_a_stub_and_a_crash_and_a_wrong_shape_are_explained():
    def stub(x, layer):
        return None

    def crashes(x, layer):
        raise IndexError("tuple index out of range")

    def transposed(x, layer):
        return solutions.int8_dense(x, layer).T

    def floats(x, layer):
        return solutions.int8_dense(x, layer).astype(np.float64)

    assert "returned None" in ex.check_int8_dense(stub).message
    assert "raised IndexError" in ex.check_int8_dense(crashes).message
    assert "one row per example" in ex.check_int8_dense(transposed).message
    assert "return integers" in ex.check_int8_dense(floats).message
    assert "pass your function itself" in ex.check_int8_dense(solutions.int8_dense(
        np.zeros((1, 1), np.int8), ex.deploy._probe_layers()[0][1])).message


def test_bad_arguments_to_the_checker_are_refused(mlp_and_X):
    mlp, X = mlp_and_X
    with pytest.raises(ValueError, match="give the examples"):
        ex.check_int8_dense(solutions.int8_dense, mlp)
    with pytest.raises(TypeError, match="IntegerModel"):
        ex.check_int8_dense(solutions.int8_dense, "student", X)


def test_the_probes_reach_every_corner():
    (_, by_hand, x), (_, relu, _) = ex.deploy._probe_layers()
    assert by_hand.shifts.max() > 0 and by_hand.shifts.min() < 0   # both shift directions
    out = by_hand.run(x)
    assert out.min() == -128 and out.max() == 127                # both clamps
    assert relu.multipliers.shape == (1,) and relu.activation_min == -5   # per tensor, ReLU
