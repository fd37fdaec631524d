// A stand-in for the browser's Web Serial API (`navigator.serial`), for tests in Chromium,
// which has no fake serial device: the port's bytes go over a WebSocket to
// tests/fakes/serial_relay.py, which writes them to a serial port (the virtual Uno's pty).
//
// It has the shape code written for Web Serial uses: `navigator.serial.requestPort()` resolves
// to a port with `open({baudRate})`, `readable` (a ReadableStream of Uint8Array chunks),
// `writable` (a WritableStream), `setSignals({dataTerminalReady, requestToSend})`, `close()`,
// `getInfo()`. As in Chromium: `readable` and `writable` are null until the port is open;
// `close()` refuses while a stream is locked; when the link is lost (the relay drops the
// connection: an unplugged board) a pending read rejects with a NetworkError, "The device has
// been lost.", and both streams become null. Every wait has a bound.

const OPEN_MS = 5000;
const SIGNALS_MS = 5000;

function lostError() {
  return new DOMException("The device has been lost.", "NetworkError");
}

export class RelayedPort {
  constructor(url) {
    this.url = url;
    this.socket = null;
    this.readableStream = null;
    this.writableStream = null;
    this.readController = null;
    this.writeController = null;
    this.waiting = new Map();   // setSignals requests awaiting the relay's answer, by id
    this.nextId = 1;
  }

  get readable() { return this.readableStream; }
  get writable() { return this.writableStream; }
  getInfo() { return { usbVendorId: 0x2341, usbProductId: 0x0043 }; }   // an Uno R3

  async open({ baudRate } = {}) {
    if (!baudRate) throw new TypeError("Failed to execute 'open': required member baudRate");
    if (this.socket) throw new DOMException("The port is already open.", "InvalidStateError");
    const socket = new WebSocket(this.url);
    socket.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.close();
        reject(new DOMException("Failed to open serial port (timeout).", "NetworkError"));
      }, OPEN_MS);
      socket.onopen = () => { clearTimeout(timer); resolve(); };
      socket.onclose = () => {
        clearTimeout(timer);
        reject(new DOMException("Failed to open serial port.", "NetworkError"));
      };
    });
    this.socket = socket;
    this.readableStream = new ReadableStream({
      start: (controller) => { this.readController = controller; },
      cancel: () => { this.readController = null; },
    });
    this.writableStream = new WritableStream({
      start: (controller) => { this.writeController = controller; },
      write: (chunk) => {
        if (socket.readyState !== WebSocket.OPEN) throw lostError();
        socket.send(chunk);
      },
    });
    socket.onmessage = (event) => {
      if (typeof event.data === "string") {
        const answer = JSON.parse(event.data);
        const waiter = this.waiting.get(answer.id);
        if (waiter) waiter(answer);
      } else if (this.readController) {
        try { this.readController.enqueue(new Uint8Array(event.data)); } catch (e) { /* closed */ }
      }
    };
    socket.onclose = () => this.lost();
  }

  lost() {
    if (this.socket === null) return;
    this.socket = null;
    const error = lostError();
    try { this.readController && this.readController.error(error); } catch (e) { /* done */ }
    try { this.writeController && this.writeController.error(error); } catch (e) { /* done */ }
    this.readController = this.writeController = null;
    this.readableStream = this.writableStream = null;
    for (const waiter of this.waiting.values()) waiter({ error: error.message });
    this.waiting.clear();
  }

  async setSignals(signals) {
    if (!this.socket) throw new DOMException("The port is closed.", "InvalidStateError");
    const id = this.nextId++;
    const answer = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ error: "no answer from the relay" }), SIGNALS_MS);
      this.waiting.set(id, (reply) => { clearTimeout(timer); resolve(reply); });
      this.socket.send(JSON.stringify({ op: "signals", id, ...signals }));
    });
    this.waiting.delete(id);
    if (answer.error) throw new DOMException(`Failed to set control signals: ${answer.error}`,
                                             "NetworkError");
  }

  async close() {
    if ((this.readableStream && this.readableStream.locked) ||
        (this.writableStream && this.writableStream.locked)) {
      throw new TypeError("Failed to execute 'close': Cannot cancel a locked stream");
    }
    const socket = this.socket;
    this.socket = null;
    try { this.readController && this.readController.close(); } catch (e) { /* done */ }
    this.readController = this.writeController = null;
    this.readableStream = this.writableStream = null;
    if (!socket) return;
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, OPEN_MS);
      socket.onclose = () => { clearTimeout(timer); resolve(); };
      socket.close();
    });
  }
}

/** Give the page a `navigator.serial` whose one port is relayed to `url`. */
export function installSerialStandIn(url) {
  const serial = {
    requestPort: async () => new RelayedPort(url),
    getPorts: async () => [],
  };
  Object.defineProperty(navigator, "serial", { value: serial, configurable: true });
  return serial;
}

/**
 * The first line from `port` that starts with `prefix`, within `timeoutMs` (null if none):
 * what a sketch printed after an upload, read with a reader of its own, released after.
 */
export async function readLine(port, prefix, timeoutMs) {
  const reader = port.readable.getReader();
  const decoder = new TextDecoder();
  const deadline = performance.now() + timeoutMs;
  let text = "";
  try {
    while (performance.now() < deadline) {
      let timer;
      const timeout = new Promise((resolve) => {
        timer = setTimeout(() => resolve({ timeout: true }), deadline - performance.now());
      });
      const result = await Promise.race([reader.read(), timeout]);
      clearTimeout(timer);
      if (result.timeout || result.done) break;
      text += decoder.decode(result.value, { stream: true });
      const line = text.split(/\r?\n/).slice(0, -1).find((l) => l.startsWith(prefix));
      if (line !== undefined) return line;
    }
    return null;
  } finally {
    reader.releaseLock();
  }
}
