// The OHTTP relay's request handling (RFC 9458 §6.2 "Oblivious Relay Resource"): it sees who the client is but only
// encapsulated bytes, and passes those bytes to the gateway without anything that could identify the client.
//
//   auto metrics = std::make_shared<services::Metrics>("openpcc_relay");
//   RelayOptions options{"http://127.0.0.1:8082/", *net::Client::create(client_options)};
//   auto server = net::Server::start(runtime, server_config, make_relay_handler(std::move(options), metrics));
//
// Requests:
//   POST <any path>   → POST gateway_url. Content-Type must be message/ohttp-req or message/ohttp-chunked-req (else
//                       415). Upstream the request carries only Content-Type (the canonical media type, not the
//                       client's spelling), `Incremental: ?1` for the chunked type, Content-Length when the client
//                       sent one (else chunked), and the body. Never forwarded: the client's address,
//                       Forwarded / X-Forwarded-* / Via, Cookie, User-Agent, Authorization, any other field, the path
//                       and the query. Each body piece goes upstream as soon as it is read, while the gateway's
//                       response streams back (full duplex).
//                       The answer is the gateway's status, Content-Type, Content-Length (if it gave one) and body,
//                       each piece written to the client as it arrives; no other field (no Set-Cookie, Server, …),
//                       no trailers.
//                       Gateway unreachable, or gone before its response head: 502 text/plain "bad gateway"; no
//                       response head within the gateway read timeout: 504 "gateway timeout". A request body over the
//                       server's max_body_bytes: 413 (before anything is sent upstream when Content-Length announces
//                       it). The gateway failing after its head, or the client going away: the connection is closed
//                       (the other side sees a truncated message).
//   GET /_health      → 200 {"status":"OK"}
//   GET /metrics      → Prometheus text (services/common/metrics.h)
//   anything else     → 405 (Allow: POST; GET only for the two paths above)
//
// Metrics (prefix as the Metrics object says, e.g. openpcc_relay_):
//   requests_total{outcome}   ok | unsupported_media_type | too_large | bad_gateway | gateway_timeout |
//                             client_error | upstream_error | method_not_allowed
//   request_bytes_total       body bytes sent to the gateway
//   response_bytes_total      body bytes sent to clients
//   requests_in_flight        requests being forwarded
//   request_seconds           time from the request head to the end of the response (forwarded requests)
//
// Nothing here logs a client address or any byte of a body.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "net/client.h"
#include "net/headers.h"
#include "net/server.h"
#include "services/common/metrics.h"

namespace openpcc::relay {

// RFC 9458 §4 / draft-ietf-ohai-chunked-ohttp: the request media types a relay accepts.
inline constexpr std::string_view kOhttpRequestMediaType = "message/ohttp-req";
inline constexpr std::string_view kOhttpChunkedRequestMediaType = "message/ohttp-chunked-req";
// Announces an incremental (chunked OHTTP) message to the gateway (draft-ietf-httpbis-incremental): "?1".
inline constexpr std::string_view kIncrementalField = "Incremental";

struct RelayOptions {
  RelayOptions(std::string gateway_url_, net::Client client_)
      : gateway_url(std::move(gateway_url_)), client(std::move(client_)) {}

  std::string gateway_url;  // absolute http(s) URL that every encapsulated request is POSTed to
  net::Client client;       // dials the gateway (its options hold the connect / read / write timeouts, CA file)
};

// The OHTTP request media type named by a Content-Type value (ASCII case-insensitive, surrounding whitespace
// ignored), as the canonical constant above; nullopt for anything else, including any parameter.
std::optional<std::string_view> ohttp_request_media_type(std::string_view content_type);

// The header fields the relay sends upstream for a client's request head: Content-Type (canonical), Incremental
// for the chunked type, and Content-Length = `content_length` unless the client's body is chunked (nullopt).
// kUnsupported when the client's Content-Type is missing or not an OHTTP request type.
Result<net::Headers> gateway_request_headers(const net::Headers& client_headers,
                                             std::optional<uint64_t> content_length);

// The header fields the relay passes back from the gateway's response head: Content-Type and, for a body that is
// not chunked, Content-Length.
net::Headers client_response_headers(const net::Headers& gateway_headers);

// The whole relay server handler (see above). `metrics` receives the metrics listed above.
net::Handler make_relay_handler(RelayOptions options, std::shared_ptr<services::Metrics> metrics);

}  // namespace openpcc::relay
