#include "services/blindbank/blindbank.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "common/secure.h"
#include "crypto/sha256.h"
#include "currency/sql_nonce_store.h"
#include "store/migrate.h"

namespace openpcc::blindbank {
namespace {

using currency::Credit;
using currency::Nonce;
using currency::Value;
using store::SqlValue;
using store::Transaction;

constexpr std::string_view kOpDeposit = "deposit";
constexpr std::string_view kOpWithdraw = "withdraw";
constexpr std::string_view kOpWithdrawFull = "withdraw_full";
constexpr std::string_view kOpRounding = "rounding";
constexpr std::string_view kOpExchange = "exchange";

// Who a recorded blind signature was issued to: an account (batch withdrawal) or a spent credit (exchange).
constexpr std::string_view kSignedForWithdraw = "withdraw";
constexpr std::string_view kSignedForExchange = "exchange";

// Account rows exist only while their balance is positive: an empty account and an unknown one look the same, in the
// answers and in the tables. The journal keeps the history by account hash.
const store::MigrationStep kSteps[] = {
    {.sqlite = {"CREATE TABLE blindbank_accounts ("
                "account_hash BLOB PRIMARY KEY, "
                "balance INTEGER NOT NULL CHECK (balance > 0)) WITHOUT ROWID",
                "CREATE TABLE blindbank_journal ("
                "id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "op TEXT NOT NULL, "
                "account_hash BLOB, "
                "delta INTEGER NOT NULL, "
                "credit_amount INTEGER NOT NULL CHECK (credit_amount >= 0), "
                "created_hour INTEGER NOT NULL)",
                "CREATE TABLE blindbank_deposits ("
                "nonce BLOB PRIMARY KEY, "
                "account_hash BLOB NOT NULL, "
                "expires_at INTEGER NOT NULL) WITHOUT ROWID",
                "CREATE INDEX blindbank_deposits_by_expiry ON blindbank_deposits (expires_at)",
                "CREATE TABLE blindbank_signatures ("
                "message_hash BLOB PRIMARY KEY, "
                "kind TEXT NOT NULL, "
                "owner BLOB NOT NULL, "
                "value_bits INTEGER NOT NULL, "
                "signature BLOB NOT NULL, "
                "expires_at INTEGER NOT NULL) WITHOUT ROWID",
                "CREATE INDEX blindbank_signatures_by_expiry ON blindbank_signatures (expires_at)",
                "CREATE TABLE blindbank_full_withdrawals ("
                "account_hash BLOB PRIMARY KEY, "
                "credit BLOB NOT NULL, "
                "expires_at INTEGER NOT NULL) WITHOUT ROWID",
                "CREATE INDEX blindbank_full_withdrawals_by_expiry ON blindbank_full_withdrawals (expires_at)"},
     .postgres = {"CREATE TABLE blindbank_accounts ("
                  "account_hash BYTEA PRIMARY KEY, "
                  "balance BIGINT NOT NULL CHECK (balance > 0))",
                  "CREATE TABLE blindbank_journal ("
                  "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                  "op TEXT NOT NULL, "
                  "account_hash BYTEA, "
                  "delta BIGINT NOT NULL, "
                  "credit_amount BIGINT NOT NULL CHECK (credit_amount >= 0), "
                  "created_hour BIGINT NOT NULL)",
                  "CREATE TABLE blindbank_deposits ("
                  "nonce BYTEA PRIMARY KEY, "
                  "account_hash BYTEA NOT NULL, "
                  "expires_at BIGINT NOT NULL)",
                  "CREATE INDEX blindbank_deposits_by_expiry ON blindbank_deposits (expires_at)",
                  "CREATE TABLE blindbank_signatures ("
                  "message_hash BYTEA PRIMARY KEY, "
                  "kind TEXT NOT NULL, "
                  "owner BYTEA NOT NULL, "
                  "value_bits BIGINT NOT NULL, "
                  "signature BYTEA NOT NULL, "
                  "expires_at BIGINT NOT NULL)",
                  "CREATE INDEX blindbank_signatures_by_expiry ON blindbank_signatures (expires_at)",
                  "CREATE TABLE blindbank_full_withdrawals ("
                  "account_hash BYTEA PRIMARY KEY, "
                  "credit BYTEA NOT NULL, "
                  "expires_at BIGINT NOT NULL)",
                  "CREATE INDEX blindbank_full_withdrawals_by_expiry ON blindbank_full_withdrawals (expires_at)"}},
};

Bytes sha256_bytes(ByteSpan data) {
  const crypto::Sha256Digest d = crypto::sha256(data);
  return Bytes(d.begin(), d.end());
}

// The instant after which a credit with this nonce is expired for every `now` (Nonce::is_expired_at): its hour plus
// one hour plus the clock skew allowance. No retry of an operation on the credit can succeed after it.
int64_t credit_expiry(const Nonce& nonce) {
  int64_t t = 0;
  if (__builtin_add_overflow(nonce.timestamp,
                             currency::kNonceQuantizationSeconds + currency::kNonceMaxClockSkewSeconds, &t)) {
    return std::numeric_limits<int64_t>::max();
  }
  return t;
}

template <class T>
std::unexpected<Error> fail(Result<T>& r) {
  return std::unexpected(std::move(r.error()));
}

std::unexpected<Error> reused_message() {
  return make_error(ErrorCode::kInvalidArgument, "blinded message was already used");
}

// The balance of an account inside a transaction; 0 when there is no row.
Result<int64_t> read_balance(Transaction& tx, const SqlValue& account) {
  auto row = tx.query_row("SELECT balance FROM blindbank_accounts WHERE account_hash = $1", {account});
  if (!row) return fail(row);
  if (!*row) return int64_t{0};
  return (*row)->integer(0);
}

Status write_balance(Transaction& tx, const SqlValue& account, int64_t before, int64_t after) {
  Result<int64_t> changed = 0;
  if (after == before) return {};
  if (before == 0) {
    changed = tx.execute("INSERT INTO blindbank_accounts (account_hash, balance) VALUES ($1, $2)", {account, after});
  } else if (after == 0) {
    changed = tx.execute("DELETE FROM blindbank_accounts WHERE account_hash = $1", {account});
  } else {
    changed = tx.execute("UPDATE blindbank_accounts SET balance = $2 WHERE account_hash = $1", {account, after});
  }
  if (!changed) return fail(changed);
  if (*changed != 1) return make_error(ErrorCode::kInternal, "blindbank: account row changed under us");
  return {};
}

Status journal(Transaction& tx, std::string_view op, const SqlValue& account, int64_t delta, int64_t credit_amount,
               int64_t now_unix) {
  // The hour is enough for audits and does not time-stamp individual client actions.
  auto r = tx.execute(
      "INSERT INTO blindbank_journal (op, account_hash, delta, credit_amount, created_hour) VALUES ($1, $2, $3, $4, "
      "$5)",
      {std::string(op), account, delta, credit_amount, currency::quantize_to_hour(now_unix)});
  if (!r) return fail(r);
  return {};
}

struct SignatureRecord {
  std::string kind;
  Bytes owner;
  int64_t value_bits = 0;
  Bytes signature;

  bool matches(std::string_view want_kind, ByteSpan want_owner, const Value& value) const {
    return kind == want_kind && ct_equal(owner, want_owner) && value_bits == value.bits();
  }
};

Result<std::optional<SignatureRecord>> find_signature(Transaction& tx, const Bytes& message_hash) {
  auto row = tx.query_row(
      "SELECT kind, owner, value_bits, signature FROM blindbank_signatures WHERE message_hash = $1",
      {SqlValue(message_hash)});
  if (!row) return fail(row);
  if (!*row) return std::optional<SignatureRecord>();
  auto kind = (*row)->text(0);
  auto owner = (*row)->blob(1);
  auto bits = (*row)->integer(2);
  auto signature = (*row)->blob(3);
  if (!kind || !owner || !bits || !signature) return make_error(ErrorCode::kInternal, "blindbank: malformed row");
  return std::optional<SignatureRecord>(SignatureRecord{std::move(*kind), std::move(*owner), *bits,
                                                        std::move(*signature)});
}

Status record_signature(Transaction& tx, const Bytes& message_hash, std::string_view kind, ByteSpan owner,
                        const Value& value, ByteSpan signature, int64_t expires_at) {
  auto r = tx.execute(
      "INSERT INTO blindbank_signatures (message_hash, kind, owner, value_bits, signature, expires_at) "
      "VALUES ($1, $2, $3, $4, $5, $6)",
      {SqlValue(message_hash), std::string(kind), store::sql_blob(owner), int64_t{value.bits()},
       store::sql_blob(signature), expires_at});
  if (!r) return fail(r);
  return {};
}

// Spends the credit's nonce in the caller's transaction: the answers of the nonce store's lock() (kConflict while
// another spender holds it, kAlreadyUsed once consumed, kInvalidArgument when expired).
// Spends the credit's nonce in the caller's transaction (the database's shared nonce table): the answers of the
// nonce store's lock() — kConflict while another spender holds it, kAlreadyUsed once consumed, kInvalidArgument when
// expired.
Status spend_nonce(Transaction& tx, const Nonce& nonce, int64_t now_unix) {
  return currency::spend_nonce_in(tx, nonce, now_unix);
}

}  // namespace

Status check_account_token(ByteSpan account_token) {
  if (account_token.size() != kAccountTokenSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "account token must be " + std::to_string(kAccountTokenSize) + " bytes");
  }
  return {};
}

Result<std::unique_ptr<BlindBank>> BlindBank::open(std::shared_ptr<store::Database> db, currency::Issuer issuer) {
  if (!db) return make_error(ErrorCode::kInvalidArgument, "blindbank: no database");
  if (Status s = currency::migrate_sql_nonce_store(*db); !s) return std::unexpected(s.error());
  if (Status s = store::migrate(*db, "blindbank", kSteps); !s) return std::unexpected(s.error());
  auto verifier = currency::CreditVerifier::create(issuer.public_key());
  if (!verifier) return std::unexpected(verifier.error());
  return std::unique_ptr<BlindBank>(new BlindBank(std::move(db), std::move(issuer), std::move(*verifier)));
}

Status BlindBank::check_credit(const Credit& credit, int64_t now_unix) const {
  if (!credit.value.is_special() && credit.value.amount() <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "credit value must be greater than zero");
  }
  // Special flag and expiry first (kInvalidArgument), then the signature.
  return verifier_.verify(credit, now_unix, currency::CreditKind::kSpendable);
}

Result<int64_t> BlindBank::deposit(ByteSpan account_token, const Credit& credit, int64_t now_unix) {
  if (Status s = check_account_token(account_token); !s) return std::unexpected(s.error());
  if (Status s = check_credit(credit, now_unix); !s) return std::unexpected(s.error());
  const Bytes account_hash = sha256_bytes(account_token);
  const SqlValue account(account_hash);
  const SqlValue nonce_key(credit.nonce.message());
  const int64_t amount = credit.value.amount();
  return db_->transact([&](Transaction& tx) -> Result<int64_t> {
    auto prior = tx.query_row("SELECT account_hash FROM blindbank_deposits WHERE nonce = $1", {nonce_key});
    if (!prior) return fail(prior);
    if (*prior) {
      auto owner = (*prior)->blob(0);
      if (!owner) return fail(owner);
      // The same deposit again (an answer got lost): it already counted; report where the account stands now.
      if (ct_equal(*owner, account_hash)) return read_balance(tx, account);
      return make_error(ErrorCode::kAlreadyUsed, "credit already spent");
    }
    if (Status s = spend_nonce(tx, credit.nonce, now_unix); !s) return std::unexpected(s.error());
    auto before = read_balance(tx, account);
    if (!before) return before;
    if (amount > kMaxBalance - *before) {
      return make_error(ErrorCode::kInvalidArgument, "deposit would take the balance above the limit of " +
                                                         std::to_string(kMaxBalance));
    }
    const int64_t after = *before + amount;
    if (Status s = write_balance(tx, account, *before, after); !s) return std::unexpected(s.error());
    if (Status s = journal(tx, kOpDeposit, account, amount, amount, now_unix); !s) return std::unexpected(s.error());
    auto recorded = tx.execute("INSERT INTO blindbank_deposits (nonce, account_hash, expires_at) VALUES ($1, $2, $3)",
                               {nonce_key, account, credit_expiry(credit.nonce)});
    if (!recorded) return fail(recorded);
    return after;
  });
}

Result<WithdrawResult> BlindBank::withdraw_batch(ByteSpan account_token, std::span<const BlindSignRequest> requests,
                                                 int64_t now_unix) {
  if (Status s = check_account_token(account_token); !s) return std::unexpected(s.error());
  if (requests.empty() || requests.size() > kMaxBatchSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a withdrawal batch holds 1 to " + std::to_string(kMaxBatchSize) + " requests");
  }
  const size_t modulus_size = issuer_.public_key().modulus_size();
  int64_t total = 0;
  std::vector<Bytes> hashes;
  std::set<Bytes> distinct;
  for (const BlindSignRequest& r : requests) {
    if (r.value.is_special()) return make_error(ErrorCode::kInvalidArgument, "withdrawal value must not be special");
    if (r.value.amount() <= 0) {
      return make_error(ErrorCode::kInvalidArgument, "withdrawal value must be greater than zero");
    }
    if (r.blinded_message.size() != modulus_size) {
      return make_error(ErrorCode::kInvalidArgument,
                        "blinded message must be " + std::to_string(modulus_size) + " bytes");
    }
    total += r.value.amount();  // at most 15 × kMaxAmount: no overflow
    hashes.push_back(sha256_bytes(r.blinded_message));
    if (!distinct.insert(hashes.back()).second) {
      return make_error(ErrorCode::kInvalidArgument, "duplicate blinded message in batch");
    }
  }
  const Bytes account_hash = sha256_bytes(account_token);
  const SqlValue account(account_hash);
  const int64_t record_expiry = now_unix + kWithdrawalRecordSeconds;

  return db_->transact([&](Transaction& tx) -> Result<WithdrawResult> {
    WithdrawResult out;
    size_t answered = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      auto record = find_signature(tx, hashes[i]);
      if (!record) return fail(record);
      if (!*record) continue;
      if (!(*record)->matches(kSignedForWithdraw, account_hash, requests[i].value)) return reused_message();
      out.blind_signatures.push_back(std::move((*record)->signature));
      ++answered;
    }
    if (answered == requests.size()) {
      // The identical batch was answered before (its answer got lost): the same signatures, no second debit.
      auto balance = read_balance(tx, account);
      if (!balance) return fail(balance);
      out.balance = *balance;
      return out;
    }
    if (answered > 0) {
      return make_error(ErrorCode::kInvalidArgument, "batch partly repeats an earlier withdrawal");
    }
    auto before = read_balance(tx, account);
    if (!before) return fail(before);
    if (*before < total) return make_error(ErrorCode::kInsufficientBalance, std::string(kInsufficientBalanceMessage));
    // Signed inside the transaction: nothing is recorded or debited unless every signature exists, and nothing is
    // answered before the commit.
    for (size_t i = 0; i < requests.size(); ++i) {
      auto sig = issuer_.blind_sign(requests[i].value, requests[i].blinded_message);
      if (!sig) return fail(sig);
      if (Status s = record_signature(tx, hashes[i], kSignedForWithdraw, account_hash, requests[i].value, *sig,
                                      record_expiry);
          !s) {
        return std::unexpected(s.error());
      }
      out.blind_signatures.push_back(std::move(*sig));
    }
    out.balance = *before - total;
    if (Status s = write_balance(tx, account, *before, out.balance); !s) return std::unexpected(s.error());
    if (Status s = journal(tx, kOpWithdraw, account, -total, total, now_unix); !s) return std::unexpected(s.error());
    return out;
  });
}

Result<Credit> BlindBank::withdraw_full(ByteSpan account_token, int64_t now_unix) {
  if (Status s = check_account_token(account_token); !s) return std::unexpected(s.error());
  const Bytes account_hash = sha256_bytes(account_token);
  const SqlValue account(account_hash);
  return db_->transact([&](Transaction& tx) -> Result<Credit> {
    auto before = read_balance(tx, account);
    if (!before) return fail(before);
    if (*before == 0) {
      // Either nothing was ever here, or a full withdrawal emptied the account and its answer got lost.
      auto row = tx.query_row(
          "SELECT credit FROM blindbank_full_withdrawals WHERE account_hash = $1 AND expires_at >= $2",
          {account, now_unix});
      if (!row) return fail(row);
      if (!*row) return make_error(ErrorCode::kInsufficientBalance, std::string(kInsufficientBalanceMessage));
      auto stored = (*row)->blob(0);
      if (!stored) return fail(stored);
      auto credit = Credit::parse(*stored);
      if (!credit) return make_error(ErrorCode::kInternal, "blindbank: stored full withdrawal does not parse");
      return credit;
    }
    if (*before > currency::kMaxAmount) {
      return make_error(ErrorCode::kInvalidArgument,
                        "balance is above the largest single credit (" + std::to_string(currency::kMaxAmount) +
                            "); withdraw part of it in batches first");
    }
    // Fresh randomness on every run of this function: a retried transaction rounds anew, and only the committed
    // run's rounding is journalled.
    auto rounded = Value::rounded(static_cast<double>(*before));
    if (!rounded) return fail(rounded);
    auto credit = issuer_.issue_unblinded(*rounded, now_unix);
    if (!credit) return fail(credit);
    const int64_t issued = rounded->amount();
    if (Status s = write_balance(tx, account, *before, 0); !s) return std::unexpected(s.error());
    if (issued != *before) {
      if (Status s = journal(tx, kOpRounding, account, issued - *before, 0, now_unix); !s) {
        return std::unexpected(s.error());
      }
    }
    if (Status s = journal(tx, kOpWithdrawFull, account, -issued, issued, now_unix); !s) {
      return std::unexpected(s.error());
    }
    auto recorded = tx.execute(
        "INSERT INTO blindbank_full_withdrawals (account_hash, credit, expires_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (account_hash) DO UPDATE SET credit = excluded.credit, expires_at = excluded.expires_at",
        {account, SqlValue(credit->serialize()),
         std::min(now_unix + kFullWithdrawalRecordSeconds, credit_expiry(credit->nonce))});
    if (!recorded) return fail(recorded);
    return credit;
  });
}

Result<Bytes> BlindBank::exchange(const Credit& credit, ByteSpan blinded_message, int64_t now_unix) {
  if (blinded_message.size() != issuer_.public_key().modulus_size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "blinded message must be " + std::to_string(issuer_.public_key().modulus_size()) + " bytes");
  }
  if (Status s = check_credit(credit, now_unix); !s) return std::unexpected(s.error());
  const Bytes message_hash = sha256_bytes(blinded_message);
  const Bytes nonce_message = credit.nonce.message();
  return db_->transact([&](Transaction& tx) -> Result<Bytes> {
    auto record = find_signature(tx, message_hash);
    if (!record) return fail(record);
    if (*record) {
      // The identical exchange again: the credit is spent already, and its signature was recorded with it.
      if ((*record)->matches(kSignedForExchange, nonce_message, credit.value)) return std::move((*record)->signature);
      return reused_message();
    }
    if (Status s = spend_nonce(tx, credit.nonce, now_unix); !s) return std::unexpected(s.error());
    auto sig = issuer_.blind_sign(credit.value, blinded_message);
    if (!sig) return fail(sig);
    if (Status s = record_signature(tx, message_hash, kSignedForExchange, nonce_message, credit.value, *sig,
                                    credit_expiry(credit.nonce));
        !s) {
      return std::unexpected(s.error());
    }
    const int64_t amount = credit.value.amount();
    if (Status s = journal(tx, kOpExchange, SqlValue(store::kSqlNull), 0, amount, now_unix); !s) {
      return std::unexpected(s.error());
    }
    return std::move(*sig);
  });
}

Result<int64_t> BlindBank::balance(ByteSpan account_token) {
  if (Status s = check_account_token(account_token); !s) return std::unexpected(s.error());
  const SqlValue account(sha256_bytes(account_token));
  return db_->read([&](Transaction& tx) { return read_balance(tx, account); });
}

Result<int64_t> BlindBank::collect_garbage(int64_t now_unix) {
  return db_->transact([&](Transaction& tx) -> Result<int64_t> {
    int64_t removed = 0;
    for (std::string_view table : {"blindbank_deposits", "blindbank_signatures", "blindbank_full_withdrawals"}) {
      auto n = tx.execute("DELETE FROM " + std::string(table) + " WHERE expires_at < $1", {now_unix});
      if (!n) return fail(n);
      removed += *n;
    }
    return removed;
  });
}

Result<LedgerAudit> BlindBank::audit() {
  return db_->read([&](Transaction& tx) -> Result<LedgerAudit> {
    LedgerAudit a;
    auto accounts = tx.query_row(
        "SELECT COUNT(*), CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM blindbank_accounts");
    if (!accounts) return fail(accounts);
    if (!*accounts) return make_error(ErrorCode::kInternal, "blindbank: no aggregate row");
    auto count = (*accounts)->integer(0);
    auto sum = (*accounts)->integer(1);
    if (!count || !sum) return make_error(ErrorCode::kInternal, "blindbank: malformed aggregate row");
    a.accounts = *count;
    a.balances = *sum;
    auto rows = tx.query(
        "SELECT op, CAST(COALESCE(SUM(delta), 0) AS BIGINT), CAST(COALESCE(SUM(credit_amount), 0) AS BIGINT), "
        "COUNT(*) FROM blindbank_journal GROUP BY op");
    if (!rows) return fail(rows);
    for (const store::Row& row : *rows) {
      auto op = row.text(0);
      auto delta = row.integer(1);
      auto amount = row.integer(2);
      auto n = row.integer(3);
      if (!op || !delta || !amount || !n) return make_error(ErrorCode::kInternal, "blindbank: malformed journal sum");
      a.journal_delta += *delta;
      a.journal_rows += *n;
      if (*op == kOpDeposit) {
        a.deposits_in += *amount;
      } else if (*op == kOpWithdraw) {
        a.withdrawals_out += *amount;
      } else if (*op == kOpWithdrawFull) {
        a.full_withdrawals_out += *amount;
      } else if (*op == kOpRounding) {
        a.rounding += *delta;
      } else if (*op == kOpExchange) {
        a.exchanged += *amount;
      } else {
        return make_error(ErrorCode::kInternal, "blindbank: unknown journal operation " + *op);
      }
    }
    return a;
  });
}

}  // namespace openpcc::blindbank
