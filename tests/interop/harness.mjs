// Driver for `openpcc conformance` (JSON Lines on stdin/stdout, one answer line per input line, in order) plus
// the small byte helpers every interop test needs.
//
// One child process serves a whole test file: start it in `before`, `close()` it in `after`. Calls are queued;
// answer lines are matched to calls strictly first-in first-out, which is the harness's contract.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";

const DEFAULT_CALL_TIMEOUT_MS = 120_000;

export class Conformance {
  #child;
  #pending = []; // FIFO of { resolve, reject, timer, line }
  #stderr = "";
  #dead = null; // Error once the child is gone or unusable.

  // Spawns `$OPENPCC_BINARY conformance`. Throws a clear error if the binary is not configured or missing.
  static start({ binary = process.env.OPENPCC_BINARY, timeoutMs = DEFAULT_CALL_TIMEOUT_MS } = {}) {
    if (!binary) {
      throw new Error("OPENPCC_BINARY is not set: point it at the C++ `openpcc` binary (ctest sets it)");
    }
    if (!existsSync(binary)) {
      throw new Error(`OPENPCC_BINARY=${binary} does not exist: build the \`openpcc\` target first`);
    }
    return new Conformance(binary, timeoutMs);
  }

  constructor(binary, timeoutMs) {
    this.binary = binary;
    this.timeoutMs = timeoutMs;
    this.#child = spawn(binary, ["conformance"], { stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stderr.setEncoding("utf8");
    this.#child.stderr.on("data", (chunk) => {
      // Keep only the tail: it is shown when the child dies.
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    this.#child.on("error", (err) => this.#fail(new Error(`cannot run ${binary} conformance: ${err.message}`)));
    this.#child.on("exit", (code, signal) => {
      const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
      this.#fail(new Error(`${binary} conformance ${how}${this.#stderrNote()}`));
    });
    // A write error (EPIPE) means the child is going away; give its exit status a moment to arrive, as it says more.
    this.#child.stdin.on("error", (err) => {
      setTimeout(() => this.#fail(new Error(`writing to ${binary} conformance: ${err.message}${this.#stderrNote()}`)),
        500).unref();
    });
    const lines = createInterface({ input: this.#child.stdout, crlfDelay: Infinity });
    lines.on("line", (line) => this.#onLine(line));
  }

  #stderrNote() {
    const tail = this.#stderr.trim();
    return tail ? `; stderr: ${tail}` : "";
  }

  #onLine(line) {
    const call = this.#pending.shift();
    if (!call) {
      this.#fail(new Error(`unexpected output line from the harness (no call pending): ${line.slice(0, 200)}`));
      return;
    }
    clearTimeout(call.timer);
    try {
      const answer = JSON.parse(line);
      if (answer === null || typeof answer !== "object" || Array.isArray(answer)) {
        throw new Error("answer is not a JSON object");
      }
      call.resolve(answer);
    } catch (err) {
      call.reject(new Error(`harness answered a line that is not a JSON object (${err.message}): ` +
        `${line.slice(0, 300)}\n  for input: ${call.line.slice(0, 300)}`));
    }
  }

  #fail(err) {
    if (!this.#dead) this.#dead = err;
    for (const call of this.#pending.splice(0)) {
      clearTimeout(call.timer);
      call.reject(this.#dead);
    }
  }

  // Sends one raw input line (no newline inside) and resolves with the parsed answer object.
  sendLine(line) {
    if (line.includes("\n")) throw new Error("a conformance input line must not contain a newline");
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new Error(`no answer from the harness within ${this.timeoutMs} ms for: ${line.slice(0, 300)}` +
          this.#stderrNote()));
        this.#child.kill();
      }, this.timeoutMs);
      this.#pending.push({ resolve, reject, timer, line });
      this.#child.stdin.write(line + "\n");
    });
  }

  // Sends a request object; resolves with the answer object, which may be {error: "..."}.
  call(request) {
    return this.sendLine(JSON.stringify(request));
  }

  // Like call(), but fails (with the input line in the message) if the harness answers an error.
  async ok(request) {
    const answer = await this.call(request);
    if (answer.error !== undefined) {
      throw new Error(`harness error for ${summarize(request)}: ${answer.error}`);
    }
    return answer;
  }

  // Like call(), but fails unless the harness answers an error line; resolves with the error text.
  async err(request) {
    const answer = await this.call(request);
    if (typeof answer.error !== "string") {
      throw new Error(`expected an error line for ${summarize(request)}, got ${JSON.stringify(answer).slice(0, 300)}`);
    }
    return answer.error;
  }

  // Closes stdin (the harness exits at EOF) and waits for the child to end.
  async close() {
    if (!this.#child || this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once("exit", resolve));
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill(), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

// One harness per test file, started on first use so that tests needing no C++ still run (and pass) when the
// binary is missing; every test that does need it fails with the start error.
export function lazyConformance() {
  let instance = null;
  let startError = null;
  return {
    get() {
      if (startError) throw startError;
      if (!instance) {
        try {
          instance = Conformance.start();
        } catch (err) {
          startError = err;
          throw err;
        }
      }
      return instance;
    },
    async close() {
      if (instance) await instance.close();
    },
  };
}

// A short description of a request for error messages: long hex fields are elided.
export function summarize(request) {
  return JSON.stringify(request, (key, value) =>
    typeof value === "string" && value.length > 80 ? `${value.slice(0, 64)}…(${value.length / 2} bytes)` : value);
}

// ---- bytes ----

export function hex(bytes) {
  return Buffer.from(toU8(bytes)).toString("hex");
}

// Parses lowercase hex as the harness writes it; anything else is a protocol violation worth failing on.
export function unhex(text, what = "hex field") {
  assert.equal(typeof text, "string", `${what} must be a hex string, got ${JSON.stringify(text)}`);
  assert.match(text, /^(?:[0-9a-f]{2})*$/, `${what} must be lowercase hex of whole bytes`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

// A field of an answer, parsed from hex; fails if it is missing.
export function field(answer, name) {
  assert.ok(name in answer, `answer has no "${name}": ${JSON.stringify(answer).slice(0, 300)}`);
  return unhex(answer[name], `answer field "${name}"`);
}

export function toU8(bytes) {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new TypeError(`not bytes: ${bytes}`);
}

// A fresh ArrayBuffer holding exactly these bytes (some @hpke packages accept only ArrayBuffer).
export function toAB(bytes) {
  return toU8(bytes).slice().buffer;
}

export function concat(...parts) {
  const u8s = parts.map(toU8);
  const out = new Uint8Array(u8s.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of u8s) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function utf8(text) {
  return new TextEncoder().encode(text);
}

export function bytesEqual(a, b, message) {
  assert.equal(hex(a), hex(b), message);
}

// ---- test data ----

// ctest sets OPENPCC_TEST_DATA_DIR; when a file is run by hand without it, tests/data beside this folder is used.
export function testDataDir() {
  return process.env.OPENPCC_TEST_DATA_DIR || fileURLToPath(new URL("../data/", import.meta.url));
}

export function readTestJson(name) {
  return JSON.parse(readFileSync(join(testDataDir(), name), "utf8"));
}
