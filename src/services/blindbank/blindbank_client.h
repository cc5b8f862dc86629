// A client of the BlindBank's HTTP API (blindbank_http.h), for the wallet and for tests. It speaks through a
// services::HttpTransport, so the same client works over plain HTTP(S) and through the OHTTP relay.
//
//   BlindBankClient bank(services::direct_transport(*net::Client::create()), "http://127.0.0.1:8083");
//   Result<int64_t> balance = co_await bank.deposit(token, credit);
//
// Error mapping (ErrorCode of the returned error):
//   400 → kInvalidArgument with the server's message (incl. kInsufficientBalanceMessage, "insufficient balance":
//         the API answers it 400 like the reference; compare the message to tell it apart)
//   409 → kConflict (the credit is being spent elsewhere right now)    410 → kAlreadyUsed (the credit is spent)
//   413 → kLimitExceeded   415 → kUnsupported   404/405 → kNotFound   other 4xx → kInvalidArgument
//   5xx → kUnavailable (the bank or its storage failed; retry)
//   no answer at all (connection refused or cut, timeout) → kUnavailable too, with the transport's error in the
//   message: the request may or may not have been carried out
//   kDecode if a 200 answer does not parse or does not fit the request (e.g. a signature count that differs from
//   the batch size).
//
// Retrying: every operation may be retried after kUnavailable by sending the IDENTICAL request
// again (same token, same credit, same blinded messages — keep them until an answer arrives). The bank answers a
// repeated request as it answered the first one and moves no money twice (blindbank.h). A retry with different
// blinded messages after a lost withdrawal answer would be a second withdrawal. Do not retry 4xx answers.
// With ClientOptions::max_attempts > 1 the client does this itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "currency/credit.h"
#include "net/runtime.h"
#include "services/blindbank/blindbank.h"
#include "services/common/http_transport.h"

namespace openpcc::blindbank {

struct ClientOptions {
  // Attempts per call (1 = no retries). Retries follow the rules above and stop at the first non-retryable answer.
  int max_attempts = 1;
  std::chrono::milliseconds retry_backoff{200};  // doubled after each attempt, capped at 5 s
};

class BlindBankClient {
 public:
  // `base_url` without a trailing slash, e.g. "https://bank.example" or "http://127.0.0.1:8083".
  BlindBankClient(services::HttpTransport transport, std::string base_url, ClientOptions options = {});

  // Parameters are taken by value: the coroutine keeps its own copies while it is suspended.
  // The new balance.
  net::Task<Result<int64_t>> deposit(Bytes account_token, currency::Credit credit);
  // Balance after the withdrawal and one blind signature per request, in order.
  net::Task<Result<WithdrawResult>> withdraw_batch(Bytes account_token, std::vector<BlindSignRequest> requests);
  // An unblinded credit of the (stochastically rounded) whole balance; exchange it before spending.
  net::Task<Result<currency::Credit>> withdraw_full(Bytes account_token);
  // A blind signature of `blinded_message` under the credit's value.
  net::Task<Result<Bytes>> exchange(currency::Credit credit, Bytes blinded_message);
  net::Task<Result<int64_t>> balance(Bytes account_token);

  const std::string& base_url() const { return base_url_; }

 private:
  // POSTs `body` to `path` with retries; the 200 body or the mapped error.
  net::Task<Result<Bytes>> post(std::string path, Bytes body);

  services::HttpTransport transport_;
  std::string base_url_;
  ClientOptions options_;
};

// The ErrorCode for a non-200 status (the table above).
ErrorCode blindbank_error_code_for_status(int status);

// Whether an error from this client may be retried with the identical request (kUnavailable; also kIo and
// kTimeout, for transports that report those directly).
bool is_retryable(const Error& error);

}  // namespace openpcc::blindbank
