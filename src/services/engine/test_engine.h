// The built-in TEST engine: an HTTP server that speaks enough of the OpenAI and Ollama APIs for a compute node (and
// its tests, and `openpcc dev up`) to run without a language model. It is not one, and says so wherever it shows: the
// model id "openpcc-test-engine", owned_by / system_fingerprint / Ollama's family "openpcc test engine (not a language
// model)", and its Server header. Its answers are the deterministic word sequences of test_model.h.
//
// Endpoints (a query string is ignored):
//   GET  /                     200 text/plain "openpcc test engine is running (not a language model)" (as Ollama's)
//   GET  /_health              200 {"status":"OK"}
//   GET  /v1/models            OpenAI model list: the one model, owned_by the label
//   POST /v1/completions       "prompt" (string or array of strings, joined with spaces), "max_tokens" (default 16,
//                              1..4096), "stream" (default false), "stream_options": {"include_usage": bool}
//   POST /v1/chat/completions  "messages" [{role, content: string | [{type:"text", text}] | null}], "max_tokens" or
//                              "max_completion_tokens"; the echo is the last user message; input tokens count every
//                              message's words
//     streaming: text/event-stream, one `data: {chunk}` event per token (the first carries the assistant role for
//     chat), a final chunk with finish_reason "length", with include_usage a last chunk with "choices": [] and
//     "usage" (other chunks then carry "usage": null, as OpenAI does), then `data: [DONE]`.
//     not streaming: application/json, the whole answer with "usage": {prompt_tokens, completion_tokens,
//     total_tokens}.
//   GET  /api/tags             Ollama model list (size and sha256 digest of model.json)
//   POST /api/generate         "prompt" (+ "system": its words count as input), "options": {"num_predict": n}
//                              (default 16; negative = up to 4096), "stream" (default TRUE, as Ollama)
//   POST /api/chat             "messages" [{role, content}], options and stream as above
//     streaming: application/x-ndjson, one line per token, then a final line with "done": true, "done_reason":
//     "length", "prompt_eval_count" (omitted when 0, as Ollama does), "eval_count" and durations.
//     not streaming: one application/json object with the whole answer and the counts.
//     An empty or absent prompt / message list answers "done_reason": "load" with no tokens (as Ollama does).
//
// Token counts are whitespace-separated words (test_model.h): usage numbers always match the tokens emitted.
// Between two tokens the engine waits token_delay (also when not streaming, so that the answer takes as long).
// A token gate (TestEngineConfig::token_gate) lets a test hold a streamed answer at a chosen token.
//
// Errors have the APIs' own shapes: OpenAI {"error": {"message", "type", "param", "code"}} (400
// invalid_request_error for malformed JSON or parameters, 404 with code "model_not_found" for another model, 404 for an
// unknown /v1 path, 405 for a wrong method); Ollama {"error": "…"} (400, 404 "model \"x\" not found, try pulling it
// first", 405); other paths 404 text/plain.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "common/error.h"
#include "net/server.h"
#include "services/engine/test_model.h"

namespace openpcc::engine {

// Request bodies the test engine reads (a node sends at most 1 MiB).
inline constexpr uint64_t kTestEngineMaxBodyBytes = 4 << 20;
// The Server header of every answer.
inline constexpr std::string_view kTestEngineServerHeader = "openpcc-test-engine (openpcc test engine, not a language model)";

// Tests: awaited (on the engine's runtime) before a streamed answer writes its token `index` (0, 1, ...) and once
// more, with index = the number of tokens, before its closing event (finish_reason / usage / [DONE], or Ollama's
// done line). A test holds an answer at a known point by not returning — e.g. index 1 holds it right after the first
// token has been written — and releases it by returning; the engine does nothing else in that answer meanwhile.
// Streamed answers only (a whole answer has no point in between). The gate must return eventually: it must not
// block its thread (co_await net::sleep_for in a loop, or any other awaitable). Empty = no gate.
using TokenGate = std::function<net::Task<void>(size_t index)>;

struct TestEngineConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                         // 0 = any free port
  std::filesystem::path model_dir;           // holds model.json (init_test_model)
  std::chrono::milliseconds token_delay{0};  // between two tokens
  unsigned threads = 1;
  TokenGate token_gate;                      // tests only (above)
};

// The engine's request handler, for embedding into another net::Server.
net::Handler make_test_engine_handler(TestModel model, std::chrono::milliseconds token_delay,
                                      TokenGate token_gate = {});

class TestEngine {
 public:
  // Loads the model (load_test_model) and starts serving on its own runtime.
  static Result<std::unique_ptr<TestEngine>> start(const TestEngineConfig& config);
  ~TestEngine();  // shutdown(0)

  uint16_t port() const;
  // "http://127.0.0.1:port" (IPv6 hosts in brackets): an OpenAI-compatible engine URL for make_engine; prefix
  // "ollama+" for the Ollama adapter.
  std::string url() const;
  const TestModel& model() const;

  // Stops accepting, lets answers in flight finish for up to `grace`. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct State;
  explicit TestEngine(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::engine
