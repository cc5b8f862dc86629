// Shared pieces of the BlindBank tests: the 1024-bit safe-prime test key, a bank on SQLite or PostgreSQL, minting
// credits the way the AuthBank would (same key), and the client side of a withdrawal (blind, finish).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/random.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"
#include "currency/credit_request.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "services/blindbank/blindbank.h"
#include "store/database.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace openpcc::blindbank::testkit {

enum class Backend { kSqlite, kPostgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// 2026-11-21 07:20:00 UTC: credits minted "now" carry the 07:00 or 08:00 timestamp and are valid until 08:00:30
// at the earliest.
inline constexpr int64_t kHour = 1795244400;
inline constexpr int64_t kNow = kHour + 1200;

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string test_key_path() { return std::string(OPENPCC_TEST_DATA_DIR) + "/blindbank-currency-key-1024.pem"; }

inline crypto::RsaPrivateKey test_key() {
  auto key = crypto::RsaPrivateKey::from_pem(read_text_file(test_key_path()));
  EXPECT_TRUE(key) << key.error().to_string();
  return std::move(*key);
}

inline currency::Issuer test_issuer() {
  auto issuer = currency::Issuer::create(test_key());
  EXPECT_TRUE(issuer) << issuer.error().to_string();
  return std::move(*issuer);
}

inline Bytes new_token() { return random_bytes(kAccountTokenSize); }

inline currency::Value value_of(int64_t amount) { return currency::Value::from_amount(amount).value(); }

// The database URL for one test: a fresh SQLite file in `dir` or a fresh PostgreSQL database.
inline std::string database_url(Backend backend, const openpcc::test_support::TempDir& dir) {
  if (backend == Backend::kSqlite) return "sqlite:" + (dir / "money.db").string();
  auto url = openpcc::test_support::fresh_postgres_database();
  EXPECT_TRUE(url) << url.error().to_string();
  return url ? *url : std::string();
}

// A pending client-side credit and the request the bank signs.
struct Blinded {
  currency::PendingCredit pending;
  BlindSignRequest request;
};

inline Blinded blind(const crypto::RsaPublicKey& key, const currency::Value& value, int64_t now = kNow) {
  auto pending = currency::begin_credit(key, value, now, 0.0);
  EXPECT_TRUE(pending) << pending.error().to_string();
  BlindSignRequest request{value, pending->blinded_message()};
  return Blinded{std::move(*pending), std::move(request)};
}

// Owns a bank over a fresh database and an issuer on the same key for minting (the AuthBank's role).
class BankFixture {
 public:
  explicit BankFixture(Backend backend) : backend_(backend) {
    url_ = database_url(backend, dir_);
    auto db = store::open_database(url_);
    EXPECT_TRUE(db) << db.error().to_string();
    if (!db) return;
    db_ = *db;
    auto bank = BlindBank::open(db_, test_issuer());
    EXPECT_TRUE(bank) << bank.error().to_string();
    if (bank) bank_ = std::move(*bank);
    minter_ = std::make_unique<currency::Issuer>(test_issuer());
    auto verifier = currency::CreditVerifier::create(minter_->public_key());
    EXPECT_TRUE(verifier);
    verifier_ = std::make_unique<currency::CreditVerifier>(std::move(*verifier));
  }

  bool ok() const { return bank_ != nullptr; }
  BlindBank& bank() { return *bank_; }
  store::Database& db() { return *db_; }
  std::shared_ptr<store::Database> db_ptr() { return db_; }
  const std::string& url() const { return url_; }
  const crypto::RsaPublicKey& key() const { return minter_->public_key(); }
  const currency::CreditVerifier& verifier() const { return *verifier_; }
  const currency::Issuer& minter() const { return *minter_; }

  currency::Credit mint(int64_t amount, int64_t now = kNow) {
    auto credit = minter_->issue_unblinded(value_of(amount), now);
    EXPECT_TRUE(credit) << credit.error().to_string();
    return *credit;
  }

  // A blind credit the client finished itself (as after a withdrawal elsewhere).
  currency::Credit mint_blinded(int64_t amount, int64_t now = kNow) {
    Blinded b = blind(key(), value_of(amount), now);
    auto sig = minter_->blind_sign(b.request.value, b.request.blinded_message);
    EXPECT_TRUE(sig) << sig.error().to_string();
    auto credit = b.pending.finish(*sig);
    EXPECT_TRUE(credit) << credit.error().to_string();
    return *credit;
  }

  // Runs one SQL statement (white-box setup) and returns the affected rows.
  int64_t exec(const std::string& sql, std::vector<store::SqlValue> params = {}) {
    auto r = db_->transact([&](store::Transaction& tx) { return tx.execute(sql, params); });
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? *r : -1;
  }
  int64_t count(const std::string& sql, std::vector<store::SqlValue> params = {}) {
    auto r = db_->read([&](store::Transaction& tx) -> Result<int64_t> {
      auto row = tx.query_row(sql, params);
      if (!row) return std::unexpected(row.error());
      if (!*row) return int64_t{-1};
      return (*row)->integer(0);
    });
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? *r : -1;
  }

  void expect_consistent() {
    auto a = bank_->audit();
    ASSERT_TRUE(a) << a.error().to_string();
    EXPECT_TRUE(a->consistent()) << "balances " << a->balances << " journal " << a->journal_delta << " in "
                                 << a->deposits_in << " out " << a->withdrawals_out << " full "
                                 << a->full_withdrawals_out << " rounding " << a->rounding;
  }

 private:
  Backend backend_;
  openpcc::test_support::TempDir dir_{"openpcc-blindbank"};
  std::string url_;
  std::shared_ptr<store::Database> db_;
  std::unique_ptr<BlindBank> bank_;
  std::unique_ptr<currency::Issuer> minter_;
  std::unique_ptr<currency::CreditVerifier> verifier_;
};

}  // namespace openpcc::blindbank::testkit
