"""The board connected in the page, offered by the panels' board dropdowns (issue 20).

``tinylab/widgets/_panel.py``'s :class:`BoardChoice`, used by lesson 01's capture panel and the
draw-a-digit app: when the student connects a board in the page (a
:class:`tinylab.widgets.BoardLink`), the dropdown gains "board connected in this page" and
chooses it; a lost link is said in words. Without a browser first (the link's ``connected``
flipped as the page's messages flip it), then in Chromium: both panels served by Voila, the
page given the ``navigator.serial`` stand-in (tests/fakes/web_serial.js) relayed to a virtual
Uno's pty (tests/fakes/serial_relay.py). The capture panel records rows through the page, then
loses the link in the middle of a recording: every row recorded before the cut is in the CSV.
The draw-a-digit panel, served with a board server as ``tinylab app`` serves it, answers a test
digit on the board behind the page (which already carries the model: nothing is uploaded),
bit for bit with the host's int8 reference. Playwright runs in a thread of its own; every wait
has a bound; nothing is timed.
"""

from __future__ import annotations

import csv
import html
import json
import re

import numpy as np
import pytest

import tinylab as tl
from tinylab import app, build, deploy, engine, virtual
from tinylab.visitors import parse_answer
from tinylab.widgets._panel import LINK_NAME, VIRTUAL, BoardChoice

from _browser import (PageRelay, app_notebook, in_a_thread, launch_chromium, require_chromium,
                      stand_in_page)

CAPTURE_SIM = tl.boards.BOARDS_DIR / "sketches" / "capture_sim"
TEST_DIGIT = 3           # data.X_test[3], sent by the digit page's test button
PAGE_MS = 120_000        # request -> the panel on the page (a fresh kernel imports tinylab)
STEP_MS = 60_000         # one step: connect, one recording, one answer


# --- without a browser: the dropdown's offer ----------------------------------------------------

def _page_says(link, **content) -> None:
    """A message from the page, as the widget takes it: the port's end first, then the trait."""
    link.link.receive(content, [])
    link.connected = link.link.connected


def test_a_connected_link_is_offered_chosen_and_a_lost_one_said_in_words():
    calls = []
    choice = BoardChoice("virtual Uno", on_change=lambda: calls.append(("change", choice.port)),
                         on_lost=lambda reason: calls.append(("lost", reason)))
    dropdown, link = choice.dropdown, choice.link
    assert dropdown.value == VIRTUAL and choice.virtual and choice.port is None
    assert link.port not in [value for _, value in dropdown.options]      # not offered yet

    _page_says(link, op="connected", value=True)                          # "Connect a board"
    assert dropdown.options[1] == (LINK_NAME, link.port)                  # after the virtual Uno
    assert dropdown.value == link.port and choice.link_chosen and choice.port == link.port
    assert calls == [("change", link.port)]                               # the panel heard once
    assert choice.where("virtual Uno") == f"the {LINK_NAME}"

    _page_says(link, op="lost", message="The device has been lost.")      # unplugged
    assert dropdown.value == link.port                                    # never changed under it
    assert dropdown.options[1] == (f"{LINK_NAME} (lost)", link.port)
    assert calls[-1] == ("lost", "The device has been lost.")
    words = choice.lost_text()
    assert "device has been lost" in words and "Connect a board" in words, words

    _page_says(link, op="connected", value=True)                          # connected again
    assert dropdown.options[1] == (LINK_NAME, link.port) and dropdown.value == link.port
    assert calls[-1] == ("change", link.port) and len(calls) == 3         # use it again

    dropdown.value = VIRTUAL                                              # the student's choice
    assert calls[-1] == ("change", None) and len(calls) == 4
    assert (LINK_NAME, link.port) in dropdown.options                     # still offered
    _page_says(link, op="lost", message="gone")                           # lost, not chosen:
    assert link.port not in [value for _, value in dropdown.options]      # the option goes
    assert dropdown.value == VIRTUAL and len(calls) == 4                  # nothing to say


def test_a_lost_link_that_was_chosen_leaves_the_list_once_another_board_is_chosen():
    choice = BoardChoice("virtual Uno")
    _page_says(choice.link, op="connected", value=True)
    _page_says(choice.link, op="lost", message="The device has been lost.")
    assert choice.link_chosen
    choice.dropdown.value = VIRTUAL
    assert [value for _, value in choice.dropdown.options if value == choice.link.port] == []
    assert choice.dropdown.value == VIRTUAL


def test_the_capture_panel_offers_the_link_and_says_when_it_is_lost(tmp_path):
    out = tmp_path / "mine.csv"
    panel = tl.widgets.capture_panel(out, seconds=0.5)
    try:
        c = panel.controls
        link, port = c["link"], c["port"]
        assert isinstance(link, tl.widgets.BoardLink) and port.value == VIRTUAL
        _page_says(link, op="connected", value=True)
        assert port.value == link.port and port.label == LINK_NAME
        assert f"record from <b>the {LINK_NAME}</b>" in c["status"].value

        _page_says(link, op="lost", message="The device has been lost.")
        status = html.unescape(c["status"].value)
        assert port.value == link.port and port.label == f"{LINK_NAME} (lost)"
        assert "not there any more (The device has been lost). Plug it in" in status
        assert "Connect a board" in status and "Traceback" not in status

        c["punch"].click()                          # recording on a lost link: words, no file
        status = html.unescape(c["status"].value)
        assert "no board connected in the page" in status and "Connect a board" in status, status
        assert not out.exists() and panel.result is None
        assert not any(c[label].disabled for label in ("idle", "punch", "flex", "wave"))
    finally:
        panel.close()


def test_the_widgets_package_exports_the_board_link():
    assert "BoardLink" in tl.widgets.__all__ and "BoardLink" in dir(tl.widgets)
    from tinylab.widgets._board_link import BoardLink

    assert tl.widgets.BoardLink is BoardLink


# --- in Chromium, served by Voila -------------------------------------------------------------

CAPTURE_APP = """\
import tinylab as tl

panel = tl.widgets.capture_panel({csv!r}, seconds=1.5)
panel"""

DIGIT_APP = """\
import ipywidgets as widgets
import tinylab as tl

data = tl.data.load("digits", seed=0)
compressed = tl.deep_compressed.load_or_compress(data, route={route!r})
panel = tl.widgets.digit_on_board(data, compressed=compressed)
send = widgets.Button(description="Send a test digit")
send.add_class("tl-test-digit")
send.on_click(lambda _: panel.predict_counts(data.raw(data.X_test[{index}]).reshape(8, 8),
                                             about="a test digit"))
widgets.VBox([panel, send])"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, compressed_in_workspace, quick_route, virtual_uno_tools):
    """Voila on a folder holding the two test apps, with a board server, as `tinylab app`
    serves the apps; yields the server and the capture app's CSV path."""
    require_chromium()
    _, workspace = compressed_in_workspace
    apps = tmp_path_factory.mktemp("link-panel-apps")
    out_csv = tmp_path_factory.mktemp("link-capture") / "rows.csv"
    capture_app = CAPTURE_APP.format(csv=str(out_csv))
    digit_app = DIGIT_APP.format(route=quick_route, index=TEST_DIGIT)
    (apps / "capture.ipynb").write_text(json.dumps(app_notebook(capture_app)))
    (apps / "digit.ipynb").write_text(json.dumps(app_notebook(digit_app)))
    with app.serve(apps, boards=1, prepared=False, pool=0, startup_timeout_s=90,
                   env={"TINYLAB_WORKSPACE": str(workspace), "MPLBACKEND": "Agg"}) as server:
        server.out_csv = out_csv
        yield server


# The dropdown's chosen option as shown (ipywidgets writes its spaces as no-break spaces).
_CHOSEN = ("() => { const s = document.querySelector('.tl-port select');"
           " return s && s.selectedIndex >= 0 ?"
           " s.options[s.selectedIndex].textContent.replace(/\\u00a0/g, ' ') : ''; }")


def _text_has(selector: str, words: str) -> str:
    return (f"() => {{ const e = document.querySelector({json.dumps(selector)});"
            f" return !!e && e.innerText.includes({json.dumps(words)}); }}")


_SEEN = ("() => [...document.querySelectorAll('.tl-port option, .tl-board-link-status,"
         " .tl-capture-status, .tl-board-status')].map((e) => e.innerText)")


def _connect(page) -> str:
    """Click "Connect a board"; wait until the dropdown chose the link; what it shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator(".tl-board-link-connect").wait_for(state="visible", timeout=PAGE_MS)
    page.locator(".tl-board-link-connect").click()
    try:
        page.wait_for_function(f"() => ({_CHOSEN})() === {json.dumps(LINK_NAME)}",
                               timeout=STEP_MS)
    except PlaywrightTimeout:
        raise AssertionError(f"the dropdown did not choose the link; the page shows "
                             f"{page.evaluate(_SEEN)}") from None
    return page.evaluate(_CHOSEN)


def _visit_capture(url: str, relay: PageRelay) -> dict:
    """Connect, record 1.5 s of idle, then a long punch cut by the relay after some rows."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = stand_in_page(browser, url, relay.url, timeout_ms=PAGE_MS)
            outcome = {"chosen": _connect(page)}
            status = page.locator(".tl-capture-status")
            page.locator("button.tl-record-idle").click()
            page.wait_for_function(_text_has(".tl-capture-status", "recorded "), timeout=STEP_MS)
            outcome["first"] = status.inner_text()

            seconds = page.locator(".tl-seconds input")
            seconds.fill("30")
            seconds.press("Tab")                  # committed before the click that follows
            page.locator("button.tl-record-punch").click()
            page.wait_for_function(_text_has(".tl-capture-status", "Recording punch: "),
                                   timeout=STEP_MS)
            outcome["during"] = status.inner_text()
            relay.cut_now()
            page.wait_for_function(_text_has(".tl-capture-status", "Lost the"), timeout=STEP_MS)
            outcome["after_cut"] = status.inner_text()
            outcome["counts"] = page.locator(".tl-capture-counts").inner_text()
            outcome["chosen_after"] = page.evaluate(_CHOSEN)
            outcome["link_status"] = page.locator(".tl-board-link-status").inner_text()
            return outcome
        finally:
            browser.close()


def _csv_rows(path) -> list:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_the_capture_panel_records_through_the_page_and_keeps_every_row_when_cut(served,
                                                                                 tmp_path):
    firmware = build.compile_sketch(CAPTURE_SIM, board="uno")
    with virtual.VirtualUno(firmware) as board, PageRelay(board.port) as relay:
        relay.page_origin = served.url
        outcome = in_a_thread(_visit_capture, served.url + app.render_path("capture.ipynb"),
                              relay)
    assert outcome["chosen"] == LINK_NAME
    first = re.search(r"recorded (\d+) rows labelled 'idle'", outcome["first"])
    assert first, outcome
    idle_rows = int(first.group(1))
    assert idle_rows >= 20 and "(simulated)" in outcome["first"]    # the virtual Uno's sketch

    words = outcome["after_cut"]
    cut = re.search(r"Lost the board connected in this page \(The device has been lost\) after "
                    r"(\d+) rows, all of them saved in the file", words)
    assert cut and "Connect a board" in words and "Traceback" not in words, words
    punch_rows = int(cut.group(1))
    assert punch_rows >= 10, words                       # cut mid-run, after rows had come
    assert f"recorded {punch_rows} rows labelled 'punch'" in words, words
    assert relay.cut and f"{LINK_NAME} (lost)" == outcome["chosen_after"]
    assert "lost the board" in outcome["link_status"], outcome

    rows = _csv_rows(served.out_csv)                     # nothing recorded is lost
    assert rows[0] == ["ax", "ay", "az", "gx", "gy", "gz", "label"]
    assert all(len(row) == 7 for row in rows[1:])
    labels = [row[-1] for row in rows[1:]]
    assert labels == ["idle"] * idle_rows + ["punch"] * punch_rows
    assert f"idle: {idle_rows:,}" in outcome["counts"] and f"punch: {punch_rows:,}" in \
        outcome["counts"], outcome["counts"]


def _visit_digit(url: str, relay_url: str) -> dict:
    """Open the app (board server's virtual Uno ready), connect, send the test digit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = stand_in_page(browser, url, relay_url, timeout_ms=PAGE_MS)
            page.wait_for_function(_text_has(".tl-board-status", "ready"), timeout=PAGE_MS)
            outcome = {"status_before": page.locator(".tl-board-status").inner_text()}
            outcome["chosen"] = _connect(page)
            page.wait_for_function(_text_has(".tl-board-status", f"{LINK_NAME} ready"),
                                   timeout=STEP_MS)
            outcome["status"] = page.locator(".tl-board-status").inner_text()
            page.locator("button.tl-test-digit").click()
            page.wait_for_function(
                "() => { const e = document.querySelector('.tl-board-prediction');"
                " return !!e && (e.innerText.includes('board: ') ||"
                " e.innerHTML.includes('color:#cf222e')); }", timeout=STEP_MS)
            outcome["prediction"] = page.locator(".tl-board-prediction").inner_html()
            return outcome
        finally:
            browser.close()


def test_the_draw_a_digit_panel_answers_on_the_board_behind_the_page(served,
                                                                    compressed_in_workspace,
                                                                    digits):
    compressed, _ = compressed_in_workspace
    mlp = compressed.mlp
    firmware = build.check_fits(deploy.build_firmware(mlp, "huffman", "uno"))
    with virtual.VirtualUno(firmware) as board, PageRelay(board.port) as relay:
        relay.page_origin = served.url
        outcome = in_a_thread(_visit_digit, served.url + app.render_path("digit.ipynb"),
                              relay.url)
    assert "shared virtual Uno ready" in outcome["status_before"], outcome   # the board server's
    assert outcome["chosen"] == LINK_NAME
    status = outcome["status"]
    assert f"{LINK_NAME} ready" in status and "shared" not in status, status  # this kernel's own
    assert mlp.model_hash in status, status               # the banner of the model it carries
    assert relay.pages == 0 and relay.from_port > 0       # nothing uploaded: it carried the model

    answer = parse_answer(outcome["prediction"])
    x = digits.normalize(digits.raw(digits.X_test[TEST_DIGIT]).reshape(digits.input_shape))
    host = engine.run_int8(mlp, engine.quantize_inputs(mlp, x[np.newaxis]))[0]
    assert answer["board_scores"] == host.tolist() and answer["host_scores"] == host.tolist()
    assert answer["page_says_identical"] and answer["board_class"] == int(np.argmax(host))
    assert answer["cycles"] and answer["cycles"] > 0 and answer["latency_ms"] > 0
    assert f"({LINK_NAME})" in outcome["prediction"]      # the round trip went through the page
