"""Benchmark: the whole deep-compression pipeline on the digits, and the TFLite int8 route.

Headline (issue 4): the 64-300-100-10 digits MLP (``mlp300``, LeNet-300-100's shape)
compressed at least 40x against float32 with at most 0.5 pp of test-accuracy loss; with
distillation first, at least 100x against the teacher with at most 1 pp.

How: ``tinylab.pipeline.run`` (prune + retrain, dead units removed, k-means weight sharing with
fine-tuned centroids, Huffman coding of codebook indices and index gaps; the bytes are the
model's data in the board's flash, each stage converted to int8 and counted by
``tinylab.engine.model_storage``). The settings of each route are **chosen on the
validation split** (seed 0) among ``CANDIDATES``: the smallest model whose validation
accuracy is within the goal's loss of the float32 model's; then the chosen settings run with
seeds ``SEEDS`` and only then is the test split read.

Beside it, TensorFlow Lite: the teacher and the smallest compressed model converted to float,
dynamic-range and full-int8 ``.tflite`` (``tinylab.convert.report``): bytes, gzip bytes, the
tflite-micro arena, accuracy in tflite-micro and LiteRT, agreement with Keras.

    tinylab bench quantize [--json] [--write]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import arguments, markdown_table, report, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402

SEEDS = (0, 1, 2)
ROUTES = {
    "prune + share + Huffman": {
        "goal_ratio": 40, "goal_loss_pp": 0.5,
        "candidates": [
            {"sparsity": 0.9, "bits": 5},
            {"sparsity": 0.9, "bits": 4},
            {"sparsity": 0.93, "bits": 4},
            {"sparsity": {"dense_1": 0.9, "dense_2": 0.96, "logits": 0.8}, "bits": 4},
            {"sparsity": {"dense_1": 0.9, "dense_2": 0.96, "logits": 0.8}, "bits": 5},
            {"sparsity": {"dense_1": 0.88, "dense_2": 0.97, "logits": 0.7}, "bits": 4},
            {"sparsity": {"dense_1": 0.85, "dense_2": 0.98, "logits": 0.6}, "bits": 4},
        ]},
    "distill + prune + share + Huffman": {
        "goal_ratio": 100, "goal_loss_pp": 1.0,
        "candidates": [
            {"student": "small16", "sparsity": 0.5, "bits": 4},
            {"student": "small16", "sparsity": 0.5, "bits": 5},
            {"student": "small16", "sparsity": 0.7, "bits": 4},
            {"student": "student", "sparsity": 0.7, "bits": 4},
            {"student": "student", "sparsity": 0.75, "bits": 4},
            {"student": "student", "sparsity": 0.8, "bits": 4},
        ]},
}


def _run(settings, seed, data):
    from tinylab import pipeline

    return pipeline.run(data, model="mlp300", seed=seed, progress=False, **settings)


def _summary(result) -> dict:
    first, last = result.stages[0], result.stages[-1]
    return {"ratio": last["ratio"], "bytes": last["bytes"],
            "val_loss_pp": 100 * (first["val_accuracy"] - last["val_accuracy"]),
            "test_loss_pp": 100 * (first["test_accuracy"] - last["test_accuracy"]),
            "float_test_accuracy": first["test_accuracy"], "test_accuracy": last["test_accuracy"],
            "stages": result.stages}


def choose(route: dict, data) -> tuple:
    """Score every candidate on validation (seed 0); the smallest within the goal's loss."""
    scored = []
    for settings in route["candidates"]:
        result = _run(settings, 0, data)
        first, last = result.stages[0], result.stages[-1]
        scored.append({"settings": settings, "ratio": last["ratio"],
                       "val_loss_pp": 100 * (first["val_accuracy"] - last["val_accuracy"])})
        print(f"  candidate {settings}: {last['ratio']:.1f}x, validation loss "
              f"{scored[-1]['val_loss_pp']:+.2f} pp", file=sys.stderr)
    within = [s for s in scored if s["val_loss_pp"] <= route["goal_loss_pp"] + 1e-9]
    chosen = max(within, key=lambda s: s["ratio"]) if within else min(
        scored, key=lambda s: s["val_loss_pp"])
    return chosen["settings"], scored


def tflite_rows(result, data) -> list:
    from tinylab import convert, train

    teacher = train.load_or_train("mlp300", data, seed=0, progress=False)
    rows = []
    for label, model in (("teacher mlp300", teacher), ("compressed (distilled route)", result.model)):
        for row in convert.report(model, data):
            rows.append({"model": label, **{k: v for k, v in row.items() if k != "unsupported"},
                         "unsupported": {k: str(v) for k, v in row["unsupported"].items()}})
    return rows


def run() -> dict:
    import tinylab as tl

    data = tl.data.load("digits", seed=0)
    out = {"routes": {}}
    smallest = None
    for name, route in ROUTES.items():
        print(f"{name}: choosing on validation", file=sys.stderr)
        settings, scored = choose(route, data)
        runs, seconds = [], []
        for seed in SEEDS:
            start = time.perf_counter()
            result = _run(settings, seed, data)
            seconds.append(time.perf_counter() - start)
            runs.append(_summary(result))
            if seed == SEEDS[0] and "student" in settings:
                smallest = result
        ratio = np.array([r["ratio"] for r in runs])
        loss = np.array([r["test_loss_pp"] for r in runs])
        out["routes"][name] = {
            "goal_ratio": route["goal_ratio"], "goal_loss_pp": route["goal_loss_pp"],
            "candidates": scored, "chosen": settings, "runs": runs,
            "ratio": {"mean": float(ratio.mean()), "std": float(ratio.std())},
            "test_loss_pp": {"mean": float(loss.mean()), "std": float(loss.std())},
            "seconds": {"mean": float(np.mean(seconds))},
            "goal_met": bool(ratio.mean() >= route["goal_ratio"]
                             and loss.mean() <= route["goal_loss_pp"])}
    out["tflite"] = tflite_rows(smallest, data)
    return out


def _settings_text(settings) -> str:
    parts = []
    for key, value in settings.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:g}" for k, v in value.items())
            parts.append(f"{key} ({value})")
        else:
            parts.append(f"{key} {value}")
    return "; ".join(parts)


def write_docs(result: dict, target: Path) -> None:
    machine = result["machine"]
    rows = []
    for name, route in result["routes"].items():
        first = route["runs"][0]
        rows.append([name, _settings_text(route["chosen"]),
                     f"{100 * np.mean([r['float_test_accuracy'] for r in route['runs']]):.2f}",
                     f"{100 * np.mean([r['test_accuracy'] for r in route['runs']]):.2f}",
                     f"{route['test_loss_pp']['mean']:+.2f} ± {route['test_loss_pp']['std']:.2f}",
                     f"{first['bytes']:,}",
                     f"{route['ratio']['mean']:.1f} ± {route['ratio']['std']:.1f}",
                     f"≥ {route['goal_ratio']}x at ≤ {route['goal_loss_pp']} pp",
                     "yes" if route["goal_met"] else "**no**"])
    stage_rows = []
    for name, route in result["routes"].items():
        for stage in route["runs"][0]["stages"]:
            stage_rows.append([name, stage["stage"], stage["model"],
                               f"{100 * stage['test_accuracy']:.2f}", f"{stage['bytes']:,}",
                               f"{stage['ratio']:.1f}x"])
    tflite = [[r["model"], r["mode"], f"{r['tflite_bytes']:,}", f"{r['gzip_bytes']:,}",
               "n/a" if r["arena_bytes"] is None else f"{r['arena_bytes']:,}",
               "n/a" if r["micro_accuracy"] is None else f"{100 * r['micro_accuracy']:.2f}",
               "n/a" if r["litert_accuracy"] is None else f"{100 * r['litert_accuracy']:.2f}",
               "n/a" if r["micro_agreement"] is None else f"{100 * r['micro_agreement']:.1f}"]
              for r in result["tflite"]]
    candidates = []
    for name, route in result["routes"].items():
        for c in route["candidates"]:
            candidates.append([name, _settings_text(c["settings"]), f"{c['ratio']:.1f}x",
                               f"{c['val_loss_pp']:+.2f}"])
    body = (
        f"{measured_on(machine)}; "
        f"digits split seed 0, seeds {list(SEEDS)}. Bytes are the model's data in the "
        f"board's flash (`tl.pipeline`, counted by `tl.engine.model_storage`): each stage "
        f"converted to int8, P and P+Q in the engine's sparse format, P+Q+H in its Huffman "
        f"format, with their codebooks, code tables, biases and requantization data (the "
        f"engine's code not included). Ratios are against the float32 teacher "
        f"(64-300-100-10, 202,440 bytes). Settings chosen on the validation split (seed 0), "
        f"candidates below.\n\n"
        + markdown_table(["route", "chosen settings", "float32 test %", "compressed test %",
                          "loss (pp, mean ± std)", "bytes (seed 0)", "ratio (mean ± std)",
                          "goal", "goal met"], rows)
        + "\n\nStage by stage (seed 0):\n\n"
        + markdown_table(["route", "stage", "model", "test %", "bytes", "vs float32"], stage_rows)
        + "\n\nDeep Compression (Han, Mao & Dally 2016, Table 2) on LeNet-300-100 / MNIST: 12x "
          "after pruning, 32x after weight sharing, 40x after Huffman coding, error 1.64% -> "
          "1.58% (weights only; biases not counted). Our 8x8 digits give a first layer of "
          "19,200 weights instead of 235,200, with less redundancy to remove.\n\n"
          "TensorFlow Lite, for comparison (the distilled route's compressed model is converted "
          "as plain dense weights: TFLite stores no sparsity or codebooks):\n\n"
        + markdown_table(["model", "mode", ".tflite bytes", "gzip bytes", "TFLM arena bytes",
                          "tflite-micro test %", "LiteRT test %", "agreement with Keras %"],
                         tflite)
        + "\n\nCandidates scored on validation (seed 0):\n\n"
        + markdown_table(["route", "settings", "ratio", "validation loss (pp)"], candidates)
        + "\n\nCommand: `tinylab bench quantize --json --write`.")
    write_section("quantize", body, target, title="Compression pipeline and TFLite (lessons 05-07)")


def main(argv=None) -> int:
    parser = arguments(__doc__, "quantize")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = {"benchmark": "quantize", "machine": current_machine(), **run()}
    result["seconds"] = round(time.perf_counter() - start, 1)
    return report(result, args.write, write_docs)


if __name__ == "__main__":
    sys.exit(main())
