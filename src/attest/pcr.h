// Platform Configuration Registers as the attestation code sees them: the SHA-256 bank of the PCRs a node attests,
// their composite digest, the software form of TPM2_PolicyPCR, and the extend operation.
//
// A TPM computes PolicyPCR as
//   policy' = H(policy ‖ TPM_CC_PolicyPCR ‖ TPML_PCR_SELECTION ‖ H(PCR values of the selection, ascending index))
// starting from 32 zero bytes for a fresh session. policy_pcr_digest reproduces that for one SHA-256 bank, so a key
// whose authPolicy equals it can only be used while the PCRs hold exactly those values.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::attest {

// The PCRs a node quotes and binds its request-encryption key to (SHA-256 bank). PCR 12 holds the model digest.
inline constexpr std::array<uint32_t, 9> kAttestedPcrs = {0, 1, 2, 3, 4, 5, 7, 8, 12};
inline constexpr uint32_t kModelDigestPcr = 12;
inline constexpr size_t kPcrSize = 32;  // SHA-256 bank
// PCR indices a selection bitmap of sizeofSelect 3 can name (PC Client TPMs have 24).
inline constexpr uint32_t kMaxPcrIndex = 23;
inline constexpr uint32_t kTpmCcPolicyPcr = 0x0000017F;

using PcrValues = std::map<uint32_t, Bytes>;  // index → 32-byte SHA-256 bank value

// SHA-256 over the values concatenated in ascending index order (what TPM2_Quote's pcrDigest covers). Values are
// hashed as given; use policy_pcr_digest when sizes must be checked.
Bytes pcr_composite_digest(const PcrValues& values);

// The policy digest of a trial session that ran exactly one TPM2_PolicyPCR over `values` (the SHA-256 bank, the
// selection being the map's keys). kInvalidArgument if the map is empty, a value is not 32 bytes or an index is
// above kMaxPcrIndex.
Result<Bytes> policy_pcr_digest(const PcrValues& values);

// TPML_PCR_SELECTION with one TPMS_PCR_SELECTION: hash TPM_ALG_SHA256, sizeofSelect 3, the bits of `pcrs` set.
// Indices above kMaxPcrIndex are ignored (callers validate first).
Bytes marshal_pcr_selection(std::span<const uint32_t> pcrs);

// TPM2_PCR_Extend in the SHA-256 bank: SHA-256(old_value ‖ digest).
Bytes pcr_extend(ByteSpan old_value, ByteSpan digest);

}  // namespace openpcc::attest
