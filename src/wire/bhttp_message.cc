#include "wire/bhttp_message.h"

#include <algorithm>
#include <array>

namespace openpcc::wire::bhttp {

namespace {

constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<uint8_t>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTchar = make_tchar_table();

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return kTchar[static_cast<uint8_t>(c)]; });
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

uint8_t framing_indicator(MessageKind kind, Framing framing) {
  return static_cast<uint8_t>((framing == Framing::kIndeterminateLength ? 2 : 0) +
                              (kind == MessageKind::kResponse ? 1 : 0));
}

std::optional<std::string_view> find_field(const Fields& fields, std::string_view name) {
  for (const Field& f : fields) {
    if (f.name.size() == name.size() &&
        std::equal(f.name.begin(), f.name.end(), name.begin(),
                   [](char a, char b) { return ascii_lower(a) == ascii_lower(b); })) {
      return std::string_view(f.value);
    }
  }
  return std::nullopt;
}

bool is_valid_field_name(std::string_view name) { return is_token(name); }

bool is_valid_field_value(std::string_view value) {
  for (char c : value) {
    if (c == '\0' || c == '\r' || c == '\n') return false;
  }
  if (!value.empty()) {
    auto is_ws = [](char c) { return c == ' ' || c == '\t'; };
    if (is_ws(value.front()) || is_ws(value.back())) return false;
  }
  return true;
}

bool is_valid_method(std::string_view method) { return is_token(method); }

bool is_valid_control_field(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    auto b = static_cast<uint8_t>(c);
    return b <= 0x20 || b == 0x7f;
  });
}

}  // namespace openpcc::wire::bhttp
