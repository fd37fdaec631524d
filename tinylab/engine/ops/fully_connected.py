"""FULLY_CONNECTED (Keras Dense): ``y = W x + b``, TFLM's ``FullyConnectedPerChannel``.

C kernel: ``boards/engine/op_fully_connected.c``. Introduced in lesson ``08_deploy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Op, frozen
from ..requant import Requant, folded_bias

__all__ = ["KIND", "FullyConnected", "from_tflite"]

KIND = "FULLY_CONNECTED"


@dataclass(frozen=True, eq=False)
class FullyConnected(Op):
    """One int8 fully connected layer, as TFLM's reference kernel computes it.

    ``output[o] = requant(sum_i weights[o, i] * (x[i] - input_zero_point), o)`` with
    :class:`tinylab.engine.requant.Requant` (bias, per-unit multiplier and shift, output zero
    point, the fused activation as a clamp).

    Attributes
    ----------
    weights : ndarray of int8, shape (n_outputs, n_inputs)
    requant : Requant
    activation : str
    weight_scales : ndarray of float32, shape (n_outputs,) per channel or (1,)
    """

    name: str
    input_shape: tuple
    output_shape: tuple
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    weights: np.ndarray
    weight_scales: np.ndarray
    requant: Requant
    activation: str

    kind = KIND
    c_kernel = "op_fully_connected.c"

    @classmethod
    def from_scales(cls, weights, bias, *, input_scale, input_zero_point, weight_scales,
                    output_scale, output_zero_point, activation="NONE", name="dense"):
        """A layer from its integers and scales: multipliers, shifts and clamp as TFLM sets them.

        Parameters
        ----------
        weights : array_like of int, shape (n_outputs, n_inputs), in [-128, 127]
        bias : array_like of int, shape (n_outputs,), or None
        input_scale, output_scale : float, > 0
        input_zero_point, output_zero_point : int in [-128, 127]
        weight_scales : array_like of float, shape (n_outputs,) or (1,)
        activation : {"NONE", "RELU", "RELU_N1_TO_1", "RELU6"}
        name : str
        """
        weights = np.asarray(weights)
        if weights.ndim != 2 or weights.size == 0 or weights.min() < -128 or weights.max() > 127:
            raise ValueError(f"weights must be a non-empty 2-D array [outputs, inputs] of int8 "
                             f"values, got shape {weights.shape}")
        n_outputs, n_inputs = weights.shape
        requant = Requant.from_scales(input_scale=input_scale, weight_scales=weight_scales,
                                      output_scale=output_scale,
                                      output_zero_point=output_zero_point,
                                      activation=activation, bias=bias, n_channels=n_outputs)
        return cls(name=str(name), input_shape=(n_inputs,), output_shape=(n_outputs,),
                   input_scale=float(np.float32(input_scale)),
                   input_zero_point=int(input_zero_point),
                   output_scale=float(np.float32(output_scale)),
                   output_zero_point=int(output_zero_point), weights=frozen(weights, np.int8),
                   weight_scales=frozen(np.atleast_1d(weight_scales), np.float32),
                   requant=requant, activation=activation)

    @property
    def bias(self):
        return self.requant.bias

    @property
    def multipliers(self):
        return self.requant.multipliers

    @property
    def shifts(self):
        return self.requant.shifts

    @property
    def activation_min(self) -> int:
        return self.requant.activation_min

    @property
    def activation_max(self) -> int:
        return self.requant.activation_max

    @property
    def per_channel(self) -> bool:
        """Whether each output unit has its own weight scale (what TF's converter makes)."""
        return self.requant.per_channel

    @property
    def macs(self) -> int:
        return int(self.weights.size)

    def weight_rows(self):
        return self.weights

    def run(self, x):
        values = np.asarray(x, dtype=np.int64).reshape(len(x), -1)
        acc = (values - self.input_zero_point) @ self.weights.T.astype(np.int64)
        return self.requant.apply(acc)

    def requant_flash(self):
        return self.requant.flash(folded_bias(self.bias, self.weights,
                                                  self.input_zero_point, self.name))

    def c_fields(self, requant: str, weights: str) -> list:
        n_outputs, n_inputs = self.weights.shape
        return [f".n_inputs = {n_inputs}", f".n_outputs = {n_outputs}",
                f".requant = {requant}", f".weights = {weights}"]


def from_tflite(context) -> FullyConnected:
    """The layer of a FULLY_CONNECTED operator (``context``: a flatbuffer ``OpContext``)."""
    options = context.options
    if options.weightsFormat != 0:
        raise ValueError(f"{context.where} stores its weights shuffled (weights_format "
                         f"{options.weightsFormat}); the engine reads the default layout")
    weights = context.constant(1, "INT8", ndim=2)
    n_outputs, n_inputs = weights.shape
    if context.input_size != n_inputs or context.output_size != n_outputs:
        raise ValueError(f"{context.where} takes {context.input_size} inputs for {n_inputs} "
                         f"weight columns: the engine runs a batch of one example")
    return FullyConnected.from_scales(
        weights, context.bias(2, n_outputs), input_scale=context.input_scale,
        input_zero_point=context.input_zero_point, weight_scales=context.weight_scales(1),
        output_scale=context.output_scale, output_zero_point=context.output_zero_point,
        activation=context.activation(), name=context.layer_name(1))
