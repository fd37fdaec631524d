"""DEPTHWISE_CONV_2D (Keras DepthwiseConv2D): TFLM's ``DepthwiseConvPerChannel``.

Output channel ``oc = ic * depth_multiplier + m`` filters input channel ``ic`` alone:
``requant(sum over the window of w[ky, kx, oc] * (x[y, x, ic] - input_zero_point))``. The C
kernel (``boards/engine/op_depthwise_conv_2d.c``) gathers one channel's window into a scratch
patch (padding filled with the input zero point) and runs that output channel's row of
``k_h * k_w`` weights over it, pulled through the weight format. The rows are the filter
transposed to ``[oc][ky][kx]``.

Introduced in lesson ``10_cnn``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Op, frozen
from ..requant import Requant, folded_bias
from .window import geometry, windows

__all__ = ["KIND", "DepthwiseConv2D", "from_tflite"]

KIND = "DEPTHWISE_CONV_2D"


@dataclass(frozen=True, eq=False)
class DepthwiseConv2D(Op):
    """An int8 depthwise convolution, NHWC.

    Attributes
    ----------
    filters : ndarray of int8, shape (k_h, k_w, out_c)
        TFLite's layout without its leading 1.
    depth_multiplier : int
    strides, pads : (int, int)
    padding : {"SAME", "VALID"}
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
    depth_multiplier: int
    strides: tuple
    padding: str
    pads: tuple
    requant: Requant
    activation: str

    kind = KIND
    c_kernel = "op_depthwise_conv_2d.c"

    @property
    def kernel(self) -> tuple:
        return tuple(int(d) for d in self.filters.shape[:2])

    @property
    def macs(self) -> int:
        return int(np.prod(self.output_shape) * np.prod(self.kernel))

    @property
    def scratch_bytes(self) -> int:
        return int(np.prod(self.kernel))

    @property
    def row_bytes(self) -> int:
        return self.scratch_bytes  # a row is as long as a window

    def weight_rows(self):
        return np.ascontiguousarray(np.moveaxis(self.filters, -1, 0)).reshape(
            self.filters.shape[-1], -1)

    def run(self, x):
        x = np.asarray(x, dtype=np.int64).reshape((len(x),) + tuple(self.input_shape))
        patches = windows(x - self.input_zero_point, self.kernel, self.strides, self.pads,
                          self.output_shape[:2], 0)  # (n, oh, ow, kh, kw, in_c)
        patches = np.repeat(patches, self.depth_multiplier, axis=-1)  # oc = ic * m + j
        acc = np.einsum("nyxhwc,hwc->nyxc", patches, self.filters.astype(np.int64))
        return self.requant.apply(acc)

    def requant_flash(self):
        return self.requant.flash(folded_bias(self.requant.bias, self.weight_rows(),
                                                  self.input_zero_point, self.name))

    def c_fields(self, requant: str, weights: str) -> list:
        (in_h, in_w, in_c), (out_h, out_w, out_c) = self.input_shape, self.output_shape
        return [f".in_h = {in_h}", f".in_w = {in_w}", f".in_c = {in_c}", f".out_h = {out_h}",
                f".out_w = {out_w}", f".out_c = {out_c}", f".k_h = {self.kernel[0]}",
                f".k_w = {self.kernel[1]}", f".stride_h = {self.strides[0]}",
                f".stride_w = {self.strides[1]}", f".pad_top = {self.pads[0]}",
                f".pad_left = {self.pads[1]}", f".depth_multiplier = {self.depth_multiplier}",
                f".input_zero_point = {self.input_zero_point}", f".requant = {requant}",
                f".weights = {weights}"]

    def summary(self) -> str:
        k_h, k_w = self.kernel
        return (f"{super().summary()}, {k_h}x{k_w} depthwise, stride {self.strides[0]}, "
                f"{self.padding}")


def from_tflite(context) -> DepthwiseConv2D:
    """The layer of a DEPTHWISE_CONV_2D operator (``context``: a flatbuffer ``OpContext``)."""
    in_h, in_w, in_c = context.spatial_input()
    filters = context.constant(1, "INT8", ndim=4)
    _, k_h, k_w, out_c = filters.shape
    if out_c % in_c:
        raise ValueError(f"{context.where}: {out_c} output channels for {in_c} input channels")
    strides, padding, (out_h, out_w), pads = geometry(context, (k_h, k_w), out_c)
    return DepthwiseConv2D(
        name=context.layer_name(1), input_shape=(in_h, in_w, in_c),
        output_shape=(out_h, out_w, out_c), input_scale=context.input_scale,
        input_zero_point=context.input_zero_point, output_scale=context.output_scale,
        output_zero_point=context.output_zero_point, filters=frozen(filters[0], np.int8),
        depth_multiplier=out_c // in_c, strides=strides, padding=padding, pads=pads,
        requant=context.requant(out_c), activation=context.activation())
