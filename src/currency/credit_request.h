// The client side of getting a credit: blind a fresh nonce for a value, have the issuer sign it, unblind.
//
//   auto pending = begin_credit(currency_key, value);           // send value + pending->blinded_message()
//   auto credit  = pending->finish(blind_signature_from_bank);  // verifies; fails closed
//   // do not spend or show the credit before pending->ready_at() (unix seconds)
//
// ready_at: a nonce moved to the next hour fewer than 30 s into the current hour stands out (nonce.h,
// SafeTimestamp); such a credit must not leave the client before t0 + 30 s, t0 being the start of the hour it was
// requested in. The reference sleeps inside Finalize; here the caller decides how to wait.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"
#include "currency/nonce.h"
#include "currency/value.h"

namespace openpcc::currency {

class PendingCredit {
 public:
  const Value& value() const { return value_; }
  const Nonce& nonce() const { return nonce_; }
  // modulus_size bytes, for the issuer (BlindSignRequest.blinded_message).
  const Bytes& blinded_message() const { return blinded_message_; }

  // Unix seconds before which the finished credit must not be released; ≤ the request time when there is no wait.
  int64_t ready_at() const { return ready_at_; }
  bool unsafe_increment() const { return unsafe_increment_; }
  // How long from `now_unix` until ready_at (zero if already reached).
  std::chrono::seconds wait_from(int64_t now_unix) const;

  // Unblinds the issuer's answer and verifies the result under the value's derived key: kAuthenticationFailed if
  // the issuer signed something else (another value, another message), kInvalidArgument for a wrong-sized answer.
  // May be called again after a failure (e.g. with a retried answer).
  Result<Credit> finish(ByteSpan blind_signature) const;

 private:
  friend Result<PendingCredit> begin_credit(const crypto::RsaPublicKey&, const Value&, int64_t, double);
  PendingCredit() = default;

  crypto::RsaPublicKey key_;
  Value value_;
  Nonce nonce_;
  Bytes blinded_message_;
  SecretBytes inverse_;  // r⁻¹ mod n
  int64_t ready_at_ = 0;
  bool unsafe_increment_ = false;
};

// `r` uniform in [0, 1) decides the nonce's hour (safe_nonce_timestamp); the blinding uses the OS CSPRNG.
Result<PendingCredit> begin_credit(const crypto::RsaPublicKey& key, const Value& value, int64_t now_unix, double r);
// The same at the system clock's now with r from the OS CSPRNG.
Result<PendingCredit> begin_credit(const crypto::RsaPublicKey& key, const Value& value);

}  // namespace openpcc::currency
