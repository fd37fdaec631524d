"""Each checker accepts the reference solution and rejects the usual mistakes with a hint."""

import numpy as np
import pytest

import tinylab as tl
from tinylab import exercises as ex


def test_reference_solutions_pass_their_checkers():
    assert ex.check_uno_weights(ex.solutions.uno_weights()).passed
    assert ex.check_normalize(ex.solutions.normalize).passed
    assert ex.check_dense_params(ex.solutions.dense_params).passed


def test_uno_weights_by_hand():
    assert ex.solutions.uno_weights() == 32256 // 4 == 8064
    assert not ex.check_uno_weights(None)
    wrong_flash = ex.check_uno_weights(32768 // 4)
    assert not wrong_flash and "usable" in wrong_flash.message
    assert "expected a number" in ex.check_uno_weights("lots").message


@pytest.mark.parametrize("attempt, hint", [
    (lambda raw: None, "returned None"),
    (lambda raw: raw / 15, "16 should become 1.0"),
    (lambda raw: np.asarray(raw).ravel() / 16, "shape"),
    (lambda raw: 1 / 0, "ZeroDivisionError"),
    ("not a function", "pass your function"),
    # realistic wrong answers that the first probes (each with a 0 and a 16) let through
    (lambda raw: raw / np.max(raw), "array's own largest pixel"),
    (lambda raw: (raw - np.min(raw)) / (np.max(raw) - np.min(raw)), "own minimum and maximum"),
    (lambda raw: np.asarray(raw) / 255, "16 should become 1.0"),
    (lambda raw: np.clip(np.asarray(raw) / 16 * 1.1, 0, 1), "16 should become 1.0"),
])
def test_normalize_checker_explains_what_is_wrong(attempt, hint):
    result = ex.check_normalize(attempt)
    assert not result.passed
    assert hint in result.message


def test_dense_params_checker_spots_missing_biases():
    result = ex.check_dense_params(lambda n_in, n_out: n_in * n_out)
    assert not result.passed and "biases" in result.message
    assert not ex.check_dense_params(lambda n_in, n_out: None)


def test_a_check_result_reads_well_as_text_and_html():
    good, bad = ex.CheckResult("E", True, "fine <ok>"), ex.CheckResult("E", False, "hint")
    assert "correct" in repr(good) and "not yet" in repr(bad)
    assert "&lt;ok&gt;" in good._repr_html_()
    assert bool(good) and not bool(bad)


def test_show_solution_gives_source_and_rejects_unknown_names():
    assert "16" in ex.show_solution("normalize")
    with pytest.raises(ValueError, match="dense_params"):
        ex.show_solution("nope")


# --------------------------------------------------------------------------- lesson 07: Huffman

def test_huffman_lengths_reference_by_hand_and_against_the_package():
    assert ex.solutions.huffman_lengths([5, 2, 1, 1]) == [1, 2, 3, 3]
    assert ex.solutions.huffman_lengths([1, 1, 1, 1]) == [2, 2, 2, 2]
    assert ex.solutions.huffman_lengths([4]) == [1]
    counts = np.random.default_rng(1).integers(1, 100, size=20).tolist()
    mine, package = ex.solutions.huffman_lengths(counts), tl.huffman.code_lengths(counts)
    assert sum(c * n for c, n in zip(counts, mine)) == \
        sum(c * package[s] for s, c in enumerate(counts))
    assert ex.check_huffman_lengths(ex.solutions.huffman_lengths).passed


def test_huffman_lengths_checker_accepts_any_optimal_tie_break():
    # tl.huffman breaks ties its own way and returns a dict {symbol: length}
    assert ex.check_huffman_lengths(lambda counts: tl.huffman.code_lengths(counts)).passed
    assert ex.check_huffman_lengths(lambda counts: np.array(ex.solutions.huffman_lengths(counts))).passed


def _heaviest_first(counts):
    import heapq

    lengths, groups = [0] * len(counts), [(-c, s, [s]) for s, c in enumerate(counts)]
    heapq.heapify(groups)
    while len(groups) > 1:
        (a, first, left), (b, _, right) = heapq.heappop(groups), heapq.heappop(groups)
        for s in left + right:
            lengths[s] += 1
        heapq.heappush(groups, (a + b, first, left + right))
    return lengths


@pytest.mark.parametrize("attempt, hint", [
    (lambda counts: [2] * len(counts), "fixed-width"),
    (_heaviest_first, "heaviest"),
    (lambda counts: [n + 1 for n in ex.solutions.huffman_lengths(counts)], "one bit too long"),
    (lambda counts: [n - 1 for n in ex.solutions.huffman_lengths(counts)], "one bit short"),
    (lambda counts: [int(np.ceil(-np.log2(c / sum(counts)))) for c in counts], "Shannon"),
    (lambda counts: [1] * len(counts), "no prefix code"),
    (lambda counts: ["0", "10", "110", "111"], "code words"),
    (lambda counts: [1, 2, 3], "one length per symbol"),
    (lambda counts: [1.5, 2, 3, 3], "whole numbers"),
    (lambda counts: 15, "one code length per symbol"),
    (lambda counts: None, "returned None"),
    (lambda counts: 1 / 0, "ZeroDivisionError"),
])
def test_huffman_lengths_checker_explains_what_is_wrong(attempt, hint):
    result = ex.check_huffman_lengths(attempt)
    assert not result.passed
    assert hint in result.message
    assert result.message.startswith("for counts") or "your function" in result.message


def _clip(values, bits, low=None, high=None):
    low = -2 ** (bits - 1) if low is None else low
    high = 2 ** (bits - 1) - 1 if high is None else high
    return np.clip(values, low, high).astype(np.int32)


def test_quantize_solution_by_hand_and_against_the_package():
    # the lesson's four numbers: scale 3/255, zero point -43; 0.5 / scale = 42.5, a tie
    np.testing.assert_array_equal(ex.solutions.quantize([-1.0, 0.0, 0.5, 2.0], 3 / 255, -43, 8),
                                  [-128, -43, 0, 127])
    x = np.random.default_rng(0).normal(0.0, 1.0, size=(4, 25))
    for bits in (2, 4, 8, 12):
        params = tl.quantize.quantization_params(x, bits)
        np.testing.assert_array_equal(
            ex.solutions.quantize(x, float(params.scale), int(params.zero_point), bits),
            tl.quantize.quantize(x, params))
    assert ex.check_quantize(ex.solutions.quantize).passed
    assert "quantize" in ex.show_solution("quantize")


def test_quantize_checker_lets_ties_go_either_way_with_a_note():
    half_to_even = lambda x, s, z, b: _clip(np.round(np.asarray(x) / s) + z, b)  # noqa: E731
    result = ex.check_quantize(half_to_even)
    assert result.passed and "half away from zero" in result.message


@pytest.mark.parametrize("attempt, hint", [
    (lambda x, s, z, b: _clip(np.round(x / s), b), "did not add the zero point"),
    (lambda x, s, z, b: _clip(np.round(x / s) - z, b), "subtracted the zero point"),
    (lambda x, s, z, b: _clip(np.round(x * s) + z, b), "multiplied by the scale"),
    (lambda x, s, z, b: (np.round(x / s) + z).astype(np.int32), "saturate"),
    (lambda x, s, z, b: _clip(np.round(x / s) + z, b, 0, 2 ** b - 1), "unsigned"),
    (lambda x, s, z, b: _clip(np.round(x / s) + z, b, -(2 ** (b - 1) - 1)), "symmetric range"),
    (lambda x, s, z, b: _clip(np.round(x / s), b) + z, "before adding the zero point"),
    (lambda x, s, z, b: _clip(np.trunc(x / s) + z, b), "truncated"),
    (lambda x, s, z, b: _clip(np.floor(x / s) + z, b), "floor"),
    (lambda x, s, z, b: ex.solutions.quantize(x, s, z, b).astype(float), "return integers"),
    (lambda x, s, z, b: s * (ex.solutions.quantize(x, s, z, b) - z), "round trip"),
    (lambda x, s, z, b: ex.solutions.quantize(x, s, z, b).ravel(), "shape"),
    (lambda x, s, z, b: ex.solutions.quantize(x, s, z, b) + 5, "should give"),
    (lambda x, s, z, b: None, "returned None"),
    (lambda x, s, z, b: 1 / 0, "ZeroDivisionError"),
    ("quantize", "pass your function"),
])
def test_quantize_checker_explains_what_is_wrong(attempt, hint):
    result = ex.check_quantize(attempt)
    assert not result.passed
    assert hint in result.message


def test_int8_flash_bytes_by_hand():
    # the student: 64*32 + 32*10 weights, one byte each; 32 + 10 int32 biases
    assert ex.solutions.int8_flash_bytes([64, 32, 10]) == 2048 + 320 + 4 * 42 == 2536
    assert ex.solutions.int8_flash_bytes([64, 300, 100, 10]) == 50_200 + 4 * 410 == 51_840
    result = ex.check_fits_uno(ex.solutions.int8_flash_bytes)
    assert result.passed and "51,840" in result.message and "32,256" in result.message
    assert "int8_flash_bytes" in ex.show_solution("int8_flash_bytes")


def _pairs(widths):
    return list(zip(widths[:-1], widths[1:]))


@pytest.mark.parametrize("attempt, hint", [
    (lambda w: sum(a * b for a, b in _pairs(w)), "not the biases"),
    (lambda w: sum(a * b + b for a, b in _pairs(w)), "4 bytes each, not 1"),
    (lambda w: 4 * sum(a * b + b for a, b in _pairs(w)), "float32"),
    (lambda w: sum(a * b + 4 * a for a, b in _pairs(w)), "*outputs*"),
    (lambda w: sum(a * b for a, b in _pairs(w)) + 4 * sum(w), "input layer has no biases"),
    (lambda w: 7, "for each consecutive pair"),
    (lambda w: True, "whether it fits comes next"),
    (lambda w: "2536 bytes", "a number of bytes"),
    (lambda w: None, "returned None"),
    (lambda w: w[5], "IndexError"),
])
def test_fits_uno_checker_explains_what_is_wrong(attempt, hint):
    result = ex.check_fits_uno(attempt)
    assert not result.passed
    assert hint in result.message


# --------------------------------------------------------------------------- lesson 10: CNN

def test_conv2d_macs_by_hand_and_against_the_package():
    assert ex.solutions.conv2d_macs((8, 8, 1), 16, 3) == 8 * 8 * 16 * 9 == 9216
    assert ex.solutions.conv2d_macs((8, 8, 2), 4, 3, 2, "valid") == 3 * 3 * 4 * 18 == 648
    assert ex.solutions.conv2d_macs((7, 7, 3), 8, 3, 2, "same") == 4 * 4 * 8 * 27 == 3456
    from tinylab._tensorflow import keras

    for input_shape, filters, kernel_size, stride, padding in ex.cnn.PROBES:
        model = keras.Sequential([keras.Input(shape=input_shape),
                                  keras.layers.Conv2D(filters, kernel_size, strides=stride,
                                                      padding=padding)])
        assert tl.models.count_macs(model) == ex.solutions.conv2d_macs(
            input_shape, filters, kernel_size, stride, padding)
    with pytest.raises(ValueError, match="padding"):
        ex.solutions.conv2d_macs((8, 8, 1), 4, 3, 1, "full")


def test_conv_macs_checker_passes_the_reference():
    result = ex.check_conv_macs(ex.solutions.conv2d_macs)
    assert result.passed and "73,728" in result.message
    assert "conv2d_macs" in ex.show_solution("conv2d_macs")


def _out(size, k, s, padding):
    return -(-size // s) if padding == "same" else (size - k) // s + 1


@pytest.mark.parametrize("attempt, hint", [
    (lambda shape, f, k, s, p: k * k * shape[2] * f + f, "parameters"),
    (lambda shape, f, k, s, p: k * k * shape[2] * f, "every output position"),
    (lambda shape, f, k, s, p: _out(shape[0], k, s, p) * _out(shape[1], k, s, p) * f * k * k,
     "every input channel"),
    (lambda shape, f, k, s, p: _out(shape[0], k, s, p) * _out(shape[1], k, s, p) * k * k * shape[2],
     "multiply by filters"),
    (lambda shape, f, k, s, p: shape[0] * shape[1] * f * k * k * shape[2], "output positions"),
    (lambda shape, f, k, s, p: ((shape[0] - k) // s if p == "valid" else _out(shape[0], k, s, p))
     * ((shape[1] - k) // s if p == "valid" else _out(shape[1], k, s, p)) * f * k * k * shape[2],
     "+ 1"),
    (lambda shape, f, k, s, p: (shape[0] // s if p == "same" else _out(shape[0], k, s, p))
     * (shape[1] // s if p == "same" else _out(shape[1], k, s, p)) * f * k * k * shape[2],
     "ceil(height / stride)"),
    (lambda shape, f, k, s, p: 7, "count the output values"),
    (lambda shape, f, k, s, p: True, "return a count"),
    (lambda shape, f, k, s, p: "lots", "a number of"),
    (lambda shape, f, k, s, p: None, "returned None"),
    (lambda shape, f, k, s, p: 1 / 0, "ZeroDivisionError"),
])
def test_conv_macs_checker_explains_what_is_wrong(attempt, hint):
    result = ex.check_conv_macs(attempt)
    assert not result.passed
    assert hint in result.message
