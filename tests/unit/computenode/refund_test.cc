// Refund maths (refund.h): 0.5·in + 2·out, stochastic rounding and its bounds, no usage → no refund, full refunds,
// and the X-Refund-Amount trailer encoding.
#include "services/computenode/refund.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/bytes.h"

namespace openpcc::computenode {
namespace {

engine::Usage usage(int64_t in, int64_t out) {
  engine::Usage u;
  u.input_tokens = in;
  u.output_tokens = out;
  return u;
}

TEST(Refund, PriceIsHalfPerInputAndTwoPerOutputToken) {
  EXPECT_DOUBLE_EQ(engine::credits_used_exact(usage(29, 54)), 14.5 + 108);
  EXPECT_DOUBLE_EQ(engine::credits_used_exact(usage(1, 0)), 0.5);
  EXPECT_DOUBLE_EQ(engine::credits_used_exact(usage(0, 1)), 2);
}

TEST(Refund, ReferenceExampleRoundsBetweenItsNeighbours) {
  // The reference's test: credit 200, 29 in + 54 out → 77.5 left. 77.5 lies between the values 76 and 80 (5
  // significant bits), p_lower = (80 - 77.5) / 4 = 0.625.
  auto low = usage_refund(200, usage(29, 54), 0.0);
  ASSERT_TRUE(low);
  ASSERT_TRUE(low->has_value());
  EXPECT_EQ((*low)->amount(), 76);
  EXPECT_EQ((**usage_refund(200, usage(29, 54), 0.625)).amount(), 76);
  EXPECT_EQ((**usage_refund(200, usage(29, 54), 0.626)).amount(), 80);
  EXPECT_EQ((**usage_refund(200, usage(29, 54), 1.0)).amount(), 80);
}

TEST(Refund, StochasticRoundingIsUnbiased) {
  // Mean of 20000 CSPRNG draws: standard error about 0.014 for the 76/80 pair.
  double sum = 0;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    auto refund = usage_refund(200, usage(29, 54));
    ASSERT_TRUE(refund && refund->has_value());
    const int64_t amount = (*refund)->amount();
    ASSERT_TRUE(amount == 76 || amount == 80) << amount;
    sum += static_cast<double>(amount);
  }
  EXPECT_NEAR(sum / kDraws, 77.5, 0.1);
}

TEST(Refund, SmallAmountsRoundToIntegers) {
  // 16 - 0.5 = 15.5 → 15 or 16.
  EXPECT_EQ((**usage_refund(16, usage(1, 0), 0.0)).amount(), 15);
  EXPECT_EQ((**usage_refund(16, usage(1, 0), 0.99)).amount(), 16);
}

TEST(Refund, RepresentableRefundsAreExact) {
  // 100 - 20 = 80, a currency value: the same for every draw.
  for (double f : {0.0, 0.3, 0.999, 1.0}) EXPECT_EQ((**usage_refund(100, usage(0, 10), f)).amount(), 80);
}

TEST(Refund, NoUsageNoRefund) {
  auto refund = usage_refund(1000, std::nullopt, 0.5);
  ASSERT_TRUE(refund);
  EXPECT_FALSE(refund->has_value());
}

TEST(Refund, NothingLeftNoRefund) {
  for (auto u : {usage(0, 5), usage(2, 5), usage(0, 6), usage(1000, 1000)}) {
    auto refund = usage_refund(10, u, 1.0);
    ASSERT_TRUE(refund);
    EXPECT_FALSE(refund->has_value()) << u.input_tokens << " " << u.output_tokens;
  }
  // 0.5 left rounds to 0 or 1: 0 is no refund.
  auto zero = usage_refund(10, usage(19, 0), 0.0);
  ASSERT_TRUE(zero);
  EXPECT_FALSE(zero->has_value());
  EXPECT_EQ((**usage_refund(10, usage(19, 0), 1.0)).amount(), 1);
}

TEST(Refund, NeverMoreThanTheCredit) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    // A representable credit (what the router forwards) and any usage.
    const int64_t credit = currency::Value::rounded(static_cast<double>(rng() % 1'000'000 + 1), 0.0)->amount();
    if (credit == 0) continue;
    const auto u = usage(static_cast<int64_t>(rng() % 5000), static_cast<int64_t>(rng() % 5000));
    auto refund = usage_refund(credit, u, 1.0);  // always the upper neighbour
    ASSERT_TRUE(refund);
    if (!refund->has_value()) {
      EXPECT_GE(engine::credits_used_exact(u) + 1, static_cast<double>(credit));
      continue;
    }
    const double left = static_cast<double>(credit) - engine::credits_used_exact(u);
    EXPECT_LE((*refund)->amount(), credit);
    EXPECT_GE(static_cast<double>((*refund)->amount()), left);
    // Within one step of 5 significant bits above what is left.
    EXPECT_LE(static_cast<double>((*refund)->amount()), left * (1 + 1.0 / 16) + 1);
  }
}

TEST(Refund, InvalidCredits) {
  EXPECT_FALSE(usage_refund(0, usage(0, 0), 0.5));
  EXPECT_FALSE(usage_refund(-5, usage(0, 0), 0.5));
  EXPECT_FALSE(usage_refund(currency::kMaxAmount + 1, usage(0, 0), 0.5));
  EXPECT_FALSE(full_refund(0));
  EXPECT_FALSE(full_refund(-1));
  EXPECT_FALSE(full_refund(currency::kMaxAmount + 1));
  EXPECT_FALSE(usage_refund(100, usage(1, 1), 1.5));
}

TEST(Refund, FullRefundIsTheCredit) {
  EXPECT_EQ(full_refund(100)->amount(), 100);
  EXPECT_EQ(full_refund(1)->amount(), 1);
  EXPECT_EQ(full_refund(262144)->amount(), 262144);
  EXPECT_EQ(full_refund(currency::kMaxAmount)->amount(), currency::kMaxAmount);
  // Not a currency value: the value just below, never more than was paid.
  EXPECT_EQ(full_refund(101)->amount(), 100);
  EXPECT_EQ(full_refund(33)->amount(), 32);
}

TEST(Refund, TrailerIsBase64OfCurrencyProto) {
  // Currency{currency = 00 39} (100) = 0a 02 00 39.
  const auto value = currency::Value::from_amount(100).value();
  EXPECT_EQ(refund_trailer_value(value), to_base64(from_hex("0a020039").value()));
  EXPECT_EQ(refund_trailer_value(currency::Value::from_amount(2621440).value()),
            to_base64(from_hex("0a020224").value()));
  auto back = parse_refund_trailer_value(refund_trailer_value(value));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, value);
  EXPECT_FALSE(parse_refund_trailer_value("not base64!"));
  EXPECT_FALSE(parse_refund_trailer_value(to_base64(from_hex("0a03000000").value())));
  EXPECT_FALSE(parse_refund_trailer_value(to_base64(from_hex("ff").value())));
}

}  // namespace
}  // namespace openpcc::computenode
