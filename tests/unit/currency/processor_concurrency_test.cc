// Double spending under load: 8 clients make 10,000 spend attempts of 1,000 real credits through the Processor
// (signature verification, then the nonce store) → exactly 1,000 succeed, on every NonceStore backend.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "crypto/rsa_blind.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "currency/memory_nonce_store.h"
#include "currency/processor.h"
#include "currency/sql_nonce_store.h"
#include "store/database.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace openpcc::currency {
namespace {

constexpr int kCredits = 1000;
constexpr int kAttempts = 10000;
constexpr int kClients = 8;

enum class Backend { kMemory, kSqlite, kPostgres };

// Issued once per test process: 1,000 unblinded credits of mixed values under a 1024-bit safe-prime test key.
struct Fixture {
  std::optional<Issuer> issuer;
  std::optional<CreditVerifier> verifier;
  std::vector<Credit> credits;
  int64_t now = 0;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture out;
    std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/blindbank-currency-key-1024.pem");
    std::stringstream pem;
    pem << in.rdbuf();
    auto key = crypto::RsaPrivateKey::from_pem(pem.str());
    if (!key) return out;
    auto verifier = CreditVerifier::create(key->public_key());
    auto issuer = Issuer::create(std::move(*key));
    if (!issuer || !verifier) return out;
    out.issuer.emplace(std::move(*issuer));
    out.verifier.emplace(std::move(*verifier));
    out.now = unix_now();
    for (int i = 0; i < kCredits; ++i) {
      auto value = Value::from_amount(1 + i % 15);
      auto credit = out.issuer->issue_unblinded(*value, out.now);
      if (!credit) return Fixture{};
      out.credits.push_back(std::move(*credit));
    }
    return out;
  }();
  return f;
}

class ProcessorConcurrency : public ::testing::TestWithParam<Backend> {};

TEST_P(ProcessorConcurrency, TenThousandAttemptsOnAThousandCreditsSpendEachOnce) {
  const Fixture& f = fixture();
  ASSERT_EQ(f.credits.size(), static_cast<size_t>(kCredits)) << "could not issue the test credits";

  test_support::TempDir dir("openpcc-spend-load");
  std::shared_ptr<store::Database> db;
  std::unique_ptr<NonceStore> store;
  if (GetParam() == Backend::kMemory) {
    store = make_memory_nonce_store();
  } else {
    std::string url = "sqlite:" + (dir / "nonces.db").string();
    if (GetParam() == Backend::kPostgres) {
      auto fresh = test_support::fresh_postgres_database();
      ASSERT_TRUE(fresh) << fresh.error().to_string();
      url = *fresh;
    }
    auto opened = store::open_database(url);
    ASSERT_TRUE(opened) << opened.error().to_string();
    db = *opened;
    ASSERT_TRUE(migrate_sql_nonce_store(*db));
    store = make_sql_nonce_store(db);
  }
  const Processor processor(*f.verifier, *store, &*f.issuer);

  std::atomic<int> spent{0};
  std::atomic<int> refused{0};
  std::atomic<int> unexpected{0};
  std::vector<std::atomic<int>> spends_per_credit(kCredits);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      // Client c makes attempts c, c+8, c+16, …; attempt k targets credit (k * 7919) % 1000, so every credit is tried
      // ten times, by different clients, interleaved.
      for (int k = c; k < kAttempts; k += kClients) {
        const Credit& credit = f.credits[(static_cast<int64_t>(k) * 7919) % kCredits];
        auto tx = processor.begin(credit, f.now);
        if (!tx) {
          if (tx.error().code == ErrorCode::kConflict || tx.error().code == ErrorCode::kAlreadyUsed) {
            refused.fetch_add(1);
          } else {
            unexpected.fetch_add(1);
          }
          continue;
        }
        if (tx->commit()) {
          spent.fetch_add(1);
          spends_per_credit[(static_cast<int64_t>(k) * 7919) % kCredits].fetch_add(1);
        } else {
          unexpected.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : clients) t.join();

  EXPECT_EQ(spent.load(), kCredits);
  EXPECT_EQ(refused.load(), kAttempts - kCredits);
  EXPECT_EQ(unexpected.load(), 0);
  for (int i = 0; i < kCredits; ++i) ASSERT_EQ(spends_per_credit[i].load(), 1) << "credit " << i;
}

INSTANTIATE_TEST_SUITE_P(Backends, ProcessorConcurrency,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) {
                           switch (info.param) {
                             case Backend::kMemory: return "Memory";
                             case Backend::kSqlite: return "Sqlite";
                             case Backend::kPostgres: return "Postgres";
                           }
                           return "Unknown";
                         });

}  // namespace
}  // namespace openpcc::currency
