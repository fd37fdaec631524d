"""A recorded grid of the whole compression pipeline, for an app that answers instantly.

The "Compression explorer" app (``notebooks/apps/compression_explorer.ipynb``) lets a visitor
move sliders for the distillation temperature, the sparsity and the bit width and see, at
once, what every stage of lesson 07's pipeline buys: bytes and accuracy, from the float32
teacher to the Huffman-coded model, and whether the result fits an Arduino Uno or a Nano 33
BLE. Training at every slider move would take a minute; so the grid is computed once, here,
with the lessons' own functions, and committed as ``datasets/compression_grid/grid.json``.
The app only reads it (:func:`load`) and never imports TensorFlow.

One grid point is the route of :func:`tinylab.pipeline.run`:

    teacher (mlp300, float32) -> [distill into student at temperature T] -> prune to sparsity s
        + retrain, dead units removed (P) -> k-means weight sharing at b bits, centroids
        fine-tuned (P+Q) -> Huffman coding of indices and gaps (P+Q+H)

with "no distillation" (``temperature=None``) compressing the teacher itself. Bytes are
counted as :mod:`tinylab.pipeline` counts them: each compressed stage's model converted to
int8 and counted by :func:`tinylab.engine.model_storage`, i.e. the model's data in the
board's flash (P and P+Q in the engine's ``sparse`` format, P+Q+H in ``huffman``; weights and
their tables, biases, requantization data), the float32 stages at 4 bytes per parameter.
:func:`compute_grid` composes the same stage functions as :func:`tinylab.pipeline.run`
(``distill_stage``, ``prune_stage``, ``share_stage``, ``compress_stages``, ``encode_stage``)
and reuses work across the grid: the teacher is trained once, each temperature distills
once, each (temperature, sparsity) prunes once, and only sharing + fine-tuning + conversion
runs per bit width. :func:`board_fit` compares like with like: the model's data plus the
firmware's fixed part (:data:`FIXED_FIRMWARE`) plus the engine's code for the stage's format
(:data:`ENGINE_CODE`) against the board's flash.

Run it from the repository root (``datasets/compression_grid/README.md`` has the command
the committed grid was recorded with):

    .venv/bin/python -m tinylab.compression_grid --out datasets/compression_grid/grid.json

Introduced by the app of issue 7; the stages are lessons 03-07.
"""

from __future__ import annotations

import functools
import json
import math
import time
from pathlib import Path

from . import _paths, pipeline

__all__ = ["DEFAULT_PATH", "TEMPERATURES", "SPARSITIES", "BITS", "SETTINGS", "STAGES",
           "FIXED_FIRMWARE", "ENGINE_CODE", "compute_point", "compute_grid", "validate", "load",
           "point", "stages_for", "board_fit", "main"]

#: Where the recorded grid is committed.
DEFAULT_PATH = _paths.DATASETS_DIR / "compression_grid" / "grid.json"

#: The axes of the recorded grid. ``None``: no distillation (the teacher is compressed).
#: Chosen to teach, and to record in about a quarter of an hour on 2 cores: temperatures
#: from the ordinary softmax (1) to very soft (8); sparsities from none to 95%, denser where
#: accuracy starts to fall; bit widths from 2 (3 shared values) to 8 (6 left out: it adds
#: little beside 5 and 8, and the recording stays near a quarter of an hour).
TEMPERATURES = (None, 1.0, 2.0, 4.0, 8.0)
SPARSITIES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
BITS = (2, 3, 4, 5, 8)

#: Every other setting of the route. The distillation is lesson 03's: the course's student
#: (64-32-10) with ``tl.distill.DISTILLED_RECIPE``'s alpha, epochs, learning rate and transfer
#: set (the training digits plus ``distill_transfer``'s mixed copies, labelled by the teacher;
#: written
#: out here because importing ``tinylab.distill`` loads TensorFlow, which the app must not;
#: tests/test_compression_grid.py checks they agree); pruning and sharing as lesson 07 and
#: ``bench/quantize.py``'s routes.
SETTINGS = {"dataset": "digits", "data_seed": 0, "model": "mlp300", "student": "student",
            "alpha": 0.9, "distill_epochs": 40, "distill_learning_rate": 1e-3,
            "distill_transfer": {"copies": 4, "shift": 0, "noise_std": 0.0, "mixup": 0.5},
            "steps": 4,
            "epochs_per_step": 5, "prune_learning_rate": 1e-3, "fine_tune_epochs": 3,
            "fine_tune_learning_rate": 1e-3, "seed": 0}

#: The stage names, in order: the ``stage`` of each of :data:`tinylab.pipeline.STAGES`.
STAGES = tuple(entry["stage"] for entry in pipeline.STAGES.values())

#: The flash an inference firmware takes before any model: TinyLab's inference sketch built
#: around an empty model (``tl_model_run`` writes zeros): the Arduino core, Serial, the line
#: protocol, the cycle counter and the stack painter. Measured 2026-12-05 by building
#: ``bench/mcu.py``'s ``empty_sketch()`` sketch (compile only; avr-gcc 5.4.0, Debian
#: arduino-core-avr 1.8.7): 3,422 bytes (docs/benchmarks.md's 3,238 of 2026-11-24 predates
#: the sketch's current version). The engine's code is not in it: :data:`ENGINE_CODE`.
#: The Nano 33 BLE's mbed core cannot be built offline here, so its fixed cost is unmeasured
#: (``None``): its model bytes are compared with the whole usable flash.
FIXED_FIRMWARE = {
    "uno": {"flash_bytes": 3422,
            "source": "bench/mcu.py empty_sketch(): the inference sketch around an empty "
                      "model, built 2026-12-05, avr-gcc 5.4.0, arduino-core-avr 1.8.7"},
    "nano33ble": {"flash_bytes": None,
                  "source": "not measured: the mbed core (arduino:mbed_nano) is not installable "
                            "offline here; compared with the whole usable flash"},
}

#: The engine's code in flash, per weight format: firmware flash - :data:`FIXED_FIRMWARE` -
#: the model's data (:func:`tinylab.engine.model_storage`), i.e. the engine's common code,
#: the format's decoder, the op kernels and each op's description. Measured 2026-12-05 on
#: the Uno (avr-gcc 5.4.0, the engine of commit 359e061) with
#: ``tinylab.deploy.build_firmware(mlp, format, "uno")`` for the compressed teacher
#: (``tl.pipeline.ROUTES["compressed_teacher"]``, three fully connected ops, converted with
#: ``per_channel=False``): int8 43,704 - 3,422 - 38,864; sparse 11,350 - 3,422 - 6,442;
#: huffman 10,996 - 3,422 - 5,630 bytes. The distilled student (``ROUTES["distilled"]``,
#: two ops) measured 35-48 bytes less per format (1,383, 1,444, 1,896): each op's
#: description; the grid's models have two or three ops, so the three-op numbers are used.
#: Measure again when the engine's C changes. Not measured for the Nano 33 BLE (``None``).
ENGINE_CODE = {
    "uno": {"int8": 1418, "sparse": 1486, "huffman": 1944,
            "source": "tinylab.deploy.build_firmware on the compressed teacher (3 ops), "
                      "2026-12-05, avr-gcc 5.4.0: flash - empty sketch - model data"},
    "nano33ble": {"int8": None, "sparse": None, "huffman": None,
                  "source": "not measured: no mbed toolchain offline here"},
}

#: 2: the bytes are the board's (tinylab.engine.model_storage); 1 counted the paper's layout.
_SCHEMA = 2
_STAGE_KEYS = ("stage", "model", "val_accuracy", "test_accuracy", "bytes", "ratio", "format",
               "parts")


# --------------------------------------------------------------------------- computing


def _check_axes(temperatures, sparsities, bits_list):
    from . import distill, prune, quantize

    temperatures = [None if t is None else distill.check_temperature(t) for t in temperatures]
    sparsities = [prune.check_fraction(s) for s in sparsities]
    bits_list = [quantize.check_bits(b, 2, 16) for b in bits_list]
    for name, values in (("temperatures", temperatures), ("sparsities", sparsities),
                         ("bits", bits_list)):
        if not values:
            raise ValueError(f"{name} must list at least one value")
        if len(set(values)) != len(values):
            raise ValueError(f"{name} has repeated values: {values}")
    return temperatures, sparsities, bits_list


def compute_point(temperature, sparsity, bits, data=None, *, settings=None,
                  progress: bool = False) -> dict:
    """One grid point, computed from scratch with the same steps as :func:`compute_grid`.

    Parameters
    ----------
    temperature : float > 0, or None
        Distill the teacher into the student at this softmax temperature; ``None``
        compresses the teacher itself (no "distilled" stage).
    sparsity : float in [0, 1)
        Final sparsity of every layer with a kernel (0: no pruning, no retraining).
    bits : int, 2 to 16
        Codebook index width.
    data : tinylab.data.Dataset, optional
        Default ``tl.data.load(settings["dataset"], seed=settings["data_seed"])``.
    settings : dict, optional
        Overrides of :data:`SETTINGS`.
    progress : bool
        Training progress bars.

    Returns
    -------
    dict
        ``temperature``, ``sparsity``, ``bits``, ``kept_percent`` and ``stages``: one dict per
        stage (``stage``, ``model``, ``val_accuracy``, ``test_accuracy``, ``bytes``, ``ratio``
        against the teacher's float32 bytes, ``format``, ``parts``), as in
        :attr:`tinylab.pipeline.PipelineResult.stages`.
    """
    grid = compute_grid([temperature], [sparsity], [bits], data, settings=settings,
                        progress=progress, training_progress=progress)
    return grid["points"][0]


def compute_grid(temperatures=TEMPERATURES, sparsities=SPARSITIES, bits=BITS, data=None, *,
                 settings=None, progress: bool = True, training_progress: bool = False) -> dict:
    """Every (temperature, sparsity, bits) point, reusing work; the JSON-ready grid.

    The teacher is trained (or loaded from the workspace) once, each temperature distills
    once, each (temperature, sparsity) prunes and retrains once; each bit width then shares,
    fine-tunes and Huffman-codes a copy of that pruned model. A tqdm bar counts the points.

    Parameters
    ----------
    temperatures : sequence of float or None
    sparsities : sequence of float in [0, 1)
    bits : sequence of int
    data : tinylab.data.Dataset, optional
    settings : dict, optional
        Overrides of :data:`SETTINGS`.
    progress : bool
        The grid's progress bar.
    training_progress : bool
        Progress bars of every training run too.

    Returns
    -------
    dict
        ``schema``, ``settings``, ``axes``, ``teacher``, ``points`` (see
        :func:`compute_point`), ``seconds`` (wall-clock time of the computation).
    """
    from tqdm.auto import tqdm

    from . import data as datasets
    from . import distill, train

    temperatures, sparsities, bits_list = _check_axes(temperatures, sparsities, bits)
    settings = dict(SETTINGS, **(settings or {}))
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(SETTINGS)}")
    if data is None:
        data = datasets.load(settings["dataset"], seed=settings["data_seed"])
    settings.update(dataset=data.name, data_seed=data.seed)
    start = time.perf_counter()
    teacher = train.load_or_train(settings["model"], data, seed=settings["seed"],
                                  progress=training_progress)
    reference_bytes = pipeline.float_bytes(teacher)
    score = functools.partial(pipeline.measure, data=data, reference_bytes=reference_bytes)
    teacher_row = score("float32", teacher, reference_bytes).row()
    seed = settings["seed"]
    points, transfer = [], None
    total = len(temperatures) * len(sparsities) * len(bits_list)
    with tqdm(total=total, desc="compression grid", unit="point", disable=not progress) as bar:
        for temperature in temperatures:
            bar.set_postfix_str(f"T={temperature} distilling")
            base, head = teacher, [teacher_row]
            if temperature is not None:
                if transfer is None:  # drawn once: the teacher labels it, whatever T
                    transfer = distill.transfer_set(teacher, data, seed=seed,
                                                    **settings["distill_transfer"])
                base = pipeline.distill_stage(
                    teacher, transfer, settings["student"], temperature=temperature,
                    alpha=settings["alpha"], epochs=settings["distill_epochs"],
                    learning_rate=settings["distill_learning_rate"], seed=seed,
                    progress=training_progress)
                head.append(score("distilled", base, pipeline.float_bytes(base)).row())
            original_weights = pipeline.kernel_sizes(base)
            original_bytes = pipeline.layer_float_bytes(base)
            for sparsity in sparsities:
                bar.set_postfix_str(f"T={temperature} s={sparsity} pruning")
                # sparsity 0 (None to prune_stage) prunes nothing and does not retrain
                pruned, masks = pipeline.prune_stage(
                    base, data, sparsity or None, steps=settings["steps"],
                    epochs_per_step=settings["epochs_per_step"],
                    learning_rate=settings["prune_learning_rate"], seed=seed,
                    progress=training_progress)
                pruned_int8 = pipeline.convert_stage(pruned, data, "pruned", seed=seed)
                pruned_storage = pipeline.chip_storage(pruned_int8, "pruned")
                pruned_row = score("pruned", pruned, pruned_storage).row()
                for width in bits_list:
                    bar.set_postfix_str(f"T={temperature} s={sparsity} b={width}")
                    shared, _ = pipeline.share_stage(
                        pruned, masks, data, width, fine_tune_epochs=settings["fine_tune_epochs"],
                        learning_rate=settings["fine_tune_learning_rate"], seed=seed)
                    shared_int8 = pipeline.convert_stage(shared, data, "shared", seed=seed)
                    storage = {"pruned": pruned_storage,
                               "shared": pipeline.chip_storage(shared_int8, "shared"),
                               "huffman": pipeline.chip_storage(shared_int8, "huffman")}
                    table = pipeline.layer_table(storage, shared_int8, original_weights,
                                                 original_bytes)
                    shared_stage = score("shared", shared, storage["shared"])
                    points.append({"temperature": temperature, "sparsity": sparsity,
                                   "bits": width, "kept_percent": table[-1]["kept_percent"],
                                   "stages": [*head, pruned_row, shared_stage.row(),
                                              pipeline.encode_stage(shared_stage,
                                                                    storage["huffman"]).row()]})
                    bar.update(1)
    return {"schema": _SCHEMA, "settings": settings,
            "axes": {"temperature": temperatures, "sparsity": sparsities, "bits": bits_list},
            "teacher": teacher_row, "points": points,
            "seconds": round(time.perf_counter() - start, 1)}


# --------------------------------------------------------------------------- reading


def _bad(path, what) -> ValueError:
    return ValueError(f"{path} is not a valid compression grid: {what}. Record one with "
                      f"`python -m tinylab.compression_grid --out {path}` "
                      f"(see datasets/compression_grid/README.md)")


def _key(temperature, sparsity, bits):
    return (None if temperature is None else float(temperature), round(float(sparsity), 6),
            int(bits))


def _check_number(value, path, where, low=-math.inf, high=math.inf):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise _bad(path, f"{where} must be a number in [{low}, {high}], got {value!r}")


def validate(grid, path) -> dict:
    """Check a grid read from JSON and add its ``_index`` (what :func:`load` does after reading).

    Parameters
    ----------
    grid : dict
        The JSON's content.
    path : str or Path
        Where it came from, named in the error message.

    Returns
    -------
    dict
        ``grid`` itself, with ``_index``.

    Raises
    ------
    ValueError
        If it does not hold a complete grid.
    """
    if not isinstance(grid, dict):
        raise _bad(path, f"the top level must be an object, got {type(grid).__name__}")
    if grid.get("schema") != _SCHEMA:
        raise _bad(path, f"schema must be {_SCHEMA}, got {grid.get('schema')!r}")
    for key in ("settings", "axes", "teacher", "points"):
        if key not in grid:
            raise _bad(path, f"it lacks {key!r}")
    axes = grid["axes"]
    if not isinstance(axes, dict) or set(axes) != {"temperature", "sparsity", "bits"} \
            or not all(isinstance(v, list) and v for v in axes.values()):
        raise _bad(path, "axes must hold non-empty lists 'temperature', 'sparsity', 'bits'")
    for t in axes["temperature"]:
        if t is not None:
            _check_number(t, path, "a temperature", 1e-9)
    for s in axes["sparsity"]:
        _check_number(s, path, "a sparsity", 0.0, 0.999999)
    for b in axes["bits"]:
        if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= 16:
            raise _bad(path, f"a bit width must be a whole number 1..16, got {b!r}")
    index = {}
    for i, entry in enumerate(grid["points"]):
        if not isinstance(entry, dict) \
                or not {"temperature", "sparsity", "bits", "stages"} <= set(entry):
            raise _bad(path, f"points[{i}] must hold temperature, sparsity, bits and stages")
        names = [s.get("stage") for s in entry["stages"] if isinstance(s, dict)]
        expected = [n for n in STAGES if n != "distilled" or entry["temperature"] is not None]
        if names != expected:
            raise _bad(path, f"points[{i}] stages must be {expected}, got {names}")
        for stage in entry["stages"]:
            missing = [k for k in _STAGE_KEYS if k not in stage]
            if missing:
                raise _bad(path, f"points[{i}] stage {stage['stage']!r} lacks {missing}")
            _check_number(stage["val_accuracy"], path, f"points[{i}] accuracy", 0, 1)
            _check_number(stage["test_accuracy"], path, f"points[{i}] accuracy", 0, 1)
            _check_number(stage["bytes"], path, f"points[{i}] bytes", 1)
        index[_key(entry["temperature"], entry["sparsity"], entry["bits"])] = entry
    wanted = [_key(t, s, b) for t in axes["temperature"] for s in axes["sparsity"]
              for b in axes["bits"]]
    missing = [k for k in wanted if k not in index]
    if missing or len(index) != len(grid["points"]):
        raise _bad(path, f"points must cover the axes exactly once each; missing {missing[:3]}"
                         f"{' ...' if len(missing) > 3 else ''}"
                         f"{'' if len(index) == len(grid['points']) else ', or some repeated'}")
    grid["_index"] = index
    return grid


def load(path=None) -> dict:
    """Read and validate a recorded grid (default :data:`DEFAULT_PATH`).

    Returns
    -------
    dict
        The JSON's content (see ``datasets/compression_grid/README.md``) plus ``_index``, a
        {(temperature, sparsity, bits): point} lookup used by :func:`point`.

    Raises
    ------
    ValueError
        If the file is missing, is not JSON, or does not hold a complete grid.
    """
    path = Path(DEFAULT_PATH if path is None else path)
    if not path.is_file():
        raise ValueError(f"no compression grid at {path}. The committed one is "
                         f"{DEFAULT_PATH}; record one with "
                         f"`python -m tinylab.compression_grid --out {path}`")
    try:
        grid = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _bad(path, f"not JSON ({error})") from None
    return validate(grid, path)


def point(grid: dict, temperature, sparsity, bits) -> dict:
    """The recorded point at these settings; ValueError naming the axes if it is not there."""
    entry = grid["_index"].get(_key(temperature, sparsity, bits))
    if entry is None:
        raise ValueError(f"no grid point at temperature={temperature!r}, sparsity={sparsity!r}, "
                         f"bits={bits!r}; the grid has {grid['axes']}")
    return entry


def stages_for(entry: dict, huffman: bool = True) -> list:
    """The stages of a point to show: all of them, or without the Huffman stage."""
    return [s for s in entry["stages"] if huffman or s["stage"] != STAGES[-1]]


def board_fit(board_id: str, model_bytes: int, format: str | None = None) -> dict:
    """Whether a model's data fits in the flash a board has left after the firmware's code.

    Compares like with like: the model's data in flash (a stage's ``bytes``,
    :func:`tinylab.engine.model_storage`) against the board's usable flash
    (``boards/<id>.json``) minus :data:`FIXED_FIRMWARE` (the inference sketch without a
    model) minus the engine's code for ``format`` (:data:`ENGINE_CODE`). What is unmeasured
    (the Nano 33 BLE's) is not subtracted. Flash only: RAM for activations is not compared.

    Parameters
    ----------
    board_id : str
        ``"uno"`` or ``"nano33ble"``.
    model_bytes : int
        The model's data in flash.
    format : {"int8", "sparse", "huffman"}, optional
        The engine format the bytes are in (:func:`tinylab.pipeline.stage_format`); None
        subtracts no engine code.

    Returns
    -------
    dict
        ``board`` (name), ``fits``, ``model_bytes``, ``flash_left_bytes`` (for the model's
        data), ``flash_usable_bytes``, ``fixed_bytes`` and ``engine_code_bytes`` (None when
        unmeasured), ``format``, ``share`` (model / flash left).
    """
    from . import boards

    if format is not None and format not in ENGINE_CODE["uno"]:
        raise ValueError(f"unknown format {format!r}; choose one of "
                         f"{[k for k in ENGINE_CODE['uno'] if k != 'source']}")
    profile = boards.load(board_id)
    fixed = FIXED_FIRMWARE.get(board_id, {}).get("flash_bytes")
    code = None if format is None else ENGINE_CODE.get(board_id, {}).get(format)
    left = profile["flash_usable_bytes"] - (fixed or 0) - (code or 0)
    return {"board": profile["name"], "fits": model_bytes <= left, "model_bytes": int(model_bytes),
            "flash_left_bytes": int(left), "flash_usable_bytes": int(profile["flash_usable_bytes"]),
            "fixed_bytes": fixed, "engine_code_bytes": code, "format": format,
            "share": model_bytes / left}


# --------------------------------------------------------------------------- command line


def _json_ready(grid: dict) -> dict:
    return {k: v for k, v in grid.items() if not k.startswith("_")}


def main(argv=None) -> int:
    """``python -m tinylab.compression_grid [--out PATH] [--quick]``: record a grid."""
    import argparse
    import datetime
    import sys

    parser = argparse.ArgumentParser(prog="python -m tinylab.compression_grid",
                                     description="Record the compression explorer's grid.")
    parser.add_argument("--out", default=str(DEFAULT_PATH), help="where to write the JSON")
    parser.add_argument("--quick", action="store_true",
                        help="a 2x2x2 grid, to try the command (a minute or two)")
    args = parser.parse_args(argv)
    axes = ((None, 4.0), (0.0, 0.9), (3, 5)) if args.quick else (TEMPERATURES, SPARSITIES, BITS)
    grid = compute_grid(*axes, progress=True)

    from . import machine

    command = "python -m tinylab.compression_grid" + (" " + " ".join(argv if argv is not None
                                                                    else sys.argv[1:])).rstrip()
    described = machine.describe()
    grid["provenance"] = {
        "recorded": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command.strip(), "seconds": grid.pop("seconds"),
        # The CPU and its instruction sets: float training differs in its last bits between
        # CPUs, and a recomputed point is compared with this one (docs/reproducibility.md).
        "machine": described, "machine_summary": machine.summary(described),
        "versions": {"python": described["python"], **described["versions"]}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_json_ready(grid), indent=1) + "\n")
    load(out)  # what was written must read back
    print(f"wrote {out}: {len(grid['points'])} points in {grid['provenance']['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
