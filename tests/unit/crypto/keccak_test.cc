// Our Keccak sponge against OpenSSL's SHA-3 and SHAKE (an independent implementation), plus FIPS 202 known answers.
#include "crypto/keccak.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/random.h"
#include "unit/crypto/openssl_reference.h"

namespace openpcc::crypto::keccak {
namespace {

using ::openpcc::crypto::testing::openssl_hash;

TEST(KeccakTest, Sha3EmptyStringKnownAnswers) {
  std::array<uint8_t, 32> d256;
  sha3_256({}, d256);
  EXPECT_EQ(to_hex(d256), "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
  std::array<uint8_t, 64> d512;
  sha3_512({}, d512);
  EXPECT_EQ(to_hex(d512),
            "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a6"
            "15b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26");
  Bytes s128(32), s256(64);
  shake128({}, s128);
  shake256({}, s256);
  EXPECT_EQ(to_hex(s128), "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26");
  EXPECT_EQ(to_hex(s256),
            "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f"
            "d75dc4ddd8c0f200cb05019d67b592f6fc821c49479ab48640292eacb3b7c4be");
}

// Lengths around every rate boundary (72, 136, 168) and a few multi-block sizes.
TEST(KeccakTest, MatchesOpenSslAcrossLengths) {
  for (size_t len = 0; len <= 700; len += (len < 340 ? 1 : 37)) {
    Bytes in = random_bytes(len);
    std::array<uint8_t, 32> d256;
    sha3_256(in, d256);
    EXPECT_EQ(Bytes(d256.begin(), d256.end()), openssl_hash(EVP_sha3_256(), in, 32)) << len;
    std::array<uint8_t, 64> d512;
    sha3_512(in, d512);
    EXPECT_EQ(Bytes(d512.begin(), d512.end()), openssl_hash(EVP_sha3_512(), in, 64)) << len;
    for (size_t out_len : {size_t{1}, size_t{32}, size_t{168}, size_t{169}, size_t{500}}) {
      Bytes a(out_len), b(out_len);
      shake128(in, a);
      shake256(in, b);
      EXPECT_EQ(a, openssl_hash(EVP_shake128(), in, out_len)) << len << " " << out_len;
      EXPECT_EQ(b, openssl_hash(EVP_shake256(), in, out_len)) << len << " " << out_len;
    }
  }
}

TEST(KeccakTest, IncrementalAbsorbAndSqueezeMatchOneShot) {
  Bytes in = random_bytes(1000);
  Bytes expected(2000);
  shake128(in, expected);
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{7}, size_t{8}, size_t{13}, size_t{168}, size_t{200}}) {
    Sponge s = Sponge::shake128();
    for (size_t i = 0; i < in.size(); i += chunk) s.absorb(ByteSpan(in).subspan(i, std::min(chunk, in.size() - i)));
    Bytes out(expected.size());
    for (size_t i = 0; i < out.size(); i += chunk) {
      s.squeeze(std::span<uint8_t>(out).subspan(i, std::min(chunk, out.size() - i)));
    }
    EXPECT_EQ(out, expected) << chunk;
  }
}

TEST(KeccakTest, MovedFromSpongeLeavesStateWithTheNewOwner) {
  Bytes in = random_bytes(50);
  Sponge a = Sponge::sha3_256();
  a.absorb(in);
  Sponge b(std::move(a));
  std::array<uint8_t, 32> got, want;
  b.squeeze(got);
  sha3_256(in, want);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace openpcc::crypto::keccak
