#include "currency/credit.h"

#include <algorithm>
#include <string>

#include "currency/credit_pb.h"

namespace openpcc::currency {
namespace {

std::unexpected<Error> decode_error(std::string message) {
  return make_error(ErrorCode::kDecode, "credit: " + std::move(message));
}

Bytes to_bytes_of(const google::protobuf::MessageLite& message) {
  std::string out;
  message.SerializeToString(&out);
  return Bytes(out.begin(), out.end());
}

}  // namespace

// ---- Protobuf conversions (credit_pb.h) ----

pb::Currency to_proto(const Value& value) {
  pb::Currency out;
  const auto wire = value.to_wire();
  out.set_currency(std::string(wire.begin(), wire.end()));
  return out;
}

pb::Nonce to_proto(const Nonce& nonce) {
  pb::Nonce out;
  out.mutable_timestamp()->set_seconds(nonce.timestamp);
  out.mutable_timestamp()->set_nanos(0);
  out.set_nonce(std::string(nonce.random.begin(), nonce.random.end()));
  return out;
}

pb::Credit to_proto(const Credit& credit) {
  pb::Credit out;
  *out.mutable_value() = to_proto(credit.value);
  *out.mutable_nonce() = to_proto(credit.nonce);
  out.set_signature(std::string(credit.signature.begin(), credit.signature.end()));
  return out;
}

Result<Value> from_proto(const pb::Currency& message) {
  if (!message.has_currency()) return decode_error("value bytes missing");
  auto value = Value::parse(as_bytes(message.currency()));
  if (!value) return decode_error("bad value: " + value.error().message);
  return value;
}

Result<Nonce> from_proto(const pb::Nonce& message) {
  if (!message.has_timestamp()) return decode_error("nonce timestamp missing");
  const auto& ts = message.timestamp();
  if (ts.nanos() != 0) return decode_error("nonce timestamp has a fractional second");
  if (ts.seconds() < 0 || ts.seconds() > kMaxCreditTimestamp) return decode_error("nonce timestamp out of range");
  if (!message.has_nonce()) return decode_error("nonce bytes missing");
  if (message.nonce().size() != kNonceRandomSize) {
    return decode_error("nonce must be " + std::to_string(kNonceRandomSize) + " bytes, got " +
                        std::to_string(message.nonce().size()));
  }
  Nonce nonce;
  nonce.timestamp = ts.seconds();
  std::copy(message.nonce().begin(), message.nonce().end(), nonce.random.begin());
  return nonce;
}

Result<Credit> from_proto(const pb::Credit& message) {
  if (!message.has_value()) return decode_error("value missing");
  if (!message.has_nonce()) return decode_error("nonce missing");
  if (!message.has_signature()) return decode_error("signature missing");
  auto value = from_proto(message.value());
  if (!value) return std::unexpected(value.error());
  auto nonce = from_proto(message.nonce());
  if (!nonce) return std::unexpected(nonce.error());
  const std::string& sig = message.signature();
  if (sig.empty() || sig.size() > kMaxCreditSignatureSize) {
    return decode_error("signature must be 1.." + std::to_string(kMaxCreditSignatureSize) + " bytes, got " +
                        std::to_string(sig.size()));
  }
  return Credit{*value, *nonce, Bytes(sig.begin(), sig.end())};
}

// ---- Credit ----

Bytes Credit::serialize() const { return to_bytes_of(to_proto(*this)); }

Result<Credit> Credit::parse(ByteSpan bytes) {
  if (bytes.size() > kMaxCreditSize) return decode_error("larger than " + std::to_string(kMaxCreditSize) + " bytes");
  pb::Credit message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return decode_error("not a Credit");
  return from_proto(message);
}

std::string Credit::to_header() const { return to_base64(serialize()); }

Result<Credit> Credit::from_header(std::string_view text) {
  if (text.size() > (kMaxCreditSize + 2) / 3 * 4) return decode_error("header too long");
  auto bytes = from_base64(text);
  if (!bytes) return decode_error("header is not base64");
  return parse(*bytes);
}

// ---- Value text form ----

std::string value_to_header(const Value& value) { return to_base64(to_bytes_of(to_proto(value))); }

Result<Value> value_from_header(std::string_view text) {
  if (text.size() > 64) return decode_error("value header too long");
  auto bytes = from_base64(text);
  if (!bytes) return decode_error("value header is not base64");
  pb::Currency message;
  if (!message.ParseFromArray(bytes->data(), static_cast<int>(bytes->size()))) return decode_error("not a Currency");
  return from_proto(message);
}

}  // namespace openpcc::currency
