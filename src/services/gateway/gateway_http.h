// The gateway's HTTP handler: key publication, OHTTP decapsulation, the inner allowlist, forwarding to the BlindBank
// or the router, and re-encapsulation of their answers — streamed both ways.
//
//   GET  /ohttp-keys             application/ohttp-keys of the keys whose period has not ended (gateway_keys.h order);
//                                503 when there are none
//   GET  /ohttp-keys/statement   the transparency bundle file's bytes (re-read per request); 404 if none
//   GET  /_health, GET /metrics  as every service
//   POST <any path>              an encapsulated request (message/ohttp-req or message/ohttp-chunked-req)
//
// An encapsulated request is decapsulated as it arrives (inner_request_decoder.h); the inner head is routed as soon
// as it is decoded (gateway_routes.h). A forwarded request goes to bank_url / router_url + path with the inner
// header fields minus hop-by-hop fields, Host, Content-Length and Expect; its body is uploaded piece by piece as it
// opens (chunked upstream), unless the whole inner request was already in hand when its head was routed (then with
// Content-Length). The upload and the response run concurrently (net::run_concurrently).
//
// Responses. The inner response is the upstream's status, header fields (minus hop-by-hop and Content-Length), body
// and trailers. It is sent chunked (message/ohttp-chunked-res, indeterminate-length BHTTP) when the request was
// chunked or the upstream response is chunked, close-delimited or announces trailers: the BHTTP head is sealed and
// written at once, then each upstream body piece becomes one BHTTP content chunk, sealed (at most 4096 bytes of
// plaintext per OHTTP chunk, never held back to fill a piece) and written at once, then the trailers. Otherwise it
// is sent whole (message/ohttp-res, known-length BHTTP).
//
// Errors. Before anything is sent: decapsulation and decoding failures → the application/problem+json answer of
// wire/ohttp_error.h for their taxonomy code (key errors 100–103 → 400 with the ohttp-key problem type; a refused
// host → 202; malformed → 201); the client's own transport failures (body too large → 413, malformed chunked
// encoding → 400, connection lost) → the HTTP server's plain answer. Upstream unreachable, failing before its
// response head, or a whole response over max_response_bytes → an encapsulated inner 502. After the response has
// started, a failure on either side closes the connection without the final chunk, so the client sees a truncated
// (unauthenticated) message, never a silently shortened one; a request that fails after its head was forwarded
// is never finished upstream either.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "net/client.h"
#include "net/server.h"
#include "services/common/metrics.h"
#include "services/gateway/gateway_keys.h"
#include "services/gateway/inner_request_decoder.h"

namespace openpcc::gateway {

inline constexpr std::string_view kStatementPath = "/ohttp-keys/statement";
inline constexpr std::string_view kKeysPath = "/ohttp-keys";
// Plaintext per sealed response chunk (the Go sealer's default and its gateway's receive limit).
inline constexpr size_t kResponseChunkPlaintext = 4096;

struct GatewayContext {
  std::shared_ptr<const GatewayKeyMaterial> keys;
  Clock clock = system_now;
  std::string bank_url;    // without a trailing slash
  std::string router_url;  // without a trailing slash
  std::optional<std::filesystem::path> key_statement;
  net::Client upstream;    // its max_response_body_bytes should be nullopt: streams are bounded by time, not size
  InnerRequestLimits request_limits;
  uint64_t max_response_bytes = uint64_t{16} << 20;  // an upstream response encapsulated whole
  std::shared_ptr<services::Metrics> metrics;        // required
};

net::Handler make_gateway_handler(std::shared_ptr<const GatewayContext> context);

}  // namespace openpcc::gateway
