#include "client/wallet/wallet.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "client/wallet/async_signal.h"
#include "client/wallet/blind_request.h"
#include "client/wallet/planner.h"
#include "client/wallet/privacy_delay.h"
#include "client/wallet/state_file.h"
#include "common/random.h"
#include "currency/credit_verifier.h"
#include "currency/nonce.h"
#include "currency/value.h"
#include "net/blocking_pool.h"

namespace openpcc::wallet {

using std::chrono::milliseconds;

namespace {

// How often the background loop looks at the state even when nothing wakes it (expiring credits, delays).
constexpr milliseconds kMaxIdleWait{1000};
// How long the destructor waits for requests in flight to finish.
constexpr std::chrono::seconds kShutdownWait{120};

int64_t system_now_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Failures worth retrying with the identical request: the network, a timeout, the bank's storage.
bool transient(const Error& e) {
  return e.code == ErrorCode::kIo || e.code == ErrorCode::kTimeout || e.code == ErrorCode::kUnavailable;
}

// The BlindBank answers an insufficient balance 400 with a fixed text; the AuthBank with 429.
bool insufficient_balance(const Error& e) {
  return e.code == ErrorCode::kInsufficientBalance ||
         (e.code == ErrorCode::kInvalidArgument && e.message == blindbank::kInsufficientBalanceMessage);
}

bool holds_credit(Stage stage) {
  return stage == Stage::kDeposit || stage == Stage::kAvailable || stage == Stage::kHeld ||
         stage == Stage::kExchange || stage == Stage::kReturn;
}

// Stages whose request goes to the BlindBank about an account: one such request per account at a time, so the
// balances the bank reports arrive in order and a full withdrawal never races a deposit.
bool uses_account(Stage stage) {
  return stage == Stage::kDeposit || stage == Stage::kBatchWithdraw || stage == Stage::kWithdrawFull;
}

bool runnable(Stage stage) { return stage != Stage::kAvailable && stage != Stage::kHeld; }

}  // namespace

namespace detail {

class WalletCore : public std::enable_shared_from_this<WalletCore> {
 public:
  WalletCore(net::Runtime& runtime, WalletConfig config, WalletBanks banks, currency::CreditVerifier verifier,
             StateFile file, WalletState state)
      : runtime_(runtime),
        config_(std::move(config)),
        authbank_(std::move(banks.authbank)),
        blindbank_(std::move(banks.blindbank)),
        key_(std::move(banks.currency_key)),
        verifier_(std::move(verifier)),
        file_(std::move(file)),
        io_(1),
        state_(std::move(state)) {
    settings_.source_amount = config_.source_amount;
    settings_.prefetch_amount = config_.prefetch_amount;
    settings_.prefetch_target = prefetch_target(config_);
    settings_.expiry_margin_s = config_.expiry_margin.count();
    settings_.delay_ms = [max = config_.max_delay] { return random_delay(max).count(); };
    settings_.currency_key = &key_;
  }

  // ---- start-up ----

  // Turns what a crash left behind into work (see wallet.h) and writes the result. Called before start().
  Status recover(bool found) {
    std::lock_guard lock(mu_);
    report_.state_found = found;
    changed_locked();  // the file is (re)written at once: it exists, 0600, before anything is sent
    const int64_t now = now_ms();
    for (auto& item : state_.items) {
      if (item.stage == Stage::kHeld) {
        item.stage = Stage::kExchange;
        item.destination = Destination::kPool;
        item.maybe_spent = true;
        item.not_before_ms = now;
        ++report_.maybe_spent;
        changed_locked();
      } else if (item.stage == Stage::kAvailable) {
        ++report_.credits_available;
      } else {
        ++report_.operations_resumed;
        uncertain_.insert(item.id);
      }
    }
    report_.accounts = state_.accounts.size();
    if (found && (report_.maybe_spent > 0 || report_.operations_resumed > 0)) {
      spdlog::info("wallet: recovering {} maybe-spent credit(s) and {} interrupted operation(s)",
                   report_.maybe_spent, report_.operations_resumed);
    }
    return save_blocking_locked();
  }

  void start() {
    {
      std::lock_guard lock(mu_);
      ++tasks_;
    }
    auto self = shared_from_this();
    runtime_.spawn([self]() -> net::Task<void> { co_await self->drive(); });
  }

  // ---- shutdown ----

  // The Wallet is going away: stop, wait for requests in flight, write the state and release the file. Payments
  // still alive afterwards change nothing (their credits are in the file as held: the next open() sorts them out).
  void shutdown() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    notify_all();
    if (runtime_.in_runtime_thread()) return;  // cannot wait here; the tasks finish on their own
    std::unique_lock lock(mu_);
    if (!tasks_done_.wait_for(lock, kShutdownWait, [&] { return tasks_ == 0; })) {
      spdlog::warn("wallet: {} task(s) still running at shutdown; the state file stays locked until they end",
                   tasks_);
      return;
    }
    if (auto st = save_blocking_locked(); !st) spdlog::error("wallet: {}", st.error().to_string());
    std::lock_guard file_lock(file_mu_);
    file_.reset();  // releases the lock on the state file
  }

  // ---- payments ----

  net::Task<Result<Payment>> begin_payment(int64_t amount) {
    if (amount <= 0) co_return make_error(ErrorCode::kInvalidArgument, "payment amount must be positive");
    auto rounded = currency::Value::rounded(static_cast<double>(std::min(amount, currency::kMaxAmount)), 1.0);
    if (amount > currency::kMaxAmount || !rounded || rounded->amount() > config_.prefetch_amount) {
      co_return make_error(ErrorCode::kUnsupported,
                           "payments above the prefetch amount (" + std::to_string(config_.prefetch_amount) +
                               ") are not supported: one prefetched credit pays for one request");
    }
    const int64_t rounded_amount = rounded->amount();
    const int64_t deadline = now_ms() + config_.payment_timeout.count();
    for (;;) {
      const uint64_t seen = changed_.generation();
      std::optional<Payment> payment;
      int64_t wake_ms = deadline;
      {
        std::lock_guard lock(mu_);
        if (stopping_ || closing_) co_return make_error(ErrorCode::kUnavailable, "wallet is closing");
        const int64_t now = now_ms();
        Item* best = nullptr;
        for (auto& item : state_.items) {
          if (item.stage != Stage::kAvailable || !item.credit) continue;
          if (!fit_for_pool(*item.credit, config_.prefetch_amount, now / 1000, settings_.expiry_margin_s)) continue;
          if (item.not_before_ms > now) {  // the unsafe-increment wait
            wake_ms = std::min(wake_ms, item.not_before_ms);
            continue;
          }
          if (!best || item.credit->nonce.timestamp < best->credit->nonce.timestamp) best = &item;  // oldest first
        }
        if (best) {
          best->stage = Stage::kHeld;
          changed_locked();
          payment.emplace(Payment(shared_from_this(), best->id, *best->credit, rounded_amount));
        } else if (fill_error_ &&
                   pool_supply(state_, config_.prefetch_amount, now / 1000, settings_.expiry_margin_s) == 0 &&
                   !has_refill_work_locked()) {
          // The AuthBank refused the last fill. Say so, unless it is time to try again.
          if (now < fill_blocked_until_ms_) co_return std::unexpected(*fill_error_);
          fill_error_.reset();
        }
      }
      if (payment) {
        if (auto st = co_await persist(); !st) {
          // Not on disk: the credit must not leave. Put it back.
          {
            std::lock_guard lock(mu_);
            if (Item* item = state_.find_item(payment->item_id_)) item->stage = Stage::kAvailable;
            changed_locked();
          }
          payment->item_id_ = 0;  // nothing to release on destruction
          co_return std::unexpected(st.error());
        }
        co_return std::move(*payment);
      }
      wake_driver_.notify();  // there is demand
      const int64_t now = now_ms();
      if (now < deadline) {
        co_await changed_.wait(seen, milliseconds(std::clamp<int64_t>(wake_ms - now, 1, kMaxIdleWait.count())));
      }
      if (now >= deadline) {
        std::lock_guard lock(mu_);
        co_return make_error(ErrorCode::kTimeout, "no credit became available within " +
                                                      std::to_string(config_.payment_timeout.count()) + " ms" +
                                                      (last_error_ ? " (last error: " + last_error_->to_string() + ")"
                                                                   : std::string()));
      }
    }
  }

  net::Task<Status> complete_payment(uint64_t item_id, bool succeeded, std::optional<currency::Credit> refund) {
    Status outcome;
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        co_return make_error(ErrorCode::kUnavailable,
                             "wallet stopped; the credit is recorded as maybe spent and sorted out at the next start");
      }
      Item* item = state_.find_item(item_id);
      if (!item || item->stage != Stage::kHeld || !item->credit) {
        co_return make_error(ErrorCode::kInvalidArgument, "payment already completed");
      }
      const int64_t now = now_ms();
      if (!succeeded) {
        // The router may have seen (or, if the request broke late, even spent) it: exchange before reuse.
        item->stage = Stage::kExchange;
        item->destination = Destination::kPool;
        item->maybe_spent = true;
        item->not_before_ms = now + random_delay(config_.max_delay).count();
        ++state_.counters.cancelled;
      } else {
        const currency::Credit spent = *item->credit;
        remove_item_locked(item_id);
        state_.counters.spent += spent.value.amount();
        ++state_.counters.payments;
        if (refund) {
          outcome = check_refund(*refund, spent, now / 1000);
          if (outcome) {
            Item exchange;
            exchange.id = take_id(state_);
            exchange.stage = Stage::kExchange;
            exchange.destination = Destination::kDeposit;
            exchange.credit = std::move(*refund);
            exchange.not_before_ms = now + random_delay(config_.max_delay).count();
            state_.counters.refunds_received += exchange.credit->value.amount();
            state_.items.push_back(std::move(exchange));
          } else {
            spdlog::warn("wallet: refund dropped: {}", outcome.error().to_string());
          }
        }
      }
      changed_locked();
    }
    notify_all();
    auto st = co_await persist();
    if (!st) co_return st;
    co_return outcome;
  }

  // A Payment destroyed without success() or cancel(): its request may or may not have spent the credit.
  void abandon_payment(uint64_t item_id) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      Item* item = state_.find_item(item_id);
      if (!item || item->stage != Stage::kHeld) return;
      item->stage = Stage::kExchange;
      item->destination = Destination::kPool;
      item->maybe_spent = true;
      item->not_before_ms = now_ms() + random_delay(config_.max_delay).count();
      changed_locked();
    }
    notify_all();
  }

  // ---- close / idle ----

  net::Task<Status> close() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) co_return make_error(ErrorCode::kUnavailable, "wallet is stopped");
      closing_ = true;
    }
    notify_all();
    const int64_t deadline = now_ms() + config_.close_timeout.count();
    bool done = false;
    for (;;) {
      const uint64_t seen = changed_.generation();
      {
        std::lock_guard lock(mu_);
        done = state_.empty();
      }
      const int64_t now = now_ms();
      if (done || now >= deadline) break;
      co_await changed_.wait(seen, milliseconds(std::clamp<int64_t>(deadline - now, 1, kMaxIdleWait.count())));
    }
    // Stop the background work and wait for requests in flight to finish and record their answers.
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    notify_all();
    for (;;) {
      const uint64_t seen = changed_.generation();
      {
        std::lock_guard lock(mu_);
        if (tasks_ == 0) break;
      }
      co_await changed_.wait(seen, milliseconds(50));
    }
    auto st = co_await persist();
    std::string left;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      done = state_.empty();
      if (!done) left = describe_locked();
    }
    if (!st) co_return st;
    if (!done) {
      co_return make_error(ErrorCode::kTimeout, "wallet close timed out; left in the state file for the next start: " +
                                                    left);
    }
    co_return Status{};
  }

  net::Task<Status> wait_idle(milliseconds timeout) {
    const int64_t deadline = now_ms() + timeout.count();
    for (;;) {
      const uint64_t seen = changed_.generation();
      {
        std::lock_guard lock(mu_);
        if (idle_) co_return Status{};
        if (stopping_) co_return make_error(ErrorCode::kUnavailable, "wallet is stopped");
      }
      const int64_t now = now_ms();
      if (now >= deadline) {
        std::lock_guard lock(mu_);
        co_return make_error(ErrorCode::kTimeout, "wallet not idle: " + describe_locked());
      }
      co_await changed_.wait(seen, milliseconds(std::clamp<int64_t>(deadline - now, 1, kMaxIdleWait.count())));
    }
  }

  WalletStatus status() const {
    std::lock_guard lock(mu_);
    WalletStatus s;
    s.totals = state_.counters;
    s.credits_spent = state_.counters.payments;
    s.accounts = state_.accounts.size();
    for (const auto& a : state_.accounts) s.value_in_accounts += a.balance;
    for (const auto& item : state_.items) {
      const int64_t value = item.credit ? item.credit->value.amount() : 0;
      switch (item.stage) {
        case Stage::kAvailable:
          ++s.credits_available;
          s.value_available += value;
          break;
        case Stage::kHeld: ++s.credits_held; break;
        default:
          ++s.operations_pending;
          if (holds_credit(item.stage)) s.value_in_transit += value;
          break;
      }
    }
    s.last_error = fill_error_ ? fill_error_ : last_error_;
    s.closed = closed_;
    return s;
  }

  const RecoveryReport& recovery() const { return report_; }

  std::optional<currency::Badge> badge() const {
    std::lock_guard lock(mu_);
    if (state_.badge.empty()) return std::nullopt;
    auto badge = currency::Badge::parse(state_.badge);
    if (!badge) return std::nullopt;
    return std::move(*badge);
  }

 private:
  // ---- helpers (the _locked ones need mu_) ----

  int64_t now_ms() const { return config_.clock_ms ? config_.clock_ms() : system_now_ms(); }

  void notify_all() {
    wake_driver_.notify();
    changed_.notify();
  }

  void changed_locked() {
    ++generation_;
    idle_ = false;
  }

  // A bank answered: earlier transient failures no longer describe the wallet.
  void progressed_locked(uint64_t id) {
    failures_.erase(id);
    uncertain_.erase(id);
    last_error_.reset();
  }

  void remove_item_locked(uint64_t id) {
    state_.items.erase(
        std::remove_if(state_.items.begin(), state_.items.end(), [&](const Item& i) { return i.id == id; }),
        state_.items.end());
    failures_.erase(id);
    uncertain_.erase(id);
  }

  void remove_account_locked(uint64_t id) {
    state_.accounts.erase(std::remove_if(state_.accounts.begin(), state_.accounts.end(),
                                         [&](const Account& a) { return a.id == id; }),
                          state_.accounts.end());
  }

  // Transient failure: the identical request goes again after an exponential backoff.
  void retry_later_locked(Item& item, const Error& error) {
    uncertain_.insert(item.id);  // the request may have reached the bank and only its answer got lost
    const int attempt = ++failures_[item.id];
    const int64_t backoff =
        std::min<int64_t>(config_.max_backoff.count(),
                          config_.min_backoff.count() << std::min(attempt - 1, 16));
    item.not_before_ms = now_ms() + backoff + static_cast<int64_t>(random_uniform(
                                                  static_cast<uint64_t>(backoff / 4 + 1)));
    if (attempt == 1 || attempt % 10 == 0) {
      spdlog::info("wallet: {} will be retried ({} attempt(s)): {}", to_string(item.stage), attempt,
                   error.to_string());
    }
    last_error_ = error;
  }

  // A credit the banks refused for good: its value is gone.
  void lose_locked(uint64_t item_id, int64_t value, const Error& error) {
    spdlog::warn("wallet: a credit of {} was refused and is lost: {}", value, error.to_string());
    state_.counters.lost += value;
    last_error_ = error;
    remove_item_locked(item_id);
  }

  Status check_refund(const currency::Credit& refund, const currency::Credit& spent, int64_t now_s) const {
    if (refund.value.is_special() || refund.value.amount() <= 0 ||
        refund.value.amount() > spent.value.amount()) {
      return make_error(ErrorCode::kInvalidArgument, "refund value is not between 1 and the credit's value");
    }
    if (auto st = verifier_.verify(refund, now_s); !st) return std::unexpected(wrap_error("refund", st.error()));
    return {};
  }

  bool has_refill_work_locked() const {
    return std::any_of(state_.items.begin(), state_.items.end(), [](const Item& i) {
      return i.stage == Stage::kSourceWithdraw || i.stage == Stage::kBatchWithdraw ||
             (i.stage == Stage::kExchange && i.destination == Destination::kPool);
    });
  }

  std::string describe_locked() const {
    std::map<std::string, int> by_stage;
    for (const auto& item : state_.items) ++by_stage[std::string(to_string(item.stage))];
    std::string out = std::to_string(state_.accounts.size()) + " account(s)";
    for (const auto& [stage, count] : by_stage) out += ", " + std::to_string(count) + " " + stage;
    if (last_error_) out += "; last error: " + last_error_->to_string();
    return out;
  }

  // ---- persistence ----

  // Makes sure a state at least as new as the current one is on disk. Every request is sent only after this
  // returned success, so the file always names every request that may be in flight.
  net::Task<Status> persist() {
    Bytes bytes;
    uint64_t generation = 0;
    {
      std::lock_guard lock(mu_);
      generation = generation_;
      if (written_.load() >= generation) co_return Status{};
      bytes = serialize_state(state_);
    }
    Status st = co_await io_.run([&]() -> Status { return write_generation(bytes, generation); });
    secure_wipe(bytes.data(), bytes.size());
    if (!st) {
      std::lock_guard lock(mu_);
      last_error_ = st.error();
    }
    co_return st;
  }

  Status write_generation(ByteSpan bytes, uint64_t generation) {
    std::lock_guard lock(file_mu_);
    if (written_.load() >= generation) return {};  // a newer snapshot got there first
    if (!file_) return make_error(ErrorCode::kUnavailable, "wallet state file released");
    if (auto st = file_->save(bytes); !st) return st;
    written_.store(generation);
    return {};
  }

  Status save_blocking_locked() {
    if (written_.load() >= generation_) return {};
    Bytes bytes = serialize_state(state_);
    Status st = write_generation(bytes, generation_);
    secure_wipe(bytes.data(), bytes.size());
    return st;
  }

  // ---- the background loop ----

  net::Task<void> drive() {
    bool was_idle = false;
    for (;;) {
      const uint64_t seen = wake_driver_.generation();
      std::vector<uint64_t> run;
      int64_t wake_ms = 0;
      bool now_idle = false;
      bool planned = false;
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
        const int64_t now = now_ms();
        wake_ms = now + kMaxIdleWait.count();
        PlanInputs in;
        in.now_ms = now;
        in.closing = closing_;
        in.fill_allowed = !fill_error_;
        in.busy_accounts = &busy_accounts_;
        PlanResult plan = plan_work(state_, settings_, in);
        planned = plan.changed;
        if (plan.changed) changed_locked();
        if (plan.error) last_error_ = plan.error;
        for (auto& item : state_.items) {
          if (running_ >= config_.max_parallel) break;
          if (!runnable(item.stage) || busy_items_.count(item.id)) continue;
          if (item.not_before_ms > now) {
            wake_ms = std::min(wake_ms, item.not_before_ms);
            continue;
          }
          if (uses_account(item.stage)) {
            if (busy_accounts_.count(item.account_id)) continue;
            busy_accounts_.insert(item.account_id);
          }
          busy_items_.insert(item.id);
          ++running_;
          ++tasks_;
          run.push_back(item.id);
        }
        now_idle = run.empty() && running_ == 0 && !plan.changed &&
                   std::all_of(state_.items.begin(), state_.items.end(),
                               [](const Item& i) { return !runnable(i.stage); });
        idle_ = now_idle;
      }
      auto self = shared_from_this();
      for (uint64_t id : run) {
        runtime_.spawn([self, id]() -> net::Task<void> { co_await self->run_step(id); });
      }
      if ((now_idle && !was_idle) || planned) changed_.notify();  // for wait_idle, close, payers
      was_idle = now_idle;
      if (!run.empty()) continue;  // look again at once: more may be runnable
      const int64_t wait = std::clamp<int64_t>(wake_ms - now_ms(), 1, kMaxIdleWait.count());
      co_await wake_driver_.wait(seen, milliseconds(wait));
    }
    finish_task();
  }

  void finish_task() {
    {
      std::lock_guard lock(mu_);
      --tasks_;
      tasks_done_.notify_all();
    }
    notify_all();
  }

  // Releases an item's (and its account's) busy marks when a step ends, also by exception.
  class StepGuard {
   public:
    StepGuard(WalletCore& core, uint64_t id) : core_(core), id_(id) {}
    ~StepGuard() {
      {
        std::lock_guard lock(core_.mu_);
        core_.busy_items_.erase(id_);
        if (account_) core_.busy_accounts_.erase(*account_);
        --core_.running_;
      }
      core_.finish_task();
    }
    std::optional<uint64_t> account_;

   private:
    WalletCore& core_;
    uint64_t id_;
  };

  net::Task<void> run_step(uint64_t id) {
    StepGuard guard(*this, id);
    Stage stage;
    {
      std::lock_guard lock(mu_);
      const Item* item = state_.find_item(id);
      if (!item) co_return;
      stage = item->stage;
      if (uses_account(stage)) guard.account_ = item->account_id;
    }
    switch (stage) {
      case Stage::kSourceWithdraw: co_await source_withdraw(id); break;
      case Stage::kDeposit: co_await deposit(id); break;
      case Stage::kBatchWithdraw: co_await batch_withdraw(id); break;
      case Stage::kExchange: co_await exchange(id); break;
      case Stage::kWithdrawFull: co_await withdraw_full(id); break;
      case Stage::kReturn: co_await return_to_source(id); break;
      case Stage::kAvailable:
      case Stage::kHeld: break;
    }
  }

  // Persists before a request goes out; on failure the item waits (nothing is sent that the file does not name).
  net::Task<bool> persist_before_send(uint64_t id) {
    auto st = co_await persist();
    if (st) co_return true;
    std::lock_guard lock(mu_);
    if (Item* item = state_.find_item(id)) retry_later_locked(*item, st.error());
    co_return false;
  }

  // Records the new state after an answer (best effort: the next persist carries it if this one fails).
  net::Task<void> record() {
    notify_all();
    if (auto st = co_await persist(); !st) spdlog::error("wallet: {}", st.error().to_string());
  }

  // kSourceWithdraw: AuthBank withdrawal of source_amount → deposit into the item's fill account.
  net::Task<void> source_withdraw(uint64_t id) {
    currency::Value value;
    Bytes blinded;
    {
      std::lock_guard lock(mu_);
      const Item* item = state_.find_item(id);
      if (!item) co_return;
      value = item->requests[0].value;
      blinded = item->requests[0].blinded_message;
    }
    if (!co_await persist_before_send(id)) co_return;
    auto answer = co_await authbank_.withdraw(value, std::move(blinded));
    {
      std::lock_guard lock(mu_);
      Item* item = state_.find_item(id);
      if (!item) co_return;
      if (!answer) {
        const Error& e = answer.error();
        if (transient(e)) {
          retry_later_locked(*item, e);
        } else if (e.code == ErrorCode::kUnauthenticated && uncertain_.count(id)) {
          // An earlier attempt may have been debited (its answer lost), and only the same request can fetch that
          // credit: keep it and try again later (the key may be restored), but tell payers why nothing comes.
          fill_error_ = e;
          fill_blocked_until_ms_ = now_ms() + config_.max_backoff.count();
          retry_later_locked(*item, e);
        } else {
          // Refused (balance, key, input) on a request the bank never debited (a retry of a debited one is
          // answered from the bank's record). Wait for demand before trying again.
          spdlog::warn("wallet: AuthBank withdrawal refused: {}", answer.error().to_string());
          fill_error_ = answer.error();
          last_error_ = answer.error();
          fill_blocked_until_ms_ = now_ms() + config_.max_backoff.count();
          remove_item_locked(id);
        }
      } else {
        if (answer->badge) {
          auto bytes = answer->badge->serialize();
          if (bytes && bytes->size() <= kMaxStateBadgeSize) state_.badge = std::move(*bytes);
        }
        auto credit = finish_blind_request(key_, item->requests[0], answer->blind_signature);
        state_.counters.from_source += value.amount();
        if (!credit) {
          lose_locked(id, value.amount(), credit.error());  // debited, but the signature is unusable
        } else {
          const int64_t ready_ms = item->requests[0].ready_at * 1000;
          item->stage = Stage::kDeposit;
          item->credit = std::move(*credit);
          item->requests.clear();
          item->not_before_ms = std::max(now_ms() + random_delay(config_.max_delay).count(), ready_ms);
          progressed_locked(id);
          fill_error_.reset();
        }
      }
      changed_locked();
    }
    co_await record();
  }

  // kDeposit: the credit into the item's account.
  net::Task<void> deposit(uint64_t id) {
    Bytes token;
    currency::Credit credit;
    uint64_t account_id = 0;
    {
      std::lock_guard lock(mu_);
      const Item* item = state_.find_item(id);
      if (!item) co_return;
      const Account* account = state_.find_account(item->account_id);
      if (!account) co_return;
      account_id = account->id;
      token.assign(account->token.span().begin(), account->token.span().end());
      credit = *item->credit;
    }
    if (!co_await persist_before_send(id)) {
      secure_wipe(token.data(), token.size());
      co_return;
    }
    auto answer = co_await blindbank_.deposit(std::move(token), std::move(credit));
    {
      std::lock_guard lock(mu_);
      Item* item = state_.find_item(id);
      if (!item) co_return;
      if (!answer) {
        const Error& e = answer.error();
        if (transient(e) || e.code == ErrorCode::kConflict) {
          retry_later_locked(*item, e);
        } else {
          lose_locked(id, item->credit->value.amount(), e);
        }
      } else {
        if (Account* account = state_.find_account(account_id)) account->balance = *answer;
        progressed_locked(id);
        remove_item_locked(id);
      }
      changed_locked();
    }
    co_await record();
  }

  // kBatchWithdraw: the item's requests signed from its account → available credits.
  net::Task<void> batch_withdraw(uint64_t id) {
    Bytes token;
    std::vector<blindbank::BlindSignRequest> requests;
    uint64_t account_id = 0;
    {
      std::lock_guard lock(mu_);
      const Item* item = state_.find_item(id);
      if (!item) co_return;
      const Account* account = state_.find_account(item->account_id);
      if (!account) co_return;
      account_id = account->id;
      token.assign(account->token.span().begin(), account->token.span().end());
      for (const auto& r : item->requests) {
        blindbank::BlindSignRequest request;
        request.value = r.value;
        request.blinded_message = r.blinded_message;
        requests.push_back(std::move(request));
      }
    }
    if (!co_await persist_before_send(id)) {
      secure_wipe(token.data(), token.size());
      co_return;
    }
    Bytes token_copy = token;  // for a balance check after an insufficient-balance answer
    auto answer = co_await blindbank_.withdraw_batch(std::move(token), std::move(requests));
    bool check_balance = false;
    {
      std::lock_guard lock(mu_);
      Item* item = state_.find_item(id);
      if (!item) co_return;
      if (!answer) {
        const Error& e = answer.error();
        if (transient(e)) {
          retry_later_locked(*item, e);
        } else {
          // Refused: nothing was debited. An insufficient balance means our view of the account is stale.
          spdlog::warn("wallet: batch withdrawal refused: {}", e.to_string());
          last_error_ = e;
          check_balance = insufficient_balance(e);
          remove_item_locked(id);
        }
      } else {
        if (Account* account = state_.find_account(account_id)) account->balance = answer->balance;
        progressed_locked(id);
        std::vector<Item> credits;
        for (size_t i = 0; i < item->requests.size(); ++i) {
          const BlindRequest& request = item->requests[i];
          auto credit = finish_blind_request(key_, request, answer->blind_signatures[i]);
          if (!credit) {
            spdlog::warn("wallet: a withdrawn credit did not verify: {}", credit.error().to_string());
            state_.counters.lost += request.value.amount();
            last_error_ = credit.error();
            continue;
          }
          Item available;
          available.stage = Stage::kAvailable;
          available.credit = std::move(*credit);
          available.not_before_ms = request.ready_at * 1000;
          credits.push_back(std::move(available));
        }
        remove_item_locked(id);
        for (auto& c : credits) {
          c.id = take_id(state_);
          state_.items.push_back(std::move(c));
        }
      }
      changed_locked();
    }
    if (check_balance) {
      auto balance = co_await blindbank_.balance(std::move(token_copy));
      std::lock_guard lock(mu_);
      if (balance) {
        if (Account* account = state_.find_account(account_id)) account->balance = *balance;
        changed_locked();
      }
    } else {
      secure_wipe(token_copy.data(), token_copy.size());
    }
    co_await record();
  }

  // kExchange: the credit for a fresh blind signature of the same value → the item's destination.
  net::Task<void> exchange(uint64_t id) {
    currency::Credit credit;
    Bytes blinded;
    {
      std::lock_guard lock(mu_);
      Item* item = state_.find_item(id);
      if (!item) co_return;
      if (item->requests.empty()) {
        auto request = make_blind_request(key_, item->credit->value, now_ms() / 1000);
        if (!request) {
          retry_later_locked(*item, request.error());
          co_return;
        }
        item->requests.push_back(std::move(*request));
        changed_locked();
      }
      credit = *item->credit;
      blinded = item->requests[0].blinded_message;
    }
    if (!co_await persist_before_send(id)) co_return;
    auto answer = co_await blindbank_.exchange(std::move(credit), std::move(blinded));
    {
      std::lock_guard lock(mu_);
      Item* item = state_.find_item(id);
      if (!item) co_return;
      const int64_t value = item->credit->value.amount();
      if (!answer) {
        const Error& e = answer.error();
        if (transient(e) || e.code == ErrorCode::kConflict) {
          // 409: someone (the router, for a maybe-spent credit) holds the credit right now.
          retry_later_locked(*item, e);
        } else if (e.code == ErrorCode::kAlreadyUsed && item->maybe_spent) {
          state_.counters.spent_unknown += value;
          ++state_.counters.recovered_spent;
          remove_item_locked(id);
        } else {
          lose_locked(id, value, e);
        }
      } else {
        auto fresh = finish_blind_request(key_, item->requests[0], *answer);
        if (!fresh) {
          lose_locked(id, value, fresh.error());
        } else {
          if (item->maybe_spent) ++state_.counters.recovered;
          const int64_t ready_ms = item->requests[0].ready_at * 1000;
          const int64_t now = now_ms();
          Destination destination = item->destination;
          if (destination == Destination::kPool &&
              (closing_ || fresh->value.amount() != config_.prefetch_amount)) {
            destination = Destination::kDeposit;
          }
          item->credit = std::move(*fresh);
          item->requests.clear();
          item->maybe_spent = false;
          item->destination = Destination::kNone;
          progressed_locked(id);
          switch (destination) {
            case Destination::kPool:
              item->stage = Stage::kAvailable;
              item->not_before_ms = ready_ms;
              break;
            case Destination::kReturn:
              item->stage = Stage::kReturn;
              item->not_before_ms = std::max(now + random_delay(config_.max_delay).count(), ready_ms);
              break;
            case Destination::kDeposit:
            case Destination::kNone: {
              const uint64_t target = deposit_target(state_);
              item = state_.find_item(id);  // deposit_target adds accounts only; the item stays put
              item->stage = Stage::kDeposit;
              item->account_id = target;
              item->not_before_ms = std::max(now + random_delay(config_.max_delay).count(), ready_ms);
              break;
            }
          }
        }
      }
      changed_locked();
    }
    co_await record();
  }

  // kWithdrawFull: the account's whole balance as an unblinded credit → exchange → the item's destination.
  net::Task<void> withdraw_full(uint64_t id) {
    Bytes token;
    uint64_t account_id = 0;
    {
      std::lock_guard lock(mu_);
      const Item* item = state_.find_item(id);
      if (!item) co_return;
      const Account* account = state_.find_account(item->account_id);
      if (!account) co_return;
      account_id = account->id;
      token.assign(account->token.span().begin(), account->token.span().end());
    }
    if (!co_await persist_before_send(id)) {
      secure_wipe(token.data(), token.size());
      co_return;
    }
    auto answer = co_await blindbank_.withdraw_full(std::move(token));
    {
      std::lock_guard lock(mu_);
      Item* item = state_.find_item(id);
      if (!item) co_return;
      Account* account = state_.find_account(account_id);
      const int64_t booked = account ? account->balance : 0;
      if (!answer) {
        const Error& e = answer.error();
        if (transient(e)) {
          retry_later_locked(*item, e);
        } else if (insufficient_balance(e)) {
          // The account is empty (a retry after its record expired, or a stale view): nothing to move.
          if (booked > 0) {
            spdlog::warn("wallet: an account expected to hold {} is empty", booked);
            state_.counters.lost += booked;
          }
          remove_item_locked(id);
          remove_account_locked(account_id);
        } else {
          spdlog::warn("wallet: full withdrawal refused: {}", e.to_string());
          last_error_ = e;
          retry_later_locked(*item, e);
        }
      } else {
        state_.counters.rounding += answer->value.amount() - booked;
        item->stage = Stage::kExchange;
        item->credit = std::move(*answer);
        item->account_id = 0;
        item->not_before_ms = now_ms() + random_delay(config_.max_delay).count();
        progressed_locked(id);
        remove_account_locked(account_id);
      }
      changed_locked();
    }
    co_await record();
  }

  // kReturn: the credit back to the AuthBank account of the API key.
  net::Task<void> return_to_source(uint64_t id) {
    currency::Credit credit;
    {
      std::lock_guard lock(mu_);
      const Item* item = state_.find_item(id);
      if (!item) co_return;
      credit = *item->credit;
    }
    if (!co_await persist_before_send(id)) co_return;
    auto answer = co_await authbank_.refund(std::move(credit));
    {
      std::lock_guard lock(mu_);
      Item* item = state_.find_item(id);
      if (!item) co_return;
      const int64_t value = item->credit->value.amount();
      if (!answer) {
        const Error& e = answer.error();
        if (transient(e) || e.code == ErrorCode::kConflict || e.code == ErrorCode::kUnauthenticated) {
          retry_later_locked(*item, e);  // a revoked key may be replaced by the next start's config
        } else {
          lose_locked(id, value, e);
        }
      } else {
        state_.counters.returned_to_source += value;
        progressed_locked(id);
        remove_item_locked(id);
      }
      changed_locked();
    }
    co_await record();
  }

  net::Runtime& runtime_;
  const WalletConfig config_;
  PlanSettings settings_;
  authbank::AuthBankClient authbank_;
  blindbank::BlindBankClient blindbank_;
  const crypto::RsaPublicKey key_;
  const currency::CreditVerifier verifier_;
  std::optional<StateFile> file_;  // reset by shutdown() (guarded by file_mu_)
  net::BlockingPool io_;  // state-file writes (fsync) off the network threads
  // The background loop waits on wake_driver_ ("there may be work"); payers, close() and wait_idle() wait on
  // changed_ ("the state moved on"). Two signals, so that a waiter announcing demand does not wake itself.
  AsyncSignal wake_driver_;
  AsyncSignal changed_;

  mutable std::mutex mu_;
  WalletState state_;
  uint64_t generation_ = 0;  // bumped by every change of state_
  std::set<uint64_t> busy_items_;
  std::set<uint64_t> busy_accounts_;
  std::map<uint64_t, int> failures_;  // consecutive transient failures per item
  std::set<uint64_t> uncertain_;      // items whose request may have reached the bank without an answer
  unsigned running_ = 0;              // steps in flight
  int tasks_ = 0;                     // coroutines alive (the loop and the steps)
  std::condition_variable tasks_done_;
  bool closing_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  bool idle_ = false;
  std::optional<Error> fill_error_;  // the AuthBank refused the last fill
  int64_t fill_blocked_until_ms_ = 0;
  std::optional<Error> last_error_;
  RecoveryReport report_;

  std::mutex file_mu_;  // serializes writes; taken without mu_
  std::atomic<uint64_t> written_{0};

  friend class openpcc::wallet::Payment;
};

}  // namespace detail

// ---- Payment ----

Payment::Payment(std::shared_ptr<detail::WalletCore> core, uint64_t item_id, currency::Credit credit, int64_t amount)
    : core_(std::move(core)), item_id_(item_id), credit_(std::move(credit)), amount_(amount) {}

Payment::Payment(Payment&& other) noexcept
    : core_(std::move(other.core_)),
      item_id_(std::exchange(other.item_id_, 0)),
      credit_(std::move(other.credit_)),
      amount_(other.amount_) {}

Payment& Payment::operator=(Payment&& other) noexcept {
  if (this != &other) {
    if (core_ && item_id_ != 0) core_->abandon_payment(item_id_);
    core_ = std::move(other.core_);
    item_id_ = std::exchange(other.item_id_, 0);
    credit_ = std::move(other.credit_);
    amount_ = other.amount_;
  }
  return *this;
}

Payment::~Payment() {
  if (core_ && item_id_ != 0) core_->abandon_payment(item_id_);
}

net::Task<Status> Payment::success(std::optional<currency::Credit> refund) {
  if (!core_ || item_id_ == 0) co_return make_error(ErrorCode::kInvalidArgument, "payment already completed");
  const uint64_t id = std::exchange(item_id_, 0);
  auto core = core_;
  co_return co_await core->complete_payment(id, true, std::move(refund));
}

net::Task<Status> Payment::cancel() {
  if (!core_ || item_id_ == 0) co_return make_error(ErrorCode::kInvalidArgument, "payment already completed");
  const uint64_t id = std::exchange(item_id_, 0);
  auto core = core_;
  co_return co_await core->complete_payment(id, false, std::nullopt);
}

// ---- Wallet ----

Result<std::unique_ptr<Wallet>> Wallet::open(net::Runtime& runtime, WalletConfig config, WalletBanks banks) {
  if (auto st = validate(config); !st) return std::unexpected(st.error());
  auto verifier = currency::CreditVerifier::create(banks.currency_key);
  if (!verifier) return std::unexpected(wrap_error("wallet currency key", verifier.error()));
  auto file = StateFile::open(config.state_file);
  if (!file) return std::unexpected(file.error());
  auto loaded = file->load();
  if (!loaded) return std::unexpected(loaded.error());
  const bool found = loaded->has_value();
  WalletState state;
  if (found) {
    state = std::move(**loaded);
    if (state.currency_key.n != banks.currency_key.n || state.currency_key.e != banks.currency_key.e) {
      if (!state.empty()) {
        return make_error(ErrorCode::kConflict,
                          "wallet state " + config.state_file.string() +
                              " holds credits and accounts of another currency key; open it with that key's banks");
      }
      state.currency_key = banks.currency_key;  // nothing of value under the old key: adopt the new one
    }
  } else {
    state.currency_key = banks.currency_key;
  }
  auto core = std::make_shared<detail::WalletCore>(runtime, std::move(config), std::move(banks),
                                                   std::move(*verifier), std::move(*file), std::move(state));
  if (auto st = core->recover(found); !st) return std::unexpected(st.error());
  core->start();
  return std::unique_ptr<Wallet>(new Wallet(std::move(core)));
}

Wallet::~Wallet() {
  if (core_) core_->shutdown();
}

// The coroutines hold the core, so a wallet destroyed while one of them waits does not pull it away.
net::Task<Result<Payment>> Wallet::begin_payment(int64_t amount) {
  auto core = core_;
  co_return co_await core->begin_payment(amount);
}
net::Task<Status> Wallet::close() {
  auto core = core_;
  co_return co_await core->close();
}
net::Task<Status> Wallet::wait_idle(milliseconds timeout) {
  auto core = core_;
  co_return co_await core->wait_idle(timeout);
}
WalletStatus Wallet::status() const { return core_->status(); }
const RecoveryReport& Wallet::recovery() const { return core_->recovery(); }
std::optional<currency::Badge> Wallet::badge() const { return core_->badge(); }

}  // namespace openpcc::wallet
