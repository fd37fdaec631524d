"""Each checker accepts the reference solution and rejects the usual mistakes with a hint."""

import numpy as np
import pytest

import tinylab as tl
from tinylab import exercises as ex


def test_reference_solutions_pass_their_checkers():
    assert ex.check_uno_weights(ex.solutions.uno_weights()).passed
    assert ex.check_normalize(ex.solutions.normalize).passed
    assert ex.check_dense_params(ex.solutions.dense_params).passed


def test_uno_weights_by_hand():
    assert ex.solutions.uno_weights() == 32256 // 4 == 8064
    assert not ex.check_uno_weights(None)
    wrong_flash = ex.check_uno_weights(32768 // 4)
    assert not wrong_flash and "usable" in wrong_flash.message
    assert "expected a number" in ex.check_uno_weights("lots").message


@pytest.mark.parametrize("attempt, hint", [
    (lambda raw: None, "returned None"),
    (lambda raw: raw / 15, "16 should become 1.0"),
    (lambda raw: np.asarray(raw).ravel() / 16, "shape"),
    (lambda raw: 1 / 0, "ZeroDivisionError"),
    ("not a function", "pass your function"),
])
def test_normalize_checker_explains_what_is_wrong(attempt, hint):
    result = ex.check_normalize(attempt)
    assert not result.passed
    assert hint in result.message


def test_dense_params_checker_spots_missing_biases():
    result = ex.check_dense_params(lambda n_in, n_out: n_in * n_out)
    assert not result.passed and "biases" in result.message
    assert not ex.check_dense_params(lambda n_in, n_out: None)


def test_a_check_result_reads_well_as_text_and_html():
    good, bad = ex.CheckResult("E", True, "fine <ok>"), ex.CheckResult("E", False, "hint")
    assert "correct" in repr(good) and "not yet" in repr(bad)
    assert "&lt;ok&gt;" in good._repr_html_()
    assert bool(good) and not bool(bad)


def test_show_solution_gives_source_and_rejects_unknown_names():
    assert "16" in ex.show_solution("normalize")
    with pytest.raises(ValueError, match="dense_params"):
        ex.show_solution("nope")
