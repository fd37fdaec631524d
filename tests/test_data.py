"""Tests for tinylab.data: the digits loader, stratified splits, recorded datasets, MNIST offline."""

import csv
import json
import threading

import numpy as np
import pytest
from sklearn.datasets import load_digits

import tinylab.data as data_module
from tinylab.data import DatasetUnavailableError, load, load_recorded, split_stratified

N_DIGITS = 1797


def _parts(dataset):
    return {"train": (dataset.X_train, dataset.y_train), "val": (dataset.X_val, dataset.y_val),
            "test": (dataset.X_test, dataset.y_test)}


# --------------------------------------------------------------------------- digits


def test_digits_shapes_dtype_range_and_classes(digits):
    for part, (X, y) in _parts(digits).items():
        assert X.shape[1:] == (8, 8, 1), part
        assert X.dtype == np.float32, part
        assert y.dtype == np.int64, part
        assert len(X) == len(y), part
        assert X.min() >= 0.0 and X.max() <= 1.0, part
    assert digits.input_shape == (8, 8, 1)
    assert digits.input_size == 64
    assert digits.n_classes == 10
    assert digits.class_names == tuple(str(d) for d in range(10))
    assert set(np.concatenate([digits.y_train, digits.y_val, digits.y_test])) == set(range(10))
    # Raw pixels reach both ends of 0..16, so normalized values reach both ends of [0, 1].
    assert digits.X_train.min() == 0.0 and digits.X_train.max() == 1.0


def test_digits_split_sizes_add_up_and_follow_the_fractions(digits):
    sizes = digits.split_sizes()
    assert sum(sizes.values()) == N_DIGITS == digits.n_examples
    for part, fraction in zip(("train", "val", "test"), data_module.DEFAULT_SPLIT):
        assert abs(sizes[part] - fraction * N_DIGITS) <= 1, (part, sizes)


def test_digits_arrays_are_the_split_indices_of_the_sklearn_images(digits):
    bunch = load_digits()
    train, val, test = split_stratified(bunch.target, seed=0)
    np.testing.assert_array_equal(digits.X_train[..., 0], bunch.images[train] / 16.0)
    np.testing.assert_array_equal(digits.X_test[..., 0], bunch.images[test] / 16.0)
    np.testing.assert_array_equal(digits.y_val, bunch.target[val])


def test_digits_arrays_are_sklearns_load_digits_read_without_sklearn():
    images, target = data_module.digits_arrays()
    bunch = load_digits()
    np.testing.assert_array_equal(images, bunch.images)
    np.testing.assert_array_equal(target, bunch.target)


def _sklearn_split(y, split, seed):
    """What split_stratified did when it called scikit-learn (before it stopped importing it)."""
    from sklearn.model_selection import train_test_split

    y, indices = np.asarray(y), np.arange(len(y))
    train, rest = train_test_split(indices, train_size=split[0], stratify=y, random_state=seed)
    val, test = train_test_split(rest, train_size=split[1] / (split[1] + split[2]),
                                 stratify=y[rest], random_state=seed)
    return np.sort(train), np.sort(val), np.sort(test)


@pytest.mark.parametrize("labels", ["digits", "balanced", "uneven", "random"])
@pytest.mark.parametrize("split", [(0.7, 0.15, 0.15), (0.6, 0.2, 0.2), (0.5, 0.3, 0.2)])
def test_split_stratified_draws_what_sklearns_train_test_split_draws(labels, split):
    """Every split TinyLab made with scikit-learn stays the same in numpy: the tie-breaking
    draws and the order of the rest (which the second cut depends on) included."""
    y = {"digits": load_digits().target, "balanced": np.repeat(np.arange(4), 20),
         "uneven": np.array([0] * 12 + [1] * 50 + [2] * 9),
         "random": np.random.default_rng(1).integers(0, 7, 333)}[labels]
    for seed in range(5):
        ours = split_stratified(y, split, seed)
        for part, (mine, theirs) in enumerate(zip(ours, _sklearn_split(y, split, seed))):
            np.testing.assert_array_equal(mine, theirs, err_msg=f"seed {seed}, part {part}")


def test_loading_the_digits_does_not_import_sklearn():
    import subprocess
    import sys

    code = ("import sys, tinylab as tl; d = tl.data.load('digits', seed=0); "
            "print(d.X_test.shape, [m for m in sys.modules if m.split('.')[0] == 'sklearn'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "(270, 8, 8, 1) []"


def test_split_stratified_partitions_the_indices():
    y = load_digits().target
    train, val, test = split_stratified(y, seed=0)
    assert not set(train) & set(val)
    assert not set(train) & set(test)
    assert not set(val) & set(test)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val, test])), np.arange(len(y)))


def test_split_is_stratified(digits):
    y_all = np.concatenate([digits.y_train, digits.y_val, digits.y_test])
    overall = np.bincount(y_all, minlength=10) / len(y_all)
    for part, (_, y) in _parts(digits).items():
        share = np.bincount(y, minlength=10) / len(y)
        # Rounding one example per class in the smallest part (270) moves a share by < 0.004.
        np.testing.assert_allclose(share, overall, atol=0.01, err_msg=part)


def test_split_stratified_golden_small_case():
    # 3 classes of 20: a 0.5/0.25/0.25 split must give 10/5/5 of every class.
    y = np.repeat([0, 1, 2], 20)
    train, val, test = split_stratified(y, split=(0.5, 0.25, 0.25), seed=3)
    for idx, per_class in ((train, 10), (val, 5), (test, 5)):
        np.testing.assert_array_equal(np.bincount(y[idx], minlength=3), [per_class] * 3)


def test_same_seed_same_split_different_seed_different_split(digits):
    again = load("digits", seed=0)
    other = load("digits", seed=1)
    np.testing.assert_array_equal(again.X_train, digits.X_train)
    np.testing.assert_array_equal(again.y_test, digits.y_test)
    y = load_digits().target
    assert not np.array_equal(split_stratified(y, seed=0)[0], split_stratified(y, seed=1)[0])
    assert not np.array_equal(other.X_train, digits.X_train)
    assert other.seed == 1


def test_split_stratified_rejects_classes_too_small_to_appear_everywhere():
    y = np.array([0, 0, 0, 0, 1, 1])  # class 1 has only 2 examples
    with pytest.raises(ValueError, match="at least 3"):
        split_stratified(y)


def test_normalize_golden_and_raw_round_trip(digits):
    np.testing.assert_allclose(digits.normalize([0, 4, 8, 16]), [0.0, 0.25, 0.5, 1.0])
    raw = digits.raw(digits.X_train)
    # The digits' raw values are whole pixel counts 0..16.
    np.testing.assert_allclose(raw, np.round(raw), atol=1e-5)
    assert raw.min() == 0 and raw.max() == 16
    np.testing.assert_allclose(digits.normalize(raw), digits.X_train, atol=1e-7)
    assert digits.normalize(raw).dtype == np.float32


def test_available_lists_builtin_loaders():
    names = data_module.available()
    assert "digits" in names and "mnist" in names


# --------------------------------------------------------------------------- bad input


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="digits") as caught:
        load("no-such-dataset")
    assert "no-such-dataset" in str(caught.value)


def test_non_string_name_is_a_type_error():
    with pytest.raises(TypeError, match="string"):
        load(3)


@pytest.mark.parametrize("split, words", [
    ((0.5, 0.3, 0.3), "add up to 1"),
    ((0.6, 0.3, 0.2), "add up to 1"),
    ((1.2, -0.1, -0.1), "between 0 and 1"),
    ((0.0, 0.5, 0.5), "between 0 and 1"),
    ((0.5, 0.5), "three fractions"),
    ((0.4, 0.2, 0.2, 0.2), "three fractions"),
    (0.7, "three fractions"),
])
def test_bad_split_fractions_are_value_errors(split, words):
    with pytest.raises(ValueError, match=words):
        load("digits", split=split)


def test_split_stratified_checks_fractions_too():
    with pytest.raises(ValueError, match="add up to 1"):
        split_stratified(np.repeat([0, 1], 10), split=(0.3, 0.3, 0.3))


# --------------------------------------------------------------------------- mnist offline


def _run_guarded(function, guard_s=60.0):
    """Run ``function`` in a thread; return the exception it raised. Fails if it hangs.

    The guard only catches a hang (a download that never gives up); it is far above any
    sensible run time and is not a speed assertion.
    """
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(guard_s)
    assert not thread.is_alive(), "loading MNIST hung instead of failing"
    return outcome.get("error"), outcome.get("value")


@pytest.fixture
def no_mnist_cache(tmp_path, monkeypatch):
    """An empty Keras cache, and Keras's own download pointed at a host that cannot resolve.

    Keras hard-codes the storage.googleapis.com URL; rewriting it guarantees no test ever
    downloads 11 MB, on this offline machine or on a networked one.
    """
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    import keras.src.datasets.mnist as keras_mnist

    real_get_file = keras_mnist.get_file

    def get_file_from_nowhere(*args, origin=None, **kwargs):
        origin = "https://tinylab.invalid/" + str(origin).rsplit("/", 1)[-1]
        return real_get_file(*args, origin=origin, cache_dir=str(tmp_path / "keras"), **kwargs)

    monkeypatch.setattr(keras_mnist, "get_file", get_file_from_nowhere)
    return tmp_path / "keras"


def test_mnist_offline_raises_unavailable_naming_digits(no_mnist_cache, monkeypatch):
    monkeypatch.setattr(data_module, "MNIST_HOST", "tinylab.invalid")
    error, value = _run_guarded(lambda: load("mnist"))
    assert value is None
    assert isinstance(error, DatasetUnavailableError), repr(error)
    message = str(error)
    assert "digits" in message
    assert "tinylab.invalid" in message
    assert str(no_mnist_cache) in message  # says where it looked for the cache


def test_mnist_blackholed_host_with_short_timeout_still_raises(no_mnist_cache, monkeypatch):
    # 10.255.255.1 is unroutable on most networks (connect times out). Some sandboxes accept
    # any TCP connection instead: then the probe passes and the download itself fails. The
    # student must get DatasetUnavailableError pointing at 'digits' either way.
    monkeypatch.setattr(data_module, "MNIST_HOST", "10.255.255.1")
    error, _ = _run_guarded(lambda: data_module._load_mnist(timeout_s=0.5))
    assert isinstance(error, DatasetUnavailableError), repr(error)
    assert "digits" in str(error)


def test_mnist_download_failure_after_a_good_probe_is_unavailable(no_mnist_cache, monkeypatch):
    # A proxy or captive portal can accept the TCP probe while the HTTPS download fails.
    monkeypatch.setattr(data_module, "_can_reach", lambda *args, **kwargs: None)
    error, _ = _run_guarded(lambda: load("mnist"))
    assert isinstance(error, DatasetUnavailableError), repr(error)
    assert "digits" in str(error)


# --------------------------------------------------------------------------- recorded datasets

FEATURES = ["f0", "f1", "f2", "f3"]
CLASSES = ["up", "down"]
OFFSET, SCALE = 10.0, 0.5


def _meta(**changes):
    meta = {
        "name": "gestures",
        "label_column": "label",
        "feature_columns": FEATURES,
        "class_names": CLASSES,
        "input_shape": [2, 2, 1],
        "normalization": {"offset": OFFSET, "scale": SCALE, "raw_range": [10, 40],
                          "description": "(raw - 10) / 2"},
        "provenance": {"source": "written by the test"},
    }
    meta.update(changes)
    return meta


def _rows(n=20):
    # Row i holds raw values 10+i .. 13+i and is 'up' when i is even: every row is unique, so
    # a test can find it again after the shuffle of the split.
    return [{"f0": 10 + i, "f1": 11 + i, "f2": 12 + i, "f3": 13 + i,
             "label": CLASSES[i % 2]} for i in range(n)]


def _write(folder, meta=None, rows=None, header=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").write_text(json.dumps(_meta() if meta is None else meta))
    rows = _rows() if rows is None else rows
    header = header or ["label"] + FEATURES
    with (folder / "data.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_load_recorded_shapes_labels_and_normalization(tmp_path):
    dataset = load_recorded(_write(tmp_path / "gestures"), seed=0)
    assert dataset.name == "gestures"
    assert dataset.input_shape == (2, 2, 1)
    assert dataset.class_names == ("up", "down")
    assert dataset.n_examples == 20
    assert dataset.X_train.dtype == np.float32 and dataset.y_train.dtype == np.int64
    assert dataset.provenance == {"source": "written by the test"}
    X = np.concatenate([dataset.X_train, dataset.X_val, dataset.X_test])
    y = np.concatenate([dataset.y_train, dataset.y_val, dataset.y_test])
    assert X.shape == (20, 2, 2, 1)
    order = np.argsort(X[:, 0, 0, 0])
    X, y = X[order], y[order]
    for i in range(20):
        raw = np.array([10 + i, 11 + i, 12 + i, 13 + i], dtype=np.float32)
        # Row-major fill: f0, f1 on the first row of the 2x2 input, f2, f3 on the second.
        np.testing.assert_allclose(X[i, :, :, 0], ((raw - OFFSET) * SCALE).reshape(2, 2))
        assert y[i] == i % 2  # index into class_names: 'up' = 0, 'down' = 1
    np.testing.assert_allclose(dataset.raw(X)[:, 0, 0, 0], 10 + np.arange(20))


def test_recorded_dataset_in_datasets_dir_loads_by_name(tmp_path, monkeypatch):
    _write(tmp_path / "datasets" / "gestures")
    (tmp_path / "datasets" / "not-a-dataset").mkdir()  # no meta.json: ignored
    monkeypatch.setattr(data_module, "DATASETS_DIR", tmp_path / "datasets")
    assert "gestures" in data_module.available()
    assert "not-a-dataset" not in data_module.available()
    assert load("gestures").n_examples == 20


def test_recorded_missing_meta_keys(tmp_path):
    meta = _meta()
    del meta["provenance"], meta["label_column"]
    with pytest.raises(ValueError, match="provenance") as caught:
        load_recorded(_write(tmp_path / "g", meta=meta))
    assert "label_column" in str(caught.value)


def test_recorded_input_shape_must_match_feature_count(tmp_path):
    with pytest.raises(ValueError, match=r"input_shape \(3, 3\) holds 9 values .* names 4"):
        load_recorded(_write(tmp_path / "g", meta=_meta(input_shape=[3, 3])))


def test_recorded_csv_missing_a_named_column(tmp_path):
    with pytest.raises(ValueError, match="f3"):
        load_recorded(_write(tmp_path / "g", header=["label", "f0", "f1", "f2"]))


def test_recorded_unknown_label_gives_the_line_number(tmp_path):
    rows = _rows()
    rows[2]["label"] = "sideways"  # third data row: line 4 of the file (line 1 is the header)
    with pytest.raises(ValueError, match=r"line 4: label 'sideways'"):
        load_recorded(_write(tmp_path / "g", rows=rows))


def test_recorded_value_that_is_not_a_number(tmp_path):
    rows = _rows()
    rows[4]["f2"] = "abc"  # fifth data row: line 6
    with pytest.raises(ValueError, match=r"line 6: .*not a number"):
        load_recorded(_write(tmp_path / "g", rows=rows))


@pytest.mark.parametrize("missing", ["data.csv", "meta.json"])
def test_recorded_missing_file(tmp_path, missing):
    folder = _write(tmp_path / "g")
    (folder / missing).unlink()
    with pytest.raises(ValueError, match=missing.replace(".", r"\.")):
        load_recorded(folder)


def test_recorded_csv_without_rows_says_it_has_no_examples(tmp_path):
    with pytest.raises(ValueError, match=r"no (examples|rows)|empty"):
        load_recorded(_write(tmp_path / "g", rows=[]))


# --------------------------------------------------------------------------- your own digits

def test_downsample_to_digits_counts_on_pixels_per_4x4_block():
    bitmap = np.zeros((32, 32), dtype=bool)
    bitmap[0:4, 0:4] = True          # a full block -> 16
    bitmap[31, 31] = True            # one pixel -> 1
    bitmap[8:10, 12:16] = True       # half a block (2 rows x 4) -> 8
    counts = data_module.downsample_to_digits(bitmap)
    expected = np.zeros((8, 8), dtype=np.int64)
    expected[0, 0], expected[7, 7], expected[2, 3] = 16, 1, 8
    assert counts.shape == (8, 8) and counts.dtype == np.int64
    np.testing.assert_array_equal(counts, expected)


def test_downsample_to_digits_takes_0_1_ints_and_is_bounded():
    ones = np.ones((32, 32), dtype=np.uint8)
    np.testing.assert_array_equal(data_module.downsample_to_digits(ones), np.full((8, 8), 16))
    assert data_module.downsample_to_digits(np.zeros((32, 32), dtype=int)).sum() == 0


@pytest.mark.parametrize("shape", [(8, 8), (32, 31), (32, 32, 1), (64, 64)])
def test_downsample_to_digits_rejects_other_shapes(shape):
    with pytest.raises(ValueError, match=r"\(32, 32\)"):
        data_module.downsample_to_digits(np.zeros(shape))


def test_rasterize_strokes_single_points_and_scaling():
    # A canvas of 32 pixels maps 1:1; pen width 0 marks only the pixel under each point.
    bitmap = data_module.rasterize_strokes([[(0, 0)], [(31.9, 5)]], 32, pen_width=0)
    assert bitmap.shape == (32, 32) and bitmap.dtype == bool
    assert set(zip(*np.nonzero(bitmap))) == {(0, 0), (5, 31)}   # (row, col) = (y, x)
    # A 256 canvas: one bitmap pixel is 8 canvas pixels; outside points clip to the edge.
    bitmap = data_module.rasterize_strokes([[(20, 100)], [(300, -4)]], 256, pen_width=0)
    assert set(zip(*np.nonzero(bitmap))) == {(12, 2), (0, 31)}


def test_rasterize_strokes_draws_a_bar_of_the_pen_width():
    # A vertical line at x=128 on a 256 canvas with a 16-pixel pen covers bitmap columns 15, 16.
    bitmap = data_module.rasterize_strokes([[(128, 0), (128, 255)]], 256, pen_width=16)
    assert set(np.nonzero(bitmap.any(axis=0))[0]) == {15, 16}
    assert bitmap[:, 15].all() and bitmap[:, 16].all()
    counts = data_module.downsample_to_digits(bitmap)
    # Each of blocks 3 and 4 holds one on column: 4 rows x 1 column = 4 per block.
    np.testing.assert_array_equal(counts[:, 3], np.full(8, 4))
    np.testing.assert_array_equal(counts[:, 4], np.full(8, 4))
    assert counts.sum() == 2 * 32


def test_digit_from_strokes_fills_the_box_with_the_ucis_ink():
    # a short bar in a corner and a long one in the middle give the same digit: the height
    # filled, centred, about 30% ink (sklearn's digits average 305 counts of 1,024)
    small = data_module.digit_from_strokes([[(30, 20), (30, 70)]], 256)
    large = data_module.digit_from_strokes([[(128, 10), (128, 246)]], 256)
    np.testing.assert_array_equal(small, large)
    assert large.any(axis=1).all() and not large[:, [0, 7]].any()
    t = np.linspace(0, 2 * np.pi, 40)
    shapes = [[[(60, 40), (190, 40), (110, 220)]],                       # a 7
              [list(zip(128 + 60 * np.sin(t), 128 + 90 * np.cos(t)))],  # a 0
              [[(100, 100), (101, 101)]]]                                # a dot
    for strokes in shapes[:2] + [[[(128, 10), (128, 246)]]]:
        total = int(data_module.digit_from_strokes(strokes, 256).sum())
        assert 0.9 * 0.30 * 1024 <= total <= 1.2 * 0.30 * 1024, (strokes, total)
    dot = data_module.digit_from_strokes(shapes[2], 256)
    assert dot.any() and dot.max() <= 16
    assert not data_module.digit_from_strokes([], 256).any()
    assert not data_module.digit_from_strokes([[]], 256).any()
    with pytest.raises(ValueError, match="ink"):
        data_module.digit_from_strokes(shapes[0], 256, ink=1.5)
    with pytest.raises(ValueError, match="finite"):
        data_module.digit_from_strokes([[(1, float("nan"))]], 256)


def test_drawn_digits_are_read_as_such_by_the_lesson_student(digits):
    # the pen is calibrated: a plain 1, 0, 7 and 4 drawn with straight strokes are read
    # right by the student of lesson 02 (before calibration a thin 1 was read as 4)
    from tinylab import models, train

    model = models.build("student", digits.input_shape, digits.n_classes, seed=0)
    train.fit(model, digits, epochs=10, seed=0, progress=False)
    t = np.linspace(0, 2 * np.pi, 40)
    drawn = {1: [[(128, 30), (128, 226)]],
             0: [list(zip(128 + 60 * np.sin(t), 128 + 90 * np.cos(t)))],
             7: [[(60, 40), (190, 40), (110, 220)]],
             4: [[(150, 220), (150, 30), (50, 160), (200, 160)]]}
    counts = np.stack([data_module.digit_from_strokes(s, 256) for s in drawn.values()])
    x = digits.normalize(counts.astype(np.float32)).reshape((-1,) + digits.input_shape)
    assert train.predict_classes(model, x).tolist() == list(drawn)


def test_rasterize_strokes_empty_and_bad_input():
    assert not data_module.rasterize_strokes([], 256).any()
    assert not data_module.rasterize_strokes([[]], 256).any()
    with pytest.raises(ValueError, match="canvas_size"):
        data_module.rasterize_strokes([], 0)
    with pytest.raises(ValueError, match="pen_width"):
        data_module.rasterize_strokes([], 256, pen_width=-1)
    with pytest.raises(ValueError, match="stroke 0"):
        data_module.rasterize_strokes([[(1, 2, 3)]], 256)
    with pytest.raises(ValueError, match="stroke 1"):
        data_module.rasterize_strokes([[(1, 2)], [(np.nan, 2)]], 256)


def test_rasterize_strokes_measures_every_segment_as_the_one_at_a_time_loop_did():
    """The segments are measured all at once (a room's thirty strokes on one server): the
    bitmaps are those of the one-segment-at-a-time loop it replaced, except where a pixel
    centre lies within rounding of the pen's edge (elementwise numpy now, where the loop's
    dot product went through BLAS, whose rounding depends on the CPU)."""
    def one_at_a_time(strokes, pen_width, side=32, canvas=256.0):
        cell = canvas / side
        rows, cols = np.mgrid[0:side, 0:side]
        centers = np.stack([(cols.ravel() + 0.5) * cell, (rows.ravel() + 0.5) * cell], axis=1)
        bitmap = np.zeros(side * side, dtype=bool)
        for stroke in strokes:
            points = np.clip(np.asarray(stroke, dtype=float), 0.0, np.nextafter(canvas, 0.0))
            cells = np.floor(points / cell).astype(int)
            bitmap[cells[:, 1] * side + cells[:, 0]] = True
            for start, end in zip(points[:-1], points[1:]) if len(points) > 1 else [
                    (points[0], points[0])]:
                direction = end - start
                t = np.clip(((centers - start) * direction).sum(axis=1)
                            / max(float(direction @ direction), 1e-300), 0.0, 1.0)
                gap = centers - (start + t[:, None] * direction)
                bitmap |= np.sqrt((gap * gap).sum(axis=1)) <= pen_width / 2
        return bitmap.reshape(side, side)

    rng = np.random.default_rng(7)
    pixels_apart = 0
    for trial in range(300):
        strokes = [rng.uniform(-10, 266, (rng.integers(1, 30), 2)).tolist()
                   for _ in range(rng.integers(1, 4))]
        for pen in (0.0, 5.37, 16.0):
            mine = data_module.rasterize_strokes(strokes, 256, pen_width=pen)
            pixels_apart += int((mine != one_at_a_time(strokes, pen)).sum())
    assert pixels_apart <= 3, pixels_apart  # of 900 bitmaps of 1,024 pixels


def test_the_reach_of_segments_skips_only_pixels_out_of_reach():
    """_within_reach measures only the pixels near each chunk of segments: exactly the pixels
    of measuring every pixel against every segment with the same operations."""
    def every_pair(side, cell, starts, ends, radius):
        rows, cols = np.mgrid[0:side, 0:side]
        cx = ((cols.ravel() + 0.5) * cell)[:, None]
        cy = ((rows.ravel() + 0.5) * cell)[:, None]
        sx, sy = starts[:, 0], starts[:, 1]
        dx, dy = ends[:, 0] - sx, ends[:, 1] - sy
        length_sq = dx * dx + dy * dy
        px, py = cx - sx, cy - sy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(length_sq > 0, np.clip((px * dx + py * dy) / length_sq, 0.0, 1.0), 0.0)
        ox, oy = px - t * dx, py - t * dy
        return (np.sqrt(ox * ox + oy * oy) <= radius).any(axis=1)

    rng = np.random.default_rng(11)
    for trial in range(200):
        n = int(rng.integers(1, 70))
        if trial % 2:   # a hand's stroke: small steps, some repeated points
            points = np.cumsum(rng.normal(0, 0.6, (n + 1, 2)), axis=0) + 16
            points[rng.integers(0, n + 1)] = points[0]
        else:
            points = rng.uniform(-3, 35, (n + 1, 2))
        for radius in (0.0, 0.5, 1.73, 4.0, 12.0):
            np.testing.assert_array_equal(
                data_module._within_reach(32, 1.0, points[:-1], points[1:], radius),
                every_pair(32, 1.0, points[:-1], points[1:], radius))
