// Helpers shared by the OHTTP, chunk-framing and compute-request tests.
#pragma once

#include <cstddef>
#include <functional>
#include <random>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/error.h"
#include "unit/wire/bhttp_test_util.h"

namespace openpcc::wire::testing {

using bhttp::testing::load_json;

inline Bytes unhex(std::string_view h) {
  std::string clean;
  for (char c : h) {
    if (c != ' ') clean.push_back(c);
  }
  auto b = from_hex(clean);
  EXPECT_TRUE(b.has_value()) << h;
  return b.value_or(Bytes{});
}

// How an input is cut into slices before it is fed to a streaming reader.
enum class Slicing { kWhole, kBytewise, kRandom };

inline const char* slicing_name(Slicing s) {
  switch (s) {
    case Slicing::kWhole: return "whole";
    case Slicing::kBytewise: return "bytewise";
    case Slicing::kRandom: return "random";
  }
  return "?";
}

// Calls feed(slice) for consecutive slices of `input`; stops at the first error and returns it. Random slices are
// 0..(2·avg) bytes (empty slices included), from a fixed seed so failures reproduce.
template <class Feed>
auto feed_sliced(ByteSpan input, Slicing slicing, Feed&& feed, uint32_t seed = 1234) -> decltype(feed(input)) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> len(0, 700);
  while (!input.empty()) {
    size_t n = input.size();
    if (slicing == Slicing::kBytewise) n = 1;
    if (slicing == Slicing::kRandom) n = std::min(input.size(), len(rng));
    auto r = feed(input.first(n));
    if (!r) return r;
    input = input.subspan(n);
  }
  return {};
}

}  // namespace openpcc::wire::testing
