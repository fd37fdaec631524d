"""Lesson 08's energy panel, driven without a browser: set values, read what it shows."""

import matplotlib
import pytest

matplotlib.use("Agg")

import tinylab as tl  # noqa: E402
from tinylab import energy  # noqa: E402

CYCLES = {"student · int8": 32_000, "teacher · huffman": 480_000}


def test_the_panel_shows_the_energy_and_battery_life_of_the_chosen_build():
    panel = tl.widgets.energy_explorer(CYCLES, inferences_per_hour=3600, capacity_mah=1000)
    c = panel.controls
    state = panel.state
    assert state["build"] == "student · int8" and state["cycles"] == 32_000
    # 32,000 cycles at 16 MHz = 2 ms
    assert state["energy"].milliseconds == pytest.approx(2.0)
    expected = energy.battery_life(32_000, 3600, 1000, "uno")
    assert state["life"].hours == pytest.approx(expected.hours, rel=1e-3)
    assert "2.00 ms" in c["info"].value and expected.to_text() in c["info"].value
    assert "bare ATmega328P" in c["info"].value


def test_moving_the_controls_recomputes():
    panel = tl.widgets.energy_explorer(CYCLES, inferences_per_hour=60, capacity_mah=2000)
    c = panel.controls
    first = panel.state["life"].hours
    c["rate"].value = 6000
    assert panel.state["life"].inferences_per_hour == pytest.approx(6000)
    assert panel.state["life"].hours < first
    c["build"].value = "teacher · huffman"
    assert panel.state["energy"].milliseconds == pytest.approx(30.0)
    slow = panel.state["life"].hours
    c["capacity"].value = 1000
    assert panel.state["life"].hours == pytest.approx(slow * 1000 / 2000, rel=1e-3)
    c["draw"].value = True
    uno = energy.profile("uno")
    assert panel.state["energy"].current_ma == uno.board_active_ma
    assert panel.state["life"].hours < slow and "whole uno board" in c["info"].value


def test_a_rate_the_chip_cannot_keep_up_with_shows_an_error_in_the_panel():
    panel = tl.widgets.energy_explorer({"slow": 16_000_000})  # one second per inference
    panel.controls["rate"].value = 36_000
    assert "ValueError" in panel.controls["info"].value
    assert "at most 3,600 per hour" in panel.controls["info"].value


def test_a_single_number_of_cycles_and_a_board_without_a_board_figure():
    panel = tl.widgets.energy_explorer(64_000, board="nano33ble")
    assert list(panel.controls["build"].options) == ["the model"]
    assert [value for _, value in panel.controls["draw"].options] == [False]  # no board figure
    assert panel.state["energy"].milliseconds == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no cited figure"):
        tl.widgets.energy_explorer(64_000, board="nano33ble", whole_board=True)


@pytest.mark.parametrize("cycles, message", [({}, "non-empty dict"),
                                             ({"x": -5}, "cycles must be > 0"),
                                             (0, "cycles must be > 0")])
def test_bad_cycles_are_refused_before_any_widget(cycles, message):
    with pytest.raises(ValueError, match=message):
        tl.widgets.energy_explorer(cycles)


def test_the_battery_figure_draws_one_line_per_profile_and_the_choice():
    fig = tl.plot.boards.battery_life([1, 10, 100], {"bare chip": [1e5, 1e4, 1e3],
                                                     "whole board": [40, 40, 39]},
                                      chosen=(10, 1e4))
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines if not line.get_label().startswith("_")] == \
        ["bare chip", "whole board", "your choice"]
    with pytest.raises(ValueError, match="2 lives for 3 rates"):
        tl.plot.boards.battery_life([1, 10, 100], {"chip": [1, 2]})
