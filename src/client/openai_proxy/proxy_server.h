// The local OpenAI- and Ollama-compatible HTTP API (`openpcc proxy`): tools that speak OpenAI's or Ollama's API
// point at it, and every prompt goes privately through the OpenPCC stack (upstream.h: client::Client).
//
//   auto client = client::Client::create(runtime, config);           // blocking, outside the runtime
//   ProxyConfig pc;  pc.port = 8765;  pc.token = "…";                  // loopback by default
//   auto proxy = Proxy::start(runtime, pc, private_upstream(**client));
//   … (*proxy)->url() …                                                // http://127.0.0.1:8765
//   (*proxy)->shutdown(10s);  then client->close() returns the wallet's credits
//
// Endpoints:
//   POST /v1/chat/completions, /v1/completions      OpenAI; "stream": true → text/event-stream
//   POST /api/generate, /api/chat                    Ollama; streams (application/x-ndjson) unless "stream": false
//   GET  /v1/models, /v1/models/{id}                 OpenAI model list / one model (404 model_not_found)
//   GET  /api/tags                                   Ollama model list
//   GET  /_health                                    {"status":"OK"} (no token needed)
//   GET  /                                           a line of text saying what this is (no token needed)
//
// A prompt request: the body (≤ max_request_bytes, bytes passed unchanged) must be a JSON object with a "model";
// the request target — path AND query string — goes to a node that carries the tag model=<model>, as the inner
// request of a private request (the node decides what it accepts: today's nodes refuse a query string, and their
// refusal comes back as the error). The caller's header fields are not forwarded (they would tell the node the
// caller's SDK, OS and token); the inner request has Content-Type: application/json.
// The answer: a streamed one (text/event-stream, application/x-ndjson) is passed on event by event as it is
// decrypted (stream_relay.h); the first token reaches the caller while the engine still generates. Anything else
// is read whole (≤ max_response_bytes) and sent with its Content-Length. The node's inner status and Content-Type
// are kept; X-OpenPCC-Node names the node that answered.
//
// Errors (api_error.h): OpenAI's error shape on /v1 paths, Ollama's on /api paths, the message naming the failed
// step; a stream that breaks after it started ends with an error event instead. Local checks first:
//   * a token is configured → every request but /_health and / needs "Authorization: Bearer <token>" (compared in
//     constant time) → else 401 invalid_api_key;
//   * an Origin header → 403 (a web page in the user's browser could otherwise spend the user's credits);
//   * listening on loopback → the Host header must name a loopback address or localhost → else 403 (DNS
//     rebinding: a page whose name resolves to 127.0.0.1 would otherwise reach the proxy).
//
// Limits and time: max_request_bytes (413 beyond, in the API's error shape; see kDeclaredBodySlackBytes), max_response_bytes for whole answers (502 beyond), the HTTP
// server's header / body-read / write timeouts, max_connections at once, and max_request_duration per request
// (checked as the answer arrives; each read is also bounded by the client config's request_timeout).
//
// Logs: one line per request — method, path (no query), status, duration, and the error code on failure. Never a
// body, a query string, a header value or an error message (an engine's message may quote the prompt).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "client/openai_proxy/upstream.h"
#include "common/error.h"
#include "net/runtime.h"
#include "net/server.h"

namespace openpcc::client::openai_proxy {

inline constexpr uint16_t kDefaultProxyPort = 8765;
// The largest max_request_bytes Proxy::start accepts (a node takes at most 1 MiB of prompt anyway).
inline constexpr uint64_t kMaxRequestBytesCeiling = uint64_t{64} << 20;
// A declared Content-Length up to this far past max_request_bytes gets the API-shaped 413 from the handler; beyond
// it the HTTP server refuses the request itself (a plain-text 413) before any handler runs. Neither reads the body.
inline constexpr uint64_t kDeclaredBodySlackBytes = uint64_t{16} << 20;

struct ProxyConfig {
  std::string host = "127.0.0.1";  // a literal address; a non-loopback one needs a token (Proxy::start refuses)
  uint16_t port = kDefaultProxyPort;  // 0 = any free port
  std::string token;                 // empty = no token asked for (loopback only)
  uint64_t max_request_bytes = 1 << 20;       // a node accepts at most 1 MiB of prompt body; ≤ kMaxRequestBytesCeiling
  uint64_t max_response_bytes = 64 << 20;     // non-streamed answers
  std::chrono::seconds max_request_duration{600};
  size_t max_connections = 64;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_read_timeout{30'000};
  std::chrono::milliseconds write_timeout{60'000};
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

// The handler alone (what start() serves), for embedding into another server.
net::Handler make_proxy_handler(const ProxyConfig& config, std::shared_ptr<Upstream> upstream);

class Proxy {
 public:
  // Binds and serves on `runtime`. kInvalidArgument for a config that breaks the rules above (a non-loopback host
  // without a token, zero limits, max_request_bytes above kMaxRequestBytesCeiling); kIo if the address cannot be bound.
  static Result<std::unique_ptr<Proxy>> start(net::Runtime& runtime, ProxyConfig config,
                                              std::shared_ptr<Upstream> upstream);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  uint16_t port() const;
  // "http://127.0.0.1:PORT" (IPv6 in brackets).
  std::string url() const;
  // Stops accepting; requests in flight get up to `grace` to finish. Blocks; call outside the runtime's threads.
  void shutdown(std::chrono::milliseconds grace);

 private:
  Proxy(std::unique_ptr<net::Server> server, std::string host);
  std::unique_ptr<net::Server> server_;
  std::string host_;
};

}  // namespace openpcc::client::openai_proxy
