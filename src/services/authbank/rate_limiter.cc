#include "services/authbank/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace openpcc::authbank {

TokenBucketLimiter::TokenBucketLimiter(RateLimit limit, size_t max_tracked)
    : limit_(limit), max_tracked_(std::max<size_t>(max_tracked, 1)) {
  if (limit_.burst < 1) limit_.burst = 1;
}

TokenBucketLimiter::Clock::duration TokenBucketLimiter::acquire(int64_t account, Clock::time_point now) {
  if (!enabled()) return Clock::duration::zero();
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(account);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_tracked_) forget_full_buckets(now);
    // Still full of busy accounts: refuse newcomers rather than grow without bound (or reset someone's bucket).
    if (buckets_.size() >= max_tracked_) {
      return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / limit_.per_second));
    }
    it = buckets_.emplace(account, Bucket{limit_.burst, now}).first;
  }
  Bucket& bucket = it->second;
  if (now > bucket.updated) {
    const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
    bucket.tokens = std::min(limit_.burst, bucket.tokens + elapsed * limit_.per_second);
    bucket.updated = now;
  }
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return Clock::duration::zero();
  }
  const double wait_seconds = (1.0 - bucket.tokens) / limit_.per_second;
  auto wait = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_seconds));
  return std::max(wait, Clock::duration(1));
}

void TokenBucketLimiter::forget_full_buckets(Clock::time_point now) {
  std::erase_if(buckets_, [&](const auto& entry) {
    const Bucket& b = entry.second;
    const double elapsed = now > b.updated ? std::chrono::duration<double>(now - b.updated).count() : 0.0;
    return b.tokens + elapsed * limit_.per_second >= limit_.burst;
  });
}

size_t TokenBucketLimiter::tracked() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace openpcc::authbank
