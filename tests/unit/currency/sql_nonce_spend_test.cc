// spend_nonce_in: lock+consume inside a caller's transaction, on SQLite and PostgreSQL, interacting with the
// NonceStore calls of other store objects on the same database.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/random.h"
#include "currency/nonce.h"
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

class SpendNonceIn : public ::testing::TestWithParam<bool> {  // true = PostgreSQL
 protected:
  void SetUp() override {
    std::string url;
    if (GetParam()) {
      auto fresh = test_support::fresh_postgres_database();
      ASSERT_TRUE(fresh) << fresh.error().to_string();
      url = *fresh;
    } else {
      url = "sqlite:" + (dir_ / "money.db").string();
    }
    auto db = store::open_database(url);
    ASSERT_TRUE(db) << db.error().to_string();
    db_ = *db;
    ASSERT_TRUE(migrate_sql_nonce_store(*db_));
    ASSERT_TRUE(db_->transact([](store::Transaction& tx) -> Status {
      auto r = tx.execute(tx.dialect() == store::Dialect::kPostgres
                              ? "CREATE TABLE ledger (id BIGSERIAL PRIMARY KEY, amount BIGINT NOT NULL)"
                              : "CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount BIGINT NOT NULL)");
      if (!r) return std::unexpected(r.error());
      return {};
    }));
    store_ = make_sql_nonce_store(db_);
  }

  // Spends `nonce` and records `amount` in one transaction, or neither.
  Status deposit(const Nonce& nonce, int64_t amount, int64_t now = kNow) {
    return db_->transact([&](store::Transaction& tx) -> Status {
      auto row = tx.execute("INSERT INTO ledger (amount) VALUES ($1)", {amount});
      if (!row) return std::unexpected(row.error());
      return spend_nonce_in(tx, nonce, now);
    });
  }

  int64_t ledger_rows() {
    auto n = db_->transact([](store::Transaction& tx) -> Result<int64_t> {
      auto row = tx.query_row("SELECT COUNT(*) FROM ledger");
      if (!row) return std::unexpected(row.error());
      return (*row)->integer(0);
    });
    EXPECT_TRUE(n);
    return n.value_or(-1);
  }

  test_support::TempDir dir_{"openpcc-spend"};
  std::shared_ptr<store::Database> db_;
  std::unique_ptr<NonceStore> store_;
};

TEST_P(SpendNonceIn, SpendsOnceAndCommitsWithTheCaller) {
  const Nonce n = make_nonce();
  ASSERT_TRUE(deposit(n, 5));
  EXPECT_EQ(ledger_rows(), 1);
  auto again = deposit(n, 5);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyUsed);
  EXPECT_EQ(ledger_rows(), 1);  // the second attempt's ledger row rolled back with it
  auto lock = store_->lock(n, kNow);
  ASSERT_FALSE(lock);
  EXPECT_EQ(lock.error().code, ErrorCode::kAlreadyUsed);
}

TEST_P(SpendNonceIn, RespectsLocksAndTakesOverStaleOnes) {
  const Nonce n = make_nonce();
  auto ticket = store_->lock(n, kNow);
  ASSERT_TRUE(ticket);
  auto busy = deposit(n, 1);
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, ErrorCode::kConflict);
  EXPECT_EQ(ledger_rows(), 0);
  ASSERT_TRUE(deposit(n, 1, kNow + kNonceLockTimeoutSeconds));
  EXPECT_EQ(ledger_rows(), 1);
  // The old holder's ticket no longer works.
  auto late = store_->consume(n, *ticket);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kAlreadyUsed);
}

TEST_P(SpendNonceIn, RollbackLeavesTheNonceSpendable) {
  const Nonce n = make_nonce();
  auto failed = db_->transact([&](store::Transaction& tx) -> Status {
    if (auto s = spend_nonce_in(tx, n, kNow); !s) return s;
    return make_error(ErrorCode::kInternal, "later step failed");
  });
  ASSERT_FALSE(failed);
  EXPECT_TRUE(store_->lock(n, kNow));
}

TEST_P(SpendNonceIn, RejectsExpired) {
  auto old = deposit(make_nonce(kHour - 2 * 3600), 1);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, ErrorCode::kInvalidArgument);
  auto future = deposit(make_nonce(kHour + 30 * 3600), 1);
  ASSERT_FALSE(future);
  EXPECT_EQ(future.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ledger_rows(), 0);
}

TEST_P(SpendNonceIn, ConcurrentSpendersSucceedExactlyOnce) {
  std::vector<Nonce> nonces(50);
  for (auto& n : nonces) n = make_nonce();
  std::atomic<int> ok{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (const auto& n : nonces) {
        auto s = deposit(n, 1);
        if (s) {
          ok.fetch_add(1);
        } else if (s.error().code != ErrorCode::kAlreadyUsed && s.error().code != ErrorCode::kConflict) {
          other.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ledger_rows(), 50);
}

INSTANTIATE_TEST_SUITE_P(Backends, SpendNonceIn, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Postgres" : "Sqlite"; });

}  // namespace
}  // namespace openpcc::currency
