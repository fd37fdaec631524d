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

Each stage is also a function of its own, usable alone, and :func:`run` adds nothing they do
not expose: :func:`distill_stage`, :func:`prune_stage`, :func:`share_stage` (each returns a
new model and leaves its input unchanged) and :func:`encode_stage` (Huffman coding changes
the bytes, never the weights); :func:`layer_table` counts the bits of P, P+Q and P+Q+H per
layer, and :func:`measure` scores a stage's model into a :class:`Stage` record. :data:`STAGES`
names the stages; :data:`ROUTES` holds the routes lessons and benchmarks run.
:mod:`tinylab.compression_grid` composes the same functions over a grid of settings.

``tinylab pipeline`` prints the same tables; lesson 06 ends with them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field

import numpy as np

from . import huffman

# prune (whose MaskConstraint subclasses a Keras class) and quantize are imported inside the
# functions that use them, so that reading STAGES imports no TensorFlow: the compression
# explorer app (tinylab.compression_grid, tinylab.plot) must render without it.

__all__ = ["run", "PipelineResult", "PAPER_LENET_300_100", "STAGES", "ROUTES", "Stage",
           "stage_label", "measure", "distill_stage", "prune_stage", "share_stage",
           "encode_stage", "float_bytes", "kernel_sizes", "pruned_bytes", "bias_bits",
           "layer_table", "stage_bytes", "layer_streams"]

#: The stages :func:`run` measures, in order, by key: ``stage``, the name a stage's row
#: carries (in :attr:`PipelineResult.stages`, the printed tables, the lessons, the app and the
#: recorded ``datasets/compression_grid/grid.json``), and ``label``, a short name for a
#: figure's axis.
STAGES = {
    "float32": {"stage": "float32", "label": "float32"},
    "distilled": {"stage": "distilled", "label": "distilled"},
    "pruned": {"stage": "pruned (P)", "label": "P"},
    "shared": {"stage": "pruned + shared (P+Q)", "label": "P+Q"},
    "huffman": {"stage": "P+Q + Huffman (P+Q+H)", "label": "P+Q+H"},
}

#: The routes lessons and benchmarks name, as :func:`run` keyword arguments (the other
#: arguments at their defaults: temperature 4, alpha 0.9, 4 prune-retrain steps, ...).
ROUTES = {
    # Lesson 07's deep-compressed model (tinylab.deep_compressed, bench/mcu.py): the mlp300
    # teacher distilled into the lesson student at T=4, pruned to 70%, 4-bit shared.
    "distilled": {"model": "mlp300", "student": "student", "sparsity": 0.7, "bits": 4},
    # The deep-compressed teacher of bench/mcu.py: mlp300 pruned to 90%, 4-bit shared.
    "compressed_teacher": {"model": "mlp300", "sparsity": 0.9, "bits": 4},
}

#: The column of :func:`layer_table` that holds each compressed stage's bits.
_TABLE_BITS = {"pruned": "bits_p", "shared": "bits_pq", "huffman": "bits_pqh"}

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


@dataclass(frozen=True)
class Stage:
    """One measured stage of the pipeline (lesson 06): which stage, its scores, its bytes.

    Attributes
    ----------
    key : str
        One of :data:`STAGES`: ``"float32"``, ``"distilled"``, ``"pruned"``, ``"shared"``,
        ``"huffman"``.
    model : str
        The name of the model measured.
    val_accuracy, test_accuracy : float
        On the dataset's validation and test splits.
    bytes : int
        Every byte a decoder needs, as this module counts them.
    reference_bytes : int
        The starting float32 model's bytes.
    """

    key: str
    model: str
    val_accuracy: float
    test_accuracy: float
    bytes: int
    reference_bytes: int

    def __post_init__(self):
        if self.key not in STAGES:
            raise ValueError(f"unknown stage {self.key!r}; the stages are {list(STAGES)}")

    @property
    def stage(self) -> str:
        """The stage's name in rows and tables, e.g. ``"pruned (P)"``."""
        return STAGES[self.key]["stage"]

    @property
    def label(self) -> str:
        """The stage's short name, e.g. ``"P"``."""
        return STAGES[self.key]["label"]

    @property
    def ratio(self) -> float:
        """``reference_bytes / bytes``: how many times smaller than the float32 start."""
        return self.reference_bytes / max(self.bytes, 1)

    def row(self) -> dict:
        """The stage as a row of :attr:`PipelineResult.stages` and of the recorded grid."""
        return {"stage": self.stage, "model": self.model, "val_accuracy": self.val_accuracy,
                "test_accuracy": self.test_accuracy, "bytes": self.bytes, "ratio": self.ratio}


def stage_label(name: str) -> str:
    """The short label of a stage's name, for a figure's axis (lesson 06, the app).

    Parameters
    ----------
    name : str
        A stage row's ``stage``, e.g. ``"P+Q + Huffman (P+Q+H)"``.

    Returns
    -------
    str
        Its ``label`` in :data:`STAGES`, e.g. ``"P+Q+H"``; a name not there is its own label.
    """
    labels = {entry["stage"]: entry["label"] for entry in STAGES.values()}
    return labels.get(name, name)


@dataclass
class PipelineResult:
    """What :func:`run` measured.

    Attributes
    ----------
    stages : list of dict
        One row per stage (:meth:`Stage.row`): ``stage``, ``model`` (its name),
        ``val_accuracy``, ``test_accuracy``, ``bytes``,
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
    from . import prune

    codes = sharing.indices_[name]
    # index + 1 where kept, 0 where pruned: relative_indices walks the kept positions, and
    # its filler entries come back as 0, i.e. index -1 below.
    values, gaps, _ = prune.relative_indices(np.where(codes >= 0, codes + 1, 0).astype(np.float32),
                                             index_bits)
    indices = values.astype(np.int64) - 1
    indices[indices < 0] = len(sharing.codebooks_[name])
    return indices, gaps


def float_bytes(model) -> int:
    """Bytes of ``model`` stored as float32, 4 per parameter: the float32 and distilled stages
    (lesson 06)."""
    from . import models

    return 4 * models.count_params(model)


def kernel_sizes(model) -> dict:
    """{layer name: number of kernel weights} of every layer with a kernel (lesson 06).

    Taken before pruning, they are what :func:`layer_table` compares the stored bits with
    (Table 2's ``weights`` column).
    """
    from . import prune

    return {name: int(np.size(model.get_layer(name).kernel))
            for name in prune.prunable_layers(model)}


def bias_bits(model, name) -> int:
    """Bits of layer ``name``'s biases stored as float32, which every stage stores (lesson 06;
    0 for a layer without biases)."""
    bias = getattr(model.get_layer(name), "bias", None)
    return 0 if bias is None else 32 * int(np.size(bias))


def _bytes(bits) -> int:
    return -(-int(bits) // 8)


def pruned_bytes(model, masks) -> int:
    """Bytes of the P stage, from the masks alone: no codebook needed (lesson 06).

    Each kept weight as float32 with its relative index (:data:`tinylab.prune.INDEX_BITS`),
    the filler entries, and float32 biases: :func:`layer_table`'s ``bits_p``, in bytes.

    Parameters
    ----------
    model : keras.Model
        The pruned model (its biases are counted).
    masks : dict of str -> ndarray of bool
        Its keep-masks, shaped like the kernels.

    Returns
    -------
    int
    """
    from . import prune

    bits = 0
    for name, mask in masks.items():
        index_bits = prune.INDEX_BITS[prune.layer_kind(np.asarray(mask))]
        values, _, _ = prune.relative_indices(np.asarray(mask, dtype=np.float32), index_bits)
        bits += len(values) * (32 + index_bits) + bias_bits(model, name)
    return _bytes(bits)


def layer_table(model, sharing, original_weights: dict) -> list:
    """Deep Compression's Table 2 for each shared layer of ``model``, and a total row (lesson 06).

    Parameters
    ----------
    model : keras.Model
        The pruned model (shared or not: only the kept positions and biases count).
    sharing : tinylab.quantize.WeightSharing
        Fitted on ``model`` with ``reserve_filler=True``.
    original_weights : dict of str -> int
        Each layer's kernel size before pruning (:func:`kernel_sizes`).

    Returns
    -------
    list of dict
        Per layer, then ``"total"``: ``weights``, ``kept``, ``entries`` (with fillers),
        ``kept_percent``, bits per weight and per index after P+Q and P+Q+H, ``bits_p``,
        ``bits_pq``, ``bits_pqh``, ``bits_float32``, and ``size_pq``, ``size_pqh`` (% of
        float32).
    """
    from . import prune

    rows = []
    for name in sharing.codebooks_:
        kernel = np.asarray(model.get_layer(name).kernel)
        index_bits = prune.INDEX_BITS[prune.layer_kind(kernel)]
        indices, gaps = layer_streams(sharing, name, index_bits)
        kept, entries, bits = int(np.count_nonzero(kernel)), len(indices), sharing.bits_[name]
        codebook_bits, biases = 32 * len(sharing.codebooks_[name]), bias_bits(model, name)
        huffman_index_bits = 8 * len(huffman.compress(indices)) if entries else 0
        huffman_gap_bits = 8 * len(huffman.compress(gaps)) if entries else 0
        rows.append({
            "layer": name, "weights": original_weights[name], "kept": kept, "entries": entries,
            "kept_percent": 100.0 * kept / original_weights[name],
            "weight_bits_pq": bits, "index_bits_pq": index_bits,
            "weight_bits_pqh": huffman_index_bits / max(entries, 1),
            "index_bits_pqh": huffman_gap_bits / max(entries, 1),
            "bits_p": entries * (32 + index_bits) + biases,
            "bits_pq": entries * (bits + index_bits) + codebook_bits + biases,
            "bits_pqh": huffman_index_bits + huffman_gap_bits + codebook_bits + biases,
            "bits_float32": 32 * original_weights[name] + biases,
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


def stage_bytes(table, key: str) -> int:
    """Bytes of stage ``key`` (``"pruned"``, ``"shared"`` or ``"huffman"``) by the total row
    of a :func:`layer_table`: its bits, rounded up to whole bytes (lesson 06)."""
    return _bytes(table[-1][_TABLE_BITS[key]])


def measure(key: str, model, n_bytes: int, *, data, reference_bytes: int) -> Stage:
    """Score ``model`` as stage ``key``: its accuracy on the validation and test splits.

    Parameters
    ----------
    key : str
        One of :data:`STAGES`.
    model : keras.Model
    n_bytes : int
        Its bytes as this stage stores it.
    data : tinylab.data.Dataset
    reference_bytes : int
        The starting float32 model's bytes (:func:`float_bytes`).

    Returns
    -------
    Stage
    """
    from . import train

    return Stage(key, model.name, train.accuracy(model, data.X_val, data.y_val),
                 train.accuracy(model, data.X_test, data.y_test), int(n_bytes),
                 int(reference_bytes))


def _copy(model):
    from ._tensorflow import keras

    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


def distill_stage(teacher, data, student: str, *, temperature: float = 4.0, alpha: float = 0.9,
                  epochs: int | None = None, learning_rate: float = 1e-2, seed: int = 0,
                  progress: bool = True):
    """A new ``student`` distilled from ``teacher`` (lesson 03's step); the teacher is unchanged.

    Parameters
    ----------
    teacher : keras.Model
    data : tinylab.data.Dataset
    student : str
        The student's architecture, one of :data:`tinylab.models.ARCHITECTURES`.
    temperature, alpha, learning_rate, seed, progress
        As :func:`tinylab.distill.distill`.
    epochs : int, optional
        Default: the student architecture's own epochs.

    Returns
    -------
    keras.Model
    """
    from . import distill, models

    model = models.build(student, data.input_shape, data.n_classes, seed=seed)
    distill.distill(model, teacher, data, temperature=temperature, alpha=alpha,
                    epochs=int(epochs or models.ARCHITECTURES[student]["epochs"]),
                    learning_rate=learning_rate, seed=seed, progress=progress)
    return model


def prune_stage(model, data, sparsity, *, steps: int = 4, epochs_per_step: int = 5,
                learning_rate: float = 1e-3, seed: int = 0, progress: bool = True):
    """A pruned, retrained copy of ``model`` without its dead units (lesson 04's steps).

    Parameters
    ----------
    model : keras.Model
        Left unchanged.
    data : tinylab.data.Dataset
    sparsity : float in [0, 1), dict {layer name: float}, or None
        Final sparsity of every layer (or of each named layer)
        (:func:`tinylab.prune.iterative_prune` with ``steps``, ``epochs_per_step``,
        ``learning_rate``, ``seed``); ``None`` keeps every weight and retrains nothing.
        Dead units (survey Fig. 5) are removed afterwards
        (:func:`tinylab.prune.remove_dead_neurons`).

    Returns
    -------
    pruned : keras.Model
    masks : dict of str -> ndarray of bool
        Its keep-masks, shaped like its kernels.
    """
    from . import prune

    pruned = _copy(model)
    if sparsity is None:
        masks = {name: np.ones(np.shape(pruned.get_layer(name).kernel), dtype=bool)
                 for name in prune.prunable_layers(pruned)}
    else:
        masks, _ = prune.iterative_prune(pruned, data, final_sparsity=sparsity, steps=steps,
                                         epochs_per_step=epochs_per_step,
                                         learning_rate=learning_rate, seed=seed,
                                         progress=progress)
    return prune.remove_dead_neurons(pruned, masks)


def share_stage(model, masks, data, bits: int, *, fine_tune_epochs: int = 3,
                learning_rate: float = 1e-3, seed: int = 0):
    """A weight-shared copy of a pruned model, its centroids fine-tuned (lesson 05's steps).

    Parameters
    ----------
    model : keras.Model
        The pruned model (:func:`prune_stage`); left unchanged.
    masks : dict of str -> ndarray of bool
        Its keep-masks.
    data : tinylab.data.Dataset
    bits : int
        Codebook index width of every layer; one index is kept free for the filler entries
        (``WeightSharing(reserve_filler=True)``).
    fine_tune_epochs : int
        Epochs of centroid fine-tuning (0 to skip), at ``learning_rate``.
    seed : int

    Returns
    -------
    shared : keras.Model
    sharing : tinylab.quantize.WeightSharing
        Its codebooks and indices.
    """
    from . import quantize

    shared = _copy(model)
    sharing = quantize.WeightSharing(bits, seed=seed, reserve_filler=True).fit(shared, masks)
    sharing.apply(shared)
    if fine_tune_epochs:
        sharing.fine_tune(shared, data, epochs=int(fine_tune_epochs), learning_rate=learning_rate,
                          seed=seed)
    return shared, sharing


def encode_stage(shared: Stage, table) -> Stage:
    """The P+Q+H stage (lesson 06): the shared model's scores, the Huffman-coded bytes.

    Huffman coding changes the bytes, never the weights, so nothing is measured again.

    Parameters
    ----------
    shared : Stage
        The ``"shared"`` stage.
    table : list of dict
        Its :func:`layer_table`.

    Returns
    -------
    Stage
    """
    return dataclasses.replace(shared, key="huffman", bytes=stage_bytes(table, "huffman"))


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
    from . import models, prune, quantize, train

    for fraction in (sparsity.values() if isinstance(sparsity, dict) else [sparsity]):
        prune.check_fraction(fraction)
    quantize.check_bits(bits, 1, 16)
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
    reference_bytes = float_bytes(start)
    score = functools.partial(measure, data=data, reference_bytes=reference_bytes)
    stages = [score("float32", start, reference_bytes)]
    current = start
    if student is not None:
        current = distill_stage(start, data, student, temperature=temperature, alpha=alpha,
                                epochs=distill_epochs, learning_rate=distill_learning_rate,
                                seed=seed, progress=progress)
        stages.append(score("distilled", current, float_bytes(current)))
    original_weights = kernel_sizes(current)
    pruned, masks = prune_stage(current, data, sparsity, steps=steps,
                                epochs_per_step=epochs_per_step,
                                learning_rate=prune_learning_rate, seed=seed, progress=progress)
    stages.append(score("pruned", pruned, pruned_bytes(pruned, masks)))
    shared, sharing = share_stage(pruned, masks, data, bits, fine_tune_epochs=fine_tune_epochs,
                                  learning_rate=fine_tune_learning_rate, seed=seed)
    table = layer_table(shared, sharing, original_weights)
    stages.append(score("shared", shared, stage_bytes(table, "shared")))
    stages.append(encode_stage(stages[-1], table))
    return PipelineResult(stages=[stage.row() for stage in stages], layers=table,
                          settings=settings, model=shared, sharing=sharing)
