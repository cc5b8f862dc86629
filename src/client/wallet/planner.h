// The wallet's decisions, as pure functions over its state (no I/O, no clock, no locks): what new work to start —
// refill the prefetch pool, empty accounts that can no longer give a whole credit, deposit credits about to
// expire, return everything when closing — and where deposits go. wallet.cc runs these under its lock and sends
// the requests; the unit tests run them directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>

#include "client/wallet/wallet_state.h"
#include "common/error.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"

namespace openpcc::wallet {

struct PlanSettings {
  int64_t source_amount = 0;
  int64_t prefetch_amount = 0;
  size_t prefetch_target = 1;
  int64_t expiry_margin_s = 300;
  // A fresh privacy delay in milliseconds (random_delay in the wallet; 0 in tests).
  std::function<int64_t()> delay_ms;
  // The key new blind requests (batch withdrawals, fills) are blinded for.
  const crypto::RsaPublicKey* currency_key = nullptr;
};

struct PlanInputs {
  int64_t now_ms = 0;
  bool closing = false;
  // False while the AuthBank refused the last fill (no new AuthBank withdrawal until it is true again).
  bool fill_allowed = true;
  // Accounts with a request in flight: no new batch or full withdrawal is planned on them this round.
  const std::set<uint64_t>* busy_accounts = nullptr;
};

struct PlanResult {
  bool changed = false;
  size_t batches_started = 0;
  size_t fills_started = 0;
  size_t full_withdrawals_started = 0;
  size_t deposits_started = 0;  // available credits sent to the consolidation account
  size_t accounts_removed = 0;
  // Blinding failed (a broken key): nothing was started that needed it.
  std::optional<Error> error;
};

// One planning round (see the rules in planner.cc). Every new item and account is added to `state`; nothing is
// sent here.
PlanResult plan_work(WalletState& state, const PlanSettings& settings, const PlanInputs& inputs);

// The first unix second at which a credit's nonce is expired (currency::Nonce::is_expired_at): credits are valid
// until the end of their nonce's hour plus the clock-skew allowance.
int64_t credit_expires_at(const currency::Credit& credit);

// Whether an available credit may still be handed out (or kept in the pool) at `now_s`: of the prefetch value
// and more than `margin_s` from expiry.
bool fit_for_pool(const currency::Credit& credit, int64_t prefetch_amount, int64_t now_s, int64_t margin_s);

// Credits ready or coming for the pool: available ones fit for it, requests of batch withdrawals in flight, and
// exchanges heading back to the pool.
size_t pool_supply(const WalletState& state, int64_t prefetch_amount, int64_t now_s, int64_t margin_s);

// A fresh id (accounts and items share the id space).
uint64_t take_id(WalletState& state);
// A new account with a fresh random token.
Account& add_account(WalletState& state, AccountRole role);
// The consolidation account deposits should go to: one with no full withdrawal pending (a deposit landing after a
// full withdrawal would break that withdrawal's retry), created if there is none.
uint64_t deposit_target(WalletState& state);
// Items that name `account_id` (as their target or source).
size_t items_on_account(const WalletState& state, uint64_t account_id);

}  // namespace openpcc::wallet
