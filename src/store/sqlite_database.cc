// SQLite backend: WAL journal (readers never wait for the writer), synchronous=FULL (a committed ledger entry
// survives power loss), foreign keys on, one connection per concurrent transaction.
//
// SQLite allows one writer at a time per database. Inside one process, read-write transactions queue on a mutex
// before BEGIN IMMEDIATE, so threads wait in order instead of polling SQLite's busy handler; other processes are
// met by the busy timeout and then by the retry loop.
#include <sqlite3.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_map>

#include "store/backends.h"
#include "store/connection_pool.h"
#include "store/sql_text.h"

namespace openpcc::store {
namespace {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

constexpr size_t kStatementCacheLimit = 128;

// Classifies a result code. Messages come from sqlite3_errmsg, which names tables, columns and constraints but
// never bound values.
Error sqlite_error(sqlite3* db, int rc, std::string_view context, bool* retryable) {
  const int os_errno = errno;  // the failed system call's, when SQLite does not keep it (below)
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = "sqlite: " + std::string(context) + ": " + detail;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      if (retryable) *retryable = true;
      return Error{ErrorCode::kUnavailable, std::move(message)};
    case SQLITE_CANTOPEN:
      return Error{ErrorCode::kUnavailable, std::move(message)};
    case SQLITE_FULL:
      // The disk (or the database's page limit) is full: the transaction was rolled back, and the same call works
      // again once space is freed. Not retried here: that takes an operator, not a backoff.
      return Error{ErrorCode::kUnavailable, std::move(message)};
    case SQLITE_IOERR: {
      // A write refused for lack of space reports SQLITE_FULL only when the write came up short; a write that
      // started past the limit fails with ENOSPC, EDQUOT (quota) or EFBIG (RLIMIT_FSIZE) and SQLite calls it an I/O
      // error. Those are full disks too; other I/O errors (EIO, ...) stay internal. sqlite3_system_errno is often 0
      // after a failed COMMIT in WAL mode, while errno still holds the write's error.
      int err = db ? sqlite3_system_errno(db) : 0;
      if (err == 0) err = os_errno;
      if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
        return Error{ErrorCode::kUnavailable,
                     message + " (" + std::error_code(err, std::generic_category()).message() + ")"};
      }
      return Error{ErrorCode::kInternal, std::move(message)};
    }
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Error{ErrorCode::kConflict, std::move(message)};
      }
      return Error{ErrorCode::kInternal, std::move(message)};
    default:
      return Error{ErrorCode::kInternal, std::move(message)};
  }
}

// "PRAGMA name" without a value: reads a setting. sqlite3_stmt_readonly() says false for every pragma.
bool is_pragma_query(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  if (sql.size() - i < 6) return false;
  for (size_t k = 0; k < 6; ++k) {
    if (std::toupper(static_cast<unsigned char>(sql[i + k])) != "PRAGMA"[k]) return false;
  }
  return sql.find_first_of("=(") == std::string_view::npos;
}

class SqliteConnection {
 public:
  static Result<std::unique_ptr<SqliteConnection>> open(const std::string& path, bool in_memory,
                                                        const DatabaseOptions& options, bool* retryable) {
    sqlite3* raw = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc = sqlite3_open_v2(in_memory ? ":memory:" : path.c_str(), &raw, flags, nullptr);
    SqliteHandle db(raw);  // owned even when opening failed
    if (rc != SQLITE_OK) {
      return std::unexpected(sqlite_error(db.get(), rc, in_memory ? "open" : "open " + path, retryable));
    }
    sqlite3_busy_timeout(db.get(), static_cast<int>(options.sqlite_busy_timeout.count()));
    auto conn = std::unique_ptr<SqliteConnection>(new SqliteConnection(std::move(db)));
    if (!in_memory) {
      // The journal mode is stored in the file; asking again is cheap, and the answer proves it took.
      auto mode = conn->pragma_text("PRAGMA journal_mode=WAL", retryable);
      if (!mode) return std::unexpected(std::move(mode.error()));
      if (*mode != "wal") {
        return make_error(ErrorCode::kInternal, "sqlite: could not switch to WAL journal mode (got " + *mode + ")");
      }
    }
    for (const char* pragma : {"PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
      if (Status s = conn->exec(pragma, retryable); !s) return std::unexpected(std::move(s.error()));
    }
    return conn;
  }

  // A statement without parameters or results (BEGIN, COMMIT, pragmas).
  Status exec(const char* sql, bool* retryable) {
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_.get(), rc, sql, retryable));
    return {};
  }

  // Rolls back if a transaction is open; errors are moot (the connection is either idle afterwards or discarded).
  void rollback() {
    if (!sqlite3_get_autocommit(db_.get())) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool in_transaction() const { return !sqlite3_get_autocommit(db_.get()); }
  // Read-only mode refuses every statement that could write (sqlite3_stmt_readonly). Unlike PRAGMA query_only,
  // switching it costs nothing: the pragma expires every prepared statement, so each read re-prepared its SQL.
  void set_read_only(bool read_only) { read_only_ = read_only; }

  Result<Transaction::StatementResult> run(std::string_view sql, std::span<const SqlValue> params, bool* retryable);

 private:
  explicit SqliteConnection(SqliteHandle db) : db_(std::move(db)) {}

  Result<sqlite3_stmt*> prepare(std::string_view sql, bool* retryable);
  Result<std::string> pragma_text(const char* sql, bool* retryable);

  // Declared in this order so that statements are finalized before the connection closes.
  SqliteHandle db_;
  std::unordered_map<std::string, StatementHandle> statements_;  // keyed by the SQL as the caller wrote it
  bool read_only_ = false;
};

Result<sqlite3_stmt*> SqliteConnection::prepare(std::string_view sql, bool* retryable) {
  auto it = statements_.find(std::string(sql));
  if (it != statements_.end()) return it->second.get();
  std::string translated = sqlite_placeholders(sql);
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), translated.c_str(), static_cast<int>(translated.size() + 1),
                              SQLITE_PREPARE_PERSISTENT, &raw, &tail);
  StatementHandle stmt(raw);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_.get(), rc, "prepare", retryable));
  if (!stmt) return make_error(ErrorCode::kInvalidArgument, "sqlite: prepare: empty statement");
  if (tail && std::strspn(tail, " \t\r\n;") != std::strlen(tail)) {
    return make_error(ErrorCode::kInvalidArgument, "sqlite: prepare: more than one statement in one call");
  }
  if (statements_.size() >= kStatementCacheLimit) statements_.clear();
  sqlite3_stmt* out = stmt.get();
  statements_.emplace(std::string(sql), std::move(stmt));
  return out;
}

Result<std::string> SqliteConnection::pragma_text(const char* sql, bool* retryable) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr);
  StatementHandle stmt(raw);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_.get(), rc, sql, retryable));
  rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) return std::unexpected(sqlite_error(db_.get(), rc, sql, retryable));
  const unsigned char* text = sqlite3_column_text(stmt.get(), 0);
  return std::string(text ? reinterpret_cast<const char*>(text) : "");
}

Result<Transaction::StatementResult> SqliteConnection::run(std::string_view sql, std::span<const SqlValue> params,
                                                           bool* retryable) {
  auto prepared = prepare(sql, retryable);
  if (!prepared) return std::unexpected(std::move(prepared.error()));
  sqlite3_stmt* stmt = *prepared;
  if (read_only_ && !sqlite3_stmt_readonly(stmt) && !is_pragma_query(sql)) {
    return make_error(ErrorCode::kInvalidArgument, "sqlite: a read-only transaction cannot run a statement that writes");
  }
  // Unbind and reset on every exit: no pointer into the caller's (possibly secret) buffers outlives the call.
  struct ResetOnExit {
    sqlite3_stmt* stmt;
    ~ResetOnExit() {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    }
  } reset_on_exit{stmt};

  int expected = sqlite3_bind_parameter_count(stmt);
  if (static_cast<size_t>(expected) != params.size()) {
    return make_error(ErrorCode::kInvalidArgument, "sqlite: statement has " + std::to_string(expected) +
                                                       " parameters, " + std::to_string(params.size()) + " given");
  }
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i + 1);
    int rc = std::visit(
        [&](const auto& v) -> int {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::monostate>) {
            return sqlite3_bind_null(stmt, index);
          } else if constexpr (std::is_same_v<V, int64_t>) {
            return sqlite3_bind_int64(stmt, index, v);
          } else if constexpr (std::is_same_v<V, std::string>) {
            return sqlite3_bind_text64(stmt, index, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
          } else {
            // A null pointer would bind NULL; an empty blob is a zero-length blob.
            if (v.empty()) return sqlite3_bind_zeroblob(stmt, index, 0);
            return sqlite3_bind_blob64(stmt, index, v.data(), v.size(), SQLITE_STATIC);
          }
        },
        params[i]);
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_.get(), rc, "bind", retryable));
  }

  Transaction::StatementResult result;
  for (;;) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return std::unexpected(sqlite_error(db_.get(), rc, "step", retryable));
    int columns = sqlite3_column_count(stmt);
    std::vector<SqlValue> values;
    values.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL:
          values.emplace_back(std::monostate{});
          break;
        case SQLITE_INTEGER:
          values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c)));
          break;
        case SQLITE_TEXT: {
          const unsigned char* text = sqlite3_column_text(stmt, c);
          int size = sqlite3_column_bytes(stmt, c);
          values.emplace_back(std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size)));
          break;
        }
        case SQLITE_BLOB: {
          const auto* blob = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, c));
          int size = sqlite3_column_bytes(stmt, c);
          values.emplace_back(blob ? Bytes(blob, blob + size) : Bytes());
          break;
        }
        default:
          return make_error(ErrorCode::kUnsupported, "sqlite: column " + std::to_string(c) +
                                                         " is a floating-point value; store integers");
      }
    }
    result.rows.emplace_back(std::move(values));
  }
  // Only data-changing statements report changes; a SELECT would otherwise repeat the previous statement's count.
  result.affected = sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes64(db_.get());
  return result;
}

class SqliteTransaction final : public Transaction {
 public:
  explicit SqliteTransaction(SqliteConnection& conn) : conn_(conn) {}
  Dialect dialect() const override { return Dialect::kSqlite; }

 protected:
  Result<StatementResult> run(std::string_view sql, std::span<const SqlValue> params, bool* retryable) override {
    return conn_.run(sql, params, retryable);
  }

 private:
  SqliteConnection& conn_;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(std::string path, bool in_memory, DatabaseOptions options)
      : Database(std::move(options)),
        path_(std::move(path)),
        in_memory_(in_memory),
        // Each connection to ":memory:" is a database of its own, so an in-memory one has exactly one.
        pool_(in_memory ? 1 : options_.max_connections) {}

  Dialect dialect() const override { return Dialect::kSqlite; }

  // Opens the first connection now so that a bad path fails at open time (and an in-memory database lives as long
  // as this object: its only connection stays in the pool).
  Status warm_up() {
    bool ignored = false;
    auto lease = acquire(&ignored);
    if (!lease) return std::unexpected(std::move(lease.error()));
    return {};
  }

 protected:
  Status attempt(Access access, const std::function<Status(Transaction&)>& fn, bool* retryable) override {
    std::unique_lock<std::mutex> writer(writer_, std::defer_lock);
    if (access == Access::kReadWrite) writer.lock();
    auto lease = acquire(retryable);
    if (!lease) return std::unexpected(std::move(lease.error()));
    SqliteConnection& conn = **lease;

    conn.set_read_only(access == Access::kReadOnly);
    Status result = run_in_transaction(conn, access, fn, retryable);
    conn.set_read_only(false);
    // Never lend out a connection with a half-open transaction.
    if (conn.in_transaction()) lease->discard();
    return result;
  }

  Result<Transaction::StatementResult> attempt_statement(Access access, std::string_view sql,
                                                         std::span<const SqlValue> params, bool* retryable) override {
    std::unique_lock<std::mutex> writer(writer_, std::defer_lock);
    if (access == Access::kReadWrite) writer.lock();
    auto lease = acquire(retryable);
    if (!lease) return std::unexpected(std::move(lease.error()));
    SqliteConnection& conn = **lease;
    conn.set_read_only(access == Access::kReadOnly);
    // Outside BEGIN, SQLite commits the statement by itself (and rolls it back by itself if it fails).
    auto result = conn.run(sql, params, retryable);
    conn.set_read_only(false);
    if (conn.in_transaction()) {
      conn.rollback();  // the statement was a BEGIN: not ours to leave open
      lease->discard();
    }
    return result;
  }

 private:
  Result<ConnectionPool<SqliteConnection>::Lease> acquire(bool* retryable) {
    // Opening may meet another process switching the journal mode (busy): then the retry loop tries again.
    return pool_.acquire([&] { return SqliteConnection::open(path_, in_memory_, options_, retryable); });
  }

  static Status run_in_transaction(SqliteConnection& conn, Access access,
                                   const std::function<Status(Transaction&)>& fn, bool* retryable) {
    if (Status s = conn.exec(access == Access::kReadWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED", retryable); !s) {
      conn.rollback();
      return s;
    }
    SqliteTransaction tx(conn);
    Status s = fn(tx);
    if (const auto& failure = statement_failure(tx)) {
      conn.rollback();
      *retryable = statement_failure_retryable(tx);
      return s ? Status(std::unexpected(*failure)) : s;
    }
    if (!s) {
      conn.rollback();
      return s;
    }
    if (Status c = conn.exec("COMMIT", retryable); !c) {
      conn.rollback();
      return c;
    }
    return {};
  }

  std::string path_;
  bool in_memory_;
  std::mutex writer_;
  ConnectionPool<SqliteConnection> pool_;
};

}  // namespace

Result<std::shared_ptr<Database>> open_sqlite_database(std::string path, bool in_memory, DatabaseOptions options) {
  auto db = std::make_shared<SqliteDatabase>(std::move(path), in_memory, std::move(options));
  if (Status s = db->warm_up(); !s) return std::unexpected(std::move(s.error()));
  return db;
}

}  // namespace openpcc::store
