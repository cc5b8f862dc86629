// The wallet against the real banks over loopback HTTP: filling, paying with and without refunds, cancelling,
// consolidating, closing, and the balance bookkeeping on both sides.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "client/wallet/state_file.h"
#include "client/wallet/wallet.h"
#include "currency/issuer.h"
#include "unit/wallet/wallet_test_support.h"

namespace openpcc::wallet {
namespace {

using namespace std::chrono_literals;
using wallet_test::Banks;
using wallet_test::expect_conserved;
using wallet_test::test_config;

class WalletFlowTest : public ::testing::Test {
 protected:
  std::filesystem::path state_path() const { return banks_.dir() / "client" / "wallet.state"; }

  std::unique_ptr<Wallet> open(WalletConfig config, const services::HttpTransport* transport = nullptr) {
    auto wallet = Wallet::open(banks_.runtime(), std::move(config), banks_.wallet_banks(transport));
    EXPECT_TRUE(wallet.has_value()) << wallet.error().to_string();
    return wallet ? std::move(*wallet) : nullptr;
  }
  std::unique_ptr<Wallet> open() { return open(test_config(state_path(), banks_.clock())); }

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

  // One request at the router: spent, with a refund of `refund` (0: none).
  void pay(Wallet& wallet, int64_t amount, int64_t refund) {
    auto payment = begin(wallet, amount);
    ASSERT_TRUE(payment.has_value()) << payment.error().to_string();
    auto refund_credit = banks_.spend(payment->credit(), refund);
    ASSERT_TRUE(refund_credit.has_value()) << refund_credit.error().to_string();
    auto st = succeed(*payment, std::move(*refund_credit));
    ASSERT_TRUE(st.has_value()) << st.error().to_string();
  }

  // The BlindBank balances of the wallet's accounts as the bank has them, against the wallet's books.
  void expect_books_match_bank(const WalletState& state) {
    for (const auto& a : state.accounts) {
      EXPECT_EQ(banks_.blindbank_balance(a.token), a.balance) << "account " << a.id;
    }
  }

  Banks banks_;
};

TEST_F(WalletFlowTest, FillsThePoolFromTheAuthBank) {
  auto wallet = open();
  ASSERT_TRUE(wallet);
  EXPECT_FALSE(wallet->recovery().state_found);
  ASSERT_TRUE(idle(*wallet).has_value());
  WalletStatus status = wallet->status();
  EXPECT_EQ(status.credits_available, 10);
  EXPECT_EQ(status.value_available, 2560);
  EXPECT_EQ(status.totals.from_source, 2560);
  EXPECT_EQ(banks_.authbank_balance(), Banks::kInitialFunds - 2560);
  ASSERT_TRUE(wallet->badge().has_value());
  EXPECT_TRUE(wallet->badge()->credentials.allows("llama3:8b"));

  // The file exists, 0600, and names the ten credits.
  struct stat st {};
  ASSERT_EQ(::stat(state_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(state_path().parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  wallet.reset();
  WalletState state = Banks::read_state(state_path());
  EXPECT_EQ(std::count_if(state.items.begin(), state.items.end(),
                          [](const Item& i) { return i.stage == Stage::kAvailable; }),
            10);
  expect_conserved(state);
  expect_books_match_bank(state);
}

TEST_F(WalletFlowTest, PaymentsRefundsAndCancellationsConserveValue) {
  auto wallet = open();
  ASSERT_TRUE(wallet);
  std::set<Bytes> nonces_seen;
  for (int i = 0; i < 14; ++i) {
    auto payment = begin(*wallet, 100 + i);
    ASSERT_TRUE(payment.has_value()) << payment.error().to_string();
    EXPECT_EQ(payment->credit().value.amount(), 256);
    EXPECT_GE(payment->amount(), 100 + i);
    EXPECT_TRUE(nonces_seen.insert(payment->credit().nonce.message()).second) << "a credit was handed out twice";
    if (i % 4 == 3) {
      // The router saw the credit but the request failed: rolled back, then cancelled at the wallet.
      ASSERT_TRUE(banks_.touch_and_release(payment->credit()).has_value());
      ASSERT_TRUE(cancel(*payment).has_value());
      continue;
    }
    const int64_t refund = i % 2 == 0 ? 256 - (10 * i + 7) : 0;
    auto refund_credit = banks_.spend(payment->credit(), refund);
    ASSERT_TRUE(refund_credit.has_value()) << refund_credit.error().to_string();
    ASSERT_TRUE(succeed(*payment, std::move(*refund_credit)).has_value());
  }
  ASSERT_TRUE(idle(*wallet).has_value());
  WalletStatus status = wallet->status();
  EXPECT_EQ(status.credits_spent, 11);
  EXPECT_EQ(status.totals.cancelled, 3);
  EXPECT_EQ(status.totals.recovered, 3);  // the cancelled credits came back through the exchange
  EXPECT_EQ(status.totals.spent, banks_.router_spent());
  EXPECT_EQ(status.totals.refunds_received, banks_.router_refunded());
  EXPECT_EQ(status.totals.lost, 0);
  EXPECT_EQ(status.credits_held, 0);
  EXPECT_GE(status.credits_available, 5);
  // The refunds were exchanged and deposited into a consolidation account.
  EXPECT_GT(status.value_in_accounts, 0);
  EXPECT_EQ(banks_.authbank_balance(), Banks::kInitialFunds - status.totals.from_source);
  wallet.reset();

  WalletState state = Banks::read_state(state_path());
  expect_conserved(state);
  expect_books_match_bank(state);
  bool has_consolidation = false;
  for (const auto& a : state.accounts) has_consolidation |= a.role == AccountRole::kConsolidation;
  EXPECT_TRUE(has_consolidation);
  EXPECT_TRUE(banks_.blindbank_audit().consistent());
}

TEST_F(WalletFlowTest, CloseReturnsEverythingToTheAuthBank) {
  auto wallet = open();
  ASSERT_TRUE(wallet);
  pay(*wallet, 200, 50);
  pay(*wallet, 256, 0);
  pay(*wallet, 10, 240);
  auto cancelled = begin(*wallet, 1);
  ASSERT_TRUE(cancelled.has_value());
  ASSERT_TRUE(cancel(*cancelled).has_value());
  ASSERT_TRUE(close(*wallet).has_value());
  WalletStatus status = wallet->status();
  EXPECT_TRUE(status.closed);
  EXPECT_EQ(status.credits_available, 0);
  EXPECT_EQ(status.accounts, 0u);
  EXPECT_EQ(status.totals.lost, 0);
  // Everything that was not spent went back: the AuthBank lost exactly the spent credits net of refunds, give or
  // take the BlindBank's stochastic rounding of full withdrawals.
  const Counters& c = status.totals;
  EXPECT_EQ(c.returned_to_source, c.from_source + c.refunds_received + c.rounding - c.spent);
  EXPECT_EQ(banks_.authbank_balance(),
            Banks::kInitialFunds - banks_.router_spent() + banks_.router_refunded() + c.rounding);
  EXPECT_LE(std::abs(c.rounding), c.from_source / 16 + 32);
  // A closed wallet hands out nothing.
  auto after = begin(*wallet, 1);
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code, ErrorCode::kUnavailable);
  wallet.reset();

  WalletState state = Banks::read_state(state_path());
  EXPECT_TRUE(state.empty());
  expect_conserved(state);
  EXPECT_EQ(banks_.blindbank_audit().balances, 0);

  // A new wallet on the closed file starts from nothing and fills again.
  auto again = open();
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->recovery().state_found);
  EXPECT_EQ(again->recovery().operations_resumed, 0u);
  pay(*again, 100, 0);
}

TEST_F(WalletFlowTest, PaymentAmountRules) {
  auto wallet = open();
  ASSERT_TRUE(wallet);
  auto zero = begin(*wallet, 0);
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().code, ErrorCode::kInvalidArgument);
  auto too_much = begin(*wallet, 257);  // rounds up to 272 > 256
  ASSERT_FALSE(too_much.has_value());
  EXPECT_EQ(too_much.error().code, ErrorCode::kUnsupported);
  auto huge = begin(*wallet, int64_t{1} << 40);
  ASSERT_FALSE(huge.has_value());
  EXPECT_EQ(huge.error().code, ErrorCode::kUnsupported);
  auto small = begin(*wallet, 17);  // 17 is representable; 33 rounds up to 34
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(small->amount(), 17);
  auto odd = begin(*wallet, 33);
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(odd->amount(), 34);
  ASSERT_TRUE(cancel(*small).has_value());
  ASSERT_TRUE(cancel(*odd).has_value());
  // Completing twice is refused.
  auto twice = cancel(*small);
  ASSERT_FALSE(twice.has_value());
}

TEST_F(WalletFlowTest, BadRefundIsDroppedButThePaymentCounts) {
  auto wallet = open();
  ASSERT_TRUE(wallet);
  auto payment = begin(*wallet, 100);
  ASSERT_TRUE(payment.has_value());
  auto refund = banks_.spend(payment->credit(), 100);
  ASSERT_TRUE(refund.has_value() && refund->has_value());
  currency::Credit forged = **refund;
  forged.signature[0] ^= 1;
  auto st = succeed(*payment, forged);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::kAuthenticationFailed);
  WalletStatus status = wallet->status();
  EXPECT_EQ(status.credits_spent, 1);
  EXPECT_EQ(status.totals.refunds_received, 0);
}

TEST_F(WalletFlowTest, AuthBankRefusalReachesThePayer) {
  banks_.use_new_account(1000);  // less than one source withdrawal
  WalletConfig config = test_config(state_path(), banks_.clock());
  config.payment_timeout = 10s;
  auto wallet = open(std::move(config));
  ASSERT_TRUE(wallet);
  const auto started = std::chrono::steady_clock::now();
  auto payment = begin(*wallet, 100);
  ASSERT_FALSE(payment.has_value());
  EXPECT_EQ(payment.error().code, ErrorCode::kInsufficientBalance) << payment.error().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 9s);
  ASSERT_TRUE(wallet->status().last_error.has_value());
  EXPECT_EQ(banks_.authbank_balance(), 1000);
  // Closing with nothing in it succeeds at once.
  ASSERT_TRUE(close(*wallet).has_value());
}

TEST_F(WalletFlowTest, RandomDelaysSeparateTheSteps) {
  wallet_test::FaultyTransport recorder(banks_.direct());
  const services::HttpTransport transport = recorder.transport();
  WalletConfig config = test_config(state_path(), banks_.clock());
  config.max_delay = 300ms;
  auto wallet = open(std::move(config), &transport);
  ASSERT_TRUE(wallet);
  pay(*wallet, 100, 50);
  pay(*wallet, 100, 0);
  ASSERT_TRUE(close(*wallet).has_value());
  const auto log = recorder.log();
  // fill: /api/auth → delay → /deposit → delay → /withdraw; refund: delay → /exchange → delay → /deposit; close:
  // delays before deposits, full withdrawals, exchanges and refunds. Each delay is uniform in [0, 300) ms, so
  // the largest gap exceeding 20 ms fails to happen with probability below (20/300)^6.
  ASSERT_GE(log.size(), 8u);
  int64_t largest_gap = 0;
  for (size_t i = 1; i < log.size(); ++i) largest_gap = std::max(largest_gap, log[i].second - log[i - 1].second);
  EXPECT_GT(largest_gap, 20);
  EXPECT_EQ(log.front().first, "/api/auth");
  EXPECT_EQ(log.back().first, "/api/refund");
  const Counters c = wallet->status().totals;
  EXPECT_EQ(banks_.authbank_balance(),
            Banks::kInitialFunds - banks_.router_spent() + banks_.router_refunded() + c.rounding);
}

TEST_F(WalletFlowTest, LowAccountsAreConsolidated) {
  // 320 does not divide 3072: the fill account keeps 192 after nine credits, and is emptied into the
  // consolidation account (withdraw-full → exchange → deposit).
  WalletConfig config = test_config(state_path(), banks_.clock());
  config.source_amount = 3072;
  config.prefetch_amount = 320;
  auto wallet = open(std::move(config));
  ASSERT_TRUE(wallet);
  ASSERT_TRUE(idle(*wallet).has_value());
  WalletStatus status = wallet->status();
  EXPECT_EQ(status.credits_available, 9);
  EXPECT_EQ(status.accounts, 1u);
  wallet.reset();
  WalletState state = Banks::read_state(state_path());
  ASSERT_EQ(state.accounts.size(), 1u);
  EXPECT_EQ(state.accounts[0].role, AccountRole::kConsolidation);
  EXPECT_EQ(state.accounts[0].balance, 192 + state.counters.rounding);
  expect_conserved(state);
  expect_books_match_bank(state);
}

TEST_F(WalletFlowTest, CreditsWaitForTheirReadyTime) {
  // A state with one prefetched credit that may not leave before 1.5 s from now (the 30-second rule's wait,
  // shortened), and a pool target of one so that no other credit is fetched meanwhile.
  auto issuer = currency::Issuer::create(wallet_test::test_currency_key());
  ASSERT_TRUE(issuer.has_value());
  auto credit = issuer->issue_unblinded(currency::Value::from_amount(256).value(), banks_.clock().now_s());
  ASSERT_TRUE(credit.has_value());
  WalletState state;
  state.currency_key = banks_.currency_key();
  Item item;
  item.id = 1;
  item.stage = Stage::kAvailable;
  item.credit = *credit;
  const int64_t ready_ms = banks_.clock().now_ms() + 1500;
  item.not_before_ms = ready_ms;
  state.items.push_back(std::move(item));
  state.next_id = 2;
  {
    auto file = StateFile::open(state_path());
    ASSERT_TRUE(file.has_value());
    ASSERT_TRUE(file->save(serialize_state(state)).has_value());
  }
  WalletConfig config = test_config(state_path(), banks_.clock());
  config.prefetch_credits = 1;
  auto wallet = open(std::move(config));
  ASSERT_TRUE(wallet);
  EXPECT_EQ(wallet->recovery().credits_available, 1u);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(banks_.authbank_balance(), Banks::kInitialFunds);  // a waiting credit still counts: nothing fetched
  auto payment = begin(*wallet, 100);
  ASSERT_TRUE(payment.has_value()) << payment.error().to_string();
  EXPECT_GE(banks_.clock().now_ms(), ready_ms);
  EXPECT_EQ(payment->credit(), *credit);
}

TEST_F(WalletFlowTest, ConcurrentPaymentsGetDistinctCredits) {
  auto wallet = open();
  ASSERT_TRUE(wallet);
  constexpr int kPayers = 6;
  std::vector<std::optional<Result<Payment>>> results(kPayers);
  std::atomic<int> done{0};
  for (int i = 0; i < kPayers; ++i) {
    banks_.runtime().spawn([&, i]() -> net::Task<void> {
      results[i].emplace(co_await wallet->begin_payment(50));
      ++done;
    });
  }
  for (int i = 0; i < 2000 && done.load() < kPayers; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(done.load(), kPayers);
  std::set<Bytes> nonces;
  for (auto& r : results) {
    ASSERT_TRUE(r.has_value() && r->has_value()) << (r && !r->has_value() ? r->error().to_string() : "");
    EXPECT_TRUE(nonces.insert((*r)->credit().nonce.message()).second);
  }
  EXPECT_EQ(wallet->status().credits_held, kPayers);
  for (auto& r : results) ASSERT_TRUE(cancel(**r).has_value());
  ASSERT_TRUE(close(*wallet).has_value());
  EXPECT_EQ(banks_.authbank_balance(), Banks::kInitialFunds + wallet->status().totals.rounding);
}

}  // namespace
}  // namespace openpcc::wallet
