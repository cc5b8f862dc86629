#include "net/headers.h"

#include <algorithm>

namespace openpcc::net {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return kSpecials.find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_valid_field_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), is_tchar);
}

bool is_valid_field_value(std::string_view value) {
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u == '\t') continue;
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

void Headers::add(std::string_view name, std::string_view value) { fields_.emplace_back(name, value); }

void Headers::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

size_t Headers::remove(std::string_view name) {
  const auto before = fields_.size();
  std::erase_if(fields_, [&](const Field& f) { return iequals(f.first, name); });
  return before - fields_.size();
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (iequals(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string_view> Headers::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [n, v] : fields_) {
    if (iequals(n, name)) out.emplace_back(v);
  }
  return out;
}

Headers without_hop_by_hop(const Headers& headers, bool drop_content_length) {
  std::vector<std::string> drop = {"connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade"};
  if (drop_content_length) drop.emplace_back("content-length");
  for (std::string_view value : headers.get_all("connection")) {
    while (!value.empty()) {
      const size_t comma = value.find(',');
      const std::string_view item = trim(value.substr(0, comma));
      if (!item.empty()) drop.emplace_back(item);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  Headers out;
  for (const auto& [n, v] : headers) {
    const bool hop = std::any_of(drop.begin(), drop.end(), [&](const std::string& d) { return iequals(d, n); });
    if (!hop) out.add(n, v);
  }
  return out;
}

}  // namespace openpcc::net
