// HKDF: RFC 5869 known answers, HMAC known answers (RFC 4231, through Extract = HMAC(salt, ikm)), length limits,
// and the labeled forms against their definitions in RFC 9180 §4.
#include "crypto/hkdf.h"

#include <gtest/gtest.h>

#include "common/bytes.h"

namespace openpcc::crypto {
namespace {

Bytes unhex(std::string_view s) { return from_hex(s).value(); }
std::string hex(ByteSpan b) { return to_hex(b); }

Hkdf sha(KdfId id) { return Hkdf::create(id).value(); }

TEST(Hkdf, Rfc5869Sha256Vectors) {
  struct Case {
    Bytes ikm, salt, info;
    size_t length;
    const char *prk, *okm;
  };
  Bytes long_ikm(80), long_salt(80), long_info(80);
  for (int i = 0; i < 80; ++i) {
    long_ikm[i] = static_cast<uint8_t>(i);
    long_salt[i] = static_cast<uint8_t>(0x60 + i);
    long_info[i] = static_cast<uint8_t>(0xb0 + i);
  }
  const Case cases[] = {
      {Bytes(22, 0x0b), unhex("000102030405060708090a0b0c"), unhex("f0f1f2f3f4f5f6f7f8f9"), 42,
       "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
       "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
      {long_ikm, long_salt, long_info, 82, "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
       "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f"
       "09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
      {Bytes(22, 0x0b), {}, {}, 42, "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
       "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
  };
  const Hkdf kdf = sha(KdfId::kHkdfSha256);
  EXPECT_EQ(kdf.hash_size(), 32u);
  for (const Case& c : cases) {
    auto prk = kdf.extract(c.salt, c.ikm);
    ASSERT_TRUE(prk.has_value());
    EXPECT_EQ(hex(*prk), c.prk);
    auto okm = kdf.expand(*prk, c.info, c.length);
    ASSERT_TRUE(okm.has_value());
    EXPECT_EQ(hex(*okm), c.okm);
  }
}

TEST(Hkdf, HmacKnownAnswersForAllHashes) {
  // RFC 4231 test case 2 (short key) and 6 (131-byte key, longer than the SHA-256 and SHA-512 blocks).
  const Bytes key6(131, 0xaa);
  const auto data6 = as_bytes("Test Using Larger Than Block-Size Key - Hash Key First");
  const auto data2 = as_bytes("what do ya want for nothing?");
  struct Case {
    KdfId id;
    size_t hash_size;
    const char *case2, *case6;
  } cases[] = {
      {KdfId::kHkdfSha256, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {KdfId::kHkdfSha384, 48,
       "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
       "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"},
      {KdfId::kHkdfSha512, 64,
       "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a"
       "6b4b636e070a38bce737",
       "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f"
       "0aec8b915a985d786598"},
  };
  for (const Case& c : cases) {
    const Hkdf kdf = sha(c.id);
    EXPECT_EQ(kdf.hash_size(), c.hash_size);
    EXPECT_EQ(hex(kdf.extract(as_bytes("Jefe"), data2).value()), c.case2);
    EXPECT_EQ(hex(kdf.extract(key6, data6).value()), c.case6);
  }
}

TEST(Hkdf, EmptySaltIsZeroSaltAndLengthLimits) {
  for (KdfId id : {KdfId::kHkdfSha256, KdfId::kHkdfSha384, KdfId::kHkdfSha512}) {
    const Hkdf kdf = sha(id);
    const Bytes ikm = to_bytes("input keying material");
    EXPECT_EQ(hex(kdf.extract({}, ikm).value()), hex(kdf.extract(Bytes(kdf.hash_size(), 0), ikm).value()));
    const Bytes prk(kdf.hash_size(), 0x42);
    EXPECT_EQ(kdf.max_output_size(), 255 * kdf.hash_size());
    auto longest = kdf.expand(prk, {}, kdf.max_output_size());
    ASSERT_TRUE(longest.has_value());
    EXPECT_EQ(longest->size(), 255 * kdf.hash_size());
    // Expand output is a prefix-consistent stream.
    EXPECT_EQ(hex(kdf.expand(prk, {}, 10).value()), hex(longest->span().first(10)));
    auto too_long = kdf.expand(prk, {}, kdf.max_output_size() + 1);
    ASSERT_FALSE(too_long.has_value());
    EXPECT_EQ(too_long.error().code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(kdf.expand(prk, {}, 0).value().empty());
  }
}

TEST(Hkdf, LabeledFormsMatchTheirDefinition) {
  const Hkdf kdf = sha(KdfId::kHkdfSha256);
  const Bytes suite_id = hpke_suite_id(0x0020, 0x0001, 0x0003);
  EXPECT_EQ(hex(suite_id), "48504b45002000010003");
  EXPECT_EQ(hex(kem_suite_id(0x0030)), "4b454d0030");
  const Bytes salt = to_bytes("salt"), ikm = to_bytes("ikm"), info = to_bytes("info");

  auto labeled = kdf.labeled_extract(suite_id, salt, "eae_prk", ikm);
  auto plain = kdf.extract(salt, concat({as_bytes("HPKE-v1"), suite_id, as_bytes("eae_prk"), ikm}));
  EXPECT_EQ(hex(labeled.value()), hex(plain.value()));

  auto labeled_okm = kdf.labeled_expand(suite_id, *plain, "shared_secret", info, 45);
  auto plain_okm = kdf.expand(*plain, concat({i2osp(45, 2), as_bytes("HPKE-v1"), suite_id, as_bytes("shared_secret"),
                                              info}),
                              45);
  EXPECT_EQ(hex(labeled_okm.value()), hex(plain_okm.value()));
}

TEST(Hkdf, UnknownIdIsUnsupported) {
  auto kdf = Hkdf::create(static_cast<KdfId>(0x0004));
  ASSERT_FALSE(kdf.has_value());
  EXPECT_EQ(kdf.error().code, ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace openpcc::crypto
