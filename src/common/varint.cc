#include "common/varint.h"

namespace openpcc {

size_t varint_size(uint64_t value) {
  if (value < (1u << 6)) return 1;
  if (value < (1u << 14)) return 2;
  if (value < (1u << 30)) return 4;
  if (value <= kMaxVarint) return 8;
  return 0;
}

bool append_varint(Bytes& out, uint64_t value) {
  size_t n = varint_size(value);
  if (n == 0) return false;
  static constexpr uint8_t kPrefix[9] = {0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0};
  for (size_t i = 0; i < n; ++i) {
    uint8_t b = static_cast<uint8_t>(value >> (8 * (n - 1 - i)));
    if (i == 0) b |= kPrefix[n];
    out.push_back(b);
  }
  return true;
}

std::optional<Varint> peek_varint(ByteSpan in) {
  if (in.empty()) return std::nullopt;
  size_t n = size_t{1} << (in[0] >> 6);
  if (in.size() < n) return std::nullopt;
  uint64_t v = in[0] & 0x3f;
  for (size_t i = 1; i < n; ++i) v = v << 8 | in[i];
  return Varint{v, n};
}

}  // namespace openpcc
