// PostgreSQL backend on libpq: SERIALIZABLE transactions, a pool of connections, parameters sent in binary with
// explicit types (int8, text, bytea), results received as text and converted by column type.
#include <libpq-fe.h>

#include <array>
#include <charconv>
#include <cstring>
#include <string>
#include <unordered_map>

#include "store/backends.h"
#include "store/connection_pool.h"
#include "store/sql_text.h"

namespace openpcc::store {
namespace {

// Type OIDs from PostgreSQL's pg_type catalog (stable across versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kOidOid = 26;
constexpr Oid kNumericOid = 1700;

struct ConnFinisher {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ConnHandle = std::unique_ptr<PGconn, ConnFinisher>;
using ResultHandle = std::unique_ptr<PGresult, ResultClearer>;

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Server notices ("relation already exists, skipping") are not errors; libpq would print them to stderr.
void ignore_notice(void*, const char*) {}

bool connection_lost(PGconn* conn) { return PQstatus(conn) != CONNECTION_OK; }

// Classifies a failed result. What goes into the message: SQLSTATE, the server's primary message, constraint and
// table names. What does not: DETAIL ("Key (id)=(42) already exists") and data-exception messages (class 22,
// "invalid input syntax ...: <value>"), which quote values.
Error postgres_error(PGconn* conn, const PGresult* result, std::string_view context, bool* retryable) {
  const char* state_field = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (!state_field) {
    // No server answer: the connection failed. Before COMMIT nothing was committed, so running again is safe.
    if (retryable) *retryable = true;
    return Error{ErrorCode::kUnavailable,
                 "postgres: " + std::string(context) + ": " + trimmed(PQerrorMessage(conn))};
  }
  std::string_view state = state_field;
  std::string where = "postgres: " + std::string(context) + ": ";
  std::string suffix = " (SQLSTATE " + std::string(state) + ")";
  if (state == "40001" || state == "40P01") {
    if (retryable) *retryable = true;
    return Error{ErrorCode::kUnavailable,
                 where + (state == "40001" ? "serialization failure" : "deadlock detected") + suffix};
  }
  if (state.starts_with("22")) {
    return Error{ErrorCode::kInternal, where + "data exception" + suffix};
  }
  std::string primary = trimmed(PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY));
  if (state == "23505") {
    std::string message = where + primary;
    if (const char* table = PQresultErrorField(result, PG_DIAG_TABLE_NAME)) {
      message += " (table \"" + std::string(table) + "\")";
    }
    return Error{ErrorCode::kConflict, message + suffix};
  }
  // Connection exceptions, shutdown, too many connections: try again later. (08P01, a protocol violation, is
  // our bug, not the network's.)
  if ((state.starts_with("08") && state != "08P01") || state.starts_with("57P") || state == "53300") {
    if (retryable) *retryable = true;
    return Error{ErrorCode::kUnavailable, where + primary + suffix};
  }
  return Error{ErrorCode::kInternal, where + primary + suffix};
}

Result<int64_t> parse_integer(std::string_view text, int column) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return make_error(ErrorCode::kUnsupported, "postgres: column " + std::to_string(column) +
                                                   " is not an integer within 64 bits");
  }
  return v;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea in its hex output form: \x followed by two hex digits per byte (we set bytea_output=hex).
Result<Bytes> parse_bytea(std::string_view text, int column) {
  if (!text.starts_with("\\x") || text.size() % 2 != 0) {
    return make_error(ErrorCode::kInternal, "postgres: column " + std::to_string(column) + ": unexpected bytea form");
  }
  Bytes out;
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i < text.size(); i += 2) {
    int hi = hex_digit(text[i]);
    int lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return make_error(ErrorCode::kInternal, "postgres: column " + std::to_string(column) + ": bad bytea hex");
    }
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

Result<SqlValue> column_value(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return SqlValue(std::monostate{});
  std::string_view text(PQgetvalue(result, row, column), static_cast<size_t>(PQgetlength(result, row, column)));
  switch (PQftype(result, column)) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid:
    case kNumericOid: {  // SUM(bigint) is numeric: accepted when it is a whole number within 64 bits
      auto v = parse_integer(text, column);
      if (!v) return std::unexpected(std::move(v.error()));
      return SqlValue(*v);
    }
    case kBoolOid:
      return SqlValue(int64_t{text == "t" ? 1 : 0});
    case kByteaOid: {
      auto v = parse_bytea(text, column);
      if (!v) return std::unexpected(std::move(v.error()));
      return SqlValue(std::move(*v));
    }
    default:  // text, varchar and any other type in its text form
      return SqlValue(std::string(text));
  }
}

class PostgresConnection {
 public:
  static Result<std::unique_ptr<PostgresConnection>> connect(const std::string& url) {
    ConnHandle conn(PQconnectdb(url.c_str()));
    if (!conn) return make_error(ErrorCode::kUnavailable, "postgres: connect: out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      return make_error(ErrorCode::kUnavailable, "postgres: connect: " + trimmed(PQerrorMessage(conn.get())));
    }
    PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
    auto self = std::unique_ptr<PostgresConnection>(new PostgresConnection(std::move(conn)));
    if (Status s = self->exec("SET client_encoding TO 'UTF8'; SET bytea_output TO 'hex'", nullptr); !s) {
      return std::unexpected(std::move(s.error()));
    }
    return self;
  }

  PGconn* get() const { return conn_.get(); }

  // A command without parameters (BEGIN, COMMIT, SET ...). *command_tag receives the server's tag ("COMMIT", or
  // "ROLLBACK" when COMMIT found the transaction failed).
  Status exec(const char* sql, bool* retryable, std::string* command_tag = nullptr) {
    ResultHandle result(PQexec(conn_.get(), sql));
    ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return std::unexpected(postgres_error(conn_.get(), result.get(), sql, retryable));
    }
    if (command_tag) *command_tag = PQcmdStatus(result.get());
    return {};
  }

  Result<Transaction::StatementResult> run(std::string_view sql, std::span<const SqlValue> params, bool* retryable);

 private:
  explicit PostgresConnection(ConnHandle conn) : conn_(std::move(conn)) {}

  // Statements are prepared once per connection (a named server-side statement, parsed and planned once) and then
  // only bound and executed: the key is the SQL with its parameter types, as a NULL leaves a type to the server.
  Result<std::string> prepare(std::string_view sql, const std::vector<Oid>& types, bool* retryable) {
    std::string key(sql);
    key.push_back('\0');
    for (Oid t : types) key += std::to_string(t) + ",";
    if (auto it = prepared_.find(key); it != prepared_.end()) return it->second;
    if (prepared_.size() >= kPreparedLimit) {
      if (Status s = exec("DEALLOCATE ALL", retryable); !s) return std::unexpected(std::move(s.error()));
      prepared_.clear();
    }
    std::string name = "openpcc_" + std::to_string(next_statement_++);
    std::string statement(sql);
    ResultHandle result(PQprepare(conn_.get(), name.c_str(), statement.c_str(), static_cast<int>(types.size()),
                                  types.data()));
    if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return std::unexpected(postgres_error(conn_.get(), result.get(), "prepare", retryable));
    }
    prepared_.emplace(std::move(key), name);
    return name;
  }

  void forget(const std::string& name) {
    for (auto it = prepared_.begin(); it != prepared_.end(); ++it) {
      if (it->second == name) {
        prepared_.erase(it);
        return;
      }
    }
  }

  static constexpr size_t kPreparedLimit = 256;
  ConnHandle conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL and parameter types → statement name
  uint64_t next_statement_ = 0;
};

Result<Transaction::StatementResult> PostgresConnection::run(std::string_view sql, std::span<const SqlValue> params,
                                                             bool* retryable) {
  // Checked here as SQLite checks it (the server would answer with a protocol violation).
  int expected = max_placeholder(sql);
  if (expected < 0) return make_error(ErrorCode::kInvalidArgument, "postgres: malformed $N placeholder");
  if (static_cast<size_t>(expected) != params.size()) {
    return make_error(ErrorCode::kInvalidArgument, "postgres: statement has " + std::to_string(expected) +
                                                       " parameters, " + std::to_string(params.size()) + " given");
  }
  const int n = static_cast<int>(params.size());
  std::vector<Oid> types(params.size(), 0);
  std::vector<const char*> values(params.size(), nullptr);
  std::vector<int> lengths(params.size(), 0);
  std::vector<int> formats(params.size(), 1);  // binary
  std::vector<std::array<char, 8>> integers(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const SqlValue& p = params[i];
    if (const auto* v = std::get_if<int64_t>(&p)) {
      uint64_t u = static_cast<uint64_t>(*v);
      for (int b = 0; b < 8; ++b) integers[i][static_cast<size_t>(b)] = static_cast<char>(u >> (56 - 8 * b));
      types[i] = kInt8Oid;
      values[i] = integers[i].data();
      lengths[i] = 8;
    } else if (const auto* s = std::get_if<std::string>(&p)) {
      types[i] = kTextOid;
      values[i] = s->data();
      lengths[i] = static_cast<int>(s->size());
    } else if (const auto* b = std::get_if<Bytes>(&p)) {
      static constexpr char kEmpty = 0;  // a non-null pointer: null means SQL NULL
      types[i] = kByteaOid;
      values[i] = b->empty() ? &kEmpty : reinterpret_cast<const char*>(b->data());
      lengths[i] = static_cast<int>(b->size());
    }
    // NULL: type 0 (the server infers it), value nullptr.
  }
  auto name = prepare(sql, types, retryable);
  if (!name) return std::unexpected(std::move(name.error()));
  ResultHandle result(PQexecPrepared(conn_.get(), name->c_str(), n, values.data(), lengths.data(), formats.data(),
                                     /*resultFormat=*/0));
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error e = postgres_error(conn_.get(), result.get(), "statement", retryable);
    const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    if (state && std::string_view(state) == "0A000") {
      // "cached plan must not change result type": a migration changed a table under a prepared statement.
      // Prepare it afresh and run the transaction again.
      forget(*name);
      *retryable = true;
    }
    return std::unexpected(std::move(e));
  }
  Transaction::StatementResult out;
  const char* tuples = PQcmdTuples(result.get());
  if (tuples && *tuples) {
    auto affected = parse_integer(tuples, -1);
    if (affected) out.affected = *affected;
  }
  if (status == PGRES_TUPLES_OK) {
    int rows = PQntuples(result.get());
    int columns = PQnfields(result.get());
    out.rows.reserve(static_cast<size_t>(rows));
    for (int r = 0; r < rows; ++r) {
      std::vector<SqlValue> row;
      row.reserve(static_cast<size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        auto v = column_value(result.get(), r, c);
        if (!v) return std::unexpected(std::move(v.error()));
        row.push_back(std::move(*v));
      }
      out.rows.emplace_back(std::move(row));
    }
    // A SELECT's tag also counts rows; only data-changing statements report "affected".
    std::string_view tag = PQcmdStatus(result.get());
    if (tag.starts_with("SELECT")) out.affected = 0;
  }
  return out;
}

class PostgresTransaction final : public Transaction {
 public:
  explicit PostgresTransaction(PostgresConnection& conn) : conn_(conn) {}
  Dialect dialect() const override { return Dialect::kPostgres; }

 protected:
  Result<StatementResult> run(std::string_view sql, std::span<const SqlValue> params, bool* retryable) override {
    return conn_.run(sql, params, retryable);
  }

 private:
  PostgresConnection& conn_;
};

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(std::string url, DatabaseOptions options)
      : Database(std::move(options)), url_(std::move(url)), pool_(options_.max_connections) {}

  Dialect dialect() const override { return Dialect::kPostgres; }

  Status warm_up() {
    auto lease = acquire();
    if (!lease) return std::unexpected(std::move(lease.error()));
    return {};
  }

 protected:
  Status attempt(Access access, const std::function<Status(Transaction&)>& fn, bool* retryable) override {
    auto lease = acquire();
    if (!lease) {
      *retryable = true;  // the server may be restarting; the retry loop gives it a moment
      return std::unexpected(std::move(lease.error()));
    }
    PostgresConnection& conn = **lease;
    Status result = run_in_transaction(conn, access, fn, retryable);
    if (connection_lost(conn.get()) || PQtransactionStatus(conn.get()) != PQTRANS_IDLE) lease->discard();
    return result;
  }

  Result<Transaction::StatementResult> attempt_statement(Access access, std::string_view sql,
                                                         std::span<const SqlValue> params, bool* retryable) override {
    auto lease = acquire();
    if (!lease) {
      *retryable = true;
      return std::unexpected(std::move(lease.error()));
    }
    PostgresConnection& conn = **lease;
    bool statement_retryable = false;
    auto result = conn.run(sql, params, &statement_retryable);
    const bool lost = connection_lost(conn.get());
    if (lost || PQtransactionStatus(conn.get()) != PQTRANS_IDLE) lease->discard();
    if (!result && lost && access == Access::kReadWrite) {
      // Auto-committed: the write may or may not have happened, so running it again could apply it twice.
      return make_error(ErrorCode::kUnavailable,
                        "postgres: connection lost during a statement; the outcome is unknown: " +
                            result.error().message);
    }
    *retryable = statement_retryable;
    return result;
  }

 private:
  Result<ConnectionPool<PostgresConnection>::Lease> acquire() {
    for (;;) {
      auto lease = pool_.acquire([&] { return PostgresConnection::connect(url_); });
      if (!lease) return lease;
      // A pooled connection may have died while idle (server restart): drop it and take another.
      if (!connection_lost((*lease)->get())) return lease;
      lease->discard();
    }
  }

  static Status run_in_transaction(PostgresConnection& conn, Access access,
                                   const std::function<Status(Transaction&)>& fn, bool* retryable) {
    const char* begin = access == Access::kReadWrite ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                                                     : "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY";
    if (Status s = conn.exec(begin, retryable); !s) return s;
    PostgresTransaction tx(conn);
    Status s = fn(tx);
    const auto& failure = statement_failure(tx);
    if (failure || !s) {
      conn.exec("ROLLBACK", nullptr);
      if (failure) {
        *retryable = statement_failure_retryable(tx);
        return s ? Status(std::unexpected(*failure)) : s;
      }
      return s;
    }
    bool commit_retryable = false;
    std::string tag;
    Status c = conn.exec("COMMIT", &commit_retryable, &tag);
    if (!c) {
      if (connection_lost(conn.get())) {
        // The COMMIT may or may not have reached the server: running fn again could apply it twice.
        return make_error(ErrorCode::kUnavailable,
                          "postgres: connection lost during COMMIT; the outcome is unknown: " + c.error().message);
      }
      *retryable = commit_retryable;  // a serialization failure at commit rolled everything back
      return c;
    }
    if (tag != "COMMIT") {
      return make_error(ErrorCode::kInternal, "postgres: COMMIT answered " + tag + "; the transaction was rolled back");
    }
    return {};
  }

  std::string url_;
  ConnectionPool<PostgresConnection> pool_;
};

}  // namespace

Result<std::shared_ptr<Database>> open_postgres_database(std::string url, DatabaseOptions options) {
  auto db = std::make_shared<PostgresDatabase>(std::move(url), std::move(options));
  if (Status s = db->warm_up(); !s) return std::unexpected(std::move(s.error()));
  return db;
}

}  // namespace openpcc::store
