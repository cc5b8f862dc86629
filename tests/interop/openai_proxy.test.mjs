// The official OpenAI client (npm `openai`, pinned in package-lock.json) against `openpcc proxy` in front of the
// whole local stack as processes (`openpcc dev up`: AuthBank, BlindBank, router, gateway, relay, transparency log,
// a compute node on swtpm, the built-in test engine). Every answer here went relay → gateway → router → node →
// engine and back, encrypted, paid with an anonymous credit.
//
// The test engine answers "You said: <the prompt's words> this is the openpcc test engine, …", exactly max_tokens
// words, one streamed event per word; its usage counts words.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import OpenAI from "openai";

const MODEL = "openpcc-test-engine";
const binary = process.env.OPENPCC_BINARY;

let dataDir;
let proxy; // the `openpcc proxy` child process
let proxyExit; // Promise of { code, signal }
let proxyStderr = "";
let baseURL;
const token = randomBytes(16).toString("hex");

function run(args, timeoutMs) {
  const r = spawnSync(binary, args, { encoding: "utf8", timeout: timeoutMs });
  if (r.status !== 0) {
    throw new Error(`openpcc ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

// Starts `openpcc proxy` and resolves with its URL once it prints "listening on …".
function startProxy(args) {
  const child = spawn(binary, ["proxy", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    proxyStderr = (proxyStderr + chunk).slice(-8000);
  });
  const exit = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`openpcc proxy did not start: ${proxyStderr}`)), 120_000);
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^listening on (http:\/\/\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`openpcc proxy exited (${code ?? signal}) before listening: ${proxyStderr}`));
    });
  });
  return { child, exit, url };
}

before(async () => {
  assert.ok(binary && existsSync(binary), "OPENPCC_BINARY must name the built `openpcc` binary (ctest sets it)");
  dataDir = mkdtempSync(join(tmpdir(), "openpcc-proxy-interop-"));
  run(["dev", "up", "--data-dir", dataDir, "--currency-key-bits", "1024", "--quiet"], 300_000);
  const started = startProxy(["--listen", "127.0.0.1:0", "--config", join(dataDir, "client.json"), "--token", token]);
  proxy = started.child;
  proxyExit = started.exit;
  baseURL = `${await started.url}/v1`;
});

after(async () => {
  try {
    if (proxy && proxy.exitCode === null && proxy.signalCode === null) {
      proxy.kill("SIGTERM");
      const { code, signal } = await proxyExit;
      // SIGTERM stops it cleanly (after returning the wallet's credits).
      assert.equal(code, 0, `openpcc proxy ended with ${code ?? signal}: ${proxyStderr}`);
      assert.match(proxyStderr, /proxy: stopped/);
    }
  } finally {
    if (dataDir) {
      spawnSync(binary, ["dev", "down", "--data-dir", dataDir], { timeout: 60_000 });
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
});

const client = () => new OpenAI({ baseURL, apiKey: token, maxRetries: 0, timeout: 60_000 });

describe("openai npm client through openpcc proxy and the local stack", () => {
  test("models.list names the model the node serves", async () => {
    const ids = [];
    for await (const model of client().models.list()) ids.push(model.id);
    assert.ok(ids.includes(MODEL), `models: ${ids}`);
  });

  test("chat completion, not streamed", async () => {
    const answer = await client().chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Is this private?" }],
      max_tokens: 8,
    });
    assert.equal(answer.object, "chat.completion");
    assert.equal(answer.choices[0].message.role, "assistant");
    assert.ok(answer.choices[0].message.content.startsWith("You said: Is this private?"),
      answer.choices[0].message.content);
    assert.equal(answer.usage.completion_tokens, 8);
  });

  test("chat completion streamed with stream_options.include_usage", async () => {
    const stream = await client().chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "stream me" }],
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let chunks = 0;
    let usage = null;
    for await (const chunk of stream) {
      chunks += 1;
      if (chunk.choices.length > 0) text += chunk.choices[0].delta?.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(text.startsWith("You said: stream me"), text);
    assert.ok(chunks >= 6, `one event per token, got ${chunks}`);
    assert.ok(usage, "the usage chunk arrives when asked for");
    assert.equal(usage.completion_tokens, 6);
  });

  test("chat completion streamed without include_usage has no usage-only chunk", async () => {
    // The node always asks its engine for usage (for the refund); the proxy leaves that chunk out when the caller
    // did not ask, so code that reads choices[0] of every chunk keeps working.
    const stream = await client().chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "no usage" }],
      max_tokens: 4,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) {
      assert.ok(chunk.choices.length > 0, `a chunk without choices: ${JSON.stringify(chunk)}`);
      text += chunk.choices[0].delta?.content ?? "";
    }
    assert.ok(text.startsWith("You said: no usage"), text);
  });

  test("text completion, not streamed and streamed", async () => {
    const answer = await client().completions.create({ model: MODEL, prompt: "alpha beta", max_tokens: 5 });
    assert.equal(answer.object, "text_completion");
    assert.ok(answer.choices[0].text.startsWith("You said: alpha beta"), answer.choices[0].text);
    assert.equal(answer.usage.completion_tokens, 5);

    const stream = await client().completions.create({ model: MODEL, prompt: "gamma", max_tokens: 4, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    assert.ok(text.startsWith("You said: gamma"), text);
  });

  test("an unknown model is a NotFoundError naming the step", async () => {
    await assert.rejects(
      client().chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, `${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 404);
        assert.equal(err.code, "model_not_found");
        assert.equal(err.type, "invalid_request_error");
        assert.match(err.message, /no verified node/);
        return true;
      });
  });

  // The curl lines of docs/CLIENTS.md, as a user types them (with this run's URL and token).
  const hasCurl = spawnSync("curl", ["--version"]).status === 0;
  test("the documented curl commands", { skip: !hasCurl && "curl is not installed" }, () => {
    const url = baseURL.replace(/\/v1$/, "");
    const curl = (...args) => execFileSync("curl", ["-sS", "--fail-with-body", ...args], { encoding: "utf8" });
    const streamed = curl(`${url}/v1/chat/completions`, "-H", `Authorization: Bearer ${token}`,
      "-H", "Content-Type: application/json",
      "-d", `{"model":"${MODEL}","messages":[{"role":"user","content":"Hello"}],"stream":true}`);
    assert.match(streamed, /^data: \{/);
    assert.ok(streamed.endsWith("data: [DONE]\n\n"), streamed);
    const ollama = curl(`${url}/api/chat`, "-H", `Authorization: Bearer ${token}`,
      "-d", `{"model":"${MODEL}","messages":[{"role":"user","content":"Hello"}]}`);
    const lines = ollama.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.length >= 2, ollama);
    assert.equal(lines.at(-1).done, true);
    assert.equal(lines[0].message.content, "You");
    const models = JSON.parse(curl(`${url}/v1/models`, "-H", `Authorization: Bearer ${token}`));
    assert.ok(models.data.some((m) => m.id === MODEL), JSON.stringify(models));
  });

  test("a wrong token is an AuthenticationError", async () => {
    const wrong = new OpenAI({ baseURL, apiKey: "not-the-token", maxRetries: 0 });
    await assert.rejects(wrong.models.list(), (err) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, `${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 401);
      assert.equal(err.code, "invalid_api_key");
      return true;
    });
  });
});
