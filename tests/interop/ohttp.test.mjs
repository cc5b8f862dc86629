// Oblivious HTTP (RFC 9458 and chunked OHTTP) interop between our C++ implementation (via `openpcc conformance`)
// and an independent JS client/gateway (ohttp_peer.mjs on @hpke/* and node:crypto).
//
// First the JS peer proves itself byte-exact on the published examples (no C++ needed), then requests and
// responses cross between the two implementations in both directions, unchunked and chunked, for key configs with
// X25519 (0x20) and X25519Kyber768Draft00 (0x30). The inner messages are Binary HTTP made with bhttp-js.

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";

import { BHttpDecoder, BHttpEncoder } from "bhttp-js";

import { bytesEqual, field, hex, lazyConformance, readTestJson, unhex } from "./harness.mjs";
import {
  clientDecapsulateResponse,
  clientEncapsulate,
  encodeKeyConfig,
  encodeVarint,
  gatewayDecapsulate,
  gatewayEncapsulateResponse,
  parseKeyConfig,
  splitChunks,
} from "./ohttp_peer.mjs";
import { AEAD, KDF, KEM, deriveKeyPair, importKeyPair, kemInfo } from "./suites.mjs";

const cpp = lazyConformance();
after(() => cpp.close());

const rand = (n) => new Uint8Array(randomBytes(n));
const vectors = readTestJson("ohttp-examples.json");
const TAG = 16;

// RFC 9458 Appendix A key configuration: key 1, X25519, HKDF-SHA256 with AES-128-GCM or ChaCha20-Poly1305.
const RFC9458_KEY_CONFIG =
  "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003";

function vectorKeyConfig(v) {
  const { key_id: keyId, kem_id: kem, kdf_id: kdf, aead_id: aead } = v.key_config;
  return { keyId, kem, pk: unhex(v.pkR), algs: [[kdf, aead]] };
}

const nonFinal = (chunks) => chunks.slice(0, -1).map((c) => unhex(c));
const finalOf = (chunks) => unhex(chunks.at(-1));

// Plaintext chunk sizes of a chunked body (after its `prefixLength`-byte prefix): the split another implementation
// chose, so ours can redo it and compare bytes.
function chunkLayout(body, prefixLength) {
  const { chunks, final } = splitChunks(body.subarray(prefixLength));
  return { sizes: chunks.map((c) => c.length - TAG), finalSize: final.length - TAG };
}

function cut(bytes, { sizes, finalSize }) {
  const chunks = [];
  let at = 0;
  for (const n of sizes) {
    chunks.push(bytes.slice(at, at + n));
    at += n;
  }
  const final = bytes.slice(at);
  assert.equal(final.length, finalSize, "chunk layout does not add up to the plaintext length");
  return { chunks, final };
}

describe("OHTTP: the JS peer reproduces the published examples", () => {
  test("RFC 9458 key configuration parses", () => {
    const config = parseKeyConfig(unhex(RFC9458_KEY_CONFIG));
    assert.equal(config.keyId, 1);
    assert.equal(config.kem, KEM.X25519);
    assert.equal(hex(config.pk), vectors.rfc9458_appendix_a.pkR);
    assert.deepEqual(config.algs, [[KDF.SHA256, AEAD.AES128GCM], [KDF.SHA256, AEAD.CHACHA20POLY1305]]);
    assert.equal(hex(encodeKeyConfig(config)), RFC9458_KEY_CONFIG);
  });

  for (const [name, v, chunked] of [
    ["RFC 9458 Appendix A", vectors.rfc9458_appendix_a, false],
    ["chunked OHTTP draft-08 example", vectors.chunked_ohttp_draft08_example, true],
  ]) {
    test(`${name}: request and response byte-exact, both roles`, async () => {
      const keyConfig = vectorKeyConfig(v);
      const ekm = await importKeyPair(KEM.X25519, unhex(v.skE), unhex(v.pkE));
      const client = await clientEncapsulate({
        keyConfig, chunked, ekm, bhttp: unhex(v.bhttp_request),
        ...(chunked ? { chunks: nonFinal(v.request_plaintext_chunks), final: finalOf(v.request_plaintext_chunks) } : {}),
      });
      assert.equal(hex(client.request), v.encapsulated_request);
      assert.equal(hex(client.enc), v.pkE);

      const keyPair = await importKeyPair(KEM.X25519, unhex(v.skR), unhex(v.pkR));
      const gateway = await gatewayDecapsulate({ keyConfig, keyPair, request: unhex(v.encapsulated_request), chunked });
      assert.equal(hex(gateway.bhttp), v.bhttp_request);
      bytesEqual(gateway.responseSecret, client.responseSecret, "client and gateway export different secrets");
      if (chunked) assert.deepEqual(gateway.chunks.map(hex), v.request_plaintext_chunks.slice(0, -1));

      const response = gatewayEncapsulateResponse({
        kdf: gateway.kdf, aead: gateway.aead, enc: gateway.enc, responseSecret: gateway.responseSecret, chunked,
        bhttp: unhex(v.bhttp_response), responseNonce: unhex(v.response_nonce),
        ...(chunked ? { chunks: nonFinal(v.response_plaintext_chunks), final: finalOf(v.response_plaintext_chunks) } : {}),
      });
      assert.equal(hex(response), v.encapsulated_response);
      const read = clientDecapsulateResponse({ ...client, response: unhex(v.encapsulated_response) });
      assert.equal(hex(read.bhttp), v.bhttp_response);
    });
  }
});

describe("OHTTP: C++ reproduces the published examples", () => {
  test("RFC 9458 Appendix A", async () => {
    const v = vectors.rfc9458_appendix_a;
    const h = cpp.get();
    const opened = await h.ok({
      op: "ohttp.decapsulate_request", key_config: RFC9458_KEY_CONFIG, sk: v.skR,
      request: v.encapsulated_request, chunked: false,
    });
    assert.equal(opened.bhttp, v.bhttp_request);
    assert.equal(opened.enc, v.pkE);
    const keyPair = await importKeyPair(KEM.X25519, unhex(v.skR), unhex(v.pkR));
    const ours = await gatewayDecapsulate({
      keyConfig: unhex(RFC9458_KEY_CONFIG), keyPair, request: unhex(v.encapsulated_request),
    });
    assert.equal(opened.response_secret, hex(ours.responseSecret), "response_secret differs from the JS export");
    const sealed = await h.ok({
      op: "ohttp.encapsulate_response", enc: opened.enc, response_secret: opened.response_secret,
      bhttp: v.bhttp_response, chunked: false, response_nonce: v.response_nonce,
    });
    assert.equal(sealed.response, v.encapsulated_response);
    const read = await h.ok({
      op: "ohttp.decapsulate_response", enc: v.pkE, response_secret: opened.response_secret,
      response: v.encapsulated_response, chunked: false,
    });
    assert.equal(read.bhttp, v.bhttp_response);
  });

  test("chunked OHTTP draft-08 example", async () => {
    const v = vectors.chunked_ohttp_draft08_example;
    const keyConfig = hex(encodeKeyConfig(vectorKeyConfig(v)));
    const h = cpp.get();
    const opened = await h.ok({
      op: "ohttp.decapsulate_request", key_config: keyConfig, sk: v.skR, request: v.encapsulated_request,
      chunked: true,
    });
    assert.equal(opened.bhttp, v.bhttp_request);
    assert.equal(opened.enc, v.pkE);
    const read = await h.ok({
      op: "ohttp.decapsulate_response", enc: v.pkE, response_secret: opened.response_secret,
      response: v.encapsulated_response, chunked: true,
    });
    assert.equal(read.bhttp, v.bhttp_response);
    // Our chunk split may differ from the example's; with the same split and nonce the bytes must match.
    const sealed = await h.ok({
      op: "ohttp.encapsulate_response", enc: opened.enc, response_secret: opened.response_secret,
      bhttp: v.bhttp_response, chunked: true, response_nonce: v.response_nonce,
    });
    const response = unhex(sealed.response);
    const layout = chunkLayout(response, 16);
    const again = gatewayEncapsulateResponse({
      kdf: KDF.SHA256, aead: AEAD.AES128GCM, enc: unhex(v.pkE), responseSecret: unhex(opened.response_secret),
      chunked: true, responseNonce: unhex(v.response_nonce), ...cut(unhex(v.bhttp_response), layout),
    });
    assert.equal(sealed.response, hex(again));
  });
});

// ---- C++ ↔ JS ----

async function makeGatewayKey(kem) {
  const ikm = rand(32);
  const theirs = await cpp.get().ok({ op: "hpke.derive_keypair", kem, ikm: hex(ikm) });
  const ours = await deriveKeyPair(kem, ikm);
  bytesEqual(field(theirs, "pk"), ours.pk, "DeriveKeyPair public keys differ");
  const config = {
    keyId: randomInt(256), kem, pk: ours.pk,
    algs: [[KDF.SHA256, AEAD.AES128GCM], [KDF.SHA256, AEAD.CHACHA20POLY1305]],
  };
  return { sk: field(theirs, "sk"), keyPair: ours.keyPair, config, keyConfig: encodeKeyConfig(config) };
}

const encoder = new BHttpEncoder();

async function innerRequest(bodySize) {
  return encoder.encodeRequest(new Request("https://ohttp.invalid/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/octet-stream", "x-request-id": hex(rand(8)) },
    body: rand(bodySize),
  }));
}

async function innerResponse(bodySize) {
  return encoder.encodeResponse(new Response(rand(bodySize), {
    status: 200, headers: { "content-type": "application/octet-stream" },
  }));
}

// Request and response plaintext sizes: small, and large enough for many chunks.
const SIZES = [[0, 0], [100, 3], [70000, 40000]];

for (const kem of [KEM.X25519, KEM.X25519_KYBER768]) {
  for (const chunked of [false, true]) {
    const label = `${kemInfo(kem).name}, ${chunked ? "chunked" : "unchunked"}`;
    describe(`OHTTP ${label}`, () => {
      for (const [reqSize, resSize] of SIZES) {
        const sizes = `request body ${reqSize} B, response body ${resSize} B`;

        test(`JS client → C++ gateway → JS client (${sizes})`, async () => {
          const key = await makeGatewayKey(kem);
          const bhttp = await innerRequest(reqSize);
          const client = await clientEncapsulate({ keyConfig: key.keyConfig, bhttp, chunked });
          const h = cpp.get();
          const opened = await h.ok({
            op: "ohttp.decapsulate_request", key_config: hex(key.keyConfig), sk: hex(key.sk),
            request: hex(client.request), chunked,
          });
          bytesEqual(field(opened, "bhttp"), bhttp, "C++ gateway read a different request");
          bytesEqual(field(opened, "enc"), client.enc, "C++ gateway reports a different enc");
          bytesEqual(field(opened, "response_secret"), client.responseSecret, "response secrets differ");
          const decoded = new BHttpDecoder().decodeRequest(field(opened, "bhttp"));
          assert.equal(decoded.url, "https://ohttp.invalid/v1/chat/completions");

          const responseBhttp = await innerResponse(resSize);
          const sealed = await h.ok({
            op: "ohttp.encapsulate_response", enc: opened.enc, response_secret: opened.response_secret,
            bhttp: hex(responseBhttp), chunked,
          });
          const read = clientDecapsulateResponse({ ...client, response: field(sealed, "response") });
          bytesEqual(read.bhttp, responseBhttp, "JS client read a different response");
          assert.equal(new BHttpDecoder().decodeResponse(read.bhttp).status, 200);
        });

        test(`C++ client → JS gateway → C++ client (${sizes})`, async () => {
          const key = await makeGatewayKey(kem);
          const bhttp = await innerRequest(reqSize);
          const h = cpp.get();
          const sent = await h.ok({
            op: "ohttp.encapsulate_request", key_config: hex(key.keyConfig), bhttp: hex(bhttp), chunked,
          });
          const gateway = await gatewayDecapsulate({
            keyConfig: key.config, keyPair: key.keyPair, request: field(sent, "request"), chunked,
          });
          // docs/CONFORMANCE.md: the client uses the key configuration's first (kdf, aead) pair.
          assert.deepEqual([gateway.kdf, gateway.aead], key.config.algs[0], "C++ client did not use the first suite");
          bytesEqual(gateway.bhttp, bhttp, "JS gateway read a different request");
          bytesEqual(field(sent, "enc"), gateway.enc, "C++ client reports a different enc");
          bytesEqual(field(sent, "response_secret"), gateway.responseSecret, "response secrets differ");

          const responseBhttp = await innerResponse(resSize);
          const response = gatewayEncapsulateResponse({
            kdf: gateway.kdf, aead: gateway.aead, enc: gateway.enc, responseSecret: gateway.responseSecret,
            bhttp: responseBhttp, chunked,
          });
          const read = await h.ok({
            op: "ohttp.decapsulate_response", enc: sent.enc, response_secret: sent.response_secret,
            response: hex(response), chunked,
          });
          bytesEqual(field(read, "bhttp"), responseBhttp, "C++ client read a different response");
        });

        test(`same ikm_e and response nonce give identical bytes (${sizes})`, async () => {
          const key = await makeGatewayKey(kem);
          const bhttp = await innerRequest(reqSize);
          const ikmE = rand(kem === KEM.X25519_KYBER768 ? 64 : 32);
          const h = cpp.get();
          const sent = await h.ok({
            op: "ohttp.encapsulate_request", key_config: hex(key.keyConfig), bhttp: hex(bhttp), chunked,
            ikm_e: hex(ikmE),
          });
          const theirs = field(sent, "request");
          const nenc = kemInfo(kem).make().encSize;
          const split = chunked ? cut(bhttp, chunkLayout(theirs, 7 + nenc)) : {};
          const client = await clientEncapsulate({ keyConfig: key.keyConfig, bhttp, chunked, ekm: ikmE, ...split });
          bytesEqual(theirs, client.request, "encapsulated requests differ for the same ikm_e");
          bytesEqual(field(sent, "response_secret"), client.responseSecret);

          const responseBhttp = await innerResponse(resSize);
          const nonce = rand(16);
          const sealed = await h.ok({
            op: "ohttp.encapsulate_response", enc: sent.enc, response_secret: sent.response_secret,
            bhttp: hex(responseBhttp), chunked, response_nonce: hex(nonce),
          });
          const response = field(sealed, "response");
          const rsplit = chunked ? cut(responseBhttp, chunkLayout(response, 16)) : {};
          const again = gatewayEncapsulateResponse({
            kdf: client.kdf, aead: client.aead, enc: client.enc, responseSecret: client.responseSecret, chunked,
            bhttp: responseBhttp, responseNonce: nonce, ...rsplit,
          });
          bytesEqual(response, again, "encapsulated responses differ for the same nonce");
        });
      }
    });
  }
}

describe("OHTTP: C++ rejects tampered, truncated and mismatched messages", () => {
  const kem = KEM.X25519;

  async function setup(chunked) {
    const key = await makeGatewayKey(kem);
    const bhttp = await innerRequest(9000);
    // Small chunks so that the request and response have several each.
    const client = await clientEncapsulate({ keyConfig: key.keyConfig, bhttp, chunked, chunkSize: 1000 });
    const response = gatewayEncapsulateResponse({
      kdf: client.kdf, aead: client.aead, enc: client.enc, responseSecret: client.responseSecret, chunked,
      bhttp: await innerResponse(5000), chunkSize: 1000,
    });
    const decapRequest = (request, overrides = {}) => ({
      op: "ohttp.decapsulate_request", key_config: hex(key.keyConfig), sk: hex(key.sk), request: hex(request),
      chunked, ...overrides,
    });
    const decapResponse = (bytes, overrides = {}) => ({
      op: "ohttp.decapsulate_response", enc: hex(client.enc), response_secret: hex(client.responseSecret),
      response: hex(bytes), chunked, ...overrides,
    });
    // Sanity: the untouched messages are accepted.
    await cpp.get().ok(decapRequest(client.request));
    await cpp.get().ok(decapResponse(response));
    return { key, client, response, decapRequest, decapResponse };
  }

  const flip = (bytes, i) => {
    const out = Uint8Array.from(bytes);
    out[i] ^= 0x80;
    return out;
  };

  for (const chunked of [false, true]) {
    const mode = chunked ? "chunked" : "unchunked";

    test(`${mode}: tampered request header, enc, ciphertext; wrong chunked flag`, async () => {
      const { client, decapRequest } = await setup(chunked);
      const h = cpp.get();
      for (const i of [0, 2, 4, 6, 7 + 3, client.request.length - 1]) await h.err(decapRequest(flip(client.request, i)));
      await h.err(decapRequest(client.request, { chunked: !chunked }));
      await h.err(decapRequest(client.request.slice(0, 7 + 20)));
    });

    test(`${mode}: tampered response nonce and ciphertext; wrong chunked flag; wrong secret`, async () => {
      const { client, response, decapResponse } = await setup(chunked);
      const h = cpp.get();
      for (const i of [0, 15, 16 + 5, response.length - 1]) await h.err(decapResponse(flip(response, i)));
      await h.err(decapResponse(response, { chunked: !chunked }));
      await h.err(decapResponse(response, { response_secret: hex(flip(client.responseSecret, 0)) }));
      await h.err(decapResponse(response.slice(0, 20)));
    });
  }

  test("chunked: a request or response cut before its final chunk is rejected (truncation attack)", async () => {
    const { client, response, decapRequest, decapResponse } = await setup(true);
    const h = cpp.get();
    const nenc = kemInfo(kem).make().encSize;
    const lastBoundary = (bytes, prefix) => {
      const { chunks } = splitChunks(bytes.subarray(prefix));
      let at = prefix;
      for (const c of chunks) at += encodeVarint(c.length).length + c.length;
      return at; // where varint(0) ‖ final begins
    };
    const reqCut = lastBoundary(client.request, 7 + nenc);
    const resCut = lastBoundary(response, 16);
    await h.err(decapRequest(client.request.slice(0, reqCut)));
    await h.err(decapRequest(client.request.slice(0, reqCut + 1)));
    await h.err(decapResponse(response.slice(0, resCut)));
    await h.err(decapResponse(response.slice(0, resCut + 1)));
    // Presenting a non-final chunk as the final one must fail too (wrong AAD and counter).
    const firstLen = splitChunks(response.subarray(16)).chunks[0].length;
    const asFinal = Uint8Array.from([...response.subarray(0, 16), 0,
      ...response.subarray(16 + encodeVarint(firstLen).length, 16 + encodeVarint(firstLen).length + firstLen)]);
    await h.err(decapResponse(asFinal));
  });

  test("chunked: swapping two response chunks is rejected", async () => {
    const { response, decapResponse } = await setup(true);
    const { chunks, final } = splitChunks(response.subarray(16));
    assert.ok(chunks.length >= 2);
    const frame = (c) => [...encodeVarint(c.length), ...c];
    const swapped = Uint8Array.from([...response.subarray(0, 16), ...frame(chunks[1]), ...frame(chunks[0]),
      ...chunks.slice(2).flatMap(frame), 0, ...final]);
    await cpp.get().err(decapResponse(swapped));
  });

  test("request for a key id the gateway does not hold is rejected", async () => {
    const key = await makeGatewayKey(kem);
    const other = { ...key.config, keyId: (key.config.keyId + 1) % 256 };
    const client = await clientEncapsulate({ keyConfig: other, bhttp: await innerRequest(10) });
    await cpp.get().err({
      op: "ohttp.decapsulate_request", key_config: hex(key.keyConfig), sk: hex(key.sk),
      request: hex(client.request), chunked: false,
    });
  });
});
