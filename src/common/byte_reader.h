// A bounds-checked cursor over a byte span, for parsers. Every read either succeeds or returns an error naming what
// was being read; nothing reads past the end.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc {

class ByteReader {
 public:
  explicit ByteReader(ByteSpan data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }
  ByteSpan rest() const { return data_.subspan(pos_); }

  Result<uint8_t> read_u8(std::string_view what);
  Result<uint16_t> read_u16be(std::string_view what);
  Result<uint32_t> read_u32be(std::string_view what);
  Result<uint64_t> read_varint(std::string_view what);
  // A view into the underlying data (valid while it is).
  Result<ByteSpan> read_bytes(size_t n, std::string_view what);
  // varint length, then that many bytes; `max` bounds the length.
  Result<ByteSpan> read_varint_prefixed(std::string_view what, uint64_t max);

 private:
  ByteSpan data_;
  size_t pos_ = 0;
};

}  // namespace openpcc
