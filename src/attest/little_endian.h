// Little-endian fields for the formats attestation reads that are not TPM-marshalled (which is big-endian): the TCG
// firmware event log and UEFI structures. Reads go through ByteReader, so they are bounds-checked like everything else.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/byte_reader.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::attest {

template <class T>
Result<T> read_le(ByteReader& r, std::string_view what) {
  auto b = r.read_bytes(sizeof(T), what);
  if (!b) return std::unexpected(b.error());
  T v = 0;
  for (size_t i = sizeof(T); i-- > 0;) v = static_cast<T>(v << 8 | (*b)[i]);
  return v;
}

template <class T>
void append_le(Bytes& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
}

}  // namespace openpcc::attest
