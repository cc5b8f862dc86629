// SHA-384 of a byte string: the hash of SEV-SNP launch measurements and of simulated TEE measurements.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/bytes.h"

namespace openpcc::crypto {

inline constexpr size_t kSha384Size = 48;
using Sha384Digest = std::array<uint8_t, kSha384Size>;

// Cannot fail for in-memory input (OpenSSL's one-shot digest); aborts if the library is broken.
Sha384Digest sha384(ByteSpan data);

}  // namespace openpcc::crypto
