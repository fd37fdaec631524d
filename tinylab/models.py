"""Builders for the lesson models, and what they cost in parameters and bytes.

Every model takes one example in the dataset's ``input_shape`` (``(8, 8, 1)`` for the digits)
and returns *logits*, one per class, with no softmax layer: lesson 03 divides logits by a
temperature before the softmax, and an MCU only needs the arg-max.

Introduced in lesson ``02_train``; the multiply-accumulate counts (:func:`count_macs`) in
lesson ``10_cnn``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ARCHITECTURES", "available", "build", "mlp", "cnn", "conv1d", "count_params",
           "parameter_table", "size_bytes", "MAC_LAYERS", "mac_table", "count_macs",
           "feature_maps"]

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
    # bench/quantize.py's distilled route (distill + prune + share + Huffman). Until issue 16
    # it was lesson 03's student too, chosen on the validation split: with 8 units the student
    # is capacity-bound and distillation barely helps; with 16 it overfits the 1,257 training
    # digits when trained alone for 60 epochs at Adam 1e-2. The course now has one student,
    # ``student`` (bench/kd.py's history says what was measured).
    "small16": {"kind": "mlp", "hidden_units": (16,), "epochs": 60,
                "role": "student: one hidden layer of 16 units (bench quantize's distilled route)"},
    # Lesson 10's CNN student: the cnn's shape with fewer filters, distilled from it for the
    # Uno. Filters chosen by distilling each candidate for 30 epochs (T = 4, alpha = 0.5, Adam
    # 1e-2; 5-10 s each) from a cnn trained 30 epochs at Adam 3e-3, over 5 seeds, digits split
    # seed 0, on 2 cores of an AMD EPYC (2026-12). Mean validation / test accuracy: (4, 8)
    # 96.9% / 97.2%, (8, 8) 97.4% / 98.6%, (8, 16) 97.8% / 98.6% (teacher 97.8% / 98.5%).
    # (8, 8) is where accuracy levels off: as good as (8, 16) on test with half its parameters
    # (994 vs 1,898) and 60% of its multiply-accumulates (14,144 vs 23,680). In a first run (3
    # seeds, teacher at Adam 1e-3, alpha 0.9) (2, 4) and (4, 4) trailed (8, 8) by 3.7 and 1.6
    # test points.
    "cnn_student": {"kind": "cnn", "filters": (8, 8), "epochs": 30,
                    "role": "student: the cnn's shape with (8, 8) filters, distilled from it for "
                            "the Uno (lesson 10)"},
    # Lesson 09's models for IMU windows (steps, channels), e.g. BasicMotions' (100, 6). Chosen
    # by 5-fold cross-validation on BasicMotions' 80 recordings (2 cores of an AMD EPYC,
    # 2026-12; Adam 3e-3, batch 32): the MLP scored 75% mean held-out accuracy trained 60
    # epochs on the recordings alone and 92.5% trained 30 epochs on them plus 4 augmented
    # copies (jitter, scaling, crops); the Conv1D 100% and 98.8%. Lesson 09 measures its own.
    "imu_mlp": {"kind": "mlp", "hidden_units": (16,), "epochs": 30, "input_shape": (100, 6),
                "n_classes": 4,
                "role": "IMU windows: one hidden layer of 16 units (lesson 09)"},
    "imu_cnn": {"kind": "conv1d", "filters": (8, 16), "epochs": 30, "input_shape": (100, 6),
                "n_classes": 4,
                "role": "IMU windows: two strided Conv1D layers and a global average (lesson 09)"},
}


#: The input rank each kind of model takes (None: any; an MLP flattens what it gets).
_INPUT_RANK = {"mlp": None, "cnn": 3, "conv1d": 2}


def available(input_shape=None) -> list:
    """The names of :data:`ARCHITECTURES`; with ``input_shape``, only those that take it (a
    Conv1D model takes (steps, channels) windows, a 2D CNN (height, width, channels) images)."""
    if input_shape is None:
        return list(ARCHITECTURES)
    rank = len(tuple(input_shape))
    return [name for name, spec in ARCHITECTURES.items()
            if _INPUT_RANK[spec["kind"]] in (None, rank)]


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


def conv1d(input_shape=(100, 6), n_classes=4, filters=(8, 16), *, kernel_size=5, seed=0,
           name="conv1d"):
    """A 1D CNN for sensor windows (time steps, channels): per filter count a Conv1D(relu) of
    stride 2 (each halves the steps), then the average over time and Dense logits.

    The global average makes the model indifferent to where in the window a movement happens
    and keeps the Dense layer small whatever the window's length. Every layer runs on
    TinyLab's engine (a Conv1D is a CONV_2D between RESHAPEs, the average a MEAN).

    Parameters
    ----------
    input_shape : (steps, channels)
    n_classes : int
    filters : sequence of int
        Output channels of each Conv1D layer.
    kernel_size : int
        Time steps each filter spans.
    seed : int
    """
    from ._tensorflow import keras

    input_shape, n_classes = _check_shape(input_shape, n_classes)
    if len(input_shape) != 2:
        raise ValueError(f"a Conv1D model needs (steps, channels) inputs, got {input_shape}")
    filters = tuple(filters)
    if not filters or any(int(f) != f or f < 1 for f in filters):
        raise ValueError(f"filters must be positive integers, e.g. (8, 16), got {filters!r}")
    if int(kernel_size) != kernel_size or kernel_size < 1:
        raise ValueError(f"kernel_size must be a positive integer, got {kernel_size!r}")
    layers = [keras.Input(shape=input_shape)]
    for i, count in enumerate(filters):
        layers.append(keras.layers.Conv1D(int(count), int(kernel_size), strides=2, padding="same",
                                          activation="relu", name=f"conv_{i + 1}",
                                          kernel_initializer=_init(seed, i)))
    layers += [keras.layers.GlobalAveragePooling1D(name="average"),
               keras.layers.Dense(n_classes, name="logits",
                                  kernel_initializer=_init(seed, len(filters)))]
    return keras.Sequential(layers, name=name)


def build(name: str, input_shape=None, n_classes=None, *, seed=0):
    """Build a named lesson model (one of :data:`ARCHITECTURES`), untrained.

    ``input_shape`` and ``n_classes`` default to the architecture's own data: the 8x8 digits'
    ``(8, 8, 1)`` and 10 classes, or BasicMotions' ``(100, 6)`` windows and 4 classes for the
    ``imu_`` models.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; choose one of {available()}, or call "
                         f"tl.models.mlp(hidden_units=...) for your own")
    spec = ARCHITECTURES[name]
    input_shape = spec.get("input_shape", (8, 8, 1)) if input_shape is None else input_shape
    n_classes = spec.get("n_classes", 10) if n_classes is None else n_classes
    if spec["kind"] == "mlp":
        return mlp(input_shape, n_classes, spec["hidden_units"], seed=seed, name=name)
    if spec["kind"] == "conv1d":
        return conv1d(input_shape, n_classes, spec["filters"], seed=seed, name=name)
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


# --------------------------------------------------------------------------- compute accounting

#: The layers whose multiply-accumulates :func:`mac_table` counts (Keras class names).
MAC_LAYERS = ("Dense", "Conv1D", "Conv2D", "DepthwiseConv2D")


def _output_shape(layer) -> tuple:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError) as error:
        raise ValueError(f"layer {layer.name!r} has no known output shape: build the model "
                         f"with an Input (as tl.models.build does) before counting its "
                         f"multiply-accumulates") from error
    if any(d is None for d in shape[1:]):
        raise ValueError(f"layer {layer.name!r} has output shape {tuple(shape)}: count_macs "
                         f"needs every dimension but the batch known")
    return tuple(int(d) for d in shape[1:])


def mac_table(model) -> list:
    """One row per layer with weights: the multiply-accumulates (MACs) it does per example.

    A MAC is one product added to an accumulator, ``acc += w * x``, the unit of work of every
    layer here (and of an MCU's inner loop). Biases, activations and pooling are not MACs.

    - ``Dense`` (kernel ``(n_in, n_out)``): ``n_in * n_out`` per position (a Dense layer on a
      ``(steps, n_in)`` input applies at every step);
    - ``Conv2D`` (kernel ``(k_h, k_w, c_in / groups, c_out)``): ``k_h * k_w * c_in / groups``
      per output value, and there are ``h_out * w_out * c_out`` of them;
    - ``DepthwiseConv2D`` (kernel ``(k_h, k_w, c_in, multiplier)``): ``k_h * k_w`` per output
      value, ``h_out * w_out * c_in * multiplier`` of them;
    - ``Conv1D`` (kernel ``(k, c_in / groups, c_out)``): ``k * c_in / groups`` per output value,
      ``steps_out * c_out`` of them.

    Introduced in lesson ``10_cnn``.

    Parameters
    ----------
    model : keras.Model
        Built with an ``Input`` (every lesson model is), so each layer's output shape is known.

    Returns
    -------
    list of dict
        ``layer``, ``kind``, ``output_shape`` (without the batch), ``macs`` (int, per example)
        and ``params`` (weights and biases), one per layer with weights, in model order.

    Raises
    ------
    ValueError
        For a layer with weights of another kind (it would be counted wrongly), or an output
        shape that is not fully known.
    """
    rows = []
    for layer in model.layers:
        variables = layer.get_weights()
        if not variables:
            continue  # Flatten, pooling, Dropout, ...: no products
        kind = type(layer).__name__
        if kind not in MAC_LAYERS:
            raise ValueError(f"layer {layer.name!r} is a {kind}; count_macs counts "
                             f"{', '.join(MAC_LAYERS)} layers (and layers without weights)")
        kernel = variables[0]
        shape = _output_shape(layer)
        outputs = int(np.prod(shape))
        if kind == "DepthwiseConv2D":
            per_output = int(kernel.shape[0] * kernel.shape[1])
        else:  # the kernel's last axis is the output channels; the rest feed one output
            per_output = int(kernel.size // kernel.shape[-1])
        rows.append({"layer": layer.name, "kind": kind, "output_shape": shape,
                     "macs": outputs * per_output,
                     "params": int(sum(v.size for v in variables))})
    return rows


def count_macs(model) -> int:
    """Multiply-accumulates of one inference (one example) of a Keras model.

    The sum of :func:`mac_table`'s rows: a Dense 64 -> 32 layer does ``64 * 32 = 2,048``; a
    3x3 ``same`` Conv2D from 1 to 16 channels on an 8x8 image does ``8 * 8 * 16`` outputs of
    ``3 * 3 * 1`` products each, ``9,216``. Parameters say what a model stores (flash); MACs
    say what it computes (time, and on an MCU energy). A convolution reuses each weight at
    every position of its input, so it does far more MACs per parameter than a Dense layer.

    Introduced in lesson ``10_cnn``.

    Parameters
    ----------
    model : keras.Model
        Made of ``Dense``, ``Conv1D``, ``Conv2D`` and ``DepthwiseConv2D`` layers and layers
        without weights (pooling, Flatten, Reshape, Dropout), built with an ``Input``.

    Returns
    -------
    int
        Multiply-accumulates per example (biases, activations and pooling not counted).

    Raises
    ------
    ValueError
        See :func:`mac_table`.
    """
    return int(sum(row["macs"] for row in mac_table(model)))


def feature_maps(model, layer: str, X) -> np.ndarray:
    """What one layer of ``model`` outputs for the examples ``X``: for a Conv2D, its maps.

    Introduced in lesson ``10_cnn``, to show what each filter of a convolution responds to.

    Parameters
    ----------
    model : keras.Model
        Built with an ``Input`` (every lesson model is).
    layer : str
        The name of one of its layers (``"conv_1"``), after which the model is cut.
    X : array_like of float, shape (n, *model.input_shape[1:])

    Returns
    -------
    ndarray of float32, shape (n, *layer output shape)
        For a Conv2D, ``(n, height, width, filters)``: channel ``k`` is filter ``k``'s map,
        after the layer's activation (ReLU for the lesson models).
    """
    from ._tensorflow import keras

    names = [each.name for each in model.layers]
    if layer not in names:
        raise ValueError(f"model {model.name!r} has no layer {layer!r}; its layers: {names}")
    X = np.asarray(X, dtype=np.float32)
    expected = tuple(model.input_shape[1:])
    if X.shape[1:] != expected:
        raise ValueError(f"X must have shape (n, {', '.join(map(str, expected))}) for model "
                         f"{model.name!r}, got {X.shape}")
    cut = keras.Model(model.inputs, model.get_layer(layer).output)
    return np.asarray(cut.predict(X, batch_size=256, verbose=0))
