"""datasets/gestures/: the simulated IMU recording (issue 6), loaded through tinylab.data.

The recording itself is made by datasets/gestures/record.py (virtual Uno + tinylab.capture);
these tests read the committed files only, so they need neither avr-gcc nor simavr.
"""

import json

import numpy as np
import pytest

from tinylab import data

FOLDER = data.DATASETS_DIR / "gestures"
CLASSES = ("flex", "idle", "punch", "wave")
CHANNELS = ["ax", "ay", "az", "gx", "gy", "gz"]
# The simulated sensor's range (sim_imu.cpp clips there): +-16 g, +-2000 deg/s.
LIMITS = np.array([16.0] * 3 + [2000.0] * 3)


@pytest.fixture(scope="module")
def gestures():
    return data.load("gestures")


def all_raw(ds):
    return np.concatenate([ds.raw(ds.X_train), ds.raw(ds.X_val), ds.raw(ds.X_test)])


def test_gestures_is_a_recorded_dataset_with_its_files():
    assert {"data.csv", "meta.json", "README.md", "record.py"} <= {p.name for p in FOLDER.iterdir()}
    assert "gestures" in data.available()
    assert (FOLDER / "data.csv").stat().st_size < 420_000  # small enough for the repository


def test_gestures_loads_with_four_balanced_classes(gestures):
    assert gestures.input_shape == (50, 6)
    assert gestures.class_names == CLASSES
    y = np.concatenate([gestures.y_train, gestures.y_val, gestures.y_test])
    counts = np.bincount(y, minlength=len(CLASSES))
    assert 200 <= len(y) <= 400
    assert counts.min() == counts.max(), counts
    for split in (gestures.y_train, gestures.y_test):
        assert set(split.tolist()) == set(range(len(CLASSES)))


def test_gestures_values_are_finite_and_within_the_sensor_range(gestures):
    raw = all_raw(gestures)
    assert np.isfinite(raw).all()
    assert (np.abs(raw) <= LIMITS).all()
    # lying flat between gestures: gravity about +1 g on z on average
    assert 0.8 < raw[..., 2].mean() < 1.1


def test_gestures_meta_says_simulated_and_how_to_record_again(gestures):
    meta = json.loads((FOLDER / "meta.json").read_text())
    provenance = gestures.provenance
    assert provenance["simulated"] is True and meta["provenance"]["simulated"] is True
    assert provenance["sample_rate_hz"] == 50
    assert provenance["board"] == "uno" and provenance["sensor"] == "sim-imu"
    assert provenance["units"] == dict(zip(CHANNELS, ["g", "g", "g", "dps", "dps", "dps"]))
    assert provenance["channels"] == CHANNELS
    assert "datasets/gestures/record.py" in provenance["command"]
    assert provenance["date"]
    readme = (FOLDER / "README.md").read_text()
    assert "imulated" in readme and provenance["command"] in readme


def test_a_tiny_mlp_tells_the_gestures_apart(gestures):
    pytest.importorskip("tensorflow")
    from tinylab import models, train

    model = models.mlp(gestures.input_shape, gestures.n_classes, hidden_units=(32,), seed=0)
    train.fit(model, gestures, epochs=10, seed=0, progress=False)
    accuracy = train.accuracy(model, gestures.X_test, gestures.y_test)
    print(f"gestures: tiny MLP test accuracy {accuracy:.3f} (chance 0.25)")
    assert accuracy > 0.8  # observed 1.000 (seed 0); the classes are made to be told apart
