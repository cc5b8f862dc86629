// The AuthBank ledger on SQLite and PostgreSQL: accounts, hashed API keys (the raw key is nowhere in the database),
// expiry and revocation, funds with their journal, the audit, record clean-up.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/bytes.h"
#include "services/authbank/ledger.h"
#include "store/migrate.h"
#include "authbank_test_support.h"

namespace openpcc::authbank {
namespace {

using authbank_test::Backend;

constexpr int64_t kNow = 1'750'000'000;

class LedgerTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = authbank_test::open_test_database(GetParam(), dir_);
    ASSERT_TRUE(db_);
    auto ledger = Ledger::open(db_);
    ASSERT_TRUE(ledger.has_value()) << ledger.error().to_string();
    ledger_ = std::move(*ledger);
  }

  Account make_account(std::vector<std::string> models = {"llama3:8b"}) {
    auto a = ledger_->create_account("acme", "alice", std::move(models), kNow);
    EXPECT_TRUE(a.has_value()) << a.error().to_string();
    return a ? *a : Account{};
  }

  // Every text and blob value of every row of `table`, for "is the secret stored anywhere" checks.
  std::vector<std::string> all_values(const std::string& table) {
    auto rows = db_->read([&](store::Transaction& tx) { return tx.query("SELECT * FROM " + table); });
    EXPECT_TRUE(rows.has_value());
    std::vector<std::string> out;
    for (const auto& row : rows.value_or(std::vector<store::Row>{})) {
      for (const auto& v : row.values()) {
        if (const auto* s = std::get_if<std::string>(&v)) out.push_back(*s);
        if (const auto* b = std::get_if<Bytes>(&v)) out.push_back(to_string(*b));
      }
    }
    return out;
  }

  openpcc::test_support::TempDir dir_;
  std::shared_ptr<store::Database> db_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_P(LedgerTest, MigrationIsIdempotent) {
  EXPECT_TRUE(Ledger::open(db_).has_value());
  auto version = store::schema_version(*db_, "authbank");
  ASSERT_TRUE(version.has_value());
  EXPECT_EQ(*version, 1);
}

TEST_P(LedgerTest, CreatesAndListsAccounts) {
  Account a = make_account({"zeta", "alpha", "mid"});
  EXPECT_GT(a.id, 0);
  EXPECT_EQ(a.organization, "acme");
  EXPECT_EQ(a.label, "alice");
  EXPECT_EQ(a.models, (std::vector<std::string>{"alpha", "mid", "zeta"}));
  EXPECT_EQ(a.balance, 0);
  EXPECT_EQ(a.created_at, kNow);
  auto b = ledger_->create_account("other org", "bob", {}, kNow + 1);
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(b->id, a.id);
  EXPECT_TRUE(b->models.empty());

  auto all = ledger_->list_accounts();
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, a.id);
  EXPECT_EQ((*all)[1].label, "bob");
  EXPECT_EQ(ledger_->account(a.id)->models, a.models);
  EXPECT_EQ(ledger_->account(9999).error().code, ErrorCode::kNotFound);
}

TEST_P(LedgerTest, RejectsBadNamesAndModels) {
  for (auto [org, label] : {std::pair<std::string, std::string>{"", "x"}, {"x", ""}, {std::string(257, 'a'), "x"},
                            {"x", "tab\there"}, {"x", "\xc3\xa9"}}) {
    auto r = ledger_->create_account(org, label, {}, kNow);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(ledger_->create_account("a", "b", {"dup", "dup"}, kNow).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ledger_->create_account("a", "b", {""}, kNow).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(ledger_->list_accounts()->empty());
}

TEST_P(LedgerTest, KeysAreStoredOnlyAsHashes) {
  Account a = make_account();
  auto issued = ledger_->issue_key(a.id, kNow + 3600, kNow);
  ASSERT_TRUE(issued.has_value()) << issued.error().to_string();
  const std::string text = issued->key.text();
  const std::string raw = to_string(*from_base64url(std::string_view(text).substr(5)));
  EXPECT_EQ(issued->record.key_id, issued->key.id());
  EXPECT_EQ(issued->record.account_id, a.id);
  EXPECT_EQ(issued->record.expires_at, kNow + 3600);

  // Not in any row (text, raw bytes or base64 body), only its hash.
  bool hash_seen = false;
  for (const auto& table : {"authbank_accounts", "authbank_api_keys", "authbank_journal"}) {
    for (const auto& value : all_values(table)) {
      EXPECT_EQ(value.find(text.substr(5)), std::string::npos) << table;
      EXPECT_EQ(value.find(raw), std::string::npos) << table;
      if (value == to_string(issued->key.hash())) hash_seen = true;
    }
  }
  EXPECT_TRUE(hash_seen);

  if (GetParam() == Backend::kSqlite) {
    // Nor in the database files (main file and write-ahead log).
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      EXPECT_EQ(bytes.str().find(text.substr(5)), std::string::npos) << entry.path();
      EXPECT_EQ(bytes.str().find(raw), std::string::npos) << entry.path();
    }
  }

  auto keys = ledger_->list_keys(a.id);
  ASSERT_TRUE(keys.has_value());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].key_id, issued->key.id());
}

TEST_P(LedgerTest, AuthenticateEnforcesExpiryAndRevocation) {
  Account a = make_account();
  auto expiring = ledger_->issue_key(a.id, kNow + 100, kNow);
  auto forever = ledger_->issue_key(a.id, std::nullopt, kNow);
  ASSERT_TRUE(expiring && forever);

  auto ok = ledger_->authenticate(expiring->key, kNow + 99);
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(ok->id, a.id);
  auto expired = ledger_->authenticate(expiring->key, kNow + 100);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos);
  EXPECT_TRUE(ledger_->authenticate(forever->key, kNow + 100 * 365 * 86400LL).has_value());

  ASSERT_TRUE(ledger_->revoke_key(forever->record.key_id, kNow + 5).has_value());
  ASSERT_TRUE(ledger_->revoke_key(forever->record.key_id, kNow + 50).has_value());  // idempotent
  auto revoked = ledger_->authenticate(forever->key, kNow + 6);
  ASSERT_FALSE(revoked.has_value());
  EXPECT_EQ(revoked.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(revoked.error().message.find("revoked"), std::string::npos);

  auto unknown = ledger_->authenticate(ApiKey::generate(), kNow);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(ledger_->revoke_key("0000000000000000", kNow).error().code, ErrorCode::kNotFound);

  auto keys = ledger_->list_keys(a.id);
  ASSERT_TRUE(keys.has_value());
  for (const auto& k : *keys) {
    if (k.key_id == forever->record.key_id) {
      EXPECT_EQ(k.revoked_at, kNow + 5);  // the first revocation time is kept
      EXPECT_EQ(k.last_used, kNow + 100 * 365 * 86400LL);
    } else {
      EXPECT_EQ(k.last_used, kNow + 99);  // failed attempts do not count as use
      EXPECT_FALSE(k.revoked_at.has_value());
    }
  }

  EXPECT_EQ(ledger_->issue_key(a.id, kNow, kNow).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ledger_->issue_key(4242, std::nullopt, kNow).error().code, ErrorCode::kNotFound);
}

TEST_P(LedgerTest, FundsAreJournaled) {
  Account a = make_account();
  auto after = ledger_->add_funds(a.id, 1000, kNow);
  ASSERT_TRUE(after.has_value()) << after.error().to_string();
  EXPECT_EQ(after->balance, 1000);
  EXPECT_EQ(ledger_->add_funds(a.id, 24, kNow + 1)->balance, 1024);
  EXPECT_EQ(ledger_->add_funds(a.id, 0, kNow).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ledger_->add_funds(a.id, -5, kNow).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ledger_->add_funds(a.id, kMaxBalance, kNow).error().code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(ledger_->add_funds(777, 5, kNow).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(ledger_->account(a.id)->balance, 1024);

  auto journal = ledger_->journal(a.id);
  ASSERT_TRUE(journal.has_value());
  ASSERT_EQ(journal->size(), 2u);
  EXPECT_EQ((*journal)[0].op, JournalOp::kAddFunds);
  EXPECT_EQ((*journal)[0].delta, 1000);
  EXPECT_EQ((*journal)[0].balance_after, 1000);
  EXPECT_EQ((*journal)[1].delta, 24);
  EXPECT_EQ((*journal)[1].balance_after, 1024);
  EXPECT_EQ((*journal)[1].created_at, kNow + 1);
  EXPECT_TRUE(ledger_->audit()->empty());
}

TEST_P(LedgerTest, AuditFindsABalanceChangedOutsideTheJournal) {
  Account a = make_account();
  Account b = make_account();
  ASSERT_TRUE(ledger_->add_funds(a.id, 10, kNow));
  ASSERT_TRUE(ledger_->add_funds(b.id, 10, kNow));
  ASSERT_TRUE(db_->transact([&](store::Transaction& tx) {
    return tx.execute("UPDATE authbank_accounts SET balance = 11 WHERE id = $1", {b.id});
  }));
  auto audit = ledger_->audit();
  ASSERT_TRUE(audit.has_value());
  EXPECT_EQ(*audit, std::vector<int64_t>{b.id});
}

TEST_P(LedgerTest, WithdrawDebitsOnceAndRecords) {
  Account a = make_account();
  auto key = ledger_->issue_key(a.id, std::nullopt, kNow);
  ASSERT_TRUE(key && ledger_->add_funds(a.id, 100, kNow));
  const auto value = *currency::Value::from_amount(64);
  const Bytes message(128, 0x33);
  int signs = 0;
  auto sign = [&]() -> Result<Bytes> {
    ++signs;
    return Bytes(128, 0x44);
  };
  std::optional<int64_t> who;
  auto first = ledger_->withdraw(key->key, value, message, kNow, sign, &who);
  ASSERT_TRUE(first.has_value()) << first.error().to_string();
  EXPECT_EQ(who, a.id);
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->account.balance, 36);
  auto again = ledger_->withdraw(key->key, value, message, kNow + 5, sign);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->blind_signature, first->blind_signature);
  EXPECT_EQ(again->account.balance, 36);
  EXPECT_EQ(signs, 1);

  // Insufficient: nothing changes, and the signer is never asked.
  auto poor = ledger_->withdraw(key->key, value, Bytes(128, 0x34), kNow, sign, &who);
  ASSERT_FALSE(poor.has_value());
  EXPECT_EQ(poor.error().code, ErrorCode::kInsufficientBalance);
  EXPECT_EQ(signs, 1);
  EXPECT_EQ(ledger_->account(a.id)->balance, 36);

  // A signing failure rolls the debit back.
  auto failing = ledger_->withdraw(key->key, *currency::Value::from_amount(4), Bytes(128, 0x35), kNow,
                                   []() -> Result<Bytes> { return make_error(ErrorCode::kCrypto, "no"); });
  ASSERT_FALSE(failing.has_value());
  EXPECT_EQ(ledger_->account(a.id)->balance, 36);
  EXPECT_EQ(ledger_->journal(a.id)->size(), 2u);
  EXPECT_TRUE(ledger_->audit()->empty());

  // Old records go after kWithdrawalRecordSeconds; then the same message debits again (a retry that late cannot
  // be told from a new request, and its credit would have expired anyway).
  auto removed = ledger_->collect_garbage(kNow + kWithdrawalRecordSeconds + 10);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(*removed, 1);
  ASSERT_TRUE(ledger_->add_funds(a.id, 64, kNow));
  auto late = ledger_->withdraw(key->key, value, message, kNow, sign);
  ASSERT_TRUE(late.has_value());
  EXPECT_FALSE(late->replayed);
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         authbank_test::backend_name);

}  // namespace
}  // namespace openpcc::authbank
