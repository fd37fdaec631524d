"""The C engine with several avr-gcc versions: its tests, and the lesson student on the virtual Uno.

Students build with the avr-gcc their system has: 5.4 on Debian 12, 7.3 on Ubuntu 24.04
(Binder's image; the Arduino IDE and arduino-cli ship 7.3 too), 14.2 on Debian 13. The engine's
AVR inline assembly, its bit-exactness and its cycle counts must hold with each (issue 19).
``tools/compilers/run.sh`` (``sudo make compilers``) makes a chroot per other compiler and a
folder of wrapper scripts that run its tools; this script takes them as ``--chroot
SUITE=ROOT=WRAPPERS`` and, for this machine's avr-gcc and each chroot's:

1. runs the engine's tests that compile C for the AVR (:data:`ENGINE_TESTS`) with that
   compiler first on PATH, ``CI=1`` so that a missing tool fails instead of skipping (not for
   this machine's own compiler: ``make test`` runs them with it);
2. builds the inference sketch around the lesson student (``tl.train.load_or_train("student")``,
   64-32-10, seed 0, digits split seed 0: the workspace's when it has a matching one, as in
   ``bench/mcu.py``) in each weight format with the plain avr-gcc build (``toolchain="avr-gcc"``:
   the Arduino AVR core's own recipes, so that only the compiler differs), and runs every
   digits test example on the virtual Uno (simavr, this machine's, for all).

Recorded per compiler and format: flash and static RAM (``avr-size``), the stack's peak, CPU
cycles per inference (Timer1 inside the simulated MCU), the share of examples whose int8
outputs equal the host's integer reference (``tl.engine.run_int8``), and whether they equal the
first compiler's, byte for byte. Prints JSON; ``--write`` rewrites the ``compilers`` section of
docs/benchmarks.md. Exits 1 when a test fails, an output differs, or a compiler was unavailable.

    sudo tools/compilers/run.sh [--write [FILE]] [--limit N]
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from _report import arguments, markdown_table, report, write_section  # noqa: E402
from _report import machine as current_machine, measured_on  # noqa: E402

import numpy as np  # noqa: E402

SECTION = "compilers"
TITLE = "The engine with other avr-gcc versions (issue 19)"
#: The tests that build C for the AVR (tests/engine_c.py's avr_build/avr_run: avr-gcc, simavr).
ENGINE_TESTS = ("tests/test_engine.py", "tests/test_engine_cnn.py")
FORMATS = ("int8", "sparse", "huffman")
SEED = 0
#: Time limits, in seconds: the engine's tests with one compiler (about 4 min on 2 cores, with
#: the lesson models to train the first time), one tool's version query.
TESTS_TIMEOUT_S = 1800
QUERY_TIMEOUT_S = 60
#: Seconds for one answer of the virtual Uno, which runs flat out (speed 0): cycles are counted
#: inside the simulated MCU, so the pace changes nothing but the wall time.
ANSWER_TIMEOUT_S = 60
#: How far apart two runs of the same firmwares came (the report says so, so that small
#: differences between compilers are not over-read): measured on 2026-12-06, three runs of
#: `make compilers`, every compiler and format (0.017% at most).
REPEAT_NOTE = "Three runs of the same firmwares differed by at most 0.02% in mean cycles."
#: What each chroot is, by its suite.
SUITES = {"trixie": "Debian 13 (trixie)", "noble": "Ubuntu 24.04 (noble)"}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run_bounded(command: list, timeout_s: float, **options) -> int:
    """Run ``command`` (output to our stderr); its return code, or 124 after ``timeout_s``.

    It runs in a session of its own, so that on a timeout its children (simavr, compilers) are
    stopped with it.
    """
    process = subprocess.Popen(command, stdout=sys.stderr, stderr=sys.stderr,
                               start_new_session=True, **options)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return 124
    except BaseException:                        # interrupted (SIGTERM, Ctrl-C): stop it too
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def _first_line(command: list) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=QUERY_TIMEOUT_S)
        if done.returncode != 0:
            return None
        return (done.stdout or done.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


@contextlib.contextmanager
def _first_on_path(folder):
    """``folder`` first on PATH (for this process and what it starts); nothing when None."""
    saved = os.environ["PATH"]
    if folder is not None:
        os.environ["PATH"] = f"{folder}{os.pathsep}{saved}"
    try:
        yield
    finally:
        os.environ["PATH"] = saved


def _os_name(root: Path) -> str:
    release = root / "etc" / "os-release"
    text = release.read_text() if release.is_file() else ""
    found = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, flags=re.MULTILINE)
    return found.group(1) if found else str(root)


def describe_compiler(key: str, root: Path | None, wrappers: Path | None) -> dict:
    """Where a compiler comes from and its packages' versions (Debian's dpkg-query)."""
    query = [] if root is None else [shutil.which("chroot") or "chroot", str(root)]
    packages = {name: _first_line([*query, "dpkg-query", "-W", "-f", "${Version}", name])
                for name in ("gcc-avr", "avr-libc", "binutils-avr")}
    with _first_on_path(wrappers):
        version_line = _first_line(["avr-gcc", "--version"])
    found = re.search(r"(\d+\.\d+\.\d+)", version_line or "")
    return {"key": key, "system": _os_name(root or Path("/")),
            "where": "this machine" if root is None else f"chroot {root}",
            "avr_gcc": version_line, "version": found.group(1) if found else None,
            "packages": packages, "wrappers": None if wrappers is None else str(wrappers)}


def run_engine_tests(wrappers: Path, work: Path, key: str) -> dict:
    """:data:`ENGINE_TESTS` with the wrappers first on PATH; counts from pytest's JUnit XML."""
    junit = work / f"engine-tests-{key}.xml"
    env = {**os.environ, "PATH": f"{wrappers}{os.pathsep}{os.environ['PATH']}", "CI": "1",
           "MPLBACKEND": "Agg", "TINYLAB_WORKSPACE": str(work / "workspace-tests"),
           "TINYLAB_CACHE": str(work / "cache-tests")}     # builds where the chroot sees them
    start = time.perf_counter()
    code = _run_bounded([sys.executable, "-m", "pytest", *ENGINE_TESTS, "-q", "-p",
                         "no:cacheprovider", f"--basetemp={work / f'pytest-{key}'}",
                         f"--junitxml={junit}"], TESTS_TIMEOUT_S, cwd=REPO, env=env)
    result = {"tests": list(ENGINE_TESTS), "returncode": code,
              "seconds": round(time.perf_counter() - start, 1)}
    if code == 124:
        result["problem"] = f"stopped after {TESTS_TIMEOUT_S} s"
    try:
        suite = ElementTree.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        counts = {name: int(suite.get(name, 0))
                  for name in ("tests", "failures", "errors", "skipped")}
        result.update(counts, passed=counts["tests"] - counts["failures"] - counts["errors"]
                      - counts["skipped"])
        result["failed_names"] = [
            f"{case.get('classname')}::{case.get('name')}" for case in suite.iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None]
    except (OSError, ElementTree.ParseError, AttributeError):
        result.setdefault("problem", "pytest wrote no report")
    return result


def _workspace_with_student() -> None:
    """Put the checkout's student (if any) in ``$TINYLAB_WORKSPACE`` so it is reused, not retrained.

    ``load_or_train`` checks the model's card and trains anew when it does not match; the
    checkout's workspace itself is never written.
    """
    from tinylab import _paths, workspace

    checkout = _paths.checkout()
    target = workspace.path()
    if checkout is None or target.resolve() == (checkout / "workspace").resolve():
        return
    for source in (checkout / "workspace").glob("student.*"):
        if not (target / source.name).exists():
            shutil.copy2(source, target / source.name)


def make_student(limit: int | None):
    """The lesson student as the board runs it, and the test inputs and labels."""
    import tinylab as tl
    from tinylab import deploy, engine

    _workspace_with_student()
    data = tl.data.load("digits", seed=SEED)
    n = len(data.y_test) if limit is None else min(limit, len(data.y_test))
    model = tl.train.load_or_train("student", data, seed=SEED, progress=False)
    mlp, _ = deploy.integer_model(model, data, per_channel=True)
    x_int8 = engine.quantize_inputs(mlp, data.X_test[:n])
    return mlp, x_int8, np.asarray(data.y_test[:n])


def measure_format(mlp, format: str, x_int8, y, host_scores, wrappers, work: Path,
                   key: str) -> tuple:
    """Build the student's sketch in ``format`` with the compiler of ``wrappers`` (None: this
    machine's) and run it on the virtual Uno; (row, the board's int8 outputs or None)."""
    from tinylab import build, deploy
    from tinylab.session import BoardSession

    sketch_dir = deploy.write_sketch(mlp, format, folder=work / "sketches" / f"{key}-{format}")
    with _first_on_path(wrappers):
        firmware = build.compile_sketch(sketch_dir, board="uno", toolchain="avr-gcc",
                                        build_dir=work / "builds" / f"{key}-{format}")
    row = {"format": format, "fits": bool(firmware.fits), "flash_bytes": firmware.flash_bytes,
           "ram_bytes": firmware.ram_bytes,
           "hex_sha256": hashlib.sha256(Path(firmware.hex_path).read_bytes()).hexdigest()[:16]
           if firmware.hex_path else None}
    if not firmware.fits:
        row["problem"] = firmware.problem
        return row, None
    with BoardSession(firmware, model_hash=mlp.model_hash, speed=0,
                      timeout=ANSWER_TIMEOUT_S) as session:
        run = session.device().infer_many(x_int8, progress=False)
    row.update({
        "examples": len(x_int8),
        "cycles_mean": None if run.cycles is None else float(np.mean(run.cycles)),
        "cycles_min": None if run.cycles is None else int(np.min(run.cycles)),
        "cycles_max": None if run.cycles is None else int(np.max(run.cycles)),
        "stack_peak_bytes": None if run.stack_bytes is None else int(np.max(run.stack_bytes)),
        "bit_exact": float(np.mean(np.all(run.scores == host_scores, axis=1))),
        "board_accuracy": float(np.mean(run.labels == y)),
        "outputs_sha256": hashlib.sha256(
            np.ascontiguousarray(run.scores).tobytes()).hexdigest()[:16],
    })
    return row, run


def _parse_pairs(values: list, parts: int, option: str) -> list:
    pairs = []
    for value in values or []:
        split = value.split("=", parts - 1)
        if len(split) != parts or not all(split):
            raise ValueError(f"{option} takes {'='.join(['X'] * parts)}, got {value!r}")
        pairs.append(split)
    return pairs


def run(chroots: list, unavailable: list, work: Path, limit: int | None = None,
        engine_tests: bool = True) -> dict:
    from tinylab import engine

    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    wrappers_of = {"host": None}
    others = []
    for suite, root, wrappers in chroots:
        others.append(describe_compiler(suite, Path(root), Path(wrappers)))
        wrappers_of[suite] = Path(wrappers)
    # This machine's first (the one compared against), then the others from oldest to newest.
    others.sort(key=lambda c: tuple(int(part) for part in (c["version"] or "0").split(".")))
    compilers = [describe_compiler("host", None, None), *others]
    out = {"examples": None, "formats": list(FORMATS), "compilers": compilers,
           "unavailable": [{"key": suite, "system": SUITES.get(suite, suite), "why": why}
                           for suite, why in unavailable],
           "simavr": _first_line(["dpkg-query", "-W", "-f", "${Version}", "simavr"]),
           "arduino_core_avr": _first_line(["dpkg-query", "-W", "-f", "${Version}",
                                            "arduino-core-avr"])}
    for compiler in compilers[1:]:
        _log(f"== the engine's tests with {compiler['avr_gcc']} ({compiler['system']})")
        compiler["engine_tests"] = (run_engine_tests(wrappers_of[compiler["key"]], work,
                                                     compiler["key"]) if engine_tests else None)
    _log("== the lesson student")
    mlp, x_int8, y = make_student(limit)
    host_scores = engine.run_int8(mlp, x_int8)
    out.update(examples=len(x_int8), model=mlp.describe(),
               host_accuracy=float(np.mean(np.argmax(host_scores, axis=1) == y)))
    first_runs = {}
    for compiler in compilers:
        key = compiler["key"]
        compiler["formats"] = {}
        for format in FORMATS:
            row, board_run = measure_format(mlp, format, x_int8, y, host_scores, wrappers_of[key],
                                            work, key)
            if board_run is not None:
                if key == "host":
                    first_runs[format] = board_run
                elif format in first_runs:
                    first = first_runs[format]
                    row["same_outputs_as_host_compiler"] = bool(
                        np.array_equal(board_run.scores, first.scores))
                    if row["cycles_mean"] and first.cycles is not None:
                        row["cycles_vs_host_compiler"] = (row["cycles_mean"]
                                                          / float(np.mean(first.cycles)))
            compiler["formats"][format] = row
            _log(f"   {compiler['version']} {format}: flash {row['flash_bytes']}, RAM "
                 f"{row['ram_bytes']}, cycles {row.get('cycles_mean')}, bit-exact "
                 f"{row.get('bit_exact')}, same as host compiler "
                 f"{row.get('same_outputs_as_host_compiler', '-')}")
    out["machine"] = current_machine()
    out["seconds"] = round(time.perf_counter() - start, 1)
    out["ok"] = _all_good(out)
    return out


def _all_good(out: dict) -> bool:
    if out["unavailable"]:
        return False
    for compiler in out["compilers"]:
        tests = compiler.get("engine_tests")
        if tests is not None and (tests["returncode"] != 0 or not tests.get("passed")):
            return False
        for row in compiler["formats"].values():
            if row.get("bit_exact") != 1.0 or row.get("same_outputs_as_host_compiler") is False:
                return False
    return True


# --------------------------------------------------------------------------- the report

def _number(value, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _tests_cell(tests) -> str:
    if tests is None:
        return "run by `make test`"
    if tests.get("problem") and "passed" not in tests:
        return f"**{tests['problem']}**"
    text = f"{tests['passed']} passed"
    if tests["failures"] or tests["errors"]:
        text = f"**{tests['failures'] + tests['errors']} failed**, " + text
    if tests["skipped"]:
        text += f", {tests['skipped']} skipped"
    return text + (f" (**{tests['problem']}**)" if tests.get("problem") else "")


def write_docs(result: dict, target: Path) -> None:
    compilers = result["compilers"]
    host = compilers[0]
    lines = [
        f"{measured_on(result['machine'])}; `sudo make compilers` (`tools/compilers/run.sh`). "
        f"Each avr-gcc other than this machine's runs from a chroot of its system made with "
        f"debootstrap, with wrapper scripts first on PATH, so TinyLab and the tests use it "
        f"unchanged. Per compiler: the engine's tests that compile C for the AVR "
        f"({', '.join(f'`{t}`' for t in ENGINE_TESTS)}, simavr {result['simavr']} for all), "
        f"and the lesson student ({result['model']}; seed 0, digits split seed 0) in each weight "
        f"format: the inference sketch built by TinyLab's plain avr-gcc build (the Arduino AVR "
        f"core's own recipes, Debian's arduino-core-avr {result['arduino_core_avr']} sources for "
        f"every compiler, so only the compiler and its avr-libc differ), run on the virtual Uno "
        f"with the {result['examples']} digits test examples. **Cycles**: Timer1 inside the "
        f"simulated MCU around `tl_model_run`, mean over the examples. **Bit-exact**: examples "
        f"whose 10 int8 outputs equal the host's integer reference (`tl.engine.run_int8`). "
        f"**Same outputs**: all {result['examples']} x 10 outputs equal those of this machine's "
        f"avr-gcc {host['version']}. Ubuntu 24.04's avr-gcc 7.3 is Binder's; arduino-cli and "
        f"the Arduino IDE install Arduino's own build of 7.3, which is no Debian package and "
        f"was not measured.",
        "",
        markdown_table(["avr-gcc", "system", "avr-libc", "binutils-avr", "engine tests"],
                       [[c["version"], c["system"], c["packages"]["avr-libc"] or "n/a",
                         c["packages"]["binutils-avr"] or "n/a", _tests_cell(c.get("engine_tests"))]
                        for c in compilers]),
        "",
    ]
    rows = []
    for format in result["formats"]:
        for compiler in compilers:
            row = compiler["formats"].get(format, {})
            ratio = row.get("cycles_vs_host_compiler")
            same = row.get("same_outputs_as_host_compiler")
            rows.append([f"`{format}`", compiler["version"], _number(row.get("flash_bytes")),
                         _number(row.get("ram_bytes")), _number(row.get("stack_peak_bytes")),
                         _number(row.get("cycles_mean")),
                         "" if compiler is host else
                         ("n/a" if ratio is None else f"{(ratio - 1) * 100:+.1f}%"),
                         "n/a" if row.get("bit_exact") is None else f"{row['bit_exact'] * 100:.1f}",
                         "" if compiler is host else
                         ("n/a" if same is None else ("yes" if same else "**no**"))])
    lines += [markdown_table(["format", "avr-gcc", "flash bytes", "static RAM bytes",
                              "stack peak bytes", "cycles / inference",
                              f"cycles vs {host['version']}", "bit-exact %", "same outputs"], rows),
              ""]
    for missing in result["unavailable"]:
        lines.append(f"Not measured: {missing['system']}'s avr-gcc ({missing['why']}).")
    lines.append(_summary(result))
    write_section(SECTION, "\n".join(lines), target, title=TITLE)


def _summary(result: dict) -> str:
    compilers = result["compilers"]
    host = compilers[0]
    parts = []
    for compiler in compilers[1:]:
        int8 = compiler["formats"].get("int8", {})
        ratio = int8.get("cycles_vs_host_compiler")
        if ratio is not None:
            parts.append(f"{compiler['version']} {(ratio - 1) * 100:+.1f}%")
    exact = all(row.get("bit_exact") == 1.0 for c in compilers for row in c["formats"].values())
    same = all(row.get("same_outputs_as_host_compiler") is not False
               for c in compilers for row in c["formats"].values())
    verdict = ("Every compiler's firmware gives the host's outputs, byte for byte, in every "
               "format" if exact and same else "**Some outputs differ** (see the table)")
    return (f"{verdict}. Int8 cycles against avr-gcc {host['version']}: "
            f"{', '.join(parts) or 'no other compiler measured'}. {REPEAT_NOTE} Flash and cycles "
            f"are exact for one compiler (and avr-libc); the lessons quote {host['version']}'s.")


def _stop(signal_number, frame):
    raise SystemExit(128 + signal_number)       # unwinds: boards closed, tests stopped


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    parser = arguments(__doc__, SECTION)
    parser.add_argument("--work", type=Path, required=True,
                        help="a folder under /tmp that every chroot sees (sketches, builds, logs)")
    parser.add_argument("--chroot", action="append", metavar="SUITE=ROOT=WRAPPERS",
                        help="a compiler: its chroot and the folder of wrappers for its tools")
    parser.add_argument("--unavailable", action="append", metavar="SUITE=WHY",
                        help="a compiler that could not be set up, and why (reported)")
    parser.add_argument("--limit", type=int, help="only the first N test examples")
    parser.add_argument("--no-engine-tests", action="store_true", help="only the student")
    options = parser.parse_args()
    try:
        chroots = _parse_pairs(options.chroot, 3, "--chroot")
        unavailable = _parse_pairs(options.unavailable, 2, "--unavailable")
    except ValueError as error:
        parser.error(str(error))
    result = run(chroots, unavailable, options.work, options.limit,
                 engine_tests=not options.no_engine_tests)
    report(result, options.write, write_docs)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
