// HTTP/1.1 client for http:// and https:// URLs: whole-message requests, streamed uploads (chunked, with trailers,
// each chunk flushed), and streamed responses (head, then body pieces as they arrive, then trailers).
//
// Every call runs on the executor of the calling coroutine (see runtime.h): inside a server handler that is the
// connection's strand, so a handler can relay to an upstream server while it streams.
//
// Connections are pooled (ClientOptions::pool_connections, on by default): when a ClientStream is destroyed after a
// clean exchange (request fully sent; response head, body and trailers fully read; HTTP/1.1 without
// "Connection: close"; no error, no abort), its connection waits in the Client's pool (shared by copies) for the next
// request to the same scheme, host and port made from a coroutine on the same io_context. Any other ending closes
// it: a caller that stops reading a body early, or aborts, never leaves a half-used connection behind. An idle
// connection is checked before reuse (the server may have closed it) and expires after pool_idle_timeout. fetch()
// and send() retry once on a fresh connection when a reused one fails before any response byte arrived (the body is
// in memory); streams from open() are never retried.
//
//   auto client = net::Client::create({.ca_file = "ca.pem"});         // Result<Client>; cheap to copy
//   auto res = co_await client->fetch({"POST", url, bytes});          // small bodies
//
//   net::Headers head{{"Trailer", "X-Sum"}};                  // braced lists outside co_await (GCC 12, runtime.h)
//   auto up = co_await client->open("POST", url, std::move(head));       // chunked upload
//   co_await (*up)->write_chunk(piece);                                   // flushed as one HTTP chunk
//   co_await (*up)->finish(trailers);
//   co_await (*up)->read_head();  ... (*up)->status() ...
//   for (;;) {                                                // SSE / NDJSON / OHTTP chunks as they arrive
//     auto chunk = co_await (*up)->read_chunk();
//     if (!chunk) return error; if (!*chunk) break;           // end; (*up)->trailers() is now valid
//     ...
//   }
//
// Errors: kInvalidArgument (bad URL, header or call order), kIo (DNS, connect, reset, TLS verification failure
// with a message saying so), kTimeout (connect_timeout / read_timeout / write_timeout), kLimitExceeded (response
// header or body over the limits), kDecode (malformed response).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/bytes.h"
#include "common/error.h"
#include "net/headers.h"
#include "net/runtime.h"

namespace openpcc::net {

class AbortGroup;

struct ClientOptions {
  // Name resolution + TCP connect + TLS handshake.
  std::chrono::milliseconds connect_timeout{10'000};
  // Each read of the response (head or body) must make progress within this time.
  std::chrono::milliseconds read_timeout{30'000};
  // Each write of the request must complete within this time.
  std::chrono::milliseconds write_timeout{30'000};
  size_t max_response_header_bytes = 64 * 1024;
  // nullopt = unlimited (long streams). read_all() and fetch() always honour it.
  std::optional<uint64_t> max_response_body_bytes = 64 * 1024 * 1024;
  // Certificate and host name verification for https://. Never turn it off outside tests.
  bool verify_tls = true;
  // PEM file of CA certificates to trust instead of the system store (e.g. a local stack's self-signed CA).
  std::string ca_file{};
  // Streams opened with these options belong to this group while they live (see AbortGroup); none by default.
  // Idle pooled connections belong to no group.
  std::shared_ptr<AbortGroup> abort_group{};
  // Keep connections open between requests (see the top of this file). Off: one connection per exchange, and every
  // request says "Connection: close".
  bool pool_connections = true;
  // An idle pooled connection older than this is closed instead of reused. Keep it below the servers' idle timeout
  // (ServerConfig::idle_timeout, 60 s by default) so that a server rarely closes a connection we are about to use.
  std::chrono::milliseconds pool_idle_timeout{15'000};
  // Idle connections kept per (scheme, host, port, io_context); more are closed.
  size_t pool_max_idle_per_host = 16;
};

// Not an aggregate on purpose: GCC 12 miscompiles aggregate temporaries inside co_await (see runtime.h), and
// `co_await client.fetch({"POST", url, body})` is the natural way to call.
struct ClientRequest {
  ClientRequest() = default;
  ClientRequest(std::string method_, std::string url_, Bytes body_ = {}, Headers headers_ = {})
      : method(std::move(method_)), url(std::move(url_)), headers(std::move(headers_)), body(std::move(body_)) {}

  std::string method = "GET";
  std::string url;
  Headers headers;  // Host, Content-Length and Transfer-Encoding are set by the client
  Bytes body;       // sent with Content-Length (omitted for GET/HEAD when empty)
};

struct ClientResponse {
  int status = 0;
  std::string reason;
  Headers headers;
  Bytes body;
  Headers trailers;
};

// One request/response exchange on a connection of its own while it lives (a fresh one or a pooled idle one).
class ClientStream {
 public:
  class Impl;  // defined in client.cc
  explicit ClientStream(std::unique_ptr<Impl> impl);
  ~ClientStream();
  ClientStream(const ClientStream&) = delete;
  ClientStream& operator=(const ClientStream&) = delete;

  // Upload side, for streams from Client::open(). Sends `data` now as one HTTP chunk (or raw bytes when a
  // Content-Length was given) and flushes it. Empty data is a no-op.
  Task<Status> write_chunk(ByteSpan data);
  // Ends the request body (last chunk with trailers; trailers need a chunked request).
  Task<Status> finish(const Headers& trailers = {});

  // Waits for the response status line and header fields, skipping 1xx responses. Idempotent. May be called before
  // finish() (a server may answer early) — then the upload can still continue.
  Task<Status> read_head();
  int status() const;                 // valid after read_head()
  std::string_view reason() const;
  const Headers& headers() const;

  // Next piece of the response body as it arrives (at most 16 KiB; not aligned to the sender's chunks or to SSE /
  // NDJSON records), or std::nullopt at its end (reads the head first if needed).
  Task<Result<std::optional<Bytes>>> read_chunk();
  // The whole remaining body (bounded by max_response_body_bytes).
  Task<Result<Bytes>> read_all();
  // Response trailer fields, valid after the body's end.
  const Headers& trailers() const;

  // Closes the connection now, whatever the exchange is doing: pending and later reads and writes on this stream fail
  // (kIo), and the server sees the connection end. For a request that can no longer be completed (say, the body a
  // proxy was forwarding broke off): the server stops waiting for the rest of it at once instead of after its body
  // read timeout. Call it on the executor of the coroutine that uses the stream (e.g. from the other side of a
  // run_concurrently pump). Idempotent.
  void abort();

 private:
  std::unique_ptr<Impl> impl_;
};

namespace internal {
struct AbortGroupAccess;  // client.cc
}

// A set of client streams that can be cut together from any thread: a service's shutdown uses it to end requests that
// still wait on an upstream (a node that has stalled) once its grace period is over, instead of after their read
// timeouts. Every ClientStream opened with options naming the group belongs to it while it lives (from the moment
// its TCP connection is made; name resolution and connecting are bounded by connect_timeout alone).
//
//   auto group = std::make_shared<net::AbortGroup>();
//   options.abort_group = group;                        // the options of the upstream Client
//   ... at shutdown, once the grace period is over:
//   group->abort_all();
class AbortGroup {
 public:
  AbortGroup();
  ~AbortGroup();
  AbortGroup(const AbortGroup&) = delete;
  AbortGroup& operator=(const AbortGroup&) = delete;

  // abort() on every member, each posted to its stream's executor (so members may still be closing when this
  // returns), and on every stream that joins later: from now on, the group's requests fail with kIo.
  void abort_all();
  bool aborted() const;

 private:
  friend struct internal::AbortGroupAccess;
  struct State;
  std::unique_ptr<State> state_;
};

class Client {
 public:
  // Fails with kIo/kCrypto when the CA file cannot be loaded. Copies share the TLS configuration.
  static Result<Client> create(ClientOptions options = {});

  const ClientOptions& options() const;

  // Sends a whole request and reads the whole response, including trailers.
  Task<Result<ClientResponse>> fetch(ClientRequest request);

  // Sends a whole request and returns once the response head has arrived; read the body with read_chunk()
  // (e.g. an SSE or NDJSON stream from an inference engine).
  Task<Result<std::unique_ptr<ClientStream>>> send(ClientRequest request);

  // Connects and sends the request head; the body follows with write_chunk()/finish(). The body is chunked unless
  // `headers` has a Content-Length.
  Task<Result<std::unique_ptr<ClientStream>>> open(std::string_view method, std::string_view url, Headers headers);

  // Idle connections in the pool, over every host and io_context (for tests and metrics).
  size_t idle_connection_count() const;

 private:
  struct Shared;
  explicit Client(std::shared_ptr<const Shared> shared);
  std::shared_ptr<const Shared> shared_;
};

// fetch() on a private io_context, blocking the calling thread: for CLI tools and setup code outside any runtime.
// Must not be called from a runtime thread's coroutine. Uses one connection, closed afterwards (no pooling).
Result<ClientResponse> fetch_blocking(ClientRequest request, ClientOptions options = {});

}  // namespace openpcc::net
