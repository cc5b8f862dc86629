#include "store/migrate.h"

#include <string>

namespace openpcc::store {
namespace {

constexpr const char* kCreateSqlite =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, "
    "PRIMARY KEY (component, version))";
constexpr const char* kCreatePostgres =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "component TEXT NOT NULL, version BIGINT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
    "PRIMARY KEY (component, version))";

// Any fixed number: the advisory lock that serializes creators of the migrations table (see below).
constexpr int64_t kCreateLockKey = 0x6f70656e70636331;  // "openpcc1"

Status ensure_migrations_table(Database& db) {
  // Two PostgreSQL sessions creating the same table at once: CREATE TABLE IF NOT EXISTS is not safe against that (one
  // fails on the catalog, as "type ... already exists" or a unique violation). So creators take a transaction-scoped
  // advisory lock first: the second waits for the first to commit and then sees the table. The retry stays as a
  // second line of defence (e.g. a server that lacks advisory locks).
  Status s;
  for (int attempt = 0; attempt < 3; ++attempt) {
    s = db.transact([](Transaction& tx) -> Status {
      if (tx.dialect() == Dialect::kPostgres) {
        auto locked = tx.query("SELECT 1 FROM pg_advisory_xact_lock($1)", {kCreateLockKey});
        if (!locked) return std::unexpected(std::move(locked.error()));
      }
      auto r = tx.execute(tx.dialect() == Dialect::kSqlite ? kCreateSqlite : kCreatePostgres);
      if (!r) return std::unexpected(std::move(r.error()));
      return {};
    });
    if (s || s.error().code != ErrorCode::kConflict) break;
  }
  return s;
}

Result<int64_t> current_version(Transaction& tx, std::string_view component) {
  auto row = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = $1",
                          {std::string(component)});
  if (!row) return std::unexpected(std::move(row.error()));
  if (!*row) return make_error(ErrorCode::kInternal, "store: migrations: no version row");
  return (*row)->integer(0);
}

}  // namespace

Status migrate(Database& db, std::string_view component, std::span<const MigrationStep> steps) {
  if (Status s = ensure_migrations_table(db); !s) return std::unexpected(wrap_error("store: migrations", s.error()));
  const auto known = static_cast<int64_t>(steps.size());
  for (;;) {
    // One step per transaction: read the version, apply the next step, record it.
    auto done = db.transact([&](Transaction& tx) -> Result<bool> {
      if (tx.dialect() == Dialect::kPostgres) {
        // Before any query, so that this transaction's snapshot is taken after a concurrent migrator commits.
        auto locked = tx.execute("LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE");
        if (!locked) return std::unexpected(std::move(locked.error()));
      }
      auto version = current_version(tx, component);
      if (!version) return std::unexpected(std::move(version.error()));
      if (*version > known) {
        return make_error(ErrorCode::kUnsupported, "store: schema of " + std::string(component) + " is at version " +
                                                       std::to_string(*version) + ", this build knows up to " +
                                                       std::to_string(known));
      }
      if (*version == known) return true;
      const MigrationStep& step = steps[static_cast<size_t>(*version)];
      const auto& statements = tx.dialect() == Dialect::kSqlite ? step.sqlite : step.postgres;
      for (const std::string& sql : statements) {
        auto r = tx.execute(sql);
        if (!r) return std::unexpected(std::move(r.error()));
      }
      if (step.run) {
        if (Status s = step.run(tx); !s) return std::unexpected(std::move(s.error()));
      }
      auto recorded = tx.execute("INSERT INTO schema_migrations (component, version) VALUES ($1, $2)",
                                 {std::string(component), *version + 1});
      if (!recorded) return std::unexpected(std::move(recorded.error()));
      return false;
    });
    if (!done) {
      return std::unexpected(wrap_error("store: migrating " + std::string(component), std::move(done.error())));
    }
    if (*done) return {};
  }
}

Result<int64_t> schema_version(Database& db, std::string_view component) {
  if (Status s = ensure_migrations_table(db); !s) return std::unexpected(std::move(s.error()));
  return db.read([&](Transaction& tx) { return current_version(tx, component); });
}

}  // namespace openpcc::store
