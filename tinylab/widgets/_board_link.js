// The board link's front end (tinylab/widgets/_board_link.py), an anywidget ES module: the page
// holds a serial port the student picked (Web Serial) and relays its bytes to the kernel and
// back, as widget messages with binary buffers, so the kernel's tinylab.serial code talks to it
// as to a local port (tinylab/serial/web.py).
//
// Messages. Kernel -> page: {op: "write"} + one buffer (bytes for the port); {op: "open"} (reset
// the board: DTR off then on, what opening a local port does to an Uno; answered "opened");
// {op: "upload", id} + one buffer (an Uno sketch's .hex text: stop relaying, run _stk500.js's
// upload on the port, relay again; answered "progress"..., then "uploaded" or "upload-failed");
// {op: "stop-upload", id}; {op: "ping", id} (answered "pong" at once, even mid-upload).
// Page -> kernel: {op: "data"} + buffers (bytes the port read); {op: "opened"};
// {op: "connected", value}; {op: "lost", message}; {op: "pong", id, connected};
// {op: "progress", id, phase, done, total}; {op: "uploaded", id, seconds, bytesWritten, ...};
// {op: "upload-failed", id, reason, message}.
// The page writes only what the kernel sends, only to the port the student picked; no message
// names a port, so the kernel cannot ask for another. Other ops are ignored. Every message
// carries `page`, the id of a tab: the page's own on the way up, the tab that holds the port
// on the way down (another tab of the same notebook ignores it).
//
// The programmer (_stk500.js) stays one file: the kernel sends its text as the `_stk500` trait
// (anywidget cannot import a module relative to this one) and the page imports it from a Blob
// URL the first time it uploads.

const RESET_PULSE_MS = 100;   // DTR held off this long: an Uno's auto-reset needs ~1 ms
const PROGRESS_MS = 100;      // upload progress sent to the kernel (and shown) at most this often
const NO_WEB_SERIAL = "This browser has no Web Serial, so it cannot reach a board: use " +
  "Chrome, Edge or Opera on a computer (not Firefox or Safari). The " +
  "virtual Uno stays available.";
// Web Serial exists only in a secure context: a page on https://, or on http://localhost. A
// page served over plain http:// from another machine (a lecture hall's `tinylab app --ip
// 0.0.0.0`) has no navigator.serial even in Chrome, so the message says why.
const NOT_SECURE = "This page is served over plain http:// from another computer, and " +
  "browsers offer Web Serial only on https:// pages or on localhost, so it cannot reach a " +
  "board: ask for the https:// address of this server (or run TinyLab on this computer). The " +
  "virtual Uno stays available.";
const links = new Map();      // name -> the link's state (one per model, shared by its views)
let programmer = null;        // the import of _stk500.js, once per page

function hasWebSerial() {
  return "serial" in navigator && Boolean(navigator.serial);
}

function whyNoWebSerial() {
  return globalThis.isSecureContext === false ? NOT_SECURE : NO_WEB_SERIAL;
}

function loadProgrammer(model) {
  if (programmer === null) {
    const url = URL.createObjectURL(new Blob([model.get("_stk500")],
                                             {type: "text/javascript"}));
    programmer = import(url).finally(() => URL.revokeObjectURL(url));
    programmer.catch(() => { programmer = null; });   // a failed import is tried again
  }
  return programmer;
}

function errorText(error) {
  return (error && error.message) || String(error);
}

function bytes(count) {
  return Number(count).toLocaleString("en");
}

function progressText(phase, done, total) {
  if (phase === "reset") return `Uploading: resetting the board (attempt ${done} of ${total})`;
  if (phase === "write") return `Uploading: writing ${bytes(done)} of ${bytes(total)} bytes`;
  if (phase === "verify") return `Uploading: checking ${bytes(done)} of ${bytes(total)} bytes`;
  return "Uploading: finishing";
}

function linkFor(model) {
  const name = model.get("name");
  let link = links.get(name);
  if (link) { link.model = model; return link; }
  link = {
    model, port: null, reader: null, writer: null, writing: Promise.resolve(),
    relaying: false, reading: null, uploading: null,
    status: hasWebSerial() ? "no board connected" : whyNoWebSerial(), listeners: new Set(),
  };
  link.say = (status) => {
    link.status = status;
    for (const listener of link.listeners) listener(status);
  };
  // This tab's id: the kernel talks to the tab where the board was connected, and every
  // message says which tab it is from or for (a second tab of the notebook holds no port).
  link.page = (globalThis.crypto && crypto.randomUUID) ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  link.send = (content, buffers) =>
    link.model.send({...content, page: link.page}, undefined, buffers);
  link.lost = (message) => {
    if (link.port === null) return;
    link.port = link.reader = link.writer = null;
    link.relaying = false;
    link.send({op: "lost", message});
    link.say(`lost the board: ${message}`);
  };
  link.readLoop = async () => {
    const port = link.port;
    while (link.relaying && link.port === port && port.readable) {
      link.reader = port.readable.getReader();
      try {
        for (;;) {
          const {value, done} = await link.reader.read();
          if (done) break;
          if (value && value.byteLength) link.send({op: "data"}, [value.slice()]);
        }
      } catch (error) {
        if (!link.relaying) return;   // paused for an upload: the reader was let go on purpose
        link.lost(errorText(error));
        return;
      } finally {
        try { link.reader && link.reader.releaseLock(); } catch (e) { /* gone */ }
        link.reader = null;
      }
    }
  };
  link.startRelay = (port) => {
    if (link.port !== port) return;
    if (!port.readable || !port.writable) {
      link.lost("the port closed");
      return;
    }
    link.writer = port.writable.getWriter();
    link.relaying = true;
    link.reading = link.readLoop();
  };
  // Stop relaying and let go of the port's streams (the programmer takes its own): a read in
  // flight is dropped, and the bytes it would have had stay in the stream.
  link.pauseRelay = async () => {
    link.relaying = false;
    try { link.reader && link.reader.releaseLock(); } catch (e) { /* gone */ }
    await link.reading;
    try { link.writer && link.writer.releaseLock(); } catch (e) { /* gone */ }
    link.writer = null;
  };
  link.connect = async () => {
    if (!hasWebSerial()) {
      link.say(whyNoWebSerial());
      return;
    }
    try {
      const port = await navigator.serial.requestPort();
      await port.open({baudRate: link.model.get("baudrate")});
      link.port = port;
      link.startRelay(port);
      link.send({op: "connected", value: true});
      link.say("board connected");
    } catch (error) {
      link.say(`no board connected: ${errorText(error)}`);
    }
  };
  link.upload = async (id, hexText) => {
    const port = link.port;
    if (!port) return;
    const controller = new AbortController();
    link.uploading = {id, controller};
    let sentAt = -Infinity;
    let sentPhase = null;
    const onProgress = (phase, done, total) => {
      const now = performance.now();
      if (phase === sentPhase && now - sentAt < PROGRESS_MS && done < total) return;
      sentAt = now;
      sentPhase = phase;
      link.send({op: "progress", id, phase, done, total});
      link.say(progressText(phase, done, total));
    };
    link.say("Uploading: starting");
    await link.pauseRelay();
    try {
      const {upload} = await loadProgrammer(link.model);
      const result = await upload(port, hexText, {onProgress, signal: controller.signal});
      link.send({op: "uploaded", id, seconds: result.seconds, bytesWritten: result.bytesWritten,
                 dataBytes: result.dataBytes, pages: result.pages, chip: result.chip,
                 bootloaderVersion: result.bootloaderVersion,
                 syncAttempts: result.syncAttempts});
      link.say(`uploaded ${bytes(result.bytesWritten)} bytes in ${result.seconds.toFixed(1)} s;` +
               " board connected");
    } catch (error) {
      const reason = (error && error.reason) || "failed";
      link.send({op: "upload-failed", id, reason, message: errorText(error)});
      link.say(`upload failed: ${errorText(error)}`);
    } finally {
      link.uploading = null;
      link.startRelay(port);
    }
  };
  link.onMessage = (content, buffers) => {
    if (content && content.page != null && content.page !== link.page) return;  // another tab's
    const op = content && content.op;
    if (op === "ping") {
      link.send({op: "pong", id: content.id, connected: link.port !== null});
      return;
    }
    if (op === "stop-upload") {
      if (link.uploading && link.uploading.id === content.id) link.uploading.controller.abort();
      return;
    }
    if (op !== "write" && op !== "open" && op !== "upload") return;
    if (!link.port) {
      link.send({op: "lost", message: "no board connected in the page"});
      return;
    }
    const chunk = buffers && buffers[0];
    if (op === "write") {
      if (!chunk) return;
      const data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength).slice();
      link.writing = link.writing.then(() => link.writer && link.writer.write(data))
        .catch((error) => link.lost(errorText(error)));
    } else if (op === "open") {
      const port = link.port;
      link.writing = link.writing
        .then(() => port.setSignals({dataTerminalReady: false, requestToSend: false}))
        .then(() => new Promise((resolve) => setTimeout(resolve, RESET_PULSE_MS)))
        .then(() => port.setSignals({dataTerminalReady: true, requestToSend: true}))
        .then(() => link.send({op: "opened"}))
        .catch((error) => link.lost(errorText(error)));
    } else if (op === "upload") {
      if (!chunk) return;
      const hexText = new TextDecoder().decode(chunk);
      // In turn with the writes: it starts when the bytes sent before it are written.
      link.writing = link.writing.then(() => link.upload(content.id, hexText))
        .catch((error) => link.lost(errorText(error)));
    }
  };
  links.set(name, link);
  return link;
}

function initialize({model}) {
  const link = linkFor(model);
  const handler = (content, buffers) => linkFor(model).onMessage(content, buffers);
  model.on("msg:custom", handler);
  return () => model.off("msg:custom", handler);
}

function render({model, el}) {
  const link = linkFor(model);
  const button = document.createElement("button");
  // ipywidgets' own button classes, so it looks like the panels' other buttons
  button.className = "tl-board-link-connect jupyter-widgets jupyter-button widget-button";
  button.textContent = "Connect a board";
  button.style.cssText = "flex:none;white-space:nowrap";
  if (!hasWebSerial()) {
    button.disabled = true;
    button.title = whyNoWebSerial();
  }
  const status = document.createElement("span");
  status.className = "tl-board-link-status";
  status.style.cssText = "font:13px sans-serif";
  const show = (text) => { status.textContent = text; };
  show(link.status);
  link.listeners.add(show);
  button.addEventListener("click", () => link.connect());
  el.style.cssText = "display:flex;align-items:center;gap:8px;margin:2px 0";
  el.append(button, status);
  return () => link.listeners.delete(show);
}

export default {initialize, render};
