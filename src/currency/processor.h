// Accepting credits (router, banks): verify → lock the nonce → do the work → commit, commit with a refund, or roll
// back. And exchanging one credit for a blind signature of the same value.
//
//   auto tx = processor.begin(credit, now);        // verified and locked; nobody else can spend it now
//   if (!tx) return status_for(tx.error().code);
//   ... do the paid-for work ...
//   tx->commit();                                  // or tx->commit_with_refund(v), or just return: rolls back
//
// Error codes, and the HTTP status a service should answer with (matching the reference's nonce locker and banks):
//   kDecode, kInvalidArgument      400  malformed credit, wrong kind (special/spendable), expired nonce, bad request
//   kAuthenticationFailed          400  signature does not verify (the reference treats it as an input error)
//   kConflict                      409  the credit is being spent by another request right now
//   kAlreadyUsed                   410  the credit was already spent
//   kUnavailable                   503  the nonce store is busy or down; retrying may succeed
//   kNotFound (commit/rollback)    500  our lock was lost (taken over after kNonceLockTimeoutSeconds)
//   kCrypto, kInternal, other      500
//
// The Processor keeps references to the verifier, the store and the issuer: they must outlive it and every
// transaction it hands out. All three are thread-safe, and so is the Processor.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/error.h"
#include "currency/credit.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "currency/nonce_store.h"

namespace openpcc::currency {

// One locked credit. Move-only; exactly one of commit / commit_with_refund / rollback takes effect, and a
// transaction destroyed while still open rolls back (errors there are dropped: an unreleased lock expires after
// kNonceLockTimeoutSeconds).
class CreditTransaction {
 public:
  const Credit& credit() const { return credit_; }
  // True until commit, commit_with_refund or rollback succeeded.
  bool is_open() const { return open_; }

  // Consumes the nonce: the credit is spent.
  Status commit();

  // Spends the credit and returns an unblinded credit of `refund` (non-special, 0 < refund ≤ the credit's amount;
  // for no refund call commit()). The refund's nonce is dated from the `now_unix` given to begin(). Order: the refund credit is signed first, then the nonce consumed, and the refund
  // is returned only if consuming succeeded. So:
  //   signing fails   → error, nothing consumed, the transaction stays open (commit or roll back);
  //   consume fails   → error, the signed refund is discarded unseen (it was never money: nobody holds it), the
  //                     transaction stays open if the lock may still be ours (kUnavailable), closed otherwise;
  //   both succeed    → the old credit is spent exactly once and exactly one refund exists.
  // The one remaining risk is outside this class: losing the response after success loses the refund for the client.
  Result<Credit> commit_with_refund(const Value& refund);

  // Releases the nonce: the credit can be spent again.
  Status rollback();

  CreditTransaction(CreditTransaction&& other) noexcept;
  CreditTransaction& operator=(CreditTransaction&& other) noexcept;
  CreditTransaction(const CreditTransaction&) = delete;
  CreditTransaction& operator=(const CreditTransaction&) = delete;
  ~CreditTransaction();

 private:
  friend class Processor;
  CreditTransaction(NonceStore* store, const Issuer* issuer, Credit credit, NonceTicket ticket, int64_t begun_at);
  Status finish_with(Status result);

  NonceStore* store_ = nullptr;
  const Issuer* issuer_ = nullptr;
  Credit credit_;
  NonceTicket ticket_;
  int64_t begun_at_ = 0;
  bool open_ = false;
};

class Processor {
 public:
  // `issuer` is needed for commit_with_refund and exchange; without it those answer kUnsupported.
  Processor(const CreditVerifier& verifier, NonceStore& store, const Issuer* issuer = nullptr)
      : verifier_(verifier), store_(store), issuer_(issuer) {}

  // Verifies (CreditVerifier::verify) and then locks the nonce. The store is not touched for a credit that fails
  // verification. Errors: see the table above.
  Result<CreditTransaction> begin(const Credit& credit, int64_t now_unix,
                                  CreditKind kind = CreditKind::kSpendable) const;

  // The reference's Exchanger: verifies `old` (spendable), locks its nonce, blind-signs `blinded_message` with old's
  // value as metadata, consumes the nonce, and returns the blind signature. Signing failure releases the nonce.
  // `expected_value`, if given (a request that states the value it wants), must equal old's value
  // (kInvalidArgument otherwise, before anything is locked). A client that blinded for another value gets a
  // signature that fails its own finish(): the value is bound by the signing key, not by what the client says.
  Result<Bytes> exchange(const Credit& old, ByteSpan blinded_message, int64_t now_unix,
                         std::optional<Value> expected_value = std::nullopt) const;

 private:
  const CreditVerifier& verifier_;
  NonceStore& store_;
  const Issuer* issuer_;
};

}  // namespace openpcc::currency
