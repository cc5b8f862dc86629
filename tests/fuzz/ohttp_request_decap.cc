// Gateway-side decapsulation of OHTTP requests, plain and chunked. Input: byte 0 picks plain (even) or chunked (odd);
// byte 1 seeds slice sizes for the streaming opener; the rest is the encapsulated request. Properties: never crashes;
// for chunked requests, streaming in slices agrees with whole-message decapsulation; whatever decrypts exposes
// response secrets of the expected size.
#include <cstdint>

#include "fuzz_keys.h"
#include "wire/ohttp.h"
#include "wire/ohttp_chunked.h"

using namespace openpcc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const wire::ohttp::GatewayKeySet keys = fuzz::make_gateway_keys();  // immutable after construction
  if (size < 2) return 0;
  const bool chunked = data[0] & 1;
  const ByteSpan slice_sizes(data + 1, 1);
  const ByteSpan request(data + 2, size - 2);

  if (!chunked) {
    auto r = wire::ohttp::decapsulate_request(keys, request);
    if (r) fuzz::require(!r->response_secrets.enc().empty());
    return 0;
  }
  auto whole = wire::ohttp::decapsulate_chunked_request(keys, request);

  wire::ohttp::ChunkedRequestOpener opener(keys);
  Bytes streamed;
  bool ok = true;
  fuzz::for_each_slice(request, slice_sizes, [&](ByteSpan piece) {
    ok = opener.feed(piece, streamed).has_value();
    return ok;
  });
  if (ok) ok = opener.finish(streamed).has_value();
  fuzz::require(ok == whole.has_value());
  if (ok) fuzz::require(streamed == whole->bhttp);
  return 0;
}
