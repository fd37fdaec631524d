"""Tests for tinylab.models: builders, seeding, and the parameter/byte accounting."""

import math

import numpy as np
import pytest

from tinylab import models


def _dense_params(fan_in, units):
    return fan_in * units + units


def test_mlp300_parameter_count_matches_the_formula():
    model = models.build("mlp300")
    expected = _dense_params(64, 300) + _dense_params(300, 100) + _dense_params(100, 10)
    assert models.count_params(model) == expected
    assert model.count_params() == expected  # Keras agrees


def test_parameter_table_rows_for_mlp300():
    rows = models.parameter_table(models.build("mlp300"))
    # Flatten has no weights, so there is one row per Dense layer.
    assert [row["layer"] for row in rows] == ["dense_1", "dense_2", "logits"]
    assert [row["kernel_shape"] for row in rows] == [(64, 300), (300, 100), (100, 10)]
    for row, (fan_in, units) in zip(rows, [(64, 300), (300, 100), (100, 10)]):
        assert row["kind"] == "Dense"
        assert row["weights"] == fan_in * units
        assert row["biases"] == units
        assert row["params"] == fan_in * units + units
        assert row["bytes_float32"] == 4 * row["params"]
        # int8 weights, int32 biases (as TFLite Micro stores them).
        assert row["bytes_int8"] == row["weights"] + 4 * row["biases"]


def test_cnn_output_shape_and_parameters():
    model = models.build("cnn")
    assert tuple(model.output_shape) == (None, 10)
    assert tuple(model.input_shape) == (None, 8, 8, 1)
    rows = {row["layer"]: row for row in models.parameter_table(model)}
    # Conv 3x3: 3*3*in*out + out. Two 2x2 poolings take 8x8 to 2x2, so 2*2*32 = 128 features.
    assert rows["conv_1"]["params"] == 3 * 3 * 1 * 16 + 16
    assert rows["conv_2"]["params"] == 3 * 3 * 16 * 32 + 32
    assert rows["logits"]["kernel_shape"] == (2 * 2 * 32, 10)
    prediction = model(np.zeros((3, 8, 8, 1), dtype=np.float32))
    assert tuple(prediction.shape) == (3, 10)


def test_models_output_logits_not_probabilities():
    # No softmax layer: lesson 03 divides logits by a temperature.
    model = models.build("student", seed=0)
    rng = np.random.default_rng(0)
    logits = np.asarray(model(rng.uniform(0, 1, (5, 8, 8, 1)).astype(np.float32)))
    assert not np.allclose(logits.sum(axis=1), 1.0)
    assert model.layers[-1].get_config()["activation"] == "linear"


def test_mlp_without_hidden_layers_is_a_linear_classifier():
    model = models.mlp(input_shape=(8, 8, 1), n_classes=10, hidden_units=())
    assert models.count_params(model) == 64 * 10 + 10


@pytest.mark.parametrize("name", list(models.ARCHITECTURES))
def test_same_seed_same_initial_weights(name):
    first = models.build(name, seed=7).get_weights()
    second = models.build(name, seed=7).get_weights()
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_different_seed_different_initial_weights():
    first = models.build("student", seed=0).get_weights()
    second = models.build("student", seed=1).get_weights()
    kernels_differ = [not np.array_equal(a, b) for a, b in zip(first, second) if a.ndim == 2]
    assert kernels_differ and all(kernels_differ)


def test_build_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="resnet") as caught:
        models.build("resnet")
    for name in models.ARCHITECTURES:
        assert name in str(caught.value)


@pytest.mark.parametrize("hidden_units", [(0,), (-3,), (2.5,), (32, 0)])
def test_bad_hidden_units(hidden_units):
    with pytest.raises(ValueError, match="hidden_units"):
        models.mlp(hidden_units=hidden_units)


@pytest.mark.parametrize("input_shape", [(), (0, 8), (8, -1, 1), (8.5, 8, 1)])
def test_bad_input_shape(input_shape):
    with pytest.raises(ValueError, match="input_shape"):
        models.mlp(input_shape=input_shape)


@pytest.mark.parametrize("n_classes", [1, 0, 2.5])
def test_bad_n_classes(n_classes):
    with pytest.raises(ValueError, match="n_classes"):
        models.mlp(n_classes=n_classes)


def test_cnn_needs_height_width_channels():
    with pytest.raises(ValueError, match="height, width, channels"):
        models.cnn(input_shape=(64,))


def test_builders_respect_input_shape_and_n_classes():
    model = models.build("student", input_shape=(4, 4, 1), n_classes=3)
    assert tuple(model.input_shape) == (None, 4, 4, 1)
    assert tuple(model.output_shape) == (None, 3)
    assert models.count_params(model) == _dense_params(16, 32) + _dense_params(32, 3)


def test_size_bytes_at_several_bit_widths():
    model = models.build("tiny")
    params = _dense_params(64, 8) + _dense_params(8, 10)
    assert models.size_bytes(model) == 4 * params
    assert models.size_bytes(model, bits_per_weight=32) == 4 * params
    assert models.size_bytes(model, bits_per_weight=8) == params
    assert models.size_bytes(model, bits_per_weight=3) == math.ceil(3 * params / 8)
    assert models.size_bytes(model, bits_per_weight=1) == math.ceil(params / 8)


def test_size_bytes_rejects_zero_bits():
    with pytest.raises(ValueError, match="bits_per_weight"):
        models.size_bytes(models.build("tiny"), bits_per_weight=0)


def test_available_names_every_architecture():
    assert models.available() == list(models.ARCHITECTURES)
    for name, spec in models.ARCHITECTURES.items():
        assert spec["epochs"] >= 1, name


# --------------------------------------------------------------------------- multiply-accumulates

def _sequential(input_shape, *layers):
    from tinylab._tensorflow import keras

    return keras.Sequential([keras.Input(shape=input_shape), *layers])


def test_macs_of_a_dense_layer_by_hand():
    from tinylab._tensorflow import keras

    model = _sequential((64,), keras.layers.Dense(32))
    assert models.count_macs(model) == 64 * 32 == 2048  # the bias is an add, not a MAC


def test_macs_of_a_same_conv2d_by_hand():
    from tinylab._tensorflow import keras

    model = _sequential((8, 8, 1), keras.layers.Conv2D(16, 3, padding="same"))
    # 8 * 8 positions * 16 filters, each output 3 * 3 * 1 products
    assert models.count_macs(model) == 8 * 8 * 16 * 3 * 3 * 1 == 9216


def test_macs_of_valid_strided_depthwise_and_1d_convolutions_by_hand():
    from tinylab._tensorflow import keras

    valid = _sequential((8, 8, 2), keras.layers.Conv2D(4, 3, strides=2))  # 3x3 outputs
    assert models.count_macs(valid) == 3 * 3 * 4 * (3 * 3 * 2) == 648
    depthwise = _sequential((6, 6, 3), keras.layers.DepthwiseConv2D(3, padding="same",
                                                                      depth_multiplier=2))
    assert models.count_macs(depthwise) == 6 * 6 * 3 * 2 * (3 * 3) == 1944
    conv1d = _sequential((50, 6), keras.layers.Conv1D(8, 5))  # 46 steps out
    assert models.count_macs(conv1d) == 46 * 8 * (5 * 6) == 11040
    per_step = _sequential((4, 6), keras.layers.Dense(3))  # a Dense layer at each of 4 steps
    assert models.count_macs(per_step) == 4 * 6 * 3 == 72


def test_macs_of_the_lesson_models():
    assert models.count_macs(models.build("student")) == 64 * 32 + 32 * 10 == 2368
    # cnn: conv 1->16 on 8x8, pool, conv 16->32 on 4x4, pool, Dense 2*2*32 -> 10
    assert models.count_macs(models.build("cnn")) == 8 * 8 * 16 * 9 + 4 * 4 * 32 * 9 * 16 + 128 * 10
    rows = models.mac_table(models.build("cnn"))
    assert [row["layer"] for row in rows] == ["conv_1", "conv_2", "logits"]
    assert [row["macs"] for row in rows] == [9216, 73728, 1280]
    assert [row["output_shape"] for row in rows] == [(8, 8, 16), (4, 4, 32), (10,)]
    assert sum(row["params"] for row in rows) == 6090
    # a convolution reuses its weights: far more MACs per parameter than a Dense layer
    assert rows[1]["macs"] / rows[1]["params"] > 10 > rows[2]["macs"] / rows[2]["params"]


def test_macs_refuse_layers_they_cannot_count():
    from tinylab._tensorflow import keras

    model = _sequential((8, 8, 1), keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization())
    with pytest.raises(ValueError, match="BatchNormalization"):
        models.count_macs(model)


    class Subclassed(keras.Model):  # its layers are called eagerly: no symbolic output shapes
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    subclassed = Subclassed()
    subclassed(np.zeros((1, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="Input"):
        models.count_macs(subclassed)


def test_cnn_student_is_smaller_than_its_teacher_and_fits_the_uno():
    teacher, student = models.build("cnn"), models.build("cnn_student")
    assert models.ARCHITECTURES["cnn_student"]["kind"] == "cnn"
    assert models.count_params(student) < models.count_params(teacher) / 3
    assert models.count_macs(student) < models.count_macs(teacher) / 3
    # int8 weights and int32 biases, far below the Uno's 32,256 bytes of usable flash
    assert sum(row["bytes_int8"] for row in models.parameter_table(student)) < 32256 // 4


def test_feature_maps_cut_the_model_after_a_layer(digits):
    model = models.build("cnn", seed=0)
    maps = models.feature_maps(model, "conv_1", digits.X_test[:3])
    assert maps.shape == (3, 8, 8, 16) and maps.dtype == np.float32
    assert maps.min() >= 0  # after the layer's ReLU
    pooled = models.feature_maps(model, "pool_1", digits.X_test[:3])
    np.testing.assert_allclose(pooled, maps.reshape(3, 4, 2, 4, 2, 16).max(axis=(2, 4)), rtol=1e-6)
    with pytest.raises(ValueError, match="conv_1"):
        models.feature_maps(model, "conv_9", digits.X_test[:3])
    with pytest.raises(ValueError, match="shape"):
        models.feature_maps(model, "conv_1", digits.X_test[:3].reshape(3, 64))


# --------------------------------------------------------------------------- IMU windows

def test_conv1d_halves_the_steps_per_layer_and_averages_over_time():
    model = models.conv1d((100, 6), 4, filters=(8, 16), kernel_size=5, seed=0)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert shapes == [(50, 8), (25, 16), (16,), (4,)]
    # kernel 5 x 6 channels x 8 + 8, then 5 x 8 x 16 + 16, then 16 x 4 + 4
    assert models.count_params(model) == (5 * 6 * 8 + 8) + (5 * 8 * 16 + 16) + (16 * 4 + 4)
    assert models.count_macs(model) == 50 * 8 * 30 + 25 * 16 * 40 + 16 * 4


@pytest.mark.parametrize("input_shape", [(8, 8, 1), (64,)])
def test_conv1d_refuses_inputs_that_are_not_windows(input_shape):
    with pytest.raises(ValueError, match="steps, channels"):
        models.conv1d(input_shape, 4)


def test_available_filters_by_input_shape():
    windows, images = models.available((100, 6)), models.available((8, 8, 1))
    assert "imu_cnn" in windows and "cnn" not in windows and "student" in windows
    assert "cnn" in images and "imu_cnn" not in images


def test_imu_models_default_to_basicmotions_windows():
    for name in ("imu_mlp", "imu_cnn"):
        model = models.build(name, seed=0)
        assert tuple(model.input_shape[1:]) == (100, 6) and model.output_shape[-1] == 4
