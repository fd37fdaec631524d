"""Convert a Keras model to TensorFlow Lite, and run it as a microcontroller would.

The survey's workflow ends by compiling the compressed model and burning it into an MCU
(section 1.2.5.1). With TensorFlow that step goes through a ``.tflite`` flatbuffer, which the
TensorFlow Lite for Microcontrollers (TFLM) interpreter runs from flash with one fixed block
of RAM, the *tensor arena*. This module makes the flatbuffer in three modes and measures what
each costs and keeps:

- ``"float"``: float32 weights and activations, the Keras model as it is;
- ``"dynamic"``: int8 weights, float32 activations ("dynamic range" quantization). Its
  fully connected layers need *hybrid* kernels (float input, int8 weights), which LiteRT has
  and **tflite-micro does not**: TFLM refuses the model ("Input type: FLOAT32 with filter
  type: INT8 not supported"), so :func:`report` records it as unsupported there;
- ``"int8"``: full integer quantization, int8 weights, activations, input and output, with
  activation ranges calibrated on representative examples: what an MCU runs.

Two interpreters run a flatbuffer on the host (:func:`predict`): ``"micro"``, the tflite-micro
Python interpreter (TFLM's own C++, with its reference kernels), and ``"litert"``, LiteRT (formerly
``tf.lite.Interpreter``) with its *reference* kernels, as tflite-micro's ``hello_world``
``evaluate.py`` does. On the lesson models their float outputs are identical; int8 outputs
differ by at most one quantization step in a few per cent of examples, never changing the
predicted class on the digits (``tests/test_convert.py`` checks both).

:func:`arena_bytes` finds the smallest arena TFLM accepts by bisection. Each probe runs in a
forked child process, because an arena that is far too small can crash TFLM (a segmentation
fault, seen with tflite-micro 0.dev20261023182759), not just raise.

Introduced in lesson ``05_quantization``; lesson ``08_deploy`` uses the arena size.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import numpy as np

from .errors import TinyLabError

__all__ = ["MODES", "RUNTIMES", "REPRESENTATIVE_EXAMPLES", "ARENA_GRANULARITY_BYTES",
           "HOST_ARENA_BYTES", "ARENA_LIMIT_BYTES",
           "MissingRuntimeError", "UnsupportedModelError", "to_tflite", "tensor_details",
           "predict", "predict_classes", "accuracy", "arena_bytes", "runs_in_arena",
           "micro_allocations", "report", "to_text", "check_tflite", "quantize_tensor",
           "dequantize_tensor"]

MODES = ("float", "dynamic", "int8")
#: TFLiteConverter's (private, tested) switch for one weight scale per fully connected layer.
PER_TENSOR_SWITCH = "_experimental_disable_per_channel_quantization_for_dense_layers"
RUNTIMES = ("micro", "litert")

#: Examples the int8 converter sees to calibrate activation ranges. TensorFlow's
#: post-training quantization guide suggests about 100-500; more only slows the conversion
#: (the digits student calibrated on 50, 200 or all 1,257 training examples, with two seeds
#: each, scores within one test example, 0.4 points, of itself).
REPRESENTATIVE_EXAMPLES = 200

#: TFLM aligns every buffer in the arena to 16 bytes, so arena sizes are searched in steps of 16.
ARENA_GRANULARITY_BYTES = 16

#: The arena :func:`predict` gives TFLM on the host: far more than any lesson model needs
#: (the digits models need under 4 KB); on the board, use :func:`arena_bytes`.
HOST_ARENA_BYTES = 4 << 20

#: Where the arena search gives up: a model that does not run in 64 MiB does not run at all.
ARENA_LIMIT_BYTES = 64 << 20

#: Lines the converter prints to the C-level stderr that are progress, not problems.
CONVERTER_NOISE = (r"Ignored output_format|Ignored drop_control_dependency|Reading SavedModel|"
                   r"Reading meta graph|SavedModel debug info|Restoring SavedModel bundle|"
                   r"Running initialization op on SavedModel|SavedModel load for tags|"
                   r"MLIR V1 optimization pass is not enabled|disabling MLIR crash reproducer|"
                   r"Estimated count of arithmetic ops|^fully_quantize: |"
                   r"Skipping runtime version metadata")


class MissingRuntimeError(TinyLabError, ImportError):
    """An interpreter package (tflite-micro or ai-edge-litert) is not installed."""


class UnsupportedModelError(TinyLabError):
    """A runtime cannot run this model (e.g. tflite-micro and a ``"dynamic"`` model)."""


# --------------------------------------------------------------------------- checks

def _check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(choices)}")
    return value


def check_tflite(tflite_bytes) -> bytes:
    """The bytes of a ``.tflite`` model, checked: bytes with ``TFL3`` at byte 4 (lesson 05).

    Parameters
    ----------
    tflite_bytes : bytes or bytearray
        What :func:`to_tflite` returns, or ``open(path, "rb").read()``.

    Returns
    -------
    bytes

    Raises
    ------
    TypeError
        If ``tflite_bytes`` is not bytes.
    ValueError
        If they are not a TFLite flatbuffer.
    """
    if not isinstance(tflite_bytes, (bytes, bytearray)):
        raise TypeError(f"expected the bytes of a .tflite model, got {type(tflite_bytes).__name__}; "
                        f"convert a Keras model first: tl.convert.to_tflite(model, mode='int8', "
                        f"representative=data.X_train)")
    if tflite_bytes[4:8] != b"TFL3":
        raise ValueError(f"these {len(tflite_bytes)} bytes are not a .tflite model (a TFLite "
                         f"flatbuffer has 'TFL3' at byte 4); pass what to_tflite returns or "
                         f"open(path, 'rb').read()")
    return bytes(tflite_bytes)


def _model_input_shape(model) -> tuple:
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        raise ValueError(f"model {getattr(model, 'name', model)!r} has no known input shape; "
                         f"build it from keras.Input(shape=...) as tl.models.build does") from None
    if isinstance(shape, list):
        raise ValueError(f"model {model.name!r} has {len(shape)} inputs; to_tflite converts "
                         f"models with one input")
    if any(d is None for d in shape[1:]):
        raise ValueError(f"model {model.name!r} takes inputs of shape {shape[1:]}; a "
                         f"microcontroller model needs every size fixed, e.g. (8, 8, 1)")
    return tuple(int(d) for d in shape[1:])


def _check_examples(X, example_shape: tuple, name: str) -> np.ndarray:
    """``X`` as float32 of shape (n, *example_shape), n >= 1, finite; else a ValueError."""
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers of shape (n, "
                         f"{', '.join(map(str, example_shape))})") from None
    if X.shape == example_shape:
        raise ValueError(f"{name} has the shape of one example, {X.shape}; add the batch axis: "
                         f"{name}[np.newaxis] has shape {(1,) + example_shape}")
    if X.ndim != len(example_shape) + 1 or X.shape[1:] != example_shape:
        raise ValueError(f"{name} has shape {X.shape}, but the model takes examples of shape "
                         f"{example_shape}: pass an array of shape (n, "
                         f"{', '.join(map(str, example_shape))})")
    if len(X) == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}); pass at least one example")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} holds NaN or infinite values; normalize the data first")
    return X


# --------------------------------------------------------------------------- conversion

def _representative(X, example_shape, max_examples, seed) -> np.ndarray:
    if X is None:
        raise ValueError("mode='int8' needs representative examples to calibrate the activation "
                         "ranges: pass representative=data.X_train (up to "
                         f"{REPRESENTATIVE_EXAMPLES} of them are used)")
    if isinstance(max_examples, bool) or int(max_examples) != max_examples or max_examples < 1:
        raise ValueError(f"max_examples must be a whole number >= 1, e.g. "
                         f"{REPRESENTATIVE_EXAMPLES}; got {max_examples!r}")
    X = _check_examples(X, example_shape, "representative")
    if len(X) > max_examples:
        chosen = np.random.default_rng(seed).choice(len(X), int(max_examples), replace=False)
        X = X[np.sort(chosen)]
    return X


def to_tflite(model, mode: str = "int8", representative=None, *,
              max_examples: int = REPRESENTATIVE_EXAMPLES, seed: int = 0,
              per_channel: bool = True) -> bytes:
    """Convert a Keras model to a ``.tflite`` flatbuffer for a batch of one example.

    The model is exported as a SavedModel with a fixed input signature of shape
    ``(1, *input_shape)`` (Keras 3's ``model.export``), then converted by
    ``tf.lite.TFLiteConverter.from_saved_model``. A fixed batch of one keeps the graph to the
    layers themselves (Flatten becomes one RESHAPE), as on an MCU.

    Parameters
    ----------
    model : keras.Model
        One input of fixed shape, e.g. ``(8, 8, 1)``; returns logits.
    mode : {"float", "dynamic", "int8"}
        See the module docstring. ``"int8"`` makes int8 input and output tensors and allows
        only int8 builtin ops (``TFLITE_BUILTINS_INT8``): conversion fails rather than leave a
        float op behind.
    representative : array_like of float, shape (n, *input_shape), optional
        Calibration examples, required for ``"int8"`` (ignored otherwise), e.g. ``data.X_train``.
    max_examples : int
        At most this many representative examples are used, chosen at random with ``seed``.
    seed : int
    per_channel : bool
        ``"int8"`` only. True (TensorFlow's default): one weight scale per output unit of each
        fully connected layer. False: one scale per layer, through the converter's
        experimental ``_experimental_disable_per_channel_quantization_for_dense_layers``
        switch. A weight-shared layer then keeps its few centroids as few int8 values, which is
        what lets Huffman coding shrink it on the board (lesson 08); the accuracy cost is
        usually nil for the lesson models, but check it.

    Returns
    -------
    bytes
        The flatbuffer, ready for :func:`predict`, :func:`arena_bytes`, or a C array.
    """
    _check_choice(mode, "mode", MODES)
    example_shape = _model_input_shape(model)
    examples = _representative(representative, example_shape, max_examples, seed) \
        if mode == "int8" else None

    from ._tensorflow import NOISE, native_stderr_filtered, tf

    noise = re.compile(NOISE.pattern + "|" + CONVERTER_NOISE)
    with tempfile.TemporaryDirectory(prefix="tinylab-savedmodel-") as folder, \
            native_stderr_filtered(noise), _tensorflow_logger_quiet():
        signature = [tf.TensorSpec((1,) + example_shape, tf.float32, name="x")]
        model.export(folder, format="tf_saved_model", verbose=False, input_signature=signature)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if mode in ("dynamic", "int8"):
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode == "int8":
            converter.representative_dataset = lambda: ([x[np.newaxis]] for x in examples)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
            if not per_channel:
                if not hasattr(converter, PER_TENSOR_SWITCH):
                    raise RuntimeError(
                        f"this TensorFlow ({tf.__version__}) has no {PER_TENSOR_SWITCH} "
                        "switch: convert with per_channel=True")
                setattr(converter, PER_TENSOR_SWITCH, True)
        return bytes(converter.convert())


@contextlib.contextmanager
def _tensorflow_logger_quiet():
    """Hold TensorFlow's Python logger at WARNING for a block, then restore its level.

    In IPython, TensorFlow sets its logger to INFO, and saving the SavedModel then prints
    "INFO:tensorflow:Assets written to: ..." into the lesson.
    """
    import logging

    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


# --------------------------------------------------------------------------- interpreters

def _micro_runtime():
    try:
        return importlib.import_module("tflite_micro.python.tflite_micro.runtime")
    except ImportError as error:
        raise MissingRuntimeError(
            "the tflite-micro interpreter is not installed: pip install --pre tflite-micro "
            "(TinyLab's pyproject.toml pins the exact 0.dev version; `make lab` installs it)"
        ) from error


def _litert():
    try:
        return importlib.import_module("ai_edge_litert.interpreter")
    except ImportError as error:
        raise MissingRuntimeError("the LiteRT interpreter is not installed: "
                                  "pip install ai-edge-litert") from error


@contextlib.contextmanager
def _native_output_captured():
    """Capture what C++ code writes to file descriptors 1 and 2; the text lands in the list."""
    captured = []
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = {fd: os.dup(fd) for fd in (1, 2)}
    except (OSError, ValueError):  # no real descriptors (embedded interpreters): let it through
        yield captured
        return
    with tempfile.TemporaryFile() as sink:
        for fd in saved:
            os.dup2(sink.fileno(), fd)
        try:
            yield captured
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace"))


def _explain(runtime: str, error, printed: str) -> UnsupportedModelError:
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    text = f"{runtime} cannot run this model ({error})" + (": " + " / ".join(lines) if lines else "")
    if "filter type: INT8" in printed:
        text += (". tflite-micro has no hybrid kernels (float activations with int8 weights), "
                 "which is what mode='dynamic' makes; use mode='int8' for a microcontroller")
    return UnsupportedModelError(text)


def _details(dtype, shape, scales, zero_points) -> dict:
    scales, zero_points = np.atleast_1d(scales), np.atleast_1d(zero_points)
    quantized = np.dtype(dtype).kind in "iu" and scales.size and scales[0] != 0
    return {"dtype": np.dtype(dtype), "shape": tuple(int(d) for d in shape),
            "scale": float(scales[0]) if quantized else None,
            "zero_point": int(zero_points[0]) if quantized else None}


def _open(tflite_bytes: bytes, runtime: str) -> SimpleNamespace:
    """The model loaded in ``runtime``: ``inputs`` and ``outputs`` (:func:`_details`),
    ``run(x)`` (one invoke on one batch, returning the output array) and ``interpreter``."""
    if runtime == "micro":
        micro = _micro_runtime()
        with _native_output_captured() as printed:
            try:
                interpreter = micro.Interpreter.from_bytes(tflite_bytes, arena_size=HOST_ARENA_BYTES)
                failure = None
            except RuntimeError as error:
                failure = error
        if failure is not None:
            raise _explain("tflite-micro", failure, printed[0] if printed else "") from failure
        found = [interpreter.get_input_details(0), interpreter.get_output_details(0)]
        found = [_details(d["dtype"], d["shape"], d["quantization_parameters"]["scales"],
                          d["quantization_parameters"]["zero_points"]) for d in found]

        def run(x):
            interpreter.set_input(x, 0)
            interpreter.invoke()
            return np.array(interpreter.get_output(0))
        return SimpleNamespace(inputs=found[0], outputs=found[1], run=run, interpreter=interpreter)

    litert = _litert()
    with _native_output_captured() as printed:
        try:
            interpreter = litert.Interpreter(
                model_content=tflite_bytes, num_threads=1,
                experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
            interpreter.allocate_tensors()
            failure = None
        except (RuntimeError, ValueError) as error:
            failure = error
    if failure is not None:
        raise _explain("LiteRT", failure, printed[0] if printed else "") from failure
    inputs, outputs = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    found = [_details(d["dtype"], d["shape"], *d["quantization"]) for d in (inputs, outputs)]

    def run(x):
        interpreter.set_tensor(inputs["index"], x)
        interpreter.invoke()
        return np.array(interpreter.get_tensor(outputs["index"]))
    return SimpleNamespace(inputs=found[0], outputs=found[1], run=run, interpreter=interpreter)


def tensor_details(tflite_bytes) -> dict:
    """The model's input and output tensors, as LiteRT reads them from the flatbuffer.

    Returns
    -------
    dict
        ``{"input": {...}, "output": {...}}``, each with ``dtype`` (numpy dtype), ``shape``
        (tuple, batch first) and, for an integer tensor, its ``scale`` and ``zero_point``
        (``real = scale * (q - zero_point)``); ``None`` for a float tensor.
    """
    loaded = _open(check_tflite(tflite_bytes), "litert")
    return {"input": loaded.inputs, "output": loaded.outputs}


def quantize_tensor(X, details) -> np.ndarray:
    """Floats to the input tensor's integers, as TFLite's reference kernels round: half away from 0.

    Parameters
    ----------
    X : ndarray of float32
        Any shape.
    details : dict
        A tensor's ``dtype``, ``scale`` and ``zero_point``, as :func:`tensor_details` gives
        them (``scale`` None: a float tensor, ``X`` is only cast).

    Returns
    -------
    ndarray of ``details["dtype"]``, the shape of ``X``
        ``round(X / scale) + zero_point``, clipped to the dtype's range.
    """
    if details["scale"] is None:
        return X.astype(details["dtype"])
    scaled = X / np.float32(details["scale"])
    q = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5)) + details["zero_point"]
    limits = np.iinfo(details["dtype"])
    return np.clip(q, limits.min, limits.max).astype(details["dtype"])


def dequantize_tensor(q, details) -> np.ndarray:
    """A tensor's integers back to floats: ``scale * (q - zero_point)`` (lesson 05).

    Parameters
    ----------
    q : ndarray of int
    details : dict
        As for :func:`quantize_tensor`.

    Returns
    -------
    ndarray of float32, the shape of ``q``
    """
    if details["scale"] is None:
        return q.astype(np.float32)
    return ((q.astype(np.float32) - details["zero_point"]) * np.float32(details["scale"]))


def predict(tflite_bytes, X, runtime: str = "micro") -> np.ndarray:
    """Run a ``.tflite`` model on each example of ``X``; its outputs as floats.

    For an integer model, each example is quantized with the input tensor's scale and zero
    point (rounding half away from zero, clipped to the integer range), and the outputs are
    dequantized with the output tensor's; what the MCU sketch does around ``invoke()``.

    Parameters
    ----------
    tflite_bytes : bytes
        From :func:`to_tflite`.
    X : array_like of float, shape (n, *input_shape)
        Normalized examples, like ``data.X_test``.
    runtime : {"micro", "litert"}
        ``"micro"``: the tflite-micro interpreter (with a generous host arena,
        :data:`HOST_ARENA_BYTES`); ``"litert"``: LiteRT with its reference kernels.

    Returns
    -------
    ndarray of float32, shape (n, n_outputs)
        The model's outputs (logits for the lesson models).

    Raises
    ------
    UnsupportedModelError
        If the runtime cannot run the model (tflite-micro and a ``"dynamic"`` model).
    MissingRuntimeError
        If the runtime's package is not installed (the message names it).
    """
    tflite_bytes = check_tflite(tflite_bytes)
    _check_choice(runtime, "runtime", RUNTIMES)
    loaded = _open(tflite_bytes, runtime)
    X = _check_examples(X, loaded.inputs["shape"][1:], "X")
    results = [loaded.run(quantize_tensor(x[np.newaxis], loaded.inputs)) for x in X]
    return dequantize_tensor(np.concatenate(results), loaded.outputs).reshape(len(X), -1)


def predict_classes(tflite_bytes, X, runtime: str = "micro") -> np.ndarray:
    """Arg-max class of each example, shape (n,)."""
    return np.argmax(predict(tflite_bytes, X, runtime), axis=-1)


def accuracy(tflite_bytes, X, y, runtime: str = "micro") -> float:
    """Fraction of ``X`` the ``.tflite`` model classifies as ``y`` in ``runtime``."""
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} examples but y has {len(y)} labels")
    return float(np.mean(predict_classes(tflite_bytes, X, runtime) == y))


# --------------------------------------------------------------------------- the arena

#: Run by a fresh Python (``python -c``): it imports only numpy and tflite-micro, and forks
#: once per probe so that a crash on a too-small arena costs one child, never the search.
_ARENA_PROBE = r"""
import json, os, sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime

model = open(sys.argv[1], "rb").read()

def runs(arena_size):
    os.write(2, b"\n--- probe %d\n" % arena_size)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            interpreter = runtime.Interpreter.from_bytes(model, arena_size=arena_size)
            details = interpreter.get_input_details(0)
            interpreter.set_input(np.zeros(details["shape"], details["dtype"]), 0)
            interpreter.invoke()
            status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0

if sys.argv[2] == "probe":
    print(json.dumps({"runs": runs(int(sys.argv[3]))}))
else:
    step, size, limit = (int(a) for a in sys.argv[3:6])
    failing, working, probes = 0, None, 0
    while size <= limit:
        probes += 1
        if runs(size):
            working = size
            break
        failing, size = size, size * 4
    while working is not None and working - failing > step:
        middle = failing + (working - failing) // step // 2 * step
        probes += 1
        if runs(middle):
            working = middle
        else:
            failing = middle
    print(json.dumps({"arena_bytes": working, "probes": probes}))
"""


def _arena_probe(tflite_bytes: bytes, *arguments):
    """Run :data:`_ARENA_PROBE` on the model; its JSON answer and what TFLM printed."""
    _micro_runtime()  # a missing package gets its own error, not a failed child
    if not hasattr(os, "fork"):  # tflite-micro publishes Linux wheels only; macOS forks too
        raise RuntimeError("finding the arena size needs os.fork (Linux or macOS)")
    with tempfile.TemporaryDirectory(prefix="tinylab-arena-") as folder:
        path = os.path.join(folder, "model.tflite")
        with open(path, "wb") as handle:
            handle.write(tflite_bytes)
        done = subprocess.run([sys.executable, "-c", _ARENA_PROBE, path, *map(str, arguments)],
                              capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the tflite-micro arena probe failed (exit {done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def runs_in_arena(tflite_bytes, arena_size: int) -> bool:
    """Whether tflite-micro builds the model in an arena of ``arena_size`` bytes and invokes it.

    Runs in a child process, so an arena small enough to crash TFLM only returns ``False``.
    """
    tflite_bytes = check_tflite(tflite_bytes)
    if isinstance(arena_size, bool) or int(arena_size) != arena_size or arena_size < 0:
        raise ValueError(f"arena_size must be a whole number of bytes >= 0, got {arena_size!r}")
    answer, _ = _arena_probe(tflite_bytes, "probe", int(arena_size))
    return bool(answer["runs"])


def arena_bytes(tflite_bytes, *, granularity: int = ARENA_GRANULARITY_BYTES) -> int:
    """The smallest tensor arena, in bytes, in which tflite-micro runs the model.

    Found by bisection on the interpreter's ``arena_size``: the answer ``n`` is a multiple of
    ``granularity`` such that an arena of ``n`` bytes builds the interpreter and invokes it
    once, and ``n - granularity`` does not. Each probe runs in a forked child process (a
    far-too-small arena can crash TFLM). It is at least the total that TFLM's recording
    allocator reports (:func:`micro_allocations`), and can be more: while it prepares the
    kernels and plans the buffers, TFLM needs temporary room that it frees before the first
    invoke (the int8 student: 2,224 bytes found, 1,856 reported).

    This is the figure of the host's **64-bit** build with TFLM's reference kernels. On a
    32-bit MCU the activation buffers (the arena's *head*) are the same, but the persistent
    structs in its *tail* are smaller (4-byte pointers), so the board usually needs somewhat
    less; optimized kernels (CMSIS-NN) can ask for scratch buffers the reference kernels do
    not. Treat it as an estimate with a margin, and confirm on the board.

    Raises
    ------
    UnsupportedModelError
        If no arena up to 64 MiB works (e.g. a ``"dynamic"`` model); the message holds what
        TFLM printed.
    """
    tflite_bytes = check_tflite(tflite_bytes)
    if isinstance(granularity, bool) or int(granularity) != granularity or granularity < 1:
        raise ValueError(f"granularity must be a whole number of bytes >= 1, e.g. "
                         f"{ARENA_GRANULARITY_BYTES}; got {granularity!r}")
    step = int(granularity)
    start = -(-4096 // step) * step  # the first guess, rounded up to a multiple of the step
    answer, printed = _arena_probe(tflite_bytes, "bisect", step, start, ARENA_LIMIT_BYTES)
    if answer["arena_bytes"] is None:
        last_probe = printed.split("--- probe ")[-1].split("\n", 1)[-1]
        raise _explain("tflite-micro", f"no arena up to {ARENA_LIMIT_BYTES >> 20} MiB works",
                       last_probe)
    return int(answer["arena_bytes"])


_ALLOCATION = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_PART = re.compile(r"'([^']+)' used (\d+) bytes")


def micro_allocations(tflite_bytes) -> dict:
    """What TFLM's recording allocator says the model uses, from ``print_allocations()``.

    The interpreter prints to the C-level stderr; this captures it at file-descriptor level
    and parses it.

    Returns
    -------
    dict
        ``total_bytes`` (what stays allocated after set-up; the arena must also hold the
        temporary memory of the set-up, so :func:`arena_bytes` can be larger),
        ``head_bytes`` (activation buffers, planned to overlap), ``tail_bytes`` (persistent:
        tensor structs, quantization parameters, kernel data), and ``parts``, a dict from
        each kind of persistent allocation to its bytes.
    """
    tflite_bytes = check_tflite(tflite_bytes)
    loaded = _open(tflite_bytes, "micro")
    loaded.run(np.zeros(loaded.inputs["shape"], loaded.inputs["dtype"]))
    with _native_output_captured() as printed:
        loaded.interpreter.print_allocations()
    text = printed[0] if printed else ""
    found = {f"{kind}_bytes": int(n) for kind, n in _ALLOCATION.findall(text)}
    if "total_bytes" not in found:
        raise RuntimeError(f"could not read TFLM's allocation report; it printed: {text!r}")
    found["parts"] = {name: int(n) for name, n in _PART.findall(text)}
    return found


# --------------------------------------------------------------------------- the report

def report(model, data, modes=MODES, *, representative=None,
           max_examples: int = REPRESENTATIVE_EXAMPLES, seed: int = 0) -> list:
    """Convert ``model`` in each mode and measure what each flatbuffer costs and keeps.

    Parameters
    ----------
    model : keras.Model
    data : tinylab.data.Dataset
        Accuracies are on ``data.X_test``; calibration uses ``representative``, by default
        ``data.X_train``.
    modes : sequence of {"float", "dynamic", "int8"}

    Returns
    -------
    list of dict, one per mode, with
        ``mode``; ``input_dtype``; ``tflite_bytes``; ``gzip_bytes`` (``gzip.compress`` at level
        9, a hint of what entropy coding would save); ``arena_bytes`` (:func:`arena_bytes`);
        ``keras_accuracy``; ``micro_accuracy`` and ``litert_accuracy`` (fractions of the test
        set); ``micro_agreement`` and ``litert_agreement`` (fraction of test examples whose
        class equals the Keras model's); ``unsupported``, a dict from runtime to the reason it
        could not run the mode. A runtime that cannot run a mode (tflite-micro cannot run
        ``"dynamic"``) gets ``None`` in its fields and its reason in ``unsupported``.
    """
    modes = [_check_choice(mode, "mode", MODES) for mode in modes]
    if not modes:
        raise ValueError(f"modes is empty; choose from {list(MODES)}")
    from . import train

    keras_classes = train.predict_classes(model, data.X_test)
    keras_accuracy = float(np.mean(keras_classes == data.y_test))
    rows = []
    for mode in modes:
        flatbuffer = to_tflite(model, mode, data.X_train if representative is None
                               else representative, max_examples=max_examples, seed=seed)
        row = {"mode": mode, "input_dtype": tensor_details(flatbuffer)["input"]["dtype"].name,
               "tflite_bytes": len(flatbuffer), "gzip_bytes": len(gzip.compress(flatbuffer, 9)),
               "arena_bytes": None, "keras_accuracy": keras_accuracy, "unsupported": {}}
        try:
            row["arena_bytes"] = arena_bytes(flatbuffer)
        except UnsupportedModelError as error:
            row["unsupported"]["micro"] = str(error)
        for runtime in RUNTIMES:
            row[f"{runtime}_accuracy"] = row[f"{runtime}_agreement"] = None
            if runtime in row["unsupported"]:
                continue
            try:
                classes = predict_classes(flatbuffer, data.X_test, runtime)
            except UnsupportedModelError as error:
                row["unsupported"][runtime] = str(error)
                continue
            row[f"{runtime}_accuracy"] = float(np.mean(classes == data.y_test))
            row[f"{runtime}_agreement"] = float(np.mean(classes == keras_classes))
        rows.append(row)
    return rows


def to_text(rows) -> str:
    """:func:`report`'s rows as a plain-text table, with why a runtime could not run a mode."""
    def cell(value, percent=False):
        if value is None:
            return "n/a"
        return f"{100 * value:.1f}%" if percent else f"{value:,}"

    header = ("mode", ".tflite B", "gzip B", "arena B", "acc micro", "acc LiteRT",
              "agree micro", "agree LiteRT")
    table = [header] + [(row["mode"], cell(row["tflite_bytes"]), cell(row["gzip_bytes"]),
                         cell(row["arena_bytes"]), cell(row["micro_accuracy"], True),
                         cell(row["litert_accuracy"], True), cell(row["micro_agreement"], True),
                         cell(row["litert_agreement"], True)) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(text.rjust(width) for text, width in zip(line, widths)) for line in table]
    for row in rows:
        for runtime, reason in row["unsupported"].items():
            lines.append(f"{row['mode']} in {runtime}: {reason}")
    return "\n".join(lines)
