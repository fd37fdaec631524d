"""Tests for tinylab.workspace: where models are saved, round trips, cards, helpful errors."""

import json

import numpy as np
import pytest

import tinylab
from tinylab import models, workspace


def test_path_follows_the_environment_variable(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere" / "ws"
    monkeypatch.setenv("TINYLAB_WORKSPACE", str(target))
    assert workspace.path() == target
    assert target.is_dir()  # created on first use
    assert workspace.model_path("teacher") == target / "teacher.keras"


def test_autouse_fixture_isolates_the_workspace(_isolated_workspace):
    assert workspace.path() == _isolated_workspace
    assert workspace.list_models() == []


def test_save_load_round_trip(_isolated_workspace):
    model = models.mlp(hidden_units=(6,), seed=3, name="round_trip")
    saved = workspace.save_model(model, "round_trip", {"test_accuracy": 0.5, "epochs": 2})
    assert saved == _isolated_workspace / "round_trip.keras" and saved.is_file()
    assert workspace.has_model("round_trip")

    loaded = workspace.load_model("round_trip")
    original, again = model.get_weights(), loaded.get_weights()
    assert len(original) == len(again)
    for a, b in zip(original, again):
        np.testing.assert_array_equal(a, b)
    X = np.linspace(0, 1, 2 * 64, dtype=np.float32).reshape(2, 8, 8, 1)
    np.testing.assert_allclose(np.asarray(loaded(X)), np.asarray(model(X)), rtol=1e-6)

    card = workspace.load_card("round_trip")
    assert card["tinylab_version"] == tinylab.__version__
    assert card["name"] == "round_trip"
    assert card["test_accuracy"] == 0.5 and card["epochs"] == 2
    assert json.loads((_isolated_workspace / "round_trip.json").read_text()) == card
    assert workspace.list_models() == [card]


def test_has_model_needs_both_the_model_and_its_card(_isolated_workspace):
    workspace.save_model(models.mlp(hidden_units=(2,)), "half")
    (_isolated_workspace / "half.json").unlink()
    assert not workspace.has_model("half")
    assert workspace.list_models() == []
    with pytest.raises(FileNotFoundError):
        workspace.load_model("half")


@pytest.mark.parametrize("name", ["", "../escape", "a b", "model.v2", "dir/name", 3, None])
def test_bad_names_are_value_errors(name):
    with pytest.raises(ValueError, match="letters, digits"):
        workspace.model_path(name)


def test_bad_name_is_refused_before_saving(_isolated_workspace):
    with pytest.raises(ValueError):
        workspace.save_model(models.mlp(hidden_units=(2,)), "../outside")
    assert not (_isolated_workspace.parent / "outside.keras").exists()


def test_loading_a_missing_model_says_to_run_lesson_02():
    with pytest.raises(FileNotFoundError, match="lesson 02") as caught:
        workspace.load_model("mlp300")
    assert "mlp300" in str(caught.value)
    with pytest.raises(FileNotFoundError, match="lesson 02"):
        workspace.load_card("student")


def test_reuse_takes_a_hand_off_only_when_its_card_matches(capsys):
    workspace.save_model(models.mlp(hidden_units=(2,)), "mlp300", {"epochs": 40, "seed": 0})
    assert workspace.reuse("mlp300", {"epochs": 40, "seed": 0})
    assert not workspace.reuse("mlp300", {"epochs": 40, "seed": 1})
    said = capsys.readouterr().out
    assert "seed: saved 0, wanted 1" in said and "as lesson 02_train does" in said
    # a model that is no hand-off is made again without a word
    assert not workspace.reuse("my_model", {"seed": 0})
    assert capsys.readouterr().out == ""


def test_reuse_in_strict_mode_names_the_lesson_that_should_have_saved_it(monkeypatch):
    monkeypatch.setenv(workspace.STRICT_VAR, "strict")
    with pytest.raises(workspace.HandoffError, match="notebooks/06_sharing.ipynb first"):
        workspace.reuse("mlp300_shared", {"bits": 4})
    workspace.save_model(models.mlp(hidden_units=(2,)), "mlp300_pruned", {"final_sparsity": 0.9})
    with pytest.raises(workspace.HandoffError, match="masks"):   # the masks are missing
        workspace.reuse("mlp300_pruned", {"final_sparsity": 0.9}, arrays=("mlp300_pruned_masks",))
    workspace.save_arrays("mlp300_pruned_masks", dense_1=np.ones(2, bool))
    assert workspace.reuse("mlp300_pruned", {"final_sparsity": 0.9}, arrays=("mlp300_pruned_masks",))
    with pytest.raises(workspace.HandoffError, match="final_sparsity: saved 0.9, wanted 0.8"):
        workspace.reuse("mlp300_pruned", {"final_sparsity": 0.8}, arrays=("mlp300_pruned_masks",))
    assert not workspace.reuse("small16", {"seed": 0})   # strict only for the hand-offs

