// Credits: a currency value, a nonce and the issuer's signature over the nonce under the value's derived key.
//
// One type serves both kinds the reference distinguishes: credits the client finalised from a blind signature
// (unlinkable) and credits the issuer signed directly ("unblinded", e.g. refunds: the issuer knows the nonce, so the
// holder should exchange them before spending). Both verify the same way (credit_verifier.h).
//
// Wire form: the proto `Credit{Currency value = 1; Nonce nonce = 2; bytes signature = 3}` (proto/openpcc/currency.proto,
// conversions in credit_pb.h). Header form (`X-Credit`, `X-Refund`): standard base64 with padding of those bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "currency/nonce.h"
#include "currency/value.h"

namespace openpcc::currency {

// RSA signatures are modulus-sized; 1024 bytes admits keys up to 8192 bits.
inline constexpr size_t kMaxCreditSignatureSize = 1024;
// Serialized credits larger than this are rejected before the protobuf parser sees them (a valid one is ~1.1 KB
// at most).
inline constexpr size_t kMaxCreditSize = 4096;
// google.protobuf.Timestamp's upper bound, 9999-12-31T23:59:59Z. Nonce timestamps must lie in [0, this].
inline constexpr int64_t kMaxCreditTimestamp = 253402300799;

inline constexpr std::string_view kCreditHeader = "X-Credit";
inline constexpr std::string_view kRefundHeader = "X-Refund";             // trailer: an unblinded refund credit
inline constexpr std::string_view kRefundAmountHeader = "X-Refund-Amount";  // trailer: a Value (value_to_header)

struct Credit {
  Value value;
  Nonce nonce;
  Bytes signature;

  // The proto Credit bytes (deterministic: fields in number order, all present).
  Bytes serialize() const;
  // Strict: every field present; value exactly 2 valid bytes; Timestamp with nanos 0 and seconds in
  // [0, kMaxCreditTimestamp]; nonce exactly 16 bytes; signature 1..kMaxCreditSignatureSize bytes. Unknown fields are
  // ignored, as protobuf does. Any failure is kDecode. Validity in time and the signature are not checked here.
  static Result<Credit> parse(ByteSpan bytes);

  std::string to_header() const;
  static Result<Credit> from_header(std::string_view text);

  friend bool operator==(const Credit&, const Credit&) = default;
};

// The text form of a bare value, the `X-Refund-Amount` trailer: standard base64 of the proto Currency.
std::string value_to_header(const Value& value);
// kDecode unless the text is strict base64 of a Currency with exactly 2 valid value bytes.
Result<Value> value_from_header(std::string_view text);

}  // namespace openpcc::currency
