#include "attest/tpm/tpm_rek_key.h"

#include <algorithm>
#include <cstring>

#include "attest/tpm/esys_internal.h"
#include "common/random.h"

namespace openpcc::tpm {
namespace {

using internal::DeviceCore;
using internal::tss_error;

constexpr size_t kCoordinateSize = 32;

std::unexpected<Error> policy_failure(TSS2_RC rc, std::string_view step) {
  auto e = tss_error(step, rc);
  return make_error(ErrorCode::kAuthenticationFailed,
                    std::string(kRekPolicyError) +
                        ": the PCRs no longer hold the values the REK is bound to (" + e.error().message + ")");
}

bool is_policy_rc(TSS2_RC rc) {
  TSS2_RC base = internal::tpm_rc_base(rc);
  // VALUE: PolicyPCR's digest differs from the current PCRs. POLICY_FAIL: the session's policy is not the key's.
  // PCR_CHANGED: a PCR was extended between PolicyPCR and ZGen.
  return base == TPM2_RC_VALUE || base == TPM2_RC_POLICY_FAIL || base == TPM2_RC_PCR_CHANGED;
}

Result<Bytes> left_pad(const TPM2B_ECC_PARAMETER& coordinate) {
  if (coordinate.size > kCoordinateSize) {
    return make_error(ErrorCode::kInternal, "tpm: REK coordinate longer than 32 bytes");
  }
  Bytes out(kCoordinateSize - coordinate.size, 0);
  out.insert(out.end(), coordinate.buffer, coordinate.buffer + coordinate.size);
  return out;
}

}  // namespace

TpmRekKey::TpmRekKey(TpmKey rek, attest::PcrValues golden, Bytes public_point, Bytes golden_digest)
    : rek_(std::move(rek)),
      golden_(std::move(golden)),
      public_point_(std::move(public_point)),
      golden_digest_(std::move(golden_digest)) {}

Result<std::unique_ptr<TpmRekKey>> TpmRekKey::create(const TpmDevice& tpm, TpmKey rek, attest::PcrValues golden) {
  const DeviceCore& core = *internal::DeviceAccess::core(tpm);
  if (auto handle = internal::key_handle(core, rek, "REK"); !handle) return std::unexpected(handle.error());

  TPMT_PUBLIC pub{};
  size_t offset = 0;
  ByteSpan area = rek.public_area();
  if (Tss2_MU_TPMT_PUBLIC_Unmarshal(area.data(), area.size(), &offset, &pub) != TSS2_RC_SUCCESS ||
      offset != area.size()) {
    return make_error(ErrorCode::kInternal, "tpm: REK public area does not parse");
  }
  const TPMS_ECC_PARMS& ecc = pub.parameters.eccDetail;
  if (pub.type != TPM2_ALG_ECC || ecc.curveID != TPM2_ECC_NIST_P256 ||
      (pub.objectAttributes & TPMA_OBJECT_DECRYPT) == 0 || (pub.objectAttributes & TPMA_OBJECT_RESTRICTED) != 0 ||
      (ecc.scheme.scheme != TPM2_ALG_ECDH && ecc.scheme.scheme != TPM2_ALG_NULL)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "tpm: not a REK: want an ECC P-256 unrestricted decrypt key with scheme ECDH or NULL");
  }
  auto policy = attest::policy_pcr_digest(golden);
  if (!policy) return std::unexpected(wrap_error("tpm: REK golden PCRs", policy.error()));
  if (!ct_equal(*policy, ByteSpan(pub.authPolicy.buffer, pub.authPolicy.size))) {
    return make_error(ErrorCode::kInvalidArgument,
                      "tpm: the REK's authPolicy is not PolicyPCR of the given golden PCR values");
  }
  auto x = left_pad(pub.unique.ecc.x);
  if (!x) return std::unexpected(x.error());
  auto y = left_pad(pub.unique.ecc.y);
  if (!y) return std::unexpected(y.error());
  Bytes point = concat({Bytes{0x04}, *x, *y});
  Bytes digest = attest::pcr_composite_digest(golden);
  return std::unique_ptr<TpmRekKey>(new TpmRekKey(std::move(rek), std::move(golden), std::move(point),
                                                  std::move(digest)));
}

Result<SecretBytes> TpmRekKey::dh(ByteSpan peer_public_key) const {
  // The same validation as the software KEM: exactly 65 bytes, uncompressed, coordinates < p, on the curve.
  auto kem = crypto::Kem::create(crypto::KemId::kDhkemP256HkdfSha256);
  if (!kem) return std::unexpected(kem.error());
  if (auto peer = kem->deserialize_public_key(peer_public_key); !peer) {
    return make_error(ErrorCode::kInvalidArgument, "tpm: REK dh: invalid peer key: " + peer.error().message);
  }
  TPM2B_ECC_POINT in_point{};
  in_point.point.x.size = kCoordinateSize;
  std::memcpy(in_point.point.x.buffer, peer_public_key.data() + 1, kCoordinateSize);
  in_point.point.y.size = kCoordinateSize;
  std::memcpy(in_point.point.y.buffer, peer_public_key.data() + 1 + kCoordinateSize, kCoordinateSize);

  auto selection = internal::golden_pcr_selection(golden_);
  if (!selection) return std::unexpected(selection.error());
  auto pcr_digest = internal::to_tpm2b_digest(golden_digest_, "PCR digest");
  if (!pcr_digest) return std::unexpected(pcr_digest.error());
  // nonceCaller for the session and for the ZGen authorization (the TPM wants at least 16 bytes; it never checks
  // them here: the session has no HMAC key).
  TPM2B_NONCE nonce{};
  nonce.size = kCoordinateSize;
  fill_random(std::span<uint8_t>(nonce.buffer, nonce.size));

  const internal::LoadedObject* object = internal::KeyAccess::object(rek_);
  DeviceCore& core = *object->core;
  std::lock_guard lock(core.mutex);
  auto sys = internal::sys_context(core);
  if (!sys) return std::unexpected(sys.error());
  TPM2_HANDLE rek_handle = 0;
  if (TSS2_RC rc = Esys_TR_GetTpmHandle(core.esys, object->tr, &rek_handle); rc != TSS2_RC_SUCCESS) {
    return tss_error("Esys_TR_GetTpmHandle(REK)", rc);
  }

  // StartAuthSession(POLICY, unsalted, unbound).
  TPM2B_ENCRYPTED_SECRET no_salt{};
  TPMT_SYM_DEF no_symmetric{};
  no_symmetric.algorithm = TPM2_ALG_NULL;
  TPMI_SH_AUTH_SESSION session_handle = 0;
  TPM2B_NONCE nonce_tpm{};
  TSS2_RC rc = Tss2_Sys_StartAuthSession(*sys, TPM2_RH_NULL, TPM2_RH_NULL, nullptr, &nonce, &no_salt,
                                         TPM2_SE_POLICY, &no_symmetric, TPM2_ALG_SHA256, &session_handle,
                                         &nonce_tpm, nullptr);
  if (rc != TSS2_RC_SUCCESS) return tss_error("TPM2_StartAuthSession", rc);
  internal::SysSessionHandle session(*sys, session_handle);

  // With a non-empty pcrDigest the TPM compares it with the current PCRs right here (TPM_RC_VALUE on mismatch).
  rc = Tss2_Sys_PolicyPCR(*sys, session_handle, nullptr, &*pcr_digest, &*selection, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    if (is_policy_rc(rc)) return policy_failure(rc, "TPM2_PolicyPCR");
    return tss_error("TPM2_PolicyPCR", rc);
  }

  // continueSession CLEAR: the TPM ends the session after a successful ZGen, which saves a FlushContext.
  TSS2L_SYS_AUTH_COMMAND auths{};
  auths.count = 1;
  auths.auths[0].sessionHandle = session_handle;
  auths.auths[0].nonce = nonce;
  auths.auths[0].sessionAttributes = 0;
  TSS2L_SYS_AUTH_RESPONSE response_auths{};
  TPM2B_ECC_POINT out_point{};
  WipeOnExit wipe_out(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&out_point), sizeof out_point));
  rc = Tss2_Sys_ECDH_ZGen(*sys, rek_handle, &auths, &in_point, &out_point, &response_auths);
  if (rc != TSS2_RC_SUCCESS) {
    if (is_policy_rc(rc)) return policy_failure(rc, "TPM2_ECDH_ZGen");
    return tss_error("TPM2_ECDH_ZGen", rc);
  }
  session.ended_by_tpm();

  const TPM2B_ECC_PARAMETER& x = out_point.point.x;
  if (x.size > kCoordinateSize) return make_error(ErrorCode::kInternal, "tpm: ZGen x-coordinate too long");
  SecretBytes shared(kCoordinateSize);
  std::memcpy(shared.data() + (kCoordinateSize - x.size), x.buffer, x.size);
  if (std::all_of(shared.span().begin(), shared.span().end(), [](uint8_t b) { return b == 0; })) {
    return make_error(ErrorCode::kCrypto, "tpm: REK dh: all-zero shared secret");
  }
  return shared;
}

}  // namespace openpcc::tpm
