"""Tests for tinylab.cli: the ``tinylab`` command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tinylab
from tinylab import cli, doctor


def _tinylab_command():
    script = Path(sys.executable).parent / "tinylab"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "tinylab.cli"]


def test_doctor_json_from_the_installed_command(_isolated_workspace):
    done = subprocess.run(_tinylab_command() + ["doctor", "--json"], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))
    rep = json.loads(done.stdout)
    assert isinstance(rep["checks"], list) and rep["checks"]
    assert rep["tinylab"] == tinylab.__version__
    assert done.returncode == (0 if rep["ok"] else 1)


def test_main_doctor_exit_code_follows_the_report(capsys):
    code = cli.main(["doctor", "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert code == (0 if rep["ok"] else 1)


@pytest.mark.parametrize("ok, code", [(True, 0), (False, 1)])
def test_main_doctor_returns_0_only_when_everything_required_is_there(monkeypatch, capsys, ok, code):
    rep = {"tinylab": "0", "platform": "test", "ok": ok, "checks": [], "serial_ports": [],
           "install_missing_toolchain": None}
    monkeypatch.setattr(doctor, "report", lambda: rep)
    assert cli.main(["doctor"]) == code
    out = capsys.readouterr().out
    assert out.strip() == doctor.to_text(rep)


def test_no_command_prints_help_and_returns_2(capsys):
    assert cli.main([]) == 2
    out = capsys.readouterr().out
    assert "usage: tinylab" in out and "doctor" in out and "lab" in out


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"tinylab {tinylab.__version__}"


def test_lab_without_a_checkout_returns_2_with_a_message(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_checkout", lambda: None)
    monkeypatch.setattr(cli.os, "execv", lambda *args: pytest.fail("must not start JupyterLab"))
    assert cli.main(["lab"]) == 2
    err = capsys.readouterr().err
    assert "checkout" in err and "notebooks" in err


def test_lab_starts_jupyterlab_on_the_welcome_lesson(monkeypatch, tmp_path, capsys):
    started = []
    monkeypatch.setattr(cli, "_checkout", lambda: tmp_path)
    monkeypatch.setattr(cli.os, "execv", lambda program, argv: started.append((program, argv)))
    cli.main(["lab", "--port", "9999", "--no-browser", "--ip", "0.0.0.0"])
    [(program, argv)] = started
    assert program == sys.executable
    assert argv[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--notebook-dir={tmp_path}" in argv
    assert "--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb" in argv
    assert {"--port=9999", "--no-browser", "--ip=0.0.0.0"} <= set(argv)


def test_lab_leaves_out_options_not_given(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(cli, "_checkout", lambda: tmp_path)
    monkeypatch.setattr(cli.os, "execv", lambda program, argv: started.append(argv))
    cli.main(["lab"])
    assert not any(arg.startswith(("--port", "--ip", "--no-browser")) for arg in started[0])


def test_bench_unknown_name_lists_the_benchmarks(capsys):
    assert cli.main(["bench", "no-such-bench"]) == 2
    err = capsys.readouterr().err
    assert "no-such-bench" in err and "lessons" in err


def test_bench_runs_the_script_with_its_flags(monkeypatch, tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "echo.py").write_text("")
    monkeypatch.setattr(cli, "_checkout", lambda: tmp_path)
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda command: calls.append(command) or 7)
    assert cli.main(["bench", "echo", "--json", "--write", "--seeds", "2"]) == 7
    (command,) = calls
    assert command[:2] == [sys.executable, str(tmp_path / "bench" / "echo.py")]
    assert command[2:] == ["--json", "--write", str(tmp_path / "docs" / "benchmarks.md"),
                           "--seeds", "2"]


def test_bench_without_the_bench_extras_says_what_to_install(tmp_path):
    # The real command on the real bench/prune.py, in a Python where tfmot cannot be imported
    # (as after `make test`, which does not install the bench extras; blocked here explicitly
    # so that the test holds where `make bench` has installed them).
    blocked = tmp_path / "tensorflow_model_optimization"
    blocked.mkdir()
    (blocked / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'tensorflow_model_optimization'\")\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "tinylab.cli", "bench", "prune"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "tensorflow-model-optimization" in done.stderr and "make bench" in done.stderr
    assert "[bench]" in done.stderr  # the pip line


def test_pipeline_json_has_every_stage(capsys):
    code = cli.main(["pipeline", "--model", "tiny", "--sparsity", "0.5", "--bits", "3",
                     "--fine-tune-epochs", "0", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert [s["stage"] for s in result["stages"]][-1] == "P+Q + Huffman (P+Q+H)"
    assert result["settings"]["sparsity"] == 0.5 and result["settings"]["model"] == "tiny"
    assert result["stages"][-1]["bytes"] < result["stages"][0]["bytes"]


@pytest.mark.parametrize("argv, message", [
    (["--sparsity", "1.5"], "sparsity"),
    (["--dataset", "nope"], "nope"),
])
def test_pipeline_bad_input_is_one_plain_line_and_exit_2(capsys, argv, message):
    assert cli.main(["pipeline", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinylab pipeline: ") and message in err and "Traceback" not in err


def test_pipeline_sparsity_option_takes_one_fraction_or_one_per_layer():
    assert cli._sparsity("0.9") == 0.9
    assert cli._sparsity("dense_1=0.88, logits=0.7") == {"dense_1": 0.88, "logits": 0.7}
    import argparse
    with pytest.raises(argparse.ArgumentTypeError, match="layer=fraction"):
        cli._sparsity("dense_1:0.9")


def _capture_virtual(tmp_path, capsys, gesture, *options):
    """``tinylab capture --port virtual`` of one gesture: its JSON summary and the CSV's lines."""
    out = tmp_path / f"{gesture}.csv"
    code = cli.main(["capture", "--port", "virtual", "--out", str(out), *options,
                     "--label", gesture, "--command", f"G {gesture}", "--json"])
    assert code == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out), out.read_text().splitlines()


def test_capture_from_the_virtual_uno_writes_labelled_rows(tmp_path, capsys):
    summary, lines = _capture_virtual(tmp_path, capsys, "punch", "--rows", "30")
    assert lines[0] == "ax,ay,az,gx,gy,gz,label" and len(lines) == 31
    assert all(line.endswith(",punch") for line in lines[1:])
    assert summary["rows_kept"] == 30 and summary["exit_status"] == 0


def test_capture_of_1000_rows_from_the_virtual_uno(tmp_path, capsys):
    # issue 6's yardstick: 1,000 rows (20 s at 50 rows/s, in real time), every one kept
    summary, lines = _capture_virtual(tmp_path, capsys, "idle", "--rows", "1000")
    assert summary["rows_kept"] == 1000 and not any(summary["rejected"].values())
    assert len(lines) == 1001 and all(line.count(",") == 6 for line in lines[1:])


def test_capture_windows_from_the_virtual_uno_keeps_whole_numbered_windows(tmp_path, capsys):
    summary, lines = _capture_virtual(tmp_path, capsys, "wave", "--windows", "2")
    assert lines[0] == "ax,ay,az,gx,gy,gz,window,label"
    windows = [line.split(",")[-2] for line in lines[1:]]
    assert len(set(windows)) == 2 and len(windows) % 2 == 0  # two windows of equal length
    assert windows[: len(windows) // 2] == [windows[0]] * (len(windows) // 2)
    assert summary["exit_status"] == 0


def test_capture_from_a_missing_port_names_the_problem(tmp_path, capsys):
    code = cli.main(["capture", "--port", "/dev/ttyTINYLAB-none", "--out",
                     str(tmp_path / "x.csv"), "--rows", "3"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("tinylab capture: ") and "ttyTINYLAB-none" in err
    assert not (tmp_path / "x.csv").exists() or (tmp_path / "x.csv").read_text().count("\n") <= 1


def test_deploy_options_default_to_the_datasets_kind():
    parser = cli._parser()
    args = parser.parse_args(["deploy", "--virtual"])
    assert args.model is None and args.inputs is None and args.dataset == "digits"
    assert parser.parse_args(["deploy", "--virtual", "--inputs", "raw"]).inputs == "raw"
    with pytest.raises(SystemExit):
        parser.parse_args(["deploy", "--virtual", "--inputs", "float"])
    digits = tinylab.data.load("digits")
    gestures = tinylab.data.load("gestures")
    assert cli._default_deploy_model(digits) == "student"
    assert cli._default_deploy_model(gestures) == "imu_mlp"
    assert "imu_mlp" in tinylab.models.ARCHITECTURES
    from tinylab import deploy
    assert deploy.default_inputs(digits) == "int8" and deploy.default_inputs(gestures) == "raw"


def test_deploy_refuses_raw_inputs_for_the_digits_and_a_model_of_another_dataset(
        capsys, _isolated_workspace):
    assert cli.main(["deploy", "--virtual", "--inputs", "raw"]) == 2
    assert "--inputs raw needs a dataset standardized per channel" in capsys.readouterr().err
    _isolated_workspace.mkdir(parents=True, exist_ok=True)
    (_isolated_workspace / "mine.keras").write_text("not read")
    (_isolated_workspace / "mine.json").write_text(json.dumps({"dataset": "digits"}))
    assert cli.main(["deploy", "--virtual", "--dataset", "gestures", "--model", "mine"]) == 2
    assert "trained on 'digits', not 'gestures'" in capsys.readouterr().err


def test_deploy_of_basicmotions_sends_real_raw_recordings_to_the_virtual_uno(
        capsys, _isolated_workspace):
    """`tinylab deploy --dataset basicmotions` with its defaults: lesson 09's imu_mlp, trained on
    the real recordings and saved under its own name, fed raw readings (W lines)."""
    assert cli.main(["deploy", "--dataset", "basicmotions", "--virtual", "--limit", "2",
                     "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["inputs"] == "raw" and report["examples"] == 2 and report["bit_exact"] == 1.0
    assert report["board_classes"] == report["host_classes"]
    assert report["flash_bytes"] <= report["flash_limit_bytes"]
    assert sorted(p.name for p in _isolated_workspace.glob("*.keras")) == [
        "imu_mlp_basicmotions.keras"]
