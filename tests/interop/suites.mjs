// RFC 9180 algorithm identifiers mapped to the independent JS implementations (@hpke/*), plus the sizes OHTTP
// needs. Shared by hpke.test.mjs and ohttp_peer.mjs.

import {
  Aes128Gcm,
  Aes256Gcm,
  CipherSuite,
  DhkemP256HkdfSha256,
  DhkemX25519HkdfSha256,
  ExportOnly,
  HkdfSha256,
  HkdfSha384,
  HkdfSha512,
} from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { HybridkemX25519Kyber768 } from "@hpke/hybridkem-x25519-kyber768";

import { toAB, toU8 } from "./harness.mjs";

export const KEM = Object.freeze({ P256: 0x10, X25519: 0x20, X25519_KYBER768: 0x30 });
export const KDF = Object.freeze({ SHA256: 1, SHA384: 2, SHA512: 3 });
export const AEAD = Object.freeze({ AES128GCM: 1, AES256GCM: 2, CHACHA20POLY1305: 3, EXPORT_ONLY: 0xffff });
export const MODE = Object.freeze({ BASE: 0, PSK: 1, AUTH: 2, AUTH_PSK: 3 });

const KEMS = {
  [KEM.P256]: { name: "DHKEM(P-256, HKDF-SHA256)", make: () => new DhkemP256HkdfSha256(), auth: true },
  [KEM.X25519]: { name: "DHKEM(X25519, HKDF-SHA256)", make: () => new DhkemX25519HkdfSha256(), auth: true },
  // The hybrid KEM is not authenticated: RFC 9180 auth modes need a DH-based KEM.
  [KEM.X25519_KYBER768]: { name: "X25519Kyber768Draft00", make: () => new HybridkemX25519Kyber768(), auth: false },
};

// Nh is the KDF's hash size.
const KDFS = {
  [KDF.SHA256]: { name: "HKDF-SHA256", make: () => new HkdfSha256(), hash: "sha256", Nh: 32 },
  [KDF.SHA384]: { name: "HKDF-SHA384", make: () => new HkdfSha384(), hash: "sha384", Nh: 48 },
  [KDF.SHA512]: { name: "HKDF-SHA512", make: () => new HkdfSha512(), hash: "sha512", Nh: 64 },
};

// `cipher` is the node:crypto name used by the OHTTP response layer.
const AEADS = {
  [AEAD.AES128GCM]: { name: "AES-128-GCM", make: () => new Aes128Gcm(), Nk: 16, Nn: 12, cipher: "aes-128-gcm" },
  [AEAD.AES256GCM]: { name: "AES-256-GCM", make: () => new Aes256Gcm(), Nk: 32, Nn: 12, cipher: "aes-256-gcm" },
  [AEAD.CHACHA20POLY1305]: {
    name: "ChaCha20-Poly1305", make: () => new Chacha20Poly1305(), Nk: 32, Nn: 12, cipher: "chacha20-poly1305",
  },
  [AEAD.EXPORT_ONLY]: { name: "Export-only", make: () => new ExportOnly(), Nk: 0, Nn: 0, cipher: null },
};

function lookup(table, id, what) {
  const entry = table[id];
  if (!entry) throw new Error(`unsupported ${what} id 0x${id.toString(16)}`);
  return entry;
}

export const kemInfo = (id) => lookup(KEMS, id, "KEM");
export const kdfInfo = (id) => lookup(KDFS, id, "KDF");
export const aeadInfo = (id) => lookup(AEADS, id, "AEAD");

export function suiteName(kem, kdf, aead) {
  return `${kemInfo(kem).name} / ${kdfInfo(kdf).name} / ${aeadInfo(aead).name}`;
}

export function makeSuite(kem, kdf, aead) {
  return new CipherSuite({ kem: kemInfo(kem).make(), kdf: kdfInfo(kdf).make(), aead: aeadInfo(aead).make() });
}

// DeriveKeyPair(ikm) with the JS KEM; returns the CryptoKeyPair and its serialized halves.
export async function deriveKeyPair(kem, ikm) {
  const impl = kemInfo(kem).make();
  const keyPair = await impl.deriveKeyPair(toAB(ikm));
  return {
    keyPair,
    pk: toU8(await impl.serializePublicKey(keyPair.publicKey)),
    sk: toU8(await impl.serializePrivateKey(keyPair.privateKey)),
  };
}

export async function importPublicKey(kem, pk) {
  return kemInfo(kem).make().importKey("raw", toAB(pk), true);
}

// A CryptoKeyPair from serialized keys, e.g. to inject a known ephemeral key as `ekm`.
export async function importKeyPair(kem, sk, pk) {
  const impl = kemInfo(kem).make();
  return {
    privateKey: await impl.importKey("raw", toAB(sk), false),
    publicKey: await impl.importKey("raw", toAB(pk), true),
  };
}
