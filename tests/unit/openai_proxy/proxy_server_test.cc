// The proxy's HTTP side against a scripted upstream (what it would send privately, and what comes back): routing,
// bodies and query strings passed unchanged, streams passed on as they come, error shapes, token, Origin/Host
// checks, limits, logs.
#include "client/openai_proxy/proxy_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/request_step.h"
#include "net/client.h"
#include "net/runtime.h"

namespace openpcc::client::openai_proxy {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::string text(ByteSpan b) { return std::string(b.begin(), b.end()); }

// One scripted answer of the upstream.
struct Script {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::string> pieces;
  std::optional<Error> send_error;   // send() fails with this
  std::optional<Error> error_after;  // read_chunk() fails with this after the pieces
  // Set: after the first piece, read_chunk() waits until the flag is true (an engine still generating).
  std::shared_ptr<std::atomic<bool>> gate;
  // > 0: an endless stream of this piece, one every piece_interval (a slow engine).
  bool endless = false;
  std::chrono::milliseconds piece_interval{0};
};

Script whole(std::string body) {
  Script s;
  s.pieces = {std::move(body)};
  return s;
}

class ScriptedResponse final : public UpstreamResponse {
 public:
  ScriptedResponse(Script script, std::shared_ptr<std::atomic<bool>> ended)
      : script_(std::move(script)), ended_(std::move(ended)) {
    headers_.set("content-type", script_.content_type);
  }
  int status() const override { return script_.status; }
  const net::Headers& headers() const override { return headers_; }
  std::string node_id() const override { return "node-7"; }

  net::Task<Result<std::optional<Bytes>>> read_chunk() override {
    if (script_.gate && next_ >= 1) {
      while (!script_.gate->load()) co_await net::sleep_for(1ms);
    }
    if (script_.endless) {
      co_await net::sleep_for(script_.piece_interval);
      co_return to_bytes(script_.pieces.at(0));
    }
    if (next_ < script_.pieces.size()) co_return to_bytes(script_.pieces[next_++]);
    ended_->store(true);
    if (script_.error_after) co_return std::unexpected(*script_.error_after);
    co_return std::nullopt;
  }

 private:
  Script script_;
  std::shared_ptr<std::atomic<bool>> ended_;
  net::Headers headers_;
  size_t next_ = 0;
};

class ScriptedUpstream final : public Upstream {
 public:
  net::Task<Result<std::unique_ptr<UpstreamResponse>>> send(PrivateRequest request) override {
    Script script;
    {
      std::lock_guard lock(mu_);
      received_.push_back(std::move(request));
      script = next_;
    }
    if (script.send_error) co_return std::unexpected(*script.send_error);
    co_return std::make_unique<ScriptedResponse>(std::move(script), ended_);
  }
  net::Task<Result<std::vector<std::string>>> models() override {
    std::lock_guard lock(mu_);
    co_return models_;
  }

  void answer(Script script) {
    std::lock_guard lock(mu_);
    next_ = std::move(script);
    ended_->store(false);
  }
  void set_models(Result<std::vector<std::string>> models) {
    std::lock_guard lock(mu_);
    models_ = std::move(models);
  }
  std::vector<PrivateRequest> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  bool answer_ended() const { return ended_->load(); }

 private:
  std::mutex mu_;
  Script next_;
  std::vector<PrivateRequest> received_;
  Result<std::vector<std::string>> models_ = std::vector<std::string>{};
  std::shared_ptr<std::atomic<bool>> ended_ = std::make_shared<std::atomic<bool>>(false);
};

// A raw HTTP/1.1 exchange (for header fields net::Client sets itself, such as Host): sends `request`, reads until
// the server closes.
std::string raw_exchange(uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

class ProxyServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void TearDown() override {
    if (proxy_) proxy_->shutdown(1s);
  }

  void start(ProxyConfig config) {
    if (proxy_) proxy_->shutdown(1s);
    config.port = 0;
    config_ = config;
    auto p = Proxy::start(runtime_, config, upstream_);
    ASSERT_TRUE(p) << p.error().to_string();
    proxy_ = std::move(*p);
  }

  Result<net::ClientResponse> call(std::string method, std::string target, std::string body = {},
                                   net::Headers headers = {}) {
    net::ClientRequest request(std::move(method), proxy_->url() + target, to_bytes(body), std::move(headers));
    return net::fetch_blocking(std::move(request));
  }
  Result<net::ClientResponse> post(std::string target, const json& body, net::Headers headers = {}) {
    return call("POST", std::move(target), body.dump(), std::move(headers));
  }

  static json chat_body(bool stream = false) {
    return json{{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"stream", stream}};
  }

  net::Runtime runtime_{2};
  net::Runtime client_runtime_{1};
  std::shared_ptr<ScriptedUpstream> upstream_ = std::make_shared<ScriptedUpstream>();
  std::unique_ptr<Proxy> proxy_;
  ProxyConfig config_;
};

TEST_F(ProxyServerTest, AWholeAnswerIsSentWithItsLengthStatusAndNode) {
  Script s;
  s.pieces = {"{\"object\":\"chat.", "completion\"}"};
  upstream_->answer(s);
  auto r = post("/v1/chat/completions", chat_body());
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(text(r->body), "{\"object\":\"chat.completion\"}");
  EXPECT_EQ(r->headers.get("Content-Type"), "application/json");
  EXPECT_EQ(r->headers.get("Content-Length"), "28");
  EXPECT_EQ(r->headers.get("X-OpenPCC-Node"), "node-7");
  auto got = upstream_->received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/v1/chat/completions");
  EXPECT_EQ(got[0].model, "m");
  EXPECT_EQ(text(got[0].body), chat_body().dump());
}

TEST_F(ProxyServerTest, QueryStringAndBodyBytesReachTheUpstreamUnchanged) {
  upstream_->answer(whole("{}"));
  // UTF-8 in several widths, an escaped NUL, odd spacing: the node gets these bytes, not a re-encoding.
  const std::string body = "{ \"model\" : \"m\", \"prompt\": \"na\xc3\xafve \\u0000 \xe6\x97\xa5\xf0\x9f\x94\x92\" }";
  auto r = call("POST", "/v1/completions?api-version=2024-06-01&x=%20y", body);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  auto got = upstream_->received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/v1/completions?api-version=2024-06-01&x=%20y");
  EXPECT_EQ(text(got[0].body), body);
  // Ollama paths too.
  auto o = call("POST", "/api/generate?keep=1", R"({"model":"m","prompt":"p","stream":false})");
  ASSERT_TRUE(o);
  EXPECT_EQ(upstream_->received().back().target, "/api/generate?keep=1");
}

TEST_F(ProxyServerTest, BinaryAnswersComeBackByteForByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  Script s;
  s.content_type = "application/octet-stream";
  s.pieces = {all.substr(0, 1), all.substr(1, 200), all.substr(201)};
  upstream_->answer(s);
  auto r = post("/v1/completions", json{{"model", "m"}, {"prompt", "p"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(text(r->body), all);
  EXPECT_EQ(r->headers.get("Content-Type"), "application/octet-stream");

  // Streamed too: NUL and every other byte inside an event.
  std::string no_newline;
  for (char c : all) {
    if (c != '\n') no_newline += c;
  }
  const std::string event = "data: " + no_newline + "\n\n";
  Script st;
  st.content_type = "text/event-stream";
  st.pieces = {event.substr(0, 3), event.substr(3) + event};
  upstream_->answer(st);
  auto streamed = post("/v1/completions", json{{"model", "m"}, {"prompt", "p"}, {"stream", true}});
  ASSERT_TRUE(streamed);
  EXPECT_EQ(text(streamed->body), event + event);
}

TEST_F(ProxyServerTest, TheFirstStreamedEventArrivesWhileTheEngineStillGenerates) {
  auto gate = std::make_shared<std::atomic<bool>>(false);
  Script s;
  s.content_type = "text/event-stream";
  const std::string first = "data: {\"choices\":[{\"delta\":{\"content\":\"first\"}}]}\n\n";
  const std::string rest = "data: {\"choices\":[{\"delta\":{\"content\":\"rest\"}}]}\n\ndata: [DONE]\n\n";
  s.pieces = {first, rest};
  s.gate = gate;
  upstream_->answer(s);

  auto outcome = client_runtime_.block_on([&]() -> net::Task<Result<std::string>> {
    net::ClientOptions options;
    options.read_timeout = 20s;  // a proxy that held the event back fails here instead of hanging
    auto http = net::Client::create(options);
    if (!http) co_return std::unexpected(http.error());
    net::ClientRequest request("POST", proxy_->url() + "/v1/chat/completions", to_bytes(chat_body(true).dump()));
    auto stream = co_await http->send(std::move(request));
    if (!stream) co_return std::unexpected(stream.error());
    std::string got;
    while (got.find("\n\n") == std::string::npos) {
      auto piece = co_await (*stream)->read_chunk();
      if (!piece) co_return std::unexpected(piece.error());
      if (!*piece) break;
      got += text(**piece);
    }
    // The first event is here; the engine has not finished (it cannot: the gate is closed).
    EXPECT_EQ(got, first);
    EXPECT_FALSE(upstream_->answer_ended());
    EXPECT_FALSE(gate->load());
    gate->store(true);
    for (;;) {
      auto piece = co_await (*stream)->read_chunk();
      if (!piece) co_return std::unexpected(piece.error());
      if (!*piece) break;
      got += text(**piece);
    }
    co_return got;
  });
  ASSERT_TRUE(outcome) << outcome.error().to_string();
  EXPECT_EQ(*outcome, first + rest);
  EXPECT_TRUE(upstream_->answer_ended());
}

TEST_F(ProxyServerTest, AStreamThatBreaksEndsWithAnErrorEventTheSdksRaise) {
  const std::string event = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
  Script s;
  s.content_type = "text/event-stream";
  s.pieces = {event, "data: {\"choi"};  // cut inside the second event
  s.error_after = step_error(Step::kNode, Error{ErrorCode::kTruncated, "the node's answer: cut short"});
  upstream_->answer(s);
  auto r = post("/v1/chat/completions", chat_body(true));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->status, 200);  // the head had gone out
  const std::string body = text(r->body);
  ASSERT_TRUE(body.starts_with(event)) << body;
  const std::string tail = body.substr(event.size());
  ASSERT_TRUE(tail.starts_with("data: ") && tail.ends_with("\n\n")) << tail;
  auto error = json::parse(tail.substr(6));
  EXPECT_EQ(error["error"]["code"], "node_failed");
  EXPECT_EQ(error["error"]["type"], "api_error");
  EXPECT_TRUE(error["error"]["message"].get<std::string>().starts_with("node: ")) << error.dump();

  // Ollama: an NDJSON line with "error".
  Script o;
  o.content_type = "application/x-ndjson";
  o.pieces = {"{\"response\":\"a\",\"done\":false}\n"};
  o.error_after = step_error(Step::kRouting, Error{ErrorCode::kIo, "the answer's stream broke"});
  upstream_->answer(o);
  auto r2 = call("POST", "/api/chat", R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(r2);
  EXPECT_EQ(text(r2->body), "{\"response\":\"a\",\"done\":false}\n{\"error\":\"routing: the answer's stream broke\"}\n");
}

TEST_F(ProxyServerTest, TheUsageOnlyChunkGoesOnlyToCallersWhoAskedForIt) {
  const std::string token = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n";
  const std::string usage = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n";
  const std::string done = "data: [DONE]\n\n";
  Script s;
  s.content_type = "text/event-stream";
  s.pieces = {token, usage + done};
  upstream_->answer(s);
  auto without = post("/v1/chat/completions", chat_body(true));
  ASSERT_TRUE(without);
  EXPECT_EQ(text(without->body), token + done);
  json asked = chat_body(true);
  asked["stream_options"] = {{"include_usage", true}};
  auto with = post("/v1/chat/completions", asked);
  ASSERT_TRUE(with);
  EXPECT_EQ(text(with->body), token + usage + done);
}

TEST_F(ProxyServerTest, FailedRequestsAnswerInTheApisErrorShapes) {
  Script s;
  s.send_error = step_error(Step::kNoVerifiedNode,
                            Error{ErrorCode::kNotFound, "the router listed 0 node(s) for tags [llm, model=m]"});
  upstream_->answer(s);
  auto r = post("/v1/chat/completions", chat_body());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers.get("x-should-retry"), "false");
  auto body = json::parse(text(r->body));
  EXPECT_EQ(body["error"]["code"], "model_not_found");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["param"], "model");
  EXPECT_EQ(body["error"]["message"], "no verified node: the router listed 0 node(s) for tags [llm, model=m]");
  auto o = call("POST", "/api/generate", R"({"model":"m","prompt":"p"})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 404);
  EXPECT_EQ(json::parse(text(o->body)),
            (json{{"error", "no verified node: the router listed 0 node(s) for tags [llm, model=m]"}}));

  s.send_error = step_error(Step::kRouting, Error{ErrorCode::kUnavailable, "the router answered 503: busy"});
  upstream_->answer(s);
  r = post("/v1/completions", json{{"model", "m"}, {"prompt", "p"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->headers.get("x-should-retry"), "true");
  EXPECT_EQ(json::parse(text(r->body))["error"]["code"], "routing_unavailable");

  // The node's refusal, inside the encryption: its status and code.
  Script refused;
  refused.status = 400;
  refused.pieces = {R"({"code":"ErrModelNotInBadge","error":"Request Validation Error","message":"model m is not in the badge"})"};
  upstream_->answer(refused);
  r = post("/v1/chat/completions", chat_body(true));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  body = json::parse(text(r->body));
  EXPECT_EQ(body["error"]["code"], "ErrModelNotInBadge");
  EXPECT_EQ(body["error"]["message"], "engine: the node answered 400 (ErrModelNotInBadge): model m is not in the badge");
}

TEST_F(ProxyServerTest, BadRequestsNeverReachTheUpstream) {
  auto r = call("POST", "/v1/chat/completions", "not json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(text(r->body))["error"]["type"], "invalid_request_error");
  r = post("/v1/chat/completions", json{{"messages", json::array()}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(text(r->body))["error"]["param"], "model");
  r = call("GET", "/v1/chat/completions");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  r = post("/v1/embeddings", json{{"model", "m"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(text(r->body))["error"]["code"], "unknown_url");
  r = call("POST", "/api/pull", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(json::parse(text(r->body))["error"].is_string());  // Ollama's shape on /api
  EXPECT_TRUE(upstream_->received().empty());
}

TEST_F(ProxyServerTest, ModelLists) {
  upstream_->set_models(std::vector<std::string>{"a", "org/b"});
  auto r = call("GET", "/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto list = json::parse(text(r->body));
  EXPECT_EQ(list["object"], "list");
  ASSERT_EQ(list["data"].size(), 2u);
  EXPECT_EQ(list["data"][1]["id"], "org/b");
  EXPECT_EQ(list["data"][1]["object"], "model");
  r = call("GET", "/v1/models/org%2Fb");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(text(r->body))["id"], "org/b");
  r = call("GET", "/v1/models/zzz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(text(r->body))["error"]["code"], "model_not_found");
  r = call("GET", "/api/tags");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(text(r->body)), (json{{"models", {{{"name", "a"}, {"model", "a"}}, {{"name", "org/b"}, {"model", "org/b"}}}}}));
  upstream_->set_models(std::unexpected(step_error(Step::kAuth, Error{ErrorCode::kIo, "AuthBank unreachable"})));
  r = call("GET", "/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_TRUE(json::parse(text(r->body))["error"]["message"].get<std::string>().starts_with("auth: "));
}

TEST_F(ProxyServerTest, BearerToken) {
  ProxyConfig config;
  config.token = "s3cret-token";
  start(config);
  upstream_->answer(whole("{}"));
  upstream_->set_models(std::vector<std::string>{"m"});
  auto none = post("/v1/chat/completions", chat_body());
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->headers.get("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(json::parse(text(none->body))["error"]["code"], "invalid_api_key");
  for (std::string wrong : {"Bearer s3cret-tokeN", "Bearer s3cret-token2", "Bearer ", "Basic s3cret-token",
                            "s3cret-token"}) {
    net::Headers h{{"Authorization", wrong}};
    auto r = post("/v1/chat/completions", chat_body(), h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << wrong;
  }
  EXPECT_TRUE(upstream_->received().empty());
  net::Headers right{{"Authorization", "Bearer s3cret-token"}};
  auto ok = post("/v1/chat/completions", chat_body(), right);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  net::Headers lower{{"authorization", "bearer s3cret-token"}};
  auto models = call("GET", "/v1/models", "", lower);
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  auto ollama = call("POST", "/api/chat", R"({"model":"m"})");
  ASSERT_TRUE(ollama);
  EXPECT_EQ(ollama->status, 401);
  EXPECT_TRUE(json::parse(text(ollama->body))["error"].is_string());
  // Health needs no token.
  auto health = call("GET", "/_health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(ProxyServerTest, WebPagesAndForeignHostNamesAreRefused) {
  upstream_->answer(whole("{}"));
  net::Headers origin{{"Origin", "https://evil.example"}};
  auto r = post("/v1/chat/completions", chat_body(), origin);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(json::parse(text(r->body))["error"]["code"], "origin_not_allowed");

  const std::string body = chat_body().dump();
  auto request = [&](const std::string& host) {
    return raw_exchange(proxy_->port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: " + host +
                                            "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  // DNS rebinding: a name that resolves to 127.0.0.1 for the browser is still a foreign name.
  EXPECT_TRUE(request("attacker.example:" + std::to_string(proxy_->port())).starts_with("HTTP/1.1 403")) ;
  EXPECT_NE(request("attacker.example").find("host_not_allowed"), std::string::npos);
  EXPECT_TRUE(request("localhost:" + std::to_string(proxy_->port())).starts_with("HTTP/1.1 200"));
  EXPECT_TRUE(request("127.0.0.1").starts_with("HTTP/1.1 200"));
  EXPECT_TRUE(request("[::1]:1").starts_with("HTTP/1.1 200"));
  EXPECT_EQ(upstream_->received().size(), 3u);
}

TEST_F(ProxyServerTest, RequestSizeLimit) {
  ProxyConfig config;
  config.max_request_bytes = 1000;
  start(config);
  upstream_->answer(whole("{}"));
  json at_limit = {{"model", "m"}, {"prompt", ""}};
  at_limit["prompt"] = std::string(1000 - at_limit.dump().size(), 'x');
  ASSERT_EQ(at_limit.dump().size(), 1000u);
  auto ok = post("/v1/completions", at_limit);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  at_limit["prompt"] = at_limit["prompt"].get<std::string>() + "x";
  auto declared = post("/v1/completions", at_limit);
  ASSERT_TRUE(declared);
  EXPECT_EQ(declared->status, 413);
  EXPECT_EQ(json::parse(text(declared->body))["error"]["code"], "request_too_large");

  // A chunked body is counted as it arrives.
  auto chunked = client_runtime_.block_on([&]() -> net::Task<Result<int>> {
    auto http = net::Client::create();
    if (!http) co_return std::unexpected(http.error());
    auto up = co_await http->open("POST", proxy_->url() + "/v1/completions", net::Headers{});
    if (!up) co_return std::unexpected(up.error());
    const std::string piece(400, 'y');
    for (int i = 0; i < 3; ++i) {
      if (auto w = co_await (*up)->write_chunk(as_bytes(piece)); !w) break;  // the server may stop reading
    }
    (void)co_await (*up)->finish();
    if (auto h = co_await (*up)->read_head(); !h) co_return std::unexpected(h.error());
    co_return (*up)->status();
  });
  ASSERT_TRUE(chunked) << chunked.error().to_string();
  EXPECT_EQ(*chunked, 413);

  // A declared length within the server's slack gets the API's shape; an absurd one (a terabyte) is refused by the
  // server before the handler runs. Neither waits for a body that is never sent.
  auto head_only = [&](uint64_t length) {
    return raw_exchange(proxy_->port(), "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                        "Content-Type: application/json\r\nContent-Length: " +
                                            std::to_string(length) + "\r\n\r\n");
  };
  const std::string near = head_only(1000 + kDeclaredBodySlackBytes);
  EXPECT_TRUE(near.starts_with("HTTP/1.1 413")) << near;
  EXPECT_NE(near.find("request_too_large"), std::string::npos) << near;
  const std::string absurd = head_only(uint64_t{1} << 40);
  EXPECT_TRUE(absurd.starts_with("HTTP/1.1 413")) << absurd;
  EXPECT_EQ(upstream_->received().size(), 1u);
}

TEST_F(ProxyServerTest, ARequestThatRunsTooLongIsCut) {
  ProxyConfig config;
  config.max_request_duration = 1s;
  start(config);
  Script s;
  s.content_type = "text/event-stream";
  s.pieces = {"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"};
  s.endless = true;
  s.piece_interval = 20ms;
  upstream_->answer(s);
  auto r = post("/v1/chat/completions", chat_body(true));
  ASSERT_TRUE(r) << r.error().to_string();
  const std::string body = text(r->body);
  const size_t last = body.rfind("data: {\"error\"");
  ASSERT_NE(last, std::string::npos);
  EXPECT_EQ(json::parse(body.substr(last + 6))["error"]["code"], "timeout");
}

TEST_F(ProxyServerTest, LogsCarryNoPromptQueryOrToken) {
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  ProxyConfig config;
  config.token = "tok-SECRET-3";
  start(config);
  Script s;
  s.status = 400;
  s.pieces = {R"({"code":"ErrInvalidField","message":"PROMPT-SECRET-1 is odd"})"};
  upstream_->answer(s);
  json body = {{"model", "m"}, {"prompt", "PROMPT-SECRET-1"}};
  net::Headers auth{{"Authorization", "Bearer tok-SECRET-3"}};
  auto r = post("/v1/completions?q=QUERY-SECRET-2", body, auth);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  proxy_->shutdown(1s);
  spdlog::set_default_logger(previous);
  const std::string logs = captured.str();
  EXPECT_NE(logs.find("POST /v1/completions -> 400 (ErrInvalidField)"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("SECRET"), std::string::npos) << logs;
}

TEST(ProxyConfigTest, LoopbackAndStartRules) {
  for (std::string_view host : {"127.0.0.1", "127.1.2.3", "::1", "localhost", "LocalHost"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (std::string_view host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "localhost.evil", "", "[::1]"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
  net::Runtime runtime(1);
  auto upstream = std::make_shared<ScriptedUpstream>();
  ProxyConfig open;
  open.host = "0.0.0.0";
  open.port = 0;
  auto refused = Proxy::start(runtime, open, upstream);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("token"), std::string::npos);
  open.token = "t";
  auto allowed = Proxy::start(runtime, open, upstream);
  ASSERT_TRUE(allowed) << allowed.error().to_string();
  (*allowed)->shutdown(0ms);
  ProxyConfig zero;
  zero.port = 0;
  zero.max_request_bytes = 0;
  EXPECT_FALSE(Proxy::start(runtime, zero, upstream));
  ProxyConfig huge;
  huge.port = 0;
  huge.max_request_bytes = kMaxRequestBytesCeiling + 1;
  auto too_big = Proxy::start(runtime, huge, upstream);
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message.find("max_request_bytes"), std::string::npos);
  huge.max_request_bytes = kMaxRequestBytesCeiling;
  auto at_ceiling = Proxy::start(runtime, huge, upstream);
  ASSERT_TRUE(at_ceiling) << at_ceiling.error().to_string();
  (*at_ceiling)->shutdown(0ms);
  EXPECT_FALSE(Proxy::start(runtime, ProxyConfig{}, nullptr));
}

}  // namespace
}  // namespace openpcc::client::openai_proxy
