"""Quantization: affine int8 by hand, round trips, weight sharing that keeps pruned zeros."""

import dataclasses

import numpy as np
import pytest

import tinylab as tl
import tinylab.data  # noqa: F401  (tl.data etc. load lazily; import what the fixtures use)
import tinylab.models  # noqa: F401
import tinylab.prune  # noqa: F401
import tinylab.train  # noqa: F401
from tinylab import quantize
from tinylab._tensorflow import keras, tf

# --------------------------------------------------------------------------- affine, by hand

# Four numbers to 8-bit asymmetric (survey 1.2.5.1): alpha = -1, beta = 2, [alpha_q, beta_q] =
# [-128, 127], so scale = (2 - (-1)) / 255 = 3/255 = 1/85 and
# zero_point = round(-128 - (-1) / (1/85)) = round(-128 + 85) = -43.
# x / scale = -85, 0, 42.5, 170; plus -43 -> -128, -43, -0.5 -> 0 (a tie, rounded away from
# zero as TFLite does), 127. Back: (q + 43) / 85 = -1, 0, 43/85 = 0.50588, 2.
X4 = np.array([-1.0, 0.0, 0.5, 2.0])


def test_asymmetric_int8_by_hand():
    params = quantize.quantization_params(X4, bits=8)
    assert float(params.scale) == pytest.approx(3 / 255)
    assert int(params.zero_point) == -43
    assert (params.qmin, params.qmax) == (-128, 127)
    q = quantize.quantize(X4, params)
    assert q.dtype == np.int8
    np.testing.assert_array_equal(q, [-128, -43, 0, 127])
    np.testing.assert_allclose(quantize.dequantize(q, params), [-1.0, 0.0, 43 / 85, 2.0], rtol=1e-6)
    # only 0.5 moves, by 43/85 - 1/2 = 1/170 = scale / 2; RMSE = sqrt((1/170)**2 / 4) = 1/340
    error = quantize.quantization_error(X4, params)
    assert error["max_abs"] == pytest.approx(1 / 170, rel=1e-5)
    assert error["rmse"] == pytest.approx(1 / 340, rel=1e-5)
    np.testing.assert_allclose(params.real_range, (-1.0, 2.0))


def test_symmetric_int8_by_hand():
    # TFLite's int8 weights: [-127, 127], zero point 0, scale = max|x| / 127 = 2/127.
    # x / scale = -63.5 -> -64 (tie, away from zero), 0, 31.75 -> 32, 127.
    params = quantize.quantization_params(X4, bits=8, symmetric=True)
    assert float(params.scale) == pytest.approx(2 / 127)
    assert int(params.zero_point) == 0 and (params.qmin, params.qmax) == (-127, 127)
    np.testing.assert_array_equal(quantize.quantize(X4, params), [-64, 0, 32, 127])


def test_integer_ranges_and_dtypes():
    four = quantize.quantization_params((-1.0, 1.0), bits=4)
    assert (four.qmin, four.qmax) == (-8, 7)
    four_sym = quantize.quantization_params((-1.0, 1.0), bits=4, symmetric=True)
    assert (four_sym.qmin, four_sym.qmax) == (-7, 7)
    sixteen = quantize.quantization_params(X4, bits=16)
    assert (sixteen.qmin, sixteen.qmax) == (-32768, 32767)
    assert quantize.quantize(X4, sixteen).dtype == np.int16
    # a range tuple is the same as data with that min and max
    from_range = quantize.quantization_params((-1.0, 2.0))
    from_data = quantize.quantization_params(X4)
    assert (float(from_range.scale), int(from_range.zero_point)) == \
        (float(from_data.scale), int(from_data.zero_point))


@pytest.mark.parametrize("bits", [2, 3, 4, 8, 12, 16])
@pytest.mark.parametrize("symmetric", [False, True])
def test_round_trip_moves_each_value_at_most_half_a_step(bits, symmetric):
    x = np.random.default_rng(bits).normal(0.3, 1.0, size=500)
    params = quantize.quantization_params(x, bits, symmetric=symmetric)
    back = quantize.dequantize(quantize.quantize(x, params), params)
    slack = 1e-6 * np.abs(x).max()  # dequantize returns float32
    assert np.max(np.abs(x - back)) <= float(params.scale) / 2 + slack
    assert quantize.quantization_error(x, params)["max_abs"] <= float(params.scale) / 2 + slack


@pytest.mark.parametrize("alpha, beta", [(0.3, 5.0), (-5.0, -0.2), (-0.7, 3.3), (-1e-3, 1e4)])
@pytest.mark.parametrize("symmetric", [False, True])
def test_zero_is_exactly_representable(alpha, beta, symmetric):
    params = quantize.quantization_params((alpha, beta), 8, symmetric=symmetric)
    assert params.qmin <= int(params.zero_point) <= params.qmax
    assert quantize.dequantize(quantize.quantize([0.0], params), params)[0] == 0.0
    low, high = params.real_range
    half_step = float(params.scale) / 2
    assert low <= min(alpha, 0.0) + half_step and high >= max(beta, 0.0) - half_step


def test_degenerate_ranges():
    zeros = quantize.quantization_params(np.zeros(5), 8)
    assert float(zeros.scale) == 1.0 and int(zeros.zero_point) == 0
    back = quantize.dequantize(quantize.quantize(np.zeros(5), zeros), zeros)
    np.testing.assert_array_equal(back, 0.0)
    # all equal: the range becomes [0, 3], so 3.0 is the top of the grid and survives exactly
    threes = quantize.quantization_params(np.full(4, 3.0), 8)
    assert int(threes.zero_point) == -128 and float(threes.scale) == pytest.approx(3 / 255)
    back = quantize.dequantize(quantize.quantize(np.full(4, 3.0), threes), threes)
    np.testing.assert_allclose(back, 3.0)
    sym = quantize.quantization_params(np.full(3, -2.0), 8, symmetric=True)
    assert float(sym.scale) == pytest.approx(2 / 127)


def test_per_channel_by_hand():
    # a Dense kernel (3 inputs, 2 units): column 0 spans [-1, 1], column 1 spans [0, 4];
    # symmetric 8-bit scales are 1/127 and 4/127, one per output unit (the last axis)
    kernel = np.array([[-1.0, 0.0], [0.0, 2.0], [1.0, 4.0]])
    params = quantize.quantization_params(kernel, 8, symmetric=True, per_channel_axis=-1)
    np.testing.assert_allclose(params.scale, [1 / 127, 4 / 127])
    q = quantize.quantize(kernel, params)
    np.testing.assert_array_equal(q, [[-127, 0], [0, 64], [127, 127]])  # 2 / (4/127) = 63.5 -> 64
    for column in range(2):
        alone = quantize.quantization_params(kernel[:, column], 8, symmetric=True)
        np.testing.assert_array_equal(q[:, column], quantize.quantize(kernel[:, column], alone))
    rows = quantize.quantization_params(kernel, 8, per_channel_axis=0)
    assert rows.scale.shape == (3,)
    with pytest.raises(ValueError, match="2 channels along axis -1"):
        quantize.quantize(kernel.T, params)
    ranges = quantize.quantization_params((np.array([-1.0, 0.0]), np.array([1.0, 4.0])), 8,
                                          symmetric=True, per_channel_axis=-1)
    np.testing.assert_allclose(ranges.scale, params.scale)


@pytest.mark.parametrize("bits", [0, 1, 17, 8.0, 2.5, "8", True, None])
def test_bad_bits_are_named_with_the_valid_range(bits):
    with pytest.raises(ValueError, match="bits must be a whole number from 2 to 16"):
        quantize.quantization_params(X4, bits)


def test_bad_affine_input():
    with pytest.raises(ValueError, match="finite"):
        quantize.quantization_params([0.0, np.nan], 8)
    with pytest.raises(ValueError, match="alpha <= beta"):
        quantize.quantization_params((2.0, -1.0), 8)
    with pytest.raises(ValueError, match="per_channel_axis must be an axis"):
        quantize.quantization_params(np.zeros((3, 2)), 8, per_channel_axis=2)
    params = quantize.quantization_params(X4, 8)
    with pytest.raises(ValueError, match=r"q must lie in \[-128, 127\]"):
        quantize.dequantize(np.array([200]), params)
    with pytest.raises(ValueError, match="q must hold integers"):
        quantize.dequantize(np.array([0.5]), params)
    with pytest.raises(ValueError, match="QuantizationParams"):
        quantize.quantize(X4, {"scale": 1.0})


def test_fake_quantize_weights_keeps_pruned_zeros():
    model = tl.models.build("student", (8, 8, 1), 10, seed=0)
    masks = tl.prune.prune_model(model, sparsity=0.5)
    before = {name: model.get_layer(name).kernel.numpy() for name in masks}
    found = quantize.fake_quantize_weights(model, 4)
    for name, params in found.items():
        after = model.get_layer(name).kernel.numpy()
        np.testing.assert_array_equal(after[~masks[name]], 0.0)
        assert params.scale.shape == (after.shape[-1],)
        assert np.all(np.abs(after - before[name]) <= params.scale / 2 + 1e-6)
        assert max(np.unique(after[:, j]).size for j in range(after.shape[1])) <= 15
    with pytest.raises(ValueError, match="'flatten' has no weights"):
        quantize.fake_quantize_weights(model, 8, layers=["flatten"])


# --------------------------------------------------------------------------- weight sharing kernels

def test_initial_centroids():
    weights = np.array([-1.0, 0.2, 0.5, 2.0])
    np.testing.assert_allclose(quantize.initial_centroids(weights, 4), [-1.0, 0.0, 1.0, 2.0])
    np.testing.assert_allclose(quantize.initial_centroids(weights, 2, "density"), [-1.0, 2.0])
    chosen = quantize.initial_centroids(weights, 3, "random", seed=1)
    assert set(chosen) <= set(weights) and list(chosen) == sorted(chosen)
    np.testing.assert_array_equal(chosen, quantize.initial_centroids(weights, 3, "random", seed=1))
    with pytest.raises(ValueError, match="n_clusters must be a whole number from 1 to"):
        quantize.initial_centroids(weights, 5)
    with pytest.raises(ValueError, match="method must be one of"):
        quantize.initial_centroids(weights, 2, "kmeans++")


# Han, Mao & Dally (2016), Fig. 3: a 4x4 layer with 4 clusters; the gradients grouped by
# cluster index and summed. Cluster 0 holds (0,1), (1,2), (2,0), (2,3): -0.01 - 0.02 - 0.01
# + 0.01 = -0.03; cluster 1: 0.02 - 0.01 + 0.01 + 0.04 - 0.02 = 0.04; cluster 2: 0.03 + 0.01
# - 0.02 = 0.02; cluster 3: -0.03 + 0.12 + 0.02 - 0.07 = 0.04.
FIG3_INDICES = np.array([[3, 0, 2, 1], [1, 1, 0, 3], [0, 3, 1, 0], [3, 1, 2, 2]])
FIG3_GRADIENTS = np.array([[-0.03, -0.01, 0.03, 0.02], [-0.01, 0.01, -0.02, 0.12],
                           [-0.01, 0.02, 0.04, 0.01], [-0.07, -0.02, 0.01, -0.02]])


def test_centroid_gradients_by_hand():
    np.testing.assert_allclose(quantize.centroid_gradients(FIG3_GRADIENTS, FIG3_INDICES, 4),
                               [-0.03, 0.04, 0.02, 0.04], atol=1e-12)
    pruned = FIG3_INDICES.copy()
    pruned[1, 3] = -1  # the 0.12 weight is pruned: it belongs to no cluster
    np.testing.assert_allclose(quantize.centroid_gradients(FIG3_GRADIENTS, pruned, 4),
                               [-0.03, 0.04, 0.02, -0.08], atol=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        quantize.centroid_gradients(FIG3_GRADIENTS, FIG3_INDICES[:2], 4)


def test_centroid_gradients_equal_autodiff_through_the_codebook():
    # loss(kernel) with kernel = codebook[index] * mask: the chain rule says dL/dc_k is the
    # sum of dL/dw over the weights with index k; check against TensorFlow differentiating c.
    indices = np.array([[0, 1], [1, -1], [2, 0]], dtype=np.int32)
    codebook = np.array([-0.5, 0.25, 1.0], dtype=np.float32)
    X = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 3.0]], dtype=np.float32)
    layer = keras.layers.Dense(2, use_bias=False)
    layer.build((None, 3))
    kernel = np.where(indices >= 0, codebook[np.maximum(indices, 0)], 0.0).astype(np.float32)
    layer.kernel.assign(kernel)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(X) ** 2)
    grouped = quantize.centroid_gradients(tape.gradient(loss, layer.kernel).numpy(), indices, 3)
    centroids = tf.Variable(codebook)
    with tf.GradientTape() as tape:
        shared = tf.where(indices >= 0, tf.gather(centroids, np.maximum(indices, 0)), 0.0)
        loss = tf.reduce_sum(tf.matmul(X, shared) ** 2)
    autodiff = tf.convert_to_tensor(tape.gradient(loss, centroids)).numpy()  # gather: sparse
    np.testing.assert_allclose(grouped, autodiff, rtol=1e-5)


def test_one_bit_sharing_by_hand():
    # kept weights -1.0, -0.9, 1.0, 1.1 (the 0.0 is pruned); 1 bit = 2 clusters, linearly
    # initialised at -1.0 and 1.1; k-means ends at the two means, -0.95 and 1.05.
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, name="out")])
    model.get_layer("out").kernel.assign(np.array([[-1.0], [-0.9], [0.0], [1.0], [1.1]]))
    sharing = quantize.WeightSharing(bits=1).fit(model)
    np.testing.assert_allclose(sharing.codebooks_["out"], [-0.95, 1.05], rtol=1e-6)
    np.testing.assert_array_equal(sharing.indices_["out"].ravel(), [0, 0, -1, 1, 1])
    sharing.apply(model)
    np.testing.assert_allclose(model.get_layer("out").kernel.numpy().ravel(),
                               [-0.95, -0.95, 0.0, 1.05, 1.05], rtol=1e-6)
    # Han et al.'s size: 4 indices of 1 bit + 2 float32 centroids = 68 bits = 9 bytes,
    # against 4 float32 weights = 16 bytes
    row = sharing.paper_storage()[0]
    counted = (row["index_bits"], row["codebook_bits"], row["bytes"], row["bytes_float32"])
    assert counted == (4, 64, 9, 16)


# --------------------------------------------------------------------------- weight sharing on a model

@pytest.fixture(scope="module")
def pruned_student():
    """A student trained briefly on the digits, then pruned to 50%: its weights and masks."""
    data = tl.data.load("digits", seed=0)
    model = tl.models.build("student", data.input_shape, data.n_classes, seed=0)
    tl.train.fit(model, data, epochs=8, progress=False)
    masks = tl.prune.prune_model(model, sparsity=0.5)
    return model.get_weights(), masks, data


def rebuilt(weights):
    model = tl.models.build("student", (8, 8, 1), 10, seed=0)
    model.set_weights(weights)
    return model


def distinct_kept(model, masks):
    return {name: np.unique(model.get_layer(name).kernel.numpy()[mask]).size
            for name, mask in masks.items()}


def test_sharing_keeps_pruned_zeros_and_at_most_2_to_the_bits_values(pruned_student):
    weights, masks, _ = pruned_student
    model = rebuilt(weights)
    sharing = quantize.WeightSharing(bits=3, seed=0).fit(model, masks)
    np.testing.assert_array_equal(model.get_weights()[0], weights[0])  # fit leaves the model alone
    sharing.apply(model)
    assert distinct_kept(model, masks) == {"dense_1": 8, "logits": 8}
    for name, mask in masks.items():
        kernel = model.get_layer(name).kernel.numpy()
        np.testing.assert_array_equal(kernel[~mask], 0.0)
        assert np.all(kernel[mask] != 0.0)
        np.testing.assert_array_equal(sharing.indices_[name] >= 0, mask)
        assert np.all(np.diff(sharing.codebooks_[name]) > 0)  # ascending codebook
    np.testing.assert_array_equal(model.get_weights()[1], weights[1])  # biases stay float


def test_reserve_filler_leaves_the_last_index_unused(pruned_student):
    weights, masks, _ = pruned_student
    sharing = quantize.WeightSharing(bits=3, seed=0, reserve_filler=True).fit(rebuilt(weights), masks)
    for name in masks:
        assert sharing.codebooks_[name].size == 7
        assert sharing.indices_[name].max() == 6


def test_default_bits_are_the_papers():
    model = tl.models.build("cnn", (8, 8, 1), 10, seed=0)
    sharing = quantize.WeightSharing().fit(model)
    assert sharing.bits_ == {"conv_1": 8, "conv_2": 8, "logits": 5}
    assert sharing.codebooks_["logits"].size == 32
    partial = quantize.WeightSharing(bits={"logits": 2}).fit(model)
    assert list(partial.codebooks_) == ["logits"] and partial.codebooks_["logits"].size == 4


def test_fine_tuning_keeps_structure_and_lowers_training_loss(pruned_student):
    weights, masks, data = pruned_student
    tiny = dataclasses.replace(data, X_train=data.X_train[:300], y_train=data.y_train[:300])
    model = rebuilt(weights)
    sharing = quantize.WeightSharing(bits=2, seed=0).fit(model, masks)
    sharing.apply(model)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def training_loss():
        return float(loss_fn(tiny.y_train, model(tiny.X_train)))

    before_loss, before_codebook = training_loss(), sharing.codebooks_["dense_1"].copy()
    indices = {name: idx.copy() for name, idx in sharing.indices_.items()}
    history = sharing.fine_tune(model, tiny, epochs=3, learning_rate=1e-3, seed=0)
    assert len(history["loss"]) == 3
    assert training_loss() < before_loss
    assert not np.allclose(sharing.codebooks_["dense_1"], before_codebook)
    assert distinct_kept(model, masks) == {"dense_1": 4, "logits": 4}
    for name, mask in masks.items():
        np.testing.assert_array_equal(sharing.indices_[name], indices[name])  # fixed indices
        np.testing.assert_array_equal(model.get_layer(name).kernel.numpy()[~mask], 0.0)
        np.testing.assert_array_equal(model.get_layer(name).kernel.numpy(),
                                      sharing.shared_kernel(name))


def test_storage_counts_indices_and_codebook(pruned_student):
    weights, masks, _ = pruned_student
    sharing = quantize.WeightSharing(bits=5).fit(rebuilt(weights), masks)
    rows = {row["layer"]: row for row in sharing.paper_storage()}
    # dense_1: 64 x 32 = 2048 weights, 1024 kept -> 1024 * 5 + 32 * 32 = 6144 bits = 768 bytes
    assert rows["dense_1"]["kept"] == 1024 and rows["dense_1"]["bytes"] == 768
    assert rows["dense_1"]["ratio"] == pytest.approx(4 * 1024 / 768)
    # logits: 32 x 10 = 320 weights, 160 kept -> 800 + 1024 bits = 228 bytes
    assert rows["logits"]["total_bits"] == 1824 and rows["logits"]["bytes"] == 228
    assert rows["total"]["bytes"] == 996 and rows["total"]["kept"] == 1184


@pytest.mark.parametrize("bits", [0, 17, 2.5, "5", True])
def test_bad_sharing_bits(bits):
    model = tl.models.build("student", (8, 8, 1), 10, seed=0)
    with pytest.raises(ValueError, match=r"bits of 'dense_1' must be a whole number from 1 to 16"):
        quantize.WeightSharing(bits=bits).fit(model)


def test_bad_sharing_input():
    model = tl.models.build("student", (8, 8, 1), 10, seed=0)
    with pytest.raises(ValueError, match="'flatten' has no weights"):
        quantize.WeightSharing(bits={"flatten": 4}).fit(model)
    with pytest.raises(ValueError, match="has no layer 'conv_9'"):
        quantize.WeightSharing(bits={"conv_9": 4}).fit(model)
    with pytest.raises(ValueError, match="init must be one of"):
        quantize.WeightSharing(init="kmeans++").fit(model)
    with pytest.raises(ValueError, match="mask of 'logits' must be a bool array"):
        quantize.WeightSharing(bits=4).fit(model, {"logits": np.ones((2, 2), dtype=bool)})
    with pytest.raises(ValueError, match="not fitted yet"):
        quantize.WeightSharing().apply(model)
    sharing = quantize.WeightSharing(bits=4).fit(model)
    with pytest.raises(ValueError, match="fitted on shape"):
        sharing.apply(tl.models.build("tiny", (8, 8, 1), 10, seed=0))
    with pytest.raises(ValueError, match="epochs must be a whole number >= 1"):
        sharing.fine_tune(model, None, epochs=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        sharing.fine_tune(model, None, learning_rate=0.0)
