// An append-only Merkle log kept in a store::Database (SQLite or PostgreSQL): the transparency log's storage.
//
//   auto log = MerkleStore::open(db);                                  // migrates component "tlog"
//   auto appended = (*log)->append(envelope_json_bytes);               // {index, duplicate}
//   auto head = (*log)->head();                                        // {size, root}
//   auto proof = (*log)->inclusion_proof(appended->index, head->size);
//
// Tables: tlog_entries (idx, leaf data, leaf hash, appended_at; leaf hashes unique), tlog_nodes (the hash of every
// complete perfect subtree above the leaves, keyed by id = index · 64 + level), tlog_head (the current size and root,
// one row). Every node of the tree at ANY past size is a perfect subtree or a few of them folded (merkle.h), so
// root(size), inclusion_proof(index, size) and consistency_proof(size1, size2) read O(log n) rows and the head in ONE
// statement (a UNION ALL of primary-key IN lists) from one snapshot; append writes the leaf and the O(1) amortized
// nodes it completes (the right edge of the tree is loaded once per batch).
//
// Appends are batched in one transaction. Concurrent appenders (threads or processes) serialize on the head row: the
// first statement of every append locks it (SQLite: the write lock of BEGIN IMMEDIATE; PostgreSQL: a row lock whose
// losers fail with a serialization error and rerun on the new head). A leaf already in the log is not appended
// again: its existing index comes back with duplicate = true, so publishing is idempotent, also within one batch.
//
// Reads see a committed head; sizes beyond it are kInvalidArgument. Storage failures keep their store error codes
// (kUnavailable, kInternal) with "tlog store:" in front.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "store/database.h"
#include "transparency/merkle.h"

namespace openpcc::transparency {

struct MerkleStoreOptions {
  // Leaves larger than this are refused (kLimitExceeded).
  size_t max_leaf_size = size_t{1} << 20;
  // Seconds since the Unix epoch, for appended_at; the system clock when empty.
  std::function<int64_t()> now = {};
};

struct LogHead {
  uint64_t size = 0;
  Hash root{};
  friend bool operator==(const LogHead&, const LogHead&) = default;
};

struct LogEntry {
  uint64_t index = 0;
  Bytes data;
  Hash leaf_hash{};
  int64_t appended_at = 0;
};

struct AppendResult {
  uint64_t index = 0;
  bool duplicate = false;  // the leaf was already in the log at `index`
};

class MerkleStore {
 public:
  // Migrates the schema (idempotent; refuses a newer schema) and returns the log.
  static Result<std::unique_ptr<MerkleStore>> open(std::shared_ptr<store::Database> db,
                                                   MerkleStoreOptions options = {});

  // Appends the leaves in order in one transaction; one result per leaf, in the same order.
  Result<std::vector<AppendResult>> append(std::span<const Bytes> leaves);
  Result<AppendResult> append(ByteSpan leaf);

  Result<LogHead> head();
  // kInvalidArgument for sizes beyond the head.
  Result<Hash> root(uint64_t size);
  // kNotFound for an index at or beyond the head.
  Result<LogEntry> entry(uint64_t index);
  // The index of the leaf with this leaf hash (leaf_hash(data)), or nullopt.
  Result<std::optional<uint64_t>> find(const Hash& leaf_hash);
  // kInvalidArgument for index ≥ size or a size beyond the head.
  Result<std::vector<Hash>> inclusion_proof(uint64_t index, uint64_t size);
  // kInvalidArgument for size1 > size2 or size2 beyond the head.
  Result<std::vector<Hash>> consistency_proof(uint64_t size1, uint64_t size2);

  store::Database& database() { return *db_; }

 private:
  MerkleStore(std::shared_ptr<store::Database> db, MerkleStoreOptions options)
      : db_(std::move(db)), options_(std::move(options)) {}
  std::shared_ptr<store::Database> db_;
  MerkleStoreOptions options_;
};

}  // namespace openpcc::transparency
