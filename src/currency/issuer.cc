#include "currency/issuer.h"

#include <string>

namespace openpcc::currency {

Result<Issuer> Issuer::create(crypto::RsaPrivateKey key) {
  auto signer = crypto::BlindRsaSigner::create(crypto::kOpenPccCreditSuite, std::move(key));
  if (!signer) return std::unexpected(signer.error());
  return Issuer(std::move(*signer));
}

Result<Bytes> Issuer::blind_sign(const Value& value, ByteSpan blinded_message) const {
  if (blinded_message.size() != public_key().modulus_size()) {
    return make_error(ErrorCode::kInvalidArgument, "issuer: blinded message must be " +
                                                       std::to_string(public_key().modulus_size()) + " bytes, got " +
                                                       std::to_string(blinded_message.size()));
  }
  const auto metadata = value.to_wire();
  return signer_.blind_sign(blinded_message, metadata);
}

Result<Credit> Issuer::issue_unblinded(const Value& value, int64_t now_unix) const {
  const FreshNonce fresh = new_nonce(now_unix, random_unit_double());
  const Bytes message = fresh.nonce.message();
  const auto metadata = value.to_wire();
  // The public blind-signature steps with ourselves as the client: the signer only signs blinded messages, and
  // finalize re-verifies the result under (n, e′).
  auto blinding = crypto::blind(crypto::kOpenPccCreditSuite, public_key(), message, metadata);
  if (!blinding) return std::unexpected(blinding.error());
  auto blind_sig = signer_.blind_sign(blinding->blinded_msg, metadata);
  if (!blind_sig) return std::unexpected(blind_sig.error());
  auto sig = crypto::finalize(crypto::kOpenPccCreditSuite, public_key(), message, metadata, *blind_sig,
                              blinding->inv);
  if (!sig) return std::unexpected(sig.error());
  return Credit{value, fresh.nonce, std::move(*sig)};
}

Result<Credit> Issuer::issue_unblinded(const Value& value) const { return issue_unblinded(value, unix_now()); }

}  // namespace openpcc::currency
