#include "attest/tpm/pcr_policy.h"

#include "attest/tpm/esys_internal.h"

namespace openpcc::tpm {

Result<Bytes> trial_policy_pcr_digest(const TpmDevice& tpm, const attest::PcrValues& values) {
  auto selection = internal::golden_pcr_selection(values);
  if (!selection) return std::unexpected(selection.error());
  auto pcr_digest = internal::to_tpm2b_digest(attest::pcr_composite_digest(values), "PCR digest");
  if (!pcr_digest) return std::unexpected(pcr_digest.error());

  internal::DeviceCore& core = *internal::DeviceAccess::core(tpm);
  std::lock_guard lock(core.mutex);
  auto session = internal::start_session(core, TPM2_SE_TRIAL);
  if (!session) return std::unexpected(session.error());
  TSS2_RC rc = Esys_PolicyPCR(core.esys, session->get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &*pcr_digest,
                              &*selection);
  if (rc != TSS2_RC_SUCCESS) return internal::tss_error("Esys_PolicyPCR (trial)", rc);
  TPM2B_DIGEST* raw_policy = nullptr;
  rc = Esys_PolicyGetDigest(core.esys, session->get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &raw_policy);
  internal::EsysPtr<TPM2B_DIGEST> policy(raw_policy);
  if (rc != TSS2_RC_SUCCESS) return internal::tss_error("Esys_PolicyGetDigest", rc);
  return Bytes(policy->buffer, policy->buffer + policy->size);
}

}  // namespace openpcc::tpm
