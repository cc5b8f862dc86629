// Benchmark set-up helpers: set-up failures abort the run loudly (a benchmark of a broken fixture measures nothing).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/sha256.h"

namespace openpcc::bench {

[[noreturn]] inline void die(std::string_view what) {
  std::fprintf(stderr, "benchmark set-up failed: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

// The value, or abort naming what failed.
template <class T>
T must(Result<T> r, std::string_view what) {
  if (!r) die(std::string(what) + ": " + r.error().to_string());
  return std::move(*r);
}

inline Bytes sha256_bytes(std::string_view s) {
  auto d = crypto::sha256(as_bytes(s));
  return Bytes(d.begin(), d.end());
}

}  // namespace openpcc::bench
