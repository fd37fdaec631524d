"""Quantization-aware training (QAT): train with the integer model's rounding in the loop.

Post-training quantization (PTQ) rounds a trained model's weights and activations once and
hopes the model survives; at 8 bits it does, at 4 or 2 it may not. QAT (Jacob et al. 2018;
Krishnamoorthi 2018, the survey's [58]) keeps training while the forward pass sees the
rounded values, so the weights learn to work *on the grid*. Rounding has a zero gradient
almost everywhere; the **straight-through estimator** (STE) passes the gradient through it as
if it were the identity (and as zero where a value was clipped), as TensorFlow's
``FakeQuantWithMinMaxVars`` does.

What is fake-quantized, as TensorFlow Lite's int8 kernels would store it:

- every Dense **kernel**: symmetric, ``bits`` bits, one scale per output unit (per channel) or
  one per layer: ``w ~ s * q`` with ``q`` in ``[-(2**(bits-1) - 1), 2**(bits-1) - 1]`` and
  ``s = max|w| / (2**(bits-1) - 1)``, taken from the current weights at every step;
- every **activation** (the input and each layer's output, after its ReLU): asymmetric,
  ``activation_bits`` bits, with a range first calibrated as the min and max over a
  calibration set (as TFLite's converter does with its representative data) and, while
  training, followed by a moving average of each batch's min and max (TensorFlow's
  ``MovingAverageQuantize``);
- biases stay float (TFLite stores them as int32 at the product of the scales: no loss
  worth modelling).

:func:`ptq` builds the fake-quantized model from a trained one without training it;
:func:`quantize_aware` builds the same model, ready to train; :func:`fine_tune` trains it.
So PTQ and QAT are compared on exactly the same arithmetic. Pruned weights (lesson 04's
masks) stay exactly 0.0: the kernel is multiplied by its mask before quantizing, and 0.0 is
on every grid. The TensorFlow Model Optimization toolkit's QAT does not accept Keras 3 models,
hence this module.

Introduced in lesson ``05_quantization``.
"""

from __future__ import annotations

import numpy as np

from ._tensorflow import keras
from .quantize import check_bits

__all__ = ["fake_quantize", "straight_through", "weight_scale", "FakeQuant", "QuantizedDense",
           "quantize_aware", "ptq", "calibrate", "fine_tune", "compare", "quantized_kernels",
           "EMA_DECAY"]

#: How fast an activation's range follows the batches while training: each step moves it
#: ``1 - EMA_DECAY`` of the way to the batch's min and max. TensorFlow uses 0.999 over long
#: runs from a range of [-6, 6]; here ranges start calibrated and runs last a few hundred
#: steps (5 epochs of the digits at batch 32 is 200 steps), so 0.99 (a memory of ~100 steps)
#: lets them follow the weights as they move.
EMA_DECAY = 0.99


# --------------------------------------------------------------------------- the kernel

def _check_bits(bits, what="bits"):
    return check_bits(bits, 2, 8, what, "8 as TFLite's int8; 4 or 2 to see PTQ fail")


def _round_half_away(values):
    """Nearest integer, ties away from zero: C's ``round`` and TFLite's, not ``tf.round``'s even."""
    ops = keras.ops
    return ops.sign(values) * ops.floor(ops.abs(values) + 0.5)


def fake_quantize(x, scale, zero_point, qmin: int, qmax: int):
    """Round ``x`` onto the affine grid ``scale * (q - zero_point)``; gradient straight through.

    Forward: ``scale * (clip(round(x / scale) + zero_point, qmin, qmax) - zero_point)``, the
    float each ``x`` stands for once stored as an integer ``q`` (ties away from zero, as
    :func:`tinylab.quantize.quantize`). Backward (the straight-through estimator): the
    gradient of ``clip(x, low, high)`` with ``low, high`` the grid's ends, that is 1 where
    ``x`` is inside the grid's range and 0 where it was clipped.

    Parameters
    ----------
    x : tensor of float32, any shape
    scale : tensor of float32, broadcastable to ``x``
        Step between levels, > 0. No gradient flows into it.
    zero_point : tensor of float32 holding whole numbers, broadcastable to ``x``
    qmin, qmax : int
        The integer range, e.g. -128 and 127.

    Returns
    -------
    tensor of float32, shape of ``x``
    """
    ops = keras.ops
    scale, zero_point = ops.stop_gradient(scale), ops.stop_gradient(zero_point)
    low, high = scale * (qmin - zero_point), scale * (qmax - zero_point)
    q = ops.clip(_round_half_away(x / scale) + zero_point, qmin, qmax)
    rounded = scale * (q - zero_point)
    clipped = ops.minimum(ops.maximum(x, low), high)  # gradient 1 inside, 0 outside
    return clipped + ops.stop_gradient(rounded - clipped)


def straight_through(x, scale: float, zero_point: float, qmin: int, qmax: int):
    """:func:`fake_quantize` of ``x`` and the gradient it passes back, as numpy (lesson 05).

    Returns
    -------
    forward : ndarray of float32, shape of ``x``
    gradient : ndarray of float32, shape of ``x``
        ``d sum(forward) / dx`` as TensorFlow computes it: 1 inside the grid's range, 0 outside.
    """
    from ._tensorflow import tf

    x = tf.constant(np.asarray(x, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fake_quantize(x, tf.constant(scale, tf.float32), tf.constant(zero_point, tf.float32),
                          qmin, qmax)
    return y.numpy(), tape.gradient(y, x).numpy()


def weight_scale(kernel, bits: int, per_channel: bool = True):
    """Symmetric scale of a kernel: ``max|w| / (2**(bits-1) - 1)``, per output unit or per layer.

    A unit whose weights are all zero (pruned away) gets scale 1: its zeros stay zero.

    Returns
    -------
    tensor of float32, shape (units,) with ``per_channel``, else ()
    """
    ops = keras.ops
    qmax = 2 ** (_check_bits(bits) - 1) - 1
    axes = tuple(range(len(kernel.shape) - 1)) if per_channel else None
    reach = ops.max(ops.abs(kernel), axis=axes)
    return ops.where(reach > 0, reach / qmax, ops.ones_like(reach))


def _activation_grid(low, high, bits):
    """Scale and zero point of an asymmetric range, widened to hold 0.0 (TFLite's rule)."""
    ops = keras.ops
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    low, high = ops.minimum(low, 0.0), ops.maximum(high, 0.0)
    width = high - low
    scale = ops.where(width > 0, width / (qmax - qmin), ops.ones_like(width))
    zero_point = ops.clip(_round_half_away(qmin - low / scale), qmin, qmax)
    return scale, zero_point, qmin, qmax


# --------------------------------------------------------------------------- the layers

class FakeQuant(keras.layers.Layer):
    """Fake-quantize a tensor to ``bits``-bit asymmetric integers over a learned range.

    Holds the range as two non-trainable variables, ``range_min`` and ``range_max``. With
    ``calibrating`` set (:func:`calibrate` sets it), a call passes ``x`` through unchanged and
    widens the range to cover it. In training, each batch moves the range ``1 - ema_decay`` of
    the way to the batch's min and max, then quantizes; in inference the range is fixed.
    """

    def __init__(self, bits: int = 8, ema_decay: float = EMA_DECAY, **kwargs):
        super().__init__(**kwargs)
        self.bits = _check_bits(bits, "activation_bits")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), e.g. {EMA_DECAY}, got {ema_decay!r}")
        self.ema_decay = float(ema_decay)
        self.calibrating = False
        self.range_min = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                         name="range_min")
        self.range_max = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                         name="range_max")

    def call(self, x, training=False):
        ops = keras.ops
        if self.calibrating:
            self.range_min.assign(ops.minimum(self.range_min, ops.min(x)))
            self.range_max.assign(ops.maximum(self.range_max, ops.max(x)))
            return x
        if training:
            decay = self.ema_decay
            self.range_min.assign(decay * self.range_min + (1 - decay) * ops.min(x))
            self.range_max.assign(decay * self.range_max + (1 - decay) * ops.max(x))
        scale, zero_point, qmin, qmax = _activation_grid(self.range_min, self.range_max, self.bits)
        return fake_quantize(x, scale, zero_point, qmin, qmax)

    def get_config(self):
        return {**super().get_config(), "bits": self.bits, "ema_decay": self.ema_decay}


class QuantizedDense(keras.layers.Layer):
    """A Dense layer whose kernel is fake-quantized (symmetric, ``bits`` bits) at every call.

    ``activation(x @ fake_quantize(kernel * mask) + bias)``; the latent float ``kernel`` is
    what trains. ``mask`` (1 keep, 0 pruned) keeps pruned weights at exactly 0.0. With
    ``calibrating`` set (by :func:`calibrate`) it computes with the float kernel.
    """

    def __init__(self, units: int, bits: int = 8, *, activation=None, per_channel: bool = True,
                 mask=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.bits = int(units), _check_bits(bits)
        self.per_channel = bool(per_channel)
        self.activation = keras.activations.get(activation)
        self._mask_values = None if mask is None else np.asarray(mask, dtype=np.float32)
        self.calibrating = False

    def build(self, input_shape):
        shape = (int(input_shape[-1]), self.units)
        self.kernel = self.add_weight(shape=shape, initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        mask = np.ones(shape, np.float32) if self._mask_values is None else self._mask_values
        if mask.shape != shape:
            raise ValueError(f"mask of {self.name!r} must have the kernel's shape {shape}, "
                             f"got {mask.shape}")
        self.mask = self.add_weight(shape=shape, initializer="ones", trainable=False, name="mask")
        self.mask.assign(mask)

    def quantized_kernel(self):
        """The kernel as the integer model holds it: masked, then on its symmetric grid."""
        kernel = self.kernel * self.mask
        qmax = 2 ** (self.bits - 1) - 1
        return fake_quantize(kernel, weight_scale(kernel, self.bits, self.per_channel), 0.0,
                             -qmax, qmax)

    def call(self, x):
        kernel = self.kernel * self.mask if self.calibrating else self.quantized_kernel()
        return self.activation(keras.ops.matmul(x, kernel) + self.bias)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "bits": self.bits,
                "per_channel": self.per_channel,
                "activation": keras.activations.serialize(self.activation)}


# --------------------------------------------------------------------------- building

def _check_masks(model, masks):
    masks = dict(masks or {})
    dense = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    for name, mask in masks.items():
        if name not in dense:
            raise ValueError(f"masks name layer {name!r}, which is not a Dense layer of "
                             f"{model.name!r}; Dense layers: {dense}")
        kernel_shape = tuple(model.get_layer(name).kernel.shape)
        if np.asarray(mask).dtype != bool or np.shape(mask) != kernel_shape:
            raise ValueError(f"mask of {name!r} must be a bool array of shape {kernel_shape} "
                             f"(True = keep), got {np.asarray(mask).dtype} of shape "
                             f"{np.shape(mask)}")
    return masks


def calibrate(qmodel, X, batch_size: int = 256):
    """Set every :class:`FakeQuant` range to the min and max its tensor takes over ``X``.

    The model runs in float (float kernels, nothing rounded while calibrating), as TFLite's
    converter runs its representative dataset through the float model. Returns ``qmodel``.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"calibration examples X must be a non-empty batch, got shape {X.shape}")
    quantizers = [layer for layer in qmodel.layers if isinstance(layer, FakeQuant)]
    dense = [layer for layer in qmodel.layers if isinstance(layer, QuantizedDense)]
    try:
        for layer in quantizers + dense:
            layer.calibrating = True
        for layer in quantizers:
            layer.range_min.assign(0.0)
            layer.range_max.assign(0.0)
        for start in range(0, len(X), batch_size):
            qmodel(X[start:start + batch_size], training=False)
    finally:
        for layer in quantizers + dense:
            layer.calibrating = False
    return qmodel


def quantize_aware(model, bits: int, *, calibration, activation_bits: int = 8,
                   per_channel: bool = True, masks=None, ema_decay: float = EMA_DECAY):
    """A fake-quantized copy of a trained MLP, ready to train (QAT) or to evaluate (PTQ).

    The copy has the same weights as ``model``; its Dense layers become
    :class:`QuantizedDense` (``bits``-bit symmetric kernels) and a :class:`FakeQuant`
    (``activation_bits``-bit asymmetric) follows the input and every Dense layer, its range
    calibrated on ``calibration``. ``model`` is left unchanged.

    Parameters
    ----------
    model : keras.Model
        A chain of Flatten and Dense layers returning logits (the lesson MLPs: ``student``,
        ``mlp300``, the pruned teacher).
    bits : int, 2 to 8
        Bits of every kernel weight. At 2 bits the symmetric grid has three levels:
        ``-s, 0, s`` (ternary weights).
    calibration : ndarray of float32, shape (n, *input_shape)
        Examples whose activations set the initial ranges (e.g. ``data.X_train``).
    activation_bits : int, 2 to 8
        Bits of every activation, 8 by default (TFLite's int8 kernels; lesson 05 varies the
        weights' bits only, so the weights are what PTQ and QAT differ in).
    per_channel : bool
        One weight scale per output unit (TFLite's int8 choice), or one per layer.
    masks : dict of str -> ndarray of bool, optional
        Lesson 04's keep-masks; pruned weights stay exactly 0.0.
    ema_decay : float
        See :data:`EMA_DECAY`.

    Returns
    -------
    keras.Model
        Named ``f"{model.name}_w{bits}a{activation_bits}"``.

    Raises
    ------
    ValueError
        For a bad width, a mask that does not fit, or a layer other than Flatten or Dense.
    """
    bits, activation_bits = _check_bits(bits), _check_bits(activation_bits, "activation_bits")
    masks = _check_masks(model, masks)
    inputs = keras.Input(shape=tuple(model.input_shape[1:]), name="input")
    x = FakeQuant(activation_bits, ema_decay, name="input_quant")(inputs)
    copied = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Flatten):
            x = keras.layers.Flatten(name=layer.name)(x)
        elif isinstance(layer, keras.layers.Dense):
            dense = QuantizedDense(layer.units, bits, activation=layer.activation,
                                   per_channel=per_channel, mask=masks.get(layer.name),
                                   name=layer.name)
            x = dense(x)
            dense.kernel.assign(np.asarray(layer.kernel))
            dense.bias.assign(np.asarray(layer.bias) if layer.use_bias
                              else np.zeros(layer.units, np.float32))
            x = FakeQuant(activation_bits, ema_decay, name=f"{layer.name}_quant")(x)
            copied.append(layer.name)
        else:
            raise ValueError(f"quantize_aware handles chains of Flatten and Dense layers (the "
                             f"lesson MLPs); {model.name!r} has {type(layer).__name__} layer "
                             f"{layer.name!r}")
    if not copied:
        raise ValueError(f"model {model.name!r} has no Dense layer to quantize")
    qmodel = keras.Model(inputs, x, name=f"{model.name}_w{bits}a{activation_bits}")
    return calibrate(qmodel, calibration)


def ptq(model, bits: int, *, calibration, activation_bits: int = 8, per_channel: bool = True,
        masks=None):
    """Post-training quantization, simulated: :func:`quantize_aware`'s model, never trained.

    Evaluate it with :func:`tinylab.train.accuracy`: its accuracy is what the ``bits``-bit
    integer model reaches without retraining, on the same arithmetic QAT trains with.
    """
    return quantize_aware(model, bits, calibration=calibration, activation_bits=activation_bits,
                          per_channel=per_channel, masks=masks)


def fine_tune(qmodel, data, *, epochs: int = 5, learning_rate: float = 1e-3,
              batch_size: int = 32, seed: int = 0, progress: bool = False):
    """Quantization-aware training: train ``qmodel`` (from :func:`quantize_aware`) on the labels.

    :func:`tinylab.train.fit` with Adam and cross-entropy: the forward pass sees the quantized
    weights and activations, the straight-through gradients update the latent float weights,
    and the activation ranges follow the batches. Returns the Keras ``History``.
    """
    if not any(isinstance(layer, QuantizedDense) for layer in qmodel.layers):
        raise ValueError(f"model {qmodel.name!r} has no QuantizedDense layer: make it with "
                         f"tl.qat.quantize_aware(model, bits, calibration=...)")
    from . import train

    return train.fit(qmodel, data, epochs=epochs, learning_rate=learning_rate,
                     batch_size=batch_size, seed=seed, progress=progress)


def quantized_kernels(qmodel) -> dict:
    """Each :class:`QuantizedDense` kernel as the integer model holds it (float32, on the grid)."""
    return {layer.name: np.asarray(layer.quantized_kernel()) for layer in qmodel.layers
            if isinstance(layer, QuantizedDense)}


def compare(model, data, bits=(8, 4, 2), *, epochs: int = 5, learning_rate: float = 1e-3,
            activation_bits: int = 8, masks=None, part: str = "val", seed: int = 0):
    """PTQ against QAT at each width: the same fake-quantized model, untrained and trained.

    Parameters
    ----------
    model : keras.Model
        The trained float model (left unchanged).
    data : tinylab.data.Dataset
        Calibration on ``data.X_train``; QAT trains on it; accuracies on ``part``.
    bits : sequence of int, each 2 to 8
    epochs, learning_rate : QAT's fine-tuning (:func:`fine_tune`).
    part : {"train", "val", "test"}
        Where the accuracies are measured: ``"val"`` for choices; the test split once, at
        the end of a lesson.

    Returns
    -------
    list of dict
        One row per width: ``bits``, ``float`` (the model's own accuracy), ``float_tuned``
        (a float copy trained as long as QAT trains, the control: what the extra epochs alone
        give), ``ptq``, ``qat`` (fractions of ``part``), ``ptq_model`` and ``qat_model`` (the
        Keras models, to evaluate elsewhere).

    Notes
    -----
    The defaults were chosen on the digits' validation split with lesson 02's ``student``
    (seed 0) among learning rates 3e-4, 1e-3, 3e-3 and 3 or 5 epochs: 1e-3 for 5 epochs was
    best or within one digit of it at 4 bits, and at 2 bits took the 2-bit model from 65% to
    91% (3e-3 did better at 2 bits, worse at 4).
    """
    from . import train

    if part not in ("train", "val", "test"):
        raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}")
    widths = [_check_bits(b) for b in ([bits] if isinstance(bits, (int, np.integer)) else bits)]
    if not widths:
        raise ValueError("bits is empty; give widths such as (8, 4, 2)")
    X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
    float_accuracy = train.accuracy(model, X, y)
    control = keras.models.clone_model(model)
    control.set_weights(model.get_weights())
    if masks:  # a pruned model's control keeps its pruned weights at 0.0
        from . import prune

        prune.retrain(control, _check_masks(model, masks), data, epochs=epochs,
                      learning_rate=learning_rate, seed=seed, progress=False)
    else:
        train.fit(control, data, epochs=epochs, learning_rate=learning_rate, seed=seed,
                  progress=False)
    tuned_accuracy = train.accuracy(control, X, y)
    rows = []
    for width in widths:
        ptq_model = ptq(model, width, calibration=data.X_train, activation_bits=activation_bits,
                        masks=masks)
        qat_model = quantize_aware(model, width, calibration=data.X_train,
                                   activation_bits=activation_bits, masks=masks)
        fine_tune(qat_model, data, epochs=epochs, learning_rate=learning_rate, seed=seed)
        rows.append({"bits": width, "float": float_accuracy, "float_tuned": tuned_accuracy,
                     "ptq": train.accuracy(ptq_model, X, y), "qat": train.accuracy(qat_model, X, y),
                     "ptq_model": ptq_model, "qat_model": qat_model})
    return rows
