// Strict JSON parsing for untrusted input (request bodies, responses from peers, config files).
//
// nlohmann::json::parse is close to strict but not quite: its lexer takes a NUL byte for the end of input, so
// `{"a":1}\0anything` parses as {"a":1} where Go's decoder (the reference implementation's) refuses it, and a
// hostile document may nest arbitrarily deep. parse_json parses exactly one JSON value (surrounding whitespace
// only), refuses any NUL byte, bounds the nesting depth, and never throws.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc {

// Arrays and objects nested deeper than this are refused unless the caller asks for another bound.
inline constexpr size_t kDefaultMaxJsonDepth = 128;

struct JsonParseOptions {
  // Most arrays/objects open at once: 1 allows `[1]` but not `[[1]]`; 0 allows scalars only.
  size_t max_depth = kDefaultMaxJsonDepth;
  // Accept /* */ and // comments (hand-written config files only; never on the wire).
  bool allow_comments = false;
  // Refuse an object that repeats a key (nlohmann keeps the last one): for signed documents, which must not mean
  // different things to different parsers.
  bool reject_duplicate_keys = false;
};

// One JSON value, or kDecode with a message naming the problem: "contains a NUL byte at offset 7",
// "syntax error at byte 8", "nests deeper than 128 levels", "repeated object key". Callers add their own context (wrap_error).
Result<nlohmann::json> parse_json(std::string_view text, const JsonParseOptions& options = {});
Result<nlohmann::json> parse_json(ByteSpan text, const JsonParseOptions& options = {});

}  // namespace openpcc
