// The board link's front end (tinylab/widgets/_board_link.py), an anywidget ES module: the page
// holds a serial port the student picked (Web Serial) and relays its bytes to the kernel and
// back, as widget messages with binary buffers, so the kernel's tinylab.serial code talks to it
// as to a local port (tinylab/serial/web.py).
//
// Messages. Kernel -> page: {op: "write"} + one buffer (bytes for the port); {op: "open"} (reset
// the board: DTR off then on, what opening a local port does to an Uno; answered "opened").
// Page -> kernel: {op: "data"} + buffers (bytes the port read); {op: "opened"};
// {op: "connected", value}; {op: "lost", message}. The page writes only what the kernel sends,
// only to the port the student picked; the kernel cannot ask for another port.

const RESET_PULSE_MS = 100;   // DTR held off this long: an Uno's auto-reset needs ~1 ms
const links = new Map();      // name -> the link's state (one per model, shared by its views)

function linkFor(model) {
  const name = model.get("name");
  let link = links.get(name);
  if (link) { link.model = model; return link; }
  link = {
    model, port: null, reader: null, writer: null, writing: Promise.resolve(),
    status: "no board connected", listeners: new Set(),
  };
  link.say = (status) => {
    link.status = status;
    for (const listener of link.listeners) listener(status);
  };
  link.send = (content, buffers) => link.model.send(content, undefined, buffers);
  link.lost = (message) => {
    if (link.port === null) return;
    link.port = link.reader = link.writer = null;
    link.send({op: "lost", message});
    link.say(`lost the board: ${message}`);
  };
  link.readLoop = async () => {
    const port = link.port;
    while (link.port === port && port.readable) {
      link.reader = port.readable.getReader();
      try {
        for (;;) {
          const {value, done} = await link.reader.read();
          if (done) break;
          if (value && value.byteLength) link.send({op: "data"}, [value.slice()]);
        }
      } catch (error) {
        link.lost(error.message || String(error));
        return;
      } finally {
        try { link.reader && link.reader.releaseLock(); } catch (e) { /* gone */ }
      }
    }
  };
  link.connect = async () => {
    if (!("serial" in navigator)) {
      link.say("this browser has no Web Serial: use Chrome, Edge or Opera on a computer " +
               "(not Firefox or Safari), or the virtual Uno");
      return;
    }
    try {
      const port = await navigator.serial.requestPort();
      await port.open({baudRate: link.model.get("baudrate")});
      link.port = port;
      link.writer = port.writable.getWriter();
      link.readLoop();
      link.send({op: "connected", value: true});
      link.say("board connected");
    } catch (error) {
      link.say(`no board connected: ${error.message || error}`);
    }
  };
  link.onMessage = (content, buffers) => {
    if (!link.port) {
      link.send({op: "lost", message: "no board connected in the page"});
      return;
    }
    if (content.op === "write") {
      const chunk = buffers && buffers[0];
      if (!chunk) return;
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength).slice();
      link.writing = link.writing.then(() => link.writer && link.writer.write(bytes))
        .catch((error) => link.lost(error.message || String(error)));
    } else if (content.op === "open") {
      const port = link.port;
      link.writing = link.writing
        .then(() => port.setSignals({dataTerminalReady: false, requestToSend: false}))
        .then(() => new Promise((resolve) => setTimeout(resolve, RESET_PULSE_MS)))
        .then(() => port.setSignals({dataTerminalReady: true, requestToSend: true}))
        .then(() => link.send({op: "opened"}))
        .catch((error) => link.lost(error.message || String(error)));
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
  button.className = "tl-board-link-connect";
  button.textContent = "Connect a board";
  const status = document.createElement("span");
  status.className = "tl-board-link-status";
  status.style.cssText = "margin-left:8px;font:13px sans-serif";
  const show = (text) => { status.textContent = text; };
  show(link.status);
  link.listeners.add(show);
  button.addEventListener("click", () => link.connect());
  el.append(button, status);
  return () => link.listeners.delete(show);
}

export default {initialize, render};
