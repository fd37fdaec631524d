"""Benchmark: TinyLab's iterative magnitude pruning vs tensorflow-model-optimization's.

The 64-300-100-10 teacher (TinyLab "mlp300", the shape of Han et al.'s LeNet-300-100) on the
digits is pruned to 90% sparsity in every layer, two ways, from the same trained weights:

- TinyLab (``tinylab.prune.iterative_prune``, Keras 3): 4 rounds of prune + 5 epochs of
  retraining, Zhu & Gupta's cubic schedule, masks enforced by a kernel constraint;
- tfmot 0.8.1 ``prune_low_magnitude`` (through tf_keras, Keras 2): a twin model with the
  teacher's weights copied in, ``PolynomialDecay`` (cubic) from 0 to 90% over the first 15 of
  20 epochs, pruning every 100 steps; the same total of 20 epochs.

The retraining learning rate of each is chosen on the validation split (seed 0) among
``LEARNING_RATES``; the test split is only reported. Goal: >= 90% sparsity with <= 0.5 pp of
test-accuracy loss (Han et al.: 12x fewer weights on LeNet-300-100 at no loss). The test split
has 270 examples, so one example is 0.37 pp: read the mean over seeds.

    tinylab bench prune [--json] [--write] [--seeds 0 1 2]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import arguments, markdown_table, report, require, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402

import numpy as np  # noqa: E402

FINAL_SPARSITY = 0.9
STEPS, EPOCHS_PER_STEP = 4, 5          # TinyLab: 4 rounds x 5 epochs = 20 epochs
TOTAL_EPOCHS, RAMP_EPOCHS = 20, 15     # tfmot: sparsity ramps over 15 epochs, 5 more at 90%
PRUNING_FREQUENCY = 100                # tfmot's default: a new mask every 100 steps
BATCH_SIZE = 32
LEARNING_RATES = (5e-4, 1e-3)          # candidates for both, chosen on validation (seed 0)
GOAL_SPARSITY, GOAL_LOSS_PP = 0.90, 0.5


def _accuracy(logits, y) -> float:
    return float(np.mean(np.argmax(np.asarray(logits), axis=-1) == y))


def tinylab_prune(teacher, data, learning_rate, seed):
    import tinylab as tl
    from tinylab._tensorflow import keras

    model = keras.models.clone_model(teacher)
    model.set_weights(teacher.get_weights())
    start = time.perf_counter()
    tl.prune.iterative_prune(model, data, final_sparsity=FINAL_SPARSITY, steps=STEPS,
                             epochs_per_step=EPOCHS_PER_STEP, learning_rate=learning_rate,
                             seed=seed, progress=False)
    seconds = time.perf_counter() - start
    return {"sparsity": tl.prune.sparsity(model), "seconds": seconds,
            "val": _accuracy(model(data.X_val, training=False), data.y_val),
            "test": _accuracy(model(data.X_test, training=False), data.y_test)}


def tfmot_prune(teacher, data, learning_rate, seed):
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras

    twin = tf_keras.Sequential([
        tf_keras.Input(shape=data.input_shape), tf_keras.layers.Flatten(),
        tf_keras.layers.Dense(300, activation="relu"), tf_keras.layers.Dense(100, activation="relu"),
        tf_keras.layers.Dense(data.n_classes)])
    twin.set_weights(teacher.get_weights())  # same trained starting point as TinyLab's
    steps_per_epoch = int(np.ceil(len(data.y_train) / BATCH_SIZE))
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=FINAL_SPARSITY, begin_step=0,
        end_step=RAMP_EPOCHS * steps_per_epoch, power=3, frequency=PRUNING_FREQUENCY)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(twin, pruning_schedule=schedule)
    pruned.compile(optimizer=tf_keras.optimizers.Adam(learning_rate),
                   loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    batches = (tf.data.Dataset.from_tensor_slices((data.X_train, data.y_train))
               .shuffle(len(data.y_train), seed=seed, reshuffle_each_iteration=True)
               .batch(BATCH_SIZE))
    start = time.perf_counter()
    pruned.fit(batches, epochs=TOTAL_EPOCHS, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    final = tfmot.sparsity.keras.strip_pruning(pruned)
    seconds = time.perf_counter() - start
    kernels = [layer.kernel.numpy() for layer in final.layers if hasattr(layer, "kernel")]
    return {"sparsity": float(sum((k == 0).sum() for k in kernels) / sum(k.size for k in kernels)),
            "seconds": seconds,
            "val": _accuracy(final(data.X_val, training=False), data.y_val),
            "test": _accuracy(final(data.X_test, training=False), data.y_test)}


def run(seeds) -> dict:
    import tinylab as tl

    data = tl.data.load("digits", seed=0)
    methods = {"tinylab": tinylab_prune, "tfmot": tfmot_prune}
    results = {"validation_choice": {}, "runs": []}
    teachers = {}
    for seed in seeds:
        model = tl.models.build("mlp300", data.input_shape, data.n_classes, seed=seed)
        tl.train.fit(model, data, epochs=tl.models.ARCHITECTURES["mlp300"]["epochs"], seed=seed,
                     progress=False)
        teachers[seed] = model
    # choose each method's retraining rate on the validation split, seed 0's teacher
    chosen = {}
    for name, method in methods.items():
        scores = {lr: method(teachers[seeds[0]], data, lr, seeds[0])["val"] for lr in LEARNING_RATES}
        chosen[name] = max(LEARNING_RATES, key=lambda lr: (scores[lr], -lr))
        results["validation_choice"][name] = {"val_accuracy_by_learning_rate": scores,
                                              "chosen": chosen[name]}
        print(f"{name}: validation accuracy by learning rate {scores} -> {chosen[name]}",
              file=sys.stderr)
    for seed in seeds:
        teacher = teachers[seed]
        row = {"seed": seed, "teacher": {
            "val": _accuracy(teacher(data.X_val, training=False), data.y_val),
            "test": _accuracy(teacher(data.X_test, training=False), data.y_test)}}
        for name, method in methods.items():
            row[name] = method(teacher, data, chosen[name], seed)
            row[name]["test_loss_pp"] = 100 * (row["teacher"]["test"] - row[name]["test"])
            print(f"seed {seed} {name}: sparsity {row[name]['sparsity']:.3f} test "
                  f"{row[name]['test']:.4f} (teacher {row['teacher']['test']:.4f}) "
                  f"{row[name]['seconds']:.1f} s", file=sys.stderr)
        results["runs"].append(row)
    summary = {}
    for name in methods:
        def stat(key, name=name):
            values = np.array([r[name][key] for r in results["runs"]])
            return {"mean": float(values.mean()), "std": float(values.std())}
        summary[name] = {key: stat(key) for key in ("sparsity", "test", "test_loss_pp", "seconds")}
        summary[name]["learning_rate"] = chosen[name]
        summary[name]["goal_met"] = bool(
            summary[name]["sparsity"]["mean"] >= GOAL_SPARSITY - 1e-9
            and summary[name]["test_loss_pp"]["mean"] <= GOAL_LOSS_PP)
    teacher_test = np.array([r["teacher"]["test"] for r in results["runs"]])
    summary["teacher"] = {"test": {"mean": float(teacher_test.mean()), "std": float(teacher_test.std())}}
    results["summary"] = summary
    return results


def write(result: dict, target: Path) -> None:
    s = result["summary"]
    rows = []
    for name, label in (("tinylab", "TinyLab `iterative_prune` (Keras 3)"),
                        ("tfmot", "tfmot `prune_low_magnitude` (tf_keras)")):
        m = s[name]
        rows.append([label, f"{100 * m['sparsity']['mean']:.1f}",
                     f"{100 * m['test']['mean']:.2f} ± {100 * m['test']['std']:.2f}",
                     f"{m['test_loss_pp']['mean']:+.2f} ± {m['test_loss_pp']['std']:.2f}",
                     f"{m['seconds']['mean']:.1f} ± {m['seconds']['std']:.1f}",
                     f"{m['learning_rate']:g}", "yes" if m["goal_met"] else "**no**"])
    machine = result["machine"]
    seeds = [r["seed"] for r in result["runs"]]
    body = (
        f"{measured_on(machine)}; "
        f"seeds {seeds} (teacher init and shuffles), digits split seed 0. Teacher test accuracy "
        f"{100 * s['teacher']['test']['mean']:.2f} ± {100 * s['teacher']['test']['std']:.2f}%. "
        f"Both prune every layer to {FINAL_SPARSITY:.0%} in 20 epochs of retraining from the "
        f"same trained weights; learning rate chosen on the validation split among "
        f"{list(LEARNING_RATES)}. Goal: sparsity >= {GOAL_SPARSITY:.0%} with <= "
        f"{GOAL_LOSS_PP} pp test-accuracy loss (mean over seeds). The test split has 270 "
        f"examples: one example is 0.37 pp.\n\n"
        + markdown_table(["method", "sparsity %", "test accuracy %", "loss vs teacher (pp)",
                          "wall time (s)", "learning rate", "goal met"], rows)
        + "\n\nCommand: `tinylab bench prune --json --write`.")
    write_section("prune", body, target, title="Pruning (lesson 04)")


def main(argv=None) -> int:
    parser = arguments(__doc__, "pruning")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    require("prune", "tensorflow_model_optimization", "tf_keras")
    result = {"benchmark": "prune", "machine": current_machine(),
              "settings": {"final_sparsity": FINAL_SPARSITY, "steps": STEPS,
                           "epochs_per_step": EPOCHS_PER_STEP, "total_epochs": TOTAL_EPOCHS,
                           "tfmot_ramp_epochs": RAMP_EPOCHS,
                           "tfmot_pruning_frequency": PRUNING_FREQUENCY,
                           "batch_size": BATCH_SIZE, "learning_rates": list(LEARNING_RATES)},
              **run(args.seeds)}
    return report(result, args.write, write)


if __name__ == "__main__":
    sys.exit(main())
