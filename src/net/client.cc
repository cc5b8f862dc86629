#include "net/client.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>
#include <variant>
#include <vector>

#include "net/internal/beast_io.h"
#include "net/internal/read_all.h"
#include "net/url.h"

namespace openpcc::net {

using namespace internal;  // NOLINT: Beast aliases and helpers for this file only

namespace {
class ConnectionPool;
}

struct Client::Shared {
  ClientOptions options;
  std::shared_ptr<ssl::context> tls;
  std::shared_ptr<ConnectionPool> pool;  // null when pooling is off
};

// Stream-independent part of one exchange; ClientConnection<Stream> does the I/O.
class ClientStream::Impl {
 public:
  virtual ~Impl() = default;
  virtual Task<Status> write_chunk(ByteSpan data) = 0;
  virtual Task<Status> finish(const Headers& trailers) = 0;
  virtual Task<Status> read_head() = 0;
  virtual Task<Result<std::optional<Bytes>>> read_chunk() = 0;
  virtual void abort() = 0;
  // Whether any byte of a response arrived (a failed exchange without one may be retried on a fresh connection).
  virtual bool response_started() const = 0;

  int status = 0;
  std::string reason;
  Headers headers;
  Headers trailers;
  std::optional<uint64_t> body_limit;
};

// ---------------------------------------------------------------------------------------------------------------------
// Abort groups.

namespace internal {

// One stream's entry in an AbortGroup. `impl` is cleared (under the mutex) when the stream goes away, so a late
// abort finds nothing to close.
struct AbortMember {
  std::mutex mutex;
  ClientStream::Impl* impl = nullptr;
  asio::any_io_executor executor;
};

struct AbortGroupAccess {
  // Adds `member`; false if the group has already been aborted (the stream must then abort itself).
  static bool join(AbortGroup& group, const std::shared_ptr<AbortMember>& member);
};

}  // namespace internal

struct AbortGroup::State {
  mutable std::mutex mutex;
  bool aborted = false;
  std::vector<std::weak_ptr<internal::AbortMember>> members;
  size_t prune_at = 64;  // drop the entries of finished streams when the list reaches this size
};

AbortGroup::AbortGroup() : state_(std::make_unique<State>()) {}
AbortGroup::~AbortGroup() = default;

bool AbortGroup::aborted() const {
  std::lock_guard lock(state_->mutex);
  return state_->aborted;
}

void AbortGroup::abort_all() {
  std::vector<std::shared_ptr<internal::AbortMember>> live;
  {
    std::lock_guard lock(state_->mutex);
    state_->aborted = true;
    for (const auto& weak : state_->members) {
      if (auto member = weak.lock()) live.push_back(std::move(member));
    }
    state_->members.clear();
  }
  // Each stream is closed on its own executor: its socket is not safe to touch from this thread.
  for (auto& member : live) {
    asio::post(member->executor, [member] {
      std::lock_guard lock(member->mutex);
      if (member->impl != nullptr) member->impl->abort();
    });
  }
}

bool internal::AbortGroupAccess::join(AbortGroup& group, const std::shared_ptr<AbortMember>& member) {
  AbortGroup::State& state = *group.state_;
  std::lock_guard lock(state.mutex);
  if (state.aborted) return false;
  if (state.members.size() >= state.prune_at) {
    std::erase_if(state.members, [](const auto& weak) { return weak.expired(); });
    state.prune_at = std::max<size_t>(64, 2 * state.members.size());
  }
  state.members.push_back(member);
  return true;
}

namespace {

using Clock = std::chrono::steady_clock;

enum class UploadMode { kDone, kChunked, kFixed };

// ---------------------------------------------------------------------------------------------------------------------
// Connection pool.

// Where a pooled connection may be used again. The io_context is part of the key: a socket is registered with the
// reactor of the context it was made on and must never be driven from another one.
struct PoolKey {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  const asio::execution_context* context = nullptr;

  auto tie() const { return std::tie(tls, host, port, context); }
  bool operator<(const PoolKey& other) const { return tie() < other.tie(); }
};

// Whether an idle connection can carry another request: the server has not closed it (EOF), reset it, or sent
// anything unasked (no clean state to continue from). A non-blocking peek, so it never waits.
bool idle_socket_usable(tcp::socket& socket) {
  if (!socket.is_open()) return false;
  uint8_t byte = 0;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return false;  // 0: the server closed it; > 0: unexpected bytes
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

bool idle_stream_usable(PlainStream& stream) { return idle_socket_usable(stream.socket()); }
bool idle_stream_usable(TlsStream& stream) {
  // Decrypted bytes nobody asked for (or a pending close_notify) mean the same as raw ones.
  if (SSL_pending(stream.native_handle()) > 0) return false;
  return idle_socket_usable(beast::get_lowest_layer(stream).socket());
}

class ConnectionPool;

// One per io_context that has pooled connections (an Asio service, so it lives and dies with the context): when the
// context shuts down, every pool drops that context's idle connections while its reactor still exists, and refuses
// any it would be handed later (say, by a coroutine frame destroyed during the shutdown). This also keeps a later
// context that happens to get the same address from finding stale sockets.
class PoolRegistry final : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;  // Asio's service identity, never written

  explicit PoolRegistry(asio::execution_context& owner) : asio::execution_context::service(owner) {}

  // Runs `insert` (which stores an idle connection of this context in `pool`) unless the context is shutting down;
  // false then. Under the registry's lock, so a shutdown either sees the connection or refuses it.
  template <class Insert>
  bool insert_if_live(const std::shared_ptr<ConnectionPool>& pool, Insert&& insert) {
    std::lock_guard lock(mutex_);
    if (shut_down_) return false;
    auto& entry = pools_[pool.get()];
    if (entry.expired()) entry = pool;  // new, or a new pool at a freed pool's address
    insert();
    return true;
  }

 private:
  void shutdown() override;

  std::mutex mutex_;
  bool shut_down_ = false;
  std::map<const ConnectionPool*, std::weak_ptr<ConnectionPool>> pools_;
};

class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  ConnectionPool(std::chrono::milliseconds idle_timeout, size_t max_idle_per_key)
      : idle_timeout_(idle_timeout), max_idle_per_key_(max_idle_per_key) {}

  // The most recently returned usable connection for `key`, or null. Expired and dead ones are closed on the way.
  template <class Stream>
  std::unique_ptr<Stream> take(const PoolKey& key) {
    std::vector<Idle> discard;  // closed outside the lock
    std::unique_ptr<Stream> found;
    {
      std::lock_guard lock(mutex_);
      auto it = idle_.find(key);
      if (it == idle_.end()) return nullptr;
      auto& list = it->second;
      const auto now = Clock::now();
      while (!list.empty() && !found) {
        Idle entry = std::move(list.back());
        list.pop_back();
        auto& stream = std::get<std::unique_ptr<Stream>>(entry.stream);
        if (now - entry.since < idle_timeout_ && idle_stream_usable(*stream)) {
          found = std::move(stream);
        } else {
          discard.push_back(std::move(entry));
        }
      }
      if (list.empty()) idle_.erase(it);
    }
    return found;
  }

  // Keeps `stream` for reuse (or closes it: the key already holds the maximum, or the context is shutting down).
  template <class Stream>
  void put(const PoolKey& key, std::unique_ptr<Stream> stream) {
    if (max_idle_per_key_ == 0) return;
    std::vector<Idle> discard;
    auto& registry = asio::use_service<PoolRegistry>(const_cast<asio::execution_context&>(*key.context));
    registry.insert_if_live(shared_from_this(), [&] {
      std::lock_guard lock(mutex_);
      const auto now = Clock::now();
      // Expired entries of every key go now: the pool should not hold descriptors for hosts no longer called.
      for (auto it = idle_.begin(); it != idle_.end();) {
        auto& list = it->second;
        while (!list.empty() && now - list.front().since >= idle_timeout_) {
          discard.push_back(std::move(list.front()));
          list.pop_front();
        }
        it = list.empty() ? idle_.erase(it) : std::next(it);
      }
      auto& list = idle_[key];
      if (list.size() >= max_idle_per_key_) {
        discard.push_back(std::move(list.front()));  // the oldest
        list.pop_front();
      }
      list.push_back(Idle{std::move(stream), now});
    });
  }

  // Closes every idle connection of `context` (it is shutting down).
  void drop_context(const asio::execution_context* context) {
    std::vector<Idle> discard;
    {
      std::lock_guard lock(mutex_);
      for (auto it = idle_.begin(); it != idle_.end();) {
        if (it->first.context != context) {
          ++it;
          continue;
        }
        for (auto& entry : it->second) discard.push_back(std::move(entry));
        it = idle_.erase(it);
      }
    }
  }

  size_t idle_count() const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& [key, list] : idle_) n += list.size();
    return n;
  }

 private:
  struct Idle {
    std::variant<std::unique_ptr<PlainStream>, std::unique_ptr<TlsStream>> stream;
    Clock::time_point since;
  };

  const std::chrono::milliseconds idle_timeout_;
  const size_t max_idle_per_key_;
  mutable std::mutex mutex_;
  std::map<PoolKey, std::deque<Idle>> idle_;  // per key, oldest first
};

void PoolRegistry::shutdown() {
  std::vector<std::shared_ptr<ConnectionPool>> pools;
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    for (auto& [address, weak] : pools_) {
      if (auto pool = weak.lock()) pools.push_back(std::move(pool));
    }
    pools_.clear();
  }
  for (auto& pool : pools) pool->drop_context(&context());
}

// ---------------------------------------------------------------------------------------------------------------------
// One exchange.

Result<http::verb> checked_method(std::string_view method) {
  if (!is_valid_field_name(method)) return make_error(ErrorCode::kInvalidArgument, "invalid HTTP method");
  return http::string_to_verb(beast::string_view(method.data(), method.size()));
}

template <class Request>
Status prepare_request_head(Request& req, std::string_view method, const Url& url, const Headers& headers,
                            bool keep_alive) {
  auto verb = checked_method(method);
  if (!verb) return std::unexpected(verb.error());
  if (*verb == http::verb::unknown) {
    req.method_string(beast::string_view(method.data(), method.size()));
  } else {
    req.method(*verb);
  }
  req.target(url.target);
  req.version(11);
  if (auto ok = copy_fields(headers, req, {"Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive"});
      !ok) {
    return ok;
  }
  req.set(http::field::host, url.authority());
  // Without a pool, one connection per exchange: say so, and the server need not keep it open. HTTP/1.1 keeps
  // connections open by default, so a pooling client sends nothing.
  if (!keep_alive) req.keep_alive(false);
  return {};
}

// Where a finished exchange's connection goes.
struct PoolReturn {
  std::shared_ptr<ConnectionPool> pool;  // null: close it
  PoolKey key;
};

template <class Stream>
class ClientConnection final : public ClientStream::Impl {
 public:
  ClientConnection(std::unique_ptr<Stream> stream, const ClientOptions& options, bool is_head,
                   const asio::any_io_executor& executor, PoolReturn pool_return)
      : stream_(std::move(stream)),
        options_(options),
        is_head_(is_head),
        buffer_(options.max_response_header_bytes + 4096),
        pool_return_(std::move(pool_return)) {
    body_limit = options.max_response_body_bytes;
    if (options.abort_group) {
      member_ = std::make_shared<internal::AbortMember>();
      member_->impl = this;
      // The calling coroutine's executor, not the socket's: a pooled socket may have been made on another strand.
      member_->executor = executor;
      if (!internal::AbortGroupAccess::join(*options.abort_group, member_)) abort();
    }
  }

  ~ClientConnection() override {
    if (member_) {
      std::lock_guard lock(member_->mutex);
      member_->impl = nullptr;
    }
    if (pool_return_.pool && reusable()) {
      pool_return_.pool->put(pool_return_.key, std::move(stream_));
      return;
    }
    ErrorCodeT ec;
    beast::get_lowest_layer(*stream_).socket().close(ec);
  }

  void abort() override {
    aborted_ = true;
    broken_ = true;
    // Closing cancels the pending operations (they complete with errors) and ends the connection for the server.
    beast::get_lowest_layer(*stream_).close();
  }

  bool response_started() const override {
    return buffer_.size() > 0 || (parser_ && parser_->got_some()) || head_read_ || interim_seen_;
  }

  Stream& stream() { return *stream_; }

  void set_upload(UploadMode mode, uint64_t remaining) {
    upload_ = mode;
    remaining_ = remaining;
  }
  void mark_broken() { broken_ = true; }

  Task<Status> write_chunk(ByteSpan data) override {
    if (upload_ == UploadMode::kDone) co_return make_error(ErrorCode::kInvalidArgument, "request body already ended");
    if (aborted_) co_return make_error(ErrorCode::kIo, "connection aborted");
    if (broken_) co_return make_error(ErrorCode::kIo, "connection failed earlier");
    if (data.empty()) co_return Status{};
    Status result;
    if (upload_ == UploadMode::kFixed) {
      if (data.size() > remaining_) co_return make_error(ErrorCode::kInvalidArgument, "body exceeds Content-Length");
      remaining_ -= data.size();
      result = co_await write_buffers(*stream_, asio::const_buffer(data.data(), data.size()), options_.write_timeout,
                                      "write request body");
    } else {
      result = co_await internal::write_chunk(*stream_, data, options_.write_timeout);
    }
    if (!result) broken_ = true;
    co_return result;
  }

  Task<Status> finish(const Headers& trailers) override {
    if (upload_ == UploadMode::kDone) co_return make_error(ErrorCode::kInvalidArgument, "request body already ended");
    if (aborted_) co_return make_error(ErrorCode::kIo, "connection aborted");
    if (broken_) co_return make_error(ErrorCode::kIo, "connection failed earlier");
    if (upload_ == UploadMode::kFixed) {
      if (!trailers.empty()) co_return make_error(ErrorCode::kInvalidArgument, "trailers need a chunked request");
      if (remaining_ != 0) co_return make_error(ErrorCode::kInvalidArgument, "body shorter than Content-Length");
      upload_ = UploadMode::kDone;
      co_return Status{};
    }
    http::fields fields;
    if (auto ok = copy_fields(trailers, fields, {}); !ok) co_return ok;
    auto result = co_await write_last_chunk(*stream_, fields, options_.write_timeout);
    if (!result) broken_ = true;
    upload_ = UploadMode::kDone;
    co_return result;
  }

  Task<Status> read_head() override {
    if (head_read_) co_return Status{};
    if (aborted_) co_return make_error(ErrorCode::kIo, "connection aborted");
    if (head_failed_) co_return make_error(ErrorCode::kIo, "response head unavailable after an earlier error");
    for (;;) {
      parser_.emplace();
      parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(options_.max_response_header_bytes, UINT32_MAX)));
      // No limit is the largest one, not boost::none: Boost 1.74's parser compares a Content-Length with the
      // optional limit, and every value is greater than an empty optional (each such answer failed as over the limit).
      parser_->body_limit(body_limit.value_or(std::numeric_limits<uint64_t>::max()));
      if (is_head_) parser_->skip(true);
      beast::get_lowest_layer(*stream_).expires_after(options_.read_timeout);
      ErrorCodeT ec;
      co_await http::async_read_header(*stream_, buffer_, *parser_, await_ec(ec));
      if (ec) {
        head_failed_ = true;
        if (aborted_) co_return make_error(ErrorCode::kIo, "connection aborted");
        co_return std::unexpected(to_error(ec, "read response head"));
      }
      const auto& msg = parser_->get();
      const int code = static_cast<int>(msg.result_int());
      if (code >= 100 && code < 200 && code != 101) {
        interim_seen_ = true;
        continue;  // interim response, e.g. 100 Continue
      }
      status = code;
      reason = std::string(msg.reason());
      headers = to_headers(msg);
      header_field_count_ = field_count(msg);
      head_read_ = true;
      co_return Status{};
    }
  }

  Task<Result<std::optional<Bytes>>> read_chunk() override {
    if (!head_read_) {
      if (auto ok = co_await read_head(); !ok) co_return std::unexpected(ok.error());
    }
    if (body_done_) co_return std::nullopt;
    if (aborted_) co_return make_error(ErrorCode::kIo, "connection aborted");
    if (body_failed_) co_return make_error(ErrorCode::kIo, "response body unavailable after an earlier error");
    auto piece = co_await read_body_piece(*stream_, buffer_, *parser_, options_.read_timeout, "read response body");
    if (!piece) {
      body_failed_ = true;
      if (aborted_) co_return make_error(ErrorCode::kIo, "connection aborted");
      co_return piece;
    }
    if (!*piece) {
      body_done_ = true;
      trailers = to_headers(parser_->get(), header_field_count_);
    }
    co_return piece;
  }

 private:
  // A clean end: the next request can follow on this connection.
  bool reusable() const {
    if (aborted_ || broken_ || head_failed_ || body_failed_ || !head_read_) return false;
    if (upload_ != UploadMode::kDone) return false;             // request body not fully sent
    if (!body_done_ && !parser_->is_done()) return false;       // response body (or trailers) not fully read
    if (buffer_.size() != 0) return false;                      // bytes beyond the response: no clean state
    if (status == 101) return false;                            // the connection changed protocols
    // HTTP/1.0, "Connection: close", or a body that only the connection's end delimited.
    if (parser_->get().version() != 11 || !parser_->keep_alive()) return false;
    if (options_.abort_group && options_.abort_group->aborted()) return false;
    return beast::get_lowest_layer(*stream_).socket().is_open();
  }

  std::unique_ptr<Stream> stream_;
  const ClientOptions options_;  // a copy: the stream may outlive the Client
  const bool is_head_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  size_t header_field_count_ = 0;
  UploadMode upload_ = UploadMode::kDone;
  uint64_t remaining_ = 0;
  bool broken_ = false;
  bool head_read_ = false;
  bool head_failed_ = false;
  bool body_done_ = false;
  bool body_failed_ = false;
  bool aborted_ = false;
  bool interim_seen_ = false;
  std::shared_ptr<internal::AbortMember> member_;  // set when the options name an AbortGroup
  PoolReturn pool_return_;
};

// Resolves and connects within `deadline`.
Task<Result<beast::tcp_stream>> connect_tcp(const Url& url, Clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  ErrorCodeT ec;
  std::vector<tcp::endpoint> endpoints;
  const auto literal = asio::ip::make_address(url.host, ec);
  if (!ec) {
    endpoints.emplace_back(literal, url.port);
  } else {
    // The resolver has no timeout of its own: a timer cancels it.
    auto resolver = std::make_shared<tcp::resolver>(executor);
    asio::steady_timer timer(executor, deadline);
    timer.async_wait([resolver](const ErrorCodeT& timer_ec) {
      if (!timer_ec) resolver->cancel();
    });
    ec = {};
    auto results = co_await resolver->async_resolve(url.host, std::to_string(url.port), await_ec(ec));
    timer.cancel();
    if (Clock::now() >= deadline) co_return make_error(ErrorCode::kTimeout, "resolve " + url.host + ": timed out");
    if (ec) co_return make_error(ErrorCode::kIo, "resolve " + url.host + ": " + ec.message());
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  beast::tcp_stream stream(executor);
  stream.expires_at(deadline);
  co_await stream.async_connect(endpoints, await_ec(ec));
  if (ec) co_return std::unexpected(to_error(ec, "connect to " + url.authority()));
  stream.socket().set_option(tcp::no_delay(true), ec);  // each flushed chunk should leave at once
  co_return std::move(stream);
}

// What start_exchange() sends.
struct ExchangeStart {
  http::request<http::buffer_body> req;
  const Bytes* whole_body = nullptr;
  UploadMode mode = UploadMode::kDone;
  uint64_t remaining = 0;
  std::chrono::milliseconds write_timeout{};
};

// Sends the request head (and the whole body when there is one) on `connection`.
template <class Stream>
Task<Result<std::unique_ptr<ClientStream::Impl>>> send_request_head(std::unique_ptr<ClientConnection<Stream>> connection,
                                                                    ExchangeStart& start) {
  auto& stream = connection->stream();
  http::request_serializer<http::buffer_body> serializer{start.req};
  beast::get_lowest_layer(stream).expires_after(start.write_timeout);
  ErrorCodeT ec;
  if (start.whole_body != nullptr) {
    co_await http::async_write(stream, serializer, await_ec(ec));
  } else {
    co_await http::async_write_header(stream, serializer, await_ec(ec));
  }
  if (ec) {
    connection->mark_broken();
    const Error error = to_error(ec, "write request");
    // A server may answer before it has read the whole body (413 for a body over its limit) and then close: the
    // write fails, but the answer is waiting to be read, and it says more than the write error.
    if (start.whole_body == nullptr || error.code != ErrorCode::kIo) co_return std::unexpected(error);
    const Status head = co_await connection->read_head();
    if (!head) co_return std::unexpected(error);
    co_return std::unique_ptr<ClientStream::Impl>(std::move(connection));
  }
  connection->set_upload(start.mode, start.remaining);
  co_return std::unique_ptr<ClientStream::Impl>(std::move(connection));
}

// Takes an idle pooled connection (when `pool` is set) or connects (with TLS for https), then sends the request head,
// plus the whole body when `whole_body` is set. `reused` tells which it was.
Task<Result<std::unique_ptr<ClientStream::Impl>>> start_exchange(const ClientOptions& options,
                                                                 std::shared_ptr<ssl::context> tls,
                                                                 std::shared_ptr<ConnectionPool> pool,
                                                                 bool may_reuse, std::string_view method,
                                                                 const Url& url, const Headers& headers,
                                                                 const Bytes* whole_body, bool& reused) {
  reused = false;
  const auto deadline = Clock::now() + options.connect_timeout;
  const bool is_head = method == "HEAD";
  const auto executor = co_await asio::this_coro::executor;

  // The head (and small whole bodies) go out in one write.
  ExchangeStart start;
  start.whole_body = whole_body;
  start.write_timeout = options.write_timeout;
  auto& req = start.req;
  if (auto ok = prepare_request_head(req, method, url, headers, pool != nullptr); !ok) {
    co_return std::unexpected(ok.error());
  }
  if (whole_body != nullptr) {
    const bool bodyless_method = method == "GET" || method == "HEAD" || method == "DELETE" || method == "OPTIONS";
    if (!whole_body->empty() || !bodyless_method) req.content_length(whole_body->size());
    req.body().data = whole_body->empty() ? nullptr : const_cast<uint8_t*>(whole_body->data());
    req.body().size = whole_body->size();
    req.body().more = false;
  } else if (auto cl = headers.get("Content-Length")) {
    auto length = parse_content_length(*cl);
    if (!length) co_return make_error(ErrorCode::kInvalidArgument, "invalid Content-Length");
    req.content_length(*length);
    start.mode = UploadMode::kFixed;
    start.remaining = *length;
  } else {
    req.chunked(true);
    start.mode = UploadMode::kChunked;
  }

  PoolReturn pool_return;
  if (pool) {
    pool_return.pool = pool;
    pool_return.key = PoolKey{url.is_tls(), url.host, url.port, &asio::query(executor, asio::execution::context)};
  }

  if (!url.is_tls()) {
    std::unique_ptr<PlainStream> stream;
    if (pool && may_reuse) stream = pool->take<PlainStream>(pool_return.key);
    reused = stream != nullptr;
    if (!stream) {
      auto tcp_stream = co_await connect_tcp(url, deadline);
      if (!tcp_stream) co_return std::unexpected(tcp_stream.error());
      stream = std::make_unique<PlainStream>(std::move(*tcp_stream));
    }
    auto connection = std::make_unique<ClientConnection<PlainStream>>(std::move(stream), options, is_head, executor,
                                                                      std::move(pool_return));
    co_return co_await send_request_head(std::move(connection), start);
  }

  std::unique_ptr<TlsStream> stream;
  if (pool && may_reuse) stream = pool->take<TlsStream>(pool_return.key);
  reused = stream != nullptr;
  if (reused) {
    auto connection = std::make_unique<ClientConnection<TlsStream>>(std::move(stream), options, is_head, executor,
                                                                    std::move(pool_return));
    co_return co_await send_request_head(std::move(connection), start);
  }
  auto tcp_stream = co_await connect_tcp(url, deadline);
  if (!tcp_stream) co_return std::unexpected(tcp_stream.error());
  stream = std::make_unique<TlsStream>(std::move(*tcp_stream), *tls);
  ErrorCodeT ec;
  asio::ip::make_address(url.host, ec);
  if (auto ok = configure_client_tls(*stream, url.host, !ec, options.verify_tls); !ok) {
    co_return std::unexpected(ok.error());
  }
  beast::get_lowest_layer(*stream).expires_at(deadline);
  co_await stream->async_handshake(ssl::stream_base::client, await_ec(ec));
  if (ec) {
    std::string why = ec.message();
    const long verify = SSL_get_verify_result(stream->native_handle());
    if (verify != X509_V_OK) why += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
    if (ec == beast::error::timeout) co_return make_error(ErrorCode::kTimeout, "tls handshake with " + url.authority() + ": timed out");
    co_return make_error(ErrorCode::kIo, "tls handshake with " + url.authority() + ": " + why);
  }
  auto connection = std::make_unique<ClientConnection<TlsStream>>(std::move(stream), options, is_head, executor,
                                                                  std::move(pool_return));
  co_return co_await send_request_head(std::move(connection), start);
}

// A reused connection that failed this way was most likely closed by the server while idle (the request never
// reached a handler): the exchange may be repeated on a fresh connection.
bool retryable_on_fresh_connection(const Error& error) { return error.code == ErrorCode::kIo; }

}  // namespace

// ---------------------------------------------------------------------------------------------------------------------

ClientStream::ClientStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientStream::~ClientStream() = default;

Task<Status> ClientStream::write_chunk(ByteSpan data) { return impl_->write_chunk(data); }
Task<Status> ClientStream::finish(const Headers& trailers) { return impl_->finish(trailers); }
Task<Status> ClientStream::read_head() { return impl_->read_head(); }
int ClientStream::status() const { return impl_->status; }
std::string_view ClientStream::reason() const { return impl_->reason; }
const Headers& ClientStream::headers() const { return impl_->headers; }
Task<Result<std::optional<Bytes>>> ClientStream::read_chunk() { return impl_->read_chunk(); }
const Headers& ClientStream::trailers() const { return impl_->trailers; }
void ClientStream::abort() { impl_->abort(); }

Task<Result<Bytes>> ClientStream::read_all() { return internal::read_all_chunks(*this); }

Client::Client(std::shared_ptr<const Shared> shared) : shared_(std::move(shared)) {}

const ClientOptions& Client::options() const { return shared_->options; }

Result<Client> Client::create(ClientOptions options) {
  auto shared = std::make_shared<Shared>();
  shared->options = std::move(options);
  shared->tls = std::make_shared<ssl::context>(ssl::context::tls_client);
  auto& ctx = *shared->tls;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ErrorCodeT ec;
  if (!shared->options.ca_file.empty()) {
    ctx.load_verify_file(shared->options.ca_file, ec);
    if (ec) {
      return make_error(ErrorCode::kIo, "client: cannot load CA file " + shared->options.ca_file + ": " + ec.message());
    }
  } else {
    ctx.set_default_verify_paths(ec);
    if (ec) return make_error(ErrorCode::kCrypto, "client: cannot load the system CA store: " + ec.message());
  }
  if (shared->options.pool_connections) {
    shared->pool = std::make_shared<ConnectionPool>(shared->options.pool_idle_timeout,
                                                    shared->options.pool_max_idle_per_host);
  }
  return Client(std::move(shared));
}

Task<Result<std::unique_ptr<ClientStream>>> Client::send(ClientRequest request) {
  auto url = parse_url(request.url);
  if (!url) co_return std::unexpected(url.error());
  const auto shared = shared_;  // the frame keeps the configuration alive even if the Client goes away
  // The body is in memory, so a reused connection that turns out dead can be replaced once by a fresh one.
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto impl = co_await start_exchange(shared->options, shared->tls, shared->pool, attempt == 0, request.method,
                                        *url, request.headers, &request.body, reused);
    if (!impl) {
      if (reused && retryable_on_fresh_connection(impl.error())) continue;
      co_return std::unexpected(impl.error());
    }
    const ClientStream::Impl& raw = **impl;
    auto stream = std::make_unique<ClientStream>(std::move(*impl));
    if (auto ok = co_await stream->read_head(); !ok) {
      if (reused && !raw.response_started() && retryable_on_fresh_connection(ok.error())) continue;
      co_return std::unexpected(ok.error());
    }
    co_return stream;
  }
}

Task<Result<std::unique_ptr<ClientStream>>> Client::open(std::string_view method, std::string_view url_text,
                                                         Headers headers) {
  // Copy the views: the caller's strings need not outlive the first suspension.
  const std::string method_copy(method);
  auto url = parse_url(url_text);
  if (!url) co_return std::unexpected(url.error());
  const auto shared = shared_;
  // Never retried: the caller streams the body after this returns, so a failure cannot be replayed here.
  bool reused = false;
  auto impl = co_await start_exchange(shared->options, shared->tls, shared->pool, true, method_copy, *url, headers,
                                      nullptr, reused);
  if (!impl) co_return std::unexpected(impl.error());
  co_return std::make_unique<ClientStream>(std::move(*impl));
}

size_t Client::idle_connection_count() const { return shared_->pool ? shared_->pool->idle_count() : 0; }

Task<Result<ClientResponse>> Client::fetch(ClientRequest request) {
  auto stream = co_await send(std::move(request));
  if (!stream) co_return std::unexpected(stream.error());
  auto body = co_await (*stream)->read_all();
  if (!body) co_return std::unexpected(body.error());
  ClientResponse response;
  response.status = (*stream)->status();
  response.reason = std::string((*stream)->reason());
  response.headers = (*stream)->headers();
  response.body = std::move(*body);
  response.trailers = (*stream)->trailers();
  co_return response;
}

Result<ClientResponse> fetch_blocking(ClientRequest request, ClientOptions options) {
  options.pool_connections = false;  // the Client and its io_context end with this call
  auto client = Client::create(std::move(options));
  if (!client) return std::unexpected(client.error());
  asio::io_context context;
  std::optional<Result<ClientResponse>> result;
  asio::co_spawn(context, client->fetch(std::move(request)),
                 [&result](std::exception_ptr e, Result<ClientResponse> r) {
                   if (e) {
                     result = make_error(ErrorCode::kInternal, "fetch threw");
                   } else {
                     result = std::move(r);
                   }
                 });
  context.run();
  if (!result) return make_error(ErrorCode::kInternal, "fetch did not complete");
  return std::move(*result);
}

}  // namespace openpcc::net
