// UsageMeter on arbitrary engine response bodies.
//
// Input: byte 0 picks the line limit (8 + 16·b bytes, so long lines get skipped often), bytes 1-2 seed the piece
// sizes (1..64) the body is fed in, the rest is the body.
//
// Properties beyond "no crash":
//  * feeding in those pieces gives the same usage (and skipped-line count) as feeding the body whole;
//  * the result equals an independent oracle built on nlohmann's DOM parser: the last usage record among the body's
//    lines (LF / CR separated, trimmed, `data:` stripped, [DONE] ignored, lines over the limit skipped), then the
//    whole body as one JSON object when it fits the limit;
//  * counts are within [0, kMaxTokenCount].
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "services/engine/usage_meter.h"

namespace {

using openpcc::ByteSpan;
using openpcc::engine::kMaxTokenCount;
using openpcc::engine::Usage;
using openpcc::engine::UsageMeter;
using Json = nlohmann::json;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A count as the meter accepts it: an integer (signed or unsigned JSON number) in [0, kMaxTokenCount].
std::optional<int64_t> count(const Json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(kMaxTokenCount)) return static_cast<int64_t>(u);
    return std::nullopt;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i >= 0 && i <= kMaxTokenCount) return i;
  }
  return std::nullopt;
}

std::optional<Usage> oracle_record(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.front() != '{') return std::nullopt;
  const Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  if (auto it = json.find("usage"); it != json.end() && it->is_object()) {
    auto p = it->find("prompt_tokens");
    auto c = it->find("completion_tokens");
    if (p != it->end() && c != it->end()) {
      auto pv = count(*p);
      auto cv = count(*c);
      if (pv && cv) return Usage{*pv, *cv};
    }
  }
  if (auto e = json.find("eval_count"); e != json.end()) {
    if (auto ev = count(*e)) {
      auto p = json.find("prompt_eval_count");
      if (p == json.end()) return Usage{0, *ev};
      if (auto pv = count(*p)) return Usage{*pv, *ev};
    }
  }
  return std::nullopt;
}

std::optional<Usage> oracle(std::string_view body, size_t limit) {
  std::optional<Usage> last;
  size_t start = 0;
  for (size_t i = 0; i <= body.size(); ++i) {
    if (i < body.size() && body[i] != '\n' && body[i] != '\r') continue;
    std::string_view line = body.substr(start, i - start);
    start = i + 1;
    if (line.size() > limit) continue;
    line = trim(line);
    std::optional<Usage> found;
    if (line.starts_with("data:")) {
      line = trim(line.substr(5));
      if (line == "[DONE]") continue;
      found = oracle_record(line);
    } else if (!line.empty() && line.front() == '{') {
      found = oracle_record(line);
    }
    if (found) last = found;
  }
  std::string_view whole = body;
  while (!whole.empty() && is_space(whole.front())) whole.remove_prefix(1);
  if (!whole.empty() && whole.front() == '{' && whole.size() <= limit) {
    if (auto found = oracle_record(whole)) last = found;
  }
  return last;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const size_t limit = 8 + 16 * static_cast<size_t>(data[0]);
  uint32_t seed = static_cast<uint32_t>(data[1]) << 8 | data[2];
  const ByteSpan body(data + 3, size - 3);

  UsageMeter whole(limit);
  whole.feed(body);
  whole.finish();

  UsageMeter pieces(limit);
  for (size_t at = 0; at < body.size();) {
    seed = seed * 1103515245u + 12345u;
    const size_t n = std::min<size_t>(1 + (seed >> 16) % 64, body.size() - at);
    pieces.feed(body.subspan(at, n));
    at += n;
  }
  pieces.finish();
  pieces.finish();  // idempotent

  if (whole.usage() != pieces.usage() || whole.skipped_lines() != pieces.skipped_lines()) std::abort();
  if (auto u = whole.usage()) {
    if (u->input_tokens < 0 || u->input_tokens > kMaxTokenCount || u->output_tokens < 0 ||
        u->output_tokens > kMaxTokenCount) {
      std::abort();
    }
  }
  const std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
  if (whole.usage() != oracle(text, limit)) std::abort();
  return 0;
}
