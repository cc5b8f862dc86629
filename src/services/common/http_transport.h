// How API clients (bank clients, the wallet, the SDK) send a request: a function from request to response. A plain
// HTTP(S) transport comes from net::Client; the private transport through the OHTTP relay plugs in the same way, so
// the clients never know which one they use.
#pragma once

#include <functional>

#include "common/error.h"
#include "net/client.h"

namespace openpcc::services {

using HttpTransport = std::function<net::Task<Result<net::ClientResponse>>(net::ClientRequest)>;

// Sends each request with its own connection of `client` (the client's options: timeouts, TLS trust, limits).
HttpTransport direct_transport(net::Client client);

}  // namespace openpcc::services
