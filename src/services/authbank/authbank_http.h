// The AuthBank's HTTP API (reference: openpcc-go auth/client and cmd/mem-auth), protobuf bodies as
// application/octet-stream, errors as Error{Message} (services/common/proto_http.h):
//
//   GET  /api/config              cf-authorization: <key>  → AuthConfigResponse (X-Currency-Date is accepted and
//                                                             ignored: there is one currency key)
//   POST /api/auth                AuthWithdrawalRequest → AuthWithdrawalResponse{blind_signature, badge}
//   POST /api/attestationRequest  AuthWithdrawalRequest (value special(0)) → AuthWithdrawalResponse
//   POST /api/refund              AuthRefundRequest → 200, empty body
//   GET  /_health                 → 200 {"status":"OK"} (application/json)
//
// Statuses: 400 malformed or invalid input, 401 missing/malformed/unknown/revoked/expired key, 409/410 refund
// credit locked/spent, 413 body over max_body_bytes, 415 wrong Content-Type, 429 insufficient balance (withdraw,
// as the reference; its client treats 429 as a retryable "insufficient balance") and attestation-token rate limit
// (with Retry-After in seconds), 503 storage unavailable, 500 otherwise (details only in the log).
//
// Log lines name the operation, the account id and the outcome; never API keys, blinded messages, signatures or
// credits.
#pragma once

#include <cstddef>

#include "net/blocking_pool.h"
#include "net/server.h"
#include "services/authbank/authbank.h"
#include "services/common/proto_http.h"

namespace openpcc::authbank {

struct HttpOptions {
  // Per request body. A withdrawal is the key, 4 bytes of value and a modulus-sized blinded message; a refund
  // carries a credit (≤ currency::kMaxCreditSize).
  size_t max_body_bytes = 16 * 1024;
};

// The routes, served from `bank` with storage work on `pool`; both must outlive every server using the routes.
services::Routes make_routes(AuthBank& bank, net::BlockingPool& pool, HttpOptions options = {});

}  // namespace openpcc::authbank
