// Client of the AuthBank API (authbank_http.h), for the wallet and the SDK. Identified traffic: plain HTTP(S) with
// the API key, never through the OHTTP relay.
//
//   AuthBankClient bank(services::direct_transport(*net::Client::create({.ca_file = ca})),
//                       "https://auth.example:8443", api_key);
//   auto config = co_await bank.config();                 // relays + signed bundles: the currency key and the
//                                                        // OHTTP keys (client/remote_config.h verifies them)
//   auto pending = currency::begin_credit(key, value);
//   auto got = co_await bank.withdraw(value, pending->blinded_message());
//   auto credit = pending->finish(got->blind_signature);  // got->badge: for X-Confsec-Badge
//
// Every request carries the key in `cf-authorization` (and withdrawals/refunds also in the body's api_key field, as
// the reference's messages have it). config() also sends X-Currency-Date (now, rounded down to the hour, as an
// HTTP-date) like the reference client.
//
// Errors, from the answer's status (the Error{Message} body's text is kept in the message):
//   429 → kInsufficientBalance (withdraw); kLimitExceeded for attestation_token (rate limit; the message says
//         when to retry, from Retry-After)
//   401 → kUnauthenticated   400 → kInvalidArgument   409 → kConflict   410 → kAlreadyUsed
//   413 → kLimitExceeded     415 → kUnsupported       404/405 → kNotFound
//   5xx, and a transport failure (connect, timeout, reset) → kUnavailable
//   a 200 whose body does not parse → kDecode
// Retrying: withdraw and refund are idempotent at the bank — after kUnavailable (or any lost answer), send the
// identical request again (same value and blinded message; same credit) and no money moves twice. A 400 for a
// withdrawal retry means the blinded message was used with another value or key: start a new credit instead.
//
// The client holds references to nothing; the coroutines use `this`, so keep the client alive until they finish.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/rsa_blind.h"
#include "currency/badge.h"
#include "currency/credit.h"
#include "currency/value.h"
#include "net/runtime.h"
#include "openpcc/auth.pb.h"
#include "services/common/http_transport.h"

namespace openpcc::authbank {

struct BlindSignature {
  Bytes blind_signature;
  std::optional<currency::Badge> badge;  // the AuthBank leaves it out for accounts that list no models
};

class AuthBankClient {
 public:
  // base_url: "https://host:port" (a trailing slash is ignored).
  AuthBankClient(services::HttpTransport transport, std::string base_url, std::string api_key);
  ~AuthBankClient();
  AuthBankClient(AuthBankClient&&) noexcept = default;
  AuthBankClient& operator=(AuthBankClient&&) noexcept = default;
  AuthBankClient(const AuthBankClient&) = delete;
  AuthBankClient& operator=(const AuthBankClient&) = delete;

  net::Task<Result<pb::AuthConfigResponse>> config();
  net::Task<Result<BlindSignature>> withdraw(currency::Value value, Bytes blinded_message);
  // A blind signature on the attestation value special(0) (free; rate limited per account).
  net::Task<Result<BlindSignature>> attestation_token(Bytes blinded_message);
  net::Task<Status> refund(currency::Credit credit);

  // X-Currency-Date's value for `unix_seconds`: the start of its hour as an IMF-fixdate (RFC 9110 §5.6.7).
  static std::string currency_date(int64_t unix_seconds);

 private:
  net::Task<Result<Bytes>> call(std::string method, std::string path, Bytes body, bool attestation);

  services::HttpTransport transport_;
  std::string base_url_;
  std::string api_key_;
};

}  // namespace openpcc::authbank
