"""The exercise checker of lesson ``02_train``."""

from __future__ import annotations

from ._result import CheckResult, call_student

__all__ = ["check_dense_params"]


def check_dense_params(dense_params) -> CheckResult:
    """Lesson 02: a function ``dense_params(n_inputs, n_units)`` counting a Dense layer's parameters."""
    from .._tensorflow import keras

    name = "Parameters of a Dense layer"
    for n_inputs, n_units in ((64, 300), (300, 100), (100, 10), (3, 1)):
        layer = keras.layers.Dense(n_units)
        layer.build((None, n_inputs))
        truth = int(layer.count_params())
        got, failed = call_student(name, dense_params, n_inputs, n_units, returns="the count")
        if failed is not None:
            return failed
        if got != truth:
            hint = (" You counted the weights but not the biases (one per unit)."
                    if got == n_inputs * n_units else "")
            return CheckResult(name, False, f"Dense({n_units}) on {n_inputs} inputs has {truth:,} "
                                            f"parameters, your function says {got}.{hint}")
    return CheckResult(name, True, "weights grow as inputs x units: the teacher's widest "
                                   "pair of layers, 300 x 100 (30,100 parameters), holds more "
                                   "than its first, 64 x 300 (19,500).")
