// A per-account token bucket, in memory: how the AuthBank limits free attestation tokens.
//
// Each account has a bucket of `burst` tokens that refills at `per_second`; a request takes one token or is refused
// with the time until the next token. State is per process (a restart refills every bucket, several AuthBank
// processes each allow the full rate): the limit protects the signing key's CPU and the router from token floods, it
// is not an accounting device. Buckets that are full again are forgotten, so memory follows the active accounts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace openpcc::authbank {

struct RateLimit {
  double per_second = 1.0;  // refill rate; <= 0 disables the limit
  double burst = 30.0;      // bucket size (at least 1 when enabled)
};

class TokenBucketLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit TokenBucketLimiter(RateLimit limit, size_t max_tracked = 100'000);

  bool enabled() const { return limit_.per_second > 0; }

  // Takes one token for `account` at `now`. Returns zero when allowed, else how long until a token is available.
  Clock::duration acquire(int64_t account, Clock::time_point now);
  Clock::duration acquire(int64_t account) { return acquire(account, Clock::now()); }

  // Accounts currently tracked (for tests).
  size_t tracked() const;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
  };
  void forget_full_buckets(Clock::time_point now);

  RateLimit limit_;
  size_t max_tracked_;
  mutable std::mutex mutex_;
  std::unordered_map<int64_t, Bucket> buckets_;
};

}  // namespace openpcc::authbank
