#include "common/bytes.h"

#include <gtest/gtest.h>

#include "common/byte_reader.h"
#include "common/secure.h"
#include "common/varint.h"

namespace openpcc {
namespace {

TEST(Hex, RoundTripAndErrors) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(b), "0001abff");
  EXPECT_EQ(from_hex("0001ABff").value(), b);
  EXPECT_FALSE(from_hex("abc").has_value());
  EXPECT_FALSE(from_hex("zz").has_value());
  EXPECT_EQ(from_hex("zz").error().code, ErrorCode::kDecode);
}

TEST(Base64, Rfc4648Vectors) {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(to_base64(as_bytes(plain[i])), enc[i]);
    EXPECT_EQ(to_string(from_base64(enc[i]).value()), plain[i]);
  }
  EXPECT_FALSE(from_base64("Zg=").has_value());
  EXPECT_FALSE(from_base64("Zh==").has_value());  // non-zero trailing bits
  EXPECT_FALSE(from_base64("Z!==").has_value());
  EXPECT_EQ(to_base64url(Bytes{0xfb, 0xff}), "-_8");
  EXPECT_EQ(from_base64url("-_8").value(), (Bytes{0xfb, 0xff}));
}

TEST(Varint, Rfc9000Examples) {
  struct Case {
    const char* hex;
    uint64_t value;
  } cases[] = {{"c2197c5eff14e88c", 151288809941952652ull}, {"9d7f3e7d", 494878333}, {"7bbd", 15293}, {"25", 37}};
  for (auto& c : cases) {
    auto in = from_hex(c.hex).value();
    auto v = peek_varint(in);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->value, c.value);
    EXPECT_EQ(v->size, in.size());
    Bytes out;
    ASSERT_TRUE(append_varint(out, c.value));
    EXPECT_EQ(out, in);
  }
  // Non-minimal 2-byte encoding of 37 is accepted.
  EXPECT_EQ(peek_varint(from_hex("4025").value())->value, 37u);
  EXPECT_FALSE(peek_varint(from_hex("c2197c").value()));
  Bytes out;
  EXPECT_FALSE(append_varint(out, kMaxVarint + 1));
  EXPECT_TRUE(out.empty());
}

TEST(ByteReader, BoundsChecked) {
  Bytes b = {0x01, 0x02, 0x03, 0x02, 0xaa, 0xbb};
  ByteReader r(b);
  EXPECT_EQ(r.read_u16be("x").value(), 0x0102);
  EXPECT_EQ(r.read_u8("y").value(), 3);
  auto s = r.read_varint_prefixed("field", 10).value();
  EXPECT_EQ(s.size(), 2u);
  EXPECT_TRUE(r.empty());
  auto e = r.read_u8("more");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, ErrorCode::kTruncated);
  ByteReader r2(b);
  (void)r2.read_bytes(3, "skip");
  EXPECT_EQ(r2.read_varint_prefixed("field", 1).error().code, ErrorCode::kLimitExceeded);
}

TEST(Secure, ConstantTimeEqual) {
  Bytes a = {1, 2, 3}, b = {1, 2, 3}, c = {1, 2, 4};
  EXPECT_TRUE(ct_equal(a, b));
  EXPECT_FALSE(ct_equal(a, c));
  EXPECT_FALSE(ct_equal(a, Bytes{1, 2}));
  SecretBytes s{ByteSpan(a)};
  SecretBytes t = std::move(s);
  EXPECT_EQ(t.size(), 3u);
  t.resize(64);
  EXPECT_EQ(t[2], 3);
  EXPECT_EQ(t[63], 0);
}

}  // namespace
}  // namespace openpcc
