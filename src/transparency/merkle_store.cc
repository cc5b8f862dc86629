#include "transparency/merkle_store.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "store/migrate.h"

namespace openpcc::transparency {
namespace {

constexpr uint64_t kMaxIndex = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

const store::MigrationStep kSteps[] = {
    {.sqlite = {"CREATE TABLE tlog_entries ("
                "idx INTEGER PRIMARY KEY, "
                "leaf_hash BLOB NOT NULL, "
                "data BLOB NOT NULL, "
                "appended_at INTEGER NOT NULL)",
                "CREATE UNIQUE INDEX tlog_entries_by_leaf_hash ON tlog_entries (leaf_hash)",
                "CREATE TABLE tlog_nodes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL)",
                "CREATE TABLE tlog_head ("
                "id INTEGER PRIMARY KEY CHECK (id = 1), "
                "size INTEGER NOT NULL, "
                "root BLOB NOT NULL)"},
     .postgres = {"CREATE TABLE tlog_entries ("
                  "idx BIGINT PRIMARY KEY, "
                  "leaf_hash BYTEA NOT NULL, "
                  "data BYTEA NOT NULL, "
                  "appended_at BIGINT NOT NULL)",
                  "CREATE UNIQUE INDEX tlog_entries_by_leaf_hash ON tlog_entries (leaf_hash)",
                  "CREATE TABLE tlog_nodes (id BIGINT PRIMARY KEY, hash BYTEA NOT NULL)",
                  "CREATE TABLE tlog_head ("
                  "id BIGINT PRIMARY KEY CHECK (id = 1), "
                  "size BIGINT NOT NULL, "
                  "root BYTEA NOT NULL)"},
     .run = [](store::Transaction& tx) -> Status {
       auto r = tx.execute("INSERT INTO tlog_head (id, size, root) VALUES (1, 0, $1)", {store::sql_blob(empty_root())});
       if (!r) return std::unexpected(r.error());
       return {};
     }},
};

constexpr const char* kLockHead = "UPDATE tlog_head SET size = size WHERE id = 1";
constexpr const char* kReadHead = "SELECT size, root FROM tlog_head WHERE id = 1";
constexpr const char* kWriteHead = "UPDATE tlog_head SET size = $1, root = $2 WHERE id = 1";
constexpr const char* kInsertEntry =
    "INSERT INTO tlog_entries (idx, leaf_hash, data, appended_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (leaf_hash) DO NOTHING";
constexpr const char* kFindLeaf = "SELECT idx FROM tlog_entries WHERE leaf_hash = $1";
constexpr const char* kInsertNode = "INSERT INTO tlog_nodes (id, hash) VALUES ($1, $2)";
constexpr const char* kReadEntry = "SELECT leaf_hash, data, appended_at FROM tlog_entries WHERE idx = $1";

Error store_error(Error e) { return wrap_error("tlog store", std::move(e)); }

template <class T>
Result<T> with_context(Result<T>&& r) {
  if (!r && (r.error().code == ErrorCode::kUnavailable || r.error().code == ErrorCode::kInternal)) {
    r = std::unexpected(store_error(std::move(r.error())));
  }
  return std::move(r);
}

Result<Hash> hash_column(const store::Row& row, size_t column) {
  auto b = row.blob(column);
  if (!b) return std::unexpected(b.error());
  auto h = hash_from_bytes(*b);
  if (!h) return make_error(ErrorCode::kInternal, "a stored hash is not 32 bytes");
  return *h;
}

Result<LogHead> read_head(store::Transaction& tx) {
  auto row = tx.query_row(kReadHead);
  if (!row) return std::unexpected(row.error());
  if (!*row) return make_error(ErrorCode::kInternal, "the head row is missing");
  auto size = (*row)->integer(0);
  if (!size) return std::unexpected(size.error());
  if (*size < 0) return make_error(ErrorCode::kInternal, "negative log size");
  auto root = hash_column(**row, 1);
  if (!root) return std::unexpected(root.error());
  return LogHead{static_cast<uint64_t>(*size), *root};
}

// The key of a perfect subtree above the leaves in tlog_nodes: index · 64 + level (level < 64; indexes stay far
// below 2^57 for any log that fits a database).
int64_t node_id(const PerfectNode& n) { return static_cast<int64_t>((n.index << 6) | n.level); }
PerfectNode node_of_id(int64_t id) {
  return PerfectNode{static_cast<uint32_t>(id & 63), static_cast<uint64_t>(id) >> 6};
}

// "$first, $first+1, ..." for n parameters.
std::string placeholders(size_t first, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += '$';
    out += std::to_string(first + i);
  }
  return out;
}

// Lists are padded (by repeating the last element) to a power of two, so that only a few distinct statements reach
// the per-connection statement caches.
size_t padded(size_t n) { return std::bit_ceil(std::max<size_t>(n, 1)); }

using NodeMap = std::map<std::pair<uint32_t, uint64_t>, Hash>;

struct Loaded {
  NodeMap nodes;
  std::optional<LogHead> head;
};

// Reads, in ONE statement (one round trip on PostgreSQL): the hashes of the given perfect subtrees — leaves from
// tlog_entries, the rest from tlog_nodes — and, with_head, the head row. A node that should exist and does not is
// corruption (kInternal).
Result<Loaded> load(store::Transaction& tx, const std::vector<PerfectNode>& nodes, bool with_head) {
  std::vector<int64_t> leaves;
  std::vector<int64_t> inner;
  for (const PerfectNode& n : nodes) {
    if (n.level == 0) {
      leaves.push_back(static_cast<int64_t>(n.index));
    } else {
      inner.push_back(node_id(n));
    }
  }
  std::vector<store::SqlValue> params;
  std::string sql;
  auto add_part = [&](std::string_view select, const std::vector<int64_t>& keys) {
    if (keys.empty()) return;
    const size_t first = params.size() + 1;
    const size_t n = padded(keys.size());
    for (size_t i = 0; i < n; ++i) params.emplace_back(keys[std::min(i, keys.size() - 1)]);
    if (!sql.empty()) sql += " UNION ALL ";
    sql += std::string(select) + placeholders(first, n) + ")";
  };
  add_part("SELECT 0, idx, leaf_hash FROM tlog_entries WHERE idx IN (", leaves);
  add_part("SELECT 1, id, hash FROM tlog_nodes WHERE id IN (", inner);
  if (with_head) {
    if (!sql.empty()) sql += " UNION ALL ";
    sql += "SELECT 2, size, root FROM tlog_head WHERE id = 1";
  }
  Loaded out;
  if (sql.empty()) return out;
  auto rows = tx.query(sql, params);
  if (!rows) return std::unexpected(rows.error());
  for (const store::Row& row : *rows) {
    auto kind = row.integer(0);
    auto key = row.integer(1);
    auto h = hash_column(row, 2);
    if (!kind || !key || !h || *key < 0) return make_error(ErrorCode::kInternal, "malformed node row");
    if (*kind == 0) {
      out.nodes[{0, static_cast<uint64_t>(*key)}] = *h;
    } else if (*kind == 1) {
      PerfectNode n = node_of_id(*key);
      out.nodes[{n.level, n.index}] = *h;
    } else {
      out.head = LogHead{static_cast<uint64_t>(*key), *h};
    }
  }
  if (with_head && !out.head) return make_error(ErrorCode::kInternal, "the head row is missing");
  for (const PerfectNode& n : nodes) {
    if (!out.nodes.contains({n.level, n.index})) {
      return make_error(ErrorCode::kInternal, "node (level " + std::to_string(n.level) + ", index " +
                                                  std::to_string(n.index) + ") is missing");
    }
  }
  return out;
}

PerfectNodeLookup lookup_in(const NodeMap& map) {
  return [&map](PerfectNode n) -> Result<Hash> {
    auto it = map.find({n.level, n.index});
    if (it == map.end()) return make_error(ErrorCode::kInternal, "node not loaded");
    return it->second;
  };
}

// All perfect subtrees a set of slices needs, once each.
std::vector<PerfectNode> nodes_of(const std::vector<LeafRange>& ranges) {
  std::vector<PerfectNode> out;
  for (const LeafRange& r : ranges) {
    for (const PerfectNode& n : perfect_subtrees(r)) {
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    }
  }
  return out;
}

// The MTHs of `ranges` in the tree of `size` leaves, refusing sizes beyond the head — one statement.
Result<std::vector<Hash>> hashes_for(store::Transaction& tx, uint64_t size, const std::vector<LeafRange>& ranges) {
  auto loaded = load(tx, nodes_of(ranges), /*with_head=*/true);
  if (!loaded) {
    // A node missing because the size is beyond the head is the caller's error, not corruption: say which.
    auto head = read_head(tx);
    if (head && size > head->size) {
      return make_error(ErrorCode::kInvalidArgument, "tlog: size " + std::to_string(size) +
                                                         " is beyond the log's " + std::to_string(head->size));
    }
    return std::unexpected(loaded.error());
  }
  if (size > loaded->head->size) {
    return make_error(ErrorCode::kInvalidArgument, "tlog: size " + std::to_string(size) + " is beyond the log's " +
                                                       std::to_string(loaded->head->size));
  }
  auto lookup = lookup_in(loaded->nodes);
  std::vector<Hash> out;
  out.reserve(ranges.size());
  for (const LeafRange& r : ranges) {
    auto h = range_hash(r, lookup);
    if (!h) return std::unexpected(h.error());
    out.push_back(*h);
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<MerkleStore>> MerkleStore::open(std::shared_ptr<store::Database> db,
                                                       MerkleStoreOptions options) {
  if (!db) return make_error(ErrorCode::kInvalidArgument, "tlog store: no database");
  if (auto s = store::migrate(*db, "tlog", kSteps); !s) return std::unexpected(store_error(s.error()));
  return std::unique_ptr<MerkleStore>(new MerkleStore(std::move(db), std::move(options)));
}

Result<std::vector<AppendResult>> MerkleStore::append(std::span<const Bytes> leaves) {
  std::vector<Hash> hashes;
  hashes.reserve(leaves.size());
  for (const Bytes& leaf : leaves) {
    if (leaf.size() > options_.max_leaf_size) {
      return make_error(ErrorCode::kLimitExceeded, "tlog: a leaf of " + std::to_string(leaf.size()) +
                                                       " bytes exceeds the limit of " +
                                                       std::to_string(options_.max_leaf_size));
    }
    hashes.push_back(leaf_hash(leaf));
  }
  const int64_t now = options_.now ? options_.now()
                                   : std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count();
  auto result = db_->transact([&](store::Transaction& tx) -> Result<std::vector<AppendResult>> {
    // Lock the head first: concurrent appenders queue here (or fail and rerun) before reading anything.
    auto locked = tx.execute(kLockHead);
    if (!locked) return std::unexpected(locked.error());
    auto head = read_head(tx);
    if (!head) return std::unexpected(head.error());
    uint64_t size = head->size;
    // The right edge of the tree: the perfect subtrees that new leaves complete, left to right.
    std::vector<PerfectNode> edge = perfect_subtrees({0, size});
    auto edge_hashes = load(tx, edge, /*with_head=*/false);
    if (!edge_hashes) return std::unexpected(edge_hashes.error());
    std::vector<std::pair<PerfectNode, Hash>> stack;
    for (const PerfectNode& n : edge) stack.emplace_back(n, edge_hashes->nodes.at({n.level, n.index}));

    std::vector<AppendResult> out;
    out.reserve(leaves.size());
    for (size_t i = 0; i < leaves.size(); ++i) {
      if (size >= kMaxIndex) return make_error(ErrorCode::kLimitExceeded, "tlog: the log is full");
      auto inserted = tx.execute(kInsertEntry, {static_cast<int64_t>(size), store::sql_blob(hashes[i]),
                                                store::sql_blob(leaves[i]), now});
      if (!inserted) return std::unexpected(inserted.error());
      if (*inserted == 0) {
        auto row = tx.query_row(kFindLeaf, {store::sql_blob(hashes[i])});
        if (!row) return std::unexpected(row.error());
        if (!*row) return make_error(ErrorCode::kInternal, "a duplicate leaf vanished");
        auto idx = (*row)->integer(0);
        if (!idx) return std::unexpected(idx.error());
        out.push_back({static_cast<uint64_t>(*idx), true});
        continue;
      }
      out.push_back({size, false});
      stack.emplace_back(PerfectNode{0, size}, hashes[i]);
      // Two neighbours of one level make their parent complete.
      while (stack.size() >= 2 && stack[stack.size() - 1].first.level == stack[stack.size() - 2].first.level) {
        auto [right_node, right] = stack.back();
        stack.pop_back();
        auto [left_node, left] = stack.back();
        stack.pop_back();
        PerfectNode parent{left_node.level + 1, left_node.index / 2};
        Hash h = node_hash(left, right);
        auto node = tx.execute(kInsertNode, {node_id(parent), store::sql_blob(h)});
        if (!node) return std::unexpected(node.error());
        stack.emplace_back(parent, h);
      }
      ++size;
    }
    if (size != head->size) {
      Hash root = stack.back().second;
      for (size_t k = stack.size() - 1; k-- > 0;) root = node_hash(stack[k].second, root);
      auto written = tx.execute(kWriteHead, {static_cast<int64_t>(size), store::sql_blob(root)});
      if (!written) return std::unexpected(written.error());
    }
    return out;
  });
  return with_context(std::move(result));
}

Result<AppendResult> MerkleStore::append(ByteSpan leaf) {
  std::vector<Bytes> one{Bytes(leaf.begin(), leaf.end())};
  auto r = append(one);
  if (!r) return std::unexpected(r.error());
  return r->front();
}

Result<LogHead> MerkleStore::head() {
  return with_context(db_->read([&](store::Transaction& tx) { return read_head(tx); }));
}

Result<Hash> MerkleStore::root(uint64_t size) {
  return with_context(db_->read([&](store::Transaction& tx) -> Result<Hash> {
    if (size == 0) {
      auto head = read_head(tx);  // sizes are checked against the head, even 0 (a missing head is corruption)
      if (!head) return std::unexpected(head.error());
      return empty_root();
    }
    auto hashes = hashes_for(tx, size, {LeafRange{0, size}});
    if (!hashes) return std::unexpected(hashes.error());
    return hashes->front();
  }));
}

Result<LogEntry> MerkleStore::entry(uint64_t index) {
  if (index >= kMaxIndex) return make_error(ErrorCode::kNotFound, "tlog: no entry " + std::to_string(index));
  return with_context(db_->read([&](store::Transaction& tx) -> Result<LogEntry> {
    auto row = tx.query_row(kReadEntry, {static_cast<int64_t>(index)});
    if (!row) return std::unexpected(row.error());
    if (!*row) return make_error(ErrorCode::kNotFound, "tlog: no entry " + std::to_string(index));
    LogEntry e;
    e.index = index;
    auto h = hash_column(**row, 0);
    auto data = (*row)->blob(1);
    auto at = (*row)->integer(2);
    if (!h || !data || !at) return make_error(ErrorCode::kInternal, "malformed entry row");
    e.leaf_hash = *h;
    e.data = std::move(*data);
    e.appended_at = *at;
    return e;
  }));
}

Result<std::optional<uint64_t>> MerkleStore::find(const Hash& leaf) {
  return with_context(db_->read([&](store::Transaction& tx) -> Result<std::optional<uint64_t>> {
    auto row = tx.query_row(kFindLeaf, {store::sql_blob(leaf)});
    if (!row) return std::unexpected(row.error());
    if (!*row) return std::optional<uint64_t>();
    auto idx = (*row)->integer(0);
    if (!idx) return std::unexpected(idx.error());
    return std::optional<uint64_t>(static_cast<uint64_t>(*idx));
  }));
}

Result<std::vector<Hash>> MerkleStore::inclusion_proof(uint64_t index, uint64_t size) {
  auto ranges = inclusion_proof_ranges(index, size);
  if (!ranges) return std::unexpected(ranges.error());
  return with_context(db_->read([&](store::Transaction& tx) { return hashes_for(tx, size, *ranges); }));
}

Result<std::vector<Hash>> MerkleStore::consistency_proof(uint64_t size1, uint64_t size2) {
  auto ranges = consistency_proof_ranges(size1, size2);
  if (!ranges) return std::unexpected(ranges.error());
  return with_context(db_->read([&](store::Transaction& tx) { return hashes_for(tx, size2, *ranges); }));
}

}  // namespace openpcc::transparency
