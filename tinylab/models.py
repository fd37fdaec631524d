"""Builders for the lesson models, and what they cost in parameters and bytes.

Every model takes one example in the dataset's ``input_shape`` (``(8, 8, 1)`` for the digits)
and returns *logits*, one per class, with no softmax layer: lesson 03 divides logits by a
temperature before the softmax, and an MCU only needs the arg-max.

Introduced in lesson ``02_train``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ARCHITECTURES", "available", "build", "mlp", "cnn", "count_params",
           "parameter_table", "size_bytes"]

#: The named lesson models. ``epochs`` is the default training length on the digits: enough
#: for the validation accuracy to level off (see lesson 02's curves), short enough to keep a
#: lesson within a minute on 2 cores.
ARCHITECTURES = {
    "mlp300": {"kind": "mlp", "hidden_units": (300, 100), "epochs": 40,
               "role": "teacher: LeNet-300-100's shape (Han et al. 2015) on 8x8 inputs"},
    "cnn": {"kind": "cnn", "filters": (16, 32), "epochs": 30,
            "role": "teacher: a small convolutional network (survey Fig. 3)"},
    "student": {"kind": "mlp", "hidden_units": (32,), "epochs": 40,
                "role": "student: one hidden layer of 32 units"},
    "tiny": {"kind": "mlp", "hidden_units": (8,), "epochs": 60,
             "role": "student: one hidden layer of 8 units, small enough to lose accuracy"},
    # Lesson 03's and bench/kd.py's student. Chosen on the validation split (bench/kd.py
    # --select): with 8 units the student is capacity-bound and distillation barely helps; with
    # 16 it overfits the 1,257 training digits when trained alone for 60 epochs, the regime
    # where the teacher's soft targets help (Hinton et al. 2015). 60 epochs at Adam 1e-2.
    "small16": {"kind": "mlp", "hidden_units": (16,), "epochs": 60,
                "role": "student: one hidden layer of 16 units, the distillation lesson's student"},
}


def available() -> list:
    return list(ARCHITECTURES)


def _check_shape(input_shape, n_classes):
    shape = tuple(input_shape)
    if not shape or any(int(d) != d or d < 1 for d in shape):
        raise ValueError(f"input_shape must be positive integers such as (8, 8, 1), got {input_shape!r}")
    if int(n_classes) != n_classes or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    return tuple(int(d) for d in shape), int(n_classes)


def _init(seed, offset):
    from ._tensorflow import keras
    return keras.initializers.GlorotUniform(seed=seed + offset)


def mlp(input_shape=(8, 8, 1), n_classes=10, hidden_units=(300, 100), *, seed=0, name="mlp"):
    """A multilayer perceptron: Flatten -> Dense(relu) per hidden width -> Dense(n_classes) logits.

    Parameters
    ----------
    input_shape : tuple of int
    n_classes : int
    hidden_units : sequence of int
        Width of each hidden layer, e.g. ``(300, 100)`` for the teacher; ``()`` gives a linear
        classifier.
    seed : int
        Seeds every initializer, so the same seed gives the same initial weights.
    """
    from ._tensorflow import keras

    input_shape, n_classes = _check_shape(input_shape, n_classes)
    hidden_units = tuple(hidden_units)
    if any(int(u) != u or u < 1 for u in hidden_units):
        raise ValueError(f"hidden_units must be positive integers, e.g. (300, 100), got {hidden_units!r}")
    layers = [keras.Input(shape=input_shape), keras.layers.Flatten(name="flatten")]
    for i, units in enumerate(hidden_units):
        layers.append(keras.layers.Dense(int(units), activation="relu", name=f"dense_{i + 1}",
                                         kernel_initializer=_init(seed, i)))
    layers.append(keras.layers.Dense(n_classes, name="logits",
                                     kernel_initializer=_init(seed, len(hidden_units))))
    return keras.Sequential(layers, name=name)


def cnn(input_shape=(8, 8, 1), n_classes=10, filters=(16, 32), *, seed=0, name="cnn"):
    """A small CNN (survey Fig. 3): [Conv3x3(relu) -> MaxPool2] per filter count -> Dense logits.

    Pooling stops once the feature map is 2x2, so an 8x8 input takes two blocks.
    """
    from ._tensorflow import keras

    input_shape, n_classes = _check_shape(input_shape, n_classes)
    if len(input_shape) != 3:
        raise ValueError(f"a CNN needs (height, width, channels) inputs, got {input_shape}")
    layers = [keras.Input(shape=input_shape)]
    side = min(input_shape[:2])
    for i, count in enumerate(filters):
        layers.append(keras.layers.Conv2D(int(count), 3, padding="same", activation="relu",
                                          name=f"conv_{i + 1}", kernel_initializer=_init(seed, i)))
        if side >= 4:
            layers.append(keras.layers.MaxPooling2D(2, name=f"pool_{i + 1}"))
            side //= 2
    layers += [keras.layers.Flatten(name="flatten"),
               keras.layers.Dense(n_classes, name="logits",
                                  kernel_initializer=_init(seed, len(filters)))]
    return keras.Sequential(layers, name=name)


def build(name: str, input_shape=(8, 8, 1), n_classes=10, *, seed=0):
    """Build a named lesson model (one of :data:`ARCHITECTURES`), untrained."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; choose one of {available()}, or call "
                         f"tl.models.mlp(hidden_units=...) for your own")
    spec = ARCHITECTURES[name]
    if spec["kind"] == "mlp":
        return mlp(input_shape, n_classes, spec["hidden_units"], seed=seed, name=name)
    return cnn(input_shape, n_classes, spec["filters"], seed=seed, name=name)


# --------------------------------------------------------------------------- size accounting

def parameter_table(model) -> list:
    """One row per layer with weights: what it stores and what that costs.

    Returns
    -------
    list of dict with ``layer``, ``kind``, ``kernel_shape``, ``weights`` (kernel entries),
    ``biases``, ``params``, ``bytes_float32`` and ``bytes_int8`` (int8 weights plus int32
    biases, as TensorFlow Lite Micro stores them).
    """
    rows = []
    for layer in model.layers:
        variables = layer.get_weights()
        if not variables:
            continue
        kernel = variables[0]
        biases = int(sum(v.size for v in variables[1:]))
        rows.append({
            "layer": layer.name,
            "kind": type(layer).__name__,
            "kernel_shape": tuple(int(d) for d in kernel.shape),
            "weights": int(kernel.size),
            "biases": biases,
            "params": int(kernel.size) + biases,
            "bytes_float32": 4 * (int(kernel.size) + biases),
            "bytes_int8": int(kernel.size) + 4 * biases,
        })
    return rows


def count_params(model) -> int:
    return int(sum(row["params"] for row in parameter_table(model)))


def size_bytes(model, bits_per_weight: int = 32) -> int:
    """Bytes to store every parameter at ``bits_per_weight`` bits (biases included, no overhead)."""
    if bits_per_weight < 1:
        raise ValueError(f"bits_per_weight must be >= 1, got {bits_per_weight}")
    return int(np.ceil(count_params(model) * bits_per_weight / 8))
