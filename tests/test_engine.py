"""Tests for tinylab.engine: the integer reference, its parity with tflite-micro, and the C engine.

Hand-computed cases first (the fixed-point arithmetic, one tiny layer); then every output byte
of the numpy reference against the tflite-micro interpreter, on the digits test set and on
random int8 inputs that reach the clamps; then the generated C, compiled with the host's gcc
and run on the same inputs, for each weight format, on a dense student, a pruned student and
a pruned, weight-shared teacher (mlp300); and the same C compiled for the ATmega328P, measured
with avr-size and run in simavr.

Compilers that are missing skip their tests, except under CI, where they fail.
"""

import hashlib
import re
import subprocess

import numpy as np
import pytest

import engine_c
from tinylab import convert, engine, models, prune, quantize, train



# --------------------------------------------------------------------------- by hand

def test_quantize_multiplier_by_hand():
    # frexp(0.75) = 0.75 * 2**0 -> round(0.75 * 2**31); 0.25 = 0.5 * 2**-1; 1.5 = 0.75 * 2**1
    assert engine.quantize_multiplier(0.75) == (1610612736, 0)
    assert engine.quantize_multiplier(0.25) == (1 << 30, -1)
    assert engine.quantize_multiplier(1.5) == (1610612736, 1)
    assert engine.quantize_multiplier(0.0) == (0, 0)
    # a significand that rounds up to 2**31 is halved and the exponent raised
    assert engine.quantize_multiplier(1 - 2 ** -40) == (1 << 30, 1)
    assert engine.quantize_multiplier(2 ** -40) == (0, 0)  # below 2**-31: flushed to zero


def test_fixed_point_helpers_by_hand():
    # a * b / 2**31, nudged by +/-(2**30 - 1) and truncated: 3 * 2**30 / 2**31 = 1.5 -> 2,
    # but -1.5 -> -1 (gemmlowp's nudge takes a negative half toward zero)
    high_mul = engine.saturating_rounding_doubling_high_mul
    assert high_mul([3, -3, -5, 100], 1 << 30).tolist() == [2, -1, -2, 50]
    assert high_mul(-2 ** 31, -2 ** 31).tolist() == 2 ** 31 - 1  # the one saturating case
    divide = engine.rounding_divide_by_pot
    assert divide([5, -5, 3, -3, 4, -4, 7], 1).tolist() == [3, -3, 2, -2, 2, -2, 4]
    assert divide([12, -12, 13], [2, 2, 0]).tolist() == [3, -3, 13]
    # 100 * 0.75 = 75; 100 * 0.75 * 2**-2 = 18.75 -> 19 and -18.75 -> -19 (RoundingDivideByPOT
    # rounds halves away from zero); 3 * 2 * 0.75 = 4.5 -> 5 but -4.5 -> -4 (the high mul)
    multiply = engine.multiply_by_quantized_multiplier
    assert multiply([100, 100, -100, 3, -3], 1610612736, [0, -2, -2, 1, 1]).tolist() \
        == [75, 19, -19, 5, -4]
    assert multiply([-10], 1 << 30, [-2]).tolist() == [-1]  # -10 * 0.5 = -5; / 4 = -1.25


def test_activation_clamp_by_hand():
    layer = engine.FullyConnected.from_scales([[1]], None, input_scale=1.0, input_zero_point=0,
                                          weight_scales=[1.0], output_scale=0.5,
                                          output_zero_point=-10, activation="RELU6")
    # ReLU6 in output integers: 0 -> -10, 6 / 0.5 = 12 -> -10 + 12 = 2
    assert (layer.activation_min, layer.activation_max) == (-10, 2)


def _tiny_mlp(hidden_weights=((2, -1), (1, 3))):
    """2 inputs -> 2 ReLU units -> 1 output, with scales chosen to make the sums easy.

    The output layer has no bias, one weight scale and a multiplier above 1 (a left shift)."""
    hidden = engine.FullyConnected.from_scales(
        hidden_weights, [10, -40], input_scale=0.5, input_zero_point=1,
        weight_scales=[0.25, 0.25], output_scale=0.5, output_zero_point=-5, activation="RELU")
    logits = engine.FullyConnected.from_scales(
        [[4, -2]], None, input_scale=0.5, input_zero_point=-5, weight_scales=[0.5],
        output_scale=0.1, output_zero_point=0)
    return engine.IntegerModel(ops=(hidden, logits), input_shape=(2,), output_shape=(1,),
                               input_scale=0.5, input_zero_point=1, output_scale=0.1,
                               output_zero_point=0, model_hash="00000000")


def test_run_int8_by_hand():
    mlp = _tiny_mlp()
    # hidden: x - 1 = (2, 4); sums 2*2 - 4 + 10 = 10 and 2 + 12 - 40 = -26; times 0.25 (=
    # 0.5 * 0.25 / 0.5): 2.5 -> 3 and -6.5 -> -7; plus -5: -2 and -12, clamped at -5 (ReLU)
    # logits: (h + 5) = (3, 0); 4 * 3 = 12; times 2.5 (= 0.5 * 0.5 / 0.1): 30
    np.testing.assert_array_equal(engine.run_int8(mlp, np.array([[3, 5]], np.int8)), [[30]])
    assert engine.run_int8(mlp, np.array([[3, 5]], np.int8)).dtype == np.int8


# --------------------------------------------------------------------------- the models

@pytest.fixture(scope="module")
def student(digits):
    model = models.build("student", digits.input_shape, digits.n_classes, seed=0)
    train.fit(model, digits, epochs=5, seed=0, progress=False)
    return model


@pytest.fixture(scope="module")
def teacher(digits):
    model = models.build("mlp300", digits.input_shape, digits.n_classes, seed=0)
    train.fit(model, digits, epochs=5, seed=0, progress=False)
    return model


def _copy(model):
    from tinylab._tensorflow import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


@pytest.fixture(scope="module")
def flatbuffers(student, teacher, digits):
    """The lesson's int8 models: {"student", "teacher", "pruned", "shared"} -> .tflite bytes."""
    pruned = _copy(student)
    prune.prune_model(pruned, sparsity=0.85)
    shared = _copy(teacher)
    masks = prune.prune_model(shared, sparsity=0.9)
    prune.retrain(shared, masks, digits, epochs=2, progress=False)
    quantize.WeightSharing(bits=4, reserve_filler=True).fit(shared, masks).apply(shared)
    found = {name: convert.to_tflite(model, "int8", digits.X_train)
             for name, model in (("student", student), ("teacher", teacher),
                                 ("pruned", pruned), ("shared", shared))}
    # one per-tensor model: TFLM's other kernel path (one weight scale per layer)
    found["shared_per_tensor"] = convert.to_tflite(shared, "int8", digits.X_train,
                                                   per_channel=False)
    return found


@pytest.fixture(scope="module")
def mlps(flatbuffers):
    return {name: engine.read_tflite(data) for name, data in flatbuffers.items()}


@pytest.fixture(scope="module")
def inputs(mlps, digits):
    """Per model: the int8 test set, then 200 random int8 vectors (they reach every clamp)."""
    noise = np.random.default_rng(0).integers(-128, 128, (200, 64)).astype(np.int8)
    return {name: np.concatenate([engine.quantize_inputs(mlp, digits.X_test), noise])
            for name, mlp in mlps.items()}


def _micro_outputs(tflite_bytes, x_int8):
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(tflite_bytes, arena_size=1 << 20)
    shape = interpreter.get_input_details(0)["shape"]
    rows = []
    for x in x_int8:
        interpreter.set_input(x.reshape(shape), 0)
        interpreter.invoke()
        rows.append(np.array(interpreter.get_output(0)).ravel())
    return np.array(rows)


# --------------------------------------------------------------------------- reading

def test_read_tflite_describes_the_student(mlps, flatbuffers):
    mlp = mlps["student"]
    assert (mlp.n_inputs, mlp.n_outputs, mlp.input_shape) == (64, 10, (8, 8, 1))
    assert [layer.weights.shape for layer in mlp.layers] == [(32, 64), (10, 32)]
    assert [layer.activation for layer in mlp.layers] == ["RELU", "NONE"]
    assert mlp.model_hash == hashlib.sha256(flatbuffers["student"]).hexdigest()[:8]
    details = convert.tensor_details(flatbuffers["student"])
    assert mlp.input_scale == pytest.approx(details["input"]["scale"])
    assert mlp.output_zero_point == details["output"]["zero_point"]
    for layer in mlp.layers:
        assert layer.weights.dtype == np.int8 and layer.bias.dtype == np.int32
        assert layer.per_channel and layer.multipliers.shape == (layer.n_outputs,)
        assert np.all(layer.multipliers >= 1 << 30)  # Q0.31 significands in [0.5, 1)
        assert layer.activation_max == 127
    assert mlp.layers[0].activation_min == mlp.layers[0].output_zero_point  # ReLU: real 0
    assert not mlps["shared_per_tensor"].layers[0].per_channel


def test_pruned_weights_stay_exact_zeros(mlps):
    # symmetric int8 quantization maps 0.0 to 0, so pruning survives conversion exactly
    weights = np.concatenate([layer.weights.ravel() for layer in mlps["shared"].layers])
    assert np.mean(weights == 0) >= 0.9


# --------------------------------------------------------------------------- parity with TFLM

@pytest.mark.parametrize("name", ["student", "teacher", "pruned", "shared", "shared_per_tensor"])
def test_run_int8_is_bit_exact_with_tflite_micro(name, flatbuffers, mlps, inputs):
    expected = _micro_outputs(flatbuffers[name], inputs[name])
    np.testing.assert_array_equal(engine.run_int8(mlps[name], inputs[name]), expected)


def test_quantize_inputs_matches_convert_predict(mlps, flatbuffers, digits):
    # convert.predict quantizes, runs TFLM and dequantizes; so must the engine's outputs
    mlp = mlps["student"]
    outputs = engine.run_int8(mlp, engine.quantize_inputs(mlp, digits.X_test))
    real = (outputs.astype(np.float32) - mlp.output_zero_point) * np.float32(mlp.output_scale)
    np.testing.assert_array_equal(real, convert.predict(flatbuffers["student"], digits.X_test))


# --------------------------------------------------------------------------- weight formats

@pytest.mark.parametrize("name", ["pruned", "shared_per_tensor", "student"])
def test_sparse_entries_give_the_weights_back(name, mlps):
    # per row a count, then (gap, weight) entries: EIE's byte when the layer holds <= 15
    # distinct weights (4-bit sharing, one scale per layer), else a gap byte and an int8
    for layer in mlps[name].layers:
        stored = engine.formats.store(layer, "sparse")
        assert stored.layout == ("shared" if name == "shared_per_tensor" else "wide")
        np.testing.assert_array_equal(engine.formats.sparse.decode(stored, layer.n_inputs),
                                      layer.weights)
        gaps, counts = stored.details["gaps"], stored.details["counts"]
        assert counts.sum() == stored.n_entries >= np.count_nonzero(layer.weights)
        assert gaps.max(initial=0) <= engine.formats.sparse.GAP_LIMITS[stored.layout]
        per_entry = 1 if stored.layout == "shared" else 2
        assert stored.array("entries").nbytes == per_entry * stored.n_entries


def test_sparse_fillers_bridge_long_gaps():
    row = np.zeros(40, np.int8)
    row[[0, 17, 39]] = [3, -2, 5]
    gaps, values = engine.formats.sparse.row_entries(row, 15)
    # 16 zeros before column 17: a filler stands on column 16 (15 zeros skipped)
    np.testing.assert_array_equal(gaps, [0, 15, 0, 15, 5])
    np.testing.assert_array_equal(values, [3, 0, -2, 0, 5])


@pytest.mark.parametrize("name", ["pruned", "shared", "shared_per_tensor"])
def test_huffman_streams_give_the_weights_back(name, mlps):
    for layer in mlps[name].layers:
        stored = engine.formats.store(layer, "huffman")
        details = stored.details
        values = np.append(details["codebook"], 0)[details["indices"]]
        flat = np.zeros(layer.weights.size, np.int64)
        column = -1
        for gap, value in zip(details["gaps"], values):
            column += int(gap) + 1
            flat[column] = value
        np.testing.assert_array_equal(flat.reshape(layer.weights.shape), layer.weights)
        for code in (details["weight_code"], details["gap_code"]):
            assert code.max_length <= engine.formats.huffman.MAX_CODE_BITS


def test_weight_sharing_bounds_the_codebook(mlps):
    # per tensor, a 4-bit sharing with a reserved filler leaves at most 15 int8 values per
    # layer; per channel, each unit scales the 15 centroids differently, giving more
    for layer in mlps["shared_per_tensor"].layers:
        assert len(engine.formats.store(layer, "huffman").details["codebook"]) <= 15
    per_channel = [len(engine.formats.store(layer, "huffman").details["codebook"])
                   for layer in mlps["shared"].layers]
    assert max(per_channel) > 15


# --------------------------------------------------------------------------- C on the host

@pytest.mark.parametrize("format", engine.FORMATS)
@pytest.mark.parametrize("name", ["student", "pruned", "shared", "shared_per_tensor"])
def test_generated_c_is_bit_exact_on_the_host(name, format, mlps, inputs, tmp_path):
    mlp = mlps[name]
    program = engine_c.host_build(mlp, format, tmp_path)
    got = engine_c.host_run(program, inputs[name], mlp.n_outputs)
    np.testing.assert_array_equal(got, engine.run_int8(mlp, inputs[name]))


@pytest.mark.parametrize("hidden_weights", [((2, -1), (1, 3)), ((0, 0), (0, 0))],
                         ids=["tiny", "all-pruned"])
def test_generated_c_handles_no_bias_per_tensor_left_shifts_and_no_weights(hidden_weights,
                                                                          tmp_path):
    # the output layer has no bias, one weight scale and a multiplier > 1; a hidden layer
    # with every weight pruned stores no entries at all (C has no empty arrays)
    mlp = _tiny_mlp(hidden_weights)
    assert mlp.layers[1].shifts[0] > 0 and mlp.layers[1].bias is None
    x = np.random.default_rng(1).integers(-128, 128, (500, 2)).astype(np.int8)
    for format in engine.FORMATS:
        program = engine_c.host_build(mlp, format, tmp_path / format)
        np.testing.assert_array_equal(engine_c.host_run(program, x, 1), engine.run_int8(mlp, x))


@pytest.mark.parametrize("bias, width", [([-2 ** 23, 2 ** 23 - 1, -300_000, 1_000_000], 3),
                                         ([2 ** 23, -2 ** 22, 300_000, 0], 4)],
                         ids=["24-bit", "32-bit"])
def test_biases_take_three_bytes_when_they_fit(bias, width, tmp_path):
    # the folded bias decides: 24 bits when every bias of the op fits, else 32; the
    # 24-bit ones are read back sign-extended, bit-exact on the host
    layer = engine.FullyConnected.from_scales(
        [[1, -2], [3, 4], [-5, 6], [7, -8]], bias, input_scale=1.0, input_zero_point=0,
        weight_scales=[1e-5] * 4, output_scale=1.0, output_zero_point=0)
    mlp = engine.IntegerModel(ops=(layer,), input_shape=(2,), output_shape=(4,), input_scale=1.0,
                              input_zero_point=0, output_scale=1.0, output_zero_point=0,
                              model_hash="00000001")
    assert engine.model_storage(mlp, "int8").parts["biases"] == 4 * width
    x = np.random.default_rng(2).integers(-128, 128, (200, 2)).astype(np.int8)
    expected = engine.run_int8(mlp, x)
    assert len(np.unique(expected)) >= 3  # the biases reach the outputs
    for format in engine.FORMATS:
        program = engine_c.host_build(mlp, format, tmp_path / format)
        np.testing.assert_array_equal(engine_c.host_run(program, x, 4), expected)


def test_header_holds_the_contract(mlps, tmp_path):
    mlp = mlps["student"]
    files = engine.generate_c(mlp, "huffman", name="digits_model")
    assert set(files) == {"digits_model.h", "digits_model.c"}
    header = files["digits_model.h"]
    for line in ("#define TL_INPUTS 64", "#define TL_OUTPUTS 10", "#define TL_LAYERS 2",
                 f'#define TL_MODEL_HASH "{mlp.model_hash}"', '#define TL_FORMAT "huffman"',
                 f"#define TL_INPUT_ZERO_POINT ({mlp.input_zero_point})",
                 "#define TL_ARENA_BYTES 32",
                 "void tl_model_run(const int8_t *input, int8_t *output);"):
        assert line in header
    assert "generate_c(model, format='huffman', name='digits_model')" in header
    program = engine_c.host_build(mlp, "int8", tmp_path)
    info = subprocess.run([str(program), "info"], capture_output=True, text=True).stdout.split()
    assert info[:4] == ["int8", mlp.model_hash, "64", "10"]
    assert np.float32(float(info[4])) == np.float32(mlp.input_scale)  # exact float32


# --------------------------------------------------------------------------- C on the AVR

@pytest.mark.parametrize("name", ["student", "shared"])
def test_generated_c_compiles_for_the_atmega328p(name, mlps, tmp_path):
    sizes = {format: engine_c.avr_build(mlps[name], format, tmp_path / format)
             for format in engine.FORMATS}
    for format, size in sizes.items():
        print(f"{name} {format}: object {size['object']}, program {size['program']}")
        assert size["object"]["data"] == 0  # every table is in flash, none copied to RAM
        # the arena, and the sparse format's codebook in RAM (16 bytes, aligned to 16)
        codebook = 16 if format == "sparse" else 0
        assert size["object"]["bss"] == engine.plan_memory(mlps[name]).arena_bytes + codebook
    if name == "shared":  # 90% pruned, 4-bit shared: each format stores less than the last
        flash = [sizes[format]["object"]["text"] for format in engine.FORMATS]
        assert flash[0] > 3 * flash[1] and flash[1] > flash[2]
        assert sizes["huffman"]["program"]["text"] < 32256  # fits the Uno; int8 does not
        assert sizes["int8"]["program"] is None or sizes["int8"]["program"]["text"] > 32256


@pytest.mark.parametrize("name", ["student", "shared"])
def test_generated_c_is_bit_exact_on_a_simulated_atmega328p(name, mlps, inputs, tmp_path):
    # 20 test digits and 10 random vectors: the AVR's 16-bit int must not change a byte
    x = np.concatenate([inputs[name][:20], inputs[name][-10:]])
    expected = engine.run_int8(mlps[name], x)
    for format in engine.FORMATS:
        got = engine_c.avr_run(mlps[name], format, x, tmp_path / format)
        if got is None:  # the dense int8 mlp300 (50 KB of weights) does not fit 32 KB
            assert (name, format) == ("shared", "int8")
            continue
        np.testing.assert_array_equal(got, expected, err_msg=f"{name}, {format}")


# --------------------------------------------------------------------------- the rescale in C

RESCALE_MAIN = r"""
/* Prints tl_rescale(a, b, e) for the cases in cases.h, as 4 hex digits each, one per line. */
#include "cases.h"
#ifdef __AVR__
#include <avr/io.h>
#include <avr/interrupt.h>
#include <avr/sleep.h>
static void put(char c)
{
    while (!(UCSR0A & (1 << UDRE0))) {
    }
    UDR0 = c;
}
#define CASE_I32(p) ((int32_t)pgm_read_dword(p))
#define CASE_U8(p) pgm_read_byte(p)
#else
#include <stdio.h>
static void put(char c)
{
    putchar(c);
}
#define CASE_I32(p) (*(p))
#define CASE_U8(p) (*(p))
#endif

int main(void)
{
    static const char hex[] = "0123456789abcdef";
    uint16_t n;
    int8_t k;
#ifdef __AVR__
    UBRR0 = 8;
    UCSR0B = (1 << TXEN0);
#endif
    for (n = 0; n < N_CASES; ++n) {
        const uint16_t value = (uint16_t)tl_rescale(CASE_I32(&case_a[n]), CASE_I32(&case_b[n]),
                                                    CASE_U8(&case_e[n]));
        for (k = 12; k >= 0; k -= 4) {
            put(hex[(value >> k) & 15u]);
        }
        put('\n');
    }
#ifdef __AVR__
    cli();
    sleep_cpu();
#endif
    return 0;
}
"""


def _rescale_cases():
    """Edge values and random (accumulator, multiplier, exponent) triples."""
    rng = np.random.default_rng(3)
    # accumulators either side of 2^24 (the AVR rescale's fast path multiplies 3 bytes)
    edges_a = [0, 1, -1, 2, -2, 3, -3, 5, -5, 255, -256, 65535, -65536, 2 ** 24 - 1, 2 ** 24,
               2 ** 24 + 1, -2 ** 24 + 1, -2 ** 24, -2 ** 24 - 1, 2 ** 30, -2 ** 30, 2 ** 31 - 1,
               -2 ** 31]
    edges_b = [0, 1, 2 ** 16 - 1, 2 ** 30, 2 ** 30 + 1, 1610612736, 2 ** 31 - 1]
    edges_e = [0, 1, 7, 8, 9, 16, 17, 31]
    a = [x for x in edges_a for _ in edges_b for _ in edges_e]
    b = [y for _ in edges_a for y in edges_b for _ in edges_e]
    e = [z for _ in edges_a for _ in edges_b for z in edges_e]
    for x in (2 ** 24 - 1, -2 ** 24 - 1, 12345, -12345):  # every exponent
        for y in (2 ** 30 + 1, 2 ** 31 - 1):
            a, b, e = a + [x] * 32, b + [y] * 32, e + list(range(32))
    for exponent in range(1, 21):  # exact halves at the rounding division, both signs
        for odd in (1, 3, 101):
            for sign in (1, -1):
                for y in (2 ** 30, 2 ** 31 - 1):
                    a, b, e = a + [sign * (odd << exponent)], b + [y], e + [exponent + 1]
    n = 600
    magnitude = rng.integers(0, 32, n)  # accumulators of every size, both signs
    a += (rng.integers(0, 2 ** 31, n) >> (31 - magnitude) * rng.choice([-1, 1], n)).tolist()
    b += rng.integers(2 ** 30, 2 ** 31, n).tolist()  # quantize_multiplier's range
    e += rng.integers(0, 20, n).tolist()
    return np.array(a, np.int64), np.array(b, np.int64), np.array(e, np.int64)


def _rescale_program(folder, compiler, flags):
    a, b, e = _rescale_cases()
    kernel = (engine_c.KERNELS / "common.c").read_text()  # the epilogue's other parts unused
    (folder / "cases.h").write_text(
        kernel + f"\n#define N_CASES {len(a)}\n"
        + engine.c_text.c_array("int32_t", "case_a", np.clip(a, -2 ** 31, 2 ** 31 - 1))
        + engine.c_text.c_array("int32_t", "case_b", b) + engine.c_text.c_array("uint8_t", "case_e", e))
    (folder / "main.c").write_text(RESCALE_MAIN)
    built = subprocess.run([compiler, *flags, *engine_c.CFLAGS, "-Wno-unused-function", "-I", str(folder),
                            str(folder / "main.c"),
                            "-o", str(folder / "rescale")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    expected = np.clip(engine.rounding_divide_by_pot(
        engine.saturating_rounding_doubling_high_mul(a, b), e), -512, 512)
    return folder / "rescale", expected


def _hex_lines(text):
    lines = re.findall(r"\b[0-9a-f]{4}\b", re.sub(r"\x1b\[[0-9;]*m", "", text))
    return np.array([int(line, 16) for line in lines], np.uint16).view(np.int16)


def test_the_c_rescale_equals_tflm_arithmetic_on_the_host(tmp_path):
    # gemmlowp's high mul and rounding division, in 32-bit pieces, for edge values (INT32_MIN,
    # either side of 2^24, exact halves of both signs, multipliers 0 and 2^31 - 1, every
    # exponent) and 600
    # random accumulators of every magnitude; limited to +-512 as the kernel does
    program, expected = _rescale_program(tmp_path, engine_c.tool("gcc", "gcc"), ["-O2"])
    done = subprocess.run([str(program)], capture_output=True, text=True, timeout=60)
    np.testing.assert_array_equal(_hex_lines(done.stdout), expected)


def test_the_c_rescale_equals_tflm_arithmetic_on_a_simulated_atmega328p(tmp_path):
    # the same cases through the AVR's hand-written 32 x 32 multiply and 16-bit ints
    program, expected = _rescale_program(tmp_path, engine_c.tool("avr-gcc", "gcc-avr avr-libc"),
                                         ["-mmcu=atmega328p", "-Os"])
    done = subprocess.run([engine_c.tool("simavr", "simavr"), "-m", "atmega328p", "-f", "16000000",
                           str(program)], capture_output=True, text=True, timeout=300)
    np.testing.assert_array_equal(_hex_lines(done.stdout + done.stderr), expected)


# --------------------------------------------------------------------------- bad input

def test_a_float_model_is_refused(student, digits):
    float_model = convert.to_tflite(student, "float")
    with pytest.raises(ValueError, match="float32, not int8.*to_tflite"):
        engine.read_tflite(float_model)


def test_an_unsupported_op_is_refused_by_name(digits):
    import keras

    model = keras.Sequential([keras.Input(digits.input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(digits.n_classes)])
    with pytest.raises(ValueError, match=r"uses TANH, which the TinyLab C engine does not run; "
                                         r"it runs FULLY_CONNECTED, CONV_2D"):
        engine.read_tflite(convert.to_tflite(model, "int8", digits.X_train[:20]))


def test_other_bad_input_gets_clear_errors(mlps):
    with pytest.raises(ValueError, match="TFL3"):
        engine.read_tflite(b"not a model at all")
    with pytest.raises(ValueError, match="unknown format 'zip'"):
        engine.generate_c(mlps["student"], "zip")
    with pytest.raises(ValueError, match="C identifier"):
        engine.generate_c(mlps["student"], "int8", name="my-model")
    with pytest.raises(TypeError, match="IntegerModel"):
        engine.generate_c(b"TFL3", "int8")
    with pytest.raises(TypeError, match="int8 array.*quantize_inputs"):
        engine.run_int8(mlps["student"], np.zeros((1, 64), np.float32))
    with pytest.raises(ValueError, match=r"shape \(8, 8, 1\) or \(64,\).*X\[np.newaxis\]"):
        engine.run_int8(mlps["student"], np.zeros((8, 8, 1), np.int8))
