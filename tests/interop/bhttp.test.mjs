// Binary HTTP (RFC 9292) interop between our C++ codec (via `openpcc conformance`) and bhttp-js.
//
// Messages are compared by meaning, never byte-wise: RFC 9292 lets encoders choose varint sizes, truncate trailing
// empty sections and pad. bhttp-js facts that shape these tests (v0.2.1):
// * its encoder writes known-length messages only, never truncates (the output ends with an empty trailer section),
//   puts header names in lowercase (they come from a fetch `Headers`, which lowercases, sorts and joins repeated
//   names with ", " except set-cookie), and writes `url.pathname` as the path (a query string is dropped);
//   it writes string lengths as UTF-16 lengths, so only ASCII text is used;
// * its decoder accepts both framings, truncation, padding and informational responses, but its public result is a
//   fetch Request/Response: informational responses and trailers are dropped, a GET/HEAD body is dropped, statuses
//   such as 204 cannot be built, and fields are stored with Headers.set (a repeated name keeps its last value).
//   To compare everything it parsed, CapturingDecoder keeps the decoder's internal state (its private
//   `checkPadding(ctx)` step runs once the whole message is parsed).

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { BHttpDecoder, BHttpEncoder } from "bhttp-js";

import { field, hex, lazyConformance, readTestJson, toU8, unhex, utf8 } from "./harness.mjs";

const cpp = lazyConformance();
after(() => cpp.close());

const rand = (n) => new Uint8Array(randomBytes(n));
const allByteValues = () => Uint8Array.from({ length: 256 }, (_, i) => i);

class CapturingDecoder extends BHttpDecoder {
  checkPadding(ctx) {
    this.captured = ctx;
    return super.checkPadding(ctx);
  }
}

const headersToList = (headers) => [...headers];

// Field lines as bhttp-js would store them: lowercase names, Headers.set semantics, sorted.
function viaHeadersSet(lines) {
  const h = new Headers();
  for (const [name, value] of lines) h.set(name, value);
  return [...h];
}

// Decodes with bhttp-js: `meaning` is everything the decoder parsed; `message` is its public Request/Response, or
// `publicError` when fetch cannot represent the message.
async function bhttpJsDecode(bytes, kind) {
  const decoder = new CapturingDecoder();
  let message = null;
  let publicError = null;
  try {
    message = kind === "request" ? decoder.decodeRequest(toU8(bytes)) : decoder.decodeResponse(toU8(bytes));
  } catch (err) {
    publicError = err;
  }
  const ctx = decoder.captured;
  if (!ctx) throw publicError ?? new Error("bhttp-js did not finish decoding");
  const meaning = {
    kind,
    headers: headersToList(ctx.headers),
    body: hex(ctx.content),
    trailers: headersToList(ctx.trailers),
  };
  if (kind === "request") {
    Object.assign(meaning, { method: ctx.method, scheme: ctx.scheme, authority: ctx.authority, path: ctx.path });
  } else {
    meaning.status = ctx.status;
    meaning.informational = ctx.informationalResponses.map((ir) => ({
      status: ir.status, headers: headersToList(ir.headers),
    }));
  }
  return { meaning, message, publicError };
}

// Our decoder's answer reduced to what bhttp-js can represent.
function asBhttpJsMeaning(ours) {
  const meaning = {
    kind: ours.kind,
    headers: viaHeadersSet(ours.headers),
    body: ours.body,
    trailers: viaHeadersSet(ours.trailers),
  };
  if (ours.kind === "request") {
    Object.assign(meaning, { method: ours.method, scheme: ours.scheme, authority: ours.authority, path: ours.path });
  } else {
    meaning.status = ours.status;
    meaning.informational = ours.informational.map((ir) => ({ status: ir.status, headers: viaHeadersSet(ir.headers) }));
  }
  return meaning;
}

// RFC 9292 field names travel in lowercase (as in HTTP/2 and HTTP/3); both encoders lowercase them.
function lowercaseNames(m) {
  const lower = (lines) => lines.map(([n, v]) => [n.toLowerCase(), v]);
  const out = { ...m, headers: lower(m.headers), trailers: lower(m.trailers ?? []) };
  if (m.informational) out.informational = m.informational.map((ir) => ({ ...ir, headers: lower(ir.headers) }));
  return out;
}

// The full meaning of a message in the harness's JSON shape (without framing), for exact comparison.
function exactMeaning(m) {
  const out = { kind: m.kind, headers: m.headers, body: m.body, trailers: m.trailers ?? [] };
  if (m.kind === "request") {
    Object.assign(out, { method: m.method, scheme: m.scheme, authority: m.authority, path: m.path });
  } else {
    Object.assign(out, { status: m.status, informational: m.informational ?? [] });
  }
  return out;
}

async function ourDecode(msg) {
  const answer = await cpp.get().ok({ op: "bhttp.decode", msg: hex(msg) });
  field(answer, "body"); // lowercase hex
  return answer;
}

// ---- direction 1: bhttp-js encodes, we decode ----

const jsRequests = [
  ["GET, no fields", () => new Request("https://example.com/")],
  ["GET with fields", () => new Request("https://example.com/index.html", {
    headers: {
      "User-Agent": "interop/1.0", "Accept": "text/html, */*;q=0.8", "Accept-Language": "en, mi",
      "X-Empty": "", "X-Quoted": "\"a, b\" ; c=d",
    },
  })],
  ["POST with every byte value as body", () => new Request("https://api.example.com/v1/upload", {
    method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: allByteValues(),
  })],
  ["PUT with an empty body", () => new Request("https://example.com/empty", {
    method: "PUT", body: new Uint8Array(0),
  })],
  ["DELETE over http with a port", () => new Request("http://localhost:8080/items/42", { method: "DELETE" })],
  ["PATCH with a JSON body", () => new Request("https://example.com/things/7", {
    method: "PATCH", headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "x", tags: ["a", "b"], n: 3 }),
  })],
  ["HEAD", () => new Request("https://example.com/h", { method: "HEAD" })],
  ["OPTIONS with set-cookie lines kept apart", () => {
    const headers = new Headers();
    headers.append("set-cookie", "a=1");
    headers.append("set-cookie", "b=2");
    headers.append("x-list", "1");
    headers.append("x-list", "2");
    return new Request("https://example.com/*", { method: "OPTIONS", headers });
  }],
  ["POST, 70000-byte body (4-byte length) and 300 fields (2-byte section length)", () => {
    const headers = {};
    for (let i = 0; i < 300; i++) headers[`x-field-${String(i).padStart(3, "0")}`] = `value number ${i} ${"v".repeat(i % 20)}`;
    return new Request("https://example.com/big", { method: "POST", headers, body: rand(70000) });
  }],
];

const jsResponses = [
  ["200 with text body", () => new Response("hello world\r\n", { status: 200, headers: { "Content-Type": "text/plain" } })],
  ["404 without body", () => new Response(null, { status: 404, headers: { "x-reason": "missing" } })],
  ["204", () => new Response(null, { status: 204 })],
  ["500 with binary body", () => new Response(allByteValues(), { status: 500 })],
  ["301 with location", () => new Response(null, { status: 301, headers: { Location: "https://example.org/new" } })],
  ["599 with empty body", () => new Response(new Uint8Array(0), { status: 599 })],
  ["200, 70000-byte body and 300 fields", () => {
    const headers = {};
    for (let i = 0; i < 300; i++) headers[`x-h${i}`] = `${i}`.repeat(5);
    return new Response(rand(70000), { status: 200, headers });
  }],
];

async function expectedFromRequest(req) {
  const url = new URL(req.url);
  return exactMeaning({
    kind: "request", method: req.method, scheme: url.protocol.slice(0, -1), authority: url.host,
    path: url.pathname, headers: headersToList(req.headers), body: hex(new Uint8Array(await req.arrayBuffer())),
  });
}

async function expectedFromResponse(res) {
  return exactMeaning({
    kind: "response", status: res.status, headers: headersToList(res.headers),
    body: hex(new Uint8Array(await res.arrayBuffer())),
  });
}

// Equivalent wire forms of a known-length message from bhttp-js: as is, with trailing empty sections truncated
// (RFC 9292 §3.8), and zero-padded.
function knownLengthVariants(msg, expected) {
  const variants = [["as encoded", msg], ["trailers truncated", msg.slice(0, -1)]];
  if (expected.body === "") {
    variants.push(["content and trailers truncated", msg.slice(0, -2)]);
    if (expected.headers.length === 0) variants.push(["fields, content and trailers truncated", msg.slice(0, -3)]);
  }
  variants.push(["padded with 1 zero", Uint8Array.from([...msg, 0])]);
  variants.push(["padded with 37 zeros", Uint8Array.from([...msg, ...new Uint8Array(37)])]);
  return variants;
}

describe("BHTTP: bhttp-js encodes, C++ decodes", () => {
  const encoder = new BHttpEncoder();
  const cases = [
    ...jsRequests.map(([name, make]) => ["request", name, make]),
    ...jsResponses.map(([name, make]) => ["response", name, make]),
  ];
  for (const [kind, name, make] of cases) {
    test(`${kind}: ${name}`, async (t) => {
      const original = make();
      const copy = original.clone();
      const msg = kind === "request" ? await encoder.encodeRequest(original) : await encoder.encodeResponse(original);
      const expected = kind === "request" ? await expectedFromRequest(copy) : await expectedFromResponse(copy);
      for (const [variant, bytes] of knownLengthVariants(msg, expected)) {
        await t.test(variant, async () => {
          const ours = await ourDecode(bytes);
          assert.equal(ours.kind, kind);
          assert.equal(ours.framing, "known");
          assert.deepEqual(exactMeaning(ours), expected);
        });
      }
    });
  }
});

// ---- direction 2: we encode, bhttp-js decodes ----

const FIELDS = [["accept", "*/*"], ["content-type", "application/json"], ["user-agent", "openpcc-interop/1"],
  ["x-empty", ""], ["x-spaces", "a  b\tc"]];

const ourRequests = [
  ["GET, no fields, empty body", {
    method: "GET", scheme: "https", authority: "example.com", path: "/", headers: [], body: "", trailers: [],
  }],
  ["POST with fields, binary body and trailers", {
    method: "POST", scheme: "https", authority: "api.example.com:8443", path: "/v1/chat/completions",
    headers: FIELDS, body: hex(allByteValues()), trailers: [["x-checksum", "abc123"], ["x-done", "1"]],
  }],
  ["mixed-case field names (written lowercase)", {
    method: "DELETE", scheme: "https", authority: "example.com", path: "/x",
    headers: [["Content-Type", "text/plain"], ["X-Request-ID", "abc"]], body: "", trailers: [["X-Trailer", "t"]],
  }],
  ["GET with a query string and a body", {
    method: "GET", scheme: "http", authority: "localhost", path: "/search?q=a%20b&x=1",
    headers: [["accept", "text/plain"]], body: hex(utf8("payload on a GET")), trailers: [],
  }],
  ["PUT, 70000-byte body and 500 fields", {
    method: "PUT", scheme: "https", authority: "example.com", path: "/big",
    headers: Array.from({ length: 500 }, (_, i) => [`x-f${String(i).padStart(3, "0")}`, `v${i}`.repeat(4)]),
    body: hex(rand(70000)), trailers: [],
  }],
];

const ourResponses = [
  ["200 with fields, body and trailers", {
    status: 200, informational: [], headers: FIELDS, body: hex(utf8("{\"ok\":true}\n")),
    trailers: [["grpc-status", "0"]],
  }],
  ["102 and 103 before 200", {
    status: 200,
    informational: [
      { status: 102, headers: [["running", "\"sleep 15\""]] },
      { status: 103, headers: [["link", "</style.css>; rel=preload; as=style"]] },
    ],
    headers: [["content-type", "text/plain"]], body: hex(utf8("Hello World!\r\n")), trailers: [],
  }],
  ["404, nothing else", { status: 404, informational: [], headers: [], body: "", trailers: [] }],
  ["204 with a field", { status: 204, informational: [], headers: [["x-id", "7"]], body: "", trailers: [] }],
  ["500 with 70000-byte binary body", {
    status: 500, informational: [], headers: [["content-type", "application/octet-stream"]],
    body: hex(rand(70000)), trailers: [],
  }],
];

async function ourEncode(message, framing, padding) {
  const request = { op: "bhttp.encode", ...message, framing };
  if (padding !== undefined) request.padding = padding;
  return field(await cpp.get().ok(request), "msg");
}

// The public fetch object must agree too, where fetch can represent the message.
async function checkPublicObject(kind, message, decoded) {
  if (kind === "request") {
    if (decoded.publicError) throw decoded.publicError;
    const req = decoded.message;
    assert.equal(req.method, message.method);
    assert.equal(req.url, new URL(`${message.scheme}://${message.authority}${message.path}`).href);
    assert.deepEqual(headersToList(req.headers), viaHeadersSet(message.headers));
    if (message.method !== "GET" && message.method !== "HEAD") {
      assert.equal(hex(new Uint8Array(await req.arrayBuffer())), message.body);
    }
  } else if (message.status >= 200 && ![204, 205, 304].includes(message.status)) {
    if (decoded.publicError) throw decoded.publicError;
    const res = decoded.message;
    assert.equal(res.status, message.status);
    assert.deepEqual(headersToList(res.headers), viaHeadersSet(message.headers));
    assert.equal(hex(new Uint8Array(await res.arrayBuffer())), message.body);
  }
}

describe("BHTTP: C++ encodes, bhttp-js decodes", () => {
  const cases = [
    ...ourRequests.map(([name, m]) => ["request", name, { kind: "request", ...m }]),
    ...ourResponses.map(([name, m]) => ["response", name, { kind: "response", ...m }]),
  ];
  for (const [kind, name, message] of cases) {
    test(`${kind}: ${name}`, async (t) => {
      for (const framing of ["known", "indeterminate"]) {
        const unpadded = await ourEncode(message, framing);
        for (const padding of [undefined, 0, 1, 16, 100]) {
          await t.test(`${framing} length, padding ${padding ?? "absent"}`, async () => {
            const msg = padding === undefined ? unpadded : await ourEncode(message, framing, padding);
            const decoded = await bhttpJsDecode(msg, kind);
            assert.deepEqual(decoded.meaning, asBhttpJsMeaning(message), "bhttp-js reads a different message");
            await checkPublicObject(kind, message, decoded);
            // Framing indicator (RFC 9292 §3.3): 0/1 known-length, 2/3 indeterminate.
            const indicator = (kind === "response" ? 1 : 0) + (framing === "indeterminate" ? 2 : 0);
            assert.equal(msg[0], indicator, "wrong framing indicator");
            if (padding) {
              // Padding is zeros after the message; accept either "N more bytes" or "a multiple of N".
              assert.equal(hex(msg.slice(0, unpadded.length)), hex(unpadded), "padded message does not extend the unpadded one");
              assert.ok(msg.slice(unpadded.length).every((b) => b === 0), "padding is not all zero");
              assert.ok(msg.length >= unpadded.length + padding || msg.length % padding === 0,
                `padding ${padding}: ${unpadded.length} → ${msg.length} bytes`);
            }
            // And our own decoder reads back exactly what we encoded.
            const ours = await ourDecode(msg);
            assert.equal(ours.framing, framing);
            assert.deepEqual(exactMeaning(ours), exactMeaning(lowercaseNames(message)));
          });
        }
      }
    });
  }
});

// ---- shared inputs: RFC 9292 / RFC 9458 examples decoded by both ----

describe("BHTTP: RFC examples decode to the same meaning on both sides", () => {
  const examples = readTestJson("bhttp-examples.json");
  for (const [name, ex] of Object.entries(examples)) {
    if (typeof ex !== "object" || !ex.hex) continue;
    test(name, async () => {
      const msg = unhex(ex.hex);
      const ours = await ourDecode(msg);
      const kind = ex.method ? "request" : "response";
      assert.equal(ours.kind, kind);
      if (kind === "request") {
        for (const key of ["method", "scheme", "authority", "path"]) assert.equal(ours[key], ex[key], key);
      } else {
        assert.equal(ours.status, ex.status);
        assert.deepEqual(ours.informational.map((ir) => ir.status), ex.informational ?? []);
      }
      if (ex.body !== undefined) assert.equal(ours.body, ex.body);
      if (ex.body_text !== undefined) assert.equal(ours.body, hex(utf8(ex.body_text)));
      if (ex.trailers) assert.deepEqual(ours.trailers, ex.trailers);
      const theirs = await bhttpJsDecode(msg, kind);
      assert.deepEqual(asBhttpJsMeaning(ours), theirs.meaning);
    });
  }

  test("repeated field names stay separate lines in our decoder (RFC 9292 example 103 has two link lines)", async () => {
    const ours = await ourDecode(unhex(examples.indeterminate_length_response_with_informational.hex));
    const early = ours.informational.find((ir) => ir.status === 103);
    assert.deepEqual(early.headers.map(([n]) => n), ["link", "link"]);
  });
});

describe("BHTTP: C++ answers an error for malformed messages", () => {
  // Our decoder bounds each field section (16 KiB, 512 lines, like the Go reference's MaxHeaderBytes); bhttp-js has
  // no such limit. A bhttp-js message beyond it gets an error line, and the harness goes on.
  test("header section beyond the decoder's limits (bhttp-js accepts it)", async () => {
    const headers = {};
    for (let i = 0; i < 600; i++) headers[`x-field-${String(i).padStart(3, "0")}`] = `value number ${i} ${"v".repeat(20)}`;
    const msg = await new BHttpEncoder().encodeRequest(new Request("https://example.com/", { headers }));
    assert.equal((await bhttpJsDecode(msg, "request")).meaning.headers.length, 600);
    const h = cpp.get();
    const [tooBig, next] = await Promise.all([
      h.call({ op: "bhttp.decode", msg: hex(msg) }),
      h.call({ op: "bhttp.decode", msg: "00034745540568747470730b6578616d706c652e636f6d012f" }),
    ]);
    assert.equal(typeof tooBig.error, "string", JSON.stringify(tooBig).slice(0, 200));
    assert.equal(next.method, "GET");
  });

  const good = unhex("00034745540568747470730b6578616d706c652e636f6d012f");
  const cases = [
    ["unknown framing indicator", Uint8Array.of(0x04)],
    ["empty input", new Uint8Array(0)],
    ["truncated inside the control data", good.slice(0, 10)],
    ["non-zero padding", Uint8Array.from([...good, 0, 0, 0, 0, 0, 1])],
  ];
  for (const [name, bytes] of cases) {
    test(name, async () => {
      const error = await cpp.get().err({ op: "bhttp.decode", msg: hex(bytes) });
      assert.ok(error.length > 0);
    });
  }
});
