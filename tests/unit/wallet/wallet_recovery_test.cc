// Crash safety: a wallet that stops uncleanly — answers lost after the bank acted, the connection cut, the wallet
// destroyed without close(), payments that never reported back — is picked up by a new wallet on the same state
// file, and every credit and balance ends up either spent or back at the AuthBank, none counted twice. Also: the
// state file names every request before it is sent, and a corrupt, loose-mode, foreign-key or busy state file is
// refused.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "client/wallet/wallet.h"
#include "currency/credit_pb.h"
#include "openpcc/anonpay_banking.pb.h"
#include "openpcc/auth.pb.h"
#include "services/common/key_files.h"
#include "unit/wallet/wallet_test_support.h"

namespace openpcc::wallet {
namespace {

using namespace std::chrono_literals;
using wallet_test::Banks;
using wallet_test::expect_conserved;
using wallet_test::FaultyTransport;
using wallet_test::test_config;

class WalletRecoveryBase {
 protected:
  std::filesystem::path state_path() const { return banks_.dir() / "wallet.state"; }

  Result<std::unique_ptr<Wallet>> try_open(WalletConfig config, const services::HttpTransport* transport = nullptr) {
    return Wallet::open(banks_.runtime(), std::move(config), banks_.wallet_banks(transport));
  }
  std::unique_ptr<Wallet> open(WalletConfig config, const services::HttpTransport* transport = nullptr) {
    auto wallet = try_open(std::move(config), transport);
    EXPECT_TRUE(wallet.has_value()) << wallet.error().to_string();
    return wallet ? std::move(*wallet) : nullptr;
  }
  WalletConfig config() const { return test_config(state_path(), banks_.clock()); }

  Result<Payment> begin(Wallet& wallet, int64_t amount) {
    return banks_.runtime().block_on(
        [&]() -> net::Task<Result<Payment>> { co_return co_await wallet.begin_payment(amount); });
  }
  Status succeed(Payment& payment, std::optional<currency::Credit> refund) {
    return banks_.runtime().block_on(
        [&]() -> net::Task<Status> { co_return co_await payment.success(std::move(refund)); });
  }
  Status cancel(Payment& payment) {
    return banks_.runtime().block_on([&]() -> net::Task<Status> { co_return co_await payment.cancel(); });
  }
  Status close(Wallet& wallet) {
    return banks_.runtime().block_on([&]() -> net::Task<Status> { co_return co_await wallet.close(); });
  }
  Status idle(Wallet& wallet, std::chrono::milliseconds timeout = 20s) {
    return banks_.runtime().block_on(
        [&]() -> net::Task<Status> { co_return co_await wallet.wait_idle(timeout); });
  }

  // After everything was closed: the AuthBank, the router and the wallet's books agree, and nothing is left.
  void expect_everything_accounted() {
    WalletState state = Banks::read_state(state_path());
    EXPECT_TRUE(state.empty());
    expect_conserved(state);
    const Counters& c = state.counters;
    EXPECT_EQ(c.lost, 0);
    EXPECT_EQ(c.spent + c.spent_unknown, banks_.router_spent());
    EXPECT_EQ(c.refunds_received, banks_.router_refunded());
    // What the AuthBank gave and got back is exactly what the wallet booked: no withdrawal or refund twice.
    EXPECT_EQ(banks_.authbank_balance(), Banks::kInitialFunds - c.from_source + c.returned_to_source);
    EXPECT_EQ(banks_.authbank_balance(),
              Banks::kInitialFunds - banks_.router_spent() + banks_.router_refunded() + c.rounding);
    const blindbank::LedgerAudit audit = banks_.blindbank_audit();
    EXPECT_TRUE(audit.consistent());
    EXPECT_EQ(audit.balances, 0);
  }

  Banks banks_;
};

// ---- Lost answers and cut connections at every kind of request ----

struct FaultCase {
  const char* name;
  FaultyTransport::Fault fault;
  bool close_first_wallet;
};

void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }

class WalletLostAnswerTest : public WalletRecoveryBase, public ::testing::TestWithParam<FaultCase> {};

TEST_P(WalletLostAnswerTest, NewWalletFinishesTheJob) {
  const FaultCase& param = GetParam();
  FaultyTransport faulty(banks_.direct());
  if (!param.fault.path.empty()) faulty.arm(param.fault);
  const services::HttpTransport transport = faulty.transport();
  {
    WalletConfig first = config();
    first.payment_timeout = 1500ms;
    first.close_timeout = 1500ms;
    auto wallet = open(std::move(first), &transport);
    ASSERT_TRUE(wallet);
    for (int i = 0; i < 3; ++i) {
      auto payment = begin(*wallet, 100);
      if (!payment) break;  // the fault came before the pool was filled
      if (i == 2) {
        ASSERT_TRUE(banks_.touch_and_release(payment->credit()).has_value());
        ASSERT_TRUE(cancel(*payment).has_value());
        continue;
      }
      auto refund = banks_.spend(payment->credit(), i == 0 ? 120 : 0);
      ASSERT_TRUE(refund.has_value()) << refund.error().to_string();
      ASSERT_TRUE(succeed(*payment, std::move(*refund)).has_value());
    }
    if (param.close_first_wallet) (void)close(*wallet);  // fails when the fault cut the connection
    if (!param.fault.path.empty()) {
      EXPECT_TRUE(faulty.fault_fired()) << "the fault never triggered";
    }
  }  // destroyed without (a successful) close: the state file has what the wallet knew

  auto wallet = open(config());
  ASSERT_TRUE(wallet);
  EXPECT_TRUE(wallet->recovery().state_found);
  if (!param.fault.path.empty() && param.fault.forward && param.fault.cut_after) {
    EXPECT_GE(wallet->recovery().operations_resumed, 1u) << "the request whose answer was lost is resumed";
  }
  auto st = close(*wallet);
  ASSERT_TRUE(st.has_value()) << st.error().to_string();
  wallet.reset();
  expect_everything_accounted();
}

INSTANTIATE_TEST_SUITE_P(
    Faults, WalletLostAnswerTest,
    ::testing::Values(
        FaultCase{"NoFaultNoClose", {"", 0, true, false}, false},
        FaultCase{"SourceWithdrawAnswerLost", {"/api/auth", 1, true, true}, true},
        FaultCase{"SourceWithdrawNotSent", {"/api/auth", 1, false, true}, true},
        FaultCase{"FillDepositAnswerLost", {"/deposit", 1, true, true}, true},
        FaultCase{"BatchWithdrawAnswerLost", {"/withdraw", 1, true, true}, true},
        FaultCase{"BatchWithdrawNotSent", {"/withdraw", 1, false, true}, true},
        FaultCase{"ExchangeAnswerLost", {"/exchange", 1, true, true}, true},
        FaultCase{"ConsolidationDepositAnswerLost", {"/deposit", 2, true, true}, true},
        FaultCase{"CloseDepositAnswerLost", {"/deposit", 4, true, true}, true},
        FaultCase{"WithdrawFullAnswerLost", {"/withdraw-full", 1, true, true}, true},
        FaultCase{"CloseExchangeAnswerLost", {"/exchange", 3, true, true}, true},
        FaultCase{"RefundToSourceAnswerLost", {"/api/refund", 1, true, true}, true},
        // Lost answers without a crash: the same wallet retries and carries on.
        FaultCase{"ExchangeAnswerLostNoCrash", {"/exchange", 1, true, false}, true},
        FaultCase{"BatchAnswerLostNoCrash", {"/withdraw", 1, true, false}, true},
        FaultCase{"WithdrawFullAnswerLostNoCrash", {"/withdraw-full", 1, true, false}, true}),
    [](const ::testing::TestParamInfo<FaultCase>& info) { return std::string(info.param.name); });

// ---- Payments that never reported back ----

class WalletRecoveryTest : public WalletRecoveryBase, public ::testing::Test {};

TEST_F(WalletRecoveryTest, MaybeSpentCreditsAreSortedOut) {
  currency::Credit spent_credit, released_credit, locked_credit;
  {
    auto wallet = open(config());
    ASSERT_TRUE(wallet);
    auto a = begin(*wallet, 100);
    auto b = begin(*wallet, 100);
    auto c = begin(*wallet, 100);
    ASSERT_TRUE(a && b && c);
    spent_credit = a->credit();
    released_credit = b->credit();
    locked_credit = c->credit();
    // The process dies while three requests are out: the Payments outlive the wallet and report nothing.
    std::vector<Payment> orphans;
    orphans.push_back(std::move(*a));
    orphans.push_back(std::move(*b));
    orphans.push_back(std::move(*c));
    wallet.reset();
    auto late = succeed(orphans[0], std::nullopt);
    ASSERT_FALSE(late.has_value());  // the wallet is gone: nothing changes any more
    EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
  }
  // Meanwhile at the router: one request completed, one failed early, one is still running.
  ASSERT_TRUE(banks_.spend(spent_credit, 0).has_value());
  ASSERT_TRUE(banks_.touch_and_release(released_credit).has_value());
  auto running = banks_.lock(locked_credit);
  ASSERT_TRUE(running.has_value());

  WalletState before = Banks::read_state(state_path());
  EXPECT_EQ(std::count_if(before.items.begin(), before.items.end(),
                          [](const Item& i) { return i.stage == Stage::kHeld; }),
            3);

  auto wallet = open(config());
  ASSERT_TRUE(wallet);
  EXPECT_EQ(wallet->recovery().maybe_spent, 3u);
  // The spent one is found spent, the released one comes back; the locked one waits for the router.
  for (int i = 0; i < 500; ++i) {
    const Counters t = wallet->status().totals;
    if (t.recovered_spent == 1 && t.recovered == 1) break;
    std::this_thread::sleep_for(10ms);
  }
  Counters t = wallet->status().totals;
  EXPECT_EQ(t.recovered_spent, 1);
  EXPECT_EQ(t.spent_unknown, 256);
  EXPECT_EQ(t.recovered, 1);
  EXPECT_EQ(wallet->status().operations_pending, 1u);  // the locked credit, retried with backoff
  ASSERT_TRUE(running->rollback().has_value());         // the router's request failed after all
  ASSERT_TRUE(idle(*wallet).has_value());
  t = wallet->status().totals;
  EXPECT_EQ(t.recovered, 2);
  EXPECT_EQ(t.lost, 0);
  ASSERT_TRUE(close(*wallet).has_value());
  wallet.reset();
  expect_everything_accounted();
}

TEST_F(WalletRecoveryTest, AbandonedPaymentIsExchanged) {
  auto wallet = open(config());
  ASSERT_TRUE(wallet);
  {
    auto payment = begin(*wallet, 100);
    ASSERT_TRUE(payment.has_value());
    ASSERT_TRUE(banks_.spend(payment->credit(), 0).has_value());
  }  // dropped without success(): maybe spent → exchanged → found spent
  ASSERT_TRUE(idle(*wallet).has_value());
  EXPECT_EQ(wallet->status().totals.recovered_spent, 1);
  EXPECT_EQ(wallet->status().totals.spent_unknown, 256);
  ASSERT_TRUE(close(*wallet).has_value());
  wallet.reset();
  expect_everything_accounted();
}

// ---- Persist before send ----

// Reads the state file as it is on disk at this moment (renames are atomic, so this is one complete state).
WalletState state_on_disk(const std::filesystem::path& path) {
  auto bytes = services::read_secret_file(path);
  EXPECT_TRUE(bytes.has_value());
  if (!bytes) return WalletState{};
  auto state = parse_state(bytes->span());
  EXPECT_TRUE(state.has_value()) << state.error().to_string();
  return state ? std::move(*state) : WalletState{};
}

bool names_request(const WalletState& state, Stage stage, ByteSpan blinded) {
  for (const auto& item : state.items) {
    if (item.stage != stage) continue;
    for (const auto& r : item.requests) {
      if (std::equal(r.blinded_message.begin(), r.blinded_message.end(), blinded.begin(), blinded.end())) return true;
    }
  }
  return false;
}

bool names_credit(const WalletState& state, Stage stage, const currency::Credit& credit) {
  for (const auto& item : state.items) {
    if (item.stage == stage && item.credit && *item.credit == credit) return true;
  }
  return false;
}

const Account* account_with_token(const WalletState& state, const std::string& token_text) {
  const ByteSpan token = as_bytes(token_text);
  for (const auto& a : state.accounts) {
    if (std::equal(a.token.span().begin(), a.token.span().end(), token.begin(), token.end())) return &a;
  }
  return nullptr;
}

TEST_F(WalletRecoveryTest, EveryRequestIsOnDiskBeforeItIsSent) {
  FaultyTransport recorder(banks_.direct());
  std::atomic<int> checked{0};
  const std::filesystem::path path = state_path();
  recorder.inspect([&](const std::string& request_path, ByteSpan body) {
    const WalletState state = state_on_disk(path);
    const int body_size = static_cast<int>(body.size());
    if (request_path == "/api/auth") {
      pb::AuthWithdrawalRequest m;
      ASSERT_TRUE(m.ParseFromArray(body.data(), body_size));
      EXPECT_TRUE(names_request(state, Stage::kSourceWithdraw, as_bytes(m.blinded_message())));
    } else if (request_path == "/withdraw") {
      pb::BatchWithdrawRequest m;
      ASSERT_TRUE(m.ParseFromArray(body.data(), body_size));
      const Account* account = account_with_token(state, m.account_token());
      EXPECT_TRUE(account != nullptr);
      for (const auto& r : m.requests()) {
        EXPECT_TRUE(names_request(state, Stage::kBatchWithdraw, as_bytes(r.blinded_message())));
      }
    } else if (request_path == "/exchange") {
      pb::ExchangeRequest m;
      ASSERT_TRUE(m.ParseFromArray(body.data(), body_size));
      auto credit = currency::from_proto(m.credit());
      ASSERT_TRUE(credit.has_value());
      EXPECT_TRUE(names_credit(state, Stage::kExchange, *credit));
      EXPECT_TRUE(names_request(state, Stage::kExchange, as_bytes(m.blinded_message())));
    } else if (request_path == "/deposit") {
      pb::DepositRequest m;
      ASSERT_TRUE(m.ParseFromArray(body.data(), body_size));
      auto credit = currency::from_proto(m.credit());
      ASSERT_TRUE(credit.has_value());
      EXPECT_TRUE(names_credit(state, Stage::kDeposit, *credit));
      const Account* account = account_with_token(state, m.account_token());
      ASSERT_TRUE(account != nullptr) << "deposit into an account the file does not know";
    } else if (request_path == "/withdraw-full") {
      pb::WithdrawFullUnblindedRequest m;
      ASSERT_TRUE(m.ParseFromArray(body.data(), body_size));
      const Account* account = account_with_token(state, m.account_token());
      ASSERT_TRUE(account != nullptr);
      EXPECT_TRUE(std::any_of(state.items.begin(), state.items.end(), [&](const Item& i) {
        return i.stage == Stage::kWithdrawFull && i.account_id == account->id;
      }));
    } else if (request_path == "/api/refund") {
      pb::AuthRefundRequest m;
      ASSERT_TRUE(m.ParseFromArray(body.data(), body_size));
      auto credit = currency::from_proto(m.credit());
      ASSERT_TRUE(credit.has_value());
      EXPECT_TRUE(names_credit(state, Stage::kReturn, *credit));
    } else {
      ADD_FAILURE() << "unexpected request " << request_path;
    }
    ++checked;
  });
  const services::HttpTransport transport = recorder.transport();
  WalletConfig cfg = config();
  cfg.source_amount = 3072;  // leaves 192 in the fill account: a full withdrawal during normal operation too
  cfg.prefetch_amount = 320;
  auto wallet = open(std::move(cfg), &transport);
  ASSERT_TRUE(wallet);
  for (int i = 0; i < 4; ++i) {
    auto payment = begin(*wallet, 300);
    ASSERT_TRUE(payment.has_value()) << payment.error().to_string();
    // A payment handed out is on disk as held before begin_payment returns.
    EXPECT_TRUE(names_credit(state_on_disk(path), Stage::kHeld, payment->credit()));
    if (i == 3) {
      ASSERT_TRUE(cancel(*payment).has_value());
      continue;
    }
    auto refund = banks_.spend(payment->credit(), i == 1 ? 0 : 100);
    ASSERT_TRUE(refund.has_value());
    ASSERT_TRUE(succeed(*payment, std::move(*refund)).has_value());
  }
  ASSERT_TRUE(close(*wallet).has_value());
  wallet.reset();
  for (const char* p : {"/api/auth", "/withdraw", "/exchange", "/deposit", "/withdraw-full", "/api/refund"}) {
    EXPECT_GE(recorder.count(p), 1) << p;
  }
  EXPECT_EQ(checked.load(), static_cast<int>(recorder.log().size()));
  expect_everything_accounted();
}

// ---- Refusing bad state files ----

TEST_F(WalletRecoveryTest, CorruptStateFileIsRefusedAndKept) {
  {
    auto wallet = open(config());
    ASSERT_TRUE(wallet);
    ASSERT_TRUE(idle(*wallet).has_value());
  }
  auto original = services::read_secret_file(state_path());
  ASSERT_TRUE(original.has_value());
  Bytes corrupt(original->span().begin(), original->span().end());
  corrupt[corrupt.size() / 2] ^= 0x40;
  ASSERT_TRUE(services::write_secret_file_atomically(state_path(), corrupt).has_value());

  auto wallet = try_open(config());
  ASSERT_FALSE(wallet.has_value());
  EXPECT_EQ(wallet.error().code, ErrorCode::kDecode);
  EXPECT_NE(wallet.error().message.find("checksum"), std::string::npos) << wallet.error().message;
  // Neither replaced nor emptied; a copy is kept next to it.
  auto after = services::read_secret_file(state_path());
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(std::equal(after->span().begin(), after->span().end(), corrupt.begin(), corrupt.end()));
  auto kept = services::read_secret_file(std::filesystem::path(state_path().string() + ".corrupt"));
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(std::equal(kept->span().begin(), kept->span().end(), corrupt.begin(), corrupt.end()));

  // Truncated, and a future format version.
  Bytes truncated(original->span().begin(), original->span().begin() + original->size() / 3);
  ASSERT_TRUE(services::write_secret_file_atomically(state_path(), truncated).has_value());
  wallet = try_open(config());
  ASSERT_FALSE(wallet.has_value());
  EXPECT_EQ(wallet.error().code, ErrorCode::kDecode);
  Bytes future(original->span().begin(), original->span().end());
  future[11] = 2;  // version 2
  ASSERT_TRUE(services::write_secret_file_atomically(state_path(), future).has_value());
  wallet = try_open(config());
  ASSERT_FALSE(wallet.has_value());
  EXPECT_EQ(wallet.error().code, ErrorCode::kUnsupported);

  // Putting the good file back recovers everything.
  ASSERT_TRUE(services::write_secret_file_atomically(state_path(), original->span()).has_value());
  auto good = open(config());
  ASSERT_TRUE(good);
  EXPECT_EQ(good->recovery().credits_available, 10u);
  ASSERT_TRUE(close(*good).has_value());
  good.reset();
  expect_everything_accounted();
}

TEST_F(WalletRecoveryTest, LooseFileModeIsRefused) {
  {
    auto wallet = open(config());
    ASSERT_TRUE(wallet);
  }
  ASSERT_EQ(::chmod(state_path().c_str(), 0644), 0);
  auto wallet = try_open(config());
  ASSERT_FALSE(wallet.has_value());
  EXPECT_EQ(wallet.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(wallet.error().message.find("0644"), std::string::npos) << wallet.error().message;
}

TEST_F(WalletRecoveryTest, OneWalletPerStateFile) {
  auto first = open(config());
  ASSERT_TRUE(first);
  auto second = try_open(config());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  first.reset();
  auto third = open(config());
  ASSERT_TRUE(third);
}

TEST_F(WalletRecoveryTest, StateOfAnotherCurrencyKeyIsRefused) {
  {
    auto wallet = open(config());
    ASSERT_TRUE(wallet);
    ASSERT_TRUE(idle(*wallet).has_value());
  }
  auto other = crypto::RsaPrivateKey::from_pem(wallet_test::read_test_file("authbank-other-currency-key-1024.pem"));
  ASSERT_TRUE(other.has_value());
  WalletBanks banks = banks_.wallet_banks();
  banks.currency_key = other->public_key();
  auto wallet = Wallet::open(banks_.runtime(), config(), std::move(banks));
  ASSERT_FALSE(wallet.has_value());
  EXPECT_EQ(wallet.error().code, ErrorCode::kConflict);
}

}  // namespace
}  // namespace openpcc::wallet
