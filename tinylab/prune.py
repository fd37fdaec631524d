"""Magnitude pruning (Han et al. 2015), dead neurons, and what sparse storage costs.

The survey's section 1.2.5.1 (Fig. 4) describes pruning as a loop: train, remove the
connections whose weights are small, retrain what is left, repeat. Fig. 5 adds that a neuron
left with no input or no output connections is *dead* and can go too. This module does each
step on a Keras 3 model:

- pure kernels on numpy arrays: :func:`quality_threshold`, :func:`threshold_mask`,
  :func:`sparsity_mask`, :func:`relative_indices` (Deep Compression's sparse layout);
- model steps: :func:`prune_model` (returns the masks), :func:`apply_masks`, :func:`retrain`
  (pruned weights stay exactly zero), :func:`iterative_prune`, :func:`remove_dead_neurons`;
- accounting: :func:`sparsity`, :func:`paper_storage` (the paper's layout; the board's
  bytes are :func:`tinylab.engine.model_storage`'s);
- hand-over to later lessons: :func:`save_pruned`, :func:`load_or_prune`.

Masks are data: a dict mapping a layer name to a boolean array shaped like that layer's
kernel, ``True`` where the weight is kept. Biases are never pruned (as in Han et al.).

Introduced in lesson ``04_pruning``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["prunable_layers", "quality_threshold", "threshold_mask", "sparsity_mask",
           "prune_model", "apply_masks", "masks_from_weights", "sparsity", "MaskConstraint",
           "retrain", "schedule", "iterative_prune", "accuracy_without_retraining",
           "dead_neurons", "remove_dead_neurons", "relative_indices", "paper_storage",
           "save_pruned", "load_or_prune", "check_fraction", "layer_kind"]

#: Deep Compression's relative-index widths (Han, Mao & Dally 2016, section 2):
#: 5 bits between stored weights of a fully connected layer, 8 bits in a convolution.
INDEX_BITS = {"dense": 5, "conv": 8}


# --------------------------------------------------------------------------- pure kernels

def check_fraction(value, what: str = "sparsity") -> float:
    """A sparsity checked: a float in [0, 1) (lesson 04; also used by lesson 07's pipeline).

    Parameters
    ----------
    value : float
        The share of weights to remove: 0.9 removes 90%; 1.0 would remove them all.
    what : str
        The setting's name in the error message.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``value`` is not a number in [0, 1).
    """
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number in [0, 1), e.g. 0.9 to remove 90% of the "
                         f"weights; got {value!r}") from None
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"{what} must be in [0, 1), e.g. 0.9 to remove 90% of the weights "
                         f"(1.0 would remove every weight); got {value!r}")
    return fraction


def quality_threshold(weights, quality: float) -> float:
    """Han et al.'s per-layer threshold: ``quality`` times the standard deviation of ``weights``.

    Parameters
    ----------
    weights : array_like of float
        One layer's kernel (any shape).
    quality : float
        The "quality parameter", >= 0; larger prunes more (about 0.67 std removes half of
        normally distributed weights, 1.64 std about 90%).

    Returns
    -------
    float
        The threshold, in the weights' units.
    """
    try:
        quality = float(quality)
    except (TypeError, ValueError):
        raise ValueError(f"quality must be a number >= 0 (e.g. 1.0), got {quality!r}") from None
    if not quality >= 0:
        raise ValueError(f"quality must be >= 0 (0 prunes nothing, 1.0 prunes weights within "
                         f"one standard deviation of zero); got {quality!r}")
    return quality * float(np.std(np.asarray(weights, dtype=np.float64)))


def threshold_mask(weights, threshold: float) -> np.ndarray:
    """Keep-mask of a magnitude threshold: ``True`` where ``|w| > threshold``.

    Weights whose magnitude is at or below the threshold are pruned (a weight already zero is
    pruned by any threshold >= 0).

    Parameters
    ----------
    weights : array_like of float, any shape
    threshold : float, >= 0

    Returns
    -------
    ndarray of bool, same shape as ``weights``
    """
    threshold = float(threshold)
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0 (a magnitude), got {threshold!r}")
    return np.abs(np.asarray(weights)) > threshold


def sparsity_mask(weights, sparsity: float, previous=None) -> np.ndarray:
    """Keep-mask removing exactly ``round(sparsity * n)`` of the ``n`` weights, smallest first.

    Ties in magnitude are broken by position, so the count is exact. Weights pruned by a
    ``previous`` mask are removed first and stay removed: the result is ANDed with it, so its
    sparsity is the larger of ``sparsity`` and the previous one.

    Parameters
    ----------
    weights : array_like of float, any shape
    sparsity : float in [0, 1)
        Fraction of the weights to remove.
    previous : ndarray of bool, optional
        An earlier keep-mask of the same shape.

    Returns
    -------
    ndarray of bool, same shape as ``weights``
    """
    sparsity = check_fraction(sparsity)
    weights = np.asarray(weights)
    magnitude = np.abs(weights).astype(np.float64).ravel()
    if previous is not None:
        previous = _check_mask(previous, weights.shape)
        magnitude[~previous.ravel()] = -1.0  # already pruned: first in line
    n_pruned = int(round(sparsity * magnitude.size))
    keep = np.ones(magnitude.size, dtype=bool)
    keep[np.argsort(magnitude, kind="stable")[:n_pruned]] = False
    keep = keep.reshape(weights.shape)
    return keep if previous is None else keep & previous


def _check_mask(mask, shape, name="mask"):
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != tuple(shape):
        raise ValueError(f"{name} must be a bool array of shape {tuple(shape)} (True = keep), "
                         f"got {mask.dtype} of shape {mask.shape}")
    return mask


# --------------------------------------------------------------------------- model steps

def _kernel(layer):
    return getattr(layer, "kernel", None)


def prunable_layers(model) -> list:
    """Names of the layers with a kernel to prune (Dense, Conv2D), in order."""
    return [layer.name for layer in model.layers if _kernel(layer) is not None]


def _choose_layers(model, layers):
    prunable = prunable_layers(model)
    if layers is None:
        return prunable
    if isinstance(layers, str):
        layers = [layers]
    names = [layer.name for layer in model.layers]
    for name in layers:
        if name not in names:
            raise ValueError(f"model {model.name!r} has no layer {name!r}; layers with weights "
                             f"to prune: {prunable}")
        if name not in prunable:
            raise ValueError(f"layer {name!r} has no weights to prune; choose among {prunable}")
    return list(layers)


def _per_layer(value, layers, what):
    """A number for every layer, from one number or a {layer: number} dict."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(layers))
        if unknown:
            raise ValueError(f"{what} names layers {unknown} that are not being pruned; "
                             f"choose among {layers}")
        return {name: value[name] for name in layers if name in value}
    return {name: value for name in layers}


def masks_from_weights(model) -> dict:
    """Keep-masks read off a model: ``True`` where a kernel weight is non-zero."""
    return {name: np.asarray(model.get_layer(name).kernel) != 0 for name in prunable_layers(model)}


def prune_model(model, *, sparsity=None, quality=None, layers=None, masks=None) -> dict:
    """Prune ``model`` in place by weight magnitude; return the keep-masks.

    Give exactly one of ``sparsity`` (remove that fraction of each layer's weights) or
    ``quality`` (remove weights with ``|w| <= quality * std`` of their layer, Han et al.).
    Either may be one number for every layer or a dict ``{layer name: number}``.

    Parameters
    ----------
    model : keras.Model
    sparsity : float in [0, 1) or dict, optional
    quality : float >= 0 or dict, optional
    layers : list of str, optional
        Layers to prune; default every layer with a kernel (:func:`prunable_layers`).
    masks : dict, optional
        Masks of an earlier pruning: a layer keeps its earlier mask, ANDed with the new one,
        so pruned weights never come back.

    Returns
    -------
    dict of str -> ndarray of bool
        One keep-mask per pruned layer (plus any earlier masks passed in), shaped like the
        layer's kernel.
    """
    if (sparsity is None) == (quality is None):
        raise ValueError("give exactly one of sparsity= (a fraction such as 0.9) or quality= "
                         "(a multiple of each layer's weight std, such as 1.0)")
    names = _choose_layers(model, layers)
    result = {name: np.asarray(mask, dtype=bool).copy() for name, mask in (masks or {}).items()}
    if sparsity is not None:
        targets = {name: check_fraction(v)
                   for name, v in _per_layer(sparsity, names, "sparsity").items()}
    else:
        targets = _per_layer(quality, names, "quality")
        for value in targets.values():
            quality_threshold([0.0], value)  # check every quality before pruning anything
    for name in targets:
        kernel = np.asarray(model.get_layer(name).kernel)
        previous = None
        if name in result:
            previous = _check_mask(result[name], kernel.shape, f"mask of {name!r}")
        if sparsity is not None:
            mask = sparsity_mask(kernel, targets[name], previous)
        else:
            # the threshold is taken over the weights still alive, as when Han et al. prune again
            alive = kernel[previous] if previous is not None else kernel
            mask = threshold_mask(kernel, quality_threshold(alive, targets[name]))
            if previous is not None:
                mask &= previous
        result[name] = mask
    apply_masks(model, result)
    return result


def apply_masks(model, masks: dict):
    """Set every pruned kernel weight of ``model`` to exactly 0.0 (in place); return the model."""
    for name, mask in masks.items():
        if name not in prunable_layers(model):
            _choose_layers(model, [name])  # raises the right message
        kernel = model.get_layer(name).kernel
        mask = _check_mask(mask, kernel.shape, f"mask of {name!r}")
        kernel.assign(np.where(mask, np.asarray(kernel), 0.0).astype(kernel.dtype))
    return model


def sparsity(model_or_masks, layers=None) -> float:
    """Fraction of kernel weights that are zero (a model) or pruned (a dict of masks)."""
    if isinstance(model_or_masks, dict):
        masks = {k: np.asarray(v) for k, v in model_or_masks.items()
                 if layers is None or k in layers}
        total = sum(m.size for m in masks.values())
        return float(sum((~m.astype(bool)).sum() for m in masks.values()) / max(total, 1))
    model = model_or_masks
    kernels = [np.asarray(model.get_layer(n).kernel) for n in _choose_layers(model, layers)]
    total = sum(k.size for k in kernels)
    return float(sum((k == 0).sum() for k in kernels) / max(total, 1))


# --------------------------------------------------------------------------- retraining

def _constraint_base():
    from ._tensorflow import keras
    return keras.constraints.Constraint


class MaskConstraint(_constraint_base()):
    """A Keras constraint multiplying a kernel by its 0/1 mask after every optimizer step.

    Keras applies a variable's constraint right after the optimizer updates it, so a pruned
    weight that Adam's momentum pushes away from zero is put back to exactly 0.0 before the
    next batch sees it.
    """

    def __init__(self, mask):
        from ._tensorflow import tf

        self.mask = tf.constant(np.asarray(mask, dtype=np.float32))

    def __call__(self, w):
        return w * self.mask


def retrain(model, masks: dict, data, *, epochs: int = 5, learning_rate: float = 1e-3,
            batch_size: int = 32, seed: int = 0, progress: bool = True):
    """Retrain the surviving weights of a pruned model; pruned weights stay exactly 0.0.

    Uses :func:`tinylab.train.fit` (Adam, a fresh optimizer) with a :class:`MaskConstraint` on
    every masked kernel for the duration; the constraints are removed afterwards so the model
    saves like any other.

    Parameters
    ----------
    model : keras.Model
    masks : dict of str -> ndarray of bool
    data : tinylab.data.Dataset
    epochs : int
    learning_rate : float
        Adam's step size. Han et al. retrain with a lower rate than the first training (their
        SGD had decayed by then); here every round starts a fresh Adam, and on the digits'
        validation split 1e-3 (the first training's rate) recovered more in 5-epoch rounds
        than 5e-4 or 3e-4 did (bench/prune.py compares them).
    seed : int
        Seeds the shuffle.

    Returns
    -------
    keras.callbacks.History
    """
    from . import train

    apply_masks(model, masks)
    kernels = [model.get_layer(name).kernel for name in masks]
    saved = [kernel.constraint for kernel in kernels]
    try:
        for kernel, name in zip(kernels, masks):
            kernel.constraint = MaskConstraint(masks[name])
        history = train.fit(model, data, epochs=epochs, batch_size=batch_size,
                            learning_rate=learning_rate, seed=seed, progress=progress)
    finally:
        for kernel, constraint in zip(kernels, saved):
            kernel.constraint = constraint
        model.train_function = None  # a later fit must not reuse the step with constraints
    apply_masks(model, masks)  # a no-op when the constraint worked; cheap insurance
    return history


def schedule(final_sparsity, steps: int, *, power: float = 3.0) -> list:
    """Sparsity after each of ``steps`` prune-retrain rounds, ending exactly at ``final_sparsity``.

    ``s_k = s_final * (1 - (1 - k/steps) ** power)`` for ``k = 1..steps`` (Zhu & Gupta 2017's
    polynomial schedule, the one tensorflow-model-optimization uses): ``power=1`` removes the
    same share every round; larger powers remove more early, when the network has the most
    redundancy, and go gently near the end. ``final_sparsity`` may be a {layer: sparsity}
    dict, giving a list of dicts.
    """
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    if not power > 0:
        raise ValueError(f"power must be > 0 (1 = linear, 3 = Zhu & Gupta), got {power!r}")
    fractions = [1.0 - (1.0 - k / steps) ** power for k in range(1, int(steps) + 1)]
    if isinstance(final_sparsity, dict):
        finals = {k: check_fraction(v) for k, v in final_sparsity.items()}
        return [{k: v * f for k, v in finals.items()} for f in fractions]
    final = check_fraction(final_sparsity, "final_sparsity")
    return [final * f for f in fractions]


def iterative_prune(model, data, *, final_sparsity, steps: int = 4, epochs_per_step: int = 5,
                    learning_rate: float = 1e-3, power: float = 3.0, masks=None, seed: int = 0,
                    progress: bool = True, part: str = "val"):
    """Prune then retrain, ``steps`` times, up to ``final_sparsity`` (survey Fig. 4). In place.

    Parameters
    ----------
    model : keras.Model
        A trained model; pruned in place.
    data : tinylab.data.Dataset
    final_sparsity : float in [0, 1) or dict {layer: float}
    steps, epochs_per_step : int
    learning_rate : float
        Retraining rate (see :func:`retrain`).
    power : float
        Shape of the :func:`schedule`.
    masks : dict, optional
        Earlier masks to keep.
    part : {"val", "test", "train"}
        Which part of ``data`` the history reports accuracy on (choose schedules on "val").

    Returns
    -------
    masks : dict of str -> ndarray of bool
    history : list of dict
        One row per step: ``step``, ``sparsity`` (whole model), ``accuracy_pruned`` (right
        after pruning) and ``accuracy_retrained`` (after retraining); row 0 is the start.
    """

    from . import train

    if part not in ("train", "val", "test"):
        raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}")
    X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
    start = train.accuracy(model, X, y)
    history = [{"step": 0, "sparsity": sparsity(model), "accuracy_pruned": start,
                "accuracy_retrained": start}]
    for step, target in enumerate(schedule(final_sparsity, steps, power=power), start=1):
        masks = prune_model(model, sparsity=target, masks=masks)
        pruned = train.accuracy(model, X, y)
        retrain(model, masks, data, epochs=epochs_per_step, learning_rate=learning_rate,
                seed=seed + step, progress=progress)
        history.append({"step": step, "sparsity": sparsity(masks), "accuracy_pruned": pruned,
                        "accuracy_retrained": train.accuracy(model, X, y)})
    return masks, history




def accuracy_without_retraining(model, data, sparsities, *, part: str = "test") -> np.ndarray:
    """Accuracy of ``model`` pruned to each of ``sparsities`` in one shot, never retrained.

    The model itself is left unchanged (its weights are restored at the end).

    Returns
    -------
    ndarray of float, shape (len(sparsities),)
    """

    from . import train

    if part not in ("train", "val", "test"):
        raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}")
    original = model.get_weights()
    X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
    accuracies = []
    try:
        for target in sparsities:
            model.set_weights(original)
            prune_model(model, sparsity=target)
            accuracies.append(train.accuracy(model, X, y))
    finally:
        model.set_weights(original)
    return np.array(accuracies)


# --------------------------------------------------------------------------- dead neurons

def _dense_chain(model):
    """The Dense layers of a Flatten/Dense Sequential model, or a ValueError saying why not."""
    from ._tensorflow import keras

    dense, allowed = [], (keras.layers.Dense, keras.layers.Flatten, keras.layers.InputLayer)
    for layer in model.layers:
        if not isinstance(layer, allowed):
            raise ValueError(f"remove_dead_neurons works on multilayer perceptrons (Flatten and "
                             f"Dense layers, e.g. tl.models.build('mlp300')); layer "
                             f"{layer.name!r} is a {type(layer).__name__}")
        if isinstance(layer, keras.layers.Dense):
            dense.append(layer)
    if not isinstance(model, keras.Sequential) or len(dense) < 2:
        raise ValueError("remove_dead_neurons needs a Sequential model with at least one hidden "
                         "Dense layer (e.g. tl.models.build('mlp300'))")
    return dense


def dead_neurons(model) -> dict:
    """Hidden units with no remaining input or no remaining output connection (survey Fig. 5).

    Returns
    -------
    dict of str -> dict
        For each hidden Dense layer: ``no_inputs`` and ``no_outputs``, arrays of unit indices.
    """
    dense = _dense_chain(model)
    found = {}
    for layer, following in zip(dense[:-1], dense[1:]):
        w_in, w_out = np.asarray(layer.kernel), np.asarray(following.kernel)
        found[layer.name] = {"no_inputs": np.flatnonzero(~(w_in != 0).any(axis=0)),
                             "no_outputs": np.flatnonzero(~(w_out != 0).any(axis=1))}
    return found


def remove_dead_neurons(model, masks=None):
    """A smaller copy of an MLP without its dead units; same outputs for every input.

    A unit with no outgoing weight cannot affect anything: it goes. A unit with no incoming
    weight outputs the constant ``activation(bias)``; that constant times the unit's outgoing
    weights is added to the next layer's biases, then the unit goes. Removing units can leave
    others dead, so this repeats until nothing changes. A layer always keeps at least one unit
    (with zero weights if all died), so the model stays buildable.

    Parameters
    ----------
    model : keras.Sequential of Flatten and Dense layers
    masks : dict, optional
        Keep-masks of ``model``; default: its non-zero kernel weights.

    Returns
    -------
    smaller : keras.Sequential
        Same layer names and activations, fewer units in the hidden layers.
    masks : dict of str -> ndarray of bool
        The masks sliced to the smaller kernels.
    """
    from ._tensorflow import keras

    dense = _dense_chain(model)
    masks = masks_from_weights(model) if masks is None else dict(masks)
    kernels = [np.asarray(layer.kernel, dtype=np.float64) for layer in dense]
    biases = [np.asarray(layer.bias, dtype=np.float64) if layer.use_bias
              else np.zeros(layer.units) for layer in dense]
    keep_masks = [np.asarray(masks.get(layer.name, kernels[i] != 0), dtype=bool)
                  for i, layer in enumerate(dense)]
    changed = True
    while changed:
        changed = False
        for i in range(len(dense) - 1):
            w_in, w_out = kernels[i], kernels[i + 1]
            no_inputs = ~(w_in != 0).any(axis=0)
            no_outputs = ~(w_out != 0).any(axis=1)
            dead = no_inputs | no_outputs
            if not dead.any() or dead.size == 1:
                continue
            if dead.all():  # keep one unit (unchanged, so still exact): the layer stays buildable
                dead[0] = False
            folding = dead & no_inputs & ~no_outputs
            if folding.any():
                constant = np.asarray(dense[i].activation(biases[i][folding].astype(np.float32)),
                                      dtype=np.float64)
                biases[i + 1] = biases[i + 1] + constant @ w_out[folding]
            alive = ~dead
            kernels[i], biases[i] = w_in[:, alive], biases[i][alive]
            keep_masks[i] = keep_masks[i][:, alive]
            kernels[i + 1], keep_masks[i + 1] = w_out[alive], keep_masks[i + 1][alive]
            changed = True
    layers = [keras.Input(shape=model.input_shape[1:])]
    layers += [keras.layers.Flatten(name=l.name) for l in model.layers
               if isinstance(l, keras.layers.Flatten)]
    for layer, kernel in zip(dense, kernels):
        layers.append(keras.layers.Dense(kernel.shape[1], activation=layer.activation,
                                         use_bias=True, name=layer.name))
    smaller = keras.Sequential(layers, name=f"{model.name}_alive")
    for layer, kernel, bias in zip(dense, kernels, biases):
        smaller.get_layer(layer.name).set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    new_masks = {layer.name: keep_masks[i] for i, layer in enumerate(dense) if layer.name in masks}
    return smaller, new_masks


# --------------------------------------------------------------------------- sparse storage

def relative_indices(weights, index_bits: int = 5):
    """Deep Compression's sparse layout of one weight stream: values and relative indices.

    The stream is ``weights`` with its last axis (output units) first, read in order: one row
    per output unit, as ``W x`` reads it. Each stored entry carries the number of zeros
    skipped since the previous entry, in ``index_bits`` bits (at most ``2**index_bits - 1``).
    A longer run of zeros is bridged by *filler* entries: a stored 0.0 after the longest run
    that fits. Zeros after the last non-zero weight are not stored.

    Parameters
    ----------
    weights : array_like of float, any shape
    index_bits : int
        5 for fully connected layers, 8 for convolutions (Deep Compression).

    Returns
    -------
    values : ndarray of float32, shape (entries,)
        Stored values, fillers included (as 0.0).
    gaps : ndarray of int64, shape (entries,)
        Zeros skipped before each entry, each in ``[0, 2**index_bits - 1]``.
    n_fillers : int

    Examples
    --------
    One non-zero weight after 40 zeros, with 5-bit gaps: 40 > 31 needs one filler.

    >>> values, gaps, n_fillers = relative_indices([0.0] * 40 + [1.5], index_bits=5)
    >>> values.tolist(), gaps.tolist(), n_fillers
    ([0.0, 1.5], [31, 8], 1)
    """
    if int(index_bits) != index_bits or index_bits < 1:
        raise ValueError(f"index_bits must be a whole number >= 1 (Deep Compression uses 5 for "
                         f"dense layers, 8 for convolutions), got {index_bits!r}")
    stream = np.moveaxis(np.asarray(weights, dtype=np.float32), -1, 0).ravel() \
        if np.ndim(weights) > 1 else np.asarray(weights, dtype=np.float32).ravel()
    longest = 2 ** int(index_bits) - 1
    values, gaps, previous, n_fillers = [], [], -1, 0
    for position in np.flatnonzero(stream):
        gap = int(position - previous - 1)
        while gap > longest:  # a filler zero occupies the position after `longest` zeros
            values.append(0.0)
            gaps.append(longest)
            gap -= longest + 1
            n_fillers += 1
        values.append(float(stream[position]))
        gaps.append(gap)
        previous = position
    return np.array(values, dtype=np.float32), np.array(gaps, dtype=np.int64), n_fillers


def _decode(values, gaps, size):
    """Inverse of :func:`relative_indices` (the stream, length ``size``); for tests and lesson 07."""
    stream = np.zeros(size, dtype=np.float32)
    position = -1
    for value, gap in zip(values, gaps):
        position += int(gap) + 1
        stream[position] = value
    return stream


def layer_kind(kernel) -> str:
    """The kind of layer a kernel belongs to, the key of :data:`INDEX_BITS` (lesson 04).

    Parameters
    ----------
    kernel : array_like
        A layer's kernel: 2-D for a Dense layer, 4-D for a convolution.

    Returns
    -------
    str
        ``"conv"`` for a kernel of more than 2 dimensions, else ``"dense"``.
    """
    return "conv" if np.ndim(kernel) > 2 else "dense"


def paper_storage(weights_or_model, index_bits=None, value_bits: int = 32) -> list:
    """Per-layer bytes of the weights stored dense and stored sparse in the paper's layout.

    Deep Compression's layout, worked out by hand in lesson 04: for every entry (non-zero
    weight or filler) its value in ``value_bits`` and its relative index in ``index_bits``
    (see :func:`relative_indices`); biases are stored dense in both columns. The board stores
    a pruned model otherwise (int8 values, per-row entry counts, gap bytes:
    :mod:`tinylab.engine.formats.sparse`), and its bytes are counted by
    :func:`tinylab.engine.model_storage` (what :mod:`tinylab.pipeline` reports).

    Parameters
    ----------
    weights_or_model : keras.Model or dict of str -> ndarray
        A model (its kernels and biases) or named kernels (no biases).
    index_bits : int, optional
        Default: 5 for 2-D (dense) kernels, 8 for 4-D (convolution) kernels.
    value_bits : int
        Bits per stored value: 32 for float32 (lesson 05 brings it down to 8 or fewer).

    Returns
    -------
    list of dict
        One row per layer: ``layer``, ``weights``, ``kept`` (non-zero weights), ``kept_percent``,
        ``fillers``, ``index_bits``, ``biases``, ``bytes_dense``, ``bytes_sparse``, ``ratio``
        (dense / sparse); and a last row ``layer="total"``.
    """
    if int(value_bits) != value_bits or value_bits < 1:
        raise ValueError(f"value_bits must be a whole number >= 1 (32 for float32), got {value_bits!r}")
    if isinstance(weights_or_model, dict):
        layers = [(name, np.asarray(k), 0) for name, k in weights_or_model.items()]
    else:
        model = weights_or_model
        layers = []
        for name in prunable_layers(model):
            layer = model.get_layer(name)
            bias = getattr(layer, "bias", None)
            layers.append((name, np.asarray(layer.kernel), 0 if bias is None else int(np.size(bias))))
    rows = []
    for name, kernel, n_biases in layers:
        bits = index_bits if index_bits is not None else INDEX_BITS[layer_kind(kernel)]
        values, _, n_fillers = relative_indices(kernel, bits)
        kept = int(np.count_nonzero(kernel))
        dense_bits = (kernel.size + n_biases) * value_bits
        sparse_bits = len(values) * (value_bits + bits) + n_biases * value_bits
        rows.append({"layer": name, "weights": int(kernel.size), "kept": kept,
                     "kept_percent": 100.0 * kept / max(kernel.size, 1), "fillers": n_fillers,
                     "index_bits": int(bits), "biases": n_biases,
                     "bytes_dense": -(-dense_bits // 8), "bytes_sparse": -(-sparse_bits // 8)})
    total = {"layer": "total", "weights": sum(r["weights"] for r in rows),
             "kept": sum(r["kept"] for r in rows), "fillers": sum(r["fillers"] for r in rows),
             "index_bits": None, "biases": sum(r["biases"] for r in rows),
             "bytes_dense": sum(r["bytes_dense"] for r in rows),
             "bytes_sparse": sum(r["bytes_sparse"] for r in rows)}
    total["kept_percent"] = 100.0 * total["kept"] / max(total["weights"], 1)
    rows.append(total)
    for row in rows:
        row["ratio"] = row["bytes_dense"] / max(row["bytes_sparse"], 1)
    return rows


# --------------------------------------------------------------------------- hand-over

def _pruned_card(name, data, final_sparsity, steps, epochs_per_step, seed) -> dict:
    """What identifies a pruned lesson model: its teacher's card and the pruning settings."""
    from . import models, train

    return dict(train.model_card(name, data, models.ARCHITECTURES[name]["epochs"], seed),
                pruned_from=name, final_sparsity=float(final_sparsity), steps=int(steps),
                epochs_per_step=int(epochs_per_step))


def save_pruned(model, masks, data, *, name: str = "mlp300", final_sparsity: float = 0.9,
                steps: int = 4, epochs_per_step: int = 5, seed: int = 0) -> dict:
    """Save a pruned lesson model as ``<name>_pruned`` and its masks as ``<name>_pruned_masks``.

    The card records how it was made (so :func:`load_or_prune` reuses it only for the same
    settings), its sparsity, units per layer and test accuracy. Lesson 04 calls it last.

    Returns
    -------
    dict
        The card.
    """
    from . import models, train, workspace

    card = dict(_pruned_card(name, data, final_sparsity, steps, epochs_per_step, seed),
                sparsity=sparsity(masks),
                units=[layer.units for layer in _dense_chain(model)],
                test_accuracy=train.accuracy(model, data.X_test, data.y_test),
                params=models.count_params(model))
    workspace.save_model(model, f"{name}_pruned", card)
    workspace.save_arrays(f"{name}_pruned_masks", **masks)
    return card


def load_or_prune(data, *, name: str = "mlp300", final_sparsity: float = 0.9, steps: int = 4,
                  epochs_per_step: int = 5, learning_rate: float = 1e-3, seed: int = 0,
                  progress: bool = True):
    """Lesson 04's pruned teacher: from the workspace when it matches, else pruned again.

    Pruning again means: the trained teacher (:func:`tinylab.train.load_or_train`),
    :func:`iterative_prune` to ``final_sparsity``, :func:`remove_dead_neurons`, and
    :func:`save_pruned`; about 15 s for ``mlp300`` on the digits. So lessons 05-07 run
    standalone, and after lesson 04 they reuse its result.

    Returns
    -------
    model : keras.Model
        The pruned model without its dead units.
    masks : dict of str -> ndarray of bool
    """
    from . import train, workspace

    wanted = _pruned_card(name, data, final_sparsity, steps, epochs_per_step, seed)
    saved = f"{name}_pruned"
    if workspace.reuse(saved, wanted, arrays=(f"{saved}_masks",)):
        return workspace.load_model(saved), workspace.load_arrays(f"{saved}_masks")
    model = train.load_or_train(name, data, seed=seed, progress=progress)
    masks, _ = iterative_prune(model, data, final_sparsity=final_sparsity, steps=steps,
                               epochs_per_step=epochs_per_step, learning_rate=learning_rate,
                               seed=seed, progress=progress)
    smaller, smaller_masks = remove_dead_neurons(model, masks)
    save_pruned(smaller, smaller_masks, data, name=name, final_sparsity=final_sparsity,
                steps=steps, epochs_per_step=epochs_per_step, seed=seed)
    return smaller, smaller_masks
