"""Energy per inference and battery life: arithmetic by hand, units, sources, bad input."""

import math

import pytest

from tinylab import boards, energy

# A profile with round numbers, so every result below can be checked by hand:
# 1 MHz, 2 V, 10 mA awake, 100 µA asleep; the whole board 40 mA awake, 20 mA asleep.
ROUND = energy.PowerProfile(board="round", mcu="test chip", clock_hz=1e6, volts=2.0,
                            active_ma=10.0, sleep_ua=100.0, board_active_ma=40.0,
                            board_sleep_ma=20.0)


def test_time_is_cycles_over_the_clock():
    assert energy.inference_seconds(16_000, 16e6) == pytest.approx(1e-3)
    assert energy.inference_seconds(500, 1e6) == pytest.approx(5e-4)


def test_energy_by_hand():
    # 5,000 cycles at 1 MHz = 5 ms; 2 V * 10 mA * 5 ms = 100 µJ (V * mA * ms = µJ)
    chip = energy.energy_per_inference(5_000, ROUND)
    assert chip.seconds == pytest.approx(5e-3) and chip.milliseconds == pytest.approx(5.0)
    assert chip.current_ma == 10.0 and chip.volts == 2.0
    assert chip.energy_uj == pytest.approx(100.0)
    # the whole board: 2 V * 40 mA * 5 ms = 400 µJ
    board = energy.energy_per_inference(5_000, ROUND, whole_board=True)
    assert board.energy_uj == pytest.approx(400.0)


def test_average_current_and_battery_life_by_hand():
    # 360 inferences per hour of 5 ms: awake 1.8 s of 3600 s, duty 0.0005
    average_ma, duty = energy.average_current_ma(5_000, 360, ROUND)
    assert duty == pytest.approx(0.0005)
    # 0.0005 * 10 mA + 0.9995 * 0.1 mA = 0.005 + 0.09995 = 0.10495 mA
    assert average_ma == pytest.approx(0.10495)
    life = energy.battery_life(5_000, 360, 1000, ROUND)
    assert life.hours == pytest.approx(1000 / 0.10495)
    assert life.days == pytest.approx(life.hours / 24)
    assert life.years == pytest.approx(life.hours / (24 * 365.25))
    # with the board: 0.0005 * 40 + 0.9995 * 20 = 20.01 mA; 1000 mAh last 49.975 h
    board = energy.battery_life(5_000, 360, 1000, ROUND, whole_board=True)
    assert board.average_ma == pytest.approx(20.01) and board.hours == pytest.approx(1000 / 20.01)


def test_no_inference_means_sleeping_all_the_time():
    life = energy.battery_life(5_000, 0, 1000, ROUND)
    assert life.duty == 0 and life.average_ma == pytest.approx(0.1)
    assert life.hours == pytest.approx(10_000)


def test_more_inferences_or_more_cycles_shorten_the_battery_life():
    lives = [energy.battery_life(c, r, 2000).hours for c, r in ((100_000, 60), (100_000, 600),
                                                               (400_000, 600))]
    assert lives[0] > lives[1] > lives[2]


def test_the_uno_profile_reads_its_clock_from_the_board_file_and_cites_every_figure():
    uno = energy.profile("uno")
    assert uno.clock_hz == boards.load("uno")["clock_hz"] == 16_000_000
    assert uno.mcu == "ATmega328P" and uno.volts == 5.0
    # the board draws far more than its chip, awake and asleep
    assert uno.board_active_ma > 2 * uno.active_ma
    assert uno.board_sleep_ma * 1000 > 1000 * uno.sleep_ua
    for name in ("clock_hz", "volts", "active_ma", "sleep_ua", "board_active_ma", "board_sleep_ma"):
        assert uno.sources[name], name
    assert "DS40002061" in uno.sources["active_ma"]
    assert "gammon.com.au" in uno.sources["board_active_ma"]
    nano = energy.profile("nano33ble")
    assert (nano.mcu, nano.clock_hz) == ("nRF52840", 64_000_000)
    assert "Product Specification" in nano.sources["active_ma"]


def test_a_real_inference_on_the_uno_by_hand():
    uno = energy.profile("uno")
    # 160,000 cycles at 16 MHz = 10 ms
    result = energy.energy_per_inference(160_000, "uno")
    assert result.milliseconds == pytest.approx(10.0)
    assert result.energy_uj == pytest.approx(uno.volts * uno.active_ma * 10.0)


def test_the_nano_board_has_no_cited_figure_and_says_so():
    assert energy.energy_per_inference(64_000, "nano33ble").milliseconds == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no cited figure.*whole_board=False"):
        energy.energy_per_inference(64_000, "nano33ble", whole_board=True)


@pytest.mark.parametrize("call, message", [
    (lambda: energy.battery_life(1000, -1, 2000), "inferences_per_hour must be >= 0"),
    (lambda: energy.battery_life(1000, 10, 0), "capacity_mah must be > 0"),
    (lambda: energy.battery_life(1000, 10, -5), "capacity_mah must be > 0"),
    (lambda: energy.energy_per_inference(0), "cycles must be > 0"),
    (lambda: energy.energy_per_inference(-100), "cycles must be > 0"),
    (lambda: energy.energy_per_inference(float("nan")), "finite"),
    (lambda: energy.battery_life(1000, math.inf, 2000), "finite"),
    (lambda: energy.profile("esp32"), "no power profile for board 'esp32'"),
    (lambda: energy.PowerProfile(board="x", mcu="x", clock_hz=0, volts=1, active_ma=1,
                                 sleep_ua=1), "clock_hz must be > 0"),
])
def test_bad_input_is_refused_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_string_is_not_a_number():
    with pytest.raises(TypeError, match="cycles must be a number, got str"):
        energy.energy_per_inference("1000")


def test_a_rate_the_chip_cannot_keep_up_with_says_the_most_it_can_do():
    # 5 ms per inference: at most 720,000 per hour
    with pytest.raises(ValueError, match="each takes 5.00 ms.*at most 720,000 per hour"):
        energy.battery_life(5_000, 1_000_000, 1000, ROUND)
    assert energy.battery_life(5_000, 720_000, 1000, ROUND).duty == pytest.approx(1.0)


def test_battery_life_reads_in_a_sensible_unit():
    assert energy.battery_life(5_000, 360, 1, ROUND, whole_board=True).to_text() == "0.0 hours"
    assert energy.battery_life(5_000, 360, 500, ROUND, whole_board=True).to_text() == "25.0 hours"
    assert energy.battery_life(5_000, 360, 1000, ROUND, whole_board=True).to_text() == "2.1 days"
    assert energy.battery_life(5_000, 0, 1000, ROUND).to_text() == "416.7 days"
    assert energy.battery_life(5_000, 0, 100_000, ROUND).to_text().endswith("years")
