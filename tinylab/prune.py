"""Magnitude pruning (Han et al. 2015), dead neurons, and what sparse storage costs.

The survey's section 1.2.5.1 (Fig. 4) describes pruning as a loop: train, remove the
connections whose weights are small, retrain what is left, repeat. Fig. 5 adds that a neuron
left with no input or no output connections is *dead* and can go too. This module does each
step on a Keras 3 model:

- pure kernels on numpy arrays: :func:`quality_threshold`, :func:`threshold_mask`,
  :func:`sparsity_mask`, :func:`relative_indices` (Deep Compression's sparse layout);
- model steps: :func:`prune_model` (returns the masks), :func:`apply_masks`, :func:`retrain`
  (pruned weights stay exactly zero), :func:`iterative_prune` (Han et al.'s rounds),
  :func:`gradual_prune` (Zhu & Gupta's schedule, :func:`polynomial_sparsity`, masks updated
  during training), :func:`remove_dead_neurons`;
- choosing, always on the validation split: :func:`accuracy_without_retraining` (one shot),
  :func:`quality_scan` (Han et al.'s ``q * std`` rule on a model), :func:`sensitivity_scan`
  (one layer at a time) and :func:`choose_sparsities`;
- accounting: :func:`sparsity`, :func:`paper_storage` (the paper's layout; the board's
  bytes are :func:`tinylab.engine.model_storage`'s);
- hand-over to later lessons: :func:`save_pruned`, :func:`load_or_prune`.

Masks are data: a dict mapping a layer name to a boolean array shaped like that layer's
kernel, ``True`` where the weight is kept. Biases are never pruned (as in Han et al.).

Introduced in lesson ``04_pruning``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["prunable_layers", "quality_threshold", "threshold_mask", "sparsity_mask",
           "prune_model", "apply_masks", "masks_from_weights", "sparsity", "MaskConstraint",
           "retrain", "schedule", "iterative_prune", "accuracy_without_retraining",
           "sensitivity_scan", "choose_sparsities", "quality_scan", "polynomial_sparsity",
           "gradual_prune",
           "dead_neurons", "remove_dead_neurons", "relative_indices", "paper_storage",
           "save_pruned", "load_or_prune", "check_fraction", "layer_kind", "PRUNED_RECIPE",
           "pruned_card"]

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
    if n_pruned > 0:
        # the n_pruned-th smallest magnitude, found in linear time (np.partition, not a sort:
        # gradual_prune calls this every few optimizer steps); everything below it goes, and
        # of the weights tied with it, the first ones by position
        kth = np.partition(magnitude, n_pruned - 1)[n_pruned - 1]
        below = magnitude < kth
        keep[below] = False
        keep[np.flatnonzero(magnitude == kth)[:n_pruned - int(below.sum())]] = False
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
    next batch sees it. The mask is held in a non-trainable ``tf.Variable``, so
    :meth:`update` can change it between steps (:func:`gradual_prune`) without retracing the
    compiled training step.
    """

    def __init__(self, mask):
        from ._tensorflow import tf

        self.mask = tf.Variable(np.asarray(mask, dtype=np.float32), trainable=False)

    def update(self, mask):
        """Use ``mask`` (bool or 0/1, the kernel's shape) from the next optimizer step on."""
        self.mask.assign(np.asarray(mask, dtype=np.float32))

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

    X, y = _part(data, part)
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




def _part(data, part):
    """``(X, y)`` of one part of ``data``; "val" for every choice, "test" once at the end."""
    if part not in ("train", "val", "test"):
        raise ValueError(f"part must be 'train', 'val' or 'test' (choices are scored on 'val'; "
                         f"the test split is read once, for the final model), got {part!r}")
    return getattr(data, f"X_{part}"), getattr(data, f"y_{part}")


def accuracy_without_retraining(model, data, sparsities, *, part: str = "val") -> np.ndarray:
    """Accuracy of ``model`` pruned to each of ``sparsities`` in one shot, never retrained.

    Every layer loses that share of its smallest weights. The model itself is left unchanged
    (its weights are restored at the end). Lesson 04's explorer and curves.

    Parameters
    ----------
    model : keras.Model
    data : tinylab.data.Dataset
    sparsities : sequence of float in [0, 1)
    part : {"val", "train", "test"}
        Where accuracy is measured; the default, validation, is the one to choose with.

    Returns
    -------
    ndarray of float, shape (len(sparsities),)
    """
    from . import train

    X, y = _part(data, part)
    targets = [check_fraction(s) for s in sparsities]
    original = model.get_weights()
    accuracies = []
    try:
        for target in targets:
            model.set_weights(original)
            prune_model(model, sparsity=target)
            accuracies.append(train.accuracy(model, X, y))
    finally:
        model.set_weights(original)
    return np.array(accuracies)


def sensitivity_scan(model, data, sparsities, *, layers=None, part: str = "val") -> dict:
    """Accuracy with one layer at a time pruned to each sparsity, the others untouched.

    The per-layer sensitivity analysis of MIT 6.5940's pruning lab: a layer whose curve stays
    flat to high sparsity has weights to spare; one whose curve falls early needs more of
    them. No retraining; ``model`` is left unchanged. Lesson 04.

    Parameters
    ----------
    model : keras.Model
    data : tinylab.data.Dataset
    sparsities : sequence of float in [0, 1)
    layers : list of str, optional
        Default: every layer with a kernel (:func:`prunable_layers`).
    part : {"val", "train", "test"}
        Where accuracy is measured (validation: the scan is used to choose sparsities).

    Returns
    -------
    dict of str -> ndarray of float, shape (len(sparsities),)
        For each layer, the accuracy at each sparsity.
    """
    from . import train

    X, y = _part(data, part)
    targets = [check_fraction(s) for s in sparsities]
    if not targets:
        raise ValueError("sparsities must hold at least one fraction in [0, 1), e.g. [0.5, 0.9]")
    names = _choose_layers(model, layers)
    original = model.get_weights()
    scan = {}
    try:
        for name in names:
            accuracies = []
            for target in targets:
                model.set_weights(original)
                prune_model(model, sparsity=target, layers=[name])
                accuracies.append(train.accuracy(model, X, y))
            scan[name] = np.array(accuracies)
    finally:
        model.set_weights(original)
    return scan


def choose_sparsities(scan: dict, sparsities, baseline: float, *, max_loss: float = 0.01) -> dict:
    """Per layer, the largest scanned sparsity whose one-shot accuracy stays near ``baseline``.

    A simple rule for reading a :func:`sensitivity_scan`: layer by layer, the highest sparsity
    at which that layer alone, pruned and not retrained, loses at most ``max_loss`` of
    accuracy (and so does every lower sparsity scanned). Retraining then recovers most of
    what pruning all the layers together costs. Lesson 04.

    Parameters
    ----------
    scan : dict of str -> array of float
        From :func:`sensitivity_scan`.
    sparsities : sequence of float
        The sparsities of the scan, increasing.
    baseline : float
        The unpruned model's accuracy on the same part.
    max_loss : float
        Accuracy a layer may lose, as a fraction (0.01 = one percentage point).

    Returns
    -------
    dict of str -> float
        A sparsity per layer (0.0 if even the first scanned sparsity loses too much).
    """
    levels = np.asarray(sparsities, dtype=float)
    if levels.ndim != 1 or levels.size == 0 or np.any(np.diff(levels) <= 0):
        raise ValueError(f"sparsities must be the scan's increasing fractions, got {sparsities!r}")
    if not max_loss >= 0:
        raise ValueError(f"max_loss must be >= 0 (a fraction of accuracy: 0.01 = 1 pp), "
                         f"got {max_loss!r}")
    chosen = {}
    for name, accuracies in scan.items():
        accuracies = np.asarray(accuracies, dtype=float)
        if accuracies.shape != levels.shape:
            raise ValueError(f"scan[{name!r}] has {accuracies.size} accuracies for "
                             f"{levels.size} sparsities")
        within = accuracies >= baseline - max_loss - 1e-12
        n_ok = int(np.argmin(within)) if not within.all() else within.size
        chosen[name] = float(levels[n_ok - 1]) if n_ok > 0 else 0.0
    return chosen


def quality_scan(model, data, qualities, *, part: str = "val") -> list:
    """Han et al.'s rule on a whole model: for each quality ``q``, every layer pruned at ``q``
    times its own standard deviation, in one shot; the sparsity each layer gets and the
    accuracy. ``model`` is left unchanged. Lesson 04.

    Parameters
    ----------
    model : keras.Model
    data : tinylab.data.Dataset
    qualities : sequence of float >= 0
    part : {"val", "train", "test"}

    Returns
    -------
    list of dict
        One row per quality: ``quality``, ``layers`` (dict layer -> sparsity), ``sparsity``
        (whole model) and ``accuracy`` (not retrained).
    """
    from . import train

    X, y = _part(data, part)
    qualities = list(qualities)
    for quality in qualities:
        quality_threshold([0.0], quality)  # every value checked before any pruning
    original = model.get_weights()
    rows = []
    try:
        for quality in qualities:
            model.set_weights(original)
            masks = prune_model(model, quality=quality)
            rows.append({"quality": float(quality),
                         "layers": {name: sparsity(masks, [name]) for name in masks},
                         "sparsity": sparsity(masks), "accuracy": train.accuracy(model, X, y)})
    finally:
        model.set_weights(original)
    return rows


# --------------------------------------------------------------------------- gradual pruning

def _check_step(value, what):
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"{what} must be a whole number of optimizer steps >= 0, got {value!r}")
    return int(value)


def _check_gradual(final_sparsity, initial_sparsity, begin_step, end_step, frequency, power):
    begin_step, end_step = _check_step(begin_step, "begin_step"), _check_step(end_step, "end_step")
    if isinstance(frequency, bool) or int(frequency) != frequency or frequency < 1:
        raise ValueError(f"frequency must be a whole number of optimizer steps >= 1 (a new mask "
                         f"every `frequency` steps), got {frequency!r}")
    frequency = int(frequency)
    if end_step <= begin_step:
        raise ValueError(f"end_step ({end_step}) must come after begin_step ({begin_step}): the "
                         f"sparsity ramps up between them")
    if (end_step - begin_step) % frequency:
        below = begin_step + (end_step - begin_step) // frequency * frequency
        raise ValueError(f"end_step - begin_step = {end_step - begin_step} is not a multiple of "
                         f"frequency = {frequency}, so no mask update would fall on end_step and "
                         f"the final sparsity would not be reached; use end_step={below} or "
                         f"{below + frequency}")
    if not power > 0:
        raise ValueError(f"power must be > 0 (3 in Zhu & Gupta; 1 = linear), got {power!r}")
    initial = check_fraction(initial_sparsity, "initial_sparsity")
    finals = ({k: check_fraction(v, f"final_sparsity of {k!r}") for k, v in final_sparsity.items()}
              if isinstance(final_sparsity, dict)
              else check_fraction(final_sparsity, "final_sparsity"))
    for value in (finals.values() if isinstance(finals, dict) else [finals]):
        if value < initial:
            raise ValueError(f"final_sparsity ({value}) must be >= initial_sparsity ({initial}): "
                             f"pruned weights never come back")
    return finals, initial, begin_step, end_step, frequency, float(power)


def polynomial_sparsity(step, *, final_sparsity: float, begin_step: int, end_step: int,
                        frequency: int, initial_sparsity: float = 0.0, power: float = 3.0):
    """Zhu & Gupta's (2017) gradual schedule: the sparsity in force at optimizer step ``step``.

    The masks are updated at steps ``t = t0, t0 + dt, ..., t0 + n dt`` (``t0 = begin_step``,
    ``dt = frequency``, ``t0 + n dt = end_step``) to

    ``s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n dt)) ** power``

    and held between updates; after ``end_step`` it stays at ``s_f``; before ``begin_step``
    nothing is pruned (0.0). tensorflow-model-optimization's ``PolynomialDecay`` is the same
    schedule. Lesson 04.

    Parameters
    ----------
    step : int or array_like of int
        Optimizer steps already taken (0 = before the first batch).
    final_sparsity, initial_sparsity : float in [0, 1)
        ``s_f`` and ``s_i``.
    begin_step, end_step, frequency : int
        ``t0``, ``t0 + n dt`` and ``dt``; ``end_step - begin_step`` must be a multiple of
        ``frequency`` so that the last update reaches ``s_f`` exactly.
    power : float
        3 in Zhu & Gupta: prune fast while there is redundancy, gently at the end.

    Returns
    -------
    float or ndarray of float
        The sparsity the masks have while step ``step`` is trained (same shape as ``step``).

    Examples
    --------
    Four updates 10 steps apart to 80%: 0.8 * (1 - (1 - k/4)**3) = 0, 0.4625, 0.7, 0.7875, 0.8.

    >>> polynomial_sparsity([0, 9, 10, 20, 30, 40, 99], final_sparsity=0.8, begin_step=0,
    ...                     end_step=40, frequency=10).round(4).tolist()
    [0.0, 0.0, 0.4625, 0.7, 0.7875, 0.8, 0.8]
    """
    final, initial, begin, end, frequency, power = _check_gradual(
        final_sparsity, initial_sparsity, begin_step, end_step, frequency, power)
    if isinstance(final, dict):
        raise ValueError("polynomial_sparsity takes one final_sparsity; call it once per layer")
    t = np.asarray(step)
    if t.dtype.kind not in "iu" and not np.all(np.equal(np.mod(t, 1), 0)):
        raise ValueError(f"step must hold whole numbers of optimizer steps, got {step!r}")
    t = t.astype(np.int64)
    last_update = begin + (np.clip(t, begin, end) - begin) // frequency * frequency
    progress = (last_update - begin) / (end - begin)
    value = final + (initial - final) * (1.0 - progress) ** power
    value = np.where(t < begin, 0.0, value)
    return float(value) if value.ndim == 0 else value


def _gradual_callback():
    from ._tensorflow import keras

    class GradualPruning(keras.callbacks.Callback):
        """Updates the masks on their schedule before a batch; records a row per epoch.

        The optimizer's step count tells where the schedule is, so the callback stays right
        when Keras runs several steps per call (``steps_per_execution``), as long as every
        update step starts a call.
        """

        def __init__(self, model, constraints, masks, targets, updates, evaluate):
            super().__init__()
            self.pruned_model, self.constraints, self.masks = model, constraints, masks
            self.targets, self.updates, self.evaluate = targets, updates, evaluate
            self.history = []

        def steps_done(self):
            return int(self.pruned_model.optimizer.iterations.numpy())

        def on_train_batch_begin(self, batch, logs=None):
            step = self.steps_done()
            if step not in self.updates:
                return
            for name, constraint in self.constraints.items():
                kernel = self.pruned_model.get_layer(name).kernel
                weights = np.asarray(kernel)
                mask = sparsity_mask(weights, self.targets(name, step), self.masks[name])
                self.masks[name] = mask
                constraint.update(mask)
                kernel.assign(np.where(mask, weights, 0.0).astype(weights.dtype))

        def on_epoch_end(self, epoch, logs=None):
            self.history.append({"epoch": epoch + 1, "step": self.steps_done(),
                                 "sparsity": sparsity(self.masks),
                                 "loss": float((logs or {}).get("loss", np.nan)),
                                 "accuracy": self.evaluate()})

    return GradualPruning


def gradual_prune(model, data, *, final_sparsity, end_step: int, begin_step: int = 0,
                  frequency: int = 10, epochs: int = 10, initial_sparsity: float = 0.0,
                  power: float = 3.0, learning_rate: float = 1e-3, batch_size: int = 32,
                  masks=None, seed: int = 0, progress: bool = True, part: str = "val"):
    """Prune while training: Zhu & Gupta's (2017) gradual pruning, in place.

    One run of training (Adam, :func:`tinylab.train.fit`'s batches) during which the masks
    follow :func:`polynomial_sparsity`: every ``frequency`` optimizer steps from
    ``begin_step`` to ``end_step`` each layer's smallest surviving weights are removed up to
    the scheduled sparsity, and a :class:`MaskConstraint` keeps every pruned weight at exactly
    0.0 between updates. Masks only grow (a pruned weight never returns). This is what
    tensorflow-model-optimization's ``prune_low_magnitude`` with ``PolynomialDecay`` does;
    Han et al.'s :func:`iterative_prune` instead prunes in a few big rounds, retraining with a
    fresh optimizer after each. Lesson 04.

    Parameters
    ----------
    model : keras.Model
        A trained model; pruned in place.
    data : tinylab.data.Dataset
    final_sparsity : float in [0, 1) or dict {layer: float}
        Reached exactly, in every layer, at ``end_step``.
    end_step, begin_step, frequency : int
        Optimizer steps (batches): the ramp runs from ``begin_step`` to ``end_step``, a new
        mask every ``frequency`` steps (``end_step - begin_step`` a multiple of it). An epoch
        is ``ceil(len(data.y_train) / batch_size)`` steps.
    epochs : int
        Length of the whole run; the steps after ``end_step`` train at the final sparsity.
    initial_sparsity, power : float
        ``s_i`` and the exponent of the schedule.
    learning_rate, batch_size : float, int
        Adam's step size and the batch size.
    masks : dict, optional
        Earlier masks to keep (their pruned weights stay pruned).
    seed : int
        Seeds the shuffle.
    part : {"val", "train", "test"} or None
        Where the history's accuracy is measured after every epoch (None: not measured).

    Returns
    -------
    masks : dict of str -> ndarray of bool
    history : list of dict
        One row per epoch (row 0 is the start): ``epoch``, ``step`` (optimizer steps done),
        ``sparsity`` (whole model), ``loss`` (training, mean over the epoch; NaN for row 0)
        and ``accuracy`` (on ``part``; None when ``part`` is None).
    """
    from . import train
    from ._tensorflow import keras

    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0 (Adam's step size, e.g. 1e-3), "
                         f"got {learning_rate!r}")
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    finals, initial, begin, end, frequency, power = _check_gradual(
        final_sparsity, initial_sparsity, begin_step, end_step, frequency, power)
    steps_per_epoch = -(-len(data.y_train) // int(batch_size))
    total_steps = int(epochs) * steps_per_epoch
    if end >= total_steps:
        raise ValueError(f"end_step={end} leaves no training after the last mask update: "
                         f"{int(epochs)} epochs of {steps_per_epoch} steps (batch_size "
                         f"{int(batch_size)}) make {total_steps} steps, numbered 0 to "
                         f"{total_steps - 1}; lower end_step or raise epochs")
    X, y = _part(data, part) if part is not None else (None, None)
    names = _choose_layers(model, list(finals) if isinstance(finals, dict) else None)
    finals = finals if isinstance(finals, dict) else {name: finals for name in names}
    current = {}
    for name in names:
        kernel = np.asarray(model.get_layer(name).kernel)
        if masks is not None and name in masks:
            current[name] = _check_mask(masks[name], kernel.shape, f"mask of {name!r}").copy()
        else:
            current[name] = np.ones(kernel.shape, dtype=bool)
    kept = {k: np.asarray(v, dtype=bool).copy() for k, v in (masks or {}).items()
            if k not in current}
    apply_masks(model, current)

    def target(name, step):
        return polynomial_sparsity(step, final_sparsity=finals[name], begin_step=begin,
                                   end_step=end, frequency=frequency,
                                   initial_sparsity=initial, power=power)

    def evaluate():
        return None if X is None else train.accuracy(model, X, y)

    kernels = {name: model.get_layer(name).kernel for name in names}
    saved = {name: kernel.constraint for name, kernel in kernels.items()}
    constraints = {name: MaskConstraint(current[name]) for name in names}
    pruning = _gradual_callback()(model, constraints, current, target,
                                  set(range(begin, end + 1, frequency)), evaluate)
    pruning.history.append({"epoch": 0, "step": 0, "sparsity": sparsity(current),
                            "loss": float("nan"), "accuracy": evaluate()})
    callbacks = [pruning]
    if progress:
        callbacks.append(train.ProgressBar(int(epochs),
                                           description=f"gradual pruning {model.name}"))
    # Keras runs `chunk` optimizer steps per call of the compiled step (fewer trips through
    # Python: 20 epochs took 2.7 s instead of 3.7 s on the digits teacher); every mask update
    # and every epoch's end falls on a call's boundary, so nothing is skipped
    chunk = math.gcd(frequency, steps_per_epoch, *([begin] if begin else []))
    try:
        for name, kernel in kernels.items():
            kernel.constraint = constraints[name]
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      steps_per_execution=chunk)
        model.fit(train.batches(data.X_train, data.y_train, int(batch_size), seed, shuffle=True),
                  epochs=int(epochs), verbose=0, shuffle=False, callbacks=callbacks)
    finally:
        for name, kernel in kernels.items():
            kernel.constraint = saved[name]
        model.train_function = None  # a later fit must not reuse the step with constraints
    result = dict(kept, **pruning.masks)
    apply_masks(model, result)
    return result, pruning.history


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

#: How lesson 04 prunes the teacher it hands to lessons 05-08 (:func:`load_or_prune`'s
#: defaults): 90% of the kernel weights in 4 prune-retrain rounds of 5 epochs each.
PRUNED_RECIPE = {"final_sparsity": 0.9, "steps": 4, "epochs_per_step": 5}


def pruned_card(name, data, final_sparsity, steps, epochs_per_step, seed) -> dict:
    """What identifies a pruned lesson model: its teacher's card and the pruning settings."""
    from . import models, train

    return dict(train.model_card(name, data, models.ARCHITECTURES[name]["epochs"], seed),
                pruned_from=name, final_sparsity=float(final_sparsity), steps=int(steps),
                epochs_per_step=int(epochs_per_step))


def save_pruned(model, masks, data, *, name: str = "mlp300",
                final_sparsity: float = PRUNED_RECIPE["final_sparsity"],
                steps: int = PRUNED_RECIPE["steps"],
                epochs_per_step: int = PRUNED_RECIPE["epochs_per_step"], seed: int = 0) -> dict:
    """Save a pruned lesson model as ``<name>_pruned`` and its masks as ``<name>_pruned_masks``.

    The card records how it was made (so :func:`load_or_prune` reuses it only for the same
    settings), its sparsity, units per layer and test accuracy. Lesson 04 calls it last.

    Returns
    -------
    dict
        The card.
    """
    from . import models, train, workspace

    card = dict(pruned_card(name, data, final_sparsity, steps, epochs_per_step, seed),
                sparsity=sparsity(masks),
                units=[layer.units for layer in _dense_chain(model)],
                test_accuracy=train.accuracy(model, data.X_test, data.y_test),
                params=models.count_params(model))
    workspace.save_model(model, f"{name}_pruned", card)
    workspace.save_arrays(f"{name}_pruned_masks", **masks)
    return card


def load_or_prune(data, *, name: str = "mlp300",
                  final_sparsity: float = PRUNED_RECIPE["final_sparsity"],
                  steps: int = PRUNED_RECIPE["steps"],
                  epochs_per_step: int = PRUNED_RECIPE["epochs_per_step"],
                  learning_rate: float = 1e-3, seed: int = 0, progress: bool = True):
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

    wanted = pruned_card(name, data, final_sparsity, steps, epochs_per_step, seed)
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
