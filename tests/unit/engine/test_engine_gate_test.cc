// The test engine's token gate (TestEngineConfig::token_gate): a streamed answer waits at the chosen token while
// what came before it is already on the wire, and goes on when released. Order of events only, no timing: a
// client that could not see the first token before the gate opens would hang, and the watchdog below turns that
// into a failure.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "engine_test_support.h"
#include "services/engine/test_engine.h"
#include "support/engine_gate.h"

namespace openpcc::engine {
namespace {

using namespace std::chrono_literals;
using namespace testing;

// The watchdog: how long a step may take before the test calls it a hang (never reached when the gate works).
constexpr auto kHang = 30s;

class GatedEngine {
 public:
  GatedEngine() {
    EXPECT_TRUE(init_test_model(dir_.path() / "model"));
    TestEngineConfig config;
    config.model_dir = dir_.path() / "model";
    config.token_gate = gate_.gate();
    auto engine = TestEngine::start(config);
    EXPECT_TRUE(engine.has_value()) << engine.error().to_string();
    if (engine) engine_ = std::move(*engine);
  }
  test_support::EngineGate& gate() { return gate_; }
  std::string url(std::string_view path) const { return engine_->url() + std::string(path); }

 private:
  test_support::TempDir dir_{"openpcc-engine-gate"};
  test_support::EngineGate gate_;
  std::unique_ptr<TestEngine> engine_;
};

// Reads a streamed answer on `rt`: hands the body so far to `early` as soon as `seen(body)` holds, then reads on to
// the end and hands over the whole body. Shared with the reading coroutine, which may outlive a failed test.
struct TwoStepRead {
  std::promise<std::string> early;
  std::promise<Result<std::string>> whole;
};

std::shared_ptr<TwoStepRead> start_read(net::Runtime& rt, std::string url, std::string json,
                                        std::function<bool(const std::string&)> seen) {
  auto shared = std::make_shared<TwoStepRead>();
  rt.spawn([shared, url = std::move(url), json = std::move(json), seen = std::move(seen)]() -> net::Task<void> {
    TwoStepRead& out = *shared;
    net::Client client = make_client();
    net::Headers headers{{"Content-Type", "application/json"}};
    auto stream = co_await client.send(net::ClientRequest("POST", url, to_bytes(json), std::move(headers)));
    if (!stream) {
      out.early.set_value("");
      out.whole.set_value(std::unexpected(stream.error()));
      co_return;
    }
    std::string body;
    bool early_sent = false;
    for (;;) {
      auto piece = co_await (*stream)->read_chunk();
      if (!piece) {
        if (!early_sent) out.early.set_value(body);
        out.whole.set_value(std::unexpected(piece.error()));
        co_return;
      }
      if (!*piece) break;
      body += to_string(**piece);
      if (!early_sent && seen(body)) {
        out.early.set_value(body);
        early_sent = true;
      }
    }
    if (!early_sent) out.early.set_value(body);
    out.whole.set_value(body);
  });
  return shared;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

TEST(TestEngineGateTest, OpenAiStreamHeldAfterTheFirstToken) {
  net::Runtime rt(2);
  GatedEngine engine;
  engine.gate().allow(1);  // token 0 goes out; the answer waits before token 1
  auto read = start_read(
      rt, engine.url("/v1/chat/completions"),
      R"({"model":"openpcc-test-engine","messages":[{"role":"user","content":"p"}],"max_tokens":5,"stream":true})",
      [](const std::string& body) { return body.find("\"content\":\"You\"") != std::string::npos; });
  auto early = read->early.get_future();
  if (early.wait_for(kHang) != std::future_status::ready) {
    engine.gate().open();
    FAIL() << "the first token never arrived while the engine held the answer";
  }
  const std::string first = early.get();
  // The engine is waiting before token 1 now, and has let nothing else out.
  EXPECT_TRUE(engine.gate().wait_until_held_at(1, kHang));
  EXPECT_EQ(engine.gate().passed(), 0);
  EXPECT_EQ(count(first, "\"content\":\"You\""), 1u) << first;
  EXPECT_EQ(first.find(" said:"), std::string::npos) << first;
  EXPECT_EQ(first.find("[DONE]"), std::string::npos) << first;

  engine.gate().open();
  auto whole = read->whole.get_future();
  ASSERT_EQ(whole.wait_for(kHang), std::future_status::ready);
  auto body = whole.get();
  ASSERT_TRUE(body) << body.error().to_string();
  auto sse = parse_sse(*body);
  EXPECT_TRUE(sse.done && sse.well_formed) << *body;
  std::string text;
  for (const auto& e : sse.events) {
    if (!e["choices"].empty() && e["choices"][0]["delta"].contains("content")) {
      text += e["choices"][0]["delta"]["content"].get<std::string>();
    }
  }
  EXPECT_EQ(text, "You said: p this is");
  EXPECT_EQ(engine.gate().passed(), 5);  // tokens 0..4 and the closing event
}

TEST(TestEngineGateTest, OllamaStreamHeldBeforeItsDoneLine) {
  net::Runtime rt(2);
  GatedEngine engine;
  engine.gate().allow(3);  // all three tokens; the done line waits
  auto read = start_read(rt, engine.url("/api/generate"),
                         R"({"model":"openpcc-test-engine","prompt":"p","options":{"num_predict":3}})",
                         [](const std::string& body) { return count(body, "\"done\":false") == 3; });
  auto early = read->early.get_future();
  if (early.wait_for(kHang) != std::future_status::ready) {
    engine.gate().open();
    FAIL() << "the tokens never arrived while the engine held the done line";
  }
  const std::string tokens = early.get();
  EXPECT_TRUE(engine.gate().wait_until_held_at(3, kHang));
  EXPECT_EQ(tokens.find("\"done\":true"), std::string::npos) << tokens;

  engine.gate().open();
  auto whole = read->whole.get_future();
  ASSERT_EQ(whole.wait_for(kHang), std::future_status::ready);
  auto body = whole.get();
  ASSERT_TRUE(body) << body.error().to_string();
  auto lines = parse_ndjson(*body);
  ASSERT_EQ(lines.size(), 4u) << *body;
  EXPECT_EQ(lines.back()["done"], true);
  EXPECT_EQ(lines.back()["eval_count"], 3);
}

TEST(TestEngineGateTest, WholeAnswersIgnoreTheGate) {
  net::Runtime rt(2);
  GatedEngine engine;
  engine.gate().allow(0);  // would hold a streamed answer before its first token
  auto res = post_json(rt, engine.url("/v1/completions"),
                       R"({"model":"openpcc-test-engine","prompt":"p","max_tokens":3})");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(parse_json(res.body())["choices"][0]["text"], "You said: p");
  EXPECT_EQ(engine.gate().passed(), -1);
}

}  // namespace
}  // namespace openpcc::engine
