// How the client reaches the router: whole messages (compute manifests) through a services::HttpTransport, and
// compute requests through a StreamingTransport whose answer streams back piece by piece with trailers. In
// production both go through the OHTTP relay (ohttp_transport.h); tests and local tools may talk to a router
// directly. Requests are addressed to http://confsec-router.invalid/… either way.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "net/client.h"
#include "net/headers.h"
#include "net/runtime.h"
#include "services/common/http_transport.h"

namespace openpcc::client {

// The router's answer to a compute request, as it arrives.
class RouterStream {
 public:
  virtual ~RouterStream() = default;
  virtual int status() const = 0;
  virtual const net::Headers& headers() const = 0;
  // The next piece of the body, or std::nullopt at its end.
  virtual net::Task<Result<std::optional<Bytes>>> read_chunk() = 0;
  // Valid once read_chunk() returned std::nullopt (the router's X-Refund).
  virtual const net::Headers& trailers() const = 0;
};

// Sends a whole request and returns once the answer's head is there.
using StreamingTransport = std::function<net::Task<Result<std::unique_ptr<RouterStream>>>(net::ClientRequest)>;

// Replaces the `from` prefix of every request URL with `to` (e.g. kRouterBaseUrl → "http://127.0.0.1:8084"), for
// talking to a router without the OHTTP hop. URLs without the prefix pass unchanged.
services::HttpTransport rewriting_transport(services::HttpTransport inner, std::string from, std::string to);

// Plain HTTP(S) with `client`, URLs rewritten as above.
StreamingTransport direct_streaming_transport(net::Client client, std::string from, std::string to);

}  // namespace openpcc::client
