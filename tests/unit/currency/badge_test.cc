// Badges: the models encoding (sorted, uint32 LE lengths, printable ASCII, canonical decoding), the exact signed bytes
// (what Go's proto.Marshal gives for Credentials{models}), issue/verify, the header form and malformed badges.
#include "currency/badge.h"

#include <gtest/gtest.h>

#include <string>

#include "common/bytes.h"
#include "openpcc/auth.pb.h"

namespace openpcc::currency {
namespace {

// RFC 8032 TEST 1 key, so the badge signatures below are fixed.
crypto::Ed25519PrivateKey test_key() {
  return crypto::Ed25519PrivateKey::from_seed(
             from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").value())
      .value();
}

Bytes enc(std::initializer_list<std::string> models) {
  Credentials c{std::vector<std::string>(models)};
  return c.encode_models().value();
}

void expect_decode_rejects(const Bytes& encoded, const char* what) {
  auto r = Credentials::decode_models(encoded);
  ASSERT_FALSE(r.has_value()) << what;
  EXPECT_EQ(r.error().code, ErrorCode::kDecode) << what;
}

TEST(BadgeModels, EncodingIsSortedWithLittleEndianLengths) {
  EXPECT_EQ(to_hex(enc({"b", "a"})), "0100000061" "0100000062");
  EXPECT_EQ(to_hex(enc({"my-model:1b"})), "0b000000" + to_hex(as_bytes("my-model:1b")));
  // Byte order, not locale order: upper case before lower case, shorter prefix first.
  EXPECT_EQ(Credentials::decode_models(enc({"b", "B", "ab", "a"})).value().models,
            (std::vector<std::string>{"B", "a", "ab", "b"}));
  // A 300-byte name: length 0x012c little-endian.
  const std::string long_name(300, 'x');
  const Bytes e = enc({long_name});
  EXPECT_EQ(to_hex(ByteSpan(e).first(4)), "2c010000");
  EXPECT_EQ(e.size(), 304u);
  // Printable bounds: space (32) and tilde (126) are allowed.
  EXPECT_TRUE((Credentials{{" ", "~"}}.encode_models().has_value()));
  EXPECT_EQ(enc({}).size(), 0u);
}

TEST(BadgeModels, EncodeRejectsInvalidNames) {
  for (const std::vector<std::string>& models :
       {std::vector<std::string>{""}, {"a", ""}, {"tab\t"}, {std::string("nul\0", 4)}, {"del\x7f"}, {"\xc3\xa9"},
        {"a", "a"}, {"x", "y", "x"}}) {
    auto r = Credentials{models}.encode_models();
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(BadgeModels, DecodeRoundTripsAndRejectsNonCanonical) {
  const Bytes good = enc({"llama3.2:1b", "qwen3:1.7b", "test-model"});
  auto d = Credentials::decode_models(good);
  ASSERT_TRUE(d.has_value()) << d.error().to_string();
  EXPECT_EQ(d->models, (std::vector<std::string>{"llama3.2:1b", "qwen3:1.7b", "test-model"}));
  EXPECT_EQ(d->encode_models().value(), good);
  EXPECT_TRUE(Credentials::decode_models({}).value().models.empty());

  const Bytes a = {1, 0, 0, 0, 'a'}, b = {1, 0, 0, 0, 'b'};
  expect_decode_rejects(concat({b, a}), "unsorted");
  expect_decode_rejects(concat({a, a}), "duplicate");
  expect_decode_rejects(Bytes{0, 0, 0, 0}, "empty name");
  expect_decode_rejects(concat({a, Bytes{0, 0, 0, 0}}), "empty name after a valid one");
  expect_decode_rejects(Bytes{1, 0, 0, 0, 0x1f}, "control character");
  expect_decode_rejects(Bytes{1, 0, 0, 0, 0x7f}, "DEL");
  expect_decode_rejects(Bytes{1, 0, 0, 0, 0x80}, "high byte");
  expect_decode_rejects(Bytes{2, 0, 0, 0, 'a'}, "name truncated");
  expect_decode_rejects(Bytes{1, 0, 0}, "length truncated");
  expect_decode_rejects(concat({a, Bytes{1, 0}}), "trailing bytes");
  expect_decode_rejects(Bytes{0xff, 0xff, 0xff, 0xff, 'a'}, "length beyond the end");
  // Big-endian lengths are not little-endian ones.
  expect_decode_rejects(Bytes{0, 0, 0, 1, 'a'}, "big-endian length");
}

TEST(BadgeModels, SignedBytesAreProtoMarshalOfCredentials) {
  // Credentials{models = 1 (bytes)}: tag 0x0a, varint length, the models encoding.
  Credentials c{{"b", "a"}};
  EXPECT_EQ(to_hex(c.serialize().value()), "0a0a" "0100000061" "0100000062");
  // 130 bytes of models: the length varint takes 2 bytes (0x82 0x01).
  Credentials longer{{std::string(126, 'm')}};
  const Bytes s = longer.serialize().value();
  ASSERT_EQ(s.size(), 3u + 130u);
  EXPECT_EQ(to_hex(ByteSpan(s).first(7)), "0a8201" "7e000000");
  // The generated protobuf code agrees.
  pb::Credentials m;
  const Bytes models = longer.encode_models().value();
  m.set_models(std::string(models.begin(), models.end()));
  EXPECT_EQ(m.SerializeAsString(), to_string(s));
}

TEST(Badge, IssueVerifyAndTamper) {
  BadgeIssuer issuer(test_key());
  auto badge = issuer.issue(Credentials{{"qwen3:1.7b", "llama3.2:1b"}});
  ASSERT_TRUE(badge.has_value()) << badge.error().to_string();
  EXPECT_EQ(badge->credentials.models, (std::vector<std::string>{"llama3.2:1b", "qwen3:1.7b"}));
  EXPECT_TRUE(badge->credentials.allows("qwen3:1.7b"));
  EXPECT_FALSE(badge->credentials.allows("qwen3"));
  EXPECT_EQ(badge->signature.size(), 64u);
  EXPECT_TRUE(verify_badge(issuer.public_key(), *badge).has_value());
  // The signature is Ed25519 over exactly the serialized Credentials.
  EXPECT_TRUE(issuer.public_key().verify(badge->credentials.serialize().value(), badge->signature).has_value());

  Badge more = *badge;
  more.credentials.models.push_back("zzz-extra");
  EXPECT_EQ(verify_badge(issuer.public_key(), more).error().code, ErrorCode::kAuthenticationFailed);
  Badge fewer = *badge;
  fewer.credentials.models.pop_back();
  EXPECT_EQ(verify_badge(issuer.public_key(), fewer).error().code, ErrorCode::kAuthenticationFailed);
  Badge bad_sig = *badge;
  bad_sig.signature[5] ^= 1;
  EXPECT_EQ(verify_badge(issuer.public_key(), bad_sig).error().code, ErrorCode::kAuthenticationFailed);
  auto other = crypto::Ed25519PrivateKey::generate().value();
  EXPECT_EQ(verify_badge(other.public_key(), *badge).error().code, ErrorCode::kAuthenticationFailed);
  // Invalid credentials (a duplicate) never verify.
  Badge dup = *badge;
  dup.credentials.models.push_back(dup.credentials.models[0]);
  EXPECT_EQ(verify_badge(issuer.public_key(), dup).error().code, ErrorCode::kAuthenticationFailed);

  EXPECT_EQ(issuer.issue(Credentials{}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(issuer.issue(Credentials{{"a", "a"}}).error().code, ErrorCode::kInvalidArgument);
}

TEST(Badge, SerializedLayoutAndHeaderRoundTrip) {
  BadgeIssuer issuer(test_key());
  const Badge badge = issuer.issue(Credentials{{"my-model:1b"}}).value();
  const Bytes bytes = badge.serialize().value();
  // Badge{credentials = 1 (message), signature = 2 (bytes)}.
  const Bytes creds = badge.credentials.serialize().value();
  EXPECT_EQ(bytes, concat({Bytes{0x0a, static_cast<uint8_t>(creds.size())}, creds, Bytes{0x12, 0x40},
                           badge.signature}));
  auto parsed = Badge::parse(bytes);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_EQ(parsed->credentials.models, badge.credentials.models);
  EXPECT_EQ(parsed->signature, badge.signature);
  EXPECT_TRUE(verify_badge(issuer.public_key(), *parsed).has_value());

  const std::string header = badge.to_header().value();
  EXPECT_EQ(header, to_base64(bytes));
  auto from_header = Badge::from_header(header);
  ASSERT_TRUE(from_header.has_value());
  EXPECT_TRUE(verify_badge(issuer.public_key(), *from_header).has_value());
  const std::string url_safe = to_base64url(bytes);  // not the header form
  if (url_safe != header) {
    EXPECT_FALSE(Badge::from_header(url_safe).has_value());
  }
  EXPECT_EQ(Badge::from_header("%%%").error().code, ErrorCode::kDecode);
}

// A badge made outside this code base: Python's `cryptography` Ed25519 with the RFC 8032 TEST 1 key over
// hand-encoded Credentials{models = [my-model:1b]} (the mem-auth stub's badge contents), header form.
TEST(Badge, KnownAnswer) {
  const std::string header =
      "ChEKDwsAAABteS1tb2RlbDoxYhJA0oX+v3ddqijcBIGErUaI3gnYX4IrDLb+dwTN8ui3nLWllEGFkxfVXSedL9PnCyjfuYK+2XTvrVDiwpCUOGdb"
      "CA==";
  auto badge = Badge::from_header(header);
  ASSERT_TRUE(badge.has_value()) << badge.error().to_string();
  EXPECT_EQ(badge->credentials.models, std::vector<std::string>{"my-model:1b"});
  BadgeIssuer issuer(test_key());
  EXPECT_TRUE(verify_badge(issuer.public_key(), *badge).has_value());
  // Our issuer produces the identical badge (Ed25519 is deterministic).
  EXPECT_EQ(issuer.issue(Credentials{{"my-model:1b"}}).value().to_header().value(), header);
}

TEST(Badge, ParseRejectsMalformed) {
  BadgeIssuer issuer(test_key());
  const Badge badge = issuer.issue(Credentials{{"a", "b"}}).value();
  auto proto = [&] {
    pb::Badge m;
    m.ParseFromString(to_string(badge.serialize().value()));
    return m;
  };
  auto expect_rejected = [](const pb::Badge& m, const char* what) {
    auto r = Badge::parse(as_bytes(m.SerializeAsString()));
    ASSERT_FALSE(r.has_value()) << what;
    EXPECT_EQ(r.error().code, ErrorCode::kDecode) << what;
  };
  {
    auto m = proto();
    m.clear_credentials();
    expect_rejected(m, "no credentials");
  }
  {
    auto m = proto();
    m.mutable_credentials()->clear_models();
    expect_rejected(m, "no models");
  }
  {
    auto m = proto();
    m.clear_signature();
    expect_rejected(m, "no signature");
  }
  for (size_t len : {size_t{0}, size_t{63}, size_t{65}}) {
    auto m = proto();
    m.set_signature(std::string(len, 's'));
    expect_rejected(m, "signature size");
  }
  {
    auto m = proto();
    m.mutable_credentials()->set_models(std::string("\x01\x00\x00\x00" "b" "\x01\x00\x00\x00" "a", 10));
    expect_rejected(m, "unsorted models");
  }
  const Bytes good = badge.serialize().value();
  for (size_t len = 0; len < good.size(); ++len) {
    EXPECT_FALSE(Badge::parse(ByteSpan(good).first(len)).has_value()) << len;
  }
  Bytes garbage = good;
  garbage.push_back(0x00);
  EXPECT_FALSE(Badge::parse(garbage).has_value());
  EXPECT_FALSE(Badge::parse(Bytes(kMaxBadgeSize + 1, 0)).has_value());
}

}  // namespace
}  // namespace openpcc::currency
