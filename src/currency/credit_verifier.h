// Credit verification under the currency public key.
//
// A credit of value v verifies iff its signature is an RSASSA-PSS signature (SHA-384, MGF1-SHA-384, sLen 48) of
// msg′ = "msg" ‖ I2OSP(2, 4) ‖ v.to_wire() ‖ nonce.message() under (n, e′(v.to_wire())) — i.e. exactly as
// RSAPBSSA-SHA384-PSS-Deterministic with metadata = the 2 value bytes. The per-value verifier (e′ and the prepared
// OpenSSL key) is built on first use and kept: there are at most 1024 distinct values (9 bits × special flag).
#pragma once

#include <cstdint>
#include <memory>

#include "common/error.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"

namespace openpcc::currency {

// Whether a credit must be spendable money or may carry the special flag (attestation tokens).
enum class CreditKind { kSpendable, kSpecial };

class CreditVerifier {
 public:
  // kInvalidArgument for a key the partially blind suite cannot use (below kBlindRsaMinModulusBits).
  static Result<CreditVerifier> create(crypto::RsaPublicKey key);

  // The signature only. kAuthenticationFailed if it does not verify; kInvalidArgument if its size is not the
  // modulus size.
  Status verify_signature(const Credit& credit) const;

  // Everything a payee checks before locking the nonce, cheapest first:
  //   kInvalidArgument: the special flag does not match `kind` (kSpendable wants it clear, kSpecial set), or the
  //                     nonce is expired at `now_unix` (Nonce::is_expired_at);
  //   then verify_signature's answers.
  Status verify(const Credit& credit, int64_t now_unix, CreditKind kind = CreditKind::kSpendable) const;

  const crypto::RsaPublicKey& public_key() const;

  CreditVerifier(CreditVerifier&&) noexcept;
  CreditVerifier& operator=(CreditVerifier&&) noexcept;
  ~CreditVerifier();

 private:
  struct State;
  explicit CreditVerifier(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::currency
