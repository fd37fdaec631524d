"""Benchmark: how much of the teacher-student gap knowledge distillation closes (lesson 03).

For each of 10 seeds, on the digits split with that seed (so that the result does not hang
on one 270-example test split, where one error is 0.37 pp): train the teacher
(``mlp300``, 64-300-100-10, 40 epochs), train the student from scratch, and distill the
teacher into the same student from the same initial weights, with the same epochs and
learning rate. Report test accuracy (mean, std over the seeds) and the share of the gap that
distillation closes, counted in test errors as Hinton et al. (2015) do:

    gap closed = (errors_scratch - errors_distilled) / (errors_scratch - errors_teacher)

How the knobs were chosen (never on the test split): STUDENT, TEMPERATURE, ALPHA, EPOCHS and
LEARNING_RATE below come from a sweep scored on the **validation** split, mean over seeds
0-2, reproduced by ``--select`` (which prints validation accuracies only). What the first sweep
showed, on split seed 0 (mean validation accuracy at 60 epochs, Adam 1e-2; teacher 97.7%):

- 64-8-10 (``tiny``): scratch 93.8%, distilled 93.0-94.3% for T in {2, 4, 8} x alpha in
  {0.5, 0.9}: capacity-bound, distillation barely helps (and at Adam 1e-3 it was still
  learning after 120 epochs, distilled below scratch).
- 64-16-10 (``small16``): scratch 96.5% (it peaks near 97.4% at 15 epochs, then overfits),
  distilled 96.7% (T=2), 97.3% (T=4, alpha 0.5), 97.2% (T=4, alpha 0.9), 96.8-97.3% (T=8).
  Chosen: small16, T = 4, alpha = 0.5, 60 epochs, Adam 1e-2, for both students.

The second sweep, with each seed drawing its own split (the protocol of the table; mean
validation accuracy over seeds 0-2): scratch 96.2%; T=2: 96.7% (alpha 0.5), 96.8% (0.9);
T=4: 96.9%, **97.3%**; T=8: 96.7%, 97.0%. Chosen: T = 4, alpha = 0.9.

Caveat, stated in the docs too: both students train the same 60 epochs. The scratch student
stopped early at its best validation epoch would do nearly as well; here distillation works
as a regularizer that needs no early stopping, as in Hinton et al.'s MNIST experiment.

    tinylab bench kd [--json] [--write] [--select]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402

# Chosen on the validation split (see --select and the docstring); the test split plays no part.
STUDENT = "small16"       # 64-16-10; see tinylab.models.ARCHITECTURES for why
TEMPERATURE = 4.0
ALPHA = 0.9
EPOCHS = 60
LEARNING_RATE = 1e-2      # at 1e-3 the small students still learn after 120 epochs
GOAL_GAP_CLOSED = 0.75   # Hinton et al. closed 91% on MNIST
SEEDS = tuple(range(10))   # each seed also draws its own split

# The validation sweep behind those choices (--select).
SELECT_TEMPERATURES = (2.0, 4.0, 8.0)
SELECT_ALPHAS = (0.5, 0.9)
SELECT_SEEDS = (0, 1, 2)


def _setup(seed: int):
    import tinylab as tl

    data = tl.data.load("digits", seed=seed)
    teacher = tl.models.build("mlp300", data.input_shape, data.n_classes, seed=seed)
    tl.train.fit(teacher, data, epochs=tl.models.ARCHITECTURES["mlp300"]["epochs"], seed=seed,
                 progress=False)
    return tl, data, teacher


def run_seed(seed: int) -> dict:
    """Teacher, scratch student and distilled student for one seed; test and val accuracy."""
    tl, data, teacher = _setup(seed)
    scratch = tl.models.build(STUDENT, data.input_shape, data.n_classes, seed=seed)
    tl.train.fit(scratch, data, epochs=EPOCHS, learning_rate=LEARNING_RATE, seed=seed,
                 progress=False)
    distilled = tl.models.build(STUDENT, data.input_shape, data.n_classes, seed=seed)
    tl.distill.distill(distilled, teacher, data, temperature=TEMPERATURE, alpha=ALPHA,
                       epochs=EPOCHS, learning_rate=LEARNING_RATE, seed=seed, progress=False)
    result = {"seed": seed, "test_examples": len(data.y_test)}
    for name, model in (("teacher", teacher), ("scratch", scratch), ("distilled", distilled)):
        predictions = tl.train.predict_classes(model, data.X_test)
        result[f"{name}_test_errors"] = int(np.sum(predictions != data.y_test))
        result[f"{name}_test_accuracy"] = float(np.mean(predictions == data.y_test))
        result[f"{name}_val_accuracy"] = tl.train.accuracy(model, data.X_val, data.y_val)
    result["student_params"] = tl.models.count_params(scratch)
    result["teacher_params"] = tl.models.count_params(teacher)
    return result


def summarize(runs: list) -> dict:
    def stats(key):
        values = np.array([r[key] for r in runs], dtype=float)
        return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}

    summary = {name: {"test_accuracy": stats(f"{name}_test_accuracy"),
                      "test_errors": stats(f"{name}_test_errors"),
                      "val_accuracy": stats(f"{name}_val_accuracy")}
               for name in ("teacher", "scratch", "distilled")}
    errors = {name: summary[name]["test_errors"]["mean"] for name in summary}
    gap = errors["scratch"] - errors["teacher"]
    summary["gap_closed"] = (errors["scratch"] - errors["distilled"]) / gap if gap > 0 else None
    summary["goal_gap_closed"] = GOAL_GAP_CLOSED
    summary["goal_met"] = summary["gap_closed"] is not None and summary["gap_closed"] >= GOAL_GAP_CLOSED
    # The same share on the validation split, which chose T and alpha: biased upwards, shown
    # only to compare with the test number.
    val = {name: summary[name]["val_accuracy"]["mean"] for name in ("teacher", "scratch", "distilled")}
    val_gap = val["teacher"] - val["scratch"]
    summary["val_gap_closed"] = (val["distilled"] - val["scratch"]) / val_gap if val_gap > 0 else None
    return summary


def select(progress=print) -> dict:
    """Validation accuracy of the scratch and distilled student for each (T, alpha)."""
    scores = {"scratch": []}
    for seed in SELECT_SEEDS:
        tl, data, teacher = _setup(seed)
        scratch = tl.models.build(STUDENT, data.input_shape, data.n_classes, seed=seed)
        tl.train.fit(scratch, data, epochs=EPOCHS, learning_rate=LEARNING_RATE, seed=seed,
                     progress=False)
        scores["scratch"].append(tl.train.accuracy(scratch, data.X_val, data.y_val))
        for temperature in SELECT_TEMPERATURES:
            for alpha in SELECT_ALPHAS:
                student = tl.models.build(STUDENT, data.input_shape, data.n_classes, seed=seed)
                tl.distill.distill(student, teacher, data, temperature=temperature, alpha=alpha,
                                   epochs=EPOCHS, learning_rate=LEARNING_RATE, seed=seed,
                                   progress=False)
                key = f"T={temperature:g} alpha={alpha:g}"
                scores.setdefault(key, []).append(tl.train.accuracy(student, data.X_val, data.y_val))
        progress(f"selection seed {seed} done", file=sys.stderr)
    return {key: float(np.mean(values)) for key, values in scores.items()}


def write_docs(summary: dict, runs: list, machine: dict, target: Path, seconds: float) -> None:
    rows = []
    for name, label in (("teacher", "teacher mlp300 (64-300-100-10)"),
                        ("scratch", f"student {STUDENT}, from scratch"),
                        ("distilled", f"student {STUDENT}, distilled")):
        s = summary[name]
        rows.append([label, f"{s['test_accuracy']['mean']:.2%} ± {s['test_accuracy']['std']:.2%}",
                     f"{s['test_errors']['mean']:.1f} of {runs[0]['test_examples']}",
                     f"{s['val_accuracy']['mean']:.2%}"])
    closed = summary["gap_closed"]
    closed_text = "n/a (no gap)" if closed is None else f"{closed:.0%}"
    verdict = "reached" if closed is not None and closed >= GOAL_GAP_CLOSED else "not reached"
    body = (
        f"{measured_on(machine)}, "
        f"{len(runs)} seeds ({', '.join(str(r['seed']) for r in runs)}), {seconds:.0f} s in all.\n"
        f"Student `{STUDENT}` ({runs[0]['student_params']:,} parameters vs the teacher's "
        f"{runs[0]['teacher_params']:,}); T = {TEMPERATURE:g}, alpha = {ALPHA:g} (weight of the "
        f"soft loss, which is scaled by T²), {EPOCHS} epochs, Adam {LEARNING_RATE:g}, for both "
        f"the scratch and the distilled student.\n\n"
        + markdown_table(["model", "test accuracy (mean ± std)", "test errors (mean)",
                          "val accuracy (mean)"], rows)
        + f"\n\n**Share of the teacher-scratch gap closed by distillation (in test errors): "
          f"{closed_text}** (goal: at least 75%; {verdict}). The gap itself is small: "
          f"{summary['scratch']['test_errors']['mean'] - summary['teacher']['test_errors']['mean']:.1f} "
          f"test errors of {runs[0]['test_examples']} (seed-to-seed standard deviation of the "
          f"scratch student: {summary['scratch']['test_errors']['std']:.1f} errors). On the "
          f"validation split, which chose T and alpha (and can flatter them), the same runs close "
          f"{summary['val_gap_closed']:.0%}. Each seed draws its own split of the digits, so the "
          f"table averages over {len(runs)} different test sets of {runs[0]['test_examples']}.\n\n"
          f"T, alpha, epochs and the learning rate were chosen on the validation split only "
          f"(`tinylab bench kd --select`: mean validation accuracy over seeds "
          f"{', '.join(map(str, SELECT_SEEDS))} for T in {list(SELECT_TEMPERATURES)} x alpha in "
          f"{list(SELECT_ALPHAS)}, and the 8-unit `tiny` student, which distillation barely helped); the "
          f"test split was read once, for this table. Both students train the same {EPOCHS} "
          f"epochs: alone, the 16-unit student overfits after about 15 epochs, and the teacher's "
          f"soft targets act as a regularizer that needs no early stopping (the scratch student "
          f"stopped at its best validation epoch comes close).\n\n"
          f"Also tried, scored on validation only (seeds 0-2) and not adopted: a larger transfer "
          f"set for the distilled student, queried from the teacher: all 9 one-pixel shifts of "
          f"each training digit (the 16-unit student cannot fit them: 90% for both), 4 noisy "
          f"copies (sigma 0.15; distilled 97.2% vs 96.7% for a scratch student on the same "
          f"copies), 4 mixup copies (96.8%).")
    write_section("kd", body, target, title="Knowledge distillation (lesson 03)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="(always on) print the JSON result")
    parser.add_argument("--write", type=Path, help="rewrite the kd section of this file")
    parser.add_argument("--select", action="store_true",
                        help="run the validation sweep that chose T and alpha (no test numbers)")
    args = parser.parse_args(argv)
    if args.select:
        print(json.dumps({"benchmark": "kd-select", "student": STUDENT, "epochs": EPOCHS,
                          "learning_rate": LEARNING_RATE,
                          "val_accuracy": select(progress=print)}, indent=2))
        return 0
    start = time.perf_counter()
    runs = []
    for seed in SEEDS:
        runs.append(run_seed(seed))
        print(f"seed {seed}: teacher {runs[-1]['teacher_test_errors']}, scratch "
              f"{runs[-1]['scratch_test_errors']}, distilled {runs[-1]['distilled_test_errors']} "
              f"test errors", file=sys.stderr)
    seconds = time.perf_counter() - start
    summary = summarize(runs)
    machine = current_machine()
    print(json.dumps({"benchmark": "kd", "machine": machine,
                      "config": {"student": STUDENT, "teacher": "mlp300", "temperature": TEMPERATURE,
                                 "alpha": ALPHA, "epochs": EPOCHS, "learning_rate": LEARNING_RATE,
                                 "seeds": list(SEEDS)},
                      "summary": summary, "runs": runs, "seconds": round(seconds, 1)}, indent=2))
    if args.write:
        write_docs(summary, runs, machine, args.write, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
