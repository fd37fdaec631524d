"""The exercise checker of lesson ``05_quantization``."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_quantize"]


def _quantize_variant(x, scale, zero_point, bits, *, rounding="away", zero_sign=1,
                      multiply=False, clip="signed", clip_first=False):
    """:func:`solutions.quantize` with a common mistake built in, to recognise it in a student's answer."""
    scaled = np.asarray(x, dtype=np.float64) * scale if multiply \
        else np.asarray(x, dtype=np.float64) / scale
    rounded = {"away": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5), "even": np.round,
               "floor": np.floor, "trunc": np.trunc}[rounding](scaled)
    low, high = {"signed": (-2 ** (bits - 1), 2 ** (bits - 1) - 1),
                 "symmetric": (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1),
                 "unsigned": (0, 2 ** bits - 1), "none": (-np.inf, np.inf)}[clip]
    if clip_first:
        return np.clip(rounded, low, high) + zero_sign * zero_point
    return np.clip(rounded + zero_sign * zero_point, low, high)


def check_quantize(quantize) -> CheckResult:
    """Lesson 05: ``quantize(x, scale, zero_point, bits)``, floats to signed ``bits``-bit integers.

    Probed with the lesson's four numbers, values beyond the range, other widths and a 2-D
    array. Exact ties (``x / scale = k + 0.5``) may go to either neighbour: rounding half to
    even (``np.round``) passes, with a note that TFLite rounds half away from zero. A wrong
    answer is compared with the usual mistakes (zero point forgotten or subtracted, scale
    multiplied, no clipping, the unsigned range, truncation) to give a hint.
    """
    name = "Quantize"
    rng = np.random.default_rng(5)
    probes = [(np.array([-1.0, 0.0, 0.5, 2.0]), 3 / 255, -43, 8),    # the lesson's, by hand
              (rng.normal(0.0, 0.6, size=(3, 5)), 0.1, 2, 4),         # saturates at -8 and 7
              (np.array([-0.625, 0.375, 0.125, -0.3, 0.9]), 0.25, 0, 8),  # exact ties
              (np.array([-0.35, -0.12, 0.04, 0.21, 0.6]), 0.1, -1, 2),
              (np.array([-300.0, -3.0, 1.234, 250.0]), 0.1, 100, 12)]
    mistakes = (
        ("you did not add the zero point: x_q = round(x / scale) + zero_point.",
         dict(zero_sign=0)),
        ("you subtracted the zero point: quantizing adds it, x_q = round(x / scale) + "
         "zero_point (dequantizing subtracts it again).", dict(zero_sign=-1)),
        ("you multiplied by the scale: divide, x / scale counts how many steps x is from 0.",
         dict(multiply=True)),
        ("values beyond the range must saturate: clip to [-2**(bits-1), 2**(bits-1) - 1] "
         "(np.clip), or they overflow the integer type on the board.", dict(clip="none")),
        ("you clipped to the unsigned range [0, 2**bits - 1]; these are signed integers, "
         "[-2**(bits-1), 2**(bits-1) - 1] (int8: -128..127).", dict(clip="unsigned")),
        ("you clipped to the symmetric range [-(2**(bits-1) - 1), 2**(bits-1) - 1]; this "
         "function uses the full range down to -2**(bits-1) (int8: -128).", dict(clip="symmetric")),
        ("you clipped before adding the zero point: add it first, then clip, so the result "
         "stays in range.", dict(clip_first=True)),
        ("you truncated towards zero (int() or .astype): round to the nearest integer instead.",
         dict(rounding="trunc")),
        ("you rounded down (floor): round to the nearest integer instead.", dict(rounding="floor")),
    )
    tie_note = ""
    for x, scale, zero_point, bits in probes:
        got, failed = call_student(name, quantize, x.copy(), scale, zero_point, bits,
                            returns="the integers")
        if failed is not None:
            return failed
        try:
            values = np.asarray(got).astype(np.float64)
        except (TypeError, ValueError):
            return CheckResult(name, False, f"expected an array of integers, got {got!r}.")
        got = np.asarray(got)
        expected = solutions.quantize(x, scale, zero_point, bits)
        if values.shape != x.shape:
            return CheckResult(name, False, f"the result should keep the shape of x, {x.shape}, "
                                            f"got {values.shape}.")
        scaled = x / scale
        tie = np.isclose(np.abs(scaled) % 1.0, 0.5, rtol=0.0, atol=1e-9)
        close = np.where(tie, np.abs(values - expected) <= 1, values == expected)
        if close.all():
            if not np.issubdtype(got.dtype, np.integer):
                return CheckResult(name, False, f"the numbers are right, but as {got.dtype}: "
                                                f"return integers, e.g. with .astype(np.int32); "
                                                f"a board stores these, not floats.")
            if not np.array_equal(values, expected):
                first = np.flatnonzero((values != expected).ravel())[0]
                half = float(scaled.ravel()[first])
                tie_note = (f" Note: at an exact tie, x / scale = {half:g}, you rounded "
                            f"differently from TFLite, which rounds half away from zero (to "
                            f"{np.sign(half) * np.floor(abs(half) + 0.5):g}) and then adds the "
                            f"zero point; np.round rounds half to even.")
            continue
        for hint, spec in mistakes:
            for rounding in ("away", "even"):
                variant = _quantize_variant(x, scale, zero_point, bits,
                                            **dict({"rounding": rounding}, **spec))
                if np.array_equal(values, variant):
                    return CheckResult(name, False, f"for bits={bits}, scale={scale:g}, "
                                                    f"zero_point={zero_point}: {hint}")
        if not np.all(values == np.round(values)) and np.all(np.abs(values - x) <= scale):
            return CheckResult(name, False, "you returned floats close to x: that is the round "
                                            "trip, scale * (x_q - zero_point). Return the "
                                            "integers x_q themselves.")
        i = np.flatnonzero(~close.ravel())[0]
        return CheckResult(name, False, f"for bits={bits}, scale={scale:g}, zero_point="
                                        f"{zero_point}: x = {x.ravel()[i]:g} should give "
                                        f"{int(expected.ravel()[i])}, you returned "
                                        f"{values.ravel()[i]:g}. Hint: clip(round(x / scale) + "
                                        f"zero_point, -2**(bits-1), 2**(bits-1) - 1).")
    return CheckResult(name, True, "scale, zero point, round, clip: what TFLite does to every "
                                   "int8 input and weight; -1, 0, 0.5, 2 became -128, -43, 0, "
                                   "127." + tie_note)
