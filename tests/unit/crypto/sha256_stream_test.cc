// Incremental SHA-256: any split of the input gives the one-shot digest; finish() starts over.
#include "crypto/sha256_stream.h"

#include <gtest/gtest.h>

#include "common/random.h"

namespace openpcc::crypto {
namespace {

TEST(Sha256Stream, MatchesOneShotForAnySplit) {
  const Bytes data = random_bytes(1000);
  const Sha256Digest expected = sha256(data);
  for (size_t split : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{999}, size_t{1000}}) {
    Sha256Stream s;
    s.update(ByteSpan(data).first(split));
    s.update({});
    s.update(ByteSpan(data).subspan(split));
    EXPECT_EQ(s.finish(), expected) << split;
  }
}

TEST(Sha256Stream, KnownAnswerAndReuse) {
  Sha256Stream s;
  s.update(as_bytes("a"));
  s.update(as_bytes("bc"));
  EXPECT_EQ(to_hex(s.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(s.finish()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");  // empty
  Sha256Stream moved = std::move(s);
  moved.update(as_bytes("abc"));
  EXPECT_EQ(moved.finish(), sha256(as_bytes("abc")));
}

}  // namespace
}  // namespace openpcc::crypto
