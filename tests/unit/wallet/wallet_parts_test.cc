// The wallet's small parts: persistable blind requests, config rules, privacy delays, the async signal.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "client/wallet/async_signal.h"
#include "client/wallet/blind_request.h"
#include "client/wallet/privacy_delay.h"
#include "client/wallet/wallet_config.h"
#include "client/wallet/wallet_state.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "net/runtime.h"
#include "unit/wallet/wallet_test_support.h"

namespace openpcc::wallet {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kHour = wallet_test::kWorldStartMs / 1000 - 1200;

TEST(BlindRequestTest, FinishesAfterARoundTripThroughTheStateFile) {
  auto issuer = currency::Issuer::create(wallet_test::test_currency_key());
  ASSERT_TRUE(issuer.has_value());
  const auto value = currency::Value::from_amount(256).value();
  auto request = make_blind_request(issuer->public_key(), value, kHour + 600, 0.2);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->blinded_message.size(), issuer->public_key().modulus_size());
  EXPECT_EQ(request->inverse.size(), issuer->public_key().modulus_size());
  EXPECT_EQ(request->ready_at, kHour + 600);  // nothing to wait for
  EXPECT_EQ(request->nonce.timestamp, kHour);

  // What a restarted wallet has: the request as read back from a state file.
  WalletState state;
  state.currency_key = issuer->public_key();
  state.next_id = 3;
  Account account;
  account.id = 1;
  account.token = SecretBytes(Bytes(32, 1));
  state.accounts.push_back(std::move(account));
  Item item;
  item.id = 2;
  item.stage = Stage::kBatchWithdraw;
  item.account_id = 1;
  item.requests.push_back(request->clone());
  state.items.push_back(std::move(item));
  auto reloaded = parse_state(serialize_state(state));
  ASSERT_TRUE(reloaded.has_value()) << reloaded.error().to_string();
  const BlindRequest& again = reloaded->items[0].requests[0];
  EXPECT_TRUE(again == *request);

  auto signature = issuer->blind_sign(value, again.blinded_message);
  ASSERT_TRUE(signature.has_value());
  auto credit = finish_blind_request(issuer->public_key(), again, *signature);
  ASSERT_TRUE(credit.has_value()) << credit.error().to_string();
  auto verifier = currency::CreditVerifier::create(issuer->public_key());
  ASSERT_TRUE(verifier.has_value());
  EXPECT_TRUE(verifier->verify(*credit, kHour + 600).has_value());
  // The same answer finishes the original identically (a retried request is the same credit).
  auto original = finish_blind_request(issuer->public_key(), *request, *signature);
  ASSERT_TRUE(original.has_value());
  EXPECT_EQ(*original, *credit);

  // A signature for another value does not finish.
  auto wrong = issuer->blind_sign(currency::Value::from_amount(128).value(), again.blinded_message);
  ASSERT_TRUE(wrong.has_value());
  auto refused = finish_blind_request(issuer->public_key(), again, *wrong);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kAuthenticationFailed);
}

TEST(BlindRequestTest, UnsafeIncrementSetsReadyAt) {
  const auto key = wallet_test::test_currency_key().public_key();
  // 10 s into the hour, r close to 1: the next hour is chosen, which must wait until 30 s into this hour.
  auto request = make_blind_request(key, currency::Value::from_amount(16).value(), kHour + 10, 0.9999);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->nonce.timestamp, kHour + 3600);
  EXPECT_EQ(request->ready_at, kHour + 30);
}

TEST(WalletConfigTest, Rules) {
  WalletConfig ok;
  ok.state_file = "/tmp/w.state";
  ASSERT_TRUE(validate(ok).has_value());
  EXPECT_EQ(prefetch_target(ok), 10u);
  auto bad = [&](auto edit, const char* field) {
    WalletConfig c = ok;
    edit(c);
    auto st = validate(c);
    ASSERT_FALSE(st.has_value()) << field;
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(st.error().message.find(field), std::string::npos) << st.error().message;
  };
  bad([](WalletConfig& c) { c.prefetch_amount = 257; }, "prefetch_amount");  // 9 significant bits
  bad([](WalletConfig& c) { c.prefetch_amount = 0; }, "prefetch_amount");
  bad([](WalletConfig& c) { c.source_amount = 2561; }, "source_amount");
  bad([](WalletConfig& c) { c.source_amount = 128; }, "below prefetch_amount");
  bad([](WalletConfig& c) { c.max_parallel = 0; }, "max_parallel");
  bad([](WalletConfig& c) { c.max_delay = -1ms; }, "max_delay");
  bad([](WalletConfig& c) { c.max_delay = 11min; }, "max_delay");
  bad([](WalletConfig& c) { c.state_file.clear(); }, "state_file");
  bad([](WalletConfig& c) { c.expiry_margin = 30s; }, "expiry_margin");
  bad([](WalletConfig& c) { c.prefetch_credits = 65; }, "prefetch_credits");
  bad([](WalletConfig& c) { c.min_backoff = 2s; c.max_backoff = 1s; }, "backoff");
  WalletConfig one = ok;
  one.source_amount = 256;
  one.prefetch_amount = 256;
  EXPECT_EQ(prefetch_target(one), 1u);
  one.prefetch_credits = 4;
  EXPECT_EQ(prefetch_target(one), 4u);
}

TEST(PrivacyDelayTest, UniformBelowTheMaximum) {
  EXPECT_EQ(random_delay(0ms), 0ms);
  EXPECT_EQ(random_delay(-5ms), 0ms);
  EXPECT_EQ(random_delay(1ms), 0ms);
  std::set<int64_t> seen;
  double sum = 0;
  constexpr int kDraws = 4000;
  for (int i = 0; i < kDraws; ++i) {
    const auto d = random_delay(1000ms);
    ASSERT_GE(d.count(), 0);
    ASSERT_LT(d.count(), 1000);
    seen.insert(d.count());
    sum += static_cast<double>(d.count());
  }
  // Mean of U[0, 1000) is 499.5 with a standard error of ~4.6 over 4000 draws.
  EXPECT_NEAR(sum / kDraws, 499.5, 40);
  EXPECT_GT(seen.size(), 900u);
}

TEST(AsyncSignalTest, WakesWaitersAndTimesOut) {
  net::Runtime runtime(2);
  AsyncSignal signal;
  // Already notified since `seen`: returns at once.
  const uint64_t seen = signal.generation();
  signal.notify();
  auto start = std::chrono::steady_clock::now();
  runtime.block_on([&]() -> net::Task<void> { co_await signal.wait(seen, 10s); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  // Nothing happens: times out.
  start = std::chrono::steady_clock::now();
  runtime.block_on([&]() -> net::Task<void> { co_await signal.wait(signal.generation(), 50ms); });
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  // Woken from another thread.
  std::atomic<int> woken{0};
  for (int i = 0; i < 3; ++i) {
    runtime.spawn([&]() -> net::Task<void> {
      co_await signal.wait(signal.generation(), 30s);
      ++woken;
    });
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(woken.load(), 0);
  start = std::chrono::steady_clock::now();
  signal.notify();
  for (int i = 0; i < 200 && woken.load() < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(woken.load(), 3);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace openpcc::wallet
