// An independent Oblivious HTTP client and gateway for interop tests, built on @hpke/core and node:crypto:
// RFC 9458 (message/bhttp request/response) and the chunked variant of draft-ietf-ohai-chunked-ohttp.
//
// Wire summary (RFC 9458 §4.3-4.4, chunked draft §5-6):
//   request  = hdr(7) ‖ enc ‖ ct                       hdr = key_id ‖ kem_id ‖ kdf_id ‖ aead_id
//   chunked  = hdr ‖ enc ‖ (varint(len) ‖ ct)* ‖ varint(0) ‖ ct_final     (HPKE context seals; final aad "final")
//   info     = label ‖ 0x00 ‖ hdr
//   response = response_nonce ‖ ct, key material from Export(label, max(Nn, Nk)) and salt = enc ‖ response_nonce;
//   chunked responses use nonce_i = aead_nonce XOR i and the same "final" rule.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

import { concat, toAB, toU8, utf8 } from "./harness.mjs";
import { aeadInfo, importPublicKey, kdfInfo, kemInfo, makeSuite } from "./suites.mjs";

export const LABELS = Object.freeze({
  request: "message/bhttp request",
  response: "message/bhttp response",
  chunkedRequest: "message/bhttp chunked request",
  chunkedResponse: "message/bhttp chunked response",
});

const FINAL_AAD = utf8("final");
const EMPTY = new Uint8Array(0);

// ---- QUIC variable-length integers (RFC 9000 §16) ----

export function encodeVarint(value) {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad varint value ${value}`);
  if (value < 0x40) return Uint8Array.of(value);
  if (value < 0x4000) return Uint8Array.of(0x40 | (value >> 8), value & 0xff);
  if (value < 0x40000000) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    out[0] |= 0x80;
    return out;
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  out[0] |= 0xc0;
  return out;
}

// Returns [value, bytesRead]; throws on truncation.
export function decodeVarint(bytes, at) {
  if (at >= bytes.length) throw new Error("truncated varint");
  const size = 1 << (bytes[at] >> 6);
  if (at + size > bytes.length) throw new Error("truncated varint");
  let value = BigInt(bytes[at] & 0x3f);
  for (let i = 1; i < size; i++) value = (value << 8n) | BigInt(bytes[at + i]);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("varint too large");
  return [Number(value), size];
}

// ---- key configuration (RFC 9458 §3) ----

function u16(value) {
  return Uint8Array.of(value >> 8, value & 0xff);
}

export function encodeKeyConfig({ keyId, kem, pk, algs }) {
  const pairs = algs.map(([kdf, aead]) => concat(u16(kdf), u16(aead)));
  return concat(Uint8Array.of(keyId), u16(kem), pk, u16(4 * algs.length), ...pairs);
}

export function parseKeyConfig(bytes) {
  const b = toU8(bytes);
  if (b.length < 3) throw new Error("key config too short");
  const keyId = b[0];
  const kem = (b[1] << 8) | b[2];
  const npk = kemInfo(kem).make().publicKeySize;
  let at = 3;
  if (b.length < at + npk + 2) throw new Error("key config truncated in public key");
  const pk = b.slice(at, at + npk);
  at += npk;
  const algsLen = (b[at] << 8) | b[at + 1];
  at += 2;
  if (algsLen === 0 || algsLen % 4 !== 0 || at + algsLen !== b.length) throw new Error("bad key config algorithms");
  const algs = [];
  for (; at < b.length; at += 4) algs.push([(b[at] << 8) | b[at + 1], (b[at + 2] << 8) | b[at + 3]]);
  return { keyId, kem, pk, algs };
}

export function requestHeader(keyId, kem, kdf, aead) {
  return concat(Uint8Array.of(keyId), u16(kem), u16(kdf), u16(aead));
}

function infoFor(label, hdr) {
  return concat(utf8(label), Uint8Array.of(0), hdr);
}

// ---- chunk framing ----

// Frames already-sealed chunks: each non-final one length-prefixed, then varint(0) and the final one.
function frameChunks(sealed, sealedFinal) {
  const parts = [];
  for (const ct of sealed) parts.push(encodeVarint(ct.length), ct);
  parts.push(encodeVarint(0), sealedFinal);
  return concat(...parts);
}

// Splits a chunked body into { chunks: [ct...], final: ct }; a stream without a final chunk is truncated.
export function splitChunks(body, tagLength = 16) {
  const b = toU8(body);
  const chunks = [];
  let at = 0;
  for (;;) {
    if (at >= b.length) throw new Error("chunked message ends without a final chunk (truncated)");
    const [len, size] = decodeVarint(b, at);
    at += size;
    if (len === 0) return { chunks, final: b.slice(at) };
    if (at + len > b.length) throw new Error(`chunk ${chunks.length} of length ${len} runs past the end`);
    // Later chunked-OHTTP drafts forbid empty non-final chunks; flag them rather than accept silently.
    if (len <= tagLength) throw new Error(`non-final chunk ${chunks.length} has no plaintext (length ${len})`);
    chunks.push(b.slice(at, at + len));
    at += len;
  }
}

// Plaintext split into non-empty chunks of at most `size` bytes (no chunks for an empty plaintext).
export function chunkPlaintext(bytes, size) {
  const b = toU8(bytes);
  const out = [];
  for (let at = 0; at < b.length; at += size) out.push(b.slice(at, at + size));
  return out;
}

// ---- AEAD and HKDF from node:crypto (response side) ----

function aeadSeal(aead, key, nonce, aad, pt) {
  const info = aeadInfo(aead);
  if (!info.cipher) throw new Error(`${info.name} cannot encrypt`);
  const c = createCipheriv(info.cipher, key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  return concat(c.update(pt), c.final(), c.getAuthTag());
}

function aeadOpen(aead, key, nonce, aad, ct) {
  const info = aeadInfo(aead);
  if (!info.cipher) throw new Error(`${info.name} cannot decrypt`);
  if (ct.length < 16) throw new Error("ciphertext shorter than the tag");
  const d = createDecipheriv(info.cipher, key, nonce, { authTagLength: 16 });
  d.setAuthTag(ct.subarray(ct.length - 16));
  d.setAAD(aad, { plaintextLength: ct.length - 16 });
  return concat(d.update(ct.subarray(0, ct.length - 16)), d.final());
}

function xorCounter(nonce, counter) {
  const out = Uint8Array.from(nonce);
  let c = BigInt(counter);
  for (let i = out.length - 1; i >= 0 && c > 0n; i--, c >>= 8n) out[i] ^= Number(c & 0xffn);
  return out;
}

export function responseNonceLength(aead) {
  const { Nk, Nn } = aeadInfo(aead);
  return Math.max(Nk, Nn);
}

// RFC 9458 §4.4: prk = Extract(enc ‖ response_nonce, secret); key = Expand(prk, "key", Nk), nonce likewise.
function responseKeys(kdf, aead, enc, responseSecret, responseNonce) {
  const { hash } = kdfInfo(kdf);
  const { Nk, Nn } = aeadInfo(aead);
  const salt = concat(enc, responseNonce);
  return {
    key: toU8(hkdfSync(hash, responseSecret, salt, "key", Nk)),
    nonce: toU8(hkdfSync(hash, responseSecret, salt, "nonce", Nn)),
  };
}

// ---- client ----

// Encapsulates a request to `keyConfig` (bytes or parsed), using its first (kdf, aead) pair unless `alg` is given.
//   unchunked: `bhttp` is sealed in one piece;
//   chunked:   `chunks` (non-empty plaintexts) and `final` (default empty) are sealed one by one; if only `bhttp` is
//              given it is cut into chunks of `chunkSize` bytes.
//   ekm:       an ephemeral CryptoKeyPair, or DeriveKeyPair IKM bytes (64 bytes for the hybrid KEM), else random.
// Returns the wire request plus what the client keeps to read the response.
export async function clientEncapsulate({ keyConfig, alg, bhttp, chunked = false, chunks, final = EMPTY,
  chunkSize = 4096, ekm }) {
  const config = keyConfig instanceof Uint8Array ? parseKeyConfig(keyConfig) : keyConfig;
  const [kdf, aead] = alg ?? config.algs[0];
  const hdr = requestHeader(config.keyId, config.kem, kdf, aead);
  const suite = makeSuite(config.kem, kdf, aead);
  const params = {
    recipientPublicKey: await importPublicKey(config.kem, config.pk),
    info: toAB(infoFor(chunked ? LABELS.chunkedRequest : LABELS.request, hdr)),
  };
  if (ekm !== undefined) params.ekm = ekm instanceof Uint8Array ? toAB(ekm) : ekm;
  const ctx = await suite.createSenderContext(params);
  const enc = toU8(ctx.enc);
  let body;
  if (!chunked) {
    body = toU8(await ctx.seal(toAB(bhttp)));
  } else {
    const pieces = chunks ?? chunkPlaintext(bhttp, chunkSize);
    const sealed = [];
    for (const piece of pieces) {
      if (piece.length === 0) throw new Error("non-final chunks must not be empty");
      sealed.push(toU8(await ctx.seal(toAB(piece))));
    }
    body = frameChunks(sealed, toU8(await ctx.seal(toAB(final), toAB(FINAL_AAD))));
  }
  const responseSecret = toU8(await ctx.export(
    toAB(utf8(chunked ? LABELS.chunkedResponse : LABELS.response)), responseNonceLength(aead)));
  return { request: concat(hdr, enc, body), enc, responseSecret, kdf, aead, chunked };
}

// Decapsulates a response with the state clientEncapsulate returned. Returns { bhttp, chunks, final }.
export function clientDecapsulateResponse({ kdf, aead, enc, responseSecret, response, chunked = false }) {
  const r = toU8(response);
  const nonceLen = responseNonceLength(aead);
  if (r.length < nonceLen) throw new Error("response shorter than its nonce");
  const { key, nonce } = responseKeys(kdf, aead, enc, responseSecret, r.subarray(0, nonceLen));
  const body = r.subarray(nonceLen);
  if (!chunked) {
    const bhttp = aeadOpen(aead, key, nonce, EMPTY, body);
    return { bhttp, chunks: [bhttp], final: EMPTY };
  }
  const { chunks: sealed, final: sealedFinal } = splitChunks(body);
  const chunks = sealed.map((ct, i) => aeadOpen(aead, key, xorCounter(nonce, i), EMPTY, ct));
  const final = aeadOpen(aead, key, xorCounter(nonce, sealed.length), FINAL_AAD, sealedFinal);
  return { bhttp: concat(...chunks, final), chunks, final };
}

// ---- gateway ----

// Decapsulates a request for the gateway holding `keyPair` (a CryptoKeyPair) under `keyConfig`.
// Returns { bhttp, chunks, final, enc, responseSecret, kdf, aead }.
export async function gatewayDecapsulate({ keyConfig, keyPair, request, chunked = false }) {
  const config = keyConfig instanceof Uint8Array ? parseKeyConfig(keyConfig) : keyConfig;
  const r = toU8(request);
  if (r.length < 7) throw new Error("request shorter than its header");
  const hdr = r.slice(0, 7);
  const keyId = hdr[0];
  const kem = (hdr[1] << 8) | hdr[2];
  const kdf = (hdr[3] << 8) | hdr[4];
  const aead = (hdr[5] << 8) | hdr[6];
  if (keyId !== config.keyId || kem !== config.kem) throw new Error("request header names another key");
  if (!config.algs.some(([f, a]) => f === kdf && a === aead)) throw new Error("request uses an unlisted suite");
  const nenc = kemInfo(kem).make().encSize;
  if (r.length < 7 + nenc) throw new Error("request truncated in enc");
  const enc = r.slice(7, 7 + nenc);
  const body = r.subarray(7 + nenc);
  const ctx = await makeSuite(kem, kdf, aead).createRecipientContext({
    recipientKey: keyPair,
    enc: toAB(enc),
    info: toAB(infoFor(chunked ? LABELS.chunkedRequest : LABELS.request, hdr)),
  });
  let chunks;
  let final;
  if (!chunked) {
    chunks = [toU8(await ctx.open(toAB(body)))];
    final = EMPTY;
  } else {
    const split = splitChunks(body);
    chunks = [];
    for (const ct of split.chunks) chunks.push(toU8(await ctx.open(toAB(ct))));
    final = toU8(await ctx.open(toAB(split.final), toAB(FINAL_AAD)));
  }
  const responseSecret = toU8(await ctx.export(
    toAB(utf8(chunked ? LABELS.chunkedResponse : LABELS.response)), responseNonceLength(aead)));
  return { bhttp: concat(...chunks, final), chunks, final, enc, responseSecret, kdf, aead };
}

// Encapsulates a response. Chunked: `chunks` (non-empty) + `final`, or `bhttp` cut into `chunkSize` pieces.
export function gatewayEncapsulateResponse({ kdf, aead, enc, responseSecret, bhttp, chunked = false, chunks,
  final = EMPTY, chunkSize = 4096, responseNonce }) {
  const nonceLen = responseNonceLength(aead);
  const rn = responseNonce ? toU8(responseNonce) : new Uint8Array(randomBytes(nonceLen));
  if (rn.length !== nonceLen) throw new Error(`response nonce must be ${nonceLen} bytes`);
  const { key, nonce } = responseKeys(kdf, aead, enc, responseSecret, rn);
  if (!chunked) return concat(rn, aeadSeal(aead, key, nonce, EMPTY, toU8(bhttp)));
  const pieces = chunks ?? chunkPlaintext(bhttp, chunkSize);
  const sealed = pieces.map((piece, i) => {
    if (piece.length === 0) throw new Error("non-final chunks must not be empty");
    return aeadSeal(aead, key, xorCounter(nonce, i), EMPTY, toU8(piece));
  });
  const sealedFinal = aeadSeal(aead, key, xorCounter(nonce, pieces.length), FINAL_AAD, toU8(final));
  return concat(rn, frameChunks(sealed, sealedFinal));
}
