// The AuthBank's books: accounts, their API keys, balances and a journal of every balance change, over
// store::Database (SQLite or PostgreSQL; tables prefixed `authbank_`, schema component "authbank").
//
//   auto ledger = Ledger::open(db);                                     // migrates
//   auto account = (*ledger)->create_account("acme", "alice", {"llama3:8b"}, now);
//   auto key = (*ledger)->issue_key(account->id, now + 90 * 86400, now);  // key->key.text(): show once
//   (*ledger)->add_funds(account->id, 1'000'000, now);
//
// Every balance change writes one journal row (operation, account, delta, balance after, related credit amount) in
// the same transaction as the change, so Σ journal deltas = balance for every account at every commit (audit()).
//
// Idempotent retries (a client that lost the answer sends the identical request again):
//   withdraw: the SHA-256 of each answered blinded message is recorded with the account, the value and the blind
//             signature in the transaction that debits. The same message again for the same account and value gets
//             the recorded signature and no second debit; with another account or value it is refused
//             (kInvalidArgument). Records are kept kWithdrawalRecordSeconds.
//   refund:   recorded by the credit's nonce with the account. The same credit again into the same account is a
//             success without a second credit; into another account it is kAlreadyUsed (410).
//
// Errors: kUnauthenticated (unknown, revoked or expired key), kNotFound (no such account or key id),
// kInsufficientBalance, kInvalidArgument (bad input), kLimitExceeded (a balance would leave [0, kMaxBalance]),
// kUnavailable (storage busy or down: retry), kInternal (storage failure). Storage messages never contain keys.
//
// All calls block on the database: from a service, call them on a worker pool (net::BlockingPool).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "currency/credit.h"
#include "currency/value.h"
#include "services/authbank/api_key.h"
#include "store/database.h"

namespace openpcc::authbank {

// A balance may never exceed this (2^62): sums of balances and amounts stay far from int64 overflow.
inline constexpr int64_t kMaxBalance = int64_t{1} << 62;
// Organization ids and user labels: 1..kMaxNameSize printable ASCII characters.
inline constexpr size_t kMaxNameSize = 256;
// How long withdrawal records answer retries: past the lifetime of any credit signed from them (nonce.h: 26 h plus
// skew), a retry cannot produce a spendable credit anyway.
inline constexpr int64_t kWithdrawalRecordSeconds = 48 * 3600;

struct Account {
  int64_t id = 0;
  std::string organization;
  std::string label;
  std::vector<std::string> models;  // ascending; what the account's badges allow
  int64_t balance = 0;
  int64_t created_at = 0;  // unix seconds
};

struct ApiKeyRecord {
  std::string key_id;  // ApiKey::id()
  int64_t account_id = 0;
  int64_t created_at = 0;
  std::optional<int64_t> expires_at;  // the key works while now < expires_at; none = no expiry
  std::optional<int64_t> revoked_at;
  std::optional<int64_t> last_used;
};

struct IssuedApiKey {
  ApiKeyRecord record;
  ApiKey key;  // the secret: shown once, stored nowhere
};

enum class JournalOp { kAddFunds, kWithdrawal, kRefund };
std::string_view journal_op_name(JournalOp op);

struct JournalEntry {
  int64_t id = 0;
  int64_t account_id = 0;
  JournalOp op = JournalOp::kAddFunds;
  int64_t delta = 0;          // signed change of the balance
  int64_t balance_after = 0;
  int64_t amount = 0;         // the credit amount involved (the funds added for kAddFunds)
  int64_t created_at = 0;
};

struct Withdrawal {
  Account account;  // as after the withdrawal
  Bytes blind_signature;
  bool replayed = false;  // answered from the record of an earlier identical request; nothing was debited now
};

struct Refund {
  Account account;  // as after the refund
  bool replayed = false;
};

// Produces the blind signature inside the withdrawal's transaction (pure CPU): a failure rolls the debit back.
using BlindSignFn = std::function<Result<Bytes>()>;
// Spends the credit's nonce inside the refund's transaction (currency::spend_nonce_in): kAlreadyUsed, kConflict,
// kInvalidArgument (expired) or a storage error abort the refund.
using SpendNonceFn = std::function<Status(store::Transaction&)>;

class Ledger {
 public:
  // Creates or upgrades the tables (idempotent) and returns the ledger.
  static Result<std::unique_ptr<Ledger>> open(std::shared_ptr<store::Database> db);

  store::Database& database() { return *db_; }

  // ---- Administration ----
  // kInvalidArgument for names outside the rules above or invalid model names (badge.h).
  Result<Account> create_account(std::string_view organization, std::string_view label,
                                 std::vector<std::string> models, int64_t now);
  Result<Account> account(int64_t account_id);
  Result<std::vector<Account>> list_accounts();
  // A new key for the account; expires_at none = never (kInvalidArgument if not after now).
  Result<IssuedApiKey> issue_key(int64_t account_id, std::optional<int64_t> expires_at, int64_t now);
  Result<std::vector<ApiKeyRecord>> list_keys(int64_t account_id);
  // kNotFound for an unknown id; revoking a revoked key keeps the first revocation time and succeeds.
  Status revoke_key(std::string_view key_id, int64_t now);
  // amount 1..kMaxBalance; kLimitExceeded if the balance would exceed kMaxBalance.
  Result<Account> add_funds(int64_t account_id, int64_t amount, int64_t now);
  Result<std::vector<JournalEntry>> journal(int64_t account_id);
  // The ids of accounts whose balance differs from the sum of their journal deltas (empty when consistent).
  Result<std::vector<int64_t>> audit();

  // ---- Service operations (each one transaction) ----
  // The key's account; records the key's last use.
  Result<Account> authenticate(const ApiKey& key, int64_t now);
  // Debits value.amount() and returns sign()'s blind signature, or replays a recorded answer (see above).
  // `value` must be spendable (non-special, > 0); kInsufficientBalance leaves everything unchanged.
  // `account_id`, if given, receives the key's account as soon as it is known (also when the call then fails).
  Result<Withdrawal> withdraw(const ApiKey& key, const currency::Value& value, ByteSpan blinded_message, int64_t now,
                              const BlindSignFn& sign, std::optional<int64_t>* account_id = nullptr);
  // Credits credit.value.amount() after spend() succeeded. The credit must have been verified by the caller.
  Result<Refund> refund(const ApiKey& key, const currency::Credit& credit, int64_t now, const SpendNonceFn& spend,
                        std::optional<int64_t>* account_id = nullptr);

  // Forgets withdrawal records older than kWithdrawalRecordSeconds and refund records whose credit has expired;
  // returns how many rows went.
  Result<int64_t> collect_garbage(int64_t now);

 private:
  explicit Ledger(std::shared_ptr<store::Database> db) : db_(std::move(db)) {}
  std::shared_ptr<store::Database> db_;
};

}  // namespace openpcc::authbank
