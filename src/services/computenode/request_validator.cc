#include "services/computenode/request_validator.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <map>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/json_parse.h"
#include "currency/badge.h"
#include "net/headers.h"

namespace openpcc::computenode {
namespace {

using nlohmann::json;
using wire::bhttp::RequestHead;

constexpr std::string_view kJsonMediaType = "application/json";
constexpr std::string_view kValidationErrorTitle = "Request Validation Error";

std::unexpected<ValidationError> refuse(std::string_view code, std::string message, int status = 400) {
  return std::unexpected(ValidationError{status, std::string(code), std::move(message)});
}

// What JSON type a known field must have. Null is accepted for every optional field (Go leaves the field unset).
enum class Kind { kString, kNumber, kInteger, kBool, kObject, kArray, kStringOrArray, kAny };

struct FieldSpec {
  std::string_view name;
  Kind kind;
};

// The request fields each route knows (Ollama api.GenerateRequest / api.ChatRequest; OpenAI completions and chat
// completions with the vLLM extras the reference allows, repetition_penalty and ignore_eos).
constexpr FieldSpec kOllamaGenerateFields[] = {
    {"model", Kind::kString},   {"prompt", Kind::kString}, {"suffix", Kind::kString},   {"system", Kind::kString},
    {"template", Kind::kString}, {"context", Kind::kArray}, {"stream", Kind::kBool},      {"raw", Kind::kBool},
    {"format", Kind::kAny},     {"keep_alive", Kind::kAny}, {"images", Kind::kArray},    {"options", Kind::kObject},
    {"think", Kind::kAny},
};
constexpr FieldSpec kOllamaChatFields[] = {
    {"model", Kind::kString}, {"messages", Kind::kArray},  {"stream", Kind::kBool},    {"format", Kind::kAny},
    {"keep_alive", Kind::kAny}, {"tools", Kind::kArray},   {"options", Kind::kObject}, {"think", Kind::kAny},
};
constexpr FieldSpec kOpenAiCompletionsFields[] = {
    {"model", Kind::kString},           {"prompt", Kind::kStringOrArray},    {"best_of", Kind::kInteger},
    {"echo", Kind::kBool},              {"frequency_penalty", Kind::kNumber}, {"logit_bias", Kind::kObject},
    {"logprobs", Kind::kInteger},       {"max_tokens", Kind::kInteger},       {"n", Kind::kInteger},
    {"presence_penalty", Kind::kNumber}, {"seed", Kind::kInteger},            {"stop", Kind::kStringOrArray},
    {"stream", Kind::kBool},            {"stream_options", Kind::kObject},    {"suffix", Kind::kString},
    {"temperature", Kind::kNumber},     {"top_p", Kind::kNumber},             {"user", Kind::kString},
    {"repetition_penalty", Kind::kNumber}, {"ignore_eos", Kind::kBool},
};
constexpr FieldSpec kOpenAiChatFields[] = {
    {"model", Kind::kString},           {"messages", Kind::kArray},           {"frequency_penalty", Kind::kNumber},
    {"logit_bias", Kind::kObject},      {"logprobs", Kind::kBool},            {"top_logprobs", Kind::kInteger},
    {"max_tokens", Kind::kInteger},     {"max_completion_tokens", Kind::kInteger}, {"n", Kind::kInteger},
    {"presence_penalty", Kind::kNumber}, {"response_format", Kind::kObject},  {"seed", Kind::kInteger},
    {"stop", Kind::kStringOrArray},     {"stream", Kind::kBool},              {"stream_options", Kind::kObject},
    {"temperature", Kind::kNumber},     {"top_p", Kind::kNumber},             {"tools", Kind::kArray},
    {"tool_choice", Kind::kAny},        {"parallel_tool_calls", Kind::kBool}, {"user", Kind::kString},
    {"repetition_penalty", Kind::kNumber}, {"ignore_eos", Kind::kBool},
};
// Elements of "messages".
constexpr FieldSpec kOllamaMessageFields[] = {
    {"role", Kind::kString},   {"content", Kind::kString},    {"thinking", Kind::kString},
    {"images", Kind::kArray},  {"tool_calls", Kind::kArray},  {"tool_name", Kind::kString},
};
constexpr FieldSpec kOpenAiMessageFields[] = {
    {"role", Kind::kString},       {"content", Kind::kAny},         {"name", Kind::kString},
    {"tool_calls", Kind::kArray},  {"tool_call_id", Kind::kString}, {"refusal", Kind::kString},
};
constexpr FieldSpec kStreamOptionsFields[] = {{"include_usage", Kind::kBool}};

struct Route {
  std::string_view path;
  PromptApi api;
  std::span<const FieldSpec> fields;
  std::string_view required;  // "prompt" or "messages"
  std::span<const FieldSpec> message_fields;
  bool openai;
};

constexpr Route kRoutes[] = {
    {kOllamaGeneratePath, PromptApi::kOllamaGenerate, kOllamaGenerateFields, "prompt", {}, false},
    {kOllamaChatPath, PromptApi::kOllamaChat, kOllamaChatFields, "messages", kOllamaMessageFields, false},
    {kOpenAiCompletionsPath, PromptApi::kOpenAiCompletions, kOpenAiCompletionsFields, "prompt", {}, true},
    {kOpenAiChatCompletionsPath, PromptApi::kOpenAiChatCompletions, kOpenAiChatFields, "messages",
     kOpenAiMessageFields, true},
};

bool has_kind(const json& value, Kind kind) {
  switch (kind) {
    case Kind::kString: return value.is_string();
    case Kind::kNumber: return value.is_number();
    case Kind::kInteger: return value.is_number_integer();
    case Kind::kBool: return value.is_boolean();
    case Kind::kObject: return value.is_object();
    case Kind::kArray: return value.is_array();
    case Kind::kStringOrArray: return value.is_string() || value.is_array();
    case Kind::kAny: return true;
  }
  return false;
}

// Field names come from the request: quote at most a bounded, JSON-escaped prefix of one in a message.
std::string quoted_name(std::string_view name, std::string_view where) {
  std::string shown(name.substr(0, 64));
  std::string text = json(shown).dump(-1, ' ', true, json::error_handler_t::replace);
  return where.empty() ? text : std::string(where) + "." + text;
}

std::expected<void, ValidationError> check_fields(const json& object, std::span<const FieldSpec> specs,
                                                  std::string_view where) {
  for (const auto& [name, value] : object.items()) {
    const auto spec = std::find_if(specs.begin(), specs.end(), [&](const FieldSpec& s) { return s.name == name; });
    if (spec == specs.end()) return refuse(kErrUnknownField, "unknown field " + quoted_name(name, where));
    if (!value.is_null() && !has_kind(value, spec->kind)) {
      return refuse(kErrInvalidField, "field " + quoted_name(name, where) + " has the wrong JSON type");
    }
  }
  return {};
}

// Overwrites the strings of a parsed request before it is freed (object keys, which std::map keeps const, are field
// names the checks above bound for the top level; nested free-form objects such as "options" may keep theirs).
void wipe_json(json& value, size_t depth = 0) {
  if (depth > kMaxJsonDepth + 1) return;
  if (value.is_string()) {
    auto& s = value.get_ref<std::string&>();
    secure_wipe(s.data(), s.size());
  } else if (value.is_array() || value.is_object()) {
    for (auto& element : value) wipe_json(element, depth + 1);
  }
}

struct JsonWiper {
  json& value;
  ~JsonWiper() { wipe_json(value); }
};

// The total bytes of every value of each header name (lowercased).
std::map<std::string, size_t> header_value_sizes(const wire::bhttp::Fields& headers) {
  std::map<std::string, size_t> sizes;
  for (const auto& field : headers) {
    std::string name = field.name;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    sizes[name] += field.value.size();
  }
  return sizes;
}

size_t count_fields(const wire::bhttp::Fields& headers, std::string_view name) {
  return std::count_if(headers.begin(), headers.end(),
                       [&](const wire::bhttp::Field& f) { return net::iequals(f.name, name); });
}

std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::expected<const Route*, ValidationError> check_endpoint(const RequestHead& head) {
  const std::string_view target = head.path;
  if (target.find('?') != std::string_view::npos) {
    return refuse(kErrQueryNotAllowed, "query strings are not allowed");
  }
  if (target.empty() || target.front() != '/' || clean_path(target) != target) {
    return refuse(kErrInvalidPath, "the request path is not in its cleaned form");
  }
  for (const Route& route : kRoutes) {
    if (route.path == target && head.method == "POST") return &route;
  }
  return refuse(kErrUnsupportedEndpoint, "unsupported endpoint", 404);
}

std::expected<void, ValidationError> check_headers(const RequestHead& head) {
  const auto& headers = head.headers;
  for (const auto& field : headers) {
    if (net::iequals(field.name, "Transfer-Encoding") || net::iequals(field.name, "Content-Encoding")) {
      return refuse(kErrBlockedHeader, "header " + field.name + " is not allowed");
    }
  }
  if (count_fields(headers, "Content-Type") != 1 ||
      wire::bhttp::find_field(headers, "Content-Type").value() != kJsonMediaType) {
    return refuse(kErrInvalidContentType, "Content-Type must be application/json");
  }
  for (const auto& [name, size] : header_value_sizes(headers)) {
    if (size > kMaxHeaderValueBytes) {
      return refuse(kErrHeaderTooLarge, "header " + name + " exceeds " + std::to_string(kMaxHeaderValueBytes) +
                                            " bytes");
    }
  }
  const size_t badges = count_fields(headers, currency::kBadgeHeader);
  if (badges == 0) return refuse(kErrMissingBadge, "missing X-Confsec-Badge header");
  if (badges > 1) return refuse(kErrInvalidBadge, "repeated X-Confsec-Badge header");
  return {};
}

std::expected<void, ValidationError> check_host(const RequestHead& head) {
  const size_t host_fields = count_fields(head.headers, "Host");
  if (host_fields > 1) return refuse(kErrInvalidHost, "repeated Host header");
  const auto host_field = wire::bhttp::find_field(head.headers, "Host");
  if (head.authority.empty() && !host_field) return refuse(kErrInvalidHost, "the request names no host");
  if (!head.authority.empty() && head.authority != kUserRequestHost) {
    return refuse(kErrInvalidHost, "the request host must be confsec.invalid");
  }
  if (host_field && *host_field != kUserRequestHost) {
    return refuse(kErrInvalidHost, "the request host must be confsec.invalid");
  }
  return {};
}

std::expected<currency::Badge, ValidationError> check_badge(const RequestHead& head,
                                                            const crypto::Ed25519PublicKey& key) {
  const auto text = wire::bhttp::find_field(head.headers, currency::kBadgeHeader);
  auto badge = currency::Badge::from_header(*text);
  if (!badge) return refuse(kErrInvalidBadge, "X-Confsec-Badge is not a valid badge");
  if (!currency::verify_badge(key, *badge)) {
    return refuse(kErrInvalidBadge, "X-Confsec-Badge is not signed by the badge key");
  }
  return *badge;
}

std::expected<json, ValidationError> parse_body(ByteSpan body) {
  // parse_json refuses NUL bytes (nlohmann alone would stop reading at one and accept `{...}\0anything`) and bounds
  // the depth, so every later walk over the tree (checks, wipe) is bounded too.
  auto parsed = parse_json(body, {.max_depth = kMaxJsonDepth});
  if (!parsed) return refuse(kErrInvalidJson, "the body is not one JSON value (" + parsed.error().message + ")");
  return std::move(*parsed);
}

}  // namespace

std::string validation_error_json(const ValidationError& error) {
  json body = {{"code", error.code}, {"error", kValidationErrorTitle}, {"message", error.message}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string clean_path(std::string_view path) {
  if (path.empty()) return ".";
  const bool rooted = path.front() == '/';
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || segment == ".") {
      // dropped
    } else if (segment == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(segment);
      }
    } else {
      parts.push_back(segment);
    }
    start = end + 1;
  }
  std::string out = rooted ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

RequestValidator::RequestValidator(crypto::Ed25519PublicKey badge_key, std::vector<std::string> models)
    : badge_key_(std::move(badge_key)), models_(std::move(models)) {}

std::expected<ValidatedRequest, ValidationError> RequestValidator::validate(const RequestHead& head,
                                                                            ByteSpan body) const {
  auto route = check_endpoint(head);
  if (!route) return std::unexpected(route.error());
  if (auto ok = check_headers(head); !ok) return std::unexpected(ok.error());
  if (auto ok = check_host(head); !ok) return std::unexpected(ok.error());
  auto badge = check_badge(head, badge_key_);
  if (!badge) return std::unexpected(badge.error());

  if (body.empty()) return refuse(kErrEmptyBody, "the request body is empty");
  if (body.size() > kMaxPromptBodyBytes) {
    return refuse(kErrBodyTooLarge, "the request body exceeds " + std::to_string(kMaxPromptBodyBytes) + " bytes");
  }
  if (count_fields(head.headers, "Content-Length") > 1) {
    return refuse(kErrContentLengthMismatch, "repeated Content-Length header");
  }
  if (auto declared = wire::bhttp::find_field(head.headers, "Content-Length")) {
    auto length = parse_decimal(*declared);
    if (!length || *length != body.size()) {
      return refuse(kErrContentLengthMismatch, "Content-Length does not match the body");
    }
  }

  auto parsed = parse_body(body);
  if (!parsed) return std::unexpected(parsed.error());
  json& request = *parsed;
  JsonWiper wiper{request};
  if (!request.is_object()) return refuse(kErrInvalidJson, "the body is not a JSON object");
  const Route& r = **route;
  if (auto ok = check_fields(request, r.fields, ""); !ok) return std::unexpected(ok.error());

  const auto model = request.find("model");
  if (model == request.end() || !model->is_string() || model->get_ref<const std::string&>().empty()) {
    return refuse(kErrMissingField, "field \"model\" is required");
  }
  const std::string& model_name = model->get_ref<const std::string&>();
  if (std::find(models_.begin(), models_.end(), model_name) == models_.end()) {
    return refuse(kErrModelNotServed, "this node does not serve the requested model");
  }
  if (!badge->credentials.allows(model_name)) {
    return refuse(kErrModelNotInBadge, "the badge does not allow the requested model");
  }

  const auto required = request.find(r.required);
  if (required == request.end() || required->is_null()) {
    return refuse(kErrMissingField, "field \"" + std::string(r.required) + "\" is required");
  }
  if (r.required == "messages") {
    if (required->empty()) return refuse(kErrMissingField, "field \"messages\" must not be empty");
    for (const auto& message : *required) {
      if (!message.is_object()) return refuse(kErrInvalidField, "each of \"messages\" must be an object");
      if (auto ok = check_fields(message, r.message_fields, "messages[]"); !ok) return std::unexpected(ok.error());
      const auto role = message.find("role");
      if (role == message.end() || !role->is_string()) {
        return refuse(kErrMissingField, "each of \"messages\" needs a \"role\"");
      }
    }
  }
  if (const auto options = request.find("stream_options"); options != request.end() && options->is_object()) {
    if (auto ok = check_fields(*options, kStreamOptionsFields, "stream_options"); !ok) {
      return std::unexpected(ok.error());
    }
  }
  if (r.openai) {
    const auto stream = request.find("stream");
    if (stream != request.end() && stream->is_boolean() && stream->get<bool>()) {
      json& options = request["stream_options"];
      if (!options.is_object()) options = json::object();
      options["include_usage"] = true;
    }
  }

  ValidatedRequest out;
  out.api = r.api;
  out.path = std::string(r.path);
  out.model = model_name;
  std::string serialized = request.dump(-1, ' ', false, json::error_handler_t::replace);
  out.body = SecretBytes(as_bytes(serialized));
  secure_wipe(serialized.data(), serialized.size());
  return out;
}

}  // namespace openpcc::computenode
