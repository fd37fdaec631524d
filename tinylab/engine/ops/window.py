"""What convolutions and pooling share: padding, output size, and sliding windows in numpy.

TFLM's ``ComputePaddingHeightWidth`` (``tensorflow/lite/kernels/padding.h``): SAME padding
gives ``ceil(in / stride)`` outputs and pads ``total // 2`` before (the odd one after);
VALID gives ``floor((in - filter) / stride) + 1`` and pads nothing.

Introduced in lesson ``10_cnn``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PADDINGS", "output_size", "padding_before", "geometry", "windows"]

#: The flatbuffer's Padding enum.
PADDINGS = {0: "SAME", 1: "VALID"}


def output_size(padding: str, size: int, filter_size: int, stride: int) -> int:
    """Outputs along one axis (TFLM's ``ComputeOutSize``, dilation 1)."""
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size + stride - filter_size) // stride


def padding_before(size: int, filter_size: int, stride: int, out_size: int) -> int:
    """Rows (or columns) of padding before the input along one axis."""
    total = max((out_size - 1) * stride + filter_size - size, 0)
    return total // 2


def geometry(context, kernel, channels: int):
    """``(strides, padding, (out_h, out_w), pads)`` of a convolution or pool operator.

    ``context`` is the operator's flatbuffer ``OpContext``; ``kernel`` its ``(k_h, k_w)``;
    ``channels`` its output channels, to check the output tensor's size. A dilated operator
    is refused.
    """
    options = context.options
    dilation = (getattr(options, "dilationHFactor", 1), getattr(options, "dilationWFactor", 1))
    if dilation != (1, 1):
        raise ValueError(f"{context.where} is dilated ({dilation[0]}x{dilation[1]}); the engine "
                         f"runs dilation 1")
    in_h, in_w, _ = context.spatial_input()
    strides = (int(options.strideH), int(options.strideW))
    padding = PADDINGS[options.padding]
    out_h = output_size(padding, in_h, kernel[0], strides[0])
    out_w = output_size(padding, in_w, kernel[1], strides[1])
    if context.output_size != out_h * out_w * channels:
        raise ValueError(f"{context.where}: its output holds {context.output_size} values, not "
                         f"{out_h}x{out_w}x{channels}")
    pads = (padding_before(in_h, kernel[0], strides[0], out_h),
            padding_before(in_w, kernel[1], strides[1], out_w))
    return strides, padding, (out_h, out_w), pads


def windows(x, kernel, strides, pads, out_hw, fill) -> np.ndarray:
    """Every filter window of a batch of NHWC images: ``(n, out_h, out_w, k_h, k_w, c)``.

    ``x`` (n, h, w, c) is padded with ``fill`` (``pads`` before, as many after as needed),
    then read at ``oy * stride - pad`` for each output position.
    """
    x = np.asarray(x)
    n, h, w, c = x.shape
    (k_h, k_w), (s_h, s_w), (p_h, p_w), (o_h, o_w) = kernel, strides, pads, out_hw
    need_h, need_w = (o_h - 1) * s_h + k_h, (o_w - 1) * s_w + k_w
    padded = np.full((n, max(need_h, h + p_h), max(need_w, w + p_w), c), fill, dtype=x.dtype)
    padded[:, p_h:p_h + h, p_w:p_w + w] = x
    view = np.lib.stride_tricks.sliding_window_view(padded, (k_h, k_w), axis=(1, 2))
    # view: (n, H', W', c, k_h, k_w) -> pick the strided output positions
    view = view[:, 0:(o_h - 1) * s_h + 1:s_h, 0:(o_w - 1) * s_w + 1:s_w][:, :o_h, :o_w]
    return np.moveaxis(view, 3, -1)
