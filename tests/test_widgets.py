"""Widget panels driven as a student would, without a browser: set .value, .click(), read back."""

import numpy as np
import pytest

import tinylab as tl
from tinylab.widgets.train_panel import parse_hidden_units


def test_doctor_view_shows_every_check_and_refreshes(monkeypatch):
    panel = tl.widgets.doctor_view()
    table = panel.controls["table"]
    for check in tl.doctor.report()["checks"]:
        assert check["name"] in table.value
    fake = {"tinylab": "x", "platform": "p", "ok": False, "install_missing_toolchain": None,
            "serial_ports": [], "checks": [{"name": "simavr", "category": "toolchain", "ok": False,
                                            "version": None, "detail": "d", "required": True,
                                            "fix": "sudo apt-get install -y simavr"}]}
    monkeypatch.setattr(tl.doctor, "report", lambda: fake)
    panel.controls["again"].click()
    assert "sudo apt-get install -y simavr" in table.value
    assert "missing" in table.value


def test_sample_browser_filters_by_class_and_part(digits):
    panel = tl.widgets.sample_browser(digits)
    c = panel.controls
    c["label"].value = 7
    assert c["index"].max == np.sum(digits.y_train == 7) - 1
    c["index"].value = 3
    assert "class <b>7</b>" in c["info"].value
    c["part"].value = "test"
    assert c["index"].max == np.sum(digits.y_test == 7) - 1
    assert c["info"].value.startswith("<b>test[")
    c["label"].value = -1
    assert c["index"].max == len(digits.y_test) - 1


def test_sample_browser_shows_the_chosen_example(digits):
    panel = tl.widgets.sample_browser(digits)
    c = panel.controls
    c["label"].value = 3
    c["index"].value = 2
    expected = int(np.flatnonzero(digits.y_train == 3)[2])
    assert f"train[{expected}]" in c["info"].value


@pytest.mark.parametrize("text, units", [("300, 100", (300, 100)), ("32", (32,)),
                                         (" 8 ;4 ", (8, 4))])
def test_parse_hidden_units(text, units):
    assert parse_hidden_units(text) == units


@pytest.mark.parametrize("text", ["", "12x", "0", "5000", "3.5"])
def test_parse_hidden_units_rejects_with_an_example(text):
    with pytest.raises(ValueError, match="e.g."):
        parse_hidden_units(text)


def test_train_panel_runs_saves_and_reports(digits):
    panel = tl.widgets.train_panel(digits, save_as="panel_model")
    c = panel.controls
    c["architecture"].value = "custom MLP"
    assert not c["hidden"].disabled
    c["hidden"].value = "12"
    c["epochs"].value = 2
    c["run"].click()
    assert panel.result is not None, c["status"].value
    model = panel.result["model"]
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [12, 10]
    assert len(panel.result["history"]["loss"]) == 2
    assert f"{panel.result['test_accuracy']:.1%}" in c["status"].value
    assert tl.workspace.has_model("panel_model")
    card = tl.workspace.load_card("panel_model")
    assert card["epochs"] == 2 and card["test_accuracy"] == pytest.approx(panel.result["test_accuracy"])
    assert not c["run"].disabled


def test_train_panel_reports_bad_input_in_plain_words(digits):
    panel = tl.widgets.train_panel(digits)
    c = panel.controls
    c["architecture"].value = "custom MLP"
    c["hidden"].value = "a lot"
    c["run"].click()
    assert "ValueError" in c["status"].value and "e.g." in c["status"].value
    assert panel.result is None
    assert not c["run"].disabled  # the student can fix it and run again
    c["architecture"].value = "tiny"
    c["name"].value = "../escape"
    c["epochs"].value = 1
    c["run"].click()
    assert "file name" in c["status"].value


def test_choosing_an_architecture_sets_its_epochs(digits):
    panel = tl.widgets.train_panel(digits)
    c = panel.controls
    c["architecture"].value = "tiny"
    assert c["epochs"].value == tl.models.ARCHITECTURES["tiny"]["epochs"]
    assert c["hidden"].disabled


def test_size_table_totals_match_the_model():
    from tinylab.widgets.train_panel import size_table_html

    model = tl.models.build("student")
    table = size_table_html(model)
    assert f"<b>{tl.models.count_params(model):,}</b>" in table
    assert f"{4 * tl.models.count_params(model):,}" in table
