// A small SQL layer over SQLite and PostgreSQL, shared by the bank ledgers, the nonce store and the transparency log.
//
//   auto db = store::open_database("sqlite:/var/lib/openpcc/bank.db");     // or "postgresql://user@host/db"
//   Result<int64_t> balance = (*db)->transact([&](store::Transaction& tx) -> Result<int64_t> {
//     auto row = tx.query_row("SELECT balance FROM accounts WHERE id = $1", {account_id});
//     if (!row) return std::unexpected(row.error());
//     if (!*row) return make_error(ErrorCode::kNotFound, "no such account");
//     return (*row)->integer(0);
//   });
//
// SQL is written once with PostgreSQL's `$1..$N` placeholders; the SQLite backend translates them. Where the
// dialects differ (column types: BLOB vs BYTEA, INTEGER vs BIGINT; upserts are the same: INSERT ... ON CONFLICT),
// callers branch on dialect().
//
// Transactions: transact(fn) runs fn in a read-write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE),
// commits if fn succeeds and rolls back if it fails. Contention (SQLITE_BUSY/SQLITE_LOCKED, PostgreSQL SQLSTATE
// 40001 serialization failure / 40P01 deadlock) makes the whole fn run again after a short randomized backoff, a
// bounded number of times, so:
//   * fn must be safe to run more than once: no side effects outside the transaction (no sending, no logging of
//     "done"), and any state it fills in must be reset at its start. The Result<T> form below does that for you.
//   * Once any statement in a transaction fails, the transaction is doomed on both backends (as PostgreSQL does by
//     itself): later statements fail at once and nothing is committed, even if fn swallows the error and returns
//     success. "Insert unless present" is `INSERT ... ON CONFLICT DO NOTHING` and a look at the affected-row count,
//     not a caught kConflict.
//   * Do not nest: calling transact() on the same Database inside fn takes a second connection and can wait on the
//     first one until the busy timeout.
//   * Both isolation levels are serializable, so read-check-write is safe as written. A money transfer, the same SQL
//     on both dialects (the CHECK makes an overdraft a failed statement even if the check in C++ were forgotten):
//       CREATE TABLE accounts (id BLOB/BYTEA PRIMARY KEY, balance INTEGER/BIGINT NOT NULL CHECK (balance >= 0))
//       Status s = db->transact([&](Transaction& tx) -> Status {
//         auto row = tx.query_row("SELECT balance FROM accounts WHERE id = $1", {from});
//         if (!row) return std::unexpected(row.error());
//         if (!*row) return make_error(ErrorCode::kNotFound, "no such account");
//         auto balance = (*row)->integer(0);
//         if (!balance) return std::unexpected(balance.error());
//         if (*balance < amount) return make_error(ErrorCode::kInsufficientBalance, "balance too low");
//         auto debited = tx.execute("UPDATE accounts SET balance = balance - $2 WHERE id = $1", {from, amount});
//         if (!debited) return std::unexpected(debited.error());
//         auto credited = tx.execute("UPDATE accounts SET balance = balance + $2 WHERE id = $1", {to, amount});
//         if (!credited) return std::unexpected(credited.error());
//         if (*credited != 1) return make_error(ErrorCode::kNotFound, "no such recipient");  // rolls back the debit
//         return {};
//       });
//     Concurrent transfers from one account either serialize (SQLite: one writer at a time) or one of them gets a
//     serialization failure and runs again, seeing the other's debit (PostgreSQL).
//
// Single statements: execute()/query() run one auto-committed statement (see below): one round trip instead of
// three on PostgreSQL, for hot paths such as the nonce store.
//
// Statement caching: SQLite keeps prepared statements per connection; PostgreSQL prepares each statement once per
// connection (named server-side statements keyed by SQL and parameter types). Write SQL as constants with
// placeholders, never by pasting values in: that is both the injection rule and what makes the caches work.
//
// Errors (ErrorCode): kUnavailable — busy or not reachable even after the retries, or out of disk space (SQLite:
// SQLITE_FULL, or a write refused with ENOSPC/EDQUOT/EFBIG); the transaction was rolled back and retrying later may work;
// kConflict — a unique or primary-key constraint was violated (the message names the constraint/table, so a caller
// can tell which key was duplicated); kInvalidArgument — the call itself was malformed (parameter count);
// kUnsupported — a floating-point column; kInternal — anything else (SQL errors, other constraints). Messages never
// contain bound parameter values: they may be secrets.
//
// Threads and processes: a Database is safe to share between threads; it keeps a small pool of connections (one per
// concurrent transaction). Several processes may open the same database at once (two banks on one SQLite file, many
// routers on one PostgreSQL server); the transaction rules above keep them consistent.
//
// Blocking: every call here blocks the calling thread on disk or network I/O (and, under contention, on backoff
// sleeps). Services call it from a worker pool, never from a network coroutine or an event-loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::store {

enum class Dialect { kSqlite, kPostgres };
std::string_view to_string(Dialect dialect);

// A bound parameter or a column value: NULL, a 64-bit integer, text, or a blob (any bytes, NULs included).
// SQLite REAL and PostgreSQL floating/other non-integer types are not supported: money and counters are integers.
using SqlValue = std::variant<std::monostate, int64_t, std::string, Bytes>;
inline constexpr std::monostate kSqlNull{};
inline SqlValue sql_blob(ByteSpan b) { return Bytes(b.begin(), b.end()); }

// One result row. Accessors check the index and the type; a NULL is only accepted by the nullable_* forms.
class Row {
 public:
  Row() = default;
  explicit Row(std::vector<SqlValue> values) : values_(std::move(values)) {}

  size_t size() const { return values_.size(); }
  const std::vector<SqlValue>& values() const { return values_; }

  Result<bool> is_null(size_t column) const;
  Result<int64_t> integer(size_t column) const;
  Result<std::string> text(size_t column) const;
  Result<Bytes> blob(size_t column) const;
  Result<std::optional<int64_t>> nullable_integer(size_t column) const;
  Result<std::optional<std::string>> nullable_text(size_t column) const;
  Result<std::optional<Bytes>> nullable_blob(size_t column) const;

 private:
  Result<const SqlValue*> at(size_t column) const;
  std::vector<SqlValue> values_;
};

// The statements of one transaction. Only valid inside the function given to Database::transact.
class Transaction {
 public:
  virtual ~Transaction() = default;

  virtual Dialect dialect() const = 0;

  // Runs one statement and returns all its rows (none for statements without a result).
  Result<std::vector<Row>> query(std::string_view sql, std::span<const SqlValue> params);
  Result<std::vector<Row>> query(std::string_view sql, std::initializer_list<SqlValue> params = {}) {
    return query(sql, std::span<const SqlValue>(params.begin(), params.size()));
  }
  // At most one row; more than one is an error (kInternal).
  Result<std::optional<Row>> query_row(std::string_view sql, std::span<const SqlValue> params);
  Result<std::optional<Row>> query_row(std::string_view sql, std::initializer_list<SqlValue> params = {}) {
    return query_row(sql, std::span<const SqlValue>(params.begin(), params.size()));
  }
  // Runs one statement and returns how many rows it inserted, updated or deleted.
  Result<int64_t> execute(std::string_view sql, std::span<const SqlValue> params);
  Result<int64_t> execute(std::string_view sql, std::initializer_list<SqlValue> params = {}) {
    return execute(sql, std::span<const SqlValue>(params.begin(), params.size()));
  }

  // What a backend returns for one statement.
  struct StatementResult {
    std::vector<Row> rows;
    int64_t affected = 0;
  };

 protected:
  // Backends run one statement, setting *retryable when it failed from contention (or a connection lost before
  // commit). The base class implements the "doomed after the first failure" rule around it.
  virtual Result<StatementResult> run(std::string_view sql, std::span<const SqlValue> params, bool* retryable) = 0;

 private:
  friend class Database;
  std::optional<Error> failure_;    // the first failed statement's error
  bool failure_retryable_ = false;  // that failure was contention (busy/serialization): run fn again
  Result<StatementResult> run_checked(std::string_view sql, std::span<const SqlValue> params);
};

struct RetryPolicy {
  int max_attempts = 12;  // runs of fn, the first one included
  std::chrono::milliseconds initial_backoff{2};
  std::chrono::milliseconds max_backoff{200};
};

struct DatabaseOptions {
  // Connections kept at most (one per concurrent transaction). sqlite::memory: always uses exactly one.
  int max_connections = 8;
  // SQLite: how long one statement waits for another process's write lock before reporting busy.
  std::chrono::milliseconds sqlite_busy_timeout{1000};
  RetryPolicy retry;
};

enum class Access { kReadWrite, kReadOnly };

class Database {
 public:
  virtual ~Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  virtual Dialect dialect() const = 0;

  // The core: runs fn in a transaction with the retry rules above. fn's own error is returned as it is.
  Status run_transaction(Access access, const std::function<Status(Transaction&)>& fn);

  // transact(fn) with fn returning Status or Result<T>; returns the same type. read(fn) is the read-only variant
  // (SQLite: a deferred transaction that never waits for writers in WAL mode; PostgreSQL: SERIALIZABLE READ ONLY).
  template <class F>
    requires std::invocable<F&, Transaction&>
  auto transact(F&& fn) {
    return transact_with(Access::kReadWrite, fn);
  }
  template <class F>
    requires std::invocable<F&, Transaction&>
  auto read(F&& fn) {
    return transact_with(Access::kReadOnly, fn);
  }

  // One statement on its own, auto-committed: one round trip on PostgreSQL instead of three (BEGIN, statement,
  // COMMIT), for hot paths where one statement is the whole change. Retried on contention like transact(). Unlike
  // transact(), PostgreSQL runs it at the session's default isolation (READ COMMITTED unless the server says
  // otherwise): INSERT ... ON CONFLICT and UPDATE/DELETE ... WHERE then re-check a row that a concurrent writer
  // changed instead of failing, so write such statements as compare-and-swap (the WHERE names the state you saw).
  // execute() may write and returns the affected-row count; query() must only read (SQLite enforces it).
  Result<int64_t> execute(std::string_view sql, std::span<const SqlValue> params);
  Result<int64_t> execute(std::string_view sql, std::initializer_list<SqlValue> params = {}) {
    return execute(sql, std::span<const SqlValue>(params.begin(), params.size()));
  }
  Result<std::vector<Row>> query(std::string_view sql, std::span<const SqlValue> params);
  Result<std::vector<Row>> query(std::string_view sql, std::initializer_list<SqlValue> params = {}) {
    return query(sql, std::span<const SqlValue>(params.begin(), params.size()));
  }

  // Runs that were repeated because of contention, since open (for metrics and tests).
  uint64_t retry_count() const;

 protected:
  explicit Database(DatabaseOptions options);

  // One attempt: begin, fn, commit (or roll back). Sets *retryable when the failure was contention or a lost
  // connection before commit, i.e. when running fn again may succeed.
  virtual Status attempt(Access access, const std::function<Status(Transaction&)>& fn, bool* retryable) = 0;
  // One attempt of a single auto-committed statement. *retryable as above; a write whose outcome is unknown (the
  // connection was lost while it ran) is not retryable.
  virtual Result<Transaction::StatementResult> attempt_statement(Access access, std::string_view sql,
                                                                 std::span<const SqlValue> params,
                                                                 bool* retryable) = 0;

  // For backends: whether a transaction's statements failed, and how.
  static const std::optional<Error>& statement_failure(const Transaction& tx) { return tx.failure_; }
  static bool statement_failure_retryable(const Transaction& tx) { return tx.failure_retryable_; }

  const DatabaseOptions options_;

 private:
  template <class F>
  auto transact_with(Access access, F& fn) {
    using R = std::invoke_result_t<F&, Transaction&>;
    if constexpr (std::is_same_v<R, Status>) {
      return run_transaction(access, std::function<Status(Transaction&)>(std::ref(fn)));
    } else {
      using T = typename R::value_type;
      std::optional<T> out;
      Status s = run_transaction(access, [&](Transaction& tx) -> Status {
        out.reset();  // a retried run starts clean
        R r = fn(tx);
        if (!r) return std::unexpected(std::move(r.error()));
        out.emplace(std::move(*r));
        return {};
      });
      if (!s) return R(std::unexpected(std::move(s.error())));
      return R(std::move(*out));
    }
  }

  // Calls attempt_once(&retryable) until it succeeds, fails for good, or runs out of attempts.
  template <class R, class Attempt>
  R with_retries(Attempt&& attempt_once);

  std::atomic<uint64_t> retries_{0};
};

// url: "sqlite:/path/to/file.db" (or a relative path after "sqlite:"), "sqlite::memory:" (one private in-memory
// database, for tests), "postgresql://..." or "postgres://..." (a libpq connection URI). Opens one connection at
// once, so a bad path, server or credentials fails here; kUnavailable when the server cannot be reached,
// kInvalidArgument for a URL of another form.
Result<std::shared_ptr<Database>> open_database(std::string_view url, DatabaseOptions options = {});

}  // namespace openpcc::store
