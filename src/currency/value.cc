#include "currency/value.h"

#include <bit>
#include <cmath>
#include <string>

#include "common/random.h"

namespace openpcc::currency {
namespace {

constexpr uint16_t kMaxBits = 0x1ff;
constexpr int kSignificantBits = 5;

// Amounts below this are stored unchanged (exponent bits 0).
constexpr int64_t kSubnormalLimit = 16;

// Below this every integer is representable, so rounding is between consecutive integers.
constexpr double kIntegerRoundingLimit = 32.0;

int64_t decode_bits(uint16_t bits) {
  int exp = bits >> 4;
  if (exp == 0) return bits;
  return (int64_t{bits & 0xf} | 0x10) << (exp - 1);
}

Result<uint16_t> encode_amount(int64_t amount) {
  if (amount < 0) return make_error(ErrorCode::kInvalidArgument, "currency: negative amount " + std::to_string(amount));
  if (amount > kMaxAmount) {
    return make_error(ErrorCode::kInvalidArgument,
                      "currency: amount " + std::to_string(amount) + " exceeds the maximum " + std::to_string(kMaxAmount));
  }
  if (amount < kSubnormalLimit) return static_cast<uint16_t>(amount);
  int bitlen = std::bit_width(static_cast<uint64_t>(amount));
  int shift = bitlen - kSignificantBits;
  if ((amount & ((int64_t{1} << shift) - 1)) != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "currency: amount " + std::to_string(amount) + " needs more than 5 significant bits");
  }
  uint16_t mantissa = static_cast<uint16_t>((amount >> shift) & 0xf);
  uint16_t biased_exp = static_cast<uint16_t>(bitlen - 4);
  return static_cast<uint16_t>(biased_exp << 4 | mantissa);
}

// `v` truncated to its top 5 significant bits.
int64_t truncate_to_representable(int64_t v) {
  if (v < kSubnormalLimit) return v;
  int shift = std::bit_width(static_cast<uint64_t>(v)) - kSignificantBits;
  return (v >> shift) << shift;
}

int64_t ulp_at(int64_t representable) {
  if (representable < kSubnormalLimit) return 1;
  return int64_t{1} << (std::bit_width(static_cast<uint64_t>(representable)) - kSignificantBits);
}

}  // namespace

Result<Value> Value::from_amount(int64_t amount) {
  auto bits = encode_amount(amount);
  if (!bits) return std::unexpected(bits.error());
  return Value(*bits, false);
}

Result<Value> Value::special(int64_t amount) {
  auto bits = encode_amount(amount);
  if (!bits) return std::unexpected(bits.error());
  return Value(*bits, true);
}

Result<Value> Value::from_bits(uint16_t bits, bool special) {
  if (bits > kMaxBits) return make_error(ErrorCode::kInvalidArgument, "currency: value bits exceed 9 bits");
  return Value(bits, special);
}

Result<Value> Value::parse(ByteSpan wire) {
  if (wire.size() != kValueWireSize) {
    return make_error(ErrorCode::kDecode,
                      "currency: value must be 2 bytes, got " + std::to_string(wire.size()));
  }
  if (wire[0] > 3) {
    return make_error(ErrorCode::kDecode, "currency: invalid value flags byte " + hex_id(wire[0]));
  }
  uint16_t bits = static_cast<uint16_t>((wire[0] >> 1) << 8 | wire[1]);
  return Value(bits, (wire[0] & 1) != 0);
}

Result<Value> Value::rounded(double x, double f) {
  if (!std::isfinite(x) || x < 0 || x > static_cast<double>(kMaxAmount)) {
    return make_error(ErrorCode::kInvalidArgument, "currency: cannot round " + std::to_string(x) +
                                                       " (must be within 0 .. " + std::to_string(kMaxAmount) + ")");
  }
  if (!(f >= 0.0 && f <= 1.0)) {
    return make_error(ErrorCode::kInvalidArgument, "currency: rounding factor must be in [0, 1]");
  }
  double floor_x = std::floor(x);
  int64_t lower = 0;
  int64_t upper = 0;
  if (x <= kIntegerRoundingLimit) {
    lower = static_cast<int64_t>(floor_x);
    upper = static_cast<int64_t>(std::ceil(x));
  } else {
    lower = truncate_to_representable(static_cast<int64_t>(floor_x));
    upper = lower + ulp_at(lower);
  }
  // x is an exactly representable integer.
  if (static_cast<double>(lower) == x) return from_amount(lower);
  double p_lower = (static_cast<double>(upper) - x) / static_cast<double>(upper - lower);
  return from_amount(f > p_lower ? upper : lower);
}

Result<Value> Value::rounded(double x) { return rounded(x, random_unit_double()); }

int64_t Value::amount() const { return decode_bits(bits_); }

std::array<uint8_t, kValueWireSize> Value::to_wire() const {
  return {static_cast<uint8_t>(((bits_ >> 8) & 1) << 1 | (special_ ? 1 : 0)), static_cast<uint8_t>(bits_ & 0xff)};
}

Value attestation_value() { return *Value::special(0); }

double random_unit_double() {
  constexpr uint64_t kTwoPow53 = uint64_t{1} << 53;
  return static_cast<double>(random_uniform(kTwoPow53)) / static_cast<double>(kTwoPow53);
}

}  // namespace openpcc::currency
