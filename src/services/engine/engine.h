// Inference engines as a compute node sees them: something that takes a validated prompt request (one of four paths,
// a JSON body) and answers with a status, a content type and a body that streams as the engine produces it.
//
// The node proxies the request path verbatim (no translation between APIs, as the reference does): an OpenAI-style
// request goes to an engine's OpenAI-compatible endpoints, an Ollama-style one to Ollama's own API. make_engine()
// chooses the adapter from the engine URL:
//
//   "http://127.0.0.1:8000", "https://…", "openai+http://…"  → OpenAI-compatible (vLLM, llama.cpp, the test engine):
//                                                               /v1/completions, /v1/chat/completions
//   "ollama+http://127.0.0.1:11434"                          → Ollama: /api/generate, /api/chat, and its OpenAI-
//                                                               compatible /v1/completions, /v1/chat/completions
//
// A path in the URL is a prefix ("http://gpu:8000/engine" sends to http://gpu:8000/engine/v1/completions). A query or
// fragment is refused.
//
// Use from a coroutine (a server handler): generate() and read_chunk() run on the calling coroutine's executor, so call
// read_chunk() from the same strand that called generate().
//
//   auto engine = engine::make_engine(config.engine_url, options);        // once, at start-up
//   engine::EngineRequest request("/v1/chat/completions", std::move(body));
//   auto response = co_await (*engine)->generate(std::move(request));
//   if (!response) → the engine is unreachable or broke before its head (full refund)
//   (*response)->status(), (*response)->content_type()                   // 4xx/5xx are passed through as responses
//   engine::UsageMeter meter;
//   for (;;) {
//     auto piece = co_await (*response)->read_chunk();                    // as the engine sends it (SSE / NDJSON)
//     if (!piece) → the engine failed mid-stream
//     if (!*piece) break;
//     meter.feed(**piece);  ... seal and forward **piece at once ...
//   }
//   meter.finish();  meter.usage() → the token counts for the refund
//
// Errors of generate(): kUnsupported (a path this engine kind does not serve), and the HTTP client's kIo (DNS,
// connect, reset), kTimeout, kLimitExceeded, kDecode (malformed response head); read_chunk() fails likewise. Timeouts
// and limits are the net::ClientOptions given to make_engine (a node sets read_timeout to what its engine may need
// before the first token, and usually max_response_body_bytes = nullopt for long streams).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "net/client.h"
#include "net/runtime.h"

namespace openpcc::engine {

// The prompt paths a compute node forwards.
inline constexpr std::string_view kOpenAiCompletionsPath = "/v1/completions";
inline constexpr std::string_view kOpenAiChatCompletionsPath = "/v1/chat/completions";
inline constexpr std::string_view kOllamaGeneratePath = "/api/generate";
inline constexpr std::string_view kOllamaChatPath = "/api/chat";

// Engine kinds, as kind() names them.
inline constexpr std::string_view kOpenAiKind = "openai";
inline constexpr std::string_view kOllamaKind = "ollama";

// A validated request for one of the prompt paths. Not an aggregate (GCC 12 and co_await: see net/runtime.h).
struct EngineRequest {
  EngineRequest() = default;
  EngineRequest(std::string path_, Bytes body_) : path(std::move(path_)), body(std::move(body_)) {}

  std::string path;  // e.g. "/v1/chat/completions"
  Bytes body;        // JSON, sent with Content-Type: application/json
};

// The engine's answer: available once its head has arrived; the body follows piece by piece.
class EngineResponse {
 public:
  virtual ~EngineResponse();
  virtual int status() const = 0;
  // The engine's Content-Type ("text/event-stream", "application/x-ndjson", "application/json", …); if the engine
  // sent none, "application/octet-stream".
  virtual std::string_view content_type() const = 0;
  // The next piece of the body as it arrives (not aligned to SSE events or NDJSON lines), or std::nullopt at its end.
  virtual net::Task<Result<std::optional<Bytes>>> read_chunk() = 0;
};

class Engine {
 public:
  virtual ~Engine();
  // Sends the request to the engine and returns once its response head has arrived.
  virtual net::Task<Result<std::unique_ptr<EngineResponse>>> generate(EngineRequest request) = 0;
  // True for the prompt paths this engine kind answers.
  virtual bool serves(std::string_view path) const = 0;
  // kOpenAiKind or kOllamaKind.
  virtual std::string_view kind() const = 0;
  // The models the engine offers (OpenAI GET /v1/models ids; Ollama GET /api/tags names). Doubles as a readiness
  // check: a node can wait at start-up until its models are listed. Errors: the client's, kDecode for an answer
  // that is not the API's list, kUnavailable for a non-200 status.
  virtual net::Task<Result<std::vector<std::string>>> list_models() = 0;
};

// The adapter for `url` (see above). kInvalidArgument for an unknown scheme prefix, a malformed URL, a query or
// fragment; the client's error if `options` cannot be used (e.g. an unreadable CA file).
Result<std::unique_ptr<Engine>> make_engine(std::string_view url, net::ClientOptions options = {});

}  // namespace openpcc::engine
