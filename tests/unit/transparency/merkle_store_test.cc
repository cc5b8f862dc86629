#include "transparency/merkle_store.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "store/migrate.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace openpcc::transparency {
namespace {

enum class Backend { kSqlite, kPostgres };

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

Bytes leaf_bytes(const std::string& s) { return to_bytes(s); }

class MerkleStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      ASSERT_FALSE(dir_.path().empty());
      url_ = "sqlite:" + (dir_ / "tlog.db").string();
    } else {
      auto url = openpcc::test_support::fresh_postgres_database();
      ASSERT_TRUE(url) << url.error().to_string();
      url_ = *url;
    }
    log_ = open_log();
    ASSERT_NE(log_, nullptr);
  }

  std::unique_ptr<MerkleStore> open_log(MerkleStoreOptions options = {}) {
    auto db = store::open_database(url_);
    EXPECT_TRUE(db) << db.error().to_string();
    if (!db) return nullptr;
    auto log = MerkleStore::open(*db, std::move(options));
    EXPECT_TRUE(log) << log.error().to_string();
    return log ? std::move(*log) : nullptr;
  }

  // Appends leaves "<prefix>i" for i in [from, to) in batches of `batch`, mirroring them into `tree`.
  void append_range(MerkleStore& log, MerkleTree& tree, const std::string& prefix, int from, int to, int batch) {
    for (int i = from; i < to; i += batch) {
      std::vector<Bytes> leaves;
      for (int k = i; k < std::min(to, i + batch); ++k) leaves.push_back(leaf_bytes(prefix + std::to_string(k)));
      auto r = log.append(leaves);
      ASSERT_TRUE(r) << r.error().to_string();
      ASSERT_EQ(r->size(), leaves.size());
      for (size_t k = 0; k < leaves.size(); ++k) {
        EXPECT_FALSE((*r)[k].duplicate);
        EXPECT_EQ((*r)[k].index, tree.append(leaves[k]));
      }
    }
  }

  openpcc::test_support::TempDir dir_{"openpcc-tlog"};
  std::string url_;
  std::unique_ptr<MerkleStore> log_;
};

TEST_P(MerkleStoreTest, EmptyLog) {
  auto head = log_->head();
  ASSERT_TRUE(head) << head.error().to_string();
  EXPECT_EQ(head->size, 0u);
  EXPECT_EQ(head->root, empty_root());
  EXPECT_EQ(*log_->root(0), empty_root());
  EXPECT_EQ(log_->root(1).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log_->inclusion_proof(0, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(log_->consistency_proof(0, 0)->empty());
  EXPECT_EQ(log_->entry(0).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(*log_->find(leaf_hash(as_bytes("x"))), std::nullopt);
  EXPECT_EQ(*store::schema_version(log_->database(), "tlog"), 1);
}

TEST_P(MerkleStoreTest, RootsAndProofsMatchTheInMemoryTree) {
  MerkleTree tree;
  // Mixed batch sizes, so batches start and end at every kind of edge.
  append_range(*log_, tree, "leaf ", 0, 1, 1);
  append_range(*log_, tree, "leaf ", 1, 8, 3);
  append_range(*log_, tree, "leaf ", 8, 45, 7);
  append_range(*log_, tree, "leaf ", 45, 70, 25);
  ASSERT_EQ(log_->head()->size, 70u);
  EXPECT_EQ(log_->head()->root, tree.root());
  for (uint64_t size = 0; size <= 70; ++size) {
    auto root = log_->root(size);
    ASSERT_TRUE(root) << root.error().to_string();
    ASSERT_EQ(*root, *tree.root(size)) << size;
  }
  for (uint64_t size = 1; size <= 70; size += (size < 34 ? 1 : 9)) {
    for (uint64_t index = 0; index < size; ++index) {
      auto proof = log_->inclusion_proof(index, size);
      ASSERT_TRUE(proof) << proof.error().to_string();
      ASSERT_EQ(*proof, *tree.inclusion_proof(index, size)) << index << "/" << size;
    }
  }
  for (uint64_t size2 = 0; size2 <= 70; size2 += (size2 < 34 ? 1 : 9)) {
    for (uint64_t size1 = 0; size1 <= size2; ++size1) {
      auto proof = log_->consistency_proof(size1, size2);
      ASSERT_TRUE(proof) << proof.error().to_string();
      ASSERT_EQ(*proof, *tree.consistency_proof(size1, size2)) << size1 << "->" << size2;
      ASSERT_TRUE(verify_consistency(size1, size2, *tree.root(size1), *tree.root(size2), *proof));
    }
  }
  EXPECT_EQ(log_->inclusion_proof(70, 70).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log_->inclusion_proof(3, 71).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log_->consistency_proof(5, 71).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log_->consistency_proof(6, 5).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log_->root(71).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(MerkleStoreTest, EntriesAndLookup) {
  int64_t clock = 1'700'000'000;
  auto log = open_log({.now = [&] { return clock; }});
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->append(as_bytes("zero")));
  clock += 5;
  Bytes binary{0x00, 0xff, 0x00, 0x10};
  auto r = log->append(binary);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->index, 1u);
  auto e = log->entry(1);
  ASSERT_TRUE(e) << e.error().to_string();
  EXPECT_EQ(e->index, 1u);
  EXPECT_EQ(e->data, binary);
  EXPECT_EQ(e->leaf_hash, leaf_hash(binary));
  EXPECT_EQ(e->appended_at, 1'700'000'005);
  EXPECT_EQ(log->entry(0)->appended_at, 1'700'000'000);
  EXPECT_EQ(*log->find(leaf_hash(binary)), std::optional<uint64_t>(1));
  EXPECT_EQ(*log->find(leaf_hash(as_bytes("zero"))), std::optional<uint64_t>(0));
  EXPECT_EQ(log->entry(2).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(log->entry(UINT64_MAX).error().code, ErrorCode::kNotFound);
}

TEST_P(MerkleStoreTest, DuplicatesReturnTheExistingIndex) {
  ASSERT_TRUE(log_->append(as_bytes("a")));
  ASSERT_TRUE(log_->append(as_bytes("b")));
  Hash root2 = log_->head()->root;
  auto again = log_->append(as_bytes("a"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->index, 0u);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(log_->head()->size, 2u);
  EXPECT_EQ(log_->head()->root, root2);
  // Within one batch, and mixed with new leaves.
  std::vector<Bytes> batch{leaf_bytes("c"), leaf_bytes("b"), leaf_bytes("c"), leaf_bytes("d")};
  auto r = log_->append(batch);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].index, 2u);
  EXPECT_FALSE((*r)[0].duplicate);
  EXPECT_EQ((*r)[1].index, 1u);
  EXPECT_TRUE((*r)[1].duplicate);
  EXPECT_EQ((*r)[2].index, 2u);
  EXPECT_TRUE((*r)[2].duplicate);
  EXPECT_EQ((*r)[3].index, 3u);
  MerkleTree tree;
  for (const char* s : {"a", "b", "c", "d"}) tree.append(as_bytes(s));
  EXPECT_EQ(log_->head()->size, 4u);
  EXPECT_EQ(log_->head()->root, tree.root());
  // An all-duplicate batch changes nothing.
  std::vector<Bytes> dups{leaf_bytes("d"), leaf_bytes("a")};
  auto d = log_->append(dups);
  ASSERT_TRUE(d);
  EXPECT_TRUE((*d)[0].duplicate && (*d)[1].duplicate);
  EXPECT_EQ(log_->head()->root, tree.root());
}

TEST_P(MerkleStoreTest, LeafSizeCap) {
  auto log = open_log({.max_leaf_size = 16});
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->append(Bytes(16, 1)));
  auto r = log->append(Bytes(17, 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
  // A batch with one oversized leaf appends nothing.
  std::vector<Bytes> batch{Bytes(3, 2), Bytes(100, 3)};
  EXPECT_FALSE(log->append(batch));
  EXPECT_EQ(log->head()->size, 1u);
  EXPECT_TRUE(log->append(Bytes{}));  // the empty leaf is a leaf
}

TEST_P(MerkleStoreTest, ReopenedLogContinuesWithIdenticalRoots) {
  MerkleTree tree;
  append_range(*log_, tree, "before ", 0, 37, 6);
  Hash root37 = log_->head()->root;
  log_.reset();
  auto reopened = open_log();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->head()->size, 37u);
  EXPECT_EQ(reopened->head()->root, root37);
  append_range(*reopened, tree, "after ", 0, 30, 4);
  EXPECT_EQ(reopened->head()->root, tree.root());
  EXPECT_EQ(*reopened->root(37), root37);
  auto proof = reopened->consistency_proof(37, 67);
  ASSERT_TRUE(proof);
  EXPECT_TRUE(verify_consistency(37, 67, root37, tree.root(), *proof));
}

TEST_P(MerkleStoreTest, ConcurrentAppendersSerialize) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 40;
  std::vector<std::unique_ptr<MerkleStore>> logs;
  for (int t = 0; t < kThreads; ++t) logs.push_back(open_log());  // separate Database objects, like processes
  std::vector<std::map<std::string, uint64_t>> seen(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; i += 4) {
        std::vector<Bytes> batch;
        std::vector<std::string> names;
        for (int k = i; k < i + 4; ++k) {
          // Every other leaf is shared by all threads: concurrent duplicates.
          std::string name = (k % 2 == 0) ? "shared " + std::to_string(k)
                                          : "t" + std::to_string(t) + " " + std::to_string(k);
          names.push_back(name);
          batch.push_back(leaf_bytes(name));
        }
        auto r = logs[t]->append(batch);
        if (!r) {
          errors[t] = r.error().to_string();
          return;
        }
        for (size_t k = 0; k < names.size(); ++k) seen[t][names[k]] = (*r)[k].index;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) ASSERT_EQ(errors[t], "") << t;
  const uint64_t unique = kThreads * kPerThread / 2 + kPerThread / 2;
  auto head = log_->head();
  ASSERT_TRUE(head);
  ASSERT_EQ(head->size, unique);
  // Every leaf got one index, whoever appended it, and the stored entries rebuild the stored root.
  std::map<std::string, uint64_t> merged;
  for (const auto& m : seen) {
    for (const auto& [name, index] : m) {
      auto [it, inserted] = merged.emplace(name, index);
      EXPECT_EQ(it->second, index) << name;
    }
  }
  EXPECT_EQ(merged.size(), unique);
  MerkleTree tree;
  for (uint64_t i = 0; i < unique; ++i) {
    auto e = log_->entry(i);
    ASSERT_TRUE(e) << i;
    EXPECT_EQ(merged.at(to_string(e->data)), i);
    tree.append(e->data);
  }
  EXPECT_EQ(head->root, tree.root());
  for (uint64_t size = 1; size <= unique; size += 13) EXPECT_EQ(*log_->root(size), *tree.root(size));
}

INSTANTIATE_TEST_SUITE_P(Backends, MerkleStoreTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         backend_name);

}  // namespace
}  // namespace openpcc::transparency
