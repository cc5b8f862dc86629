// QUIC variable-length integers (RFC 9000 §16), used by BHTTP, chunked OHTTP and the compute-request framing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/bytes.h"

namespace openpcc {

inline constexpr uint64_t kMaxVarint = (uint64_t{1} << 62) - 1;

// Encoded size (1, 2, 4 or 8) of the shortest encoding of `value`; 0 if value > kMaxVarint.
size_t varint_size(uint64_t value);

// Appends the shortest encoding. Returns false (and appends nothing) if value > kMaxVarint.
bool append_varint(Bytes& out, uint64_t value);

struct Varint {
  uint64_t value;
  size_t size;  // bytes consumed
};

// Reads a varint at the start of `in`. nullopt means `in` is too short to hold it (a streaming decoder waits for more).
// Non-minimal encodings are accepted, as RFC 9000 allows.
std::optional<Varint> peek_varint(ByteSpan in);

}  // namespace openpcc
