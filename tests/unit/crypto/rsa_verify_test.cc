// RSA digest verification (PKCS#1 v1.5 and PSS) against signatures made directly with OpenSSL, key validation, and
// rejection of tampered digests/signatures and of size mismatches.
#include "crypto/rsa_verify.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <gtest/gtest.h>

#include "common/random.h"
#include "crypto/openssl_util.h"
#include "openssl_reference.h"

namespace openpcc::crypto {
namespace {

struct TestKey {
  EvpPkeyPtr pkey;
  Bytes n, e;
};

Bytes bn_bytes(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(pkey, name, &raw), 1);
  BignumPtr bn(raw);
  Bytes out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

TestKey generate(unsigned bits) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)), 1);
  EXPECT_EQ(EVP_PKEY_generate(ctx.get(), &raw), 1);
  TestKey key{EvpPkeyPtr(raw), {}, {}};
  key.n = bn_bytes(raw, OSSL_PKEY_PARAM_RSA_N);
  key.e = bn_bytes(raw, OSSL_PKEY_PARAM_RSA_E);
  return key;
}

const TestKey& key2048() {
  static const TestKey k = generate(2048);
  return k;
}

Bytes sign(const TestKey& key, const EVP_MD* md, ByteSpan digest, int padding, int salt_len = 0) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
  EXPECT_EQ(EVP_PKEY_sign_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), padding), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_signature_md(ctx.get(), md), 1);
  if (padding == RSA_PKCS1_PSS_PADDING) {
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), salt_len), 1);
  }
  size_t len = 0;
  EXPECT_EQ(EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()), 1);
  Bytes sig(len);
  EXPECT_EQ(EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()), 1);
  sig.resize(len);
  return sig;
}

TEST(RsaVerify, Pkcs1v15AllHashes) {
  const auto key = RsaVerifyingKey::from_components(key2048().n, key2048().e).value();
  EXPECT_EQ(key.modulus_bits(), 2048u);
  EXPECT_EQ(key.modulus_size(), 256u);
  const std::pair<RsaHash, const EVP_MD*> hashes[] = {
      {RsaHash::kSha256, EVP_sha256()}, {RsaHash::kSha384, EVP_sha384()}, {RsaHash::kSha512, EVP_sha512()}};
  for (auto [hash, md] : hashes) {
    const Bytes digest = testing::openssl_hash(md, as_bytes("message"), rsa_hash_size(hash));
    const Bytes sig = sign(key2048(), md, digest, RSA_PKCS1_PADDING);
    EXPECT_TRUE(key.verify_pkcs1v15_digest(hash, digest, sig).has_value());
    // Not a PSS signature.
    EXPECT_FALSE(key.verify_pss_digest(hash, digest, sig).has_value());
    Bytes bad_digest = digest;
    bad_digest[0] ^= 1;
    EXPECT_EQ(key.verify_pkcs1v15_digest(hash, bad_digest, sig).error().code, ErrorCode::kAuthenticationFailed);
    Bytes bad_sig = sig;
    bad_sig[100] ^= 1;
    EXPECT_EQ(key.verify_pkcs1v15_digest(hash, digest, bad_sig).error().code, ErrorCode::kAuthenticationFailed);
  }
}

TEST(RsaVerify, PssSaltLengths) {
  const auto key = RsaVerifyingKey::from_components(key2048().n, key2048().e).value();
  const Bytes digest = testing::openssl_hash(EVP_sha256(), as_bytes("quote"), 32);
  for (int salt : {0, 20, 32, 222}) {  // 222 = the maximum for SHA-256 and a 2048-bit key
    const Bytes sig = sign(key2048(), EVP_sha256(), digest, RSA_PKCS1_PSS_PADDING, salt);
    EXPECT_TRUE(key.verify_pss_digest(RsaHash::kSha256, digest, sig).has_value()) << salt;
    EXPECT_TRUE(key.verify_pss_digest(RsaHash::kSha256, digest, sig, salt).has_value()) << salt;
    EXPECT_FALSE(key.verify_pss_digest(RsaHash::kSha256, digest, sig, salt == 32 ? 20 : 32).has_value()) << salt;
    EXPECT_FALSE(key.verify_pkcs1v15_digest(RsaHash::kSha256, digest, sig).has_value());
    Bytes bad_sig = sig;
    bad_sig.back() ^= 0x80;
    EXPECT_EQ(key.verify_pss_digest(RsaHash::kSha256, digest, bad_sig).error().code,
              ErrorCode::kAuthenticationFailed);
  }
  EXPECT_EQ(key.verify_pss_digest(RsaHash::kSha256, digest, Bytes(256, 1), -2).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(RsaVerify, SizeMismatches) {
  const auto key = RsaVerifyingKey::from_components(key2048().n, key2048().e).value();
  const Bytes digest(32, 1);
  const Bytes sig = sign(key2048(), EVP_sha256(), digest, RSA_PKCS1_PADDING);
  EXPECT_EQ(key.verify_pkcs1v15_digest(RsaHash::kSha256, Bytes(31, 1), sig).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(key.verify_pkcs1v15_digest(RsaHash::kSha384, digest, sig).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(key.verify_pkcs1v15_digest(RsaHash::kSha256, digest, ByteSpan(sig).first(255)).error().code,
            ErrorCode::kInvalidArgument);
  Bytes longer = sig;
  longer.insert(longer.begin(), 0);
  EXPECT_EQ(key.verify_pkcs1v15_digest(RsaHash::kSha256, digest, longer).error().code, ErrorCode::kInvalidArgument);
  // A signature value ≥ n is invalid, not a crash.
  EXPECT_EQ(key.verify_pkcs1v15_digest(RsaHash::kSha256, digest, Bytes(256, 0xff)).error().code,
            ErrorCode::kAuthenticationFailed);
}

TEST(RsaVerify, KeyValidation) {
  const Bytes& n = key2048().n;
  // Leading zeros are fine; 4-byte exponents (as TPMs give them) too.
  Bytes padded_n = n;
  padded_n.insert(padded_n.begin(), 3, 0);
  EXPECT_TRUE(RsaVerifyingKey::from_components(padded_n, i2osp(65537, 4)).has_value());
  EXPECT_EQ(RsaVerifyingKey::from_components(padded_n, i2osp(65537, 4))->modulus_size(), 256u);
  Bytes even_n = n;
  even_n.back() &= 0xfe;
  EXPECT_EQ(RsaVerifyingKey::from_components(even_n, key2048().e).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(RsaVerifyingKey::from_components({}, key2048().e).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(RsaVerifyingKey::from_components(Bytes(8, 0), key2048().e).error().code, ErrorCode::kInvalidArgument);
  const Bytes small_n(ByteSpan(n).first(128).begin(), ByteSpan(n).first(128).end());  // 1024 bits, odd or not
  Bytes odd_small = small_n;
  odd_small.back() |= 1;
  EXPECT_EQ(RsaVerifyingKey::from_components(odd_small, key2048().e).error().code, ErrorCode::kInvalidArgument);
  for (uint64_t e : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{65536}}) {
    EXPECT_EQ(RsaVerifyingKey::from_components(n, i2osp(e, 8)).error().code, ErrorCode::kInvalidArgument) << e;
  }
  Bytes big_e(9, 0);
  big_e[0] = 1;
  big_e.back() = 1;
  EXPECT_EQ(RsaVerifyingKey::from_components(n, big_e).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(RsaVerifyingKey::from_components(n, i2osp(3, 1)).has_value());
  // A different key does not verify.
  const TestKey other = generate(2048);
  const Bytes digest(32, 9);
  const Bytes sig = sign(key2048(), EVP_sha256(), digest, RSA_PKCS1_PADDING);
  EXPECT_EQ(RsaVerifyingKey::from_components(other.n, other.e)
                ->verify_pkcs1v15_digest(RsaHash::kSha256, digest, sig)
                .error()
                .code,
            ErrorCode::kAuthenticationFailed);
}

TEST(RsaVerify, LargerKeyAndCopies) {
  const TestKey k = generate(3072);
  const auto key = RsaVerifyingKey::from_components(k.n, k.e).value();
  EXPECT_EQ(key.modulus_size(), 384u);
  const Bytes digest = random_bytes(48);
  const Bytes sig = sign(k, EVP_sha384(), digest, RSA_PKCS1_PSS_PADDING, 48);
  const RsaVerifyingKey copy = key;
  EXPECT_TRUE(copy.verify_pss_digest(RsaHash::kSha384, digest, sig).has_value());
}

}  // namespace
}  // namespace openpcc::crypto
