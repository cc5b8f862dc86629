#include "store/database.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "store/migrate.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace openpcc::store {
namespace {

using namespace std::chrono_literals;

enum class Backend { kSqlite, kPostgres };

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// Runs one statement in its own transaction.
Status exec(Database& db, const std::string& sql, std::vector<SqlValue> params = {}) {
  return db.transact([&](Transaction& tx) -> Status {
    auto r = tx.execute(sql, params);
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

Result<int64_t> query_int(Database& db, const std::string& sql, std::vector<SqlValue> params = {}) {
  return db.read([&](Transaction& tx) -> Result<int64_t> {
    auto row = tx.query_row(sql, params);
    if (!row) return std::unexpected(row.error());
    if (!*row) return make_error(ErrorCode::kNotFound, "no row");
    return (*row)->integer(0);
  });
}

class DatabaseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      ASSERT_FALSE(dir_.path().empty());
      url_ = "sqlite:" + (dir_ / "test.db").string();
    } else {
      auto url = openpcc::test_support::fresh_postgres_database();
      ASSERT_TRUE(url) << url.error().to_string();
      url_ = *url;
    }
    db_ = open(url_);
    ASSERT_NE(db_, nullptr);
  }

  std::shared_ptr<Database> open(const std::string& url, DatabaseOptions options = {}) {
    auto db = open_database(url, options);
    EXPECT_TRUE(db) << db.error().to_string();
    return db ? *db : nullptr;
  }

  // Per-dialect DDL: integers and blobs are spelled differently.
  std::string ddl(const std::string& sqlite, const std::string& postgres) const {
    return db_->dialect() == Dialect::kSqlite ? sqlite : postgres;
  }

  void create_items_table() {
    ASSERT_TRUE(exec(*db_, ddl("CREATE TABLE items (k TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0))",
                               "CREATE TABLE items (k TEXT PRIMARY KEY, n BIGINT NOT NULL CHECK (n >= 0))")));
  }

  openpcc::test_support::TempDir dir_{"openpcc-store"};
  std::string url_;
  std::shared_ptr<Database> db_;
};

TEST_P(DatabaseTest, DialectMatchesUrl) {
  EXPECT_EQ(db_->dialect(), GetParam() == Backend::kSqlite ? Dialect::kSqlite : Dialect::kPostgres);
}

TEST_P(DatabaseTest, ValuesRoundTrip) {
  ASSERT_TRUE(exec(*db_, ddl("CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, t TEXT, b BLOB)",
                             "CREATE TABLE v (id BIGINT PRIMARY KEY, i BIGINT, t TEXT, b BYTEA)")));
  Bytes all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<uint8_t>(i));
  Bytes with_nuls = {0, 0, 'a', 0, 0xff, 0};
  struct Case {
    int64_t id;
    SqlValue i, t, b;
  };
  std::vector<Case> cases = {
      {1, int64_t{INT64_MIN}, std::string("grüße ✓"), all_bytes},
      {2, int64_t{INT64_MAX}, std::string(""), Bytes{}},
      {3, int64_t{0}, std::string("with 'quotes' and $1 and ?"), with_nuls},
      {4, kSqlNull, kSqlNull, kSqlNull},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(exec(*db_, "INSERT INTO v (id, i, t, b) VALUES ($1, $2, $3, $4)", {c.id, c.i, c.t, c.b}));
  }
  auto rows = db_->read([&](Transaction& tx) { return tx.query("SELECT id, i, t, b FROM v ORDER BY id"); });
  ASSERT_TRUE(rows) << rows.error().to_string();
  ASSERT_EQ(rows->size(), cases.size());
  for (size_t r = 0; r < cases.size(); ++r) {
    const Row& row = (*rows)[r];
    ASSERT_EQ(row.size(), 4u);
    EXPECT_EQ(row.integer(0).value(), cases[r].id);
    EXPECT_EQ(row.values()[1], cases[r].i) << r;
    EXPECT_EQ(row.values()[2], cases[r].t) << r;
    EXPECT_EQ(row.values()[3], cases[r].b) << r;
  }
  // Typed accessors.
  const Row& first = (*rows)[0];
  EXPECT_EQ(first.integer(1).value(), INT64_MIN);
  EXPECT_EQ(first.text(2).value(), "grüße ✓");
  EXPECT_EQ(first.blob(3).value(), all_bytes);
  EXPECT_EQ(first.nullable_blob(3).value(), std::optional<Bytes>(all_bytes));
  EXPECT_FALSE(first.is_null(3).value());
  const Row& nulls = (*rows)[3];
  EXPECT_TRUE(nulls.is_null(1).value());
  EXPECT_EQ(nulls.nullable_integer(1).value(), std::nullopt);
  EXPECT_EQ(nulls.nullable_text(2).value(), std::nullopt);
  EXPECT_EQ(nulls.nullable_blob(3).value(), std::nullopt);
  // Wrong type, NULL where a value is required, out of range: errors, not crashes.
  EXPECT_EQ(first.integer(2).error().code, ErrorCode::kInternal);
  EXPECT_FALSE(first.text(3).has_value());
  EXPECT_FALSE(first.blob(1).has_value());
  EXPECT_FALSE(nulls.integer(1).has_value());
  EXPECT_FALSE(first.integer(4).has_value());
  EXPECT_FALSE(first.is_null(99).has_value());
  EXPECT_FALSE(first.nullable_text(1).has_value());
}

TEST_P(DatabaseTest, PlaceholdersAnyOrderAndNotInsideLiteralsOrComments) {
  auto row = db_->read([&](Transaction& tx) {
    return tx.query_row("SELECT $2, $1, '$1', \"x\" -- $1 is not here\n FROM (SELECT 'q' AS \"x\") AS s /* $2 */",
                        {int64_t{7}, std::string("second")});
  });
  ASSERT_TRUE(row) << row.error().to_string();
  ASSERT_TRUE(row->has_value());
  EXPECT_EQ((*row)->text(0).value(), "second");
  EXPECT_EQ((*row)->integer(1).value(), 7);
  EXPECT_EQ((*row)->text(2).value(), "$1");
  EXPECT_EQ((*row)->text(3).value(), "q");
  // A placeholder used twice is one parameter.
  auto twice = query_int(*db_, "SELECT $1 + $1", {int64_t{21}});
  ASSERT_TRUE(twice) << twice.error().to_string();
  EXPECT_EQ(*twice, 42);
}

TEST_P(DatabaseTest, ParameterCountMustMatch) {
  for (std::vector<SqlValue> params : {std::vector<SqlValue>{}, std::vector<SqlValue>{int64_t{1}, int64_t{2}}}) {
    auto r = query_int(*db_, "SELECT $1", params);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().to_string();
  }
}

TEST_P(DatabaseTest, OneStatementPerCall) {
  create_items_table();
  Status s = exec(*db_, "INSERT INTO items VALUES ('a', 1); INSERT INTO items VALUES ('b', 2)");
  EXPECT_FALSE(s);
  auto count = query_int(*db_, "SELECT COUNT(*) FROM items");
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 0);
}

TEST_P(DatabaseTest, AffectedRowsAndAggregates) {
  create_items_table();
  auto affected = db_->transact([&](Transaction& tx) -> Result<std::vector<int64_t>> {
    std::vector<int64_t> out;
    for (auto [k, n] : {std::pair{"a", 5}, std::pair{"b", 6}, std::pair{"c", 7}}) {
      auto r = tx.execute("INSERT INTO items (k, n) VALUES ($1, $2)", {std::string(k), int64_t{n}});
      if (!r) return std::unexpected(r.error());
      out.push_back(*r);
    }
    auto updated = tx.execute("UPDATE items SET n = n + 1 WHERE n >= $1", {int64_t{6}});
    if (!updated) return std::unexpected(updated.error());
    out.push_back(*updated);
    auto selected = tx.execute("SELECT k FROM items");
    if (!selected) return std::unexpected(selected.error());
    out.push_back(*selected);
    auto none = tx.execute("DELETE FROM items WHERE k = $1", {std::string("zzz")});
    if (!none) return std::unexpected(none.error());
    out.push_back(*none);
    return out;
  });
  ASSERT_TRUE(affected) << affected.error().to_string();
  EXPECT_EQ(*affected, (std::vector<int64_t>{1, 1, 1, 2, 0, 0}));
  // SUM over a BIGINT is NUMERIC on PostgreSQL: still an integer here.
  auto sum = query_int(*db_, "SELECT SUM(n) FROM items");
  ASSERT_TRUE(sum) << sum.error().to_string();
  EXPECT_EQ(*sum, 5 + 7 + 8);
}

TEST_P(DatabaseTest, ErrorFromFnRollsBackEverything) {
  create_items_table();
  Status s = db_->transact([&](Transaction& tx) -> Status {
    if (!tx.execute("INSERT INTO items (k, n) VALUES ('a', 1)")) return make_error(ErrorCode::kInternal, "insert");
    if (!tx.execute("UPDATE items SET n = 2")) return make_error(ErrorCode::kInternal, "update");
    return make_error(ErrorCode::kInsufficientBalance, "business rule says no");
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInsufficientBalance);  // fn's own error, unchanged
  EXPECT_EQ(s.error().message, "business rule says no");
  EXPECT_EQ(query_int(*db_, "SELECT COUNT(*) FROM items").value(), 0);
  EXPECT_EQ(db_->retry_count(), 0u);  // business errors are not retried
}

TEST_P(DatabaseTest, FailedStatementDoomsTheTransactionEvenIfFnIgnoresIt) {
  create_items_table();
  ASSERT_TRUE(exec(*db_, "INSERT INTO items (k, n) VALUES ('a', 1)"));
  int runs = 0;
  Status s = db_->transact([&](Transaction& tx) -> Status {
    ++runs;
    EXPECT_TRUE(tx.execute("INSERT INTO items (k, n) VALUES ('b', 1)"));
    auto dup = tx.execute("INSERT INTO items (k, n) VALUES ('a', 2)");
    EXPECT_FALSE(dup);
    auto after = tx.execute("INSERT INTO items (k, n) VALUES ('c', 3)");
    EXPECT_FALSE(after);  // the transaction already failed
    return {};            // and fn pretends all is well
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(query_int(*db_, "SELECT COUNT(*) FROM items").value(), 1);
}

TEST_P(DatabaseTest, UniqueViolationIsConflictNamingTheTableButNotTheValue) {
  create_items_table();
  const std::string secret = "sekrit-account-token-4711";
  ASSERT_TRUE(exec(*db_, "INSERT INTO items (k, n) VALUES ($1, 1)", {secret}));
  Status s = exec(*db_, "INSERT INTO items (k, n) VALUES ($1, 2)", {secret});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_NE(s.error().message.find("items"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().message.find(secret), std::string::npos) << s.error().message;
  // Upsert-style "insert unless present" is not an error.
  auto inserted = db_->transact([&](Transaction& tx) {
    return tx.execute("INSERT INTO items (k, n) VALUES ($1, 3) ON CONFLICT (k) DO NOTHING", {secret});
  });
  ASSERT_TRUE(inserted) << inserted.error().to_string();
  EXPECT_EQ(*inserted, 0);
}

TEST_P(DatabaseTest, OtherErrorsAreInternalAndHideValues) {
  create_items_table();
  const std::string secret = "sekrit-4242";
  // CHECK constraint.
  Status check = exec(*db_, "INSERT INTO items (k, n) VALUES ($1, $2)", {secret, int64_t{-1}});
  ASSERT_FALSE(check);
  EXPECT_EQ(check.error().code, ErrorCode::kInternal);
  EXPECT_EQ(check.error().message.find(secret), std::string::npos) << check.error().message;
  // NOT NULL.
  Status not_null = exec(*db_, "INSERT INTO items (k, n) VALUES ($1, $2)", {secret, kSqlNull});
  ASSERT_FALSE(not_null);
  EXPECT_EQ(not_null.error().code, ErrorCode::kInternal);
  EXPECT_EQ(not_null.error().message.find(secret), std::string::npos) << not_null.error().message;
  // Syntax error.
  Status syntax = exec(*db_, "INSERT INTO nowhere VALUES ($1)", {secret});
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().code, ErrorCode::kInternal);
  EXPECT_EQ(syntax.error().message.find(secret), std::string::npos) << syntax.error().message;
  if (db_->dialect() == Dialect::kPostgres) {
    // A data exception quotes the offending input in the server's message.
    auto cast = query_int(*db_, "SELECT CAST($1 AS INTEGER)", {secret});
    ASSERT_FALSE(cast);
    EXPECT_EQ(cast.error().code, ErrorCode::kInternal);
    EXPECT_EQ(cast.error().message.find(secret), std::string::npos) << cast.error().message;
    EXPECT_NE(cast.error().message.find("22P02"), std::string::npos) << cast.error().message;
  }
}

TEST_P(DatabaseTest, ResultFormIsResetOnRetryAndReturnsTheValue) {
  create_items_table();
  auto r = db_->transact([&](Transaction& tx) -> Result<std::string> {
    auto n = tx.execute("INSERT INTO items (k, n) VALUES ('x', 9)");
    if (!n) return std::unexpected(n.error());
    return std::string("inserted ") + std::to_string(*n);
  });
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, "inserted 1");
}

TEST_P(DatabaseTest, ReadOnlyTransactionsSeeDataAndCannotWrite) {
  create_items_table();
  ASSERT_TRUE(exec(*db_, "INSERT INTO items (k, n) VALUES ('a', 1)"));
  Status s = db_->read([&](Transaction& tx) -> Status {
    auto r = tx.execute("INSERT INTO items (k, n) VALUES ('b', 2)");
    if (!r) return std::unexpected(r.error());
    return {};
  });
  EXPECT_FALSE(s);
  EXPECT_EQ(query_int(*db_, "SELECT COUNT(*) FROM items").value(), 1);
  // The connection is writable again afterwards.
  ASSERT_TRUE(exec(*db_, "INSERT INTO items (k, n) VALUES ('c', 3)"));
  EXPECT_EQ(query_int(*db_, "SELECT COUNT(*) FROM items").value(), 2);
}

TEST_P(DatabaseTest, TwoHandlesSeeEachOthersCommits) {
  create_items_table();
  auto other = open(url_);
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(exec(*other, "INSERT INTO items (k, n) VALUES ('from-other', 1)"));
  EXPECT_EQ(query_int(*db_, "SELECT n FROM items WHERE k = 'from-other'").value(), 1);
}

// A writer holds the write lock (SQLite) or a row (PostgreSQL) while another handle, as another process would, writes
// the same data: the second transaction fails with contention at first, is retried, and succeeds.
TEST_P(DatabaseTest, RetriesThroughContention) {
  ASSERT_TRUE(exec(*db_, ddl("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
                             "CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")));
  ASSERT_TRUE(exec(*db_, "INSERT INTO counter (id, n) VALUES (1, 0)"));
  DatabaseOptions impatient;
  impatient.sqlite_busy_timeout = 5ms;
  impatient.retry = {.max_attempts = 100, .initial_backoff = 5ms, .max_backoff = 20ms};
  auto second = open(url_, impatient);
  ASSERT_NE(second, nullptr);

  std::promise<void> inside;
  std::promise<void> may_commit;
  auto holder = std::async(std::launch::async, [&] {
    bool first_run = true;
    return db_->transact([&](Transaction& tx) -> Status {
      auto r = tx.execute("UPDATE counter SET n = n + 1 WHERE id = 1");
      if (!r) return std::unexpected(r.error());
      if (first_run) {
        first_run = false;
        inside.set_value();
        may_commit.get_future().wait();
      }
      return {};
    });
  });
  inside.get_future().wait();
  auto contender = std::async(std::launch::async, [&] {
    return second->transact([&](Transaction& tx) -> Status {
      // Read first, so that on PostgreSQL the snapshot predates the holder's commit.
      auto before = tx.query_row("SELECT n FROM counter WHERE id = 1");
      if (!before) return std::unexpected(before.error());
      auto r = tx.execute("UPDATE counter SET n = n + 10 WHERE id = 1");
      if (!r) return std::unexpected(r.error());
      return {};
    });
  });
  std::this_thread::sleep_for(300ms);
  may_commit.set_value();
  Status held = holder.get();
  Status contended = contender.get();
  ASSERT_TRUE(held) << held.error().to_string();
  ASSERT_TRUE(contended) << contended.error().to_string();
  EXPECT_GT(second->retry_count(), 0u);
  EXPECT_EQ(query_int(*db_, "SELECT n FROM counter WHERE id = 1").value(), 11);
}

// Read-modify-write increments from two handles and several threads each: no update is lost, no error surfaces.
TEST_P(DatabaseTest, ConcurrentIncrementsFromTwoHandlesLoseNothing) {
  ASSERT_TRUE(exec(*db_, ddl("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
                             "CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")));
  ASSERT_TRUE(exec(*db_, "INSERT INTO counter (id, n) VALUES (1, 0)"));
  DatabaseOptions options;
  options.retry.max_attempts = 200;
  auto a = open(url_, options);
  auto b = open(url_, options);
  ASSERT_TRUE(a && b);
  constexpr int kThreadsPerHandle = 4;
  constexpr int kIncrements = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (auto* db : {a.get(), b.get()}) {
    for (int t = 0; t < kThreadsPerHandle; ++t) {
      threads.emplace_back([&, db] {
        for (int i = 0; i < kIncrements; ++i) {
          Status s = db->transact([&](Transaction& tx) -> Status {
            auto row = tx.query_row("SELECT n FROM counter WHERE id = 1");
            if (!row) return std::unexpected(row.error());
            auto n = (*row)->integer(0);
            if (!n) return std::unexpected(n.error());
            auto r = tx.execute("UPDATE counter SET n = $1 WHERE id = 1", {*n + 1});
            if (!r) return std::unexpected(r.error());
            return {};
          });
          if (!s) {
            ADD_FAILURE() << s.error().to_string();
            failures.fetch_add(1);
          }
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(query_int(*db_, "SELECT n FROM counter WHERE id = 1").value(), 2 * kThreadsPerHandle * kIncrements);
}

TEST_P(DatabaseTest, ManyThreadsShareASmallPool) {
  DatabaseOptions options;
  options.max_connections = 2;
  auto db = open(url_, options);
  ASSERT_NE(db, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto r = query_int(*db, "SELECT $1 * 2", {int64_t{t * 100 + i}});
        if (r && *r == 2 * (t * 100 + i)) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8 * 20);
}

TEST_P(DatabaseTest, SingleStatementsCommitByThemselves) {
  create_items_table();
  auto inserted = db_->execute("INSERT INTO items (k, n) VALUES ($1, $2)", {std::string("a"), int64_t{1}});
  ASSERT_TRUE(inserted) << inserted.error().to_string();
  EXPECT_EQ(*inserted, 1);
  auto rows = db_->query("SELECT k, n FROM items WHERE n >= $1", {int64_t{0}});
  ASSERT_TRUE(rows) << rows.error().to_string();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].text(0).value(), "a");
  // Visible to another handle at once: it was committed.
  auto other = open(url_);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(query_int(*other, "SELECT n FROM items WHERE k = 'a'").value(), 1);
  // Errors are classified as in transactions, and a failed statement leaves nothing behind.
  auto dup = db_->execute("INSERT INTO items (k, n) VALUES ('a', 2)");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  auto bad = db_->execute("INSERT INTO items (k, n) VALUES ('b', -5)");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
  EXPECT_EQ(query_int(*db_, "SELECT COUNT(*) FROM items").value(), 1);
  auto count_mismatch = db_->query("SELECT $1, $2", {int64_t{1}});
  ASSERT_FALSE(count_mismatch);
  EXPECT_EQ(count_mismatch.error().code, ErrorCode::kInvalidArgument);
  // A BEGIN smuggled in as a statement is not left open on a pooled connection.
  (void)db_->execute("BEGIN");
  ASSERT_TRUE(db_->execute("INSERT INTO items (k, n) VALUES ('c', 3)"));
  EXPECT_EQ(query_int(*other, "SELECT COUNT(*) FROM items").value(), 2);
  if (db_->dialect() == Dialect::kSqlite) {
    auto write = db_->query("INSERT INTO items (k, n) VALUES ('d', 4)");
    EXPECT_FALSE(write);  // query() is read-only
    EXPECT_TRUE(db_->execute("INSERT INTO items (k, n) VALUES ('e', 5)"));  // and the connection is writable again
  }
}

// Compare-and-swap with single statements from many threads and two handles: exactly one claim wins, and plain
// increments add up.
TEST_P(DatabaseTest, SingleStatementCompareAndSwapUnderContention) {
  ASSERT_TRUE(exec(*db_, ddl("CREATE TABLE slots (id INTEGER PRIMARY KEY, owner TEXT, hits INTEGER NOT NULL)",
                             "CREATE TABLE slots (id BIGINT PRIMARY KEY, owner TEXT, hits BIGINT NOT NULL)")));
  constexpr int kSlots = 50;
  for (int i = 0; i < kSlots; ++i) {
    ASSERT_TRUE(db_->execute("INSERT INTO slots (id, hits) VALUES ($1, 0)", {int64_t{i}}));
  }
  auto other = open(url_);
  ASSERT_NE(other, nullptr);
  std::atomic<int> claims{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    Database* db = t % 2 == 0 ? db_.get() : other.get();
    threads.emplace_back([&, db, t] {
      for (int i = 0; i < kSlots; ++i) {
        auto claimed = db->execute("UPDATE slots SET owner = $1 WHERE id = $2 AND owner IS NULL",
                                   {"thread-" + std::to_string(t), int64_t{i}});
        auto hit = db->execute("UPDATE slots SET hits = hits + 1 WHERE id = $1", {int64_t{i}});
        if (!claimed || !hit) {
          errors.fetch_add(1);
          continue;
        }
        claims.fetch_add(static_cast<int>(*claimed));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claims.load(), kSlots);
  EXPECT_EQ(query_int(*db_, "SELECT COUNT(*) FROM slots WHERE owner IS NOT NULL").value(), kSlots);
  EXPECT_EQ(query_int(*db_, "SELECT SUM(hits) FROM slots").value(), 6 * kSlots);
}

// Statements are cached per connection (SQLite statements, PostgreSQL prepared statements): a schema change under
// a cached statement must not break it.
TEST_P(DatabaseTest, CachedStatementsSurviveSchemaChanges) {
  DatabaseOptions one;
  one.max_connections = 1;
  auto db = open(url_, one);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(exec(*db, "CREATE TABLE t (x BIGINT)"));
  ASSERT_TRUE(db->execute("INSERT INTO t (x) VALUES (1)"));
  auto before = db->query("SELECT * FROM t");
  ASSERT_TRUE(before) << before.error().to_string();
  ASSERT_EQ((*before)[0].size(), 1u);
  ASSERT_TRUE(exec(*db, "ALTER TABLE t ADD COLUMN y BIGINT NOT NULL DEFAULT 7"));
  auto after = db->query("SELECT * FROM t");
  ASSERT_TRUE(after) << after.error().to_string();
  ASSERT_EQ((*after)[0].size(), 2u);
  EXPECT_EQ((*after)[0].integer(1).value(), 7);
}

// The money transfer of database.h, from many threads over two handles: money is conserved, no balance goes
// negative, and every refused transfer is refused for a business reason, not a storage error.
TEST_P(DatabaseTest, ConcurrentTransfersConserveMoney) {
  ASSERT_TRUE(exec(*db_, ddl("CREATE TABLE accounts (id BLOB PRIMARY KEY, balance INTEGER NOT NULL "
                             "CHECK (balance >= 0))",
                             "CREATE TABLE accounts (id BYTEA PRIMARY KEY, balance BIGINT NOT NULL "
                             "CHECK (balance >= 0))")));
  constexpr int kAccounts = 4;
  constexpr int64_t kInitial = 100;
  std::vector<Bytes> ids;
  for (int i = 0; i < kAccounts; ++i) {
    ids.push_back(Bytes{0, static_cast<uint8_t>(i), 0});
    ASSERT_TRUE(db_->execute("INSERT INTO accounts (id, balance) VALUES ($1, $2)", {ids.back(), kInitial}));
  }
  auto transfer = [](Database& db, const Bytes& from, const Bytes& to, int64_t amount) -> Status {
    return db.transact([&](Transaction& tx) -> Status {
      auto row = tx.query_row("SELECT balance FROM accounts WHERE id = $1", {from});
      if (!row) return std::unexpected(row.error());
      if (!*row) return make_error(ErrorCode::kNotFound, "no such account");
      auto balance = (*row)->integer(0);
      if (!balance) return std::unexpected(balance.error());
      if (*balance < amount) return make_error(ErrorCode::kInsufficientBalance, "balance too low");
      auto debited = tx.execute("UPDATE accounts SET balance = balance - $2 WHERE id = $1", {from, amount});
      if (!debited) return std::unexpected(debited.error());
      auto credited = tx.execute("UPDATE accounts SET balance = balance + $2 WHERE id = $1", {to, amount});
      if (!credited) return std::unexpected(credited.error());
      if (*credited != 1) return make_error(ErrorCode::kNotFound, "no such recipient");
      return {};
    });
  };
  DatabaseOptions options;
  options.retry.max_attempts = 200;
  auto a = open(url_, options);
  auto b = open(url_, options);
  ASSERT_TRUE(a && b);
  std::atomic<int> done{0}, refused{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    Database* db = t % 2 == 0 ? a.get() : b.get();
    threads.emplace_back([&, db, t] {
      for (int i = 0; i < 40; ++i) {
        const Bytes& from = ids[static_cast<size_t>((t + i) % kAccounts)];
        const Bytes& to = ids[static_cast<size_t>((t + 2 * i + 1) % kAccounts)];
        Status s = transfer(*db, from, to, 7 + (i * 13 + t) % 60);
        if (s) {
          done.fetch_add(1);
        } else if (s.error().code == ErrorCode::kInsufficientBalance) {
          refused.fetch_add(1);
        } else {
          ADD_FAILURE() << s.error().to_string();
          failed.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(done.load(), 0);
  EXPECT_EQ(done.load() + refused.load(), 6 * 40);
  EXPECT_EQ(query_int(*db_, "SELECT SUM(balance) FROM accounts").value(), kAccounts * kInitial);
  EXPECT_EQ(query_int(*db_, "SELECT MIN(balance) FROM accounts").value() >= 0, true);
  // A transfer to a missing account rolls its debit back. It draws on the richest account (at least the average
  // balance), since the threads above may have emptied any particular one.
  auto richest = db_->query("SELECT id FROM accounts ORDER BY balance DESC LIMIT 1");
  ASSERT_TRUE(richest && richest->size() == 1u);
  auto richest_id = (*richest)[0].blob(0);
  ASSERT_TRUE(richest_id);
  Status missing = transfer(*db_, *richest_id, Bytes{9, 9}, 1);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(query_int(*db_, "SELECT SUM(balance) FROM accounts").value(), kAccounts * kInitial);
}

std::vector<MigrationStep> steps_v2() {
  return {
      {.sqlite = {"CREATE TABLE accounts (id BLOB PRIMARY KEY, balance INTEGER NOT NULL)"},
       .postgres = {"CREATE TABLE accounts (id BYTEA PRIMARY KEY, balance BIGINT NOT NULL)"}},
      {.sqlite = {"ALTER TABLE accounts ADD COLUMN created INTEGER NOT NULL DEFAULT 0",
                  "CREATE INDEX accounts_created ON accounts (created)"},
       .postgres = {"ALTER TABLE accounts ADD COLUMN created BIGINT NOT NULL DEFAULT 0",
                    "CREATE INDEX accounts_created ON accounts (created)"}},
  };
}

TEST_P(DatabaseTest, MigrationsApplyOnceInOrder) {
  EXPECT_EQ(schema_version(*db_, "bank").value(), 0);
  auto steps = steps_v2();
  ASSERT_TRUE(migrate(*db_, "bank", std::span(steps).first(1)));
  EXPECT_EQ(schema_version(*db_, "bank").value(), 1);
  ASSERT_TRUE(migrate(*db_, "bank", steps));  // only step 2 runs (step 1 again would fail: table exists)
  EXPECT_EQ(schema_version(*db_, "bank").value(), 2);
  ASSERT_TRUE(migrate(*db_, "bank", steps));  // idempotent
  EXPECT_EQ(schema_version(*db_, "bank").value(), 2);
  ASSERT_TRUE(exec(*db_, "INSERT INTO accounts (id, balance, created) VALUES ($1, 5, 7)", {Bytes{1, 0, 2}}));
  // Components are independent.
  EXPECT_EQ(schema_version(*db_, "other").value(), 0);
  // An older build refuses a newer schema.
  Status old = migrate(*db_, "bank", std::span(steps).first(1));
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, ErrorCode::kUnsupported);
}

TEST_P(DatabaseTest, FailedMigrationStepLeavesNoTrace) {
  std::vector<MigrationStep> steps = {
      {.sqlite = {"CREATE TABLE good (x INTEGER)"}, .postgres = {"CREATE TABLE good (x BIGINT)"}},
      {.sqlite = {"CREATE TABLE half (x INTEGER)", "THIS IS NOT SQL"},
       .postgres = {"CREATE TABLE half (x BIGINT)", "THIS IS NOT SQL"}},
  };
  Status s = migrate(*db_, "c", steps);
  ASSERT_FALSE(s);
  EXPECT_EQ(schema_version(*db_, "c").value(), 1);
  EXPECT_TRUE(exec(*db_, "INSERT INTO good (x) VALUES (1)"));
  EXPECT_FALSE(exec(*db_, "INSERT INTO half (x) VALUES (1)"));  // rolled back with its step (DDL is transactional)
  // A data migration step (run) takes part in the same transaction.
  std::vector<MigrationStep> with_run = {
      steps[0],
      {.sqlite = {"CREATE TABLE half (x INTEGER)"},
       .postgres = {"CREATE TABLE half (x BIGINT)"},
       .run = [](Transaction& tx) -> Status {
         auto r = tx.execute("INSERT INTO half (x) VALUES ($1)", {int64_t{42}});
         if (!r) return std::unexpected(r.error());
         return {};
       }},
  };
  ASSERT_TRUE(migrate(*db_, "c", with_run));
  EXPECT_EQ(query_int(*db_, "SELECT x FROM half").value(), 42);
}

TEST_P(DatabaseTest, ConcurrentMigratorsApplyEachStepOnce) {
  auto steps = steps_v2();
  std::vector<std::shared_ptr<Database>> handles;
  for (int i = 0; i < 4; ++i) handles.push_back(open(url_));
  std::vector<std::future<Status>> results;
  for (auto& h : handles) {
    results.push_back(std::async(std::launch::async, [&steps, h] { return migrate(*h, "bank", steps); }));
  }
  for (auto& r : results) {
    Status s = r.get();
    EXPECT_TRUE(s) << s.error().to_string();
  }
  EXPECT_EQ(schema_version(*db_, "bank").value(), 2);
  EXPECT_EQ(query_int(*db_, "SELECT COUNT(*) FROM schema_migrations WHERE component = 'bank'").value(), 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         backend_name);

// ---------------------------------------------------------------------------------------------------------------------
// SQLite-only behaviour

TEST(SqliteDatabase, GivesUpAsUnavailableWhenBusyTooLong) {
  openpcc::test_support::TempDir dir("openpcc-store");
  std::string url = "sqlite:" + (dir / "busy.db").string();
  auto holder = open_database(url);
  ASSERT_TRUE(holder) << holder.error().to_string();
  DatabaseOptions impatient;
  impatient.sqlite_busy_timeout = 5ms;
  impatient.retry = {.max_attempts = 3, .initial_backoff = 2ms, .max_backoff = 5ms};
  auto contender = open_database(url, impatient);
  ASSERT_TRUE(contender) << contender.error().to_string();

  std::promise<void> inside;
  std::promise<void> release;
  auto held = std::async(std::launch::async, [&] {
    return (*holder)->transact([&](Transaction&) -> Status {
      inside.set_value();
      release.get_future().wait();
      return {};
    });
  });
  inside.get_future().wait();
  Status s = (*contender)->transact([](Transaction& tx) -> Status {
    auto r = tx.execute("CREATE TABLE t (x INTEGER)");
    if (!r) return std::unexpected(r.error());
    return {};
  });
  release.set_value();
  ASSERT_TRUE(held.get());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << s.error().to_string();
  EXPECT_EQ((*contender)->retry_count(), 2u);
}

TEST(SqliteDatabase, SingleStatementRetriesThroughAnotherProcessesWriteLock) {
  openpcc::test_support::TempDir dir("openpcc-store");
  std::string url = "sqlite:" + (dir / "busy.db").string();
  auto holder = open_database(url);
  ASSERT_TRUE(holder) << holder.error().to_string();
  ASSERT_TRUE(exec(**holder, "CREATE TABLE t (x INTEGER)"));
  DatabaseOptions impatient;
  impatient.sqlite_busy_timeout = 5ms;
  impatient.retry = {.max_attempts = 100, .initial_backoff = 5ms, .max_backoff = 20ms};
  auto contender = open_database(url, impatient);
  ASSERT_TRUE(contender) << contender.error().to_string();

  std::promise<void> inside;
  std::promise<void> release;
  auto held = std::async(std::launch::async, [&] {
    return (*holder)->transact([&](Transaction& tx) -> Status {
      if (!tx.execute("INSERT INTO t (x) VALUES (1)")) return make_error(ErrorCode::kInternal, "insert");
      inside.set_value();
      release.get_future().wait();
      return {};
    });
  });
  inside.get_future().wait();
  auto write = std::async(std::launch::async, [&] { return (*contender)->execute("INSERT INTO t (x) VALUES (2)"); });
  std::this_thread::sleep_for(200ms);
  release.set_value();
  ASSERT_TRUE(held.get());
  auto written = write.get();
  ASSERT_TRUE(written) << written.error().to_string();
  EXPECT_GT((*contender)->retry_count(), 0u);
  EXPECT_EQ(query_int(**holder, "SELECT SUM(x) FROM t").value(), 3);
}

TEST(SqliteDatabase, FileIsInWalModeWithFullSync) {
  openpcc::test_support::TempDir dir("openpcc-store");
  auto db = open_database("sqlite:" + (dir / "wal.db").string());
  ASSERT_TRUE(db) << db.error().to_string();
  auto mode = (*db)->read([](Transaction& tx) -> Result<std::string> {
    auto row = tx.query_row("PRAGMA journal_mode");
    if (!row) return std::unexpected(row.error());
    return (*row)->text(0);
  });
  ASSERT_TRUE(mode) << mode.error().to_string();
  EXPECT_EQ(*mode, "wal");
  auto sync = query_int(**db, "PRAGMA synchronous");
  ASSERT_TRUE(sync) << sync.error().to_string();
  EXPECT_EQ(*sync, 2);  // FULL
  auto fk = query_int(**db, "PRAGMA foreign_keys");
  ASSERT_TRUE(fk);
  EXPECT_EQ(*fk, 1);
}

TEST(SqliteDatabase, InMemoryDatabasesAreSeparateAndKeepTheirData) {
  auto a = open_database("sqlite::memory:");
  auto b = open_database("sqlite::memory:");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(exec(**a, "CREATE TABLE t (x INTEGER)"));
  ASSERT_TRUE(exec(**a, "INSERT INTO t (x) VALUES (1)"));
  EXPECT_EQ(query_int(**a, "SELECT x FROM t").value(), 1);
  EXPECT_FALSE(query_int(**b, "SELECT x FROM t"));  // no such table in b
  // Threads queue for the single connection.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (exec(**a, "INSERT INTO t (x) VALUES (2)")) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(query_int(**a, "SELECT COUNT(*) FROM t").value(), 101);
}

TEST(SqliteDatabase, FloatingPointColumnsAreRefused) {
  auto db = open_database("sqlite::memory:");
  ASSERT_TRUE(db);
  auto r = query_int(**db, "SELECT 1.5");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
}

// ---------------------------------------------------------------------------------------------------------------------
// URLs

TEST(OpenDatabase, RejectsUnknownAndMalformedUrls) {
  const std::vector<std::string> urls = {"",
                                         "mysql://localhost/db",
                                         "sqlite:",
                                         "sqlite://relative",
                                         "file:/tmp/x.db",
                                         "SQLITE:/tmp/x.db",
                                         "postgresql:/no-slashes",
                                         std::string("sqlite:/tmp/a\0b", 15)};
  for (const std::string& url : urls) {
    auto db = open_database(url);
    ASSERT_FALSE(db) << url;
    EXPECT_EQ(db.error().code, ErrorCode::kInvalidArgument) << url << ": " << db.error().to_string();
  }
}

TEST(OpenDatabase, UnreachableTargetsAreUnavailable) {
  auto file = open_database("sqlite:/nonexistent-openpcc-dir/sub/x.db");
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code, ErrorCode::kUnavailable) << file.error().to_string();

  // Port 1 on loopback: nothing listens. The password must not show up in the error.
  auto pg = open_database("postgresql://user:hunter2secret@127.0.0.1:1/db?connect_timeout=2");
  ASSERT_FALSE(pg);
  EXPECT_EQ(pg.error().code, ErrorCode::kUnavailable) << pg.error().to_string();
  EXPECT_EQ(pg.error().message.find("hunter2secret"), std::string::npos) << pg.error().message;
  auto pg2 = open_database("postgres://127.0.0.1:1/db?connect_timeout=2");
  ASSERT_FALSE(pg2);
  EXPECT_EQ(pg2.error().code, ErrorCode::kUnavailable);
}

TEST(OpenDatabase, WrongPostgresDatabaseIsUnavailable) {
  auto server = openpcc::test_support::PostgresServer::get();
  ASSERT_TRUE(server) << server.error().to_string();
  auto db = open_database((*server)->url("no_such_database"));
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(db.error().message.find("no_such_database"), std::string::npos) << db.error().message;
}

// Read-only transactions refuse writing pragmas too, while pragma queries stay allowed (FileIsInWalMode… above).
TEST(SqliteDatabase, ReadOnlyTransactionsRefuseWritingPragmas) {
  openpcc::test_support::TempDir dir("openpcc-store");
  auto db = open_database("sqlite:" + (dir / "ro.db").string());
  ASSERT_TRUE(db) << db.error().to_string();
  Status s = (*db)->read([](Transaction& tx) -> Status {
    auto r = tx.execute("PRAGMA user_version = 7");
    if (!r) return std::unexpected(r.error());
    return {};
  });
  EXPECT_FALSE(s);
  EXPECT_EQ(query_int(**db, "PRAGMA user_version").value(), 0);
}

}  // namespace
}  // namespace openpcc::store
