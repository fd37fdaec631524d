"""From an int32 accumulator to an int8 output: bias, fixed-point rescale, zero point, clamp.

Every op with weights ends the same way in TFLM (``FullyConnectedPerChannel``,
``ConvPerChannel``, ``DepthwiseConvPerChannel``), and so does MEAN: add the bias, multiply by
a Q0.31 multiplier with a shift (:func:`tinylab.engine.fixed_point.
multiply_by_quantized_multiplier`), add the output zero point, clamp to the fused
activation's range. :class:`Requant` holds those numbers, one per output channel (per-channel
scales, what TensorFlow's converter makes) or one for all (per tensor), and writes them as the
C engine's ``tl_requant_t`` (``boards/engine/common.c``).

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed_point import activation_range, multiply_by_quantized_multiplier, quantize_multiplier
from .graph import frozen

__all__ = ["Requant", "folded_bias"]


@dataclass(frozen=True, eq=False)
class Requant:
    """The epilogue of an op: ``clamp(MBQM(acc + bias, multiplier, shift) + zero_point)``.

    Attributes
    ----------
    bias : ndarray of int32, shape (channels,), or None
    multipliers : ndarray of int32, shape (channels,) per channel or (1,) per tensor
        Q0.31 significands (:func:`quantize_multiplier`), in [0, 2**31).
    shifts : ndarray of int32, same shape
        Power-of-two exponents (positive: shift left).
    output_zero_point : int
    activation_min, activation_max : int
        The clamp that applies the fused activation, in output integers.
    """

    bias: np.ndarray | None
    multipliers: np.ndarray
    shifts: np.ndarray
    output_zero_point: int
    activation_min: int
    activation_max: int

    @classmethod
    def from_scales(cls, *, input_scale, weight_scales, output_scale, output_zero_point,
                    activation="NONE", bias=None, n_channels=None):
        """As TFLM's ``CalculateOpData...``: the effective scale of each channel is
        ``double(input_scale) * double(weight_scale) / double(output_scale)`` from float32
        scales, then :func:`quantize_multiplier`; the clamp from
        :func:`tinylab.engine.fixed_point.activation_range`.

        Parameters
        ----------
        input_scale, output_scale : float, > 0
        weight_scales : array_like of float, shape (n_channels,) or (1,), > 0
            Use ``[1.0]`` for an op without weights (MEAN).
        output_zero_point : int in [-128, 127]
        activation : {"NONE", "RELU", "RELU_N1_TO_1", "RELU6"}
        bias : array_like of int, shape (n_channels,), or None
        n_channels : int, optional
            Checked against the scales and the bias when given.
        """
        scales = np.atleast_1d(np.asarray(weight_scales, dtype=np.float32))
        if n_channels is not None and scales.shape not in ((1,), (n_channels,)):
            raise ValueError(f"weight_scales must be one positive scale or one per output "
                             f"channel ({n_channels}), got shape {scales.shape}")
        if not np.all(scales > 0):
            raise ValueError(f"weight scales must be > 0, got {scales.tolist()}")
        if bias is not None and n_channels is not None and np.shape(bias) != (n_channels,):
            raise ValueError(f"bias must have one int32 per output channel ({n_channels}), got "
                             f"shape {np.shape(bias)}")
        input_scale, output_scale = np.float32(input_scale), np.float32(output_scale)
        pairs = [quantize_multiplier(float(input_scale) * float(s) / float(output_scale))
                 for s in scales]
        low, high = activation_range(activation, output_scale, int(output_zero_point))
        return cls(bias=None if bias is None else frozen(bias, np.int32),
                   multipliers=frozen([m for m, _ in pairs], np.int32),
                   shifts=frozen([s for _, s in pairs], np.int32),
                   output_zero_point=int(output_zero_point), activation_min=low,
                   activation_max=high)

    @property
    def per_channel(self) -> bool:
        return self.multipliers.size > 1

    def apply(self, acc) -> np.ndarray:
        """int32 accumulators, channels on the last axis -> int8 outputs (TFLM's epilogue)."""
        acc = np.asarray(acc, dtype=np.int64)
        if self.bias is not None:
            acc = acc + self.bias
        scaled = multiply_by_quantized_multiplier(acc.astype(np.int32), self.multipliers,
                                                  self.shifts).astype(np.int64)
        return np.clip(scaled + self.output_zero_point, self.activation_min,
                       self.activation_max).astype(np.int8)

    def flash(self, folded_bias) -> tuple:
        """What the C epilogue reads from flash: ``(arrays, fields)``, the
        :class:`~tinylab.engine.formats.stored.Array` records and the ``tl_requant_t``
        initializer, with ``folded_bias`` (int32 per channel, or None) in place of the bias
        (see :func:`folded_bias`). The biases take 3 bytes each when every one of them fits 24
        bits, else 4 (with the input zero point folded in they rarely fit 16 bits, and a
        third width cost more cycles per unit than it saved bytes); the multiplier and shift
        once per layer unless the scales are per channel."""
        from .formats.stored import Array

        multipliers = np.asarray(self.multipliers, dtype=np.int64)
        if multipliers.min(initial=0) < 0 or multipliers.max(initial=0) >= 2 ** 31:
            # the C rescale (common.c, tl_rescale) relies on 0 <= multiplier < 2^31, which
            # quantize_multiplier guarantees for the non-negative scales of a real model
            raise ValueError("multipliers must lie in [0, 2**31), as "
                             "tl.engine.quantize_multiplier makes them")
        arrays = [Array("multiplier", "int32_t", self.multipliers, "requantization"),
                  Array("shift", "int8_t", self.shifts, "requantization")]
        bias, bias_bytes = "0", 0
        if folded_bias is not None:
            folded = np.asarray(folded_bias, dtype=np.int64)
            bias_bytes = 3 if np.all((folded >= -2 ** 23) & (folded < 2 ** 23)) else 4
            if bias_bytes == 3:  # no C type: three bytes each, little-endian
                array = Array("bias", "uint8_t", (folded[:, None] >> np.array([0, 8, 16])) & 0xFF,
                              "biases")
            else:
                array = Array("bias", f"int{8 * bias_bytes}_t", folded, "biases")
            arrays.insert(0, array)
            bias = "{prefix}_bias"
        fields = (("bias", bias), ("multiplier", "{prefix}_multiplier"),
                  ("shift", "{prefix}_shift"), ("output_offset", str(self.output_zero_point)),
                  ("activation_min", str(self.activation_min)),
                  ("activation_max", str(self.activation_max)),
                  ("per_channel", str(int(self.per_channel))),
                  ("bias_bytes", str(bias_bytes)))
        return tuple(arrays), fields


def folded_bias(bias, rows, input_zero_point: int, name: str):
    """``bias - input_zero_point * sum(row)``: the input zero point moved out of the inner loop.

    ``sum_i w (x_i - zp) + b == sum_i w x_i + (b - zp sum_i w)`` exactly in integers, so the C
    kernels multiply int8 by int8 (CMSIS-NN does the same). A convolution's padding holds the
    zero point (:func:`tinylab.engine.ops.conv_2d`), so the fold is exact at the borders too.
    """
    rows = np.asarray(rows, dtype=np.int64)
    bias = np.zeros(len(rows), np.int64) if bias is None else np.asarray(bias, np.int64)
    folded = bias - int(input_zero_point) * rows.sum(axis=1)
    if np.abs(folded).max(initial=0) >= 2 ** 31:
        raise ValueError(f"{name}: the folded bias overflows int32")
    return folded.astype(np.int32)
