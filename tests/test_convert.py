"""Tests for tinylab.convert: TFLite conversion, the two interpreters, the arena, the report.

One student MLP (64-32-10) is trained once for the module and converted once per mode; the
parity tests follow tflite-micro's hello_world ``evaluate_test.py``, which checks that TFLM and
TFLite agree on the same flatbuffer.
"""

import gzip
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from tinylab import convert, models, train


@pytest.fixture(scope="module")
def student(digits):
    model = models.build("student", digits.input_shape, digits.n_classes, seed=0)
    train.fit(model, digits, epochs=10, seed=0, progress=False)
    return model


@pytest.fixture(scope="module")
def flatbuffers(student, digits):
    """The student converted in each mode: {"float": bytes, "dynamic": bytes, "int8": bytes}."""
    return {mode: convert.to_tflite(student, mode, digits.X_train) for mode in convert.MODES}


@pytest.fixture(scope="module")
def keras_logits(student, digits):
    return student.predict(digits.X_test, verbose=0)


@pytest.fixture(scope="module")
def int8_outputs(flatbuffers, digits):
    return SimpleNamespace(**{runtime: convert.predict(flatbuffers["int8"], digits.X_test, runtime)
                              for runtime in convert.RUNTIMES})


# --------------------------------------------------------------------------- by hand

def test_input_quantization_by_hand():
    # real = scale * (q - zero_point), with a scale exact in float32 so the halves are halves.
    details = {"dtype": np.dtype(np.int8), "scale": 0.5, "zero_point": -3}
    X = np.array([0.0, 0.25, -0.25, 1.0, 100.0, -100.0], dtype=np.float32)
    # 0.25 / 0.5 = 0.5 rounds away from zero to 1 (numpy's round-half-to-even would give 0),
    # -0.5 to -1; 100 and -100 fall outside [-128, 127] after the zero point and clip.
    np.testing.assert_array_equal(convert.quantize_tensor(X, details), [-3, -2, -4, -1, 127, -128])
    q = np.array([-3, -1, 127], dtype=np.int8)
    np.testing.assert_array_equal(convert.dequantize_tensor(q, details), [0.0, 1.0, 65.0])


# --------------------------------------------------------------------------- conversion

def test_int8_model_has_int8_input_and_output(flatbuffers):
    details = convert.tensor_details(flatbuffers["int8"])
    for tensor in ("input", "output"):
        assert details[tensor]["dtype"] == np.int8
        assert details[tensor]["scale"] > 0
        assert -128 <= details[tensor]["zero_point"] <= 127
    assert details["input"]["shape"] == (1, 8, 8, 1)
    assert details["output"]["shape"] == (1, 10)


@pytest.mark.parametrize("mode", ["float", "dynamic"])
def test_float_and_dynamic_models_keep_float_input_and_output(flatbuffers, mode):
    details = convert.tensor_details(flatbuffers[mode])
    for tensor in ("input", "output"):
        assert details[tensor]["dtype"] == np.float32
        assert details[tensor]["scale"] is None


def test_quantized_models_are_smaller_and_gzip_smaller_still(flatbuffers, student):
    # float32 weights: 4 bytes per parameter plus the flatbuffer's structure.
    assert len(flatbuffers["float"]) > 4 * models.count_params(student)
    assert len(flatbuffers["int8"]) < len(flatbuffers["float"]) / 1.8
    assert len(flatbuffers["dynamic"]) < len(flatbuffers["float"]) / 1.8
    for flatbuffer in flatbuffers.values():
        assert len(gzip.compress(flatbuffer, 9)) < len(flatbuffer)


def test_int8_conversion_is_repeatable_and_quiet(student, digits, flatbuffers, capfd):
    again = convert.to_tflite(student, "int8", digits.X_train, seed=0)
    assert again == flatbuffers["int8"]
    printed = capfd.readouterr()
    # The converter's progress lines ("fully_quantize: ...", "Reading SavedModel ...") are
    # filtered from the C-level stderr; the SavedModel export prints nothing either.
    assert "fully_quantize" not in printed.err
    assert "SavedModel" not in printed.err + printed.out


def test_conversion_is_quiet_where_tensorflow_logs_info(student, caplog):
    # IPython makes TensorFlow's logger INFO; the export then logs "Assets written to: ...".
    import logging

    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        convert.to_tflite(student, "float")
        assert logger.level == logging.INFO  # restored after the conversion
    finally:
        logger.setLevel(level)
    assert not [r for r in caplog.records if "Assets written" in r.getMessage()]


# --------------------------------------------------------------------------- parity

@pytest.mark.parametrize("runtime", convert.RUNTIMES)
def test_float_model_matches_keras(flatbuffers, digits, keras_logits, runtime):
    logits = convert.predict(flatbuffers["float"], digits.X_test, runtime)
    assert logits.shape == keras_logits.shape and logits.dtype == np.float32
    np.testing.assert_allclose(logits, keras_logits, atol=1e-5, rtol=0)


def test_micro_and_litert_float_outputs_are_bit_identical(flatbuffers, digits):
    micro = convert.predict(flatbuffers["float"], digits.X_test, "micro")
    np.testing.assert_array_equal(micro, convert.predict(flatbuffers["float"], digits.X_test, "litert"))


@pytest.mark.cross_cpu
def test_micro_and_litert_agree_on_int8(int8_outputs, flatbuffers):
    # Not bit-identical: a few outputs differ by one quantization step (rounding in the
    # requantization), never the predicted class on these digits.
    scale = convert.tensor_details(flatbuffers["int8"])["output"]["scale"]
    steps = np.abs(int8_outputs.micro - int8_outputs.litert) / scale
    assert steps.max() <= 1 + 1e-3
    assert np.mean(np.all(steps < 1e-3, axis=1)) >= 0.9  # examples with identical outputs
    classes_agree = np.mean(int8_outputs.micro.argmax(1) == int8_outputs.litert.argmax(1))
    assert classes_agree >= 0.99


@pytest.mark.cross_cpu
def test_int8_accuracy_within_2_points_of_keras(int8_outputs, student, digits):
    keras_accuracy = train.accuracy(student, digits.X_test, digits.y_test)
    assert keras_accuracy > 0.85
    for outputs in (int8_outputs.micro, int8_outputs.litert):
        assert np.mean(outputs.argmax(1) == digits.y_test) >= keras_accuracy - 0.02


def test_accuracy_and_predict_classes_agree(flatbuffers, digits):
    classes = convert.predict_classes(flatbuffers["int8"], digits.X_test, "micro")
    assert classes.shape == digits.y_test.shape
    assert convert.accuracy(flatbuffers["int8"], digits.X_test, digits.y_test, "micro") == \
        pytest.approx(np.mean(classes == digits.y_test))


def test_dynamic_model_runs_in_litert_but_not_in_micro(flatbuffers, digits, keras_logits):
    classes = convert.predict_classes(flatbuffers["dynamic"], digits.X_test, "litert")
    assert np.mean(classes == keras_logits.argmax(1)) >= 0.98
    with pytest.raises(convert.UnsupportedModelError, match="hybrid kernels.*mode='int8'"):
        convert.predict(flatbuffers["dynamic"], digits.X_test[:1], "micro")


# --------------------------------------------------------------------------- the arena

def test_arena_bisection_finds_the_smallest_arena_that_works(flatbuffers):
    arena = convert.arena_bytes(flatbuffers["int8"])
    step = convert.ARENA_GRANULARITY_BYTES
    assert arena % step == 0 and 0 < arena < 16_384
    assert convert.runs_in_arena(flatbuffers["int8"], arena)
    assert not convert.runs_in_arena(flatbuffers["int8"], arena - step)
    # TFLM's recording allocator counts what stays allocated; set-up needs at least that.
    allocations = convert.micro_allocations(flatbuffers["int8"])
    assert allocations["total_bytes"] == allocations["head_bytes"] + allocations["tail_bytes"]
    assert allocations["total_bytes"] <= arena
    assert "TfLiteEvalTensor data" in allocations["parts"]


def test_arena_probe_survives_an_arena_that_crashes_tflm(flatbuffers):
    # A few dozen bytes make TFLM 0.dev20261023182759 segfault on the int8 model: the probe
    # runs in a forked child, so it only answers False.
    assert not convert.runs_in_arena(flatbuffers["int8"], 64)


def test_arena_of_a_dynamic_model_is_unsupported(flatbuffers):
    with pytest.raises(convert.UnsupportedModelError, match="FLOAT32 with filter type: INT8"):
        convert.arena_bytes(flatbuffers["dynamic"])


# --------------------------------------------------------------------------- the report

@pytest.fixture(scope="module")
def rows(student, digits):
    return convert.report(student, digits)


def test_report_has_one_row_per_mode_with_sizes_and_accuracies(rows, flatbuffers):
    assert [row["mode"] for row in rows] == list(convert.MODES)
    by_mode = {row["mode"]: row for row in rows}
    for mode, row in by_mode.items():
        assert row["tflite_bytes"] == len(flatbuffers[mode])
        assert row["gzip_bytes"] < row["tflite_bytes"]
        assert row["litert_agreement"] >= 0.98
    for mode in ("float", "int8"):
        assert by_mode[mode]["unsupported"] == {}
        assert by_mode[mode]["arena_bytes"] > 0
        assert by_mode[mode]["micro_agreement"] >= 0.98
    assert by_mode["float"]["micro_accuracy"] == by_mode["float"]["keras_accuracy"]
    assert by_mode["int8"]["input_dtype"] == "int8"


def test_report_records_what_micro_cannot_run(rows):
    dynamic = next(row for row in rows if row["mode"] == "dynamic")
    assert dynamic["arena_bytes"] is None
    assert dynamic["micro_accuracy"] is None and dynamic["micro_agreement"] is None
    assert "hybrid" in dynamic["unsupported"]["micro"]
    assert dynamic["litert_accuracy"] is not None
    text = convert.to_text(rows)
    assert "n/a" in text and "dynamic in micro:" in text


# --------------------------------------------------------------------------- bad input

def test_bad_mode_and_runtime(student, flatbuffers, digits):
    with pytest.raises(ValueError, match=r"unknown mode 'int4'.*'float', 'dynamic', 'int8'"):
        convert.to_tflite(student, "int4", digits.X_train)
    with pytest.raises(ValueError, match=r"unknown runtime 'arduino'.*'micro', 'litert'"):
        convert.predict(flatbuffers["float"], digits.X_test, "arduino")
    with pytest.raises(ValueError, match="unknown mode"):
        convert.report(student, digits, modes=("float", "fp16"))


@pytest.mark.parametrize("representative, message", [
    (None, r"needs representative examples.*representative=data.X_train"),
    (np.zeros((0, 8, 8, 1), np.float32), "representative is empty"),
    (np.zeros((5, 64), np.float32), r"shape \(5, 64\).*\(n, 8, 8, 1\)"),
    (np.full((5, 8, 8, 1), np.nan, np.float32), "NaN"),
])
def test_int8_needs_proper_representative_examples(student, representative, message):
    with pytest.raises(ValueError, match=message):
        convert.to_tflite(student, "int8", representative)


def test_bad_max_examples(student, digits):
    with pytest.raises(ValueError, match="max_examples must be a whole number >= 1"):
        convert.to_tflite(student, "int8", digits.X_train, max_examples=0)


@pytest.mark.parametrize("X, message", [
    (np.zeros((0, 8, 8, 1)), "X is empty"),
    (np.zeros((3, 64)), r"X has shape \(3, 64\).*\(n, 8, 8, 1\)"),
    (np.zeros((8, 8, 1)), r"one example.*X\[np.newaxis\]"),
])
def test_predict_rejects_bad_inputs(flatbuffers, X, message):
    with pytest.raises(ValueError, match=message):
        convert.predict(flatbuffers["int8"], X, "micro")


def test_predict_wants_tflite_bytes(student, digits):
    with pytest.raises(TypeError, match="convert a Keras model first"):
        convert.predict(student, digits.X_test)
    with pytest.raises(ValueError, match="not a .tflite model"):
        convert.predict(b"\x00" * 64, digits.X_test)


def test_bad_arena_arguments(flatbuffers):
    with pytest.raises(ValueError, match="granularity must be a whole number"):
        convert.arena_bytes(flatbuffers["int8"], granularity=0)
    with pytest.raises(ValueError, match="arena_size must be a whole number"):
        convert.runs_in_arena(flatbuffers["int8"], -1)


@pytest.mark.parametrize("module, package", [
    ("tflite_micro.python.tflite_micro.runtime", "pip install --pre tflite-micro"),
    ("ai_edge_litert.interpreter", "pip install ai-edge-litert"),
])
def test_a_missing_interpreter_names_its_package(flatbuffers, digits, monkeypatch, module, package):
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    runtime = "micro" if "micro" in module else "litert"
    with pytest.raises(convert.MissingRuntimeError, match=package):
        convert.predict(flatbuffers["float"], digits.X_test[:1], runtime)
