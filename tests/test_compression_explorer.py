"""The compression explorer app's panel, driven without a browser: set .value, read back."""

import subprocess
import sys
import threading

import pytest

from tinylab import compression_grid
from tinylab.widgets import compression_explorer

CLASSES = {"temperature": "tl-temperature", "sparsity": "tl-sparsity", "bits": "tl-bits",
           "huffman": "tl-huffman", "summary": "tl-summary", "figure": "tl-figure"}


@pytest.fixture(scope="module")
def grid():
    return compression_grid.load()


@pytest.fixture
def panel(grid):
    return compression_explorer(grid)


def test_building_the_panel_imports_no_tensorflow():
    """A Voila visitor's fresh kernel renders the panel without loading TensorFlow."""
    code = ("import sys\n"
            "from tinylab.widgets import compression_explorer\n"
            "compression_explorer(prefetch=False)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=True)
    assert done.stdout.strip() == "[]"


def test_css_classes_the_browser_tests_use(panel):
    for name, css_class in CLASSES.items():
        assert css_class in panel.controls[name]._dom_classes, name


def test_first_render_shows_a_point_and_a_figure(panel):
    summary = panel.controls["summary"].value
    final, teacher = panel.result["final"], panel.result["stages"][0]
    # choosing reads the validation accuracy; the test accuracy is only the final check
    assert f"validation accuracy <b>{final['val_accuracy']:.1%}</b>" in summary
    assert f"(teacher {teacher['val_accuracy']:.1%})" in summary
    check = summary.split("Final check")[1]
    assert "test" not in summary.split("Final check")[0]
    assert f"test accuracy {final['test_accuracy']:.1%}" in check
    assert "bytes" in summary
    assert "Uno: <b>" in summary and "Nano 33 BLE: <b>" in summary
    assert "tl.engine.model_storage" in panel.children[-1].value  # the note: what is compared
    assert bytes(panel.controls["figure"].value[:4]) == b"\x89PNG"
    assert panel.result["final"]["stage"] == "P+Q + Huffman (P+Q+H)"


def test_the_figure_plots_the_validation_accuracy(grid, monkeypatch, tmp_path):
    from tinylab.widgets import _compression_explorer as explorer

    monkeypatch.setenv("TINYLAB_CACHE", str(tmp_path))  # drawn here, not read from a cache

    drawn = []
    real = explorer.plot.compression_waterfall

    def spy(stages, **kwargs):
        if threading.current_thread() is threading.main_thread():  # not an earlier prefetch
            drawn.append(stages)
        return real(stages, **kwargs)

    monkeypatch.setattr(explorer.plot, "compression_waterfall", spy)
    panel = compression_explorer(grid, temperature=4.0, sparsity=0.7, bits=4, prefetch=False)
    shown = panel.result["stages"]                 # the stages of the point on the figure
    assert [s["test_accuracy"] for s in drawn[-1]] == [s["val_accuracy"] for s in shown]
    assert [s["bytes"] for s in drawn[-1]] == [s["bytes"] for s in shown]
    point = compression_grid.point(grid, 4.0, 0.7, 4)
    assert panel.result["point"] is point
    assert any(s["test_accuracy"] != s["val_accuracy"] for s in point["stages"])  # unchanged
    assert "validation split" in panel.children[-1].value


def test_every_control_changes_summary_and_figure(panel, grid):
    c = panel.controls
    moves = [("temperature", 4.0), ("sparsity", 0.5), ("bits", 8), ("huffman", False),
             ("temperature", 0.0)]
    for name, value in moves:
        before_summary, before_png = c["summary"].value, c["figure"].value
        c[name].value = value
        assert c["summary"].value != before_summary, name
        assert c["figure"].value != before_png, name
    entry = compression_grid.point(grid, None, 0.5, 8)
    assert panel.result["point"] is entry
    shared = entry["stages"][-2]
    assert panel.result["final"] == shared          # Huffman off: the P+Q stage is the result
    assert f"{shared['bytes']:,} bytes" in c["summary"].value
    assert "(no distillation)" in c["summary"].value and "Huffman-coded" not in c["summary"].value


def test_fits_follow_the_flash_left(panel, grid):
    c = panel.controls
    c["temperature"].value, c["sparsity"].value, c["bits"].value = 0.0, 0.0, 8
    final = panel.result["final"]["bytes"]
    # like with like: the model's data against the flash left after the firmware's code
    # (the empty inference sketch and the engine's huffman decoder, measured)
    assert panel.result["fits"]["uno"]["fits"] == (final <= 32_256 - 3_422 - 1_944)
    assert panel.result["fits"]["uno"]["format"] == "huffman"
    c["huffman"].value = False
    assert panel.result["fits"]["uno"]["format"] == "sparse"
    assert panel.result["fits"]["uno"]["flash_left_bytes"] == 32_256 - 3_422 - 1_486
    c["huffman"].value = True
    c["temperature"].value, c["sparsity"].value, c["bits"].value = 4.0, 0.9, 2
    assert panel.result["fits"]["uno"]["fits"]
    assert "Uno: <b><span style='color:#1a7f37'>fits" in c["summary"].value


def test_every_slider_move_draws_a_new_figure_without_prefetching(grid):
    # Issue 7's goal (under 250 ms from a move to the figure) is a timing, not a test here
    panel = compression_explorer(grid, prefetch=False)
    c = panel.controls
    seen = {bytes(c["figure"].value)}
    for _, value in c["sparsity"].options:
        if value == c["sparsity"].value:
            continue
        c["sparsity"].value = value                 # a new setting: a figure drawn, no cache
        seen.add(bytes(c["figure"].value))
    assert len(seen) == len(c["sparsity"].options)
    assert panel.prefetching is None


def test_prefetching_draws_the_next_step_before_it_is_asked_for(grid, monkeypatch):
    panel = compression_explorer(grid, temperature=4.0, sparsity=0.7, bits=4)
    panel.prefetching.join(timeout=60)
    neighbours = [(4.0, 0.5, 4, True), (4.0, 0.8, 4, True), (4.0, 0.7, 3, True),
                  (4.0, 0.7, 5, True), (2.0, 0.7, 4, True), (8.0, 0.7, 4, True),
                  (4.0, 0.7, 4, False)]
    assert all(key in panel.pngs for key in neighbours), sorted(panel.pngs)
    from tinylab.widgets import _compression_explorer as explorer

    drawn_here = []   # figures drawn by this thread (prefetching around 5 bits may draw others)
    monkeypatch.setattr(explorer.plot, "compression_waterfall", lambda *args, **kwargs:
                        drawn_here.append(threading.current_thread() is threading.main_thread()))
    panel.controls["bits"].value = 5
    assert True not in drawn_here                   # a lookup: nothing drawn for this move
    assert bytes(panel.controls["figure"].value) == panel.pngs[(4.0, 0.7, 5, True)]


def test_a_setting_off_the_grid_is_refused(grid):
    with pytest.raises(ValueError, match="no grid point"):
        compression_explorer(grid, sparsity=0.33)


def test_a_missing_grid_file_says_how_to_record_one(tmp_path):
    with pytest.raises(ValueError, match="python -m tinylab.compression_grid"):
        compression_explorer(tmp_path / "none.json")


def test_a_figure_is_drawn_once_for_all_the_kernels_of_a_room(grid, tmp_path, monkeypatch):
    """Thirty kernels show the same grid: the first draws a figure, the others read it."""
    from tinylab.widgets import _compression_explorer as explorer

    for thread in threading.enumerate():  # earlier tests' panels, still drawing neighbours
        if thread.name == "compression-explorer-prefetch":
            thread.join(timeout=60)
    monkeypatch.setenv("TINYLAB_CACHE", str(tmp_path))
    drawn = []
    real = explorer._waterfall_png
    monkeypatch.setattr(explorer, "_waterfall_png",
                        lambda *args: drawn.append(args) or real(*args))
    first = compression_explorer(grid, prefetch=False)
    assert len(drawn) == 1 and list((tmp_path / "explorer-figures").glob("*.png"))
    second = compression_explorer(grid, prefetch=False)  # another kernel, the same setting
    assert len(drawn) == 1
    assert bytes(second.controls["figure"].value) == bytes(first.controls["figure"].value)
    [kept] = (tmp_path / "explorer-figures").glob("*.png")
    kept.write_bytes(b"half a figure")                  # not a PNG: drawn again, kept again
    third = compression_explorer(grid, prefetch=False)
    assert len(drawn) == 2 and kept.read_bytes() == bytes(third.controls["figure"].value)
    first.controls["bits"].value = first.controls["bits"].options[0][1]  # another figure
    assert len(drawn) == 3 and len(list((tmp_path / "explorer-figures").glob("*.png"))) == 2
    assert not list((tmp_path / "explorer-figures").glob("*.part"))
