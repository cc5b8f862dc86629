// The AuthBank's logic, without HTTP: the only identified service. An API key names an account; the account's
// balance buys blind-signed credits (with a badge naming the account's models), attestation tokens are free but rate
// limited, and credits can be refunded into the account.
//
//   auto bank = AuthBank::create(db, std::move(currency_key), std::move(badge_key), options);
//   auto request = decode_withdrawal_request(proto, header_key);        // 400 / 401 before any storage work
//   auto answer = (*bank)->withdraw(*request);                          // blocks on the database
//
// Request decoding: the API key comes from the `cf-authorization` header (how the reference client sends it) or
// the request body's api_key field; if both are present they must be the same key. Decoding checks presence and
// form (kInvalidArgument / kDecode → 400, kUnauthenticated → 401) and never touches storage, so it is what the
// fuzzer exercises.
//
// Errors of the operations (see http_status_for, services/common/proto_http.h):
//   kUnauthenticated 401     missing, malformed, unknown, revoked or expired API key
//   kInvalidArgument 400     wrong value (special for a withdrawal, not special(0) for a token), blinded message of
//                            the wrong size, a blinded message reused for another withdrawal, an expired credit
//   kAuthenticationFailed 400  a refund credit whose signature does not verify
//   kInsufficientBalance 429 the balance is below the withdrawal (nothing changed) — as the reference
//   kLimitExceeded           attestation-token rate limit (the HTTP layer answers 429 with Retry-After)
//   kConflict 409            the refund credit is being spent elsewhere right now
//   kAlreadyUsed 410         the refund credit was spent (at the router, or refunded into another account)
//   kUnavailable 503         storage busy or down
//   kInternal 500            anything else
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/ed25519.h"
#include "crypto/rsa_blind.h"
#include "currency/badge.h"
#include "currency/credit.h"
#include "currency/value.h"
#include "openpcc/auth.pb.h"
#include "services/authbank/api_key.h"
#include "services/authbank/ledger.h"
#include "services/authbank/rate_limiter.h"
#include "store/database.h"

namespace openpcc::authbank {

struct WithdrawalRequest {
  ApiKey key;
  currency::Value value;
  Bytes blinded_message;
};

struct RefundRequest {
  ApiKey key;
  currency::Credit credit;
};

// The key from the header and/or the body (see above). kUnauthenticated if neither carries one, if it is malformed,
// or if the two differ.
Result<ApiKey> resolve_api_key(std::optional<std::string_view> header_key, std::optional<std::string_view> body_key);

// POST /api/auth: value present and a positive, non-special amount; blinded_message present and non-empty.
Result<WithdrawalRequest> decode_withdrawal_request(const pb::AuthWithdrawalRequest& message,
                                                    std::optional<std::string_view> header_key);
// POST /api/attestationRequest: the same message; value must be the attestation value special(0), as the
// reference's AuthBank requires.
Result<WithdrawalRequest> decode_attestation_request(const pb::AuthWithdrawalRequest& message,
                                                     std::optional<std::string_view> header_key);
// POST /api/refund: a credit that parses strictly (currency/credit_pb.h). Its signature is checked by refund().
Result<RefundRequest> decode_refund_request(const pb::AuthRefundRequest& message,
                                            std::optional<std::string_view> header_key);

struct AuthBankOptions {
  // What the config answer publishes. Relay URLs in order of preference (clients use the first).
  std::vector<std::string> relay_urls;
  std::string router_url;  // empty = not sent (the reference client ignores both URLs)
  std::string bank_url;
  // The signed statements the config answer carries, as transparency bundle JSON (transparency/bundle.h; written by
  // `openpcc tlog publish`): the currency key's JWK (--currency-jwk) in currency_key_bundle, and the gateway's OHTTP
  // key configs with their rotation periods (--ohttp-keys --rotation-periods) in ohttp_key_configs_bundle. Sent as
  // they are (clients verify them: client/remote_config.h). Asked on every config call, so a publisher can replace
  // them (key rotation) while the bank runs; an error answers the config request with kUnavailable. Unset: the
  // field is left out.
  std::function<Result<Bytes>()> currency_key_bundle;
  std::function<Result<Bytes>()> ohttp_keys_bundle;
  // Free attestation tokens per account.
  RateLimit attestation_limit;
  // Unix seconds; tests move time.
  std::function<int64_t()> clock;
  // Spends a refund credit's nonce inside the refund's transaction. Default: the SQL nonce store on the
  // same database (currency::spend_nonce_in: one nonce table for every service that moves money).
  std::function<Status(store::Transaction&, const currency::Nonce&, int64_t now)> spend_nonce;
};

struct WithdrawalAnswer {
  Bytes blind_signature;
  std::optional<currency::Badge> badge;  // absent when the account lists no models
  int64_t account_id = 0;
  int64_t balance = 0;    // after the withdrawal
  bool replayed = false;  // a retry answered from the record; nothing debited
};

struct RefundAnswer {
  int64_t account_id = 0;
  int64_t balance = 0;
  bool replayed = false;
};

struct ConfigAnswer {
  pb::AuthConfigResponse response;
  int64_t account_id = 0;
};

// Where an operation failed, for the service's log line (an error may come after the key was recognised).
struct CallInfo {
  std::optional<int64_t> account_id;
  // Attestation rate limit: how long until the next token.
  std::chrono::steady_clock::duration retry_after{};
};

class AuthBank {
 public:
  // Migrates the ledger (and the nonce table for the default spend_nonce). kInvalidArgument for a currency key
  // without safe primes.
  static Result<std::unique_ptr<AuthBank>> create(std::shared_ptr<store::Database> db,
                                                  crypto::RsaPrivateKey currency_key,
                                                  crypto::Ed25519PrivateKey badge_key, AuthBankOptions options);

  // Each call blocks on the database (run it on a worker pool). `info`, if given, says which account was involved.
  Result<ConfigAnswer> config(const ApiKey& key, CallInfo* info = nullptr);
  Result<WithdrawalAnswer> withdraw(const WithdrawalRequest& request, CallInfo* info = nullptr);
  Result<WithdrawalAnswer> attestation_token(const WithdrawalRequest& request, CallInfo* info = nullptr);
  Result<RefundAnswer> refund(const RefundRequest& request, CallInfo* info = nullptr);

  // Drops withdrawal and refund records that can no longer matter (Ledger::collect_garbage).
  Result<int64_t> collect_garbage();

  Ledger& ledger() { return *ledger_; }
  const crypto::RsaPublicKey& currency_public_key() const;
  const crypto::Ed25519PublicKey& badge_public_key() const;

  ~AuthBank();

 private:
  struct Crypto;
  AuthBank(std::unique_ptr<Ledger> ledger, std::unique_ptr<Crypto> crypto, AuthBankOptions options);
  int64_t now() const;
  Result<std::optional<currency::Badge>> badge_for(const Account& account) const;

  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Crypto> crypto_;
  AuthBankOptions options_;
  TokenBucketLimiter attestation_limiter_;
};

}  // namespace openpcc::authbank
