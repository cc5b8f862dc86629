// RsaPbssaVerifier: the draft-irtf-cfrg-partially-blind-rsa vectors (e′ and signatures), agreement with
// crypto::verify on valid, tampered and malformed signatures, and the > 3072-bit fallback path with a signature made
// here from the RFC 9474 vectors' 4096-bit key.
#include "crypto/rsa_pbssa_verifier.h"

#include <openssl/bn.h>
#include <openssl/err.h>

#include <memory>

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "crypto/rsa_blind.h"
#include "vector_files.h"

namespace openpcc::crypto {
namespace {

using testing::hex_field;
using testing::load_json;

TEST(RsaPbssaVerifier, DraftVectors) {
  const auto vectors = load_json("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json");
  ASSERT_TRUE(vectors.is_array());
  ASSERT_FALSE(vectors.empty());
  for (const auto& v : vectors) {
    const Bytes msg = hex_field(v, "msg"), info = hex_field(v, "info"), sig = hex_field(v, "sig");
    SCOPED_TRACE(to_hex(info) + "/" + to_hex(msg));
    auto key = RsaPublicKey::from_components(hex_field(v, "n"), hex_field(v, "e")).value();
    auto verifier = RsaPbssaVerifier::create(kRsaPbssaSha384PssDeterministic, key, info);
    ASSERT_TRUE(verifier.has_value()) << verifier.error().to_string();
    EXPECT_EQ(to_hex(verifier->derived_exponent()), v.at("eprime").get<std::string>());
    EXPECT_TRUE(verifier->verify(msg, sig).has_value());

    Bytes other_msg = msg;
    other_msg.push_back(0);
    auto r = verifier->verify(other_msg, sig);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kAuthenticationFailed);

    // The same signature under other metadata fails.
    Bytes other_info = info;
    other_info.push_back('x');
    auto other = RsaPbssaVerifier::create(kRsaPbssaSha384PssDeterministic, key, other_info).value();
    EXPECT_EQ(other.verify(msg, sig).error().code, ErrorCode::kAuthenticationFailed);
  }
}

TEST(RsaPbssaVerifier, AgreesWithCryptoVerify) {
  const auto v = load_json("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json").at(0);
  const Bytes msg = hex_field(v, "msg"), info = hex_field(v, "info"), sig = hex_field(v, "sig");
  auto key = RsaPublicKey::from_components(hex_field(v, "n"), hex_field(v, "e")).value();
  auto verifier = RsaPbssaVerifier::create(kRsaPbssaSha384PssDeterministic, key, info).value();

  auto check = [&](ByteSpan s) {
    auto ours = verifier.verify(msg, s);
    auto reference = verify(kRsaPbssaSha384PssDeterministic, key, msg, info, s);
    EXPECT_EQ(ours.has_value(), reference.has_value());
    if (!ours && !reference) {
      EXPECT_EQ(ours.error().code, reference.error().code) << ours.error().to_string();
    }
  };
  check(sig);
  for (size_t i = 0; i < sig.size(); i += 17) {
    Bytes bad = sig;
    bad[i] ^= 0x01;
    check(bad);
  }
  check(Bytes(sig.begin(), sig.end() - 1));
  check(Bytes{});
  check(Bytes(sig.size(), 0xff));  // not below n
  check(Bytes(sig.size(), 0x00));
  // A PSSZERO verifier (sLen 0) rejects the sLen 48 signature, as crypto::verify does.
  auto zero = RsaPbssaVerifier::create(kRsaPbssaSha384PssZeroDeterministic, key, info).value();
  EXPECT_FALSE(zero.verify(msg, sig).has_value());
}

TEST(RsaPbssaVerifier, RejectsNonPartialSuites) {
  const auto v = load_json("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json").at(0);
  auto key = RsaPublicKey::from_components(hex_field(v, "n"), hex_field(v, "e")).value();
  auto r = RsaPbssaVerifier::create(kRsaBssaSha384PssDeterministic, key, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

// Moduli over 3072 bits go through crypto::verify. The RFC 9474 vectors' 4096-bit key has no safe primes, so no
// BlindRsaSigner will sign with it; the signature is made here: EM from blind_for_testing with r = 1 (then the
// "blinded" message is the encoded message itself) and s = EM^d′ with d′ = e′⁻¹ mod φ(n).
TEST(RsaPbssaVerifier, LargeModulusFallback) {
  const auto v = load_json("rsabssa-cfrg-repo-2vectors.json").at(0);
  auto key = RsaPublicKey::from_components(hex_field(v, "n"), hex_field(v, "e")).value();
  ASSERT_GT(key.modulus_bits(), 3072u);
  const Bytes msg = to_bytes("a credit nonce message, 24 b");

  using Bn = std::unique_ptr<BIGNUM, decltype(&BN_free)>;
  auto bn = [](ByteSpan b) { return Bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr), BN_free); };
  std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> ctx(BN_CTX_new(), BN_CTX_free);
  Bn p = bn(hex_field(v, "p")), q = bn(hex_field(v, "q")), n = bn(key.n);
  Bn phi(BN_new(), BN_free), d(BN_new(), BN_free), s(BN_new(), BN_free);
  ASSERT_TRUE(BN_sub_word(p.get(), 1) && BN_sub_word(q.get(), 1) && BN_mul(phi.get(), p.get(), q.get(), ctx.get()));
  // Without safe primes, e′ is invertible mod φ(n) only for some metadata: take the first 2-byte value that works.
  Bytes info;
  std::unique_ptr<RsaPbssaVerifier> verifier;
  for (uint8_t low = 0; low < 64 && !verifier; ++low) {
    const Bytes candidate = {0x00, low};
    auto made = RsaPbssaVerifier::create(kOpenPccCreditSuite, key, candidate).value();
    Bn e = bn(made.derived_exponent());
    if (BN_mod_inverse(d.get(), e.get(), phi.get(), ctx.get()) != nullptr) {
      info = candidate;
      verifier = std::make_unique<RsaPbssaVerifier>(std::move(made));
    }
  }
  ERR_clear_error();
  ASSERT_NE(verifier, nullptr) << "no invertible e' among 64 metadata values";

  const Bytes one = {1};
  auto em = blind_for_testing(kOpenPccCreditSuite, key, msg, info, Bytes(48, 0), one);
  ASSERT_TRUE(em.has_value()) << em.error().to_string();
  Bn m = bn(em->blinded_msg);
  ASSERT_TRUE(BN_mod_exp(s.get(), m.get(), d.get(), n.get(), ctx.get()));
  Bytes sig(key.modulus_size());
  ASSERT_EQ(BN_bn2binpad(s.get(), sig.data(), static_cast<int>(sig.size())), static_cast<int>(sig.size()));

  EXPECT_TRUE(verifier->verify(msg, sig).has_value());
  EXPECT_TRUE(verify(kRsaPbssaSha384PssDeterministic, key, msg, info, sig).has_value());
  sig[10] ^= 1;
  EXPECT_EQ(verifier->verify(msg, sig).error().code, ErrorCode::kAuthenticationFailed);
}

}  // namespace
}  // namespace openpcc::crypto
