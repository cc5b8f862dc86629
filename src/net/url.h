// Parsing of absolute http:// and https:// URLs, the only kind this HTTP layer dials.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace openpcc::net {

struct Url {
  std::string scheme;  // "http" or "https", lowercased
  std::string host;    // reg-name lowercased, IPv4 literal, or IPv6 literal without brackets
  uint16_t port = 0;   // explicit port, else 80 / 443
  std::string target;  // origin-form request target: path plus "?query", never empty ("/" by default)

  bool is_tls() const { return scheme == "https"; }
  bool is_ipv6_literal() const { return host.find(':') != std::string::npos; }
  // Host header value: host (bracketed if IPv6) plus ":port" when the port is not the scheme's default.
  std::string authority() const;
  // scheme://authority/target
  std::string to_string() const;
};

// Accepts "http[s]://host[:port][/path][?query][#fragment]" (scheme and host case-insensitive; the fragment is
// dropped). Refuses with kInvalidArgument and a message naming the problem: other schemes, userinfo ("user@"),
// an empty host, a bad or out-of-range port, whitespace or control characters, malformed IPv6 brackets, and
// percent signs not followed by two hex digits.
Result<Url> parse_url(std::string_view text);

}  // namespace openpcc::net
