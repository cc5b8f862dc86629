// Ed25519: the RFC 8032 §7.1 test vectors (TEST 1, 2, 3 and SHA(abc)), fresh keys, PEM round trips, and rejection of
// tampered messages, signatures and wrong keys.
#include "crypto/ed25519.h"

#include <gtest/gtest.h>

#include <string>

#include "common/bytes.h"

namespace openpcc::crypto {
namespace {

struct Rfc8032Vector {
  const char* name;
  const char* secret_key;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 §7.1. TEST SHA(abc) signs the 64-byte SHA-512 digest of "abc".
const Rfc8032Vector kVectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
     "655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aee"
     "b00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28d"
     "c027beceea1ec40a"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e"
     "2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17a"
     "d9bef1177331a704"},
};

Bytes hex(const char* h) { return from_hex(h).value(); }

TEST(Ed25519, Rfc8032Vectors) {
  for (const auto& v : kVectors) {
    SCOPED_TRACE(v.name);
    auto key = Ed25519PrivateKey::from_seed(hex(v.secret_key));
    ASSERT_TRUE(key.has_value()) << key.error().to_string();
    EXPECT_EQ(to_hex(key->public_key().bytes()), v.public_key);
    auto sig = key->sign(hex(v.message));
    ASSERT_TRUE(sig.has_value()) << sig.error().to_string();
    EXPECT_EQ(to_hex(*sig), v.signature);

    auto pub = Ed25519PublicKey::from_bytes(hex(v.public_key));
    ASSERT_TRUE(pub.has_value());
    EXPECT_TRUE(pub->verify(hex(v.message), hex(v.signature)).has_value());
    EXPECT_EQ(to_hex(key->seed().value().span()), v.secret_key);
  }
}

TEST(Ed25519, RejectsTamperedMessageSignatureAndKey) {
  const auto& v = kVectors[2];
  auto pub = Ed25519PublicKey::from_bytes(hex(v.public_key)).value();
  const Bytes msg = hex(v.message), sig = hex(v.signature);

  Bytes bad_msg = msg;
  bad_msg[0] ^= 0x01;
  auto r = pub.verify(bad_msg, sig);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kAuthenticationFailed);

  for (size_t i : {size_t{0}, size_t{31}, size_t{32}, size_t{63}}) {
    Bytes bad_sig = sig;
    bad_sig[i] ^= 0x80;
    auto rr = pub.verify(msg, bad_sig);
    ASSERT_FALSE(rr.has_value()) << i;
    EXPECT_EQ(rr.error().code, ErrorCode::kAuthenticationFailed);
  }
  // Wrong sizes and an empty signature.
  for (size_t len : {size_t{0}, size_t{63}, size_t{65}}) {
    Bytes s(sig.begin(), sig.end());
    s.resize(len);
    auto rr = pub.verify(msg, s);
    ASSERT_FALSE(rr.has_value()) << len;
    EXPECT_EQ(rr.error().code, ErrorCode::kAuthenticationFailed);
  }
  // Another vector's key.
  auto other = Ed25519PublicKey::from_bytes(hex(kVectors[1].public_key)).value();
  EXPECT_EQ(other.verify(msg, sig).error().code, ErrorCode::kAuthenticationFailed);
  // S ≥ L (the group order) must be rejected (RFC 8032 §5.1.7 step 1): add L to S of a valid signature.
  // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
  const Bytes l = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  Bytes malleable = sig;
  unsigned carry = 0;
  for (size_t i = 0; i < 32; ++i) {
    unsigned sum = malleable[32 + i] + l[i] + carry;
    malleable[32 + i] = static_cast<uint8_t>(sum);
    carry = sum >> 8;
  }
  EXPECT_FALSE(pub.verify(msg, malleable).has_value());
}

TEST(Ed25519, ImportRejectsWrongSizes) {
  for (size_t len : {size_t{0}, size_t{31}, size_t{33}, size_t{64}}) {
    Bytes b(len, 7);
    auto k = Ed25519PrivateKey::from_seed(b);
    ASSERT_FALSE(k.has_value()) << len;
    EXPECT_EQ(k.error().code, ErrorCode::kInvalidArgument);
    auto p = Ed25519PublicKey::from_bytes(b);
    ASSERT_FALSE(p.has_value()) << len;
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(Ed25519, FreshKeysSignAndDiffer) {
  auto a = Ed25519PrivateKey::generate();
  auto b = Ed25519PrivateKey::generate();
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(a->public_key(), b->public_key());
  EXPECT_NE(to_hex(a->seed().value().span()), to_hex(b->seed().value().span()));
  const Bytes msg = to_bytes("badge credentials");
  auto sig = a->sign(msg).value();
  EXPECT_EQ(sig.size(), kEd25519SignatureSize);
  EXPECT_TRUE(a->public_key().verify(msg, sig).has_value());
  EXPECT_FALSE(b->public_key().verify(msg, sig).has_value());
  // Deterministic: the same key signs the same message identically.
  EXPECT_EQ(a->sign(msg).value(), sig);
  // A key rebuilt from the seed is the same key.
  auto again = Ed25519PrivateKey::from_seed(a->seed().value()).value();
  EXPECT_EQ(again.public_key(), a->public_key());
  EXPECT_EQ(again.sign(msg).value(), sig);
}

TEST(Ed25519, PemRoundTrips) {
  auto key = Ed25519PrivateKey::from_seed(hex(kVectors[0].secret_key)).value();
  auto pem = key.to_pem();
  ASSERT_TRUE(pem.has_value()) << pem.error().to_string();
  EXPECT_NE(pem->find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto back = Ed25519PrivateKey::from_pem(*pem);
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(to_hex(back->seed().value().span()), kVectors[0].secret_key);

  auto pub_pem = key.public_key().to_pem();
  ASSERT_TRUE(pub_pem.has_value());
  EXPECT_NE(pub_pem->find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
  auto pub = Ed25519PublicKey::from_pem(*pub_pem);
  ASSERT_TRUE(pub.has_value()) << pub.error().to_string();
  EXPECT_EQ(to_hex(pub->bytes()), kVectors[0].public_key);

  // RFC 8410 §10.3's example private key: 302e020100300506032b657004220420 ‖ seed.
  const std::string rfc8410 =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
      "-----END PRIVATE KEY-----\n";
  auto imported = Ed25519PrivateKey::from_pem(rfc8410);
  ASSERT_TRUE(imported.has_value()) << imported.error().to_string();
  EXPECT_EQ(to_hex(imported->seed().value().span()),
            "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842");

  EXPECT_FALSE(Ed25519PrivateKey::from_pem("garbage").has_value());
  EXPECT_FALSE(Ed25519PublicKey::from_pem("garbage").has_value());
  EXPECT_FALSE(Ed25519PrivateKey::from_pem(*pub_pem).has_value());
}

}  // namespace
}  // namespace openpcc::crypto
