#include "attest/quote_binding.h"

#include <string>

#include "crypto/sha256.h"

namespace openpcc::attest {
namespace {
constexpr std::string_view kLabel{"openpcc/quote-binding/v1\0", 25};
}  // namespace

Result<Bytes> quote_qualifying_data(const QuoteBindingInputs& inputs) {
  if (inputs.challenge.size() > kMaxChallengeSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "quote binding: challenge is " + std::to_string(inputs.challenge.size()) +
                          " bytes, at most " + std::to_string(kMaxChallengeSize) + " allowed");
  }
  if (inputs.issued_at < 0) return make_error(ErrorCode::kInvalidArgument, "quote binding: negative issued_at");
  auto ak_digest = crypto::sha256(inputs.ak_public);
  auto certify_digest = crypto::sha256(inputs.certify_creation);
  auto log_digest = crypto::sha256(inputs.event_log);
  Bytes preimage = concat({as_bytes(kLabel), i2osp(static_cast<uint64_t>(inputs.issued_at), 8),
                           i2osp(inputs.challenge.size(), 2), inputs.challenge, ak_digest, inputs.rek_name,
                           certify_digest, log_digest});
  auto digest = crypto::sha256(preimage);
  return Bytes(digest.begin(), digest.end());
}

Bytes tee_report_data(ByteSpan quote_signature, ByteSpan ak_public) {
  return concat({crypto::sha256(quote_signature), crypto::sha256(ak_public)});
}

}  // namespace openpcc::attest
