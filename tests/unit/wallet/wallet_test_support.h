// The wallet tests' world: the real AuthBank and BlindBank (their logic classes and HTTP services on net::Servers
// over loopback, one SQLite money database in a temporary directory, the 1024-bit safe-prime test key from
// tests/data), a router stand-in that spends credits the way the router does (currency::Processor on the same nonce
// table, refunds issued as unblinded credits), one clock for everyone, and a transport wrapper that loses answers
// and cuts the connection at chosen requests to simulate crashes.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "client/wallet/state_file.h"
#include "client/wallet/wallet.h"
#include "client/wallet/wallet_state.h"
#include "crypto/ed25519.h"
#include "crypto/rsa_blind.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "currency/nonce_store.h"
#include "currency/processor.h"
#include "currency/sql_nonce_store.h"
#include "net/blocking_pool.h"
#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "services/authbank/authbank.h"
#include "services/authbank/authbank_client.h"
#include "services/authbank/authbank_http.h"
#include "services/blindbank/blindbank.h"
#include "services/blindbank/blindbank_client.h"
#include "services/blindbank/blindbank_http.h"
#include "services/common/http_transport.h"
#include "store/database.h"
#include "support/temp_dir.h"

namespace openpcc::wallet::wallet_test {

// 2026-11-21 07:20:00 UTC plus the real time elapsed since the world began: credits minted in a test carry the
// 07:00 or 08:00 timestamp and stay valid well past any test's run time; delays and backoffs still pass for real.
inline constexpr int64_t kWorldStartMs = int64_t{1795244400 + 1200} * 1000;

class WorldClock {
 public:
  int64_t now_ms() const {
    const auto elapsed = std::chrono::steady_clock::now() - start_;
    return kWorldStartMs + std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  }
  int64_t now_s() const { return now_ms() / 1000; }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

inline std::string read_test_file(const std::string& name) {
  std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open tests/data/" << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline crypto::RsaPrivateKey test_currency_key() {
  auto key = crypto::RsaPrivateKey::from_pem(read_test_file("blindbank-currency-key-1024.pem"));
  EXPECT_TRUE(key.has_value()) << key.error().to_string();
  return std::move(*key);
}

// Wraps a transport: counts requests per path; can lose the answer of the n-th request to a path (the request
// reaches the bank, the answer never comes back: what a crash right after sending looks like to the bank), or fail
// it without sending; and after such a fault can cut every later request (the process is "dead").
class FaultyTransport {
 public:
  struct Fault {
    std::string path;     // e.g. "/deposit" (the request URL ends with it)
    int occurrence = 1;   // the n-th request to that path
    bool forward = true;  // true: the bank gets it and its answer is lost; false: it never leaves
    bool cut_after = true;
  };

  explicit FaultyTransport(services::HttpTransport inner) : state_(std::make_shared<State>()) {
    state_->inner = std::move(inner);
  }

  // Called with every request's path and body before it is forwarded (on the sending coroutine).
  void inspect(std::function<void(const std::string& path, ByteSpan body)> inspector) {
    std::lock_guard lock(state_->mu);
    state_->inspector = std::move(inspector);
  }

  void arm(Fault fault) {
    std::lock_guard lock(state_->mu);
    state_->fault = std::move(fault);
  }
  bool fault_fired() const { return state_->fired.load(); }
  bool cut() const { return state_->cut.load(); }
  int count(const std::string& path) const {
    std::lock_guard lock(state_->mu);
    int n = 0;
    for (const auto& p : state_->paths) n += p == path ? 1 : 0;
    return n;
  }
  // Milliseconds (world clock) at which each request was sent, with its path.
  std::vector<std::pair<std::string, int64_t>> log() const {
    std::lock_guard lock(state_->mu);
    std::vector<std::pair<std::string, int64_t>> out;
    for (size_t i = 0; i < state_->paths.size(); ++i) out.emplace_back(state_->paths[i], state_->times[i]);
    return out;
  }

  services::HttpTransport transport() const {
    auto state = state_;
    return [state](net::ClientRequest request) -> net::Task<Result<net::ClientResponse>> {
      if (state->cut.load()) co_return make_error(ErrorCode::kIo, "test: connection cut");
      bool forward = true, lose = false;
      std::function<void(const std::string&, ByteSpan)> inspector;
      const std::string path = path_of(request.url);
      {
        std::lock_guard lock(state->mu);
        inspector = state->inspector;
        state->paths.push_back(path);
        state->times.push_back(state->clock.now_ms());
        if (state->fault && state->fault->path == path) {
          int seen = 0;
          for (const auto& p : state->paths) seen += p == path ? 1 : 0;
          if (seen == state->fault->occurrence) {
            lose = true;
            forward = state->fault->forward;
            state->fired.store(true);
            if (state->fault->cut_after) state->cut.store(true);
          }
        }
      }
      if (inspector) inspector(path, request.body);
      if (!forward) co_return make_error(ErrorCode::kIo, "test: request failed before sending");
      auto response = co_await state->inner(std::move(request));
      if (lose) co_return make_error(ErrorCode::kIo, "test: answer lost");
      co_return response;
    };
  }

 private:
  static std::string path_of(const std::string& url) {
    const size_t scheme = url.find("://");
    const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    return slash == std::string::npos ? "/" : url.substr(slash);
  }

  struct State {
    services::HttpTransport inner;
    mutable std::mutex mu;
    std::optional<Fault> fault;
    std::function<void(const std::string&, ByteSpan)> inspector;
    std::vector<std::string> paths;
    std::vector<int64_t> times;
    std::atomic<bool> fired{false};
    std::atomic<bool> cut{false};
    WorldClock clock;
  };
  std::shared_ptr<State> state_;
};

// AuthBank + BlindBank + router stand-in on one money database.
class Banks {
 public:
  static constexpr int64_t kInitialFunds = 1'000'000;

  Banks() {
    auto db = store::open_database("sqlite:" + (dir_ / "money.db").string());
    EXPECT_TRUE(db.has_value()) << db.error().to_string();
    db_ = *db;
    auto clock_s = [this] { return clock_.now_s(); };

    auto badge_key = crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x42));
    authbank::AuthBankOptions auth_options;
    auth_options.clock = clock_s;
    auto auth = authbank::AuthBank::create(db_, test_currency_key(), std::move(*badge_key), std::move(auth_options));
    EXPECT_TRUE(auth.has_value()) << auth.error().to_string();
    authbank_ = std::move(*auth);
    auto& ledger = authbank_->ledger();
    const int64_t now = clock_.now_s();
    account_id_ = ledger.create_account("acme", "alice", {"llama3:8b"}, now)->id;
    api_key_ = ledger.issue_key(account_id_, std::nullopt, now)->key.text();
    EXPECT_TRUE(ledger.add_funds(account_id_, kInitialFunds, now).has_value());
    auto auth_server = net::Server::start(runtime_, net::ServerConfig{},
                                          authbank::make_routes(*authbank_, pool_).handler());
    EXPECT_TRUE(auth_server.has_value()) << auth_server.error().to_string();
    auth_server_ = std::move(*auth_server);

    auto issuer = currency::Issuer::create(test_currency_key());
    auto blind = blindbank::BlindBank::open(db_, std::move(*issuer));
    EXPECT_TRUE(blind.has_value()) << blind.error().to_string();
    blindbank_ = std::move(*blind);
    blindbank::ServiceOptions blind_options;
    blind_options.clock = clock_s;
    net::ServerConfig blind_config;
    blind_config.max_body_bytes = blindbank::max_request_body(*blindbank_, blind_options);
    auto blind_server = net::Server::start(runtime_, blind_config,
                                           blindbank::make_blindbank_handler(*blindbank_, pool_, blind_options));
    EXPECT_TRUE(blind_server.has_value()) << blind_server.error().to_string();
    blind_server_ = std::move(*blind_server);

    // The router: verify → lock → commit / commit with refund, on the shared nonce table.
    auto verifier = currency::CreditVerifier::create(test_currency_key().public_key());
    verifier_.emplace(std::move(*verifier));
    nonces_ = currency::make_sql_nonce_store(db_);
    auto router_issuer = currency::Issuer::create(test_currency_key());
    router_issuer_.emplace(std::move(*router_issuer));
    processor_.emplace(*verifier_, *nonces_, &*router_issuer_);

    auto client = net::Client::create();
    direct_ = services::direct_transport(*client);
  }

  ~Banks() {
    if (auth_server_) auth_server_->shutdown(std::chrono::seconds(2));
    if (blind_server_) blind_server_->shutdown(std::chrono::seconds(2));
  }

  net::Runtime& runtime() { return runtime_; }
  const WorldClock& clock() const { return clock_; }
  const openpcc::test_support::TempDir& dir() const { return dir_; }
  crypto::RsaPublicKey currency_key() const { return test_currency_key().public_key(); }
  const services::HttpTransport& direct() const { return direct_; }
  std::string authbank_url() const { return "http://127.0.0.1:" + std::to_string(auth_server_->port()); }
  std::string blindbank_url() const { return "http://127.0.0.1:" + std::to_string(blind_server_->port()); }
  const std::string& api_key() const { return api_key_; }

  // The connections a wallet gets: both banks through `transport` (default: straight).
  WalletBanks wallet_banks(const services::HttpTransport* transport = nullptr) const {
    const services::HttpTransport& t = transport ? *transport : direct_;
    return WalletBanks{authbank::AuthBankClient(t, authbank_url(), api_key_),
                       blindbank::BlindBankClient(t, blindbank_url()), currency_key()};
  }

  int64_t authbank_balance() {
    auto account = authbank_->ledger().account(account_id_);
    EXPECT_TRUE(account.has_value());
    return account ? account->balance : -1;
  }
  // Switches the wallets made from now on (and authbank_balance) to a new AuthBank account holding `funds`
  // (0 = none).
  void use_new_account(int64_t funds) {
    auto& ledger = authbank_->ledger();
    const int64_t now = clock_.now_s();
    account_id_ = ledger.create_account("acme", "bob", {"llama3:8b"}, now)->id;
    api_key_ = ledger.issue_key(account_id_, std::nullopt, now)->key.text();
    if (funds > 0) {
      EXPECT_TRUE(ledger.add_funds(account_id_, funds, now).has_value());
    }
  }
  int64_t blindbank_balance(ByteSpan token) {
    auto balance = blindbank_->balance(token);
    EXPECT_TRUE(balance.has_value());
    return balance ? *balance : -1;
  }
  blindbank::LedgerAudit blindbank_audit() {
    auto audit = blindbank_->audit();
    EXPECT_TRUE(audit.has_value());
    return audit ? *audit : blindbank::LedgerAudit{};
  }

  // The router spending a credit: commit, optionally with a refund of `refund_amount` (stochastically rounded as
  // the node does). Returns the refund credit.
  Result<std::optional<currency::Credit>> spend(const currency::Credit& credit, int64_t refund_amount = 0) {
    auto tx = processor_->begin(credit, clock_.now_s());
    if (!tx) return std::unexpected(tx.error());
    if (refund_amount <= 0) {
      if (auto st = tx->commit(); !st) return std::unexpected(st.error());
      std::lock_guard lock(mu_);
      router_spent_ += credit.value.amount();
      return std::optional<currency::Credit>();
    }
    auto value = currency::Value::rounded(static_cast<double>(refund_amount));
    if (!value) return std::unexpected(value.error());
    auto refund = tx->commit_with_refund(*value);
    if (!refund) return std::unexpected(refund.error());
    std::lock_guard lock(mu_);
    router_spent_ += credit.value.amount();
    router_refunded_ += refund->value.amount();
    return std::optional<currency::Credit>(std::move(*refund));
  }
  // A router transaction left open (the request is still running): the credit stays locked.
  Result<currency::CreditTransaction> lock(const currency::Credit& credit) {
    return processor_->begin(credit, clock_.now_s());
  }
  // The router rolled back (the request failed before the node answered).
  Status touch_and_release(const currency::Credit& credit) {
    auto tx = processor_->begin(credit, clock_.now_s());
    if (!tx) return std::unexpected(tx.error());
    return tx->rollback();
  }
  int64_t router_spent() {
    std::lock_guard lock(mu_);
    return router_spent_;
  }
  int64_t router_refunded() {
    std::lock_guard lock(mu_);
    return router_refunded_;
  }

  // The state file as it is on disk.
  static WalletState read_state(const std::filesystem::path& path) {
    auto file = StateFile::open(path);
    EXPECT_TRUE(file.has_value()) << file.error().to_string();
    if (!file) return WalletState{};
    auto state = file->load();
    EXPECT_TRUE(state.has_value() && state->has_value());
    return state && *state ? std::move(**state) : WalletState{};
  }

 private:
  openpcc::test_support::TempDir dir_{"openpcc-wallet"};
  WorldClock clock_;
  net::Runtime runtime_{2};
  net::BlockingPool pool_{2};
  std::shared_ptr<store::Database> db_;
  std::unique_ptr<authbank::AuthBank> authbank_;
  std::unique_ptr<blindbank::BlindBank> blindbank_;
  std::unique_ptr<net::Server> auth_server_;
  std::unique_ptr<net::Server> blind_server_;
  int64_t account_id_ = 0;
  std::string api_key_;
  std::optional<currency::CreditVerifier> verifier_;
  std::unique_ptr<currency::NonceStore> nonces_;
  std::optional<currency::Issuer> router_issuer_;
  std::optional<currency::Processor> processor_;
  services::HttpTransport direct_;
  std::mutex mu_;
  int64_t router_spent_ = 0;
  int64_t router_refunded_ = 0;
};

// A config for tests: small amounts (prefetch 256, source 2560 = 10 credits), no delays, short timeouts.
inline WalletConfig test_config(const std::filesystem::path& state_file, const WorldClock& clock) {
  WalletConfig config;
  config.source_amount = 2560;
  config.prefetch_amount = 256;
  config.max_parallel = 2;
  config.max_delay = std::chrono::milliseconds(0);
  config.state_file = state_file;
  config.close_timeout = std::chrono::seconds(20);
  config.payment_timeout = std::chrono::seconds(20);
  config.min_backoff = std::chrono::milliseconds(20);
  config.max_backoff = std::chrono::milliseconds(200);
  config.clock_ms = [&clock] { return clock.now_ms(); };
  return config;
}

// Value held by the wallet according to its state: balances as booked plus every credit it holds.
inline int64_t value_held(const WalletState& state) {
  int64_t total = 0;
  for (const auto& a : state.accounts) total += a.balance;
  for (const auto& i : state.items) total += i.credit ? i.credit->value.amount() : 0;
  return total;
}

// The wallet's conservation law over its counters (wallet_state.h).
inline void expect_conserved(const WalletState& state) {
  const Counters& c = state.counters;
  EXPECT_EQ(c.from_source + c.refunds_received + c.rounding,
            c.returned_to_source + c.spent + c.spent_unknown + c.lost + value_held(state))
      << "from_source " << c.from_source << " refunds " << c.refunds_received << " rounding " << c.rounding
      << " returned " << c.returned_to_source << " spent " << c.spent << " spent_unknown " << c.spent_unknown
      << " lost " << c.lost << " held " << value_held(state);
}

}  // namespace openpcc::wallet::wallet_test
