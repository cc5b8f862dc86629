#include "common/json_parse.h"

#include <exception>
#include <set>
#include <string>
#include <vector>

namespace openpcc {
namespace {

using json = nlohmann::json;

// Thrown from the parser callback to stop at the first container past the bound (returning false would only discard
// the subtree and keep reading); caught below, never leaves this file.
struct TooDeep {};
struct DuplicateKey {};

}  // namespace

Result<json> parse_json(std::string_view text, const JsonParseOptions& options) {
  // A NUL is never valid JSON text (control characters inside strings must be escaped), and nlohmann would stop
  // reading there, so refuse it before parsing.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return make_error(ErrorCode::kDecode, "json: contains a NUL byte at offset " + std::to_string(nul));
  }
  const int max_depth = static_cast<int>(options.max_depth);
  // `depth` is the number of containers already open around the event; a start event at depth max_depth would
  // open container number max_depth + 1.
  // Keys seen in each object still open (only filled when duplicates are refused).
  std::vector<std::set<std::string>> open_objects;
  const bool unique_keys = options.reject_duplicate_keys;
  const json::parser_callback_t guard = [&open_objects, max_depth, unique_keys](int depth, json::parse_event_t event,
                                                                               json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth) {
      throw TooDeep{};
    }
    if (!unique_keys) return true;
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end && !open_objects.empty()) {
      open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !open_objects.empty() &&
               !open_objects.back().insert(parsed.get<std::string>()).second) {
      throw DuplicateKey{};
    }
    return true;
  };
  try {
    json value = json::parse(text.begin(), text.end(), guard, /*allow_exceptions=*/true, options.allow_comments);
    if (value.is_discarded()) return make_error(ErrorCode::kDecode, "json: not a JSON value");
    return value;
  } catch (const TooDeep&) {
    return make_error(ErrorCode::kDecode, "json: nests deeper than " + std::to_string(options.max_depth) + " levels");
  } catch (const DuplicateKey&) {
    return make_error(ErrorCode::kDecode, "json: repeated object key");
  } catch (const json::parse_error& e) {
    // e.byte counts from 1 and points just past the offending character; say which byte, not the text itself.
    return make_error(ErrorCode::kDecode, "json: syntax error at byte " + std::to_string(e.byte));
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kDecode, std::string("json: cannot parse: ") + e.what());
  }
}

Result<json> parse_json(ByteSpan text, const JsonParseOptions& options) {
  return parse_json(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), options);
}

}  // namespace openpcc
