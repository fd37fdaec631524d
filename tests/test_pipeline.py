"""Tests for tinylab.pipeline: the paper's streams, its stage records, and a whole run.

That its bytes are the generated C's is tested in tests/test_storage.py."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from tinylab import huffman, pipeline, prune


def _sharing(indices, codebook, bits=2):
    return SimpleNamespace(indices_={"w": np.asarray(indices)},
                           codebooks_={"w": np.asarray(codebook, dtype=np.float32)},
                           bits_={"w": bits})


def test_layer_streams_golden_with_a_filler():
    # A 1-D stream of 12 positions; 2-bit gaps count at most 3 zeros. Kept: position 1
    # (index 2) and position 9 (index 0). From position 1 to 9 are 7 zeros: a filler after 3
    # zeros (position 5), then 3 zeros, then the weight.
    indices = np.full(12, -1)
    indices[1], indices[9] = 2, 0
    codes, gaps = pipeline.layer_streams(_sharing(indices, [-0.5, 0.1, 0.7]), "w", index_bits=2)
    assert codes.tolist() == [2, 3, 0]  # the filler takes the spare index 3 = len(codebook)
    assert gaps.tolist() == [1, 3, 3]


def test_stage_table_keys_names_and_labels():
    assert list(pipeline.STAGES) == ["float32", "distilled", "pruned", "shared", "huffman"]
    # the names rows carry: lessons, the app and the recorded grid read them
    assert [entry["stage"] for entry in pipeline.STAGES.values()] == [
        "float32", "distilled", "pruned (P)", "pruned + shared (P+Q)", "P+Q + Huffman (P+Q+H)"]
    assert [pipeline.stage_label(entry["stage"]) for entry in pipeline.STAGES.values()] == [
        "float32", "distilled", "P", "P+Q", "P+Q+H"]
    assert pipeline.stage_label("something else") == "something else"
    assert [pipeline.stage_format(key) for key in pipeline.STAGES] == [
        "float32", "float32", "sparse", "sparse", "huffman"]
    assert pipeline.stage_format("P+Q + Huffman (P+Q+H)") == "huffman"
    with pytest.raises(ValueError, match="unknown stage"):
        pipeline.stage_format("P+Q+H")


def test_stage_record_and_its_row():
    stage = pipeline.Stage("pruned", "tiny_alive", 0.9, 0.8, 1_000, 4_000)
    assert (stage.stage, stage.label, stage.ratio) == ("pruned (P)", "P", 4.0)
    assert stage.row() == {"stage": "pruned (P)", "model": "tiny_alive", "val_accuracy": 0.9,
                           "test_accuracy": 0.8, "bytes": 1_000, "ratio": 4.0,
                           "format": "float32", "parts": {"float32 parameters": 1_000}}
    with pytest.raises(ValueError, match="unknown stage 'P'"):
        pipeline.Stage("P", "tiny", 0.9, 0.8, 1_000, 4_000)


def test_the_lessons_hand_offs_are_the_compressed_teacher_route():
    """Lessons 04 and 06 hand on what bench mcu measures as the compressed teacher."""
    import inspect

    from tinylab import quantize

    route = pipeline.ROUTES["compressed_teacher"]
    defaults = inspect.signature(pipeline.run).parameters
    assert prune.PRUNED_RECIPE == {"final_sparsity": route["sparsity"],
                                   "steps": defaults["steps"].default,
                                   "epochs_per_step": defaults["epochs_per_step"].default}
    assert quantize.SHARED_RECIPE == {"bits": route["bits"],
                                      "fine_tune_epochs": defaults["fine_tune_epochs"].default,
                                      "learning_rate": defaults["fine_tune_learning_rate"].default}


def test_routes_are_the_lessons_settings():
    """Workspace cards of the deep-compressed model record the route: a change rebuilds it."""
    from tinylab import deep_compressed

    assert pipeline.ROUTES["distilled"] == {"model": "mlp300", "student": "student",
                                            "sparsity": 0.7, "bits": 4}
    assert pipeline.ROUTES["compressed_teacher"] == {"model": "mlp300", "sparsity": 0.9,
                                                     "bits": 4}
    assert deep_compressed.DISTILLED_ROUTE is pipeline.ROUTES["distilled"]


def test_prune_stage_without_a_sparsity_keeps_every_weight_and_its_input(digits):
    from tinylab import models

    model = models.build("tiny", digits.input_shape, digits.n_classes, seed=0)
    before = [w.copy() for w in model.get_weights()]
    pruned, masks = pipeline.prune_stage(model, digits, None)
    assert all(mask.all() for mask in masks.values()) and set(masks) == {"dense_1", "logits"}
    for mine, theirs in zip(pruned.get_weights(), before):
        np.testing.assert_array_equal(mine, theirs)
    for mine, theirs in zip(model.get_weights(), before):
        np.testing.assert_array_equal(mine, theirs)


@pytest.fixture(scope="module")
def result(digits):
    return pipeline.run(digits, model="tiny", sparsity=0.6, steps=1, epochs_per_step=1,
                        bits=3, fine_tune_epochs=1, seed=0, progress=False)


def test_run_reports_every_stage_in_order(result):
    assert [s["stage"] for s in result.stages] == [
        "float32", "pruned (P)", "pruned + shared (P+Q)", "P+Q + Huffman (P+Q+H)"]
    first = result.stages[0]
    assert first["bytes"] == 4 * (64 * 8 + 8 + 8 * 10 + 10) and first["ratio"] == 1.0
    sizes = [s["bytes"] for s in result.stages]
    assert sizes[1] < sizes[0] and sizes[2] < sizes[1]
    for stage in result.stages:
        assert stage["ratio"] == pytest.approx(sizes[0] / stage["bytes"])
    # Huffman coding changes the bytes, never the weights
    assert result.stages[3]["test_accuracy"] == result.stages[2]["test_accuracy"]


def test_final_model_has_the_codebook_values_and_pruned_zeros(result):
    for name, codebook in result.sharing.codebooks_.items():
        kernel = np.asarray(result.model.get_layer(name).kernel)
        assert len(codebook) <= 2 ** 3 - 1  # one index spared for fillers
        assert set(np.unique(kernel[kernel != 0])) <= set(codebook.tolist())
        assert np.all(kernel[result.sharing.indices_[name] < 0] == 0.0)


def test_the_papers_streams_rebuild_every_kernel(result):
    """Lesson 07's by-hand layout: decode each layer's two Huffman-coded streams back."""
    for name, codebook in result.sharing.codebooks_.items():
        kernel = np.asarray(result.model.get_layer(name).kernel)
        codes, gaps = pipeline.layer_streams(result.sharing, name, index_bits=5)
        decoded_codes = huffman.decompress(huffman.compress(codes))
        values = np.append(codebook, 0.0)[decoded_codes]  # the spare index is a filler zero
        stream = prune._decode(values, huffman.decompress(huffman.compress(gaps)), kernel.size)
        np.testing.assert_array_equal(stream.reshape(kernel.shape[::-1]).T, kernel)


def test_stages_carry_their_format_parts_and_storage(result):
    formats = [stage["format"] for stage in result.stages]
    assert formats == ["float32", "sparse", "sparse", "huffman"]
    for stage, key in zip(result.stages[1:], ("pruned", "shared", "huffman")):
        assert stage["parts"] == result.storage[key].parts
        assert stage["bytes"] == sum(stage["parts"].values())
    assert set(result.integer_models) == {"pruned", "shared"}


def test_text_and_json_carry_both_tables_and_the_paper(result):
    text = result.to_text()
    assert "P+Q+H" in text and "dense_1" in text and "40x after P+Q+H" in text
    assert "huffman" in text and "no code" in text
    data = json.loads(result.to_json())
    assert data["paper"]["ratio_pqh"] == 40
    assert data["stages"][-1]["bytes"] == result.stages[-1]["bytes"]
    assert data["settings"]["bits"] == 3


def test_distilled_student_is_compressed_and_compared_with_the_teacher(digits):
    result = pipeline.run(digits, model="student", student="tiny", distill_epochs=2,
                          sparsity=0.5, steps=1, epochs_per_step=1, bits=4, fine_tune_epochs=0,
                          progress=False)
    assert [s["model"] for s in result.stages[:2]] == ["student", "tiny"]
    teacher_bytes = 4 * (64 * 32 + 32 + 32 * 10 + 10)
    assert result.stages[0]["bytes"] == teacher_bytes
    assert result.stages[1]["ratio"] == pytest.approx(teacher_bytes / (4 * (64 * 8 + 8 + 90)))


@pytest.mark.parametrize("kwargs, message", [
    ({"sparsity": 1.0}, "sparsity"),
    ({"sparsity": {"dense_1": 0.9, "logits": -0.1}}, "sparsity"),
    ({"bits": 0}, "bits"),
    ({"student": "giant"}, "unknown student"),
    ({"fine_tune_epochs": -1}, "fine_tune_epochs"),
])
def test_bad_settings_are_refused_before_any_training(digits, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipeline.run(digits, **kwargs)
