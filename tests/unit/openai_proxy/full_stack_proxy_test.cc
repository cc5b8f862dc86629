// The proxy in front of the whole system in one process (tests/support/full_stack.h: AuthBank, BlindBank, router,
// gateway, relay, the test engine, a node on swtpm; the client SDK from client.json): every request here is a real
// private request relay → gateway → router → node → engine and back, asked through the proxy's HTTP API as the
// OpenAI and Ollama tools ask. The last test runs `openpcc proxy` as a process on the same stack.
//
// The test engine answers "You said: <the prompt's words> this is the openpcc test engine, …" with exactly max_tokens
// words; the engine's token gate (tests/support/engine_gate.h) holds an answer at a chosen token.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/openai_proxy/proxy_server.h"
#include "client/openai_proxy/upstream.h"
#include "net/client.h"
#include "support/engine_gate.h"
#include "support/full_stack.h"
#include "support/service_process.h"

namespace openpcc::client::openai_proxy {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using test_support::EngineGate;
using test_support::FullStack;
using test_support::kFullStackModel;

constexpr char kToken[] = "proxy-test-token";
// Bounds a failure (a proxy that held events back), never measures anything.
constexpr auto kHang = 60s;

std::string text(ByteSpan b) { return std::string(b.begin(), b.end()); }

// The data of each SSE event of `body` (in order, "[DONE]" included).
std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t end = body.find("\n\n", at); end != std::string::npos; end = body.find("\n\n", at)) {
    const std::string event = body.substr(at, end - at);
    at = end + 2;
    if (event.starts_with("data: ")) out.push_back(event.substr(6));
  }
  return out;
}

// The text of an OpenAI stream (chat deltas or completion texts) and its usage chunk, if any.
struct StreamSummary {
  std::string text;
  std::optional<json> usage;
  size_t events = 0;
  bool usage_only_chunk = false;
  bool done = false;
};

StreamSummary summarize(const std::string& body) {
  StreamSummary s;
  for (const auto& data : sse_data(body)) {
    if (data == "[DONE]") {
      s.done = true;
      continue;
    }
    auto chunk = json::parse(data);
    ++s.events;
    if (chunk.contains("usage") && chunk["usage"].is_object()) s.usage = chunk["usage"];
    if (chunk["choices"].empty()) {
      s.usage_only_chunk = true;
      continue;
    }
    const auto& choice = chunk["choices"][0];
    if (choice.contains("delta") && choice["delta"].contains("content")) {
      s.text += choice["delta"]["content"].get<std::string>();
    }
    if (choice.contains("text")) s.text += choice["text"].get<std::string>();
  }
  return s;
}

class FullStackProxyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gate_ = new EngineGate();
    test_support::FullStackOptions options;
    options.token_gate = gate_->gate();
    auto stack = FullStack::start(std::move(options));
    if (!stack) {
      failure_ = new std::string(stack.error().to_string());
      return;
    }
    stack_ = stack->release();
    ProxyConfig config;
    config.port = 0;
    config.token = kToken;
    auto proxy = Proxy::start(*stack_->runtime, config, private_upstream(*stack_->client));
    if (!proxy) {
      failure_ = new std::string(proxy.error().to_string());
      return;
    }
    proxy_ = proxy->release();
  }
  static void TearDownTestSuite() {
    if (proxy_) proxy_->shutdown(2s);
    delete proxy_;  // before the stack: it serves on the client's runtime
    delete stack_;
    delete gate_;
    delete failure_;
    proxy_ = nullptr;
    stack_ = nullptr;
    gate_ = nullptr;
    failure_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(stack_ && proxy_) << (failure_ ? *failure_ : "no stack");
    gate_->open();
  }

  static Result<net::ClientResponse> call(std::string method, std::string target, std::string body = {},
                                          std::string token = kToken) {
    net::Headers headers;
    if (!token.empty()) headers.set("Authorization", "Bearer " + token);
    net::ClientRequest request(std::move(method), proxy_->url() + target, to_bytes(body), std::move(headers));
    net::ClientOptions options;
    options.read_timeout = kHang;
    return net::fetch_blocking(std::move(request), options);
  }
  static Result<net::ClientResponse> post(std::string target, const json& body) {
    return call("POST", std::move(target), body.dump());
  }
  static json chat(std::string prompt, bool stream, int max_tokens = 6, std::string model = kFullStackModel) {
    return json{{"model", std::move(model)},
                {"messages", {{{"role", "user"}, {"content", std::move(prompt)}}}},
                {"stream", stream},
                {"max_tokens", max_tokens}};
  }

  static inline EngineGate* gate_ = nullptr;
  static inline FullStack* stack_ = nullptr;
  static inline Proxy* proxy_ = nullptr;
  static inline std::string* failure_ = nullptr;
};

TEST_F(FullStackProxyTest, ChatNotStreamed) {
  auto r = post("/v1/chat/completions", chat("Is this private?", false, 7));
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->status, 200) << text(r->body);
  EXPECT_EQ(r->headers.get("Content-Type"), "application/json");
  EXPECT_EQ(r->headers.get("X-OpenPCC-Node"), stack_->node->node_id());
  auto answer = json::parse(text(r->body));
  EXPECT_EQ(answer["object"], "chat.completion");
  EXPECT_TRUE(answer["choices"][0]["message"]["content"].get<std::string>().starts_with("You said: Is this private?"))
      << answer.dump();
  EXPECT_EQ(answer["usage"]["completion_tokens"], 7);
}

TEST_F(FullStackProxyTest, ChatStreamedWithAndWithoutUsage) {
  json body = chat("stream me", true, 6);
  body["stream_options"] = {{"include_usage", true}};
  auto with = post("/v1/chat/completions", body);
  ASSERT_TRUE(with) << with.error().to_string();
  ASSERT_EQ(with->status, 200) << text(with->body);
  EXPECT_TRUE(with->headers.get("Content-Type").value_or("").starts_with("text/event-stream"));
  auto s = summarize(text(with->body));
  EXPECT_TRUE(s.text.starts_with("You said: stream me")) << s.text;
  EXPECT_TRUE(s.done);
  EXPECT_GE(s.events, 6u);  // one event per token, at least
  ASSERT_TRUE(s.usage) << text(with->body);
  EXPECT_EQ((*s.usage)["completion_tokens"], 6);
  EXPECT_TRUE(s.usage_only_chunk);

  // Not asked: the node still has its engine count (for the refund), the caller does not see that chunk.
  auto without = post("/v1/chat/completions", chat("stream me", true, 6));
  ASSERT_TRUE(without);
  auto w = summarize(text(without->body));
  EXPECT_EQ(w.text, s.text);
  EXPECT_FALSE(w.usage_only_chunk) << text(without->body);
  EXPECT_TRUE(w.done);
}

TEST_F(FullStackProxyTest, Completions) {
  auto whole = post("/v1/completions", json{{"model", kFullStackModel}, {"prompt", "alpha beta"}, {"max_tokens", 5}});
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << text(whole->body);
  auto answer = json::parse(text(whole->body));
  EXPECT_EQ(answer["object"], "text_completion");
  EXPECT_TRUE(answer["choices"][0]["text"].get<std::string>().starts_with("You said: alpha beta")) << answer.dump();
  auto streamed = post("/v1/completions",
                       json{{"model", kFullStackModel}, {"prompt", "alpha beta"}, {"max_tokens", 5}, {"stream", true}});
  ASSERT_TRUE(streamed);
  EXPECT_EQ(summarize(text(streamed->body)).text, answer["choices"][0]["text"]);
}

TEST_F(FullStackProxyTest, OllamaPaths) {
  auto generate = post("/api/generate", json{{"model", kFullStackModel}, {"prompt", "gamma"},
                                             {"options", {{"num_predict", 3}}}});
  ASSERT_TRUE(generate);
  ASSERT_EQ(generate->status, 200) << text(generate->body);
  EXPECT_EQ(generate->headers.get("Content-Type"), "application/x-ndjson");
  std::vector<json> lines;
  std::string all = text(generate->body);
  for (size_t at = 0, nl; (nl = all.find('\n', at)) != std::string::npos; at = nl + 1) {
    lines.push_back(json::parse(all.substr(at, nl - at)));
  }
  ASSERT_EQ(lines.size(), 4u) << all;  // three tokens and the done line
  EXPECT_EQ(lines[0]["response"], "You");
  EXPECT_EQ(lines.back()["done"], true);
  EXPECT_EQ(lines.back()["eval_count"], 3);

  auto chat_whole = post("/api/chat", json{{"model", kFullStackModel},
                                          {"messages", {{{"role", "user"}, {"content", "delta"}}}},
                                          {"stream", false},
                                          {"options", {{"num_predict", 4}}}});
  ASSERT_TRUE(chat_whole);
  ASSERT_EQ(chat_whole->status, 200) << text(chat_whole->body);
  auto answer = json::parse(text(chat_whole->body));
  EXPECT_EQ(answer["message"]["content"], "You said: delta this");
  EXPECT_EQ(answer["done"], true);
}

TEST_F(FullStackProxyTest, ModelLists) {
  auto models = call("GET", "/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200) << text(models->body);
  auto list = json::parse(text(models->body));
  ASSERT_EQ(list["data"].size(), 1u) << list.dump();
  EXPECT_EQ(list["data"][0]["id"], kFullStackModel);
  auto one = call("GET", std::string("/v1/models/") + kFullStackModel);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  auto tags = call("GET", "/api/tags");
  ASSERT_TRUE(tags);
  EXPECT_EQ(json::parse(text(tags->body))["models"][0]["name"], kFullStackModel);
}

TEST_F(FullStackProxyTest, AnUnknownModelIsModelNotFoundNamingTheStep) {
  auto r = post("/v1/chat/completions", chat("hi", false, 3, "no-such-model"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  auto error = json::parse(text(r->body))["error"];
  EXPECT_EQ(error["type"], "invalid_request_error");
  EXPECT_EQ(error["code"], "model_not_found");
  EXPECT_TRUE(error["message"].get<std::string>().starts_with("no verified node: ")) << error.dump();
  EXPECT_NE(error["message"].get<std::string>().find("model=no-such-model"), std::string::npos);
  auto ollama = post("/api/chat", json{{"model", "no-such-model"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}});
  ASSERT_TRUE(ollama);
  EXPECT_EQ(ollama->status, 404);
  EXPECT_TRUE(json::parse(text(ollama->body))["error"].get<std::string>().starts_with("no verified node: "));
  auto one = call("GET", "/v1/models/no-such-model");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 404);
}

TEST_F(FullStackProxyTest, BearerToken) {
  for (std::string token : {"", "wrong-token"}) {
    auto r = call("POST", "/v1/chat/completions", chat("hi", false).dump(), token);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << token;
    EXPECT_EQ(json::parse(text(r->body))["error"]["code"], "invalid_api_key");
  }
}

TEST_F(FullStackProxyTest, TheQueryStringReachesTheNode) {
  // Today's nodes refuse query strings (the reference's validator does too). That refusal, decrypted from the node's
  // answer, is the proof that the query crossed relay, gateway and router inside the encryption; the same request
  // without it is answered.
  auto with_query = post("/v1/chat/completions?trace=on&x=%20y", chat("hi", false, 3));
  ASSERT_TRUE(with_query);
  EXPECT_EQ(with_query->status, 400) << text(with_query->body);
  auto error = json::parse(text(with_query->body))["error"];
  EXPECT_EQ(error["code"], "ErrQueryNotAllowed") << error.dump();
  EXPECT_TRUE(error["message"].get<std::string>().starts_with("engine: the node answered 400 (ErrQueryNotAllowed)"))
      << error.dump();
  auto without = post("/v1/chat/completions", chat("hi", false, 3));
  ASSERT_TRUE(without);
  EXPECT_EQ(without->status, 200);
}

TEST_F(FullStackProxyTest, BodiesRoundTripByteForByte) {
  // Multi-byte UTF-8 of every width, an escaped NUL and escaped controls, in the caller's own spelling: the node
  // reads exactly these bytes (the proxy parses them only to find the model) and the engine echoes the words.
  const std::string prompt = "na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x92 nul:\\u0000 tab\\u0009end q\\\"uote";
  const std::string decoded = "na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x92 nul:" + std::string(1, '\0') +
                              " tab\tend q\"uote";
  const std::string body = "{\"model\":\"" + std::string(kFullStackModel) +
                           "\",  \"messages\":[{\"role\":\"user\",\"content\":\"" + prompt +
                           "\"}],\"max_tokens\":12}";
  auto r = call("POST", "/v1/chat/completions", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << text(r->body);
  auto content = json::parse(text(r->body))["choices"][0]["message"]["content"].get<std::string>();
  // The engine splits at ASCII whitespace (the tab too) and joins with spaces.
  std::string echoed = decoded;
  std::replace(echoed.begin(), echoed.end(), '\t', ' ');
  EXPECT_TRUE(content.starts_with("You said: " + echoed)) << content;

  json streamed = json::parse(body);
  streamed["stream"] = true;
  auto s = post("/v1/chat/completions", streamed);
  ASSERT_TRUE(s);
  EXPECT_EQ(summarize(text(s->body)).text, content);
}

// Reads a streamed answer on its own runtime: hands the body so far to the test thread once it holds `marker`, then
// reads on to the end.
struct HeldStream {
  std::promise<std::string> first;
  std::promise<Result<std::string>> all;
};

void read_stream(net::Runtime& runtime, HeldStream& out, std::string url, std::string body, std::string marker) {
  runtime.spawn([&out, url = std::move(url), body = std::move(body), marker = std::move(marker)]() -> net::Task<void> {
    net::ClientOptions options;
    options.read_timeout = kHang;
    bool first_sent = false;
    auto finish = [&](Result<std::string> r) {
      if (!first_sent) out.first.set_value("");
      out.all.set_value(std::move(r));
    };
    auto http = net::Client::create(options);
    if (!http) {
      finish(std::unexpected(http.error()));
      co_return;
    }
    net::Headers headers{{"Authorization", std::string("Bearer ") + kToken}};
    net::ClientRequest request("POST", url, to_bytes(body), std::move(headers));
    auto stream = co_await http->send(std::move(request));
    if (!stream) {
      finish(std::unexpected(stream.error()));
      co_return;
    }
    std::string got;
    for (;;) {
      auto piece = co_await (*stream)->read_chunk();
      if (!piece) {
        finish(std::unexpected(piece.error()));
        co_return;
      }
      if (!*piece) break;
      got += text(**piece);
      if (!first_sent && got.find(marker) != std::string::npos) {
        first_sent = true;
        out.first.set_value(got);
      }
    }
    finish(got);
  });
}

TEST_F(FullStackProxyTest, TheFirstEventReachesTheCallerWhileTheEngineIsHeld) {
  struct Case {
    std::string target;
    json body;
    std::string marker;  // the first token, complete (its event / line ended)
  };
  const std::vector<Case> cases = {
      {"/v1/chat/completions", chat("first please", true, 6), "\"content\":\"You\"}"},
      {"/api/chat",
       json{{"model", kFullStackModel}, {"messages", {{{"role", "user"}, {"content", "x"}}}},
            {"options", {{"num_predict", 6}}}},
       "\"content\":\"You\""},
  };
  net::Runtime readers(1);
  for (const auto& c : cases) {
    gate_->allow(1);  // token 0 may go; the engine then waits before token 1
    HeldStream held;
    read_stream(readers, held, proxy_->url() + c.target, c.body.dump(), c.marker);
    auto first = held.first.get_future();
    auto all_future = held.all.get_future();
    if (first.wait_for(kHang) != std::future_status::ready) {
      gate_->open();
      all_future.wait_for(kHang);  // the reader lets go of `held` before it goes away
      FAIL() << c.target << ": the first token never reached the caller while the engine was held";
    }
    const std::string so_far = first.get();
    // The caller holds the first token; the engine provably has not finished: it waits at token 1 until we say.
    EXPECT_NE(so_far.find(c.marker), std::string::npos) << c.target;
    EXPECT_TRUE(gate_->wait_until_held_at(1, kHang)) << c.target;
    EXPECT_EQ(gate_->passed(), 0) << c.target;
    EXPECT_EQ(so_far.find("\"done\":true"), std::string::npos) << so_far;
    EXPECT_EQ(so_far.find("[DONE]"), std::string::npos) << so_far;
    gate_->open();
    auto all = all_future.get();
    ASSERT_TRUE(all) << all.error().to_string();
    EXPECT_TRUE(all->starts_with(so_far)) << c.target;
    EXPECT_TRUE(all->find("[DONE]") != std::string::npos || all->find("\"done\":true") != std::string::npos) << *all;
  }
}

TEST_F(FullStackProxyTest, TheCommandServesAndStopsCleanly) {
  if (!fs::exists(OPENPCC_BINARY)) GTEST_SKIP() << "build the openpcc binary first";
  // Its own wallet state file: the in-process client keeps the suite's.
  auto client_json = json::parse(std::ifstream(stack_->dir.path() / "client.json"));
  client_json["wallet"]["state_file"] = "proxy-command-wallet.state";
  const fs::path config = stack_->dir.path() / "proxy-command-client.json";
  std::ofstream(config) << client_json.dump();
  const std::string log = (stack_->dir.path() / "proxy-command.log").string();
  test_support::ServiceProcess process;
  auto url = process.start({"proxy", "--listen", "127.0.0.1:0", "--config", config.string()}, log);
  ASSERT_TRUE(url) << url.error().to_string();
  EXPECT_TRUE(url->starts_with("http://127.0.0.1:")) << *url;
  net::ClientRequest request("POST", *url + "/v1/chat/completions", to_bytes(chat("from the command", false).dump()));
  auto r = net::fetch_blocking(std::move(request));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->status, 200) << text(r->body);
  EXPECT_TRUE(json::parse(text(r->body))["choices"][0]["message"]["content"].get<std::string>().starts_with(
      "You said: from the command"));
  EXPECT_EQ(process.stop(), 0);
  std::ifstream in(log);
  const std::string logs((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(logs.find("POST /v1/chat/completions -> 200"), std::string::npos) << logs;
  EXPECT_NE(logs.find("proxy: stopped"), std::string::npos) << logs;
  // The wallet's credits went back (a failure to return them is logged as staying in the state file).
  EXPECT_EQ(logs.find("state file"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("from the command"), std::string::npos) << "the prompt was logged: " << logs;
}

}  // namespace
}  // namespace openpcc::client::openai_proxy
