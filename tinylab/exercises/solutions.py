"""The reference solutions of the lessons' exercises, tested like the rest of the package.

``tl.exercises.show_solution(name)`` prints one, for after the student has tried; the
checkers compare a student's answer with these.
"""

from __future__ import annotations

import numpy as np

__all__ = ["uno_weights", "normalize", "dense_params", "soft_loss", "prune_mask", "quantize",
           "share_linear",
           "huffman_lengths", "int8_flash_bytes", "int8_dense", "conv2d_macs", "standardize_channels"]


def uno_weights() -> int:
    """How many float32 weights fit in the Uno's usable flash (ignoring the program itself)."""
    from .. import boards
    return boards.load("uno")["flash_usable_bytes"] // 4


def normalize(raw_pixels):
    """Digits pixels 0..16 -> floats in [0, 1]."""
    return np.asarray(raw_pixels, dtype=np.float32) / 16.0


def dense_params(n_inputs: int, n_units: int) -> int:
    """Parameters of a Dense layer: one weight per input per unit, plus one bias per unit."""
    return n_inputs * n_units + n_units


def soft_loss(teacher_logits, student_logits, temperature):
    """Lesson 03, eq. (3) times T**2: the teacher's soft targets p against the student's q.

    p = softmax(teacher_logits / T) and q = softmax(student_logits / T), row by row;
    the loss is T**2 * mean over the examples of -sum_i p_i ln q_i.
    """
    def log_softmax(logits):
        z = np.asarray(logits, dtype=np.float64) / temperature
        z = z - z.max(axis=-1, keepdims=True)  # stable: exp() never overflows
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    p = np.exp(log_softmax(teacher_logits))
    log_q = log_softmax(student_logits)
    return temperature ** 2 * np.mean(-np.sum(p * log_q, axis=-1))


def prune_mask(weights, quality):
    """Lesson 04: Han et al.'s keep-mask, True where |w| > quality * std(weights)."""
    weights = np.asarray(weights, dtype=np.float64)
    threshold = quality * weights.std()
    return np.abs(weights) > threshold


def quantize(x, scale, zero_point, bits):
    """Lesson 05: floats to signed ``bits``-bit integers, x_q = clip(round(x / scale) + zero_point).

    The integers run from -2**(bits - 1) to 2**(bits - 1) - 1 (int8: -128..127); a value
    outside the range saturates at its end. Ties (x / scale = k + 0.5) round away from zero,
    as TFLite's kernels do, and the zero point is added after rounding.
    """
    scaled = np.asarray(x, dtype=np.float64) / scale
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)  # half away from zero
    lowest, highest = -2 ** (bits - 1), 2 ** (bits - 1) - 1
    return np.clip(rounded + zero_point, lowest, highest).astype(np.int32)


def share_linear(weights, mask, bits):
    """Lesson 06: the first step of Han et al.'s weight sharing, linear start and nearest centroid.

    ``centroids``: the ``2**bits`` values evenly spaced from the smallest to the largest
    *kept* weight (``mask`` True), both ends included. ``indices``: for each kept weight, the
    index of its nearest centroid (the smallest ``|w - c|``; at an exact tie the lower
    index, as ``np.argmin`` gives); ``-1`` for a pruned weight, which belongs to no cluster.
    """
    weights, mask = np.asarray(weights, dtype=np.float64), np.asarray(mask, dtype=bool)
    kept = weights[mask]
    centroids = np.linspace(kept.min(), kept.max(), 2 ** bits)
    indices = np.full(weights.shape, -1)
    indices[mask] = np.argmin(np.abs(kept[:, np.newaxis] - centroids), axis=1)
    return centroids, indices


def huffman_lengths(counts):
    """Lesson 07: the Huffman code length (bits) of each symbol; ``counts[i]`` > 0 counts symbol i.

    Every symbol starts in a group of its own, weighted by its count; the two lightest groups
    merge until one is left. A merge puts one more bit in front of the code word of every
    symbol in both groups, so a symbol's length is the number of merges it takes part in.
    """
    import heapq

    if len(counts) == 1:
        return [1]  # a lone symbol still needs one bit per occurrence
    lengths = [0] * len(counts)
    groups = [(count, symbol, [symbol]) for symbol, count in enumerate(counts)]
    heapq.heapify(groups)  # the lightest group first; ties go to the smaller symbol
    while len(groups) > 1:
        weight_a, first, symbols_a = heapq.heappop(groups)
        weight_b, _, symbols_b = heapq.heappop(groups)
        for symbol in symbols_a + symbols_b:
            lengths[symbol] += 1
        heapq.heappush(groups, (weight_a + weight_b, first, symbols_a + symbols_b))
    return lengths


def int8_flash_bytes(widths) -> int:
    """Lesson 08: bytes of an int8 MLP's numbers in flash, ``widths = [inputs, hidden..., outputs]``.

    Each Dense layer from ``n_in`` to ``n_out`` units stores ``n_in * n_out`` int8 weights, one
    byte each, and ``n_out`` int32 biases, four bytes each (TFLite's int8 scheme keeps biases in
    32 bits, the width of the accumulator they are added to).
    """
    widths = [int(w) for w in widths]
    return sum(n_in * n_out + 4 * n_out for n_in, n_out in zip(widths[:-1], widths[1:]))


def int8_dense(x_int8, layer):
    """Lesson 08: one int8 Dense layer with TFLM's requantization, bit for bit.

    ``x_int8`` is an int8 array of shape ``(n, n_inputs)``; ``layer`` a
    :class:`tinylab.engine.FullyConnected` (its ``weights``, ``bias``, ``input_zero_point``,
    ``multipliers`` and ``shifts`` from ``tl.engine.quantize_multiplier``,
    ``output_zero_point``, ``activation_min`` and ``activation_max``). Returns int8, shape
    ``(n, n_outputs)``. Given: ``tl.engine.saturating_rounding_doubling_high_mul``; the rest
    is the student's.
    """
    from ..engine import saturating_rounding_doubling_high_mul

    x = np.asarray(x_int8, dtype=np.int64)
    weights = np.asarray(layer.weights, dtype=np.int64)
    bias = 0 if layer.bias is None else np.asarray(layer.bias, dtype=np.int64)
    # 1. the int32 accumulator: inputs minus their zero point, times the weights, plus the bias
    acc = (x - layer.input_zero_point) @ weights.T + bias
    # 2. times M = multiplier / 2**31 * 2**shift: a positive shift first (left), then the
    #    high half of the 64-bit product, rounded (given), then a negative shift (right)
    shifts = np.asarray(layer.shifts, dtype=np.int64)
    left, right = np.maximum(shifts, 0), np.maximum(-shifts, 0)
    high = saturating_rounding_doubling_high_mul(acc << left, layer.multipliers).astype(np.int64)
    # 3. divide by 2**right, rounding to nearest with halves away from zero
    half = (np.int64(1) << right) >> 1
    scaled = np.sign(high) * ((np.abs(high) + half) >> right)
    # 4. the output zero point, then the clamp (which is also the ReLU)
    return np.clip(scaled + layer.output_zero_point, layer.activation_min,
                   layer.activation_max).astype(np.int8)


def conv2d_macs(input_shape, filters, kernel_size, stride=1, padding="same") -> int:
    """Lesson 10: multiply-accumulates of one Conv2D layer on one example.

    ``input_shape`` is ``(height, width, channels)``; the kernel is ``kernel_size`` x
    ``kernel_size``. Each of the ``out_h * out_w * filters`` output values sums
    ``kernel_size * kernel_size * channels`` products. With ``padding="same"`` the output has
    ``ceil(height / stride)`` rows; with ``"valid"`` the kernel must fit inside the input,
    ``(height - kernel_size) // stride + 1`` rows (columns alike).
    """
    height, width, channels = (int(d) for d in input_shape)
    if padding == "same":
        out_h, out_w = -(-height // stride), -(-width // stride)  # ceil without floats
    elif padding == "valid":
        out_h = (height - kernel_size) // stride + 1
        out_w = (width - kernel_size) // stride + 1
    else:
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    return out_h * out_w * filters * kernel_size * kernel_size * channels


def standardize_channels(X_train, X):
    """Lesson 09: windows ``X`` standardized channel by channel with ``X_train``'s statistics.

    Both are arrays of windows, shape ``(n, steps, channels)`` (the channels on the last
    axis). For each channel ``c``, the mean and the standard deviation are taken over every
    window and every time step of the *training* windows only, and every value of that channel
    in ``X`` becomes ``(x - mean_c) / std_c``: validation, test and a board's live readings
    are scaled with the training split's numbers. Returns a new float64 array, shaped as ``X``.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    every_axis_but_channels = tuple(range(X_train.ndim - 1))
    mean = X_train.mean(axis=every_axis_but_channels)
    std = X_train.std(axis=every_axis_but_channels)
    return (np.asarray(X, dtype=np.float64) - mean) / std
