"""Checkers for the lessons' exercises, and their reference solutions.

A checker never raises on a wrong answer: it returns a :class:`CheckResult` that says what
went wrong and gives a hint, so a notebook still runs top to bottom with the student's
unfinished stub in it. The reference solutions live in :mod:`tinylab.exercises.solutions`
(``tl.exercises.solutions``), tested like the rest of the package.
"""

from __future__ import annotations

import html
import inspect
import types
from dataclasses import dataclass

import numpy as np

__all__ = ["CheckResult", "check_uno_weights", "check_normalize", "check_dense_params",
           "check_soft_loss", "check_prune_mask", "check_quantize", "check_huffman_lengths",
           "check_fits_uno", "solutions",
           "show_solution"]


@dataclass
class CheckResult:
    """The verdict of a checker: ``passed`` and a message in plain words."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "✔ correct" if self.passed else "✘ not yet"
        return f"{self.exercise}: {mark}. {self.message}"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#9a6700"
        mark = "✔ correct" if self.passed else "✘ not yet"
        return (f"<div style='border-left:4px solid {colour};padding:4px 10px'>"
                f"<b style='color:{colour}'>{html.escape(self.exercise)}: {mark}.</b> "
                f"{html.escape(self.message)}</div>")


def _call(name: str, function, *args, returns: str):
    """Call the student's function: ``(answer, None)``, or ``(None, failed)`` with a CheckResult.

    It fails when ``function`` is not a function, raises, or returns None; ``returns`` names
    what it should have returned ("the mask"). Test ``failed is not None``: a failed
    CheckResult is falsy.
    """
    if not callable(function):
        return None, CheckResult(name, False, f"pass your function itself, not "
                                              f"{type(function).__name__}.")
    try:
        answer = function(*args)
    except Exception as error:  # the student's code may raise anything
        return None, CheckResult(name, False,
                                 f"your function raised {type(error).__name__}: {error}")
    if answer is None:
        return None, CheckResult(name, False, f"your function returned None: return {returns}.")
    return answer, None


# --------------------------------------------------------------------------- reference solutions

def _uno_weights() -> int:
    """How many float32 weights fit in the Uno's usable flash (ignoring the program itself)."""
    from . import boards
    return boards.load("uno")["flash_usable_bytes"] // 4


def _normalize(raw_pixels):
    """Digits pixels 0..16 -> floats in [0, 1]."""
    return np.asarray(raw_pixels, dtype=np.float32) / 16.0


def _dense_params(n_inputs: int, n_units: int) -> int:
    """Parameters of a Dense layer: one weight per input per unit, plus one bias per unit."""
    return n_inputs * n_units + n_units


def _soft_loss(teacher_logits, student_logits, temperature):
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



def _prune_mask(weights, quality):
    """Lesson 04: Han et al.'s keep-mask, True where |w| > quality * std(weights)."""
    weights = np.asarray(weights, dtype=np.float64)
    threshold = quality * weights.std()
    return np.abs(weights) > threshold


def _quantize(x, scale, zero_point, bits):
    """Lesson 05: floats to signed ``bits``-bit integers, x_q = clip(round(x / scale) + zero_point).

    The integers run from -2**(bits - 1) to 2**(bits - 1) - 1 (int8: -128..127); a value
    outside the range saturates at its end. Ties (x / scale = k + 0.5) round away from zero,
    as TFLite's kernels do, and the zero point is added after rounding.
    """
    scaled = np.asarray(x, dtype=np.float64) / scale
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)  # half away from zero
    lowest, highest = -2 ** (bits - 1), 2 ** (bits - 1) - 1
    return np.clip(rounded + zero_point, lowest, highest).astype(np.int32)


def _huffman_lengths(counts):
    """Lesson 06: the Huffman code length (bits) of each symbol; ``counts[i]`` > 0 counts symbol i.

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


def _int8_flash_bytes(widths) -> int:
    """Lesson 07: bytes of an int8 MLP's numbers in flash, ``widths = [inputs, hidden..., outputs]``.

    Each Dense layer from ``n_in`` to ``n_out`` units stores ``n_in * n_out`` int8 weights, one
    byte each, and ``n_out`` int32 biases, four bytes each (TFLite's int8 scheme keeps biases in
    32 bits, the width of the accumulator they are added to).
    """
    widths = [int(w) for w in widths]
    return sum(n_in * n_out + 4 * n_out for n_in, n_out in zip(widths[:-1], widths[1:]))


solutions = types.SimpleNamespace(uno_weights=_uno_weights, normalize=_normalize,
                                  dense_params=_dense_params,
                                  soft_loss=_soft_loss,
                                  prune_mask=_prune_mask,
                                  quantize=_quantize,
                                  huffman_lengths=_huffman_lengths,
                                  int8_flash_bytes=_int8_flash_bytes)


def show_solution(name: str) -> str:
    """The source of a reference solution, for after the student has tried."""
    if not hasattr(solutions, name):
        raise ValueError(f"no solution {name!r}; choose one of {sorted(vars(solutions))}")
    return inspect.getsource(getattr(solutions, name))


# --------------------------------------------------------------------------- checkers

def check_uno_weights(answer) -> CheckResult:
    """Lesson 00: how many float32 weights fit in an Arduino Uno's 32,256 usable bytes of flash?"""
    name = "Weights in an Uno"
    expected = _uno_weights()
    if answer is None:
        return CheckResult(name, False, "replace None with your number.")
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return CheckResult(name, False, f"expected a number, got {answer!r}.")
    if value == expected:
        return CheckResult(name, True, f"{expected:,} weights of 4 bytes fill the flash, before "
                                       f"a single byte of program: the 64-300-100-10 teacher "
                                       f"(50,610 parameters) cannot fit as float32.")
    if value == expected * 4 or value == 32768 // 4 or value == 32768:
        return CheckResult(name, False, "close: use the usable flash (32,256 bytes, the bootloader "
                                        "takes 512) and 4 bytes per float32 weight.")
    return CheckResult(name, False, "hint: flash_usable_bytes in tl.boards.load('uno'), divided "
                                    "by the bytes of one float32.")


def check_normalize(normalize) -> CheckResult:
    """Lesson 01: a function that maps raw digit pixels (0..16) to floats in [0, 1]."""
    name = "Normalize the digits"
    probes = [np.array([0, 8, 16]), np.arange(17).reshape(1, 17),
              np.random.default_rng(0).integers(0, 17, size=(4, 8, 8, 1))]
    for raw in probes:
        got, failed = _call(name, normalize, raw.copy(), returns="the normalized array")
        if failed is not None:
            return failed
        got = np.asarray(got)
        if got.shape != raw.shape:
            return CheckResult(name, False, f"the output should keep the input's shape {raw.shape}, "
                                            f"got {got.shape}.")
        if not np.allclose(got, _normalize(raw), atol=1e-6):
            return CheckResult(name, False, f"for pixels {raw.ravel()[:3].tolist()} you returned "
                                            f"{np.round(got.ravel()[:3], 4).tolist()}; 0 should "
                                            f"become 0.0 and 16 should become 1.0.")
    return CheckResult(name, True, "the network sees every pixel in [0, 1], as tl.data does.")


def check_dense_params(dense_params) -> CheckResult:
    """Lesson 02: a function ``dense_params(n_inputs, n_units)`` counting a Dense layer's parameters."""
    from ._tensorflow import keras

    name = "Parameters of a Dense layer"
    for n_inputs, n_units in ((64, 300), (300, 100), (100, 10), (3, 1)):
        layer = keras.layers.Dense(n_units)
        layer.build((None, n_inputs))
        truth = int(layer.count_params())
        got, failed = _call(name, dense_params, n_inputs, n_units, returns="the count")
        if failed is not None:
            return failed
        if got != truth:
            hint = (" You counted the weights but not the biases (one per unit)."
                    if got == n_inputs * n_units else "")
            return CheckResult(name, False, f"Dense({n_units}) on {n_inputs} inputs has {truth:,} "
                                            f"parameters, your function says {got}.{hint}")
    return CheckResult(name, True, "weights grow as inputs x units: the first layer of the "
                                   "teacher (64 x 300) holds most of them.")


def _soft_loss_variant(teacher_logits, student_logits, teacher_t, student_t, factor, *,
                       swap=False, kl=False, per_example=False):
    """The soft loss with a common mistake built in, to recognise it in a student's answer."""
    if swap:
        teacher_logits, student_logits = student_logits, teacher_logits

    def log_softmax(logits, temperature):
        z = np.asarray(logits, dtype=np.float64) / temperature
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    log_p = log_softmax(teacher_logits, teacher_t)
    values = -np.sum(np.exp(log_p) * (log_softmax(student_logits, student_t) - (log_p if kl else 0)),
                     axis=-1)
    return factor * (values.sum() if per_example else values.mean())


def check_soft_loss(soft_loss) -> CheckResult:
    """Lesson 03: ``soft_loss(teacher_logits, student_logits, temperature)``, eq. (3) times T**2.

    Probed with batches of logits of shape ``(n, 10)`` at several temperatures; a wrong answer
    is compared with the usual mistakes (temperature forgotten, ``T**2`` forgotten, teacher
    and student swapped, KL instead of cross-entropy, sum instead of mean) to give a hint.
    """
    name = "Soft loss"
    rng = np.random.default_rng(3)
    mistakes = (
        ("you did not divide the logits by T: both softmaxes need the temperature, eq. (2).",
         dict(teacher_t=1.0, student_t=1.0, factor=1.0)),
        ("you did not divide the logits by T (but kept T**2): both softmaxes need it, eq. (2).",
         dict(teacher_t=1.0, student_t=1.0, factor="T2")),
        ("only the teacher's softmax has the temperature: the student's q must use the same T.",
         dict(teacher_t="T", student_t=1.0, factor="T2")),
        ("the T**2 factor is missing: multiply by temperature**2 so the gradients keep their size.",
         dict(teacher_t="T", student_t="T", factor=1.0)),
        ("you multiplied by T, not T**2.", dict(teacher_t="T", student_t="T", factor="T")),
        ("teacher and student are swapped: p (the target) comes from the teacher's logits, the "
         "log from the student's q: -sum p log q.",
         dict(teacher_t="T", student_t="T", factor="T2", swap=True)),
        ("that is the KL divergence, the cross-entropy minus the teacher's entropy; this "
         "exercise asks for the cross-entropy -sum p log q of eq. (3).",
         dict(teacher_t="T", student_t="T", factor="T2", kl=True)),
        ("you summed over the examples: take the mean, so the loss does not grow with the batch.",
         dict(teacher_t="T", student_t="T", factor="T2", per_example=True)),
    )
    for temperature in (4.0, 1.0, 10.0):
        teacher = rng.normal(0.0, 4.0, size=(5, 10))
        student = rng.normal(0.0, 2.0, size=(5, 10))
        expected = _soft_loss(teacher, student, temperature)
        got, failed = _call(name, soft_loss, teacher.copy(), student.copy(), temperature,
                            returns="the loss")
        if failed is not None:
            return failed
        try:
            value = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return CheckResult(name, False, f"expected a number, got {got!r}.")
        if value.ndim != 0:
            return CheckResult(name, False, f"return one number, the mean over the {len(teacher)} "
                                            f"examples, not an array of shape {value.shape}.")
        if np.isclose(float(value), expected, rtol=1e-5, atol=1e-8):
            continue
        for hint, spec in mistakes:
            spec = dict(spec)
            for key in ("teacher_t", "student_t", "factor"):
                spec[key] = {"T": temperature, "T2": temperature ** 2}.get(spec[key], spec[key])
            if np.isclose(float(value), _soft_loss_variant(teacher, student, **spec), rtol=1e-5):
                return CheckResult(name, False, f"at T = {temperature:g} you returned "
                                                f"{float(value):.4f}, expected {expected:.4f}: {hint}")
        return CheckResult(name, False, f"at T = {temperature:g} you returned {float(value):.4f}, "
                                        f"expected {expected:.4f}. Hint: p = softmax(teacher / T), "
                                        f"q = softmax(student / T), then T**2 * mean(-sum(p * log q)) "
                                        f"over the classes (axis=-1).")
    return CheckResult(name, True, "T**2 times the cross-entropy of the student's soft "
                                   "predictions against the teacher's: the soft half of eq. (5).")


def check_prune_mask(prune_mask) -> CheckResult:
    """Lesson 04: ``prune_mask(weights, quality)``, True (keep) where ``|w| > quality * std``."""
    name = "Prune by threshold"
    w44 = np.array([[0.9, -0.1, 0.0, -0.7], [0.2, 0.6, -0.3, 0.1],
                    [-0.8, 0.3, 0.5, -0.2], [0.1, -0.4, 0.0, -0.2]])
    probes = [(w44, 1.0), (np.random.default_rng(0).normal(0.2, 0.5, size=(64, 30)), 0.8),
              (np.array([3.0, -3.0, 1.0, -1.0]), 0.0), (np.array([2.0, -2.0, 2.0, -2.0]), 1.0)]
    for weights, quality in probes:
        got, failed = _call(name, prune_mask, weights.copy(), quality, returns="the mask")
        if failed is not None:
            return failed
        got = np.asarray(got)
        if got.shape != weights.shape:
            return CheckResult(name, False, f"the mask should have the weights' shape "
                                            f"{weights.shape}, got {got.shape}.")
        if got.dtype != bool:
            return CheckResult(name, False, f"return a mask of True/False (dtype bool), got "
                                            f"{got.dtype}: compare, e.g. np.abs(w) > threshold, "
                                            f"rather than returning the pruned weights.")
        expected = _prune_mask(weights, quality)
        if np.array_equal(got, expected):
            continue
        std = weights.std()
        if np.array_equal(got, np.abs(weights) >= quality * std):
            hint = ("a weight exactly at the threshold should be pruned: use > rather than >=.")
        elif np.array_equal(got, ~expected):
            hint = "your mask is inverted: True should mean keep (|w| above the threshold)."
        elif np.array_equal(got, weights > quality * std):
            hint = ("you pruned every negative weight: compare the magnitude np.abs(w), "
                    "a large negative weight matters as much as a large positive one.")
        elif np.array_equal(got, np.abs(weights) > quality):
            hint = "the threshold is quality times the standard deviation of the weights, np.std(w)."
        elif np.array_equal(got, np.abs(weights) > quality * np.abs(weights).std()):
            hint = "take the standard deviation of the weights themselves, not of |w|."
        else:
            hint = (f"for quality {quality} the threshold is {quality * std:.3f} and "
                    f"{int(expected.sum())} of {expected.size} weights should be kept; you kept "
                    f"{int(got.sum())}.")
        return CheckResult(name, False, hint)
    return CheckResult(name, True, "one threshold per layer, from that layer's own spread: on the "
                                   "4x4 example quality 1.0 keeps 5 of 16 weights.")


def _quantize_variant(x, scale, zero_point, bits, *, rounding="away", zero_sign=1,
                      multiply=False, clip="signed", clip_first=False):
    """:func:`_quantize` with a common mistake built in, to recognise it in a student's answer."""
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
        got, failed = _call(name, quantize, x.copy(), scale, zero_point, bits,
                            returns="the integers")
        if failed is not None:
            return failed
        try:
            values = np.asarray(got).astype(np.float64)
        except (TypeError, ValueError):
            return CheckResult(name, False, f"expected an array of integers, got {got!r}.")
        got = np.asarray(got)
        expected = _quantize(x, scale, zero_point, bits)
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


def _lengths_answer(answer, n_symbols):
    """The student's lengths as a list of ints, or ``(None, what is wrong)``."""
    if isinstance(answer, dict):
        answer = [answer.get(symbol, answer.get(str(symbol))) for symbol in range(n_symbols)]
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__len__"):
        return None, (f"return one code length per symbol, e.g. a list like [1, 2, 3, 3], not "
                      f"{answer!r}.")
    values = list(np.asarray(answer, dtype=object).ravel()) if isinstance(answer, np.ndarray) \
        else list(answer)
    if len(values) != n_symbols:
        return None, (f"return one length per symbol: counts has {n_symbols} entries, your list "
                      f"has {len(values)}.")
    if any(isinstance(v, str) for v in values):
        return None, (f"you returned code words {values}; return their lengths (numbers of bits): "
                      f"the length of '110' is 3.")
    lengths = []
    for value in values:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
                or value != int(value) or value < 0:
            return None, (f"code lengths are whole numbers of bits; got {value!r} in {values}.")
        lengths.append(int(value))
    return lengths, None


def _heaviest_first_lengths(counts) -> list:
    """Lengths from merging the two *heaviest* groups (a usual mistake), for a hint."""
    return _huffman_lengths([-count for count in counts])  # the heap then pops the heaviest


def check_huffman_lengths(code_lengths) -> CheckResult:
    """Lesson 06: ``code_lengths(counts)``, Huffman's code length in bits of each symbol.

    ``counts`` is a list whose entry ``i`` (> 0) counts symbol ``i``; the answer is a list of
    one length per symbol (a dict ``{symbol: length}`` is accepted too). Ties can be broken
    either way, giving different trees of the same cost, so any lengths pass that form a prefix
    code (Kraft: ``sum 2**-length <= 1``) and cost as few bits in total as Huffman's. A wrong
    answer is compared with the usual mistakes (fixed width, merging the heaviest groups, one
    bit too many or too few, Shannon's ``ceil(-log2 p)``) to give a hint.
    """
    name = "Huffman code lengths"
    probes = [[5, 2, 1, 1], [1, 1, 1, 1], [1, 2, 4, 8, 16, 32], [3, 7],
              np.random.default_rng(6).integers(1, 60, size=12).tolist()]
    for counts in probes:
        got, failed = _call(name, code_lengths, list(counts), returns="the list of code lengths")
        if failed is not None:
            return failed
        lengths, problem = _lengths_answer(got, len(counts))
        if problem is not None:
            return CheckResult(name, False, f"for counts {counts}: {problem}")
        expected = _huffman_lengths(counts)
        best = sum(c * n for c, n in zip(counts, expected))
        cost = sum(c * n for c, n in zip(counts, lengths))
        kraft = sum(2.0 ** -n for n in lengths)
        if kraft <= 1.0 and cost == best:
            continue
        total = sum(counts)
        if lengths == [n - 1 for n in expected]:
            hint = ("every length is one bit short: each merge adds a bit to every symbol in "
                    "both groups, the last merge too.")
        elif min(lengths) < 1:
            hint = ("every symbol needs a code word of at least 1 bit: a length of 0 would be "
                    "an empty word, which the decoder cannot see.")
        elif kraft > 1.0:
            hint = (f"no prefix code has these lengths: the sum of 2**-length is {kraft:g} > 1, "
                    f"so some code word would be the start of another. Each merge must add one "
                    f"bit to every symbol in both groups.")
        elif lengths == [n + 1 for n in expected]:
            hint = ("every length is one bit too long: a symbol's length is the number of merges "
                    "it takes part in (the root costs no bit).")
        elif len(set(lengths)) == 1 and len(set(expected)) > 1:
            hint = (f"every symbol got {lengths[0]} bits: that is a fixed-width code. Huffman "
                    f"gives the frequent symbols shorter words: merge the two lightest groups.")
        elif lengths == _heaviest_first_lengths(counts):
            hint = ("you merged the two heaviest groups; Huffman merges the two lightest "
                    "(heapq.heappop gives the smallest first).")
        elif lengths == [int(np.ceil(-np.log2(c / total))) for c in counts]:
            hint = ("those are Shannon's lengths, ceil(-log2 p): a valid prefix code, but "
                    "Huffman's merges can do better.")
        else:
            hint = ("merge the two lightest groups until one is left; each merge adds one bit to "
                    "every symbol in both.")
        return CheckResult(name, False, f"for counts {counts} you returned lengths {lengths}, "
                                        f"{cost} bits in total; Huffman's lengths {expected} "
                                        f"take {best}. Hint: {hint}")
    return CheckResult(name, True, "on counts 5, 2, 1, 1 the lengths 1, 2, 3, 3 take 15 bits for "
                                   "9 symbols, against 18 bits at a fixed 2 bits each.")


def check_fits_uno(int8_flash_bytes) -> CheckResult:
    """Lesson 07: ``int8_flash_bytes(widths)``, the flash an int8 MLP's weights and biases take.

    ``widths`` lists the layer widths, inputs first (``[64, 32, 10]`` is the student); the
    answer counts one byte per int8 weight and four per int32 bias. A wrong answer is compared
    with the usual slips (no biases, one-byte biases, float32, a bias per input) for a hint.
    """
    name = "Will it fit the Uno?"
    probes = [[64, 32, 10], [64, 300, 100, 10], [64, 16, 10], [784, 300, 100, 10], [64, 10]]
    for widths in probes:
        got, failed = _call(name, int8_flash_bytes, list(widths), returns="the number of bytes")
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
        expected = _int8_flash_bytes(widths)
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
    from . import boards

    uno = boards.load("uno")["flash_usable_bytes"]
    teacher, student = _int8_flash_bytes([64, 300, 100, 10]), _int8_flash_bytes([64, 32, 10])
    return CheckResult(name, True, f"the teacher's numbers alone take {teacher:,} bytes, more "
                                   f"than the Uno's {uno:,}: it cannot fit in int8, whatever the "
                                   f"program. The student's take {student:,}, leaving room for "
                                   f"the program around them.")
