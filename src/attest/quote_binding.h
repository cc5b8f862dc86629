// What ties the pieces of one node's evidence together, closing the reference's "reusable passport" gap (its quote
// carries no qualifying data, so any old quote of the same PCRs verifies forever).
//
// The quote's qualifying data (TPMS_ATTEST.extraData) commits to every other TPM-side piece and to when (and, for a
// challenged quote, in answer to what) it was made:
//
//   qualifying_data = SHA-256("openpcc/quote-binding/v1" ‖ 0x00 ‖ u64 issued_at ‖ u16 len(challenge) ‖ challenge ‖
//                             SHA-256(AK TPMT_PUBLIC) ‖ REK Name ‖ SHA-256(CertifyCreation TPM2B_ATTEST) ‖
//                             SHA-256(event log))
//
// A quote moved into another node's evidence, or kept after the node re-created its keys, no longer matches; an old
// quote fails the verifier's age bound on issued_at; a challenged quote answers only its challenge.
//
// The TEE report in turn binds the quote and the AK to the hardware (or simulated) root:
//
//   report_data = SHA-256(quote TPMT_SIGNATURE bytes) ‖ SHA-256(AK TPMT_PUBLIC)
//
// The first half is the reference's TEE nonce; the reference zero-pads the second half, we use it for the AK (as the
// reference's bare-metal SVSM path does through its services manifest).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::attest {

inline constexpr size_t kMaxChallengeSize = 64;

struct QuoteBindingInputs {
  int64_t issued_at = 0;  // Unix seconds
  ByteSpan challenge;     // empty unless the quote answers a verifier's challenge; at most 64 bytes
  ByteSpan ak_public;     // marshalled TPMT_PUBLIC of the AK
  ByteSpan rek_name;      // TPM Name of the REK
  ByteSpan certify_creation;  // the TPM_CERTIFY_REK_CREATION piece's data
  ByteSpan event_log;         // the EVENT_LOG piece's data
};

// 32 bytes; kInvalidArgument for an oversized challenge or a negative time.
Result<Bytes> quote_qualifying_data(const QuoteBindingInputs& inputs);

// 64 bytes.
Bytes tee_report_data(ByteSpan quote_signature, ByteSpan ak_public);

}  // namespace openpcc::attest
