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

The bytes of a compressed stage are the bytes the board's flash holds for the model's data:
the stage's Keras model is converted to int8 with the real TFLite converter
(:func:`tinylab.deploy.integer_model`) and counted by the one storage definition,
:func:`tinylab.engine.model_storage`, which adds up exactly the C arrays
:func:`tinylab.engine.generate_c` writes (:data:`STAGE_FORMATS`):

- **P** in the engine's ``"sparse"`` format (per-channel weight scales, the converter's
  default): per output row a count of entries, then per entry the zeros skipped (a gap) and
  the non-zero int8 weight;
- **P+Q** in ``"sparse"`` too, converted with one weight scale per layer so that a layer's
  few shared values stay few int8 values: with at most 15 of them an entry is EIE's single
  byte (a 4-bit gap and a 4-bit codebook index) and the layer stores its int8 codebook;
- **P+Q+H** in ``"huffman"`` (the same integer model as P+Q): gap and weight code words
  interleaved in one bit stream, with each op's two canonical code tables;
- every stage also holds each op's biases (3 bytes each when they fit 24 bits, else 4)
  and its requantization data (output multipliers and shifts), which Han et al.'s table
  leaves out. Code (the kernels and decoders, each op's small description) is not in these
  bytes; the compiler reports it (:data:`tinylab.compression_grid.ENGINE_CODE`).

The float32 and distilled stages are the reference: 4 bytes per parameter. Dead units
(survey Fig. 5) are removed after pruning, with identical outputs, which takes their biases
away too. Deep Compression's own layout (float32 values and codebooks, 5-bit relative
indices running across rows) is what lessons 04-07 work out by hand
(:func:`tinylab.prune.paper_storage`, :func:`layer_streams`); lesson 07 compares the two.

Each stage is also a function of its own, usable alone, and :func:`run` adds nothing they do
not expose: :func:`distill_stage`, :func:`prune_stage`, :func:`share_stage` (each returns a
new model and leaves its input unchanged) and :func:`encode_stage` (Huffman coding changes
the bytes, never the weights); :func:`compress_stages` converts the P and P+Q models
(:func:`convert_stage`) and counts their bytes (:func:`chip_storage`), :func:`layer_table`
reads those counts per layer, and :func:`measure` scores a stage's model into a
:class:`Stage` record. :data:`STAGES` names the stages; :data:`ROUTES` holds the routes
lessons and benchmarks run.
:mod:`tinylab.compression_grid` composes the same functions over a grid of settings.

``tinylab pipeline`` prints the same tables; lesson 07 ends with them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field

import numpy as np

# prune (whose MaskConstraint subclasses a Keras class) and quantize are imported inside the
# functions that use them, so that reading STAGES imports no TensorFlow: the compression
# explorer app (tinylab.compression_grid, tinylab.plot) must render without it.

__all__ = ["run", "PipelineResult", "PAPER_LENET_300_100", "STAGES", "ROUTES", "Stage",
           "stage_label", "measure", "distill_stage", "prune_stage", "share_stage",
           "encode_stage", "float_bytes", "kernel_sizes", "layer_float_bytes", "STAGE_FORMATS",
           "stage_format", "convert_stage", "chip_storage", "compress_stages", "layer_table",
           "layer_streams"]

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
    # Lesson 08's deep-compressed model (tinylab.deep_compressed, bench/mcu.py): the mlp300
    # teacher distilled into the lesson student at T=4, pruned to 70%, 4-bit shared.
    "distilled": {"model": "mlp300", "student": "student", "sparsity": 0.7, "bits": 4},
    # The deep-compressed teacher of bench/mcu.py: mlp300 pruned to 90%, 4-bit shared.
    "compressed_teacher": {"model": "mlp300", "sparsity": 0.9, "bits": 4},
}

#: How each stage's bytes are counted: the engine's weight format
#: (:data:`tinylab.engine.FORMATS`) and whether the int8 conversion gives each output channel
#: its own weight scale (``per_channel``). The float32 and distilled stages are counted as
#: float32 parameters (``"float32"``), the reference every ratio compares with.
STAGE_FORMATS = {
    "float32": {"format": "float32", "per_channel": None},
    "distilled": {"format": "float32", "per_channel": None},
    "pruned": {"format": "sparse", "per_channel": True},
    # one weight scale per layer: a layer's <= 15 shared floats stay <= 15 int8 values
    "shared": {"format": "sparse", "per_channel": False},
    "huffman": {"format": "huffman", "per_channel": False},
}

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
    """One measured stage of the pipeline (lesson 07): which stage, its scores, its bytes.

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
        The model's data in flash in the stage's format (:data:`STAGE_FORMATS`): weights and
        their tables, biases, requantization data; no code. For the float32 and distilled
        stages, 4 bytes per parameter.
    reference_bytes : int
        The starting float32 model's bytes.
    format : str
        ``"float32"``, or the engine format the bytes are counted in.
    parts : dict of str -> int
        The bytes by what they hold (:attr:`tinylab.engine.ModelStorage.parts`: ``weights``,
        ``gaps``, ``codebook``, ``code tables``, ``row lengths``, ``biases``,
        ``requantization``); ``{"float32 parameters": bytes}`` for a float32 stage.
    """

    key: str
    model: str
    val_accuracy: float
    test_accuracy: float
    bytes: int
    reference_bytes: int
    format: str = "float32"
    parts: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.key not in STAGES:
            raise ValueError(f"unknown stage {self.key!r}; the stages are {list(STAGES)}")
        if not self.parts:
            object.__setattr__(self, "parts", {"float32 parameters": int(self.bytes)})

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
                "test_accuracy": self.test_accuracy, "bytes": self.bytes, "ratio": self.ratio,
                "format": self.format, "parts": dict(self.parts)}


def stage_format(name: str) -> str:
    """The format a stage's bytes are counted in, by its key or its row's name (the app).

    >>> stage_format("P+Q + Huffman (P+Q+H)"), stage_format("pruned"), stage_format("float32")
    ('huffman', 'sparse', 'float32')
    """
    keys = {entry["stage"]: key for key, entry in STAGES.items()}
    key = keys.get(name, name)
    if key not in STAGE_FORMATS:
        raise ValueError(f"unknown stage {name!r}; the stages are {list(keys)}")
    return STAGE_FORMATS[key]["format"]


def stage_label(name: str) -> str:
    """The short label of a stage's name, for a figure's axis (lesson 07, the app).

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
        ``val_accuracy``, ``test_accuracy``, ``bytes``, ``ratio`` (the starting float32
        model's bytes / these bytes), ``format`` and ``parts``.
    layers : list of dict
        One row per layer and a ``"total"`` row, the columns of Deep Compression's Table 2
        read from the same counts (:func:`layer_table`).
    settings : dict
        The arguments of the run.
    model : keras.Model
        The final model (pruned, shared; Huffman coding does not change its weights).
    sharing : tinylab.quantize.WeightSharing
        Its codebooks and indices.
    storage : dict of str -> tinylab.engine.ModelStorage
        The compressed stages' bytes in flash, by stage key (``"pruned"``, ``"shared"``,
        ``"huffman"``): ``storage["huffman"].to_text()`` prints them op by op.
    integer_models : dict of str -> tinylab.engine.IntegerModel
        The int8 models those bytes hold: ``"pruned"`` (per-channel scales) and ``"shared"``
        (one scale per layer; also the P+Q+H stage's model).
    """

    stages: list
    layers: list
    settings: dict
    model: object = field(repr=False, default=None)
    sharing: object = field(repr=False, default=None)
    storage: dict = field(repr=False, default_factory=dict)
    integer_models: dict = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON-ready part: stages, layers, settings and the paper's numbers."""
        return {"settings": self.settings, "stages": self.stages, "layers": self.layers,
                "paper": PAPER_LENET_300_100}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        """Both tables as aligned plain text, the paper's LeNet-300-100 numbers underneath."""
        def bits(value):
            return "mixed" if value is None else f"{value:.1f}"

        stage_rows = [[s["stage"], s["model"], s["format"], f"{s['test_accuracy']:.2%}",
                       f"{s['bytes']:,}", f"{s['ratio']:.1f}x"] for s in self.stages]
        layer_rows = [[r["layer"], f"{r['weights']:,}", f"{r['kept_percent']:.1f}%",
                       r["layout_pq"], bits(r["weight_bits_pq"]), bits(r["weight_bits_pqh"]),
                       bits(r["index_bits_pq"]), bits(r["index_bits_pqh"]),
                       f"{r['bytes_p']:,}", f"{r['bytes_pq']:,}", f"{r['bytes_pqh']:,}",
                       f"{r['size_pq']:.1f}%", f"{r['size_pqh']:.1f}%"] for r in self.layers]
        paper = PAPER_LENET_300_100
        return "\n".join([
            _table(["stage", "model", "format", "test accuracy", "bytes", "vs float32"],
                   stage_rows),
            "",
            _table(["layer", "weights", "kept", "layout P+Q", "weight bits P+Q", "P+Q+H",
                    "index bits P+Q", "P+Q+H", "bytes P", "P+Q", "P+Q+H", "size P+Q", "P+Q+H"],
                   layer_rows),
            "",
            "Bytes: the model's data in the board's flash (int8 weights and their tables, "
            "biases, requantization data; no code); size: % of the layer as float32.",
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
    """Deep Compression's two symbol streams of one shared, pruned layer (the paper's layout).

    The layout lessons 04-07 work out by hand: one relative index running across the rows
    (:func:`tinylab.prune.relative_indices`, ``index_bits`` wide) and a codebook index per
    entry. The board stores the same model otherwise (:mod:`tinylab.engine.formats.sparse`,
    :mod:`tinylab.engine.formats.huffman`), and the stages' bytes are the board's
    (:func:`chip_storage`); lesson 07 and ``tl.widgets.huffman_explorer`` use these streams to
    show Huffman coding at work.

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
    (lesson 07)."""
    from . import models

    return 4 * models.count_params(model)


def kernel_sizes(model) -> dict:
    """{layer name: number of kernel weights} of every layer with a kernel (lesson 07).

    Taken before pruning, they are Table 2's ``weights`` column (:func:`layer_table`).
    """
    from . import prune

    return {name: int(np.size(model.get_layer(name).kernel))
            for name in prune.prunable_layers(model)}


def layer_float_bytes(model) -> dict:
    """{layer name: bytes of its kernel and biases as float32} of every layer with a kernel.

    Taken before pruning, they are what :func:`layer_table` compares each stage's bytes with
    (lesson 07).
    """
    from . import prune

    sizes = {}
    for name in prune.prunable_layers(model):
        layer = model.get_layer(name)
        bias = getattr(layer, "bias", None)
        n_biases = 0 if bias is None else int(np.size(bias))
        sizes[name] = 4 * (int(np.size(layer.kernel)) + n_biases)
    return sizes


def convert_stage(model, data, key: str, *, seed: int = 0):
    """A stage's Keras model as the int8 model a board runs, converted as :data:`STAGE_FORMATS`
    says (per-channel weight scales for P, one per layer for P+Q and P+Q+H).

    Parameters
    ----------
    model : keras.Model
    data : tinylab.data.Dataset
        Its training split is the converter's representative data.
    key : {"pruned", "shared", "huffman"}
    seed : int

    Returns
    -------
    tinylab.engine.IntegerModel
    """
    from . import deploy

    if STAGE_FORMATS.get(key, {}).get("per_channel") is None:
        converted = [k for k, v in STAGE_FORMATS.items() if v["per_channel"] is not None]
        raise ValueError(f"stage {key!r} is counted as float32, not converted; convert one of "
                         f"{converted}")
    integer, _ = deploy.integer_model(model, data, seed=seed,
                                      per_channel=STAGE_FORMATS[key]["per_channel"])
    return integer


def chip_storage(integer_model, key: str):
    """Stage ``key``'s bytes in flash: :func:`tinylab.engine.model_storage` of its int8 model in
    the stage's format (:data:`STAGE_FORMATS`): weights and their tables, biases,
    requantization data, exactly the arrays :func:`tinylab.engine.generate_c` writes; no code.

    Returns
    -------
    tinylab.engine.ModelStorage
    """
    from . import engine

    fmt = STAGE_FORMATS.get(key, {}).get("format")
    if fmt not in engine.FORMATS:
        chip = [k for k, v in STAGE_FORMATS.items() if v["format"] in engine.FORMATS]
        raise ValueError(f"stage {key!r} is counted as float32; the chip's stages are {chip}")
    return engine.model_storage(integer_model, fmt)


def _gap_bits(layout: str) -> int:
    from .engine.formats import sparse

    return int(sparse.GAP_LIMITS[layout]).bit_length()


def layer_table(storage: dict, coded_model, original_weights: dict,
                original_bytes: dict) -> list:
    """Deep Compression's Table 2 for each layer with weights, and a total row (lesson 07).

    Read from the stages' :class:`tinylab.engine.ModelStorage` (:func:`chip_storage`), so
    its bytes are the stages' bytes, op by op: no second count.

    Parameters
    ----------
    storage : dict of str -> tinylab.engine.ModelStorage
        ``"pruned"``, ``"shared"`` and ``"huffman"``, as :attr:`PipelineResult.storage`.
    coded_model : tinylab.engine.IntegerModel
        The P+Q+H stage's int8 model: its Huffman streams split the stream's bits between
        weights and gaps (``tinylab.engine.store(op, "huffman").details``).
    original_weights : dict of str -> int
        Each layer's kernel size before pruning (:func:`kernel_sizes`), in the model's order:
        the ops with weights, in order, are these layers.
    original_bytes : dict of str -> int
        Each layer's float32 bytes (kernel and biases) before pruning
        (:func:`layer_float_bytes`).

    Returns
    -------
    list of dict
        Per layer, then ``"total"``: ``layer``, ``op`` (the engine's name), ``weights``,
        ``kept`` (non-zero int8 weights after P+Q), ``entries`` (P+Q's, fillers included),
        ``kept_percent``, ``layout_pq`` (``"shared"``: EIE's byte; ``"wide"``: gap byte +
        weight byte), bits per weight and per index (gap) after P+Q and P+Q+H
        (``weight_bits_pq``, ``index_bits_pq``, ``weight_bits_pqh``, ``index_bits_pqh``: per
        stored entry; None in the total when layers differ), ``bytes_p``, ``bytes_pq``,
        ``bytes_pqh`` (all of the op's data in flash), ``bytes_float32``, and ``size_p``,
        ``size_pq``, ``size_pqh`` (% of float32).
    """
    from .engine import store

    ops = {key: storage[key].ops for key in ("pruned", "shared", "huffman")}
    coded = {op.name: op for op in coded_model.layers}
    names = list(original_weights)
    if not all(len(found) == len(names) for found in ops.values()):
        raise ValueError(f"{len(names)} layers with weights ({names}) but the stages store "
                         f"{ {k: [op.name for op in v] for k, v in ops.items()} }")
    rows = []
    for name, p, pq, pqh in zip(names, ops["pruned"], ops["shared"], ops["huffman"]):
        entries = max(pq.n_entries, 1)
        index_bits = _gap_bits(pq.layout)
        streams = store(coded[pqh.name], "huffman").details
        rows.append({
            "layer": name, "op": pq.name, "weights": original_weights[name],
            "kept": pq.n_nonzero, "entries": pq.n_entries,
            "kept_percent": 100.0 * pq.n_nonzero / original_weights[name],
            "layout_pq": pq.layout,
            "weight_bits_pq": 8 * pq.parts.get("weights", 0) / entries - index_bits,
            "index_bits_pq": index_bits,
            "weight_bits_pqh": streams["weight_bits"] / max(pqh.n_entries, 1),
            "index_bits_pqh": streams["gap_bits"] / max(pqh.n_entries, 1),
            "huffman_entries": pqh.n_entries,
            "bytes_p": p.nbytes, "bytes_pq": pq.nbytes, "bytes_pqh": pqh.nbytes,
            "bytes_float32": original_bytes[name],
        })
    total = {"layer": "total", "op": "",
             "layout_pq": "/".join(sorted({r["layout_pq"] for r in rows}))}
    for key in ("weights", "kept", "entries", "huffman_entries", "bytes_p", "bytes_pq",
                "bytes_pqh", "bytes_float32"):
        total[key] = sum(r[key] for r in rows)
    # every op's data in flash, also of ops without weights (none in an MLP)
    total["bytes_p"] = storage["pruned"].nbytes
    total["bytes_pq"], total["bytes_pqh"] = storage["shared"].nbytes, storage["huffman"].nbytes
    total["kept_percent"] = 100.0 * total["kept"] / max(total["weights"], 1)
    for key in ("weight_bits_pq", "index_bits_pq"):
        values = {r[key] for r in rows}
        total[key] = values.pop() if len(values) == 1 else None
    for key in ("weight_bits_pqh", "index_bits_pqh"):
        total[key] = sum(r[key] * r["huffman_entries"] for r in rows) / max(
            total["huffman_entries"], 1)
    rows.append(total)
    for row in rows:
        for stage in ("p", "pq", "pqh"):
            row[f"size_{stage}"] = 100.0 * row[f"bytes_{stage}"] / row["bytes_float32"]
    return rows


def measure(key: str, model, n_bytes, *, data, reference_bytes: int) -> Stage:
    """Score ``model`` as stage ``key``: its accuracy on the validation and test splits.

    Parameters
    ----------
    key : str
        One of :data:`STAGES`.
    model : keras.Model
    n_bytes : int or tinylab.engine.ModelStorage
        Its bytes as this stage stores them: a compressed stage's :func:`chip_storage`
        (which gives the format and the parts too), or a float32 stage's :func:`float_bytes`.
    data : tinylab.data.Dataset
    reference_bytes : int
        The starting float32 model's bytes (:func:`float_bytes`).

    Returns
    -------
    Stage
    """
    from . import train

    stored = {}
    if hasattr(n_bytes, "parts"):  # a ModelStorage
        stored = {"format": n_bytes.format, "parts": dict(n_bytes.parts)}
        n_bytes = n_bytes.nbytes
    return Stage(key, model.name, train.accuracy(model, data.X_val, data.y_val),
                 train.accuracy(model, data.X_test, data.y_test), int(n_bytes),
                 int(reference_bytes), **stored)


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
    """A weight-shared copy of a pruned model, its centroids fine-tuned (lesson 06's steps).

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


def encode_stage(shared: Stage, storage) -> Stage:
    """The P+Q+H stage (lesson 07): the shared model's scores, the Huffman-coded bytes.

    Huffman coding changes the bytes, never the weights, so nothing is measured again.

    Parameters
    ----------
    shared : Stage
        The ``"shared"`` stage.
    storage : tinylab.engine.ModelStorage
        Its int8 model in the ``"huffman"`` format (:func:`chip_storage` with
        ``"huffman"``).

    Returns
    -------
    Stage
    """
    return dataclasses.replace(shared, key="huffman", bytes=storage.nbytes,
                               format=storage.format, parts=dict(storage.parts))


def compress_stages(pruned, shared, data, *, seed: int = 0) -> tuple:
    """The int8 models and bytes in flash of the P, P+Q and P+Q+H stages (lesson 07).

    Parameters
    ----------
    pruned : keras.Model
        The P stage's model (:func:`prune_stage`).
    shared : keras.Model
        The P+Q stage's model (:func:`share_stage`), also P+Q+H's.
    data : tinylab.data.Dataset
    seed : int

    Returns
    -------
    integer_models : dict
        ``"pruned"`` and ``"shared"``: :func:`convert_stage`.
    storage : dict
        ``"pruned"``, ``"shared"``, ``"huffman"``: :func:`chip_storage`.
    """
    integer_models = {"pruned": convert_stage(pruned, data, "pruned", seed=seed),
                      "shared": convert_stage(shared, data, "shared", seed=seed)}
    storage = {"pruned": chip_storage(integer_models["pruned"], "pruned"),
               "shared": chip_storage(integer_models["shared"], "shared"),
               "huffman": chip_storage(integer_models["shared"], "huffman")}
    return integer_models, storage


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
        Codebook index width of every layer (Han et al.: 5 for fully connected layers). At 4
        bits or fewer a layer's shared values fit the board's 4-bit codebook index (EIE's
        byte, :mod:`tinylab.engine.formats.sparse`); wider codebooks are stored a gap byte
        and a weight byte per entry.
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
    original_weights, original_bytes = kernel_sizes(current), layer_float_bytes(current)
    pruned, masks = prune_stage(current, data, sparsity, steps=steps,
                                epochs_per_step=epochs_per_step,
                                learning_rate=prune_learning_rate, seed=seed, progress=progress)
    shared, sharing = share_stage(pruned, masks, data, bits, fine_tune_epochs=fine_tune_epochs,
                                  learning_rate=fine_tune_learning_rate, seed=seed)
    integer_models, storage = compress_stages(pruned, shared, data, seed=seed)
    stages.append(score("pruned", pruned, storage["pruned"]))
    stages.append(score("shared", shared, storage["shared"]))
    stages.append(encode_stage(stages[-1], storage["huffman"]))
    table = layer_table(storage, integer_models["shared"], original_weights, original_bytes)
    return PipelineResult(stages=[stage.row() for stage in stages], layers=table,
                          settings=settings, model=shared, sharing=sharing, storage=storage,
                          integer_models=integer_models)
