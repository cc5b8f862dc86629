#include "services/authbank/authbank.h"

#include <utility>

#include "currency/credit_pb.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "currency/nonce.h"
#include "currency/sql_nonce_store.h"

namespace openpcc::authbank {

struct AuthBank::Crypto {
  currency::Issuer issuer;
  currency::CreditVerifier verifier;
  currency::BadgeIssuer badges;
};

namespace {

std::optional<std::string_view> body_key(const pb::AuthWithdrawalRequest& m) {
  if (!m.has_api_key()) return std::nullopt;
  return m.api_key();
}

Result<WithdrawalRequest> decode_blind_sign_request(const pb::AuthWithdrawalRequest& message,
                                                    std::optional<std::string_view> header_key) {
  auto key = resolve_api_key(header_key, body_key(message));
  if (!key) return std::unexpected(std::move(key.error()));
  if (!message.has_value()) return make_error(ErrorCode::kInvalidArgument, "missing value");
  auto value = currency::from_proto(message.value());
  if (!value) return std::unexpected(value.error());
  if (!message.has_blinded_message() || message.blinded_message().empty()) {
    return make_error(ErrorCode::kInvalidArgument, "missing blinded message");
  }
  return WithdrawalRequest{std::move(*key), *value, to_bytes(message.blinded_message())};
}

}  // namespace

Result<ApiKey> resolve_api_key(std::optional<std::string_view> header_key, std::optional<std::string_view> body_key) {
  if (body_key && body_key->empty()) body_key.reset();  // an empty proto string is no key
  if (!header_key && !body_key) return make_error(ErrorCode::kUnauthenticated, "missing API key");
  auto key = ApiKey::parse(header_key ? *header_key : *body_key);
  if (!key) return std::unexpected(std::move(key.error()));
  if (header_key && body_key) {
    auto other = ApiKey::parse(*body_key);
    if (!other || !ct_equal(other->hash(), key->hash())) {
      return make_error(ErrorCode::kUnauthenticated, "API keys in header and body differ");
    }
  }
  return key;
}

Result<WithdrawalRequest> decode_withdrawal_request(const pb::AuthWithdrawalRequest& message,
                                                    std::optional<std::string_view> header_key) {
  auto request = decode_blind_sign_request(message, header_key);
  if (!request) return request;
  if (request->value.is_special() || request->value.amount() <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "withdrawal value must be a positive, non-special amount");
  }
  return request;
}

Result<WithdrawalRequest> decode_attestation_request(const pb::AuthWithdrawalRequest& message,
                                                     std::optional<std::string_view> header_key) {
  auto request = decode_blind_sign_request(message, header_key);
  if (!request) return request;
  if (request->value != currency::attestation_value()) {
    return make_error(ErrorCode::kInvalidArgument, "attestation tokens have the value special(0)");
  }
  return request;
}

Result<RefundRequest> decode_refund_request(const pb::AuthRefundRequest& message,
                                            std::optional<std::string_view> header_key) {
  std::optional<std::string_view> body;
  if (message.has_api_key()) body = message.api_key();
  auto key = resolve_api_key(header_key, body);
  if (!key) return std::unexpected(std::move(key.error()));
  if (!message.has_credit()) return make_error(ErrorCode::kInvalidArgument, "missing credit");
  auto credit = currency::from_proto(message.credit());
  if (!credit) return std::unexpected(credit.error());
  if (credit->value.is_special() || credit->value.amount() <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "refund credit must have a positive, non-special value");
  }
  return RefundRequest{std::move(*key), std::move(*credit)};
}

Result<std::unique_ptr<AuthBank>> AuthBank::create(std::shared_ptr<store::Database> db,
                                                   crypto::RsaPrivateKey currency_key,
                                                   crypto::Ed25519PrivateKey badge_key, AuthBankOptions options) {
  if (!db) return make_error(ErrorCode::kInvalidArgument, "authbank: no database");
  auto verifier = currency::CreditVerifier::create(currency_key.public_key());
  if (!verifier) return std::unexpected(wrap_error("authbank: currency key", verifier.error()));
  auto issuer = currency::Issuer::create(std::move(currency_key));
  if (!issuer) return std::unexpected(wrap_error("authbank: currency key", issuer.error()));
  auto ledger = Ledger::open(db);
  if (!ledger) return std::unexpected(ledger.error());
  if (!options.spend_nonce) {
    if (Status s = currency::migrate_sql_nonce_store(*db); !s) return std::unexpected(s.error());
    options.spend_nonce = [](store::Transaction& tx, const currency::Nonce& nonce, int64_t now) {
      return currency::spend_nonce_in(tx, nonce, now);
    };
  }
  if (!options.clock) options.clock = [] { return currency::unix_now(); };
  auto crypto = std::make_unique<Crypto>(
      Crypto{std::move(*issuer), std::move(*verifier), currency::BadgeIssuer(std::move(badge_key))});
  return std::unique_ptr<AuthBank>(new AuthBank(std::move(*ledger), std::move(crypto), std::move(options)));
}

AuthBank::AuthBank(std::unique_ptr<Ledger> ledger, std::unique_ptr<Crypto> crypto, AuthBankOptions options)
    : ledger_(std::move(ledger)),
      crypto_(std::move(crypto)),
      options_(std::move(options)),
      attestation_limiter_(options_.attestation_limit) {}

AuthBank::~AuthBank() = default;

int64_t AuthBank::now() const { return options_.clock(); }

const crypto::RsaPublicKey& AuthBank::currency_public_key() const { return crypto_->issuer.public_key(); }

const crypto::Ed25519PublicKey& AuthBank::badge_public_key() const { return crypto_->badges.public_key(); }

Result<std::optional<currency::Badge>> AuthBank::badge_for(const Account& account) const {
  if (account.models.empty()) return std::optional<currency::Badge>();
  auto badge = crypto_->badges.issue(currency::Credentials{account.models});
  if (!badge) return std::unexpected(wrap_error("badge", badge.error()));
  return std::optional<currency::Badge>(std::move(*badge));
}

Result<ConfigAnswer> AuthBank::config(const ApiKey& key, CallInfo* info) {
  auto account = ledger_->authenticate(key, now());
  if (!account) return std::unexpected(std::move(account.error()));
  if (info) info->account_id = account->id;
  ConfigAnswer answer;
  answer.account_id = account->id;
  pb::AuthConfigResponse& r = answer.response;
  if (!options_.router_url.empty()) r.set_router_url(options_.router_url);
  if (!options_.bank_url.empty()) r.set_bank_url(options_.bank_url);
  for (const auto& url : options_.relay_urls) r.add_relays()->set_url(url);
  if (options_.ohttp_keys_bundle) {
    auto bundle = options_.ohttp_keys_bundle();
    if (!bundle) {
      return make_error(ErrorCode::kUnavailable, "OHTTP keys bundle not available: " + bundle.error().to_string());
    }
    r.set_ohttp_key_configs_bundle(std::string(bundle->begin(), bundle->end()));
  }
  if (options_.currency_key_bundle) {
    auto bundle = options_.currency_key_bundle();
    if (!bundle) {
      return make_error(ErrorCode::kUnavailable, "currency key bundle not available: " + bundle.error().to_string());
    }
    r.set_currency_key_bundle(std::string(bundle->begin(), bundle->end()));
  }
  return answer;
}

Result<WithdrawalAnswer> AuthBank::withdraw(const WithdrawalRequest& request, CallInfo* info) {
  if (request.value.is_special() || request.value.amount() <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "withdrawal value must be a positive, non-special amount");
  }
  if (request.blinded_message.size() != currency_public_key().modulus_size()) {
    return make_error(ErrorCode::kInvalidArgument, "blinded message must be " +
                                                       std::to_string(currency_public_key().modulus_size()) +
                                                       " bytes");
  }
  std::optional<int64_t> account_id;
  auto withdrawal = ledger_->withdraw(
      request.key, request.value, request.blinded_message, now(),
      [&] { return crypto_->issuer.blind_sign(request.value, request.blinded_message); }, &account_id);
  if (info) info->account_id = account_id;
  if (!withdrawal) return std::unexpected(std::move(withdrawal.error()));
  auto badge = badge_for(withdrawal->account);
  if (!badge) return std::unexpected(std::move(badge.error()));
  return WithdrawalAnswer{std::move(withdrawal->blind_signature), std::move(*badge), withdrawal->account.id,
                          withdrawal->account.balance, withdrawal->replayed};
}

Result<WithdrawalAnswer> AuthBank::attestation_token(const WithdrawalRequest& request, CallInfo* info) {
  if (request.value != currency::attestation_value()) {
    return make_error(ErrorCode::kInvalidArgument, "attestation tokens have the value special(0)");
  }
  if (request.blinded_message.size() != currency_public_key().modulus_size()) {
    return make_error(ErrorCode::kInvalidArgument, "blinded message must be " +
                                                       std::to_string(currency_public_key().modulus_size()) +
                                                       " bytes");
  }
  auto account = ledger_->authenticate(request.key, now());
  if (!account) return std::unexpected(std::move(account.error()));
  if (info) info->account_id = account->id;
  if (auto wait = attestation_limiter_.acquire(account->id); wait > wait.zero()) {
    if (info) info->retry_after = wait;
    return make_error(ErrorCode::kLimitExceeded, "attestation token rate limit exceeded");
  }
  // Free and not recorded: signing is deterministic, so a retry with the same blinded message gets the same answer.
  auto signature = crypto_->issuer.blind_sign(request.value, request.blinded_message);
  if (!signature) return std::unexpected(std::move(signature.error()));
  auto badge = badge_for(*account);
  if (!badge) return std::unexpected(std::move(badge.error()));
  return WithdrawalAnswer{std::move(*signature), std::move(*badge), account->id, account->balance, false};
}

Result<RefundAnswer> AuthBank::refund(const RefundRequest& request, CallInfo* info) {
  const int64_t at = now();
  // The signature is pure CPU: check it before taking any lock or transaction.
  if (Status ok = crypto_->verifier.verify(request.credit, at, currency::CreditKind::kSpendable); !ok) {
    return std::unexpected(ok.error());
  }
  std::optional<int64_t> account_id;
  auto refund = ledger_->refund(
      request.key, request.credit, at,
      [&](store::Transaction& tx) { return options_.spend_nonce(tx, request.credit.nonce, at); }, &account_id);
  if (info) info->account_id = account_id;
  if (!refund) return std::unexpected(std::move(refund.error()));
  return RefundAnswer{refund->account.id, refund->account.balance, refund->replayed};
}

Result<int64_t> AuthBank::collect_garbage() { return ledger_->collect_garbage(now()); }

}  // namespace openpcc::authbank
