"""Deploy: a trained model onto an Arduino, real or virtual, and the test set over serial.

The survey's last step ("compilation": turn the model into C and burn it into the MCU) as one
data path, each step a module of its own:

    Keras model -> int8 .tflite (:mod:`tinylab.convert`) -> IntegerModel (:mod:`tinylab.engine`)
      -> C in one weight format, int8 / sparse / huffman (:func:`tinylab.engine.generate_c`)
      -> the inference sketch around it, compiled (:mod:`tinylab.build`), refused if too big
      -> run on the virtual Uno (:mod:`tinylab.virtual`) or uploaded (:mod:`tinylab.flash`),
         through one board session (:class:`tinylab.session.BoardSession`)
      -> every test example over serial (:mod:`tinylab.device`), compared with the host's
         integer reference (:func:`tinylab.engine.run_int8`) byte for byte.

The board takes the test examples as int8 inputs the host quantized (``inputs="int8"``, ``I``
lines), or, for a dataset standardized per channel (an IMU's), as raw readings in sensor units
that it standardizes and quantizes itself (``inputs="raw"``, ``W`` lines; a
:class:`tinylab.engine.RawInput` built into the firmware), as it would its own sensor's.

:func:`deploy` does it all and returns a :class:`DeployReport`; ``tinylab deploy`` prints it.
Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import _paths, build, engine

__all__ = ["FORMATS", "INPUTS", "SKETCH", "integer_model", "firmware_hash", "write_sketch",
           "sketch_around", "build_firmware", "DeployReport", "run_on_board", "default_inputs",
           "deploy"]

FORMATS = engine.FORMATS
#: What the board is sent: int8 inputs quantized on the host, or raw readings (sensor units).
INPUTS = ("int8", "raw")

#: The inference sketch (setup/loop and the line protocol of docs/serial-protocol.md).
SKETCH = _paths.SKETCHES_DIR / "inference" / "inference.ino"
#: Beside it, and copied beside the live sketches too: the board's name and the measurement of
#: a call's cycles and stack peak (Timer1 or DWT, stack painting).
MEASURE_HEADER = SKETCH.with_name("tl_measure.h")


def integer_model(model, data, *, max_examples: int = 200, seed: int = 0,
                  per_channel: bool = True):
    """A Keras model as the int8 :class:`tinylab.engine.IntegerModel` a board runs.

    Full-int8 conversion with ``data.X_train`` as the representative set, then read back
    from the ``.tflite``. ``per_channel=False`` gives one weight scale per layer (see
    :func:`tinylab.convert.to_tflite`): the choice for a weight-shared model in the
    ``huffman`` format. Returns ``(mlp, tflite_bytes)``.
    """
    from . import convert

    flatbuffer = convert.to_tflite(model, "int8", data.X_train, max_examples=max_examples,
                                   seed=seed, per_channel=per_channel)
    return engine.read_tflite(flatbuffer), flatbuffer


def firmware_hash(mlp, raw_input=None) -> str:
    """The model hash the firmware's banner reports: the model's, or with raw input the hash
    of the model and its raw-input constants (:attr:`tinylab.engine.RawInput.model_hash`)."""
    return mlp.model_hash if raw_input is None else raw_input.model_hash


def write_sketch(mlp, format: str = "int8", folder=None, *, raw_input=None) -> Path:
    """The inference sketch with the model's C files beside it; returns the sketch folder.

    ``folder`` (default: the per-user cache, named by the firmware's model hash and format)
    receives ``inference/inference.ino``, ``inference/tl_measure.h``, ``inference/model.h``
    and ``inference/model.c``.
    With ``raw_input`` (a :class:`tinylab.engine.RawInput`) the model also quantizes raw
    readings, and the sketch answers ``W`` lines.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {list(FORMATS)}")
    root = Path(folder) if folder is not None else (
        build.cache_dir() / "sketches" / f"{firmware_hash(mlp, raw_input)}-{format}")
    return sketch_around(engine.generate_c(mlp, format, name="model", raw_input=raw_input), root)


def sketch_around(model_files: dict, folder, *, fresh: bool = False) -> Path:
    """The inference sketch in ``folder``/inference with ``model_files`` beside it (lesson 08).

    Parameters
    ----------
    model_files : dict of str -> str
        File name -> text: the ``model.h`` and ``model.c`` that implement the sketch's model
        contract (:func:`tinylab.engine.generate_c` writes them; ``bench/mcu.py`` writes
        other models to the same contract).
    folder : str or Path
        Receives ``inference/inference.ino``, its ``tl_measure.h`` and the model files.
    fresh : bool
        Empty ``folder``/inference first (no file of an earlier model stays beside these).

    Returns
    -------
    Path
        The sketch folder, for :func:`tinylab.build.compile_sketch`.
    """
    for path in (SKETCH, MEASURE_HEADER):
        if not path.is_file():
            raise FileNotFoundError(f"the inference sketch is missing at {path}; deploy needs a "
                                    f"TinyLab checkout (git clone), not only the package")
    sketch_dir = Path(folder) / "inference"
    if fresh and sketch_dir.exists():
        shutil.rmtree(sketch_dir)
    sketch_dir.mkdir(parents=True, exist_ok=True)
    for path in (SKETCH, MEASURE_HEADER):
        _write_if_changed(sketch_dir / path.name, path.read_bytes())
    for name, text in model_files.items():
        _write_if_changed(sketch_dir / name, text.encode())
    return sketch_dir


def _write_if_changed(path: Path, content: bytes) -> None:
    """``content`` into ``path``, atomically, and only if it holds something else.

    Thirty app kernels write the same sketch into the same cache folder at once: a file
    rewritten in place can be read half-written by another kernel's build (a wrong build key,
    a second firmware, a compile error), and a file rewritten with the same bytes changes
    nothing but its time. So: same bytes, left alone; else written beside it and renamed.
    """
    try:
        if path.read_bytes() == content:
            return
    except OSError:  # not there yet
        pass
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    partial.write_bytes(content)
    os.replace(partial, path)


def build_firmware(mlp, format: str = "int8", board: str = "uno", *, raw_input=None):
    """Write and compile the sketch for ``board``; a :class:`tinylab.build.BuildResult`.

    Does not refuse a build that is too big: :func:`tinylab.build.check_fits` does, before
    anything is run or uploaded. ``raw_input``: see :func:`write_sketch`.
    """
    return build.compile_sketch(write_sketch(mlp, format, raw_input=raw_input), board=board)


@dataclass
class DeployReport:
    """What a deployment measured on the board (lesson 08, ``tinylab deploy``).

    Attributes
    ----------
    board, format, port : str
    virtual : bool
    model_hash : str
    flash_bytes, flash_limit_bytes, ram_bytes, ram_limit_bytes : int
        From the compiler's report; RAM is static data (the stack comes on top:
        ``stack_peak_bytes``).
    examples : int
        Test examples sent over serial.
    board_accuracy, host_accuracy : float
        Of the board's classes and of the host's integer reference, on those examples.
    bit_exact : float
        Share of examples whose int8 outputs on the board equal the host's, byte for byte.
    latency_us_mean : float
        ``micros()`` around one inference on the board.
    cycles_mean : float or None
        CPU cycles per inference (Timer1 on the Uno), when the board counts them.
    data_parts : dict of str -> int
        The model's data in the firmware's flash, by what it holds
        (:attr:`tinylab.engine.ModelStorage.parts`, and ``"raw input"``, the standardization's
        tables, with raw inputs); the rest of the flash is code.
    stack_peak_bytes : int or None
        The deepest the stack went during any inference of the run, in bytes below the top of
        RAM (the whole sketch's stack, measured on the board by painting its free RAM), when the
        board measures it (the AVR boards). The firmware's RAM is ``ram_bytes`` (static) plus
        this; ``ram_peak_bytes`` adds them.
    inputs : {"int8", "raw"}
        What the board was sent: int8 inputs quantized on the host (``I`` lines), or raw
        readings it standardized and quantized itself (``W`` lines). With ``"raw"`` the host's
        reference is ``run_int8(model, raw_input.quantize(raw))``, and ``model_hash`` the
        firmware's (:attr:`tinylab.engine.RawInput.model_hash`).
    input_agreement : float or None
        With raw inputs: the share of int8 input values the board computed (equal, by
        construction, to ``raw_input.quantize``) that equal the host's float path,
        ``quantize_inputs(model, normalize(raw))``.
    input_max_difference : int or None
        With raw inputs: the largest difference between the two, in int8 levels (at most 1).
    float_path_agreement : float or None
        With raw inputs: the share of examples whose class on the board equals the class the
        host's float-path int8 inputs give.
    """

    board: str
    format: str
    port: str
    virtual: bool
    model_hash: str
    flash_bytes: int
    flash_limit_bytes: int
    ram_bytes: int
    ram_limit_bytes: int
    examples: int
    board_accuracy: float
    host_accuracy: float
    bit_exact: float
    latency_us_mean: float
    cycles_mean: float | None
    stack_peak_bytes: int | None = None
    data_parts: dict = field(default_factory=dict)
    inputs: str = "int8"
    input_agreement: float | None = None
    input_max_difference: int | None = None
    float_path_agreement: float | None = None
    board_classes: np.ndarray = field(repr=False, default=None)
    host_classes: np.ndarray = field(repr=False, default=None)

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("board_classes", "host_classes"):
            data[key] = None if data[key] is None else np.asarray(data[key]).tolist()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @property
    def ram_peak_bytes(self) -> int | None:
        """Static RAM plus the measured stack peak: what the firmware needs (None if unmeasured)."""
        return None if self.stack_peak_bytes is None else self.ram_bytes + self.stack_peak_bytes

    def to_text(self) -> str:
        where = "the virtual Uno" if self.virtual else self.port
        cycles = "" if self.cycles_mean is None else f", {self.cycles_mean:,.0f} cycles"
        if self.stack_peak_bytes is None:
            ram = (f"RAM {self.ram_bytes:,} static (the stack not measured) of "
                   f"{self.ram_limit_bytes:,} bytes ({self.ram_bytes / self.ram_limit_bytes:.0%})")
        else:
            ram = (f"RAM {self.ram_bytes:,} static + {self.stack_peak_bytes:,} stack peak = "
                   f"{self.ram_peak_bytes:,} of {self.ram_limit_bytes:,} bytes "
                   f"({self.ram_peak_bytes / self.ram_limit_bytes:.0%})")
        data = sum(self.data_parts.values())
        parts = ", ".join(f"{part} {n:,}" for part, n in self.data_parts.items())
        if self.inputs == "raw":
            apart = ("" if self.input_max_difference == 0 else
                     f" (the others {self.input_max_difference} level apart)")
            inputs = (f"  inputs: raw readings, standardized and quantized on the board; "
                      f"{self.input_agreement:.2%} of its int8 inputs equal the host's float "
                      f"path's{apart}; classes equal on {self.float_path_agreement:.1%} of "
                      f"examples")
        else:
            inputs = "  inputs: int8, quantized on the host"
        return "\n".join([
            f"{self.format} model {self.model_hash} on {self.board} ({where})",
            f"  flash {self.flash_bytes:,} of {self.flash_limit_bytes:,} bytes "
            f"({self.flash_bytes / self.flash_limit_bytes:.0%}), {ram}",
            f"  the model's data in flash: {data:,} bytes ({parts}); the rest is code",
            f"  {self.examples} test examples: board accuracy {self.board_accuracy:.2%}, host "
            f"{self.host_accuracy:.2%}; outputs bit-identical with the host's on "
            f"{self.bit_exact:.1%}",
            inputs,
            f"  latency on the board {self.latency_us_mean / 1000:.1f} ms per inference{cycles}",
        ])


def run_on_board(mlp, firmware, X, y, *, port: str | None = None, progress: bool = True,
                 format: str = "int8", upload: str = "never", raw_input=None) -> DeployReport:
    """Run ``X`` on the board through the serial protocol and compare with the host.

    Parameters
    ----------
    mlp : IntegerModel
        The model the firmware carries (its hash is checked against the board's banner).
    firmware : tinylab.build.BuildResult
        Must fit the board (:func:`tinylab.build.check_fits` is called first).
    X : array_like of float, shape (n, *input_shape)
        The model's float inputs (normalized); with ``raw_input``, raw readings in sensor
        units instead (``data.raw(data.X_test)``).
    y : array_like of int, shape (n,)
    port : str, optional
        A real board's serial port. None runs ``firmware`` on a virtual Uno.
    upload : {"never", "if-needed", "always"}
        With a port: whether to upload ``firmware`` there first (default: it is flashed
        already); see :class:`tinylab.session.BoardSession`.
    raw_input : tinylab.engine.RawInput, optional
        The firmware was built with it: ``X`` goes as ``W`` lines, the host's reference is
        ``run_int8(mlp, raw_input.quantize(X))``.
    """
    from .session import BoardSession

    y = np.asarray(y)
    expected_hash = firmware_hash(mlp, raw_input)
    if raw_input is None:
        x_int8 = engine.quantize_inputs(mlp, X)
    else:
        x_int8 = raw_input.quantize(X)  # what the board computes from the readings
    host_scores = engine.run_int8(mlp, x_int8)
    with BoardSession(firmware, port, model_hash=expected_hash, upload=upload) as session:
        board = session.device()
        if raw_input is None:
            run = board.infer_many(x_int8, progress=progress)
        else:
            run = board.infer_many_raw(X, raw_input, progress=progress)
        port_name = session.port
    host_classes = np.argmax(host_scores, axis=1)
    compared, data_parts = {}, dict(engine.model_storage(mlp, format).parts)
    if raw_input is not None:
        data_parts["raw input"] = raw_input.flash_bytes
        float_inputs = raw_input.float_path(X)
        difference = np.abs(x_int8.astype(np.int16) - float_inputs)
        float_classes = np.argmax(engine.run_int8(mlp, float_inputs), axis=1)
        compared = dict(inputs="raw", input_agreement=float(np.mean(difference == 0)),
                        input_max_difference=int(difference.max(initial=0)),
                        float_path_agreement=float(np.mean(float_classes == run.labels)))
    return DeployReport(
        board=firmware.board, format=format, port=port_name, virtual=port is None,
        model_hash=expected_hash, flash_bytes=firmware.flash_bytes,
        flash_limit_bytes=firmware.flash_limit_bytes, ram_bytes=firmware.ram_bytes,
        ram_limit_bytes=firmware.ram_limit_bytes, examples=len(y),
        board_accuracy=float(np.mean(run.labels == y)),
        host_accuracy=float(np.mean(host_classes == y)),
        bit_exact=float(np.mean(np.all(run.scores == host_scores, axis=1))),
        latency_us_mean=float(np.mean(run.latency_us)),
        cycles_mean=None if run.cycles is None else float(np.mean(run.cycles)),
        stack_peak_bytes=None if run.stack_bytes is None else int(np.max(run.stack_bytes)),
        data_parts=data_parts, board_classes=run.labels, host_classes=host_classes, **compared)


def default_inputs(data) -> str:
    """``"raw"`` for a dataset standardized per channel (an IMU's: the board reads its own
    sensor), else ``"int8"``."""
    return "raw" if (data.normalization or {}).get("per_channel") else "int8"


def deploy(model, data, *, format: str = "int8", board: str = "uno", port: str | None = None,
           limit: int | None = None, progress: bool = True, inputs: str = "int8",
           decimals: int = 3) -> DeployReport:
    """Convert, generate, compile, run (virtual Uno or ``port``) and compare: all of lesson 08.

    Parameters
    ----------
    model : keras.Model or tinylab.engine.IntegerModel
        A Keras model is converted to int8 first (:func:`integer_model`).
    data : tinylab.data.Dataset
        The test split goes to the board.
    format : {"int8", "sparse", "huffman"}
    board : str
        A board profile (``"uno"``; the virtual board is an Uno).
    port : str, optional
        A real board's port: the firmware is uploaded there (:func:`tinylab.flash.upload`),
        whatever the board runs now. None runs the virtual Uno.
    limit : int, optional
        Send only the first ``limit`` test examples.
    inputs : {"int8", "raw"}
        ``"int8"``: the host quantizes each example and sends int8 values. ``"raw"`` (a dataset
        standardized per channel, :func:`tinylab.data.standardize_channels`): the firmware
        carries the training split's standardization (:func:`tinylab.engine.raw_input` of
        ``data.normalization``) and the host sends ``data.raw(X_test)``, readings in sensor
        units, which the board standardizes and quantizes itself (lesson 09).
    decimals : int
        With ``inputs="raw"``: the readings' decimal places on the wire.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {list(FORMATS)}")
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {list(INPUTS)} (int8 values quantized on the "
                         f"host, or raw readings the board quantizes), got {inputs!r}")
    if port is None and board != "uno":
        raise ValueError(f"the virtual board is an Uno; for {board!r} give the port of a real "
                         f"board (tinylab doctor lists them)")
    if limit is not None and (int(limit) != limit or limit < 1):
        raise ValueError(f"limit must be a whole number >= 1, got {limit!r}")
    mlp = model if isinstance(model, engine.IntegerModel) else integer_model(model, data)[0]
    raw_input = (engine.raw_input(mlp, data.normalization, decimals=decimals)
                 if inputs == "raw" else None)
    # checked once, by the board session
    firmware = build_firmware(mlp, format, board, raw_input=raw_input)
    n = len(data.y_test) if limit is None else min(int(limit), len(data.y_test))
    X = data.X_test[:n] if raw_input is None else data.raw(data.X_test[:n])
    return run_on_board(mlp, firmware, X, data.y_test[:n], port=port, progress=progress,
                        format=format, upload="always", raw_input=raw_input)
