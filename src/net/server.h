// HTTP/1.1 server with streaming request and response bodies, trailers, limits and timeouts; optionally over TLS.
//
// A service supplies one Handler coroutine per request:
//
//   net::Handler handler = [](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
//     while (true) {                                  // stream the request body as it arrives
//       auto chunk = co_await req.read_chunk();
//       if (!chunk) co_return std::unexpected(chunk.error());   // 413 / 400 / 500 as described below
//       if (!*chunk) break;                           // end of body; req.trailers() is now valid
//       ...
//     }
//     net::Headers head{{"Content-Type", "application/octet-stream"}, {"Trailer", "X-Done"}};  // (GCC 12: braced
//     if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;       //  lists outside co_await)
//     if (auto ok = co_await res.write_chunk(data); !ok) co_return ok;   // one HTTP chunk, flushed to the socket
//     net::Headers trailers{{"X-Done", "1"}};
//     co_return co_await res.finish(trailers);
//   };
//   auto server = net::Server::start(runtime, config, handler);   // Result<std::unique_ptr<Server>>
//   ... (*server)->port() ...
//   (*server)->shutdown(std::chrono::seconds(10));
//
// See runtime.h for the threading model. The handler runs on the connection's strand and may call other servers with
// net::Client while it streams (relay, gateway, router).
//
// Error handling: if the handler returns an error or throws, and nothing has been sent yet, the server answers with a
// generic body and status 413 (the request body exceeded max_body_bytes, or the handler failed with kLimitExceeded
// before the body's end: its own, tighter limit), 400 (the request body was malformed) or 500 (anything else); the
// error message is logged, never sent. If the response had already started, the connection is
// closed (the client sees a truncated message). A handler that returns success without having sent a complete
// response is treated the same way. Nothing a handler does can crash the server.
//
// Early answers: a handler may answer without reading the request body (e.g. a declared Content-Length over its
// limit). The response then says "Connection: close", and the server reads and discards what the client still sends
// for a short while before closing, so that a client busy uploading gets to read the answer.
//
// Logging (spdlog default logger): connection/request failures and a per-request debug line with method, path
// (query string removed), status and duration. Bodies are never logged; client addresses only when
// log_client_addresses is set.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "net/headers.h"
#include "net/runtime.h"

namespace openpcc::net {

namespace detail {
class ServerExchange;  // per-request connection state, defined in server.cc
}

struct TlsServerFiles {
  std::string certificate_chain_file;  // PEM, leaf first
  std::string private_key_file;        // PEM
};

struct ServerConfig {
  std::string host = "127.0.0.1";  // address to bind (a literal IP address; "::" / "0.0.0.0" for all)
  uint16_t port = 0;               // 0 = any free port; Server::port() reports the bound one
  size_t max_header_bytes = 16 * 1024;           // request line + header fields; over it → 431 and close
  uint64_t max_body_bytes = 16 * 1024 * 1024;    // per request body; over it → 413 and close
  // The whole request header must arrive within this time of its first byte (of the connection's start, for the
  // first request); a client that trickles its header is disconnected.
  std::chrono::milliseconds header_timeout{10'000};
  // Each read of the request body must make progress within this time.
  std::chrono::milliseconds body_read_timeout{30'000};
  // Each write of the response must complete within this time (a client that stops reading is cut off).
  std::chrono::milliseconds write_timeout{30'000};
  // How long a keep-alive connection may sit idle between requests (Clients drop pooled connections sooner, after
  // ClientOptions::pool_idle_timeout, so that they rarely send on one the server is closing).
  std::chrono::milliseconds idle_timeout{60'000};
  // The response to a connection's request number N says "Connection: close", and the connection ends: long-lived
  // pooled connections are recycled now and then (0 = no cap).
  size_t max_requests_per_connection = 1000;
  // Further connections wait in the kernel's accept queue until one closes.
  size_t max_connections = 1024;
  bool keep_alive = true;
  std::optional<TlsServerFiles> tls{};  // set → HTTPS only (TLS 1.2+)
  bool log_client_addresses = false;  // relays must leave this off
  std::string name = "http";          // prefix of log lines, e.g. "relay"
};

// The request being handled. Valid only during the handler call.
class ServerRequest {
 public:
  std::string_view method() const { return method_; }
  std::string_view target() const { return target_; }  // as sent: origin-form path and query
  const Headers& headers() const { return headers_; }
  // "ip:port" of the peer. Available to the handler; logged only if the server config says so.
  std::string_view remote_address() const { return remote_address_; }
  bool is_tls() const { return is_tls_; }
  // The declared Content-Length, if the body is not chunked.
  std::optional<uint64_t> content_length() const { return content_length_; }
  bool is_chunked() const { return chunked_; }

  // Next piece of the body as it arrives (at most 16 KiB; not aligned to the sender's chunks), or std::nullopt once
  // the body has ended. Errors: kLimitExceeded (max_body_bytes), kTimeout (body_read_timeout), kDecode (malformed
  // chunked encoding), kIo (connection lost). After an error the connection will be closed. Answers
  // "Expect: 100-continue" on the first call.
  Task<Result<std::optional<Bytes>>> read_chunk();
  // The whole (remaining) body; fails with kLimitExceeded beyond max_body_bytes.
  Task<Result<Bytes>> read_all();
  // Chunked-body trailer fields; valid once read_chunk() returned std::nullopt (empty otherwise).
  const Headers& trailers() const { return trailers_; }

 private:
  friend class detail::ServerExchange;
  ServerRequest() = default;
  detail::ServerExchange* exchange_ = nullptr;
  std::string method_;
  std::string target_;
  Headers headers_;
  Headers trailers_;
  std::string remote_address_;
  bool is_tls_ = false;
  std::optional<uint64_t> content_length_;
  bool chunked_ = false;
};

// Writes the response: either send() once, or write_head(), any number of write_chunk(), then finish().
// Transfer-Encoding and Connection are managed here and dropped from the given headers. Every call returns an error
// (kInvalidArgument) when used out of order or given an invalid header, and kIo/kTimeout when the client is gone.
class ServerResponse {
 public:
  // A complete response with Content-Length (the body is omitted for HEAD requests and 1xx/204/304 statuses).
  Task<Status> send(int status, Headers headers, ByteSpan body = {});
  Task<Status> send(int status, Headers headers, std::string_view body) {
    return send(status, std::move(headers), as_bytes(body));
  }

  // Starts a streamed response. With a Content-Length header the body is sent as-is and its length must match
  // (no trailers); otherwise it is chunked (HTTP/1.1) or ended by closing the connection (HTTP/1.0 clients).
  // Declare trailers you will send with a "Trailer" header, as HTTP asks.
  Task<Status> write_head(int status, Headers headers);
  // Sends `data` now as one HTTP chunk and flushes it to the socket. Empty data is a no-op, and so is any data for a
  // response without a body (HEAD request, 204, 304).
  Task<Status> write_chunk(ByteSpan data);
  // Ends the body: the last chunk with `trailers` (trailers need a chunked response).
  Task<Status> finish(const Headers& trailers = {});

  bool head_sent() const { return head_sent_; }
  bool finished() const { return finished_; }

 private:
  friend class detail::ServerExchange;
  ServerResponse() = default;
  detail::ServerExchange* exchange_ = nullptr;
  bool head_sent_ = false;
  bool finished_ = false;
};

// Returns success once a complete response was sent (see the error rules above).
using Handler = std::function<Task<Status>(ServerRequest&, ServerResponse&)>;

class Server {
 public:
  // Binds, listens and starts accepting on `runtime`. Errors: kInvalidArgument (bad host or config), kIo (bind/listen
  // failed, e.g. port in use), kCrypto (TLS files could not be loaded).
  static Result<std::unique_ptr<Server>> start(Runtime& runtime, ServerConfig config, Handler handler);

  // shutdown(0 s) if not already shut down.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;

  // Graceful shutdown: stops accepting at once, closes idle keep-alive connections, lets requests in flight finish
  // (their responses say "Connection: close") for up to `grace`, then closes every remaining connection, and waits
  // until every handler has returned. A handler whose connection was closed sees errors from its reads and writes and
  // must return. Blocks; call it from outside the runtime's threads (from a runtime thread it only starts the shutdown
  // and returns). Idempotent.
  void shutdown(std::chrono::milliseconds grace);

  // Number of open connections (for tests and metrics).
  size_t connection_count() const;

 private:
  struct State;
  explicit Server(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace openpcc::net
