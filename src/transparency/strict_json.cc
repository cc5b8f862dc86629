#include "transparency/strict_json.h"

#include <cmath>
#include <optional>
#include <utility>
#include <vector>

namespace openpcc::transparency {
namespace {

using Json = nlohmann::json;

// Builds the DOM from SAX events so that a repeated key and excessive nesting can stop the parse. Containers are
// linked into their parent when opened and tracked by pointer: map nodes never move, and an open array only grows
// after its open child has been closed.
class StrictBuilder final : public nlohmann::json_sax<Json> {
 public:
  explicit StrictBuilder(std::string_view what) : what_(what) {}

  bool null() override { return add(Json(nullptr)) != nullptr; }
  bool boolean(bool v) override { return add(Json(v)) != nullptr; }
  bool number_integer(number_integer_t v) override { return add(Json(v)) != nullptr; }
  bool number_unsigned(number_unsigned_t v) override { return add(Json(v)) != nullptr; }
  bool number_float(number_float_t v, const string_t&) override {
    if (!std::isfinite(v)) return fail(ErrorCode::kDecode, "number out of range");
    return add(Json(v)) != nullptr;
  }
  bool string(string_t& v) override { return add(Json(std::move(v))) != nullptr; }
  bool binary(binary_t&) override { return fail(ErrorCode::kDecode, "binary values are not JSON"); }

  bool start_object(std::size_t) override { return open(Json::object()); }
  bool end_object() override {
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_array() override {
    open_.pop_back();
    return true;
  }

  bool key(string_t& k) override {
    if (open_.back()->contains(k)) {
      // The key itself is attacker-chosen text; keep the message short.
      std::string shown = k.size() > 64 ? k.substr(0, 64) + "..." : k;
      return fail(ErrorCode::kDecode, "duplicate key \"" + shown + "\"");
    }
    key_ = std::move(k);
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    if (!error_) {
      std::string detail = ex.what();
      // "[json.exception.parse_error.101] parse error at line 1, column 7: syntax error ..." → from "parse error".
      if (auto pos = detail.find("] "); pos != std::string::npos) detail.erase(0, pos + 2);
      if (detail.size() > 200) detail = detail.substr(0, 200) + "...";
      error_ = Error{ErrorCode::kDecode, std::string(what_) + ": malformed JSON at byte " +
                                             std::to_string(position) + " (" + detail + ")"};
    }
    return false;
  }

  Result<Json> take() {
    if (error_) return std::unexpected(*error_);
    return std::move(root_);
  }
  bool failed() const { return error_.has_value(); }

 private:
  Json* add(Json value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    return &(parent[key_] = std::move(value));
  }

  bool open(Json container) {
    if (open_.size() >= kMaxJsonDepth) {
      return fail(ErrorCode::kLimitExceeded, "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    open_.push_back(add(std::move(container)));
    return true;
  }

  bool fail(ErrorCode code, std::string message) {
    if (!error_) error_ = Error{code, std::string(what_) + ": " + std::move(message)};
    return false;
  }

  std::string_view what_;
  Json root_;
  std::vector<Json*> open_;
  std::string key_;
  std::optional<Error> error_;
};

}  // namespace

Result<nlohmann::json> parse_strict_json(std::string_view text, size_t max_bytes, std::string_view what) {
  if (text.size() > max_bytes) {
    return make_error(ErrorCode::kLimitExceeded, std::string(what) + ": " + std::to_string(text.size()) +
                                                     " bytes exceed the limit of " + std::to_string(max_bytes));
  }
  StrictBuilder builder(what);
  const bool ok = Json::sax_parse(text, &builder, nlohmann::json::input_format_t::json, /*strict=*/true);
  if (!ok && !builder.failed()) return make_error(ErrorCode::kDecode, std::string(what) + ": malformed JSON");
  return builder.take();
}

std::string dump_canonical(const nlohmann::json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

Status require_members_within(const nlohmann::json& object, std::initializer_list<std::string_view> allowed,
                              std::string_view what) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view name : allowed) known = known || key == name;
    if (!known) {
      std::string shown = key.size() > 64 ? key.substr(0, 64) + "..." : key;
      return make_error(ErrorCode::kDecode, std::string(what) + ": unknown member \"" + shown + "\"");
    }
  }
  return {};
}

const nlohmann::json* find_member(const nlohmann::json& object, std::string_view key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Result<std::string> string_member(const nlohmann::json& object, std::string_view key, std::string_view what) {
  const nlohmann::json* member = find_member(object, key);
  if (member == nullptr) {
    return make_error(ErrorCode::kDecode, std::string(what) + ": missing \"" + std::string(key) + "\"");
  }
  if (!member->is_string()) {
    return make_error(ErrorCode::kDecode, std::string(what) + ": \"" + std::string(key) + "\" must be a string");
  }
  return member->get<std::string>();
}

Result<uint64_t> uint_member(const nlohmann::json& object, std::string_view key, std::string_view what) {
  const nlohmann::json* member = find_member(object, key);
  if (member == nullptr) {
    return make_error(ErrorCode::kDecode, std::string(what) + ": missing \"" + std::string(key) + "\"");
  }
  if (!member->is_number_unsigned()) {
    return make_error(ErrorCode::kDecode,
                      std::string(what) + ": \"" + std::string(key) + "\" must be a non-negative integer");
  }
  return member->get<uint64_t>();
}

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<uint8_t>(text[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    size_t extra;
    uint32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      extra = 1;
      cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      extra = 2;
      cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      extra = 3;
      cp = b0 & 0x07;
    } else {
      return false;  // a continuation byte, an overlong 2-byte lead (C0, C1) or beyond U+10FFFF (F5..FF)
    }
    if (text.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto b = static_cast<uint8_t>(text[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace openpcc::transparency
