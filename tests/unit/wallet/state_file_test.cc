// The state file on disk: permissions, atomic replacement, the one-wallet lock, and what happens to corrupt files.
#include "client/wallet/state_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "services/common/key_files.h"
#include "support/temp_dir.h"
#include "unit/wallet/wallet_test_support.h"

namespace openpcc::wallet {
namespace {

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

WalletState small_state() {
  WalletState s;
  s.currency_key = wallet_test::test_currency_key().public_key();
  Account a;
  a.id = 1;
  a.role = AccountRole::kConsolidation;
  a.token = SecretBytes(Bytes(32, 0x5a));
  a.balance = 1234;
  s.accounts.push_back(std::move(a));
  s.next_id = 2;
  s.counters.from_source = 2560;
  return s;
}

TEST(StateFileTest, MissingFileLoadsAsNothing) {
  openpcc::test_support::TempDir dir;
  auto file = StateFile::open(dir / "sub" / "dir" / "wallet.state");
  ASSERT_TRUE(file.has_value()) << file.error().to_string();
  auto loaded = file->load();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_FALSE(loaded->has_value());
  // Missing directories are created private.
  EXPECT_EQ(mode_of(dir / "sub"), 0700u);
  EXPECT_EQ(mode_of(dir / "sub" / "dir"), 0700u);
}

TEST(StateFileTest, SaveIsPrivateAndLoadsBack) {
  openpcc::test_support::TempDir dir;
  const auto path = dir / "wallet.state";
  ::umask(0);  // even with a permissive umask the file is 0600
  auto file = StateFile::open(path);
  ASSERT_TRUE(file.has_value());
  ASSERT_TRUE(file->save(serialize_state(small_state())).has_value());
  ::umask(022);
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(mode_of(std::filesystem::path(path.string() + ".lock")), 0600u);
  auto loaded = file->load();
  ASSERT_TRUE(loaded.has_value() && loaded->has_value());
  EXPECT_EQ((*loaded)->accounts.size(), 1u);
  EXPECT_EQ((*loaded)->accounts[0].balance, 1234);
  // Replacing leaves no temporary files behind.
  WalletState s = small_state();
  s.accounts[0].balance = 99;
  ASSERT_TRUE(file->save(serialize_state(s)).has_value());
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 2u);  // wallet.state, wallet.state.lock
  EXPECT_EQ((*file->load())->accounts[0].balance, 99);
}

TEST(StateFileTest, OneHolderAtATime) {
  openpcc::test_support::TempDir dir;
  const auto path = dir / "wallet.state";
  {
    auto first = StateFile::open(path);
    ASSERT_TRUE(first.has_value());
    auto second = StateFile::open(path);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code, ErrorCode::kConflict);
    StateFile moved = std::move(*first);  // the lock moves with the object
    auto third = StateFile::open(path);
    EXPECT_FALSE(third.has_value());
  }
  EXPECT_TRUE(StateFile::open(path).has_value());
}

TEST(StateFileTest, LooseModeIsRefused) {
  openpcc::test_support::TempDir dir;
  const auto path = dir / "wallet.state";
  auto file = StateFile::open(path);
  ASSERT_TRUE(file.has_value());
  ASSERT_TRUE(file->save(serialize_state(small_state())).has_value());
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  auto loaded = file->load();
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(file->corrupt_copy_path()));
}

TEST(StateFileTest, CorruptFileIsKeptAndRefused) {
  openpcc::test_support::TempDir dir;
  const auto path = dir / "wallet.state";
  auto file = StateFile::open(path);
  ASSERT_TRUE(file.has_value());
  const Bytes garbage = to_bytes("OPCCWLT1 but then nothing that makes sense");
  ASSERT_TRUE(services::write_secret_file_atomically(path, garbage).has_value());
  auto loaded = file->load();
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code, ErrorCode::kDecode);
  EXPECT_NE(loaded.error().message.find(path.string()), std::string::npos);
  EXPECT_NE(loaded.error().message.find(".corrupt"), std::string::npos);
  auto kept = services::read_secret_file(file->corrupt_copy_path());
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(Bytes(kept->span().begin(), kept->span().end()), garbage);
  EXPECT_EQ(mode_of(file->corrupt_copy_path()), 0600u);
  // The original is untouched.
  auto original = services::read_secret_file(path);
  ASSERT_TRUE(original.has_value());
  EXPECT_EQ(Bytes(original->span().begin(), original->span().end()), garbage);
}

TEST(StateFileTest, NotARegularFile) {
  openpcc::test_support::TempDir dir;
  const auto path = dir / "wallet.state";
  std::filesystem::create_directory(path);
  auto file = StateFile::open(path);
  ASSERT_TRUE(file.has_value());
  EXPECT_FALSE(file->load().has_value());
}

}  // namespace
}  // namespace openpcc::wallet
