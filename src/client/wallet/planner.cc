#include "client/wallet/planner.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "client/wallet/blind_request.h"
#include "common/random.h"
#include "currency/nonce.h"
#include "currency/value.h"

namespace openpcc::wallet {
namespace {

bool busy(const PlanInputs& in, uint64_t account_id) {
  return in.busy_accounts && in.busy_accounts->count(account_id) > 0;
}

int64_t delayed(const PlanSettings& s, int64_t now_ms) { return now_ms + (s.delay_ms ? s.delay_ms() : 0); }

// Whether an item names the account as the source of a withdrawal (batch or full).
bool withdrawing_from(const Item& item, uint64_t account_id) {
  return item.account_id == account_id &&
         (item.stage == Stage::kBatchWithdraw || item.stage == Stage::kWithdrawFull);
}

// A fill is under way: an AuthBank withdrawal not yet deposited, or a fill account that can still give credits.
bool fill_in_progress(const WalletState& state) {
  for (const auto& item : state.items) {
    if (item.stage == Stage::kSourceWithdraw) return true;
    if (item.stage == Stage::kDeposit) {
      const Account* a = state.find_account(item.account_id);
      if (a && a->role == AccountRole::kFill) return true;
    }
  }
  return false;
}

}  // namespace

int64_t credit_expires_at(const currency::Credit& credit) {
  // is_expired_at(now) ⇔ timestamp < hour_floor(now − skew) ⇔ now − skew ≥ hour_floor(timestamp) + 1 hour.
  return currency::quantize_to_hour(credit.nonce.timestamp) + currency::kNonceQuantizationSeconds +
         currency::kNonceMaxClockSkewSeconds;
}

bool fit_for_pool(const currency::Credit& credit, int64_t prefetch_amount, int64_t now_s, int64_t margin_s) {
  return credit.value.amount() == prefetch_amount && !credit.value.is_special() &&
         now_s + margin_s < credit_expires_at(credit);
}

size_t pool_supply(const WalletState& state, int64_t prefetch_amount, int64_t now_s, int64_t margin_s) {
  size_t supply = 0;
  for (const auto& item : state.items) {
    switch (item.stage) {
      case Stage::kAvailable:
        if (item.credit && fit_for_pool(*item.credit, prefetch_amount, now_s, margin_s)) ++supply;
        break;
      case Stage::kBatchWithdraw: supply += item.requests.size(); break;
      case Stage::kExchange:
        if (item.destination == Destination::kPool) ++supply;
        break;
      default: break;
    }
  }
  return supply;
}

uint64_t take_id(WalletState& state) { return state.next_id++; }

Account& add_account(WalletState& state, AccountRole role) {
  Account a;
  a.id = take_id(state);
  a.role = role;
  a.token = SecretBytes(kAccountTokenSize);
  fill_random(a.token.mutable_span());
  a.balance = 0;
  state.accounts.push_back(std::move(a));
  return state.accounts.back();
}

size_t items_on_account(const WalletState& state, uint64_t account_id) {
  return static_cast<size_t>(std::count_if(state.items.begin(), state.items.end(),
                                           [&](const Item& i) { return i.account_id == account_id; }));
}

uint64_t deposit_target(WalletState& state) {
  for (const auto& a : state.accounts) {
    if (a.role != AccountRole::kConsolidation) continue;
    const bool emptying = std::any_of(state.items.begin(), state.items.end(),
                                      [&](const Item& i) { return withdrawing_from(i, a.id) &&
                                                                  i.stage == Stage::kWithdrawFull; });
    if (!emptying) return a.id;
  }
  return add_account(state, AccountRole::kConsolidation).id;
}

// The rules, in order:
//  1. Available credits that no longer fit the pool (about to expire, of another value than the prefetch amount
//     — e.g. after a config change) and, when closing, all of them: deposit into the consolidation account.
//  2. When closing, exchanges heading for the pool head for the consolidation account instead.
//  3. Accounts with nothing in flight on them: empty ones are forgotten (the bank forgets them too); when closing,
//     the others are emptied (withdraw-full → exchange → return to the AuthBank); otherwise fill accounts that can
//     no longer give a whole credit are emptied into the consolidation account.
//  4. Unless closing, when the pool's supply (ready + coming) is at most half the target: batch withdrawals from
//     accounts holding at least one credit's worth (consolidation accounts first: they collect refunds), up to 15
//     credits each, until the target is met; if that is not enough and no fill is under way, a new fill: a fresh
//     account and an AuthBank withdrawal of source_amount for it.
PlanResult plan_work(WalletState& state, const PlanSettings& s, const PlanInputs& in) {
  PlanResult result;
  const int64_t now_s = in.now_ms / 1000;

  // 1.
  for (size_t i = 0; i < state.items.size(); ++i) {
    if (state.items[i].stage != Stage::kAvailable || !state.items[i].credit) continue;
    if (!in.closing && fit_for_pool(*state.items[i].credit, s.prefetch_amount, now_s, s.expiry_margin_s)) continue;
    const uint64_t target = deposit_target(state);  // may add an account, never an item
    Item& item = state.items[i];
    item.stage = Stage::kDeposit;
    item.account_id = target;
    item.not_before_ms = std::max(item.not_before_ms, delayed(s, in.now_ms));
    ++result.deposits_started;
    result.changed = true;
  }

  // 2.
  if (in.closing) {
    for (auto& item : state.items) {
      if (item.stage == Stage::kExchange && item.destination == Destination::kPool) {
        item.destination = Destination::kDeposit;
        result.changed = true;
      }
    }
  }

  // 3.
  std::vector<uint64_t> remove;
  std::vector<Item> added;
  for (const auto& a : state.accounts) {
    if (busy(in, a.id) || items_on_account(state, a.id) > 0) continue;
    if (a.balance == 0) {
      remove.push_back(a.id);
      continue;
    }
    const bool empty_it = in.closing || (a.role == AccountRole::kFill && a.balance < s.prefetch_amount);
    if (!empty_it) continue;
    Item item;
    item.id = take_id(state);
    item.stage = Stage::kWithdrawFull;
    item.destination = in.closing ? Destination::kReturn : Destination::kDeposit;
    item.account_id = a.id;
    item.not_before_ms = delayed(s, in.now_ms);
    added.push_back(std::move(item));
    ++result.full_withdrawals_started;
  }
  for (uint64_t id : remove) {
    state.accounts.erase(std::remove_if(state.accounts.begin(), state.accounts.end(),
                                        [&](const Account& a) { return a.id == id; }),
                         state.accounts.end());
    ++result.accounts_removed;
  }
  for (auto& item : added) state.items.push_back(std::move(item));
  if (!remove.empty() || !added.empty()) result.changed = true;

  // 4.
  if (in.closing || !s.currency_key) return result;
  const size_t target = std::max<size_t>(1, s.prefetch_target);
  size_t supply = pool_supply(state, s.prefetch_amount, now_s, s.expiry_margin_s);
  if (supply * 2 > target) return result;
  auto prefetch_value = currency::Value::from_amount(s.prefetch_amount);
  if (!prefetch_value) {
    result.error = prefetch_value.error();
    return result;
  }
  for (AccountRole role : {AccountRole::kConsolidation, AccountRole::kFill}) {
    for (size_t ai = 0; ai < state.accounts.size() && supply < target; ++ai) {
      const Account& a = state.accounts[ai];
      if (a.role != role || a.balance < s.prefetch_amount || busy(in, a.id)) continue;
      const uint64_t account_id = a.id;
      if (std::any_of(state.items.begin(), state.items.end(),
                      [&](const Item& i) { return withdrawing_from(i, account_id); })) {
        continue;
      }
      const size_t count = std::min<size_t>({kMaxRequestsPerItem, static_cast<size_t>(a.balance / s.prefetch_amount),
                                             target - supply});
      Item item;
      for (size_t k = 0; k < count; ++k) {
        auto request = make_blind_request(*s.currency_key, *prefetch_value, now_s);
        if (!request) {
          result.error = request.error();
          return result;
        }
        item.requests.push_back(std::move(*request));
      }
      item.id = take_id(state);
      item.stage = Stage::kBatchWithdraw;
      item.account_id = account_id;
      item.not_before_ms = delayed(s, in.now_ms);
      state.items.push_back(std::move(item));
      supply += count;
      ++result.batches_started;
      result.changed = true;
    }
  }
  if (supply >= target || !in.fill_allowed || fill_in_progress(state)) return result;
  // A fill account that already holds enough is drained by the batch above on a later round (it was busy now).
  for (const auto& a : state.accounts) {
    if (a.role == AccountRole::kFill && a.balance >= s.prefetch_amount) return result;
  }
  auto source_value = currency::Value::from_amount(s.source_amount);
  if (!source_value) {
    result.error = source_value.error();
    return result;
  }
  auto request = make_blind_request(*s.currency_key, *source_value, now_s);
  if (!request) {
    result.error = request.error();
    return result;
  }
  const uint64_t account_id = add_account(state, AccountRole::kFill).id;
  Item item;
  item.id = take_id(state);
  item.stage = Stage::kSourceWithdraw;
  item.account_id = account_id;
  item.not_before_ms = in.now_ms;  // the identified withdrawal itself needs no delay; the deposit after it does
  item.requests.push_back(std::move(*request));
  state.items.push_back(std::move(item));
  ++result.fills_started;
  result.changed = true;
  return result;
}

}  // namespace openpcc::wallet
