// Strict accessors for conformance request fields: a missing field, a wrong JSON type or bad hex becomes an Error
// that names the field. Internal to the conformance library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::conformance {

Result<Bytes> hex_field(const nlohmann::json& req, std::string_view name);
// Absent or null → nullopt; present but malformed → error.
Result<std::optional<Bytes>> optional_hex_field(const nlohmann::json& req, std::string_view name);
Result<std::string> string_field(const nlohmann::json& req, std::string_view name);
Result<std::optional<std::string>> optional_string_field(const nlohmann::json& req, std::string_view name);
// Non-negative integer no larger than `max`.
Result<uint64_t> uint_field(const nlohmann::json& req, std::string_view name, uint64_t max);
Result<std::optional<uint64_t>> optional_uint_field(const nlohmann::json& req, std::string_view name, uint64_t max);
Result<bool> bool_field(const nlohmann::json& req, std::string_view name);

// Header lists as [[name, value], ...].
using FieldList = std::vector<std::pair<std::string, std::string>>;
Result<FieldList> field_list(const nlohmann::json& req, std::string_view name);
nlohmann::json field_list_json(const FieldList& fields);

}  // namespace openpcc::conformance
