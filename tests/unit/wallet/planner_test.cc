// The planner's rules on hand-built states (no network).
#include "client/wallet/planner.h"

#include <gtest/gtest.h>

#include "currency/issuer.h"
#include "unit/wallet/wallet_test_support.h"

namespace openpcc::wallet {
namespace {

constexpr int64_t kNowS = wallet_test::kWorldStartMs / 1000;  // 20 minutes into an hour
constexpr int64_t kHourStart = kNowS - 1200;

class PlannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto issuer = currency::Issuer::create(wallet_test::test_currency_key());
    ASSERT_TRUE(issuer.has_value());
    issuer_.emplace(std::move(*issuer));
    key_ = issuer_->public_key();
    state_.currency_key = key_;
    settings_.source_amount = 2560;
    settings_.prefetch_amount = 256;
    settings_.prefetch_target = 10;
    settings_.expiry_margin_s = 300;
    settings_.delay_ms = [] { return int64_t{0}; };
    settings_.currency_key = &key_;
  }

  PlanResult plan(bool closing = false, bool fill_allowed = true, int64_t now_s = kNowS) {
    PlanInputs in;
    in.now_ms = now_s * 1000;
    in.closing = closing;
    in.fill_allowed = fill_allowed;
    in.busy_accounts = &busy_;
    PlanResult r = plan_work(state_, settings_, in);
    EXPECT_FALSE(r.error.has_value()) << r.error->to_string();
    EXPECT_TRUE(check_state(state_).has_value()) << check_state(state_).error().to_string();
    return r;
  }

  uint64_t account(AccountRole role, int64_t balance) {
    Account& a = add_account(state_, role);
    a.balance = balance;
    return a.id;
  }

  uint64_t available(int64_t amount = 256, int64_t nonce_timestamp = kHourStart) {
    auto credit = issuer_->issue_unblinded(currency::Value::from_amount(amount).value(), kNowS);
    EXPECT_TRUE(credit.has_value());
    credit->nonce.timestamp = nonce_timestamp;  // planning looks at the timestamp only
    Item item;
    item.id = take_id(state_);
    item.stage = Stage::kAvailable;
    item.credit = *credit;
    state_.items.push_back(std::move(item));
    return state_.items.back().id;
  }

  size_t count(Stage stage) const {
    return static_cast<size_t>(
        std::count_if(state_.items.begin(), state_.items.end(), [&](const Item& i) { return i.stage == stage; }));
  }
  const Item* first(Stage stage) const {
    for (const auto& i : state_.items) {
      if (i.stage == stage) return &i;
    }
    return nullptr;
  }

  std::optional<currency::Issuer> issuer_;
  crypto::RsaPublicKey key_;
  WalletState state_;
  PlanSettings settings_;
  std::set<uint64_t> busy_;
};

TEST_F(PlannerTest, EmptyWalletStartsOneFill) {
  PlanResult r = plan();
  EXPECT_EQ(r.fills_started, 1u);
  ASSERT_EQ(count(Stage::kSourceWithdraw), 1u);
  const Item* fill = first(Stage::kSourceWithdraw);
  ASSERT_EQ(fill->requests.size(), 1u);
  EXPECT_EQ(fill->requests[0].value.amount(), 2560);
  const Account* a = state_.find_account(fill->account_id);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->role, AccountRole::kFill);
  EXPECT_EQ(a->token.size(), kAccountTokenSize);
  // A second round does not start a second fill, and keeps the (empty) account it names.
  r = plan();
  EXPECT_EQ(r.fills_started, 0u);
  EXPECT_EQ(r.accounts_removed, 0u);
  EXPECT_EQ(count(Stage::kSourceWithdraw), 1u);
}

TEST_F(PlannerTest, NoFillWhenRefusedOrClosing) {
  EXPECT_FALSE(plan(false, false).changed);
  EXPECT_FALSE(plan(true, true).changed);
  EXPECT_TRUE(state_.empty());
}

TEST_F(PlannerTest, BatchFromAnAccountThatHoldsEnough) {
  const uint64_t fill = account(AccountRole::kFill, 2560);
  PlanResult r = plan();
  EXPECT_EQ(r.batches_started, 1u);
  EXPECT_EQ(r.fills_started, 0u);
  const Item* batch = first(Stage::kBatchWithdraw);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->account_id, fill);
  EXPECT_EQ(batch->requests.size(), 10u);
  for (const auto& req : batch->requests) EXPECT_EQ(req.value.amount(), 256);
  // Not twice from the same account.
  r = plan();
  EXPECT_EQ(r.batches_started, 0u);
}

TEST_F(PlannerTest, BatchesAreCappedAtFifteenAndPreferConsolidation) {
  settings_.prefetch_target = 40;
  const uint64_t fill = account(AccountRole::kFill, 256 * 20);
  const uint64_t consolidation = account(AccountRole::kConsolidation, 256 * 3 + 5);
  plan();
  std::vector<const Item*> batches;
  for (const auto& i : state_.items) {
    if (i.stage == Stage::kBatchWithdraw) batches.push_back(&i);
  }
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0]->account_id, consolidation);
  EXPECT_EQ(batches[0]->requests.size(), 3u);
  EXPECT_EQ(batches[1]->account_id, fill);
  EXPECT_EQ(batches[1]->requests.size(), 15u);
}

TEST_F(PlannerTest, NothingWhileThePoolIsMoreThanHalfFull) {
  account(AccountRole::kFill, 2560);
  for (int i = 0; i < 6; ++i) available();
  EXPECT_FALSE(plan().changed);
  // Down to five (half the target): refill up to the target.
  state_.items.pop_back();
  plan();
  const Item* batch = first(Stage::kBatchWithdraw);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->requests.size(), 5u);
}

TEST_F(PlannerTest, BusyAccountsWait) {
  const uint64_t fill = account(AccountRole::kFill, 2560);
  busy_.insert(fill);
  PlanResult r = plan();
  EXPECT_EQ(r.batches_started, 0u);
  EXPECT_EQ(r.fills_started, 0u);  // the busy account will serve once free
  busy_.clear();
  EXPECT_EQ(plan().batches_started, 1u);
}

TEST_F(PlannerTest, LowFillAccountsAreEmptiedIntoConsolidation) {
  const uint64_t low = account(AccountRole::kFill, 100);
  const uint64_t empty = account(AccountRole::kFill, 0);
  const uint64_t low_consolidation = account(AccountRole::kConsolidation, 100);
  for (int i = 0; i < 10; ++i) available();
  PlanResult r = plan();
  EXPECT_EQ(r.full_withdrawals_started, 1u);
  EXPECT_EQ(r.accounts_removed, 1u);
  EXPECT_EQ(state_.find_account(empty), nullptr);
  EXPECT_NE(state_.find_account(low_consolidation), nullptr);  // consolidation accounts collect small amounts
  const Item* full = first(Stage::kWithdrawFull);
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(full->account_id, low);
  EXPECT_EQ(full->destination, Destination::kDeposit);
  // Deposits now go to a consolidation account that is not being emptied.
  EXPECT_EQ(deposit_target(state_), low_consolidation);
}

TEST_F(PlannerTest, DepositTargetAvoidsAccountsBeingEmptied) {
  const uint64_t k = account(AccountRole::kConsolidation, 500);
  EXPECT_EQ(deposit_target(state_), k);
  Item full;
  full.id = take_id(state_);
  full.stage = Stage::kWithdrawFull;
  full.destination = Destination::kReturn;
  full.account_id = k;
  state_.items.push_back(std::move(full));
  const uint64_t other = deposit_target(state_);
  EXPECT_NE(other, k);
  const Account* a = state_.find_account(other);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->role, AccountRole::kConsolidation);
  EXPECT_EQ(a->balance, 0);
}

TEST_F(PlannerTest, ExpiringAndForeignCreditsAreDeposited) {
  for (int i = 0; i < 8; ++i) available();
  const uint64_t old = available(256, kHourStart - 3600);       // expired an hour ago... the bank will say so
  const uint64_t odd = available(128);                           // another value than the prefetch amount
  PlanResult r = plan();
  EXPECT_EQ(r.deposits_started, 2u);
  EXPECT_EQ(state_.find_item(old)->stage, Stage::kDeposit);
  EXPECT_EQ(state_.find_item(odd)->stage, Stage::kDeposit);
  const Account* target = state_.find_account(state_.find_item(odd)->account_id);
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(target->role, AccountRole::kConsolidation);
  // Late in the hour, credits of this hour leave the pool; those of the next hour stay.
  const uint64_t next_hour = available(256, kHourStart + 3600);
  plan(false, true, kHourStart + 3600 + 30 - 299);
  EXPECT_EQ(state_.find_item(next_hour)->stage, Stage::kAvailable);
  EXPECT_EQ(count(Stage::kAvailable), 1u);
}

TEST_F(PlannerTest, ClosingEmptiesEverything) {
  const uint64_t fill = account(AccountRole::kFill, 2560);
  const uint64_t consolidation = account(AccountRole::kConsolidation, 300);
  for (int i = 0; i < 3; ++i) available();
  Item back;
  back.id = take_id(state_);
  back.stage = Stage::kExchange;
  back.destination = Destination::kPool;
  back.credit = state_.items[0].credit;
  state_.items.push_back(std::move(back));
  PlanResult r = plan(true);
  EXPECT_EQ(r.deposits_started, 3u);
  EXPECT_EQ(r.batches_started, 0u);
  EXPECT_EQ(count(Stage::kAvailable), 0u);
  for (const auto& i : state_.items) {
    if (i.stage == Stage::kExchange) {
      EXPECT_EQ(i.destination, Destination::kDeposit);
    }
  }
  // The fill account is emptied back to the AuthBank now; the consolidation account once its deposits landed.
  const Item* full = first(Stage::kWithdrawFull);
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(full->account_id, fill);
  EXPECT_EQ(full->destination, Destination::kReturn);
  EXPECT_EQ(r.full_withdrawals_started, 1u);
  state_.items.erase(std::remove_if(state_.items.begin(), state_.items.end(),
                                    [](const Item& i) { return i.stage == Stage::kDeposit; }),
                     state_.items.end());
  r = plan(true);
  EXPECT_EQ(r.full_withdrawals_started, 1u);
  size_t on_consolidation = 0;
  for (const auto& i : state_.items) {
    on_consolidation += i.stage == Stage::kWithdrawFull && i.account_id == consolidation;
  }
  EXPECT_EQ(on_consolidation, 1u);
}

TEST_F(PlannerTest, CreditExpiryMatchesTheNonceRule) {
  auto credit = issuer_->issue_unblinded(currency::Value::from_amount(256).value(), kNowS);
  ASSERT_TRUE(credit.has_value());
  const int64_t expires = credit_expires_at(*credit);
  EXPECT_FALSE(credit->nonce.is_expired_at(expires - 1));
  EXPECT_TRUE(credit->nonce.is_expired_at(expires));
  EXPECT_TRUE(fit_for_pool(*credit, 256, expires - 301, 300));
  EXPECT_FALSE(fit_for_pool(*credit, 256, expires - 300, 300));
  EXPECT_FALSE(fit_for_pool(*credit, 128, kNowS, 300));
}

}  // namespace
}  // namespace openpcc::wallet
