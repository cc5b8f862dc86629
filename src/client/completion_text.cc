#include "client/completion_text.h"
#include "common/json_parse.h"

#include <nlohmann/json.hpp>

namespace openpcc::client {
namespace {

using nlohmann::json;

const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string string_at(const json* j) { return j && j->is_string() ? j->get<std::string>() : std::string(); }

std::optional<int64_t> count_at(const json* j) {
  if (j && j->is_number_integer()) return j->get<int64_t>();
  return std::nullopt;
}

}  // namespace

std::string CompletionText::from_json(std::string_view text) {
  auto parsed = parse_json(text);
  if (!parsed || !parsed->is_object()) return {};
  const json& j = *parsed;
  std::string out;
  if (const json* choices = member(j, "choices"); choices && choices->is_array() && !choices->empty()) {
    const json& first = (*choices)[0];
    if (const json* delta = member(first, "delta")) out += string_at(member(*delta, "content"));
    if (const json* message = member(first, "message")) out += string_at(member(*message, "content"));
    out += string_at(member(first, "text"));
  }
  if (const json* message = member(j, "message")) out += string_at(member(*message, "content"));  // Ollama chat
  out += string_at(member(j, "response"));                                                          // Ollama generate
  if (const json* usage = member(j, "usage"); usage && usage->is_object()) {
    auto in = count_at(member(*usage, "prompt_tokens"));
    auto generated = count_at(member(*usage, "completion_tokens"));
    if (in && generated) usage_ = TokenUsage{*in, *generated};
  }
  auto in = count_at(member(j, "prompt_eval_count"));
  auto generated = count_at(member(j, "eval_count"));
  if (in && generated) usage_ = TokenUsage{*in, *generated};
  return out;
}

std::string CompletionText::line(std::string_view text) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.starts_with("data:")) {
    text.remove_prefix(5);
    if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (text == "[DONE]") {
      done_ = true;
      return {};
    }
    return from_json(text);
  }
  if (text.empty() || text.starts_with(":") || text.starts_with("event:") || text.starts_with("id:") ||
      text.starts_with("retry:")) {
    return {};
  }
  if (auto j = parse_json(text); j && j->is_object()) return from_json(text);  // one NDJSON record
  if (whole_.size() + text.size() + 1 > kMaxLine) {
    whole_too_long_ = true;
  } else {
    whole_.append(text);
    whole_ += '\n';
  }
  return {};
}

std::string CompletionText::feed(ByteSpan bytes) {
  std::string out;
  for (uint8_t b : bytes) {
    const char c = static_cast<char>(b);
    if (c == '\n') {
      if (!pending_too_long_) out += line(pending_);
      pending_.clear();
      pending_too_long_ = false;
    } else if (pending_.size() < kMaxLine) {
      pending_ += c;
    } else {
      pending_too_long_ = true;
    }
  }
  return out;
}

std::string CompletionText::finish() {
  std::string out;
  if (!pending_.empty() && !pending_too_long_) out += line(pending_);
  pending_.clear();
  if (!whole_.empty() && !whole_too_long_) out += from_json(whole_);
  whole_.clear();
  return out;
}

}  // namespace openpcc::client
