// Client connection pool: which exchanges leave a reusable connection behind, and what happens when a pooled one has
// gone stale. Servers count connections by the peer address their handler sees (one ephemeral port per connection).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"

namespace openpcc::net {
namespace {

using namespace std::chrono_literals;

std::string url_for(uint16_t port, std::string_view path = "/") {
  return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
}

Client make_client(ClientOptions options = {}) {
  auto client = Client::create(std::move(options));
  EXPECT_TRUE(client.has_value());
  return std::move(*client);
}

// What a server saw: one peer address per connection, and each request's Connection header.
struct Seen {
  std::mutex mutex;
  std::set<std::string> peers;
  std::vector<std::string> connection_headers;

  size_t connections() {
    std::lock_guard lock(mutex);
    return peers.size();
  }
};

// Reads the whole request body, then answers with `body_bytes` bytes: Content-Length when `streamed` is false,
// else a chunked body in 1 KiB chunks with an "X-Sum" trailer.
Handler recording_handler(std::shared_ptr<Seen> seen, size_t body_bytes = 2, bool streamed = false) {
  return [seen, body_bytes, streamed](ServerRequest& req, ServerResponse& res) -> Task<Status> {
    {
      std::lock_guard lock(seen->mutex);
      seen->peers.insert(std::string(req.remote_address()));
      seen->connection_headers.push_back(std::string(req.headers().get("Connection").value_or("")));
    }
    auto body = co_await req.read_all();
    if (!body) co_return std::unexpected(body.error());
    const Bytes answer(body_bytes, 'a');
    if (!streamed) {
      Headers headers;
      co_return co_await res.send(200, std::move(headers), answer);
    }
    Headers head{{"Trailer", "X-Sum"}};
    if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
    for (size_t at = 0; at < answer.size(); at += 1024) {
      const size_t n = std::min<size_t>(1024, answer.size() - at);
      if (auto ok = co_await res.write_chunk(ByteSpan(answer).subspan(at, n)); !ok) co_return ok;
    }
    Headers trailers{{"X-Sum", std::to_string(answer.size())}};
    co_return co_await res.finish(trailers);
  };
}

std::unique_ptr<Server> start_server(Runtime& rt, ServerConfig config, Handler handler) {
  auto server = Server::start(rt, std::move(config), std::move(handler));
  EXPECT_TRUE(server.has_value()) << server.error().to_string();
  return server ? std::move(*server) : nullptr;
}

Result<ClientResponse> fetch_on(Runtime& rt, Client& client, std::string url, std::string method = "GET") {
  return rt.block_on([&]() -> Task<Result<ClientResponse>> {
    co_return co_await client.fetch({method, url, to_bytes(method == "GET" ? "" : "payload")});
  });
}

// A chunked upload through open(), then the whole streamed answer; returns the trailer's value.
Result<std::string> stream_on(Runtime& rt, Client& client, std::string url) {
  return rt.block_on([&]() -> Task<Result<std::string>> {
    Headers headers;
    auto up = co_await client.open("POST", url, std::move(headers));
    if (!up) co_return std::unexpected(up.error());
    if (auto ok = co_await (*up)->write_chunk(as_bytes(std::string_view("piece one"))); !ok) {
      co_return std::unexpected(ok.error());
    }
    if (auto ok = co_await (*up)->finish(); !ok) co_return std::unexpected(ok.error());
    auto body = co_await (*up)->read_all();
    if (!body) co_return std::unexpected(body.error());
    co_return std::string((*up)->trailers().get("X-Sum").value_or("none"));
  });
}

TEST(ClientPool, SequentialFetchesShareOneConnection) {
  Runtime rt(2);
  auto seen = std::make_shared<Seen>();
  auto server = start_server(rt, {}, recording_handler(seen));
  ASSERT_TRUE(server);
  auto client = make_client();
  auto copy = client;  // copies share the pool
  for (int i = 0; i < 5; ++i) {
    auto res = fetch_on(rt, i % 2 == 0 ? client : copy, url_for(server->port()), i % 3 == 0 ? "GET" : "POST");
    ASSERT_TRUE(res.has_value()) << res.error().to_string();
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(to_string(res->body), "aa");
  }
  EXPECT_EQ(seen->connections(), 1u);
  EXPECT_EQ(client.idle_connection_count(), 1u);
  for (const auto& h : seen->connection_headers) EXPECT_EQ(h, "");  // HTTP/1.1: keep-alive is the default
  server->shutdown(5s);
}

TEST(ClientPool, PoolingOffUsesAConnectionPerRequestAndSaysClose) {
  Runtime rt(2);
  auto seen = std::make_shared<Seen>();
  auto server = start_server(rt, {}, recording_handler(seen));
  ASSERT_TRUE(server);
  auto client = make_client({.pool_connections = false});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(fetch_on(rt, client, url_for(server->port())).has_value());
  EXPECT_EQ(seen->connections(), 3u);
  EXPECT_EQ(client.idle_connection_count(), 0u);
  for (const auto& h : seen->connection_headers) EXPECT_EQ(h, "close");
  server->shutdown(5s);
}

TEST(ClientPool, StreamsFromOpenGoBackToThePool) {
  Runtime rt(2);
  auto seen = std::make_shared<Seen>();
  auto server = start_server(rt, {}, recording_handler(seen, 5000, /*streamed=*/true));
  ASSERT_TRUE(server);
  auto client = make_client();
  for (int i = 0; i < 4; ++i) {
    auto sum = stream_on(rt, client, url_for(server->port(), "/stream"));
    ASSERT_TRUE(sum.has_value()) << sum.error().to_string();
    EXPECT_EQ(*sum, "5000");
  }
  auto res = fetch_on(rt, client, url_for(server->port()));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body.size(), 5000u);
  EXPECT_EQ(res->trailers.get("X-Sum"), "5000");
  EXPECT_EQ(seen->connections(), 1u);
  server->shutdown(5s);
}

TEST(ClientPool, AConnectionWithAnUnreadBodyIsClosed) {
  Runtime rt(2);
  auto seen = std::make_shared<Seen>();
  auto server = start_server(rt, {}, recording_handler(seen, 64 * 1024, /*streamed=*/true));
  ASSERT_TRUE(server);
  auto client = make_client();
  const std::string url = url_for(server->port());
  // Head only, then part of the body: both leave bytes on the connection.
  auto head_only = rt.block_on([&]() -> Task<Status> {
    auto stream = co_await client.send({"GET", url});
    if (!stream) co_return std::unexpected(stream.error());
    co_return Status{};
  });
  ASSERT_TRUE(head_only.has_value());
  EXPECT_EQ(client.idle_connection_count(), 0u);
  auto one_piece = rt.block_on([&]() -> Task<Status> {
    auto stream = co_await client.send({"GET", url});
    if (!stream) co_return std::unexpected(stream.error());
    auto piece = co_await (*stream)->read_chunk();
    if (!piece) co_return std::unexpected(piece.error());
    co_return Status{};
  });
  ASSERT_TRUE(one_piece.has_value());
  EXPECT_EQ(client.idle_connection_count(), 0u);
  auto res = fetch_on(rt, client, url);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body.size(), 64u * 1024);
  EXPECT_EQ(seen->connections(), 3u);
  EXPECT_EQ(client.idle_connection_count(), 1u);
  server->shutdown(5s);
}

TEST(ClientPool, ConnectionCloseFromTheServerIsHonoured) {
  Runtime rt(2);
  auto seen = std::make_shared<Seen>();
  ServerConfig config;
  config.keep_alive = false;  // every response says "Connection: close"
  auto server = start_server(rt, config, recording_handler(seen));
  ASSERT_TRUE(server);
  auto client = make_client();
  for (int i = 0; i < 3; ++i) {
    auto res = fetch_on(rt, client, url_for(server->port()));
    ASSERT_TRUE(res.has_value()) << res.error().to_string();
    EXPECT_EQ(client.idle_connection_count(), 0u);
  }
  EXPECT_EQ(seen->connections(), 3u);
  server->shutdown(5s);
}

TEST(ClientPool, ServerCapsRequestsPerConnection) {
  Runtime rt(2);
  auto seen = std::make_shared<Seen>();
  ServerConfig config;
  config.max_requests_per_connection = 2;
  auto server = start_server(rt, config, recording_handler(seen));
  ASSERT_TRUE(server);
  auto client = make_client();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(fetch_on(rt, client, url_for(server->port())).has_value());
  EXPECT_EQ(seen->connections(), 3u);  // 2 + 2 + 1
  server->shutdown(5s);
}

TEST(ClientPool, AnAbortedStreamIsNotReused) {
  Runtime rt(2);
  auto seen = std::make_shared<Seen>();
  auto server = start_server(rt, {}, recording_handler(seen));
  ASSERT_TRUE(server);
  auto client = make_client();
  const std::string url = url_for(server->port());
  ASSERT_TRUE(fetch_on(rt, client, url).has_value());
  ASSERT_EQ(client.idle_connection_count(), 1u);
  // The aborted stream took the pooled connection; after its whole exchange, abort() still keeps it out.
  auto aborted = rt.block_on([&]() -> Task<Status> {
    auto stream = co_await client.send({"GET", url});
    if (!stream) co_return std::unexpected(stream.error());
    auto body = co_await (*stream)->read_all();
    if (!body) co_return std::unexpected(body.error());
    (*stream)->abort();
    co_return Status{};
  });
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(client.idle_connection_count(), 0u);
  ASSERT_TRUE(fetch_on(rt, client, url).has_value());
  EXPECT_EQ(seen->connections(), 2u);
  server->shutdown(5s);
}

TEST(ClientPool, IdleConnectionsAreNotAbortGroupMembers) {
  Runtime rt(2);
  auto seen = std::make_shared<Seen>();
  auto server = start_server(rt, {}, recording_handler(seen));
  ASSERT_TRUE(server);
  auto group = std::make_shared<AbortGroup>();
  auto grouped = make_client({.abort_group = group});
  auto plain = make_client();
  ASSERT_TRUE(fetch_on(rt, grouped, url_for(server->port())).has_value());
  ASSERT_EQ(grouped.idle_connection_count(), 1u);
  group->abort_all();
  std::this_thread::sleep_for(50ms);  // abort_all posts its work
  EXPECT_EQ(grouped.idle_connection_count(), 1u);  // idle: nobody to abort
  auto refused = fetch_on(rt, grouped, url_for(server->port()));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kIo);
  ASSERT_TRUE(fetch_on(rt, plain, url_for(server->port())).has_value());
  server->shutdown(5s);
}

TEST(ClientPool, IdleConnectionsExpire) {
  Runtime rt(2);
  auto seen = std::make_shared<Seen>();
  auto server = start_server(rt, {}, recording_handler(seen));
  ASSERT_TRUE(server);
  auto client = make_client({.pool_idle_timeout = 100ms});
  ASSERT_TRUE(fetch_on(rt, client, url_for(server->port())).has_value());
  ASSERT_TRUE(fetch_on(rt, client, url_for(server->port())).has_value());
  EXPECT_EQ(seen->connections(), 1u);
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(fetch_on(rt, client, url_for(server->port())).has_value());
  EXPECT_EQ(seen->connections(), 2u);
  server->shutdown(5s);
}

TEST(ClientPool, PoolIsBoundedPerHost) {
  Runtime rt(4);
  auto seen = std::make_shared<Seen>();
  auto server = start_server(rt, {}, recording_handler(seen));
  ASSERT_TRUE(server);
  auto client = make_client({.pool_max_idle_per_host = 2});
  const std::string url = url_for(server->port());
  // Four streams alive at once need four connections; only two stay afterwards.
  auto ok = rt.block_on([&]() -> Task<Status> {
    std::vector<std::unique_ptr<ClientStream>> streams;
    for (int i = 0; i < 4; ++i) {
      auto stream = co_await client.send({"GET", url});
      if (!stream) co_return std::unexpected(stream.error());
      streams.push_back(std::move(*stream));
    }
    for (auto& s : streams) {
      auto body = co_await s->read_all();
      if (!body) co_return std::unexpected(body.error());
    }
    co_return Status{};
  });
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(seen->connections(), 4u);
  EXPECT_EQ(client.idle_connection_count(), 2u);
  server->shutdown(5s);
}

TEST(ClientPool, AConnectionTheServerClosedWhileIdleIsReplaced) {
  Runtime rt(2);
  auto seen = std::make_shared<Seen>();
  ServerConfig config;
  config.idle_timeout = 150ms;
  auto server = start_server(rt, config, recording_handler(seen, 3000, /*streamed=*/true));
  ASSERT_TRUE(server);
  auto client = make_client();
  ASSERT_TRUE(fetch_on(rt, client, url_for(server->port())).has_value());
  ASSERT_EQ(client.idle_connection_count(), 1u);
  std::this_thread::sleep_for(500ms);  // the server has closed it by now
  // open() is never retried, so its success shows the dead connection was noticed before use.
  auto sum = stream_on(rt, client, url_for(server->port()));
  ASSERT_TRUE(sum.has_value()) << sum.error().to_string();
  EXPECT_EQ(*sum, "3000");
  EXPECT_EQ(seen->connections(), 2u);
  server->shutdown(5s);
}

TEST(ClientPool, DifferentIoContextsNeverShareAConnection) {
  Runtime server_rt(2);
  auto seen = std::make_shared<Seen>();
  auto server = start_server(server_rt, {}, recording_handler(seen));
  ASSERT_TRUE(server);
  auto client = make_client();
  const std::string url = url_for(server->port());
  auto rt1 = std::make_unique<Runtime>(2);
  auto rt2 = std::make_unique<Runtime>(2);
  ASSERT_TRUE(fetch_on(*rt1, client, url).has_value());
  ASSERT_TRUE(fetch_on(*rt2, client, url).has_value());
  EXPECT_EQ(seen->connections(), 2u);
  EXPECT_EQ(client.idle_connection_count(), 2u);
  ASSERT_TRUE(fetch_on(*rt1, client, url).has_value());
  ASSERT_TRUE(fetch_on(*rt2, client, url).has_value());
  EXPECT_EQ(seen->connections(), 2u);
  // A context's end takes its idle connections along (they could not be used anywhere else).
  rt2.reset();
  EXPECT_EQ(client.idle_connection_count(), 1u);
  auto rt3 = std::make_unique<Runtime>(1);
  ASSERT_TRUE(fetch_on(*rt3, client, url).has_value());
  ASSERT_TRUE(fetch_on(*rt1, client, url).has_value());
  EXPECT_EQ(seen->connections(), 3u);
  rt1.reset();
  rt3.reset();
  EXPECT_EQ(client.idle_connection_count(), 0u);
  server->shutdown(5s);
}

// A blocking HTTP/1.1 server on its own thread, one connection at a time, that follows a script: for request number
// `request` (from 0) on connection number `connection` (from 0), close_on() says whether to close the connection as
// soon as the request head arrives instead of answering — what a client sees when a server drops an idle connection
// just as the client reuses it. Other requests get "200 ok" with keep-alive.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<bool(int connection, int request)> close_on) : close_on_(std::move(close_on)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  int connections() const { return accepted_.load(); }

 private:
  bool wait_readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }

  void run() {
    while (wait_readable(listen_fd_)) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      const int connection = accepted_.fetch_add(1);
      serve(fd, connection);
      ::close(fd);
    }
  }

  void serve(int fd, int connection) {
    std::string pending;
    for (int request = 0;; ++request) {
      size_t end = std::string::npos;
      while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
        if (!wait_readable(fd)) return;
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) return;  // the client closed it
        pending.append(buf, static_cast<size_t>(n));
      }
      if (close_on_(connection, request)) return;
      // The test's requests carry "Content-Length: 7" bodies or none; the body follows the head.
      size_t body = pending.find("Content-Length: 7") != std::string::npos ? 7 : 0;
      while (pending.size() < end + 4 + body) {
        if (!wait_readable(fd)) return;
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) return;
        pending.append(buf, static_cast<size_t>(n));
      }
      pending.erase(0, end + 4 + body);
      static constexpr std::string_view kAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      if (::send(fd, kAnswer.data(), kAnswer.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kAnswer.size())) return;
    }
  }

  std::function<bool(int, int)> close_on_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST(ClientPool, FetchRetriesOnceOnAFreshConnectionWhenAReusedOneDies) {
  // Connection 0 answers its first request and drops the second.
  ScriptedServer server([](int connection, int request) { return connection == 0 && request == 1; });
  Runtime rt(2);
  auto client = make_client();
  const std::string url = url_for(server.port());
  ASSERT_TRUE(fetch_on(rt, client, url).has_value());
  ASSERT_EQ(client.idle_connection_count(), 1u);
  auto res = fetch_on(rt, client, url, "POST");  // a body in memory: retried
  ASSERT_TRUE(res.has_value()) << res.error().to_string();
  EXPECT_EQ(to_string(res->body), "ok");
  EXPECT_EQ(server.connections(), 2);
}

TEST(ClientPool, FetchRetriesOnlyOnce) {
  // Every connection answers its first request only — except the fresh one of the retry, which drops it too.
  ScriptedServer server([](int connection, int request) { return request > 0 || connection == 1; });
  Runtime rt(2);
  auto client = make_client();
  const std::string url = url_for(server.port());
  ASSERT_TRUE(fetch_on(rt, client, url).has_value());
  auto res = fetch_on(rt, client, url);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kIo);
  EXPECT_EQ(server.connections(), 2);  // the reused one, then one fresh attempt
}

TEST(ClientPool, StreamedUploadsAreNeverRetried) {
  ScriptedServer server([](int connection, int request) { return connection == 0 && request == 1; });
  Runtime rt(2);
  auto client = make_client();
  const std::string url = url_for(server.port());
  ASSERT_TRUE(fetch_on(rt, client, url).has_value());
  auto res = rt.block_on([&]() -> Task<Status> {
    Headers headers{{"Content-Length", "7"}};
    auto up = co_await client.open("POST", url, std::move(headers));
    if (!up) co_return std::unexpected(up.error());
    if (auto ok = co_await (*up)->write_chunk(as_bytes(std::string_view("payload"))); !ok) co_return ok;
    if (auto ok = co_await (*up)->finish(); !ok) co_return ok;
    co_return co_await (*up)->read_head();
  });
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kIo);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(client.idle_connection_count(), 0u);
}

}  // namespace
}  // namespace openpcc::net
