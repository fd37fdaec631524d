"""Record datasets/gestures/ again, from the virtual Uno's simulated IMU.

    .venv/bin/python datasets/gestures/record.py            # ~20 s at --speed 0 (flat out)
    .venv/bin/python datasets/gestures/record.py --speed 1  # real time: ~4 x 61 s

What it does, with TinyLab's own capture (tinylab.capture) and board session (tinylab.session):

1. compiles boards/sketches/capture_sim for the Uno and checks it fits;
2. starts one virtual Uno and, for each gesture, records a stream of rows with
   ``capture.record(port, raw.csv, rows=..., label=gesture, commands=["G <gesture>"])``
   (each recording opens the port, which resets the board, exactly as ``tinylab capture
   --port virtual --rows N --label punch --command "G punch"`` does);
3. drops the first SKIP_ROWS rows of each recording (the rows sent before the board received
   ``G <gesture>`` are still idle), then cuts the rest into non-overlapping 50-row (1 s)
   windows with ``capture.windows`` (step 50: no row is in two windows, so the train/test
   split shares no data);
4. checks the stream is intact (no rejected lines, and every punch/wave window has its
   gesture at the same row: a lost or doubled row would shift it);
5. writes data.csv, meta.json and README.md with ``capture.save_dataset``, then rewrites
   data.csv with the sketch's own decimals (3 for g, 1 for deg/s) to keep it small, and
   README.md with the full description.

The simulator's noise comes from a fixed seed at reset (the sketch has no seed command), so a
new recording gives the same kind of rows, not necessarily byte-identical ones: where in the
stream the ``G`` command lands depends on host timing. Within one recording every 1-s
repetition has fresh noise and a fresh amplitude (0.8..1.2), so the windows differ.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from tinylab import build, capture  # noqa: E402
from tinylab.session import BoardSession  # noqa: E402

NAME = "gestures"
GESTURES = ("idle", "punch", "flex", "wave")
WINDOW_ROWS = 50          # 1 s at 50 Hz: one repetition of a simulated gesture
WINDOWS_PER_CLASS = 60
ATTEMPTS = 3              # recordings with a rejected line are made again
SKIP_ROWS = 50            # the first second of each recording is dropped
DECIMALS = {"g": 3, "dps": 1}  # as the sketch prints them
SKETCH = ROOT / "boards" / "sketches" / "capture_sim"
COMMAND = ".venv/bin/python datasets/gestures/record.py"


def _phase(X, gesture, columns):
    """Row of each window where the gesture shows a fixed landmark (None for idle and flex)."""
    if gesture == "punch":   # the thrust: the first row with ax above 1 g
        return (X[:, :, columns.index("ax")] > 1.0).argmax(axis=1)
    if gesture == "wave":    # gz = peak * cos(4 pi t): the first negative row after a positive one
        gz = X[:, :, columns.index("gz")]
        after_positive = np.arange(X.shape[1])[None, :] > (gz > 0).argmax(axis=1)[:, None]
        return ((gz < 0) & after_positive).argmax(axis=1)
    return None


def _read_rows(path):
    """The rows of a recording: float32 (n_rows, n_channels), labels, column names."""
    with Path(path).open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    columns = header[:-1]
    values = np.asarray([[float(v) for v in row[:-1]] for row in rows], dtype=np.float32)
    return values, np.asarray([row[-1] for row in rows]), columns


def record_all(speed: float, windows_per_class: int, raw_dir: Path):
    firmware = build.compile_sketch(SKETCH, board="uno")
    rows = SKIP_ROWS + windows_per_class * WINDOW_ROWS
    Xs, ys, summaries = [], [], []
    started = time.monotonic()
    with BoardSession(firmware, speed=speed) as session:
        for gesture in GESTURES:
            out = raw_dir / f"{gesture}.csv"
            for attempt in range(1, ATTEMPTS + 1):
                out.unlink(missing_ok=True)
                summary = capture.record(session.port, out, rows=rows, label=gesture,
                                         commands=[f"G {gesture}"], progress=False)
                print(summary.to_text(), file=sys.stderr)
                if summary.exit_status != 0 or summary.rows_kept != rows:
                    raise SystemExit(f"recording {gesture} ended {summary.ended!r}: "
                                     f"{summary.message}")
                # A rejected line is a lost row: the stream is no longer one row per 20 ms.
                if not any(summary.rejected.values()) and not summary.board_messages:
                    break
                print(f"{gesture}: lines rejected {summary.rejected} {summary.board_messages}; "
                      f"recording again ({attempt}/{ATTEMPTS})", file=sys.stderr)
            else:
                raise SystemExit(f"recording {gesture} kept losing lines; try --speed 1")
            values, labels, columns = _read_rows(out)
            X, y = capture.windows(values[SKIP_ROWS:], WINDOW_ROWS, WINDOW_ROWS,
                                   labels=labels[SKIP_ROWS:])
            phase = _phase(X, gesture, columns)
            if phase is not None and len(set(phase.tolist())) != 1:
                raise SystemExit(f"{gesture}: the gesture moves within the stream (rows at "
                                 f"{sorted(set(phase.tolist()))}): rows were lost or doubled")
            Xs.append(X)
            ys.append(y)
            summaries.append(summary)
    elapsed = time.monotonic() - started
    return np.concatenate(Xs), np.concatenate(ys), summaries, columns, elapsed


def _fmt(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def write_compact_csv(folder: Path, X, y, columns, units) -> None:
    """data.csv as save_dataset lays it out, with the sketch's decimals instead of float32 reprs."""
    decimals = [DECIMALS[units[c]] for c in columns]
    per_value = decimals * X.shape[1]  # row-major (t, channel)
    features = [f"{c}_{t}" for t in range(X.shape[1]) for c in columns]
    with (folder / "data.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(features + [capture.LABEL_COLUMN])
        for window, label in zip(X, y):
            writer.writerow([_fmt(float(v), d) for v, d in zip(window.reshape(-1), per_value)]
                            + [label])


README = """# gestures (simulated)

**Simulated data.** {n} windows of IMU readings from the *simulated* 6-axis IMU of TinyLab's
`capture_sim` sketch (`boards/sketches/capture_sim/`, `sim_imu.cpp`) running on the virtual
Arduino Uno (simavr), recorded with TinyLab's own capture (`tinylab.capture.record`). No real
sensor or person was involved: the gestures are synthetic shapes plus noise, made to be told
apart by a small classifier, not to match a real accelerometer. `meta.json` says
`"simulated": true`.

- Classes: {counts}.
- One example = one window of {rows} rows (1 s at {rate:g} Hz) x 6 channels
  `ax, ay, az` (acceleration, g, 3 decimals) and `gx, gy, gz` (rotation rate, deg/s,
  1 decimal). Sensor range: +-16 g and +-2000 deg/s (the simulator clips there).
- Values are raw (normalization offset 0, scale 1); observed range {low:g} .. {high:g}.
  `tl.data.load("gestures")` standardizes each channel with the mean and standard
  deviation of its training split (`tinylab.data.standardize_channels`, recorded in
  `Dataset.normalization`), so that one int8 input scale serves g and deg/s alike;
  `tl.data.load_recorded` gives the raw values.
- Recorded {date} on board `{board}`, sensor `{sensor}`.

## Schema

`data.csv`: one window per row; columns `ax_0, ay_0, az_0, gx_0, gy_0, gz_0, ax_1, ...,
gz_{last}` (row-major order of shape ({rows}, 6): time step, then channel), then `label`
(the class name). `meta.json`: the keys of datasets/README.md (`input_shape` `[{rows}, 6]`,
`class_names`, `feature_columns`, `normalization`, `provenance` with board, sensor,
sample rate, units, `simulated`, date and the command).

```python
import tinylab as tl
data = tl.data.load("gestures")   # Dataset, input_shape (50, 6), 4 classes, standardized
raw = data.raw(data.X_train)      # back to g and deg/s
```

## How it was recorded

`record.py` (beside this file) compiles `capture_sim` for the Uno, starts one virtual Uno at
`speed=0` (simulated time runs as fast as the host allows, ~15x real time here; the rows
and their timing in simulated time are the same as at `speed=1`), and for each gesture calls

```python
capture.record(board.port, "<gesture>.csv", rows={total_rows}, label="<gesture>",
               commands=["G <gesture>"])
```

which is what `tinylab capture --port virtual --rows {total_rows} --label punch --command "G punch"
--out punch.csv` does from the command line. Opening the port resets the board; the first
{skip} rows of each recording (sent before `G <gesture>` took effect) are dropped, and the
rest is cut into non-overlapping {rows}-row windows with `capture.windows(..., length={rows},
step={rows})`, so no row is in two examples. The script checks that no line was rejected and
that every punch and wave window has its gesture at the same row (a lost or doubled row would
shift it), then writes the folder with `capture.save_dataset` and rewrites `data.csv` with the
sketch's decimals (save_dataset writes float32 reprs, ~3x larger).

Each 1-s repetition gets fresh noise (about normal, sigma 0.02 g and 1 deg/s) and a random
amplitude (0.8..1.2). Within a recording the gesture's phase in the window is fixed (it
depends on when the command arrived), so windows of a class are aligned alike; real
recordings would not be. The simulator's noise generator has a fixed seed at reset and the
sketch has no seed command, so every recording starts from the same random state; recording
again gives data of the same kind, usually not byte-identical (where the `G` command lands in
the stream depends on host timing).

## Record it again

From the repository root (needs avr-gcc and simavr, as for the virtual Uno):

```
{command}
```

Options: `--speed 1` records in real time (~{minutes:.0f} min), `--windows N` per class,
`--raw-dir DIR` keeps the raw per-gesture recordings (CSV rows + label), `--root DIR` writes
`DIR/gestures/` instead of this folder.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", type=float, default=0.0,
                        help="virtual Uno speed: 0 = flat out (default), 1 = real time")
    parser.add_argument("--windows", type=int, default=WINDOWS_PER_CLASS,
                        help=f"windows per class (default {WINDOWS_PER_CLASS})")
    parser.add_argument("--raw-dir", type=Path, help="keep the raw recordings here")
    parser.add_argument("--root", type=Path, default=HERE.parent,
                        help="where to write gestures/ (default: the repository's datasets/)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tinylab-gestures-") as scratch:
        raw_dir = args.raw_dir or Path(scratch)
        raw_dir.mkdir(parents=True, exist_ok=True)
        X, y, summaries, columns, elapsed = record_all(args.speed, args.windows, raw_dir)

    first = summaries[0]
    meta = first.meta()
    units = meta["units"]
    # The values as stored (rounded to the sketch's decimals; they already are, float32 aside).
    X = np.stack([np.round(X[..., i], DECIMALS[units[c]]) for i, c in enumerate(columns)], axis=-1)
    total_rows = SKIP_ROWS + args.windows * WINDOW_ROWS
    meta.update(
        command=COMMAND + ("" if args.windows == WINDOWS_PER_CLASS else f" --windows {args.windows}"),
        cli_equivalent=(f'tinylab capture --port virtual --rows {total_rows} --label <gesture> '
                        f'--command "G <gesture>" --out <gesture>.csv  (per gesture; then drop '
                        f'the first {SKIP_ROWS} rows, windows(length={WINDOW_ROWS}, '
                        f'step={WINDOW_ROWS}))'),
        sketch="boards/sketches/capture_sim",
        sensor_range={"g": 16, "dps": 2000},
        decimals={c: DECIMALS[units[c]] for c in columns},
        recording={"virtual_speed": args.speed, "rows_per_gesture": total_rows,
                   "skipped_rows": SKIP_ROWS, "window_step": WINDOW_ROWS,
                   "wall_seconds": round(elapsed, 1)},
        notes="simulated IMU (sim_imu.cpp) on the virtual Uno, not a real sensor")
    folder = capture.save_dataset(X, y, NAME, meta, columns=columns, root=args.root,
                                  overwrite=True)
    write_compact_csv(folder, X, y, columns, units)
    doc = json.loads((folder / "meta.json").read_text())
    classes = doc["class_names"]
    counts = ", ".join(f"{c} {int((y == c).sum())}" for c in classes)
    (folder / "README.md").write_text(README.format(
        n=len(X), counts=counts, rows=WINDOW_ROWS, rate=meta["sample_rate_hz"],
        low=doc["normalization"]["raw_range"][0], high=doc["normalization"]["raw_range"][1],
        date=doc["provenance"]["date"], board=meta["board"], sensor=meta["sensor"],
        last=WINDOW_ROWS - 1, total_rows=total_rows, skip=SKIP_ROWS, command=COMMAND,
        minutes=len(GESTURES) * total_rows / meta["sample_rate_hz"] / 60))
    size = (folder / "data.csv").stat().st_size
    print(f"wrote {folder}: {len(X)} windows ({counts}), data.csv {size / 1024:.0f} KB, "
          f"recorded in {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
