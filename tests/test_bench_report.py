"""What the benchmarks share (bench/_report.py), and what docs/benchmarks.md says of its machine."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import _report  # noqa: E402

#: Every section opens with when, on which CPU (model, count, instruction sets) and versions.
MEASURED = re.compile(r"^Measured (\d{4}-\d\d-\d\d) on (.+?), (\d+) CPUs, ([^,]*?(SSE|AVX|NEON)"
                      r"[^,]*), Python (\d+\.\d+\.\d+)")


def test_measured_on_names_the_cpu_and_its_instruction_sets():
    machine = {"date": "2026-12-05", "cpu_model": "AMD EPYC", "cpus": 2,
               "isa": ["sse4_1", "sse4_2", "avx", "avx2", "fma"], "python": "3.11.7",
               "versions": {"tensorflow": "2.21.0"}, "onednn_max_cpu_isa": None}
    line = _report.measured_on(machine)
    assert line == ("Measured 2026-12-05 on AMD EPYC, 2 CPUs, SSE4.1 AVX AVX2 FMA (no AVX-512), "
                    "Python 3.11.7, TensorFlow 2.21.0")
    assert MEASURED.match(line)
    assert "oneDNN capped at SSE41" in _report.measured_on(dict(machine, onednn_max_cpu_isa="SSE41"))


def test_machine_carries_the_date_and_the_cpu():
    machine = _report.machine()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", machine["date"])
    assert machine["cpu_model"] and isinstance(machine["isa"], list)


def test_require_exits_with_the_install_line(capsys):
    _report.require("demo", "json")  # present: nothing happens
    with pytest.raises(SystemExit) as stop:
        _report.require("demo", "json", "tinylab_no_such_module", "tf_keras_absent_too")
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "tinylab bench demo: needs tinylab_no_such_module tf_keras_absent_too" in err
    assert "make bench" in err and "[bench]" in err


def test_every_benchmark_section_says_which_cpu_measured_it():
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    sections = re.findall(r"<!-- (\w+):begin -->\n(.*?)<!-- \1:end -->", text, flags=re.S)
    names = {p.stem for p in (ROOT / "bench").glob("[a-z]*.py")}
    # and the measurements of tools/ that write a section (tools/compilers: `make compilers`)
    names |= {p.parent.name for p in (ROOT / "tools").glob("*/measure.py")}
    assert {name for name, _ in sections} == names  # one section per benchmark
    for name, body in sections:
        assert MEASURED.match(body.strip()), f"the {name} section does not open with " \
            f"'Measured DATE on CPU, N CPUs, ISA, Python ...': rerun `tinylab bench {name} --write`"
