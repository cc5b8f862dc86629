#include "common/byte_reader.h"

#include "common/varint.h"

namespace openpcc {

namespace {
std::unexpected<Error> short_input(std::string_view what, size_t need, size_t have) {
  return make_error(ErrorCode::kTruncated, std::string(what) + ": need " + std::to_string(need) + " bytes, have " +
                                               std::to_string(have));
}
}  // namespace

Result<uint8_t> ByteReader::read_u8(std::string_view what) {
  if (remaining() < 1) return short_input(what, 1, remaining());
  return data_[pos_++];
}

Result<uint16_t> ByteReader::read_u16be(std::string_view what) {
  if (remaining() < 2) return short_input(what, 2, remaining());
  uint16_t v = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
  pos_ += 2;
  return v;
}

Result<uint32_t> ByteReader::read_u32be(std::string_view what) {
  if (remaining() < 4) return short_input(what, 4, remaining());
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | data_[pos_ + i];
  pos_ += 4;
  return v;
}

Result<uint64_t> ByteReader::read_varint(std::string_view what) {
  auto v = peek_varint(rest());
  if (!v) return make_error(ErrorCode::kTruncated, std::string(what) + ": truncated varint");
  pos_ += v->size;
  return v->value;
}

Result<ByteSpan> ByteReader::read_bytes(size_t n, std::string_view what) {
  if (remaining() < n) return short_input(what, n, remaining());
  ByteSpan out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<ByteSpan> ByteReader::read_varint_prefixed(std::string_view what, uint64_t max) {
  auto len = read_varint(what);
  if (!len) return std::unexpected(len.error());
  if (*len > max) {
    return make_error(ErrorCode::kLimitExceeded,
                      std::string(what) + ": length " + std::to_string(*len) + " exceeds limit " + std::to_string(max));
  }
  return read_bytes(static_cast<size_t>(*len), what);
}

}  // namespace openpcc
