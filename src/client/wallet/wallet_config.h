// How a wallet behaves: amounts, parallelism, privacy delays, where its state lives, how long closing may take.
//
// Defaults follow the reference client (a credit is enough for the largest request, one AuthBank withdrawal holds
// ten of them, two requests in parallel, delays up to 5 s, 90 s to close).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>

#include "common/error.h"

namespace openpcc::wallet {

struct WalletConfig {
  // What one AuthBank withdrawal takes (one credit of this value, deposited into a fresh BlindBank account). Must be
  // exactly representable (currency::Value::from_amount) and ≥ prefetch_amount.
  int64_t source_amount = 2'621'440;
  // The value of every prefetched credit, i.e. the most one request can cost. Exactly representable, > 0.
  int64_t prefetch_amount = 262'144;
  // How many credits to keep ready. 0 = source_amount / prefetch_amount (at least 1). At most 64.
  size_t prefetch_credits = 0;
  // Bank operations in flight at once (1..16).
  unsigned max_parallel = 2;
  // Random privacy delays before each bank operation are uniform in [0, max_delay), from the OS CSPRNG. 0 turns
  // them off (tests). At most 10 minutes.
  std::chrono::milliseconds max_delay{5'000};
  // The state file (state_file.h). Required.
  std::filesystem::path state_file;
  // How long close() may take to return everything to the AuthBank before it gives up (the rest stays in the state
  // file for the next start).
  std::chrono::milliseconds close_timeout{90'000};
  // How long begin_payment waits for a credit when none is ready.
  std::chrono::milliseconds payment_timeout{60'000};
  // Credits are valid until the end of their nonce's hour (+30 s, currency/nonce.h). A prefetched credit with less
  // than this left is not handed out any more but deposited back into the consolidation account (≥ 1 minute).
  std::chrono::seconds expiry_margin{300};
  // First retry delay after a transient bank failure; doubles up to max_backoff.
  std::chrono::milliseconds min_backoff{250};
  std::chrono::milliseconds max_backoff{30'000};
  // Unix milliseconds; tests move time. Default: the system clock.
  std::function<int64_t()> clock_ms;
};

// kInvalidArgument naming the first field that breaks the rules above.
Status validate(const WalletConfig& config);

// The number of credits to keep ready (prefetch_credits or its default).
size_t prefetch_target(const WalletConfig& config);

}  // namespace openpcc::wallet
