// The BlindBank's HTTP service: the reference's routes over a BlindBank (blindbank.h, blindbank_api.h).
//
//   POST /deposit, /withdraw, /withdraw-full, /exchange, /balance    protobuf bodies (application/octet-stream)
//   GET  /_health                                                    {"status":"OK"} (application/json)
//
//   net::BlockingPool pool(4);
//   auto server = net::Server::start(runtime, config, make_blindbank_handler(*bank, pool));
//
// Status codes (bodies: Error{Message}; 5xx bodies say only "internal error" / "temporarily unavailable", details
// go to the log):
//   200  success
//   400  malformed or invalid request, credit signature does not verify, expired credit, blinded message reused —
//        and insufficient balance ("insufficient balance"): the reference answers every input error 400, and its
//        clients rely on it (the AuthBank's 429 is not used here)
//   409  the credit is being spent by another request right now (retry later)
//   410  the credit was already spent
//   413  body above the endpoint's limit      415  Content-Type is not application/octet-stream
//   404/405  unknown path / wrong method     503  storage busy or down (retry the identical request)
//   500  anything else
//
// Database work runs on `pool`, never on the network threads. One log line per request at info level: the
// operation, outcome, status and duration — never tokens, credits, nonces, signatures or amounts (balances are
// logged at debug level only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "common/error.h"
#include "crypto/rsa_blind.h"
#include "net/blocking_pool.h"
#include "net/server.h"
#include "services/blindbank/blindbank.h"

namespace openpcc::blindbank {

// Body limits per endpoint.
inline constexpr size_t kDefaultMaxBodyBytes = 8 * 1024;  // deposit, exchange (a credit + a message), balance, …
// The batch withdrawal body for a key: 15 × (blinded message + value and framing) + token and slack.
size_t default_withdraw_body_limit(const crypto::RsaPublicKey& key);

struct ServiceOptions {
  size_t max_body_bytes = kDefaultMaxBodyBytes;
  size_t max_withdraw_body_bytes = 0;  // 0: default_withdraw_body_limit(the bank's key)
  // Unix seconds; tests pin it.
  std::function<int64_t()> clock;
};

// The largest body any route accepts (for net::ServerConfig::max_body_bytes).
size_t max_request_body(const BlindBank& bank, const ServiceOptions& options);

// The status a bank error is answered with (see the table above).
int blindbank_http_status(ErrorCode code);

// The routes. `bank` and `pool` must outlive the handler and every request in flight.
net::Handler make_blindbank_handler(BlindBank& bank, net::BlockingPool& pool, ServiceOptions options = {});

}  // namespace openpcc::blindbank
