// HPKE interop (RFC 9180) between our C++ implementation (via `openpcc conformance`) and @hpke/* (JS):
//   (a) JS seals → C++ opens, (b) C++ seals → JS opens, (c) exports agree and, with the ephemeral key fixed by
//   ikm_e / ekm, both sides produce identical enc and ciphertext. Plus DeriveKeyPair agreement and error cases.

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";

import { bytesEqual, field, hex, lazyConformance, toAB, toU8 } from "./harness.mjs";
import { AEAD, KDF, KEM, MODE, deriveKeyPair, importPublicKey, kemInfo, makeSuite, suiteName } from "./suites.mjs";

const cpp = lazyConformance();
after(() => cpp.close());

const MODE_NAMES = { [MODE.BASE]: "base", [MODE.PSK]: "psk", [MODE.AUTH]: "auth", [MODE.AUTH_PSK]: "auth_psk" };
const KEMS = [KEM.X25519, KEM.P256, KEM.X25519_KYBER768];
// (kdf, aead) pairs; the first is the default suite and also carries the payload-size sweep.
const SYMMETRIC = [
  [KDF.SHA256, AEAD.AES128GCM],
  [KDF.SHA256, AEAD.CHACHA20POLY1305],
  [KDF.SHA256, AEAD.AES256GCM],
  [KDF.SHA384, AEAD.AES256GCM],
  [KDF.SHA512, AEAD.AES128GCM],
  [KDF.SHA512, AEAD.CHACHA20POLY1305],
  [KDF.SHA256, AEAD.EXPORT_ONLY],
  [KDF.SHA512, AEAD.EXPORT_ONLY],
];
const SWEEP_SIZES = [0, 1, 1000, 70000];

const rand = (n) => new Uint8Array(randomBytes(n));
const modesFor = (kem) =>
  kemInfo(kem).auth ? [MODE.BASE, MODE.PSK, MODE.AUTH, MODE.AUTH_PSK] : [MODE.BASE, MODE.PSK];
const usesPsk = (mode) => mode === MODE.PSK || mode === MODE.AUTH_PSK;
const usesAuth = (mode) => mode === MODE.AUTH || mode === MODE.AUTH_PSK;
// The hybrid KEM's deterministic encapsulation takes 64 bytes (X25519 IKM ‖ Kyber coins), as in circl's "ier".
const ikmELength = (kem) => (kem === KEM.X25519_KYBER768 ? 64 : 32);

// DeriveKeyPair on both sides from the same IKM; the public (and serialized private) keys must agree.
async function keyPairBothSides(kem, ikm) {
  const theirs = await cpp.get().ok({ op: "hpke.derive_keypair", kem, ikm: hex(ikm) });
  const ours = await deriveKeyPair(kem, ikm);
  bytesEqual(field(theirs, "pk"), ours.pk, `DeriveKeyPair public keys differ (kem 0x${kem.toString(16)})`);
  bytesEqual(field(theirs, "sk"), ours.sk, `DeriveKeyPair private keys differ (kem 0x${kem.toString(16)})`);
  return { cppSk: field(theirs, "sk"), cppPk: field(theirs, "pk"), js: ours };
}

// Everything one (suite, mode) exchange needs, with fresh random inputs.
async function makeSetup(kem, kdf, aead, mode) {
  const s = {
    kem, kdf, aead, mode,
    recipient: await keyPairBothSides(kem, rand(32)),
    sender: usesAuth(mode) ? await keyPairBothSides(kem, rand(32)) : null,
    psk: usesPsk(mode) ? rand(32 + randomInt(16)) : null,
    pskId: usesPsk(mode) ? rand(1 + randomInt(16)) : null,
    info: rand(randomInt(40)),
    aad: rand(randomInt(40)),
    exporterContext: rand(randomInt(24)),
    exporterLength: 1 + randomInt(64),
  };
  s.exportOnly = aead === AEAD.EXPORT_ONLY;
  return s;
}

// Fields common to hpke.seal and hpke.open.
function baseRequest(s) {
  const req = {
    mode: s.mode, kem: s.kem, kdf: s.kdf, aead: s.aead, info: hex(s.info), aad: hex(s.aad),
    exporter_context: hex(s.exporterContext), exporter_length: s.exporterLength,
  };
  if (s.psk) Object.assign(req, { psk: hex(s.psk), psk_id: hex(s.pskId) });
  return req;
}

async function jsSenderContext(s, ekm) {
  const params = {
    recipientPublicKey: await importPublicKey(s.kem, s.recipient.cppPk),
    info: toAB(s.info),
  };
  if (s.psk) params.psk = { id: toAB(s.pskId), key: toAB(s.psk) };
  if (s.sender) params.senderKey = s.sender.js.keyPair;
  if (ekm) params.ekm = toAB(ekm);
  return makeSuite(s.kem, s.kdf, s.aead).createSenderContext(params);
}

async function jsRecipientContext(s, enc) {
  const params = { recipientKey: s.recipient.js.keyPair, enc: toAB(enc), info: toAB(s.info) };
  if (s.psk) params.psk = { id: toAB(s.pskId), key: toAB(s.psk) };
  if (s.sender) params.senderPublicKey = await importPublicKey(s.kem, s.sender.cppPk);
  return makeSuite(s.kem, s.kdf, s.aead).createRecipientContext(params);
}

// JS seals; returns { enc, ct, exported } (ct empty for export-only suites, which cannot seal).
async function jsSeal(s, pt, ekm) {
  const ctx = await jsSenderContext(s, ekm);
  const ct = s.exportOnly ? new Uint8Array(0) : toU8(await ctx.seal(toAB(pt), toAB(s.aad)));
  const exported = toU8(await ctx.export(toAB(s.exporterContext), s.exporterLength));
  return { enc: toU8(ctx.enc), ct, exported };
}

function cppSealRequest(s, pt, ikmE) {
  const req = { op: "hpke.seal", ...baseRequest(s), pk: hex(s.recipient.cppPk), pt: hex(pt) };
  if (s.sender) req.sk_s = hex(s.sender.cppSk);
  if (ikmE) req.ikm_e = hex(ikmE);
  return req;
}

function cppOpenRequest(s, enc, ct) {
  const req = { op: "hpke.open", ...baseRequest(s), sk: hex(s.recipient.cppSk), enc: hex(enc), ct: hex(ct) };
  if (s.sender) req.pk_s = hex(s.sender.js.pk);
  return req;
}

// (a) JS seals → C++ opens; exports agree.
async function jsToCpp(s, pt) {
  const sealed = await jsSeal(s, pt);
  const opened = await cpp.get().ok(cppOpenRequest(s, sealed.enc, sealed.ct));
  if (!s.exportOnly) bytesEqual(field(opened, "pt"), pt, "C++ opened a different plaintext");
  bytesEqual(field(opened, "exported"), sealed.exported, "C++ recipient export differs from the JS sender's");
}

// (b) C++ seals (random ephemeral key) → JS opens; exports agree.
async function cppToJs(s, pt) {
  const sealed = await cpp.get().ok(cppSealRequest(s, pt));
  const enc = field(sealed, "enc");
  assert.equal(enc.length, kemInfo(s.kem).make().encSize, "enc has the wrong length");
  const ctx = await jsRecipientContext(s, enc);
  if (!s.exportOnly) {
    const ct = field(sealed, "ct");
    assert.equal(ct.length, pt.length + 16, "ciphertext is not plaintext + 16-byte tag");
    bytesEqual(toU8(await ctx.open(toAB(ct), toAB(s.aad))), pt, "JS opened a different plaintext");
  }
  const exported = toU8(await ctx.export(toAB(s.exporterContext), s.exporterLength));
  bytesEqual(field(sealed, "exported"), exported, "C++ sender export differs from the JS recipient's");
}

// (c) Same ephemeral IKM on both sides → byte-identical enc, ciphertext and export.
async function deterministic(s, pt) {
  const ikmE = rand(ikmELength(s.kem));
  const ours = await jsSeal(s, pt, ikmE);
  const theirs = await cpp.get().ok(cppSealRequest(s, pt, ikmE));
  bytesEqual(field(theirs, "enc"), ours.enc, "enc differs for the same ikm_e");
  if (!s.exportOnly) bytesEqual(field(theirs, "ct"), ours.ct, "ciphertext differs for the same ikm_e");
  bytesEqual(field(theirs, "exported"), ours.exported, "export differs for the same ikm_e");
}

for (const kem of KEMS) {
  describe(`HPKE ${kemInfo(kem).name}`, () => {
    for (const [kdf, aead] of SYMMETRIC) {
      for (const mode of modesFor(kem)) {
        const isDefault = kdf === SYMMETRIC[0][0] && aead === SYMMETRIC[0][1];
        const exportOnly = aead === AEAD.EXPORT_ONLY;
        const sizes = exportOnly ? [0] : isDefault ? SWEEP_SIZES : [randomInt(200)];
        test(`${suiteName(kem, kdf, aead)}, mode ${MODE_NAMES[mode]}`, async (t) => {
          const s = await makeSetup(kem, kdf, aead, mode);
          for (const size of sizes) {
            const pt = rand(size);
            const tag = exportOnly ? "export only" : `${size}-byte plaintext`;
            await t.test(`JS seals, C++ opens (${tag})`, () => jsToCpp(s, pt));
            await t.test(`C++ seals, JS opens (${tag})`, () => cppToJs(s, pt));
            await t.test(`same ikm_e gives identical output (${tag})`, () => deterministic(s, pt));
          }
        });
      }
    }
  });
}

describe("HPKE DeriveKeyPair", () => {
  for (const kem of KEMS) {
    test(`${kemInfo(kem).name}: same IKM gives the same key pair (several IKM lengths)`, async () => {
      for (const len of [32, 33, 64, 100]) await keyPairBothSides(kem, rand(len));
    });
  }
});

describe("HPKE errors: C++ answers an error line and keeps answering", () => {
  const kem = KEM.X25519;
  const kdf = KDF.SHA256;
  const aead = AEAD.AES128GCM;

  // Each case: a request that must fail, followed at once by a valid open that must still succeed.
  async function expectErrorThenRecovery(s, good, bad) {
    const h = cpp.get();
    const [badAnswer, goodAnswer] = await Promise.all([h.call(bad), h.call(good.request)]);
    assert.equal(typeof badAnswer.error, "string", `expected an error line, got ${JSON.stringify(badAnswer)}`);
    assert.ok(badAnswer.error.length > 0, "error text is empty");
    assert.equal(goodAnswer.error, undefined, `the harness failed the next, valid line: ${goodAnswer.error}`);
    bytesEqual(field(goodAnswer, "pt"), good.pt);
  }

  async function sealedExchange(mode) {
    const s = await makeSetup(kem, kdf, aead, mode);
    const pt = rand(64);
    const sealed = await jsSeal(s, pt);
    return { s, sealed, good: { request: cppOpenRequest(s, sealed.enc, sealed.ct), pt } };
  }

  const flip = (bytes, index) => {
    const out = Uint8Array.from(bytes);
    out[index] ^= 0x01;
    return out;
  };

  test("tampered ciphertext (every region: first byte, middle, tag)", async () => {
    const { s, sealed, good } = await sealedExchange(MODE.BASE);
    for (const i of [0, 32, sealed.ct.length - 1]) {
      await expectErrorThenRecovery(s, good, cppOpenRequest(s, sealed.enc, flip(sealed.ct, i)));
    }
  });

  test("truncated ciphertext, shorter than the tag, and empty", async () => {
    const { s, sealed, good } = await sealedExchange(MODE.BASE);
    for (const ct of [sealed.ct.slice(0, -1), sealed.ct.slice(0, 10), new Uint8Array(0)]) {
      await expectErrorThenRecovery(s, good, cppOpenRequest(s, sealed.enc, ct));
    }
  });

  test("tampered enc, wrong aad, wrong info", async () => {
    const { s, sealed, good } = await sealedExchange(MODE.BASE);
    await expectErrorThenRecovery(s, good, cppOpenRequest(s, flip(sealed.enc, 5), sealed.ct));
    await expectErrorThenRecovery(s, good, { ...cppOpenRequest(s, sealed.enc, sealed.ct), aad: hex(rand(3)) });
    await expectErrorThenRecovery(s, good, { ...cppOpenRequest(s, sealed.enc, sealed.ct), info: hex(rand(5)) });
  });

  test("psk mode: wrong psk, wrong psk_id, missing psk", async () => {
    const { s, sealed, good } = await sealedExchange(MODE.PSK);
    const req = cppOpenRequest(s, sealed.enc, sealed.ct);
    await expectErrorThenRecovery(s, good, { ...req, psk: hex(flip(s.psk, 0)) });
    await expectErrorThenRecovery(s, good, { ...req, psk_id: hex(flip(s.pskId, 0)) });
    const { psk, psk_id, ...noPsk } = req;
    await expectErrorThenRecovery(s, good, noPsk);
  });

  test("base mode given a psk is rejected (RFC 9180 VerifyPSKInputs)", async () => {
    const { s, sealed, good } = await sealedExchange(MODE.BASE);
    const req = cppOpenRequest(s, sealed.enc, sealed.ct);
    await expectErrorThenRecovery(s, good, { ...req, psk: hex(rand(32)), psk_id: hex(rand(4)) });
  });

  test("auth mode: wrong sender public key", async () => {
    const { s, sealed, good } = await sealedExchange(MODE.AUTH);
    const other = await deriveKeyPair(kem, rand(32));
    await expectErrorThenRecovery(s, good, { ...cppOpenRequest(s, sealed.enc, sealed.ct), pk_s: hex(other.pk) });
  });

  test("wrong recipient private key", async () => {
    const { s, sealed, good } = await sealedExchange(MODE.BASE);
    const other = await deriveKeyPair(kem, rand(32));
    await expectErrorThenRecovery(s, good, { ...cppOpenRequest(s, sealed.enc, sealed.ct), sk: hex(other.sk) });
  });

  test("invalid public keys: wrong length, X25519 low-order (all-zero DH), P-256 point off the curve", async () => {
    const { s, good } = await sealedExchange(MODE.BASE);
    const seal = cppSealRequest(s, rand(8));
    await expectErrorThenRecovery(s, good, { ...seal, pk: hex(rand(31)) });
    await expectErrorThenRecovery(s, good, { ...seal, pk: hex(new Uint8Array(32)) });
    const offCurve = new Uint8Array(65);
    offCurve[0] = 0x04;
    offCurve[64] = 0x01;
    await expectErrorThenRecovery(s, good, { ...seal, kem: KEM.P256, pk: hex(offCurve) });
  });

  test("auth mode with the hybrid KEM is rejected (not an authenticated KEM)", async () => {
    const { s, good } = await sealedExchange(MODE.BASE);
    const hybrid = await deriveKeyPair(KEM.X25519_KYBER768, rand(32));
    await expectErrorThenRecovery(s, good, {
      op: "hpke.seal", mode: MODE.AUTH, kem: KEM.X25519_KYBER768, kdf, aead, pk: hex(hybrid.pk),
      sk_s: hex(hybrid.sk), info: "", aad: "", pt: "00",
    });
  });

  test("unknown algorithm ids, too-long export, bad hex, missing fields", async () => {
    const { s, good } = await sealedExchange(MODE.BASE);
    const seal = cppSealRequest(s, rand(8));
    await expectErrorThenRecovery(s, good, { ...seal, kem: 0x99 });
    await expectErrorThenRecovery(s, good, { ...seal, kdf: 0x7 });
    await expectErrorThenRecovery(s, good, { ...seal, aead: 0x9 });
    await expectErrorThenRecovery(s, good, { ...seal, mode: 4 });
    await expectErrorThenRecovery(s, good, { ...seal, exporter_length: 255 * 32 + 1 });
    await expectErrorThenRecovery(s, good, { ...seal, pt: "zz" });
    await expectErrorThenRecovery(s, good, { ...seal, pt: "abc" });
    const { pk, ...noPk } = seal;
    await expectErrorThenRecovery(s, good, noPk);
  });

  test("lines that are not requests: not JSON, not an object, unknown op, blank", async () => {
    const { s, good } = await sealedExchange(MODE.BASE);
    const h = cpp.get();
    const answers = await Promise.all([
      h.sendLine("this is not json"),
      h.sendLine("[1,2,3]"),
      h.call({ op: "hpke.no_such_op" }),
      h.call({ kem: 0x20 }),
      h.sendLine(""),
      h.call(good.request),
    ]);
    for (const a of answers.slice(0, -1)) assert.equal(typeof a.error, "string", JSON.stringify(a));
    bytesEqual(field(answers.at(-1), "pt"), good.pt);
  });

  test("many requests in flight are answered in order", async () => {
    const exchanges = await Promise.all(Array.from({ length: 20 }, () => sealedExchange(MODE.BASE)));
    const h = cpp.get();
    const answers = await Promise.all(exchanges.flatMap(({ s, sealed, good }) => [
      h.call(good.request),
      h.call(cppOpenRequest(s, sealed.enc, flip(sealed.ct, 0))),
    ]));
    exchanges.forEach(({ good }, i) => {
      bytesEqual(field(answers[2 * i], "pt"), good.pt, `answer ${2 * i} is not the one for its line`);
      assert.equal(typeof answers[2 * i + 1].error, "string");
    });
  });
});
