// The REK as an HPKE recipient key: a crypto::DhPrivateKey for DHKEM(P-256, HKDF-SHA256) (KEM 0x0010) whose
// Diffie-Hellman runs inside the TPM. The private scalar never leaves the TPM, and the TPM refuses to use it unless
// the PCRs still hold the golden values the key was bound to at creation.
//
//   auto sk_r = TpmRekKey::create(tpm, std::move(rek_creation.key), golden);
//   auto ctx  = hpke->setup_recipient(enc, **sk_r, info);            // or wire::compute::RequestReceiver::unwrap_key
//
// dh(peer) = the x-coordinate of d·peer, computed as: validate the peer point (uncompressed, on P-256), then
// TPM2_StartAuthSession(POLICY) → TPM2_PolicyPCR(SHA-256 of the golden values, their selection) →
// TPM2_ECDH_ZGen(REK, that session): three TPM commands. The session is closed by the TPM after ZGen
// (continueSession clear) or flushed on failure. One ZGen per call: DHKEM Decap calls dh once. These three commands
// go through SAPI rather than ESAPI: the session has no HMAC key, so ESAPI's per-command hashing protects nothing,
// and tpm2-tss 3.x spends ~1 ms of CPU per hash on setting up OpenSSL (see docs/BENCHMARKS.md).
//
// When the PCRs no longer hold the golden values, dh fails with kAuthenticationFailed and a message starting
// "tpm: REK PCR policy not satisfied" — it never falls back to anything else. Safe for concurrent calls (the
// device serializes them).
#pragma once

#include <memory>

#include "attest/pcr.h"
#include "attest/tpm/tpm_device.h"
#include "attest/tpm/tpm_key.h"
#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/kem.h"

namespace openpcc::tpm {

// The message prefix of the PCR-policy failure, for callers that log or match it.
inline constexpr std::string_view kRekPolicyError = "tpm: REK PCR policy not satisfied";

class TpmRekKey final : public crypto::DhPrivateKey {
 public:
  // Wraps a loaded REK (transient or persistent, loaded through `tpm`). Checks that it is an ECC P-256,
  // non-restricted decrypt key whose authPolicy equals attest::policy_pcr_digest(golden) — kInvalidArgument
  // otherwise (e.g. golden values that are not the ones the key was made with).
  static Result<std::unique_ptr<TpmRekKey>> create(const TpmDevice& tpm, TpmKey rek, attest::PcrValues golden);

  crypto::KemId kem_id() const override { return crypto::KemId::kDhkemP256HkdfSha256; }
  // 0x04 ‖ X ‖ Y, 65 bytes.
  ByteSpan public_key() const override { return public_point_; }
  // kInvalidArgument for a peer key that is not a valid uncompressed P-256 point; kAuthenticationFailed when the
  // PCR policy fails; kUnavailable when the TPM cannot be reached; kCrypto for an all-zero result.
  Result<SecretBytes> dh(ByteSpan peer_public_key) const override;

  const TpmKey& key() const { return rek_; }
  const attest::PcrValues& golden_pcrs() const { return golden_; }

 private:
  TpmRekKey(TpmKey rek, attest::PcrValues golden, Bytes public_point, Bytes golden_digest);

  TpmKey rek_;
  attest::PcrValues golden_;
  Bytes public_point_;
  Bytes golden_digest_;  // SHA-256 of the golden values: PolicyPCR's pcrDigest
};

}  // namespace openpcc::tpm
