"""Benchmark: TinyLab's k-means weight sharing (lesson 06) against tfmot's ``cluster_weights``.

The same trained 64-300-100-10 digits MLP (``mlp300``, one per seed) is shared at 16 clusters
(4-bit indices) per Dense kernel, two ways, each with 5 epochs of fine-tuning at learning rate
1e-3, batch 32:

- TinyLab: :class:`tinylab.quantize.WeightSharing` (k-means from linear initial centroids,
  Han et al.'s choice; the centroids fine-tuned with the summed gradients of their weights,
  indices fixed);
- tensorflow-model-optimization 0.8's ``cluster_weights`` through tf_keras (Keras 2): a twin
  of the model with the same weights, k-means++ initial centroids (tfmot's default for the
  Keras API), fine-tuned with ``fit``, then ``strip_clustering``.

Both are counted the same way (Deep Compression's layout, lesson 06): per kernel 16 float32
centroids and a 4-bit index per weight, the biases as float32. Accuracy is the digits'
validation and test splits (270 examples each) after fine-tuning; every kernel is checked to
hold at most 16 distinct values.

    tinylab bench sharing [--json] [--write] [--seeds 0 1 2]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import arguments, markdown_table, report, require, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402

CLUSTERS = 16
BITS = 4
EPOCHS = 5
LEARNING_RATE = 1e-3
BATCH_SIZE = 32


def _accuracy(model, X, y) -> float:
    logits = np.asarray(model(X, training=False))
    return float((logits.argmax(axis=1) == y).mean())


def _scores(model, data) -> dict:
    return {"val": _accuracy(model, data.X_val, data.y_val),
            "test": _accuracy(model, data.X_test, data.y_test)}


def _storage(kernels, biases) -> dict:
    """Deep Compression's count: per kernel 16 float32 centroids + 4 bits per weight, and
    the biases as float32; with the most distinct values any kernel holds."""
    bits = sum(k.size * BITS + CLUSTERS * 32 for k in kernels) + sum(32 * b.size for b in biases)
    return {"bytes": -(-bits // 8),
            "float32_bytes": 4 * (sum(k.size for k in kernels) + sum(b.size for b in biases)),
            "most_distinct": max(len(np.unique(k)) for k in kernels)}


def tinylab_sharing(teacher, data, seed) -> dict:
    import tinylab as tl
    from tinylab._tensorflow import keras

    model = keras.models.clone_model(teacher)
    model.set_weights(teacher.get_weights())
    started = time.perf_counter()
    sharing = tl.quantize.WeightSharing(bits=BITS, seed=seed).fit(model)
    sharing.apply(model)
    sharing.fine_tune(model, data, epochs=EPOCHS, learning_rate=LEARNING_RATE,
                      batch_size=BATCH_SIZE, seed=seed)
    seconds = time.perf_counter() - started
    dense = [layer for layer in model.layers if hasattr(layer, "kernel")]
    return {"seconds": seconds, **_scores(model, data),
            **_storage([np.asarray(layer.kernel) for layer in dense],
                       [np.asarray(layer.bias) for layer in dense])}


def tfmot_sharing(teacher, data, seed) -> dict:
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    twin = tf_keras.Sequential([
        tf_keras.Input(shape=data.input_shape), tf_keras.layers.Flatten(),
        tf_keras.layers.Dense(300, activation="relu", name="dense_1"),
        tf_keras.layers.Dense(100, activation="relu", name="dense_2"),
        tf_keras.layers.Dense(data.n_classes, name="logits")])
    twin.set_weights(teacher.get_weights())  # the same trained starting point
    started = time.perf_counter()
    clustered = tfmot.clustering.keras.cluster_weights(
        twin, number_of_clusters=CLUSTERS,
        cluster_centroids_init=tfmot.clustering.keras.CentroidInitialization.KMEANS_PLUS_PLUS)
    clustered.compile(optimizer=tf_keras.optimizers.Adam(LEARNING_RATE),
                      loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    batches = (tf.data.Dataset.from_tensor_slices((data.X_train, data.y_train))
               .shuffle(len(data.y_train), seed=seed, reshuffle_each_iteration=True)
               .batch(BATCH_SIZE))
    clustered.fit(batches, epochs=EPOCHS, verbose=0)
    final = tfmot.clustering.keras.strip_clustering(clustered)
    seconds = time.perf_counter() - started
    dense = [layer for layer in final.layers if hasattr(layer, "kernel")]
    return {"seconds": seconds, **_scores(final, data),
            **_storage([layer.kernel.numpy() for layer in dense],
                       [layer.bias.numpy() for layer in dense])}


METHODS = {"TinyLab WeightSharing (k-means, linear init)": tinylab_sharing,
           "tfmot cluster_weights (k-means++)": tfmot_sharing}


def run(seeds) -> dict:
    import tinylab as tl

    data = tl.data.load("digits", seed=0)
    runs = {name: [] for name in ["float32 teacher", *METHODS]}
    for seed in seeds:
        teacher = tl.models.build("mlp300", data.input_shape, data.n_classes, seed=seed)
        tl.train.fit(teacher, data, epochs=tl.models.ARCHITECTURES["mlp300"]["epochs"],
                     seed=seed, progress=False)
        runs["float32 teacher"].append(_scores(teacher, data))
        for name, method in METHODS.items():
            result = method(teacher, data, seed)
            if result["most_distinct"] > CLUSTERS:
                raise AssertionError(f"{name}: a kernel holds {result['most_distinct']} values")
            runs[name].append({"seed": seed, **result})
            print(f"seed {seed} {name}: val {result['val']:.4f} test {result['test']:.4f} "
                  f"{result['seconds']:.1f} s", file=sys.stderr)
    summary = {}
    for name, results in runs.items():
        summary[name] = {key: {"mean": float(np.mean([r[key] for r in results])),
                               "std": float(np.std([r[key] for r in results]))}
                         for key in ("val", "test", "seconds", "bytes")
                         if key in results[0]}
        if "float32_bytes" in results[0]:
            summary[name]["float32_bytes"] = results[0]["float32_bytes"]
    return {"seeds": list(seeds), "runs": runs, "summary": summary}


def write(result: dict, target: Path) -> None:
    rows = []
    for name, m in result["summary"].items():
        size = (f"{m['bytes']['mean']:,.0f} ({m['float32_bytes'] / m['bytes']['mean']:.1f}x "
                f"smaller)" if "bytes" in m else "-")
        rows.append([name, f"{100 * m['val']['mean']:.2f} ± {100 * m['val']['std']:.2f}",
                     f"{100 * m['test']['mean']:.2f} ± {100 * m['test']['std']:.2f}", size,
                     f"{m['seconds']['mean']:.1f}" if "seconds" in m else "-"])
    body = (f"{measured_on(result['machine'])}: the digits' 64-300-100-10 MLP (`mlp300`), "
            f"trained, then {CLUSTERS} shared values per Dense kernel ({BITS}-bit indices) "
            f"and {EPOCHS} epochs of fine-tuning (Adam {LEARNING_RATE:g}, batch {BATCH_SIZE}), "
            f"seeds {', '.join(map(str, result['seeds']))} (mean ± std over seeds). Bytes in "
            f"Deep Compression's layout: {CLUSTERS} float32 centroids and a {BITS}-bit index "
            "per weight for each kernel, biases as float32; each kernel checked to hold at "
            f"most {CLUSTERS} values.\n\n"
            + markdown_table(["model", "validation accuracy (%)", "test accuracy (%)",
                              "bytes", "sharing + fine-tuning (s)"], rows)
            + "\n\nCommand: `tinylab bench sharing --json --write` (needs the bench extras: "
              "`pip install -e '.[bench]'`).")
    write_section("sharing", body, target,
                  title="Weight sharing at 16 clusters against tfmot (lesson 06)")


def main(argv=None) -> int:
    parser = arguments(__doc__, "sharing")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    require("sharing", "tensorflow_model_optimization", "tf_keras")
    result = {"benchmark": "sharing", "machine": current_machine(),
              "settings": {"clusters": CLUSTERS, "epochs": EPOCHS,
                           "learning_rate": LEARNING_RATE, "batch_size": BATCH_SIZE},
              **run(args.seeds)}
    return report(result, args.write, write)


if __name__ == "__main__":
    sys.exit(main())
