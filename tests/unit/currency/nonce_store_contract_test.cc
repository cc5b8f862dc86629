// The NonceStore contract (nonce_store.h), one suite for every implementation: in-memory, SQLite (a temporary file,
// WAL) and PostgreSQL (the test server from tests/support). A second store object opened on the same database stands
// for another process.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "common/random.h"
#include "currency/memory_nonce_store.h"
#include "currency/nonce.h"
#include "currency/nonce_store.h"
#include "currency/sql_nonce_store.h"
#include "store/database.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

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

enum class Backend { kMemory, kSqlite, kPostgres };

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kMemory: return "Memory";
    case Backend::kSqlite: return "Sqlite";
    case Backend::kPostgres: return "Postgres";
  }
  return "Unknown";
}

template <class T>
ErrorCode code_of(const Result<T>& r) {
  return r.error().code;
}

class NonceStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    switch (GetParam()) {
      case Backend::kMemory:
        store_ = make_memory_nonce_store();
        return;
      case Backend::kSqlite:
        ASSERT_FALSE(dir_.path().empty());
        url_ = "sqlite:" + (dir_ / "nonces.db").string();
        break;
      case Backend::kPostgres: {
        auto url = openpcc::test_support::fresh_postgres_database();
        ASSERT_TRUE(url) << url.error().to_string();
        url_ = *url;
        break;
      }
    }
    store_ = open_sql_store();
    ASSERT_NE(store_, nullptr);
  }

  // Another store object on the same database, with its own connections: what a second process would have. The
  // in-memory store has no database to share, so its "other process" is itself.
  std::shared_ptr<NonceStore> open_another() {
    if (GetParam() == Backend::kMemory) return store_;
    return open_sql_store();
  }

  std::shared_ptr<NonceStore> open_sql_store() {
    auto db = store::open_database(url_);
    EXPECT_TRUE(db) << db.error().to_string();
    if (!db) return nullptr;
    Status migrated = migrate_sql_nonce_store(**db);
    EXPECT_TRUE(migrated) << migrated.error().to_string();
    if (!migrated) return nullptr;
    return make_sql_nonce_store(*db);
  }

  openpcc::test_support::TempDir dir_{"openpcc-nonces"};
  std::string url_;
  std::shared_ptr<NonceStore> store_;
};

TEST_P(NonceStoreContract, LockGivesAFreshHexTicket) {
  const Nonce a = make_nonce();
  const Nonce b = make_nonce();
  auto ta = store_->lock(a, kNow);
  auto tb = store_->lock(b, kNow);
  ASSERT_TRUE(ta) << ta.error().to_string();
  ASSERT_TRUE(tb) << tb.error().to_string();
  EXPECT_EQ(ta->size(), 32u);  // 16 random bytes in hex
  auto raw = from_hex(*ta);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 16u);
  EXPECT_EQ(to_hex(*raw), *ta);  // lowercase
  EXPECT_NE(*ta, *tb);
}

TEST_P(NonceStoreContract, SecondLockConflicts) {
  const Nonce n = make_nonce();
  auto ticket = store_->lock(n, kNow);
  ASSERT_TRUE(ticket) << ticket.error().to_string();
  for (int64_t later : {int64_t{0}, int64_t{1}, kNonceLockTimeoutSeconds - 1}) {
    auto again = store_->lock(n, kNow + later);
    ASSERT_FALSE(again) << later;
    EXPECT_EQ(code_of(again), ErrorCode::kConflict) << later << ": " << again.error().to_string();
  }
  EXPECT_TRUE(store_->consume(n, *ticket));  // the holder is unaffected
}

TEST_P(NonceStoreContract, WrongTicketIsNotFoundAndChangesNothing) {
  const Nonce n = make_nonce();
  auto ticket = store_->lock(n, kNow);
  ASSERT_TRUE(ticket) << ticket.error().to_string();
  std::string flipped = *ticket;
  flipped[0] = flipped[0] == '0' ? '1' : '0';
  for (const std::string& wrong : {to_hex(random_bytes(16)), flipped, ticket->substr(0, 31), *ticket + "0",
                                   std::string(), std::string(32, '\0')}) {
    auto c = store_->consume(n, wrong);
    ASSERT_FALSE(c) << wrong;
    EXPECT_EQ(code_of(c), ErrorCode::kNotFound) << c.error().to_string();
    auto r = store_->release(n, wrong);
    ASSERT_FALSE(r) << wrong;
    EXPECT_EQ(code_of(r), ErrorCode::kNotFound) << r.error().to_string();
  }
  // Still locked by the original holder, who can still consume.
  auto again = store_->lock(n, kNow);
  ASSERT_FALSE(again);
  EXPECT_EQ(code_of(again), ErrorCode::kConflict);
  EXPECT_TRUE(store_->consume(n, *ticket));
}

TEST_P(NonceStoreContract, ConsumedNonceIsUsedForGood) {
  const Nonce n = make_nonce();
  auto ticket = store_->lock(n, kNow);
  ASSERT_TRUE(ticket) << ticket.error().to_string();
  auto consumed = store_->consume(n, *ticket);
  ASSERT_TRUE(consumed) << consumed.error().to_string();
  // Long after any lock timeout, as long as the nonce is valid.
  for (int64_t now : {kNow, kNow + 1, kNow + 10 * kNonceLockTimeoutSeconds}) {
    ASSERT_FALSE(n.is_expired_at(now));
    auto again = store_->lock(n, now);
    ASSERT_FALSE(again);
    EXPECT_EQ(code_of(again), ErrorCode::kAlreadyUsed) << again.error().to_string();
  }
  auto twice = store_->consume(n, *ticket);
  ASSERT_FALSE(twice);
  EXPECT_EQ(code_of(twice), ErrorCode::kAlreadyUsed);
  auto release = store_->release(n, *ticket);
  ASSERT_FALSE(release);
  EXPECT_EQ(code_of(release), ErrorCode::kAlreadyUsed);
  auto release_other = store_->release(n, to_hex(random_bytes(16)));
  ASSERT_FALSE(release_other);
  EXPECT_EQ(code_of(release_other), ErrorCode::kAlreadyUsed);
}

TEST_P(NonceStoreContract, ReleaseMakesTheNonceLockableAgain) {
  const Nonce n = make_nonce();
  auto first = store_->lock(n, kNow);
  ASSERT_TRUE(first) << first.error().to_string();
  ASSERT_TRUE(store_->release(n, *first));
  auto second = store_->lock(n, kNow);
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_NE(*first, *second);
  // The released ticket is dead.
  auto stale = store_->consume(n, *first);
  ASSERT_FALSE(stale);
  EXPECT_EQ(code_of(stale), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->consume(n, *second));
}

TEST_P(NonceStoreContract, UnknownNonceIsNotFound) {
  const Nonce n = make_nonce();
  auto c = store_->consume(n, to_hex(random_bytes(16)));
  ASSERT_FALSE(c);
  EXPECT_EQ(code_of(c), ErrorCode::kNotFound);
  auto r = store_->release(n, to_hex(random_bytes(16)));
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r), ErrorCode::kNotFound);
  // Asking did not create anything.
  EXPECT_TRUE(store_->lock(n, kNow));
}

TEST_P(NonceStoreContract, NoncesAreKeyedByTimestampAndRandomTogether) {
  const Nonce n = make_nonce(kHour);
  ASSERT_TRUE(store_->lock(n, kNow));
  Nonce next_hour = n;
  next_hour.timestamp += kNonceQuantizationSeconds;
  Nonce other_random = n;
  other_random.random[kNonceRandomSize - 1] ^= 1;
  Nonce same = n;
  EXPECT_TRUE(store_->lock(next_hour, kNow)) << "same random part, other timestamp";
  EXPECT_TRUE(store_->lock(other_random, kNow)) << "same timestamp, other random part";
  auto dup = store_->lock(same, kNow);
  ASSERT_FALSE(dup);
  EXPECT_EQ(code_of(dup), ErrorCode::kConflict);
}

// Whatever Nonce::is_expired_at says at `now` is what lock() says: the store never disagrees with the credit check.
TEST_P(NonceStoreContract, ExpiredNoncesAreRejectedExactlyAsNonceSays) {
  const int64_t earliest = quantize_to_hour(kNow - kNonceMaxClockSkewSeconds);
  const int64_t latest = quantize_to_hour(kNow + kNonceLifespanSeconds + kNonceMaxClockSkewSeconds);
  std::vector<int64_t> timestamps = {earliest - 7200, earliest - 3600, earliest - 1,     earliest,
                                     earliest + 1,    latest - 1,      latest,           latest + 1,
                                     latest + 3600,   INT64_MIN,       INT64_MAX,        0};
  int rejected = 0;
  for (int64_t ts : timestamps) {
    const Nonce n = make_nonce(ts);
    auto r = store_->lock(n, kNow);
    if (n.is_expired_at(kNow)) {
      ++rejected;
      ASSERT_FALSE(r) << ts;
      EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument) << ts << ": " << r.error().to_string();
    } else {
      EXPECT_TRUE(r) << ts << ": " << r.error().to_string();
    }
  }
  EXPECT_EQ(rejected, 8);  // both sides of the window are checked
  // The same nonce is fine at one time and expired at another.
  const Nonce n = make_nonce(kHour);
  auto too_late = store_->lock(n, kHour + kNonceLifespanSeconds + 3600);  // now far past the nonce
  ASSERT_FALSE(too_late);
  EXPECT_EQ(code_of(too_late), ErrorCode::kInvalidArgument);
  auto too_early = store_->lock(n, kHour - kNonceLifespanSeconds - 7200);  // the nonce far in now's future
  ASSERT_FALSE(too_early);
  EXPECT_EQ(code_of(too_early), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(store_->lock(n, kNow));
}

TEST_P(NonceStoreContract, StaleLockIsTakenOverAfterTheTimeout) {
  const Nonce n = make_nonce();
  auto first = store_->lock(n, kNow);
  ASSERT_TRUE(first) << first.error().to_string();
  auto early = store_->lock(n, kNow + kNonceLockTimeoutSeconds - 1);
  ASSERT_FALSE(early);
  EXPECT_EQ(code_of(early), ErrorCode::kConflict);
  auto takeover = store_->lock(n, kNow + kNonceLockTimeoutSeconds);
  ASSERT_TRUE(takeover) << takeover.error().to_string();
  EXPECT_NE(*takeover, *first);
  // The new lock runs its own timeout from the takeover time.
  auto third = store_->lock(n, kNow + kNonceLockTimeoutSeconds + 1);
  ASSERT_FALSE(third);
  EXPECT_EQ(code_of(third), ErrorCode::kConflict);
  // The presumed-dead holder's ticket no longer works; the new one does.
  auto old_consume = store_->consume(n, *first);
  ASSERT_FALSE(old_consume);
  EXPECT_EQ(code_of(old_consume), ErrorCode::kNotFound);
  auto old_release = store_->release(n, *first);
  ASSERT_FALSE(old_release);
  EXPECT_EQ(code_of(old_release), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->consume(n, *takeover));
  // A consumed nonce is never taken over.
  auto later = store_->lock(n, kNow + 3 * kNonceLockTimeoutSeconds);
  ASSERT_FALSE(later);
  EXPECT_EQ(code_of(later), ErrorCode::kAlreadyUsed);
}

TEST_P(NonceStoreContract, GarbageCollectionRemovesOnlyExpired) {
  // Times at which every nonce below is valid, and a later one at which only the newer ones are.
  const int64_t gc_now = kHour + 26 * 3600 + 120;  // earliest valid timestamp at gc_now: kHour + 26 h
  const int64_t boundary = quantize_to_hour(gc_now - kNonceMaxClockSkewSeconds);
  ASSERT_EQ(boundary, kHour + 26 * 3600);

  const Nonce old_consumed = make_nonce(kHour + 24 * 3600);
  const Nonce old_locked = make_nonce(kHour + 25 * 3600);
  const Nonce at_boundary = make_nonce(boundary);
  const Nonce young = make_nonce(boundary + 3600);
  const int64_t lock_now = kHour + 24 * 3600 + 60;  // all four are valid here
  for (const Nonce* n : {&old_consumed, &old_locked, &at_boundary, &young}) ASSERT_FALSE(n->is_expired_at(lock_now));
  ASSERT_TRUE(old_consumed.is_expired_at(gc_now));
  ASSERT_TRUE(old_locked.is_expired_at(gc_now));
  ASSERT_FALSE(at_boundary.is_expired_at(gc_now));
  ASSERT_FALSE(young.is_expired_at(gc_now));

  auto t1 = store_->lock(old_consumed, lock_now);
  ASSERT_TRUE(t1);
  ASSERT_TRUE(store_->consume(old_consumed, *t1));
  ASSERT_TRUE(store_->lock(old_locked, lock_now));
  auto t3 = store_->lock(at_boundary, lock_now);
  ASSERT_TRUE(t3);
  ASSERT_TRUE(store_->consume(at_boundary, *t3));
  auto t4 = store_->lock(young, lock_now);
  ASSERT_TRUE(t4);

  auto nothing_yet = store_->collect_garbage(lock_now);
  ASSERT_TRUE(nothing_yet) << nothing_yet.error().to_string();
  EXPECT_EQ(*nothing_yet, 0);
  auto removed = store_->collect_garbage(gc_now);
  ASSERT_TRUE(removed) << removed.error().to_string();
  EXPECT_EQ(*removed, 2);
  auto again = store_->collect_garbage(gc_now);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0);

  // The survivors keep their state.
  auto boundary_lock = store_->lock(at_boundary, gc_now);
  ASSERT_FALSE(boundary_lock);
  EXPECT_EQ(code_of(boundary_lock), ErrorCode::kAlreadyUsed);
  EXPECT_TRUE(store_->consume(young, *t4));
  // The removed ones are forgotten: at a time when they would still be valid, they lock afresh.
  EXPECT_TRUE(store_->lock(old_consumed, lock_now));
  EXPECT_TRUE(store_->lock(old_locked, lock_now));
}

TEST_P(NonceStoreContract, TwoStoreObjectsOnOneDatabaseShareLocks) {
  auto other = open_another();
  ASSERT_NE(other, nullptr);
  const Nonce n = make_nonce();
  auto ticket = store_->lock(n, kNow);
  ASSERT_TRUE(ticket) << ticket.error().to_string();
  auto theirs = other->lock(n, kNow);
  ASSERT_FALSE(theirs);
  EXPECT_EQ(code_of(theirs), ErrorCode::kConflict);
  // A ticket is a ticket wherever it is presented.
  ASSERT_TRUE(other->consume(n, *ticket));
  auto mine = store_->lock(n, kNow);
  ASSERT_FALSE(mine);
  EXPECT_EQ(code_of(mine), ErrorCode::kAlreadyUsed);
  // Garbage collection in one removes for both.
  const Nonce old = make_nonce(kHour - 24 * 3600);
  auto old_ticket = other->lock(old, kHour - 24 * 3600 + 60);
  ASSERT_TRUE(old_ticket);
  auto removed = store_->collect_garbage(kNow);
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1);
  auto gone = other->consume(old, *old_ticket);
  ASSERT_FALSE(gone);
  EXPECT_EQ(code_of(gone), ErrorCode::kNotFound);
}

// 8 threads (half of them on a second store object, as another process would be) make 10,000 lock+consume attempts
// on 1,000 nonces, 10 attempts per nonce back to back so that they collide: exactly one spend per nonce succeeds and
// every other attempt is told "locked" or "used".
TEST_P(NonceStoreContract, ConcurrentSpendsSucceedExactlyOncePerNonce) {
  constexpr int kThreads = 8;
  constexpr int kNonces = 1000;
  constexpr int kAttempts = 10000;
  std::vector<Nonce> nonces;
  for (int i = 0; i < kNonces; ++i) nonces.push_back(make_nonce());
  auto other = open_another();
  ASSERT_NE(other, nullptr);

  std::atomic<int> next{0};
  std::atomic<int> spent{0};
  std::atomic<int> conflicts{0};
  std::atomic<int> used{0};
  std::mutex mu;
  std::vector<std::string> unexpected;
  std::vector<int> spends_per_nonce(kNonces, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    NonceStore* store = t % 2 == 0 ? store_.get() : other.get();
    threads.emplace_back([&, store] {
      for (int i = next.fetch_add(1); i < kAttempts; i = next.fetch_add(1)) {
        const int k = i / (kAttempts / kNonces);
        auto ticket = store->lock(nonces[static_cast<size_t>(k)], kNow);
        if (!ticket) {
          ErrorCode code = ticket.error().code;
          if (code == ErrorCode::kConflict) {
            conflicts.fetch_add(1);
          } else if (code == ErrorCode::kAlreadyUsed) {
            used.fetch_add(1);
          } else {
            std::lock_guard lock(mu);
            unexpected.push_back("lock: " + ticket.error().to_string());
          }
          continue;
        }
        Status consumed = store->consume(nonces[static_cast<size_t>(k)], *ticket);
        if (!consumed) {
          std::lock_guard lock(mu);
          unexpected.push_back("consume: " + consumed.error().to_string());
          continue;
        }
        spent.fetch_add(1);
        std::lock_guard lock(mu);
        ++spends_per_nonce[static_cast<size_t>(k)];
      }
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " unexpected answers, first: " << unexpected.front();
  EXPECT_EQ(spent.load(), kNonces);
  EXPECT_EQ(spent.load() + conflicts.load() + used.load(), kAttempts);
  for (int k = 0; k < kNonces; ++k) ASSERT_EQ(spends_per_nonce[static_cast<size_t>(k)], 1) << k;
  // And the store agrees: every nonce is used.
  for (const Nonce& n : nonces) {
    auto r = store_->lock(n, kNow);
    ASSERT_FALSE(r);
    ASSERT_EQ(code_of(r), ErrorCode::kAlreadyUsed);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, NonceStoreContract,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite, Backend::kPostgres), backend_name);

}  // namespace
}  // namespace openpcc::currency
