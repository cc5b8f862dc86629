#include "currency/value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>

#include "common/bytes.h"

namespace openpcc::currency {
namespace {

std::string wire_hex(const Value& v) { return to_hex(v.to_wire()); }

TEST(Value, ReferenceWireExamples) {
  EXPECT_EQ(wire_hex(Value::from_amount(16).value()), "0010");
  EXPECT_EQ(wire_hex(Value::from_amount(100).value()), "0039");
  EXPECT_EQ(wire_hex(Value::from_amount(262144).value()), "00f0");
  EXPECT_EQ(wire_hex(Value::from_amount(2621440).value()), "0224");
  EXPECT_EQ(wire_hex(Value::from_amount(kMaxAmount).value()), "02ff");
  EXPECT_EQ(wire_hex(attestation_value()), "0100");
  EXPECT_TRUE(attestation_value().is_special());
  EXPECT_EQ(attestation_value().amount(), 0);
  EXPECT_EQ(kMaxAmount, int64_t{33285996544});
  EXPECT_EQ(Value().amount(), 0);
  EXPECT_FALSE(Value().is_special());
}

TEST(Value, SubnormalAmountsAreStoredAsIs) {
  for (int64_t a = 0; a < 16; ++a) {
    Value v = Value::from_amount(a).value();
    EXPECT_EQ(v.bits(), a);
    EXPECT_EQ(v.amount(), a);
  }
}

TEST(Value, FromAmountRejectsInexactNegativeAndTooLarge) {
  for (int64_t bad : {int64_t{-1}, int64_t{33}, int64_t{101}, int64_t{262145}, kMaxAmount - 1, kMaxAmount + 1,
                      kMaxAmount * 2, int64_t{1} << 40, INT64_MAX, INT64_MIN}) {
    auto r = Value::from_amount(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(r.error().message.empty());
  }
  EXPECT_FALSE(Value::special(-5).has_value());
  // 2^35 has one significant bit but is above kMaxAmount.
  EXPECT_FALSE(Value::from_amount(int64_t{1} << 35).has_value());
  EXPECT_TRUE(Value::from_amount(int64_t{1} << 34).has_value());
}

TEST(Value, EveryEncodingRoundTripsThroughAmountAndWire) {
  std::set<int64_t> amounts;
  for (uint16_t bits = 0; bits <= 0x1ff; ++bits) {
    for (bool special : {false, true}) {
      Value v = Value::from_bits(bits, special).value();
      EXPECT_EQ(v.bits(), bits);
      auto wire = v.to_wire();
      EXPECT_LE(wire[0], 3);
      EXPECT_EQ(Value::parse(wire).value(), v);
      auto again = special ? Value::special(v.amount()) : Value::from_amount(v.amount());
      ASSERT_TRUE(again.has_value()) << bits;
      EXPECT_EQ(*again, v);
    }
    amounts.insert(Value::from_bits(bits, false)->amount());
  }
  EXPECT_EQ(amounts.size(), 512u);  // the encoding is injective
  EXPECT_EQ(*amounts.rbegin(), kMaxAmount);
  EXPECT_FALSE(Value::from_bits(0x200, false).has_value());
}

TEST(Value, ParseRejectsBadInput) {
  const uint8_t bad_flags[] = {0x04, 0x00};
  auto r = Value::parse(bad_flags);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDecode);
  for (int b0 = 4; b0 < 256; ++b0) {
    const uint8_t w[] = {static_cast<uint8_t>(b0), 0x10};
    EXPECT_FALSE(Value::parse(w).has_value()) << b0;
  }
  const uint8_t one[] = {0x00};
  const uint8_t three[] = {0x00, 0x10, 0x00};
  EXPECT_FALSE(Value::parse(one).has_value());
  EXPECT_FALSE(Value::parse(three).has_value());
  EXPECT_FALSE(Value::parse(ByteSpan{}).has_value());
  const uint8_t special_max[] = {0x03, 0xff};
  Value v = Value::parse(special_max).value();
  EXPECT_TRUE(v.is_special());
  EXPECT_EQ(v.amount(), kMaxAmount);
}

TEST(ValueRounding, RepresentableIntegersAreExact) {
  for (uint16_t bits = 0; bits <= 0x1ff; ++bits) {
    int64_t a = Value::from_bits(bits, false)->amount();
    for (double f : {0.0, 0.5, 0.999999, 1.0}) {
      EXPECT_EQ(Value::rounded(static_cast<double>(a), f)->amount(), a) << a;
    }
  }
}

TEST(ValueRounding, KnownCases) {
  // Below 32: between consecutive integers.
  EXPECT_EQ(Value::rounded(2.25, 0.0)->amount(), 2);
  EXPECT_EQ(Value::rounded(2.25, 0.75)->amount(), 2);    // f == p_lower stays down
  EXPECT_EQ(Value::rounded(2.25, 0.7501)->amount(), 3);
  EXPECT_EQ(Value::rounded(31.5, 0.6)->amount(), 32);
  EXPECT_EQ(Value::rounded(0.1, 0.5)->amount(), 0);
  // Above 32: ulp 2 between 32 and 64, 33 -> {32, 34} with p_lower = 0.5.
  EXPECT_EQ(Value::rounded(33.0, 0.5)->amount(), 32);
  EXPECT_EQ(Value::rounded(33.0, 0.50001)->amount(), 34);
  EXPECT_EQ(Value::rounded(102.0, 0.0)->amount(), 100);  // ulp 4 at 64..127
  EXPECT_EQ(Value::rounded(102.0, 0.6)->amount(), 104);  // p_lower = 0.5
  EXPECT_EQ(Value::rounded(101.0, 0.75)->amount(), 100);  // p_lower = 0.75
  EXPECT_EQ(Value::rounded(101.0, 0.76)->amount(), 104);
  // Crossing into the next binade: 31·2^k -> 32·2^k.
  EXPECT_EQ(Value::rounded(63.0, 0.9)->amount(), 64);
  EXPECT_EQ(Value::rounded(static_cast<double>(kMaxAmount) - 0.5, 1.0)->amount(), kMaxAmount);
  // f = 1.0 always rounds up.
  EXPECT_EQ(Value::rounded(96.001, 1.0)->amount(), 100);
  EXPECT_EQ(Value::rounded(96.001, 0.999)->amount(), 96);
}

TEST(ValueRounding, RejectsOutOfRangeInputs) {
  for (double x : {-0.5, -1.0, static_cast<double>(kMaxAmount) + 1.0, 1e300, std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    auto r = Value::rounded(x, 0.5);
    ASSERT_FALSE(r.has_value()) << x;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  for (double f : {-0.1, 1.1, std::nan("")}) EXPECT_FALSE(Value::rounded(10.5, f).has_value()) << f;
}

// For random x: the result is one of the two neighbours, within 6.25 % (for x >= 16; below, within 1), and the mean
// over an evenly spaced grid of f equals x up to (upper - lower) / grid size.
TEST(ValueRounding, PropertiesOverRandomInputs) {
  std::mt19937_64 rng(20261121);  // fixed seed: deterministic test
  std::uniform_real_distribution<double> exponent(-2.0, std::log2(static_cast<double>(kMaxAmount)));
  constexpr int kGrid = 1000;
  for (int iter = 0; iter < 2000; ++iter) {
    double x = std::exp2(exponent(rng));
    if (x > static_cast<double>(kMaxAmount)) continue;
    int64_t down = Value::rounded(x, 0.0)->amount();
    int64_t up = Value::rounded(x, 1.0)->amount();
    ASSERT_LE(static_cast<double>(down), x);
    ASSERT_GE(static_cast<double>(up), x);
    if (x >= 16) {
      EXPECT_LE((up - down) / static_cast<double>(down), 1.0 / 16) << x;
    } else {
      EXPECT_LE(up - down, 1) << x;
    }
    double sum = 0;
    for (int i = 0; i < kGrid; ++i) {
      double f = (i + 0.5) / kGrid;
      int64_t a = Value::rounded(x, f)->amount();
      ASSERT_TRUE(a == down || a == up) << x << " " << f << " " << a;
      if (x >= 16) {
        ASSERT_LE(std::abs(a - x) / x, 0.0625) << x;
      }
      sum += static_cast<double>(a);
    }
    double mean = sum / kGrid;
    EXPECT_LE(std::abs(mean - x), static_cast<double>(up - down) / kGrid + 1e-9 * x) << x;
  }
}

TEST(ValueRounding, CryptoRandomFactor) {
  for (int i = 0; i < 1000; ++i) {
    double f = random_unit_double();
    ASSERT_GE(f, 0.0);
    ASSERT_LT(f, 1.0);
  }
  for (int i = 0; i < 100; ++i) {
    int64_t a = Value::rounded(102.0)->amount();
    ASSERT_TRUE(a == 100 || a == 104) << a;
  }
  EXPECT_FALSE(Value::rounded(-1.0).has_value());
}

}  // namespace
}  // namespace openpcc::currency
