"""The hidden tests of the graded exercises: what nbgrader runs and a student's release does not show.

:mod:`tinylab.assignments` puts one call of :func:`check` in each graded exercise's test cell,
between nbgrader's ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, after the lesson's
own checker. It asks two things the checker does not:

- **Your own code.** TinyLab ships its reference solutions (``tl.exercises.solutions``) and
  ``tl.exercises.show_solution``, so a graded answer could just call them. While the student's
  function runs, a profiler watches every Python call; calling a reference solution or
  ``show_solution`` fails, and so does a function whose code names them (``solutions``,
  ``show_solution``). Source text copied by hand from ``show_solution`` is not caught: that
  part is left to honour.
- **Fresh inputs.** The student's function is compared with the reference on random inputs
  from a seed the checker never used, so an answer written for the checker's probes alone
  fails. The comparison allows what the checker allows (float tolerances, any optimal
  Huffman code).

Like a checker, :func:`check` never raises on a wrong answer: it returns a
:class:`~tinylab.exercises.CheckResult`. Lesson 00's exercise is a number, not a function,
and has no hidden test.
"""

from __future__ import annotations

import sys

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check", "CASES"]

#: Probes per exercise: enough to tell a general answer from one fitted to the checker.
N_CASES = 5


# --------------------------------------------------------------------------- fresh inputs

def _normalize_cases(rng):
    return [(rng.integers(0, 17, size=(int(rng.integers(1, 30)), 64)),) for _ in range(N_CASES)]


def _dense_params_cases(rng):
    return [(int(rng.integers(1, 500)), int(rng.integers(1, 500))) for _ in range(N_CASES)]


def _soft_loss_cases(rng):
    cases = []
    for _ in range(N_CASES):
        n, classes = int(rng.integers(1, 20)), int(rng.integers(2, 12))
        cases.append((rng.normal(0, 3, (n, classes)), rng.normal(0, 3, (n, classes)),
                      float(rng.uniform(1.0, 10.0))))
    return cases


def _prune_mask_cases(rng):
    return [(rng.normal(float(rng.normal(0, 0.1)), 0.3, (int(rng.integers(2, 40)),
                                                         int(rng.integers(2, 40)))),
             float(rng.uniform(0.0, 2.0))) for _ in range(N_CASES)]


def _quantize_cases(rng):
    cases = []
    for _ in range(N_CASES):
        bits = int(rng.choice([4, 6, 8]))
        cases.append((rng.normal(0, 2, int(rng.integers(5, 200))), float(rng.uniform(0.01, 0.2)),
                      int(rng.integers(-2 ** (bits - 2), 2 ** (bits - 2))), bits))
    return cases


def _share_linear_cases(rng):
    cases = []
    for _ in range(N_CASES):
        weights = rng.normal(0, 0.4, (int(rng.integers(3, 20)), int(rng.integers(3, 20))))
        mask = rng.random(weights.shape) < 0.6
        mask.flat[:2] = True  # at least two kept weights: the smallest and largest differ
        cases.append((weights, mask, int(rng.integers(1, 5))))
    return cases


def _huffman_lengths_cases(rng):
    return [(rng.integers(1, 100, size=int(rng.integers(2, 20))).tolist(),)
            for _ in range(N_CASES)]


def _int8_flash_bytes_cases(rng):
    return [([int(w) for w in rng.integers(1, 400, size=int(rng.integers(2, 6)))],)
            for _ in range(N_CASES)]


def _int8_dense_cases(rng):
    from ..engine import FullyConnected

    cases = []
    for index in range(N_CASES):
        n_inputs, n_units = int(rng.integers(1, 40)), int(rng.integers(1, 20))
        per_channel = bool(index % 2)
        layer = FullyConnected.from_scales(
            rng.integers(-127, 128, (n_units, n_inputs)), rng.integers(-5000, 5000, n_units),
            input_scale=float(rng.uniform(0.005, 0.1)),
            input_zero_point=int(rng.integers(-128, 128)),
            weight_scales=rng.uniform(0.001, 0.05, n_units if per_channel else 1),
            output_scale=float(rng.uniform(0.02, 0.5)),
            output_zero_point=int(rng.integers(-128, 128)),
            activation=str(rng.choice(["NONE", "RELU"])), name=f"random layer {index}")
        cases.append((rng.integers(-128, 128, (int(rng.integers(1, 50)), n_inputs)).astype(np.int8),
                      layer))
    return cases


def _standardize_channels_cases(rng):
    cases = []
    for _ in range(N_CASES):
        steps, channels = int(rng.integers(5, 60)), int(rng.integers(1, 7))
        offsets, spreads = rng.normal(0, 5, channels), rng.uniform(0.1, 10, channels)
        X_train = offsets + spreads * rng.normal(size=(int(rng.integers(3, 30)), steps, channels))
        X = offsets + 2 * spreads * rng.normal(size=(int(rng.integers(1, 20)), steps, channels))
        cases.append((X_train, X))
    return cases


def _conv2d_macs_cases(rng):
    cases = []
    for _ in range(N_CASES):
        height, width = int(rng.integers(4, 40)), int(rng.integers(4, 40))
        kernel_size = int(rng.integers(1, min(height, width, 7) + 1))
        cases.append(((height, width, int(rng.integers(1, 9))), int(rng.integers(1, 33)),
                      kernel_size, int(rng.integers(1, 4)), str(rng.choice(["same", "valid"]))))
    return cases


#: Reference solution name -> fresh arguments for the student's function, from a generator.
CASES = {
    "normalize": _normalize_cases,
    "dense_params": _dense_params_cases,
    "soft_loss": _soft_loss_cases,
    "prune_mask": _prune_mask_cases,
    "quantize": _quantize_cases,
    "share_linear": _share_linear_cases,
    "huffman_lengths": _huffman_lengths_cases,
    "int8_flash_bytes": _int8_flash_bytes_cases,
    "int8_dense": _int8_dense_cases,
    "standardize_channels": _standardize_channels_cases,
    "conv2d_macs": _conv2d_macs_cases,
}


# --------------------------------------------------------------------------- comparisons

def _same_array(got, expected, tolerance=None) -> bool:
    got = np.asarray(got)
    if got.shape != np.shape(expected):
        return False
    if tolerance is None:
        return bool(np.array_equal(got, expected))
    return bool(np.allclose(got.astype(np.float64), expected, rtol=tolerance, atol=tolerance))


def _same_number(got, expected, rtol=0.0) -> bool:
    if isinstance(got, (bool, np.bool_)):
        return False
    try:
        return bool(np.isclose(float(got), float(expected), rtol=rtol, atol=0 if rtol == 0 else 1e-8))
    except (TypeError, ValueError):
        return False


def _same_shared(got, expected) -> bool:
    try:
        centroids, indices = got
    except (TypeError, ValueError):
        return False
    want_centroids, want_indices = expected
    return (_same_array(centroids, want_centroids, tolerance=1e-6)
            and _same_array(indices, want_indices))


def _optimal_lengths(got, counts) -> bool:
    """Any prefix code as short in total as Huffman's (ties may be broken either way)."""
    if isinstance(got, dict):
        got = [got.get(symbol, got.get(str(symbol))) for symbol in range(len(counts))]
    try:
        lengths = [int(n) for n in got]
    except (TypeError, ValueError):
        return False
    if len(lengths) != len(counts) or min(lengths) < 1:
        return False
    best = sum(c * n for c, n in zip(counts, solutions.huffman_lengths(counts)))
    return (sum(2.0 ** -n for n in lengths) <= 1.0
            and sum(c * n for c, n in zip(counts, lengths)) == best)


#: Reference solution name -> ``agrees(answer, args)``; the tolerances are the checkers'.
_AGREES = {
    "normalize": lambda got, args: _same_array(got, solutions.normalize(*args), 1e-6),
    "dense_params": lambda got, args: _same_number(got, solutions.dense_params(*args)),
    "soft_loss": lambda got, args: _same_number(got, solutions.soft_loss(*args), rtol=1e-5),
    "prune_mask": lambda got, args: _same_array(got, solutions.prune_mask(*args)),
    "quantize": lambda got, args: _same_array(got, solutions.quantize(*args)),
    "share_linear": lambda got, args: _same_shared(got, solutions.share_linear(*args)),
    "huffman_lengths": lambda got, args: _optimal_lengths(got, args[0]),
    "int8_flash_bytes": lambda got, args: _same_number(got, solutions.int8_flash_bytes(*args)),
    "int8_dense": lambda got, args: _same_array(got, solutions.int8_dense(*args)),
    "standardize_channels": lambda got, args: _same_array(
        got, solutions.standardize_channels(*args), 1e-4),
    "conv2d_macs": lambda got, args: _same_number(got, solutions.conv2d_macs(*args)),
}


# --------------------------------------------------------------------------- your own code

def _reference_code() -> dict:
    """{code object: what it is} of every reference solution and of ``show_solution``."""
    from . import show_solution

    code = {show_solution.__code__: "tl.exercises.show_solution"}
    for name in solutions.__all__:
        code[getattr(solutions, name).__code__] = f"tl.exercises.solutions.{name}"
    return code


def _names_in(code) -> set:
    """Every global and attribute name a function's code (and the code nested in it) uses."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            names |= _names_in(constant)
    return names


def _named_references(function) -> list:
    """The reference solutions a function's code names, directly or through a global alias."""
    code = getattr(function, "__code__", None)
    if code is None:
        return []
    reference = _reference_code()
    found = []
    for name in sorted(_names_in(code)):
        value = getattr(function, "__globals__", {}).get(name)
        if name in ("solutions", "show_solution") or value is solutions:
            found.append(name)
        elif getattr(value, "__code__", None) in reference:
            found.append(f"{name} (= {reference[value.__code__]})")
    return found


def _call_watched(name, function, args, returns):
    """``call_student``, with every Python call made meanwhile checked against the references."""
    reference, called = _reference_code(), []

    def watch(frame, event, _):
        if event == "call" and frame.f_code in reference:
            called.append(reference[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(watch)
    try:
        answer, failed = call_student(name, function, *args, returns=returns)
    finally:
        sys.setprofile(previous)
    return answer, failed, called


def _copies(args):
    return tuple(arg.copy() if isinstance(arg, np.ndarray) else
                 list(arg) if isinstance(arg, list) else arg for arg in args)


def check(solution: str, function, seed: int = 0) -> CheckResult:
    """The hidden tests of one exercise: the student's own code, right on fresh inputs.

    Parameters
    ----------
    solution : str
        The exercise's reference solution in :mod:`tinylab.exercises.solutions`
        (``"prune_mask"``), whose inputs and answers the student's function is tested on.
    function : callable
        The student's function, called as the reference is.
    seed : int
        Seed of the fresh inputs (each graded test cell has its own).

    Returns
    -------
    CheckResult
        Passed when the function never calls nor names a reference solution and agrees with
        the reference on every fresh input; otherwise what went wrong, in words.
    """
    if solution not in CASES:
        raise ValueError(f"no hidden test for {solution!r}; choose one of {sorted(CASES)}")
    name = f"Hidden tests of {solution}"
    if not callable(function):
        return CheckResult(name, False, f"pass your function itself, not {type(function).__name__}.")
    named = _named_references(function)
    if named:
        return CheckResult(name, False, f"your function uses TinyLab's reference solutions "
                                        f"({', '.join(named)}): a graded answer must be your "
                                        f"own code.")
    for args in CASES[solution](np.random.default_rng(seed)):
        answer, failed, called = _call_watched(name, function, _copies(args), "your answer")
        if called:
            return CheckResult(name, False, f"your function called {sorted(set(called))[0]}: a "
                                            f"graded answer must be your own code.")
        if failed is not None:
            return CheckResult(name, False, f"on fresh inputs the grader chose: {failed.message}")
        if not _AGREES[solution](answer, args):
            return CheckResult(name, False, "on fresh inputs the grader chose, your answer "
                                            "differs from the reference: does it handle any "
                                            "input, not only the checker's examples?")
    return CheckResult(name, True, f"your own code, right on {N_CASES} fresh inputs.")
