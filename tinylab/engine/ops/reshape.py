"""RESHAPE (Keras Flatten, and the reshapes around a Conv1D): no data moves.

Tensors are flat NHWC arrays in C, so a reshape only renames a shape: the C engine runs
nothing for it and the next op reads the same bytes. It must keep the quantization.

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Op

__all__ = ["KIND", "Reshape", "from_tflite"]

KIND = "RESHAPE"


@dataclass(frozen=True, eq=False)
class Reshape(Op):
    """A new shape for the same values, in the same order."""

    name: str
    input_shape: tuple
    output_shape: tuple
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    kind = KIND

    def run(self, x):
        return np.asarray(x).reshape((len(x),) + tuple(self.output_shape)).astype(np.int8)


def from_tflite(context) -> Reshape:
    if (context.input_scale, context.input_zero_point) != (context.output_scale,
                                                           context.output_zero_point):
        raise ValueError(f"{context.where} changes the quantization")
    if context.input_size != context.output_size:
        raise ValueError(f"{context.where} changes the number of values")
    return Reshape(name=f"reshape {context.position}", input_shape=tuple(context.input_shape[1:]),
                   output_shape=tuple(context.output_shape[1:]), input_scale=context.input_scale,
                   input_zero_point=context.input_zero_point, output_scale=context.output_scale,
                   output_zero_point=context.output_zero_point)
