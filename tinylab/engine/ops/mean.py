"""MEAN over the spatial axes (Keras GlobalAveragePooling1D/2D): TFLM's int8 ``Mean``.

TFLM (``reference_ops::QuantizedMeanOrSum``, ``micro/kernels/reduce_common.cc``): the sum of
each channel over the ``n`` reduced positions, less ``input_zero_point * n``, is rescaled by
``input_scale / output_scale`` folded with ``1 / n``: with ``s = min(floor(log2 n), 32,
31 + shift)``, the multiplier becomes ``(multiplier << s) // n`` and the shift ``shift - s``.
Then the output zero point and a clamp to [-128, 127]. C kernel: ``boards/engine/op_mean.c``.

Introduced in lesson ``10_cnn``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..fixed_point import quantize_multiplier
from ..graph import Op, frozen
from ..requant import Requant

__all__ = ["KIND", "Mean", "from_tflite"]

KIND = "MEAN"


@dataclass(frozen=True, eq=False)
class Mean(Op):
    """The mean of each channel over all positions: ``(positions, channels) -> (channels,)``.

    Attributes
    ----------
    requant : Requant
        One multiplier and shift with ``1 / positions`` folded in, no bias, no activation.
    """

    name: str
    input_shape: tuple
    output_shape: tuple
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    requant: Requant

    kind = KIND
    c_kernel = "op_mean.c"

    @property
    def positions(self) -> int:
        return int(np.prod(self.input_shape[:-1]))

    @property
    def channels(self) -> int:
        return int(self.input_shape[-1])

    def run(self, x):
        x = np.asarray(x, dtype=np.int64).reshape(len(x), self.positions, self.channels)
        return self.requant.apply(x.sum(axis=1) - self.input_zero_point * self.positions)

    def c_fields(self, requant: str) -> list:
        return [f".positions = {self.positions}", f".channels = {self.channels}",
                f".input_zero_point = {self.input_zero_point}", f".requant = {requant}"]

    def requant_flash(self):
        return self.requant.flash(None)


def mean_requant(input_scale, output_scale, output_zero_point, positions: int) -> Requant:
    """TFLM's multiplier and shift for a mean over ``positions`` values."""
    multiplier, shift = quantize_multiplier(float(np.float32(input_scale))
                                            / float(np.float32(output_scale)))
    s = min(positions.bit_length() - 1, 32, 31 + shift)
    multiplier = (multiplier << s) // positions
    return Requant(bias=None, multipliers=frozen([multiplier], np.int32),
                   shifts=frozen([shift - s], np.int32), output_zero_point=int(output_zero_point),
                   activation_min=-128, activation_max=127)


def from_tflite(context) -> Mean:
    """The op of a MEAN operator over every axis but the batch and the channels."""
    shape = context.input_shape
    axes = sorted({int(a) % len(shape) for a in np.atleast_1d(context.constant(1, "INT32"))})
    if len(shape) < 3 or axes != list(range(1, len(shape) - 1)):
        raise ValueError(f"{context.where} averages over axes {axes} of a {shape} tensor; the "
                         f"engine runs the global average pooling kind (every axis but the "
                         f"batch and the channels)")
    positions = int(np.prod(shape[1:-1]))
    channels = int(shape[-1])
    if context.output_size != channels:
        raise ValueError(f"{context.where} keeps its reduced axes; the engine drops them")
    return Mean(name=f"mean {context.position}", input_shape=tuple(shape[1:]),
                output_shape=(channels,), input_scale=context.input_scale,
                input_zero_point=context.input_zero_point, output_scale=context.output_scale,
                output_zero_point=context.output_zero_point,
                requant=mean_requant(context.input_scale, context.output_scale,
                                     context.output_zero_point, positions))
