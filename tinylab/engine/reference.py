"""The engine's numpy reference: a model run with exactly TFLM's integer arithmetic.

Each op's ``run`` follows TFLM's int8 reference kernel; :func:`run_int8` chains them. The
tests compare every output byte with the tflite-micro interpreter on the same ``.tflite``,
and the generated C (on the host and on a simulated ATmega328P) with this reference.

Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

import numpy as np

from .graph import IntegerModel

__all__ = ["check_model", "examples", "quantize_inputs", "run_int8"]


def check_model(model) -> IntegerModel:
    """``model`` if it is an :class:`IntegerModel`, else a TypeError that says how to get one."""
    if not isinstance(model, IntegerModel):
        raise TypeError(f"expected an IntegerModel, got {type(model).__name__}; read one with "
                        f"tl.engine.read_tflite(tflite_bytes)")
    return model


def examples(model, X, name: str) -> np.ndarray:
    """``X`` as ``(n, n_inputs)``: it must hold examples of the model's input shape, flat or not."""
    X = np.asarray(X)
    shapes = {tuple(model.input_shape), (model.n_inputs,)}
    if X.ndim < 2 or X.shape[1:] not in shapes:
        raise ValueError(f"{name} must hold examples of shape {tuple(model.input_shape)} or "
                         f"({model.n_inputs},) along a first batch axis, got shape {X.shape}"
                         + ("; add the batch axis with X[np.newaxis]" if X.shape in shapes else ""))
    return X.reshape(len(X), model.n_inputs)


def quantize_inputs(model, X) -> np.ndarray:
    """Float examples as the model's int8 inputs: ``round(x / scale) + zero_point``, clamped.

    Rounds half away from zero in float32, as :func:`tinylab.convert.predict` does before
    TFLM's ``invoke()`` and as a sketch does with ``TL_INPUT_SCALE``.

    Parameters
    ----------
    model : IntegerModel
    X : array_like of float, shape (n, *input_shape) or (n, n_inputs)

    Returns
    -------
    ndarray of int8, shape (n, n_inputs)
    """
    from ..convert import quantize_tensor

    check_model(model)
    X = examples(model, np.asarray(X, dtype=np.float32), "X")
    details = {"dtype": np.dtype(np.int8), "scale": model.input_scale,
               "zero_point": model.input_zero_point}
    return quantize_tensor(X, details)


def run_int8(model, x_int8) -> np.ndarray:
    """Run the model on int8 inputs with exactly TFLM's integer arithmetic.

    Op by op, as TFLM's int8 reference kernels compute them (see each module of
    :mod:`tinylab.engine.ops`): int32 accumulation of ``w * (x - input_zero_point)``, the
    bias, the fixed-point rescale per output channel, the output zero point, the activation's
    clamp; pooling and means as TFLM rounds them.

    Parameters
    ----------
    model : IntegerModel
    x_int8 : ndarray of int8, shape (n, *input_shape) or (n, n_inputs)
        E.g. :func:`quantize_inputs` of ``data.X_test``.

    Returns
    -------
    ndarray of int8, shape (n, n_outputs)
        Bit-exact with the tflite-micro interpreter on the same ``.tflite``.
    """
    check_model(model)
    x = np.asarray(x_int8)
    if x.dtype != np.int8:
        raise TypeError(f"x_int8 must be an int8 array (the model's quantized inputs), got "
                        f"{x.dtype}; quantize floats with tl.engine.quantize_inputs(model, X)")
    values = examples(model, x, "x_int8")
    for op in model.ops:
        values = op.run(values)
    return values.reshape(len(x), model.n_outputs).astype(np.int8)
