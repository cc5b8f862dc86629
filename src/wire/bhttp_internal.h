// Internal to the BHTTP implementation (src/wire/bhttp_*.cc): small helpers shared by the encoder and the decoder.
// Not part of the API.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "common/error.h"

namespace openpcc::wire::bhttp::internal {

// A quoted, escaped excerpt of untrusted text for error messages: non-printable bytes become \xNN and long text is
// cut at `max_len` bytes.
inline std::string quoted_excerpt(std::string_view s, size_t max_len = 48) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') {
      out.push_back(static_cast<char>(b));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", b);
      out += buf;
    }
  }
  if (s.size() > max_len) out += "...";
  out += "\"";
  return out;
}

inline std::unexpected<Error> bhttp_error(ErrorCode code, std::string message) {
  return make_error(code, "bhttp: " + std::move(message));
}

}  // namespace openpcc::wire::bhttp::internal
