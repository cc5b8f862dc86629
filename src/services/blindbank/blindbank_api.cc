#include "services/blindbank/blindbank_api.h"

#include <string>
#include <utility>

#include "currency/credit_pb.h"

namespace openpcc::blindbank {
namespace {

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string string_of(ByteSpan b) { return std::string(b.begin(), b.end()); }

Result<currency::Credit> decode_credit(bool present, const pb::Credit& credit) {
  if (!present) return make_error(ErrorCode::kDecode, "credit is missing");
  auto decoded = currency::from_proto(credit);
  if (!decoded) return std::unexpected(wrap_error("credit", std::move(decoded.error())));
  return decoded;
}

Result<Bytes> decode_token(const std::string& token) {
  if (Status s = check_account_token(as_bytes(token)); !s) return std::unexpected(s.error());
  return bytes_of(token);
}

}  // namespace

Result<DepositCall> decode(const pb::DepositRequest& request) {
  auto token = decode_token(request.account_token());
  if (!token) return std::unexpected(token.error());
  auto credit = decode_credit(request.has_credit(), request.credit());
  if (!credit) return std::unexpected(credit.error());
  return DepositCall{std::move(*token), std::move(*credit)};
}

Result<WithdrawCall> decode(const pb::BatchWithdrawRequest& request) {
  auto token = decode_token(request.account_token());
  if (!token) return std::unexpected(token.error());
  const int n = request.requests_size();
  if (n < 1 || n > static_cast<int>(kMaxBatchSize)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a withdrawal batch holds 1 to " + std::to_string(kMaxBatchSize) + " requests");
  }
  WithdrawCall call{std::move(*token), {}};
  call.requests.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const pb::BlindSignRequest& r = request.requests(i);
    const std::string where = "request " + std::to_string(i);
    if (!r.has_value()) return make_error(ErrorCode::kDecode, where + ": value is missing");
    auto value = currency::from_proto(r.value());
    if (!value) return std::unexpected(wrap_error(where, std::move(value.error())));
    call.requests.push_back(BlindSignRequest{*value, bytes_of(r.blinded_message())});
  }
  return call;
}

Result<WithdrawFullCall> decode(const pb::WithdrawFullUnblindedRequest& request) {
  auto token = decode_token(request.account_token());
  if (!token) return std::unexpected(token.error());
  return WithdrawFullCall{std::move(*token)};
}

Result<ExchangeCall> decode(const pb::ExchangeRequest& request) {
  auto credit = decode_credit(request.has_credit(), request.credit());
  if (!credit) return std::unexpected(credit.error());
  return ExchangeCall{std::move(*credit), bytes_of(request.blinded_message())};
}

Result<BalanceCall> decode(const pb::BalanceRequest& request) {
  auto token = decode_token(request.account_token());
  if (!token) return std::unexpected(token.error());
  return BalanceCall{std::move(*token)};
}

pb::DepositRequest encode(const DepositCall& call) {
  pb::DepositRequest out;
  out.set_account_token(string_of(call.account_token));
  *out.mutable_credit() = currency::to_proto(call.credit);
  return out;
}

pb::BatchWithdrawRequest encode(const WithdrawCall& call) {
  pb::BatchWithdrawRequest out;
  out.set_account_token(string_of(call.account_token));
  for (const BlindSignRequest& r : call.requests) {
    pb::BlindSignRequest* entry = out.add_requests();
    *entry->mutable_value() = currency::to_proto(r.value);
    entry->set_blinded_message(string_of(r.blinded_message));
  }
  return out;
}

pb::WithdrawFullUnblindedRequest encode(const WithdrawFullCall& call) {
  pb::WithdrawFullUnblindedRequest out;
  out.set_account_token(string_of(call.account_token));
  return out;
}

pb::ExchangeRequest encode(const ExchangeCall& call) {
  pb::ExchangeRequest out;
  *out.mutable_credit() = currency::to_proto(call.credit);
  out.set_blinded_message(string_of(call.blinded_message));
  return out;
}

pb::BalanceRequest encode(const BalanceCall& call) {
  pb::BalanceRequest out;
  out.set_account_token(string_of(call.account_token));
  return out;
}

Result<pb::DepositResponse> serve(BlindBank& bank, const pb::DepositRequest& request, int64_t now_unix) {
  auto call = decode(request);
  if (!call) return std::unexpected(call.error());
  auto balance = bank.deposit(call->account_token, call->credit, now_unix);
  if (!balance) return std::unexpected(balance.error());
  pb::DepositResponse out;
  out.set_balance(*balance);
  return out;
}

Result<pb::BatchWithdrawResponse> serve(BlindBank& bank, const pb::BatchWithdrawRequest& request, int64_t now_unix) {
  auto call = decode(request);
  if (!call) return std::unexpected(call.error());
  auto result = bank.withdraw_batch(call->account_token, call->requests, now_unix);
  if (!result) return std::unexpected(result.error());
  pb::BatchWithdrawResponse out;
  out.set_balance(result->balance);
  for (const Bytes& sig : result->blind_signatures) out.add_blind_signatures(string_of(sig));
  return out;
}

Result<pb::WithdrawFullUnblindedResponse> serve(BlindBank& bank, const pb::WithdrawFullUnblindedRequest& request,
                                                int64_t now_unix) {
  auto call = decode(request);
  if (!call) return std::unexpected(call.error());
  auto credit = bank.withdraw_full(call->account_token, now_unix);
  if (!credit) return std::unexpected(credit.error());
  pb::WithdrawFullUnblindedResponse out;
  *out.mutable_credit() = currency::to_proto(*credit);
  return out;
}

Result<pb::ExchangeResponse> serve(BlindBank& bank, const pb::ExchangeRequest& request, int64_t now_unix) {
  auto call = decode(request);
  if (!call) return std::unexpected(call.error());
  auto sig = bank.exchange(call->credit, call->blinded_message, now_unix);
  if (!sig) return std::unexpected(sig.error());
  pb::ExchangeResponse out;
  out.set_blind_signature(string_of(*sig));
  return out;
}

Result<pb::BalanceResponse> serve(BlindBank& bank, const pb::BalanceRequest& request, int64_t /*now_unix*/) {
  auto call = decode(request);
  if (!call) return std::unexpected(call.error());
  auto balance = bank.balance(call->account_token);
  if (!balance) return std::unexpected(balance.error());
  pb::BalanceResponse out;
  out.set_balance(*balance);
  return out;
}

}  // namespace openpcc::blindbank
