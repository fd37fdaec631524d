"""The ``tinylab`` command.

Sub-commands now: ``lab`` (start JupyterLab on the welcome lesson), ``doctor`` (what this
machine has), ``pipeline`` (the whole compression pipeline and its table), ``deploy`` (a
model onto a real or virtual Arduino, the test set over serial), ``capture`` (sensor rows from
a board into a CSV file), ``virtual-uno`` (a virtual Uno with its bootloader, to upload to),
``app`` (serve the Voila apps), ``assignments`` (the lessons' graded
versions for nbgrader) and ``bench`` (run ``bench/NAME.py``):
each is one function ``_cmd_<name>(args)`` plus its parser in ``_parser()``.

Errors are handled in one place, :func:`main`: a :class:`tinylab.errors.TinyLabError` prints
``tinylab COMMAND: message`` and exits with its ``exit_code`` (1), a refused argument
(``ValueError``) exits 2 like argparse's own usage errors, Ctrl-C exits 130.
The exit codes are listed in :mod:`tinylab.errors`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from . import __version__, _paths
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, TinyLabError


def _checkout() -> Path | None:
    """The TinyLab checkout this package runs from (editable install), if any."""
    return _paths.checkout()


def _cmd_doctor(args) -> int:
    from . import doctor

    rep = doctor.report()
    print(json.dumps(rep, indent=2) if args.json else doctor.to_text(rep))
    return 0 if rep["ok"] else 1


def _cmd_lab(args) -> int:
    root = _checkout()
    if root is None:
        print("tinylab lab needs a TinyLab checkout (git clone, then `make lab`): the lessons "
              "live in its notebooks/ folder, which this installation does not have.",
              file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={root}",
               "--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb"]
    if args.port:
        command.append(f"--port={args.port}")
    if args.no_browser:
        command.append("--no-browser")
    if args.ip:
        command.append(f"--ip={args.ip}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab refuses root without this; containers and lab PCs set up as root need it.
        print("Running as root: passing --allow-root to JupyterLab.", flush=True)
        command.append("--allow-root")
    print("Starting JupyterLab on notebooks/00_welcome.ipynb (Ctrl-C twice to stop) ...", flush=True)
    os.execv(sys.executable, command)
    return 0  # not reached


def _count(text: str) -> int:
    """A whole number >= 0."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0 (e.g. 2)")
    return int(text)


def _port(text: str) -> int:
    """``--port``: an integer from 1 to 65535."""
    from . import app

    try:
        return app.check_port(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _pool(text: str):
    """``30`` (every app) or ``draw_digit=30`` (one app): preheated kernels."""
    name, _, size = text.rpartition("=")
    try:
        number = int(size)
        if number < 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a pool size: give a whole number of kernels >= 0 for every app "
            f"(--pool 30) or for one app (--pool draw_digit=30)") from None
    return (name.strip() or None, number)


def _cmd_app(args) -> int:
    from . import app

    try:
        directory = app.apps_dir(_checkout())
    except FileNotFoundError as error:
        print(f"tinylab app: {error}", file=sys.stderr)
        return 2
    names = app.list_apps(directory)
    pool = app.DEFAULT_POOL
    for name, size in args.pool or []:
        if name is None:
            pool = size
        else:
            pool = {**(pool if isinstance(pool, dict) else dict.fromkeys(names, pool)),
                    name: size}
    try:
        sizes = app.pools(names, pool)
    except ValueError as error:
        print(f"tinylab app: {error}", file=sys.stderr)
        return 2
    boards = app.DEFAULT_BOARDS if args.boards is None else args.boards
    port = args.port or app.first_free_port(app.DEFAULT_PORT)
    where = f"http://{args.ip or 'localhost'}:{port}/"
    preheated = ", ".join(f"{name.removesuffix('.ipynb')} {size}" for name, size in sizes.items())
    print(f"Starting Voila on notebooks/apps ({', '.join(names) or 'no apps yet'}) at {where}\n"
          f"  preheated kernels: {preheated}; shared virtual Unos per firmware: "
          f"{boards or 'none (one per visitor)'}\n  (Ctrl-C to stop) ...", flush=True)
    # A service manager's SIGTERM stops Voila, its kernels and the board server like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Voila, unlike JupyterLab, has no root check and no --allow-root: as root it starts as is.
    try:
        with app.serve(directory, port=port, ip=args.ip or "localhost", console=True,
                       pool=pool, boards=boards, startup_timeout_s=120) as server:
            server.process.wait()
    except KeyboardInterrupt:
        print("\nStopped: Voila, its kernels and the board server.", flush=True)
    except RuntimeError as error:
        print(f"tinylab app: {error}", file=sys.stderr)
        return 1
    return 0


def _sparsity(text: str):
    """``0.9`` or ``dense_1=0.88,dense_2=0.97``: one sparsity, or one per layer."""
    try:
        if "=" not in text:
            return float(text)
        pairs = [item.split("=") for item in text.split(",") if item.strip()]
        return {name.strip(): float(value) for name, value in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a sparsity: give a fraction such as 0.9, or layer=fraction pairs "
            f"such as dense_1=0.88,dense_2=0.97,logits=0.7") from None


def _cmd_pipeline(args) -> int:
    from . import data, pipeline

    dataset = data.load(args.dataset, seed=args.seed)
    result = pipeline.run(dataset, model=args.model, student=args.student,
                          temperature=args.temperature, alpha=args.alpha,
                          sparsity=args.sparsity, bits=args.bits,
                          fine_tune_epochs=args.fine_tune_epochs, seed=args.seed,
                          progress=not args.json)
    print(result.to_json() if args.json else result.to_text())
    return 0


#: ``tinylab deploy``'s model when --model is not given: lesson 02's student on the digits,
#: the IMU MLP (one hidden layer of 16 units, small enough for the Uno) on a dataset
#: standardized per channel, the student again on any other dataset.
DEFAULT_DEPLOY_MODEL = {"digits": "student", "per_channel": "imu_mlp", "other": "student"}


def _default_deploy_model(data) -> str:
    if data.name == "digits":
        return DEFAULT_DEPLOY_MODEL["digits"]
    if (data.normalization or {}).get("per_channel"):
        return DEFAULT_DEPLOY_MODEL["per_channel"]
    return DEFAULT_DEPLOY_MODEL["other"]


def _architecture_on(name: str, data):
    """Lesson architecture ``name`` trained on ``data``, from the workspace when it matches.

    On the digits it is the lessons' own model (``train.load_or_train``, saved as ``name``).
    On another dataset it is saved as ``<name>_<dataset>`` with its own card, so that it never
    replaces the model the digits lessons hand each other (a ``student`` trained on the
    gestures would otherwise overwrite lesson 02's).
    """
    from . import models, train, workspace

    if data.name == "digits":
        return train.load_or_train(name, data, progress=False)
    saved = f"{name}_{data.name}"
    epochs = int(models.ARCHITECTURES[name]["epochs"])
    card = train.model_card(name, data, epochs, 0)
    if workspace.reuse(saved, card):
        return workspace.load_model(saved)
    model = models.build(name, data.input_shape, data.n_classes, seed=0)
    train.fit(model, data, epochs=epochs, seed=0, progress=False)
    workspace.save_model(model, saved, dict(card, test_accuracy=train.accuracy(
        model, data.X_test, data.y_test), params=models.count_params(model)))
    return model


def _load_deploy_model(spec: str, data):
    """``--model``: a workspace model name, a .keras/.tflite file or a lesson architecture.

    An architecture name (``student``) means that architecture trained on ``data``
    (:func:`_architecture_on`); a workspace model made for another dataset is refused.
    """
    from . import engine, models, workspace

    path = Path(spec)
    if path.suffix == ".tflite":
        if not path.is_file():
            raise ValueError(f"no file {spec}")
        return engine.read_tflite(path.read_bytes())
    if path.suffix == ".keras":
        if not path.is_file():
            raise ValueError(f"no file {spec}")
        from ._tensorflow import keras
        return keras.models.load_model(path)
    if spec in models.ARCHITECTURES and (data.name != "digits" or not workspace.has_model(spec)):
        return _architecture_on(spec, data)
    if workspace.has_model(spec):
        made_on = workspace.load_card(spec).get("dataset")
        if made_on not in (None, data.name):
            raise ValueError(f"--model {spec!r} in the workspace was trained on {made_on!r}, not "
                             f"{data.name!r}: give --dataset {made_on}, or a model trained on "
                             f"{data.name!r}")
        return workspace.load_model(spec)
    saved = sorted(p.stem for p in workspace.path().glob("*.keras"))
    raise ValueError(f"--model {spec!r} is neither a .keras/.tflite file, a model in the "
                     f"workspace ({', '.join(saved) or 'none yet'}) nor one of "
                     f"{models.available()}")


def _cmd_deploy(args) -> int:
    from . import data, deploy, models

    if args.virtual == bool(args.port):
        raise ValueError("give --virtual (the simulated Uno) or --port PORT (a real board; "
                         "`tinylab doctor` lists the ports)")
    dataset = data.load(args.dataset)
    inputs = args.inputs or deploy.default_inputs(dataset)
    if inputs == "raw" and not (dataset.normalization or {}).get("per_channel"):
        raise ValueError(f"--inputs raw needs a dataset standardized per channel (an IMU's, e.g. "
                         f"gestures); {dataset.name!r} is normalized with one scale: use "
                         f"--inputs int8")
    spec = args.model or _default_deploy_model(dataset)
    if args.model is None and spec not in models.ARCHITECTURES:
        raise ValueError(f"the default model for {dataset.name!r}, {spec!r}, is not in this "
                         f"TinyLab's architectures ({models.available()}): give --model")
    model = _load_deploy_model(spec, dataset)
    report = deploy.deploy(model, dataset, format=args.format, board=args.board,
                           port=args.port, limit=args.limit, progress=not args.json,
                           inputs=inputs)
    print(report.to_json() if args.json else report.to_text())
    return 0


CAPTURE_SIM = _paths.SKETCHES_DIR / "capture_sim"


def _cmd_capture(args) -> int:
    from . import build, capture
    from .session import BoardSession

    simulated = args.port == "virtual"
    if simulated and not CAPTURE_SIM.is_dir():
        raise ValueError("the simulated capture sketch is missing: --port virtual needs "
                         "a TinyLab checkout (boards/sketches/capture_sim)")
    # the virtual Uno runs the simulated capture sketch; a real board runs its own, as flashed
    firmware = build.compile_sketch(CAPTURE_SIM, board="uno") if simulated else None
    with BoardSession(firmware, None if simulated else args.port, upload="never") as session:
        summary = capture.record(session.port, args.out, rows=args.rows, seconds=args.seconds,
                                 label=args.label, windows=args.windows,
                                 commands=list(args.command or []), progress=not args.json)
    print(summary.to_json() if args.json else summary.to_text())
    return summary.exit_status


def _cmd_bench(args) -> int:
    import subprocess

    root = _checkout()
    bench_dir = root / "bench" if root else None
    names = sorted(p.stem for p in bench_dir.glob("[a-z]*.py")) if bench_dir else []
    if args.name not in names:
        where = "" if bench_dir else " (benchmarks live in a TinyLab checkout's bench/ folder)"
        print(f"unknown benchmark {args.name!r}; choose one of {names}{where}", file=sys.stderr)
        return 2
    command = [sys.executable, str(bench_dir / f"{args.name}.py")]
    if args.json:
        command.append("--json")
    if args.write:
        command += ["--write", str(root / "docs" / "benchmarks.md")]
    return subprocess.call(command + list(args.rest))  # other options go to the benchmark


def _cmd_virtual_uno(args) -> int:
    from . import virtual

    if args.no_bootloader and args.firmware is None:
        raise ValueError("--no-bootloader runs a firmware alone: give FIRMWARE.elf (or leave "
                         "--no-bootloader out for an empty Uno that waits for an upload)")
    board = virtual.VirtualUno(args.firmware, bootloader=not args.no_bootloader).start()
    try:
        what = "Optiboot" if board.bootloader else "no bootloader"
        held = f", holding {args.firmware}" if args.firmware else (
            ", flash empty" if board.bootloader else "")
        print(f"virtual Uno on {board.port} ({what}{held})", flush=True)
        if board.bootloader:
            print(f"upload to it as to a real Uno: tinylab deploy --port {board.port} "
                  f"(or avrdude -c arduino -P {board.port}); Ctrl-C stops it", flush=True)
        else:
            print("Ctrl-C stops it", flush=True)
        try:
            board.wait()
        except KeyboardInterrupt:
            print("stopped", flush=True)
    finally:
        board.stop()
    return 0


def _cmd_assignments(args) -> int:
    from . import assignments

    course = assignments.write_course(args.out, args.lessons)
    print(course.to_text())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinylab", description="TinyLab: a TinyML teaching workbench.")
    parser.add_argument("--version", action="version", version=f"tinylab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    lab = commands.add_parser("lab", help="start JupyterLab on the welcome lesson")
    lab.add_argument("--port", type=int, help="port for JupyterLab (default: 8888 or the next free one)")
    lab.add_argument("--ip", help="address to listen on (default: localhost)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.set_defaults(run=_cmd_lab)

    voila = commands.add_parser("app", help="serve the Voila apps (notebooks/apps) on localhost")
    voila.add_argument("--port", type=_port,
                       help="port for Voila (default: 8866 or the next free one)")
    voila.add_argument("--ip", help="address to listen on (default: localhost)")
    voila.add_argument("--pool", type=_pool, action="append", metavar="[APP=]N",
                       help="kernels kept ready per app, having run it already (default: 1; "
                            "a room of 30 arriving at once: --pool draw_digit=30); repeatable")
    voila.add_argument("--boards", type=_count, default=None, metavar="K",
                       help="virtual Unos the visitors' kernels share, per firmware (default: "
                            "2; 0: one per visitor)")
    voila.set_defaults(run=_cmd_app)

    doctor = commands.add_parser("doctor", help="check Python packages, board toolchains and boards")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.set_defaults(run=_cmd_doctor)

    pipe = commands.add_parser(
        "pipeline", help="train -> [distill] -> prune -> share weights -> Huffman, with "
                         "Deep Compression's table")
    pipe.add_argument("--model", default="mlp300", help="the float32 model to start from "
                      "(default mlp300, LeNet-300-100's shape)")
    pipe.add_argument("--student", help="distill into this model first (e.g. student)")
    pipe.add_argument("--dataset", default="digits", help="dataset name (default digits)")
    pipe.add_argument("--temperature", type=float, default=4.0, help="distillation T (default 4)")
    pipe.add_argument("--alpha", type=float, default=0.9,
                      help="weight of the soft loss (default 0.9)")
    pipe.add_argument("--sparsity", type=_sparsity, default=0.9,
                      help="final sparsity of every layer (default 0.9), or per layer: "
                           "dense_1=0.88,dense_2=0.97,logits=0.7")
    pipe.add_argument("--bits", type=int, default=5, help="codebook index bits (default 5)")
    pipe.add_argument("--fine-tune-epochs", type=int, default=3,
                      help="epochs of centroid fine-tuning (default 3; 0 to skip)")
    pipe.add_argument("--seed", type=int, default=0, help="seed of every step (default 0)")
    pipe.add_argument("--json", action="store_true", help="print the result as JSON")
    pipe.set_defaults(run=_cmd_pipeline)

    dep = commands.add_parser(
        "deploy", help="compile a model for an Arduino, run the test set on it over serial")
    dep.add_argument("--board", default="uno", help="board profile (default uno)")
    dep.add_argument("--virtual", action="store_true", help="run on the virtual Uno (simavr)")
    dep.add_argument("--port", help="a real board's serial port, e.g. /dev/ttyACM0")
    dep.add_argument("--format", choices=("int8", "sparse", "huffman"), default="int8",
                     help="weight format in flash (default int8)")
    dep.add_argument("--model",
                     help="a workspace model name, a .keras or int8 .tflite file, or a lesson "
                          "architecture trained on --dataset if needed (default: student on "
                          "the digits, imu_mlp on a per-channel IMU dataset; on a dataset "
                          "other than the digits it is saved as <architecture>_<dataset>)")
    dep.add_argument("--dataset", default="digits", help="dataset whose test split is sent")
    dep.add_argument("--inputs", choices=("int8", "raw"),
                     help="send int8 inputs quantized on the host, or raw readings the board "
                          "standardizes and quantizes itself, as with its own sensor (default: "
                          "raw for a dataset standardized per channel, such as gestures, "
                          "else int8)")
    dep.add_argument("--limit", type=int, help="send only the first N test examples")
    dep.add_argument("--json", action="store_true", help="print the report as JSON")
    dep.set_defaults(run=_cmd_deploy)

    uno = commands.add_parser(
        "virtual-uno", help="run a virtual Uno with the Uno's bootloader until Ctrl-C: upload "
                            "to its port as to a real board")
    uno.add_argument("firmware", nargs="?", type=Path, metavar="FIRMWARE.elf",
                     help="the sketch already in its flash (default: none, an empty Uno)")
    uno.add_argument("--no-bootloader", action="store_true",
                     help="run FIRMWARE.elf alone, without Optiboot (as the lessons' board)")
    uno.set_defaults(run=_cmd_virtual_uno)

    cap = commands.add_parser(
        "capture", help="record sensor rows from a board (or the virtual Uno) into a CSV file")
    cap.add_argument("--port", required=True,
                     help="serial port of a board running a capture sketch, or 'virtual' for "
                          "the virtual Uno's simulated IMU")
    cap.add_argument("--out", required=True, type=Path,
                     help="CSV file to write (an existing one with the same columns is appended to)")
    amount = cap.add_mutually_exclusive_group()
    amount.add_argument("--rows", type=int, help="stop after this many rows")
    amount.add_argument("--seconds", type=float, help="stop after this many seconds")
    amount.add_argument("--windows", type=int,
                        help="trigger mode: stop after this many whole gesture windows (the "
                             "sketch sends one window each time it is armed)")
    cap.add_argument("--label", help="label written into every row (e.g. punch)")
    cap.add_argument("--command", action="append",
                     help="a line for the sketch after its banner, e.g. 'G punch' (repeatable)")
    cap.add_argument("--json", action="store_true", help="print the summary as JSON")
    cap.set_defaults(run=_cmd_capture)

    graded = commands.add_parser(
        "assignments", help="write the lessons' graded versions for nbgrader into a course folder")
    graded.add_argument("lessons", nargs="*", metavar="LESSON",
                        help="lessons to write, by name or number (04_pruning or 04; default: "
                             "every lesson with an exercise)")
    graded.add_argument("--out", type=Path, metavar="DIR",
                        help="the nbgrader course folder (default: assignments/ in the checkout)")
    graded.set_defaults(run=_cmd_assignments)

    bench = commands.add_parser("bench", help="run a benchmark from bench/ (kd, prune, lessons, ...)")
    bench.add_argument("name", help="the benchmark, e.g. kd or prune")
    bench.add_argument("--json", action="store_true", help="print the results as JSON")
    bench.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    bench.set_defaults(run=_cmd_bench)
    return parser


def main(argv=None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    # the sub-command's name from its function (``capture`` has a --command option of its own)
    prog = f"tinylab {args.run.__name__.removeprefix('_cmd_').replace('_', '-')}"
    try:
        return args.run(args)
    except TinyLabError as error:          # a board, a tool, a file, a download
        error.show(prog)
        return error.exit_code
    except ValueError as error:            # an argument TinyLab refuses, said in words
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: stopped with Ctrl-C", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
