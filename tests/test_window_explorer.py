"""Lesson 09's panel, driven as a student would: pick a class, a window, raw or standardized."""

from types import SimpleNamespace

import numpy as np
import pytest

import tinylab as tl


@pytest.fixture(scope="module")
def gestures():
    return tl.data.load("gestures", seed=0)


def _int8_details(scale, zero_point):
    return {"dtype": np.dtype(np.int8), "scale": scale, "zero_point": zero_point}


def test_window_explorer_shows_the_window_the_model_gets_in_int8(gestures):
    panel = tl.widgets.window_explorer(gestures)
    c, state = panel.controls, panel.state
    first_flex = int(np.flatnonzero(gestures.y_test == 0)[0])
    assert (state["part"], state["label"], state["index"], state["scaling"]) == \
        ("test", 0, first_flex, "model")
    params = tl.quantize.quantization_params(gestures.X_train, 8)
    assert state["input_scale"] == pytest.approx(float(params.scale))
    assert state["zero_point"] == int(params.zero_point)
    # the same int8 bytes the host sends the board (tl.engine.quantize_inputs' rounding)
    expected = tl.convert.quantize_tensor(gestures.X_test[first_flex],
                                          _int8_details(state["input_scale"], state["zero_point"]))
    np.testing.assert_array_equal(state["window_int8"], expected)
    assert state["window_levels"] == [len(np.unique(expected[:, ch])) for ch in range(6)]
    # one int8 step, back in each channel's units: the input scale times the channel's std
    np.testing.assert_allclose(state["step_units"],
                               state["input_scale"] * np.asarray(gestures.normalization["std"]),
                               rtol=1e-5)
    assert (state["bytes_int8"], state["bytes_float32"]) == (300, 1200)
    assert "<b>300 B</b> as int8" in c["info"].value and "2,048 B of RAM" in c["info"].value
    assert [ax.get_ylabel() for ax in panel.shown.axes[:3]] == ["ax (g)", "ay (g)", "az (g)"]


def test_window_explorer_raw_values_leave_the_accelerometer_a_handful_of_levels(gestures):
    panel = tl.widgets.window_explorer(gestures)
    standardized = panel.state["part_levels"]
    panel.controls["scaling"].value = "raw"
    state = panel.state
    raw_params = tl.quantize.quantization_params(gestures.raw(gestures.X_train), 8)
    assert state["input_scale"] == pytest.approx(float(raw_params.scale))
    assert state["step_units"] == pytest.approx([float(raw_params.scale)] * 6)  # g and deg/s alike
    assert max(state["part_levels"][:3]) <= 5          # ax, ay, az: nearly constant
    assert min(standardized[:3]) > 50                  # standardized: dozens of levels each
    assert max(state["part_levels"][3:]) > 100         # the gyroscope keeps its detail raw
    assert "raw sensor values" in panel.shown.get_suptitle()


def test_window_explorer_follows_the_class_and_clips_the_window_index(gestures):
    panel = tl.widgets.window_explorer(gestures, part="val", label=1, index=2)
    c = panel.controls
    assert panel.state["index"] == int(np.flatnonzero(gestures.y_val == 1)[2])
    c["label"].value = 3
    n_wave = int(np.sum(gestures.y_val == 3))
    assert c["index"].max == n_wave - 1
    c["index"].value = 10_000                           # a slider clips to its max
    assert panel.state["index"] == int(np.flatnonzero(gestures.y_val == 3)[-1])
    assert f"window {n_wave} of {n_wave}" in c["info"].value
    assert gestures.class_names[3] in panel.shown.get_suptitle()


def test_window_explorer_uses_the_int8_models_own_input_scale(gestures):
    stand_in = SimpleNamespace(input_scale=0.5, input_zero_point=3)
    panel = tl.widgets.window_explorer(gestures, integer_model=stand_in)
    assert (panel.state["input_scale"], panel.state["zero_point"]) == (0.5, 3)
    index = panel.state["index"]
    np.testing.assert_array_equal(panel.state["window_int8"],
                                  tl.convert.quantize_tensor(gestures.X_test[index],
                                                             _int8_details(0.5, 3)))


def test_window_explorer_calibrates_as_the_converter_does(gestures):
    model = tl.models.mlp(gestures.input_shape, gestures.n_classes, hidden_units=(4,), seed=0)
    integer_model, _ = tl.deploy.integer_model(model, gestures)
    panel = tl.widgets.window_explorer(gestures)
    assert panel.state["input_scale"] == pytest.approx(integer_model.input_scale, rel=1e-6)
    assert panel.state["zero_point"] == integer_model.input_zero_point


def _windows_dataset(X_train, X_test, *, y_train=None, y_test=None):
    """A Dataset of raw windows with no channel names, units or sample rate."""
    y_train = np.zeros(len(X_train), dtype=np.int64) if y_train is None else y_train
    y_test = np.zeros(len(X_test), dtype=np.int64) if y_test is None else y_test
    return tl.data.Dataset(name="synthetic", X_train=X_train.astype(np.float32), y_train=y_train,
                           X_val=X_test.astype(np.float32), y_val=y_test,
                           X_test=X_test.astype(np.float32), y_test=y_test,
                           class_names=("a", "b"), input_shape=X_train.shape[1:],
                           normalization={"offset": 0.0, "scale": 1.0}, provenance={})


def test_window_explorer_counts_and_marks_what_int8_clips():
    rng = np.random.default_rng(0)
    X_train = rng.uniform(-1.0, 1.0, size=(8, 100, 3))
    X_test = rng.uniform(-1.0, 1.0, size=(2, 100, 3))
    X_test[0, 10:13, 2] = 5.0          # three readings far beyond the training range
    panel = tl.widgets.window_explorer(_windows_dataset(X_train, X_test))
    state = panel.state
    assert state["part_clipped"] == [0, 0, 3] and state["window_clipped"] == [0, 0, 3]
    assert state["window_int8"][10:13, 2].tolist() == [127, 127, 127]
    assert (state["bytes_int8"], state["bytes_float32"]) == (300, 1200)
    assert [ax.get_ylabel() for ax in panel.shown.axes[:3]] == ["ch0", "ch1", "ch2"]
    assert [ax.get_xlabel() for ax in panel.shown.axes] == ["step"] * 3  # no sample rate: steps
    marks = [line for line in panel.shown.axes[2].lines if line.get_marker() == "x"]
    assert len(marks) == 1 and len(marks[0].get_xdata()) == 3


def test_window_explorer_reports_a_class_without_windows_in_the_panel():
    rng = np.random.default_rng(1)
    panel = tl.widgets.window_explorer(_windows_dataset(rng.normal(size=(4, 20, 2)),
                                                        rng.normal(size=(2, 20, 2))))
    panel.controls["label"].value = 1    # class "b" has no test window
    assert "no window of class &#x27;b&#x27;" in panel.controls["info"].value
    assert panel.state["label"] == 0     # what is shown is still class "a"


@pytest.mark.parametrize("options, message", [({"part": "holdout"}, "part"),
                                              ({"label": 4}, "class index from 0 to 3")])
def test_window_explorer_rejects_bad_settings(gestures, options, message):
    with pytest.raises(ValueError, match=message):
        tl.widgets.window_explorer(gestures, **options)


def test_window_explorer_refuses_data_that_is_not_windows(digits):
    with pytest.raises(ValueError, match=r"\(n, steps, channels\)"):
        tl.widgets.window_explorer(digits)
