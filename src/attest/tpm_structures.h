// TPM 2.0 structures that cross the wire in attestation evidence, parsed without a TPM: TPMT_PUBLIC (keys),
// TPMS_ATTEST (quotes and creation certifications), TPMT_SIGNATURE, and the check of a TPM signature.
//
// Parsing goes through libtss2-mu (the TCG marshalling library) and then copies into the plain structs below, so
// nothing of the TSS types leaks to callers. Every parser requires the whole input to be consumed and rejects
// algorithms we do not use with kUnsupported; malformed bytes give kDecode.
//
// libtss2-mu reports some malformed inputs on stderr (log module "marshal", levels ERROR/WARNING) before returning its
// error; processes that parse untrusted evidence may silence it with TSS2_LOG=marshal+none in their environment.
//
// Algorithm and structure tags keep their TCG numbers (TPM_ALG_*, TPM_ST_*) so that error messages and callers can
// compare against the specification directly.
#pragma once

#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::attest {

// TCG algorithm identifiers used here (TPM 2.0 Part 2, table "TPM_ALG_ID").
inline constexpr uint16_t kTpmAlgRsa = 0x0001;
inline constexpr uint16_t kTpmAlgSha256 = 0x000B;
inline constexpr uint16_t kTpmAlgNull = 0x0010;
inline constexpr uint16_t kTpmAlgRsassa = 0x0014;
inline constexpr uint16_t kTpmAlgRsapss = 0x0016;
inline constexpr uint16_t kTpmAlgEcdsa = 0x0018;
inline constexpr uint16_t kTpmAlgEcdh = 0x0019;
inline constexpr uint16_t kTpmAlgEcc = 0x0023;
inline constexpr uint16_t kTpmAlgAes = 0x0006;
inline constexpr uint16_t kTpmEccNistP256 = 0x0003;
// TPMS_ATTEST
inline constexpr uint32_t kTpmGeneratedValue = 0xFF544347;  // "\xFFTCG"
inline constexpr uint16_t kTpmStAttestQuote = 0x8018;
inline constexpr uint16_t kTpmStAttestCreation = 0x801A;
// TPMA_OBJECT bits.
inline constexpr uint32_t kTpmaObjectFixedTpm = 1u << 1;
inline constexpr uint32_t kTpmaObjectStClear = 1u << 2;
inline constexpr uint32_t kTpmaObjectFixedParent = 1u << 4;
inline constexpr uint32_t kTpmaObjectSensitiveDataOrigin = 1u << 5;
inline constexpr uint32_t kTpmaObjectUserWithAuth = 1u << 6;
inline constexpr uint32_t kTpmaObjectAdminWithPolicy = 1u << 7;
inline constexpr uint32_t kTpmaObjectNoDa = 1u << 10;
inline constexpr uint32_t kTpmaObjectRestricted = 1u << 16;
inline constexpr uint32_t kTpmaObjectDecrypt = 1u << 17;
inline constexpr uint32_t kTpmaObjectSign = 1u << 18;

// A TPMT_PUBLIC of type TPM_ALG_RSA or TPM_ALG_ECC (keyedHash/symcipher objects are rejected).
struct TpmPublic {
  uint16_t type = 0;      // kTpmAlgRsa or kTpmAlgEcc
  uint16_t name_alg = 0;  // TPMI_ALG_HASH
  uint32_t attributes = 0;  // TPMA_OBJECT
  Bytes auth_policy;
  // parameters.{rsa,ecc}Detail: symmetric.algorithm (kTpmAlgNull for non-storage keys), scheme.scheme and its hash
  // (kTpmAlgNull / 0 when the scheme is NULL).
  uint16_t symmetric_alg = kTpmAlgNull, scheme = kTpmAlgNull, scheme_hash = 0;
  // ECC: curveID and the unique point (big-endian coordinates as the TPM holds them).
  uint16_t ecc_curve = 0;
  Bytes ecc_x, ecc_y;
  // RSA: keyBits, exponent (0 means the default 65537) and the unique modulus.
  uint16_t rsa_bits = 0;
  uint32_t rsa_exponent = 0;
  Bytes rsa_modulus;
  // The exact input, which the object's Name hashes.
  Bytes marshalled;
};

// The whole input must be one TPMT_PUBLIC.
Result<TpmPublic> parse_tpmt_public(ByteSpan marshalled);

// The TPM Name of an object: nameAlg (u16 BE) ‖ H_nameAlg(TPMT_PUBLIC). Only nameAlg SHA-256 is supported; the input
// must parse as a TPMT_PUBLIC.
Result<Bytes> tpm_object_name(ByteSpan marshalled_tpmt_public);

// 0x04 ‖ X ‖ Y (65 bytes) of an ECC NIST P-256 key; coordinates shorter than 32 bytes are left-padded.
Result<Bytes> ecc_public_point(const TpmPublic& key);

// A TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE or TPM_ST_ATTEST_CREATION.
struct TpmAttest {
  uint32_t magic = 0;  // always kTpmGeneratedValue after a successful parse
  uint16_t type = 0;   // kTpmStAttestQuote or kTpmStAttestCreation
  Bytes qualified_signer, extra_data;  // extra_data = the caller's qualifying data (nonce)
  // TPMS_CLOCK_INFO and firmwareVersion.
  uint64_t clock = 0;
  uint32_t reset_count = 0, restart_count = 0;
  bool safe = false;
  uint64_t firmware_version = 0;
  // Quote: the selected PCRs of the single SHA-256 bank (ascending) and the digest over their values.
  std::vector<uint32_t> quoted_pcrs;
  Bytes pcr_digest;
  // Creation: the certified object's Name and its creationHash.
  Bytes certified_name, creation_hash;
  // The exact input (the bytes the signature covers).
  Bytes marshalled;
};

// The whole input must be one TPMS_ATTEST; the magic must be TPM_GENERATED_VALUE. A quote must select exactly one
// bank, SHA-256 (kUnsupported otherwise).
Result<TpmAttest> parse_tpms_attest(ByteSpan marshalled);
// TPM2B_ATTEST: u16 BE size then a TPMS_ATTEST of exactly that size (the whole input). `marshalled` in the result is
// the inner TPMS_ATTEST.
Result<TpmAttest> parse_tpm2b_attest(ByteSpan marshalled);

// A TPMT_SIGNATURE: RSASSA / RSAPSS (rsa_signature) or ECDSA (ecdsa_r, ecdsa_s big-endian as the TPM emits them).
struct TpmSignature {
  uint16_t sig_alg = 0, hash_alg = 0;
  Bytes rsa_signature, ecdsa_r, ecdsa_s;
  Bytes marshalled;
};

// The whole input must be one TPMT_SIGNATURE of algorithm RSASSA, RSAPSS or ECDSA (kUnsupported otherwise).
Result<TpmSignature> parse_tpmt_signature(ByteSpan marshalled);

// Checks `sig` over SHA-256(signed_bytes) (normally TpmAttest::marshalled) with `key`. Supported: RSASSA-PKCS1-v1_5
// SHA-256, RSASSA-PSS SHA-256 (any salt length, as TPMs differ), ECDSA P-256 SHA-256. The key's own scheme, when not
// NULL, must match the signature's. kAuthenticationFailed when the signature does not verify; kUnsupported for other
// combinations; kInvalidArgument for a key/signature type mismatch.
Status verify_tpm_signature(const TpmPublic& key, ByteSpan signed_bytes, const TpmSignature& sig);

}  // namespace openpcc::attest
