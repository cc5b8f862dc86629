// A server that answers before it has read the request body (a handler's own size limit on a declared length, or the
// server's max_body_bytes): the answer must reach a client that is still sending, and the connection then closes.
// Bodies both smaller and far larger than what the sockets buffer, because a larger one keeps the client writing
// while the server has stopped reading.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"

namespace openpcc::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kLiveness = 20s;  // how long a test waits for something that should happen promptly
constexpr uint64_t kHandlerLimit = 1000;
constexpr size_t kSmallBody = 5000;               // fits in the socket buffers
constexpr size_t kLargeBody = 16 * 1024 * 1024;   // far more than the buffers and the server's linger drain

std::string url_for(const Server& server) { return "http://127.0.0.1:" + std::to_string(server.port()) + "/"; }

std::unique_ptr<Server> start_server(Runtime& rt, ServerConfig config, Handler handler) {
  auto server = Server::start(rt, std::move(config), std::move(handler));
  EXPECT_TRUE(server.has_value()) << server.error().to_string();
  return server ? std::move(*server) : nullptr;
}

// Refuses a declared body over kHandlerLimit without reading any of it.
Task<Status> answer_early(ServerRequest& req, ServerResponse& res) {
  if (req.content_length().value_or(0) > kHandlerLimit) {
    Headers headers{{"Content-Type", "text/plain"}};
    co_return co_await res.send(413, std::move(headers), std::string_view("handler: too large"));
  }
  auto body = co_await req.read_all();
  if (!body) co_return std::unexpected(body.error());
  co_return co_await res.send(200, {}, std::string_view("read all"));
}

// Like answer_early, but leaves the answer to the server by failing with kLimitExceeded.
Task<Status> fail_early(ServerRequest& req, ServerResponse& res) {
  if (req.content_length().value_or(0) > kHandlerLimit) {
    co_return make_error(ErrorCode::kLimitExceeded, "handler: declared body over its limit");
  }
  auto body = co_await req.read_all();
  if (!body) co_return std::unexpected(body.error());
  co_return co_await res.send(200, {}, std::string_view("read all"));
}

// The whole body in one request (head and body written before the response is read).
Result<ClientResponse> post_whole(Runtime& rt, Client& client, const std::string& url, size_t size) {
  return rt.block_on([&]() -> Task<Result<ClientResponse>> {
    co_return co_await client.fetch({"POST", url, Bytes(size, 'b')});
  });
}

// A streamed upload with a Content-Length, written in 64 KiB pieces until the server stops taking them; then the
// response head.
Result<int> post_streamed(Runtime& rt, Client& client, const std::string& url, size_t size) {
  return rt.block_on([&]() -> Task<Result<int>> {
    Headers headers{{"Content-Length", std::to_string(size)}};
    auto s = co_await client.open("POST", url, std::move(headers));
    if (!s) co_return std::unexpected(s.error());
    const Bytes piece(64 * 1024, 'c');
    for (size_t sent = 0; sent < size; sent += piece.size()) {
      if (auto ok = co_await (*s)->write_chunk(ByteSpan(piece).first(std::min(piece.size(), size - sent))); !ok) {
        break;  // the server answered and stopped reading
      }
    }
    if (auto ok = co_await (*s)->read_head(); !ok) co_return std::unexpected(ok.error());
    co_return (*s)->status();
  });
}

// A plain blocking socket, to see the bytes and the close as the server sends them.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }
  bool send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Everything until the peer closes (EOF or reset); false if it has not closed within `timeout`.
  bool read_until_closed(std::chrono::milliseconds timeout, std::string& received) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return true;
      received.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

TEST(HttpEarlyAnswer, HandlerAnswerBeforeTheBodyReachesTheClient) {
  Runtime rt(2);
  ServerConfig config;
  config.max_body_bytes = 256 * 1024 * 1024;  // the handler's own limit applies, not the server's
  auto server = start_server(rt, config, answer_early);
  ASSERT_TRUE(server);
  auto client = Client::create();
  ASSERT_TRUE(client);

  for (size_t size : {kSmallBody, kLargeBody}) {
    auto whole = post_whole(rt, *client, url_for(*server), size);
    ASSERT_TRUE(whole) << size << ": " << whole.error().to_string();
    EXPECT_EQ(whole->status, 413) << size;
    EXPECT_EQ(to_string(whole->body), "handler: too large") << size;
    EXPECT_EQ(whole->headers.get("Connection"), "close") << size;

    auto streamed = post_streamed(rt, *client, url_for(*server), size);
    ASSERT_TRUE(streamed) << size << ": " << streamed.error().to_string();
    EXPECT_EQ(*streamed, 413) << size;
  }
  auto fine = post_whole(rt, *client, url_for(*server), kHandlerLimit);
  ASSERT_TRUE(fine) << fine.error().to_string();
  EXPECT_EQ(fine->status, 200);
  server->shutdown(5s);
}

TEST(HttpEarlyAnswer, ConnectionClosesAfterTheAnswer) {
  Runtime rt(2);
  ServerConfig config;
  config.max_body_bytes = 256 * 1024 * 1024;
  auto server = start_server(rt, config, answer_early);
  ASSERT_TRUE(server);

  // A keep-alive request whose declared body never comes: the answer, then the server's close (not a wait for the
  // body or for the idle timeout).
  RawSocket raw(server->port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send_all("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nfirst bytes"));
  std::string received;
  ASSERT_TRUE(raw.read_until_closed(kLiveness, received)) << received;
  EXPECT_TRUE(received.starts_with("HTTP/1.1 413")) << received;
  EXPECT_NE(received.find("Connection: close\r\n"), std::string::npos) << received;
  EXPECT_TRUE(received.ends_with("handler: too large")) << received;
  server->shutdown(5s);
}

TEST(HttpEarlyAnswer, HandlerLimitErrorIsAnswered413) {
  Runtime rt(2);
  ServerConfig config;
  config.max_body_bytes = 256 * 1024 * 1024;
  auto server = start_server(rt, config, fail_early);
  ASSERT_TRUE(server);
  auto client = Client::create();
  ASSERT_TRUE(client);
  for (size_t size : {kSmallBody, kLargeBody}) {
    auto whole = post_whole(rt, *client, url_for(*server), size);
    ASSERT_TRUE(whole) << size << ": " << whole.error().to_string();
    EXPECT_EQ(whole->status, 413) << size;
  }
  server->shutdown(5s);
}

TEST(HttpEarlyAnswer, ServerLimitAnswerReachesAClientStillSending) {
  Runtime rt(2);
  ServerConfig config;
  config.max_body_bytes = kHandlerLimit;
  auto server = start_server(rt, config, answer_early);
  ASSERT_TRUE(server);
  auto client = Client::create();
  ASSERT_TRUE(client);
  for (size_t size : {kSmallBody, kLargeBody}) {
    auto whole = post_whole(rt, *client, url_for(*server), size);
    ASSERT_TRUE(whole) << size << ": " << whole.error().to_string();
    EXPECT_EQ(whole->status, 413) << size;
    auto streamed = post_streamed(rt, *client, url_for(*server), size);
    ASSERT_TRUE(streamed) << size << ": " << streamed.error().to_string();
    EXPECT_EQ(*streamed, 413) << size;
  }
  server->shutdown(5s);
}

}  // namespace
}  // namespace openpcc::net
