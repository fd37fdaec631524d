"""The whole deep-compression pipeline in one call, measured stage by stage.

Deep Compression (Han, Mao & Dally 2016) chains three steps, and the survey's section
1.2.5.1 adds distillation in front of them:

    train (or load) -> [distill into a student] -> prune + retrain (P)
        -> weight sharing, k-means codebook + fine-tuning (Q) -> Huffman coding (H)

:func:`run` does every step with the lessons' own functions and returns a
:class:`PipelineResult`: per layer, the table of the paper's Table 2 (weights, kept %, bits per
weight and per index after P+Q and after P+Q+H, size as a % of float32), and per stage the test
accuracy, the bytes and the compression ratio against the float32 model the pipeline started
from (the teacher, also when a student is distilled).

The byte counts hold everything a decoder needs, as the file it would read:

- **P** stores each kept weight as float32 with a 5-bit relative index (8 for convolutions),
  plus the filler entries that bridge gaps longer than the index can count
  (:func:`tinylab.prune.relative_indices`);
- **P+Q** stores a ``bits``-wide codebook index instead of the float (fillers take the spare
  index that ``WeightSharing(reserve_filler=True)`` leaves free), plus each layer's codebook
  as float32;
- **P+Q+H** Huffman-codes each layer's index stream and gap stream separately and counts
  their code tables and stream lengths (:func:`tinylab.huffman.compress`);
- every stage also stores the biases as float32, which Han et al.'s table leaves out. Dead
  units (survey Fig. 5) are removed after pruning, with identical outputs, which takes their
  biases away too.

``tinylab pipeline`` prints the same tables; lesson 06 ends with them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from . import huffman, prune, quantize

__all__ = ["run", "PipelineResult", "PAPER_LENET_300_100", "layer_streams"]

#: Deep Compression, Table 2 (LeNet-300-100 on MNIST), for comparison with :func:`run`'s table.
#: Bits are per stored weight / index; ``size_pq`` and ``size_pqh`` are % of float32.
PAPER_LENET_300_100 = {
    "source": "Han, Mao & Dally (2016), Deep Compression, Table 2",
    "layers": [
        {"layer": "ip1", "weights": 235_000, "kept_percent": 8, "weight_bits_pq": 6,
         "weight_bits_pqh": 4.4, "index_bits_pq": 5, "index_bits_pqh": 3.7, "size_pq": 3.1,
         "size_pqh": 2.32},
        {"layer": "ip2", "weights": 30_000, "kept_percent": 9, "weight_bits_pq": 6,
         "weight_bits_pqh": 4.4, "index_bits_pq": 5, "index_bits_pqh": 4.3, "size_pq": 3.5,
         "size_pqh": 2.36},
        {"layer": "ip3", "weights": 1_000, "kept_percent": 26, "weight_bits_pq": 6,
         "weight_bits_pqh": 4.3, "index_bits_pq": 5, "index_bits_pqh": 3.2, "size_pq": 4.5,
         "size_pqh": 3.00},
        {"layer": "total", "weights": 266_000, "kept_percent": 8, "weight_bits_pq": 6,
         "weight_bits_pqh": 5.1, "index_bits_pq": 5, "index_bits_pqh": 3.7, "size_pq": 3.1,
         "size_pqh": 2.49},
    ],
    "ratio_p": 12, "ratio_pq": 32, "ratio_pqh": 40,
    "error_before_percent": 1.64, "error_after_percent": 1.58,
}


@dataclass
class PipelineResult:
    """What :func:`run` measured.

    Attributes
    ----------
    stages : list of dict
        One row per stage: ``stage``, ``model`` (its name), ``val_accuracy``,
        ``test_accuracy``, ``bytes``,
        ``ratio`` (the starting float32 model's bytes / these bytes).
    layers : list of dict
        One row per layer and a ``"total"`` row, the columns of Deep Compression's Table 2.
    settings : dict
        The arguments of the run.
    model : keras.Model
        The final model (pruned, shared; Huffman coding does not change its weights).
    sharing : tinylab.quantize.WeightSharing
        Its codebooks and indices.
    """

    stages: list
    layers: list
    settings: dict
    model: object = field(repr=False, default=None)
    sharing: object = field(repr=False, default=None)

    def to_dict(self) -> dict:
        """The JSON-ready part: stages, layers, settings and the paper's numbers."""
        return {"settings": self.settings, "stages": self.stages, "layers": self.layers,
                "paper": PAPER_LENET_300_100}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        """Both tables as aligned plain text, the paper's LeNet-300-100 numbers underneath."""
        stage_rows = [[s["stage"], s["model"], f"{s['test_accuracy']:.2%}", f"{s['bytes']:,}",
                       f"{s['ratio']:.1f}x"] for s in self.stages]
        layer_rows = [[r["layer"], f"{r['weights']:,}", f"{r['kept_percent']:.1f}%",
                       f"{r['weight_bits_pq']}", f"{r['weight_bits_pqh']:.1f}",
                       f"{r['index_bits_pq']}", f"{r['index_bits_pqh']:.1f}",
                       f"{r['size_pq']:.1f}%", f"{r['size_pqh']:.1f}%"] for r in self.layers]
        paper = PAPER_LENET_300_100
        return "\n".join([
            _table(["stage", "model", "test accuracy", "bytes", "vs float32"], stage_rows),
            "",
            _table(["layer", "weights", "kept", "weight bits P+Q", "P+Q+H", "index bits P+Q",
                    "P+Q+H", "size P+Q", "P+Q+H"], layer_rows),
            "",
            f"Paper ({paper['source']}): LeNet-300-100 on MNIST, {paper['ratio_p']}x after P, "
            f"{paper['ratio_pq']}x after P+Q, {paper['ratio_pqh']}x after P+Q+H; error "
            f"{paper['error_before_percent']}% -> {paper['error_after_percent']}%.",
        ])


def _table(header, rows) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(x).rjust(w) for x, w in zip(line, widths)) for line in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def layer_streams(sharing, name: str, index_bits: int):
    """The two symbol streams of one shared, pruned layer, in sparse-storage order.

    Returns
    -------
    indices : ndarray of int64
        The codebook index of each stored entry; a filler entry gets the spare index
        ``len(codebook)`` (see ``WeightSharing(reserve_filler=True)``).
    gaps : ndarray of int64
        The relative index of each entry (:func:`tinylab.prune.relative_indices`).
    """
    codes = sharing.indices_[name]
    # index + 1 where kept, 0 where pruned: relative_indices walks the kept positions, and
    # its filler entries come back as 0, i.e. index -1 below.
    values, gaps, _ = prune.relative_indices(np.where(codes >= 0, codes + 1, 0).astype(np.float32),
                                             index_bits)
    indices = values.astype(np.int64) - 1
    indices[indices < 0] = len(sharing.codebooks_[name])
    return indices, gaps


def _float_bytes(model) -> int:
    from . import models

    return 4 * models.count_params(model)


def _bias_bits(model, name) -> int:
    bias = getattr(model.get_layer(name), "bias", None)
    return 0 if bias is None else 32 * int(np.size(bias))


def _layer_rows(model, sharing, original_weights: dict) -> list:
    """Table 2's columns for each shared layer of ``model``, and a total row."""
    rows = []
    for name in sharing.codebooks_:
        kernel = np.asarray(model.get_layer(name).kernel)
        index_bits = prune.INDEX_BITS[prune._layer_kind(kernel)]
        indices, gaps = layer_streams(sharing, name, index_bits)
        kept, entries, bits = int(np.count_nonzero(kernel)), len(indices), sharing.bits_[name]
        codebook_bits, bias_bits = 32 * len(sharing.codebooks_[name]), _bias_bits(model, name)
        huffman_index_bits = 8 * len(huffman.compress(indices)) if entries else 0
        huffman_gap_bits = 8 * len(huffman.compress(gaps)) if entries else 0
        rows.append({
            "layer": name, "weights": original_weights[name], "kept": kept, "entries": entries,
            "kept_percent": 100.0 * kept / original_weights[name],
            "weight_bits_pq": bits, "index_bits_pq": index_bits,
            "weight_bits_pqh": huffman_index_bits / max(entries, 1),
            "index_bits_pqh": huffman_gap_bits / max(entries, 1),
            "bits_p": entries * (32 + index_bits) + bias_bits,
            "bits_pq": entries * (bits + index_bits) + codebook_bits + bias_bits,
            "bits_pqh": huffman_index_bits + huffman_gap_bits + codebook_bits + bias_bits,
            "bits_float32": 32 * original_weights[name] + bias_bits,
        })
    total = {"layer": "total", "weights": sum(r["weights"] for r in rows),
             "kept": sum(r["kept"] for r in rows), "entries": sum(r["entries"] for r in rows)}
    for key in ("bits_p", "bits_pq", "bits_pqh", "bits_float32"):
        total[key] = sum(r[key] for r in rows)
    total["kept_percent"] = 100.0 * total["kept"] / total["weights"]
    entries = max(total["entries"], 1)
    total["weight_bits_pq"] = rows[0]["weight_bits_pq"] if len({r["weight_bits_pq"] for r in rows}) == 1 else None
    total["index_bits_pq"] = rows[0]["index_bits_pq"] if len({r["index_bits_pq"] for r in rows}) == 1 else None
    total["weight_bits_pqh"] = sum(r["weight_bits_pqh"] * r["entries"] for r in rows) / entries
    total["index_bits_pqh"] = sum(r["index_bits_pqh"] * r["entries"] for r in rows) / entries
    rows.append(total)
    for row in rows:
        # As in the paper: size after P+Q and after P+Q+H as a share of the float32 layer.
        row["size_pq"] = 100.0 * row["bits_pq"] / row["bits_float32"]
        row["size_pqh"] = 100.0 * row["bits_pqh"] / row["bits_float32"]
    return rows


def run(data=None, *, model: str = "mlp300", student: str | None = None,
        temperature: float = 4.0, alpha: float = 0.9, distill_epochs: int | None = None,
        distill_learning_rate: float = 1e-2, sparsity: float = 0.9, steps: int = 4,
        epochs_per_step: int = 5, prune_learning_rate: float = 1e-3, bits: int = 5,
        fine_tune_epochs: int = 3, fine_tune_learning_rate: float = 1e-3, seed: int = 0,
        progress: bool = True) -> PipelineResult:
    """Train (or load) -> [distill] -> prune + retrain -> share weights -> Huffman; measure each.

    Parameters
    ----------
    data : tinylab.data.Dataset, optional
        Default ``tl.data.load("digits")``.
    model : str
        The starting float32 model, one of :data:`tinylab.models.ARCHITECTURES`; loaded from
        the workspace when it matches (:func:`tinylab.train.load_or_train`).
    student : str, optional
        Distill ``model`` into this architecture first (:func:`tinylab.distill.distill` with
        ``temperature``, ``alpha``, ``distill_epochs`` (default: the student's own epochs) and
        ``distill_learning_rate``); the student is then what gets compressed.
    sparsity : float in [0, 1), or dict {layer name: float}
        Final sparsity of every layer (or of each named layer) (:func:`tinylab.prune.iterative_prune` with ``steps``,
        ``epochs_per_step``, ``prune_learning_rate``); dead units are removed afterwards.
    bits : int
        Codebook index width of every layer (Han et al.: 5 for fully connected layers).
    fine_tune_epochs : int
        Epochs of centroid fine-tuning (0 to skip), at ``fine_tune_learning_rate``.
    seed : int
        Seeds every step.
    progress : bool
        Progress bars for the training steps.

    Returns
    -------
    PipelineResult
    """
    from . import data as datasets
    from . import distill, models, train

    for fraction in (sparsity.values() if isinstance(sparsity, dict) else [sparsity]):
        prune._check_fraction(fraction)
    quantize._check_bits(bits, 1, 16)
    if student is not None and student not in models.ARCHITECTURES:
        raise ValueError(f"unknown student {student!r}; choose one of {models.available()}")
    if int(fine_tune_epochs) != fine_tune_epochs or fine_tune_epochs < 0:
        raise ValueError(f"fine_tune_epochs must be a whole number >= 0, got {fine_tune_epochs!r}")
    data = data if data is not None else datasets.load("digits")
    settings = {"dataset": data.name, "data_seed": data.seed, "model": model, "student": student,
                "temperature": temperature if student else None,
                "alpha": alpha if student else None, "sparsity": sparsity, "steps": steps,
                "epochs_per_step": epochs_per_step, "bits": bits,
                "fine_tune_epochs": fine_tune_epochs, "seed": seed}

    start = train.load_or_train(model, data, seed=seed, progress=progress)
    reference_bytes = _float_bytes(start)
    stages = []

    def measure(stage, network, n_bytes):
        stages.append({"stage": stage, "model": network.name,
                       "val_accuracy": train.accuracy(network, data.X_val, data.y_val),
                       "test_accuracy": train.accuracy(network, data.X_test, data.y_test),
                       "bytes": int(n_bytes), "ratio": reference_bytes / max(int(n_bytes), 1)})

    measure("float32", start, reference_bytes)
    current = start
    if student is not None:
        current = models.build(student, data.input_shape, data.n_classes, seed=seed)
        distill.distill(current, start, data, temperature=temperature, alpha=alpha,
                        epochs=int(distill_epochs or models.ARCHITECTURES[student]["epochs"]),
                        learning_rate=distill_learning_rate, seed=seed, progress=progress)
        measure("distilled", current, _float_bytes(current))
    else:  # prune a copy: the loaded model stays as the workspace has it
        from ._tensorflow import keras

        current = keras.models.clone_model(start)
        current.set_weights(start.get_weights())
    original_weights = {name: int(np.size(current.get_layer(name).kernel))
                        for name in prune.prunable_layers(current)}

    masks, _ = prune.iterative_prune(current, data, final_sparsity=sparsity, steps=steps,
                                     epochs_per_step=epochs_per_step,
                                     learning_rate=prune_learning_rate, seed=seed,
                                     progress=progress)
    current, masks = prune.remove_dead_neurons(current, masks)
    sharing = quantize.WeightSharing(bits, seed=seed, reserve_filler=True).fit(current, masks)
    p_rows = _layer_rows(current, sharing, original_weights)  # the P column needs no Q
    measure("pruned (P)", current, -(-p_rows[-1]["bits_p"] // 8))

    sharing.apply(current)
    if fine_tune_epochs:
        sharing.fine_tune(current, data, epochs=int(fine_tune_epochs),
                          learning_rate=fine_tune_learning_rate, seed=seed)
    rows = _layer_rows(current, sharing, original_weights)
    measure("pruned + shared (P+Q)", current, -(-rows[-1]["bits_pq"] // 8))
    measure("P+Q + Huffman (P+Q+H)", current, -(-rows[-1]["bits_pqh"] // 8))
    return PipelineResult(stages=stages, layers=rows, settings=settings, model=current,
                          sharing=sharing)
