// currency.encode / currency.decode: the credit Value's 2-byte wire form (5-bit exponent, 4-bit mantissa, special
// flag), exact amounts only.
#include <cstdint>

#include <nlohmann/json.hpp>

#include "conformance/fields.h"
#include "conformance/harness.h"
#include "currency/value.h"

namespace openpcc::conformance {

using nlohmann::json;

namespace {

json value_json(const currency::Value& v) {
  const auto wire = v.to_wire();
  return json{{"value", to_hex(wire)}, {"amount", v.amount()}, {"special", v.is_special()}};
}

Result<json> encode_op(const json& req) {
  // Amounts above kMaxAmount pass here and are refused by Value with the limit in the message.
  auto amount = uint_field(req, "amount", static_cast<uint64_t>(INT64_MAX));
  if (!amount) return std::unexpected(amount.error());
  // Optional extension: "special": true sets the special flag (e.g. amount 0 → the attestation value 01 00).
  bool special = false;
  if (auto it = req.find("special"); it != req.end() && !it->is_null()) {
    auto flag = bool_field(req, "special");
    if (!flag) return std::unexpected(flag.error());
    special = *flag;
  }
  const auto as_int = static_cast<int64_t>(*amount);
  auto value = special ? currency::Value::special(as_int) : currency::Value::from_amount(as_int);
  if (!value) return std::unexpected(value.error());
  return value_json(*value);
}

Result<json> decode_op(const json& req) {
  auto wire = hex_field(req, "value");
  if (!wire) return std::unexpected(wire.error());
  auto value = currency::Value::parse(*wire);
  if (!value) return std::unexpected(value.error());
  json out = value_json(*value);
  out.erase("value");
  return out;
}

}  // namespace

void add_currency_operations(Harness& h) {
  h.add("currency.encode", encode_op);
  h.add("currency.decode", decode_op);
}

}  // namespace openpcc::conformance
