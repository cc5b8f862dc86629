// SHA-256 of a byte string, for identifiers and for storing bearer secrets (API keys, account tokens) as hashes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/bytes.h"

namespace openpcc::crypto {

inline constexpr size_t kSha256Size = 32;
using Sha256Digest = std::array<uint8_t, kSha256Size>;

// Cannot fail for in-memory input (OpenSSL's one-shot digest); aborts if the library is broken.
Sha256Digest sha256(ByteSpan data);

}  // namespace openpcc::crypto
