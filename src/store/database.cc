#include "store/database.h"

#include <algorithm>
#include <string>
#include <thread>

#include "common/random.h"
#include "store/backends.h"

namespace openpcc::store {
namespace {

std::string_view type_name(const SqlValue& v) {
  switch (v.index()) {
    case 0: return "NULL";
    case 1: return "integer";
    case 2: return "text";
    default: return "blob";
  }
}

template <class T>
Result<T> typed(const SqlValue* v, size_t column, std::string_view wanted) {
  if (const T* p = std::get_if<T>(v)) return *p;
  return make_error(ErrorCode::kInternal, "store: column " + std::to_string(column) + " is " +
                                              std::string(type_name(*v)) + ", not " + std::string(wanted));
}

template <class T>
Result<std::optional<T>> nullable(const SqlValue* v, size_t column, std::string_view wanted) {
  if (std::holds_alternative<std::monostate>(*v)) return std::optional<T>();
  auto r = typed<T>(v, column, wanted);
  if (!r) return std::unexpected(std::move(r.error()));
  return std::optional<T>(std::move(*r));
}

// Equal jitter: half the exponential step is fixed, half random, so colliding writers spread out but never retry
// at once.
std::chrono::microseconds backoff_for(const RetryPolicy& policy, int failed_attempts) {
  int64_t ceiling = std::chrono::microseconds(policy.initial_backoff).count();
  const int64_t cap = std::max<int64_t>(std::chrono::microseconds(policy.max_backoff).count(), 1);
  for (int i = 1; i < failed_attempts && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::clamp<int64_t>(ceiling, 1, cap);
  int64_t half = ceiling / 2;
  uint64_t jitter = random_uniform(static_cast<uint64_t>(ceiling - half) + 1);
  return std::chrono::microseconds(half + static_cast<int64_t>(jitter));
}

}  // namespace

std::string_view to_string(Dialect dialect) {
  return dialect == Dialect::kSqlite ? "sqlite" : "postgres";
}

Result<const SqlValue*> Row::at(size_t column) const {
  if (column >= values_.size()) {
    return make_error(ErrorCode::kInternal, "store: column " + std::to_string(column) + " out of range (row has " +
                                                std::to_string(values_.size()) + ")");
  }
  return &values_[column];
}

Result<bool> Row::is_null(size_t column) const {
  auto v = at(column);
  if (!v) return std::unexpected(std::move(v.error()));
  return std::holds_alternative<std::monostate>(**v);
}

Result<int64_t> Row::integer(size_t column) const {
  auto v = at(column);
  if (!v) return std::unexpected(std::move(v.error()));
  return typed<int64_t>(*v, column, "integer");
}

Result<std::string> Row::text(size_t column) const {
  auto v = at(column);
  if (!v) return std::unexpected(std::move(v.error()));
  return typed<std::string>(*v, column, "text");
}

Result<Bytes> Row::blob(size_t column) const {
  auto v = at(column);
  if (!v) return std::unexpected(std::move(v.error()));
  return typed<Bytes>(*v, column, "blob");
}

Result<std::optional<int64_t>> Row::nullable_integer(size_t column) const {
  auto v = at(column);
  if (!v) return std::unexpected(std::move(v.error()));
  return nullable<int64_t>(*v, column, "integer");
}

Result<std::optional<std::string>> Row::nullable_text(size_t column) const {
  auto v = at(column);
  if (!v) return std::unexpected(std::move(v.error()));
  return nullable<std::string>(*v, column, "text");
}

Result<std::optional<Bytes>> Row::nullable_blob(size_t column) const {
  auto v = at(column);
  if (!v) return std::unexpected(std::move(v.error()));
  return nullable<Bytes>(*v, column, "blob");
}

Result<Transaction::StatementResult> Transaction::run_checked(std::string_view sql, std::span<const SqlValue> params) {
  if (failure_) {
    return make_error(failure_->code, "store: transaction already failed: " + failure_->message);
  }
  bool retryable = false;
  auto r = run(sql, params, &retryable);
  if (!r) {
    failure_ = r.error();
    failure_retryable_ = retryable;
  }
  return r;
}

Result<std::vector<Row>> Transaction::query(std::string_view sql, std::span<const SqlValue> params) {
  auto r = run_checked(sql, params);
  if (!r) return std::unexpected(std::move(r.error()));
  return std::move(r->rows);
}

Result<std::optional<Row>> Transaction::query_row(std::string_view sql, std::span<const SqlValue> params) {
  auto r = run_checked(sql, params);
  if (!r) return std::unexpected(std::move(r.error()));
  if (r->rows.size() > 1) {
    return make_error(ErrorCode::kInternal,
                      "store: expected at most one row, got " + std::to_string(r->rows.size()));
  }
  if (r->rows.empty()) return std::optional<Row>();
  return std::optional<Row>(std::move(r->rows.front()));
}

Result<int64_t> Transaction::execute(std::string_view sql, std::span<const SqlValue> params) {
  auto r = run_checked(sql, params);
  if (!r) return std::unexpected(std::move(r.error()));
  return r->affected;
}

Database::Database(DatabaseOptions options) : options_(std::move(options)) {}

uint64_t Database::retry_count() const { return retries_.load(std::memory_order_relaxed); }

template <class R, class Attempt>
R Database::with_retries(Attempt&& attempt_once) {
  const int max_attempts = std::max(1, options_.retry.max_attempts);
  for (int attempt_number = 1;; ++attempt_number) {
    bool retryable = false;
    R s = attempt_once(&retryable);
    if (s || !retryable) return s;
    if (attempt_number >= max_attempts) {
      return make_error(ErrorCode::kUnavailable, "store: gave up after " + std::to_string(attempt_number) +
                                                     " attempts: " + s.error().message);
    }
    retries_.fetch_add(1, std::memory_order_relaxed);
    std::this_thread::sleep_for(backoff_for(options_.retry, attempt_number));
  }
}

Status Database::run_transaction(Access access, const std::function<Status(Transaction&)>& fn) {
  return with_retries<Status>([&](bool* retryable) { return attempt(access, fn, retryable); });
}

Result<int64_t> Database::execute(std::string_view sql, std::span<const SqlValue> params) {
  auto r = with_retries<Result<Transaction::StatementResult>>(
      [&](bool* retryable) { return attempt_statement(Access::kReadWrite, sql, params, retryable); });
  if (!r) return std::unexpected(std::move(r.error()));
  return r->affected;
}

Result<std::vector<Row>> Database::query(std::string_view sql, std::span<const SqlValue> params) {
  auto r = with_retries<Result<Transaction::StatementResult>>(
      [&](bool* retryable) { return attempt_statement(Access::kReadOnly, sql, params, retryable); });
  if (!r) return std::unexpected(std::move(r.error()));
  return std::move(r->rows);
}

Result<std::shared_ptr<Database>> open_database(std::string_view url, DatabaseOptions options) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.starts_with(kSqlite)) {
    std::string_view rest = url.substr(kSqlite.size());
    if (rest == ":memory:") return open_sqlite_database("", /*in_memory=*/true, std::move(options));
    if (rest.starts_with("//")) {
      return make_error(ErrorCode::kInvalidArgument,
                        "store: write a SQLite URL as sqlite:/absolute/path.db or sqlite:relative/path.db, "
                        "not sqlite://");
    }
    if (rest.empty()) return make_error(ErrorCode::kInvalidArgument, "store: sqlite: URL has no file path");
    if (rest.find('\0') != std::string_view::npos) {
      return make_error(ErrorCode::kInvalidArgument, "store: sqlite: file path contains a NUL byte");
    }
    return open_sqlite_database(std::string(rest), /*in_memory=*/false, std::move(options));
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    if (url.find('\0') != std::string_view::npos) {
      return make_error(ErrorCode::kInvalidArgument, "store: postgres: URL contains a NUL byte");
    }
    return open_postgres_database(std::string(url), std::move(options));
  }
  // Never echo the URL: a PostgreSQL URL may carry a password.
  return make_error(ErrorCode::kInvalidArgument,
                    "store: unsupported database URL (expected sqlite:<path>, sqlite::memory:, postgresql://... or "
                    "postgres://...)");
}

}  // namespace openpcc::store
