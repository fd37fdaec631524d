"""Lesson 02: choose a model and a training length, press Run, read what it bought."""

from __future__ import annotations

import html
import time

import ipywidgets as widgets

from .. import boards, models, plot, train, workspace
from ._panel import reporting_errors, show

_CUSTOM = "custom MLP"


def parse_hidden_units(text: str) -> tuple:
    """``"300, 100"`` -> ``(300, 100)``; a clear ValueError for anything else."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    try:
        units = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"hidden units must be whole numbers separated by commas, e.g. "
                         f"'300, 100' or '32'; got {text!r}") from None
    if not units or any(u < 1 or u > 2048 for u in units):
        raise ValueError(f"give one to a few layer widths between 1 and 2048, e.g. '300, 100'; "
                         f"got {text!r}")
    return units


def size_table_html(model) -> str:
    """Per-layer parameters and bytes, with totals and the share of an Uno's flash."""
    rows = models.parameter_table(model)
    uno = boards.load("uno")
    body = "".join(
        f"<tr><td>{html.escape(r['layer'])}</td><td>{'x'.join(map(str, r['kernel_shape']))}</td>"
        f"<td>{r['params']:,}</td><td>{r['bytes_float32']:,}</td><td>{r['bytes_int8']:,}</td></tr>"
        for r in rows)
    total = {k: sum(r[k] for r in rows) for k in ("params", "bytes_float32", "bytes_int8")}
    share = total["bytes_float32"] / uno["flash_usable_bytes"]
    return ("<table><thead><tr><th>layer</th><th>kernel</th><th>parameters</th>"
            "<th>bytes float32</th><th>bytes int8</th></tr></thead><tbody>" + body +
            f"<tr><td><b>total</b></td><td></td><td><b>{total['params']:,}</b></td>"
            f"<td><b>{total['bytes_float32']:,}</b></td><td><b>{total['bytes_int8']:,}</b></td>"
            f"</tr></tbody></table><p>As float32 the parameters take {share:.0%} of an Arduino "
            f"Uno's {uno['flash_usable_bytes']:,} bytes of flash"
            f"{' (they do not fit)' if share > 1 else ''}.</p>")


def train_panel(data, *, default: str = "student", save_as: str = "my_model",
                seed: int = 0) -> widgets.VBox:
    """Pick an architecture (or your own hidden widths), epochs and learning rate; Run trains.

    After a run the panel shows live progress, loss/accuracy curves, the confusion matrix and
    the model's size, saves the model to the workspace as ``save_as``, and keeps
    ``panel.result`` (``model``, ``history``, ``val_accuracy``, ``seconds``). Everything it
    reports is on the **validation** split: the panel is for trying settings, and a choice
    made on the test split would spoil it as the final check (lesson 01).
    """
    architecture = widgets.Dropdown(options=models.available(data.input_shape) + [_CUSTOM], value=default,
                                    description="model")
    hidden = widgets.Text(value="64, 32", description="hidden units", disabled=True,
                          placeholder="e.g. 300, 100", style={"description_width": "initial"})
    epochs = widgets.IntSlider(value=models.ARCHITECTURES[default]["epochs"], min=1, max=100,
                               description="epochs", continuous_update=False)
    learning_rate = widgets.Dropdown(options=[0.01, 0.003, 0.001, 0.0003], value=0.001,
                                     description="learning rate", style={"description_width": "initial"})
    name = widgets.Text(value=save_as, description="save as")
    run = widgets.Button(description="Run", button_style="primary", icon="play")
    status = widgets.HTML("Choose a model and press <b>Run</b>.")
    progress = widgets.Output()
    results = widgets.Output()
    panel = widgets.VBox()

    def choose(change):
        custom = change["new"] == _CUSTOM
        hidden.disabled = not custom
        if not custom:
            epochs.value = models.ARCHITECTURES[change["new"]]["epochs"]

    def build():
        if architecture.value == _CUSTOM:
            return models.mlp(data.input_shape, data.n_classes, parse_hidden_units(hidden.value),
                              seed=seed, name="custom")
        return models.build(architecture.value, data.input_shape, data.n_classes, seed=seed)

    def on_run(_=None):
        run.disabled = True
        try:
            with reporting_errors(status):
                model = build()
                status.value = (f"Training <b>{model.name}</b> "
                                f"({models.count_params(model):,} parameters) for {epochs.value} epochs ...")
                progress.clear_output()
                start = time.perf_counter()
                with progress:
                    history = train.fit(model, data, epochs=epochs.value, seed=seed,
                                        learning_rate=learning_rate.value)
                seconds = time.perf_counter() - start
                val_accuracy = train.accuracy(model, data.X_val, data.y_val)
                saved = workspace.save_model(model, name.value, {
                    "architecture": architecture.value, "dataset": data.name,
                    "epochs": epochs.value, "seed": seed, "val_accuracy": val_accuracy,
                    "params": models.count_params(model)})
                panel.result = {"model": model, "history": history.history,
                                "val_accuracy": val_accuracy, "seconds": seconds}
                status.value = (f"<b>{model.name}</b>: validation accuracy <b>{val_accuracy:.1%}</b> "
                                f"after {epochs.value} epochs in {seconds:.1f} s; saved as "
                                f"<code>{html.escape(saved.name)}</code> in the workspace.")
                show(results,
                     plot.history(history, title=f"{model.name}: learning curves"),
                     plot.confusion_matrix(train.confusion_matrix(model, data, part="val"), data.class_names,
                                           title="confusion matrix (validation)"),
                     widgets.HTML(size_table_html(model)))
        finally:
            run.disabled = False

    architecture.observe(choose, names="value")
    run.on_click(on_run)
    panel.children = [widgets.HBox([architecture, hidden]),
                      widgets.HBox([epochs, learning_rate]), widgets.HBox([name, run]),
                      status, progress, results]
    panel.controls = {"architecture": architecture, "hidden": hidden, "epochs": epochs,
                      "learning_rate": learning_rate, "name": name, "run": run,
                      "status": status, "progress": progress, "results": results}
    panel.result = None
    return panel
