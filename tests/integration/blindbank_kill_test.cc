// Crash safety of the BlindBank: `openpcc blindbank` runs as a process on a SQLite file while a client thread
// streams deposits, batch withdrawals, exchanges and full withdrawals at it, retrying every request that got no
// answer with the IDENTICAL request until it succeeds. Another thread SIGKILLs the process at random moments and
// restarts it on the same database (and port). At the end:
//   * every credit the client holds verifies and is unspent: all of them deposit into a fresh account;
//   * balances (as the bank reports them) = value put in + rounding of full withdrawals (as the client saw it);
//   * the journal: Σ deltas = Σ balances, deposits − withdrawals − full withdrawals + rounding = Σ balances, and its
//     rounding equals the client's — no credit lost, none counted twice.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/random.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"
#include "currency/credit_request.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "net/client.h"
#include "net/runtime.h"
#include "services/blindbank/blindbank.h"
#include "services/blindbank/blindbank_client.h"
#include "services/common/http_transport.h"
#include "store/database.h"
#include "support/service_process.h"
#include "support/temp_dir.h"

namespace openpcc::blindbank {
namespace {

using currency::Credit;
using currency::Value;
using Clock = std::chrono::steady_clock;

constexpr int kKills = 10;
constexpr uint64_t kSeed = 20261121;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Credits the bank issues (withdraw-full) carry the current hour and expire at the next hour + 30 s
// (Nonce::is_expired_at); the client's own credits are made for half an hour ahead. The test takes about ten
// seconds; do not start it in the last two minutes of an hour.
void avoid_the_hour_boundary() {
  const int64_t into_hour = static_cast<int64_t>(std::time(nullptr)) % 3600;
  if (into_hour > 3600 - 120) {
    const int64_t wait = 3600 - into_hour + 35;
    std::printf("waiting %lld s for the hour boundary to pass\n", static_cast<long long>(wait));
    std::this_thread::sleep_for(std::chrono::seconds(wait));
  }
}

class BlindBankKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    avoid_the_hour_boundary();
    ASSERT_FALSE(dir_.path().empty());
    key_path_ = (dir_ / "currency.key").string();
    {
      std::ofstream out(key_path_);
      out << read_file(std::string(OPENPCC_TEST_DATA_DIR) + "/blindbank-currency-key-1024.pem");
    }
    ASSERT_EQ(::chmod(key_path_.c_str(), 0600), 0);
    db_path_ = (dir_ / "money.db").string();
    log_path_ = (dir_ / "bank.log").string();
    auto key = crypto::RsaPrivateKey::from_pem(read_file(key_path_));
    ASSERT_TRUE(key) << key.error().to_string();
    auto issuer = currency::Issuer::create(std::move(*key));
    ASSERT_TRUE(issuer);
    minter_ = std::make_unique<currency::Issuer>(std::move(*issuer));
    auto verifier = currency::CreditVerifier::create(minter_->public_key());
    ASSERT_TRUE(verifier);
    verifier_ = std::make_unique<currency::CreditVerifier>(std::move(*verifier));
  }

  std::string write_config(uint16_t port) {
    const std::string path = (dir_ / "blindbank.json").string();
    std::ofstream out(path, std::ios::trunc);
    out << "{\"listen\": \"127.0.0.1:" << port << "\", \"database\": \"sqlite:" << db_path_
        << "\", \"currency_key\": \"" << key_path_ << "\", \"threads\": 2, \"storage_threads\": 2, "
        << "\"log_level\": \"warn\"}\n";
    return path;
  }

  // Starts the bank on `port` (0 = any); if that port is taken meanwhile, on any port.
  Result<std::string> start_bank(uint16_t port) {
    auto url = process_.start({"blindbank", "--config", write_config(port)}, log_path_);
    if (!url && port != 0) url = process_.start({"blindbank", "--config", write_config(0)}, log_path_);
    return url;
  }

  static uint16_t port_of(const std::string& url) {
    return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  }

  openpcc::test_support::TempDir dir_{"openpcc-blindbank-kill"};
  std::string key_path_, db_path_, log_path_;
  std::unique_ptr<currency::Issuer> minter_;
  std::unique_ptr<currency::CreditVerifier> verifier_;
  test_support::ServiceProcess process_;
};

// The client: knows what it put in, what it holds, and what each account should hold.
struct ClientState {
  std::vector<Bytes> tokens;
  std::map<Bytes, int64_t> balances;
  std::vector<Credit> held;
  int64_t put_in = 0;
  int64_t rounding = 0;
  std::map<std::string, int> ops;
  int retries = 0;
  std::string failure;  // the first non-retryable error, if any
};

TEST_F(BlindBankKillTest, NoCreditLostOrCountedTwiceAcrossSigkills) {
  auto first = start_bank(0);
  ASSERT_TRUE(first) << first.error().to_string() << "\n" << read_file(log_path_);
  std::mutex url_mu;
  std::string url = *first;
  auto current_url = [&] {
    std::lock_guard lock(url_mu);
    return url;
  };

  net::Runtime runtime(1);
  net::ClientOptions net_options;
  net_options.connect_timeout = std::chrono::milliseconds(2000);
  net_options.read_timeout = std::chrono::milliseconds(10000);
  auto http = net::Client::create(net_options);
  ASSERT_TRUE(http);
  services::HttpTransport transport = services::direct_transport(*http);

  ClientState st;
  for (int i = 0; i < 3; ++i) {
    st.tokens.push_back(random_bytes(kAccountTokenSize));
    st.balances[st.tokens.back()] = 0;
  }
  std::atomic<bool> stop{false};
  std::atomic<bool> abandon{false};  // the bank could not be restarted: stop retrying

  // Sends one call until it gets an answer; the same request every time (the lambda captures it).
  auto until_answered = [&]<class T>(std::function<net::Task<Result<T>>(BlindBankClient&)> call) -> Result<T> {
    while (true) {
      BlindBankClient client(transport, current_url());
      Result<T> r = runtime.block_on<Result<T>>([&]() -> net::Task<Result<T>> { co_return co_await call(client); });
      if (r || !is_retryable(r.error()) || abandon) return r;
      ++st.retries;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };

  const crypto::RsaPublicKey& key = minter_->public_key();
  auto nonce_time = [] { return currency::unix_now() + 1800; };  // ≥ 30 min of validity (see avoid_...)
  static const int64_t kAmounts[] = {1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256};

  std::thread client_thread([&] {
    std::mt19937_64 rng(kSeed);
    auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
    auto fail = [&](const std::string& what, const Error& e) {
      if (st.failure.empty()) st.failure = what + ": " + e.to_string();
      stop = true;
    };
    while (!stop) {
      const Bytes token = st.tokens[pick(st.tokens.size())];
      const size_t op = pick(8);
      if (op <= 1 || st.put_in == 0) {  // new money in
        const int64_t amount = kAmounts[pick(std::size(kAmounts))];
        auto minted = minter_->issue_unblinded(Value::from_amount(amount).value(), nonce_time());
        if (!minted) return fail("mint", minted.error());
        const Credit credit = *minted;
        st.put_in += amount;
        auto b = until_answered.operator()<int64_t>([token, credit](BlindBankClient& c) {
          return c.deposit(token, credit);
        });
        if (!b) return fail("deposit", b.error());
        st.balances[token] += amount;
        if (*b != st.balances[token]) return fail("deposit balance", Error{ErrorCode::kInternal, std::to_string(*b)});
        ++st.ops["deposit"];
      } else if (op == 2 && !st.held.empty()) {  // held credit back in
        const size_t i = pick(st.held.size());
        const Credit credit = st.held[i];
        auto b = until_answered.operator()<int64_t>([token, credit](BlindBankClient& c) {
          return c.deposit(token, credit);
        });
        if (!b) return fail("deposit held", b.error());
        st.held.erase(st.held.begin() + static_cast<ptrdiff_t>(i));
        st.balances[token] += credit.value.amount();
        if (*b != st.balances[token]) return fail("deposit balance", Error{ErrorCode::kInternal, std::to_string(*b)});
        ++st.ops["deposit"];
      } else if (op <= 4) {  // batch withdrawal within the balance
        std::vector<currency::PendingCredit> pending;
        std::vector<BlindSignRequest> requests;
        int64_t left = st.balances[token];
        const size_t want = 1 + pick(5);
        for (size_t k = 0; k < want; ++k) {
          int64_t amount = kAmounts[pick(std::size(kAmounts))];
          if (amount > left) continue;
          auto p = currency::begin_credit(key, Value::from_amount(amount).value(), nonce_time(), 0.0);
          if (!p) return fail("blind", p.error());
          requests.push_back(BlindSignRequest{p->value(), p->blinded_message()});
          pending.push_back(std::move(*p));
          left -= amount;
        }
        if (requests.empty()) continue;
        auto w = until_answered.operator()<WithdrawResult>([token, requests](BlindBankClient& c) {
          return c.withdraw_batch(token, requests);
        });
        if (!w) return fail("withdraw", w.error());
        st.balances[token] = left;
        if (w->balance != left) return fail("withdraw balance", Error{ErrorCode::kInternal, "mismatch"});
        for (size_t k = 0; k < pending.size(); ++k) {
          auto credit = pending[k].finish(w->blind_signatures[k]);
          if (!credit) return fail("finish", credit.error());
          st.held.push_back(*credit);
        }
        ++st.ops["withdraw"];
      } else if (op <= 6 && !st.held.empty()) {  // exchange
        const size_t i = pick(st.held.size());
        const Credit old = st.held[i];
        auto p = currency::begin_credit(key, old.value, nonce_time(), 0.0);
        if (!p) return fail("blind", p.error());
        const Bytes message = p->blinded_message();
        auto sig = until_answered.operator()<Bytes>([old, message](BlindBankClient& c) {
          return c.exchange(old, message);
        });
        if (!sig) return fail("exchange", sig.error());
        auto credit = p->finish(*sig);
        if (!credit) return fail("finish exchange", credit.error());
        st.held[i] = *credit;
        ++st.ops["exchange"];
      } else if (st.balances[token] > 0) {  // full withdrawal
        const int64_t before = st.balances[token];
        auto credit = until_answered.operator()<Credit>([token](BlindBankClient& c) { return c.withdraw_full(token); });
        if (!credit) return fail("withdraw-full", credit.error());
        st.rounding += credit->value.amount() - before;
        st.balances[token] = 0;
        st.held.push_back(*credit);
        ++st.ops["withdraw_full"];
      }
    }
  });

  // The killer: SIGKILL at random moments, restart on the same database and port.
  std::mt19937_64 rng(kSeed + 1);
  std::vector<std::string> restarts;
  for (int k = 0; k < kKills && !stop; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(150, 700)(rng)));
    process_.kill_now();
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 100)(rng)));
    auto restarted = start_bank(port_of(current_url()));
    if (!restarted) {
      stop = true;
      abandon = true;
      client_thread.join();
      FAIL() << "restart " << k << ": " << restarted.error().to_string() << "\n" << read_file(log_path_);
    }
    {
      std::lock_guard lock(url_mu);
      url = *restarted;
    }
    restarts.push_back(*restarted);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  client_thread.join();
  ASSERT_TRUE(st.failure.empty()) << st.failure << "\n" << read_file(log_path_);

  int total_ops = 0;
  std::string summary;
  for (const auto& [name, n] : st.ops) {
    total_ops += n;
    summary += name + "=" + std::to_string(n) + " ";
  }
  EXPECT_GT(total_ops, 50);
  EXPECT_GT(st.retries, 0) << "no request was ever cut off by a kill";

  // Every held credit verifies and is unspent: all of them deposit into a fresh account.
  const Bytes sink = random_bytes(kAccountTokenSize);
  st.balances[sink] = 0;
  int64_t held_value = 0;
  for (const Credit& credit : st.held) {
    ASSERT_TRUE(verifier_->verify(credit, currency::unix_now()));
    held_value += credit.value.amount();
    auto b = until_answered.operator()<int64_t>([sink, credit](BlindBankClient& c) { return c.deposit(sink, credit); });
    ASSERT_TRUE(b) << "held credit did not deposit: " << b.error().to_string();
    st.balances[sink] += credit.value.amount();
    ASSERT_EQ(*b, st.balances[sink]);
  }
  // What the bank says each account holds: value put in + rounding.
  int64_t reported = 0;
  for (const auto& [token, expected] : st.balances) {
    const Bytes t = token;
    auto b = until_answered.operator()<int64_t>([t](BlindBankClient& c) { return c.balance(t); });
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, expected);
    reported += *b;
  }
  EXPECT_EQ(reported, st.put_in + st.rounding);
  EXPECT_EQ(process_.stop(), 0) << read_file(log_path_);

  // The books, read from the database after a clean stop.
  auto db = store::open_database("sqlite:" + db_path_);
  ASSERT_TRUE(db) << db.error().to_string();
  auto books = BlindBank::open(*db, currency::Issuer::create(
                                        crypto::RsaPrivateKey::from_pem(read_file(key_path_)).value()).value());
  ASSERT_TRUE(books) << books.error().to_string();
  auto audit = (*books)->audit();
  ASSERT_TRUE(audit) << audit.error().to_string();
  EXPECT_TRUE(audit->consistent());
  EXPECT_EQ(audit->balances, st.put_in + st.rounding);
  EXPECT_EQ(audit->rounding, st.rounding);
  EXPECT_EQ(audit->deposits_in - audit->withdrawals_out - audit->full_withdrawals_out + audit->rounding,
            audit->balances);

  std::printf(
      "kill -9 test: %d kills (%zu restarts), %d operations (%s), %d retried requests, value put in %lld, rounding "
      "%lld, credits held at the end %zu (value %lld), journal rows %lld\n",
      kKills, restarts.size(), total_ops, summary.c_str(), st.retries, static_cast<long long>(st.put_in),
      static_cast<long long>(st.rounding), st.held.size(), static_cast<long long>(held_value),
      static_cast<long long>(audit->journal_rows));
  RecordProperty("kills", kKills);
  RecordProperty("operations", total_ops);
  RecordProperty("retries", st.retries);
}

}  // namespace
}  // namespace openpcc::blindbank
