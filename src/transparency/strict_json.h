// Strict JSON for signed and logged documents (DSSE envelopes, in-toto statements, bundles, predicate data).
//
// nlohmann::json::parse is lenient where signed data must not be: a duplicated object key silently keeps the last
// value, so two verifiers built on different parsers could read different statements out of the same signed bytes.
// parse_strict_json refuses duplicated keys, bounds the nesting depth and the input size, and never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace openpcc::transparency {

// Objects and arrays nested deeper than this are refused (our documents are 4 levels deep; statement predicates a
// few more).
inline constexpr size_t kMaxJsonDepth = 64;

// Parses exactly one JSON value (trailing whitespace only). kLimitExceeded for more than `max_bytes` of input or
// nesting beyond kMaxJsonDepth; kDecode for malformed JSON, invalid UTF-8 or a key repeated within one object.
// Messages start with `what` ("dsse envelope: duplicate key \"payload\"").
Result<nlohmann::json> parse_strict_json(std::string_view text, size_t max_bytes, std::string_view what);

// Compact serialization with object keys in ascending byte order (nlohmann's order), UTF-8 as is. Deterministic:
// equal values give equal text. Strings that are not valid UTF-8 (only possible for values not made by
// parse_strict_json) have the bad bytes replaced by U+FFFD instead of throwing.
std::string dump_canonical(const nlohmann::json& value);

// Member helpers for objects already known to be objects. Each error names `what` and the member.
//
// kDecode unless every member of `object` is one of `allowed`.
Status require_members_within(const nlohmann::json& object, std::initializer_list<std::string_view> allowed,
                              std::string_view what);
// The member, or nullptr when absent.
const nlohmann::json* find_member(const nlohmann::json& object, std::string_view key);
// A required string member (kDecode when absent or not a string).
Result<std::string> string_member(const nlohmann::json& object, std::string_view key, std::string_view what);
// A required non-negative integer member that fits uint64 (kDecode otherwise; 1.0 and "1" are not integers).
Result<uint64_t> uint_member(const nlohmann::json& object, std::string_view key, std::string_view what);

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace openpcc::transparency
