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
