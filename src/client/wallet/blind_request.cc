#include "client/wallet/blind_request.h"

#include <utility>

namespace openpcc::wallet {

BlindRequest BlindRequest::clone() const {
  BlindRequest out;
  out.value = value;
  out.nonce = nonce;
  out.blinded_message = blinded_message;
  out.inverse = inverse.clone();
  out.ready_at = ready_at;
  return out;
}

bool operator==(const BlindRequest& a, const BlindRequest& b) {
  return a.value == b.value && a.nonce == b.nonce && a.blinded_message == b.blinded_message &&
         ct_equal(a.inverse.span(), b.inverse.span()) && a.ready_at == b.ready_at;
}

Result<BlindRequest> make_blind_request(const crypto::RsaPublicKey& key, const currency::Value& value,
                                        int64_t now_unix, double r) {
  const currency::FreshNonce fresh = currency::new_nonce(now_unix, r);
  const auto metadata = value.to_wire();
  auto blinding = crypto::blind(crypto::kOpenPccCreditSuite, key, fresh.nonce.message(), metadata);
  if (!blinding) return std::unexpected(wrap_error("blind credit request", blinding.error()));
  BlindRequest out;
  out.value = value;
  out.nonce = fresh.nonce;
  out.blinded_message = std::move(blinding->blinded_msg);
  out.inverse = std::move(blinding->inv);
  out.ready_at = now_unix + fresh.wait.count();
  return out;
}

Result<BlindRequest> make_blind_request(const crypto::RsaPublicKey& key, const currency::Value& value,
                                        int64_t now_unix) {
  return make_blind_request(key, value, now_unix, currency::random_unit_double());
}

Result<currency::Credit> finish_blind_request(const crypto::RsaPublicKey& key, const BlindRequest& request,
                                              ByteSpan blind_signature) {
  const auto metadata = request.value.to_wire();
  auto signature = crypto::finalize(crypto::kOpenPccCreditSuite, key, request.nonce.message(), metadata,
                                    blind_signature, request.inverse);
  if (!signature) return std::unexpected(wrap_error("finish credit", signature.error()));
  return currency::Credit{request.value, request.nonce, std::move(*signature)};
}

}  // namespace openpcc::wallet
