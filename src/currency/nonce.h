// Credit nonces: an hour-quantized unix timestamp plus 16 random bytes. The timestamp bounds how long a spent nonce
// must be remembered; quantizing it to the hour keeps it from identifying the client.
//
// Signed form (the blind-signature message): int64 big-endian timestamp ‖ 16 random bytes = 24 bytes.
// Proto `Nonce{google.protobuf.Timestamp timestamp = 1; bytes nonce = 2}` carries the same two fields.
//
// All time-dependent functions take "now" (unix seconds) as a parameter; the overloads without it read the system
// clock.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::currency {

inline constexpr int64_t kNonceQuantizationSeconds = 3600;
// A timestamp moved to the next hour less than this many seconds into the current hour stands out; see SafeTimestamp.
inline constexpr int64_t kNonceMinimumSafeTimeSeconds = 30;
inline constexpr int64_t kNonceLifespanSeconds = 86400 + 7200;
inline constexpr int64_t kNonceMaxClockSkewSeconds = 30;
inline constexpr size_t kNonceRandomSize = 16;
inline constexpr size_t kNonceMessageSize = 8 + kNonceRandomSize;

struct Nonce {
  int64_t timestamp = 0;  // unix seconds, a multiple of kNonceQuantizationSeconds when made by new_nonce
  std::array<uint8_t, kNonceRandomSize> random{};

  // The 24-byte signed form.
  Bytes message() const;
  // Exactly kNonceMessageSize bytes.
  static Result<Nonce> parse_message(ByteSpan message);

  // Expired if timestamp < hour_floor(now - skew) or timestamp > hour_floor(now + lifespan + skew).
  bool is_expired_at(int64_t now_unix) const;
  bool is_expired() const;

  friend bool operator==(const Nonce&, const Nonce&) = default;
};

// Rounds down to the start of the hour (also for negative times).
int64_t quantize_to_hour(int64_t unix_seconds);

// The timestamp to put in a fresh nonce. With s = seconds into the current hour and r uniform in [0, 1), the next
// hour is chosen iff 1 - s/3600 < r, so the chance of "next hour" grows linearly through the hour. If the next hour
// was chosen less than kNonceMinimumSafeTimeSeconds into the hour, the nonce is an "unsafe increment": the caller
// must not release the credit before `wait` has elapsed (i.e. until t0 + 30 s).
struct SafeTimestamp {
  int64_t timestamp = 0;
  bool unsafe_increment = false;
  std::chrono::seconds wait{0};  // zero unless unsafe_increment
};
SafeTimestamp safe_nonce_timestamp(int64_t now_unix, double r);

struct FreshNonce {
  Nonce nonce;
  bool unsafe_increment = false;
  std::chrono::seconds wait{0};
};
// A nonce with a safe timestamp and 16 bytes from the OS CSPRNG.
FreshNonce new_nonce(int64_t now_unix, double r);
// The same at the system clock's now, with r from the OS CSPRNG.
FreshNonce new_nonce();

// The system clock as unix seconds.
int64_t unix_now();

}  // namespace openpcc::currency
