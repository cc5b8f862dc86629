// Partially blind RSA verification for one fixed metadata value, with the derived public key prepared once.
//
// crypto::verify (rsa_blind.h) re-derives e′ with HKDF on every call. A verifier that checks many signatures under
// the same metadata (credits of one value) builds this object once: e′ is derived at construction and the RSA public
// key (n, e′) is held as an OpenSSL key whose Montgomery context is reused, and RSASSA-PSS is checked by OpenSSL's own
// EMSA-PSS decoder (SHA-384, MGF1-SHA-384, the suite's sLen), over msg′ = "msg" ‖ I2OSP(len(info), 4) ‖ info ‖ msg.
//
// OpenSSL refuses public exponents over 64 bits for moduli over 3072 bits, and e′ is λ/8 bytes long; for such keys
// this verifier delegates to crypto::verify (same answers, e′ re-derived per call).
#pragma once

#include <memory>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/rsa_blind.h"

namespace openpcc::crypto {

class RsaPbssaVerifier {
 public:
  // kInvalidArgument for a suite that is not partially blind.
  static Result<RsaPbssaVerifier> create(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan info);

  // Same contract as crypto::verify(suite, key, prepared_msg, info, sig): kAuthenticationFailed for a signature that
  // does not verify; kInvalidArgument for one whose size is not modulus_len. Safe to call from many threads.
  Status verify(ByteSpan prepared_msg, ByteSpan sig) const;

  // e′ (big-endian, λ/8 bytes).
  const Bytes& derived_exponent() const;

  RsaPbssaVerifier(RsaPbssaVerifier&&) noexcept;
  RsaPbssaVerifier& operator=(RsaPbssaVerifier&&) noexcept;
  ~RsaPbssaVerifier();

 private:
  struct State;
  explicit RsaPbssaVerifier(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::crypto
