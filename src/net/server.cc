#include "net/server.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "net/internal/beast_io.h"
#include "net/internal/read_all.h"

namespace openpcc::net {

using namespace internal;  // NOLINT: Beast aliases and helpers for this file only

namespace detail {

// What ServerRequest/ServerResponse forward to: one request on one connection. Also the only friend of those
// classes, so it creates them for the stream-specific connection code.
class ServerExchange {
 public:
  virtual ~ServerExchange() = default;
  virtual Task<Result<std::optional<Bytes>>> read_chunk() = 0;
  virtual Headers trailers() const = 0;
  virtual Task<Status> send(int status, Headers headers, ByteSpan body) = 0;
  virtual Task<Status> write_head(int status, Headers headers) = 0;
  virtual Task<Status> write_chunk(ByteSpan data) = 0;
  virtual Task<Status> finish(const Headers& trailers) = 0;

 protected:
  struct RequestInit {
    std::string method;
    std::string target;
    Headers headers;
    std::string remote_address;
    bool is_tls = false;
    std::optional<uint64_t> content_length;
    bool chunked = false;
  };
  ServerRequest make_request(RequestInit init) {
    ServerRequest r;
    r.exchange_ = this;
    r.method_ = std::move(init.method);
    r.target_ = std::move(init.target);
    r.headers_ = std::move(init.headers);
    r.remote_address_ = std::move(init.remote_address);
    r.is_tls_ = init.is_tls;
    r.content_length_ = init.content_length;
    r.chunked_ = init.chunked;
    return r;
  }
  ServerResponse make_response() {
    ServerResponse r;
    r.exchange_ = this;
    return r;
  }
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------------------
// Public request/response objects: state checks here, I/O in the connection.

Task<Result<std::optional<Bytes>>> ServerRequest::read_chunk() {
  if (exchange_ == nullptr) co_return make_error(ErrorCode::kInvalidArgument, "request is not active");
  auto piece = co_await exchange_->read_chunk();
  if (piece && !*piece) trailers_ = exchange_->trailers();
  co_return piece;
}

Task<Result<Bytes>> ServerRequest::read_all() { return internal::read_all_chunks(*this); }

Task<Status> ServerResponse::send(int status, Headers headers, ByteSpan body) {
  if (exchange_ == nullptr) co_return make_error(ErrorCode::kInvalidArgument, "response is not active");
  if (head_sent_) co_return make_error(ErrorCode::kInvalidArgument, "response already started");
  auto result = co_await exchange_->send(status, std::move(headers), body);
  if (result || result.error().code != ErrorCode::kInvalidArgument) {
    head_sent_ = true;  // bytes may have reached the client even when the write failed
    finished_ = result.has_value();
  }
  co_return result;
}

Task<Status> ServerResponse::write_head(int status, Headers headers) {
  if (exchange_ == nullptr) co_return make_error(ErrorCode::kInvalidArgument, "response is not active");
  if (head_sent_) co_return make_error(ErrorCode::kInvalidArgument, "response already started");
  auto result = co_await exchange_->write_head(status, std::move(headers));
  if (result || result.error().code != ErrorCode::kInvalidArgument) head_sent_ = true;
  co_return result;
}

Task<Status> ServerResponse::write_chunk(ByteSpan data) {
  if (exchange_ == nullptr) co_return make_error(ErrorCode::kInvalidArgument, "response is not active");
  if (!head_sent_ || finished_) co_return make_error(ErrorCode::kInvalidArgument, "write_chunk outside a streamed body");
  if (data.empty()) co_return Status{};
  co_return co_await exchange_->write_chunk(data);
}

Task<Status> ServerResponse::finish(const Headers& trailers) {
  if (exchange_ == nullptr) co_return make_error(ErrorCode::kInvalidArgument, "response is not active");
  if (!head_sent_ || finished_) co_return make_error(ErrorCode::kInvalidArgument, "finish outside a streamed body");
  auto result = co_await exchange_->finish(trailers);
  if (result) finished_ = true;
  co_return result;
}

// ---------------------------------------------------------------------------------------------------------------------
// Server internals.

namespace {

using Clock = std::chrono::steady_clock;
using ConnectionId = uint64_t;

// Linger after our last byte so that a client still sending (an oversized header or body) reads our answer before
// the close turns into a reset.
constexpr std::chrono::milliseconds kLingerTimeout{2000};
constexpr size_t kLingerMaxBytes = 1024 * 1024;

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Called from any thread; the work is posted to the connection's strand.
  virtual void notify_shutdown() = 0;
  virtual void force_close() = 0;
  // Closes the connection if it is waiting for its next request (not its first).
  virtual void close_if_idle() = 0;
};

struct ServerCore : std::enable_shared_from_this<ServerCore> {
  ServerCore(Runtime& rt, ServerConfig cfg, Handler h)
      : runtime(rt),
        config(std::move(cfg)),
        handler(std::move(h)),
        accept_strand(asio::make_strand(rt.context())),
        acceptor(accept_strand),
        slot_freed(accept_strand, Clock::time_point::max()),
        grace_timer(accept_strand) {}

  Runtime& runtime;
  const ServerConfig config;
  const Handler handler;
  std::optional<ssl::context> tls;
  asio::strand<asio::io_context::executor_type> accept_strand;
  tcp::acceptor acceptor;
  asio::steady_timer slot_freed;  // acceptor waits on it while at max_connections
  asio::steady_timer grace_timer;
  uint16_t port = 0;

  std::atomic<size_t> active{0};
  std::atomic<bool> stopping{false};

  std::mutex mutex;  // guards the members below
  std::condition_variable all_closed;
  std::unordered_map<ConnectionId, std::weak_ptr<ConnectionBase>> connections;
  ConnectionId next_id = 0;
  bool accept_loop_done = false;
  bool shutdown_started = false;

  std::vector<std::shared_ptr<ConnectionBase>> live_connections() {
    std::vector<std::shared_ptr<ConnectionBase>> out;
    std::lock_guard lock(mutex);
    for (auto& [id, weak] : connections) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  }

  void connection_closed(ConnectionId id) {
    {
      std::lock_guard lock(mutex);
      connections.erase(id);
    }
    active.fetch_sub(1);
    asio::post(accept_strand, [self = shared_from_this()] { self->slot_freed.cancel(); });
    all_closed.notify_all();
  }

  bool everything_closed() const { return connections.empty() && accept_loop_done; }

  void log_connection_event(std::string_view what, const std::string& remote) const {
    if (config.log_client_addresses) {
      spdlog::info("{}: {} (client {})", config.name, what, remote);
    } else {
      spdlog::info("{}: {}", config.name, what);
    }
  }
};

std::string format_endpoint(const tcp::endpoint& ep) {
  const auto address = ep.address();
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

std::string_view path_only(std::string_view target) { return target.substr(0, target.find('?')); }

// `body_unread`: the handler failed before the request body's end, so a kLimitExceeded of its own (a declared or
// received length over a handler-specific limit) is about that body.
int status_for_error(const Error& e, bool body_limit_hit, bool body_malformed, bool body_unread) {
  if (body_limit_hit) return 413;
  if (e.code == ErrorCode::kLimitExceeded && body_unread) return 413;
  if (body_malformed) return 400;
  return 500;
}

bool status_has_no_body(int status) { return status == 204 || status == 304 || status < 200; }

template <class Stream>
class Connection final : public ConnectionBase,
                         public detail::ServerExchange,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  template <class... StreamArgs>
  Connection(std::shared_ptr<ServerCore> core, ConnectionId id, std::string remote, StreamArgs&&... args)
      : core_(std::move(core)),
        id_(id),
        remote_(std::move(remote)),
        stream_(std::forward<StreamArgs>(args)...),
        buffer_(core_->config.max_header_bytes + 4096) {}

  void notify_shutdown() override {
    asio::post(lowest().get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->lowest().close();
    });
  }

  void close_if_idle() override {
    // Only between requests: a new connection's first request may already be on its way.
    asio::post(lowest().get_executor(), [self = this->shared_from_this()] {
      if (self->idle_ && self->requests_served_ > 0) self->lowest().close();
    });
  }

  void force_close() override {
    asio::post(lowest().get_executor(), [self = this->shared_from_this()] {
      self->forced_ = true;
      self->lowest().close();
    });
  }

  // The coroutine's parameter owns the connection for the coroutine's whole life.
  static Task<void> run(std::shared_ptr<Connection> self) {
    try {
      co_await self->serve();
    } catch (const std::exception& e) {
      spdlog::error("{}: connection failed: {}", self->core_->config.name, e.what());
    }
    self->lowest().close();
    self->core_->connection_closed(self->id_);
  }

  // --- ServerExchange ---

  Task<Result<std::optional<Bytes>>> read_chunk() override {
    if (broken_) co_return make_error(ErrorCode::kIo, "request body unavailable after an earlier error");
    if (body_done_) co_return std::nullopt;
    if (expect_continue_ && !sent_continue_ && !response_started_) {
      sent_continue_ = true;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      auto written = co_await write_buffers(stream_, asio::const_buffer(kContinue.data(), kContinue.size()),
                                            core_->config.write_timeout, "write 100 Continue");
      if (!written) {
        broken_ = true;
        co_return std::unexpected(written.error());
      }
    }
    auto piece =
        co_await read_body_piece(stream_, buffer_, *parser_, core_->config.body_read_timeout, "read request body");
    if (!piece) {
      broken_ = true;
      body_limit_hit_ = piece.error().code == ErrorCode::kLimitExceeded;
      body_malformed_ = piece.error().code == ErrorCode::kDecode;
      co_return piece;
    }
    if (!*piece) body_done_ = true;
    co_return piece;
  }

  Headers trailers() const override {
    return body_done_ ? to_headers(parser_->get(), header_field_count_) : Headers{};
  }

  Task<Status> send(int status, Headers headers, ByteSpan body) override {
    if (status < 200 || status > 999) co_return make_error(ErrorCode::kInvalidArgument, "status out of range");
    http::response<http::buffer_body> res{static_cast<http::status>(status), version_};
    if (auto ok = copy_fields(headers, res, {"Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length"});
        !ok) {
      co_return ok;
    }
    response_started_ = true;
    status_ = status;
    // An answer before the end of the request body (an early refusal) ends the connection: say so, so that the
    // client does not count on it for another request.
    res.keep_alive(keep_alive_ = keep_alive_allowed() && body_done_);
    const bool omit_body = status_has_no_body(status) || is_head_;
    if (!status_has_no_body(status)) res.content_length(body.size());
    res.body().data = omit_body ? nullptr : const_cast<uint8_t*>(body.data());
    res.body().size = omit_body ? 0 : body.size();
    res.body().more = false;
    http::response_serializer<http::buffer_body> serializer{res};
    lowest().expires_after(core_->config.write_timeout);
    ErrorCodeT ec;
    co_await http::async_write(stream_, serializer, await_ec(ec));
    if (ec) {
      broken_ = true;
      co_return std::unexpected(to_error(ec, "write response"));
    }
    co_return Status{};
  }

  Task<Status> write_head(int status, Headers headers) override {
    if (status < 200 || status > 999) co_return make_error(ErrorCode::kInvalidArgument, "status out of range");
    http::response<http::empty_body> res{static_cast<http::status>(status), version_};
    if (auto ok = copy_fields(headers, res, {"Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length"});
        !ok) {
      co_return ok;
    }
    // As in send(): a head before the request body's end promises nothing (the connection ends after the
    // exchange), so a pooling client never sends its next request into a connection being closed.
    keep_alive_ = keep_alive_allowed() && body_done_;
    std::optional<uint64_t> length;
    if (auto cl = headers.get("Content-Length")) {
      length = parse_content_length(*cl);
      if (!length) co_return make_error(ErrorCode::kInvalidArgument, "invalid Content-Length");
    }
    if (status_has_no_body(status)) {
      body_mode_ = BodyMode::kNone;
    } else if (is_head_) {
      if (length) res.content_length(*length);  // HEAD reports the length a GET would have
      body_mode_ = BodyMode::kNone;
    } else if (length) {
      res.content_length(*length);
      body_mode_ = BodyMode::kFixed;
      remaining_ = *length;
    } else if (version_ >= 11) {
      res.chunked(true);
      body_mode_ = BodyMode::kChunked;
    } else {
      body_mode_ = BodyMode::kUntilClose;
      keep_alive_ = false;
    }
    response_started_ = true;
    status_ = status;
    res.keep_alive(keep_alive_);
    http::response_serializer<http::empty_body> serializer{res};
    lowest().expires_after(core_->config.write_timeout);
    ErrorCodeT ec;
    co_await http::async_write_header(stream_, serializer, await_ec(ec));
    if (ec) {
      broken_ = true;
      co_return std::unexpected(to_error(ec, "write response head"));
    }
    co_return Status{};
  }

  Task<Status> write_chunk(ByteSpan data) override {
    if (broken_) co_return make_error(ErrorCode::kIo, "connection failed earlier");
    Status result;
    switch (body_mode_) {
      case BodyMode::kNone:
        co_return Status{};  // HEAD, 1xx, 204, 304: the body is dropped, so handlers need no special case
      case BodyMode::kFixed:
        if (data.size() > remaining_) co_return make_error(ErrorCode::kInvalidArgument, "body exceeds Content-Length");
        remaining_ -= data.size();
        result = co_await write_buffers(stream_, asio::const_buffer(data.data(), data.size()),
                                        core_->config.write_timeout, "write body");
        break;
      case BodyMode::kUntilClose:
        result = co_await write_buffers(stream_, asio::const_buffer(data.data(), data.size()),
                                        core_->config.write_timeout, "write body");
        break;
      case BodyMode::kChunked:
        result = co_await internal::write_chunk(stream_, data, core_->config.write_timeout);
        break;
    }
    if (!result) broken_ = true;
    co_return result;
  }

  Task<Status> finish(const Headers& trailers) override {
    if (broken_) co_return make_error(ErrorCode::kIo, "connection failed earlier");
    if (body_mode_ != BodyMode::kChunked) {
      if (!trailers.empty()) co_return make_error(ErrorCode::kInvalidArgument, "trailers need a chunked response");
      if (body_mode_ == BodyMode::kFixed && remaining_ != 0) {
        co_return make_error(ErrorCode::kInvalidArgument, "body shorter than Content-Length");
      }
      co_return Status{};
    }
    http::fields fields;
    if (auto ok = copy_fields(trailers, fields, {}); !ok) co_return ok;
    auto result = co_await write_last_chunk(stream_, fields, core_->config.write_timeout);
    if (!result) broken_ = true;
    co_return result;
  }

 private:
  enum class BodyMode { kNone, kFixed, kChunked, kUntilClose };

  auto& lowest() { return beast::get_lowest_layer(stream_); }

  bool keep_alive_allowed() const {
    const size_t cap = core_->config.max_requests_per_connection;
    return core_->config.keep_alive && request_keep_alive_ && !core_->stopping.load() &&
           (cap == 0 || requests_served_ < cap);
  }

  Task<void> serve() {
    const auto& config = core_->config;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      lowest().expires_after(config.header_timeout);
      ErrorCodeT ec;
      co_await stream_.async_handshake(ssl::stream_base::server, await_ec(ec));
      if (ec) {
        spdlog::debug("{}: TLS handshake failed: {}", config.name, ec.message());
        co_return;
      }
    }
    bool first = true;
    for (;;) {
      if (core_->stopping.load() || forced_) co_return;
      // At max_connections, an idle connection would hold a slot that a waiting client needs.
      if (!first && buffer_.size() == 0 && core_->active.load() >= config.max_connections) co_return;
      // Wait for the first byte of the next request: idle time, interruptible by a graceful shutdown.
      auto header_deadline = Clock::now() + config.header_timeout;
      if (buffer_.size() == 0) {
        idle_ = true;
        lowest().expires_after(first ? config.header_timeout : config.idle_timeout);
        ErrorCodeT ec;
        const size_t n = co_await stream_.async_read_some(buffer_.prepare(4096), await_ec(ec));
        idle_ = false;
        if (ec) {
          if (ec == beast::error::timeout && first) {
            core_->log_connection_event("header timeout, connection closed", remote_);
          }
          co_return;
        }
        buffer_.commit(n);
        if (!first) header_deadline = Clock::now() + config.header_timeout;
      }
      first = false;
      const bool keep_going = co_await serve_one(header_deadline);
      if (!keep_going) co_return;
    }
  }

  // One request. Returns whether the connection may serve another.
  Task<bool> serve_one(Clock::time_point header_deadline) {
    const auto& config = core_->config;
    reset_request_state();
    ++requests_served_;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(config.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(config.max_body_bytes);

    lowest().expires_at(header_deadline);
    ErrorCodeT ec;
    co_await http::async_read_header(stream_, buffer_, *parser_, await_ec(ec));
    if (ec) {
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        core_->log_connection_event("request header too large, answered 431", remote_);
        co_await reply_and_close(431, "request header fields too large\n");
      } else if (ec == http::error::body_limit) {
        core_->log_connection_event("declared body too large, answered 413", remote_);
        co_await reply_and_close(413, "request body too large\n");
      } else if (ec == beast::error::timeout) {
        core_->log_connection_event("header timeout, connection closed", remote_);
      } else if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
                 ec.category() != http::make_error_code(http::error::bad_method).category()) {
        // The peer went away or the socket failed: nothing to answer.
        spdlog::debug("{}: connection ended while reading a request header: {}", config.name, ec.message());
      } else {
        core_->log_connection_event("malformed request (" + ec.message() + "), answered 400", remote_);
        co_await reply_and_close(400, "bad request\n");
      }
      co_return false;
    }

    const auto& msg = parser_->get();
    version_ = msg.version();
    request_keep_alive_ = msg.keep_alive();
    is_head_ = msg.method() == http::verb::head;
    header_field_count_ = field_count(msg);
    body_done_ = parser_->is_done();
    const auto expect = msg[http::field::expect];
    expect_continue_ = version_ >= 11 && beast::iequals(expect, "100-continue");

    RequestInit init;
    init.method = std::string(msg.method_string());
    init.target = std::string(msg.target());
    init.headers = to_headers(msg);
    init.remote_address = remote_;
    init.is_tls = std::is_same_v<Stream, TlsStream>;
    init.chunked = parser_->chunked();
    if (!init.chunked) {
      if (auto length = parser_->content_length()) init.content_length = *length;
    }
    const std::string method = init.method;
    const std::string path(path_only(init.target));
    ServerRequest request = make_request(std::move(init));
    ServerResponse response = make_response();

    const auto started = Clock::now();
    Status outcome;
    try {
      outcome = co_await core_->handler(request, response);
    } catch (const std::exception& e) {
      outcome = make_error(ErrorCode::kInternal, std::string("handler threw: ") + e.what());
    } catch (...) {
      outcome = make_error(ErrorCode::kInternal, "handler threw a non-standard exception");
    }
    if (outcome && !response.finished()) {
      outcome = make_error(ErrorCode::kInternal, "handler returned without completing the response");
    }
    const auto elapsed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();

    if (!outcome) {
      if (!response.head_sent() && !forced_) {
        const int status = status_for_error(outcome.error(), body_limit_hit_, body_malformed_, !body_done_);
        if (!broken_ || body_limit_hit_ || body_malformed_) {
          spdlog::warn("{}: {} {} failed before responding ({}), answering {}", config.name, method, path,
                       outcome.error().to_string(), status);
          co_await reply_and_close(status, status == 413   ? "request body too large\n"
                                           : status == 400 ? "bad request\n"
                                                           : "internal error\n");
        } else {
          spdlog::warn("{}: {} {} failed before responding ({}); the connection is unusable, closing it", config.name,
                       method, path, outcome.error().to_string());
        }
      } else {
        spdlog::warn("{}: {} {} failed after the response started ({}); closing the connection", config.name, method,
                     path, outcome.error().to_string());
      }
      co_return false;
    }
    spdlog::debug("{}: {} {} -> {} ({} ms)", config.name, method, path, status_, elapsed_ms);

    if (forced_ || broken_) co_return false;
    if (!body_done_ || !keep_alive_) {
      co_await close_gracefully();
      co_return false;
    }
    co_return true;
  }

  void reset_request_state() {
    parser_.reset();
    header_field_count_ = 0;
    body_done_ = false;
    broken_ = false;
    body_limit_hit_ = false;
    body_malformed_ = false;
    expect_continue_ = false;
    sent_continue_ = false;
    response_started_ = false;
    keep_alive_ = false;
    request_keep_alive_ = false;
    is_head_ = false;
    body_mode_ = BodyMode::kNone;
    remaining_ = 0;
    status_ = 0;
    version_ = 11;
  }

  // Answers with a short text body and closes the connection.
  Task<void> reply_and_close(int status, std::string_view body) {
    if (forced_) co_return;
    http::response<http::string_body> res{static_cast<http::status>(status), version_ == 10 ? 10u : 11u};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.keep_alive(false);
    res.body() = std::string(body);
    res.prepare_payload();
    lowest().expires_after(core_->config.write_timeout);
    ErrorCodeT ec;
    co_await http::async_write(stream_, res, await_ec(ec));
    status_ = status;
    if (!ec) co_await close_gracefully();
  }

  // Half-closes, then reads and discards what the client still sends for a short while, so that our last response
  // is not destroyed by a reset when the client's unread data reaches a closed socket.
  Task<void> close_gracefully() {
    if (forced_) co_return;
    ErrorCodeT ec;
    // No TLS close_notify exchange: HTTP framing already delimits every message we send, and waiting for the
    // peer's close_notify would only add latency.
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    idle_ = true;  // nothing left to deliver: a graceful shutdown may cut the linger short
    if (core_->stopping.load()) co_return;
    std::vector<char> scratch(16 * 1024);
    size_t drained = 0;
    const auto deadline = Clock::now() + kLingerTimeout;
    while (drained < kLingerMaxBytes && !forced_) {
      lowest().expires_at(deadline);
      const size_t n = co_await lowest().async_read_some(asio::buffer(scratch), await_ec(ec));
      if (ec) break;
      drained += n;
    }
    idle_ = false;
  }

  std::shared_ptr<ServerCore> core_;
  const ConnectionId id_;
  const std::string remote_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;

  bool idle_ = false;    // waiting for the next request; a graceful shutdown may close it
  bool forced_ = false;  // closed by shutdown after the grace period
  size_t requests_served_ = 0;  // on this connection, counting the current one

  // Per-request state.
  size_t header_field_count_ = 0;
  bool body_done_ = false;
  bool broken_ = false;  // an I/O error happened; the connection cannot continue
  bool body_limit_hit_ = false;
  bool body_malformed_ = false;
  bool expect_continue_ = false;
  bool sent_continue_ = false;
  bool response_started_ = false;
  bool keep_alive_ = false;
  bool request_keep_alive_ = false;
  bool is_head_ = false;
  BodyMode body_mode_ = BodyMode::kNone;
  uint64_t remaining_ = 0;
  int status_ = 0;
  unsigned version_ = 11;
};

Task<void> accept_loop(std::shared_ptr<ServerCore> core) {
  const auto& config = core->config;
  for (;;) {
    while (core->active.load() >= config.max_connections && !core->stopping.load()) {
      // Full: idle keep-alive connections (a pooling client's spares) give way to the ones waiting to be accepted.
      for (auto& c : core->live_connections()) c->close_if_idle();
      core->slot_freed.expires_at(Clock::time_point::max());
      ErrorCodeT ec;
      co_await core->slot_freed.async_wait(await_ec(ec));
    }
    if (core->stopping.load()) break;

    auto connection_strand = asio::make_strand(core->runtime.context());
    tcp::socket socket(connection_strand);
    ErrorCodeT ec;
    co_await core->acceptor.async_accept(socket, await_ec(ec));
    if (ec) {
      if (core->stopping.load() || ec == asio::error::operation_aborted) break;
      spdlog::warn("{}: accept failed: {}", config.name, ec.message());
      // Out of descriptors or similar: back off instead of spinning.
      asio::steady_timer backoff(core->accept_strand, std::chrono::milliseconds(100));
      co_await backoff.async_wait(await_ec(ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);  // every flushed chunk should leave at once
    tcp::endpoint peer = socket.remote_endpoint(ec);
    std::string remote = ec ? std::string("unknown") : format_endpoint(peer);

    // Register before the connection's coroutine starts, so that its exit always finds its entry.
    std::unique_lock lock(core->mutex);
    if (core->stopping.load()) break;  // the socket closes as it goes out of scope
    const ConnectionId id = core->next_id++;
    core->active.fetch_add(1);
    if (core->tls) {
      auto c = std::make_shared<Connection<TlsStream>>(core, id, remote, std::move(socket), *core->tls);
      core->connections.emplace(id, c);
      lock.unlock();
      asio::co_spawn(connection_strand, Connection<TlsStream>::run(c), asio::detached);
    } else {
      auto c = std::make_shared<Connection<PlainStream>>(core, id, remote, std::move(socket));
      core->connections.emplace(id, c);
      lock.unlock();
      asio::co_spawn(connection_strand, Connection<PlainStream>::run(c), asio::detached);
    }
  }
  {
    std::lock_guard lock(core->mutex);
    core->accept_loop_done = true;
  }
  core->all_closed.notify_all();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------------

struct Server::State {
  std::shared_ptr<ServerCore> core;
};

Server::Server(std::shared_ptr<State> state) : state_(std::move(state)) {}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

uint16_t Server::port() const { return state_->core->port; }

size_t Server::connection_count() const { return state_->core->active.load(); }

Result<std::unique_ptr<Server>> Server::start(Runtime& runtime, ServerConfig config, Handler handler) {
  if (!handler) return make_error(ErrorCode::kInvalidArgument, "server: no handler");
  if (config.max_connections == 0) return make_error(ErrorCode::kInvalidArgument, "server: max_connections is 0");
  if (config.max_header_bytes < 256) return make_error(ErrorCode::kInvalidArgument, "server: max_header_bytes < 256");
  ErrorCodeT ec;
  const auto address = asio::ip::make_address(config.host, ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "server: host must be an IP address: " + config.host);

  auto core = std::make_shared<ServerCore>(runtime, std::move(config), std::move(handler));
  const auto& cfg = core->config;
  if (cfg.tls) {
    core->tls.emplace(ssl::context::tls_server);
    auto& ctx = *core->tls;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    ctx.use_certificate_chain_file(cfg.tls->certificate_chain_file, ec);
    if (ec) {
      return make_error(ErrorCode::kCrypto, "server: cannot load certificate chain " +
                                                cfg.tls->certificate_chain_file + ": " + ec.message());
    }
    ctx.use_private_key_file(cfg.tls->private_key_file, ssl::context::pem, ec);
    if (ec) {
      return make_error(ErrorCode::kCrypto,
                        "server: cannot load private key " + cfg.tls->private_key_file + ": " + ec.message());
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      return make_error(ErrorCode::kCrypto, "server: private key does not match the certificate");
    }
  }

  const tcp::endpoint endpoint(address, cfg.port);
  auto& acceptor = core->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, "server: cannot listen on " + format_endpoint(endpoint) + ": " + ec.message());
  }
  core->port = acceptor.local_endpoint(ec).port();
  spdlog::info("{}: listening on {}:{}{}", cfg.name, cfg.host, core->port, cfg.tls ? " (TLS)" : "");

  asio::co_spawn(core->accept_strand, accept_loop(core), asio::detached);
  auto state = std::make_shared<State>();
  state->core = std::move(core);
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

void Server::shutdown(std::chrono::milliseconds grace) {
  auto core = state_->core;
  bool first_call = false;
  {
    std::lock_guard lock(core->mutex);
    if (!core->shutdown_started) {
      core->shutdown_started = true;
      core->stopping.store(true);
      first_call = true;
    }
  }
  if (first_call) {
    spdlog::info("{}: shutting down (grace {} ms)", core->config.name, grace.count());
    asio::post(core->accept_strand, [core, grace] {
      ErrorCodeT ec;
      core->acceptor.close(ec);
      core->slot_freed.cancel();
      core->grace_timer.expires_after(grace);
      core->grace_timer.async_wait([core](const ErrorCodeT& ec) {
        if (ec) return;
        for (auto& c : core->live_connections()) c->force_close();
      });
    });
    for (auto& c : core->live_connections()) c->notify_shutdown();
  }
  if (core->runtime.in_runtime_thread()) {
    spdlog::warn("{}: shutdown() called on a runtime thread; not waiting for connections", core->config.name);
    return;
  }
  std::unique_lock lock(core->mutex);
  core->all_closed.wait(lock, [&] { return core->everything_closed(); });
  lock.unlock();
  asio::post(core->accept_strand, [core] { core->grace_timer.cancel(); });
}

}  // namespace openpcc::net
