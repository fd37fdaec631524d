"""Tests for BasicMotions in tinylab.data (the UEA archive's real IMU recordings, inside
sktime), the .ts reader, cut_windows, recordings(), and the path from captured rows to
cross-validation that the same lesson code runs on."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import tinylab as tl
from tinylab import capture, crossval, data
from tinylab.data import DatasetUnavailableError

CHANNELS = ["ax", "ay", "az", "gx", "gy", "gz"]


@pytest.fixture(scope="module")
def motions():
    return data.basicmotions_recordings()


def test_recordings_are_80_of_100_by_6_in_raw_units(motions):
    X, y, class_names, provenance = motions
    assert X.shape == (80, 100, 6) and X.dtype == np.float32 and y.dtype == np.int64
    assert class_names == ("standing", "walking", "running", "badminton")
    assert np.bincount(y).tolist() == [20, 20, 20, 20]
    assert np.bincount(y[:40]).tolist() == [10] * 4       # the archive's TRAIN file first
    # the facts the provenance states: standing's acceleration averages near 0 (no gravity)
    standing = X[y == 0][..., :3]
    assert np.abs(standing.mean(axis=(0, 1))).max() < 0.5
    assert 25 < np.abs(X[..., :3]).max() < 32 and 30 < np.abs(X[..., 3:]).max() < 40


def test_provenance_is_honest_and_has_what_lesson_09_reads(motions):
    provenance = motions.provenance
    for key in ("channels", "units", "sample_rate_hz", "board", "sensor", "simulated", "date",
                "source", "citation", "licence", "how_made"):
        assert key in provenance, key
    assert provenance["channels"] == CHANNELS and provenance["sample_rate_hz"] == 10.0
    assert provenance["simulated"] is False and provenance["offline"] is True
    assert provenance["groups_known"] is False and "person" in provenance["groups_note"]
    assert provenance["units"] == {"ax": "m/s²?", "ay": "m/s²?", "az": "m/s²?",
                                   "gx": "rad/s?", "gy": "rad/s?", "gz": "rad/s?"}
    assert "states neither units nor axes" in provenance["units_note"]
    assert "arXiv:1811.00075" in provenance["citation"]
    assert "BSD-3-Clause" in provenance["licence"] and "not stated" in provenance["licence"]
    assert "model not stated" in provenance["board"] and provenance["window_rows"] == 100
    assert provenance["archive_class_labels"] == ["Standing", "Running", "Walking", "Badminton"]


def test_load_standardizes_each_channel_on_the_training_split(motions):
    dataset = tl.data.load("basicmotions", seed=0)
    assert "basicmotions" in tl.data.available()
    assert dataset.input_shape == (100, 6) and dataset.n_examples == 80
    assert dataset.split_sizes() == {"train": 56, "val": 12, "test": 12}
    assert dataset.class_names == data.BASICMOTIONS_CLASSES
    norm = dataset.normalization
    assert norm["per_channel"] and norm["channels"] == CHANNELS
    np.testing.assert_allclose(dataset.X_train.mean(axis=(0, 1)), 0, atol=1e-4)
    np.testing.assert_allclose(dataset.X_train.std(axis=(0, 1)), 1, atol=1e-4)
    mean, std = data.channel_statistics(dataset.raw(dataset.X_train))
    np.testing.assert_allclose(norm["mean"], mean, rtol=1e-4, atol=1e-4)
    # the arrays are the raw recordings, standardized: raw() gives them back
    raw = np.concatenate([dataset.raw(X) for X in (dataset.X_train, dataset.X_val, dataset.X_test)])
    order = np.lexsort(raw.reshape(80, -1).T[:5])
    want = np.lexsort(motions.X.reshape(80, -1).T[:5])
    np.testing.assert_allclose(raw[order], motions.X[want], atol=1e-4)
    other = tl.data.load("basicmotions", seed=1)
    assert not np.array_equal(other.y_test, dataset.y_test) or not np.array_equal(
        other.X_test, dataset.X_test)


def test_loading_does_not_import_sktime():
    code = ("import sys, tinylab as tl; tl.data.load('basicmotions'); "
            "print('sktime' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]   # (pandas comes with scikit-learn's split)


def test_missing_sktime_is_a_dataset_error_naming_the_fix(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "sktime" else real_find_spec(name, *args))
    with pytest.raises(DatasetUnavailableError) as caught:
        tl.data.load("basicmotions")
    assert "pip install sktime" in str(caught.value) and "make lab" in str(caught.value)
    assert isinstance(caught.value, tl.errors.TinyLabError)


def test_read_ts_golden_case(tmp_path):
    path = tmp_path / "tiny.ts"
    path.write_text("#A made-up file.\n#Two lines of comment.\n@problemName Tiny\n@dimensions 2\n"
                    "@classLabel true up down\n@data\n1,2,3:10,20,30:up\n\n-1,-2,-3:0,0,0.5:down\n")
    X, labels, header = data.read_ts(path)
    assert X.shape == (2, 3, 2) and labels == ["up", "down"]
    assert X[0].tolist() == [[1, 10], [2, 20], [3, 30]] and X[1, 2].tolist() == [-3, 0.5]
    assert header["problemname"] == "Tiny" and header["classlabel"] == "true up down"
    assert header["comment"] == "A made-up file. Two lines of comment."
    bad = tmp_path / "bad.ts"
    bad.write_text("@data\n1,?,3:1,2,3:up\n")
    with pytest.raises(ValueError, match="line 2: a value is not a number"):
        data.read_ts(bad)


def test_cut_windows_by_hand_and_refusals():
    X = np.arange(2 * 7 * 1, dtype=np.float32).reshape(2, 7, 1)
    windows, labels, source = data.cut_windows(X, np.array(["a", "b"]), length=3, hop=2)
    assert windows.shape == (6, 3, 1) and source.tolist() == [0, 0, 0, 1, 1, 1]
    assert labels.tolist() == ["a"] * 3 + ["b"] * 3
    assert windows[:, :, 0].tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6],
                                         [7, 8, 9], [9, 10, 11], [11, 12, 13]]
    assert data.cut_windows(X, [0, 1], 7, 1)[0].shape == (2, 7, 1)
    for length, hop in ((0, 1), (8, 1), (3, 0)):
        with pytest.raises(ValueError, match="length must be"):
            data.cut_windows(X, [0, 1], length, hop)
    with pytest.raises(ValueError, match=r"\(n, steps, channels\)"):
        data.cut_windows(X[..., 0], [0, 1], 3, 1)


def test_recordings_of_a_dataset_and_of_a_name():
    dataset = tl.data.load("basicmotions", seed=3)
    again = data.recordings(dataset)
    assert again.X.shape == (80, 100, 6) and again.class_names == data.BASICMOTIONS_CLASSES
    assert np.bincount(again.y).tolist() == [20] * 4
    assert data.recordings("basicmotions").X.shape == (80, 100, 6)
    with pytest.raises(ValueError, match="recordings\\(\\) takes"):
        data.recordings("no-such-dataset")


def _nearest_centroid(X_train, y_train, X_test, y_test):
    """A trivial classifier: the class whose mean window is nearest."""
    classes = np.unique(y_train)
    centroids = np.stack([X_train[y_train == c].mean(axis=0) for c in classes])
    distances = ((X_test[:, None] - centroids[None]) ** 2).sum(axis=(2, 3))
    return {"centroid": float((classes[distances.argmin(axis=1)] == y_test).mean())}


def test_cross_validate_basicmotions_with_a_nearest_centroid(motions):
    # mean |value| per channel: a crude feature a centroid can use
    features = np.abs(motions.X).mean(axis=1, keepdims=True)
    result = crossval.cross_validate(features, motions.y, _nearest_centroid, k=5, seed=0)
    assert result.pooled("centroid")[1] == 80
    assert result.mean("centroid") > 0.7    # standing/walking/running/badminton differ in vigour


def test_captured_rows_become_recordings_like_basicmotions(tmp_path):
    """Rows as `tinylab capture` writes them from the virtual Uno (simulated IMU, 50 Hz) ->
    windows -> save_dataset -> load_recorded (standardized) -> recordings -> cut_windows ->
    cross-validation grouped by recording: the lesson's code path on a capture."""
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for gesture, (level, spread) in {"idle": (0.0, 0.05), "wave": (1.0, 0.5),
                                     "punch": (3.0, 1.5)}.items():
        for _ in range(6):   # 6 recordings of 2 s (100 rows at 50 Hz) per gesture
            rows.append(rng.normal(level, spread, size=(100, 6)) * [1, 1, 1, 100, 100, 100])
            labels += [gesture] * 100
    rows = np.concatenate(rows).astype(np.float32)
    groups = np.repeat(np.arange(18), 100)
    X, y = capture.windows(rows, length=100, step=100, labels=labels, groups=groups)
    assert X.shape == (18, 100, 6)
    meta = {"board": "uno", "sensor": "sim-imu", "sample_rate_hz": 50.0, "simulated": True,
            "units": dict(zip(CHANNELS, ["g"] * 3 + ["dps"] * 3))}
    folder = capture.save_dataset(X, y, "captured", meta, columns=CHANNELS, root=tmp_path)

    dataset = data.load_recorded(folder, seed=0, standardize=True)
    assert dataset.input_shape == (100, 6) and dataset.normalization["per_channel"]
    assert dataset.normalization["channels"] == CHANNELS
    np.testing.assert_allclose(dataset.X_train.std(axis=(0, 1)), 1, atol=1e-4)
    plain = data.load_recorded(folder, seed=0)
    assert plain.normalization["description"] == "raw sensor values, unscaled"

    recorded = data.recordings(folder)
    assert recorded.X.shape == (18, 100, 6) and recorded.class_names == ("idle", "punch", "wave")
    np.testing.assert_allclose(recorded.X, X, rtol=1e-6)           # file order, raw units
    assert recorded.provenance["sample_rate_hz"] == 50.0

    windows, window_labels, source = data.cut_windows(recorded.X, recorded.y, length=50, hop=25)
    assert windows.shape == (54, 50, 6)
    result = crossval.cross_validate(windows, window_labels, _nearest_centroid, k=3, seed=0,
                                     groups=source)
    for fold in result.folds:   # a recording's windows never on both sides
        assert not set(source[fold.train_idx]) & set(source[fold.test_idx])
    assert result.mean("centroid") == 1.0
    assert "3-fold cross-validation of 54 examples" in result.to_text()
