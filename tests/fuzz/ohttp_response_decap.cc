// Client-side decapsulation of OHTTP responses, plain and chunked, under a fixed response secret. Input: byte 0 picks
// plain (even) or chunked (odd); byte 1 seeds slice sizes; the rest is the encapsulated response. Properties: never
// crashes; chunked streaming in slices agrees with whole-message opening; a response that opens re-seals (with its
// own nonce) to the same bytes when unchunked.
#include <cstdint>

#include "fuzz_keys.h"
#include "wire/response_encryption.h"

using namespace openpcc;

namespace {
// enc and secrets are arbitrary fixed values: the response side needs only (enc, secret).
const Bytes kEnc(32, 0x42);
const Bytes kSecret(16, 0x24);
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto ctx =
      wire::ResponseContext::create(crypto::KdfId::kHkdfSha256, crypto::AeadId::kAes128Gcm, kEnc, kSecret);
  fuzz::require(ctx.has_value());
  if (size < 2) return 0;
  const bool chunked = data[0] & 1;
  const ByteSpan slice_sizes(data + 1, 1);
  const ByteSpan response(data + 2, size - 2);

  if (!chunked) {
    auto pt = ctx->open(response);
    if (pt) {
      auto again = ctx->seal_with_nonce_for_testing(*pt, response.first(ctx->response_nonce_size()));
      fuzz::require(again.has_value() && *again == Bytes(response.begin(), response.end()));
    }
    return 0;
  }
  auto whole_opener = ctx->chunked_opener();
  Bytes whole;
  bool whole_ok = whole_opener.feed(response, whole).has_value() && whole_opener.finish(whole).has_value();

  auto opener = ctx->chunked_opener();
  Bytes streamed;
  bool ok = true;
  fuzz::for_each_slice(response, slice_sizes, [&](ByteSpan piece) {
    ok = opener.feed(piece, streamed).has_value();
    return ok;
  });
  if (ok) ok = opener.finish(streamed).has_value();
  fuzz::require(ok == whole_ok);
  if (ok) fuzz::require(streamed == whole);
  return 0;
}
