// The client's wallet: turns AuthBank funds into anonymous, per-request credits and back.
//
//   WalletBanks banks{authbank::AuthBankClient(direct_transport(*tls_client), auth_url, api_key),
//                     blindbank::BlindBankClient(ohttp_transport, "http://confsec-bank.invalid"),
//                     currency_key};
//   auto wallet = Wallet::open(runtime, config, std::move(banks));      // recovers what the state file holds
//   ...
//   auto payment = co_await (*wallet)->begin_payment(amount);           // inside a coroutine on `runtime`
//   request.headers.set("X-Credit", payment->credit().to_header());
//   ... on the response's end:  co_await payment->success(refund_or_nullopt);
//   ... on a failed request:    co_await payment->cancel();
//   ...
//   co_await (*wallet)->close();                                       // leftovers back to the AuthBank
//
// How value moves (reference: anonpay/wallet; docs/WALLET.md has the full story):
//   fill      AuthBank withdrawal of source_amount (blind-signed, identified by the API key) → deposit into a fresh
//             BlindBank account (32 random bytes of token)
//   prefetch  batch withdrawals (≤ 15 blind-signed credits of prefetch_amount each) from accounts that hold enough;
//             the credits wait in memory (and in the state file) until a payment takes one
//   pay       begin_payment hands out one credit; success(refund) records it spent and takes the router's unblinded
//             refund credit; cancel() takes the credit back
//   recycle   refunds are exchanged at the BlindBank (re-blinded, so the bank cannot link them to the request they
//             came from) and deposited into a consolidation account; cancelled credits (the router saw them) are
//             exchanged and go back into the pool; accounts left with less than one credit are emptied
//             (withdraw-full → exchange) into the consolidation account; credits about to expire are deposited too
//   close     everything is deposited, every account emptied (withdraw-full → exchange) and the credits refunded to
//             the AuthBank
// Every step that moves value waits a random delay in [0, max_delay) first (privacy_delay.h), and runs as a
// coroutine on the runtime; at most max_parallel bank requests are in flight.
//
// Crash safety (beyond the reference): every account token, credit and request is written to the state file
// (state_file.h, mode 0600) before anything that depends on it is sent. Wallet::open on an existing file resumes
// every operation that may have been in flight by sending the identical request again (the banks answer retries
// idempotently), and treats credits that were handed to payments that never reported back as "maybe spent": it
// exchanges them — 410 means the router spent them (counted in Counters::spent_unknown), 409 means the router still
// holds them (retried later), success means they are recovered. Nothing is counted twice: the running totals change
// in the same state-file write as the operation's outcome.
//
// Threads: all methods are thread-safe. begin_payment, Payment::success/cancel and close are coroutines for the
// wallet's runtime (or any runtime: they only need a strand). open() and the destructor do file I/O and may block
// briefly; call them outside the runtime's threads. Destroy the wallet (and let Payments go) before the runtime.
// GCC 12: do not pass an aggregate temporary (`currency::Credit{...}`) straight into success(); name it first.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "client/wallet/wallet_config.h"
#include "client/wallet/wallet_state.h"
#include "common/error.h"
#include "crypto/rsa_blind.h"
#include "currency/badge.h"
#include "currency/credit.h"
#include "net/runtime.h"
#include "services/authbank/authbank_client.h"
#include "services/blindbank/blindbank_client.h"

namespace openpcc::wallet {

namespace detail {
class WalletCore;
}

// The wallet's connections: the AuthBank (identified, plain HTTPS), the BlindBank (anonymous: give it the OHTTP
// transport), and the currency public key both sign with (from the AuthBank's config answer).
struct WalletBanks {
  authbank::AuthBankClient authbank;
  blindbank::BlindBankClient blindbank;
  crypto::RsaPublicKey currency_key;
};

struct WalletStatus {
  int64_t credits_spent = 0;      // payments completed (Counters::payments)
  int64_t credits_held = 0;       // credits handed to payments that have not completed
  int64_t credits_available = 0;  // prefetched credits ready to hand out
  int64_t value_available = 0;    // their value
  int64_t value_in_accounts = 0;  // Σ BlindBank balances as last reported
  int64_t value_in_transit = 0;   // credits being deposited, exchanged or returned (held credits not included)
  size_t operations_pending = 0;  // items waiting for, or in, a bank request
  size_t accounts = 0;
  Counters totals;                // what crossed the wallet's boundary, over the state file's whole life
  std::optional<Error> last_error;  // the most recent failure that stops progress (e.g. AuthBank balance), if any
  bool closed = false;
};

// What Wallet::open found in the state file.
struct RecoveryReport {
  bool state_found = false;
  size_t maybe_spent = 0;          // credits of payments that never completed: being exchanged
  size_t operations_resumed = 0;   // requests that may have been sent: being sent again, identically
  size_t credits_available = 0;    // prefetched credits still usable
  size_t accounts = 0;             // BlindBank accounts (their balances are at the bank)
};

// One request's payment. Move-only. Call exactly one of success() or cancel(); a Payment destroyed without either
// is treated as maybe spent (its credit is exchanged: recovered if the router did not spend it).
class Payment {
 public:
  Payment(Payment&& other) noexcept;
  Payment& operator=(Payment&& other) noexcept;
  Payment(const Payment&) = delete;
  Payment& operator=(const Payment&) = delete;
  ~Payment();

  // The credit to send (X-Credit: credit().to_header()). Its value is the wallet's prefetch_amount.
  const currency::Credit& credit() const { return credit_; }
  // The amount asked for, rounded up to a representable value (≤ credit().value.amount()).
  int64_t amount() const { return amount_; }

  // The request completed: the credit is spent. `refund` is the router's X-Refund credit, if any; it is checked
  // (spendable, 0 < value ≤ the credit's, signature, not expired) and queued for exchange and deposit. Returns once
  // that is in the state file. An unusable refund is dropped with kInvalidArgument/kAuthenticationFailed (the
  // payment still counts as completed); a state-file failure is kIo (the change is kept in memory and written
  // with the next change); after the Wallet was destroyed, kUnavailable and nothing changes (the credit is in the
  // file as held and is sorted out as maybe spent by the next open()). Keep the wallet alive while requests run.
  net::Task<Status> success(std::optional<currency::Credit> refund);
  // The request failed: the credit goes back (after an exchange, since the router may have seen it).
  net::Task<Status> cancel();

 private:
  friend class detail::WalletCore;
  Payment(std::shared_ptr<detail::WalletCore> core, uint64_t item_id, currency::Credit credit, int64_t amount);

  std::shared_ptr<detail::WalletCore> core_;
  uint64_t item_id_ = 0;
  currency::Credit credit_;
  int64_t amount_ = 0;
};

class Wallet {
 public:
  // Validates the config, locks and loads the state file (or starts an empty one), recovers (see above) and starts
  // the background work on `runtime`. Errors: kInvalidArgument (config), kConflict (another wallet has the state
  // file; or the file holds value under another currency key), kDecode/kUnsupported (corrupt or unknown-version
  // state file — never replaced: see state_file.h), kIo.
  static Result<std::unique_ptr<Wallet>> open(net::Runtime& runtime, WalletConfig config, WalletBanks banks);

  // Without close(): stops the background work (requests in flight finish and their answers are recorded),
  // writes the state and releases the file. Everything the wallet held stays in the state file for the next
  // open(); Payments still alive change nothing any more.
  ~Wallet();
  Wallet(const Wallet&) = delete;
  Wallet& operator=(const Wallet&) = delete;

  // A credit for a request costing up to `amount` (rounded up to a representable value). Waits up to
  // payment_timeout for one to be ready. Errors: kInvalidArgument (amount ≤ 0), kUnsupported (amount above
  // prefetch_amount: one credit per request, as the reference), kUnavailable (closing), kTimeout, or the error
  // that keeps the wallet from filling (e.g. kInsufficientBalance from the AuthBank, kUnauthenticated).
  net::Task<Result<Payment>> begin_payment(int64_t amount);

  // Returns everything to the AuthBank: waits for payments in progress, deposits the prefetched credits, empties
  // every account (withdraw-full → exchange) and refunds the credits. Success means the state file holds no value
  // any more. kTimeout after close_timeout: what is left stays in the state file (the next open() continues).
  // The wallet hands out no credits once close() has begun.
  net::Task<Status> close();

  // Returns once there is no bank work to do (every item is a prefetched or held credit and the pool is filled
  // as far as it can be), or kTimeout. For tests and for an SDK that wants credits ready before its first request.
  net::Task<Status> wait_idle(std::chrono::milliseconds timeout);

  WalletStatus status() const;
  const RecoveryReport& recovery() const;
  // The badge of the last AuthBank withdrawal (X-Confsec-Badge), if the wallet has made one.
  std::optional<currency::Badge> badge() const;

 private:
  explicit Wallet(std::shared_ptr<detail::WalletCore> core) : core_(std::move(core)) {}
  std::shared_ptr<detail::WalletCore> core_;
};

}  // namespace openpcc::wallet
