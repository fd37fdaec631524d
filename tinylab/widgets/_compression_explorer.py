"""Issue 7's first app: slide temperature, sparsity and bits; see bytes, accuracy and boards.

The panel only reads a recorded grid (:mod:`tinylab.compression_grid`): a slider move is a
dictionary lookup and one figure, never training, and building the panel does not import
TensorFlow, so a Voila visitor's fresh kernel renders it in a second or two.

Test-set hygiene (issue 16, error 10): moving sliders is choosing, so what the panel shows for
choosing (the summary's accuracy and the figure's accuracy panel) is the **validation**
accuracy; the test accuracy appears once, labelled as the final check of a chosen setting.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import ipywidgets as widgets

from .. import compression_grid, pipeline, plot
from ._panel import reporting_errors

#: The boards the panel answers for, in the order the summary names them.
BOARDS = ("uno", "nano33ble")
_SHORT = {"uno": "Uno", "nano33ble": "Nano 33 BLE"}
#: Seconds the slider must rest before prefetching starts. A figure being prefetched cannot
#: be interrupted, so prefetching during a quick drag would make each step wait for a stale
#: figure; 0.3 s is longer than the gap between steps of a drag and shorter than the pause
#: before a visitor's next deliberate move. Measured on this project's 2-core machine.
PREFETCH_IDLE_SECONDS = 0.3


def _grid(grid) -> dict:
    if grid is None or not isinstance(grid, dict):
        return compression_grid.load(grid)
    if "_index" not in grid:  # a dict read some other way: check it the same way
        return compression_grid.validate(grid, "the grid given")
    return grid


def _png(figure, dpi: int = 80) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _describe(settings, temperature, sparsity, bits, huffman) -> str:
    route = (f"{settings['model']} (no distillation)" if not temperature else
             f"{settings['model']} distilled into {settings['student']} at T={temperature:g}")
    return (f"{route}, {sparsity:.0%} pruned, {bits}-bit shared"
            f"{', Huffman-coded' if huffman else ''}")


def _times(reference_bytes: int, n_bytes: int) -> str:
    if n_bytes <= reference_bytes:
        return f"{reference_bytes / n_bytes:.1f}x smaller than"
    return f"{n_bytes / reference_bytes:.1f}x larger than"


def _fits_html(fit: dict, board_id: str) -> str:
    word = ("<span style='color:#1a7f37'>fits</span>" if fit["fits"]
            else "<span style='color:#cf222e'>does not fit</span>")
    return (f"{_SHORT[board_id]}: <b>{word}</b> "
            f"({fit['share']:.1%} of {fit['flash_left_bytes']:,} B)")


def _comparison_note(fits: dict) -> str:
    uno, nano = fits["uno"], fits["nano33ble"]
    code = (f"minus {uno['engine_code_bytes']:,} B of TinyLab's C engine for the "
            f"<code>{html.escape(str(uno['format']))}</code> format"
            if uno["engine_code_bytes"] is not None else "(the engine's code not counted)")
    return (
        "<small style='color:#57606a'>What is compared: the model's data as the board's flash "
        "holds it (<code>tl.engine.model_storage</code>: int8 weights or codebook indices with "
        "their gaps and row counts, codebooks, Huffman code tables, biases, requantization "
        "data), against the flash a board has left for it. "
        f"Uno: {uno['flash_usable_bytes']:,} B usable, minus {uno['fixed_bytes']:,} B for "
        f"TinyLab's inference firmware without a model, {code} (both measured with avr-gcc "
        "5.4, <code>tinylab.compression_grid</code>): "
        f"{uno['flash_left_bytes']:,} B left. "
        f"Nano 33 BLE: its {nano['flash_left_bytes']:,} B of usable flash, the firmware's and "
        "engine's code not measured here (no mbed toolchain offline). RAM is not compared. "
        "Accuracy: the validation split of the digits (270 examples), the split to choose "
        "on; the test split's (270 other digits) is the final check of the setting you "
        "choose, not a score to choose by. Recorded grid, no training here.</small>")


def _validation_view(stages) -> list:
    """The stages with their validation accuracy where the waterfall reads ``test_accuracy``.

    ``plot.compression_waterfall`` plots ``test_accuracy``; the panel shows what to choose by.
    """
    return [dict(stage, test_accuracy=stage["val_accuracy"]) for stage in stages]


def _waterfall_png(stages, limits) -> bytes:
    figure = plot.compression_waterfall(_validation_view(stages), limits=limits)
    figure.axes[1].set_ylabel("validation accuracy (%)")
    return _png(figure)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _figure_file(stages, limits) -> Path:
    """Where the figure of ``stages`` and ``limits`` is kept for every kernel of this user:
    TinyLab's cache (:func:`tinylab.build.cache_dir`), named by a hash of what it shows and of
    the code and matplotlib that draw it."""
    import matplotlib

    from .. import build

    code = b"".join(Path(module.__file__).read_bytes() for module in (plot,)) + \
        Path(__file__).read_bytes()
    recipe = json.dumps({"stages": stages, "limits": limits, "matplotlib": matplotlib.__version__,
                         "code": hashlib.sha256(code).hexdigest()}, sort_keys=True, default=str)
    name = hashlib.sha256(recipe.encode()).hexdigest()[:32]
    return build.cache_dir() / "explorer-figures" / f"{name}.png"


def shared_waterfall_png(stages, limits) -> bytes:
    """The figure's PNG, drawn once for all the kernels of this user.

    A lecture hall's thirty kernels of the compression explorer show the same recorded grid:
    each figure is drawn by the first kernel that needs it and read by the others (a few
    milliseconds instead of about 0.2 s of matplotlib). A file that is not a PNG is drawn
    again; a cache that cannot be written only costs the sharing.
    """
    path = _figure_file(stages, limits)
    try:
        kept = path.read_bytes()
        if kept.startswith(_PNG_SIGNATURE):
            return kept
    except OSError:
        pass
    png = _waterfall_png(stages, limits)
    temporary = None
    try:  # atomic: another kernel reads either nothing or the whole figure
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(png)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    return png


def _nearest(values, wanted):
    return min(values, key=lambda v: abs(v - wanted))


def _neighbours(key, options):
    """The settings one slider step (or the Huffman switch) away from ``key``."""
    found = []
    for axis, values in enumerate(options):
        if axis == 3:
            found.append(key[:3] + (not key[3],))
            continue
        here = values.index(key[axis])
        for step in (1, -1):
            if 0 <= here + step < len(values):
                found.append(key[:axis] + (values[here + step],) + key[axis + 1:])
    return found


def compression_explorer(grid=None, *, temperature=None, sparsity=None, bits=None,
                         huffman: bool = True, prefetch: bool = True) -> widgets.VBox:
    """Sliders over a recorded compression grid; a waterfall figure and a one-line summary.

    A slider move looks the point up and draws one figure (about 0.1-0.2 s of CPU). With
    ``prefetch``, once the sliders rest for :data:`PREFETCH_IDLE_SECONDS`, a background
    thread draws the figures one step away on each slider (and with Huffman switched), so
    the next step usually shows at once; drawing is serialised by a lock, and stale
    prefetching stops when the visitor moves on.

    Parameters
    ----------
    grid : dict, str or Path, optional
        A grid from :func:`tinylab.compression_grid.load`, or a path to one; default the
        committed ``datasets/compression_grid/grid.json``.
    temperature : float or None
        First position of the temperature slider; ``None`` (or 0): no distillation.
    sparsity : float, optional
        First sparsity shown (must be on the grid); default the grid's nearest to 90%.
    bits : int, optional
        First bit width shown (must be on the grid); default the grid's nearest to 4.
    huffman : bool
        Whether the Huffman stage is shown first.
    prefetch : bool
        Draw the neighbouring settings' figures in the background.

    Returns
    -------
    ipywidgets.VBox
        With ``controls`` (``temperature``, ``sparsity``, ``bits``, ``huffman``, ``summary``,
        ``figure``), ``grid``, ``pngs`` ({(T or None, sparsity, bits, huffman): PNG bytes}
        drawn so far), ``prefetching`` (the background thread, or None) and ``result``:
        ``{"point", "stages", "final", "fits"}`` for what is shown. The temperature slider's
        value 0.0 means "no distillation". CSS classes for browser tests: ``tl-temperature``,
        ``tl-sparsity``, ``tl-bits``, ``tl-huffman``, ``tl-summary``, ``tl-figure``.
    """
    grid = _grid(grid)
    axes = grid["axes"]
    temperature_options = [("off", 0.0)] * (None in axes["temperature"]) + [
        (f"{t:g}", float(t)) for t in axes["temperature"] if t is not None]
    start_t = float(temperature or 0.0)
    sparsity = _nearest(axes["sparsity"], 0.9) if sparsity is None else sparsity
    bits = _nearest(axes["bits"], 4) if bits is None else bits
    compression_grid.point(grid, temperature or None, sparsity, bits)  # ValueError if absent

    temperature_slider = widgets.SelectionSlider(
        options=temperature_options, value=start_t, description="temperature T",
        continuous_update=True, style={"description_width": "initial"})
    sparsity_slider = widgets.SelectionSlider(
        options=[(f"{s:.0%}", float(s)) for s in axes["sparsity"]], value=float(sparsity),
        description="sparsity", continuous_update=True, style={"description_width": "initial"})
    bits_slider = widgets.SelectionSlider(
        options=[(str(b), int(b)) for b in axes["bits"]], value=int(bits),
        description="bits per weight", continuous_update=True,
        style={"description_width": "initial"})
    huffman_toggle = widgets.ToggleButton(value=bool(huffman), description="Huffman coding",
                                          icon="compress", tooltip="show the P+Q+H stage")
    summary = widgets.HTML()
    note = widgets.HTML()
    figure = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
    for control, name in ((temperature_slider, "tl-temperature"), (sparsity_slider, "tl-sparsity"),
                          (bits_slider, "tl-bits"), (huffman_toggle, "tl-huffman"),
                          (summary, "tl-summary"), (figure, "tl-figure")):
        control.add_class(name)
    panel = widgets.VBox()
    teacher_bytes = grid["teacher"]["bytes"]
    options = ([t or None for _, t in temperature_options], list(map(float, axes["sparsity"])),
               list(map(int, axes["bits"])), None)
    pngs, drawing, wanted = {}, threading.Lock(), {"generation": 0}

    def stages_and_fits(key):
        stages = compression_grid.stages_for(compression_grid.point(grid, *key[:3]),
                                             huffman=key[3])
        final_format = pipeline.stage_format(stages[-1]["stage"])
        return stages, {board: compression_grid.board_fit(board, stages[-1]["bytes"],
                                                          final_format)
                        for board in BOARDS}

    def png_for(key) -> bytes:
        with drawing:  # one figure at a time: matplotlib artists are not thread-safe
            if key not in pngs:
                stages, fits = stages_and_fits(key)
                limits = {f"{_SHORT[board]}: flash left for a model":
                          fits[board]["flash_left_bytes"] for board in BOARDS}
                pngs[key] = shared_waterfall_png(stages, limits)
            return pngs[key]

    def prefetch_around(key, generation):
        time.sleep(PREFETCH_IDLE_SECONDS)
        for near in _neighbours(key, options):
            if wanted["generation"] != generation:
                return  # the visitor moved on: draw around the new setting instead
            try:
                png_for(near)
            except Exception:  # a prefetch must never disturb the panel
                return

    def redraw(_=None):
        with reporting_errors(summary):
            key = (temperature_slider.value or None, float(sparsity_slider.value),
                   int(bits_slider.value), bool(huffman_toggle.value))
            wanted["generation"] += 1
            stages, fits = stages_and_fits(key)
            figure.value = png_for(key)
            final, teacher = stages[-1], stages[0]
            t, s, b, h = key
            summary.value = (
                f"<b>{html.escape(_describe(grid['settings'], t, s, b, h))}</b>: "
                f"<b>{final['bytes']:,} bytes</b> ({_times(teacher_bytes, final['bytes'])} "
                f"the float32 teacher's {teacher_bytes:,}), validation accuracy "
                f"<b>{final['val_accuracy']:.1%}</b> (teacher {teacher['val_accuracy']:.1%}) "
                f"&middot; {_fits_html(fits['uno'], 'uno')} &middot; "
                f"{_fits_html(fits['nano33ble'], 'nano33ble')}"
                f"<br><small style='color:#57606a'>Final check, once you have chosen: test "
                f"accuracy {final['test_accuracy']:.1%} (teacher "
                f"{teacher['test_accuracy']:.1%}), on digits no choice has seen.</small>")
            note.value = _comparison_note(fits)
            panel.result = {"point": compression_grid.point(grid, t, s, b), "stages": stages,
                            "final": final, "fits": fits}
            if prefetch and any(near not in pngs for near in _neighbours(key, options)):
                # Not a daemon: a daemon thread killed inside matplotlib's C++ at interpreter
                # exit aborts the process ("terminate called without an active exception").
                # The work is bounded (a few figures), so exit waits at most a second or two.
                panel.prefetching = threading.Thread(
                    target=prefetch_around, args=(key, wanted["generation"]), daemon=False,
                    name="compression-explorer-prefetch")
                panel.prefetching.start()

    controls = [temperature_slider, sparsity_slider, bits_slider, huffman_toggle]
    for control in controls:
        control.observe(redraw, names="value")
    panel.children = [widgets.HBox([widgets.VBox(controls[:3]), huffman_toggle]), summary, figure,
                      note]
    panel.controls = {"temperature": temperature_slider, "sparsity": sparsity_slider,
                      "bits": bits_slider, "huffman": huffman_toggle, "summary": summary,
                      "figure": figure}
    panel.grid, panel.pngs, panel.result, panel.prefetching = grid, pngs, None, None
    redraw()
    return panel
