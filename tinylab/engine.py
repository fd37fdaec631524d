"""The TinyLab C engine: an int8 MLP from a ``.tflite`` file, run in numpy, written as C.

The survey's last step (section 1.2.5.1, "compile and burn into the MCU") usually goes through
TensorFlow Lite Micro: the ``.tflite`` file becomes a C array (:mod:`tinylab.export`) and an
interpreter runs it. TFLM targets 32-bit MCUs, not the Uno's 8-bit ATmega328P (2 KB of RAM),
and it cannot run a model stored the way Deep Compression stores it. This module writes the model as plain
C instead, with the *same integer arithmetic* as TFLM's int8 reference kernels, so that the
board's outputs are bit-exact with the tflite-micro interpreter on the host:

- :func:`read_tflite`: the flatbuffer -> an :class:`IntegerMLP` (per layer: int8 weights
  ``[out, in]``, int32 biases, scales and zero points, fixed-point multipliers and shifts,
  the fused activation as a clamp);
- :func:`run_int8`: a numpy integer reference of TFLM's arithmetic, built from
  :func:`quantize_multiplier`, :func:`saturating_rounding_doubling_high_mul`,
  :func:`rounding_divide_by_pot` and :func:`multiply_by_quantized_multiplier`;
- :func:`generate_c`: C99 source in one of three weight formats (:data:`FORMATS`): ``"int8"``
  (every weight, a byte each), ``"sparse"`` (lesson 04's non-zero weights with 5-bit relative
  indices) and ``"huffman"`` (lesson 06's Deep Compression: per layer a codebook of int8
  values, Huffman-coded codebook indices and gaps, decoded on the MCU as it computes).
  :func:`weight_streams` gives what each format stores.

The flatbuffer is read with the schema reader LiteRT ships (``ai_edge_litert.
schema_py_generated``), not through an interpreter: the fused activation of each layer is
in the flatbuffer but no interpreter call returns it, and reading the file gives exactly the
numbers TFLM reads (scales as float32, per-channel or not), with no kernel or delegate between.

TensorFlow's converter quantizes fully connected weights *per channel* (one scale per output
unit), and TFLM then uses one multiplier per unit; both are handled. Per-channel scales map a
shared float weight to a different int8 value in each unit, so a weight-shared layer holds
more distinct int8 values than its float codebook has entries (79 instead of 15 in the first
layer of the 90%-pruned, 4-bit-shared mlp300), and each unit stores its own multiplier. For
weight-shared models, convert with one scale per layer
(``tinylab.convert.to_tflite(..., per_channel=False)``): the codebook stays 15 int8 values.

On AVR the C engine's int8 inner loop and the fixed-point rescale are hand-written assembly
inside the C (``boards/engine/kernel_int8.c``, ``kernel_common.c``; about 11 cycles per
multiply-accumulate); elsewhere the same C computes the same integers in plain C99.

Introduced in lesson ``07_deploy``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from . import huffman
from .export import banner, check_c_name

__all__ = ["FORMATS", "SUPPORTED_OPS", "ACTIVATIONS", "GAP_BITS", "MAX_CODE_BITS", "DenseLayer", "IntegerMLP",
           "read_tflite", "quantize_multiplier", "saturating_rounding_doubling_high_mul",
           "rounding_divide_by_pot", "multiply_by_quantized_multiplier", "quantize_inputs",
           "run_int8", "weight_streams", "generate_c"]

FORMATS = ("int8", "sparse", "huffman")

#: The operators the engine runs: Flatten (a RESHAPE) and Dense (FULLY_CONNECTED).
SUPPORTED_OPS = ("RESHAPE", "FULLY_CONNECTED")

#: Fused activations of a FULLY_CONNECTED layer the engine applies (as TFLM does, a clamp).
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}

#: Bits of a relative index between stored weights: Deep Compression's 5 for fully connected
#: layers (``tinylab.prune.INDEX_BITS["dense"]``).
GAP_BITS = 5

#: Longest Huffman code word the C decoder reads, so that it computes in 16-bit integers
#: (cheap on an 8-bit AVR). Codes longer than this are shortened as in JPEG.
MAX_CODE_BITS = 15

_INT32 = np.iinfo(np.int32)


# --------------------------------------------------------------------------- the description

def _frozen(array, dtype):
    array = np.array(array, dtype=dtype)
    array.setflags(write=False)
    return array


def _round_half_away(value: float) -> int:
    """C's ``round``/TFLite's ``TfLiteRound``: halves go away from zero."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


@dataclass(frozen=True, eq=False)
class DenseLayer:
    """One int8 fully connected layer, as TFLM's reference kernel computes it.

    ``output = clamp(MBQM(sum_i w[o, i] * (x[i] - input_zero_point) + bias[o], multipliers[o],
    shifts[o]) + output_zero_point, activation_min, activation_max)``, where MBQM is
    :func:`multiply_by_quantized_multiplier` and ``multipliers * 2**shifts / 2**31`` is
    ``input_scale * weight_scales / output_scale``.

    Attributes
    ----------
    name : str
    weights : ndarray of int8, shape (n_outputs, n_inputs)
    bias : ndarray of int32, shape (n_outputs,), or None
    input_scale, output_scale : float
        Real value of one integer step (float32 values, as in the flatbuffer).
    input_zero_point, output_zero_point : int
    weight_scales : ndarray of float32, shape (n_outputs,) per channel or (1,) per tensor
    multipliers : ndarray of int32, same shape as weight_scales
        Q0.31 fixed-point significands (:func:`quantize_multiplier`).
    shifts : ndarray of int32, same shape
        Power-of-two exponents (positive: shift left).
    activation : str
        One of :data:`ACTIVATIONS`' values.
    activation_min, activation_max : int
        The clamp that applies the activation, in output integers.
    """

    name: str
    weights: np.ndarray
    bias: np.ndarray | None
    input_scale: float
    input_zero_point: int
    weight_scales: np.ndarray
    output_scale: float
    output_zero_point: int
    multipliers: np.ndarray
    shifts: np.ndarray
    activation: str
    activation_min: int
    activation_max: int

    @classmethod
    def from_scales(cls, weights, bias, *, input_scale, input_zero_point, weight_scales,
                    output_scale, output_zero_point, activation="NONE", name="dense"):
        """A layer from its integers and scales: multipliers, shifts and clamp as TFLM sets them.

        As TFLM's ``CalculateOpDataFullyConnected``: the effective scale of each channel is
        ``double(input_scale) * double(weight_scale) / double(output_scale)`` from float32
        scales, then :func:`quantize_multiplier`; the clamp quantizes the activation's limits
        (0 for ReLU, 6 for ReLU6) in float32 with rounding half away from zero.

        Parameters
        ----------
        weights : array_like of int, shape (n_outputs, n_inputs), in [-128, 127]
        bias : array_like of int, shape (n_outputs,), or None
        input_scale, output_scale : float, > 0
        input_zero_point, output_zero_point : int in [-128, 127]
        weight_scales : array_like of float, shape (n_outputs,) or (1,)
        activation : {"NONE", "RELU", "RELU_N1_TO_1", "RELU6"}
        name : str

        Returns
        -------
        DenseLayer
        """
        weights = np.asarray(weights)
        if weights.ndim != 2 or weights.size == 0 or weights.min() < -128 or weights.max() > 127:
            raise ValueError(f"weights must be a non-empty 2-D array [outputs, inputs] of int8 "
                             f"values, got shape {weights.shape}")
        n_outputs = weights.shape[0]
        scales = np.atleast_1d(np.asarray(weight_scales, dtype=np.float32))
        if scales.shape not in ((1,), (n_outputs,)) or not np.all(scales > 0):
            raise ValueError(f"weight_scales must be one positive scale or one per output unit "
                             f"({n_outputs}), got shape {scales.shape}")
        if bias is not None and np.shape(bias) != (n_outputs,):
            raise ValueError(f"bias must have one int32 per output unit ({n_outputs}), got "
                             f"shape {np.shape(bias)}")
        if activation not in ACTIVATIONS.values():
            raise ValueError(f"activation must be one of {list(ACTIVATIONS.values())}, got "
                             f"{activation!r}")
        input_scale, output_scale = np.float32(input_scale), np.float32(output_scale)
        pairs = [quantize_multiplier(float(input_scale) * float(s) / float(output_scale))
                 for s in scales]
        low, high = _activation_range(activation, output_scale, int(output_zero_point))
        return cls(name=str(name), weights=_frozen(weights, np.int8),
                   bias=None if bias is None else _frozen(bias, np.int32),
                   input_scale=float(input_scale), input_zero_point=int(input_zero_point),
                   weight_scales=_frozen(scales, np.float32), output_scale=float(output_scale),
                   output_zero_point=int(output_zero_point),
                   multipliers=_frozen([m for m, _ in pairs], np.int32),
                   shifts=_frozen([s for _, s in pairs], np.int32), activation=activation,
                   activation_min=low, activation_max=high)

    @property
    def n_inputs(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.weights.shape[0])

    @property
    def per_channel(self) -> bool:
        """Whether each output unit has its own weight scale (what TF's converter makes)."""
        return self.weight_scales.size > 1


def _activation_range(activation: str, scale, zero_point: int):
    """TFLM's ``CalculateActivationRangeQuantized`` for an int8 output."""
    def quantize(real):
        return zero_point + _round_half_away(float(np.float32(real) / np.float32(scale)))

    low, high = -128, 127
    limits = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
    if activation in limits:
        lower, upper = limits[activation]
        low = max(low, quantize(lower))
        high = high if upper is None else min(high, quantize(upper))
    return low, high


@dataclass(frozen=True, eq=False)
class IntegerMLP:
    """An int8 multilayer perceptron: what :func:`read_tflite` reads, :func:`run_int8` runs
    and :func:`generate_c` writes.

    Attributes
    ----------
    layers : tuple of DenseLayer
        In order; each layer's output feeds the next.
    input_shape : tuple of int
        One example's shape in the ``.tflite`` file, without the batch axis (e.g. (8, 8, 1));
        the engine reads it flattened in C order, as Flatten does.
    input_scale, output_scale : float
        ``real = scale * (q - zero_point)`` for the model's input and output.
    input_zero_point, output_zero_point : int
    model_hash : str
        8 hex digits: the start of the SHA-256 of the ``.tflite`` bytes, so a board can say
        which model it carries (``TL_MODEL_HASH``).
    """

    layers: tuple
    input_shape: tuple
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    model_hash: str

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_inputs

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_outputs

    def describe(self) -> str:
        """One line: widths with activations, weight count, the hash."""
        widths = [str(self.n_inputs)] + [
            f"{layer.n_outputs}" + (f" ({layer.activation})" if layer.activation != "NONE" else "")
            for layer in self.layers]
        n_weights = sum(layer.weights.size for layer in self.layers)
        zeros = sum(int(np.count_nonzero(layer.weights == 0)) for layer in self.layers)
        return (f"int8 MLP {' -> '.join(widths)}: {n_weights:,} weights ({zeros / n_weights:.0%} "
                f"zero), model {self.model_hash}")


# --------------------------------------------------------------------------- reading .tflite

def _schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as error:
        from .convert import MissingRuntimeError

        raise MissingRuntimeError("reading a .tflite file needs the flatbuffer schema that "
                                  "ai-edge-litert ships: pip install ai-edge-litert") from error
    return schema_py_generated


def _enum_names(enum_class) -> dict:
    return {value: key for key, value in vars(enum_class).items() if not key.startswith("_")}


def _op_names(model, subgraph, schema) -> list:
    names = _enum_names(schema.BuiltinOperator)
    found = []
    for op in subgraph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)  # as the schema says
        name = names.get(builtin, f"builtin operator {builtin}")
        if name == "CUSTOM" and code.customCode:
            name = f"CUSTOM ({code.customCode.decode(errors='replace')})"
        found.append(name)
    return found


def _tensor(model, subgraph, index, schema, tflite_bytes):
    """A tensor's name, type name, shape, scales, zero points and constant bytes (or None)."""
    tensor = subgraph.tensors[index]
    quantization = tensor.quantization
    scales = getattr(quantization, "scale", None)
    zero_points = getattr(quantization, "zeroPoint", None)
    buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
    data = None
    if buffer is not None and buffer.data is not None and len(buffer.data):
        data = bytes(np.asarray(buffer.data, dtype=np.uint8))
    elif buffer is not None and getattr(buffer, "offset", 0) > 1:  # large-model layout
        data = tflite_bytes[buffer.offset:buffer.offset + buffer.size]
    return {"name": (tensor.name or b"").decode(errors="replace"),
            "type": _enum_names(schema.TensorType).get(tensor.type, str(tensor.type)),
            "shape": tuple(int(d) for d in (tensor.shape if tensor.shape is not None else ())),
            "scales": np.zeros(0, np.float32) if scales is None else np.asarray(scales, np.float32),
            "zero_points": np.zeros(0, np.int64) if zero_points is None
            else np.asarray(zero_points, np.int64),
            "data": data}


def _check_int8(tensor, what):
    if tensor["type"] != "INT8":
        raise ValueError(
            f"{what} {tensor['name']!r} is {tensor['type'].lower()}, not int8: the TinyLab C "
            f"engine runs full-integer models. Convert with tl.convert.to_tflite(model, 'int8', "
            f"representative=data.X_train)")
    if tensor["scales"].size != 1 or tensor["zero_points"].size != 1:
        raise ValueError(f"{what} {tensor['name']!r} must have one scale and one zero point, "
                         f"found {tensor['scales'].size} and {tensor['zero_points'].size}")
    return float(tensor["scales"][0]), int(tensor["zero_points"][0])


def _layer_name(weights_name: str, position: int) -> str:
    """The Keras layer's name from its weights' tensor name ("model/logits/MatMul" -> "logits")."""
    parts = weights_name.split(";")[0].split("/")
    return parts[-2] if len(parts) > 1 and parts[-2] else f"layer {position}"


def _fully_connected(op, tensors, schema, position):
    """A :class:`DenseLayer` from a FULLY_CONNECTED operator (``tensors(i)`` reads tensor i)."""
    options = op.builtinOptions
    where = f"FULLY_CONNECTED operator {position}"
    activation = ACTIVATIONS.get(options.fusedActivationFunction)
    if activation is None:
        name = _enum_names(schema.ActivationFunctionType).get(options.fusedActivationFunction)
        raise ValueError(f"{where} has the fused activation {name}; the engine supports "
                         f"{list(ACTIVATIONS.values())}")
    if options.weightsFormat != 0:
        raise ValueError(f"{where} stores its weights shuffled (weights_format "
                         f"{options.weightsFormat}); the engine reads the default layout")
    source, weights = tensors(op.inputs[0]), tensors(op.inputs[1])
    output = tensors(op.outputs[0])
    input_scale, input_zero_point = _check_int8(source, "the input of " + where)
    output_scale, output_zero_point = _check_int8(output, "the output of " + where)
    if weights["type"] != "INT8" or weights["data"] is None or len(weights["shape"]) != 2:
        raise ValueError(f"{where}: its weights {weights['name']!r} must be a constant 2-D "
                         f"int8 tensor, found {weights['type'].lower()} of shape "
                         f"{weights['shape']}")
    if np.any(weights["zero_points"] != 0):
        raise ValueError(f"{where}: weight zero points must be 0 (symmetric int8, as TFLM "
                         f"requires), found {sorted(set(weights['zero_points'].tolist()))}")
    n_outputs, n_inputs = weights["shape"]
    if int(np.prod(source["shape"])) != n_inputs or int(np.prod(output["shape"])) != n_outputs:
        raise ValueError(f"{where} takes {int(np.prod(source['shape']))} inputs for {n_inputs} "
                         f"weight columns: the engine runs a batch of one example")
    bias = None
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias_tensor = tensors(op.inputs[2])
        if bias_tensor["type"] != "INT32" or bias_tensor["data"] is None:
            raise ValueError(f"{where}: its bias must be a constant int32 tensor, found "
                             f"{bias_tensor['type'].lower()}")
        bias = np.frombuffer(bias_tensor["data"], dtype="<i4")
    return DenseLayer.from_scales(
        np.frombuffer(weights["data"], dtype=np.int8).reshape(n_outputs, n_inputs), bias,
        input_scale=input_scale, input_zero_point=input_zero_point,
        weight_scales=weights["scales"], output_scale=output_scale,
        output_zero_point=output_zero_point, activation=activation,
        name=_layer_name(weights["name"], position))


def read_tflite(tflite_bytes) -> IntegerMLP:
    """Read an int8 ``.tflite`` MLP into an :class:`IntegerMLP`.

    The model must be one chain of :data:`SUPPORTED_OPS`: RESHAPE (Keras' Flatten) and
    FULLY_CONNECTED (Dense) with int8 input, weights and output, int32 biases and a fused
    activation from :data:`ACTIVATIONS`, as ``tl.convert.to_tflite(model, "int8", ...)``
    makes of the lesson MLPs.

    Parameters
    ----------
    tflite_bytes : bytes
        The flatbuffer (``open(path, "rb").read()``).

    Returns
    -------
    IntegerMLP

    Raises
    ------
    ValueError
        For a model the engine cannot run: an operator it does not support (named, with
        what is supported), a float or dynamic-range model, a graph that is not a chain.
    """
    from .convert import check_tflite

    tflite_bytes = check_tflite(tflite_bytes)
    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(tflite_bytes, 0)
    if len(model.subgraphs) != 1:
        raise ValueError(f"the model has {len(model.subgraphs)} subgraphs; the engine runs one")
    subgraph = model.subgraphs[0]
    names = _op_names(model, subgraph, schema)
    unsupported = sorted(set(names) - set(SUPPORTED_OPS))
    if unsupported:
        raise ValueError(f"the model uses {', '.join(unsupported)}, which the TinyLab C engine "
                         f"does not run; it runs MLPs: {' and '.join(SUPPORTED_OPS)} (Flatten "
                         f"and Dense layers, fused ReLU or none). A CNN can run on a board with "
                         f"TensorFlow Lite Micro instead (tl.export.to_c_header)")

    def tensors(index):
        return _tensor(model, subgraph, index, schema, tflite_bytes)

    if len(subgraph.inputs) != 1 or len(subgraph.outputs) != 1:
        raise ValueError("the engine runs models with one input and one output tensor")
    first = tensors(subgraph.inputs[0])
    input_scale, input_zero_point = _check_int8(first, "the model's input")
    current, layers = subgraph.inputs[0], []
    for position, (op, name) in enumerate(zip(subgraph.operators, names)):
        if op.inputs[0] != current:
            raise ValueError(f"operator {position} ({name}) does not read the previous "
                             f"operator's output: the engine runs a chain of layers")
        if name == "RESHAPE":
            if _check_int8(tensors(op.outputs[0]), "a reshape's output") != \
                    _check_int8(tensors(current), "a reshape's input"):
                raise ValueError(f"RESHAPE operator {position} changes the quantization")
        else:
            layers.append(_fully_connected(op, tensors, schema, position))
        current = op.outputs[0]
    if not layers or current != subgraph.outputs[0]:
        raise ValueError("the model has no FULLY_CONNECTED layer ending at its output")
    output_scale, output_zero_point = _check_int8(tensors(current), "the model's output")
    return IntegerMLP(layers=tuple(layers), input_shape=first["shape"][1:],
                      input_scale=input_scale, input_zero_point=input_zero_point,
                      output_scale=output_scale, output_zero_point=output_zero_point,
                      model_hash=hashlib.sha256(tflite_bytes).hexdigest()[:8])


# --------------------------------------------------------------------------- the arithmetic

def quantize_multiplier(real_multiplier: float):
    """TFLite's ``QuantizeMultiplier``: a real multiplier as a Q0.31 significand and a shift.

    ``real ~= multiplier * 2**shift / 2**31`` with ``multiplier`` in ``[2**30, 2**31)``:
    ``frexp`` splits the double, the significand is rounded half away from zero to 31 bits
    (a round up to ``2**31`` is halved and the shift raised), and a shift below -31 flushes
    to ``(0, 0)``.

    Parameters
    ----------
    real_multiplier : float
        E.g. ``input_scale * weight_scale / output_scale``, >= 0.

    Returns
    -------
    multiplier : int
    shift : int

    Examples
    --------
    >>> quantize_multiplier(0.75), quantize_multiplier(0.25)
    ((1610612736, 0), (1073741824, -1))
    """
    if real_multiplier == 0:
        return 0, 0
    significand, shift = math.frexp(float(real_multiplier))
    fixed = _round_half_away(significand * (1 << 31))
    if fixed == 1 << 31:
        fixed, shift = fixed // 2, shift + 1
    if shift < -31:
        fixed, shift = 0, 0
    return int(fixed), int(shift)


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp's ``SaturatingRoundingDoublingHighMul``: ``a * b / 2**31``, rounded.

    The product is nudged by ``2**30`` (``1 - 2**30`` when negative) and divided by ``2**31``
    truncating toward zero: it rounds to nearest, a positive half up and a negative half
    toward zero (-1.5 -> -1). ``a = b = -2**31`` saturates to ``2**31 - 1``.

    Parameters
    ----------
    a, b : array_like of int32 (broadcast together)

    Returns
    -------
    ndarray of int32
    """
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    product = a * b
    nudged = product + np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))
    return np.where((a == b) & (a == _INT32.min), _INT32.max, high).astype(np.int32)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent``, rounding half away from zero.

    Parameters
    ----------
    x : array_like of int32
    exponent : array_like of int, 0 to 31 (broadcast with x)

    Returns
    -------
    ndarray of int32

    Examples
    --------
    >>> rounding_divide_by_pot([5, -5, 3, -3, 4], 1).tolist()
    [3, -3, 2, -2, 2]
    """
    x, exponent = np.asarray(x, dtype=np.int64), np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    threshold = (mask >> 1) + (x < 0)
    return ((x >> exponent) + ((x & mask) > threshold)).astype(np.int32)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """TFLM's ``MultiplyByQuantizedMultiplier`` (double rounding, its default build).

    ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2**left, multiplier), right)``
    with ``left = max(shift, 0)`` and ``right = max(-shift, 0)``; ``x * 2**left`` wraps
    around in 32 bits as the C code does.

    Parameters
    ----------
    x : array_like of int32
        Accumulators.
    multiplier, shift : array_like of int
        From :func:`quantize_multiplier`, broadcast with ``x`` (one per output unit).

    Returns
    -------
    ndarray of int32
        About ``x * multiplier * 2**shift / 2**31``.
    """
    x, shift = np.asarray(x, dtype=np.int64), np.asarray(shift, dtype=np.int64)
    scaled = (x << np.maximum(shift, 0)).astype(np.int32)  # astype wraps, like int32 in C
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scaled, multiplier),
                                  np.maximum(-shift, 0))


def _check_mlp(mlp):
    if not isinstance(mlp, IntegerMLP):
        raise TypeError(f"expected an IntegerMLP, got {type(mlp).__name__}; read one with "
                        f"tl.engine.read_tflite(tflite_bytes)")
    return mlp


def _examples(mlp, X, name):
    X = np.asarray(X)
    shapes = {tuple(mlp.input_shape), (mlp.n_inputs,)}
    if X.ndim < 2 or X.shape[1:] not in shapes:
        raise ValueError(f"{name} must hold examples of shape {mlp.input_shape} or "
                         f"({mlp.n_inputs},) along a first batch axis, got shape {X.shape}"
                         + ("; add the batch axis with X[np.newaxis]" if X.shape in shapes else ""))
    return X.reshape(len(X), mlp.n_inputs)


def quantize_inputs(mlp, X) -> np.ndarray:
    """Float examples as the model's int8 inputs: ``round(x / scale) + zero_point``, clamped.

    Rounds half away from zero in float32, as :func:`tinylab.convert.predict` does before
    TFLM's ``invoke()`` and as a sketch does with ``TL_INPUT_SCALE``.

    Parameters
    ----------
    mlp : IntegerMLP
    X : array_like of float, shape (n, *input_shape) or (n, n_inputs)

    Returns
    -------
    ndarray of int8, shape (n, n_inputs)
    """
    from .convert import quantize_tensor

    _check_mlp(mlp)
    X = _examples(mlp, np.asarray(X, dtype=np.float32), "X")
    details = {"dtype": np.dtype(np.int8), "scale": mlp.input_scale,
               "zero_point": mlp.input_zero_point}
    return quantize_tensor(X, details)


def run_int8(mlp, x_int8) -> np.ndarray:
    """Run the model on int8 inputs with exactly TFLM's integer arithmetic.

    Per layer, as TFLM's reference ``FullyConnected``/``FullyConnectedPerChannel``: int32
    accumulation of ``w * (x - input_zero_point)``, plus the bias,
    :func:`multiply_by_quantized_multiplier` with each unit's multiplier and shift, plus the
    output zero point, clamped to the activation's range.

    Parameters
    ----------
    mlp : IntegerMLP
    x_int8 : ndarray of int8, shape (n, *input_shape) or (n, n_inputs)
        E.g. :func:`quantize_inputs` of ``data.X_test``.

    Returns
    -------
    ndarray of int8, shape (n, n_outputs)
        Bit-exact with the tflite-micro interpreter on the same ``.tflite``.
    """
    _check_mlp(mlp)
    x = np.asarray(x_int8)
    if x.dtype != np.int8:
        raise TypeError(f"x_int8 must be an int8 array (the model's quantized inputs), got "
                        f"{x.dtype}; quantize floats with tl.engine.quantize_inputs(mlp, X)")
    values = _examples(mlp, x, "x_int8").astype(np.int64)
    for layer in mlp.layers:
        acc = (values - layer.input_zero_point) @ layer.weights.T.astype(np.int64)
        if layer.bias is not None:
            acc = acc + layer.bias
        scaled = multiply_by_quantized_multiplier(acc.astype(np.int32), layer.multipliers,
                                                  layer.shifts).astype(np.int64)
        values = np.clip(scaled + layer.output_zero_point, layer.activation_min,
                         layer.activation_max)
    return values.astype(np.int8)


# --------------------------------------------------------------------------- weight formats

def _entries(weights):
    """Deep Compression's stored entries of ``weights`` [out, in]: int8 values (fillers 0), gaps."""
    from .prune import relative_indices

    # relative_indices reads a Keras kernel [in, out] with its last axis first: W.T's stream is
    # W row by row, one row per output unit, as the C kernel walks it.
    values, gaps, _ = relative_indices(weights.T.astype(np.float32), GAP_BITS)
    return values.astype(np.int8), gaps.astype(np.int64)


def _pack_bits(values, width: int) -> bytes:
    """Each value in ``width`` bits, most significant bit first, zero-padded to whole bytes."""
    values = np.asarray(values, dtype=np.int64)
    bits = (values[:, None] >> np.arange(width - 1, -1, -1)) & 1
    return np.packbits(bits.astype(np.uint8).ravel()).tobytes()


def _code_table(symbols, code_symbol_values):
    """Huffman-code ``symbols``: the code, per-length counts, symbols' values in canonical order."""
    code = huffman.build_code(symbols=symbols, max_length=MAX_CODE_BITS)
    packed, n_bits = huffman.encode(symbols, code)
    counts = np.bincount(code.lengths, minlength=code.max_length + 1)[1:]
    if counts.size and counts.max() > 255:
        raise ValueError(f"a code has {counts.max()} words of one length; the C table holds "
                         f"at most 255 per length")
    order = np.lexsort((code.symbols, code.lengths))
    return {"code": code, "counts": counts.astype(np.uint8),
            "symbols": np.asarray(code_symbol_values(code.symbols[order])),
            "bits": packed, "n_bits": n_bits}


def weight_streams(layer: DenseLayer, format: str) -> dict:
    """What a weight format stores in flash for one layer's weights (not biases or scales).

    Parameters
    ----------
    layer : DenseLayer
    format : {"int8", "sparse", "huffman"}

    Returns
    -------
    dict
        ``"int8"``: ``weights`` (int8, ``n_outputs * n_inputs``, row by row).
        ``"sparse"``: ``values`` (int8, one per entry: each non-zero weight, and a 0 for each
        filler), ``gaps`` (the entries' relative indices, int64), ``gap_bytes`` (the gaps
        packed in :data:`GAP_BITS` bits each, most significant bit first).
        ``"huffman"``: ``codebook`` (the layer's distinct non-zero int8 weights, ascending),
        ``indices`` (each entry's codebook index; a filler takes ``len(codebook)``, as in
        :func:`tinylab.pipeline.layer_streams`), ``gaps``, and ``weight_table`` and
        ``gap_table``: dicts with the ``code`` (:class:`tinylab.huffman.HuffmanCode`), the
        ``counts`` of code words of each length 1.. ``max_length``, the ``symbols`` in
        canonical order (for the weights: the int8 value each stands for, 0 for the filler),
        the packed ``bits`` and ``n_bits``.
        Every format also gives ``n_entries`` (0 for ``"int8"``) and ``stored_bytes``, the
        bytes of the arrays above that :func:`generate_c` puts in flash. The firmware's flash
        also holds biases, multipliers and the code: measure it on the build (``avr-size``).
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {list(FORMATS)}")
    if format == "int8":
        weights = layer.weights.ravel()
        return {"weights": weights, "n_entries": 0, "stored_bytes": int(weights.size)}
    values, gaps = _entries(layer.weights)
    if format == "sparse":
        packed = _pack_bits(gaps, GAP_BITS)
        return {"values": values, "gaps": gaps, "gap_bytes": packed, "n_entries": len(values),
                "stored_bytes": len(values) + len(packed)}
    codebook = np.unique(layer.weights[layer.weights != 0])
    indices = np.where(values != 0, np.searchsorted(codebook, values), len(codebook))
    value_of = np.append(codebook, 0).astype(np.int8)
    weight_table = _code_table(indices, lambda symbols: value_of[symbols])
    gap_table = _code_table(gaps, lambda symbols: symbols.astype(np.uint8))
    tables = (weight_table, gap_table)
    return {"codebook": codebook.astype(np.int8), "indices": indices, "gaps": gaps,
            "weight_table": weight_table, "gap_table": gap_table, "n_entries": len(values),
            "stored_bytes": sum(t["counts"].size + t["symbols"].size + len(t["bits"])
                               for t in tables)}


# --------------------------------------------------------------------------- C source

def _kernel_text(format: str) -> str:
    from .boards import BOARDS_DIR

    parts = ["kernel_common.c"] + (["kernel_bits.c"] if format != "int8" else []) \
        + [f"kernel_{format}.c"]
    folder = BOARDS_DIR / "engine"
    missing = [part for part in parts if not (folder / part).is_file()]
    if missing:
        raise FileNotFoundError(f"the C engine's kernels {missing} are missing from {folder}; "
                                f"they ship with TinyLab's repository (boards/engine/)")
    return "\n".join((folder / part).read_text() for part in parts)


def _c_array(ctype: str, name: str, values) -> str:
    """``static const ctype name[n] TL_FLASH = {...};`` from numbers (or bytes)."""
    per_line = 8 if ctype == "int32_t" else 16  # lines under 100 characters
    if isinstance(values, bytes):
        values = np.frombuffer(values, dtype=np.uint8)
    values = [int(v) for v in np.asarray(values).ravel()]
    note = ""
    if not values:
        values, note = [0], "  /* empty: C has no arrays of 0 elements */"
    rows = [", ".join(map(str, values[i:i + per_line])) for i in range(0, len(values), per_line)]
    return (f"static const {ctype} {name}[{len(values)}] TL_FLASH = {{{note}\n    "
            + ",\n    ".join(rows) + "\n};\n")


def _c_float(value: float) -> str:
    text = f"{float(np.float32(value)):.9g}"  # 9 digits give back the float32 exactly
    return text + (".0f" if "." not in text and "e" not in text else "f")


def _folded_bias(layer: DenseLayer) -> np.ndarray:
    """``bias - input_zero_point * sum_i w[o, i]``: the zero point moved out of the inner loop.

    ``sum_i w (x_i - zp) + b == sum_i w x_i + (b - zp sum_i w)`` exactly in integers, so the C
    kernels multiply int8 by int8 (CMSIS-NN does the same).
    """
    bias = np.zeros(layer.n_outputs, np.int64) if layer.bias is None else layer.bias.astype(np.int64)
    folded = bias - int(layer.input_zero_point) * layer.weights.astype(np.int64).sum(axis=1)
    if np.abs(folded).max(initial=0) >= 2 ** 31:
        raise ValueError(f"layer {layer.name!r}: the folded bias overflows int32")
    return folded.astype(np.int32)


def _c_requant(layer: DenseLayer, i: int):
    multipliers = np.asarray(layer.multipliers, dtype=np.int64)
    if multipliers.min(initial=0) < 0 or multipliers.max(initial=0) >= 2 ** 31:
        # the C rescale (kernel_common.c, tl_rescale) relies on 0 <= multiplier < 2^31, which
        # quantize_multiplier guarantees for the non-negative scales of a real model
        raise ValueError(f"layer {layer.name!r}: multipliers must lie in [0, 2**31), as "
                         f"tl.engine.quantize_multiplier makes them")
    arrays = [_c_array("int32_t", f"tl_bias_{i}", _folded_bias(layer)),
              _c_array("int32_t", f"tl_multiplier_{i}", layer.multipliers),
              _c_array("int8_t", f"tl_shift_{i}", layer.shifts)]
    fields = (f".dense = {{.n_inputs = {layer.n_inputs}, .n_outputs = {layer.n_outputs}, "
              f"\n              "
              f".requant = {{.bias = tl_bias_{i}, "
              f".multiplier = tl_multiplier_{i}, .shift = tl_shift_{i},\n"
              f"                          .output_offset = {layer.output_zero_point}, "
              f".activation_min = {layer.activation_min}, "
              f".activation_max = {layer.activation_max}, "
              f".per_channel = {int(layer.per_channel)}}}}}")
    return "".join(arrays), [fields]


def _c_weights(layer: DenseLayer, i: int, format: str):
    """The format's arrays for layer ``i`` and its fields in the layer's struct."""
    streams = weight_streams(layer, format)
    if format == "int8":
        return (_c_array("int8_t", f"tl_weights_{i}", streams["weights"]),
                [f".weights = tl_weights_{i}"])
    n_entries = f".n_entries = {streams['n_entries']}"
    if format == "sparse":
        return (_c_array("int8_t", f"tl_values_{i}", streams["values"])
                + _c_array("uint8_t", f"tl_gaps_{i}", streams["gap_bytes"]),
                [n_entries, f".values = tl_values_{i}", f".gaps = tl_gaps_{i}",
                 f".gap_bits = {GAP_BITS}"])
    arrays, fields = [], [n_entries]
    for part in ("weight", "gap"):
        table = streams[f"{part}_table"]
        arrays += [_c_array("uint8_t", f"tl_{part}_counts_{i}", table["counts"]),
                   _c_array("uint8_t", f"tl_{part}_symbols_{i}",
                            table["symbols"].astype(np.int64) & 0xFF),
                   _c_array("uint8_t", f"tl_{part}_bits_{i}", table["bits"])]
        fields += [f".{part}_code = {{.counts = tl_{part}_counts_{i}, .symbols = "
                   f"tl_{part}_symbols_{i}, .max_length = {table['code'].max_length}}}",
                   f".{part}_bits = tl_{part}_bits_{i}"]
    return "".join(arrays), fields


def _buffer_sizes(mlp) -> list:
    """Bytes of the two static buffers between layers: hidden layer k writes buffer k % 2."""
    sizes = [0, 0]
    for k, layer in enumerate(mlp.layers[:-1]):
        sizes[k % 2] = max(sizes[k % 2], layer.n_outputs)
    return [size for size in sizes if size]


def _c_run(mlp) -> str:
    sizes = _buffer_sizes(mlp)
    lines = [f"static int8_t tl_buffer_{k}[{size}]; /* between layers: static RAM */"
             for k, size in enumerate(sizes)]
    lines += ["", "void tl_model_run(const int8_t *input, int8_t *output)", "{"]
    last = len(mlp.layers) - 1
    for k in range(len(mlp.layers)):
        source = "input" if k == 0 else f"tl_buffer_{(k - 1) % 2}"
        target = "output" if k == last else f"tl_buffer_{k % 2}"
        lines.append(f"    tl_layer_run(&tl_layer_{k}, {source}, {target});")
    return "\n".join(lines + ["}", ""])


def _c_header(mlp, format, name, top) -> str:
    guard = f"{name.upper()}_H"
    layers = " -> ".join([str(mlp.n_inputs)] + [str(layer.n_outputs) for layer in mlp.layers])
    return f"""{top}
#ifndef {guard}
#define {guard}

#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

/* The model's contract with the sketch: an int8 MLP {layers}. */
#define TL_INPUTS {mlp.n_inputs}
#define TL_OUTPUTS {mlp.n_outputs}
#define TL_LAYERS {len(mlp.layers)}
#define TL_MODEL_HASH "{mlp.model_hash}" /* the first 8 hex digits of the .tflite's SHA-256 */
#define TL_FORMAT "{format}"

/* Inputs: q = round(x / TL_INPUT_SCALE) + TL_INPUT_ZERO_POINT (halves away from zero),
 * clamped to [-128, 127]. Outputs: x = TL_OUTPUT_SCALE * (q - TL_OUTPUT_ZERO_POINT). */
#define TL_INPUT_SCALE {_c_float(mlp.input_scale)}
#define TL_INPUT_ZERO_POINT ({mlp.input_zero_point})
#define TL_OUTPUT_SCALE {_c_float(mlp.output_scale)}
#define TL_OUTPUT_ZERO_POINT ({mlp.output_zero_point})

/* Static RAM the engine keeps: its buffers between layers. While it runs it also uses the
 * stack: a copy of one layer's header and a few locals, under 100 bytes on an ATmega328P
 * (avr-gcc -fstack-usage). */
#define TL_BUFFER_BYTES {sum(_buffer_sizes(mlp))}

/* Run the model on one example: TL_INPUTS int8 in, TL_OUTPUTS int8 out. Not reentrant. */
void tl_model_run(const int8_t *input, int8_t *output);

#ifdef __cplusplus
}}
#endif

#endif /* {guard} */
"""


def generate_c(mlp, format: str = "int8", name: str = "tl_model") -> dict:
    """C99 source of the model in one weight format, bit-exact with :func:`run_int8`.

    The header holds the contract a sketch uses: ``TL_INPUTS``, ``TL_OUTPUTS``, ``TL_LAYERS``,
    ``TL_MODEL_HASH`` (:attr:`IntegerMLP.model_hash`), ``TL_FORMAT``, the input and output
    scales and zero points, ``TL_BUFFER_BYTES`` and ``void tl_model_run(const int8_t *input,
    int8_t *output)``. The source holds the kernels of ``boards/engine/`` and the model's
    data in flash (``PROGMEM`` read with ``pgm_read_*`` on AVR, plain ``const`` elsewhere),
    and two static buffers sized to the widest hidden layers. Flash and RAM are what the
    compiler reports for it (``avr-size``), not estimated here.

    Parameters
    ----------
    mlp : IntegerMLP
    format : {"int8", "sparse", "huffman"}
        See :func:`weight_streams`.
    name : str
        The files' base name and include guard, a C identifier. The C symbols are fixed by
        the contract (one model per firmware).

    Returns
    -------
    dict of str -> str
        ``{f"{name}.h": header, f"{name}.c": source}``.
    """
    _check_mlp(mlp)
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose one of {list(FORMATS)}")
    name = check_c_name(name, "name")
    top = banner(f"tinylab.engine.generate_c(mlp, format={format!r}, name={name!r})",
                 [f"{mlp.describe()}, weight format {format!r}."])
    parts = [top, f'#include "{name}.h"\n\n', _kernel_text(format),
             "\n/* " + "-" * 64 + " the model */\n\n"]
    for i, layer in enumerate(mlp.layers):
        requant_arrays, requant_fields = _c_requant(layer, i)
        weight_arrays, weight_fields = _c_weights(layer, i, format)
        fields = ",\n    ".join(requant_fields + weight_fields)
        parts += [f"/* layer {i}: {layer.name}, {layer.n_inputs} -> {layer.n_outputs}, "
                  f"{layer.activation} */\n", requant_arrays, weight_arrays,
                  f"static const tl_layer_t tl_layer_{i} TL_FLASH = {{\n    {fields}\n}};\n\n"]
    parts.append(_c_run(mlp))
    return {f"{name}.h": _c_header(mlp, format, name, top), f"{name}.c": "".join(parts)}
