// What the AK signs: a certification that the TPM created a key (TPM2_CertifyCreation) and a quote of PCRs
// (TPM2_Quote). Outputs are the TPM's own marshalled structures, ready to be parsed and checked by
// attest/tpm_structures.h on the verifier's side. Signatures use the AK's scheme (RSASSA-SHA256 or ECDSA-SHA256).
#pragma once

#include <cstdint>
#include <span>

#include "attest/tpm/tpm_device.h"
#include "attest/tpm/tpm_key.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::tpm {

// Qualifying data (TPM2B_DATA) may be at most 64 bytes.
inline constexpr size_t kMaxQualifyingData = 64;

struct CreationCertification {
  Bytes tpm2b_attest;    // marshalled TPM2B_ATTEST (u16 size ‖ TPMS_ATTEST of type TPM_ST_ATTEST_CREATION)
  Bytes tpmt_signature;  // marshalled TPMT_SIGNATURE over the inner TPMS_ATTEST
};

// TPM2_CertifyCreation: `ak` attests that `object` (whose Name the TPM takes from the loaded key) was created by
// this TPM with `creation_hash` (32 bytes) — the TPM checks `creation_ticket` (marshalled TPMT_TK_CREATION, from
// create_rek) first. extraData = qualifying_data (≤ 64 bytes).
Result<CreationCertification> certify_creation(const TpmDevice& tpm, const TpmKey& ak, const TpmKey& object,
                                               ByteSpan creation_hash, ByteSpan creation_ticket,
                                               ByteSpan qualifying_data);

struct Quote {
  Bytes tpms_attest;     // marshalled TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE (the signed bytes)
  Bytes tpmt_signature;  // marshalled TPMT_SIGNATURE
};

// TPM2_Quote of `pcrs` in the SHA-256 bank with extraData = qualifying_data (≤ 64 bytes).
Result<Quote> quote(const TpmDevice& tpm, const TpmKey& ak, std::span<const uint32_t> pcrs, ByteSpan qualifying_data);

}  // namespace openpcc::tpm
