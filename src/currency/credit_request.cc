#include "currency/credit_request.h"

#include <algorithm>

namespace openpcc::currency {

std::chrono::seconds PendingCredit::wait_from(int64_t now_unix) const {
  return std::chrono::seconds(std::max<int64_t>(0, ready_at_ - now_unix));
}

Result<Credit> PendingCredit::finish(ByteSpan blind_signature) const {
  const auto metadata = value_.to_wire();
  auto sig = crypto::finalize(crypto::kOpenPccCreditSuite, key_, nonce_.message(), metadata, blind_signature,
                              inverse_);
  if (!sig) return std::unexpected(sig.error());
  return Credit{value_, nonce_, std::move(*sig)};
}

Result<PendingCredit> begin_credit(const crypto::RsaPublicKey& key, const Value& value, int64_t now_unix, double r) {
  const FreshNonce fresh = new_nonce(now_unix, r);
  const auto metadata = value.to_wire();
  auto blinding = crypto::blind(crypto::kOpenPccCreditSuite, key, fresh.nonce.message(), metadata);
  if (!blinding) return std::unexpected(blinding.error());
  PendingCredit pending;
  pending.key_ = key;
  pending.value_ = value;
  pending.nonce_ = fresh.nonce;
  pending.blinded_message_ = std::move(blinding->blinded_msg);
  pending.inverse_ = std::move(blinding->inv);
  pending.unsafe_increment_ = fresh.unsafe_increment;
  pending.ready_at_ = now_unix + fresh.wait.count();
  return pending;
}

Result<PendingCredit> begin_credit(const crypto::RsaPublicKey& key, const Value& value) {
  return begin_credit(key, value, unix_now(), random_unit_double());
}

}  // namespace openpcc::currency
