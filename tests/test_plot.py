"""Figures: right number of panels, the numbers written on them, errors for wrong shapes."""

import numpy as np
import pytest
from matplotlib.figure import Figure

import tinylab as tl


def test_digit_writes_the_raw_pixel_values():
    image = np.zeros((8, 8, 1), dtype=np.float32)
    image[2, 3, 0] = 13 / 16
    fig = tl.plot.digit(image)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 64 and texts[2 * 8 + 3] == "13" and texts.count("0") == 63


def test_image_grid_marks_wrong_predictions_in_red(digits):
    y = digits.y_train[:4]
    wrong = y.copy()
    wrong[1] = (y[1] + 1) % 10
    fig = tl.plot.image_grid(digits.X_train[:4], y, digits.class_names, n=4, cols=4,
                             predictions=wrong)
    colours = [ax.title.get_color() for ax in fig.axes]
    assert colours[1] == "red" and colours.count("red") == 1


def test_class_balance_counts_every_example(digits):
    fig = tl.plot.class_balance(digits)
    heights = sum(p.get_height() for p in fig.axes[0].patches)
    assert heights == digits.n_examples


def test_history_and_confusion_matrix():
    fig = tl.plot.history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
                           "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    cm = np.array([[3, 1], [0, 4]])
    fig = tl.plot.confusion_matrix(cm, ["a", "b"])
    assert "87.5%" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="square"):
        tl.plot.confusion_matrix(np.ones((2, 3)))
    with pytest.raises(ValueError, match="loss"):
        tl.plot.history({})


def test_model_sizes_draws_the_board_lines():
    fig = tl.plot.model_sizes({"a": {"float32": 1000, "int8": 250}})
    ax = fig.axes[0]
    lines = {round(line.get_ydata()[0]) for line in ax.lines}
    assert tl.boards.load("uno")["flash_usable_bytes"] in lines


def test_figures_are_not_kept_by_pyplot(digits):
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    for _ in range(5):
        assert isinstance(tl.plot.sample(digits.X_train[0]), Figure)
    assert len(plt.get_fignums()) == before


def test_non_square_vectors_are_refused():
    with pytest.raises(ValueError, match="square"):
        tl.plot.image_grid(np.zeros((2, 10)))


# --------------------------------------------------------------------------- lesson 04: pruning

def test_sensitivity_curves_one_line_per_layer_stars_and_weight_bars():
    levels = [0.0, 0.5, 0.9]
    scan = {"dense_1": [0.98, 0.97, 0.90], "logits": [0.98, 0.80, 0.30]}
    fig = tl.plot.pruning.sensitivity_curves(levels, scan,
                                             weights={"dense_1": 19200, "logits": 1000},
                                             baseline=0.98, chosen={"dense_1": 0.5})
    curves, bars = fig.axes
    lines = {line.get_label(): line for line in curves.lines}
    np.testing.assert_allclose(lines["logits"].get_xdata(), [0, 50, 90])
    np.testing.assert_allclose(lines["logits"].get_ydata(), [98, 80, 30])
    stars = [line for line in curves.lines if line.get_marker() == "*"]
    assert len(stars) == 1 and stars[0].get_xdata()[0] == 50 and stars[0].get_ydata()[0] == 97
    assert [p.get_height() for p in bars.patches] == [19200, 1000]
    assert "19,200" in [t.get_text() for t in bars.texts]
    assert len(tl.plot.pruning.sensitivity_curves(levels, scan).axes) == 1  # no weights: no bars
    with pytest.raises(ValueError, match="2 accuracies for 3 sparsities"):
        tl.plot.pruning.sensitivity_curves(levels, {"dense_1": [0.9, 0.8]})
    with pytest.raises(ValueError, match="needs a scan"):
        tl.plot.pruning.sensitivity_curves(levels, {})


def test_pruning_schedules_draws_staircases_and_the_accuracy_panel():
    fig = tl.plot.pruning.pruning_schedules(
        {"rounds": ([0, 5, 10], [0.5, 0.9, 0.9])},
        {"rounds": ([0, 5, 10], [0.98, 0.95, 0.97])}, baseline=0.98)
    sparsity_axes, accuracy_axes = fig.axes
    (staircase,) = sparsity_axes.lines
    assert staircase.get_drawstyle() == "steps-post"
    np.testing.assert_allclose(staircase.get_ydata(), [50, 90, 90])
    np.testing.assert_allclose(accuracy_axes.lines[0].get_ydata(), [98, 95, 97])
    assert len(tl.plot.pruning.pruning_schedules({"a": ([0, 1], [0.1, 0.2])}).axes) == 1
    with pytest.raises(ValueError, match="2 times for 1 values"):
        tl.plot.pruning.pruning_schedules({"a": ([0, 1], [0.1])})
    with pytest.raises(ValueError, match="at least one"):
        tl.plot.pruning.pruning_schedules({})


# --------------------------------------------------------------------------- lesson 07: Huffman

def test_huffman_tree_writes_weights_bits_and_code_words():
    # counts 5, 2, 1, 1: merges make 2, 4, 9; the leaves' paths are the tree's code words
    nodes = tl.huffman.tree([5, 2, 1, 1])
    fig = tl.plot.huffman_tree(nodes, labels={0: "A", 1: "B", 2: "C", 3: "D"})
    texts = [t.get_text() for t in fig.axes[0].texts]
    for weight in ("9", "4", "2"):
        assert weight in texts
    paths = {n["symbol"]: n["path"] for n in nodes if n["symbol"] is not None}
    assert sorted(len(p) for p in paths.values()) == [1, 2, 3, 3]
    for path in paths.values():
        assert path in texts
    assert "A\n×5" in texts and "D\n×1" in texts
    one_bit_words = sum(p in ("0", "1") for p in paths.values())  # A's word is "1"
    assert sum(t in ("0", "1") for t in texts) == 6 + one_bit_words  # and one bit per edge
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["0", "1", "2", "3"]


def test_huffman_tree_of_one_symbol_and_bad_input():
    fig = tl.plot.huffman_tree(tl.huffman.tree([7]))
    assert "0" in [t.get_text() for t in fig.axes[0].texts]
    with pytest.raises(ValueError, match="tl.huffman.tree"):
        tl.plot.huffman_tree([])


def test_code_lengths_draws_counts_and_lengths():
    counts = {0: 5, 1: 2, 2: 1, 3: 1}
    code = tl.huffman.build_code(counts)
    fig = tl.plot.code_lengths(counts, code)
    ax, right = fig.axes
    assert [p.get_height() for p in ax.patches] == [5, 2, 1, 1]
    lengths = [line for line in right.lines if line.get_label() == "Huffman code length"][0]
    assert lengths.get_ydata().tolist() == [1, 2, 3, 3]
    assert "Huffman 1.67 bits/symbol" in ax.get_title()
    by_count = tl.plot.code_lengths({7: 1, 8: 6, 9: 2}, tl.huffman.build_code({7: 1, 8: 6, 9: 2}),
                                    order="count", labels={8: "eight"})
    assert [t.get_text() for t in by_count.axes[0].get_xticklabels()] == ["eight", "9", "7"]
    with pytest.raises(ValueError, match="no word for symbol 4"):
        tl.plot.code_lengths({0: 1, 4: 1}, code)


def test_bits_per_symbol_shows_fixed_huffman_and_entropy():
    stats = {"a": {"bits_per_symbol": 1.67, "entropy_bits_per_symbol": 1.66, "fixed_bits": 2},
             "b": dict(tl.huffman.storage([0, 0, 0, 1]), fixed_bits=1)}
    fig = tl.plot.bits_per_symbol(stats, highlight="b")
    ax = fig.axes[0]
    assert len(ax.containers) == 3
    texts = [t.get_text() for t in ax.texts]
    assert {"2", "1.67", "1.66", "1.00", "0.81"} <= set(texts)
    assert ax.get_xticklabels()[1].get_fontweight() == "bold"
    no_fixed = tl.plot.bits_per_symbol({"a": {"bits_per_symbol": 1.0, "entropy_bits_per_symbol": 0.5}})
    assert len(no_fixed.axes[0].containers) == 2
    with pytest.raises(ValueError, match="tl.huffman.storage"):
        tl.plot.bits_per_symbol({"a": {"bits": 3}})


def test_quantization_levels_marks_the_levels_weights_use():
    # -0.31 -> -0.4, 0.29 -> 0.2, 0.33 -> 0.4, the zeros sit on 0.0: only -0.2 goes unused
    weights = np.array([[-0.31, 0.0, 0.29], [0.0, 0.33, 0.0]])
    fig = tl.plot.quantization_levels(weights, np.array([-0.4, -0.2, 0.0, 0.2, 0.4]))
    ax = fig.axes[0]
    unused, used = ax.collections
    assert len(unused.get_segments()) == 1 and len(used.get_segments()) == 4
    assert unused.get_segments()[0][0][0] == pytest.approx(-0.2)
    assert "5 levels (4 in use); 3 weights, 3 zeros not drawn" in ax.get_title()
    assert sum(p.get_height() for p in ax.patches) == 3


def test_quantization_levels_draws_one_panel_per_entry():
    weights = np.array([-0.3, 0.0, 0.25, 0.35])
    fig = tl.plot.quantization_levels(weights, {"uniform": np.linspace(-0.4, 0.4, 8),
                                                "k-means": [-0.3, 0.3]}, title="dense_1")
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title().startswith("uniform\n8 levels")
    # a codebook has no 0.0: the pruned zero uses no level of it
    assert "2 levels (2 in use)" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="levels"):
        tl.plot.quantization_levels(weights, {})
    with pytest.raises(ValueError, match="finite"):
        tl.plot.quantization_levels(weights, [0.1, np.nan])


def test_accuracy_vs_bits_draws_each_scheme_the_baseline_and_the_marker():
    fig = tl.plot.accuracy_vs_bits([2, 3, 4], {"affine": [0.5, 0.9, 0.95],
                                               "k-means": ([1, 2], [0.8, 0.9])},
                                   baseline=0.96, marker=3)
    ax = fig.axes[0]
    affine, kmeans = ax.lines[:2]
    np.testing.assert_allclose(affine.get_ydata(), [50, 90, 95])
    np.testing.assert_allclose(kmeans.get_xdata(), [1, 2])
    assert affine.get_marker() != kmeans.get_marker()  # equal curves stay distinguishable
    assert [t for t in ax.get_xticks()] == [1, 2, 3, 4]
    assert any(np.allclose(line.get_ydata(), 96) for line in ax.lines)
    assert any(np.allclose(line.get_xdata(), 3) for line in ax.lines)
    with pytest.raises(ValueError, match="3 bit widths"):
        tl.plot.accuracy_vs_bits([2, 3, 4], {"a": [0.5, 0.6]})


def test_straight_through_draws_the_staircase_and_its_gradient():
    from tinylab.plot.quantization import straight_through

    x = np.linspace(-2.0, 2.0, 81)
    forward, gradient = tl.qat.straight_through(x, 0.5, 0.0, -2, 1)   # levels -1, -0.5, 0, 0.5
    fig = straight_through(x, forward, gradient, title="2 bits")
    left, right = fig.axes
    staircase, = [line for line in left.lines if line.get_label() == "fake-quantized"]
    assert set(np.round(staircase.get_ydata(), 6)) == {-1.0, -0.5, 0.0, 0.5}
    estimate, = [line for line in right.lines if line.get_label() == "straight-through estimate"]
    np.testing.assert_array_equal(estimate.get_ydata(), ((x >= -1.0) & (x <= 0.5)).astype(float))
    with pytest.raises(ValueError, match="one length"):
        straight_through(x, forward[:3], gradient)


def test_compression_stages_labels_every_bar_with_bytes_and_ratio():
    stages = [{"stage": "float32", "bytes": 200_000, "ratio": 1.0, "test_accuracy": 0.98},
              {"stage": "pruned (P)", "bytes": 20_000, "ratio": 10.0, "test_accuracy": 0.975},
              {"stage": "P+Q + Huffman (P+Q+H)", "bytes": 5_000, "ratio": 40.0,
               "test_accuracy": 0.97}]
    fig = tl.plot.compression_stages(stages)
    sizes, accuracy = fig.axes
    assert [round(bar.get_height()) for bar in sizes.patches] == [200_000, 20_000, 5_000]
    texts = [t.get_text() for t in sizes.texts]
    assert "5,000 B\n40.0x" in texts and any("flash" in t for t in texts)
    np.testing.assert_allclose(accuracy.lines[0].get_ydata(), [98.0, 97.5, 97.0])
    # the accuracy axis names each stage by its short label (tl.pipeline.STAGES)
    assert [t.get_text() for t in accuracy.get_xticklabels()] == ["float32", "P", "P+Q+H"]
    waterfall = tl.plot.compression_waterfall(stages)
    assert [t.get_text() for t in waterfall.axes[1].get_xticklabels()] == \
        ["float32", "P", "P+Q+H"]


def test_compression_stages_plots_the_split_it_is_asked_for():
    stages = [{"stage": "float32", "bytes": 200_000, "ratio": 1.0, "test_accuracy": 0.98,
               "val_accuracy": 0.96},
              {"stage": "pruned (P)", "bytes": 20_000, "ratio": 10.0, "test_accuracy": 0.975,
               "val_accuracy": 0.955}]
    _, accuracy = tl.plot.compression_stages(stages, split="val").axes
    np.testing.assert_allclose(accuracy.lines[0].get_ydata(), [96.0, 95.5])
    assert accuracy.get_ylabel() == "validation accuracy (%)"
    with pytest.raises(ValueError, match="'test' or 'val'"):
        tl.plot.compression_stages(stages, split="train")


def test_board_usage_draws_each_build_against_the_limits():
    rows = {"student · int8": {"flash_bytes": 7290, "ram_bytes": 307},
            "compressed · huffman": {"flash_bytes": 6064, "ram_bytes": 300},
            "teacher · int8": {"flash_bytes": 58470, "ram_bytes": None}}
    fig = tl.plot.board_usage(rows, boards=("uno", "nano33ble"), title="builds")
    flash, ram = fig.axes[:2]
    # bars start at the axis' left edge and end at the bytes measured
    assert [round(p.get_x() + p.get_width()) for p in flash.patches] == [7290, 6064, 58470]
    assert len(ram.patches) == 2                    # the failed link has no RAM to draw
    flash_texts = [t.get_text() for t in flash.texts]
    assert "7,290 B (23%)" in flash_texts and "58,470 B (181%) too big" in flash_texts
    assert flash.patches[2].get_hatch() == "//" and flash.patches[0].get_hatch() is None
    assert any("not measured" in t.get_text() for t in ram.texts)
    assert sorted(line.get_xdata()[0] for line in flash.lines) == [32256, 983040]
    labels = [t.get_text() for t in flash.get_yticklabels()]
    top_down = [label for _, label in sorted(zip(flash.get_yticks(), labels), reverse=True)]
    assert top_down == list(rows)                   # the first build on top
    with pytest.raises(ValueError, match="neither"):
        tl.plot.board_usage({"x": {"flash_bytes": None, "ram_bytes": None}})
    with pytest.raises(ValueError, match="unknown board"):
        tl.plot.board_usage(rows, boards=("pdp11",))


def test_board_usage_reads_build_results_and_row_dicts():
    build = type("Build", (), {"flash_bytes": 1000, "ram_bytes": 100})()
    fig = tl.plot.board_usage([{"label": "tiny", "build": build},
                               {"label": "other", "flash_bytes": 2000, "ram_bytes": 50,
                                "format": "sparse"}], boards=("uno",))
    flash = fig.axes[0]
    assert [round(p.get_x() + p.get_width()) for p in flash.patches] == [1000, 2000]


def test_board_answer_marks_scores_that_differ():
    board = np.array([5, 90, -20, -128, 0, 3, 4, 7, 1, 2])
    fig = tl.plot.board_answer(np.zeros(64), board, board.copy(), true_label=1)
    image, scores = fig.axes[:2]
    assert image.get_title() == "true 1"
    assert scores.get_title() == "board: 1, host: 1; scores bit-identical"
    assert [round(p.get_y() + p.get_height()) for p in scores.patches] == board.tolist()
    host = board.copy()
    host[[0, 2]] += 1
    assert "2 scores differ" in tl.plot.board_answer(np.zeros(64), board, host).axes[1].get_title()
    with pytest.raises(ValueError, match="same non-empty shape"):
        tl.plot.board_answer(np.zeros(64), board, board[:9])


def test_image_grid_takes_titles_of_its_own(digits):
    y = digits.y_train[:3]
    fig = tl.plot.image_grid(digits.X_train[:3], y, n=3, cols=3, predictions=(y + 1) % 10,
                             titles=["a", "b", "c"])
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    assert all(ax.title.get_color() == "red" for ax in fig.axes)
    with pytest.raises(ValueError, match="one string per image"):
        tl.plot.image_grid(digits.X_train[:3], y, n=3, titles=["a"])


def test_imu_windows_one_row_per_class_one_plot_per_channel():
    # 3 windows of 4 steps x 2 channels; window i holds the value i everywhere, channel 1 negated
    X = np.repeat(np.arange(3, dtype=np.float32)[:, None, None], 4, axis=1) * np.array([1, -1])
    y = np.array([1, 0, 1])
    fig = tl.plot.imu_windows(X, y, ["a", "b", "c"], ["ax", "gx"], sample_rate_hz=2.0)
    axes = np.array(fig.axes).reshape(3, 2)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["a", "b", "c\n(none)"]
    assert [ax.get_title() for ax in axes[0]] == ["ax", "gx"]
    assert list(axes[0, 1].lines[0].get_ydata()) == [-1] * 4      # class 0: window 1, channel gx
    assert list(axes[1, 0].lines[0].get_ydata()) == [0] * 4       # class 1: its first window, 0
    assert list(axes[1, 0].lines[0].get_xdata()) == [0, 0.5, 1, 1.5]
    assert len(axes[2, 0].lines) == 0
    flat = tl.plot.imu_windows(X.reshape(3, 8), y, ["a", "b", "c"], ["ax", "gx"], per_class=2)
    assert len(flat.axes[2].lines) == 2                           # class 1 has two windows
    with pytest.raises(ValueError, match="steps"):
        tl.plot.imu_windows(X, y, ["a", "b"], ["ax", "ay", "az"])
    with pytest.raises(ValueError, match="labels"):
        tl.plot.imu_windows(X, y[:2], ["a", "b"], ["ax", "gx"])


def test_feature_map_shows_the_input_each_channel_of_the_filter_and_the_map():
    kernel = np.arange(18, dtype=float).reshape(3, 3, 2) - 9
    fig = tl.plot.feature_map(np.zeros((8, 8)), kernel, np.ones((4, 4)), title="conv_2, filter 0")
    image, filter_axes, feature = fig.axes[:3]
    assert filter_axes.get_images()[0].get_array().shape == (3, 3 + 1 + 3)  # 2 channels, 1 gap
    assert "2 input channels" in filter_axes.get_title()
    assert len(filter_axes.texts) == 18 and "-9.00" in [t.get_text() for t in filter_axes.texts]
    assert feature.get_title() == "its map 4x4"
    assert fig._suptitle.get_text() == "conv_2, filter 0"
    one_channel = tl.plot.feature_map(np.zeros(64), np.ones((3, 3)), np.zeros((8, 8)))
    assert one_channel.axes[1].get_title() == "filter 3x3"
    with pytest.raises(ValueError, match="kernel"):
        tl.plot.feature_map(np.zeros((8, 8)), np.ones(9), np.ones((8, 8)))
    with pytest.raises(ValueError, match="one map"):
        tl.plot.feature_map(np.zeros((8, 8)), np.ones((3, 3)), np.ones((8, 8, 2)))


def test_model_comparison_draws_a_panel_per_measure_with_stacked_ram():
    rows = {"MLP": {"params": 2410, "macs": 2368, "flash_bytes": 7290, "ram_bytes": 307,
                    "stack_peak_bytes": 120, "cycles": 42036, "accuracy": 0.96},
            "CNN": {"params": 666, "macs": 7232, "flash_bytes": 6000, "ram_bytes": 400,
                    "stack_peak_bytes": None, "cycles": None, "accuracy": 0.97}}
    fig = tl.plot.model_comparison(rows, limits={"flash_bytes": (32256, "Uno")}, title="t")
    axes = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert list(axes) == list(tl.plot.cnn.MEASURES.values())
    params = axes["parameters"]
    assert [round(p.get_height()) for p in params.patches] == [2410, 666]
    assert [t.get_text() for t in params.texts] == ["2,410", "666"]
    ram = axes["RAM (bytes)"]
    # static bars, then the stack's peak on top of them (none measured for the CNN)
    assert [round(p.get_height()) for p in ram.patches] == [307, 400, 120, 0]
    assert [t.get_text() for t in ram.texts] == ["307 + 120", "400"]
    assert "not measured" in [t.get_text() for t in axes["cycles per inference"].texts]
    assert [t.get_text() for t in axes["accuracy"].texts] == ["96.0%", "97.0%"]
    assert [line.get_ydata()[0] for line in axes["flash (bytes)"].lines] == [32256]
    assert [t.get_text() for t in params.get_xticklabels()] == ["MLP", "CNN"]
    two = tl.plot.model_comparison(rows, measures=("params", "macs"))
    assert len([ax for ax in two.axes if ax.get_visible()]) == 2
    with pytest.raises(ValueError, match="unknown measures"):
        tl.plot.model_comparison(rows, measures=("speed",))
    with pytest.raises(ValueError, match="at least one"):
        tl.plot.model_comparison({})
