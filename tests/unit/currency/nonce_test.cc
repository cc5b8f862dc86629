#include "currency/nonce.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>

#include "common/bytes.h"

namespace openpcc::currency {
namespace {

// 2026-11-21 07:00:00 UTC, an exact hour.
constexpr int64_t kHour = 1795244400;
static_assert(kHour % 3600 == 0);

TEST(Nonce, MessageFormAndParse) {
  Nonce n;
  n.timestamp = 0x0102030405060708;
  for (size_t i = 0; i < n.random.size(); ++i) n.random[i] = static_cast<uint8_t>(0xa0 + i);
  Bytes m = n.message();
  EXPECT_EQ(to_hex(m), "0102030405060708a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_EQ(m.size(), kNonceMessageSize);
  EXPECT_EQ(Nonce::parse_message(m).value(), n);

  Nonce negative;
  negative.timestamp = -3600;
  Bytes neg = negative.message();
  EXPECT_EQ(to_hex(ByteSpan(neg).first(8)), "fffffffffffff1f0");
  EXPECT_EQ(Nonce::parse_message(neg)->timestamp, -3600);
}

TEST(Nonce, ParseRejectsWrongLength) {
  Bytes m(kNonceMessageSize, 0);
  for (size_t len : {size_t{0}, size_t{8}, size_t{23}, size_t{25}}) {
    Bytes b(len, 0);
    auto r = Nonce::parse_message(b);
    ASSERT_FALSE(r.has_value()) << len;
    EXPECT_EQ(r.error().code, ErrorCode::kDecode);
  }
  EXPECT_TRUE(Nonce::parse_message(m).has_value());
}

TEST(Nonce, QuantizeToHour) {
  EXPECT_EQ(quantize_to_hour(kHour), kHour);
  EXPECT_EQ(quantize_to_hour(kHour + 1), kHour);
  EXPECT_EQ(quantize_to_hour(kHour + 3599), kHour);
  EXPECT_EQ(quantize_to_hour(kHour + 3600), kHour + 3600);
  EXPECT_EQ(quantize_to_hour(kHour - 1), kHour - 3600);
  EXPECT_EQ(quantize_to_hour(0), 0);
  EXPECT_EQ(quantize_to_hour(-1), -3600);
  EXPECT_EQ(quantize_to_hour(-3600), -3600);
  EXPECT_EQ(quantize_to_hour(-3601), -7200);
  // Extremes do not overflow.
  EXPECT_LE(quantize_to_hour(std::numeric_limits<int64_t>::min()), std::numeric_limits<int64_t>::min() + 3600);
  EXPECT_EQ(quantize_to_hour(std::numeric_limits<int64_t>::max()) % 3600, 0);
}

TEST(SafeTimestamp, StartOfHourNeverMovesAhead) {
  for (double r : {0.0, 0.5, 0.999999999}) {
    SafeTimestamp t = safe_nonce_timestamp(kHour, r);
    EXPECT_EQ(t.timestamp, kHour);
    EXPECT_FALSE(t.unsafe_increment);
    EXPECT_EQ(t.wait.count(), 0);
  }
}

TEST(SafeTimestamp, NextHourIffThresholdBelowR) {
  // s = 1800: threshold 1 - 0.5 = 0.5; next hour iff r > 0.5.
  EXPECT_EQ(safe_nonce_timestamp(kHour + 1800, 0.5).timestamp, kHour);
  EXPECT_EQ(safe_nonce_timestamp(kHour + 1800, 0.5000001).timestamp, kHour + 3600);
  EXPECT_EQ(safe_nonce_timestamp(kHour + 1800, 0.0).timestamp, kHour);
  // s = 3599: nearly always next hour, but not for r <= 1/3600.
  EXPECT_EQ(safe_nonce_timestamp(kHour + 3599, 0.5).timestamp, kHour + 3600);
  EXPECT_EQ(safe_nonce_timestamp(kHour + 3599, 0.0).timestamp, kHour);
  EXPECT_FALSE(safe_nonce_timestamp(kHour + 3599, 0.5).unsafe_increment);
  // r = 0 never moves ahead.
  for (int64_t s = 0; s < 3600; s += 7) EXPECT_EQ(safe_nonce_timestamp(kHour + s, 0.0).timestamp, kHour);
}

TEST(SafeTimestamp, ThirtySecondRule) {
  // s = 29, r close to 1: next hour, unsafe, wait 1 s (until t0 + 30).
  SafeTimestamp t = safe_nonce_timestamp(kHour + 29, 0.9999);
  EXPECT_EQ(t.timestamp, kHour + 3600);
  EXPECT_TRUE(t.unsafe_increment);
  EXPECT_EQ(t.wait, std::chrono::seconds(1));
  // s = 1: wait 29 s.
  t = safe_nonce_timestamp(kHour + 1, 0.9999);
  EXPECT_EQ(t.timestamp, kHour + 3600);
  EXPECT_TRUE(t.unsafe_increment);
  EXPECT_EQ(t.wait, std::chrono::seconds(29));
  // s = 30: safe.
  t = safe_nonce_timestamp(kHour + 30, 0.9999);
  EXPECT_EQ(t.timestamp, kHour + 3600);
  EXPECT_FALSE(t.unsafe_increment);
  EXPECT_EQ(t.wait.count(), 0);
  // s = 29 but current hour chosen: safe.
  t = safe_nonce_timestamp(kHour + 29, 0.5);
  EXPECT_EQ(t.timestamp, kHour);
  EXPECT_FALSE(t.unsafe_increment);
  EXPECT_EQ(t.wait.count(), 0);
}

TEST(NewNonce, UsesSafeTimestampAndRandomBytes) {
  FreshNonce a = new_nonce(kHour + 10, 0.9999);
  EXPECT_EQ(a.nonce.timestamp, kHour + 3600);
  EXPECT_TRUE(a.unsafe_increment);
  EXPECT_EQ(a.wait, std::chrono::seconds(20));
  FreshNonce b = new_nonce(kHour + 10, 0.0);
  EXPECT_EQ(b.nonce.timestamp, kHour);
  EXPECT_FALSE(b.unsafe_increment);
  EXPECT_NE(a.nonce.random, b.nonce.random);  // 2^-128 chance of a false failure

  FreshNonce now = new_nonce();
  EXPECT_EQ(now.nonce.timestamp % 3600, 0);
  EXPECT_FALSE(now.nonce.is_expired());
  int64_t t = unix_now();
  EXPECT_GE(now.nonce.timestamp, quantize_to_hour(t) - 3600);
  EXPECT_LE(now.nonce.timestamp, quantize_to_hour(t) + 3600);
}

TEST(NonceExpiry, LowerEdge) {
  // Expired iff ts < floor_hour(now - 30).
  Nonce n;
  n.timestamp = kHour;
  EXPECT_FALSE(n.is_expired_at(kHour));
  EXPECT_FALSE(n.is_expired_at(kHour + 3600 + 29));  // floor_hour(now - 30) = kHour
  EXPECT_TRUE(n.is_expired_at(kHour + 3600 + 30));   // floor_hour(now - 30) = kHour + 3600
  EXPECT_TRUE(n.is_expired_at(kHour + 7200));
}

TEST(NonceExpiry, UpperEdge) {
  // Expired iff ts > floor_hour(now + 86400 + 7200 + 30); 93630 s = 26 h + 30 s.
  Nonce n;
  n.timestamp = kHour + 26 * 3600;
  EXPECT_FALSE(n.is_expired_at(kHour));                // floor_hour(kHour + 26h + 30) = ts
  EXPECT_TRUE(n.is_expired_at(kHour - 31));            // floor_hour(kHour + 26h - 1) = ts - 1h
  EXPECT_FALSE(n.is_expired_at(kHour - 30));           // floor_hour(kHour + 26h) = ts
  n.timestamp = kHour + 26 * 3600 + 1;                 // not on an hour: compared as-is
  EXPECT_TRUE(n.is_expired_at(kHour));
  n.timestamp = kHour + 27 * 3600;
  EXPECT_TRUE(n.is_expired_at(kHour));
  EXPECT_TRUE(n.is_expired_at(kHour + 3600 - 31));
  EXPECT_FALSE(n.is_expired_at(kHour + 3600 - 30));
}

TEST(NonceExpiry, ExtremesDoNotOverflow) {
  Nonce n;
  n.timestamp = kHour;
  EXPECT_TRUE(n.is_expired_at(std::numeric_limits<int64_t>::max()));
  EXPECT_TRUE(n.is_expired_at(std::numeric_limits<int64_t>::min()));
  n.timestamp = std::numeric_limits<int64_t>::min();
  EXPECT_TRUE(n.is_expired_at(kHour));
  n.timestamp = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(n.is_expired_at(kHour));
}

}  // namespace
}  // namespace openpcc::currency
