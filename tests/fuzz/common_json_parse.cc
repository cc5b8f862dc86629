// parse_json (src/common/json_parse.h) on arbitrary text.
//
// Input: byte 0 picks the options (bit 0 comments, bit 1 duplicate keys refused, bits 2-7 the depth bound 0..63), the
// rest is the text.
//
// Properties beyond "no crash":
//  * a text with a NUL byte anywhere is refused;
//  * whatever is accepted, nlohmann's own DOM parser also accepts, with the same value (parse_json is a stricter
//    front, never a different reading);
//  * an accepted value nests no deeper than the bound, and its serialization parses back to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/json_parse.h"

namespace {

size_t depth_of(const nlohmann::json& j) {
  if (!j.is_structured()) return 0;
  size_t deepest = 0;
  for (const auto& child : j) deepest = std::max(deepest, depth_of(child));
  return deepest + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  openpcc::JsonParseOptions options;
  options.allow_comments = (data[0] & 1) != 0;
  options.reject_duplicate_keys = (data[0] & 2) != 0;
  options.max_depth = data[0] >> 2;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  auto parsed = openpcc::parse_json(text, options);
  if (!parsed) return 0;
  if (text.find('\0') != std::string_view::npos) std::abort();  // a NUL byte must never pass
  if (depth_of(*parsed) > options.max_depth) std::abort();
  auto reference = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false,
                                         /*ignore_comments=*/options.allow_comments);
  if (reference.is_discarded() || reference != *parsed) std::abort();
  const std::string again = parsed->dump();
  auto round = openpcc::parse_json(again, openpcc::JsonParseOptions{.max_depth = options.max_depth});
  if (!round || *round != *parsed) std::abort();
  return 0;
}
