// Badge parsing (currency/badge.h): never crashes on any bytes, read as a serialized Badge, as an X-Confsec-Badge
// header and as a bare models encoding. Decoding accepts only canonical encodings, so a decoded models list
// re-encodes to exactly the input, and a parsed badge serializes and parses back to the same badge.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "currency/badge.h"

using openpcc::ByteSpan;
using openpcc::currency::Badge;
using openpcc::currency::Credentials;

namespace {

void check_round_trip(const Badge& badge) {
  auto bytes = badge.serialize();
  if (!bytes) std::abort();  // a parsed badge always has valid credentials
  auto again = Badge::parse(*bytes);
  if (!again || again->credentials.models != badge.credentials.models || again->signature != badge.signature) {
    std::abort();
  }
  auto header = badge.to_header();
  if (!header) std::abort();
  auto from_header = Badge::from_header(*header);
  if (!from_header || from_header->credentials.models != badge.credentials.models) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan bytes(data, size);
  if (auto credentials = Credentials::decode_models(bytes)) {
    auto encoded = credentials->encode_models();
    if (!encoded || *encoded != openpcc::Bytes(bytes.begin(), bytes.end())) std::abort();
    for (const auto& model : credentials->models) {
      if (!credentials->allows(model)) std::abort();
    }
  }
  if (auto badge = Badge::parse(bytes)) check_round_trip(*badge);

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto badge = Badge::from_header(text)) check_round_trip(*badge);
  return 0;
}
