#include "client/openai_proxy/api_error.h"

#include <nlohmann/json.hpp>

#include "client/request_step.h"
#include "common/json_parse.h"

namespace openpcc::client::openai_proxy {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxQuoted = 300;

// The length of the well-formed UTF-8 sequence at the start of `text` (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF), or 0.
size_t utf8_sequence(std::string_view text) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = b(0);
  if (lead < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (text.size() < n || b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  }
  return n;
}

// Text from an answer, safe for a message: control characters and malformed UTF-8 replaced by '?', cut after about
// kMaxQuoted bytes on a character boundary.
std::string printable(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size() && out.size() < kMaxQuoted) {
    const size_t n = utf8_sequence(text.substr(i));
    if (n == 0) {
      out += '?';
      ++i;
      continue;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (n == 1 && ((c < 0x20 && c != '\t') || c == 0x7f)) {
      out += '?';
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  if (i < text.size()) out += "…";
  return out;
}

json null_if_empty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

std::string string_member(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The text of a JSON body as a compact dump with invalid UTF-8 replaced (nlohmann throws on it otherwise).
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

ApiError upstream(int status, std::string code, std::string message) {
  return ApiError{status, "api_error", std::move(code), "", std::move(message), true};
}

}  // namespace

std::string error_body(const ApiError& error, ApiFamily family) {
  if (family == ApiFamily::kOllama) return dump(json{{"error", error.message}});
  return dump(json{{"error",
                    {{"message", error.message},
                     {"type", error.type},
                     {"param", null_if_empty(error.param)},
                     {"code", null_if_empty(error.code)}}}});
}

net::Headers error_headers(const ApiError& error) {
  net::Headers headers;
  headers.set("Content-Type", "application/json");
  headers.set("x-should-retry", error.retryable ? "true" : "false");
  if (error.status == 401) headers.set("WWW-Authenticate", "Bearer");
  return headers;
}

ApiError from_client_error(const Error& error) {
  ApiError out;
  const std::optional<Step> step = step_of(error);
  if (!step) {
    out = upstream(500, "internal_error", "proxy: " + error.message);
  } else {
    switch (*step) {
      case Step::kRequest:
        out = ApiError{400, "invalid_request_error", "invalid_request", "", error.message, false};
        break;
      case Step::kNoVerifiedNode:
        // The node finder's message says whether the router listed nodes that then failed the trust policy.
        if (error.code == ErrorCode::kNotFound &&
            error.message.find("none passed the trust policy") == std::string::npos) {
          out = ApiError{404, "invalid_request_error", "model_not_found", "model", error.message, false};
        } else {
          out = upstream(502, "no_verified_node", error.message);
        }
        break;
      case Step::kPayment:
        if (error.code == ErrorCode::kInsufficientBalance) {
          out = ApiError{429, "insufficient_quota", "insufficient_quota", "", error.message, false};
        } else {
          out = upstream(503, "payment_unavailable", error.message);
        }
        break;
      case Step::kAuth:
        out = upstream(502, "auth_failed", error.message);
        break;
      case Step::kRouting:
        out = error.code == ErrorCode::kUnavailable ? upstream(503, "routing_unavailable", error.message)
                                                    : upstream(502, "routing_failed", error.message);
        break;
      case Step::kNode:
        out = upstream(502, "node_failed", error.message);
        break;
      case Step::kEngine:
        out = upstream(502, "engine_failed", error.message);
        break;
      case Step::kConfig:
        out = upstream(500, "internal_error", error.message);
        break;
    }
  }
  if (error.code == ErrorCode::kTimeout) {
    out.status = 504;
    out.retryable = true;
  }
  return out;
}

ApiError from_engine_answer(int status, ByteSpan body) {
  ApiError out;
  out.status = status >= 400 && status <= 599 ? status : 502;
  out.type = status >= 500 ? "api_error" : "invalid_request_error";
  out.retryable = status >= 500 || status == 408 || status == 429;
  std::string detail;
  auto parsed_body = parse_json(body);
  const json parsed = parsed_body ? std::move(*parsed_body) : json();
  if (parsed.is_object()) {
    auto error = parsed.find("error");
    if (error != parsed.end() && error->is_object()) {  // OpenAI's shape
      detail = string_member(*error, "message");
      if (auto t = string_member(*error, "type"); !t.empty()) out.type = printable(t);
      out.code = printable(string_member(*error, "code"));
      out.param = printable(string_member(*error, "param"));
    } else {  // the node's validation error {"code","error","message"}, or Ollama's {"error": "…"}
      out.code = printable(string_member(parsed, "code"));
      detail = string_member(parsed, "message");
      if (detail.empty()) detail = string_member(parsed, "error");
    }
  } else if (!body.empty()) {
    detail = std::string(reinterpret_cast<const char*>(body.data()), body.size());
  }
  out.message = "engine: the node answered " + std::to_string(status);
  if (!out.code.empty()) out.message += " (" + out.code + ")";
  if (!detail.empty()) out.message += ": " + printable(detail);
  return out;
}

ApiError proxy_error(int status, std::string type, std::string code, std::string message, std::string param) {
  return ApiError{status, std::move(type), std::move(code), std::move(param), "proxy: " + std::move(message),
                  status >= 500};
}

}  // namespace openpcc::client::openai_proxy
