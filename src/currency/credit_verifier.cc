#include "currency/credit_verifier.h"

#include <array>
#include <mutex>
#include <shared_mutex>

#include "crypto/rsa_pbssa_verifier.h"

namespace openpcc::currency {
namespace {

// One slot per (9-bit value, special flag).
constexpr size_t kValueSlots = 1024;

size_t slot_of(const Value& v) { return static_cast<size_t>(v.bits()) | (v.is_special() ? 0x200u : 0u); }

}  // namespace

struct CreditVerifier::State {
  crypto::RsaPublicKey key;
  // Read-mostly: after warm-up every lookup takes the shared lock only. Entries are immutable once set.
  mutable std::shared_mutex mu;
  mutable std::array<std::shared_ptr<const crypto::RsaPbssaVerifier>, kValueSlots> per_value;

  Result<std::shared_ptr<const crypto::RsaPbssaVerifier>> verifier_for(const Value& value) const {
    const size_t slot = slot_of(value);
    {
      std::shared_lock lock(mu);
      if (per_value[slot]) return per_value[slot];
    }
    // Derive outside the lock; if two threads race, the first insert wins and both use it.
    const auto wire = value.to_wire();
    auto fresh = crypto::RsaPbssaVerifier::create(crypto::kOpenPccCreditSuite, key, wire);
    if (!fresh) return std::unexpected(fresh.error());
    auto shared = std::make_shared<const crypto::RsaPbssaVerifier>(std::move(*fresh));
    std::unique_lock lock(mu);
    if (!per_value[slot]) per_value[slot] = std::move(shared);
    return per_value[slot];
  }
};

CreditVerifier::CreditVerifier(std::unique_ptr<State> state) : state_(std::move(state)) {}
CreditVerifier::CreditVerifier(CreditVerifier&&) noexcept = default;
CreditVerifier& CreditVerifier::operator=(CreditVerifier&&) noexcept = default;
CreditVerifier::~CreditVerifier() = default;

Result<CreditVerifier> CreditVerifier::create(crypto::RsaPublicKey key) {
  auto checked = crypto::RsaPublicKey::from_components(key.n, key.e);
  if (!checked) return std::unexpected(checked.error());
  auto state = std::make_unique<State>();
  state->key = std::move(*checked);
  return CreditVerifier(std::move(state));
}

const crypto::RsaPublicKey& CreditVerifier::public_key() const { return state_->key; }

Status CreditVerifier::verify_signature(const Credit& credit) const {
  auto verifier = state_->verifier_for(credit.value);
  if (!verifier) return std::unexpected(verifier.error());
  return (*verifier)->verify(credit.nonce.message(), credit.signature);
}

Status CreditVerifier::verify(const Credit& credit, int64_t now_unix, CreditKind kind) const {
  if (credit.value.is_special() != (kind == CreditKind::kSpecial)) {
    return make_error(ErrorCode::kInvalidArgument, kind == CreditKind::kSpecial
                                                       ? "credit: expected a special credit"
                                                       : "credit: special credits cannot be spent here");
  }
  if (credit.nonce.is_expired_at(now_unix)) return make_error(ErrorCode::kInvalidArgument, "credit: nonce expired");
  return verify_signature(credit);
}

}  // namespace openpcc::currency
