#include "currency/processor.h"

#include <string>
#include <utility>

namespace openpcc::currency {
namespace {

std::unexpected<Error> closed_error() {
  return make_error(ErrorCode::kInvalidArgument, "credit transaction: already committed or rolled back");
}

}  // namespace

// ---- CreditTransaction ----

CreditTransaction::CreditTransaction(NonceStore* store, const Issuer* issuer, Credit credit, NonceTicket ticket,
                                     int64_t begun_at)
    : store_(store),
      issuer_(issuer),
      credit_(std::move(credit)),
      ticket_(std::move(ticket)),
      begun_at_(begun_at),
      open_(true) {}

CreditTransaction::CreditTransaction(CreditTransaction&& other) noexcept
    : store_(other.store_),
      issuer_(other.issuer_),
      credit_(std::move(other.credit_)),
      ticket_(std::move(other.ticket_)),
      begun_at_(other.begun_at_),
      open_(std::exchange(other.open_, false)) {}

CreditTransaction& CreditTransaction::operator=(CreditTransaction&& other) noexcept {
  if (this != &other) {
    if (open_) (void)rollback();
    store_ = other.store_;
    issuer_ = other.issuer_;
    credit_ = std::move(other.credit_);
    ticket_ = std::move(other.ticket_);
    begun_at_ = other.begun_at_;
    open_ = std::exchange(other.open_, false);
  }
  return *this;
}

CreditTransaction::~CreditTransaction() {
  if (open_) (void)rollback();
}

// A failed store call closes the transaction unless the failure was transient: after kNotFound or kAlreadyUsed the
// lock is no longer ours, so there is nothing left to commit or release.
Status CreditTransaction::finish_with(Status result) {
  if (result || result.error().code != ErrorCode::kUnavailable) open_ = false;
  return result;
}

Status CreditTransaction::commit() {
  if (!open_) return closed_error();
  return finish_with(store_->consume(credit_.nonce, ticket_));
}

Result<Credit> CreditTransaction::commit_with_refund(const Value& refund) {
  if (!open_) return closed_error();
  if (issuer_ == nullptr) return make_error(ErrorCode::kUnsupported, "credit transaction: no issuer for refunds");
  if (refund.is_special()) return make_error(ErrorCode::kInvalidArgument, "refund: must not be special");
  if (refund.amount() <= 0 || refund.amount() > credit_.value.amount()) {
    return make_error(ErrorCode::kInvalidArgument, "refund: " + std::to_string(refund.amount()) +
                                                       " is not in (0, " + std::to_string(credit_.value.amount()) +
                                                       "]");
  }
  // Sign first: if that fails nothing is spent. The refund leaves this function only after the consume succeeded.
  auto refund_credit = issuer_->issue_unblinded(refund, begun_at_);
  if (!refund_credit) return std::unexpected(wrap_error("refund", refund_credit.error()));
  if (auto consumed = finish_with(store_->consume(credit_.nonce, ticket_)); !consumed) {
    return std::unexpected(consumed.error());
  }
  return refund_credit;
}

Status CreditTransaction::rollback() {
  if (!open_) return closed_error();
  return finish_with(store_->release(credit_.nonce, ticket_));
}

// ---- Processor ----

Result<CreditTransaction> Processor::begin(const Credit& credit, int64_t now_unix, CreditKind kind) const {
  if (auto verified = verifier_.verify(credit, now_unix, kind); !verified) return std::unexpected(verified.error());
  auto ticket = store_.lock(credit.nonce, now_unix);
  if (!ticket) return std::unexpected(ticket.error());
  return CreditTransaction(&store_, issuer_, credit, std::move(*ticket), now_unix);
}

Result<Bytes> Processor::exchange(const Credit& old, ByteSpan blinded_message, int64_t now_unix,
                                  std::optional<Value> expected_value) const {
  if (issuer_ == nullptr) return make_error(ErrorCode::kUnsupported, "exchange: no issuer");
  if (expected_value && *expected_value != old.value) {
    return make_error(ErrorCode::kInvalidArgument, "exchange: the requested value differs from the credit's");
  }
  if (blinded_message.size() != issuer_->public_key().modulus_size()) {
    return make_error(ErrorCode::kInvalidArgument, "exchange: blinded message must be " +
                                                       std::to_string(issuer_->public_key().modulus_size()) +
                                                       " bytes");
  }
  auto tx = begin(old, now_unix, CreditKind::kSpendable);
  if (!tx) return std::unexpected(tx.error());
  auto blind_sig = issuer_->blind_sign(old.value, blinded_message);
  if (!blind_sig) return std::unexpected(wrap_error("exchange", blind_sig.error()));  // tx rolls back
  if (auto consumed = tx->commit(); !consumed) return std::unexpected(consumed.error());
  return blind_sig;
}

}  // namespace openpcc::currency
