// The transparency log at 1,000,000 entries (transparency/merkle_store.h on SQLite) and client-side proof checks
// (transparency/merkle.h), each next to a floor measured in the same run.
//
// The log: a SQLite file in a temp directory (WAL, synchronous=FULL as the service runs it), built once per process
// with 1,000,000 leaves of 64 bytes appended in batches of 1,000 (the build time is printed). Floors use the same
// file, with raw sqlite3 statements prepared once and SHA-256 on EVP fetched once:
//   * append/floor: the same rows a batch of ours writes — 1,000 entry rows (leaf hashed), one node row per completed
//     perfect subtree (hashed), the head row — in one transaction, into copies of our tables holding the same 1M
//     rows. It does not look for duplicates and reads nothing: it is "insert these rows", not a Merkle log.
//   * inclusion_proof/floor, consistency_proof/floor: one prepared point SELECT per perfect subtree ours reads (the
//     list comes from the same range functions), in one read transaction, folded with raw SHA-256.
//   * verify_*/floor: raw SHA-256 of the 65-byte node inputs, as many as the proof needs (one per inclusion hash, up
//     to two per consistency hash), nothing else.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "floor.h"
#include "store/database.h"
#include "support/temp_dir.h"
#include "transparency/merkle.h"
#include "transparency/merkle_store.h"

namespace openpcc::bench {
namespace {

using transparency::Hash;
using transparency::LeafRange;
using transparency::MerkleStore;
using transparency::PerfectNode;

constexpr uint64_t kLogSize = 1'000'000;
constexpr size_t kBatch = 1'000;
constexpr size_t kLeafSize = 64;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_merkle: %s\n", what.c_str());
  std::abort();
}

// Leaf n: 64 bytes, distinct per n (the counter in front, filler after).
Bytes make_leaf(uint64_t n, uint8_t tag = 0) {
  Bytes leaf(kLeafSize, 0x5a);
  for (int i = 0; i < 8; ++i) leaf[i] = static_cast<uint8_t>(n >> (8 * i));
  leaf[8] = tag;
  return leaf;
}

// SHA-256 on a reused context, the digest fetched once: the floor's hash.
class FloorSha256 {
 public:
  FloorSha256() : md_(EVP_MD_fetch(nullptr, "SHA2-256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    check(md_ != nullptr && ctx_ != nullptr, "SHA-256 setup");
  }
  ~FloorSha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  FloorSha256(const FloorSha256&) = delete;
  FloorSha256& operator=(const FloorSha256&) = delete;

  void hash(const uint8_t* data, size_t n, uint8_t* out) {
    check(EVP_DigestInit_ex2(ctx_, md_, nullptr) == 1 && EVP_DigestUpdate(ctx_, data, n) == 1 &&
              EVP_DigestFinal_ex(ctx_, out, nullptr) == 1,
          "SHA-256");
  }
  // SHA-256(0x01 ‖ l ‖ r)
  void node(const uint8_t* l, const uint8_t* r, uint8_t* out) {
    uint8_t in[65];
    in[0] = 0x01;
    std::memcpy(in + 1, l, 32);
    std::memcpy(in + 33, r, 32);
    hash(in, sizeof in, out);
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

struct Log {
  openpcc::test_support::TempDir dir{"openpcc-bench-merkle"};
  std::string path;
  std::shared_ptr<store::Database> db;
  std::unique_ptr<MerkleStore> store;
  uint64_t next_leaf = 0;  // leaves appended so far by the benchmark (beyond the first kLogSize)
};

Log& log_1m() {
  static Log* log = [] {
    auto* l = new Log;
    l->path = (l->dir / "tlog.db").string();
    auto db = store::open_database("sqlite:" + l->path);
    if (!db) fail(db.error().to_string());
    l->db = *db;
    auto s = MerkleStore::open(l->db);
    if (!s) fail(s.error().to_string());
    l->store = std::move(*s);
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < kLogSize; i += kBatch) {
      std::vector<Bytes> batch;
      for (uint64_t k = i; k < i + kBatch; ++k) batch.push_back(make_leaf(k));
      auto r = l->store->append(batch);
      if (!r) fail(r.error().to_string());
    }
    l->next_leaf = kLogSize;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "bench_merkle: built a log of %llu entries in %.1f s (%.0f appends/s)\n",
                 static_cast<unsigned long long>(kLogSize), secs, static_cast<double>(kLogSize) / secs);
    return l;
  }();
  return *log;
}

uint64_t current_size() {
  auto head = log_1m().store->head();
  if (!head) fail(head.error().to_string());
  return head->size;
}

// --- raw sqlite ------------------------------------------------------------------------------------------------------

struct Sqlite {
  sqlite3* db = nullptr;
  explicit Sqlite(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) fail("sqlite open");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA busy_timeout=5000");
  }
  ~Sqlite() { sqlite3_close_v2(db); }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      fail(std::string("sqlite: ") + sql + ": " + msg);
    }
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
      fail(std::string("sqlite prepare: ") + sqlite3_errmsg(db));
    }
    return s;
  }
  void step_done(sqlite3_stmt* s) {
    if (sqlite3_step(s) != SQLITE_DONE) fail(std::string("sqlite step: ") + sqlite3_errmsg(db));
    sqlite3_reset(s);
  }
};

// --- append --------------------------------------------------------------------------------------------------------

OPENPCC_BENCH_OP void op_append_ours(MerkleStore& store, const std::vector<Bytes>& batch) {
  auto r = store.append(batch);
  if (!r) fail(r.error().to_string());
}

void BM_append_ours(benchmark::State& state) {
  Log& log = log_1m();
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Bytes> batch;
    for (size_t k = 0; k < kBatch; ++k) batch.push_back(make_leaf(log.next_leaf++));
    state.ResumeTiming();
    op_append_ours(*log.store, batch);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["log_size"] = static_cast<double>(current_size());
}

struct FloorAppender {
  Sqlite sql;
  sqlite3_stmt* insert_entry;
  sqlite3_stmt* insert_node;
  sqlite3_stmt* write_head;
  FloorSha256 sha;
  uint64_t size;

  explicit FloorAppender(const std::string& path) : sql(path) {
    // Copies of our tables holding the same rows, so that the B-trees and the unique index are as large as ours.
    sql.exec("CREATE TABLE floor_entries (idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, data BLOB NOT NULL, "
             "appended_at INTEGER NOT NULL)");
    sql.exec("CREATE UNIQUE INDEX floor_entries_by_leaf_hash ON floor_entries (leaf_hash)");
    sql.exec("CREATE TABLE floor_nodes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL)");
    sql.exec("CREATE TABLE floor_head (id INTEGER PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL)");
    sql.exec("BEGIN");
    sql.exec("INSERT INTO floor_entries SELECT idx, leaf_hash, data, appended_at FROM tlog_entries");
    sql.exec("INSERT INTO floor_nodes SELECT id, hash FROM tlog_nodes");
    sql.exec("INSERT INTO floor_head SELECT id, size, root FROM tlog_head");
    sql.exec("COMMIT");
    insert_entry = sql.prepare("INSERT INTO floor_entries (idx, leaf_hash, data, appended_at) VALUES (?, ?, ?, ?)");
    insert_node = sql.prepare("INSERT INTO floor_nodes (id, hash) VALUES (?, ?)");
    write_head = sql.prepare("UPDATE floor_head SET size = ?, root = ? WHERE id = 1");
    sqlite3_stmt* q = sql.prepare("SELECT size FROM floor_head WHERE id = 1");
    if (sqlite3_step(q) != SQLITE_ROW) fail("floor head");
    size = static_cast<uint64_t>(sqlite3_column_int64(q, 0));
    sqlite3_finalize(q);
  }
  ~FloorAppender() {
    sqlite3_finalize(insert_entry);
    sqlite3_finalize(insert_node);
    sqlite3_finalize(write_head);
  }

  void append(const std::vector<Bytes>& batch) {
    sql.exec("BEGIN IMMEDIATE");
    uint8_t h[32];
    uint8_t leaf_in[1 + kLeafSize];
    for (const Bytes& leaf : batch) {
      leaf_in[0] = 0x00;
      std::memcpy(leaf_in + 1, leaf.data(), leaf.size());
      sha.hash(leaf_in, 1 + leaf.size(), h);
      sqlite3_bind_int64(insert_entry, 1, static_cast<sqlite3_int64>(size));
      sqlite3_bind_blob(insert_entry, 2, h, 32, SQLITE_STATIC);
      sqlite3_bind_blob(insert_entry, 3, leaf.data(), static_cast<int>(leaf.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert_entry, 4, 1'700'000'000);
      sql.step_done(insert_entry);
      // The node rows this leaf completes: one per trailing one bit of its index (hashed over stand-in children).
      uint64_t i = size;
      for (uint32_t level = 1; (i & 1) == 1; ++level, i >>= 1) {
        sha.node(h, h, h);
        sqlite3_bind_int64(insert_node, 1, static_cast<sqlite3_int64>(((i >> 1) << 6) | level));
        sqlite3_bind_blob(insert_node, 2, h, 32, SQLITE_STATIC);
        sql.step_done(insert_node);
      }
      ++size;
    }
    sqlite3_bind_int64(write_head, 1, static_cast<sqlite3_int64>(size));
    sqlite3_bind_blob(write_head, 2, h, 32, SQLITE_STATIC);
    sql.step_done(write_head);
    sql.exec("COMMIT");
  }
};

OPENPCC_BENCH_OP void op_append_floor(FloorAppender& floor, const std::vector<Bytes>& batch) { floor.append(batch); }

void BM_append_floor(benchmark::State& state) {
  Log& log = log_1m();
  static FloorAppender* floor = new FloorAppender(log.path);
  uint64_t n = floor->size;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Bytes> batch;
    for (size_t k = 0; k < kBatch; ++k) batch.push_back(make_leaf(n++, 1));
    state.ResumeTiming();
    op_append_floor(*floor, batch);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// --- proofs from the store ----------------------------------------------------------------------------------------

// Random (index, size) and (size1, size2) pairs in the 1M log, the same sequence for ours and the floor.
struct Pairs {
  std::mt19937_64 rng{2026'11'21};
  uint64_t below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); }
};

OPENPCC_BENCH_OP std::vector<Hash> op_inclusion_ours(MerkleStore& store, uint64_t index, uint64_t size) {
  auto p = store.inclusion_proof(index, size);
  if (!p) fail(p.error().to_string());
  return std::move(*p);
}

OPENPCC_BENCH_OP std::vector<Hash> op_consistency_ours(MerkleStore& store, uint64_t size1, uint64_t size2) {
  auto p = store.consistency_proof(size1, size2);
  if (!p) fail(p.error().to_string());
  return std::move(*p);
}

void BM_inclusion_proof_ours(benchmark::State& state) {
  Log& log = log_1m();
  Pairs pairs;
  for (auto _ : state) {
    uint64_t index = pairs.below(kLogSize);
    benchmark::DoNotOptimize(op_inclusion_ours(*log.store, index, kLogSize));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_consistency_proof_ours(benchmark::State& state) {
  Log& log = log_1m();
  Pairs pairs;
  for (auto _ : state) {
    uint64_t size1 = 1 + pairs.below(kLogSize - 1);
    benchmark::DoNotOptimize(op_consistency_ours(*log.store, size1, kLogSize));
  }
  state.SetItemsProcessed(state.iterations());
}

struct FloorReader {
  Sqlite sql;
  sqlite3_stmt* leaf;
  sqlite3_stmt* node;
  FloorSha256 sha;
  explicit FloorReader(const std::string& path) : sql(path) {
    leaf = sql.prepare("SELECT leaf_hash FROM tlog_entries WHERE idx = ?");
    node = sql.prepare("SELECT hash FROM tlog_nodes WHERE id = ?");
  }
  ~FloorReader() {
    sqlite3_finalize(leaf);
    sqlite3_finalize(node);
  }
  void read(const PerfectNode& n, uint8_t* out) {
    sqlite3_stmt* s = n.level == 0 ? leaf : node;
    // Leaves by idx; other nodes by id = index · 64 + level (merkle_store.cc).
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(n.level == 0 ? n.index : ((n.index << 6) | n.level)));
    if (sqlite3_step(s) != SQLITE_ROW || sqlite3_column_bytes(s, 0) != 32) fail("floor read");
    std::memcpy(out, sqlite3_column_blob(s, 0), 32);
    sqlite3_reset(s);
  }
  // The proof's hashes: each slice read as its perfect subtrees and folded from the right.
  std::vector<Hash> proof(const std::vector<LeafRange>& ranges) {
    std::vector<Hash> out(ranges.size());
    sql.exec("BEGIN");
    for (size_t i = 0; i < ranges.size(); ++i) {
      auto nodes = transparency::perfect_subtrees(ranges[i]);
      read(nodes.back(), out[i].data());
      for (size_t k = nodes.size() - 1; k-- > 0;) {
        uint8_t left[32];
        read(nodes[k], left);
        sha.node(left, out[i].data(), out[i].data());
      }
    }
    sql.exec("COMMIT");
    return out;
  }
};

OPENPCC_BENCH_OP std::vector<Hash> op_proof_floor(FloorReader& floor, const std::vector<LeafRange>& ranges) {
  return floor.proof(ranges);
}

void BM_inclusion_proof_floor(benchmark::State& state) {
  Log& log = log_1m();
  FloorReader floor(log.path);
  Pairs pairs;
  // Cross-check once: the floor reads the same proof ours returns.
  if (floor.proof(*transparency::inclusion_proof_ranges(12345, kLogSize)) !=
      op_inclusion_ours(*log.store, 12345, kLogSize)) {
    fail("inclusion floor disagrees with ours");
  }
  for (auto _ : state) {
    uint64_t index = pairs.below(kLogSize);
    auto ranges = transparency::inclusion_proof_ranges(index, kLogSize);
    benchmark::DoNotOptimize(op_proof_floor(floor, *ranges));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_consistency_proof_floor(benchmark::State& state) {
  Log& log = log_1m();
  FloorReader floor(log.path);
  Pairs pairs;
  if (floor.proof(*transparency::consistency_proof_ranges(777'777, kLogSize)) !=
      op_consistency_ours(*log.store, 777'777, kLogSize)) {
    fail("consistency floor disagrees with ours");
  }
  for (auto _ : state) {
    uint64_t size1 = 1 + pairs.below(kLogSize - 1);
    auto ranges = transparency::consistency_proof_ranges(size1, kLogSize);
    benchmark::DoNotOptimize(op_proof_floor(floor, *ranges));
  }
  state.SetItemsProcessed(state.iterations());
}

// --- verification (client side, no storage) --------------------------------------------------------------------

// A fixed in-memory tree of 1M leaf hashes, and a few proofs to cycle through.
struct VerifyCase {
  uint64_t index, size1;
  Hash leaf, root1;
  std::vector<Hash> inclusion, consistency;
};

struct VerifyFixture {
  Hash root;
  std::vector<VerifyCase> cases;
};

const VerifyFixture& verify_fixture() {
  static const VerifyFixture* f = [] {
    auto* out = new VerifyFixture;
    transparency::MerkleTree tree;
    for (uint64_t i = 0; i < kLogSize; ++i) tree.append(make_leaf(i));
    out->root = tree.root();
    Pairs pairs;
    for (int k = 0; k < 64; ++k) {
      VerifyCase c;
      c.index = pairs.below(kLogSize);
      c.size1 = 1 + pairs.below(kLogSize - 1);
      c.leaf = *tree.node({0, c.index});
      c.root1 = *tree.root(c.size1);
      c.inclusion = *tree.inclusion_proof(c.index, kLogSize);
      c.consistency = *tree.consistency_proof(c.size1, kLogSize);
      out->cases.push_back(std::move(c));
    }
    return out;
  }();
  return *f;
}

OPENPCC_BENCH_OP void op_verify_inclusion_ours(const VerifyCase& c, const Hash& root) {
  if (!transparency::verify_inclusion(c.index, kLogSize, c.leaf, c.inclusion, root)) fail("verify inclusion");
}

OPENPCC_BENCH_OP void op_verify_consistency_ours(const VerifyCase& c, const Hash& root) {
  if (!transparency::verify_consistency(c.size1, kLogSize, c.root1, root, c.consistency)) fail("verify consistency");
}

// The floor: the SHA-256 calls verification cannot avoid, `count` node hashes over the proof's elements — for
// inclusion one per element; for consistency one per element on the new root's path plus one per element that is
// also on the old root's path (counted by consistency_hashes below).
OPENPCC_BENCH_OP void op_verify_hashes_floor(FloorSha256& sha, const std::vector<Hash>& proof, size_t count,
                                             uint8_t* acc) {
  for (size_t i = 0; i < count; ++i) sha.node(proof[i % proof.size()].data(), acc, acc);
}

void BM_verify_inclusion_ours(benchmark::State& state) {
  const auto& f = verify_fixture();
  size_t k = 0;
  for (auto _ : state) op_verify_inclusion_ours(f.cases[k++ % f.cases.size()], f.root);
  state.SetItemsProcessed(state.iterations());
}

void BM_verify_inclusion_floor(benchmark::State& state) {
  const auto& f = verify_fixture();
  FloorSha256 sha;
  uint8_t acc[32] = {};
  size_t k = 0;
  for (auto _ : state) {
    const auto& proof = f.cases[k++ % f.cases.size()].inclusion;
    op_verify_hashes_floor(sha, proof, proof.size(), acc);
  }
  benchmark::DoNotOptimize(acc);
  state.SetItemsProcessed(state.iterations());
}

// The node hashes RFC 9162 §2.1.4.2 computes for this proof: every element after the seed goes into the new root,
// and those on the old root's path into the old one too.
size_t consistency_hashes(const VerifyCase& c) {
  uint64_t fn = c.size1 - 1;
  uint64_t sn = kLogSize - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  size_t both = 0;
  size_t start = std::has_single_bit(c.size1) ? 0 : 1;
  for (size_t i = start; i < c.consistency.size(); ++i) {
    if ((fn & 1) == 1 || fn == sn) {
      ++both;
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    }
    fn >>= 1;
    sn >>= 1;
  }
  return (c.consistency.size() - start) + both;
}

void BM_verify_consistency_ours(benchmark::State& state) {
  const auto& f = verify_fixture();
  size_t k = 0;
  for (auto _ : state) op_verify_consistency_ours(f.cases[k++ % f.cases.size()], f.root);
  state.SetItemsProcessed(state.iterations());
}

void BM_verify_consistency_floor(benchmark::State& state) {
  const auto& f = verify_fixture();
  std::vector<size_t> counts;
  for (const auto& c : f.cases) counts.push_back(consistency_hashes(c));
  FloorSha256 sha;
  uint8_t acc[32] = {};
  size_t k = 0;
  for (auto _ : state) {
    size_t i = k++ % f.cases.size();
    op_verify_hashes_floor(sha, f.cases[i].consistency, counts[i], acc);
  }
  benchmark::DoNotOptimize(acc);
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_append_ours)->Name("merkle/append_1000_at_1M/ours")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_append_floor)->Name("merkle/append_1000_at_1M/floor")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_inclusion_proof_ours)->Name("merkle/inclusion_proof_at_1M/ours")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_inclusion_proof_floor)->Name("merkle/inclusion_proof_at_1M/floor")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_consistency_proof_ours)->Name("merkle/consistency_proof_at_1M/ours")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_consistency_proof_floor)->Name("merkle/consistency_proof_at_1M/floor")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_inclusion_ours)->Name("merkle/verify_inclusion_1M/ours")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_inclusion_floor)->Name("merkle/verify_inclusion_1M/floor")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_consistency_ours)->Name("merkle/verify_consistency_1M/ours")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_consistency_floor)->Name("merkle/verify_consistency_1M/floor")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace openpcc::bench
