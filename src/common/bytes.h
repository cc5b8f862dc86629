// Byte buffers and their text encodings. Spans in, owned buffers out.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace openpcc {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

// The bytes of a string, without a terminator.
inline ByteSpan as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string to_string(ByteSpan b) { return std::string(b.begin(), b.end()); }

inline void append(Bytes& out, ByteSpan b) { out.insert(out.end(), b.begin(), b.end()); }
inline void append_u8(Bytes& out, uint8_t v) { out.push_back(v); }
inline void append_u16be(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// concat({a, b, c}) == a ‖ b ‖ c
Bytes concat(std::initializer_list<ByteSpan> parts);

// Lowercase hex.
std::string to_hex(ByteSpan b);
// A 16-bit identifier as it appears in specs and error messages: "0x0020".
std::string hex_id(uint16_t id);
// Accepts upper and lower case; rejects odd length and non-hex characters.
Result<Bytes> from_hex(std::string_view hex);

// RFC 4648 base64 with padding ("std") and the URL-safe alphabet without padding ("url").
std::string to_base64(ByteSpan b);
std::string to_base64url(ByteSpan b);
// Strict: rejects characters outside the alphabet, bad padding and non-zero trailing bits.
Result<Bytes> from_base64(std::string_view text);
Result<Bytes> from_base64url(std::string_view text);

// Big-endian integer encodings (I2OSP) of a fixed width.
Bytes i2osp(uint64_t value, size_t width);

}  // namespace openpcc
