// Keyed AEADs: sizes, round trips, context reuse across directions, in-place and append variants, tag failures
// (with the plaintext output wiped), size errors, and the export-only id.
#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/bytes.h"
#include "common/random.h"

namespace openpcc::crypto {
namespace {

const AeadId kCiphers[] = {AeadId::kAes128Gcm, AeadId::kAes256Gcm, AeadId::kChaCha20Poly1305};

class AeadTest : public ::testing::TestWithParam<AeadId> {
 protected:
  Aead make() { return Aead::create(GetParam(), key_).value(); }
  void SetUp() override { key_ = random_bytes(aead_sizes(GetParam()).value().key); }
  Bytes key_;
  const Bytes nonce_ = random_bytes(12);
  const Bytes aad_ = to_bytes("associated data");
  const Bytes pt_ = to_bytes("a plaintext that spans more than one sixteen-byte block");
};

TEST_P(AeadTest, SizesRoundTripAndReuse) {
  Aead aead = make();
  EXPECT_EQ(aead.id(), GetParam());
  EXPECT_EQ(aead.key_size(), GetParam() == AeadId::kAes128Gcm ? 16u : 32u);
  EXPECT_EQ(aead.nonce_size(), 12u);
  EXPECT_EQ(aead.tag_size(), 16u);

  auto ct = aead.seal(nonce_, aad_, pt_);
  ASSERT_TRUE(ct.has_value());
  EXPECT_EQ(ct->size(), pt_.size() + 16);
  EXPECT_EQ(aead.open(nonce_, aad_, *ct).value(), pt_);
  // Alternate directions and nonces on the same context; a fresh context must agree.
  const Bytes nonce2 = random_bytes(12);
  auto ct2 = aead.seal(nonce2, {}, pt_);
  EXPECT_EQ(aead.open(nonce_, aad_, *ct).value(), pt_);
  Aead fresh = make();
  EXPECT_EQ(fresh.seal(nonce2, {}, pt_).value(), ct2.value());
  EXPECT_NE(ct2.value(), ct.value());
  // Empty plaintext: just a tag.
  auto tag_only = aead.seal(nonce_, aad_, {});
  EXPECT_EQ(tag_only->size(), 16u);
  EXPECT_TRUE(aead.open(nonce_, aad_, *tag_only).value().empty());
}

TEST_P(AeadTest, TamperingFailsAuthentication) {
  Aead aead = make();
  const Bytes ct = aead.seal(nonce_, aad_, pt_).value();
  for (size_t i : {size_t{0}, pt_.size() - 1, pt_.size(), ct.size() - 1}) {  // body and tag bytes
    Bytes bad = ct;
    bad[i] ^= 0x01;
    auto opened = aead.open(nonce_, aad_, bad);
    ASSERT_FALSE(opened.has_value());
    EXPECT_EQ(opened.error().code, ErrorCode::kAuthenticationFailed);
  }
  EXPECT_EQ(aead.open(nonce_, to_bytes("other aad"), ct).error().code, ErrorCode::kAuthenticationFailed);
  Bytes other_nonce = nonce_;
  other_nonce[11] ^= 0x80;
  EXPECT_EQ(aead.open(other_nonce, aad_, ct).error().code, ErrorCode::kAuthenticationFailed);
  EXPECT_EQ(aead.open(nonce_, aad_, ByteSpan(ct).first(15)).error().code, ErrorCode::kAuthenticationFailed);
  // The context still works after failures.
  EXPECT_EQ(aead.open(nonce_, aad_, ct).value(), pt_);
}

TEST_P(AeadTest, FailedOpenLeavesNoPlaintext) {
  Aead aead = make();
  Bytes bad = aead.seal(nonce_, aad_, pt_).value();
  bad.back() ^= 0x01;  // tag only: the body decrypts to the real plaintext before the check

  Bytes out(pt_.size(), 0xee);
  auto written = aead.open_into(nonce_, aad_, bad, out);
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code, ErrorCode::kAuthenticationFailed);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0; }));

  Bytes appended = to_bytes("prefix");
  auto status = aead.open_append(nonce_, aad_, bad, appended);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(appended, to_bytes("prefix"));
}

TEST_P(AeadTest, InPlaceAndAppendVariants) {
  Aead aead = make();
  const Bytes expected = aead.seal(nonce_, aad_, pt_).value();

  Bytes buffer = pt_;
  buffer.resize(pt_.size() + 16);
  auto sealed = aead.seal_into(nonce_, aad_, ByteSpan(buffer).first(pt_.size()), buffer);
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(*sealed, expected.size());
  EXPECT_EQ(buffer, expected);
  auto opened = aead.open_into(nonce_, aad_, buffer, buffer);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(Bytes(buffer.begin(), buffer.begin() + static_cast<long>(*opened)), pt_);

  Bytes out = to_bytes("hdr");
  ASSERT_TRUE(aead.seal_append(nonce_, aad_, pt_, out).has_value());
  EXPECT_EQ(out, concat({as_bytes("hdr"), expected}));
  Bytes plain = to_bytes("x");
  ASSERT_TRUE(aead.open_append(nonce_, aad_, ByteSpan(out).subspan(3), plain).has_value());
  EXPECT_EQ(plain, concat({as_bytes("x"), pt_}));

  Bytes small(pt_.size() + 15);
  EXPECT_EQ(aead.seal_into(nonce_, aad_, pt_, small).error().code, ErrorCode::kInvalidArgument);
  Bytes small_plain(pt_.size() - 1);
  EXPECT_EQ(aead.open_into(nonce_, aad_, expected, small_plain).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(AeadTest, SizeErrors) {
  EXPECT_EQ(Aead::create(GetParam(), Bytes(key_.size() + 1)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Aead::create(GetParam(), {}).error().code, ErrorCode::kInvalidArgument);
  Aead aead = make();
  EXPECT_EQ(aead.seal(Bytes(11), aad_, pt_).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(aead.open(Bytes(13), aad_, Bytes(32)).error().code, ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Ciphers, AeadTest, ::testing::ValuesIn(kCiphers));

TEST(Aead, ExportOnlyCannotSealOrOpen) {
  auto sizes = aead_sizes(AeadId::kExportOnly);
  ASSERT_TRUE(sizes.has_value());
  EXPECT_EQ(sizes->key + sizes->nonce + sizes->tag, 0u);
  auto aead = Aead::create(AeadId::kExportOnly, {});
  ASSERT_TRUE(aead.has_value());
  EXPECT_EQ(aead->seal({}, {}, to_bytes("pt")).error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(aead->open({}, {}, Bytes(16)).error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(Aead::create(AeadId::kExportOnly, Bytes(16)).error().code, ErrorCode::kInvalidArgument);
}

TEST(Aead, UnknownIdIsUnsupported) {
  EXPECT_EQ(Aead::create(static_cast<AeadId>(0x0004), Bytes(16)).error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(aead_sizes(static_cast<AeadId>(0)).error().code, ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace openpcc::crypto
