"""The exercise checkers of lesson ``08_deploy``: will it fit, and an int8 layer bit for bit."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_fits_uno", "check_int8_dense"]


def check_fits_uno(int8_flash_bytes) -> CheckResult:
    """Lesson 08: ``int8_flash_bytes(widths)``, the flash an int8 MLP's weights and biases take.

    ``widths`` lists the layer widths, inputs first (``[64, 32, 10]`` is the student); the
    answer counts one byte per int8 weight and four per int32 bias. A wrong answer is compared
    with the usual slips (no biases, one-byte biases, float32, a bias per input) for a hint.
    """
    name = "Will it fit the Uno?"
    probes = [[64, 32, 10], [64, 300, 100, 10], [64, 16, 10], [784, 300, 100, 10], [64, 10]]
    for widths in probes:
        got, failed = call_student(name, int8_flash_bytes, list(widths), returns="the number of bytes")
        if failed is not None:
            return failed
        if isinstance(got, (bool, np.bool_)):
            return CheckResult(name, False, f"for widths {widths} you returned {got}: return the "
                                            f"number of bytes; whether it fits comes next.")
        try:
            value = float(got)
        except (TypeError, ValueError):
            return CheckResult(name, False, f"for widths {widths} you returned {got!r}: return "
                                            f"a number of bytes.")
        expected = solutions.int8_flash_bytes(widths)
        if value == expected:
            continue
        pairs = list(zip(widths[:-1], widths[1:]))
        weights = sum(a * b for a, b in pairs)
        units = sum(b for _, b in pairs)
        slips = {
            weights: "you counted the weights but not the biases: every unit of every layer has "
                     "one, an int32.",
            weights + units: "the biases are int32 in TFLite's int8 scheme, 4 bytes each, not 1 "
                             "(they are added to the 32-bit accumulator).",
            4 * (weights + units): "that is float32 (4 bytes per number): after int8 "
                                   "quantization a weight takes 1 byte.",
            weights + 4 * sum(a for a, _ in pairs): "a bias belongs to each unit a layer "
                                                    "*outputs* (n_out), not to its inputs.",
            weights + 4 * sum(widths): "the input layer has no biases: only the Dense layers "
                                       "(every width but the first) do.",
        }
        hint = slips.get(value, "for each consecutive pair (n_in, n_out) of widths add n_in * "
                                "n_out bytes of weights and 4 * n_out bytes of biases.")
        return CheckResult(name, False, f"for widths {widths} you returned {got!r}; expected "
                                        f"{expected:,} bytes. Hint: {hint}")
    from .. import boards

    uno = boards.load("uno")["flash_usable_bytes"]
    teacher, student = solutions.int8_flash_bytes([64, 300, 100, 10]), solutions.int8_flash_bytes([64, 32, 10])
    return CheckResult(name, True, f"the teacher's numbers alone take {teacher:,} bytes, more "
                                   f"than the Uno's {uno:,}: it cannot fit in int8, whatever the "
                                   f"program. The student's take {student:,}, leaving room for "
                                   f"the program around them.")


# --------------------------------------------------------------------------- int8 dense layer

def _probe_layers() -> list:
    """Hand-made layers whose outputs reach every corner of the requantization.

    ``(description, layer, x_int8)``. The first takes one input over every int8 value and has
    four units: M = 1/8 (an exact multiplier, so both roundings and every half show), M = 0.9
    with a large weight (both clamps), M = 2.5 (a positive shift), M = 0.3; an input zero point
    of 3 and an output zero point of -2, no activation. The second is a ReLU layer with one
    weight scale for the layer (per tensor) and an output zero point of -5 (the ReLU's clamp is
    not int8's range).
    """
    from ..engine import FullyConnected

    every_value = np.arange(-128, 128, dtype=np.int8)[:, np.newaxis]
    by_hand = FullyConnected.from_scales(
        [[1], [127], [-1], [2]], [5, -100, 7, 0], input_scale=1.0, input_zero_point=3,
        weight_scales=[0.125, 0.9, 2.5, 0.3], output_scale=1.0, output_zero_point=-2,
        name="hand-made layer (1 input, 4 units)")
    rng = np.random.default_rng(8)
    relu = FullyConnected.from_scales(
        rng.integers(-127, 128, (4, 3)), rng.integers(-3000, 3000, 4), input_scale=0.02,
        input_zero_point=-128, weight_scales=[0.01], output_scale=0.015, output_zero_point=-5,
        activation="RELU", name="hand-made ReLU layer (3 inputs, 4 units, one scale per layer)")
    x_relu = rng.integers(-128, 128, (200, 3)).astype(np.int8)
    return [(by_hand.name, by_hand, every_value), (relu.name, relu, x_relu)]


def _model_probes(mlp, X) -> list:
    """Every fully connected layer of ``mlp`` with the inputs it receives from the engine's
    reference run of the layers before it, on ``X``'s int8 inputs."""
    from .. import engine

    if not isinstance(mlp, engine.IntegerModel):
        raise TypeError(f"mlp must be a tl.engine.IntegerModel (tl.deploy.integer_model(model, "
                        f"data)[0]), got {type(mlp).__name__}")
    if X is None:
        raise ValueError("give the examples to run the model on too: "
                         "check_int8_dense(int8_dense, mlp, data.X_test)")
    kinds = {op.kind for op in mlp.ops}
    if not kinds <= {"FULLY_CONNECTED", "RESHAPE"}:
        raise ValueError(f"the exercise's layer is a Dense layer; this model also has "
                         f"{sorted(kinds - {'FULLY_CONNECTED', 'RESHAPE'})}: give an MLP")
    values = engine.quantize_inputs(mlp, X)
    probes = []
    for op in mlp.ops:
        if op.kind == "FULLY_CONNECTED":
            probes.append((f"layer {len(probes)} of the model ({op.n_inputs} -> "
                           f"{op.n_outputs}, {op.activation})", op, values))
        values = op.run(values)
    return probes


def _pieces(x, layer) -> dict:
    """The integers of the reference computation, for the wrong answers built from them."""
    from ..engine import saturating_rounding_doubling_high_mul

    x = np.asarray(x, dtype=np.int64)
    weights = np.asarray(layer.weights, dtype=np.int64)
    bias = np.zeros(layer.weights.shape[0], np.int64) if layer.bias is None else \
        np.asarray(layer.bias, dtype=np.int64)
    shifts = np.asarray(layer.shifts, dtype=np.int64)
    left, right = np.maximum(shifts, 0), np.maximum(-shifts, 0)
    acc = (x - layer.input_zero_point) @ weights.T

    def high(total, use_left=True):
        return saturating_rounding_doubling_high_mul(total << (left if use_left else 0),
                                                     layer.multipliers).astype(np.int64)

    return {"x": x, "weights": weights, "bias": bias, "acc": acc, "left": left, "right": right,
            "high": high, "real": np.asarray(layer.multipliers, np.float64) / 2.0 ** 31
            * 2.0 ** shifts}


def _round_away(values, right):
    half = (np.int64(1) << right) >> 1
    return np.sign(values) * ((np.abs(values) + half) >> right)


def _slips(x, layer) -> list:
    """``(outputs, hint)`` for the usual mistakes, each a whole wrong layer."""
    p = _pieces(x, layer)
    acc, bias, right, high = p["acc"], p["bias"], p["right"], p["high"]
    zp_out, low, top = layer.output_zero_point, layer.activation_min, layer.activation_max

    def finish(scaled, clamp=(low, top), zero_point=zp_out):
        return np.clip(scaled + zero_point, *clamp)

    total = acc + bias
    exact = total * p["real"]
    away = np.sign(exact) * np.floor(np.abs(exact) + 0.5)
    x_plus = (p["x"] + layer.input_zero_point) @ p["weights"].T + bias
    wrapped = (p["x"] - layer.input_zero_point + 128) % 256 - 128  # int8 arithmetic wraps
    float_hint = ("you rounded acc * M in floating point. TFLM, and the Uno, which has no FPU, "
                  "compute it in integers with two roundings: high = "
                  "tl.engine.saturating_rounding_doubling_high_mul(acc, layer.multipliers) (the "
                  "high half of the 64-bit product, rounded), then a rounding shift right by "
                  "-shift bits. The two differ by 1 wherever acc * M lies near a half, enough "
                  "to break "
                  "bit-exactness.")
    shift_hint = ("the rounding of the shift: TFLM's RoundingDivideByPOT divides by 2**right "
                  "rounding to nearest, halves away from zero (2.5 -> 3, -2.5 -> -3). {what} "
                  "Add half of 2**right to the magnitude, shift, then put the sign back.")
    return [
        (finish(away), float_hint),
        (finish(np.round(exact)), float_hint),
        (finish(np.floor(exact + 0.5)), float_hint),
        (finish(_round_away(high(wrapped @ p["weights"].T + bias), right)),
         "x is int8, so x - layer.input_zero_point overflows int8 and wraps around (100 - "
         "(-128) gives -28). Widen first, x.astype(np.int32): the accumulator is int32."),
        (finish(_round_away(high(p["x"] @ p["weights"].T + bias), right)),
         "subtract the input zero point from every input before multiplying: "
         "(x - layer.input_zero_point) @ weights.T. An int8 input x stands for s * (x - z); "
         "without z every sum is off by z times the sum of the row's weights."),
        (finish(_round_away(high(x_plus), right)),
         "the input zero point is subtracted, x - layer.input_zero_point, not added."),
        ((_round_away(high(total), right) + zp_out).astype(np.int8),
         "no clamp: astype(np.int8) wraps around (200 becomes -56). Clamp first, "
         "np.clip(..., layer.activation_min, layer.activation_max), then convert; that clamp "
         "is also the ReLU."),
        (_round_away(high(total), right) + zp_out,
         "some outputs fall outside int8: clamp to [layer.activation_min, "
         "layer.activation_max] (the clamp is also the ReLU), then return int8."),
        (finish(_round_away(high(total), right), clamp=(-128, 127)),
         "clamp to [layer.activation_min, layer.activation_max], not to int8's [-128, 127]: "
         "for a ReLU layer the lower limit is the output zero point, and that clamp *is* the "
         "ReLU."),
        (finish(high(total) >> right),
         shift_hint.format(what=">> alone rounds down, toward minus infinity (2.5 -> 2).")),
        (finish((high(total) + ((np.int64(1) << right) >> 1)) >> right),
         shift_hint.format(what="Adding half then shifting rounds negative halves up "
                                "(-2.5 -> -2).")),
        (finish(np.round(high(total) / 2.0 ** right)),
         shift_hint.format(what="np.round rounds halves to the even neighbour (2.5 -> 2).")),
        (finish(np.trunc(high(total) / 2.0 ** right)),
         shift_hint.format(what="Truncating drops the fraction (2.7 -> 2).")),
        (finish(high(total)),
         "the shift is missing: after the high multiply, divide by 2**-shift (rounding), or "
         "multiply by 2**shift first when the shift is positive."),
        (finish(_round_away(high(total, use_left=False), right)),
         "a positive shift means a left shift: multiply acc by 2**shift *before* the high "
         "multiply (left = max(shift, 0), right = max(-shift, 0))."),
        (finish(_round_away(high(acc), right) + bias),
         "the bias is added after requantizing: it is an int32 in the accumulator's scale "
         "(s_x * s_w), so add it to acc first; after the rescale it is about 1/M times too big."),
        (finish(_round_away(high(acc), right)),
         "the bias is missing: add layer.bias (int32, one per unit) to the accumulator."),
        (finish(_round_away(high(total), right), zero_point=0),
         "add the output zero point (layer.output_zero_point) after the rescale, before the "
         "clamp."),
    ]


def check_int8_dense(int8_dense, mlp=None, X=None) -> CheckResult:
    """Lesson 08: ``int8_dense(x_int8, layer)``, an int8 Dense layer, bit for bit with TFLM.

    The student's function gets int8 inputs of shape ``(n, n_inputs)`` and a
    :class:`tinylab.engine.FullyConnected` layer and returns its int8 outputs, shape
    ``(n, n_outputs)``, computed as TFLM's int8 kernel does. It is run on two hand-made layers
    (every int8 input value; both clamps, halves of both signs, a positive shift, one scale per
    layer) and, when ``mlp`` and ``X`` are given, on each layer of the model with the inputs
    the engine's reference gives it; every output must equal the engine's
    (:meth:`tinylab.engine.FullyConnected.run`). A wrong answer is compared with the usual slips
    (floats instead of fixed point, the input zero point forgotten, no clamp, the shift rounded
    another way, the bias after the rescale, ...) for a hint. Finally the student's layers,
    chained, must give :func:`tinylab.engine.run_int8`'s scores.
    """
    from .. import engine

    name = "An int8 dense layer, bit for bit"
    probes = _probe_layers()
    if mlp is not None:
        probes += _model_probes(mlp, X)
    compared = 0
    for description, layer, x in probes:
        got, failed = call_student(name, int8_dense, x.copy(), layer,
                                   returns="the layer's int8 outputs")
        if failed is not None:
            return failed
        expected = layer.run(x)
        verdict = _compare(name, description, got, expected, x, layer)
        if verdict is not None:
            return verdict
        compared += expected.size
    if mlp is None:
        return CheckResult(name, True, f"all {compared:,} outputs of the hand-made layers equal "
                                       f"the engine's, bit for bit. Pass mlp and X to run it on "
                                       f"a real model too.")
    values = engine.quantize_inputs(mlp, X)
    for op in mlp.ops:
        if op.kind != "FULLY_CONNECTED":
            values = op.run(values)
            continue
        values, failed = call_student(name, int8_dense, values, op,
                                      returns="the layer's int8 outputs")
        if failed is not None:
            return failed
        values = np.clip(np.asarray(values), -128, 127).astype(np.int8)
    scores = engine.run_int8(mlp, engine.quantize_inputs(mlp, X))
    if not np.array_equal(values.astype(np.int64), scores.astype(np.int64)):
        return CheckResult(name, False, "each layer alone agrees with the engine, but chaining "
                                        "your layers does not give tl.engine.run_int8's scores: "
                                        "does your function depend on something besides its "
                                        "two arguments?")
    return CheckResult(name, True, f"all {compared:,} outputs equal the engine's, bit for bit, "
                                   f"and your layers chained give tl.engine.run_int8's ten "
                                   f"scores for all {len(scores):,} examples: the integers the "
                                   f"Uno computes, and tflite-micro.")


def _compare(name, description, got, expected, x, layer):
    """None when ``got`` equals ``expected``; else a failed CheckResult with a hint."""
    try:
        array = np.asarray(got)
    except Exception:  # whatever the student returned
        array = None
    if array is None or array.dtype == object:
        return CheckResult(name, False, f"on the {description} you returned "
                                        f"{type(got).__name__}: return a numpy array of int8.")
    if array.shape != expected.shape:
        return CheckResult(name, False, f"on the {description} you returned shape "
                                        f"{array.shape}; expected {expected.shape}, one row per "
                                        f"example and one column per unit ((x - zp) @ "
                                        f"weights.T, weights being [units, inputs]).")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        return CheckResult(name, False, f"on the {description} you returned {array.dtype} "
                                        f"values: return int8.")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        return CheckResult(name, False, f"on the {description} some outputs are not finite: "
                                        f"the layer computes in integers only.")
    if np.array_equal(array, expected):
        if np.issubdtype(array.dtype, np.floating):
            return CheckResult(name, False, f"the numbers are right but they are "
                                            f"{array.dtype}: return integers, "
                                            f".astype(np.int8) after the clamp.")
        return None
    for outputs, hint in _slips(x, layer):
        if not np.array_equal(outputs, expected) and np.array_equal(array, outputs):
            break
    else:
        hint = None
    wrong = np.argwhere(array != expected)
    row, unit = (int(i) for i in wrong[0])
    where = (f"{len(wrong):,} of {expected.size:,} outputs differ on the {description}; the "
             f"first: example {row}, unit {unit}: expected {int(expected[row, unit])}, you "
             f"returned {array[row, unit].item()!r}.")
    if hint is None:
        p = _pieces(x, layer)
        total = int(p["acc"][row, unit] + p["bias"][unit])
        multiplier = int(np.broadcast_to(layer.multipliers, (layer.weights.shape[0],))[unit])
        shift = int(np.broadcast_to(layer.shifts, (layer.weights.shape[0],))[unit])
        hint = (f"recompute that one step by step: acc + bias = {total:,}, multiplier "
                f"{multiplier:,}, shift {shift}, output zero point {layer.output_zero_point}, "
                f"clamp [{layer.activation_min}, {layer.activation_max}].")
    return CheckResult(name, False, f"{where} Hint: {hint}")
