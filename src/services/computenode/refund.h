// What a compute node gives back of a request's credit, and how it tells the router (the reference worker's
// calculateRefund and router_com's trailer):
//
//   used   = 0.5 · prompt tokens + 2 · completion tokens
//   refund = credit − used, if > 0, stochastically rounded to a currency value (currency::Value::rounded: the
//            expected refund is exact although values keep 5 significant bits); else none
//   no usage record in the engine's answer → no refund (the node keeps the credit)
//   the engine failed or answered ≥ 400, or the request was refused → the whole credit back
//
// The refund travels to the router as the HTTP trailer X-Refund-Amount = base64(proto Currency{currency = the
// value's 2 wire bytes}); the router turns it into a credit for the client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "currency/value.h"
#include "services/engine/usage_meter.h"

namespace openpcc::computenode {

inline constexpr std::string_view kRefundAmountTrailer = "X-Refund-Amount";

// The refund for an answer the engine completed (usage as engine::UsageMeter read it; the price is
// engine::credits_used_exact): nullopt without a usage record or when the usage took the whole credit. `f` in
// [0, 1] is the rounding draw (currency::Value::rounded); the overload without it draws from the OS CSPRNG.
// kInvalidArgument for a credit outside 1 .. currency::kMaxAmount. The result never exceeds the credit.
Result<std::optional<currency::Value>> usage_refund(int64_t credit_amount, const std::optional<engine::Usage>& usage,
                                                    double f);
Result<std::optional<currency::Value>> usage_refund(int64_t credit_amount, const std::optional<engine::Usage>& usage);

// The whole credit back: the credit's amount when it is a currency value (the router forwards a credit's amount, so
// it is), else the largest value below it — never more than was paid. kInvalidArgument outside 1 .. kMaxAmount.
Result<currency::Value> full_refund(int64_t credit_amount);

// The X-Refund-Amount trailer value for `value`, and back (strict base64, a Currency message of exactly 2 bytes).
std::string refund_trailer_value(const currency::Value& value);
Result<currency::Value> parse_refund_trailer_value(std::string_view text);

}  // namespace openpcc::computenode
