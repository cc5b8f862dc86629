// What the proxy reads from a caller's prompt request before sending it on unchanged: which API it is, the model
// (it routes the request), and whether the caller wants a stream and the usage record. The body itself is never
// re-encoded: the node gets the caller's bytes.
//
//   auto endpoint = prompt_endpoint("/v1/chat/completions");       // Endpoint::kChatCompletions
//   auto options = read_prompt_options(*endpoint, body);           // or a 400 ApiError naming the field
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "client/openai_proxy/api_error.h"
#include "common/bytes.h"

namespace openpcc::client::openai_proxy {

enum class Endpoint { kChatCompletions, kCompletions, kOllamaGenerate, kOllamaChat };

// The endpoint a request path (without its query) names, if it is one of the four prompt paths.
std::optional<Endpoint> prompt_endpoint(std::string_view path);

// OpenAI for /v1/…, Ollama for /api/….
ApiFamily family_of(Endpoint endpoint);
ApiFamily family_of_path(std::string_view path);

// The path of an origin-form request target ("/v1/models?x=1" → "/v1/models").
std::string_view path_of(std::string_view target);

struct PromptOptions {
  std::string model;
  bool stream = false;         // OpenAI: "stream" (default false); Ollama: "stream" (default true)
  bool include_usage = false;  // OpenAI streams: "stream_options": {"include_usage": true}
};

// The body must be one JSON object with a non-empty string "model"; "stream" and "stream_options.include_usage",
// when present, must be booleans. Otherwise a 400 invalid_request_error whose param names the field. Nothing else is
// checked here: the node validates the request (and its answer says what it refused).
std::expected<PromptOptions, ApiError> read_prompt_options(Endpoint endpoint, ByteSpan body);

}  // namespace openpcc::client::openai_proxy
