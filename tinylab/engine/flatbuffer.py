"""Reading a ``.tflite`` file into an :class:`tinylab.engine.graph.IntegerModel`.

The flatbuffer is read with the schema reader LiteRT ships (``ai_edge_litert.
schema_py_generated``), not through an interpreter: the fused activation of each op is in the
flatbuffer but no interpreter call returns it, and reading the file gives exactly the numbers
TFLM reads (scales as float32, per channel or not), with no kernel or delegate between. Each
operator is handed, as an :class:`OpContext`, to the reader of its op module
(:data:`tinylab.engine.ops.OPS`).

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .fixed_point import ACTIVATIONS
from .graph import IntegerModel

__all__ = ["OpContext", "read_tflite"]


def _schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as error:
        from ..convert import MissingRuntimeError

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


_DTYPES = {"INT8": np.int8, "INT32": "<i4"}


class OpContext:
    """One operator of the flatbuffer, as an op module's ``from_tflite`` reads it.

    Attributes
    ----------
    kind : str
        The TFLite operator (``"CONV_2D"``).
    position : int
        Its index in the graph.
    where : str
        ``"CONV_2D operator 0"``, for messages.
    options
        The operator's builtin options (the schema's object API).
    input_shape, output_shape : tuple of int
        With the batch axis.
    input_scale, output_scale : float
    input_zero_point, output_zero_point : int
    """

    def __init__(self, kind, position, op, tensors, schema):
        self.kind, self.position, self.where = kind, position, f"{kind} operator {position}"
        self.options, self._op, self._tensors, self._schema = op.builtinOptions, op, tensors, schema
        source, output = tensors(op.inputs[0]), tensors(op.outputs[0])
        self.input_shape, self.output_shape = source["shape"], output["shape"]
        self.input_scale, self.input_zero_point = _check_int8(source, "the input of " + self.where)
        self.output_scale, self.output_zero_point = _check_int8(output,
                                                                "the output of " + self.where)
        if self.input_shape[:1] not in ((1,), ()) or self.output_shape[:1] not in ((1,), ()):
            raise ValueError(f"{self.where} runs a batch of {self.input_shape[0]}: the engine "
                             f"runs one example at a time")

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def output_size(self) -> int:
        return int(np.prod(self.output_shape))

    def spatial_input(self) -> tuple:
        """``(height, width, channels)`` of a 4-D NHWC input."""
        if len(self.input_shape) != 4:
            raise ValueError(f"{self.where} reads a {len(self.input_shape)}-D tensor; it needs "
                             f"NHWC images (batch, height, width, channels)")
        return tuple(self.input_shape[1:])

    def _input(self, slot):
        return self._tensors(self._op.inputs[slot]) if len(self._op.inputs) > slot \
            and self._op.inputs[slot] >= 0 else None

    def constant(self, slot: int, type_name: str, ndim=None) -> np.ndarray:
        """Input ``slot``'s constant data as an array of its shape."""
        tensor = self._input(slot)
        if tensor is None or tensor["type"] != type_name or tensor["data"] is None \
                or (ndim is not None and len(tensor["shape"]) != ndim):
            found = "nothing" if tensor is None else \
                f"{tensor['type'].lower()} of shape {tensor['shape']}" \
                + ("" if tensor["data"] is not None else " (not constant)")
            raise ValueError(f"{self.where}: input {slot} must be a constant "
                             f"{type_name.lower()} tensor" + (f" of {ndim} dimensions"
                                                             if ndim else "")
                             + f", found {found}")
        if type_name == "INT8" and np.any(tensor["zero_points"] != 0):
            raise ValueError(f"{self.where}: weight zero points must be 0 (symmetric int8, as "
                             f"TFLM requires), found "
                             f"{sorted(set(tensor['zero_points'].tolist()))}")
        return np.frombuffer(tensor["data"], dtype=_DTYPES[type_name]).reshape(tensor["shape"])

    def weight_scales(self, slot: int) -> np.ndarray:
        return self._input(slot)["scales"]

    def bias(self, slot: int, n_channels: int):
        """The int32 bias of input ``slot``, or None when the op has none."""
        if self._input(slot) is None:
            return None
        bias = self.constant(slot, "INT32").ravel()
        if bias.shape != (n_channels,):
            raise ValueError(f"{self.where}: {bias.size} biases for {n_channels} channels")
        return bias

    def requant(self, n_channels: int):
        """The op's epilogue from its scales, the weights of input 1 and the bias of input 2."""
        from .requant import Requant

        return Requant.from_scales(input_scale=self.input_scale,
                                   weight_scales=self.weight_scales(1),
                                   output_scale=self.output_scale,
                                   output_zero_point=self.output_zero_point,
                                   activation=self.activation(),
                                   bias=self.bias(2, n_channels), n_channels=n_channels)

    def activation(self) -> str:
        code = getattr(self.options, "fusedActivationFunction", 0)
        if code not in ACTIVATIONS:
            name = _enum_names(self._schema.ActivationFunctionType).get(code, code)
            raise ValueError(f"{self.where} has the fused activation {name}; the engine "
                             f"supports {list(ACTIVATIONS.values())}")
        return ACTIVATIONS[code]

    def layer_name(self, slot: int) -> str:
        """The Keras layer's name from its weights' tensor's ("model/logits/MatMul": "logits")."""
        parts = self._input(slot)["name"].split(";")[0].split("/")
        return parts[-2] if len(parts) > 1 and parts[-2] else f"{self.kind.lower()} {self.position}"


def read_tflite(tflite_bytes) -> IntegerModel:
    """Read an int8 ``.tflite`` model into an :class:`IntegerModel`.

    The model must be one chain of :data:`tinylab.engine.SUPPORTED_OPS` with int8 inputs,
    weights and outputs, int32 biases and a fused activation from
    :data:`tinylab.engine.ACTIVATIONS`, as ``tl.convert.to_tflite(model, "int8", ...)`` makes
    of the lesson MLPs and CNNs.

    Parameters
    ----------
    tflite_bytes : bytes
        The flatbuffer (``open(path, "rb").read()``).

    Returns
    -------
    IntegerModel

    Raises
    ------
    ValueError
        For a model the engine cannot run: an operator it does not support (named, with
        what is supported), a float or dynamic-range model, a graph that is not a chain.
    """
    from ..convert import check_tflite
    from .ops import OPS

    tflite_bytes = check_tflite(tflite_bytes)
    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(tflite_bytes, 0)
    if len(model.subgraphs) != 1:
        raise ValueError(f"the model has {len(model.subgraphs)} subgraphs; the engine runs one")
    subgraph = model.subgraphs[0]
    names = _op_names(model, subgraph, schema)
    unsupported = sorted(set(names) - set(OPS))
    if unsupported:
        raise ValueError(f"the model uses {', '.join(unsupported)}, which the TinyLab C engine "
                         f"does not run; it runs {', '.join(OPS)} (Dense, Conv1D/2D, "
                         f"DepthwiseConv2D, pooling, global average pooling and Flatten layers, "
                         f"fused ReLU, ReLU6 or none). Such a model can run on a 32-bit board "
                         f"with TensorFlow Lite Micro instead (tl.export.to_c_header)")

    def tensors(index):
        return _tensor(model, subgraph, index, schema, tflite_bytes)

    if len(subgraph.inputs) != 1 or len(subgraph.outputs) != 1:
        raise ValueError("the engine runs models with one input and one output tensor")
    first = tensors(subgraph.inputs[0])
    input_scale, input_zero_point = _check_int8(first, "the model's input")
    current, ops = subgraph.inputs[0], []
    for position, (op, name) in enumerate(zip(subgraph.operators, names)):
        if op.inputs[0] != current:
            raise ValueError(f"operator {position} ({name}) does not read the previous "
                             f"operator's output: the engine runs a chain of layers")
        ops.append(OPS[name](OpContext(name, position, op, tensors, schema)))
        previous = ops[-2].n_outputs if len(ops) > 1 else int(np.prod(first["shape"]))
        if ops[-1].n_inputs != previous:
            raise ValueError(f"operator {position} ({name}) reads {ops[-1].n_inputs} values, "
                             f"not what the previous operator writes")
        current = op.outputs[0]
    if not any(op.c_kernel for op in ops) or current != subgraph.outputs[0]:
        raise ValueError("the model has no operator that computes, or its chain does not end "
                         "at its output")
    last = tensors(current)
    output_scale, output_zero_point = _check_int8(last, "the model's output")
    return IntegerModel(ops=tuple(ops), input_shape=first["shape"][1:],
                        output_shape=last["shape"][1:], input_scale=input_scale,
                        input_zero_point=input_zero_point, output_scale=output_scale,
                        output_zero_point=output_zero_point,
                        model_hash=hashlib.sha256(tflite_bytes).hexdigest()[:8])
