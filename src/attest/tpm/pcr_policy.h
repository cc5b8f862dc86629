// TPM2_PolicyPCR as the TPM computes it, through a trial session — a cross-check of the software computation
// (attest::policy_pcr_digest), which is what key creation uses.
#pragma once

#include "attest/pcr.h"
#include "attest/tpm/tpm_device.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::tpm {

// TPM2_StartAuthSession(TRIAL, SHA-256), TPM2_PolicyPCR(pcrDigest = SHA-256 of the values in ascending index
// order, the SHA-256 selection of their indices), TPM2_PolicyGetDigest. The values are not compared with the
// current PCRs (a trial session never does). Same argument checks as attest::policy_pcr_digest.
Result<Bytes> trial_policy_pcr_digest(const TpmDevice& tpm, const attest::PcrValues& values);

}  // namespace openpcc::tpm
