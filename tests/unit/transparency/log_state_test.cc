#include "transparency/log_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "support/temp_dir.h"

namespace openpcc::transparency {
namespace {

constexpr std::string_view kOrigin = "example.com/tlog";

// A log: a signer and an in-memory tree, signing checkpoints of any size.
struct FakeLog {
  explicit FakeLog(const NoteSigner& s) : signer(s) {}
  const NoteSigner& signer;
  MerkleTree tree;
  std::string origin = std::string(kOrigin);

  void grow(const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) tree.append(as_bytes(prefix + std::to_string(i)));
  }
  std::string checkpoint(uint64_t size) const {
    auto note = sign_checkpoint(Checkpoint{.origin = origin, .size = size, .root = *tree.root(size)}, signer);
    EXPECT_TRUE(note) << note.error().to_string();
    return note ? *note : "";
  }
  std::vector<Hash> proof(uint64_t from, uint64_t to) const { return *tree.consistency_proof(from, to); }
};

class LogStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = crypto::Ed25519PrivateKey::generate();
    ASSERT_TRUE(key);
    auto s = NoteSigner::create(std::string(kOrigin), std::move(*key));
    ASSERT_TRUE(s);
    signer_.emplace(std::move(*s));
    verifier_.emplace(*NoteVerifier::parse(signer_->verifier_key()));
    ASSERT_FALSE(dir_.path().empty());
  }
  std::filesystem::path state_path() const { return dir_ / "state" / "tlog.checkpoint"; }
  Result<LogState> open() { return LogState::open(state_path(), *verifier_, std::string(kOrigin)); }

  openpcc::test_support::TempDir dir_{"openpcc-logstate"};
  std::optional<NoteSigner> signer_;
  std::optional<NoteVerifier> verifier_;
};

TEST_F(LogStateTest, AcceptsGrowthAndPersists) {
  FakeLog log(*signer_);
  log.grow("a", 25);
  auto state = open();
  ASSERT_TRUE(state) << state.error().to_string();
  EXPECT_EQ(state->checkpoint().size, 0u);
  EXPECT_EQ(state->checkpoint().root, empty_root());
  EXPECT_EQ(state->signed_checkpoint(), "");
  EXPECT_FALSE(std::filesystem::exists(state_path()));

  auto cp = state->accept(log.checkpoint(10), {});  // first contact: the empty tree extends to anything
  ASSERT_TRUE(cp) << cp.error().to_string();
  EXPECT_EQ(cp->size, 10u);
  cp = state->accept(log.checkpoint(25), log.proof(10, 25));
  ASSERT_TRUE(cp) << cp.error().to_string();
  EXPECT_EQ(cp->size, 25u);
  EXPECT_EQ(cp->root, log.tree.root());
  // The same checkpoint again is fine.
  EXPECT_TRUE(state->accept(log.checkpoint(25), {}));

  // On disk: the signed note itself, mode 0600.
  struct stat st;
  ASSERT_EQ(::stat(state_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(state_path());
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), log.checkpoint(25));
  EXPECT_EQ(state->signed_checkpoint(), log.checkpoint(25));

  auto reopened = open();
  ASSERT_TRUE(reopened) << reopened.error().to_string();
  EXPECT_EQ(reopened->checkpoint(), *cp);
  // Inclusion against the accepted tree.
  auto proof = log.tree.inclusion_proof(7, 25);
  EXPECT_TRUE(reopened->verify_inclusion(7, leaf_hash(as_bytes("a7")), *proof));
  EXPECT_FALSE(reopened->verify_inclusion(7, leaf_hash(as_bytes("a8")), *proof));
}

TEST_F(LogStateTest, DetectsRollback) {
  FakeLog log(*signer_);
  log.grow("a", 20);
  auto state = open();
  ASSERT_TRUE(state->accept(log.checkpoint(20), {}));
  auto r = state->accept(log.checkpoint(12), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_NE(r.error().message.find("rollback"), std::string::npos) << r.error().message;
  EXPECT_EQ(state->checkpoint().size, 20u);
  // Also after a restart: the state file remembers.
  auto reopened = open();
  ASSERT_TRUE(reopened);
  EXPECT_FALSE(reopened->accept(log.checkpoint(0), {}));
}

TEST_F(LogStateTest, DetectsForks) {
  FakeLog honest(*signer_);
  honest.grow("a", 20);
  FakeLog forked(*signer_);  // same key and origin, different entries after the first 8
  forked.grow("a", 8);
  forked.grow("evil", 30);
  auto state = open();
  ASSERT_TRUE(state->accept(honest.checkpoint(20), {}));

  // Same size, other root.
  auto same = state->accept(forked.checkpoint(20), {});
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code, ErrorCode::kConflict);
  EXPECT_NE(same.error().message.find("fork"), std::string::npos) << same.error().message;
  // Larger, with the forked log's own proof: it cannot prove it extends what we saw.
  auto larger = state->accept(forked.checkpoint(30), forked.proof(20, 30));
  ASSERT_FALSE(larger);
  EXPECT_EQ(larger.error().code, ErrorCode::kConflict);
  EXPECT_NE(larger.error().message.find("fork"), std::string::npos) << larger.error().message;
  // A wrong or missing proof is refused the same way, and nothing changed.
  honest.grow("b", 5);
  EXPECT_FALSE(state->accept(honest.checkpoint(25), {}));
  EXPECT_FALSE(state->accept(honest.checkpoint(25), honest.proof(19, 25)));
  EXPECT_EQ(state->checkpoint().size, 20u);
  EXPECT_TRUE(state->accept(honest.checkpoint(25), honest.proof(20, 25)));
}

TEST_F(LogStateTest, RefusesOtherKeysAndOrigins) {
  FakeLog log(*signer_);
  log.grow("a", 4);
  auto state = open();
  auto other_key = crypto::Ed25519PrivateKey::generate();
  auto other = NoteSigner::create(std::string(kOrigin), std::move(*other_key));
  FakeLog impostor(*other);
  impostor.grow("a", 4);
  auto r = state->accept(impostor.checkpoint(4), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kAuthenticationFailed);
  FakeLog elsewhere(*signer_);
  elsewhere.origin = "example.com/other-log";
  elsewhere.grow("a", 4);
  r = state->accept(elsewhere.checkpoint(4), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kAuthenticationFailed);
  EXPECT_FALSE(state->accept("not a note", {}));
  EXPECT_EQ(state->checkpoint().size, 0u);
}

TEST_F(LogStateTest, TamperedStateFileIsAnErrorNotAReset) {
  FakeLog log(*signer_);
  log.grow("a", 9);
  {
    auto state = open();
    ASSERT_TRUE(state->accept(log.checkpoint(9), {}));
  }
  std::string note = log.checkpoint(9);
  note[note.find('\n') + 1] = '3';  // size 9 → 3
  {
    std::ofstream out(state_path(), std::ios::trunc);
    out << note;
  }
  auto state = open();
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kAuthenticationFailed);
  {
    std::ofstream out(state_path(), std::ios::trunc);
    out << "garbage";
  }
  EXPECT_FALSE(open());
  // Another log's state file (right key, other origin) is refused too.
  auto other_origin = LogState::open(state_path(), *verifier_, "example.com/other");
  EXPECT_FALSE(other_origin);
}

TEST_F(LogStateTest, WriteFailureLeavesStateUnchanged) {
  FakeLog log(*signer_);
  log.grow("a", 3);
  // The parent directory does not exist at open; a file takes its name before the write (works as root too).
  std::filesystem::path blocker = dir_ / "blocker";
  auto state = LogState::open(blocker / "tlog.checkpoint", *verifier_, std::string(kOrigin));
  ASSERT_TRUE(state) << state.error().to_string();
  { std::ofstream(blocker) << "x"; }
  auto r = state->accept(log.checkpoint(3), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_EQ(state->checkpoint().size, 0u);
  // In memory only: no file at all.
  auto mem = LogState::in_memory(*verifier_, std::string(kOrigin));
  EXPECT_TRUE(mem.accept(log.checkpoint(3), {}));
  EXPECT_EQ(mem.checkpoint().size, 3u);
}

}  // namespace
}  // namespace openpcc::transparency
