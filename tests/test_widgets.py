"""Widget panels driven as a student would, without a browser: set .value, .click(), read back."""

import csv
import html
import os
import re

import numpy as np
import pytest

import tinylab as tl
from tinylab.widgets._train_panel import parse_hidden_units


def test_doctor_view_shows_every_check_and_refreshes(monkeypatch):
    panel = tl.widgets.doctor_view()
    table = panel.controls["table"]
    for check in tl.doctor.report()["checks"]:
        assert check["name"] in table.value
    fake = {"tinylab": "x", "platform": "p", "ok": False, "install_missing_toolchain": None,
            "serial_ports": [], "checks": [{"name": "simavr", "category": "toolchain", "ok": False,
                                            "version": None, "detail": "d", "required": True,
                                            "fix": "sudo apt-get install -y simavr"}]}
    monkeypatch.setattr(tl.doctor, "report", lambda: fake)
    panel.controls["again"].click()
    assert "sudo apt-get install -y simavr" in table.value
    assert "missing" in table.value


def test_sample_browser_filters_by_class_and_part(digits):
    panel = tl.widgets.sample_browser(digits)
    c = panel.controls
    c["label"].value = 7
    assert c["index"].max == np.sum(digits.y_train == 7) - 1
    c["index"].value = 3
    assert "class <b>7</b>" in c["info"].value
    c["part"].value = "test"
    assert c["index"].max == np.sum(digits.y_test == 7) - 1
    assert c["info"].value.startswith("<b>test[")
    c["label"].value = -1
    assert c["index"].max == len(digits.y_test) - 1


def test_sample_browser_shows_the_chosen_example(digits):
    panel = tl.widgets.sample_browser(digits)
    c = panel.controls
    c["label"].value = 3
    c["index"].value = 2
    expected = int(np.flatnonzero(digits.y_train == 3)[2])
    assert f"train[{expected}]" in c["info"].value


@pytest.mark.parametrize("text, units", [("300, 100", (300, 100)), ("32", (32,)),
                                         (" 8 ;4 ", (8, 4))])
def test_parse_hidden_units(text, units):
    assert parse_hidden_units(text) == units


@pytest.mark.parametrize("text", ["", "12x", "0", "5000", "3.5"])
def test_parse_hidden_units_rejects_with_an_example(text):
    with pytest.raises(ValueError, match="e.g."):
        parse_hidden_units(text)


def test_train_panel_runs_saves_and_reports(digits):
    panel = tl.widgets.train_panel(digits, save_as="panel_model")
    c = panel.controls
    c["architecture"].value = "custom MLP"
    assert not c["hidden"].disabled
    c["hidden"].value = "12"
    c["epochs"].value = 2
    c["run"].click()
    assert panel.result is not None, c["status"].value
    model = panel.result["model"]
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [12, 10]
    assert len(panel.result["history"]["loss"]) == 2
    # it reports the validation split (choices are made there), never the test split
    assert panel.result["val_accuracy"] == pytest.approx(
        tl.train.accuracy(model, digits.X_val, digits.y_val))
    assert f"validation accuracy <b>{panel.result['val_accuracy']:.1%}</b>" in c["status"].value
    assert "test" not in c["status"].value
    assert tl.workspace.has_model("panel_model")
    card = tl.workspace.load_card("panel_model")
    assert card["epochs"] == 2 and card["val_accuracy"] == pytest.approx(panel.result["val_accuracy"])
    assert not c["run"].disabled


def test_train_panel_reports_bad_input_in_plain_words(digits):
    panel = tl.widgets.train_panel(digits)
    c = panel.controls
    c["architecture"].value = "custom MLP"
    c["hidden"].value = "a lot"
    c["run"].click()
    assert "ValueError" in c["status"].value and "e.g." in c["status"].value
    assert panel.result is None
    assert not c["run"].disabled  # the student can fix it and run again
    c["architecture"].value = "tiny"
    c["name"].value = "../escape"
    c["epochs"].value = 1
    c["run"].click()
    assert "file name" in c["status"].value


def test_choosing_an_architecture_sets_its_epochs(digits):
    panel = tl.widgets.train_panel(digits)
    c = panel.controls
    c["architecture"].value = "tiny"
    assert c["epochs"].value == tl.models.ARCHITECTURES["tiny"]["epochs"]
    assert c["hidden"].disabled


def test_size_table_totals_match_the_model():
    from tinylab.widgets._train_panel import size_table_html

    model = tl.models.build("student")
    table = size_table_html(model)
    assert f"<b>{tl.models.count_params(model):,}</b>" in table
    assert f"{4 * tl.models.count_params(model):,}" in table


@pytest.fixture(scope="module")
def pruned_mlp(digits):
    """A small trained MLP with half of each kernel pruned, as lesson 06 gets from lesson 04."""
    model = tl.models.mlp(digits.input_shape, digits.n_classes, hidden_units=(32, 16), seed=0)
    tl.train.fit(model, digits, epochs=4, learning_rate=3e-3, progress=False)
    tl.prune.prune_model(model, sparsity=0.5)
    return model


def test_quantize_explorer_looks_up_accuracies_and_draws_the_levels(digits, pruned_mlp):
    model = pruned_mlp
    before = [w.copy() for w in model.get_weights()]
    panel = tl.widgets.quantize_explorer(model, digits, min_bits=2, max_bits=4)
    c = panel.controls
    assert set(panel.accuracies) == {"asymmetric", "symmetric", "k-means"}
    assert all(sorted(table) == [2, 3, 4] for table in panel.accuracies.values())
    assert panel.float_accuracy == pytest.approx(  # the validation split by default
        tl.train.accuracy(model, digits.X_val, digits.y_val))
    assert panel.result["bits"] == 3 and "<b>3 bits</b>" in c["status"].value
    assert "val accuracy" in c["status"].value

    c["bits"].value = 2
    grid = panel.result["levels"]
    assert len(grid) == 4 and 0.0 in grid  # 2**2 levels, 0.0 among them: pruned zeros stay put
    assert np.allclose(np.diff(grid), grid[1] - grid[0])
    assert panel.result["max_abs_error"] <= (grid[1] - grid[0]) / 2 + 1e-9
    assert f"{panel.accuracies['asymmetric'][2]:.1%}</b>" in c["status"].value

    c["scheme"].value = "symmetric"
    grid = panel.result["levels"]
    assert len(grid) == 3 and np.allclose(grid, -grid[::-1])  # -s, 0, s
    assert f"{panel.accuracies['symmetric'][2]:.1%}</b>" in c["status"].value

    c["scheme"].value = "k-means"
    c["layer"].value = "dense_2"
    sharing = tl.quantize.WeightSharing(2).fit(model)
    np.testing.assert_allclose(panel.result["levels"], sharing.codebooks_["dense_2"], rtol=1e-6)
    curve, histogram = panel.shown
    assert "dense_2, k-means (shared), 2 bits" in histogram.axes[0].get_title()
    assert "4 levels" in histogram.axes[0].get_title()
    assert len(curve.axes[0].lines) >= 3 and "Error" not in c["status"].value

    for a, b in zip(before, model.get_weights()):  # the panel never changes the model
        np.testing.assert_array_equal(a, b)

    # a looked-up accuracy is the one of the quantized model, computed afresh
    tl.quantize.fake_quantize_weights(model, 3, symmetric=False, per_channel=False)
    assert panel.accuracies["asymmetric"][3] == pytest.approx(
        tl.train.accuracy(model, digits.X_val, digits.y_val))
    model.set_weights(before)


def test_quantize_explorer_offers_only_the_schemes_asked_for(digits, pruned_mlp):
    # lesson 05 shows the affine schemes only; k-means sharing waits for lesson 06
    panel = tl.widgets.quantize_explorer(pruned_mlp, digits, min_bits=2, max_bits=3,
                                         schemes=("asymmetric", "symmetric"))
    assert set(panel.accuracies) == {"asymmetric", "symmetric"}
    assert [key for _, key in panel.controls["scheme"].options] == ["asymmetric", "symmetric"]
    curve, _ = panel.shown
    assert len(curve.axes[0].get_legend().get_texts()) == 3  # two schemes and float32
    test_panel = tl.widgets.quantize_explorer(pruned_mlp, digits, min_bits=2, max_bits=3,
                                              schemes="k-means", part="test")
    assert test_panel.float_accuracy == pytest.approx(
        tl.train.accuracy(pruned_mlp, digits.X_test, digits.y_test))
    assert "test accuracy" in test_panel.controls["status"].value


@pytest.mark.parametrize("options, message", [
    (dict(max_bits=9), "max_bits"), (dict(min_bits=1), "min_bits"),
    (dict(min_bits=4, max_bits=4), "below"), (dict(part="all"), "part"),
    (dict(schemes=("asymmetric", "uniform")), "schemes"), (dict(schemes=()), "schemes"),
])
def test_quantize_explorer_rejects_bad_settings(digits, pruned_mlp, options, message):
    with pytest.raises(ValueError, match=message):
        tl.widgets.quantize_explorer(pruned_mlp, digits, **options)


# --------------------------------------------------------------------------- lesson 07: Huffman

@pytest.fixture
def pruned_student():
    model = tl.models.build("student", seed=0)   # 64-32-10, untrained: weights are weights
    masks = tl.prune.prune_model(model, sparsity=0.8)
    return model, masks


def test_huffman_explorer_follows_layer_stream_and_bits(pruned_student):
    model, masks = pruned_student
    before = [w.copy() for w in model.get_weights()]
    panel = tl.widgets.huffman_explorer(model, masks, bits_options=(2, 3, 5))
    c = panel.controls
    layers = list(c["layer"].options)
    assert layers == list(masks) and c["bits"].value == 5
    assert f"<b>{layers[0]}</b>, codebook indices (5-bit codebook)" in c["status"].value
    c["layer"].value = layers[1]
    c["stream"].value = "index gaps"
    c["bits"].value = 2
    status = c["status"].value
    assert f"<b>{layers[1]}</b>, index gaps (2-bit codebook)" in status
    row = [r for r in panel.table
           if (r["bits"], r["layer"], r["stream"]) == (2, layers[1], "index gaps")][0]
    assert f"Huffman <b>{row['bits_per_symbol']:.2f}</b>" in status
    assert row["fixed_bits"] == 5 and row["bytes_fixed"] == -(-row["symbols"] * 5 // 8)
    assert layers[1] in panel.shown[0].axes[0].get_title()
    for model_weights, saved in zip(model.get_weights(), before):  # the model is not touched
        np.testing.assert_array_equal(model_weights, saved)


def test_huffman_explorer_starts_at_the_width_asked_for(pruned_student):
    model, masks = pruned_student
    panel = tl.widgets.huffman_explorer(model, masks, bits_options=(2, 4, 5), bits=4)
    assert panel.controls["bits"].value == 4
    assert "(4-bit codebook)" in panel.controls["status"].value
    # a width the slider does not offer falls back to its first option
    assert tl.widgets.huffman_explorer(model, masks, bits_options=(2, 3), bits=4).controls["bits"].value == 2


def test_huffman_explorer_numbers_obey_the_entropy_bounds(pruned_student):
    model, masks = pruned_student
    panel = tl.widgets.huffman_explorer(model, masks, bits_options=(2, 4))
    assert {r["bits"] for r in panel.table} == {2, 4}
    for row in panel.table:
        entropy, average = row["entropy_bits_per_symbol"], row["bits_per_symbol"]
        assert entropy - 1e-9 <= average < entropy + 1
        if row["stream"] == "codebook indices":
            # 2**bits - 1 clusters and the spare index for fillers: never more symbols
            assert row["distinct"] <= 2 ** row["bits"] and row["fixed_bits"] == row["bits"]
    kept = sum(int(m.sum()) for m in masks.values())
    indices = [r for r in panel.table if r["bits"] == 2 and r["stream"] == "codebook indices"]
    assert sum(r["symbols"] for r in indices) >= kept  # every kept weight, and the fillers


def test_huffman_explorer_refuses_bad_options(pruned_student):
    model, masks = pruned_student
    with pytest.raises(ValueError, match="bits_options"):
        tl.widgets.huffman_explorer(model, masks, bits_options=(0, 3))
    with pytest.raises(ValueError, match="index_bits"):
        tl.widgets.huffman_explorer(model, masks, index_bits=0)


# --------------------------------------------------------------------------- lesson 08: deploy

def _digits_mlp(seed=0):
    """A 64 -> 10 int8 model with random weights: enough for a panel that only browses."""
    weights = np.random.default_rng(seed).integers(-60, 60, size=(10, 64))
    layer = tl.engine.FullyConnected.from_scales(
        weights, np.zeros(10, dtype=np.int32), input_scale=1 / 255, input_zero_point=-128,
        weight_scales=[0.01], output_scale=0.1, output_zero_point=0)
    return tl.engine.IntegerModel(ops=(layer,), input_shape=(8, 8, 1), output_shape=(10,),
                                  input_scale=1 / 255, input_zero_point=-128, output_scale=0.1,
                                  output_zero_point=0, model_hash=f"{seed:08x}")


def _board_run(mlp, X, *, spoil=None):
    """What Device.infer_many would return from a board computing exactly as the host does."""
    scores = tl.engine.run_int8(mlp, tl.engine.quantize_inputs(mlp, X))
    if spoil is not None:
        scores[spoil, 0] = scores[spoil, 0] ^ 1          # one byte off, as a broken board would
    n = len(X)
    return tl.device.InferenceRun(labels=np.argmax(scores, axis=1), scores=scores,
                                  latency_us=np.arange(n) * 4 + 1000,
                                  cycles=np.arange(n) * 64 + 16000, banner={})


def test_board_explorer_shows_the_board_next_to_the_host(digits):
    X, y = digits.X_test[:6], digits.y_test[:6]
    exact, spoiled = _digits_mlp(0), _digits_mlp(1)
    deployed = {"a · int8": {"mlp": exact, "run": _board_run(exact, X)},
                "b · huffman": {"mlp": spoiled, "run": _board_run(spoiled, X, spoil=2)}}
    panel = tl.widgets.board_explorer(deployed, X, y, class_names=digits.class_names)
    c = panel.controls
    assert list(c["build"].options) == ["a · int8", "b · huffman"] and c["digit"].max == 5
    assert "all scores bit-identical" in c["status"].value
    assert "6/6 bit-identical" in c["status"].value
    assert "1,000 &micro;s (16,000 cycles)" in c["status"].value
    c["build"].value = "b · huffman"
    c["digit"].value = 2
    status = c["status"].value
    assert "<b>b · huffman</b>, test digit 2" in status and "1 of 10 scores differ" in status
    assert "5/6 bit-identical" in status and "1,008 &micro;s" in status
    np.testing.assert_array_equal(panel.results["b · huffman"]["bit_exact"],
                                  [True, True, False, True, True, True])
    assert "1 score differs" in panel.shown.axes[1].get_title()
    c["digit"].value = 3
    assert "bit-identical" in panel.shown.axes[1].get_title()


def test_board_explorer_adds_the_build_size_and_refuses_mismatched_runs(digits):
    X, y = digits.X_test[:4], digits.y_test[:4]
    mlp = _digits_mlp(0)
    build = type("Build", (), {"flash_bytes": 6064, "ram_bytes": 300})()
    entry = {"mlp": mlp, "run": _board_run(mlp, X), "build": build}
    panel = tl.widgets.board_explorer({"m": entry}, X, y)
    assert "flash 6,064 B, RAM 300 B" in panel.controls["status"].value
    with pytest.raises(ValueError, match="answered 4 examples"):
        tl.widgets.board_explorer({"m": {"mlp": mlp, "run": _board_run(mlp, X)}},
                                  digits.X_test[:5], digits.y_test[:5])
    with pytest.raises(ValueError, match="'mlp'"):
        tl.widgets.board_explorer({"m": {"run": _board_run(mlp, X)}}, X, y)
    with pytest.raises(ValueError, match="non-empty"):
        tl.widgets.board_explorer({}, X, y)


def _csv_labels(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "ax,ay,az,gx,gy,gz,label"
    return [line.rsplit(",", 1)[1] for line in lines[1:]]


def test_capture_panel_records_appends_and_stops_its_board(tmp_path, virtual_uno_tools):
    out = tmp_path / "mine.csv"
    panel = tl.widgets.capture_panel(out, seconds=1.0)
    c = panel.controls
    assert c["port"].options[0] == ("virtual Uno (simulated IMU)", "virtual")
    assert c["port"].value == "virtual" and panel.result is None and panel.counts == {}
    c["punch"].click()
    first = panel.result
    assert first is not None and first.label == "punch" and first.exit_status == 0, c["status"].value
    assert first.banner["simulated"] and first.rows_kept >= 20
    labels = _csv_labels(out)
    assert labels == ["punch"] * first.rows_kept
    assert panel.counts == {"punch": first.rows_kept}
    assert f"punch: <b>{first.rows_kept:,}</b>" in c["counts"].value
    assert f"recorded {first.rows_kept} rows labelled 'punch'" in html.unescape(c["status"].value)
    size = out.stat().st_size
    pid = panel.board.pid

    c["punch"].click()                                  # resumes into the same file, same board
    second = panel.result
    assert second.resumed and second.rows_in_file == first.rows_kept + second.rows_kept
    assert panel.board.pid == pid and out.stat().st_size > size
    assert _csv_labels(out) == ["punch"] * (first.rows_kept + second.rows_kept)
    assert panel.counts["punch"] == second.rows_in_file

    panel.close()
    assert panel.board is None
    with pytest.raises(ProcessLookupError):             # stopped and reaped, not a zombie
        os.kill(pid, 0)


def test_capture_panel_validates_its_options_and_reports_errors_in_words(tmp_path, virtual_uno_tools):
    with pytest.raises(ValueError, match="letters, digits"):
        tl.widgets.capture_panel(tmp_path / "x.csv", labels=("punch", "two words"))
    with pytest.raises(ValueError, match="different names"):
        tl.widgets.capture_panel(tmp_path / "x.csv", labels=("a", "a"))
    with pytest.raises(ValueError, match="seconds"):
        tl.widgets.capture_panel(tmp_path / "x.csv", seconds=0)
    panel = tl.widgets.capture_panel(tmp_path / "x.csv")
    with pytest.raises(Exception):                      # a visitor cannot type a path
        panel.controls["port"].value = "/etc/passwd"
    other = tmp_path / "other.csv"
    other.write_text("a,b,label\n1,2,x\n")              # other columns: nothing is written
    panel = tl.widgets.capture_panel(other, seconds=0.5)
    assert panel.counts == {"x": 1}
    panel.controls["wave"].click()
    assert "already holds other columns" in html.unescape(panel.controls["status"].value)
    assert other.read_text() == "a,b,label\n1,2,x\n" and panel.result is None
    assert not any(button.disabled for button in
                   (panel.controls[label] for label in ("idle", "punch", "flex", "wave")))
    panel.close()


# --- drawing pad (lesson 01) -----------------------------------------------------------------

def _vertical_bar(x=128):
    return [(x, y) for y in range(8, 249, 8)]


def test_drawing_pad_bar_gives_the_expected_columns(tmp_path):
    panel = tl.widgets.drawing_pad(tmp_path / "mine.csv")
    assert panel.strokes == [] and not panel.digit().any()
    panel.draw_stroke(_vertical_bar())
    assert len(panel.strokes) == 1 and len(panel.strokes[0]) == 31
    counts = panel.digit()
    assert counts.shape == (8, 8)
    # scaled to fill the height, centred, thick: a 1 as the UCI writers' 1s are
    assert counts.any(axis=1).all() and set(np.nonzero(counts.any(axis=0))[0]) == {2, 3, 4, 5}
    assert counts[:, 3].min() >= 14 and counts.max() <= 16
    np.testing.assert_array_equal(counts, counts[:, ::-1])          # symmetric
    np.testing.assert_array_equal(panel.preview_counts, counts)   # the preview followed


def test_counts_html_writes_every_count_on_its_gray():
    from tinylab.widgets._drawing_pad import counts_html

    counts = np.arange(64).reshape(8, 8) % 17
    grid = counts_html(counts, title="a <b>")
    cells = re.findall(r"background:rgb\((\d+),\1,\1\);color:(#\w+)[^>]*>(\d+)</td>", grid)
    assert [int(text) for _, _, text in cells] == list(counts.ravel())
    for (gray, ink, _), value in zip(cells, counts.ravel()):
        assert int(gray) == round(255 * (1 - value / 16))      # 0 white ... 16 black
        assert ink == ("#fff" if value > 8 else "#000")       # legible on its gray
    assert "a &lt;b&gt;" in grid and "<b>" not in grid


def test_drawing_pad_takes_whole_strokes_from_the_browser(tmp_path):
    """The browser draws and sends the drawing when the pen lifts: a state update of the
    canvas's ``strokes`` (JSON lists), as ipywidgets delivers it to the kernel."""
    panel = tl.widgets.drawing_pad(tmp_path / "mine.csv")
    canvas = panel.controls["canvas"]
    canvas.set_state({"strokes": [[[40, 40], [40.5, 200]]]})
    assert panel.strokes == [[(40.0, 40.0), (40.5, 200.0)]]
    assert panel.preview_counts.any()                  # the preview followed
    centred = tl.widgets.drawing_pad()
    centred.draw_stroke(_vertical_bar())
    far = tl.widgets.drawing_pad()
    far.draw_stroke([(x - 80, y) for x, y in _vertical_bar()])
    np.testing.assert_array_equal(far.digit(), centred.digit())  # where it was drawn: no matter


@pytest.mark.parametrize("strokes, words", [
    ("a digit", "not a list"),
    ([[[1, 2]]] * 201, "list of at most 200 strokes"),
    ([[[1, 2]] * 20_001], "more than 20,000 points"),
    ([[[1, 2, 3]]], "two finite numbers"),
    ([[["1", 2]]], "two finite numbers"),
    ([[[float("nan"), 2]]], "two finite numbers"),
    ([[[True, 2]]], "two finite numbers"),
    ([{"x": 1}], "stroke 1 is not a list"),
])
def test_drawing_pad_refuses_a_drawing_no_pen_makes(strokes, words):
    """A Voila visitor can send any widget state: the kernel keeps only a real drawing."""
    panel = tl.widgets.drawing_pad()
    panel.draw_stroke([(10, 10), (20, 20)])
    with pytest.raises(ValueError, match=words):
        panel.controls["canvas"].strokes = strokes
    assert panel.strokes == [[(10.0, 10.0), (20.0, 20.0)]]      # the drawing is kept


def test_the_pad_front_end_is_a_plain_es_module():
    """anywidget loads it as it is: one default export with render, no imports to resolve."""
    from tinylab.widgets._drawing_pad import Pad

    source = Pad._esm.contents if hasattr(Pad._esm, "contents") else str(Pad._esm)
    assert "export default { render }" in source and not re.search(r"^\s*import ", source, re.M)
    pad = Pad()
    state = pad.get_state()
    assert state["_esm"] == source and state["strokes"] == [] and state["size"] == 256


def test_drawing_pad_saves_rows_with_labels_and_resumes(tmp_path):
    out = tmp_path / "mine.csv"
    panel = tl.widgets.drawing_pad(out)
    c = panel.controls
    c["save"].click()                             # nothing drawn: an error, no file
    assert "empty" in c["status"].value and not out.exists()
    panel.draw_stroke(_vertical_bar())
    expected = panel.digit()
    c["label"].value = 1
    c["save"].click()
    assert "saved a 1" in c["status"].value and "1 digits" in c["status"].value
    assert panel.strokes == [] and not panel.digit().any()   # saving clears the pad
    rows = list(csv.reader(out.open()))
    assert rows[0] == [f"p{i}" for i in range(64)] + ["label"]
    assert rows[1] == [str(v) for v in expected.ravel()] + ["1"]
    again = tl.widgets.drawing_pad(out)           # a fresh panel appends to the same file
    again.draw_stroke([(20, 128), (236, 128)])
    again.controls["label"].value = 7
    again.controls["save"].click()
    rows = list(csv.reader(out.open()))
    assert len(rows) == 3 and rows[2][-1] == "7"
    assert "2 digits" in again.controls["status"].value


def test_drawing_pad_refuses_a_foreign_csv_and_needs_a_file_to_save(tmp_path):
    foreign = tmp_path / "other.csv"
    foreign.write_text("ax,ay,label\n1,2,idle\n")
    panel = tl.widgets.drawing_pad(foreign)
    panel.draw_stroke(_vertical_bar())
    panel.controls["save"].click()
    assert "not a drawing-pad CSV" in panel.controls["status"].value
    assert foreign.read_text() == "ax,ay,label\n1,2,idle\n"
    assert tl.widgets.drawing_pad().controls["save"].disabled
    with pytest.raises(ValueError, match="both model and data"):
        tl.widgets.drawing_pad(model=object())


def test_drawing_pad_clear_empties(tmp_path):
    panel = tl.widgets.drawing_pad(tmp_path / "mine.csv")
    panel.draw_stroke(_vertical_bar())
    panel.draw_stroke([(20, 20)])
    assert len(panel.strokes) == 2
    panel.controls["clear"].click()
    assert panel.strokes == [] and not panel.digit().any() and not panel.preview_counts.any()


def test_drawing_pad_predicts_with_a_trained_model(digits):
    model = tl.models.mlp(digits.input_shape, digits.n_classes, hidden_units=(16,), seed=0)
    tl.train.fit(model, digits, epochs=2, learning_rate=3e-3, progress=False)
    panel = tl.widgets.drawing_pad(model=model, data=digits)
    c = panel.controls
    assert not c["predict"].disabled and c["save"].disabled
    c["predict"].click()
    assert "empty" in c["status"].value
    panel.draw_stroke(_vertical_bar())
    c["predict"].click()
    assert panel.prediction in range(10)
    assert f"the model says <b>{panel.prediction}</b>" in c["status"].value
    x = digits.normalize(panel.digit()).reshape((1,) + digits.input_shape)
    assert panel.prediction == int(tl.train.predict_classes(model, x)[0])


def test_a_panel_stays_a_function_when_its_module_is_imported():
    # The modules are named _<panel>, so Python's binding of an imported submodule to the
    # package never hides the function of the panel's name (no module-class swap needed).
    import importlib
    import types

    for name in tl.widgets.PANELS:
        importlib.import_module(f"tinylab.widgets._{name}")
        panel = getattr(tl.widgets, name)
        assert callable(panel) and not isinstance(panel, types.ModuleType), name


def test_conv_explorer_shows_a_filter_its_map_and_its_cost(digits):
    model = tl.models.build("cnn_student", digits.input_shape, digits.n_classes, seed=0)
    first, second = (row for row in tl.models.mac_table(model) if row["kind"] == "Conv2D")
    panel = tl.widgets.conv_explorer(model, digits, index=3, filter_index=1)
    c = panel.controls
    assert list(c["layer"].options) == ["conv_1", "conv_2"]
    assert c["filter"].max == first["output_shape"][-1] - 1 and c["filter"].value == 1
    state = panel.state
    assert (state["index"], state["layer"], state["filter"]) == (3, "conv_1", 1)
    # one 3x3 filter on one channel: 10 parameters, used at each of the 8x8 positions
    assert state["filter_params"] == 10 and state["filter_macs"] == 8 * 8 * 9
    assert state["layer_macs"] == first["macs"] and state["layer_params"] == first["params"]
    expected = tl.models.feature_maps(model, "conv_1", digits.X_test[3:4])[0, ..., 1]
    np.testing.assert_allclose(state["feature_map"], expected, rtol=1e-5, atol=1e-6)
    assert f"{first['macs']:,}</b> MACs" in c["info"].value and "It sees the digit" in c["info"].value
    c["layer"].value = "conv_2"
    assert c["filter"].max == second["output_shape"][-1] - 1
    channels = first["output_shape"][-1]
    assert panel.state["layer"] == "conv_2" and panel.state["filter_params"] == 9 * channels + 1
    assert panel.state["feature_map"].shape == second["output_shape"][:2]
    assert f"the {channels} maps of the layer before" in c["info"].value
    assert panel.shown.axes[1].get_title() == f"filter 3x3, {channels} input channels"
    c["filter"].value = c["filter"].max
    assert panel.state["filter"] == second["output_shape"][-1] - 1


def test_conv_explorer_refuses_models_without_convolutions_and_unknown_layers(digits):
    cnn = tl.models.build("cnn_student", digits.input_shape, digits.n_classes, seed=0)
    with pytest.raises(ValueError, match="no Conv2D layer"):
        tl.widgets.conv_explorer(tl.models.build("tiny"), digits)
    with pytest.raises(ValueError, match="conv_1"):
        tl.widgets.conv_explorer(cnn, digits, layer="logits")
    with pytest.raises(ValueError, match="part"):
        tl.widgets.conv_explorer(cnn, digits, part="holdout")
