#include "client/openai_proxy/prompt_request.h"
#include "common/json_parse.h"

#include <nlohmann/json.hpp>

namespace openpcc::client::openai_proxy {
namespace {

using json = nlohmann::json;

std::unexpected<ApiError> invalid(std::string message, std::string param) {
  return std::unexpected(
      proxy_error(400, "invalid_request_error", "invalid_request", std::move(message), std::move(param)));
}

}  // namespace

std::optional<Endpoint> prompt_endpoint(std::string_view path) {
  if (path == "/v1/chat/completions") return Endpoint::kChatCompletions;
  if (path == "/v1/completions") return Endpoint::kCompletions;
  if (path == "/api/generate") return Endpoint::kOllamaGenerate;
  if (path == "/api/chat") return Endpoint::kOllamaChat;
  return std::nullopt;
}

ApiFamily family_of(Endpoint endpoint) {
  return endpoint == Endpoint::kOllamaGenerate || endpoint == Endpoint::kOllamaChat ? ApiFamily::kOllama
                                                                                      : ApiFamily::kOpenAi;
}

ApiFamily family_of_path(std::string_view path) {
  return path.starts_with("/api/") ? ApiFamily::kOllama : ApiFamily::kOpenAi;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

std::expected<PromptOptions, ApiError> read_prompt_options(Endpoint endpoint, ByteSpan body) {
  // parse_json refuses NUL bytes, trailing bytes and deep nesting; the size is bounded by the proxy's body limit.
  auto parsed_body = parse_json(body);
  if (!parsed_body) return invalid("the request body is not valid JSON (" + parsed_body.error().message + ")", "");
  const json& parsed = *parsed_body;
  if (!parsed.is_object()) return invalid("the request body must be a JSON object", "");
  PromptOptions options;
  auto model = parsed.find("model");
  if (model == parsed.end() || !model->is_string() || model->get_ref<const std::string&>().empty()) {
    return invalid("\"model\" (a non-empty string) is required: it chooses the nodes that serve the request",
                   "model");
  }
  options.model = model->get<std::string>();
  options.stream = family_of(endpoint) == ApiFamily::kOllama;  // Ollama streams unless told not to
  if (auto stream = parsed.find("stream"); stream != parsed.end() && !stream->is_null()) {
    if (!stream->is_boolean()) return invalid("\"stream\" must be a boolean", "stream");
    options.stream = stream->get<bool>();
  }
  if (auto so = parsed.find("stream_options"); so != parsed.end() && so->is_object()) {
    if (auto usage = so->find("include_usage"); usage != so->end() && !usage->is_null()) {
      if (!usage->is_boolean()) {
        return invalid("\"stream_options.include_usage\" must be a boolean", "stream_options.include_usage");
      }
      options.include_usage = usage->get<bool>();
    }
  }
  return options;
}

}  // namespace openpcc::client::openai_proxy
