// The credit issuer (bank side): blind-signs credit requests and signs credits whose nonce it chooses itself.
//
// Signatures use crypto::kOpenPccCreditSuite (RSAPBSSA-SHA384, 48-byte all-zero PSS salt) with metadata = the
// 2-byte wire form of the value, so a credit's value is bound into its signature even though the signer never sees
// the nonce. The signer re-checks every signature before returning it (rsa_blind.h).
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"
#include "currency/value.h"

namespace openpcc::currency {

class Issuer {
 public:
  // kInvalidArgument unless the key has safe primes (partially blind signing needs them).
  static Result<Issuer> create(crypto::RsaPrivateKey key);

  // The blind signature for a client's blinded message (exactly modulus_size bytes, below n) of a credit of
  // `value`. Whether `value` is acceptable here (non-zero, special or not, affordable) is the caller's policy.
  Result<Bytes> blind_sign(const Value& value, ByteSpan blinded_message) const;

  // A credit the issuer signs outright with a fresh nonce (refunds, withdraw-full). The issuer knows this nonce, so
  // the credit is linkable to this moment: holders exchange it before spending. The unsafe-increment wait of nonce.h
  // does not apply (there is nothing to hide from the issuer itself).
  Result<Credit> issue_unblinded(const Value& value, int64_t now_unix) const;
  Result<Credit> issue_unblinded(const Value& value) const;

  const crypto::RsaPublicKey& public_key() const { return signer_.public_key(); }

 private:
  explicit Issuer(crypto::BlindRsaSigner signer) : signer_(std::move(signer)) {}
  crypto::BlindRsaSigner signer_;
};

}  // namespace openpcc::currency
