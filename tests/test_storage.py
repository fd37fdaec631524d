"""One storage definition: the bytes TinyLab reports are the bytes of the generated C arrays.

``tinylab.engine.model_storage`` counts a model's data in flash; the pipeline's stages, the
compression grid and the lessons report its counts. These tests read the generated C
(``static const <type> <name>[<n>] TL_FLASH``) independently of the storage code and compare,
per part and in total, for every weight format; then check that a pipeline run reports
exactly those bytes for its stages.
"""

import re

import numpy as np
import pytest

from tinylab import deploy, engine, pipeline

#: Bytes per element of the C types the engine writes (avr-gcc: int is 16 bits, not used).
C_SIZES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4}

#: What each array holds, by the end of its name, as the format modules' docstrings list them.
SUFFIX_PARTS = {
    "weights": "weights", "entries": "weights", "bits": "weights",
    "counts": "row lengths", "codebook": "codebook", "wsymbols": "codebook",
    "wcounts": "code tables", "gcounts": "code tables", "gsymbols": "code tables",
    "bias": "biases", "multiplier": "requantization", "shift": "requantization",
}

_ARRAY = re.compile(r"static const (\w+) (tl_op_\d+)_(\w+)\[(\d+)\] TL_FLASH")


def c_array_bytes(model, format):
    """{part: bytes} and the total, read from the C text ``generate_c`` writes."""
    text = engine.generate_c(model, format)["tl_model.c"]
    parts = {}
    for ctype, _, name, length in _ARRAY.findall(text):
        part = SUFFIX_PARTS[name]
        parts[part] = parts.get(part, 0) + C_SIZES[ctype] * int(length)
    return parts, sum(parts.values())


def pruned_shared_mlp():
    """A small pruned, weight-shared int8 MLP, by hand: 40 -> 6 -> 3.

    The hidden layer holds 4 distinct non-zero weights (EIE's "shared" byte in ``sparse``),
    runs of more than 15 and 31 zeros (fillers in both layouts); the output layer holds more
    than 15 distinct weights ("wide" layout) and a bias of 100,000 (more than 16 bits).
    """
    rng = np.random.default_rng(0)
    hidden_weights = rng.choice(np.array([-90, -40, 0, 0, 0, 0, 0, 0, 35, 77], dtype=np.int8),
                                size=(6, 40))
    hidden_weights[2, :] = 0
    hidden_weights[2, 39] = 35                       # 39 zeros before it: fillers
    output_weights = (np.arange(1, 19) * 7 * (-1) ** np.arange(18)).reshape(3, 6).astype(np.int8)
    hidden = engine.FullyConnected.from_scales(
        hidden_weights, rng.integers(-500, 500, 6), input_scale=0.5, input_zero_point=1,
        weight_scales=[0.01] * 6, output_scale=0.5, output_zero_point=-5, activation="RELU")
    output = engine.FullyConnected.from_scales(
        output_weights, [100_000, -3, 7], input_scale=0.5, input_zero_point=-5,
        weight_scales=[0.02], output_scale=0.1, output_zero_point=0)
    return engine.IntegerModel(ops=(hidden, output), input_shape=(40,), output_shape=(3,),
                               input_scale=0.5, input_zero_point=1, output_scale=0.1,
                               output_zero_point=0, model_hash="00000000")


@pytest.mark.parametrize("format", engine.FORMATS)
def test_model_storage_is_the_generated_c_arrays(format):
    model = pruned_shared_mlp()
    storage = engine.model_storage(model, format)
    parts, total = c_array_bytes(model, format)
    assert storage.parts == parts
    assert storage.nbytes == total
    assert storage.weight_bytes == sum(n for part, n in parts.items()
                                       if part not in ("biases", "requantization"))


def test_the_hand_made_model_uses_both_sparse_layouts():
    layouts = [op.layout for op in engine.model_storage(pruned_shared_mlp(), "sparse").ops]
    assert layouts == ["shared", "wide"]


def test_sparse_bytes_by_hand():
    """The wide layer: 3 rows of 6 non-zero weights, no gaps, 2 bytes per entry, a count per row,
    3-byte biases (every folded bias fits 24 bits), one int32 multiplier and one shift."""
    op = engine.model_storage(pruned_shared_mlp(), "sparse").ops[1]
    assert op.parts == {"weights": 18 * 2, "row lengths": 3, "biases": 3 * 3,
                        "requantization": 4 + 1}


# --------------------------------------------------------------------------- the pipeline


@pytest.fixture(scope="module")
def result(digits):
    return pipeline.run(digits, model="tiny", sparsity=0.6, steps=1, epochs_per_step=1,
                        bits=3, fine_tune_epochs=1, seed=0, progress=False)


def test_stage_bytes_are_the_converted_models_bytes(result, digits):
    """P+Q and P+Q+H: the final Keras model converted again (one scale per layer) and counted."""
    stages = {stage["stage"]: stage for stage in result.stages}
    model, _ = deploy.integer_model(result.model, digits, per_channel=False)
    for name, format in (("pruned + shared (P+Q)", "sparse"), ("P+Q + Huffman (P+Q+H)", "huffman")):
        storage = engine.model_storage(model, format)
        assert stages[name]["bytes"] == storage.nbytes == c_array_bytes(model, format)[1]
        assert stages[name]["parts"] == storage.parts and stages[name]["format"] == format
    pruned = result.integer_models["pruned"]
    assert stages["pruned (P)"]["bytes"] == c_array_bytes(pruned, "sparse")[1]
    assert stages["float32"]["bytes"] == 4 * (64 * 8 + 8 + 8 * 10 + 10)


def test_layer_table_is_read_from_the_same_counts(result):
    """Deep Compression's Table 2 adds up to the stages' bytes: no second count."""
    layers, total = result.layers[:-1], result.layers[-1]
    stages = [stage["bytes"] for stage in result.stages[1:]]
    assert [total["bytes_p"], total["bytes_pq"], total["bytes_pqh"]] == stages
    for key in ("bytes_p", "bytes_pq", "bytes_pqh"):
        assert sum(row[key] for row in layers) == total[key]
    assert total["bytes_float32"] == result.stages[0]["bytes"]
    for row, op in zip(layers, result.storage["shared"].ops):
        # P+Q: EIE's byte (3-bit codebooks: at most 7 values, "shared"): 4 + 4 bits an entry
        assert (row["layout_pq"], row["weight_bits_pq"], row["index_bits_pq"]) == ("shared", 4, 4)
        assert op.parts["weights"] == row["entries"]
        assert row["size_pqh"] == pytest.approx(100 * row["bytes_pqh"] / row["bytes_float32"])
