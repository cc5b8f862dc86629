// The in-process NonceStore: every answer nonce_store.h lists, lock takeover, garbage collection and concurrent
// lockers. (The shared contract suite in tests/unit/store runs against it too.)
#include "currency/memory_nonce_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "common/random.h"

namespace openpcc::currency {
namespace {

constexpr int64_t kHour = 1795244400;  // 2026-11-21 07:00:00 UTC
constexpr int64_t kNow = kHour + 600;

Nonce make_nonce(int64_t timestamp = kHour) {
  Nonce n;
  n.timestamp = timestamp;
  fill_random(n.random);
  return n;
}

ErrorCode code_of(const Status& s) { return s.error().code; }

TEST(MemoryNonceStore, LockConsumeThenUsed) {
  auto store = make_memory_nonce_store();
  const Nonce n = make_nonce();
  auto ticket = store->lock(n, kNow);
  ASSERT_TRUE(ticket.has_value()) << ticket.error().to_string();
  EXPECT_EQ(ticket->size(), 32u);
  EXPECT_TRUE(from_hex(*ticket).has_value());
  ASSERT_TRUE(store->consume(n, *ticket).has_value());

  auto again = store->lock(n, kNow);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyUsed);
  EXPECT_EQ(code_of(store->consume(n, *ticket)), ErrorCode::kAlreadyUsed);
  EXPECT_EQ(code_of(store->release(n, *ticket)), ErrorCode::kAlreadyUsed);
  // Still consumed long after the lock timeout, as long as the nonce is valid.
  auto later = store->lock(n, kNow + kNonceLockTimeoutSeconds * 10);
  ASSERT_FALSE(later.has_value());
  EXPECT_EQ(later.error().code, ErrorCode::kAlreadyUsed);
}

TEST(MemoryNonceStore, LockedNonceConflictsAndReleaseFreesIt) {
  auto store = make_memory_nonce_store();
  const Nonce n = make_nonce();
  auto ticket = store->lock(n, kNow).value();
  auto second = store->lock(n, kNow + 1);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);

  ASSERT_TRUE(store->release(n, ticket).has_value());
  EXPECT_EQ(code_of(store->release(n, ticket)), ErrorCode::kNotFound);
  auto relock = store->lock(n, kNow + 2);
  ASSERT_TRUE(relock.has_value());
  EXPECT_NE(*relock, ticket);
  // The old ticket no longer works for the new lock.
  EXPECT_EQ(code_of(store->consume(n, ticket)), ErrorCode::kNotFound);
  EXPECT_TRUE(store->consume(n, *relock).has_value());
}

TEST(MemoryNonceStore, WrongOrMissingTicket) {
  auto store = make_memory_nonce_store();
  const Nonce n = make_nonce();
  EXPECT_EQ(code_of(store->consume(n, "00")), ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store->release(n, "00")), ErrorCode::kNotFound);
  auto ticket = store->lock(n, kNow).value();
  std::string wrong = ticket;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  EXPECT_EQ(code_of(store->consume(n, wrong)), ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store->release(n, wrong)), ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store->consume(n, "")), ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store->consume(n, ticket + "0")), ErrorCode::kNotFound);
  // The right ticket still works after the failed attempts.
  EXPECT_TRUE(store->consume(n, ticket).has_value());
}

TEST(MemoryNonceStore, NoncesDifferingOnlyInTimestampAreDistinct) {
  auto store = make_memory_nonce_store();
  Nonce a = make_nonce(kHour);
  Nonce b = a;
  b.timestamp = kHour + 3600;
  auto ta = store->lock(a, kNow).value();
  ASSERT_TRUE(store->consume(a, ta).has_value());
  EXPECT_TRUE(store->lock(b, kNow).has_value());
}

TEST(MemoryNonceStore, ExpiredNoncesAreRejected) {
  auto store = make_memory_nonce_store();
  auto too_old = store->lock(make_nonce(kHour - 3600), kNow);
  ASSERT_FALSE(too_old.has_value());
  EXPECT_EQ(too_old.error().code, ErrorCode::kInvalidArgument);
  auto too_new = store->lock(make_nonce(kHour + 2 * 86400), kNow);
  ASSERT_FALSE(too_new.has_value());
  EXPECT_EQ(too_new.error().code, ErrorCode::kInvalidArgument);
}

TEST(MemoryNonceStore, StaleLockIsTakenOver) {
  auto store = make_memory_nonce_store();
  const Nonce n = make_nonce();
  auto first = store->lock(n, kNow).value();
  auto early = store->lock(n, kNow + kNonceLockTimeoutSeconds - 1);
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().code, ErrorCode::kConflict);
  auto takeover = store->lock(n, kNow + kNonceLockTimeoutSeconds);
  ASSERT_TRUE(takeover.has_value());
  EXPECT_NE(*takeover, first);
  EXPECT_EQ(code_of(store->consume(n, first)), ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store->release(n, first)), ErrorCode::kNotFound);
  // The new holder's lock is fresh: another attempt right after conflicts.
  auto third = store->lock(n, kNow + kNonceLockTimeoutSeconds + 1);
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(store->consume(n, *takeover).has_value());
}

TEST(MemoryNonceStore, GarbageCollectionDropsOnlyExpired) {
  auto store = make_memory_nonce_store();
  const Nonce old_consumed = make_nonce(kHour), old_locked = make_nonce(kHour), fresh = make_nonce(kHour + 7200);
  ASSERT_TRUE(store->consume(old_consumed, store->lock(old_consumed, kNow).value()).has_value());
  ASSERT_TRUE(store->lock(old_locked, kNow).has_value());
  ASSERT_TRUE(store->consume(fresh, store->lock(fresh, kNow).value()).has_value());

  EXPECT_EQ(store->collect_garbage(kNow).value(), 0);
  // Two hours later the kHour nonces are expired (ts < floor(now - 30 s)), the later one is not.
  const int64_t later = kHour + 3600 + 60;
  EXPECT_EQ(store->collect_garbage(later).value(), 2);
  EXPECT_EQ(store->collect_garbage(later).value(), 0);
  auto still = store->lock(fresh, later);
  ASSERT_FALSE(still.has_value());
  EXPECT_EQ(still.error().code, ErrorCode::kAlreadyUsed);
}

TEST(MemoryNonceStore, ConcurrentLockersExactlyOneWins) {
  auto store = make_memory_nonce_store();
  constexpr int kNonces = 200;
  constexpr int kThreads = 8;
  std::vector<Nonce> nonces;
  for (int i = 0; i < kNonces; ++i) nonces.push_back(make_nonce());
  std::atomic<int> consumed{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (const Nonce& n : nonces) {
        auto ticket = store->lock(n, kNow);
        if (!ticket) {
          const ErrorCode c = ticket.error().code;
          (c == ErrorCode::kConflict || c == ErrorCode::kAlreadyUsed ? refused : other)++;
          continue;
        }
        (store->consume(n, *ticket) ? consumed : other)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(consumed.load(), kNonces);
  EXPECT_EQ(refused.load(), kNonces * (kThreads - 1));
  EXPECT_EQ(other.load(), 0);
}

}  // namespace
}  // namespace openpcc::currency
