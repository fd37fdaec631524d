"""Uploading from the browser over Web Serial (issue 20's foundation): the STK500v1 programmer
of ``tinylab/widgets/_stk500.js`` in Chromium, into the virtual Uno's real Optiboot.

Chromium has no fake serial device, so the page gets a stand-in for ``navigator.serial``
(``tests/fakes/web_serial.js``) whose bytes go over a WebSocket to a relay
(``tests/fakes/serial_relay.py``) holding the virtual Uno's pty; DTR turned off and on closes
and reopens the pty, which resets the virtual MCU into Optiboot as the DTR edge resets a real
Uno. The relay also serves the page and its modules: the page's origin is the relay's, the only
one it lets connect. What the board runs afterwards is checked in Python as
tests/test_upload_virtual.py does: its banner (the model hash) and answers bit for bit.

Playwright runs in a thread of its own (under ``make test`` the Voila browser tests' sync
Playwright may own this thread's event loop). Every wait has a bound: the page's own (the
programmer's timeouts), the evaluation's (``PAGE_BOUND_MS``) and the thread's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from pathlib import Path

import pytest

from tinylab import _bootloader, _ihex, virtual
from tinylab.serial.errors import SerialError

ROOT = Path(__file__).resolve().parents[1]
from _boards import check_runs
from _browser import FAKES, in_a_thread, launch_chromium, require_chromium
from serial_relay import SerialRelay  # noqa: E402  (tests/fakes, on the path by _browser)

FILES = {"/_stk500.js": ROOT / "tinylab" / "widgets" / "_stk500.js",
         "/web_serial.js": FAKES / "web_serial.js"}
PAGE_BOUND_MS = 90_000     # one evaluation in the page, whatever it waits for
THREAD_BOUND_S = 150       # the Playwright thread's answer, whatever happens in the page
BANNER_MS = 10_000         # the sketch's banner after an upload (Optiboot starts it in ~20 ms)
UPLOAD_BOUND_S = 30        # an upload of the inference firmware (avrdude: 2.5 s)
NO_SYNC_BOUND_S = 15       # give up on a board without a bootloader (4 resets: 6 to 9 s)

# The page's side of a test: open the stand-in port, upload, then read the sketch's banner from
# the same port (the programmer released it), close. Returns what happened, errors as data.
UPLOAD_IN_PAGE = """
async ({relayUrl, hexText, options, readBanner, abortAfterBytes, boundMs}) => {
  const {upload} = await import("/_stk500.js");
  const {installSerialStandIn, readLine} = await import("/web_serial.js");
  installSerialStandIn(relayUrl);
  const port = await navigator.serial.requestPort();
  const progress = [];
  const outcome = {progress};
  const started = performance.now();
  const controller = new AbortController();
  const work = (async () => {
    await port.open({baudRate: 115200});
    try {
      outcome.result = await upload(port, hexText, {
        ...options, signal: controller.signal,
        onProgress: (phase, done, total) => {
          progress.push([phase, done, total]);
          if (abortAfterBytes !== null && phase === "write" && done >= abortAfterBytes) {
            controller.abort();
          }
        },
      });
    } catch (error) {
      outcome.error = {name: error.name, reason: error.reason, message: error.message,
                       details: error.details || null};
    }
    outcome.seconds = (performance.now() - started) / 1000;
    outcome.readableAfter = port.readable !== null && !port.readable.locked;
    if (readBanner && port.readable) outcome.banner = await readLine(port, "#TINYLAB", readBanner);
    await port.close();
  })();
  let timer;
  const bound = new Promise((resolve) => {
    timer = setTimeout(() => resolve("bound"), boundMs);
  });
  const finished = await Promise.race([work.then(() => "done", (e) => "failed: " + e), bound]);
  clearTimeout(timer);
  outcome.finished = finished;
  return outcome;
}
"""


class _Chromium:
    """Debian's Chromium, driven by Playwright's sync API from one thread of its own."""

    def __init__(self):
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="chromium")
        self._call(self._start)

    def _call(self, function, *args):
        return self._thread.submit(function, *args).result(timeout=THREAD_BOUND_S)

    def _start(self):
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = launch_chromium(self._playwright)

    def _evaluate(self, origin, script, argument):
        page = self._browser.new_page()
        messages = []
        page.on("console", lambda message: messages.append(message.text))
        page.on("pageerror", lambda error: messages.append(f"page error: {error}"))
        try:
            page.goto(f"{origin}/", timeout=30_000)
            outcome = page.evaluate(script, argument)
        finally:
            page.close()
        outcome["console"] = messages
        return outcome

    def evaluate(self, origin, script, argument):
        """``script`` run in a fresh page at ``origin`` (a relay's), its answer."""
        return self._call(self._evaluate, origin, script, argument)

    def close(self):
        def stop():
            self._browser.close()
            self._playwright.stop()
        try:
            self._call(stop)
        finally:
            self._thread.shutdown(wait=False)


@pytest.fixture(scope="module")
def chromium():
    require_chromium()
    browser = _Chromium()
    yield browser
    browser.close()


def _upload_in_browser(chromium, relay, hex_text, *, options=None, read_banner_ms=None,
                       abort_after_bytes=None):
    outcome = chromium.evaluate(relay.origin, UPLOAD_IN_PAGE, {
        "relayUrl": relay.url, "hexText": hex_text, "options": options or {},
        "readBanner": read_banner_ms, "abortAfterBytes": abort_after_bytes,
        "boundMs": PAGE_BOUND_MS})
    assert outcome["finished"] == "done", outcome
    # The page closed its port: the relay let go of the pty (for Device, or the next page).
    assert relay.client_gone.wait(10), "the page's port was closed but the relay still holds it"
    return outcome


def test_the_browser_uploads_through_optiboot_and_the_board_runs_the_new_sketch(
        chromium, old_sketch, new_sketch, record_property):
    old_mlp, old_firmware = old_sketch
    new_mlp, new_firmware, x_int8, host = new_sketch
    hex_text = new_firmware.hex_path.read_text()
    with virtual.VirtualUno(old_firmware, bootloader=True) as board:
        with SerialRelay(board.port, files=FILES) as relay:
            outcome = _upload_in_browser(chromium, relay, hex_text, read_banner_ms=BANNER_MS)
        assert "error" not in outcome, outcome["error"]
        result = outcome["result"]
        assert result["signature"] == [0x1E, 0x95, 0x0F] and result["chip"] == "ATmega328P"
        assert result["bootloaderVersion"] == "4.4"     # Optiboot's, from STK_GET_PARAMETER
        memory = _ihex.read(new_firmware.hex_path)
        low, high = _ihex.span(memory)
        pages = -(-high // 128) - low // 128
        assert result["dataBytes"] == len(memory)
        assert result["pages"] == pages and result["bytesWritten"] == 128 * pages
        assert result["seconds"] < UPLOAD_BOUND_S
        # Progress: a reset, then bytes written and checked, rising to the total, then done.
        phases = [phase for phase, _, _ in outcome["progress"]]
        assert phases[0] == "reset" and phases[-1] == "done"
        for phase in ("write", "verify"):
            done = [d for p, d, t in outcome["progress"] if p == phase]
            assert done == sorted(done) and done[0] == 0 and done[-1] == result["bytesWritten"]
        # The programmer let go of the port: the new sketch's banner came over the same port.
        assert outcome["readableAfter"] is True
        assert outcome["banner"] and f"model={new_mlp.model_hash}" in outcome["banner"]
        # Every page went to the board and came back (the verify), and the port was reopened by
        # the DTR reset after the page's open.
        assert relay.to_port > result["bytesWritten"] and relay.from_port > result["bytesWritten"]
        assert relay.opens == 2 and relay.signals == 2
        check_runs(board.port, new_mlp, x_int8, host)
        with pytest.raises(SerialError, match=f"carries model {new_mlp.model_hash}"):
            check_runs(board.port, old_mlp)
        assert board.running
    record_property("web_serial_upload_s", round(result["seconds"], 2))
    print(f"\nWeb Serial upload of {result['dataBytes']:,} bytes ({result['pages']} pages): "
          f"{result['seconds']:.2f} s in the page")


def test_parse_intel_hex_reads_a_hand_made_file_and_names_what_is_wrong(chromium, tmp_path):
    # Two records 0x10 apart after an extended linear address of 0: a gap of 0xFF between.
    good = ":0400000001020304F2\n:020000040000FA\n:02001000AABB89\n:00000001FF\n"
    bad = {
        "checksum": ":0400000001020304F3\n:00000001FF\n",
        "cut": ":0400000001020304F2\n",
        "binary": "\x7fELF\x02\x01\x01\x00",
        "not-hex": "hello, world\n",
        "empty": ":00000001FF\n",
    }
    script = """
    async ({good, bad}) => {
      const {parseIntelHex} = await import("/_stk500.js");
      const parsed = parseIntelHex(good);
      const errors = {};
      for (const [name, text] of Object.entries(bad)) {
        try { parseIntelHex(text); errors[name] = null; }
        catch (error) { errors[name] = [error.name, error.reason, error.message]; }
      }
      return {bytes: Array.from(parsed.bytes), start: parsed.start, end: parsed.end,
              dataBytes: parsed.dataBytes, errors, finished: "done"};
    }
    """
    pty_board = tmp_path / "no-board"    # the relay opens its port only when a page connects
    with SerialRelay(str(pty_board), files=FILES) as relay:
        outcome = chromium.evaluate(relay.origin, script, {"good": good, "bad": bad})
    assert outcome["bytes"] == [1, 2, 3, 4] + [0xFF] * 12 + [0xAA, 0xBB]
    assert (outcome["start"], outcome["end"], outcome["dataBytes"]) == (0, 18, 6)
    errors = outcome["errors"]
    for name, words in [("checksum", "Line 1 of the .hex file has a bad checksum"),
                        ("cut", "cut short"), ("binary", "binary"),
                        ("not-hex", "not an Intel HEX file"), ("empty", "holds no data")]:
        assert errors[name] is not None, name
        assert errors[name][:2] == ["Stk500Error", "bad-hex"], errors[name]
        assert words in errors[name][2] and "Nothing was uploaded" in errors[name][2], \
            errors[name]


def test_a_wrong_hex_is_refused_before_a_byte_is_sent(chromium, old_sketch, new_sketch, tmp_path):
    old_mlp, old_firmware = old_sketch
    _, new_firmware, _, _ = new_sketch
    lines = new_firmware.hex_path.read_text().splitlines()
    corrupt = "\n".join([lines[0][:-2] + f"{(int(lines[0][-2:], 16) + 1) & 0xFF:02X}",
                         *lines[1:]]) + "\n"
    cut = "\n".join(lines[: len(lines) // 2]) + "\n"
    elf = new_firmware.elf_path.read_bytes().decode("latin-1")
    optiboot = _bootloader.optiboot_hex().read_text()
    records = [[16, (a >> 8) & 0xFF, a & 0xFF, 0, *([0] * 16)] for a in range(0, 0x7E10, 16)]
    big = "".join(":" + bytes(r).hex().upper() + f"{-sum(r) & 0xFF:02X}\n"
                  for r in records) + ":00000001FF\n"
    wrong = [(corrupt, "bad-hex", "bad checksum"), (cut, "bad-hex", "cut short"),
             (elf, "bad-hex", "binary"), (optiboot, "bad-hex", "holds a bootloader"),
             (big, "too-big", "past the 32,256 bytes")]
    with virtual.VirtualUno(old_firmware, bootloader=True) as board:
        for hex_text, reason, words in wrong:
            with SerialRelay(board.port, files=FILES) as relay:
                outcome = _upload_in_browser(chromium, relay, hex_text)
            error = outcome.get("error")
            assert error and error["reason"] == reason, (words, outcome)
            assert words in error["message"] and "Nothing was uploaded" in error["message"]
            assert outcome["progress"] == []
            # Refused before the port was touched: no reset, not a byte.
            assert (relay.to_port, relay.signals, relay.dropped) == (0, 0, 0), words
        check_runs(board.port, old_mlp)     # still the old sketch


def test_a_board_without_a_bootloader_is_no_sync_within_a_bound(chromium, old_sketch):
    old_mlp, old_firmware = old_sketch
    with virtual.VirtualUno(old_firmware) as board:     # the sketch alone, as on a bare chip
        with SerialRelay(board.port, files=FILES) as relay:
            started = time.monotonic()
            outcome = _upload_in_browser(chromium, relay, old_firmware.hex_path.read_text())
            elapsed_s = time.monotonic() - started
        error = outcome.get("error")
        assert error and error["reason"] == "no-sync", outcome
        assert elapsed_s < NO_SYNC_BOUND_S and outcome["seconds"] < NO_SYNC_BOUND_S
        assert "did not answer its bootloader" in error["message"]
        assert "Nothing was written" in error["message"]
        # Each reset restarted the sketch, whose banner the programmer saw and names.
        assert "It sent text instead" in error["message"] and "#TINYLAB" in error["message"]
        assert error["details"]["attempts"] == 4 and relay.signals == 8
        assert [p for p, _, _ in outcome["progress"]] == ["reset"] * 4
        check_runs(board.port, old_mlp)


def test_a_wrong_chip_is_refused_and_the_old_sketch_runs_on(chromium, old_sketch, new_sketch):
    old_mlp, old_firmware = old_sketch
    _, new_firmware, _, _ = new_sketch
    with virtual.VirtualUno(old_firmware, bootloader=True) as board:
        with SerialRelay(board.port, files=FILES) as relay:
            outcome = _upload_in_browser(
                chromium, relay, new_firmware.hex_path.read_text(),
                options={"expectedSignature": [0x1E, 0x98, 0x01]},   # an ATmega2560's
                read_banner_ms=BANNER_MS)
        error = outcome.get("error")
        assert error and error["reason"] == "wrong-chip", outcome
        assert error["details"]["signature"] == [0x1E, 0x95, 0x0F]
        assert "ATmega328P" in error["message"] and "ATmega2560" in error["message"]
        assert "Nothing was written" in error["message"]
        assert not [p for p, _, _ in outcome["progress"] if p in ("write", "verify")]
        # Leaving the bootloader started the old sketch at once, on the same port.
        assert outcome["banner"] and f"model={old_mlp.model_hash}" in outcome["banner"]
        check_runs(board.port, old_mlp)


def test_a_link_cut_silent_or_stopped_mid_upload_is_named_and_an_upload_again_works(
        chromium, old_sketch, new_sketch):
    new_mlp, new_firmware, x_int8, host = new_sketch
    _, old_firmware = old_sketch
    hex_text = new_firmware.hex_path.read_text()
    with virtual.VirtualUno(old_firmware, bootloader=True) as board:
        # The relay drops the connection (no goodbye) after ~3 KB: an unplugged board.
        with SerialRelay(board.port, files=FILES, cut_after_bytes=3000) as relay:
            started = time.monotonic()
            outcome = _upload_in_browser(chromium, relay, hex_text)
            elapsed_s = time.monotonic() - started
        assert relay.cut
        error = outcome.get("error")
        assert error and error["reason"] == "interrupted", outcome
        assert "connection to the board was lost while writing" in error["message"]
        assert "half-written" in error["message"] and "upload again" in error["message"]
        assert error["details"]["written"] is True and 0 < error["details"]["done"] < \
            error["details"]["total"]
        assert elapsed_s < UPLOAD_BOUND_S
        # The board is not taken for one that runs the new model.
        with pytest.raises(SerialError):
            check_runs(board.port, new_mlp)

        # The board goes silent after ~3 KB (it hangs): a timeout, within the answer bound.
        with SerialRelay(board.port, files=FILES, silence_after_bytes=3000) as relay:
            outcome = _upload_in_browser(chromium, relay, hex_text,
                                         options={"answerTimeoutMs": 1000})
        error = outcome.get("error")
        assert error and error["reason"] == "timeout", outcome
        assert error["message"].startswith("The board stopped answering while writing")
        assert "half-written" in error["message"] and outcome["seconds"] < UPLOAD_BOUND_S

        # Stopped by the page (an AbortSignal: the student's Cancel) after 2 KB.
        with SerialRelay(board.port, files=FILES) as relay:
            outcome = _upload_in_browser(chromium, relay, hex_text, abort_after_bytes=2048)
        error = outcome.get("error")
        assert error and error["reason"] == "interrupted", outcome
        assert error["message"].startswith("The upload was stopped while writing")
        assert outcome["readableAfter"] is True     # the port is still open and free

        # Upload again, through a fresh link: the board runs the new sketch.
        with SerialRelay(board.port, files=FILES) as relay:
            outcome = _upload_in_browser(chromium, relay, hex_text, read_banner_ms=BANNER_MS)
        assert "error" not in outcome, outcome["error"]
        assert f"model={new_mlp.model_hash}" in outcome["banner"]
        check_runs(board.port, new_mlp, x_int8, host)


def test_a_byte_garbled_on_the_way_is_caught_by_the_verify(chromium, old_sketch, new_sketch):
    _, old_firmware = old_sketch
    new_mlp, new_firmware, x_int8, host = new_sketch
    hex_text = new_firmware.hex_path.read_text()
    with virtual.VirtualUno(old_firmware, bootloader=True) as board:
        # One bit flipped in the data of the fourth page on its way to the board.
        with SerialRelay(board.port, files=FILES, garble_page=3) as relay:
            outcome = _upload_in_browser(chromium, relay, hex_text)
        error = outcome.get("error")
        assert error and error["reason"] == "verify-mismatch", outcome
        expected = _ihex.read(new_firmware.hex_path).get(3 * 128 + 5, 0xFF)
        assert error["details"] == {"address": 3 * 128 + 5, "expected": expected,
                                    "read": expected ^ 0x01}
        assert f"at byte 0x{3 * 128 + 5:x} it reads" in error["message"]
        assert "Upload again" in error["message"]
        # Written in full, then caught: the verify read every page up to the garbled one.
        writes = [d for p, d, t in outcome["progress"] if p == "write"]
        verifies = [d for p, d, t in outcome["progress"] if p == "verify"]
        assert writes[-1] == outcome["progress"][-1][2] and verifies[-1] == 3 * 128
        with SerialRelay(board.port, files=FILES) as relay:    # upload again: all well
            outcome = _upload_in_browser(chromium, relay, hex_text)
        assert "error" not in outcome, outcome["error"]
        check_runs(board.port, new_mlp, x_int8, host)


async def _talk_to_relay(url, origin):
    """What the relay lets in, and what it does with a reset, seen by plain WebSocket clients."""
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    def request(origin):
        return HTTPRequest(url, headers={"Origin": origin}, connect_timeout=5,
                           request_timeout=5)

    async def answer(client):
        while True:    # skip the sketch's bytes: its banner after each reset
            message = await asyncio.wait_for(client.read_message(), 5)
            if message is None or isinstance(message, str):
                return message and json.loads(message)

    seen = {}
    try:
        await websocket_connect(request("http://evil.example"))
        seen["other origin"] = "accepted"
    except HTTPClientError as error:
        seen["other origin"] = error.code
    first = await websocket_connect(request(origin))
    second = await websocket_connect(request(origin))
    seen["second client"] = await asyncio.wait_for(second.read_message(), 5)  # None: closed
    seen["second close code"] = second.close_code
    await first.write_message(json.dumps({"op": "signals", "id": 7, "dataTerminalReady": False}))
    seen["dtr off"] = await answer(first)
    await first.write_message(b"lost in reset", binary=True)
    await first.write_message(json.dumps({"op": "signals", "id": 8, "dataTerminalReady": True}))
    seen["dtr on"] = await answer(first)
    await first.write_message(json.dumps({"op": "reboot", "id": 9}))
    seen["unknown"] = await answer(first)
    first.close()
    return seen


def test_the_relay_accepts_only_the_test_page_and_one_client(virtual_uno_tools, old_sketch):
    _, old_firmware = old_sketch
    with virtual.VirtualUno(old_firmware) as board:
        with SerialRelay(board.port, files=FILES) as relay:
            seen = in_a_thread(asyncio.run, _talk_to_relay(relay.url, relay.origin),
                               timeout_s=THREAD_BOUND_S)
            assert relay.client_gone.wait(10)
        assert seen["other origin"] == 403
        assert seen["second client"] is None and seen["second close code"] == 1013
        assert seen["dtr off"] == {"id": 7, "ok": True}
        assert seen["dtr on"] == {"id": 8, "ok": True}
        assert seen["unknown"]["id"] == 9 and "unknown request" in seen["unknown"]["error"]
        # DTR off closed the port (the bytes sent meanwhile were dropped), on opened it again.
        assert relay.dropped == len(b"lost in reset") and relay.opens == 2
        assert (relay.clients, relay.refused, relay.to_port) == (1, 1, 0)
