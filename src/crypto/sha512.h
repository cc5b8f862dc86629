// SHA-512 of a byte string: the chip id of a simulated TEE (as SEV-SNP chip ids are 64 bytes).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/bytes.h"

namespace openpcc::crypto {

inline constexpr size_t kSha512Size = 64;
using Sha512Digest = std::array<uint8_t, kSha512Size>;

// Cannot fail for in-memory input (OpenSSL's one-shot digest); aborts if the library is broken.
Sha512Digest sha512(ByteSpan data);

}  // namespace openpcc::crypto
