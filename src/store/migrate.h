// Schema migrations, versioned per component in a `schema_migrations(component, version)` table.
//
//   static const store::MigrationStep kSteps[] = {
//       {.sqlite = {"CREATE TABLE t (k BLOB PRIMARY KEY, n INTEGER NOT NULL)"},
//        .postgres = {"CREATE TABLE t (k BYTEA PRIMARY KEY, n BIGINT NOT NULL)"}},
//   };
//   Status s = store::migrate(*db, "bank.ledger", kSteps);
//
// Step i (from 0) brings the component to version i + 1. Steps already applied are skipped, so migrate() is
// idempotent and runs at every start. Each step runs in its own transaction together with its version record, so a
// crash leaves the schema at a whole step. Processes migrating the same database at once are serialized (SQLite:
// the write lock; PostgreSQL: a lock on schema_migrations taken before the transaction's snapshot), and each step is
// applied exactly once. A database at a higher version than `steps` knows is refused (kUnsupported): an older
// binary must not write to a newer schema.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "store/database.h"

namespace openpcc::store {

struct MigrationStep {
  // Statements for each dialect, run in order (one statement per string).
  std::vector<std::string> sqlite = {};
  std::vector<std::string> postgres = {};
  // Optional: runs after the statements in the same transaction (data migrations).
  std::function<Status(Transaction&)> run = {};
};

Status migrate(Database& db, std::string_view component, std::span<const MigrationStep> steps);

// The version a component's schema is at (0 when never migrated).
Result<int64_t> schema_version(Database& db, std::string_view component);

}  // namespace openpcc::store
