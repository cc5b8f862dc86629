#include "conformance/fields.h"

namespace openpcc::conformance {

using nlohmann::json;

namespace {

std::unexpected<Error> field_error(std::string_view name, std::string_view what) {
  return make_error(ErrorCode::kInvalidArgument, "field \"" + std::string(name) + "\" " + std::string(what));
}

const json* find(const json& req, std::string_view name) {
  auto it = req.find(name);
  if (it == req.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<Bytes> parse_hex(const json& v, std::string_view name) {
  if (!v.is_string()) return field_error(name, "must be a hex string");
  auto b = from_hex(v.get_ref<const std::string&>());
  if (!b) return field_error(name, "is not valid hex: " + b.error().message);
  return std::move(*b);
}

Result<uint64_t> parse_uint(const json& v, std::string_view name, uint64_t max) {
  if (!v.is_number_integer() && !v.is_number_unsigned()) return field_error(name, "must be an integer");
  if (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0) {
    return field_error(name, "must not be negative");
  }
  uint64_t u = v.get<uint64_t>();
  if (u > max) return field_error(name, "must be at most " + std::to_string(max));
  return u;
}

}  // namespace

Result<Bytes> hex_field(const json& req, std::string_view name) {
  const json* v = find(req, name);
  if (!v) return field_error(name, "is missing");
  return parse_hex(*v, name);
}

Result<std::optional<Bytes>> optional_hex_field(const json& req, std::string_view name) {
  const json* v = find(req, name);
  if (!v) return std::optional<Bytes>{};
  auto b = parse_hex(*v, name);
  if (!b) return std::unexpected(b.error());
  return std::optional<Bytes>(std::move(*b));
}

Result<std::string> string_field(const json& req, std::string_view name) {
  const json* v = find(req, name);
  if (!v) return field_error(name, "is missing");
  if (!v->is_string()) return field_error(name, "must be a string");
  return v->get<std::string>();
}

Result<std::optional<std::string>> optional_string_field(const json& req, std::string_view name) {
  const json* v = find(req, name);
  if (!v) return std::optional<std::string>{};
  if (!v->is_string()) return field_error(name, "must be a string");
  return std::optional<std::string>(v->get<std::string>());
}

Result<uint64_t> uint_field(const json& req, std::string_view name, uint64_t max) {
  const json* v = find(req, name);
  if (!v) return field_error(name, "is missing");
  return parse_uint(*v, name, max);
}

Result<std::optional<uint64_t>> optional_uint_field(const json& req, std::string_view name, uint64_t max) {
  const json* v = find(req, name);
  if (!v) return std::optional<uint64_t>{};
  auto u = parse_uint(*v, name, max);
  if (!u) return std::unexpected(u.error());
  return std::optional<uint64_t>(*u);
}

Result<bool> bool_field(const json& req, std::string_view name) {
  const json* v = find(req, name);
  if (!v) return field_error(name, "is missing");
  if (!v->is_boolean()) return field_error(name, "must be true or false");
  return v->get<bool>();
}

Result<FieldList> field_list(const json& req, std::string_view name) {
  FieldList out;
  const json* v = find(req, name);
  if (!v) return out;  // absent list = empty
  if (!v->is_array()) return field_error(name, "must be an array of [name, value] pairs");
  for (const auto& item : *v) {
    if (!item.is_array() || item.size() != 2 || !item[0].is_string() || !item[1].is_string()) {
      return field_error(name, "must be an array of [name, value] string pairs");
    }
    out.emplace_back(item[0].get<std::string>(), item[1].get<std::string>());
  }
  return out;
}

json field_list_json(const FieldList& fields) {
  json arr = json::array();
  for (const auto& [n, v] : fields) arr.push_back(json::array({n, v}));
  return arr;
}

}  // namespace openpcc::conformance
