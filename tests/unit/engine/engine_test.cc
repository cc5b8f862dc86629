// make_engine's adapters against the built-in test engine and against a fake OpenAI-compatible server that streams
// SSE in odd splits, fails mid-stream, answers 5xx or garbage.
#include "services/engine/engine.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine_test_support.h"
#include "net/server.h"
#include "services/engine/usage_meter.h"

namespace openpcc::engine {
namespace {

using namespace std::chrono_literals;
using namespace testing;

// What generate() gave: the head, then every piece as read_chunk() handed it out.
struct Generated {
  std::optional<Error> error;  // from generate()
  int status = 0;
  std::string content_type;
  std::vector<Piece> pieces;
  std::optional<Error> read_error;  // from read_chunk()
  Clock::time_point ended;
  std::optional<Usage> usage;

  std::string body() const {
    std::string all;
    for (const auto& p : pieces) all += p.data;
    return all;
  }
};

Generated generate(net::Runtime& rt, Engine& engine, std::string path, std::string body) {
  return rt.block_on([&]() -> net::Task<Generated> {
    Generated out;
    EngineRequest request(std::move(path), to_bytes(body));
    auto response = co_await engine.generate(std::move(request));
    if (!response) {
      out.error = response.error();
      co_return out;
    }
    out.status = (*response)->status();
    out.content_type = std::string((*response)->content_type());
    UsageMeter meter;
    for (;;) {
      auto piece = co_await (*response)->read_chunk();
      if (!piece) {
        out.read_error = piece.error();
        break;
      }
      if (!*piece) break;
      meter.feed(**piece);
      out.pieces.push_back(Piece{to_string(**piece), Clock::now()});
    }
    meter.finish();
    out.usage = meter.usage();
    out.ended = Clock::now();
    co_return out;
  });
}

Result<std::vector<std::string>> list_models(net::Runtime& rt, Engine& engine) {
  return rt.block_on([&]() -> net::Task<Result<std::vector<std::string>>> { co_return co_await engine.list_models(); });
}

std::unique_ptr<Engine> must_make(std::string_view url) {
  auto engine = make_engine(url);
  EXPECT_TRUE(engine.has_value()) << url << ": " << (engine ? "" : engine.error().to_string());
  return engine ? std::move(*engine) : nullptr;
}

// A port nothing listens on (bound, then closed).
uint16_t unused_port() {
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

const std::string kChatStream = R"({"model":"openpcc-test-engine","stream":true,)"
                                R"("stream_options":{"include_usage":true},"max_tokens":6,)"
                                R"("messages":[{"role":"user","content":"adapters work"}]})";

// ---- URLs -----------------------------------------------------------------------------------------------------------

TEST(MakeEngineTest, KindsFromUrls) {
  auto plain = must_make("http://127.0.0.1:8000");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->kind(), "openai");
  EXPECT_TRUE(plain->serves("/v1/completions"));
  EXPECT_TRUE(plain->serves("/v1/chat/completions"));
  EXPECT_FALSE(plain->serves("/api/generate"));
  EXPECT_FALSE(plain->serves("/api/chat"));
  EXPECT_FALSE(plain->serves("/v1/models"));
  EXPECT_FALSE(plain->serves("/v1/chat/completions/"));

  auto openai = must_make("openai+https://engine.example:8443/base/");
  ASSERT_TRUE(openai);
  EXPECT_EQ(openai->kind(), "openai");

  auto ollama = must_make("ollama+http://127.0.0.1:11434");
  ASSERT_TRUE(ollama);
  EXPECT_EQ(ollama->kind(), "ollama");
  for (const char* path : {"/api/generate", "/api/chat", "/v1/completions", "/v1/chat/completions"}) {
    EXPECT_TRUE(ollama->serves(path)) << path;
  }
  EXPECT_FALSE(ollama->serves("/api/tags"));
  EXPECT_FALSE(ollama->serves("/api/pull"));
}

TEST(MakeEngineTest, RefusesBadUrls) {
  for (const char* url : {"", "127.0.0.1:8000", "ftp://h/", "vllm+http://h:1", "ollama+ftp://h", "http://h:1/?q=1",
                          "http://h:1/#frag", "http://user@h:1", "http:// h:1", "ollama+"}) {
    auto engine = make_engine(url);
    ASSERT_FALSE(engine.has_value()) << url;
    EXPECT_EQ(engine.error().code, ErrorCode::kInvalidArgument) << url << ": " << engine.error().to_string();
  }
  net::ClientOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  EXPECT_FALSE(make_engine("https://h:1", options).has_value());
}

// ---- Against the test engine ----------------------------------------------------------------------------------------

class AdapterTest : public ::testing::Test {
 protected:
  net::Runtime rt_{2};
  EngineFixture fixture_;
};

TEST_F(AdapterTest, OpenAiAdapterStreamsChat) {
  auto engine = must_make(fixture_.url());
  ASSERT_TRUE(engine);
  auto out = generate(rt_, *engine, "/v1/chat/completions", kChatStream);
  ASSERT_FALSE(out.error) << out.error->to_string();
  ASSERT_FALSE(out.read_error) << out.read_error->to_string();
  EXPECT_EQ(out.status, 200);
  EXPECT_TRUE(out.content_type.starts_with("text/event-stream")) << out.content_type;
  EXPECT_EQ(out.usage, (Usage{2, 6}));
  const SseEvents sse = parse_sse(out.body());
  EXPECT_TRUE(sse.well_formed && sse.done);
  std::string text;
  for (const auto& e : sse.events) {
    if (!e["choices"].empty() && e["choices"][0]["delta"].contains("content")) {
      text += e["choices"][0]["delta"]["content"].get<std::string>();
    }
  }
  EXPECT_EQ(text, expected_text("adapters work", 6));

  auto whole = generate(rt_, *engine, "/v1/completions",
                        R"({"model":"openpcc-test-engine","prompt":"one","max_tokens":3})");
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.content_type, "application/json");
  EXPECT_EQ(whole.usage, (Usage{1, 3}));
  EXPECT_EQ(parse_json(whole.body())["choices"][0]["text"], "You said: one");
}

TEST_F(AdapterTest, OpenAiAdapterRefusesOllamaPathsWithoutSending) {
  auto engine = must_make("openai+" + fixture_.url());
  ASSERT_TRUE(engine);
  auto out = generate(rt_, *engine, "/api/chat", R"({"model":"openpcc-test-engine"})");
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->code, ErrorCode::kUnsupported);
  auto models = generate(rt_, *engine, "/v1/models", "{}");
  ASSERT_TRUE(models.error);
  EXPECT_EQ(models.error->code, ErrorCode::kUnsupported);
}

TEST_F(AdapterTest, OllamaAdapterServesBothApis) {
  auto engine = must_make("ollama+" + fixture_.url());
  ASSERT_TRUE(engine);
  auto chat = generate(rt_, *engine, "/api/chat",
                       R"({"model":"openpcc-test-engine","messages":[{"role":"user","content":"a b c"}]})");
  ASSERT_FALSE(chat.error);
  EXPECT_EQ(chat.status, 200);
  EXPECT_EQ(chat.content_type, "application/x-ndjson");
  EXPECT_EQ(chat.usage, (Usage{3, 16}));
  EXPECT_EQ(parse_ndjson(chat.body()).size(), 17u);

  auto gen = generate(rt_, *engine, "/api/generate",
                      R"({"model":"openpcc-test-engine","prompt":"x","stream":false,"options":{"num_predict":2}})");
  EXPECT_EQ(gen.status, 200);
  EXPECT_EQ(gen.usage, (Usage{1, 2}));
  EXPECT_EQ(parse_json(gen.body())["response"], "You said:");

  auto openai = generate(rt_, *engine, "/v1/chat/completions", kChatStream);
  EXPECT_EQ(openai.status, 200);
  EXPECT_EQ(openai.usage, (Usage{2, 6}));
  auto completions = generate(rt_, *engine, "/v1/completions",
                              R"({"model":"openpcc-test-engine","prompt":"q","max_tokens":2})");
  EXPECT_EQ(completions.status, 200);
  EXPECT_EQ(completions.usage, (Usage{1, 2}));
}

TEST_F(AdapterTest, ListModels) {
  for (const std::string prefix : {"", "openai+", "ollama+"}) {
    auto engine = must_make(prefix + fixture_.url());
    ASSERT_TRUE(engine);
    auto models = list_models(rt_, *engine);
    ASSERT_TRUE(models) << prefix << models.error().to_string();
    EXPECT_EQ(*models, std::vector<std::string>{"openpcc-test-engine"}) << prefix;
  }
}

TEST_F(AdapterTest, EngineErrorStatusesArePassedThrough) {
  auto openai = must_make(fixture_.url());
  auto out = generate(rt_, *openai, "/v1/chat/completions",
                      R"({"model":"gpt-5","messages":[{"role":"user","content":"x"}]})");
  ASSERT_FALSE(out.error);
  EXPECT_EQ(out.status, 404);
  EXPECT_EQ(out.content_type, "application/json");
  EXPECT_EQ(parse_json(out.body())["error"]["code"], "model_not_found");
  EXPECT_EQ(out.usage, std::nullopt);

  auto ollama = must_make("ollama+" + fixture_.url());
  auto bad = generate(rt_, *ollama, "/api/generate", "{broken");
  ASSERT_FALSE(bad.error);
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(parse_json(bad.body())["error"].is_string());

  // A path prefix the engine does not have: its 404 comes back as a response, not an error.
  auto prefixed = must_make(fixture_.url("/prefix"));
  auto missing = generate(rt_, *prefixed, "/v1/completions", R"({"model":"openpcc-test-engine","prompt":"x"})");
  ASSERT_FALSE(missing.error);
  EXPECT_EQ(missing.status, 404);
}

TEST(AdapterDelayTest, PiecesAreHandedOutAsTheyArrive) {
  constexpr auto kDelay = 100ms;
  net::Runtime rt(2);
  EngineFixture fixture(kDelay);
  auto engine = must_make("ollama+" + fixture.url());
  ASSERT_TRUE(engine);
  auto out = generate(rt, *engine, "/api/generate",
                      R"({"model":"openpcc-test-engine","prompt":"p","options":{"num_predict":5}})");
  ASSERT_EQ(out.status, 200);
  ASSERT_GE(out.pieces.size(), 2u);
  EXPECT_EQ(out.pieces.front().data.find("\"done\":true"), std::string::npos) << "the first piece came with the end";
  EXPECT_GE(out.ended - out.pieces.front().arrived, 4 * kDelay / 2);
  EXPECT_EQ(out.usage, (Usage{1, 5}));
}

TEST(AdapterUnreachableTest, ConnectFailureIsAnError) {
  net::Runtime rt(1);
  const uint16_t port = unused_port();
  for (const std::string prefix : {"", "ollama+"}) {
    auto engine = must_make(prefix + "http://127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(engine);
    auto out = generate(rt, *engine, "/v1/completions", "{}");
    ASSERT_TRUE(out.error);
    EXPECT_EQ(out.error->code, ErrorCode::kIo) << out.error->to_string();
    auto models = list_models(rt, *engine);
    ASSERT_FALSE(models);
    EXPECT_EQ(models.error().code, ErrorCode::kIo);
  }
}

// ---- Against a fake OpenAI-compatible server ------------------------------------------------------------------------

// An SSE stream as vLLM sends it with include_usage, with CRLF line ends.
std::string fake_sse() {
  std::string body;
  const char* words[] = {"Odd", " splits", " still", " meter", "."};
  for (const char* w : words) {
    body += std::string("data: {\"id\":\"chatcmpl-f\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
                        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"") +
            w + "\"},\"finish_reason\":null}],\"usage\":null}\r\n\r\n";
  }
  body += "data: {\"id\":\"chatcmpl-f\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
          "\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"total_tokens\":16,\"completion_tokens\":5}}\r\n\r\n";
  body += "data: [DONE]\r\n\r\n";
  return body;
}

class FakeServerTest : public ::testing::Test {
 protected:
  struct Seen {
    std::string method, target, content_type, accept, body;
    size_t header_count = 0;
  };

  void SetUp() override {
    net::ServerConfig config;
    auto server = net::Server::start(rt_, config, [this](net::ServerRequest& req, net::ServerResponse& res) {
      return handle(req, res);
    });
    ASSERT_TRUE(server) << server.error().to_string();
    server_ = std::move(*server);
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->shutdown(2s);
  }

  net::Task<Status> handle(net::ServerRequest& req, net::ServerResponse& res) {
    auto body = co_await req.read_all();
    if (!body) co_return std::unexpected(body.error());
    {
      std::lock_guard lock(mutex_);
      seen_.method = std::string(req.method());
      seen_.target = std::string(req.target());
      seen_.content_type = std::string(req.headers().get("Content-Type").value_or(""));
      seen_.accept = std::string(req.headers().get("Accept").value_or(""));
      seen_.body = to_string(*body);
      seen_.header_count = req.headers().size();
    }
    const std::string target(req.target());
    if (target == "/odd/v1/chat/completions") {
      // The SSE stream in odd pieces: inside "data:", inside JSON strings, between CR and LF.
      net::Headers head{{"Content-Type", "text/event-stream"}};
      if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
      const std::string sse = fake_sse();
      const size_t sizes[] = {1, 7, 3, 13, 2, 50, 1, 1, 29};
      size_t at = 0;
      for (size_t i = 0; at < sse.size(); ++i) {
        const size_t n = std::min(sizes[i % std::size(sizes)], sse.size() - at);
        if (auto ok = co_await res.write_chunk(as_bytes(std::string_view(sse).substr(at, n))); !ok) co_return ok;
        at += n;
        co_await net::sleep_for(1ms);
      }
      co_return co_await res.finish();
    }
    if (target == "/cut/v1/chat/completions") {
      // Fails after part of the stream: the connection is closed mid-body.
      net::Headers head{{"Content-Type", "text/event-stream"}};
      if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
      const std::string sse = fake_sse();
      if (auto ok = co_await res.write_chunk(as_bytes(std::string_view(sse).substr(0, 100))); !ok) co_return ok;
      co_return make_error(ErrorCode::kInternal, "engine crashed (on purpose)");
    }
    if (target == "/busy/v1/completions") {
      net::Headers head{{"Content-Type", "application/json"}};
      co_return co_await res.send(503, std::move(head), R"({"error":{"message":"overloaded"}})");
    }
    if (target == "/garbage/v1/models") {
      net::Headers head{{"Content-Type", "application/json"}};
      co_return co_await res.send(200, std::move(head), R"({"data":[{"name":"no id"}]})");
    }
    if (target == "/down/v1/models") {
      net::Headers head{{"Content-Type", "text/plain"}};
      co_return co_await res.send(500, std::move(head), "starting");
    }
    if (target == "/untyped/v1/completions") {
      net::Headers head;
      co_return co_await res.send(200, std::move(head), R"({"usage":{"prompt_tokens":1,"completion_tokens":1}})");
    }
    net::Headers head{{"Content-Type", "text/plain"}};
    co_return co_await res.send(404, std::move(head), "no");
  }

  Seen seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  net::Runtime rt_{2};
  std::unique_ptr<net::Server> server_;
  std::string base_;
  std::mutex mutex_;
  Seen seen_;
};

TEST_F(FakeServerTest, OddSplitsAreMeteredAndPassedThroughUnchanged) {
  auto engine = must_make(base_ + "/odd/");
  ASSERT_TRUE(engine);
  const std::string request = R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  auto out = generate(rt_, *engine, "/v1/chat/completions", request);
  ASSERT_FALSE(out.error);
  ASSERT_FALSE(out.read_error);
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.content_type, "text/event-stream");
  EXPECT_EQ(out.body(), fake_sse());
  EXPECT_EQ(out.usage, (Usage{11, 5}));

  // The engine got a fresh request: POST, the path under the prefix, JSON, the body unchanged, nothing else of note.
  const Seen s = seen();
  EXPECT_EQ(s.method, "POST");
  EXPECT_EQ(s.target, "/odd/v1/chat/completions");
  EXPECT_EQ(s.content_type, "application/json");
  EXPECT_NE(s.accept.find("application/x-ndjson"), std::string::npos);
  EXPECT_EQ(s.body, request);
  EXPECT_LE(s.header_count, 5u);  // Host, Connection, Content-Length, Content-Type, Accept
}

TEST_F(FakeServerTest, FailureMidStreamIsAReadError) {
  auto engine = must_make(base_ + "/cut");
  auto out = generate(rt_, *engine, "/v1/chat/completions", "{}");
  ASSERT_FALSE(out.error);
  EXPECT_EQ(out.status, 200);
  ASSERT_TRUE(out.read_error) << "a cut stream must not look complete";
  EXPECT_EQ(out.body(), fake_sse().substr(0, 100));
  EXPECT_EQ(out.usage, std::nullopt);
}

TEST_F(FakeServerTest, ServerErrorsAndBadModelLists) {
  auto busy = must_make(base_ + "/busy");
  auto out = generate(rt_, *busy, "/v1/completions", "{}");
  ASSERT_FALSE(out.error);
  EXPECT_EQ(out.status, 503);
  EXPECT_EQ(out.body(), R"({"error":{"message":"overloaded"}})");

  auto untyped = must_make(base_ + "/untyped");
  auto plain = generate(rt_, *untyped, "/v1/completions", "{}");
  EXPECT_EQ(plain.content_type, "application/octet-stream");
  EXPECT_EQ(plain.usage, (Usage{1, 1}));

  auto garbage = must_make(base_ + "/garbage");
  auto models = list_models(rt_, *garbage);
  ASSERT_FALSE(models);
  EXPECT_EQ(models.error().code, ErrorCode::kDecode);
  auto down = must_make(base_ + "/down");
  models = list_models(rt_, *down);
  ASSERT_FALSE(models);
  EXPECT_EQ(models.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace openpcc::engine
