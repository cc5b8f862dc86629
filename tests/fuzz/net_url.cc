// URL parsing (net/url.h): never crashes; whatever parses prints (to_string) to a URL that parses to the same
// fields, and never carries whitespace or control characters into the Host header or request target.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto url = openpcc::net::parse_url(text);
  if (!url) return 0;
  for (unsigned char c : url->authority() + url->target) {
    if (c <= 0x20 || c == 0x7f) std::abort();
  }
  auto again = openpcc::net::parse_url(url->to_string());
  if (!again || again->scheme != url->scheme || again->host != url->host || again->port != url->port ||
      again->target != url->target) {
    std::abort();
  }
  return 0;
}
