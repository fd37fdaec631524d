"""Lesson 08: browse what a board answered, digit by digit and build by build, against the host."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import engine, plot
from ._panel import assemble, reporting_errors, show


def _checked(deployed, X, y) -> dict:
    """Each build's board run next to the host's scores on the same examples."""
    if not isinstance(deployed, dict) or not deployed:
        raise ValueError("deployed must be a non-empty dict {label: {'mlp': IntegerModel, 'run': "
                         "InferenceRun, 'build': BuildResult (optional)}}")
    y = np.asarray(y)
    found = {}
    for label, entry in deployed.items():
        if not isinstance(entry, dict) or "mlp" not in entry or "run" not in entry:
            raise ValueError(f"deployed[{label!r}] must be a dict with 'mlp' (the IntegerModel the "
                             f"board carries) and 'run' (Device.infer_many's InferenceRun)")
        mlp, run = entry["mlp"], entry["run"]
        scores = np.asarray(run.scores)
        if len(scores) != len(X) or len(y) != len(X):
            raise ValueError(f"{label!r}: the board answered {len(scores)} examples; X has "
                             f"{len(X)} and y {len(y)}: give the examples that were sent")
        host_scores = engine.run_int8(mlp, engine.quantize_inputs(mlp, X))
        if host_scores.shape != scores.shape:
            raise ValueError(f"{label!r}: the board sent scores of shape {scores.shape}, the "
                             f"model computes {host_scores.shape}: is it the model it carries?")
        same = np.all(scores == host_scores, axis=1)
        found[label] = {"mlp": mlp, "run": run, "build": entry.get("build"),
                        "host_scores": host_scores, "bit_exact": same,
                        "board_accuracy": float(np.mean(np.asarray(run.labels) == y)),
                        "host_accuracy": float(np.mean(np.argmax(host_scores, axis=1) == y))}
    return found


def board_explorer(deployed, X, y, *, class_names=None) -> widgets.VBox:
    """Pick a build and a digit; see the board's scores next to the host's, and its timing.

    Nothing is sent to a board here: the panel browses runs made before (on the virtual Uno or
    a real board), so moving a control is instant and cannot hang on a serial port. When it is
    built, the panel computes the host's int8 scores of every example with
    :func:`tinylab.engine.run_int8`, the numpy reference of TFLM's arithmetic.

    Parameters
    ----------
    deployed : dict of str -> dict
        One entry per build, e.g. ``"student · int8"``: ``{"mlp": IntegerModel, "run":
        InferenceRun, "build": BuildResult}``; ``run`` is what
        :meth:`tinylab.device.Device.infer_many` returned for ``X``, ``build`` (optional) adds
        the build's flash and RAM to the status line.
    X : array_like of float, shape (n, 8, 8, 1) or (n, 64)
        The examples that were sent, as floats (they are quantized here as on the host).
    y : array_like of int, shape (n,)
        Their true classes.
    class_names : sequence of str, optional

    Returns
    -------
    ipywidgets.VBox
        With ``controls`` (``build``, ``digit``, ``status``, ``figures``), ``results`` (per
        label: ``host_scores``, ``bit_exact`` per example, ``board_accuracy``,
        ``host_accuracy`` and the entry's ``mlp``, ``run``, ``build``) and ``shown`` (the
        figure drawn last).
    """
    X = np.asarray(X, dtype=np.float32)
    results = _checked(deployed, X, y)
    y = np.asarray(y)
    labels = list(results)
    names = list(class_names) if class_names is not None else None

    build = widgets.Dropdown(options=labels, value=labels[0], description="build",
                             layout=widgets.Layout(width="320px"))
    digit = widgets.IntSlider(value=0, min=0, max=len(X) - 1, description="test digit",
                              continuous_update=False)
    status = widgets.HTML()
    figures = widgets.Output()
    panel = widgets.VBox()

    def name(k):
        return names[k] if names is not None else str(k)

    def redraw(_=None):
        with reporting_errors(status):
            result, i = results[build.value], digit.value
            run = result["run"]
            board_scores, host_scores = np.asarray(run.scores[i]), result["host_scores"][i]
            host_class = int(np.argmax(host_scores))
            same = bool(result["bit_exact"][i])
            differ = int(np.sum(board_scores != host_scores))
            verdict = ("<span style='color:#1a7f37'>all scores bit-identical</span>" if same else
                       f"<span style='color:#cf222e'>{differ} of {len(host_scores)} scores "
                       f"differ</span>")
            cycles = "" if run.cycles is None else f" ({int(run.cycles[i]):,} cycles)"
            firmware = result["build"]
            sizes = "" if firmware is None else (
                f"; flash {firmware.flash_bytes:,} B, RAM {firmware.ram_bytes:,} B")
            status.value = (
                f"<b>{build.value}</b>, test digit {i}: true <b>{name(y[i])}</b>, board "
                f"<b>{name(int(run.labels[i]))}</b>, host <b>{name(host_class)}</b>; {verdict}. "
                f"On the board: {int(run.latency_us[i]):,} &micro;s{cycles}.<br>This build on "
                f"{len(X)} digits: {int(result['bit_exact'].sum())}/{len(X)} bit-identical, "
                f"board accuracy {result['board_accuracy']:.1%} (host "
                f"{result['host_accuracy']:.1%}), mean latency "
                f"{np.mean(run.latency_us) / 1000:.1f} ms{sizes}.")
            panel.shown = plot.board_answer(X[i], board_scores, host_scores, true_label=int(y[i]),
                                            class_names=names)
            show(figures, panel.shown)

    panel.results = results
    return assemble(panel, [build, digit], status, figures, redraw,
                    {"build": build, "digit": digit, "status": status, "figures": figures})
