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
