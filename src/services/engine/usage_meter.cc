#include "services/engine/usage_meter.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace openpcc::engine {
namespace {

bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

ByteSpan trim(ByteSpan text) {
  while (!text.empty() && is_space(text.front())) text = text.subspan(1);
  while (!text.empty() && is_space(text.back())) text = text.first(text.size() - 1);
  return text;
}

bool starts_with(ByteSpan text, std::string_view prefix) {
  return text.size() >= prefix.size() && std::memcmp(text.data(), prefix.data(), prefix.size()) == 0;
}

// A token count as reported: an integer in [0, kMaxTokenCount]; anything else counts as not reported.
struct Count {
  bool present = false;
  int64_t value = 0;
  void set_unsigned(uint64_t v) {
    present = v <= static_cast<uint64_t>(kMaxTokenCount);
    value = present ? static_cast<int64_t>(v) : 0;
  }
  void set_invalid() { *this = Count{}; }
};

// Pulls the usage members out of one JSON document without building it: the OpenAI "usage" object's two counts and
// Ollama's top-level counts. The parser is nlohmann's iterative SAX parser, so deep nesting cannot exhaust the stack.
class UsageExtractor {
 public:
  using json = nlohmann::json;

  std::optional<Usage> result() const {
    if (!root_is_object_) return std::nullopt;
    if (prompt_tokens_.present && completion_tokens_.present) {
      return Usage{prompt_tokens_.value, completion_tokens_.value};
    }
    if (eval_count_.present) {
      // Ollama leaves prompt_eval_count out when it is zero (omitempty); present but invalid means not reported.
      if (prompt_eval_count_.present) return Usage{prompt_eval_count_.value, eval_count_.value};
      if (!prompt_eval_count_seen_) return Usage{0, eval_count_.value};
    }
    return std::nullopt;
  }

  // SAX events. Every value event first goes through value(), which invalidates a count the value cannot be.
  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(json::number_integer_t v) {
    if (v >= 0) return number(static_cast<uint64_t>(v));
    return value();
  }
  bool number_unsigned(json::number_unsigned_t v) { return number(v); }
  bool number_float(json::number_float_t, const json::string_t&) { return value(); }
  bool string(json::string_t&) { return value(); }
  bool binary(json::binary_t&) { return value(); }
  bool start_object(std::size_t) {
    if (depth_ == 0) {
      root_is_object_ = true;
    } else if (depth_ == 1 && root_is_object_ && top_key_ == "usage") {
      in_usage_ = true;  // a repeated "usage" member replaces the earlier one
      prompt_tokens_ = Count{};
      completion_tokens_ = Count{};
    } else {
      value();
    }
    ++depth_;
    return true;
  }
  bool end_object() {
    --depth_;
    if (depth_ == 1) in_usage_ = false;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ > 0) value();
    ++depth_;
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool key(json::string_t& k) {
    if (depth_ == 1) top_key_ = k;
    if (depth_ == 2 && in_usage_) usage_key_ = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  // The count the current value would set, if any.
  Count* target() {
    if (!root_is_object_) return nullptr;
    if (depth_ == 1) {
      if (top_key_ == "prompt_eval_count") {
        prompt_eval_count_seen_ = true;
        return &prompt_eval_count_;
      }
      if (top_key_ == "eval_count") return &eval_count_;
      return nullptr;
    }
    if (depth_ == 2 && in_usage_) {
      if (usage_key_ == "prompt_tokens") return &prompt_tokens_;
      if (usage_key_ == "completion_tokens") return &completion_tokens_;
    }
    return nullptr;
  }
  bool number(uint64_t v) {
    if (Count* c = target()) {
      c->set_unsigned(v);
      return true;
    }
    return value();
  }
  // A value that is not a valid count (or not at a count's place).
  bool value() {
    if (Count* c = target()) c->set_invalid();
    if (root_is_object_ && depth_ == 1 && top_key_ == "usage") {  // "usage": null / [] / 5 replaces an earlier one
      prompt_tokens_ = Count{};
      completion_tokens_ = Count{};
    }
    return true;
  }

  size_t depth_ = 0;
  bool root_is_object_ = false;
  bool in_usage_ = false;
  std::string top_key_;
  std::string usage_key_;
  Count prompt_tokens_, completion_tokens_, prompt_eval_count_, eval_count_;
  bool prompt_eval_count_seen_ = false;
};

}  // namespace

double credits_used_exact(const Usage& usage) {
  return kInputTokenCreditMultiplier * static_cast<double>(usage.input_tokens) +
         kOutputTokenCreditMultiplier * static_cast<double>(usage.output_tokens);
}

int64_t credits_used(const Usage& usage) {
  // Integer form of ceil(0.5·in + 2·out); counts are at most 2^40, far from overflow.
  return (usage.input_tokens + 1) / 2 + 2 * usage.output_tokens;
}

bool UsageMeter::Buffer::append(ByteSpan data, size_t limit) {
  if (data.empty()) return true;
  if (data.size() > limit || length > limit - data.size()) return false;
  const size_t needed = length + data.size();
  if (needed > storage.size()) {
    // Doubling keeps appends amortized O(1); SecretBytes::resize wipes the storage it leaves.
    storage.resize(std::min(limit, std::max(needed, std::max<size_t>(256, storage.size() * 2))));
  }
  std::memcpy(storage.data() + length, data.data(), data.size());
  length = needed;
  return true;
}

UsageMeter::UsageMeter(size_t max_line_bytes) : max_line_bytes_(std::max<size_t>(max_line_bytes, 1)) {}

void UsageMeter::feed(ByteSpan piece) {
  if (finished_ || piece.empty()) return;
  feed_whole(piece);
  while (!piece.empty()) {
    // Lines end at LF, CR or CRLF (SSE allows all three; NDJSON uses LF); empty lines are ignored.
    size_t length = 0;
    while (length < piece.size() && piece[length] != '\n' && piece[length] != '\r') ++length;
    const bool terminated = length < piece.size();
    ByteSpan segment = piece.first(length);
    piece = piece.subspan(terminated ? length + 1 : length);

    if (skipping_line_) {
      if (terminated) skipping_line_ = false;
      continue;
    }
    if (terminated && line_.length == 0) {  // the whole line is in this piece: no copy
      if (segment.size() <= max_line_bytes_) {
        consider_line(segment);
      } else {
        ++skipped_lines_;
      }
      continue;
    }
    if (!line_.append(segment, max_line_bytes_)) {
      ++skipped_lines_;
      line_.length = 0;
      skipping_line_ = !terminated;
      continue;
    }
    if (terminated) {
      consider_line(line_.view());
      line_.length = 0;
    }
  }
}

void UsageMeter::feed_whole(ByteSpan piece) {
  if (whole_state_ == WholeBody::kNotJson) return;
  if (whole_state_ == WholeBody::kUndecided) {
    // Only a body that starts with '{' can be one JSON object; SSE bodies are not copied at all.
    ByteSpan rest = piece;
    while (!rest.empty() && is_space(rest.front())) rest = rest.subspan(1);
    if (rest.empty()) return;  // leading whitespace only: not decided yet (and nothing worth keeping)
    if (rest.front() != '{') {
      whole_state_ = WholeBody::kNotJson;
      return;
    }
    whole_state_ = WholeBody::kCollecting;
    piece = rest;
  }
  if (!whole_.append(piece, max_line_bytes_)) {
    whole_state_ = WholeBody::kNotJson;
    whole_ = Buffer{};
  }
}

void UsageMeter::finish() {
  if (finished_) return;
  finished_ = true;
  if (!skipping_line_ && line_.length > 0) consider_line(line_.view());
  if (whole_state_ == WholeBody::kCollecting) consider_json(whole_.view());
  line_ = Buffer{};
  whole_ = Buffer{};
}

void UsageMeter::consider_line(ByteSpan line) {
  line = trim(line);
  if (starts_with(line, "data:")) {
    line = trim(line.subspan(5));
    if (starts_with(line, "[DONE]") && line.size() == 6) return;
    consider_json(line);
    return;
  }
  if (!line.empty() && line.front() == '{') consider_json(line);  // NDJSON or a one-line JSON body
}

void UsageMeter::consider_json(ByteSpan text) {
  text = trim(text);
  if (text.empty() || text.front() != '{') return;
  UsageExtractor extractor;
  const char* begin = reinterpret_cast<const char*>(text.data());
  const bool ok = nlohmann::json::sax_parse(begin, begin + text.size(), &extractor,
                                            nlohmann::json::input_format_t::json, /*strict=*/true);
  if (!ok) return;
  if (auto found = extractor.result()) usage_ = *found;
}

}  // namespace openpcc::engine
