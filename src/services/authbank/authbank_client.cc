#include "services/authbank/authbank_client.h"

#include <array>
#include <cstdio>
#include <ctime>
#include <utility>

#include "common/secure.h"
#include "currency/credit_pb.h"
#include "currency/nonce.h"
#include "services/authbank/api_key.h"
#include "services/common/proto_http.h"

namespace openpcc::authbank {
namespace {

constexpr std::string_view kCurrencyDateHeader = "X-Currency-Date";

Error error_for_status(int status, std::string message, bool attestation, const net::Headers& headers) {
  auto with = [&](ErrorCode code) { return Error{code, "authbank: " + message}; };
  switch (status) {
    case 400: return with(ErrorCode::kInvalidArgument);
    case 401: return with(ErrorCode::kUnauthenticated);
    case 404:
    case 405: return with(ErrorCode::kNotFound);
    case 409: return with(ErrorCode::kConflict);
    case 410: return with(ErrorCode::kAlreadyUsed);
    case 413: return with(ErrorCode::kLimitExceeded);
    case 415: return with(ErrorCode::kUnsupported);
    case 429:
      if (attestation) {
        if (auto after = headers.get("Retry-After")) message += " (retry after " + std::string(*after) + " s)";
        return with(ErrorCode::kLimitExceeded);
      }
      return with(ErrorCode::kInsufficientBalance);
    default: break;
  }
  if (status >= 500) return with(ErrorCode::kUnavailable);
  return with(ErrorCode::kInternal);
}

Result<BlindSignature> parse_withdrawal_response(ByteSpan body) {
  pb::AuthWithdrawalResponse response;
  if (!response.ParseFromArray(body.data(), static_cast<int>(body.size())) || !response.has_blind_signature() ||
      response.blind_signature().empty()) {
    return make_error(ErrorCode::kDecode, "authbank: malformed withdrawal response");
  }
  BlindSignature out;
  out.blind_signature = to_bytes(response.blind_signature());
  if (response.has_badge()) {
    const std::string bytes = response.badge().SerializeAsString();
    auto badge = currency::Badge::parse(as_bytes(bytes));
    if (!badge) return std::unexpected(wrap_error("authbank: withdrawal response", badge.error()));
    out.badge = std::move(*badge);
  }
  return out;
}

}  // namespace

AuthBankClient::AuthBankClient(services::HttpTransport transport, std::string base_url, std::string api_key)
    : transport_(std::move(transport)), base_url_(std::move(base_url)), api_key_(std::move(api_key)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

AuthBankClient::~AuthBankClient() {
  if (!api_key_.empty()) secure_wipe(api_key_.data(), api_key_.size());
}

std::string AuthBankClient::currency_date(int64_t unix_seconds) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t hour = static_cast<std::time_t>(currency::quantize_to_hour(unix_seconds));
  std::tm tm{};
  gmtime_r(&hour, &tm);
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:00:00 GMT", kDays[static_cast<size_t>(tm.tm_wday)],
                tm.tm_mday, kMonths[static_cast<size_t>(tm.tm_mon)], tm.tm_year + 1900, tm.tm_hour);
  return buffer;
}

net::Task<Result<Bytes>> AuthBankClient::call(std::string method, std::string path, Bytes body, bool attestation) {
  net::ClientRequest request(method, base_url_ + path, std::move(body));
  request.headers.set(kApiKeyHeader, api_key_);
  if (method == "POST") request.headers.set("Content-Type", services::kProtoMediaType);
  if (path == "/api/config") request.headers.set(kCurrencyDateHeader, currency_date(currency::unix_now()));
  auto response = co_await transport_(std::move(request));
  if (!response) {
    co_return make_error(ErrorCode::kUnavailable, "authbank: " + response.error().to_string());
  }
  if (response->status != 200) {
    co_return std::unexpected(error_for_status(
        response->status, services::error_message_from_body(response->body), attestation, response->headers));
  }
  co_return std::move(response->body);
}

net::Task<Result<pb::AuthConfigResponse>> AuthBankClient::config() {
  auto body = co_await call("GET", "/api/config", Bytes(), false);
  if (!body) co_return std::unexpected(std::move(body.error()));
  pb::AuthConfigResponse config;
  if (!config.ParseFromArray(body->data(), static_cast<int>(body->size()))) {
    co_return make_error(ErrorCode::kDecode, "authbank: malformed config response");
  }
  co_return config;
}

net::Task<Result<BlindSignature>> AuthBankClient::withdraw(currency::Value value, Bytes blinded_message) {
  pb::AuthWithdrawalRequest message;
  message.set_api_key(api_key_);
  *message.mutable_value() = currency::to_proto(value);
  message.set_blinded_message(std::string(blinded_message.begin(), blinded_message.end()));
  std::string bytes = message.SerializeAsString();
  auto body = co_await call("POST", "/api/auth", to_bytes(bytes), false);
  secure_wipe(bytes.data(), bytes.size());
  if (!body) co_return std::unexpected(std::move(body.error()));
  co_return parse_withdrawal_response(*body);
}

net::Task<Result<BlindSignature>> AuthBankClient::attestation_token(Bytes blinded_message) {
  pb::AuthWithdrawalRequest message;
  message.set_api_key(api_key_);
  *message.mutable_value() = currency::to_proto(currency::attestation_value());
  message.set_blinded_message(std::string(blinded_message.begin(), blinded_message.end()));
  std::string bytes = message.SerializeAsString();
  auto body = co_await call("POST", "/api/attestationRequest", to_bytes(bytes), true);
  secure_wipe(bytes.data(), bytes.size());
  if (!body) co_return std::unexpected(std::move(body.error()));
  co_return parse_withdrawal_response(*body);
}

net::Task<Status> AuthBankClient::refund(currency::Credit credit) {
  pb::AuthRefundRequest message;
  message.set_api_key(api_key_);
  *message.mutable_credit() = currency::to_proto(credit);
  std::string bytes = message.SerializeAsString();
  auto body = co_await call("POST", "/api/refund", to_bytes(bytes), false);
  secure_wipe(bytes.data(), bytes.size());
  if (!body) co_return std::unexpected(std::move(body.error()));
  co_return Status{};
}

}  // namespace openpcc::authbank
