"""Benchmark: lesson 09's motion models on BasicMotions, cross-validated float, int8 and on the board.

5-fold cross-validation of BasicMotions' 80 real smartwatch recordings, with lesson 09's
recipe (:data:`tinylab.motion.RECIPE`, :class:`tinylab.motion.FoldScorer`), for each fold
seed given:

- the MLP (600-16-4) on the recordings alone (as many optimizer steps), float only;
- the MLP trained on augmented copies, float and int8, run on the board in ``int8``;
- the same MLP pruned to 80% (:func:`tinylab.motion.prune`), float and int8, run on the board
  in the ``sparse`` format (what lesson 09 deploys);
- the Conv1D model on the recordings alone, float only;
- the Conv1D model trained on augmented copies, float and int8, run on the board in ``int8``.

"On the board": each fold's int8 model is compiled with that fold's per-channel
standardization built in (``tl.engine.raw_input``), and the fold's held-out recordings go to
the virtual Uno as raw readings (``W`` lines), so every recording is classified on the chip
exactly once per seed; the board's outputs are compared with the host's integer reference byte
for byte. Flash, RAM (static + stack peak) and cycles per recording come from the same runs.

Prints one JSON object; ``--write`` rewrites the motion section of docs/benchmarks.md.

    python bench/motion.py [--seeds 0 1 2] [--write]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import arguments, markdown_table, report, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402

#: label -> (architecture, augment, sparsity, int8, board format or None)
RECIPES = {
    "MLP, no augmentation": ("imu_mlp", False, None, False, None),
    "MLP, augmented": ("imu_mlp", True, None, True, "int8"),
    "MLP, augmented, pruned 80%": ("imu_mlp", True, 0.8, True, "sparse"),
    "CNN, no augmentation": ("imu_cnn", False, None, False, None),
    "CNN, augmented": ("imu_cnn", True, None, True, "int8"),
}
K = 5


def on_board(scorer, format: str) -> dict:
    """Every fold's held-out recordings, raw, through its own firmware on the virtual Uno."""
    from tinylab import deploy, engine

    correct = total = exact = 0
    flash, ram, cycles = [], [], []
    for fold in scorer.folds:
        raw_input = engine.raw_input(fold.integer_model, fold.normalization)
        firmware = deploy.build_firmware(fold.integer_model, format, raw_input=raw_input)
        run = deploy.run_on_board(fold.integer_model, firmware, fold.X_test_raw, fold.y_test,
                                  progress=False, format=format, raw_input=raw_input)
        correct += int(round(run.board_accuracy * run.examples))
        exact += int(round(run.bit_exact * run.examples))
        total += run.examples
        flash.append(run.flash_bytes)
        ram.append(run.ram_peak_bytes)
        cycles.append(run.cycles_mean)
    return {"board_correct": correct, "board_total": total, "board_accuracy": correct / total,
            "bit_exact": exact / total, "flash_bytes": int(max(flash)),
            "ram_peak_bytes": int(max(ram)), "cycles_mean": float(np.mean(cycles))}


def run(seeds) -> dict:
    import tinylab as tl

    X, y, class_names, _ = tl.data.basicmotions_recordings()
    rows = {}
    for label, (architecture, augment, sparsity, int8, board) in RECIPES.items():
        per_seed = []
        for seed in seeds:
            scorer = tl.motion.FoldScorer(architecture, len(class_names), augment=augment,
                                          sparsity=sparsity, int8=int8, seed=seed)
            started = time.perf_counter()
            cv = tl.crossval.cross_validate(X, y, scorer, k=K, seed=seed, standardize=False)
            entry = {"seed": seed, "seconds": round(time.perf_counter() - started, 1),
                     **cv.table()}
            if board:
                entry["board"] = on_board(scorer, board)
            per_seed.append(entry)
            print(f"{label}, seed {seed}: " + ", ".join(
                f"{name} {cv.mean(name):.1%}" for name in cv.names)
                + (f", board {entry['board']['board_accuracy']:.1%}" if board else ""),
                file=sys.stderr)
        rows[label] = {"architecture": architecture, "augment": augment, "sparsity": sparsity,
                       "format": board, "seeds": per_seed}
    return {"recipes": rows}


def pooled(seeds: list, name: str) -> tuple:
    """(correct, total) over every seed's held-out predictions of score ``name``."""
    correct = sum(entry[name]["pooled_correct"] for entry in seeds)
    total = sum(entry[name]["pooled_total"] for entry in seeds)
    return correct, total


def write(result: dict, target: Path) -> None:
    from tinylab.crossval import t_interval, wilson_interval

    settings = result["settings"]
    lines = [f"{measured_on(result['machine'])}. `python bench/motion.py` "
             f"(seeds {', '.join(map(str, settings['seeds']))}): {settings['k']}-fold "
             f"cross-validation of BasicMotions' 80 real smartwatch recordings (100 x 6 at 10 Hz), "
             f"with lesson 09's recipe (`tl.motion.RECIPE` = {settings['recipe']}); each fold "
             f"standardized on its own training part. Each seed makes its own folds and "
             f"initial weights. Per model: the mean accuracy over all seeds' folds, Student's t "
             f"95% interval over those folds, and the held-out predictions pooled over seeds "
             f"(each recording once per seed) with their Wilson 95% interval.",
             "",
             "On the board: each fold's int8 model compiled with its fold's standardization "
             "built in, the held-out recordings sent to the virtual Uno as raw readings (`W` "
             "lines) and its outputs compared with the host's integer reference. Flash and RAM "
             "(static + measured stack peak) are the largest over the folds' firmwares; cycles "
             "the mean per recording.",
             ""]
    header = ["model", "score", "mean over folds", "t 95%", "pooled right", "Wilson 95%"]
    table = []
    for label, row in result["recipes"].items():
        seeds = row["seeds"]
        names = [n for n in seeds[0] if isinstance(seeds[0][n], dict) and "folds" in seeds[0][n]]
        for name in names:
            folds = [v for entry in seeds for v in entry[name]["folds"]]
            low, high = t_interval(folds)
            correct, total = pooled(seeds, name)
            w_low, w_high = wilson_interval(correct, total)
            table.append([label, name, f"{np.mean(folds):.1%}",
                          f"{max(low, 0):.1%} - {min(high, 1):.1%}", f"{correct} / {total}",
                          f"{w_low:.1%} - {w_high:.1%}"])
        if row["format"]:
            boards = [entry["board"] for entry in seeds]
            correct = sum(b["board_correct"] for b in boards)
            total = sum(b["board_total"] for b in boards)
            w_low, w_high = wilson_interval(correct, total)
            table.append([label, f"board ({row['format']}, raw inputs)", f"{correct / total:.1%}",
                          "", f"{correct} / {total}", f"{w_low:.1%} - {w_high:.1%}"])
    lines += [markdown_table(header, table), ""]
    header = ["model", "format", "flash B", "RAM B (static + stack)", "cycles / recording",
              "ms at 16 MHz", "outputs bit-exact"]
    table = []
    for label, row in result["recipes"].items():
        if not row["format"]:
            continue
        boards = [entry["board"] for entry in row["seeds"]]
        cycles = float(np.mean([b["cycles_mean"] for b in boards]))
        exact = float(np.mean([b["bit_exact"] for b in boards]))
        table.append([label, row["format"], f"{max(b['flash_bytes'] for b in boards):,}",
                      f"{max(b['ram_peak_bytes'] for b in boards):,}", f"{cycles:,.0f}",
                      f"{cycles / 16e3:.1f}", f"{exact:.0%}"])
    lines += [markdown_table(header, table), "",
              "The archive does not say which of its four people made each recording, so the "
              "folds cannot be grouped by person: these accuracies are for people the models "
              "have seen, and a new wearer would likely score lower."]
    write_section("motion", "\n".join(lines), target,
                  title="Motion models on BasicMotions (lesson 09)")


def main(argv=None) -> int:
    parser = arguments(__doc__, "motion")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    import tinylab as tl

    result = {"benchmark": "motion", "machine": current_machine(),
              "settings": {"seeds": args.seeds, "k": K, "recipe": tl.motion.RECIPE,
                           "prune_sparsity": tl.motion.PRUNE_SPARSITY},
              **run(args.seeds)}
    return report(result, args.write, write)


if __name__ == "__main__":
    sys.exit(main())
