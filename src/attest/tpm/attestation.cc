#include "attest/tpm/attestation.h"

#include "attest/tpm/esys_internal.h"

namespace openpcc::tpm {
namespace {

using internal::DeviceCore;
using internal::EsysPtr;
using internal::tss_error;

Result<TPM2B_DATA> qualifying(ByteSpan data) {
  if (data.size() > kMaxQualifyingData) {
    return make_error(ErrorCode::kInvalidArgument, "tpm: qualifying data has " + std::to_string(data.size()) +
                                                       " bytes, at most 64 allowed");
  }
  return internal::to_tpm2b_data(data, "qualifying data");
}

Result<Bytes> tpm2b_attest_bytes(const TPM2B_ATTEST& attest) {
  Bytes out(sizeof(TPM2B_ATTEST));
  size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_ATTEST_Marshal(&attest, out.data(), out.size(), &offset);
  if (rc != TSS2_RC_SUCCESS) return tss_error("marshal TPM2B_ATTEST", rc);
  out.resize(offset);
  return out;
}

}  // namespace

Result<CreationCertification> certify_creation(const TpmDevice& tpm, const TpmKey& ak, const TpmKey& object,
                                               ByteSpan creation_hash, ByteSpan creation_ticket,
                                               ByteSpan qualifying_data) {
  auto extra = qualifying(qualifying_data);
  if (!extra) return std::unexpected(extra.error());
  if (creation_hash.size() != TPM2_SHA256_DIGEST_SIZE) {
    return make_error(ErrorCode::kInvalidArgument, "tpm: creation hash has " + std::to_string(creation_hash.size()) +
                                                       " bytes, want 32");
  }
  auto hash = internal::to_tpm2b_digest(creation_hash, "creation hash");
  if (!hash) return std::unexpected(hash.error());
  TPMT_TK_CREATION ticket{};
  size_t offset = 0;
  if (Tss2_MU_TPMT_TK_CREATION_Unmarshal(creation_ticket.data(), creation_ticket.size(), &offset, &ticket) !=
          TSS2_RC_SUCCESS ||
      offset != creation_ticket.size()) {
    return make_error(ErrorCode::kDecode, "tpm: creation ticket is not one marshalled TPMT_TK_CREATION");
  }

  DeviceCore& core = *internal::DeviceAccess::core(tpm);
  auto ak_handle = internal::key_handle(core, ak, "AK");
  if (!ak_handle) return std::unexpected(ak_handle.error());
  auto object_handle = internal::key_handle(core, object, "certified");
  if (!object_handle) return std::unexpected(object_handle.error());

  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;  // the AK's own scheme
  TPM2B_ATTEST* raw_attest = nullptr;
  TPMT_SIGNATURE* raw_signature = nullptr;
  std::lock_guard lock(core.mutex);
  TSS2_RC rc = Esys_CertifyCreation(core.esys, *ak_handle, *object_handle, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &*extra, &*hash, &scheme, &ticket, &raw_attest, &raw_signature);
  EsysPtr<TPM2B_ATTEST> attest(raw_attest);
  EsysPtr<TPMT_SIGNATURE> signature(raw_signature);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_CertifyCreation", rc);

  auto attest_bytes = tpm2b_attest_bytes(*attest);
  if (!attest_bytes) return std::unexpected(attest_bytes.error());
  auto signature_bytes = internal::marshal_signature(*signature);
  if (!signature_bytes) return std::unexpected(signature_bytes.error());
  return CreationCertification{std::move(*attest_bytes), std::move(*signature_bytes)};
}

Result<Quote> quote(const TpmDevice& tpm, const TpmKey& ak, std::span<const uint32_t> pcrs, ByteSpan qualifying_data) {
  auto extra = qualifying(qualifying_data);
  if (!extra) return std::unexpected(extra.error());
  if (pcrs.empty()) return make_error(ErrorCode::kInvalidArgument, "tpm: quote of no PCRs");
  auto selection = internal::sha256_pcr_selection(pcrs);
  if (!selection) return std::unexpected(selection.error());

  DeviceCore& core = *internal::DeviceAccess::core(tpm);
  auto ak_handle = internal::key_handle(core, ak, "AK");
  if (!ak_handle) return std::unexpected(ak_handle.error());

  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;
  TPM2B_ATTEST* raw_attest = nullptr;
  TPMT_SIGNATURE* raw_signature = nullptr;
  std::lock_guard lock(core.mutex);
  TSS2_RC rc = Esys_Quote(core.esys, *ak_handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &*extra, &scheme,
                          &*selection, &raw_attest, &raw_signature);
  EsysPtr<TPM2B_ATTEST> attest(raw_attest);
  EsysPtr<TPMT_SIGNATURE> signature(raw_signature);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_Quote", rc);

  auto signature_bytes = internal::marshal_signature(*signature);
  if (!signature_bytes) return std::unexpected(signature_bytes.error());
  // TPM2B_ATTEST's buffer is the marshalled TPMS_ATTEST.
  return Quote{Bytes(attest->attestationData, attest->attestationData + attest->size), std::move(*signature_bytes)};
}

}  // namespace openpcc::tpm
