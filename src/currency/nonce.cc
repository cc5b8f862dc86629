#include "currency/nonce.h"

#include <algorithm>
#include <limits>
#include <string>

#include "common/random.h"
#include "currency/value.h"

namespace openpcc::currency {
namespace {

// Saturating, so that far-off "now" values cannot overflow.
int64_t add_saturating(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return out;
}

}  // namespace

Bytes Nonce::message() const {
  Bytes out = i2osp(static_cast<uint64_t>(timestamp), 8);
  append(out, random);
  return out;
}

Result<Nonce> Nonce::parse_message(ByteSpan message) {
  if (message.size() != kNonceMessageSize) {
    return make_error(ErrorCode::kDecode, "nonce: message must be " + std::to_string(kNonceMessageSize) +
                                              " bytes, got " + std::to_string(message.size()));
  }
  Nonce nonce;
  uint64_t ts = 0;
  for (size_t i = 0; i < 8; ++i) ts = ts << 8 | message[i];
  nonce.timestamp = static_cast<int64_t>(ts);
  std::copy(message.begin() + 8, message.end(), nonce.random.begin());
  return nonce;
}

int64_t quantize_to_hour(int64_t unix_seconds) {
  int64_t into_hour = unix_seconds % kNonceQuantizationSeconds;
  if (into_hour < 0) into_hour += kNonceQuantizationSeconds;
  return add_saturating(unix_seconds, -into_hour);
}

bool Nonce::is_expired_at(int64_t now_unix) const {
  int64_t earliest = quantize_to_hour(add_saturating(now_unix, -kNonceMaxClockSkewSeconds));
  int64_t latest = quantize_to_hour(add_saturating(now_unix, kNonceLifespanSeconds + kNonceMaxClockSkewSeconds));
  return timestamp < earliest || timestamp > latest;
}

bool Nonce::is_expired() const { return is_expired_at(unix_now()); }

SafeTimestamp safe_nonce_timestamp(int64_t now_unix, double r) {
  int64_t t0 = quantize_to_hour(now_unix);
  int64_t s = now_unix - t0;
  SafeTimestamp out;
  out.timestamp = t0;
  if (1.0 - static_cast<double>(s) / static_cast<double>(kNonceQuantizationSeconds) < r) {
    out.timestamp = add_saturating(t0, kNonceQuantizationSeconds);
    if (s < kNonceMinimumSafeTimeSeconds) {
      out.unsafe_increment = true;
      out.wait = std::chrono::seconds(kNonceMinimumSafeTimeSeconds - s);
    }
  }
  return out;
}

FreshNonce new_nonce(int64_t now_unix, double r) {
  SafeTimestamp ts = safe_nonce_timestamp(now_unix, r);
  FreshNonce out;
  out.nonce.timestamp = ts.timestamp;
  fill_random(out.nonce.random);
  out.unsafe_increment = ts.unsafe_increment;
  out.wait = ts.wait;
  return out;
}

FreshNonce new_nonce() { return new_nonce(unix_now(), random_unit_double()); }

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace openpcc::currency
