// Streaming through the whole stack, proven by the order of events rather than by timing: the test engine's token
// gate (tests/support/engine_gate.h) holds an answer at a chosen token, and the client must already hold every
// token before it — decrypted — while the engine is held. Any hop that buffered (relay, gateway, router, node, the
// client's decryption) would keep the client waiting for bytes that cannot come before the gate opens; the watchdog
// then opens the gate and fails the test. Stack: tests/support/full_stack.h (every service in this process, a node on
// swtpm), path relay → gateway → router → node → engine and back.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "client/completion_text.h"
#include "support/engine_gate.h"
#include "support/full_stack.h"

namespace openpcc {
namespace {

using namespace std::chrono_literals;
using test_support::EngineGate;
using test_support::FullStack;

// How long a step may take before the test calls it a hang. Never reached when streaming works: it bounds a
// failure, it does not measure anything.
constexpr auto kHang = 60s;
// Tokens of the lock-step answer.
constexpr size_t kTokens = 8;

// Complete SSE events in `body` whose delta carries text (the chat's role-only first event does not).
size_t content_events(const std::string& body) {
  size_t n = 0;
  size_t at = 0;
  for (size_t end = body.find("\n\n", at); end != std::string::npos; end = body.find("\n\n", at)) {
    const std::string event = body.substr(at, end - at);
    at = end + 2;
    if (!event.starts_with("data: ")) continue;
    auto json = nlohmann::json::parse(event.substr(6), nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.contains("choices") || json["choices"].empty()) continue;
    const auto& delta = json["choices"][0]["delta"];
    if (delta.contains("content") && delta["content"].is_string() && !delta["content"].get<std::string>().empty()) {
      ++n;
    }
  }
  return n;
}

// What a streamed request produced, filled by a coroutine on the client's runtime and read by the test thread once
// `done` is ready. The test thread drops `response` (Responses go before the client, outside the runtime).
struct Streamed {
  std::promise<void> first_token;  // set when the first text arrived
  std::string first_text;          // the text then
  std::string first_body;          // the decrypted body then
  std::promise<void> done;
  std::optional<Error> error;
  std::string text;
  std::string body;
  size_t pieces = 0;
  std::vector<std::string> steps;  // lock-step mode: failures seen at each step
  std::unique_ptr<client::Response> response;
};

class StreamingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gate_ = new EngineGate();
    test_support::FullStackOptions options;
    options.token_delay = 0ms;  // the gate decides when tokens go, nothing else
    options.token_gate = gate_->gate();
    auto stack = FullStack::start(std::move(options));
    if (stack) {
      stack_ = stack->release();
    } else {
      failure_ = new std::string(stack.error().to_string());
    }
  }
  static void TearDownTestSuite() {
    if (gate_) gate_->open();
    delete stack_;
    stack_ = nullptr;
    delete failure_;
    failure_ = nullptr;
    delete gate_;
    gate_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(stack_ && stack_->client) << (failure_ ? *failure_ : "no stack");
    gate_->open();
  }
  void TearDown() override { gate_->open(); }

  // Sends `request` and reads its answer to the end on the client's runtime, reporting the first text as soon as it
  // is decrypted.
  static std::shared_ptr<Streamed> start_request(client::Request request) {
    auto out = std::make_shared<Streamed>();
    stack_->runtime->spawn([out, request = std::move(request)]() mutable -> net::Task<void> {
      bool first_sent = false;
      auto response = co_await stack_->client->request(std::move(request));
      if (!response) {
        out->error = response.error();
      } else {
        out->response = std::move(*response);
        client::CompletionText text;
        for (;;) {
          auto piece = co_await out->response->read_chunk();
          if (!piece) {
            out->error = piece.error();
            break;
          }
          if (!*piece) break;
          ++out->pieces;
          out->body.append((*piece)->begin(), (*piece)->end());
          out->text += text.feed(**piece);
          if (!first_sent && !out->text.empty()) {
            out->first_text = out->text;
            out->first_body = out->body;
            out->first_token.set_value();
            first_sent = true;
          }
        }
        out->text += text.finish();
      }
      if (!first_sent) out->first_token.set_value();
      out->done.set_value();
    });
    return out;
  }

  // Waits for `f`; on a hang opens the gate so that the stack can wind down, and says so.
  static bool wait_or_release(std::future<void>& f) {
    if (f.wait_for(kHang) == std::future_status::ready) return true;
    gate_->open();
    f.wait_for(kHang);
    return false;
  }

  static inline FullStack* stack_ = nullptr;
  static inline EngineGate* gate_ = nullptr;
  static inline std::string* failure_ = nullptr;
};

TEST_F(StreamingTest, FirstTokenReachesTheClientWhileTheEngineIsHeld) {
  struct Case {
    const char* name;
    client::Request request;
  };
  client::Request ollama;
  ollama.path = "/api/chat";
  ollama.body = to_bytes(nlohmann::json{{"model", test_support::kFullStackModel},
                                        {"messages", {{{"role", "user"}, {"content", "stream me"}}}},
                                        {"options", {{"num_predict", 6}}}}
                             .dump());
  for (Case& c : std::vector<Case>{{"openai", FullStack::chat_request("stream me", test_support::kFullStackModel, 6)},
                                   {"ollama", ollama}}) {
    SCOPED_TRACE(c.name);
    const auto payments_before = stack_->client->wallet().status().totals.payments;
    gate_->allow(1);  // the first token goes out; the engine then waits before the second
    auto streamed = start_request(std::move(c.request));
    auto first = streamed->first_token.get_future();
    auto done = streamed->done.get_future();
    ASSERT_TRUE(wait_or_release(first)) << "the first token did not reach the client while the engine was held";
    ASSERT_FALSE(streamed->first_text.empty()) << (streamed->error ? streamed->error->to_string() : "no text");
    // The client has the first token, decrypted, and the engine has not produced the second: it is waiting at
    // the gate (and gets there: the answer is not over).
    EXPECT_EQ(streamed->first_text, "You");
    EXPECT_EQ(gate_->passed(), 0);
    EXPECT_TRUE(gate_->wait_until_held_at(1, kHang));
    EXPECT_EQ(streamed->first_body.find("[DONE]"), std::string::npos) << streamed->first_body;
    EXPECT_EQ(streamed->first_body.find("\"done\":true"), std::string::npos) << streamed->first_body;

    gate_->open();
    ASSERT_TRUE(wait_or_release(done));
    ASSERT_FALSE(streamed->error) << streamed->error->to_string();
    EXPECT_EQ(streamed->text, "You said: stream me this is");
    // Paid and settled: the router's refund arrived in the trailer and the wallet counted the payment.
    ASSERT_TRUE(streamed->response->ended());
    ASSERT_TRUE(streamed->response->refund());
    EXPECT_GT(*streamed->response->refund(), 0);
    EXPECT_LE(*streamed->response->refund(), streamed->response->credit_value());
    EXPECT_EQ(stack_->client->wallet().status().totals.payments, payments_before + 1);
    streamed->response.reset();
  }
}

TEST_F(StreamingTest, OpenAiSseEventsArriveOneByOneDecryptedAsTheyCome) {
  gate_->allow(0);  // the head and the role event only
  // Lock step, inside the client's coroutine: let token k out, read until its event is decrypted, check that
  // exactly k + 1 text events are there (the engine cannot have made more), repeat.
  auto out = std::make_shared<Streamed>();
  client::Request request = FullStack::chat_request("one by one", test_support::kFullStackModel, kTokens);
  stack_->runtime->spawn([out, request = std::move(request)]() mutable -> net::Task<void> {
    auto response = co_await stack_->client->request(std::move(request));
    if (!response) {
      out->error = response.error();
      out->done.set_value();
      co_return;
    }
    out->response = std::move(*response);
    if (content_events(out->body) != 0) out->steps.push_back("text before the first token was let out");
    for (size_t k = 0; k <= kTokens; ++k) {
      gate_->allow(k + 1);  // k == kTokens: the closing event
      for (;;) {
        const bool have =
            k < kTokens ? content_events(out->body) >= k + 1 : out->body.find("[DONE]") != std::string::npos;
        if (have) break;
        auto piece = co_await out->response->read_chunk();
        if (!piece) {
          out->error = piece.error();
          out->done.set_value();
          co_return;
        }
        if (!*piece) {
          out->steps.push_back("the stream ended at step " + std::to_string(k));
          out->done.set_value();
          co_return;
        }
        ++out->pieces;
        out->body.append((*piece)->begin(), (*piece)->end());
      }
      const size_t events = content_events(out->body);
      if (events != std::min(k + 1, kTokens)) {
        out->steps.push_back("step " + std::to_string(k) + ": " + std::to_string(events) + " text events");
      }
      if (gate_->passed() != static_cast<long long>(k)) {
        out->steps.push_back("step " + std::to_string(k) + ": the engine had let out " +
                             std::to_string(gate_->passed() + 1) + " tokens");
      }
      if (k < kTokens && out->body.find("[DONE]") != std::string::npos) {
        out->steps.push_back("step " + std::to_string(k) + ": [DONE] before the last token");
      }
    }
    auto rest = co_await out->response->read_all();
    if (!rest) {
      out->error = rest.error();
    } else {
      out->body.append(rest->begin(), rest->end());
    }
    client::CompletionText text;
    out->text = text.feed(as_bytes(out->body)) + text.finish();
    out->done.set_value();
  });
  auto done = out->done.get_future();
  ASSERT_TRUE(wait_or_release(done)) << "an event did not reach the client while the engine held the next one";
  ASSERT_FALSE(out->error) << out->error->to_string();
  for (const auto& step : out->steps) ADD_FAILURE() << step;
  EXPECT_GE(out->pieces, kTokens + 1) << "one decrypted piece at least per event";
  EXPECT_EQ(out->text, "You said: one by one this is the");
  ASSERT_TRUE(out->response->ended());
  EXPECT_TRUE(out->response->refund());
  out->response.reset();
}

}  // namespace
}  // namespace openpcc
