// The OHTTP relay against an in-process fake gateway (a net::Server that records what it receives): what crosses
// the relay (only Content-Type, Incremental, Content-Length and the body up; status, Content-Type, Content-Length and
// the body down), streaming in both directions, refusals (415, 413, 405), gateway failures (502, 504), health and
// metrics, and the configuration file.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "services/relay/relay_handler.h"
#include "services/relay/relay_service.h"
#include "support/tap_proxy.h"

namespace openpcc::relay {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kLiveness = 10s;

nlohmann::json parse(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, false, /*ignore_comments=*/true);
}

std::string binary_body(size_t n, uint8_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) & 0xff);  // includes NUL, CR, LF
  return s;
}

// Polls `done` from a coroutine without blocking the runtime's threads.
net::Task<bool> wait_until(std::function<bool()> done, std::chrono::milliseconds timeout = kLiveness) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) co_return false;
    co_await net::sleep_for(2ms);
  }
  co_return true;
}

// What the fake gateway saw of one request.
struct Seen {
  std::string method;
  std::string target;
  net::Headers headers;
  std::optional<uint64_t> content_length;
  bool chunked = false;
  std::string body;
};

// A gateway stand-in: records every request; by default reads the whole body and answers 200 with a few response
// fields the relay must not pass on. Tests may replace the handler.
class FakeGateway {
 public:
  using Custom = std::function<net::Task<Status>(net::ServerRequest&, net::ServerResponse&, Seen&)>;

  explicit FakeGateway(net::Runtime& runtime, Custom custom = {}) : custom_(std::move(custom)) {
    net::ServerConfig config;
    config.name = "fake-gateway";
    auto server = net::Server::start(runtime, config, [this](net::ServerRequest& req, net::ServerResponse& res) {
      return handle(req, res);
    });
    EXPECT_TRUE(server) << server.error().to_string();
    server_ = std::move(*server);
  }
  ~FakeGateway() { server_->shutdown(1s); }

  uint16_t port() const { return server_->port(); }
  std::string url(const std::string& path = "/gateway") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  std::vector<Seen> requests() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  net::Task<Status> handle(net::ServerRequest& req, net::ServerResponse& res) {
    Seen seen;
    seen.method = std::string(req.method());
    seen.target = std::string(req.target());
    seen.headers = req.headers();
    seen.content_length = req.content_length();
    seen.chunked = req.is_chunked();
    Status result;
    if (custom_) {
      result = co_await custom_(req, res, seen);
    } else {
      auto body = co_await req.read_all();
      if (!body) co_return std::unexpected(body.error());
      seen.body = to_string(*body);
      {
        // Recorded before answering: the client may read the whole answer before this coroutine resumes.
        std::lock_guard lock(mutex_);
        seen_.push_back(seen);
      }
      net::Headers head{{"Content-Type", "message/ohttp-res"},
                        {"Set-Cookie", "track=me"},
                        {"Server", "fake-gateway/1.0"},
                        {"X-Gateway-Secret", "internal"},
                        {"Cache-Control", "private"}};
      const std::string answer = "answer:" + seen.body;
      co_return co_await res.send(200, std::move(head), answer);
    }
    std::lock_guard lock(mutex_);
    seen_.push_back(std::move(seen));
    co_return result;
  }

  Custom custom_;
  std::unique_ptr<net::Server> server_;
  mutable std::mutex mutex_;
  std::vector<Seen> seen_;
};

// A plain blocking socket, for exact control of what the client sends.
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
  ~RawSocket() { ::close(fd_); }
  bool connected() const { return connected_; }
  uint16_t local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
  }
  bool send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Everything until the peer closes (or the timeout).
  std::string read_to_close(std::chrono::milliseconds timeout = kLiveness) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// A port nothing listens on (bound, then closed).
uint16_t dead_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

ServiceConfig relay_config(const std::string& gateway_url) {
  ServiceConfig config;
  config.port = 0;
  config.gateway_url = gateway_url;
  config.threads = 2;
  return config;
}

std::unique_ptr<Service> start_relay(const ServiceConfig& config) {
  auto relay = Service::start(config);
  EXPECT_TRUE(relay) << relay.error().to_string();
  return relay ? std::move(*relay) : nullptr;
}

std::set<std::string> lowercase_names(const net::Headers& headers) {
  std::set<std::string> names;
  for (const auto& [name, value] : headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // Connection is the HTTP client's (close, or nothing on a pooled connection), not something the relay forwards.
    if (lower != "connection") names.insert(lower);
  }
  return names;
}

class RelayTest : public ::testing::Test {
 protected:
  net::Client client() {
    auto c = net::Client::create();
    EXPECT_TRUE(c);
    return *c;
  }
  net::Runtime runtime_{2};
};

// ---------------------------------------------------------------------------------------------------------------------
// Header functions

TEST(RelayHeaders, RequestMediaTypes) {
  EXPECT_EQ(ohttp_request_media_type("message/ohttp-req"), kOhttpRequestMediaType);
  EXPECT_EQ(ohttp_request_media_type(" Message/OHTTP-Chunked-Req\t"), kOhttpChunkedRequestMediaType);
  EXPECT_FALSE(ohttp_request_media_type("message/ohttp-res"));
  EXPECT_FALSE(ohttp_request_media_type("message/ohttp-req; charset=utf-8"));
  EXPECT_FALSE(ohttp_request_media_type("application/octet-stream"));
  EXPECT_FALSE(ohttp_request_media_type(""));
}

TEST(RelayHeaders, UpstreamRequestHeadersAreOnlyTheAllowedOnes) {
  net::Headers in{{"content-type", "MESSAGE/OHTTP-REQ"}, {"Cookie", "a=b"}, {"X-Forwarded-For", "203.0.113.7"},
                  {"Incremental", "?0"}, {"Content-Length", "99"}};
  auto out = gateway_request_headers(in, 12);
  ASSERT_TRUE(out) << out.error().to_string();
  EXPECT_EQ(*out, (net::Headers{{"Content-Type", "message/ohttp-req"}, {"Content-Length", "12"}}));

  net::Headers chunked{{"Content-Type", "message/ohttp-chunked-req"}};
  auto out2 = gateway_request_headers(chunked, std::nullopt);
  ASSERT_TRUE(out2);
  EXPECT_EQ(*out2, (net::Headers{{"Content-Type", "message/ohttp-chunked-req"}, {"Incremental", "?1"}}));

  EXPECT_EQ(gateway_request_headers(net::Headers{}, 0).error().code, ErrorCode::kUnsupported);
  net::Headers twice{{"Content-Type", "message/ohttp-req"}, {"Content-Type", "message/ohttp-req"}};
  EXPECT_FALSE(gateway_request_headers(twice, 0));
  net::Headers json{{"Content-Type", "application/json"}};
  EXPECT_FALSE(gateway_request_headers(json, 0));
}

TEST(RelayHeaders, ResponseHeadersAreContentTypeAndLength) {
  net::Headers in{{"Content-Type", "message/ohttp-res"}, {"Content-Length", "5"}, {"Set-Cookie", "x"},
                  {"Server", "s"}, {"Trailer", "X-Refund"}};
  EXPECT_EQ(client_response_headers(in),
            (net::Headers{{"Content-Type", "message/ohttp-res"}, {"Content-Length", "5"}}));
  net::Headers chunked{{"Transfer-Encoding", "chunked"}, {"Content-Type", "message/ohttp-chunked-res"}};
  EXPECT_EQ(client_response_headers(chunked), (net::Headers{{"Content-Type", "message/ohttp-chunked-res"}}));
}

// ---------------------------------------------------------------------------------------------------------------------
// Forwarding

TEST_F(RelayTest, ForwardsOnlyContentTypeLengthAndBodyAndNoClientAddressIsLogged) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  auto logger = std::make_shared<spdlog::logger>("relay-test", sink);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::trace);

  FakeGateway gateway(runtime_);
  auto tap = test_support::TapProxy::start(gateway.port());
  ASSERT_TRUE(tap) << tap.error().to_string();
  auto relay = start_relay(relay_config((*tap)->url("/gateway")));
  ASSERT_TRUE(relay);

  const std::string body = binary_body(3000, 7);
  RawSocket socket(relay->port());
  ASSERT_TRUE(socket.connected());
  const uint16_t client_port = socket.local_port();
  const std::string request =
      "POST /some/path?user=alice HTTP/1.1\r\n"
      "Host: relay.example\r\n"
      "Content-Type: message/ohttp-req\r\n"
      "Content-Length: " + std::to_string(body.size()) + "\r\n"
      "X-Forwarded-For: 203.0.113.7\r\n"
      "X-Forwarded-Proto: https\r\n"
      "X-Real-IP: 203.0.113.7\r\n"
      "Forwarded: for=203.0.113.7\r\n"
      "Via: 1.1 corp-proxy\r\n"
      "Cookie: session=secret-cookie\r\n"
      "User-Agent: curious-client/9.9\r\n"
      "Authorization: Bearer secret-token\r\n"
      "Accept-Language: tlh\r\n"
      "X-Custom-Thing: custom-value\r\n"
      "Connection: close\r\n"
      "\r\n" + body;
  ASSERT_TRUE(socket.send_all(request));
  const std::string response = socket.read_to_close();

  // The client got the gateway's status, Content-Type, Content-Length and body, and nothing else of its head.
  ASSERT_TRUE(response.starts_with("HTTP/1.1 200")) << response.substr(0, 200);
  const size_t head_end = response.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  const std::string head = response.substr(0, head_end);
  EXPECT_EQ(response.substr(head_end + 4), "answer:" + body);
  EXPECT_NE(head.find("Content-Type: message/ohttp-res"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Length: " + std::to_string(7 + body.size())), std::string::npos) << head;
  for (const char* banned : {"Set-Cookie", "Server", "X-Gateway-Secret", "Cache-Control", "fake-gateway"}) {
    EXPECT_EQ(head.find(banned), std::string::npos) << banned << " reached the client:\n" << head;
  }

  // The gateway got exactly Host, Connection (the relay's own connection handling), Content-Type, Content-Length.
  auto seen = gateway.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/gateway");  // not the client's path or query
  EXPECT_EQ(lowercase_names(seen[0].headers),
            (std::set<std::string>{"host", "content-type", "content-length"}));
  EXPECT_EQ(seen[0].headers.get("Content-Type"), "message/ohttp-req");
  EXPECT_EQ(seen[0].content_length, body.size());
  EXPECT_FALSE(seen[0].chunked);
  EXPECT_EQ(seen[0].body, body);

  // And on the wire towards the gateway (the tap's copy), none of the client's identifying bytes appear.
  const std::string upstream_bytes = (*tap)->received();
  for (const char* banned : {"203.0.113.7", "X-Forwarded", "Forwarded", "Via", "corp-proxy", "Cookie",
                             "secret-cookie", "User-Agent", "curious-client", "Authorization", "secret-token",
                             "X-Custom-Thing", "custom-value", "Accept-Language", "X-Real-IP", "relay.example",
                             "/some/path", "alice"}) {
    EXPECT_EQ(upstream_bytes.find(banned), std::string::npos) << banned << " reached the gateway";
  }
  EXPECT_NE(upstream_bytes.find(body), std::string::npos);

  relay->shutdown(1s);
  spdlog::set_default_logger(previous);
  const auto lines = sink->last_formatted();
  EXPECT_FALSE(lines.empty());  // the test does see the relay's log
  for (const auto& line : lines) {
    EXPECT_EQ(line.find(":" + std::to_string(client_port)), std::string::npos) << line;
    EXPECT_EQ(line.find("203.0.113.7"), std::string::npos) << line;
  }
}

TEST_F(RelayTest, ChunkedRequestAndResponseStreamPieceByPieceInBothDirections) {
  const std::string c1 = binary_body(100, 1), c2 = binary_body(200, 2);
  const std::string r1 = "first response piece", r2 = "second response piece";
  std::atomic<bool> gateway_saw_c1{false}, client_saw_r1{false}, gateway_saw_end{false};
  std::string gateway_body;  // written by the gateway handler only; read after the exchange

  FakeGateway gateway(runtime_, [&](net::ServerRequest& req, net::ServerResponse& res, Seen&) -> net::Task<Status> {
    while (gateway_body.size() < c1.size()) {
      auto piece = co_await req.read_chunk();
      if (!piece) co_return std::unexpected(piece.error());
      if (!*piece) break;
      gateway_body += to_string(**piece);
    }
    gateway_saw_c1 = true;  // the client has not sent c2 yet: it waits for this
    net::Headers head{{"Content-Type", "message/ohttp-chunked-res"}, {"Server", "x"}};
    if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
    if (auto ok = co_await res.write_chunk(as_bytes(r1)); !ok) co_return ok;
    // r2 only after the client has r1: a relay that held the response back would never get here in time.
    EXPECT_TRUE(co_await wait_until([&] { return client_saw_r1.load(); }));
    for (;;) {
      auto piece = co_await req.read_chunk();
      if (!piece) co_return std::unexpected(piece.error());
      if (!*piece) break;
      gateway_body += to_string(**piece);
    }
    gateway_saw_end = true;
    if (auto ok = co_await res.write_chunk(as_bytes(r2)); !ok) co_return ok;
    co_return co_await res.finish();
  });
  auto relay = start_relay(relay_config(gateway.url()));
  ASSERT_TRUE(relay);

  auto c = client();
  const std::string received = runtime_.block_on([&]() -> net::Task<std::string> {
    net::Headers head{{"Content-Type", "message/ohttp-chunked-req"}, {"Cookie", "a=b"}};
    auto up = co_await c.open("POST", relay->url() + "/", std::move(head));
    EXPECT_TRUE(up);
    if (!up) co_return std::string();
    auto& stream = **up;
    EXPECT_TRUE(co_await stream.write_chunk(as_bytes(c1)));
    // The gateway must see c1 while the request is still open.
    EXPECT_TRUE(co_await wait_until([&] { return gateway_saw_c1.load(); }));
    EXPECT_TRUE(co_await stream.read_head());
    EXPECT_EQ(stream.status(), 200);
    EXPECT_EQ(stream.headers().get("Content-Type"), "message/ohttp-chunked-res");
    EXPECT_FALSE(stream.headers().contains("Server"));
    std::string got;
    while (got.size() < r1.size()) {
      auto piece = co_await stream.read_chunk();
      EXPECT_TRUE(piece && *piece);
      if (!piece || !*piece) co_return got;
      got += to_string(**piece);
    }
    EXPECT_FALSE(gateway_saw_end.load());  // r1 arrived while the upload was still open
    client_saw_r1 = true;
    EXPECT_TRUE(co_await stream.write_chunk(as_bytes(c2)));
    EXPECT_TRUE(co_await stream.finish());
    for (;;) {
      auto piece = co_await stream.read_chunk();
      EXPECT_TRUE(piece);
      if (!piece || !*piece) break;
      got += to_string(**piece);
    }
    EXPECT_TRUE(stream.trailers().empty());
    co_return got;
  });
  EXPECT_EQ(received, r1 + r2);
  EXPECT_EQ(gateway_body, c1 + c2);
  // The fake gateway records the request after its handler returns, which can be just after the client has read the
  // response's end: wait for the record.
  auto seen = gateway.requests();
  for (int i = 0; i < 500 && seen.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    seen = gateway.requests();
  }
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].chunked);
  EXPECT_FALSE(seen[0].content_length);
  EXPECT_EQ(seen[0].headers.get("Incremental"), "?1");
  EXPECT_EQ(seen[0].headers.get("Content-Type"), "message/ohttp-chunked-req");
  EXPECT_FALSE(seen[0].headers.contains("Cookie"));
  EXPECT_EQ(lowercase_names(seen[0].headers),
            (std::set<std::string>{"host", "content-type", "incremental", "transfer-encoding"}));
}

TEST_F(RelayTest, PassesTheGatewaysErrorStatusAndBody) {
  FakeGateway gateway(runtime_, [](net::ServerRequest& req, net::ServerResponse& res, Seen&) -> net::Task<Status> {
    (void)co_await req.read_all();
    net::Headers head{{"Content-Type", "application/problem+json"}};
    co_return co_await res.send(400, std::move(head), std::string_view(R"({"type":"ohttp-key"})"));
  });
  auto relay = start_relay(relay_config(gateway.url()));
  ASSERT_TRUE(relay);
  auto c = client();
  auto res = runtime_.block_on([&]() -> net::Task<Result<net::ClientResponse>> {
    net::Headers head{{"Content-Type", "message/ohttp-req"}};
    co_return co_await c.fetch(net::ClientRequest("POST", relay->url() + "/", to_bytes("x"), std::move(head)));
  });
  ASSERT_TRUE(res) << res.error().to_string();
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(res->headers.get("Content-Type"), "application/problem+json");
  EXPECT_EQ(to_string(res->body), R"({"type":"ohttp-key"})");
}

// ---------------------------------------------------------------------------------------------------------------------
// Refusals and failures

net::Task<Result<net::ClientResponse>> post(net::Client& c, std::string url, std::string content_type,
                                            std::string body) {
  net::Headers head;
  if (!content_type.empty()) head.add("Content-Type", content_type);
  co_return co_await c.fetch(net::ClientRequest("POST", std::move(url), to_bytes(body), std::move(head)));
}

TEST_F(RelayTest, OtherMediaTypesAre415AndNeverReachTheGateway) {
  FakeGateway gateway(runtime_);
  auto relay = start_relay(relay_config(gateway.url()));
  ASSERT_TRUE(relay);
  auto c = client();
  for (const std::string type : {"application/json", "", "message/ohttp-res", "message/ohttp-req; x=1",
                                 "application/octet-stream"}) {
    auto res = runtime_.block_on([&] { return post(c, relay->url() + "/", type, "hello"); });
    ASSERT_TRUE(res) << res.error().to_string();
    EXPECT_EQ(res->status, 415) << type;
  }
  // Case and whitespace do not matter for the two accepted types.
  auto ok = runtime_.block_on([&] { return post(c, relay->url() + "/", "Message/OHTTP-Req", "hi"); });
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto seen = gateway.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].headers.get("Content-Type"), "message/ohttp-req");
}

TEST_F(RelayTest, UnreachableGatewayIs502) {
  auto relay = start_relay(relay_config("http://127.0.0.1:" + std::to_string(dead_port()) + "/"));
  ASSERT_TRUE(relay);
  auto c = client();
  auto res = runtime_.block_on([&] { return post(c, relay->url() + "/", "message/ohttp-req", "hello"); });
  ASSERT_TRUE(res) << res.error().to_string();
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(to_string(res->body), "bad gateway");
  EXPECT_EQ(res->headers.get("Content-Type"), "text/plain; charset=utf-8");
}

TEST_F(RelayTest, GatewayThatClosesWithoutAnsweringIs502) {
  // The tap to a dead port accepts and closes at once: the gateway host is up, its service is not.
  auto tap = test_support::TapProxy::start(dead_port());
  ASSERT_TRUE(tap);
  auto relay = start_relay(relay_config((*tap)->url()));
  ASSERT_TRUE(relay);
  auto c = client();
  auto res = runtime_.block_on([&] { return post(c, relay->url() + "/", "message/ohttp-req", "hello"); });
  ASSERT_TRUE(res) << res.error().to_string();
  EXPECT_EQ(res->status, 502);
}

TEST_F(RelayTest, SilentGatewayIs504AfterTheReadTimeout) {
  FakeGateway gateway(runtime_, [](net::ServerRequest& req, net::ServerResponse& res, Seen&) -> net::Task<Status> {
    (void)co_await req.read_all();
    co_await net::sleep_for(3s);
    co_return co_await res.send(200, net::Headers(), std::string_view("late"));
  });
  auto config = relay_config(gateway.url());
  config.gateway_read_timeout = 300ms;
  auto relay = start_relay(config);
  ASSERT_TRUE(relay);
  auto c = client();
  auto res = runtime_.block_on([&] { return post(c, relay->url() + "/", "message/ohttp-req", "hello"); });
  ASSERT_TRUE(res) << res.error().to_string();
  EXPECT_EQ(res->status, 504);
}

TEST_F(RelayTest, GatewayFailingMidResponseTruncatesTheClientsResponse) {
  FakeGateway gateway(runtime_, [](net::ServerRequest& req, net::ServerResponse& res, Seen&) -> net::Task<Status> {
    (void)co_await req.read_all();
    net::Headers head{{"Content-Type", "message/ohttp-chunked-res"}};
    if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
    if (auto ok = co_await res.write_chunk(as_bytes(std::string_view("partial"))); !ok) co_return ok;
    co_return make_error(ErrorCode::kInternal, "engine died");  // the server closes the connection
  });
  auto relay = start_relay(relay_config(gateway.url()));
  ASSERT_TRUE(relay);
  auto c = client();
  auto res = runtime_.block_on([&] { return post(c, relay->url() + "/", "message/ohttp-chunked-req", "hello"); });
  EXPECT_FALSE(res);  // not a clean end: the client can tell the answer is cut
}

TEST_F(RelayTest, BodiesOverTheLimitAre413) {
  FakeGateway gateway(runtime_);
  auto config = relay_config(gateway.url());
  config.max_body_bytes = 1024;
  auto relay = start_relay(config);
  ASSERT_TRUE(relay);
  auto c = client();

  // Announced by Content-Length: refused before anything goes upstream.
  auto res = runtime_.block_on([&] { return post(c, relay->url() + "/", "message/ohttp-req", std::string(2000, 'a')); });
  ASSERT_TRUE(res) << res.error().to_string();
  EXPECT_EQ(res->status, 413);
  EXPECT_TRUE(gateway.requests().empty());

  // Chunked: found out while streaming.
  auto status = runtime_.block_on([&]() -> net::Task<int> {
    net::Headers head{{"Content-Type", "message/ohttp-chunked-req"}};
    auto up = co_await c.open("POST", relay->url() + "/", std::move(head));
    if (!up) co_return -1;
    const std::string piece(600, 'b');
    for (int i = 0; i < 4; ++i) {
      if (!co_await (*up)->write_chunk(as_bytes(piece))) break;  // the relay may close once it has answered
    }
    (void)co_await (*up)->finish();
    if (!co_await (*up)->read_head()) co_return -2;
    co_return (*up)->status();
  });
  EXPECT_EQ(status, 413);

  // A body exactly at the limit passes.
  auto at_limit =
      runtime_.block_on([&] { return post(c, relay->url() + "/", "message/ohttp-req", std::string(1024, 'c')); });
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->status, 200);
}

// A client that breaks its connection mid-body, with a Content-Length or a chunked body: the relay aborts its
// gateway connection, so the gateway sees the connection end (kIo) instead of waiting out its body read timeout (or
// being handed a body that ends where the client broke off).
TEST_F(RelayTest, AClientThatBreaksOffMidBodyCutsTheGatewayConnection) {
  struct Outcome {
    std::mutex mutex;
    std::vector<std::optional<ErrorCode>> reads;  // per request: the read error, or nullopt for a complete body
    std::atomic<int> first_pieces{0};
  } outcome;
  FakeGateway gateway(runtime_, [&outcome](net::ServerRequest& req, net::ServerResponse& res,
                                           Seen& seen) -> net::Task<Status> {
    bool counted = false;
    for (;;) {
      auto piece = co_await req.read_chunk();
      if (!piece) {
        std::lock_guard lock(outcome.mutex);
        outcome.reads.push_back(piece.error().code);
        co_return std::unexpected(piece.error());
      }
      if (!*piece) break;
      seen.body += to_string(**piece);
      if (!counted) {
        counted = true;
        ++outcome.first_pieces;
      }
    }
    {
      std::lock_guard lock(outcome.mutex);
      outcome.reads.push_back(std::nullopt);
    }
    co_return co_await res.send(200, net::Headers(), std::string_view("complete"));
  });
  auto relay = start_relay(relay_config(gateway.url()));  // the gateway's body read timeout: 30 s (the default)
  ASSERT_TRUE(relay);
  const uint16_t relay_port = relay->port();

  const std::vector<std::string> broken_requests = {
      "POST / HTTP/1.1\r\nHost: relay\r\nContent-Type: message/ohttp-req\r\nContent-Length: 1000\r\n\r\n"
      "first bytes of 1000",
      "POST / HTTP/1.1\r\nHost: relay\r\nContent-Type: message/ohttp-chunked-req\r\n"
      "Transfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n",
  };
  for (size_t i = 0; i < broken_requests.size(); ++i) {
    {
      RawSocket raw(relay_port);
      ASSERT_TRUE(raw.connected());
      ASSERT_TRUE(raw.send_all(broken_requests[i]));
      ASSERT_TRUE(runtime_.block_on([&]() -> net::Task<bool> {
        co_return co_await wait_until([&] { return outcome.first_pieces.load() > static_cast<int>(i); });
      })) << "request " << i << " never reached the gateway";
    }  // the client's socket closes mid-body
    ASSERT_TRUE(runtime_.block_on([&]() -> net::Task<bool> {
      co_return co_await wait_until([&] {
        std::lock_guard lock(outcome.mutex);
        return outcome.reads.size() > i;
      });
    })) << "request " << i << ": the gateway still waits for the body";
    std::lock_guard lock(outcome.mutex);
    ASSERT_TRUE(outcome.reads[i]) << "request " << i << ": the gateway was handed a complete body";
    EXPECT_EQ(*outcome.reads[i], ErrorCode::kIo) << "request " << i;  // the connection ended; not kTimeout
  }
}

// A request stuck on a stalled gateway does not hold the relay's shutdown for the gateway read timeout (60 s here):
// its gateway stream is cut when the grace period (200 ms) ends. The bound checked is the read timeout itself, so
// the test cannot fail on a slow machine, only when the stream is not cut.
TEST_F(RelayTest, ShutdownCutsAStalledGatewayStreamWhenTheGraceEnds) {
  std::atomic<bool> arrived{false};
  std::atomic<bool> release{false};
  FakeGateway gateway(runtime_, [&](net::ServerRequest& req, net::ServerResponse& res, Seen&) -> net::Task<Status> {
    (void)co_await req.read_all();
    arrived = true;
    const auto give_up = Clock::now() + 60s;
    while (!release && Clock::now() < give_up) co_await net::sleep_for(20ms);
    net::Headers head;  // named: GCC 12 and initializer lists in co_await
    head.set("Content-Type", "message/ohttp-res");
    co_return co_await res.send(200, std::move(head), std::string_view("late"));
  });
  auto config = relay_config(gateway.url());
  config.gateway_read_timeout = 60s;
  auto relay = start_relay(config);
  ASSERT_TRUE(relay);
  auto pending = std::async(std::launch::async, [url = relay->url() + "/"] {
    net::Headers head{{"Content-Type", "message/ohttp-req"}};
    return net::fetch_blocking(net::ClientRequest("POST", url, to_bytes("hello"), std::move(head)));
  });
  const auto arrive_by = Clock::now() + 10s;
  while (!arrived && Clock::now() < arrive_by) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(arrived) << "the request never reached the gateway";

  auto stopped = std::async(std::launch::async, [&relay] { relay->shutdown(200ms); });
  const bool in_time = stopped.wait_for(30s) == std::future_status::ready;  // half the read timeout
  release = true;  // let a failing run end
  EXPECT_TRUE(in_time) << "the shutdown waited for the stalled gateway";
  stopped.get();
  auto answer = pending.get();
  EXPECT_FALSE(answer && answer->status == 200 && to_string(answer->body) == "late");
}

TEST_F(RelayTest, HealthMetricsAndMethods) {
  FakeGateway gateway(runtime_);
  auto relay = start_relay(relay_config(gateway.url()));
  ASSERT_TRUE(relay);
  auto c = client();
  auto health = runtime_.block_on([&] { return c.fetch(net::ClientRequest("GET", relay->url() + "/_health")); });
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(to_string(health->body), R"({"status":"OK"})");

  auto ok = runtime_.block_on([&] { return post(c, relay->url() + "/", "message/ohttp-req", "12345"); });
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto refused = runtime_.block_on([&] { return post(c, relay->url() + "/", "text/plain", "x"); });
  ASSERT_TRUE(refused);
  auto get = runtime_.block_on([&] { return c.fetch(net::ClientRequest("GET", relay->url() + "/gateway")); });
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->headers.get("Allow"), "POST");
  EXPECT_TRUE(gateway.requests().size() == 1);

  auto metrics = runtime_.block_on([&] { return c.fetch(net::ClientRequest("GET", relay->url() + "/metrics")); });
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const std::string text = to_string(metrics->body);
  EXPECT_NE(text.find("openpcc_relay_requests_total{outcome=\"ok\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("openpcc_relay_requests_total{outcome=\"unsupported_media_type\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("openpcc_relay_requests_total{outcome=\"method_not_allowed\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("openpcc_relay_request_bytes_total 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("openpcc_relay_response_bytes_total 12\n"), std::string::npos) << text;  // "answer:12345"
  EXPECT_NE(text.find("openpcc_relay_requests_in_flight 0\n"), std::string::npos);
  EXPECT_NE(text.find("openpcc_relay_request_seconds_count 2\n"), std::string::npos) << text;
  EXPECT_EQ(relay->metrics().render().find("127.0.0.1"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------------------------
// Configuration

TEST(RelayConfig, ExampleParsesToTheDocumentedDefaults) {
  auto json = parse(example_service_config());
  ASSERT_FALSE(json.is_discarded());
  auto cfg = parse_service_config(json, "/srv/relay");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->host, "127.0.0.1");
  EXPECT_EQ(cfg->port, 8080);
  EXPECT_EQ(cfg->gateway_url, "http://127.0.0.1:8082/");
  EXPECT_TRUE(cfg->gateway_ca_file.empty());
  ASSERT_TRUE(cfg->tls);
  EXPECT_EQ(cfg->tls->certificate_file, std::filesystem::path("/srv/relay/relay-cert.pem"));
  EXPECT_EQ(cfg->max_body_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(cfg->max_connections, 1024u);
  EXPECT_EQ(cfg->gateway_read_timeout, 300s);
  EXPECT_EQ(cfg->header_timeout, 10s);
  EXPECT_EQ(cfg->threads, 2u);
  EXPECT_FALSE(cfg->log_client_addresses);
  EXPECT_EQ(cfg->log_level, "info");
}

TEST(RelayConfig, MinimalConfigAndRefusals) {
  auto cfg = parse_service_config(parse(R"({"gateway_url": "https://gw.example/ohttp", "listen": "[::1]:0",
                                            "gateway_ca_file": "ca.pem", "timeouts": {"gateway_read_ms": 5}})"),
                                  "/etc/relay");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->host, "::1");
  EXPECT_EQ(cfg->port, 0);
  EXPECT_EQ(cfg->gateway_ca_file, std::filesystem::path("/etc/relay/ca.pem"));
  EXPECT_EQ(cfg->gateway_read_timeout, 5ms);
  EXPECT_FALSE(cfg->tls);

  auto missing = parse_service_config(parse("{}"), "/");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("gateway_url is required"), std::string::npos);
  auto typo = parse_service_config(parse(R"({"gateway_url": "http://g/", "gateway_ulr": "x"})"), "/");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("gateway_ulr"), std::string::npos);
  EXPECT_FALSE(parse_service_config(parse(R"({"gateway_url": "ftp://g/"})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"gateway_url": "http://g/", "tls": {"certificate": "c"}})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"gateway_url": "http://g/", "log_level": "loud"})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"gateway_url": "http://g/", "limits": {"max_body_bytes": 1}})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"gateway_url": "http://g/", "timeouts": {"header_ms": 0}})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"gateway_url": "http://g/", "log_client_addresses": "yes"})"), "/"));
  EXPECT_NE(service_config_help().find("DE-ANONYMIZES"), std::string::npos);
}

}  // namespace
}  // namespace openpcc::relay
