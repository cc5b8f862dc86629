// The BlindBank's wire API between protobuf messages (proto/openpcc/anonpay_banking.proto, the reference's
// anonpay-banking schema) and the bank (blindbank.h): decoding and checking requests, running them, encoding answers.
// The HTTP service (blindbank_http.h) and the fuzz target call these; no network here.
//
//   POST /deposit        DepositRequest{account_token, credit}              → DepositResponse{balance}
//   POST /withdraw       BatchWithdrawRequest{requests[], account_token}    → BatchWithdrawResponse{balance, blind_signatures[]}
//   POST /withdraw-full  WithdrawFullUnblindedRequest{account_token}        → WithdrawFullUnblindedResponse{credit}
//   POST /exchange       ExchangeRequest{credit, blinded_message}           → ExchangeResponse{blind_signature}
//   POST /balance        BalanceRequest{account_token}                      → BalanceResponse{balance}
//
// Decoding is strict where the bank depends on it: a missing message field (credit, a request's value) is kDecode,
// a credit must satisfy Credit::parse's rules (currency/credit_pb.h), a value must be a valid 2-byte Currency, and
// the account token must be 32 bytes (kInvalidArgument). Missing optional bytes fields count as empty.
#pragma once

#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "currency/credit.h"
#include "openpcc/anonpay_banking.pb.h"
#include "services/blindbank/blindbank.h"

namespace openpcc::blindbank {

// Decoded requests.
struct DepositCall {
  Bytes account_token;
  currency::Credit credit;
};
struct WithdrawCall {
  Bytes account_token;
  std::vector<BlindSignRequest> requests;
};
struct WithdrawFullCall {
  Bytes account_token;
};
struct ExchangeCall {
  currency::Credit credit;
  Bytes blinded_message;
};
struct BalanceCall {
  Bytes account_token;
};

Result<DepositCall> decode(const pb::DepositRequest& request);
// Also checks the batch size (1..kMaxBatchSize) before decoding the entries.
Result<WithdrawCall> decode(const pb::BatchWithdrawRequest& request);
Result<WithdrawFullCall> decode(const pb::WithdrawFullUnblindedRequest& request);
Result<ExchangeCall> decode(const pb::ExchangeRequest& request);
Result<BalanceCall> decode(const pb::BalanceRequest& request);

// Encoders for clients: the inverse of decode.
pb::DepositRequest encode(const DepositCall& call);
pb::BatchWithdrawRequest encode(const WithdrawCall& call);
pb::WithdrawFullUnblindedRequest encode(const WithdrawFullCall& call);
pb::ExchangeRequest encode(const ExchangeCall& call);
pb::BalanceRequest encode(const BalanceCall& call);

// decode → run on the bank at `now_unix` → encode. Errors are the decode errors and the bank's (blindbank.h).
Result<pb::DepositResponse> serve(BlindBank& bank, const pb::DepositRequest& request, int64_t now_unix);
Result<pb::BatchWithdrawResponse> serve(BlindBank& bank, const pb::BatchWithdrawRequest& request, int64_t now_unix);
Result<pb::WithdrawFullUnblindedResponse> serve(BlindBank& bank, const pb::WithdrawFullUnblindedRequest& request,
                                                int64_t now_unix);
Result<pb::ExchangeResponse> serve(BlindBank& bank, const pb::ExchangeRequest& request, int64_t now_unix);
Result<pb::BalanceResponse> serve(BlindBank& bank, const pb::BalanceRequest& request, int64_t now_unix);

}  // namespace openpcc::blindbank
