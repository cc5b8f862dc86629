// The BlindBank's books and rules: anonymous accounts named by bearer tokens, holding balances that come in as
// deposited credits and leave as blind-signed or unblinded credits; and the exchange of one credit for a new blind
// signature of the same value. Over store::Database (SQLite or PostgreSQL; tables prefixed `blindbank_`, schema
// component "blindbank"), sharing the database's nonce table (currency/sql_nonce_store.h) with every other service
// that accepts credits, so no credit can be spent twice across them.
//
//   auto bank = BlindBank::open(db, std::move(issuer));            // migrates the bank's and the nonce tables
//   auto balance = (*bank)->deposit(token, credit, now);            // → 1024
//   auto batch = (*bank)->withdraw_batch(token, requests, now);     // → balance + blind signatures, in order
//
// Semantics (the reference's blind-bank contract):
//   * Account tokens are exactly kAccountTokenSize (32) bytes, chosen at random by the client; only SHA-256(token)
//     is stored. An account comes into being with its first deposit and is forgotten when its balance reaches zero,
//     so an unknown account and an empty one answer identically (balance 0; withdrawals: kInsufficientBalance).
//   * deposit: a spendable (non-special), non-zero, unexpired credit whose signature verifies; its nonce is spent in
//     the same transaction that credits the account. Balances are capped at kMaxBalance.
//   * withdraw_batch: 1..kMaxBatchSize requests, each a non-special value > 0 and a blinded message, no two with the
//     same blinded message; all are signed or none; the account is debited by the sum.
//   * withdraw_full: the whole balance (at most currency::kMaxAmount), stochastically rounded to a representable
//     value with fresh randomness and issued as an unblinded credit; the difference is journalled as rounding.
//   * exchange: a credit (blinded or unblinded) for a blind signature of the same value; the credit is spent.
//   * balance: 0 for unknown accounts.
//
// Idempotent retries (a client that lost an answer — the bank was killed, the network cut — sends the identical
// request again and gets the same answer, with no money moved twice):
//   * withdraw_batch / exchange: the SHA-256 of every answered blinded message is recorded with its owner (the account
//     hash, or the exchanged credit's nonce), the value and the signature, in the transaction that debits or spends.
//     A batch whose messages were all answered before for the same account and values gets the recorded signatures
//     and the current balance; an exchange of the same credit and message gets its recorded signature. A blinded
//     message answered before for anything else, or a batch that only partly overlaps an earlier one, is refused.
//   * deposit: recorded by the credit's nonce. The same credit again into the same account answers the current
//     balance; into another account it is kAlreadyUsed.
//   * withdraw_full: the issued credit is recorded with the account. While the account stays empty, withdraw_full
//     again returns that credit (for kFullWithdrawalRecordSeconds).
//   Records are deleted by collect_garbage() once no retry can need them (their credit has expired).
//
// Journal: every balance change is a row (op, account hash, delta, credit amount) written in the same transaction,
// so at every commit Σ delta = Σ balances, and deposits_in − withdrawals_out − full_withdrawals_out + rounding =
// Σ balances (audit()). Exchanges are journalled with delta 0.
//
// Errors (ErrorCode): kInvalidArgument (bad token length, batch size, value, blinded message, expired credit,
// blinded message reused, balance cap), kDecode (malformed credit), kAuthenticationFailed (credit signature does not
// verify), kInsufficientBalance, kConflict (the credit's nonce is locked by another spender right now), kAlreadyUsed
// (the credit was spent), kUnavailable (storage busy or down: retry the identical call), kInternal / kCrypto
// (storage or signing failure). Messages never contain tokens, credits, nonces or signatures.
//
// All methods block on the database: call them from a worker pool (net::BlockingPool), never from a network
// coroutine. A BlindBank is safe to share between threads, and several processes may run banks on one database.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "currency/credit.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "currency/value.h"
#include "store/database.h"

namespace openpcc::blindbank {

inline constexpr size_t kAccountTokenSize = 32;
inline constexpr size_t kMaxBatchSize = 15;
// The largest balance an account may hold: 1024 credits of the largest value. Deposits beyond it are refused, so
// balance arithmetic never comes near int64 overflow.
inline constexpr int64_t kMaxBalance = currency::kMaxAmount * 1024;
// How long withdraw_full keeps answering retries on an emptied account with the credit it issued.
inline constexpr int64_t kFullWithdrawalRecordSeconds = 24 * 3600;
// How long answered withdrawal messages are remembered: a credit's whole possible lifetime.
inline constexpr int64_t kWithdrawalRecordSeconds =
    currency::kNonceLifespanSeconds + currency::kNonceQuantizationSeconds + currency::kNonceMaxClockSkewSeconds;

// Texts of the errors a client may want to tell apart (the HTTP API sends all of them as 400).
inline constexpr std::string_view kInsufficientBalanceMessage = "insufficient balance";

struct BlindSignRequest {
  currency::Value value;
  Bytes blinded_message;  // the issuer's modulus size
};

struct WithdrawResult {
  int64_t balance = 0;
  std::vector<Bytes> blind_signatures;  // in request order
};

// Totals over the ledger, for the invariant checks and operators.
struct LedgerAudit {
  int64_t accounts = 0;            // accounts with a non-zero balance
  int64_t balances = 0;            // Σ balances
  int64_t journal_delta = 0;       // Σ journal deltas (must equal balances)
  int64_t deposits_in = 0;         // Σ deposited credit amounts
  int64_t withdrawals_out = 0;     // Σ blind-signed withdrawal amounts
  int64_t full_withdrawals_out = 0;  // Σ unblinded credits issued by withdraw_full
  int64_t rounding = 0;            // Σ (issued − balance) of withdraw_full
  int64_t exchanged = 0;           // Σ exchanged credit amounts (no balance effect)
  int64_t journal_rows = 0;

  // Σ delta = Σ balances, and the per-operation sums agree with it.
  bool consistent() const {
    return journal_delta == balances && deposits_in - withdrawals_out - full_withdrawals_out + rounding == balances;
  }
};

class BlindBank {
 public:
  // Migrates the bank's tables and the shared nonce table, then serves from `db`. `issuer` signs withdrawals and
  // exchanges; credits are verified under its public key.
  static Result<std::unique_ptr<BlindBank>> open(std::shared_ptr<store::Database> db, currency::Issuer issuer);

  // The new balance.
  Result<int64_t> deposit(ByteSpan account_token, const currency::Credit& credit, int64_t now_unix);
  Result<WithdrawResult> withdraw_batch(ByteSpan account_token, std::span<const BlindSignRequest> requests,
                                        int64_t now_unix);
  // An unblinded credit of the rounded balance; the account is empty afterwards.
  Result<currency::Credit> withdraw_full(ByteSpan account_token, int64_t now_unix);
  // The blind signature of `blinded_message` under the credit's value.
  Result<Bytes> exchange(const currency::Credit& credit, ByteSpan blinded_message, int64_t now_unix);
  Result<int64_t> balance(ByteSpan account_token);

  // Deletes retry records no retry can need any more; returns how many. The nonce table has its own collector.
  Result<int64_t> collect_garbage(int64_t now_unix);

  Result<LedgerAudit> audit();

  const crypto::RsaPublicKey& public_key() const { return issuer_.public_key(); }
  store::Database& database() { return *db_; }

 private:
  BlindBank(std::shared_ptr<store::Database> db, currency::Issuer issuer, currency::CreditVerifier verifier)
      : db_(std::move(db)), issuer_(std::move(issuer)), verifier_(std::move(verifier)) {}

  Status check_credit(const currency::Credit& credit, int64_t now_unix) const;

  std::shared_ptr<store::Database> db_;
  currency::Issuer issuer_;
  currency::CreditVerifier verifier_;
};

// Checks a token's length (kInvalidArgument otherwise).
Status check_account_token(ByteSpan account_token);

}  // namespace openpcc::blindbank
