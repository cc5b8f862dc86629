// Randomness comes only from the operating system's CSPRNG (getrandom(2)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/bytes.h"

namespace openpcc {

// Fills `out` with OS randomness. getrandom(2) on Linux cannot fail for these sizes once the pool is initialised;
// if it ever does, the process aborts rather than continue with predictable bytes.
void fill_random(std::span<uint8_t> out);
Bytes random_bytes(size_t n);
// Uniform in [0, bound) without modulo bias; bound > 0.
uint64_t random_uniform(uint64_t bound);

}  // namespace openpcc
