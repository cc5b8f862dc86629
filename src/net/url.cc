#include "net/url.h"

#include <algorithm>

namespace openpcc::net {
namespace {

auto bad(std::string_view text, std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument, "url \"" + std::string(text.substr(0, 200)) + "\": " + std::string(why));
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool is_reg_name_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  constexpr std::string_view kAllowed = "-._~!$&'()*+,;=%";
  return kAllowed.find(c) != std::string_view::npos;
}

// Percent escapes must be complete; the rest of the target is passed through as the caller wrote it.
bool valid_percent_escapes(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size()) return false;
    if (!is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
    i += 2;
  }
  return true;
}

}  // namespace

std::string Url::authority() const {
  std::string out = is_ipv6_literal() ? "[" + host + "]" : host;
  const uint16_t default_port = is_tls() ? 443 : 80;
  if (port != default_port) out += ":" + std::to_string(port);
  return out;
}

std::string Url::to_string() const { return scheme + "://" + authority() + target; }

Result<Url> parse_url(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return bad(text, "contains whitespace or a control character");
  }
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) return bad(text, "missing scheme (expected http:// or https://)");
  Url url;
  url.scheme = lowercase(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") return bad(text, "unsupported scheme \"" + url.scheme + "\"");
  std::string_view rest = text.substr(sep + 3);

  // Fragment is never sent.
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const size_t path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);

  if (authority.find('@') != std::string_view::npos) return bad(text, "userinfo (user@host) is not supported");
  if (authority.empty()) return bad(text, "empty host");

  std::string_view host;
  std::string_view port_text;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad(text, "unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    if (host.empty()) return bad(text, "empty IPv6 literal");
    for (char c : host) {
      if (!is_hex(c) && c != ':' && c != '.') return bad(text, "invalid character in IPv6 literal");
    }
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad(text, "unexpected text after IPv6 literal");
      port_text = after.substr(1);
      if (port_text.empty()) return bad(text, "empty port");
    }
  } else {
    const size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad(text, "empty port");
    }
    if (host.empty()) return bad(text, "empty host");
    for (char c : host) {
      if (!is_reg_name_char(c)) return bad(text, "invalid character in host");
    }
  }

  url.port = url.is_tls() ? 443 : 80;
  if (!port_text.empty()) {
    uint32_t port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return bad(text, "port is not a number");
      port = port * 10 + static_cast<uint32_t>(c - '0');
      if (port > 65535) return bad(text, "port out of range");
    }
    if (port == 0) return bad(text, "port 0 is not dialable");
    url.port = static_cast<uint16_t>(port);
  }
  url.host = lowercase(host);

  if (!valid_percent_escapes(target)) return bad(text, "incomplete percent escape");
  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

}  // namespace openpcc::net
