"""Tests for the engine's convolution, pooling and mean ops (issue 14, lesson 10).

By hand first (one output pixel of an int8 convolution, pooling's rounding, a mean); then
every output byte of the numpy reference against the tflite-micro interpreter on the digits
test set and on random int8 inputs that reach the clamps, for the lesson CNNs and for models
that use every op and option (SAME/VALID, strides, depthwise with a multiplier, Conv1D,
overlapping pools, ReLU6); then the generated C, on the host (gcc -Wall -Wextra -pedantic
-Werror) in every weight format, fused and not, and on a simulated ATmega328P; and the arena
the memory planner gives the lesson CNN.
"""

import numpy as np
import pytest

import engine_c
from tinylab import convert, engine, models, train
from tinylab.engine.ops.conv_2d import Conv2D
from tinylab.engine.ops.pooling import Pool2D
from tinylab.engine.requant import Requant


# --------------------------------------------------------------------------- by hand

def _conv_by_hand():
    """A 3x3 one-channel image, one 2x2 filter, VALID, stride 1: 2x2 outputs.

    input scale 0.5, zero point 1; weight scale 0.25; output scale 0.5, zero point -3:
    the multiplier is 0.5 * 0.25 / 0.5 = 0.25."""
    requant = Requant.from_scales(input_scale=0.5, weight_scales=[0.25], output_scale=0.5,
                                  output_zero_point=-3, activation="RELU", bias=[4],
                                  n_channels=1)
    filters = np.array([[[[1], [2]], [[-1], [3]]]], np.int8)  # (out_c, k_h, k_w, in_c)
    return Conv2D(name="by_hand", input_shape=(3, 3, 1), output_shape=(2, 2, 1),
                  input_scale=0.5, input_zero_point=1, output_scale=0.5, output_zero_point=-3,
                  filters=filters, strides=(1, 1), padding="VALID", pads=(0, 0),
                  requant=requant, activation="RELU")


def test_one_output_pixel_of_an_int8_convolution_by_hand():
    conv = _conv_by_hand()
    image = np.array([[5, 1, 0], [3, 9, -2], [1, 1, 1]], np.int8).reshape(1, 3, 3, 1)
    # top left: x - zp = [[4, 0], [2, 8]]; 4*1 + 0*2 + 2*(-1) + 8*3 = 26; + bias 4 = 30;
    # 30 * 0.25 = 7.5 -> 8 (half away from zero); + zp -3 = 5
    # top right: [[0, -1], [8, -3]] -> 0 - 2 - 8 - 9 = -19; + 4 = -15; * 0.25 = -3.75 -> -4;
    # -4 - 3 = -7, below the ReLU's floor (the zero point -3) -> -3
    out = conv.run(image).reshape(2, 2)
    assert out[0].tolist() == [5, -3]
    # bottom left: [[2, 8], [0, 0]] -> 2 + 16 = 18; + 4 = 22 -> 5.5 -> 6; + -3 = 3
    assert out[1, 0] == 3
    assert conv.macs == 4 * 4 and conv.scratch_bytes == 4


@pytest.mark.parametrize("format", engine.FORMATS)
def test_a_per_tensor_convolution_in_c_equals_the_reference(format, tmp_path):
    # one weight scale for the layer (the by-hand conv): one multiplier, as TFLM then uses
    conv = _conv_by_hand()
    assert not conv.requant.per_channel
    model = engine.IntegerModel(ops=(conv,), input_shape=(3, 3, 1), output_shape=(2, 2, 1),
                                input_scale=0.5, input_zero_point=1, output_scale=0.5,
                                output_zero_point=-3, model_hash="0000c0de")
    x = np.random.default_rng(2).integers(-128, 128, (300, 9)).astype(np.int8)
    program = engine_c.host_build(model, format, tmp_path)
    np.testing.assert_array_equal(engine_c.host_run(program, x, 4), engine.run_int8(model, x))


def _conv_then_pool(output_scale):
    """conv 2x2 (5x5x2 -> 4x4x3, ReLU) then a fusable 2x2 max pool (-> 2x2x3), random weights."""
    rng = np.random.default_rng(3)
    requant = Requant.from_scales(input_scale=1.0, weight_scales=[1.0, 0.5, 0.25],
                                  output_scale=output_scale, output_zero_point=-20,
                                  activation="RELU", bias=rng.integers(-300, 300, 3),
                                  n_channels=3)
    conv = Conv2D(name="conv", input_shape=(5, 5, 2), output_shape=(4, 4, 3), input_scale=1.0,
                  input_zero_point=7, output_scale=output_scale, output_zero_point=-20,
                  filters=rng.integers(-127, 128, (3, 2, 2, 2)).astype(np.int8),
                  strides=(1, 1), padding="VALID", pads=(0, 0), requant=requant,
                  activation="RELU")
    pool = Pool2D(name="pool", input_shape=(4, 4, 3), output_shape=(2, 2, 3),
                  input_scale=output_scale, input_zero_point=-20, output_scale=output_scale,
                  output_zero_point=-20, average=False, kernel=(2, 2), strides=(2, 2),
                  padding="VALID", pads=(0, 0), activation="NONE", activation_min=-128,
                  activation_max=127)
    return engine.IntegerModel(ops=(conv, pool), input_shape=(5, 5, 2), output_shape=(2, 2, 3),
                               input_scale=1.0, input_zero_point=7, output_scale=output_scale,
                               output_zero_point=-20, model_hash="0000f00d")


@pytest.mark.parametrize("format", engine.FORMATS)
@pytest.mark.parametrize("output_scale", [900.0, 0.5])
def test_a_fused_pool_is_exact_whether_it_pools_accumulators_or_outputs(output_scale, format,
                                                                        tmp_path):
    # a multiplier above 1 (output scale 0.5: shifts left) pools requantized outputs; below 1
    # the largest accumulator, requantized once
    model = _conv_then_pool(output_scale)
    conv = model.ops[0]
    assert conv.pools_accumulators == (output_scale == 900.0)
    assert [step.label for step in engine.plan_memory(model).steps] == [
        "CONV_2D + MAX_POOL_2D (fused)"]
    x = np.random.default_rng(4).integers(-128, 128, (400, 50)).astype(np.int8)
    program = engine_c.host_build(model, format, tmp_path)
    np.testing.assert_array_equal(engine_c.host_run(program, x, 12), engine.run_int8(model, x))


def test_pooling_rounds_and_clips_as_tflm_by_hand():
    def pool(average, padding, pads, out_hw):
        return Pool2D(name="p", input_shape=(2, 3, 1), output_shape=out_hw + (1,),
                      input_scale=1.0, input_zero_point=0, output_scale=1.0,
                      output_zero_point=0, average=average, kernel=(2, 2), strides=(2, 2),
                      padding=padding, pads=pads, activation="NONE", activation_min=-128,
                      activation_max=127)

    x = np.array([[1, 2, -7], [2, 2, 4]], np.int8).reshape(1, 2, 3, 1)
    # SAME: windows [1, 2, 2, 2] and [-7, 4] (the padded column does not count)
    # average: 7 / 4 = 1.75 -> 2; -3 / 2 = -1.5 -> -2 (halves away from zero)
    assert pool(True, "SAME", (0, 0), (1, 2)).run(x).ravel().tolist() == [2, -2]
    assert pool(False, "SAME", (0, 0), (1, 2)).run(x).ravel().tolist() == [2, 4]
    assert pool(False, "VALID", (0, 0), (1, 1)).run(x).ravel().tolist() == [2]


def test_mean_folds_one_over_n_into_the_multiplier_as_tflm():
    from tinylab.engine.ops.mean import mean_requant

    # 3 positions, scales equal: multiplier 2^30 (0.5) with shift 1; s = floor(log2 3) = 1:
    # (2^30 << 1) // 3 = 715827882, shift 0 -> about 1/3
    requant = mean_requant(0.5, 0.5, 0, 3)
    assert (int(requant.multipliers[0]), int(requant.shifts[0])) == (715827882, 0)
    assert requant.apply([[3 + 3 + 4]]).tolist() == [[3]]  # 10 / 3 = 3.33 -> 3


# --------------------------------------------------------------------------- the models

def _keras():
    import keras

    return keras


def _mixed(digits):
    """Every op but MAX_POOL: SAME conv, depthwise x2 stride 2 ReLU6, SAME average pool, mean."""
    keras = _keras()
    return keras.Sequential([
        keras.Input(digits.input_shape),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, activation="relu6"),
        keras.layers.AveragePooling2D(2, padding="same"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(digits.n_classes)], name="mixed")


def _strided(digits):
    """A VALID strided conv with a 3x2 kernel, an overlapping SAME max pool (not fusable)."""
    keras = _keras()
    return keras.Sequential([
        keras.Input(digits.input_shape),
        keras.layers.Conv2D(3, (3, 2), strides=(2, 1)),
        keras.layers.MaxPooling2D(3, strides=1, padding="same"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(digits.n_classes, activation="relu")], name="strided")


def _conv1d(digits):
    """The digits as 8 steps of 8 channels: Conv1D (RESHAPE + CONV_2D), pools, a mean."""
    keras = _keras()
    return keras.Sequential([
        keras.Input(digits.input_shape), keras.layers.Reshape((8, 8)),
        keras.layers.Conv1D(6, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(8, 2, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(digits.n_classes)], name="conv1d")


def _weightless(digits):
    """No weights at all: pools and a mean (the C source then holds no weight format)."""
    keras = _keras()
    return keras.Sequential([keras.Input(digits.input_shape),
                             keras.layers.AveragePooling2D(3, strides=1, padding="same"),
                             keras.layers.MaxPooling2D(2),
                             keras.layers.GlobalAveragePooling2D()], name="weightless")


def _pruned_cnn(cnn):
    """The lesson cnn with 90% of its conv weights zero and three whole filters of the second
    conv zero (432 zeros in a row: the 8-bit gaps need fillers)."""
    pruned = models.build("cnn", seed=0)
    pruned.set_weights(cnn.get_weights())
    for layer in pruned.layers:
        if "conv" in layer.name:
            kernel, bias = layer.get_weights()
            kernel = np.where(np.abs(kernel) > np.quantile(np.abs(kernel), 0.9), kernel, 0)
            if kernel.shape[-1] == 32:
                kernel[..., 5:8] = 0
            layer.set_weights([kernel, bias])
    return pruned


@pytest.fixture(scope="module")
def cnn(digits):
    model = models.build("cnn", digits.input_shape, digits.n_classes, seed=0)
    train.fit(model, digits, epochs=2, seed=0, progress=False)
    return model


@pytest.fixture(scope="module")
def flatbuffers(cnn, digits):
    keras_models = {"cnn": cnn, "pruned_cnn": _pruned_cnn(cnn), "mixed": _mixed(digits),
                    "strided": _strided(digits), "conv1d": _conv1d(digits),
                    "weightless": _weightless(digits)}
    if "cnn_student" in models.ARCHITECTURES:
        student = models.build("cnn_student", digits.input_shape, digits.n_classes, seed=0)
        train.fit(student, digits, epochs=2, seed=0, progress=False)
        keras_models["cnn_student"] = student
    return {name: convert.to_tflite(model, "int8", digits.X_train, max_examples=200, seed=0)
            for name, model in keras_models.items()}


@pytest.fixture(scope="module")
def cnns(flatbuffers):
    return {name: engine.read_tflite(flatbuffer) for name, flatbuffer in flatbuffers.items()}


@pytest.fixture(scope="module")
def inputs(cnns, digits):
    """Each model's int8 test digits, then 40 random int8 vectors (they reach the clamps)."""
    rng = np.random.default_rng(0)
    return {name: np.concatenate([engine.quantize_inputs(model, digits.X_test),
                                  rng.integers(-128, 128, (40, model.n_inputs)).astype(np.int8)])
            for name, model in cnns.items()}


MODELS = ["cnn", "pruned_cnn", "mixed", "strided", "conv1d", "weightless", "cnn_student"]


def _model(cnns, name):
    if name not in cnns:
        pytest.skip(f"{name} is not a lesson architecture (tl.models.ARCHITECTURES)")
    return cnns[name]


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


def test_read_tflite_describes_the_lesson_cnn(cnns):
    cnn = cnns["cnn"]
    assert [op.kind for op in cnn.ops] == ["CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D",
                                           "RESHAPE", "FULLY_CONNECTED"]
    conv = cnn.ops[0]
    assert (conv.input_shape, conv.output_shape, conv.kernel, conv.pads) == \
        ((8, 8, 1), (8, 8, 16), (3, 3), (1, 1))
    assert conv.requant.per_channel and conv.activation == "RELU"
    # MACs by hand: 8*8*16 outputs of 9, 4*4*32 of 144, 10 of 128
    assert cnn.macs == 8 * 8 * 16 * 9 + 4 * 4 * 32 * 144 + 10 * 128 == 84224
    assert cnn.n_weights == 16 * 9 + 32 * 144 + 10 * 128
    assert "CNN 8x8x1 -> conv 8x8x16 (RELU) -> maxpool 4x4x16" in cnn.describe()


@pytest.mark.parametrize("name", MODELS)
def test_run_int8_is_bit_exact_with_tflite_micro(name, cnns, flatbuffers, inputs):
    model = _model(cnns, name)
    np.testing.assert_array_equal(engine.run_int8(model, inputs[name]),
                                  _micro_outputs(flatbuffers[name], inputs[name]))


def test_the_models_use_every_op_and_option(cnns):
    ops = [op for model in cnns.values() for op in model.ops]
    assert set(engine.SUPPORTED_OPS) <= {op.kind for op in ops}
    assert {op.padding for op in ops if hasattr(op, "padding")} == {"SAME", "VALID"}
    assert {"RELU", "RELU6", "NONE"} <= {getattr(op, "activation", "NONE") for op in ops}
    assert any(getattr(op, "depth_multiplier", 1) > 1 for op in ops)
    assert any(tuple(getattr(op, "strides", (1, 1))) != (1, 1) for op in ops)


@pytest.mark.parametrize("format", engine.FORMATS)
@pytest.mark.parametrize("name", MODELS)
def test_generated_c_is_bit_exact_on_the_host(name, format, cnns, inputs, tmp_path):
    model = _model(cnns, name)
    program = engine_c.host_build(model, format, tmp_path)
    got = engine_c.host_run(program, inputs[name], model.n_outputs)
    np.testing.assert_array_equal(got, engine.run_int8(model, inputs[name]))


@pytest.mark.parametrize("format", engine.FORMATS)
def test_unfused_c_is_bit_exact_too(format, cnns, inputs, tmp_path):
    model = cnns["cnn"]
    program = engine_c.host_build(model, format, tmp_path, fuse=False)
    got = engine_c.host_run(program, inputs["cnn"], model.n_outputs)
    np.testing.assert_array_equal(got, engine.run_int8(model, inputs["cnn"]))


def test_sparse_conv_rows_store_only_their_entries(cnns):
    conv = cnns["pruned_cnn"].ops[2]
    stored = engine.formats.store(conv, "sparse")
    rows = conv.weight_rows()
    np.testing.assert_array_equal(engine.formats.sparse.decode(stored, rows.shape[1]), rows)
    assert stored.n_entries < 0.2 * conv.n_weights


@pytest.mark.parametrize("format", engine.FORMATS)
def test_the_cnn_is_bit_exact_on_a_simulated_atmega328p(format, cnns, inputs, tmp_path):
    name = "cnn" if format == "int8" else "pruned_cnn"
    x = np.concatenate([inputs[name][:4], inputs[name][-2:]])  # digits, and random vectors
    got = engine_c.avr_run(cnns[name], format, x, tmp_path)
    np.testing.assert_array_equal(got, engine.run_int8(cnns[name], x))


# --------------------------------------------------------------------------- memory

def test_the_memory_plan_of_the_lesson_cnn(cnns, tmp_path):
    cnn = cnns["cnn"]
    plan = engine.plan_memory(cnn)
    # fused: conv1+pool writes 4x4x16 = 256 B; conv2 reads it with a 3x3x16 = 144 B patch
    # and 32 int32 for its largest accumulators (128 B), and writes 2x2x32 = 128 B: all alive
    # at once; the dense layer writes the output
    assert [step.label for step in plan.steps] == [
        "CONV_2D + MAX_POOL_2D (fused)", "CONV_2D + MAX_POOL_2D (fused)", "FULLY_CONNECTED"]
    accumulators = 128 if cnn.ops[2].pools_accumulators else 0  # no channel shifts left
    assert plan.arena_bytes == 256 + (accumulators + 144) + 128
    unfused = engine.plan_memory(cnn, fuse=False)
    # unfused the 8x8x16 conv output (1,024 B) lives beside its pool's 256 B
    assert unfused.arena_bytes >= 1024 + 256 and plan.unplanned_bytes == unfused.unplanned_bytes
    assert f"arena: {plan.arena_bytes} bytes" in plan.describe()
    size = engine_c.avr_build(cnn, "int8", tmp_path / "int8")["object"]
    assert size["data"] == 0 and size["bss"] == plan.arena_bytes
    # a format that decodes rows keeps conv2's decoded row (144 B) beside its patch, and
    # its largest accumulator in a register (it goes channel by channel)
    huffman = engine.plan_memory(cnn, format="huffman")
    assert [step.scratch_bytes for step in huffman.steps] == [9 + 9, 144 + 144, 0]
    assert huffman.arena_bytes == 256 + 288 + 128
    size = engine_c.avr_build(cnn, "huffman", tmp_path / "huffman")["object"]
    assert size["data"] == 0 and size["bss"] == huffman.arena_bytes


def test_no_two_buffers_alive_together_overlap(cnns):
    for model in cnns.values():
        plan = engine.plan_memory(model)
        spans = []  # (offset, end, first step, last step)
        for k, step in enumerate(plan.steps):
            if step.output_offset is not None:
                spans.append((step.output_offset, step.output_offset + step.output_bytes, k, k + 1))
            if step.scratch_bytes:
                spans.append((step.scratch_offset, step.scratch_offset + step.scratch_bytes, k, k))
        for i, a in enumerate(spans):
            for b in spans[i + 1:]:
                alive = a[2] <= b[3] and b[2] <= a[3]
                assert not (alive and a[0] < b[1] and b[0] < a[1]), (model.describe(), a, b)
            assert a[1] <= plan.arena_bytes


# --------------------------------------------------------------------------- bad input

def test_a_dilated_convolution_is_refused_by_name(digits):
    keras = _keras()
    model = keras.Sequential([keras.Input(digits.input_shape),
                              keras.layers.Conv2D(2, 3, dilation_rate=2), keras.layers.Flatten(),
                              keras.layers.Dense(digits.n_classes)])
    with pytest.raises(ValueError, match=r"CONV_2D operator 0 is dilated \(2x2\).*dilation 1"):
        engine.read_tflite(convert.to_tflite(model, "int8", digits.X_train[:20]))
