// tests/support/tap_proxy.h: bytes pass both ways unchanged and are recorded per connection.
#include "support/tap_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include <gtest/gtest.h>

#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"

namespace openpcc::test_support {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<net::Server> echo_server(net::Runtime& runtime) {
  net::ServerConfig config;
  auto server = net::Server::start(runtime, config, [](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
    auto body = co_await req.read_all();
    if (!body) co_return std::unexpected(body.error());
    net::Headers head{{"Content-Type", "text/plain"}};
    const std::string answer = "echo:" + to_string(*body);
    co_return co_await res.send(200, std::move(head), answer);
  });
  EXPECT_TRUE(server);
  return std::move(*server);
}

TEST(TapProxy, ForwardsBothWaysAndRecordsEachConnection) {
  net::Runtime runtime(1);
  auto server = echo_server(runtime);
  auto tap = TapProxy::start(server->port());
  ASSERT_TRUE(tap) << tap.error().to_string();
  EXPECT_NE((*tap)->port(), server->port());
  EXPECT_EQ((*tap)->connection_count(), 0u);

  net::ClientOptions options;
  options.pool_connections = false;  // one recording per request
  auto client = net::Client::create(options);
  ASSERT_TRUE(client);
  for (const std::string& body : {std::string("first body"), std::string("second\0body", 11)}) {
    auto res = runtime.block_on([&]() -> net::Task<Result<net::ClientResponse>> {
      co_return co_await client->fetch(net::ClientRequest("POST", (*tap)->url("/echo"), to_bytes(body)));
    });
    ASSERT_TRUE(res) << res.error().to_string();
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(to_string(res->body), "echo:" + body);
  }
  // Without its pool, net::Client uses one connection per request.
  ASSERT_EQ((*tap)->connection_count(), 2u);
  const auto connections = (*tap)->connections();
  ASSERT_EQ(connections.size(), 2u);
  EXPECT_TRUE(connections[0].received.starts_with("POST /echo HTTP/1.1\r\n"));
  EXPECT_TRUE(connections[0].received.ends_with("\r\n\r\nfirst body"));
  EXPECT_TRUE(connections[0].sent.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(connections[0].sent.ends_with("echo:first body"));
  EXPECT_TRUE(connections[1].received.ends_with(std::string("second\0body", 11)));
  EXPECT_EQ((*tap)->received(), connections[0].received + connections[1].received);
  EXPECT_EQ((*tap)->sent(), connections[0].sent + connections[1].sent);

  (*tap)->stop();
  (*tap)->stop();  // idempotent
  EXPECT_EQ((*tap)->connection_count(), 2u);  // the recordings stay
  auto after = runtime.block_on([&]() -> net::Task<Result<net::ClientResponse>> {
    co_return co_await client->fetch(net::ClientRequest("POST", (*tap)->url("/echo"), to_bytes("x")));
  });
  EXPECT_FALSE(after);
  server->shutdown(1s);
}

TEST(TapProxy, ADeadTargetClosesTheClientsConnection) {
  // A port nothing listens on.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);

  auto tap = TapProxy::start(ntohs(addr.sin_port));
  ASSERT_TRUE(tap);
  net::ClientOptions options;
  options.read_timeout = 5s;
  auto res = net::fetch_blocking(net::ClientRequest("GET", (*tap)->url("/")), options);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().code, ErrorCode::kTimeout);  // closed at once, not left hanging
  EXPECT_EQ((*tap)->connection_count(), 1u);
}

}  // namespace
}  // namespace openpcc::test_support
