// RSA blind signatures: the draft-irtf-cfrg-partially-blind-rsa vectors (RSAPBSSA-SHA384-PSS-Deterministic), the
// cfrg RSABSSA repo vectors (PSS sLen 48, PSSZERO), round trips for every suite with a fresh safe-prime key, the
// OpenPCC credit profile, and rejection of tampered or malformed inputs.
#include "crypto/rsa_blind.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <chrono>
#include <iostream>
#include <memory>

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "vector_files.h"

namespace openpcc::crypto {
namespace {

using testing::hex_field;
using testing::load_json;

// r = inv⁻¹ mod n, computed straight with OpenSSL (the cfrg vectors give the inverse, blind_for_testing takes r).
Bytes invert_mod(ByteSpan inv, ByteSpan n) {
  std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> ctx(BN_CTX_new(), BN_CTX_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> a(BN_bin2bn(inv.data(), static_cast<int>(inv.size()), nullptr), BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> m(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr), BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> r(BN_new(), BN_free);
  EXPECT_NE(BN_mod_inverse(r.get(), a.get(), m.get(), ctx.get()), nullptr);
  Bytes out(n.size());
  BN_bn2binpad(r.get(), out.data(), static_cast<int>(out.size()));
  return out;
}

// Independent RSASSA-PSS check with OpenSSL's own verifier (EVP_DigestVerify, SHA-384, MGF1-SHA-384, fixed sLen)
// against (n, e), never going through our EMSA-PSS code.
bool openssl_pss_verify(ByteSpan n, ByteSpan e, ByteSpan msg, ByteSpan sig, int salt_len) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr), BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> be(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr), BN_free);
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get());
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()), OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> fctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr),
                                                                   EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_fromdata_init(fctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_fromdata(fctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()), 1);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(raw, EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestVerifyInit(md.get(), &pctx, EVP_sha384(), nullptr, pkey.get()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len), 1);
  const bool ok = EVP_DigestVerify(md.get(), sig.data(), sig.size(), msg.data(), msg.size()) == 1;
  ERR_clear_error();
  return ok;
}

RsaPrivateKey key_from_vector(const nlohmann::json& v) {
  auto key = RsaPrivateKey::from_components(hex_field(v, "n"), hex_field(v, "e"), hex_field(v, "d"),
                                            hex_field(v, "p"), hex_field(v, "q"));
  EXPECT_TRUE(key.has_value()) << key.error().to_string();
  return std::move(*key);
}

TEST(RsaBlindVectors, PartiallyBlindDraftVectors) {
  const auto vectors = load_json("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json");
  ASSERT_TRUE(vectors.is_array());
  ASSERT_EQ(vectors.size(), 4u);
  const BlindRsaSuite& suite = kRsaPbssaSha384PssDeterministic;
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.at("info").get<std::string>() + "/" + v.at("msg").get<std::string>());
    const Bytes msg = hex_field(v, "msg"), info = hex_field(v, "info");
    RsaPrivateKey key = key_from_vector(v);
    EXPECT_TRUE(key.has_safe_primes());
    const RsaPublicKey pub = key.public_key();

    auto e_prime = derive_metadata_public_exponent(pub, info);
    ASSERT_TRUE(e_prime.has_value());
    EXPECT_EQ(to_hex(*e_prime), to_hex(hex_field(v, "eprime")));

    auto blinding = blind_for_testing(suite, pub, prepare(suite, msg), info, hex_field(v, "salt"), hex_field(v, "r"));
    ASSERT_TRUE(blinding.has_value()) << blinding.error().to_string();
    EXPECT_EQ(to_hex(blinding->blinded_msg), to_hex(hex_field(v, "blind_msg")));

    auto signer = BlindRsaSigner::create(suite, std::move(key));
    ASSERT_TRUE(signer.has_value()) << signer.error().to_string();
    auto blind_sig = signer->blind_sign(hex_field(v, "blind_msg"), info);
    ASSERT_TRUE(blind_sig.has_value()) << blind_sig.error().to_string();
    EXPECT_EQ(to_hex(*blind_sig), to_hex(hex_field(v, "blind_sig")));

    auto sig = finalize(suite, pub, msg, info, hex_field(v, "blind_sig"), blinding->inv);
    ASSERT_TRUE(sig.has_value()) << sig.error().to_string();
    EXPECT_EQ(to_hex(*sig), to_hex(hex_field(v, "sig")));
    EXPECT_TRUE(verify(suite, pub, msg, info, hex_field(v, "sig")).has_value());
    const Bytes msg_prime = concat({as_bytes("msg"), i2osp(info.size(), 4), info, msg});
    EXPECT_TRUE(openssl_pss_verify(pub.n, *e_prime, msg_prime, hex_field(v, "sig"), 48));
    // Signatures verify under the credit profile too: same (n, e′), same sLen.
    EXPECT_TRUE(verify(kOpenPccCreditSuite, pub, msg, info, hex_field(v, "sig")).has_value());
    // ... and not under the plain RSABSSA key (n, e).
    EXPECT_FALSE(verify(kRsaBssaSha384PssDeterministic, pub, msg, {}, hex_field(v, "sig")).has_value());
  }
}

TEST(RsaBlindVectors, CfrgRepoRsaBssaVectors) {
  const auto vectors = load_json("rsabssa-cfrg-repo-2vectors.json");
  ASSERT_TRUE(vectors.is_array());
  ASSERT_EQ(vectors.size(), 2u);
  for (const auto& v : vectors) {
    const Bytes salt = hex_field(v, "salt"), msg = hex_field(v, "msg"), n = hex_field(v, "n");
    const BlindRsaSuite& suite = salt.empty() ? kRsaBssaSha384PssZeroDeterministic : kRsaBssaSha384PssDeterministic;
    SCOPED_TRACE(suite.name);
    EXPECT_EQ(salt.size(), suite.salt_length);
    RsaPrivateKey key = key_from_vector(v);
    const RsaPublicKey pub = key.public_key();

    auto blinding = blind_for_testing(suite, pub, msg, {}, salt, invert_mod(hex_field(v, "inv"), n));
    ASSERT_TRUE(blinding.has_value()) << blinding.error().to_string();
    EXPECT_EQ(to_hex(blinding->blinded_msg), to_hex(hex_field(v, "blinded_msg")));
    EXPECT_EQ(to_hex(blinding->inv), to_hex(hex_field(v, "inv")));

    auto signer = BlindRsaSigner::create(suite, std::move(key));
    ASSERT_TRUE(signer.has_value());
    auto blind_sig = signer->blind_sign(hex_field(v, "blinded_msg"));
    ASSERT_TRUE(blind_sig.has_value()) << blind_sig.error().to_string();
    EXPECT_EQ(to_hex(*blind_sig), to_hex(hex_field(v, "blind_sig")));

    auto sig = finalize(suite, pub, msg, {}, *blind_sig, hex_field(v, "inv"));
    ASSERT_TRUE(sig.has_value()) << sig.error().to_string();
    EXPECT_EQ(to_hex(*sig), to_hex(hex_field(v, "sig")));
    EXPECT_TRUE(openssl_pss_verify(pub.n, pub.e, msg, *sig, static_cast<int>(suite.salt_length)));
  }
}

TEST(RsaBlindVectors, NonSafePrimeKeyRejectedForPartiallyBlind) {
  const auto vectors = load_json("rsabssa-cfrg-repo-2vectors.json");
  ASSERT_TRUE(vectors.is_array());
  RsaPrivateKey key = key_from_vector(vectors.at(1));
  EXPECT_FALSE(key.has_safe_primes());
  auto signer = BlindRsaSigner::create(kRsaPbssaSha384PssDeterministic, std::move(key));
  ASSERT_FALSE(signer.has_value());
  EXPECT_EQ(signer.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(signer.error().message.find("safe primes"), std::string::npos);
  // The same key is fine for plain RSABSSA.
  EXPECT_TRUE(BlindRsaSigner::create(kRsaBssaSha384PssDeterministic, key_from_vector(vectors.at(1))).has_value());
}

TEST(RsaBlindVectors, InvalidKeysRejected) {
  const auto vectors = load_json("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json");
  ASSERT_TRUE(vectors.is_array());
  const auto& v = vectors.at(0);
  Bytes bad_d = hex_field(v, "d");
  bad_d.back() ^= 0x02;
  EXPECT_FALSE(RsaPrivateKey::from_components(hex_field(v, "n"), hex_field(v, "e"), bad_d, hex_field(v, "p"),
                                              hex_field(v, "q")));
  Bytes bad_n = hex_field(v, "n");
  bad_n[5] ^= 0x01;
  EXPECT_FALSE(RsaPrivateKey::from_components(bad_n, hex_field(v, "e"), hex_field(v, "d"), hex_field(v, "p"),
                                              hex_field(v, "q")));
  EXPECT_FALSE(RsaPublicKey::from_components(Bytes(64, 0xff), hex_field(v, "e")));  // 512 bits
  EXPECT_FALSE(RsaPublicKey::from_components(hex_field(v, "n"), Bytes{0x01, 0x00}));  // even e
}

// ---- With a freshly generated 1024-bit safe-prime key ----

class RsaBlindFreshKey : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    int calls = 0;
    auto key = RsaPrivateKey::generate_safe_prime(1024, [&](int, int) {
      ++calls;
      return true;
    });
    ASSERT_TRUE(key.has_value()) << key.error().to_string();
    progress_calls_ = calls;
    pem_ = std::make_unique<std::string>(key->to_pem().value());
    key_ = std::make_unique<RsaPrivateKey>(std::move(*key));
  }
  static void TearDownTestSuite() {
    key_.reset();
    pem_.reset();
  }
  static RsaPrivateKey fresh_copy() { return RsaPrivateKey::from_pem(*pem_).value(); }
  static const RsaPublicKey& pub() { return key_->public_key(); }

  static inline std::unique_ptr<RsaPrivateKey> key_;
  static inline std::unique_ptr<std::string> pem_;
  static inline int progress_calls_ = 0;
};

TEST_F(RsaBlindFreshKey, GeneratedKeyShape) {
  EXPECT_EQ(pub().modulus_bits(), 1024u);
  EXPECT_EQ(pub().modulus_size(), 128u);
  EXPECT_EQ(to_hex(pub().e), "010001");
  EXPECT_TRUE(key_->has_safe_primes());
  EXPECT_GT(progress_calls_, 0);
}

TEST_F(RsaBlindFreshKey, PemRoundTrips) {
  EXPECT_NE(pem_->find("-----BEGIN RSA PRIVATE KEY-----"), std::string::npos);
  RsaPrivateKey copy = fresh_copy();
  EXPECT_EQ(copy.public_key().n, pub().n);
  EXPECT_EQ(copy.public_key().e, pub().e);
  auto pub_pem = pub().to_pem();
  ASSERT_TRUE(pub_pem.has_value()) << pub_pem.error().to_string();
  EXPECT_NE(pub_pem->find("-----BEGIN RSA PUBLIC KEY-----"), std::string::npos);
  auto back = RsaPublicKey::from_pem(*pub_pem);
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(back->n, pub().n);
  EXPECT_EQ(back->e, pub().e);
  EXPECT_FALSE(RsaPrivateKey::from_pem(*pub_pem).has_value());
  EXPECT_FALSE(RsaPublicKey::from_pem("-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n"));
  EXPECT_FALSE(RsaPrivateKey::from_pem("garbage"));
}

TEST_F(RsaBlindFreshKey, RoundTripsEverySuite) {
  const BlindRsaSuite* suites[] = {&kRsaBssaSha384PssRandomized,      &kRsaBssaSha384PssZeroRandomized,
                                   &kRsaBssaSha384PssDeterministic,   &kRsaBssaSha384PssZeroDeterministic,
                                   &kRsaPbssaSha384PssRandomized,     &kRsaPbssaSha384PssZeroRandomized,
                                   &kRsaPbssaSha384PssDeterministic,  &kRsaPbssaSha384PssZeroDeterministic,
                                   &kOpenPccCreditSuite};
  const Bytes msg = to_bytes("a message to sign blindly");
  for (const BlindRsaSuite* suite : suites) {
    SCOPED_TRACE(suite->name);
    auto signer = BlindRsaSigner::create(*suite, fresh_copy());
    ASSERT_TRUE(signer.has_value()) << signer.error().to_string();
    const Bytes info = suite->partially_blind ? Bytes{0x00, 0x2a} : Bytes{};
    const Bytes prepared = prepare(*suite, msg);
    EXPECT_EQ(prepared.size(), msg.size() + (suite->randomized ? kBlindRsaMsgPrefixSize : 0));
    auto blinding = blind(*suite, pub(), prepared, info);
    ASSERT_TRUE(blinding.has_value()) << blinding.error().to_string();
    EXPECT_EQ(blinding->blinded_msg.size(), 128u);
    auto blind_sig = signer->blind_sign(blinding->blinded_msg, info);
    ASSERT_TRUE(blind_sig.has_value()) << blind_sig.error().to_string();
    auto sig = finalize(*suite, pub(), prepared, info, *blind_sig, blinding->inv);
    ASSERT_TRUE(sig.has_value()) << sig.error().to_string();
    EXPECT_TRUE(verify(*suite, pub(), prepared, info, *sig).has_value());
    const Bytes e = suite->partially_blind ? derive_metadata_public_exponent(pub(), info).value() : pub().e;
    const Bytes encoded_input =
        suite->partially_blind ? concat({as_bytes("msg"), i2osp(info.size(), 4), info, prepared}) : prepared;
    EXPECT_TRUE(openssl_pss_verify(pub().n, e, encoded_input, *sig, static_cast<int>(suite->salt_length)));

    // Tampering: signature, message, metadata.
    Bytes bad_sig = *sig;
    bad_sig[60] ^= 0x01;
    EXPECT_EQ(verify(*suite, pub(), prepared, info, bad_sig).error().code, ErrorCode::kAuthenticationFailed);
    EXPECT_FALSE(openssl_pss_verify(pub().n, e, encoded_input, bad_sig, static_cast<int>(suite->salt_length)));
    Bytes bad_msg = prepared;
    bad_msg.back() ^= 0x01;
    EXPECT_EQ(verify(*suite, pub(), bad_msg, info, *sig).error().code, ErrorCode::kAuthenticationFailed);
    if (suite->partially_blind) {
      EXPECT_FALSE(verify(*suite, pub(), prepared, Bytes{0x00, 0x2b}, *sig).has_value());
      EXPECT_FALSE(verify(*suite, pub(), prepared, {}, *sig).has_value());
    } else {
      EXPECT_EQ(verify(*suite, pub(), prepared, Bytes{0x01}, *sig).error().code, ErrorCode::kInvalidArgument);
    }
    // finalize fails closed on a blind signature for something else.
    Bytes bad_blind_sig = *blind_sig;
    bad_blind_sig[100] ^= 0x01;
    EXPECT_FALSE(finalize(*suite, pub(), prepared, info, bad_blind_sig, blinding->inv).has_value());
    EXPECT_FALSE(finalize(*suite, pub(), bad_msg, info, *blind_sig, blinding->inv).has_value());
    // Blinding is fresh every time.
    auto again = blind(*suite, pub(), prepared, info);
    ASSERT_TRUE(again.has_value());
    EXPECT_NE(again->blinded_msg, blinding->blinded_msg);
  }
}

TEST_F(RsaBlindFreshKey, CreditProfileUsesZeroSaltAndAcceptsAnySalt) {
  const Bytes nonce(24, 0x5a);
  const Bytes currency{0x01, 0x02};
  ASSERT_EQ(currency.size(), kOpenPccCreditMetadataSize);
  auto signer = BlindRsaSigner::create(kOpenPccCreditSuite, fresh_copy());
  ASSERT_TRUE(signer.has_value());
  auto issue = [&]() {
    auto b = blind(kOpenPccCreditSuite, pub(), nonce, currency).value();
    auto bs = signer->blind_sign(b.blinded_msg, currency).value();
    return finalize(kOpenPccCreditSuite, pub(), nonce, currency, bs, b.inv).value();
  };
  // Zero salt makes the final signature a function of (key, metadata, message) alone, whatever r was.
  const Bytes first = issue();
  EXPECT_EQ(issue(), first);
  // It equals the signature from an explicit all-zero salt with the standard deterministic PBRSA suite.
  auto fixed = blind_for_testing(kRsaPbssaSha384PssDeterministic, pub(), nonce, currency, Bytes(48, 0),
                                 Bytes{0x03});
  ASSERT_TRUE(fixed.has_value()) << fixed.error().to_string();
  auto fixed_sig = finalize(kRsaPbssaSha384PssDeterministic, pub(), nonce, currency,
                            signer->blind_sign(fixed->blinded_msg, currency).value(), fixed->inv);
  ASSERT_TRUE(fixed_sig.has_value());
  EXPECT_EQ(*fixed_sig, first);
  // A random-salt RSAPBSSA-PSS signature verifies under the credit profile.
  auto random_salt = blind(kRsaPbssaSha384PssDeterministic, pub(), nonce, currency).value();
  auto random_sig = finalize(kRsaPbssaSha384PssDeterministic, pub(), nonce, currency,
                             signer->blind_sign(random_salt.blinded_msg, currency).value(), random_salt.inv);
  ASSERT_TRUE(random_sig.has_value());
  EXPECT_NE(*random_sig, first);
  EXPECT_TRUE(verify(kOpenPccCreditSuite, pub(), nonce, currency, *random_sig).has_value());
  // Other currency bytes: different key, so the signature does not carry over.
  EXPECT_FALSE(verify(kOpenPccCreditSuite, pub(), nonce, Bytes{0x01, 0x03}, first).has_value());
}

TEST_F(RsaBlindFreshKey, WrongSizesRejectedWithClearErrors) {
  auto signer = BlindRsaSigner::create(kRsaPbssaSha384PssDeterministic, fresh_copy());
  ASSERT_TRUE(signer.has_value());
  const Bytes info{0x00, 0x01};
  auto short_msg = signer->blind_sign(Bytes(127, 1), info);
  ASSERT_FALSE(short_msg.has_value());
  EXPECT_EQ(short_msg.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(short_msg.error().message.find("blinded message must be 128 bytes, got 127"), std::string::npos);
  EXPECT_FALSE(signer->blind_sign(Bytes(129, 1), info).has_value());
  // Not below n.
  auto too_big = signer->blind_sign(Bytes(128, 0xff), info);
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().code, ErrorCode::kInvalidArgument);

  const Bytes msg = to_bytes("m");
  auto b = blind(kRsaPbssaSha384PssDeterministic, pub(), msg, info).value();
  auto bs = signer->blind_sign(b.blinded_msg, info).value();
  EXPECT_EQ(finalize(kRsaPbssaSha384PssDeterministic, pub(), msg, info, Bytes(bs.begin(), bs.end() - 1), b.inv)
                .error()
                .code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(finalize(kRsaPbssaSha384PssDeterministic, pub(), msg, info, bs, Bytes(10, 1)).error().code,
            ErrorCode::kInvalidArgument);
  auto short_sig = verify(kRsaPbssaSha384PssDeterministic, pub(), msg, info, Bytes(12, 0));
  ASSERT_FALSE(short_sig.has_value());
  EXPECT_NE(short_sig.error().message.find("signature must be 128 bytes"), std::string::npos);
  // Salt hook checks the salt size; r must be in [1, n).
  EXPECT_FALSE(blind_for_testing(kRsaPbssaSha384PssDeterministic, pub(), msg, info, Bytes(47, 0), Bytes{3}));
  EXPECT_FALSE(blind_for_testing(kRsaPbssaSha384PssDeterministic, pub(), msg, info, Bytes(48, 0), Bytes{0}));
  EXPECT_FALSE(blind_for_testing(kRsaPbssaSha384PssDeterministic, pub(), msg, info, Bytes(48, 0), pub().n));
  // Metadata on a suite without metadata.
  auto plain = BlindRsaSigner::create(kRsaBssaSha384PssDeterministic, fresh_copy()).value();
  auto plain_b = blind(kRsaBssaSha384PssDeterministic, pub(), msg).value();
  EXPECT_FALSE(plain.blind_sign(plain_b.blinded_msg, info).has_value());
  EXPECT_FALSE(blind(kRsaBssaSha384PssDeterministic, pub(), msg, info).has_value());
}

TEST_F(RsaBlindFreshKey, DerivedKeysAreCachedPerMetadata) {
  auto signer = BlindRsaSigner::create(kRsaPbssaSha384PssDeterministic, fresh_copy()).value();
  const Bytes msg = to_bytes("cache");
  for (uint8_t round = 0; round < 2; ++round) {
    for (uint8_t tag = 0; tag < 3; ++tag) {
      const Bytes info{tag};
      auto b = blind(kRsaPbssaSha384PssDeterministic, pub(), msg, info).value();
      auto bs = signer.blind_sign(b.blinded_msg, info);
      ASSERT_TRUE(bs.has_value());
      EXPECT_TRUE(finalize(kRsaPbssaSha384PssDeterministic, pub(), msg, info, *bs, b.inv).has_value());
    }
  }
}

TEST(RsaBlindKeyGen, ProgressCallbackCanCancelAndSizesAreChecked) {
  auto cancelled = RsaPrivateKey::generate_safe_prime(1024, [](int, int) { return false; });
  ASSERT_FALSE(cancelled.has_value());
  EXPECT_FALSE(RsaPrivateKey::generate_safe_prime(1023).has_value());
  EXPECT_FALSE(RsaPrivateKey::generate_safe_prime(512).has_value());
}

// A quick timing loop at 2048 bits with the draft's safe-prime key (informational; prints the mean).
TEST(RsaBlindTiming, BlindSign2048) {
  const auto vectors = load_json("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json");
  ASSERT_TRUE(vectors.is_array());
  const auto& v = vectors.at(0);
  auto signer = BlindRsaSigner::create(kOpenPccCreditSuite, key_from_vector(v)).value();
  const Bytes info{0x00, 0x01}, msg(24, 7);
  auto b = blind(kOpenPccCreditSuite, signer.public_key(), msg, info).value();
  ASSERT_TRUE(signer.blind_sign(b.blinded_msg, info).has_value());  // derives and caches (e′, d′)
  constexpr int kRounds = 50;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(signer.blind_sign(b.blinded_msg, info).has_value());
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kRounds;
  std::cout << "[ timing  ] blind_sign RSAPBSSA-2048 (CRT, consttime, with self-check): " << us << " us/op\n";
}

}  // namespace
}  // namespace openpcc::crypto
