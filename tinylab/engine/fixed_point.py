"""TFLM's integer arithmetic in numpy: fixed-point multipliers, rounding, activation clamps.

The int8 kernels of TensorFlow Lite Micro rescale an int32 accumulator to an int8 output with
a Q0.31 fixed-point multiplier and a power-of-two shift (``tensorflow/lite/kernels/internal/
common.h``, gemmlowp's ``SaturatingRoundingDoublingHighMul`` then ``RoundingDivideByPOT``).
These functions compute exactly the same integers, so that every op of
:mod:`tinylab.engine.ops` is bit-exact with the tflite-micro interpreter.

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ACTIVATIONS", "round_half_away", "quantize_multiplier",
           "saturating_rounding_doubling_high_mul", "rounding_divide_by_pot",
           "multiply_by_quantized_multiplier", "activation_range"]

#: Fused activations the engine applies (as TFLM does, a clamp), by their flatbuffer code.
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}

_INT32 = np.iinfo(np.int32)


def round_half_away(value: float) -> int:
    """C's ``round``/TFLite's ``TfLiteRound``: halves go away from zero."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


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
    fixed = round_half_away(significand * (1 << 31))
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
        From :func:`quantize_multiplier`, broadcast with ``x`` (one per output channel).

    Returns
    -------
    ndarray of int32
        About ``x * multiplier * 2**shift / 2**31``.
    """
    x, shift = np.asarray(x, dtype=np.int64), np.asarray(shift, dtype=np.int64)
    scaled = (x << np.maximum(shift, 0)).astype(np.int32)  # astype wraps, like int32 in C
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scaled, multiplier),
                                  np.maximum(-shift, 0))


def activation_range(activation: str, scale, zero_point: int):
    """TFLM's ``CalculateActivationRangeQuantized`` for an int8 output: ``(low, high)``.

    The activation's limits (0 for ReLU, 6 for ReLU6) quantized in float32 with rounding half
    away from zero, within [-128, 127].
    """
    if activation not in ACTIVATIONS.values():
        raise ValueError(f"activation must be one of {list(ACTIVATIONS.values())}, got "
                         f"{activation!r}")

    def quantize(real):
        return zero_point + round_half_away(float(np.float32(real) / np.float32(scale)))

    low, high = -128, 127
    limits = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
    if activation in limits:
        lower, upper = limits[activation]
        low = max(low, quantize(lower))
        high = high if upper is None else min(high, quantize(upper))
    return low, high
