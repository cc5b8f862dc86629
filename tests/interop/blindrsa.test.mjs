// RSA blind signature interop between our C++ implementation (via `openpcc conformance`, rsa_blind.* ops) and
// @cloudflare/blindrsa-ts 0.4.4, in both directions, plus the OpenPCC credit suite's compatibility claim: credits
// (PSS with an all-zero 48-byte salt) verify as RSAPBSSA-SHA384-PSS-Deterministic.
//
// blindrsa-ts generates keys with safe primes, which takes minutes at 2048 bits, so every test uses the fixed
// 2048-bit safe-prime key of the draft-irtf-cfrg-partially-blind-rsa vectors (it serves the RSABSSA suites too).
// blindrsa-ts cannot be given the salt or r, so results are compared through blindSign (deterministic for a given
// blinded message) and verify.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, webcrypto } from "node:crypto";

import { RSABSSA, RSAPBSSA } from "@cloudflare/blindrsa-ts";

import { field, hex, lazyConformance, readTestJson, unhex } from "./harness.mjs";

const cpp = lazyConformance();
after(() => cpp.close());

const rand = (n) => new Uint8Array(randomBytes(n));

// ---- the fixed key, as hex components for the harness and as WebCrypto keys for blindrsa-ts ----

const vector = readTestJson("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json")[0];
const components = { n: vector.n, e: vector.e, d: vector.d, p: vector.p, q: vector.q };
const publicComponents = { n: vector.n, e: vector.e };

const big = (h) => BigInt("0x" + h);
const b64u = (x) => {
  let h = x.toString(16);
  if (h.length % 2) h = "0" + h;
  return Buffer.from(h, "hex").toString("base64url");
};

function modInverse(a, m) {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const quotient = r0 / r1;
    [r0, r1] = [r1, r0 - quotient * r1];
    [s0, s1] = [s1, s0 - quotient * s1];
  }
  assert.equal(r0, 1n, "not invertible");
  return ((s0 % m) + m) % m;
}

async function importKeys() {
  const [n, e, d, p, q] = [vector.n, vector.e, vector.d, vector.p, vector.q].map(big);
  const algorithm = { name: "RSA-PSS", hash: "SHA-384" };
  const publicJwk = { kty: "RSA", n: b64u(n), e: b64u(e), alg: "PS384", ext: true };
  const privateJwk = {
    ...publicJwk,
    d: b64u(d),
    p: b64u(p),
    q: b64u(q),
    dp: b64u(d % (p - 1n)),
    dq: b64u(d % (q - 1n)),
    qi: b64u(modInverse(q, p)),
  };
  return {
    publicKey: await webcrypto.subtle.importKey("jwk", publicJwk, algorithm, true, ["verify"]),
    privateKey: await webcrypto.subtle.importKey("jwk", privateJwk, algorithm, true, ["sign"]),
  };
}

let keys;
before(async () => {
  keys = await importKeys();
});

// ---- suites: our name, the blindrsa-ts object, and whether it takes metadata ----

const INFO = new Uint8Array([0x00, 0x10]);

const SUITES = [
  { name: "RSAPBSSA-SHA384-PSS-Deterministic", js: () => RSAPBSSA.SHA384.PSS.Deterministic(), partial: true },
  { name: "RSABSSA-SHA384-PSS-Randomized", js: () => RSABSSA.SHA384.PSS.Randomized(), partial: false },
];

// blindrsa-ts: the non-partial suites take no info argument.
const js = {
  blind: (s, suite, msg) => (s.partial ? suite.blind(keys.publicKey, msg, INFO) : suite.blind(keys.publicKey, msg)),
  blindSign: (s, suite, blinded) =>
    s.partial ? suite.blindSign(keys.privateKey, blinded, INFO) : suite.blindSign(keys.privateKey, blinded),
  finalize: (s, suite, msg, blindSig, inv) =>
    s.partial
      ? suite.finalize(keys.publicKey, msg, INFO, blindSig, inv)
      : suite.finalize(keys.publicKey, msg, blindSig, inv),
  // A rejection may come back as false or as a thrown error; both count as "does not verify".
  async verifies(s, suite, sig, msg) {
    try {
      return s.partial
        ? await suite.verify(keys.publicKey, sig, msg, INFO)
        : await suite.verify(keys.publicKey, sig, msg);
    } catch {
      return false;
    }
  },
};

const infoField = (s) => (s.partial ? { info: hex(INFO) } : {});

function tampered(bytes) {
  const out = new Uint8Array(bytes);
  out[out.length - 1] ^= 0x01;
  return out;
}

// ---- tests ----

describe("fixed vector key", () => {
  test("our blind_sign of the vector's blinded message gives the vector's blind signature", async () => {
    const answer = await cpp.get().ok({
      op: "rsa_blind.blind_sign", suite: "RSAPBSSA-SHA384-PSS-Deterministic", ...components,
      blinded_msg: vector.blind_msg, info: vector.info,
    });
    assert.equal(answer.blind_sig, vector.blind_sig);
  });
});

for (const s of SUITES) {
  describe(s.name, () => {
    test("blindrsa-ts blinds, we sign, blindrsa-ts finalizes and verifies", async () => {
      const suite = s.js();
      for (let i = 0; i < 3; ++i) {
        const msg = suite.prepare(rand(1 + i * 40));
        const { blindedMsg, inv } = await js.blind(s, suite, msg);
        const answer = await cpp.get().ok({
          op: "rsa_blind.blind_sign", suite: s.name, ...components, blinded_msg: hex(blindedMsg), ...infoField(s),
        });
        const blindSig = field(answer, "blind_sig");
        // blindSign is deterministic, so the two signers must agree byte for byte.
        assert.equal(hex(blindSig), hex(await js.blindSign(s, suite, blindedMsg)));
        const sig = await js.finalize(s, suite, msg, blindSig, inv);
        assert.equal(await js.verifies(s, suite, sig, msg), true);
        // And our verifier accepts what blindrsa-ts finalized.
        await cpp.get().ok({ op: "rsa_blind.verify", suite: s.name, ...publicComponents, prepared_msg: hex(msg),
          sig: hex(sig), ...infoField(s) });
      }
    });

    test("we blind, blindrsa-ts signs, we finalize, blindrsa-ts verifies", async () => {
      const suite = s.js();
      for (let i = 0; i < 3; ++i) {
        const blinding = await cpp.get().ok({
          op: "rsa_blind.blind", suite: s.name, ...publicComponents, msg: hex(rand(1 + i * 40)), ...infoField(s),
        });
        const prepared = field(blinding, "prepared_msg");
        const blindSig = await js.blindSign(s, suite, field(blinding, "blinded_msg"));
        const final = await cpp.get().ok({
          op: "rsa_blind.finalize", suite: s.name, ...publicComponents, prepared_msg: hex(prepared),
          blind_sig: hex(blindSig), inv: blinding.inv, ...infoField(s),
        });
        assert.equal(await js.verifies(s, suite, field(final, "sig"), prepared), true);
      }
    });

    test("a tampered signature is rejected by both sides", async () => {
      const suite = s.js();
      const blinding = await cpp.get().ok({
        op: "rsa_blind.blind", suite: s.name, ...publicComponents, msg: hex(rand(32)), ...infoField(s),
      });
      const prepared = field(blinding, "prepared_msg");
      const blindSig = await js.blindSign(s, suite, field(blinding, "blinded_msg"));
      const final = await cpp.get().ok({
        op: "rsa_blind.finalize", suite: s.name, ...publicComponents, prepared_msg: hex(prepared),
        blind_sig: hex(blindSig), inv: blinding.inv, ...infoField(s),
      });
      const sig = field(final, "sig");
      const bad = tampered(sig);
      assert.equal(await js.verifies(s, suite, sig, prepared), true);
      assert.equal(await js.verifies(s, suite, bad, prepared), false);
      await cpp.get().err({ op: "rsa_blind.verify", suite: s.name, ...publicComponents, prepared_msg: hex(prepared),
        sig: hex(bad), ...infoField(s) });
      // A tampered blind signature fails closed in finalize.
      await cpp.get().err({
        op: "rsa_blind.finalize", suite: s.name, ...publicComponents, prepared_msg: hex(prepared),
        blind_sig: hex(tampered(blindSig)), inv: blinding.inv, ...infoField(s),
      });
      // A wrong message fails on both sides too.
      const other = tampered(prepared);
      assert.equal(await js.verifies(s, suite, sig, other), false);
      await cpp.get().err({ op: "rsa_blind.verify", suite: s.name, ...publicComponents, prepared_msg: hex(other),
        sig: hex(sig), ...infoField(s) });
    });
  });
}

describe("OpenPCC-Credit", () => {
  const s = SUITES[0]; // credits verify as RSAPBSSA-SHA384-PSS-Deterministic

  test("our credit signatures verify in blindrsa-ts as RSAPBSSA-SHA384-PSS-Deterministic", async () => {
    const suite = RSAPBSSA.SHA384.PSS.Deterministic();
    for (let i = 0; i < 3; ++i) {
      const nonce = rand(24);
      const blinding = await cpp.get().ok({
        op: "rsa_blind.blind", suite: "OpenPCC-Credit", ...publicComponents, msg: hex(nonce), info: hex(INFO),
      });
      // Deterministic prepare: the prepared message is the nonce itself.
      assert.equal(blinding.prepared_msg, hex(nonce));
      const signed = await cpp.get().ok({
        op: "rsa_blind.blind_sign", suite: "OpenPCC-Credit", ...components, blinded_msg: blinding.blinded_msg,
        info: hex(INFO),
      });
      const final = await cpp.get().ok({
        op: "rsa_blind.finalize", suite: "OpenPCC-Credit", ...publicComponents, prepared_msg: hex(nonce),
        blind_sig: signed.blind_sig, inv: blinding.inv, info: hex(INFO),
      });
      const sig = field(final, "sig");
      assert.equal(await js.verifies(s, suite, sig, nonce), true);
      // Bound to the metadata: another currency value does not verify.
      assert.equal(await suite.verify(keys.publicKey, sig, nonce, new Uint8Array([0x00, 0x11])).catch(() => false),
        false);
      assert.equal(await js.verifies(s, suite, tampered(sig), nonce), false);
    }
  });

  test("two credits over the same nonce and value are identical (all-zero salt)", async () => {
    const nonce = hex(rand(24));
    const sigs = [];
    for (let i = 0; i < 2; ++i) {
      const blinding = await cpp.get().ok({
        op: "rsa_blind.blind", suite: "OpenPCC-Credit", ...publicComponents, msg: nonce, info: hex(INFO),
      });
      const signed = await cpp.get().ok({
        op: "rsa_blind.blind_sign", suite: "OpenPCC-Credit", ...components, blinded_msg: blinding.blinded_msg,
        info: hex(INFO),
      });
      const final = await cpp.get().ok({
        op: "rsa_blind.finalize", suite: "OpenPCC-Credit", ...publicComponents, prepared_msg: nonce,
        blind_sig: signed.blind_sig, inv: blinding.inv, info: hex(INFO),
      });
      sigs.push(final.sig);
    }
    assert.equal(sigs[0], sigs[1]);
    unhex(sigs[0], "sig");
  });
});
