"""Quantization: affine b-bit integers (TFLite's scheme) and weight sharing (Deep Compression).

The survey's section 1.2.5.1 maps weights stored as floats, ``x in [alpha, beta]``, to
``b``-bit integers ``x_q in [alpha_q, beta_q]``, and cites two ways to do it:

- **affine** (uniform) quantization, the one TensorFlow Lite runs on microcontrollers
  (Krishnamoorthi 2018; Jacob et al. 2018): ``x ~ scale * (x_q - zero_point)`` with
  ``scale = (beta - alpha) / (beta_q - alpha_q)`` and an integer ``zero_point``, so that 0.0
  is exactly representable (a zero-padded or pruned weight must stay exactly zero).
  :func:`quantization_params`, :func:`quantize`, :func:`dequantize`,
  :func:`quantization_error`, and :func:`fake_quantize_weights` for a whole model;
- **weight sharing**, the "trained quantization" of Deep Compression (Han, Mao & Dally 2016,
  section 3): k-means groups a layer's weights into ``k = 2**bits`` clusters; each weight is
  stored as a ``bits``-bit index into a float codebook, and the centroids are fine-tuned with
  the summed gradients of the weights that share them (their Fig. 3).
  :class:`WeightSharing`, with the pure kernels :func:`initial_centroids` and
  :func:`centroid_gradients`.

Pruned weights (lesson 04's masks) stay exactly 0.0 in both: the affine grid contains 0.0,
and weight sharing clusters only the weights a mask keeps. Biases stay float, as in the paper.
TensorFlow Lite conversion is in :mod:`tinylab.convert`, not here.

Introduced in lesson ``05_quantization``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["QuantizationParams", "quantization_params", "quantize", "dequantize",
           "quantization_error", "fake_quantize_weights", "PAPER_BITS", "INITS",
           "initial_centroids", "centroid_gradients", "WeightSharing", "check_bits",
           "SHARED_RECIPE", "save_shared", "load_or_share"]

#: Deep Compression's codebook widths (Han, Mao & Dally 2016, section 3 and Table 7): 8 bits
#: for convolution kernels, 5 for fully connected ones, with no loss of accuracy on AlexNet.
PAPER_BITS = {"conv": 8, "dense": 5}

#: The centroid initialisations Han et al. compare (their Fig. 4); linear works best, because
#: it keeps centroids out at the few large weights, which matter most.
INITS = ("linear", "density", "random")


# --------------------------------------------------------------------------- checks

def check_bits(bits, low: int, high: int, what: str = "bits", hint: str = "8 for int8") -> int:
    """A bit width checked: a whole number from ``low`` to ``high`` (lesson 05).

    Parameters
    ----------
    bits : int
        The width to check (a bool is refused).
    low, high : int
        The allowed range, both ends included.
    what : str
        The setting's name in the error message.
    hint : str
        A usual value, named in the error message.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``bits`` is not a whole number in [``low``, ``high``].
    """
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, (int, np.integer)) \
            or not low <= bits <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high} ({hint}), "
                         f"got {bits!r}")
    return int(bits)


def _check_finite(x, name: str) -> np.ndarray:
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {x!r}") from None
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be a non-empty array of finite numbers (no NaN or inf), "
                         f"got {array.size} values")
    return array


def _round_half_away(values):
    """Round to the nearest integer, ties away from zero (C's ``round``, as TFLite's kernels)."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


# --------------------------------------------------------------------------- affine quantization

@dataclass(frozen=True)
class QuantizationParams:
    """How ``b``-bit integers stand for floats: ``x = scale * (x_q - zero_point)``.

    Attributes
    ----------
    scale : ndarray of float64, shape () or (channels,)
        Step between neighbouring integers, in the units of ``x`` (> 0).
    zero_point : ndarray of int64, same shape as ``scale``
        The integer that stands for 0.0 exactly; always in ``[qmin, qmax]``.
    qmin, qmax : int
        The integer range ``[alpha_q, beta_q]``: ``[-2**(b-1), 2**(b-1) - 1]`` (asymmetric), or
        ``[-(2**(b-1) - 1), 2**(b-1) - 1]`` with ``zero_point = 0`` (symmetric).
    bits : int
    symmetric : bool
    axis : int or None
        The channel axis of per-channel parameters; ``None`` for one scale per tensor.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    qmin: int
    qmax: int
    bits: int
    symmetric: bool
    axis: int | None = None

    @property
    def real_range(self) -> tuple:
        """``(lowest, highest)`` float the integers reach: ``scale * (q - zero_point)``."""
        return (self.scale * (self.qmin - self.zero_point),
                self.scale * (self.qmax - self.zero_point))


def quantization_params(x, bits: int = 8, *, symmetric: bool = False,
                        per_channel_axis: int | None = None) -> QuantizationParams:
    """Scale and zero point mapping ``x in [alpha, beta]`` onto ``b``-bit integers (survey 1.2.5.1).

    The range is first widened to contain 0.0 (``alpha <= 0 <= beta``), so that the zero point
    is an integer and 0.0 survives a round trip exactly, as TensorFlow Lite requires.

    - asymmetric: ``[alpha_q, beta_q] = [-2**(b-1), 2**(b-1) - 1]``,
      ``scale = (beta - alpha) / (beta_q - alpha_q)``,
      ``zero_point = round(alpha_q - alpha / scale)``;
    - symmetric (TFLite's int8 weights): ``[alpha_q, beta_q] = [-(2**(b-1) - 1), 2**(b-1) - 1]``,
      ``scale = max(|alpha|, |beta|) / beta_q``, ``zero_point = 0``.

    An all-zero range has no natural step; it gets ``scale = 1`` and ``zero_point = 0`` (every
    value is 0 anyway).

    Parameters
    ----------
    x : array_like of float, or tuple (alpha, beta)
        Values to cover (their min and max are used), or the range itself (a tuple of two
        is always read as a range; as data it would give the same parameters); with
        ``per_channel_axis``, ``alpha`` and ``beta`` may be arrays of one value per channel.
    bits : int, 2 to 16
    symmetric : bool
    per_channel_axis : int, optional
        One scale and zero point per index along this axis (e.g. ``-1``, the output units of a
        Dense kernel of shape (inputs, units)); default one for the whole tensor.

    Returns
    -------
    QuantizationParams

    Examples
    --------
    >>> p = quantization_params([-1.0, 0.0, 0.5, 2.0], bits=8)
    >>> float(p.scale) * 255, int(p.zero_point)
    (3.0, -43)
    """
    bits = check_bits(bits, 2, 16)
    if isinstance(x, tuple) and len(x) == 2:
        alpha, beta = _check_finite(x[0], "alpha"), _check_finite(x[1], "beta")
        if np.any(alpha > beta):
            raise ValueError(f"the range (alpha, beta) needs alpha <= beta, got {x!r}")
        alpha, beta = np.broadcast_arrays(alpha, beta)
        if per_channel_axis is None and alpha.ndim:
            raise ValueError("per-tensor parameters need one number each for alpha and beta; "
                             "give per_channel_axis for one range per channel")
    else:
        x = _check_finite(x, "x")
        if per_channel_axis is None:
            alpha, beta = x.min(), x.max()
        else:
            if not isinstance(per_channel_axis, (int, np.integer)) or x.ndim == 0 or \
                    not -x.ndim <= per_channel_axis < x.ndim:
                raise ValueError(f"per_channel_axis must be an axis of x (shape {x.shape}), "
                                 f"from {-x.ndim} to {x.ndim - 1}, or None; got {per_channel_axis!r}")
            others = tuple(i for i in range(x.ndim) if i != per_channel_axis % x.ndim)
            alpha, beta = x.min(axis=others), x.max(axis=others)
    alpha, beta = np.minimum(alpha, 0.0), np.maximum(beta, 0.0)  # 0.0 must be on the grid
    if symmetric:
        qmax = 2 ** (bits - 1) - 1
        qmin = -qmax
        reach = np.maximum(-alpha, beta)
        scale = np.where(reach > 0, reach / qmax, 1.0)
        zero_point = np.zeros_like(scale, dtype=np.int64)
    else:
        qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        width = beta - alpha
        scale = np.where(width > 0, width / (qmax - qmin), 1.0)
        zero_point = np.where(width > 0, _round_half_away(qmin - alpha / scale), 0)
        zero_point = np.clip(zero_point, qmin, qmax).astype(np.int64)
    return QuantizationParams(scale=np.asarray(scale, dtype=np.float64),
                              zero_point=np.asarray(zero_point, dtype=np.int64), qmin=qmin,
                              qmax=qmax, bits=bits, symmetric=bool(symmetric),
                              axis=None if per_channel_axis is None else int(per_channel_axis))


def _per_channel(params: QuantizationParams, shape: tuple, name: str):
    """``scale`` and ``zero_point`` shaped to broadcast against an array of ``shape``."""
    if not isinstance(params, QuantizationParams):
        raise ValueError(f"params must be a QuantizationParams from quantization_params(), "
                         f"got {type(params).__name__}")
    if params.axis is None:
        return params.scale, params.zero_point
    if not -len(shape) <= params.axis < len(shape) or shape[params.axis] != params.scale.size:
        raise ValueError(f"params hold {params.scale.size} channels along axis {params.axis}, but "
                         f"{name} has shape {shape}; quantize the array the params were made for")
    broadcast = [1] * len(shape)
    broadcast[params.axis] = -1
    return params.scale.reshape(broadcast), params.zero_point.reshape(broadcast)


def quantize(x, params: QuantizationParams) -> np.ndarray:
    """Floats to integers: ``x_q = clip(round(x / scale) + zero_point, qmin, qmax)``.

    Ties round away from zero. Values outside the range saturate at ``qmin`` or ``qmax``.

    Returns
    -------
    ndarray of int8 (bits <= 8) or int16 (bits <= 16), same shape as ``x``
    """
    x = _check_finite(x, "x")
    scale, zero_point = _per_channel(params, x.shape, "x")
    q = np.clip(_round_half_away(x / scale) + zero_point, params.qmin, params.qmax)
    return q.astype(np.int8 if params.bits <= 8 else np.int16)


def dequantize(q, params: QuantizationParams) -> np.ndarray:
    """Integers back to floats: ``scale * (x_q - zero_point)``, as float32 (a Keras weight's type)."""
    q = np.asarray(q)
    scale, zero_point = _per_channel(params, q.shape, "q")
    if not np.issubdtype(q.dtype, np.integer):
        raise ValueError(f"q must hold integers (from quantize()), got dtype {q.dtype}")
    if q.size and (q.min() < params.qmin or q.max() > params.qmax):
        raise ValueError(f"q must lie in [{params.qmin}, {params.qmax}] for these {params.bits}-bit "
                         f"params, got values from {q.min()} to {q.max()}")
    return (scale * (q.astype(np.int64) - zero_point)).astype(np.float32)


def quantization_error(x, params: QuantizationParams) -> dict:
    """How far a round trip moves ``x``: ``{"max_abs": ..., "rmse": ...}`` in ``x``'s units.

    Within the range, ``max_abs <= scale / 2``: each value moves to its nearest grid point.
    """
    x = _check_finite(x, "x")
    error = x - dequantize(quantize(x, params), params).astype(np.float64)
    return {"max_abs": float(np.max(np.abs(error))), "rmse": float(np.sqrt(np.mean(error ** 2)))}


def fake_quantize_weights(model, bits: int = 8, *, symmetric: bool = True,
                          per_channel: bool = True, layers=None) -> dict:
    """Replace kernels by their ``bits``-bit affine round trip, in place ("fake quantization").

    The model still computes in float32, but every kernel weight is now one of at most
    ``2**bits`` values per channel: its accuracy is what the integer model can reach. The
    defaults are TFLite's for int8 weights (symmetric, one scale per output channel, the last
    axis). Pruned zeros stay exactly 0.0. Biases are left alone.

    Returns
    -------
    dict of str -> QuantizationParams
        The parameters of each kernel, by layer name.
    """
    from .prune import prunable_layers

    names = _choose_layers(model, prunable_layers(model) if layers is None else layers)
    found = {}
    for name in names:
        kernel = model.get_layer(name).kernel
        values = np.asarray(kernel)
        params = quantization_params(values, bits, symmetric=symmetric,
                                     per_channel_axis=-1 if per_channel else None)
        kernel.assign(dequantize(quantize(values, params), params))
        found[name] = params
    return found


def _choose_layers(model, names) -> list:
    from .prune import prunable_layers

    allowed, present = prunable_layers(model), [layer.name for layer in model.layers]
    for name in [names] if isinstance(names, str) else names:
        if name not in present:
            raise ValueError(f"model {model.name!r} has no layer {name!r}; layers with a kernel: "
                             f"{allowed}")
        if name not in allowed:
            raise ValueError(f"layer {name!r} has no weights (kernel) to quantize; choose among "
                             f"{allowed}")
    return [names] if isinstance(names, str) else list(names)


# --------------------------------------------------------------------------- weight sharing

def initial_centroids(weights, n_clusters: int, method: str = "linear", seed: int = 0) -> np.ndarray:
    """Starting centroids for k-means over one layer's weights (Han et al. 2016, Fig. 4).

    - ``"linear"``: evenly spaced from ``min(weights)`` to ``max(weights)`` (the paper's choice);
    - ``"density"``: evenly spaced quantiles, crowding centroids where weights are many;
    - ``"random"`` (Forgy): ``n_clusters`` distinct weights drawn with ``seed``.

    Returns
    -------
    ndarray of float64, shape (n_clusters,), ascending
    """
    weights = _check_finite(weights, "weights").ravel()
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) \
            or not 1 <= n_clusters <= np.unique(weights).size:
        raise ValueError(f"n_clusters must be a whole number from 1 to the number of distinct "
                         f"weights ({np.unique(weights).size}), got {n_clusters!r}")
    if method == "linear":
        return np.linspace(weights.min(), weights.max(), n_clusters)
    if method == "density":
        return np.quantile(weights, np.linspace(0.0, 1.0, n_clusters))
    if method == "random":
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(np.unique(weights), n_clusters, replace=False))
    raise ValueError(f"method must be one of {INITS} (Han et al. recommend 'linear'), got {method!r}")


def centroid_gradients(weight_gradients, indices, n_clusters: int) -> np.ndarray:
    """Each centroid's gradient: the sum of the gradients of the weights that share it.

    Han et al.'s Fig. 3 ("group by" the cluster index, then "reduce" by summing): since every
    weight with index ``k`` equals centroid ``c_k``, ``dL/dc_k = sum over those weights of dL/dw``.
    Index ``-1`` marks a pruned weight, which belongs to no cluster.

    Parameters
    ----------
    weight_gradients : array_like of float, any shape
    indices : array_like of int, same shape; -1 or a cluster index 0..n_clusters-1
    n_clusters : int

    Returns
    -------
    ndarray of float64, shape (n_clusters,)
    """
    gradients, indices = np.asarray(weight_gradients, dtype=np.float64), np.asarray(indices)
    if gradients.shape != indices.shape:
        raise ValueError(f"weight_gradients and indices must have the same shape, got "
                         f"{gradients.shape} and {indices.shape}")
    kept = indices >= 0
    if kept.any() and indices.max() >= n_clusters:
        raise ValueError(f"indices must be -1 or 0..{n_clusters - 1}, found {indices.max()}")
    return np.bincount(indices[kept], weights=gradients[kept], minlength=n_clusters)


class WeightSharing:
    """Deep Compression's weight sharing: per layer, ``2**bits`` shared values and an index each.

    ``fit`` runs k-means (scikit-learn's ``KMeans``, one run from :func:`initial_centroids`)
    over each layer's kept (non-pruned) kernel weights; ``apply`` writes the shared values
    into a model; ``fine_tune`` trains the centroids with :func:`centroid_gradients`; ``paper_storage``
    counts the bits a decoder needs. Cluster indices are fixed once fitted, as in the paper.

    Parameters
    ----------
    bits : int or dict of str -> int, optional
        Index width, 1 to 16: one number for every layer with a kernel, or ``{layer: bits}``
        to share only those layers. Default :data:`PAPER_BITS` (8 for convolutions, 5 for
        Dense layers).
    init : {"linear", "density", "random"}
    seed : int
        Seeds the random initialisation and k-means' handling of empty clusters.
    reserve_filler : bool
        Use at most ``2**bits - 1`` clusters, leaving the last index free. A sparse layout
        with relative indices (:func:`tinylab.prune.relative_indices`) stores *filler* zeros
        to bridge long gaps; with the spare index a filler fits in the same ``bits`` as any
        weight (``tinylab.pipeline`` uses it).

    Attributes
    ----------
    bits_ : dict of str -> int
    codebooks_ : dict of str -> ndarray of float32, shape (clusters,), ascending
        ``clusters = min(2**bits, distinct kept weights)`` (``2**bits - 1`` with
        ``reserve_filler``).
    indices_ : dict of str -> ndarray of int32, the kernel's shape
        Each weight's cluster, or -1 where it is pruned.
    masks_ : dict of str -> ndarray of bool
        ``indices_ >= 0``: the keep-masks, as :mod:`tinylab.prune` writes them.
    """

    def __init__(self, bits=None, *, init: str = "linear", seed: int = 0,
                 reserve_filler: bool = False):
        self.bits, self.init, self.seed = bits, init, seed
        self.reserve_filler = reserve_filler

    # ----------------------------------------------------------------------- fitting

    def _bits_per_layer(self, model) -> dict:
        from .prune import layer_kind, prunable_layers

        if isinstance(self.bits, dict):
            names = _choose_layers(model, list(self.bits))
            chosen = {name: self.bits[name] for name in names}
        else:
            chosen = {name: self.bits if self.bits is not None
                      else PAPER_BITS[layer_kind(model.get_layer(name).kernel)]
                      for name in prunable_layers(model)}
        if not chosen:
            raise ValueError(f"model {model.name!r} has no layer with a kernel to share")
        return {name: check_bits(b, 1, 16, f"bits of {name!r}", "Han et al. use 5 for Dense, "
                                  "8 for Conv2D") for name, b in chosen.items()}

    def fit(self, model, masks=None):
        """Cluster each layer's kept weights; learn ``codebooks_``, ``indices_``, ``masks_``.

        Parameters
        ----------
        model : keras.Model
            Left unchanged (call :meth:`apply` to write the shared weights).
        masks : dict of str -> ndarray of bool, optional
            Lesson 04's keep-masks; a layer without one keeps its non-zero weights.

        Returns
        -------
        self
        """
        from sklearn.cluster import KMeans

        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS} (Han et al. recommend 'linear'), "
                             f"got {self.init!r}")
        bits = self._bits_per_layer(model)
        masks = dict(masks or {})
        _choose_layers(model, list(masks))
        self.bits_, self.codebooks_, self.indices_, self.masks_ = bits, {}, {}, {}
        for name, layer_bits in bits.items():
            kernel = np.asarray(model.get_layer(name).kernel, dtype=np.float64)
            mask = np.asarray(masks.get(name, kernel != 0))
            if mask.dtype != bool or mask.shape != kernel.shape:
                raise ValueError(f"mask of {name!r} must be a bool array of shape {kernel.shape} "
                                 f"(True = keep), got {mask.dtype} of shape {mask.shape}")
            kept = kernel[mask]
            codebook, labels = np.zeros(0), np.zeros(0, dtype=np.int64)
            if kept.size:
                n_clusters = min(2 ** layer_bits - int(bool(self.reserve_filler)),
                                 np.unique(kept).size)
                start = initial_centroids(kept, n_clusters, self.init, self.seed)
                kmeans = KMeans(n_clusters=n_clusters, init=start.reshape(-1, 1), n_init=1,
                                random_state=self.seed).fit(kept.reshape(-1, 1))
                centers = kmeans.cluster_centers_.ravel()
                order = np.argsort(centers)  # ascending codebook: index 0 is the most negative
                rank = np.empty_like(order)
                rank[order] = np.arange(order.size)
                codebook, labels = centers[order], rank[kmeans.labels_]
            indices = np.full(kernel.shape, -1, dtype=np.int32)
            indices[mask] = labels
            self.codebooks_[name] = codebook.astype(np.float32)
            self.indices_[name], self.masks_[name] = indices, mask.copy()
        return self

    def _check_fitted(self, model=None):
        if not hasattr(self, "codebooks_"):
            raise ValueError("this WeightSharing is not fitted yet; call .fit(model, masks) first")
        if model is not None:
            for name, indices in self.indices_.items():
                _choose_layers(model, [name])
                shape = tuple(model.get_layer(name).kernel.shape)
                if shape != indices.shape:
                    raise ValueError(f"layer {name!r} has a kernel of shape {shape}, but the "
                                     f"sharing was fitted on shape {indices.shape}; fit it on "
                                     f"this model")

    def shared_kernel(self, name: str) -> np.ndarray:
        """The kernel of layer ``name`` as ``codebook[index]``, 0.0 where pruned (float32)."""
        self._check_fitted()
        if name not in self.codebooks_:
            raise ValueError(f"layer {name!r} is not shared; shared layers: {list(self.codebooks_)}")
        codebook, indices = self.codebooks_[name], self.indices_[name]
        if codebook.size == 0:
            return np.zeros(indices.shape, dtype=np.float32)
        return np.where(indices >= 0, codebook[np.maximum(indices, 0)], 0.0).astype(np.float32)

    def apply(self, model):
        """Write every shared kernel into ``model`` (in place); return the model."""
        self._check_fitted(model)
        for name in self.codebooks_:
            model.get_layer(name).kernel.assign(self.shared_kernel(name))
        return model

    # ----------------------------------------------------------------------- fine-tuning

    def fine_tune(self, model, data, *, epochs: int = 5, learning_rate: float = 1e-3,
                  batch_size: int = 32, seed: int = 0, train_biases: bool = True) -> dict:
        """Train the centroids on ``data.X_train`` (Han et al. Fig. 3); indices stay fixed.

        Each step: a ``tf.GradientTape`` gives ``dL/dw`` for every shared kernel;
        :func:`centroid_gradients` sums them per cluster; Adam updates the centroids (and,
        with ``train_biases``, those layers' biases); the kernels are rewritten as
        ``codebook[index]``, so pruned weights stay 0.0 and a layer never holds more than
        ``2**bits`` distinct values. Updates ``codebooks_`` and ``model`` in place.

        Parameters
        ----------
        model : keras.Model
            The model :meth:`fit` saw; returns logits.
        data : tinylab.data.Dataset
        epochs, batch_size : int
        learning_rate : float
            Adam's step size, applied to each centroid. On the digits' validation split
            (trained 'student', 5 epochs), 1e-3 recovered more at 2 bits than 3e-4 or 1e-4
            (95.6% against 95.2% and 94.1%) and as much at 5 and 3 bits.
        seed : int
            Seeds the shuffle.

        Returns
        -------
        dict
            ``{"loss": [...]}``, the mean training cross-entropy of each epoch.
        """
        from ._tensorflow import keras, tf
        from . import train

        self._check_fitted(model)
        for value, name in ((epochs, "epochs"), (batch_size, "batch_size")):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0 (e.g. 1e-3), got {learning_rate!r}")
        self.apply(model)
        names = [name for name in self.codebooks_ if self.codebooks_[name].size]
        layers = [model.get_layer(name) for name in names]
        kernels = [layer.kernel for layer in layers]
        centroids = [keras.Variable(self.codebooks_[name], name=f"{name}_centroids")
                     for name in names]
        biases = [layer.bias for layer in layers
                  if train_biases and getattr(layer, "bias", None) is not None]
        optimizer = keras.optimizers.Adam(learning_rate)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        batches = train.batches(data.X_train, data.y_train, int(batch_size), seed, shuffle=True)
        history = {"loss": []}
        for _ in range(int(epochs)):
            total, count = 0.0, 0
            for X, y in batches:
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(X, training=True))
                gradients = tape.gradient(loss, kernels + biases)
                steps = [(tf.constant(centroid_gradients(tf.convert_to_tensor(gradient),
                                                         self.indices_[name],
                                                         len(self.codebooks_[name])),
                                      dtype=tf.float32), variable)
                         for name, gradient, variable in zip(names, gradients, centroids)]
                steps += list(zip(gradients[len(kernels):], biases))
                optimizer.apply_gradients(steps)
                for name, kernel, variable in zip(names, kernels, centroids):
                    self.codebooks_[name] = np.asarray(variable, dtype=np.float32)
                    kernel.assign(self.shared_kernel(name))
                total, count = total + float(loss) * len(y), count + len(y)
            history["loss"].append(total / count)
        return history

    # ----------------------------------------------------------------------- accounting

    def paper_storage(self) -> list:
        """Bits of each shared kernel in the paper's layout: indices plus a float32 codebook.

        Deep Compression's count (lesson 06): ``index_bits = kept * bits`` (one index per
        kept weight) and ``codebook_bits = clusters * 32`` (float32 centroids). The board
        stores a shared model otherwise (int8 codebooks, EIE's 4-bit index + 4-bit gap byte:
        :mod:`tinylab.engine.formats.sparse`); its bytes are
        :func:`tinylab.engine.model_storage`'s, which :mod:`tinylab.pipeline` reports. Not
        counted here: where the kept weights sit in a pruned kernel (see
        :func:`tinylab.prune.paper_storage`) and the float32 biases
        (:func:`tinylab.models.parameter_table`). ``ratio`` compares with the same kept
        weights as float32: Han et al.'s ``n * 32 / (n * bits + clusters * 32)``.

        Returns
        -------
        list of dict
            One row per layer: ``layer``, ``bits``, ``weights``, ``kept``, ``clusters``,
            ``index_bits``, ``codebook_bits``, ``total_bits``, ``bytes``, ``bytes_float32``,
            ``ratio``; and a last row ``layer="total"``.
        """
        self._check_fitted()
        rows = []
        for name, indices in self.indices_.items():
            kept, clusters = int(np.count_nonzero(indices >= 0)), int(self.codebooks_[name].size)
            rows.append({"layer": name, "bits": self.bits_[name], "weights": int(indices.size),
                         "kept": kept, "clusters": clusters,
                         "index_bits": kept * self.bits_[name], "codebook_bits": 32 * clusters})
        total = {"layer": "total", "bits": None, "clusters": sum(r["clusters"] for r in rows)}
        for key in ("weights", "kept", "index_bits", "codebook_bits"):
            total[key] = sum(r[key] for r in rows)
        rows.append(total)
        for row in rows:
            row["total_bits"] = row["index_bits"] + row["codebook_bits"]
            row["bytes"] = -(-row["total_bits"] // 8)
            row["bytes_float32"] = 4 * row["kept"]
            row["ratio"] = row["bytes_float32"] / max(row["bytes"], 1)
        return rows


# --------------------------------------------------------------------------- the hand-off

#: How lesson 06 makes the weight-shared teacher it hands to lessons 07 and 08: lesson 04's
#: pruned teacher, 4-bit codebooks with one index kept free for the filler (at most 15 shared
#: values per layer: EIE's one-byte entry on the chip), centroids fine-tuned 3 epochs at Adam
#: 1e-3: ``tl.pipeline.share_stage`` with ``tl.pipeline.ROUTES["compressed_teacher"]``'s bits.
SHARED_RECIPE = {"bits": 4, "fine_tune_epochs": 3, "learning_rate": 1e-3}


def _shared_card(data, bits, fine_tune_epochs, learning_rate, seed) -> dict:
    """What identifies the shared teacher: the pruned teacher's card and the sharing settings."""
    from . import prune

    return dict(prune.pruned_card("mlp300", data, seed=seed, **prune.PRUNED_RECIPE),
                shared_from="mlp300_pruned",
                bits=int(bits), fine_tune_epochs=int(fine_tune_epochs),
                fine_tune_learning_rate=float(learning_rate))


def _from_arrays(bits, codebooks, indices) -> "WeightSharing":
    sharing = WeightSharing(bits, reserve_filler=True)
    sharing.bits_ = {name: int(bits) for name in codebooks}
    sharing.codebooks_ = {name: np.asarray(book, np.float32) for name, book in codebooks.items()}
    sharing.indices_ = {name: np.asarray(index, np.int32) for name, index in indices.items()}
    sharing.masks_ = {name: index >= 0 for name, index in sharing.indices_.items()}
    return sharing


def save_shared(model, sharing, data, *, seed: int = 0, **recipe) -> dict:
    """Save lesson 06's shared teacher as ``mlp300_shared`` with its codebooks and indices.

    ``recipe`` overrides :data:`SHARED_RECIPE` (bits, fine_tune_epochs, learning_rate); the card
    records it, so :func:`load_or_share` reuses the model only when made the same way.

    Returns
    -------
    dict
        The card.
    """
    from . import train, workspace

    settings = {**SHARED_RECIPE, **recipe}
    card = dict(_shared_card(data, seed=seed, **settings),
                test_accuracy=train.accuracy(model, data.X_test, data.y_test))
    workspace.save_model(model, "mlp300_shared", card)
    workspace.save_arrays("mlp300_shared_indices", **sharing.indices_)
    workspace.save_arrays("mlp300_shared_codebooks", **sharing.codebooks_)
    return card


def load_or_share(data, *, seed: int = 0, progress: bool = True):
    """Lesson 06's 4-bit weight-shared teacher: from the workspace, else made again the same way.

    Making it again: :func:`tinylab.prune.load_or_prune` (lesson 04's pruned teacher), then
    ``tl.pipeline.share_stage`` with :data:`SHARED_RECIPE`, then :func:`save_shared`. Lessons
    07 (Huffman) and 08 (deploy) load it.

    Returns
    -------
    model : keras.Model
        The pruned teacher whose kept weights take at most 15 shared values per layer.
    masks : dict of str -> ndarray of bool
        The keep-masks (lesson 04's).
    sharing : WeightSharing
        Its fitted codebooks (fine-tuned) and indices.
    """
    from . import pipeline, prune, workspace

    wanted = _shared_card(data, seed=seed, **SHARED_RECIPE)
    arrays = ("mlp300_shared_indices", "mlp300_shared_codebooks")
    if workspace.reuse("mlp300_shared", wanted, arrays=arrays):
        sharing = _from_arrays(SHARED_RECIPE["bits"], workspace.load_arrays(arrays[1]),
                               workspace.load_arrays(arrays[0]))
        return workspace.load_model("mlp300_shared"), dict(sharing.masks_), sharing
    pruned, masks = prune.load_or_prune(data, seed=seed, progress=progress)
    shared, sharing = pipeline.share_stage(pruned, masks, data, SHARED_RECIPE["bits"],
                                           fine_tune_epochs=SHARED_RECIPE["fine_tune_epochs"],
                                           learning_rate=SHARED_RECIPE["learning_rate"], seed=seed)
    save_shared(shared, sharing, data, seed=seed)
    return shared, masks, sharing
