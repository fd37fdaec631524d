"""MAX_POOL_2D and AVERAGE_POOL_2D (Keras MaxPooling and AveragePooling, 1-D and 2-D).

TFLM's int8 ``MaxPool`` and ``AveragePool`` (``reference/integer_ops/pooling.h``): over the
part of each window inside the image, the largest value, or the sum divided by the count of
those values, rounding half away from zero; then the fused activation's clamp. Input and
output share one scale and zero point (TFLM requires it), so no rescale. C kernel:
``boards/engine/op_pooling.c``; a max pool right after a convolution may instead be fused
into it (:mod:`tinylab.engine.ops.conv_2d`).

Introduced in lesson ``10_cnn``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..fixed_point import activation_range
from ..graph import Op
from .window import geometry, windows

__all__ = ["KINDS", "Pool2D", "from_tflite"]

KINDS = ("MAX_POOL_2D", "AVERAGE_POOL_2D")


@dataclass(frozen=True, eq=False)
class Pool2D(Op):
    """An int8 max or average pool, NHWC.

    Attributes
    ----------
    average : bool
        True for AVERAGE_POOL_2D, False for MAX_POOL_2D.
    kernel, strides, pads : (int, int)
    padding : {"SAME", "VALID"}
    activation : str
    activation_min, activation_max : int
    """

    name: str
    input_shape: tuple
    output_shape: tuple
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    average: bool
    kernel: tuple
    strides: tuple
    padding: str
    pads: tuple
    activation: str
    activation_min: int
    activation_max: int

    c_kernel = "op_pooling.c"

    @property
    def kind(self) -> str:
        return KINDS[1] if self.average else KINDS[0]

    @property
    def fusable(self) -> bool:
        """A max pool whose windows tile the image without overlap or padding."""
        return (not self.average and self.padding == "VALID"
                and tuple(self.strides) == tuple(self.kernel))

    def run(self, x):
        x = np.asarray(x, dtype=np.int64).reshape((len(x),) + tuple(self.input_shape))
        out_hw = self.output_shape[:2]
        if self.average:
            sums = windows(x, self.kernel, self.strides, self.pads, out_hw, 0).sum(axis=(3, 4))
            counts = windows(np.ones_like(x[:1]), self.kernel, self.strides, self.pads, out_hw,
                             0).sum(axis=(3, 4))
            half = counts // 2
            # C's division truncates toward zero: the quotient of |sum| + half, with sum's sign
            values = np.where(sums > 0, (sums + half) // counts, -((half - sums) // counts))
        else:
            values = windows(x, self.kernel, self.strides, self.pads, out_hw,
                             -(1 << 20)).max(axis=(3, 4))
        return np.clip(values, self.activation_min, self.activation_max).astype(np.int8)

    def c_fields(self) -> list:
        (in_h, in_w, c), (out_h, out_w, _) = self.input_shape, self.output_shape
        return [f".in_h = {in_h}", f".in_w = {in_w}", f".c = {c}", f".out_h = {out_h}",
                f".out_w = {out_w}", f".k_h = {self.kernel[0]}", f".k_w = {self.kernel[1]}",
                f".stride_h = {self.strides[0]}", f".stride_w = {self.strides[1]}",
                f".pad_top = {self.pads[0]}", f".pad_left = {self.pads[1]}",
                f".average = {int(self.average)}", f".activation_min = {self.activation_min}",
                f".activation_max = {self.activation_max}"]

    def summary(self) -> str:
        return (f"{super().summary()}, {self.kernel[0]}x{self.kernel[1]} windows, stride "
                f"{self.strides[0]}, {self.padding}")


def from_tflite(context) -> Pool2D:
    """The pool of a MAX_POOL_2D or AVERAGE_POOL_2D operator."""
    options = context.options
    in_h, in_w, c = context.spatial_input()
    if (context.input_scale, context.input_zero_point) != (context.output_scale,
                                                           context.output_zero_point):
        raise ValueError(f"{context.where} changes the quantization; TFLM's int8 pooling "
                         f"keeps it (convert with tl.convert.to_tflite)")
    kernel = (int(options.filterHeight), int(options.filterWidth))
    strides, padding, (out_h, out_w), pads = geometry(context, kernel, c)
    activation = context.activation()
    low, high = activation_range(activation, context.output_scale, context.output_zero_point)
    return Pool2D(name=f"{context.kind.lower()} {context.position}",
                  input_shape=(in_h, in_w, c), output_shape=(out_h, out_w, c),
                  input_scale=context.input_scale, input_zero_point=context.input_zero_point,
                  output_scale=context.output_scale,
                  output_zero_point=context.output_zero_point,
                  average=context.kind == KINDS[1], kernel=kernel, strides=strides,
                  padding=padding, pads=pads, activation=activation, activation_min=low,
                  activation_max=high)
