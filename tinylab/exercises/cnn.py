"""The exercise checker of lesson ``10_cnn``."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_conv_macs"]

#: (input_shape, filters, kernel_size, stride, padding): the cnn's first layer, then layers
#: whose sizes differ enough that each usual slip gives a number of its own (a strided one and
#: a valid one, where the output is smaller than the input), then the cnn's second layer.
PROBES = (((8, 8, 1), 16, 3, 1, "same"), ((7, 7, 3), 8, 3, 2, "same"),
          ((8, 8, 2), 4, 3, 2, "valid"), ((4, 4, 16), 32, 3, 1, "same"),
          ((28, 28, 1), 8, 5, 1, "valid"))


def _slips(input_shape, filters, kernel_size, stride, padding) -> dict:
    """The usual wrong answers for one probe, each with its hint (first slip wins a tie)."""
    height, width, channels = input_shape
    area = kernel_size * kernel_size
    expected = solutions.conv2d_macs(input_shape, filters, kernel_size, stride, padding)
    out_positions = expected // (filters * area * channels)
    candidates = [
        (area * channels * filters + filters,
         "that is the layer's parameters (weights and biases). A MAC is one product added to "
         "the sum: each weight is used once at every output position."),
        (area * channels * filters,
         "that counts each weight once: the filter slides, and each weight is used again at "
         "every output position."),
        (out_positions * filters * area,
         "each filter spans every input channel: one output value sums kernel_size * "
         "kernel_size * channels products."),
        (out_positions * area * channels,
         "every filter makes its own output channel: multiply by filters."),
        (height * width * filters * area * channels,
         "with padding='valid' or a stride > 1 the output is smaller than the input: count "
         "the output positions, not the input pixels."),
        (((height - kernel_size) // stride) * ((width - kernel_size) // stride) * filters
         * area * channels,
         "with padding='valid' the kernel fits (height - kernel_size) // stride + 1 times "
         "down the input: don't forget the + 1."),
        ((height // stride) * (width // stride) * filters * area * channels,
         "with padding='same' the output has ceil(height / stride) rows: a last, partial "
         "step still gives an output."),
    ]
    slips = {}
    for value, hint in candidates:
        if value != expected:
            slips.setdefault(value, hint)
    return slips


def check_conv_macs(conv2d_macs) -> CheckResult:
    """Lesson 10: ``conv2d_macs(input_shape, filters, kernel_size, stride, padding)``.

    The multiply-accumulates one Conv2D layer does on one example: ``input_shape`` is
    ``(height, width, channels)``, the kernel square, ``padding`` ``"same"`` or ``"valid"``.
    A wrong answer is compared with the usual slips (parameters instead of MACs, each weight
    counted once, channels or filters left out, input positions instead of output ones, the
    output size off by one) for a hint.
    """
    name = "MACs of a convolution"
    for input_shape, filters, kernel_size, stride, padding in PROBES:
        shown = (f"conv2d_macs({input_shape}, filters={filters}, kernel_size={kernel_size}, "
                 f"stride={stride}, padding={padding!r})")
        got, failed = call_student(name, conv2d_macs, input_shape, filters, kernel_size, stride,
                                   padding, returns="the number of multiply-accumulates")
        if failed is not None:
            return failed
        if isinstance(got, (bool, np.bool_)):
            return CheckResult(name, False, f"{shown} returned {got}: return a count.")
        try:
            value = float(got)
        except (TypeError, ValueError):
            return CheckResult(name, False, f"{shown} returned {got!r}: return a number of "
                                            f"multiply-accumulates.")
        expected = solutions.conv2d_macs(input_shape, filters, kernel_size, stride, padding)
        if value == expected:
            continue
        hint = _slips(input_shape, filters, kernel_size, stride, padding).get(
            value, "count the output values (out_h * out_w * filters), then the products "
                   "each one sums (kernel_size * kernel_size * channels).")
        return CheckResult(name, False, f"{shown} returned {got!r}; expected {expected:,}. "
                                        f"Hint: {hint}")
    first = solutions.conv2d_macs(*PROBES[0])
    second = solutions.conv2d_macs(*PROBES[3])
    params = 3 * 3 * 16 * 32 + 32
    return CheckResult(name, True, f"the cnn's second layer does {second:,} MACs with "
                                   f"{params:,} parameters, about {round(second / params)} per "
                                   f"parameter; its first, {first:,} with 160. A Dense layer "
                                   f"uses each weight once.")
