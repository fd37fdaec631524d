"""The engine's model: a chain of integer ops, each with its shapes and quantization.

:func:`tinylab.engine.read_tflite` reads a ``.tflite`` file into an :class:`IntegerModel`,
one :class:`Op` per TFLite operator; :func:`tinylab.engine.run_int8` runs it with TFLM's
integer arithmetic and :func:`tinylab.engine.generate_c` writes it as C. Every op knows its
own arithmetic (``run``), its weights (``weight_rows``, in the order its C kernel reads them)
and its C description (``c_fields``), so that an op is one module of
:mod:`tinylab.engine.ops` and one C file of ``boards/engine/``.

Tensors are int8 in TFLite's NHWC layout, one example at a time: a shape here has no batch
axis, and ``(8, 8, 16)`` is 8 rows of 8 pixels of 16 channels, channels fastest, as in C.

Introduced in lesson ``08_deploy``; the convolutions in lesson ``10_cnn``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Op", "IntegerModel", "frozen"]


def frozen(array, dtype) -> np.ndarray:
    """A read-only copy of ``array`` as ``dtype``: ops are immutable descriptions."""
    array = np.array(array, dtype=dtype)
    array.setflags(write=False)
    return array


class Op:
    """What every op of the engine has. Subclasses are frozen dataclasses with at least:

    Attributes
    ----------
    name : str
        The Keras layer's name when the flatbuffer keeps it, else ``"<kind> <position>"``.
    input_shape, output_shape : tuple of int
        One example's shapes, without the batch axis.
    input_scale, output_scale : float
    input_zero_point, output_zero_point : int
    """

    #: The TFLite operator (``"CONV_2D"``); set by each subclass.
    kind = ""
    #: The C file of ``boards/engine/`` that runs it, None for an op that moves no data.
    c_kernel = None

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def n_outputs(self) -> int:
        return int(np.prod(self.output_shape))

    @property
    def macs(self) -> int:
        """Multiply-accumulates per example (0 for an op without weights)."""
        return 0

    def weight_rows(self):
        """The int8 weights as rows, in the order the C kernel reads them, or None.

        One row per output channel (unit): ``(n_rows, row_length)``. The weight formats of
        :mod:`tinylab.engine.formats` store these rows, one after another.
        """
        return None

    @property
    def n_weights(self) -> int:
        rows = self.weight_rows()
        return 0 if rows is None else int(rows.size)

    @property
    def scratch_bytes(self) -> int:
        """RAM the C kernel needs while it runs, besides its input and output."""
        return 0

    def scratch(self, streams: bool, pool=None) -> int:
        """Bytes of scratch the C kernel takes from the arena: :attr:`scratch_bytes`, plus a
        decoded row (:attr:`row_bytes`) when the format does not stream its rows."""
        return self.scratch_bytes + (0 if streams else self.row_bytes)

    @property
    def row_bytes(self) -> int:
        """RAM for one row of weights decoded by a format that decodes rows (``STREAMS`` False
        in :mod:`tinylab.engine.formats`), for an op that reuses each row at many pixels; 0
        for an op that reads each row once."""
        return 0

    def run(self, x) -> np.ndarray:
        """TFLM's arithmetic on a batch: ints ``(n, *input_shape)`` -> int8, ``(n, *output_shape)``.
        """
        raise NotImplementedError

    def c_fields(self, weights: str | None) -> list:
        """The C struct's fields as ``".name = value"`` strings, from the initializers of its
        parts (keyword arguments as the op needs them: ``requant``, ``weights``, ``pool``)."""
        raise NotImplementedError

    def summary(self) -> str:
        """One line: kind, shapes and what is special about it."""
        return f"{self.kind} {_shape(self.input_shape)} -> {_shape(self.output_shape)}"


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape) or "1"


@dataclass(frozen=True, eq=False)
class IntegerModel:
    """An int8 model the engine runs: what :func:`read_tflite` reads, :func:`run_int8` runs
    and :func:`generate_c` writes.

    Attributes
    ----------
    ops : tuple of Op
        In order; each op's output feeds the next.
    input_shape, output_shape : tuple of int
        One example's shapes in the ``.tflite`` file, without the batch axis (e.g. (8, 8, 1));
        the C engine reads and writes them flattened in C order (NHWC).
    input_scale, output_scale : float
        ``real = scale * (q - zero_point)`` for the model's input and output.
    input_zero_point, output_zero_point : int
    model_hash : str
        8 hex digits: the start of the SHA-256 of the ``.tflite`` bytes, so a board can say
        which model it carries (``TL_MODEL_HASH``).
    """

    ops: tuple
    input_shape: tuple
    output_shape: tuple
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    model_hash: str

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def n_outputs(self) -> int:
        return int(np.prod(self.output_shape))

    @property
    def layers(self) -> tuple:
        """The ops with weights (fully connected, convolutions), in order."""
        return tuple(op for op in self.ops if op.weight_rows() is not None)

    @property
    def macs(self) -> int:
        """Multiply-accumulates per example, over all ops."""
        return sum(op.macs for op in self.ops)

    @property
    def n_weights(self) -> int:
        return sum(op.n_weights for op in self.ops)

    @property
    def kind(self) -> str:
        """``"MLP"`` for fully connected layers only, ``"CNN"`` with a convolution."""
        return "CNN" if any("CONV" in op.kind for op in self.ops) else "MLP"

    def describe(self) -> str:
        """One line: the ops' shapes with activations, weights, MACs, the hash."""
        steps = [_shape(self.input_shape)]
        for op in self.ops:
            if op.kind == "RESHAPE":
                continue
            label = {"FULLY_CONNECTED": "", "CONV_2D": "conv ", "DEPTHWISE_CONV_2D": "dwconv ",
                     "MAX_POOL_2D": "maxpool ", "AVERAGE_POOL_2D": "avgpool ",
                     "MEAN": "mean "}.get(op.kind, op.kind.lower() + " ")
            activation = getattr(op, "activation", "NONE")
            steps.append(label + _shape(op.output_shape)
                         + (f" ({activation})" if activation != "NONE" else ""))
        n_weights = self.n_weights
        zeros = sum(int(np.count_nonzero(op.weight_rows() == 0)) for op in self.layers)
        share = f" ({zeros / n_weights:.0%} zero)" if n_weights else ""
        return (f"int8 {self.kind} {' -> '.join(steps)}: {n_weights:,} weights{share}, "
                f"{self.macs:,} MACs, model {self.model_hash}")
