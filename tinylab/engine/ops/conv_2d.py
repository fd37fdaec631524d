"""CONV_2D (Keras Conv2D, and Conv1D after a RESHAPE): TFLM's ``ConvPerChannel``.

Each output pixel and channel: ``requant(sum over the filter window and input channels of
w * (x - input_zero_point))``, where taps outside the image count 0 (TFLM skips them). The C
kernel (``boards/engine/op_conv_2d.c``) copies one window (``k_h * k_w * in_c`` bytes, the
padding filled with the input zero point, so that the folded bias stays exact at the borders)
into a scratch patch, then runs every output channel over it as a fully connected row, with
its weights pulled through the weight format. A MAX_POOL_2D right after, with windows that do
not overlap, can be fused into it (:func:`tinylab.engine.memory.plan_memory`): the
convolution's full output is then never stored. The requantization never decreases as the
accumulator grows (:attr:`Conv2D.pools_accumulators`), so the fused kernel keeps the largest
accumulator of each pool window and requantizes it once, not once per window position.

Introduced in lesson ``10_cnn``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Op, frozen
from ..requant import Requant, folded_bias
from .window import geometry, windows

__all__ = ["KIND", "Conv2D", "from_tflite"]

KIND = "CONV_2D"


@dataclass(frozen=True, eq=False)
class Conv2D(Op):
    """An int8 2-D convolution, NHWC.

    Attributes
    ----------
    filters : ndarray of int8, shape (out_c, k_h, k_w, in_c)
        TFLite's OHWI layout: one output channel's filter is one contiguous row.
    strides : (int, int)
    padding : {"SAME", "VALID"}
    pads : (int, int)
        Rows and columns of padding before the image.
    requant : Requant
    activation : str
    """

    name: str
    input_shape: tuple
    output_shape: tuple
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    filters: np.ndarray
    strides: tuple
    padding: str
    pads: tuple
    requant: Requant
    activation: str

    kind = KIND
    c_kernel = "op_conv_2d.c"

    @property
    def kernel(self) -> tuple:
        return tuple(int(d) for d in self.filters.shape[1:3])

    @property
    def macs(self) -> int:
        return int(np.prod(self.output_shape) * np.prod(self.filters.shape[1:]))

    @property
    def scratch_bytes(self) -> int:
        return int(np.prod(self.filters.shape[1:]))  # one window

    @property
    def row_bytes(self) -> int:
        return self.scratch_bytes  # a row is as long as a window

    @property
    def pools_accumulators(self) -> bool:
        """Whether a fused max pool may take the largest *accumulator* of its window and
        requantize it once: ``max(requant(a)) == requant(max(a))`` because the requantization
        (TFLM's rounding multiply, then the zero point and the clamp) never decreases as its
        input grows. That holds unless a channel's multiplier is above 1 (a left shift, where
        ``acc << shift`` may wrap around in 32 bits as it does in TFLM): then each position
        is requantized."""
        return bool(np.all(self.requant.shifts <= 0))

    def scratch(self, streams: bool, pool=None) -> int:
        """The window patch, a decoded row if the format decodes rows, and with a fused pool
        whose accumulators are pooled (:attr:`pools_accumulators`) while rows stream, one
        int32 per output channel for the largest accumulators (first in the scratch)."""
        accumulators = 4 * self.output_shape[-1] if pool is not None and streams \
            and self.pools_accumulators else 0
        return accumulators + super().scratch(streams, pool)

    def weight_rows(self):
        return self.filters.reshape(len(self.filters), -1)

    def run(self, x):
        x = np.asarray(x, dtype=np.int64).reshape((len(x),) + tuple(self.input_shape))
        patches = windows(x - self.input_zero_point, self.kernel, self.strides, self.pads,
                          self.output_shape[:2], 0)  # padding is x = zp: contributes 0
        acc = np.tensordot(patches, self.filters.astype(np.int64), axes=([3, 4, 5], [1, 2, 3]))
        return self.requant.apply(acc)

    def requant_flash(self):
        return self.requant.flash(folded_bias(self.requant.bias, self.weight_rows(),
                                                  self.input_zero_point, self.name))

    def c_fields(self, requant: str, weights: str, pool=None) -> list:
        """``pool``: a fused :class:`tinylab.engine.ops.pooling.Pool2D` (max, no overlap)."""
        (in_h, in_w, in_c), (out_h, out_w, out_c) = self.input_shape, self.output_shape
        pool_fields = [".pool_h = 1", ".pool_w = 1", ".pool_raw = 0", ".pool_min = -128",
                       ".pool_max = 127"]
        if pool is not None:
            pool_fields = [f".pool_h = {pool.kernel[0]}", f".pool_w = {pool.kernel[1]}",
                           f".pool_raw = {int(self.pools_accumulators)}",
                           f".pool_min = {pool.activation_min}",
                           f".pool_max = {pool.activation_max}"]
        return [f".in_h = {in_h}", f".in_w = {in_w}", f".in_c = {in_c}", f".out_h = {out_h}",
                f".out_w = {out_w}", f".out_c = {out_c}", f".k_h = {self.kernel[0]}",
                f".k_w = {self.kernel[1]}", f".stride_h = {self.strides[0]}",
                f".stride_w = {self.strides[1]}", f".pad_top = {self.pads[0]}",
                f".pad_left = {self.pads[1]}", f".input_zero_point = {self.input_zero_point}",
                *pool_fields, f".requant = {requant}", f".weights = {weights}"]

    def summary(self) -> str:
        k_h, k_w = self.kernel
        return (f"{super().summary()}, {k_h}x{k_w} filters, stride {self.strides[0]}, "
                f"{self.padding}")


def from_tflite(context) -> Conv2D:
    """The convolution of a CONV_2D operator (``context``: a flatbuffer ``OpContext``)."""
    in_h, in_w, in_c = context.spatial_input()
    filters = context.constant(1, "INT8", ndim=4)
    out_c, k_h, k_w, filter_c = filters.shape
    if filter_c != in_c:
        raise ValueError(f"{context.where} is a grouped convolution ({in_c} input channels, "
                         f"{filter_c} per filter); the engine runs groups of 1")
    strides, padding, (out_h, out_w), pads = geometry(context, (k_h, k_w), out_c)
    return Conv2D(name=context.layer_name(1), input_shape=(in_h, in_w, in_c),
                  output_shape=(out_h, out_w, out_c), input_scale=context.input_scale,
                  input_zero_point=context.input_zero_point, output_scale=context.output_scale,
                  output_zero_point=context.output_zero_point,
                  filters=frozen(filters, np.int8), strides=strides, padding=padding, pads=pads,
                  requant=context.requant(out_c), activation=context.activation())
