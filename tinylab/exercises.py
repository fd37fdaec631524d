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
           "solutions", "show_solution"]


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


def _call(function, *args):
    """Call the student's function; turn its exception into a message."""
    try:
        return function(*args), None
    except Exception as error:  # the student's code may raise anything
        return None, f"your function raised {type(error).__name__}: {error}"


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


solutions = types.SimpleNamespace(uno_weights=_uno_weights, normalize=_normalize,
                                  dense_params=_dense_params)


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
    if not callable(normalize):
        return CheckResult(name, False, f"pass your function itself, not {type(normalize).__name__}.")
    probes = [np.array([0, 8, 16]), np.arange(17).reshape(1, 17),
              np.random.default_rng(0).integers(0, 17, size=(4, 8, 8, 1))]
    for raw in probes:
        got, error = _call(normalize, raw.copy())
        if error:
            return CheckResult(name, False, error)
        if got is None:
            return CheckResult(name, False, "your function returned None: return the normalized array.")
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
    if not callable(dense_params):
        return CheckResult(name, False, f"pass your function itself, not {type(dense_params).__name__}.")
    for n_inputs, n_units in ((64, 300), (300, 100), (100, 10), (3, 1)):
        layer = keras.layers.Dense(n_units)
        layer.build((None, n_inputs))
        truth = int(layer.count_params())
        got, error = _call(dense_params, n_inputs, n_units)
        if error:
            return CheckResult(name, False, error)
        if got is None:
            return CheckResult(name, False, "your function returned None: return the count.")
        if got != truth:
            hint = (" You counted the weights but not the biases (one per unit)."
                    if got == n_inputs * n_units else "")
            return CheckResult(name, False, f"Dense({n_units}) on {n_inputs} inputs has {truth:,} "
                                            f"parameters, your function says {got}.{hint}")
    return CheckResult(name, True, "weights grow as inputs x units: the first layer of the "
                                   "teacher (64 x 300) holds most of them.")
