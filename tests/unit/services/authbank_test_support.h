// Shared fixtures of the AuthBank tests: 1024-bit safe-prime currency keys from tests/data, databases on both
// backends (a SQLite file in a temporary directory, a fresh PostgreSQL database), a settable clock.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "crypto/ed25519.h"
#include "crypto/rsa_blind.h"
#include "store/database.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace openpcc::authbank::authbank_test {

enum class Backend { kSqlite, kPostgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

inline std::string read_test_file(const std::string& name) {
  std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open tests/data/" << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The AuthBank tests' currency key (1024 bits, safe primes).
inline crypto::RsaPrivateKey currency_key() {
  auto key = crypto::RsaPrivateKey::from_pem(read_test_file("authbank-currency-key-1024.pem"));
  EXPECT_TRUE(key.has_value()) << key.error().to_string();
  return std::move(*key);
}

// Another issuer's key, for "signed by someone else".
inline crypto::RsaPrivateKey other_currency_key() {
  auto key = crypto::RsaPrivateKey::from_pem(read_test_file("authbank-other-currency-key-1024.pem"));
  EXPECT_TRUE(key.has_value()) << key.error().to_string();
  return std::move(*key);
}

inline crypto::Ed25519PrivateKey badge_key() {
  auto key = crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x42));
  EXPECT_TRUE(key.has_value());
  return std::move(*key);
}

// A database of the given backend; the SQLite one is a file inside `dir`.
inline std::shared_ptr<store::Database> open_test_database(Backend backend, const openpcc::test_support::TempDir& dir,
                                                           std::string* url_out = nullptr) {
  std::string url;
  if (backend == Backend::kSqlite) {
    url = "sqlite:" + (dir.path() / "money.db").string();
  } else {
    auto pg = openpcc::test_support::fresh_postgres_database();
    EXPECT_TRUE(pg.has_value()) << pg.error().to_string();
    if (!pg) return nullptr;
    url = *pg;
  }
  auto db = store::open_database(url);
  EXPECT_TRUE(db.has_value()) << db.error().to_string();
  if (url_out) *url_out = url;
  return db ? *db : nullptr;
}

// A clock the test moves.
struct TestClock {
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(1'750'000'000);
  int64_t operator()() const { return now->load(); }
  void advance(int64_t seconds) const { now->fetch_add(seconds); }
};

}  // namespace openpcc::authbank::authbank_test
