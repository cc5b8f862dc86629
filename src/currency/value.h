// Credit values: a 9-bit floating-point amount plus a "special" flag, as used by the anonymous currency.
//
// The 9 bits are a 5-bit biased exponent and a 4-bit mantissa with an implicit leading 1, so every amount keeps 5
// significant bits (at most 6.25 % relative error once rounded). Amounts below 16 are stored as-is ("subnormal").
// The special flag marks values with a meaning other than spendable credit (e.g. the attestation token).
//
// Wire form (2 bytes, also the blind-signature public metadata): byte0 = (bit 8 of the value << 1) | special,
// byte1 = low 8 bits of the value. Proto `Currency{bytes currency = 1}` carries these 2 bytes.
#pragma once

#include <array>
#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::currency {

// The largest representable amount: 0b11111 << 30 = 31 * 2^30.
inline constexpr int64_t kMaxAmount = int64_t{31} << 30;
inline constexpr size_t kValueWireSize = 2;

class Value {
 public:
  // Zero, not special.
  constexpr Value() = default;

  // Exact encodings only: an error if `amount` is negative, above kMaxAmount, or needs more than 5 significant bits.
  static Result<Value> from_amount(int64_t amount);
  // Like from_amount, with the special flag set.
  static Result<Value> special(int64_t amount);
  // From the raw 9-bit encoding; an error if `bits` > 0x1ff.
  static Result<Value> from_bits(uint16_t bits, bool special);
  // Exactly kValueWireSize bytes; byte0 > 3 is rejected.
  static Result<Value> parse(ByteSpan wire);

  // Stochastic rounding of `x` (finite, 0 <= x <= kMaxAmount) to one of its two representable neighbours, so that
  // the expectation over a uniform `f` in [0, 1) is exactly x. Representable integers are returned unchanged; else
  // with lower < x < upper, p_lower = (upper - x) / (upper - lower) and the result is upper iff f > p_lower.
  // f = 1.0 is accepted and always rounds up.
  static Result<Value> rounded(double x, double f);
  // The same with f drawn from the OS CSPRNG (see random_unit_double).
  static Result<Value> rounded(double x);

  int64_t amount() const;  // exact decode; the special flag is not consulted
  bool is_special() const { return special_; }
  uint16_t bits() const { return bits_; }  // the 9-bit encoding
  std::array<uint8_t, kValueWireSize> to_wire() const;

  friend bool operator==(const Value&, const Value&) = default;

 private:
  constexpr Value(uint16_t bits, bool special) : bits_(bits), special_(special) {}

  uint16_t bits_ = 0;
  bool special_ = false;
};

// The value of an attestation token: special(0), wire form 01 00.
Value attestation_value();

// Uniform in [0, 1): a uniform 53-bit integer from the OS CSPRNG divided by 2^53.
double random_unit_double();

}  // namespace openpcc::currency
