// The router's HTTP API (reference: router/http_handler.go), as one net::Handler:
//
//   GET  /_health            {"status":"OK"}
//   GET  /metrics            Prometheus text (services/common/metrics.h)
//   GET  /ping               200 "pong"
//   POST /node-events        NodeEvent (node_event.h) → 200 empty | 400 invalid or unsupported | 409 stale
//                            event_index | 503 node table full. With a node token (node_token.h; beyond the
//                            reference) the request must carry `Authorization: Bearer <token>`: without it, or with
//                            another token, 401 + JSON {"error": …} and WWW-Authenticate: Bearer, before the body is
//                            read and with the registry unchanged (logged without the token, counted as
//                            node_events_total{outcome="unauthorized"}).
//   POST /compute-manifests  X-Credit: an attestation token (special value 0); body ComputeManifestRequest{tags,
//                            limit 0..max_manifests, 0 = max} → ComputeManifestList of routable nodes with all the
//                            tags, random order. The token is consumed only once the answer is built; a bad request
//                            rolls it back.
//   POST /                   a compute request, forwarded to one of the client's candidate nodes:
//
// Compute forwarding. Checks, in order: Content-Type is a compute request media type (else 415); X-Routing-Info
// (router_api.h) and X-Credit parse (else 400); the credit verifies and its nonce locks (currency/processor.h: 400,
// 409, 410, 503). The body is read (at most max_request_bytes, else 413) and kept, so it can be replayed. The
// candidates that are routable now are tried in random order; to each the router POSTs the body with exactly
// Content-Type, X-Encapsulated-Key (that candidate's key, base64), X-Credit-Amount (the credit's amount) and, if the
// client sent `X-Confsec-Ping: routercom`, that header. No other client header reaches a node.
//   * connect error, timeout, or a status other than 2xx/4xx before the response head → the next candidate;
//   * a 4xx → passed to the client (status, Content-Type, body up to 64 KiB), the credit rolled back;
//   * nobody answered → credit rolled back, 503 Error{"all candidate nodes unavailable"};
//   * 2xx → the client gets the node's status and Content-Type, `X-Node-ID: <candidate id as sent>`,
//     `Trailer: X-Refund`, and each node chunk as soon as it arrives. At the node's end of body its
//     X-Refund-Amount trailer (base64 Currency, 0 < amount ≤ the credit's) becomes commit_with_refund → trailer
//     `X-Refund: base64(Credit)`; no (or an invalid) refund trailer → commit, no X-Refund.
//   * the node fails after its head (connection lost, timeout): the credit is committed with a refund of its full
//     value and the response ends normally with that X-Refund trailer. The client's decryption sees a truncated
//     inner message and reports a node error, but keeps its money.
//   * the client goes away mid-stream: the node connection is dropped and the credit committed (nobody is left to
//     receive a refund); the nonce is never left locked.
// Every database or signing step runs on the BlockingPool.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "currency/processor.h"
#include "net/blocking_pool.h"
#include "net/client.h"
#include "common/secure.h"
#include "net/server.h"
#include "services/common/metrics.h"
#include "services/router/registry.h"

namespace openpcc::router {

inline constexpr std::string_view kNoCandidateMessage = "all candidate nodes unavailable";

struct RouterOptions {
  size_t max_request_bytes = 8 * 1024 * 1024;  // compute request bodies (kept in memory for replays)
  size_t max_event_bytes = 4 * 1024 * 1024;    // node events (their evidence)
  size_t max_manifest_request_bytes = 64 * 1024;
  int max_manifests = 500;                     // ≤ kMaxComputeManifests
  // Requests to nodes: connect_timeout bounds each connection attempt, read_timeout the wait for the response head
  // and for each later piece of the body. max_response_body_bytes is ignored (streams are not bounded).
  net::ClientOptions node_client;
  // Unix seconds for credit checks (tests set it); default: the system clock.
  std::function<int64_t()> clock;
  // The node registration token (node_token.h) every node event must present; null: node events need none (the
  // reference's behaviour, only with allow_unauthenticated_node_events).
  std::shared_ptr<const SecretBytes> node_token;
};

// The body limit the net::Server must allow for these options.
size_t max_router_body(const RouterOptions& options);

// All references must outlive the server that runs the handler. Metrics names: openpcc_router_* (the prefix is the
// Metrics object's).
Result<net::Handler> make_router_handler(Registry& registry, const currency::Processor& processor,
                                         net::BlockingPool& pool, std::shared_ptr<services::Metrics> metrics,
                                         RouterOptions options);

}  // namespace openpcc::router
