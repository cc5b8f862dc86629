#include "services/blindbank/blindbank_client.h"

#include <google/protobuf/message_lite.h>

#include <algorithm>
#include <string>
#include <utility>

#include "currency/credit_pb.h"
#include "openpcc/anonpay_banking.pb.h"
#include "services/blindbank/blindbank_api.h"
#include "services/common/proto_http.h"

namespace openpcc::blindbank {
namespace {

Bytes serialize(const google::protobuf::MessageLite& message) {
  std::string s = message.SerializeAsString();
  return Bytes(s.begin(), s.end());
}

template <class M>
Result<M> parse_answer(const Bytes& body) {
  M message;
  if (!message.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return make_error(ErrorCode::kDecode, "blindbank: answer is not a valid " + message.GetTypeName());
  }
  return message;
}

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

}  // namespace

ErrorCode blindbank_error_code_for_status(int status) {
  switch (status) {
    case 400: return ErrorCode::kInvalidArgument;
    case 404:
    case 405: return ErrorCode::kNotFound;
    case 409: return ErrorCode::kConflict;
    case 410: return ErrorCode::kAlreadyUsed;
    case 413: return ErrorCode::kLimitExceeded;
    case 415: return ErrorCode::kUnsupported;
    default: break;
  }
  if (status >= 500) return ErrorCode::kUnavailable;
  return ErrorCode::kInvalidArgument;
}

bool is_retryable(const Error& error) {
  return error.code == ErrorCode::kIo || error.code == ErrorCode::kTimeout || error.code == ErrorCode::kUnavailable;
}

BlindBankClient::BlindBankClient(services::HttpTransport transport, std::string base_url, ClientOptions options)
    : transport_(std::move(transport)), base_url_(std::move(base_url)), options_(options) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  if (options_.max_attempts < 1) options_.max_attempts = 1;
}

net::Task<Result<Bytes>> BlindBankClient::post(std::string path, Bytes body) {
  std::chrono::milliseconds backoff = options_.retry_backoff;
  Error last{ErrorCode::kInternal, "blindbank: no attempt made"};
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      co_await net::sleep_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
    }
    net::ClientRequest request("POST", base_url_ + path, body);
    request.headers.set("Content-Type", services::kProtoMediaType);
    auto response = co_await transport_(std::move(request));
    if (!response) {
      // No answer (connection refused or cut, timeout): the request may or may not have been carried out.
      last = Error{ErrorCode::kUnavailable, "blindbank " + path + ": no answer: " + response.error().to_string()};
    } else if (response->status == 200) {
      co_return std::move(response->body);
    } else {
      last = Error{blindbank_error_code_for_status(response->status),
                   "blindbank " + path + ": " + std::to_string(response->status) + ": " +
                       services::error_message_from_body(response->body)};
      // 400 carries the server's own words; callers compare them (kInsufficientBalanceMessage).
      if (response->status == 400) last.message = services::error_message_from_body(response->body);
    }
    if (!is_retryable(last)) break;
  }
  co_return std::unexpected(std::move(last));
}

net::Task<Result<int64_t>> BlindBankClient::deposit(Bytes account_token, currency::Credit credit) {
  DepositCall call{std::move(account_token), std::move(credit)};
  auto body = co_await post("/deposit", serialize(encode(call)));
  if (!body) co_return std::unexpected(std::move(body.error()));
  auto answer = parse_answer<pb::DepositResponse>(*body);
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  co_return answer->balance();
}

net::Task<Result<WithdrawResult>> BlindBankClient::withdraw_batch(Bytes account_token,
                                                                  std::vector<BlindSignRequest> requests) {
  const size_t count = requests.size();
  WithdrawCall call{std::move(account_token), std::move(requests)};
  auto body = co_await post("/withdraw", serialize(encode(call)));
  if (!body) co_return std::unexpected(std::move(body.error()));
  auto answer = parse_answer<pb::BatchWithdrawResponse>(*body);
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  if (static_cast<size_t>(answer->blind_signatures_size()) != count) {
    co_return make_error(ErrorCode::kDecode, "blindbank: answer has " +
                                                 std::to_string(answer->blind_signatures_size()) +
                                                 " signatures for " + std::to_string(count) + " requests");
  }
  WithdrawResult out;
  out.balance = answer->balance();
  for (const std::string& sig : answer->blind_signatures()) out.blind_signatures.push_back(bytes_of(sig));
  co_return out;
}

net::Task<Result<currency::Credit>> BlindBankClient::withdraw_full(Bytes account_token) {
  WithdrawFullCall call{std::move(account_token)};
  auto body = co_await post("/withdraw-full", serialize(encode(call)));
  if (!body) co_return std::unexpected(std::move(body.error()));
  auto answer = parse_answer<pb::WithdrawFullUnblindedResponse>(*body);
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  if (!answer->has_credit()) co_return make_error(ErrorCode::kDecode, "blindbank: answer has no credit");
  auto credit = currency::from_proto(answer->credit());
  if (!credit) co_return std::unexpected(wrap_error("blindbank: answer", std::move(credit.error())));
  co_return std::move(*credit);
}

net::Task<Result<Bytes>> BlindBankClient::exchange(currency::Credit credit, Bytes blinded_message) {
  ExchangeCall call{std::move(credit), std::move(blinded_message)};
  auto body = co_await post("/exchange", serialize(encode(call)));
  if (!body) co_return std::unexpected(std::move(body.error()));
  auto answer = parse_answer<pb::ExchangeResponse>(*body);
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  co_return bytes_of(answer->blind_signature());
}

net::Task<Result<int64_t>> BlindBankClient::balance(Bytes account_token) {
  BalanceCall call{std::move(account_token)};
  auto body = co_await post("/balance", serialize(encode(call)));
  if (!body) co_return std::unexpected(std::move(body.error()));
  auto answer = parse_answer<pb::BalanceResponse>(*body);
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  co_return answer->balance();
}

}  // namespace openpcc::blindbank
