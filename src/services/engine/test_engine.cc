#include "services/engine/test_engine.h"

#include <atomic>
#include <ctime>
#include <expected>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/json_parse.h"
#include "common/secure.h"
#include "crypto/sha256.h"
#include "net/runtime.h"
#include "services/common/config.h"

namespace openpcc::engine {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;  // answers keep the APIs' member order
using Clock = std::chrono::steady_clock;

constexpr std::string_view kRunningText = "openpcc test engine is running (not a language model)\n";
constexpr std::string_view kSseType = "text/event-stream; charset=utf-8";
constexpr std::string_view kNdjsonType = "application/x-ndjson";
constexpr std::string_view kJsonType = "application/json";

enum class Api { kOpenAiCompletions, kOpenAiChat, kOllamaGenerate, kOllamaChat };

bool is_openai(Api api) { return api == Api::kOpenAiCompletions || api == Api::kOpenAiChat; }
bool is_chat(Api api) { return api == Api::kOpenAiChat || api == Api::kOllamaChat; }

struct HandlerState {
  TestModel model;
  std::chrono::milliseconds token_delay{0};
  TokenGate token_gate;
  std::string model_digest;  // "sha256:<hex>" of the canonical model.json
  size_t model_size = 0;
  std::atomic<uint64_t> next_id{1};
};

// A request the engine will answer.
struct Plan {
  std::string model;  // as the request named it
  std::string echo;   // the text whose words follow "You said:"
  size_t input_tokens = 0;
  size_t max_tokens = kDefaultTestMaxTokens;
  bool stream = false;
  bool include_usage = false;
  bool load_only = false;  // Ollama: no prompt → a "load" answer without tokens
};

// An error answer in the API's shape.
struct ApiError {
  int status = 400;
  std::string message;
  std::optional<std::string> param{};  // OpenAI
  std::optional<std::string> code{};   // OpenAI
};

std::string dump(const OrderedJson& json) { return json.dump(-1, ' ', false, OrderedJson::error_handler_t::replace); }

net::Headers headers_for(std::string_view content_type) {
  net::Headers headers;
  headers.add("Content-Type", content_type);
  headers.add("Server", kTestEngineServerHeader);
  return headers;
}

net::Task<Status> send_body(net::ServerResponse& res, int status, std::string_view content_type, std::string body) {
  net::Headers headers = headers_for(content_type);
  co_return co_await res.send(status, std::move(headers), std::string_view(body));
}

std::string openai_error_json(const ApiError& error) {
  OrderedJson inner;
  inner["message"] = error.message;
  inner["type"] = "invalid_request_error";
  inner["param"] = error.param ? OrderedJson(*error.param) : OrderedJson(nullptr);
  inner["code"] = error.code ? OrderedJson(*error.code) : OrderedJson(nullptr);
  OrderedJson outer;
  outer["error"] = std::move(inner);
  return dump(outer);
}

std::string ollama_error_json(const ApiError& error) {
  OrderedJson body;
  body["error"] = error.message;
  return dump(body);
}

net::Task<Status> send_error(net::ServerResponse& res, Api api, ApiError error) {
  std::string body = is_openai(api) ? openai_error_json(error) : ollama_error_json(error);
  co_return co_await send_body(res, error.status, kJsonType, std::move(body));
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// RFC 3339 UTC with microseconds, as Ollama's created_at.
std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros % 1'000'000));
  return buffer;
}

int64_t nanoseconds_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
}

// ---- Request parsing ------------------------------------------------------------------------------------------------

// A member that may be absent or null.
const Json* member(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

bool model_matches(const TestModel& model, const std::string& requested, bool ollama) {
  if (requested == model.name) return true;
  return ollama && requested == model.name + ":latest";  // Ollama's default tag
}

// The text of an OpenAI chat message's content: a string, null, or text parts.
std::expected<std::string, ApiError> openai_content_text(const Json& message, size_t index) {
  const Json* content = member(message, "content");
  if (!content) return std::string();
  if (content->is_string()) return content->get<std::string>();
  const std::string where = "messages[" + std::to_string(index) + "].content";
  if (!content->is_array()) {
    return std::unexpected(ApiError{400, where + " must be a string or an array of content parts", where});
  }
  std::string text;
  for (const auto& part : *content) {
    const Json* type = part.is_object() ? member(part, "type") : nullptr;
    if (!type || !type->is_string()) {
      return std::unexpected(ApiError{400, where + " parts must be objects with a \"type\"", where});
    }
    if (type->get_ref<const std::string&>() != "text") continue;  // images and the like carry no words
    const Json* part_text = member(part, "text");
    if (!part_text || !part_text->is_string()) {
      return std::unexpected(ApiError{400, where + " text parts need a string \"text\"", where});
    }
    if (!text.empty()) text += ' ';
    text += part_text->get_ref<const std::string&>();
  }
  return text;
}

std::expected<Plan, ApiError> parse_openai(const HandlerState& state, const Json& body, bool chat) {
  if (!body.is_object()) {
    return std::unexpected(ApiError{400,
                                    "We could not parse the JSON body of your request. (HINT: This likely means you "
                                    "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)"});
  }
  Plan plan;
  const Json* model = member(body, "model");
  if (!model || !model->is_string()) {
    return std::unexpected(ApiError{400, "you must provide a model parameter", "model"});
  }
  plan.model = model->get<std::string>();
  if (!model_matches(state.model, plan.model, /*ollama=*/false)) {
    return std::unexpected(ApiError{404, "The model `" + plan.model + "` does not exist or you do not have access to it.",
                                    std::nullopt, "model_not_found"});
  }
  if (const Json* stream = member(body, "stream")) {
    if (!stream->is_boolean()) return std::unexpected(ApiError{400, "'stream' must be a boolean", "stream"});
    plan.stream = stream->get<bool>();
  }
  if (const Json* options = member(body, "stream_options")) {
    if (!plan.stream) {
      return std::unexpected(ApiError{400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                                      "stream_options"});
    }
    if (!options->is_object()) {
      return std::unexpected(ApiError{400, "'stream_options' must be an object", "stream_options"});
    }
    if (const Json* include = member(*options, "include_usage")) {
      if (!include->is_boolean()) {
        return std::unexpected(ApiError{400, "'include_usage' must be a boolean", "stream_options.include_usage"});
      }
      plan.include_usage = include->get<bool>();
    }
  }
  const char* max_key = "max_tokens";
  const Json* max_tokens = nullptr;
  if (chat) max_tokens = member(body, "max_completion_tokens");
  if (max_tokens) {
    max_key = "max_completion_tokens";
  } else {
    max_tokens = member(body, "max_tokens");
  }
  if (max_tokens) {
    if (!max_tokens->is_number_integer() || max_tokens->get<int64_t>() < 1 ||
        max_tokens->get<int64_t>() > static_cast<int64_t>(kMaxTestTokens)) {
      return std::unexpected(ApiError{400,
                                      std::string("'") + max_key + "' must be an integer between 1 and " +
                                          std::to_string(kMaxTestTokens) + " (the test engine's limit)",
                                      max_key});
    }
    plan.max_tokens = static_cast<size_t>(max_tokens->get<int64_t>());
  }

  if (!chat) {
    const Json* prompt = member(body, "prompt");
    if (prompt && prompt->is_string()) {
      plan.echo = prompt->get<std::string>();
    } else if (prompt && prompt->is_array()) {
      for (const auto& piece : *prompt) {
        if (!piece.is_string()) {
          return std::unexpected(ApiError{400, "'prompt' must be a string or an array of strings", "prompt"});
        }
        if (!plan.echo.empty()) plan.echo += ' ';
        plan.echo += piece.get_ref<const std::string&>();
      }
    } else {
      return std::unexpected(ApiError{400, "'prompt' must be a string or an array of strings", "prompt"});
    }
    plan.input_tokens = count_words(plan.echo);
    return plan;
  }

  const Json* messages = member(body, "messages");
  if (!messages || !messages->is_array() || messages->empty()) {
    return std::unexpected(ApiError{400, "'messages' must be a non-empty array", "messages"});
  }
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& message = (*messages)[i];
    const Json* role = message.is_object() ? member(message, "role") : nullptr;
    if (!role || !role->is_string()) {
      const std::string where = "messages[" + std::to_string(i) + "]";
      return std::unexpected(ApiError{400, where + " must be an object with a string \"role\"", where});
    }
    auto text = openai_content_text(message, i);
    if (!text) return std::unexpected(std::move(text.error()));
    plan.input_tokens += count_words(*text);
    if (role->get_ref<const std::string&>() == "user") plan.echo = std::move(*text);
  }
  return plan;
}

std::expected<Plan, ApiError> parse_ollama(const HandlerState& state, const Json& body, bool chat) {
  if (!body.is_object()) return std::unexpected(ApiError{400, "invalid JSON in the request body"});
  Plan plan;
  plan.stream = true;  // Ollama streams unless told not to
  const Json* model = member(body, "model");
  if (!model || !model->is_string() || model->get_ref<const std::string&>().empty()) {
    return std::unexpected(ApiError{400, "model is required"});
  }
  plan.model = model->get<std::string>();
  if (!model_matches(state.model, plan.model, /*ollama=*/true)) {
    return std::unexpected(ApiError{404, "model \"" + plan.model + "\" not found, try pulling it first"});
  }
  if (const Json* stream = member(body, "stream")) {
    if (!stream->is_boolean()) return std::unexpected(ApiError{400, "\"stream\" must be a boolean"});
    plan.stream = stream->get<bool>();
  }
  if (const Json* options = member(body, "options")) {
    if (!options->is_object()) return std::unexpected(ApiError{400, "\"options\" must be an object"});
    if (const Json* predict = member(*options, "num_predict")) {
      if (!predict->is_number_integer()) return std::unexpected(ApiError{400, "\"num_predict\" must be an integer"});
      const int64_t n = predict->get<int64_t>();
      plan.max_tokens = n < 0 ? kMaxTestTokens : static_cast<size_t>(std::min<int64_t>(n, kMaxTestTokens));
    }
  }

  if (!chat) {
    const Json* prompt = member(body, "prompt");
    if (prompt && !prompt->is_string()) return std::unexpected(ApiError{400, "\"prompt\" must be a string"});
    const Json* system = member(body, "system");
    if (system && !system->is_string()) return std::unexpected(ApiError{400, "\"system\" must be a string"});
    plan.echo = prompt ? prompt->get<std::string>() : std::string();
    plan.load_only = plan.echo.empty();
    plan.input_tokens = count_words(plan.echo) + (system ? count_words(system->get_ref<const std::string&>()) : 0);
    return plan;
  }

  const Json* messages = member(body, "messages");
  if (messages && !messages->is_array()) return std::unexpected(ApiError{400, "\"messages\" must be an array"});
  if (!messages || messages->empty()) {
    plan.load_only = true;
    return plan;
  }
  for (const auto& message : *messages) {
    const Json* role = message.is_object() ? member(message, "role") : nullptr;
    if (!role || !role->is_string()) return std::unexpected(ApiError{400, "each message needs a string \"role\""});
    const Json* content = member(message, "content");
    if (content && !content->is_string()) return std::unexpected(ApiError{400, "message content must be a string"});
    const std::string text = content ? content->get<std::string>() : std::string();
    plan.input_tokens += count_words(text);
    if (role->get_ref<const std::string&>() == "user") plan.echo = text;
  }
  return plan;
}

// ---- Answers --------------------------------------------------------------------------------------------------------

// The token as it appears in the text: words after the first are preceded by a space.
std::string piece_text(const std::vector<std::string>& tokens, size_t i) {
  return i == 0 ? tokens[i] : " " + tokens[i];
}

std::string joined(const std::vector<std::string>& tokens) {
  std::string text;
  for (size_t i = 0; i < tokens.size(); ++i) text += piece_text(tokens, i);
  return text;
}

OrderedJson openai_usage(const Plan& plan, size_t output_tokens) {
  OrderedJson usage;
  usage["prompt_tokens"] = plan.input_tokens;
  usage["completion_tokens"] = output_tokens;
  usage["total_tokens"] = plan.input_tokens + output_tokens;
  return usage;
}

class OpenAiAnswer {
 public:
  OpenAiAnswer(HandlerState& state, const Plan& plan, bool chat)
      : state_(state), plan_(plan), chat_(chat), created_(unix_seconds()) {
    id_ = std::string(chat ? "chatcmpl-" : "cmpl-") + "openpcc-test-" + std::to_string(state.next_id.fetch_add(1));
  }

  // One streamed chunk around `choice` (or the usage chunk when choice is null).
  std::string chunk(std::optional<OrderedJson> choice, std::optional<OrderedJson> usage) const {
    OrderedJson json = head(chat_ ? "chat.completion.chunk" : "text_completion");
    json["choices"] = OrderedJson::array();
    if (choice) json["choices"].push_back(std::move(*choice));
    if (usage) {
      json["usage"] = std::move(*usage);
    } else if (plan_.include_usage) {
      json["usage"] = nullptr;  // as OpenAI: every chunk but the last carries "usage": null
    }
    return "data: " + dump(json) + "\n\n";
  }

  OrderedJson delta_choice(std::optional<std::string> role, std::optional<std::string> content,
                           const char* finish_reason) const {
    OrderedJson choice;
    choice["index"] = 0;
    if (chat_) {
      OrderedJson delta = OrderedJson::object();
      if (role) delta["role"] = *role;
      if (content) delta["content"] = *content;
      choice["delta"] = std::move(delta);
    } else {
      choice["text"] = content.value_or("");
    }
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish_reason ? OrderedJson(finish_reason) : OrderedJson(nullptr);
    return choice;
  }

  std::string whole(const std::vector<std::string>& tokens) const {
    OrderedJson json = head(chat_ ? "chat.completion" : "text_completion");
    OrderedJson choice;
    choice["index"] = 0;
    if (chat_) {
      OrderedJson message;
      message["role"] = "assistant";
      message["content"] = joined(tokens);
      choice["message"] = std::move(message);
    } else {
      choice["text"] = joined(tokens);
    }
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = "length";
    json["choices"] = OrderedJson::array({std::move(choice)});
    json["usage"] = openai_usage(plan_, tokens.size());
    return dump(json);
  }

 private:
  OrderedJson head(const char* object) const {
    OrderedJson json;
    json["id"] = id_;
    json["object"] = object;
    json["created"] = created_;
    json["model"] = state_.model.name;
    json["system_fingerprint"] = kTestEngineLabel;
    return json;
  }

  HandlerState& state_;
  const Plan& plan_;
  bool chat_;
  int64_t created_;
  std::string id_;
};

net::Task<Status> answer_openai(HandlerState& state, net::ServerResponse& res, Plan plan, bool chat) {
  const auto tokens = test_completion_tokens(state.model, plan.echo, plan.max_tokens);
  OpenAiAnswer answer(state, plan, chat);
  if (!plan.stream) {
    if (tokens.size() > 1) co_await net::sleep_for(state.token_delay * static_cast<int64_t>(tokens.size() - 1));
    co_return co_await send_body(res, 200, kJsonType, answer.whole(tokens));
  }
  net::Headers headers = headers_for(kSseType);
  headers.add("Cache-Control", "no-cache");
  if (auto ok = co_await res.write_head(200, std::move(headers)); !ok) co_return ok;
  if (chat) {
    std::string first = answer.chunk(answer.delta_choice("assistant", "", nullptr), std::nullopt);
    if (auto ok = co_await res.write_chunk(as_bytes(first)); !ok) co_return ok;
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0 && state.token_delay.count() > 0) co_await net::sleep_for(state.token_delay);
    if (state.token_gate) co_await state.token_gate(i);
    std::string event = answer.chunk(answer.delta_choice(std::nullopt, piece_text(tokens, i), nullptr), std::nullopt);
    if (auto ok = co_await res.write_chunk(as_bytes(event)); !ok) co_return ok;
  }
  if (state.token_gate) co_await state.token_gate(tokens.size());
  std::string last = answer.chunk(answer.delta_choice(std::nullopt, std::nullopt, "length"), std::nullopt);
  if (plan.include_usage) last += answer.chunk(std::nullopt, openai_usage(plan, tokens.size()));
  last += "data: [DONE]\n\n";
  if (auto ok = co_await res.write_chunk(as_bytes(last)); !ok) co_return ok;
  co_return co_await res.finish();
}

OrderedJson ollama_line(const Plan& plan, bool chat, std::string text) {
  OrderedJson json;
  json["model"] = plan.model;
  json["created_at"] = rfc3339_now();
  if (chat) {
    OrderedJson message;
    message["role"] = "assistant";
    message["content"] = std::move(text);
    json["message"] = std::move(message);
  } else {
    json["response"] = std::move(text);
  }
  return json;
}

// The final object: done, why, and (unless only loading) the counts and durations.
OrderedJson ollama_done(const Plan& plan, bool chat, std::string text, size_t output_tokens, Clock::time_point start,
                        std::optional<Clock::time_point> first_token) {
  OrderedJson json = ollama_line(plan, chat, std::move(text));
  json["done"] = true;
  json["done_reason"] = plan.load_only ? "load" : "length";
  if (plan.load_only) return json;
  json["total_duration"] = nanoseconds_since(start);
  json["load_duration"] = 0;
  if (plan.input_tokens > 0) {  // Ollama omits zero counts (omitempty)
    json["prompt_eval_count"] = plan.input_tokens;
    json["prompt_eval_duration"] = 0;
  }
  json["eval_count"] = output_tokens;
  json["eval_duration"] = first_token ? nanoseconds_since(*first_token) : 0;
  return json;
}

net::Task<Status> answer_ollama(HandlerState& state, net::ServerResponse& res, Plan plan, bool chat) {
  const auto start = Clock::now();
  const auto tokens = plan.load_only ? std::vector<std::string>{}
                                     : test_completion_tokens(state.model, plan.echo, plan.max_tokens);
  if (!plan.stream) {
    if (tokens.size() > 1) co_await net::sleep_for(state.token_delay * static_cast<int64_t>(tokens.size() - 1));
    std::string body = dump(ollama_done(plan, chat, joined(tokens), tokens.size(), start, start)) + "\n";
    co_return co_await send_body(res, 200, kJsonType, std::move(body));
  }
  net::Headers headers = headers_for(kNdjsonType);
  if (auto ok = co_await res.write_head(200, std::move(headers)); !ok) co_return ok;
  std::optional<Clock::time_point> first_token;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0 && state.token_delay.count() > 0) co_await net::sleep_for(state.token_delay);
    if (state.token_gate) co_await state.token_gate(i);
    if (!first_token) first_token = Clock::now();
    OrderedJson json = ollama_line(plan, chat, piece_text(tokens, i));
    json["done"] = false;
    std::string line = dump(json) + "\n";
    if (auto ok = co_await res.write_chunk(as_bytes(line)); !ok) co_return ok;
  }
  if (state.token_gate) co_await state.token_gate(tokens.size());
  std::string last = dump(ollama_done(plan, chat, "", tokens.size(), start, first_token)) + "\n";
  if (auto ok = co_await res.write_chunk(as_bytes(last)); !ok) co_return ok;
  co_return co_await res.finish();
}

std::string openai_models_json(const HandlerState& state) {
  OrderedJson model;
  model["id"] = state.model.name;
  model["object"] = "model";
  model["created"] = 0;
  model["owned_by"] = kTestEngineLabel;
  OrderedJson list;
  list["object"] = "list";
  list["data"] = OrderedJson::array({std::move(model)});
  return dump(list);
}

std::string ollama_tags_json(const HandlerState& state) {
  OrderedJson details;
  details["format"] = "openpcc-test";
  details["family"] = kTestEngineLabel;
  details["parameter_size"] = "0";
  details["quantization_level"] = "none";
  OrderedJson model;
  model["name"] = state.model.name;
  model["model"] = state.model.name;
  model["modified_at"] = "1970-01-01T00:00:00Z";
  model["size"] = state.model_size;
  model["digest"] = state.model_digest;
  model["details"] = std::move(details);
  OrderedJson tags;
  tags["models"] = OrderedJson::array({std::move(model)});
  return dump(tags);
}

std::optional<Api> prompt_api(std::string_view path) {
  if (path == "/v1/completions") return Api::kOpenAiCompletions;
  if (path == "/v1/chat/completions") return Api::kOpenAiChat;
  if (path == "/api/generate") return Api::kOllamaGenerate;
  if (path == "/api/chat") return Api::kOllamaChat;
  return std::nullopt;
}

net::Task<Status> handle(std::shared_ptr<HandlerState> state, net::ServerRequest& req, net::ServerResponse& res) {
  const std::string_view target = req.target();
  const std::string path(target.substr(0, target.find('?')));
  const bool get = req.method() == "GET" || req.method() == "HEAD";
  const bool openai_path = path.starts_with("/v1/");
  const Api error_api = openai_path ? Api::kOpenAiChat : Api::kOllamaChat;

  if (auto api = prompt_api(path)) {
    if (req.method() != "POST") {
      ApiError error{405, "method not allowed: use POST " + path};  // named: GCC 12 and aggregates in co_await
      co_return co_await send_error(res, *api, std::move(error));
    }
    auto bytes = co_await req.read_all();
    if (!bytes) co_return std::unexpected(bytes.error());  // the server answers 413 / 400
    auto parsed = parse_json(*bytes);
    secure_wipe(bytes->data(), bytes->size());  // prompts are user data, even here
    if (!parsed) {
      ApiError error{400, is_openai(*api) ? "We could not parse the JSON body of your request. (HINT: This likely "
                                            "means you aren't using your HTTP library correctly. The OpenAI API "
                                            "expects a JSON payload.)"
                                          : "invalid JSON in the request body"};
      co_return co_await send_error(res, *api, std::move(error));
    }
    const Json& body = *parsed;
    auto plan = is_openai(*api) ? parse_openai(*state, body, is_chat(*api)) : parse_ollama(*state, body, is_chat(*api));
    if (!plan) co_return co_await send_error(res, *api, std::move(plan.error()));
    if (is_openai(*api)) co_return co_await answer_openai(*state, res, std::move(*plan), is_chat(*api));
    co_return co_await answer_ollama(*state, res, std::move(*plan), is_chat(*api));
  }

  const bool known = path == "/" || path == "/_health" || path == "/v1/models" || path == "/api/tags";
  if (known && !get) {
    ApiError error{405, "method not allowed: use GET " + path};
    co_return co_await send_error(res, error_api, std::move(error));
  }
  if (path == "/") co_return co_await send_body(res, 200, "text/plain; charset=utf-8", std::string(kRunningText));
  if (path == "/_health") co_return co_await send_body(res, 200, kJsonType, R"({"status":"OK"})");
  if (path == "/v1/models") co_return co_await send_body(res, 200, kJsonType, openai_models_json(*state));
  if (path == "/api/tags") co_return co_await send_body(res, 200, kJsonType, ollama_tags_json(*state));
  if (openai_path || path.starts_with("/api/")) {
    ApiError error{404, "unknown path " + path + " (this is the openpcc test engine, not a language model)"};
    co_return co_await send_error(res, error_api, std::move(error));
  }
  co_return co_await send_body(res, 404, "text/plain; charset=utf-8", "404 page not found\n");
}

}  // namespace

net::Handler make_test_engine_handler(TestModel model, std::chrono::milliseconds token_delay, TokenGate token_gate) {
  auto state = std::make_shared<HandlerState>();
  const std::string canonical = test_model_json(model);
  state->model_digest = "sha256:" + to_hex(crypto::sha256(as_bytes(canonical)));
  state->model_size = canonical.size();
  state->model = std::move(model);
  state->token_delay = token_delay;
  state->token_gate = std::move(token_gate);
  // Not a coroutine itself: the shared state is copied into each request's coroutine frame.
  return [state](net::ServerRequest& req, net::ServerResponse& res) { return handle(state, req, res); };
}

struct TestEngine::State {
  TestModel model;
  std::string url;
  std::unique_ptr<net::Runtime> runtime;
  std::unique_ptr<net::Server> server;  // declared last: stopped first
};

Result<std::unique_ptr<TestEngine>> TestEngine::start(const TestEngineConfig& config) {
  auto model = load_test_model(config.model_dir);
  if (!model) return std::unexpected(model.error());
  auto state = std::make_unique<State>();
  state->model = *model;
  state->runtime = std::make_unique<net::Runtime>(std::max(1u, config.threads));
  net::ServerConfig server_config;
  server_config.host = config.host;
  server_config.port = config.port;
  server_config.max_body_bytes = kTestEngineMaxBodyBytes;
  server_config.name = "test-engine";
  auto server = net::Server::start(*state->runtime, server_config,
                                   make_test_engine_handler(std::move(*model), config.token_delay, config.token_gate));
  if (!server) return std::unexpected(wrap_error("test engine: listen on " + config.host, server.error()));
  state->server = std::move(*server);
  state->url = "http://" + services::url_host(config.host) + ":" + std::to_string(state->server->port());
  return std::unique_ptr<TestEngine>(new TestEngine(std::move(state)));
}

TestEngine::TestEngine(std::unique_ptr<State> state) : state_(std::move(state)) {}

TestEngine::~TestEngine() { shutdown(std::chrono::milliseconds(0)); }

uint16_t TestEngine::port() const { return state_->server->port(); }
std::string TestEngine::url() const { return state_->url; }
const TestModel& TestEngine::model() const { return state_->model; }

void TestEngine::shutdown(std::chrono::milliseconds grace) {
  if (state_->server) state_->server->shutdown(grace);
}

}  // namespace openpcc::engine
