#include "services/computenode/refund.h"

#include "common/bytes.h"
#include "currency/credit_pb.h"

namespace openpcc::computenode {
namespace {

Status check_credit(int64_t credit_amount) {
  if (credit_amount < 1 || credit_amount > currency::kMaxAmount) {
    return make_error(ErrorCode::kInvalidArgument,
                      "refund: credit amount " + std::to_string(credit_amount) + " outside 1 .. " +
                          std::to_string(currency::kMaxAmount));
  }
  return {};
}

}  // namespace

Result<std::optional<currency::Value>> usage_refund(int64_t credit_amount, const std::optional<engine::Usage>& usage,
                                                    double f) {
  if (auto ok = check_credit(credit_amount); !ok) return std::unexpected(ok.error());
  if (!usage) return std::optional<currency::Value>();
  const double left = static_cast<double>(credit_amount) - engine::credits_used_exact(*usage);
  if (!(left > 0)) return std::optional<currency::Value>();
  auto value = currency::Value::rounded(left, f);
  if (!value) return std::unexpected(value.error());
  if (value->amount() == 0) return std::optional<currency::Value>();
  return std::optional<currency::Value>(*value);
}

Result<std::optional<currency::Value>> usage_refund(int64_t credit_amount, const std::optional<engine::Usage>& usage) {
  return usage_refund(credit_amount, usage, currency::random_unit_double());
}

Result<currency::Value> full_refund(int64_t credit_amount) {
  if (auto ok = check_credit(credit_amount); !ok) return std::unexpected(ok.error());
  // f = 0 never rounds up: the amount itself when representable, else the value just below it.
  return currency::Value::rounded(static_cast<double>(credit_amount), 0.0);
}

std::string refund_trailer_value(const currency::Value& value) {
  const std::string wire = currency::to_proto(value).SerializeAsString();
  return to_base64(as_bytes(wire));
}

Result<currency::Value> parse_refund_trailer_value(std::string_view text) {
  auto bytes = from_base64(text);
  if (!bytes) return std::unexpected(wrap_error("X-Refund-Amount", bytes.error()));
  pb::Currency message;
  if (!message.ParseFromArray(bytes->data(), static_cast<int>(bytes->size()))) {
    return make_error(ErrorCode::kDecode, "X-Refund-Amount: not a Currency message");
  }
  return currency::from_proto(message);
}

}  // namespace openpcc::computenode
