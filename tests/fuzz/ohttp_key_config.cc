// OHTTP key configurations: a single config (RFC 9458 §3) and application/ohttp-keys lists. Properties: never
// crashes; whatever parses re-encodes to exactly the input (the encoding is canonical); a list that parses strictly
// re-encodes to the input too.
#include <cstdint>

#include "fuzz_keys.h"
#include "wire/ohttp_key_config.h"

using namespace openpcc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan input(data, size);
  if (auto config = wire::ohttp::parse_key_config(input)) {
    auto encoded = wire::ohttp::encode_key_config(*config);
    fuzz::require(encoded.has_value() && *encoded == Bytes(input.begin(), input.end()));
  }
  if (auto list = wire::ohttp::parse_key_configs(input)) {
    auto encoded = wire::ohttp::encode_key_configs(*list);
    fuzz::require(encoded.has_value() && *encoded == Bytes(input.begin(), input.end()));
  }
  (void)wire::ohttp::parse_key_configs(input, /*skip_unsupported=*/true);
  return 0;
}
