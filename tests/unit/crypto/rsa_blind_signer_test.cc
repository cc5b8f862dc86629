// BlindRsaSigner's private operation (blinded, CRT with a dual exponentiation, re-verified by CRT for derived keys):
// many signatures per signer, so the blinding factor is squared and redrawn several times; several threads sharing
// one signer; key sizes where OpenSSL's dual AVX-512 path does not apply. Every answer is compared with m^d mod n
// computed directly with OpenSSL's BN_mod_exp from the vector's (n, e, p, q), never through our code.
#include <openssl/bn.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"
#include "crypto/rsa_blind.h"
#include "vector_files.h"

namespace openpcc::crypto {
namespace {

using testing::hex_field;
using testing::load_json;

using Bn = std::unique_ptr<BIGNUM, decltype(&BN_free)>;
Bn bn(ByteSpan b) { return Bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr), BN_free); }
Bn bn_new() { return Bn(BN_new(), BN_free); }

// m^(e⁻¹ mod φ(n)) mod n, straight from the definition.
Bytes reference_signature(ByteSpan n, ByteSpan p, ByteSpan q, ByteSpan e, ByteSpan m) {
  std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> ctx(BN_CTX_new(), BN_CTX_free);
  Bn bn_n = bn(n), bn_p = bn(p), bn_q = bn(q), bn_e = bn(e), bn_m = bn(m), phi = bn_new(), d = bn_new(),
     s = bn_new();
  EXPECT_TRUE(BN_sub_word(bn_p.get(), 1) && BN_sub_word(bn_q.get(), 1) &&
              BN_mul(phi.get(), bn_p.get(), bn_q.get(), ctx.get()));
  EXPECT_NE(BN_mod_inverse(d.get(), bn_e.get(), phi.get(), ctx.get()), nullptr);
  EXPECT_TRUE(BN_mod_exp(s.get(), bn_m.get(), d.get(), bn_n.get(), ctx.get()));
  Bytes out(n.size());
  EXPECT_GT(BN_bn2binpad(s.get(), out.data(), static_cast<int>(out.size())), 0);
  return out;
}

// A uniformly random value below n, as a blinded message is.
Bytes random_message(ByteSpan n) {
  for (;;) {
    Bytes m = random_bytes(n.size());
    m[0] &= 0x7f;
    if (std::lexicographical_compare(m.begin(), m.end(), n.begin(), n.end())) return m;
  }
}

struct Vector {
  Bytes n, e, d, p, q, info, eprime;
};

Vector vector0() {
  const auto v = load_json("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json").at(0);
  return {hex_field(v, "n"), hex_field(v, "e"), hex_field(v, "d"),    hex_field(v, "p"),
          hex_field(v, "q"), hex_field(v, "info"), hex_field(v, "eprime")};
}

RsaPrivateKey key_of(const Vector& v) {
  return RsaPrivateKey::from_components(v.n, v.e, v.d, v.p, v.q).value();
}

TEST(BlindRsaSigner, ManySignaturesAcrossBlindingRefreshes) {
  const Vector v = vector0();
  const auto plain = BlindRsaSigner::create(kRsaBssaSha384PssDeterministic, key_of(v)).value();
  const auto credit = BlindRsaSigner::create(kOpenPccCreditSuite, key_of(v)).value();
  // 100 > 3 × 32: the blinding pair is squared 31 times and redrawn at least 3 times per exponent.
  for (int i = 0; i < 100; ++i) {
    SCOPED_TRACE(i);
    const Bytes m = random_message(v.n);
    auto s = plain.blind_sign(m);
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    EXPECT_EQ(to_hex(*s), to_hex(reference_signature(v.n, v.p, v.q, v.e, m)));
    auto sc = credit.blind_sign(m, v.info);
    ASSERT_TRUE(sc.has_value()) << sc.error().to_string();
    EXPECT_EQ(to_hex(*sc), to_hex(reference_signature(v.n, v.p, v.q, v.eprime, m)));
  }
  // The same message signs to the same bytes whatever the blinding (RSA is deterministic).
  const Bytes m = random_message(v.n);
  const Bytes first = credit.blind_sign(m, v.info).value();
  for (int i = 0; i < 40; ++i) EXPECT_EQ(credit.blind_sign(m, v.info).value(), first);
  // Edge values of m: 0, 1 and n − 1.
  Bytes zero(v.n.size(), 0), one(v.n.size(), 0), n_minus_1 = v.n;
  one.back() = 1;
  n_minus_1.back() -= 1;  // n is odd
  for (const Bytes& edge : {zero, one, n_minus_1}) {
    EXPECT_EQ(to_hex(credit.blind_sign(edge, v.info).value()),
              to_hex(reference_signature(v.n, v.p, v.q, v.eprime, edge)));
    EXPECT_EQ(to_hex(plain.blind_sign(edge).value()), to_hex(reference_signature(v.n, v.p, v.q, v.e, edge)));
  }
}

TEST(BlindRsaSigner, ThreadsShareOneSignerAndItsCaches) {
  const Vector v = vector0();
  const auto signer = BlindRsaSigner::create(kOpenPccCreditSuite, key_of(v)).value();
  const std::vector<Bytes> infos = {{0x00, 0x10}, {0x00, 0x39}, {0x02, 0x24}, {0x01, 0x00}};
  struct Case {
    Bytes m, info, expected;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 24; ++i) {
    const Bytes& info = infos[static_cast<size_t>(i) % infos.size()];
    const Bytes m = random_message(v.n);
    auto e_prime = derive_metadata_public_exponent(key_of(v).public_key(), info).value();
    cases.push_back({m, info, reference_signature(v.n, v.p, v.q, e_prime, m)});
  }
  constexpr int kThreads = 4, kRounds = 3;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        for (size_t i = 0; i < cases.size(); ++i) {
          const Case& c = cases[(i + static_cast<size_t>(t) * 7) % cases.size()];
          auto s = signer.blind_sign(c.m, c.info);
          if (!s || *s != c.expected) ++failures[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[static_cast<size_t>(t)], 0) << "thread " << t;
}

TEST(BlindRsaSigner, KeySizesOutsideTheDualExponentiationPath) {
  // 1024-bit modulus (512-bit primes): OpenSSL's dual routine falls back to two constant-time exponentiations.
  auto small = RsaPrivateKey::generate_safe_prime(1024);
  ASSERT_TRUE(small.has_value());
  const RsaPublicKey pub = small->public_key();  // a copy: the key moves into the signer
  const Bytes info = {0x00, 0x10};
  const Bytes e_prime = derive_metadata_public_exponent(pub, info).value();
  auto signer = BlindRsaSigner::create(kOpenPccCreditSuite, std::move(*small)).value();
  for (int i = 0; i < 40; ++i) {
    const Bytes msg = random_bytes(24);
    auto b = blind(kOpenPccCreditSuite, pub, msg, info).value();
    auto bs = signer.blind_sign(b.blinded_msg, info);
    ASSERT_TRUE(bs.has_value()) << bs.error().to_string();
    auto sig = finalize(kOpenPccCreditSuite, pub, msg, info, *bs, b.inv);  // verifies against (n, e′)
    ASSERT_TRUE(sig.has_value()) << sig.error().to_string();
    EXPECT_TRUE(verify(kRsaPbssaSha384PssDeterministic, pub, msg, info, *sig).has_value());
  }
  EXPECT_EQ(e_prime.size(), 64u);  // λ/8 for a 1024-bit modulus

  // 4096-bit RFC 9474 key (2048-bit primes, not safe): the plain suite, against the vector's blind signature.
  const auto v = load_json("rsabssa-cfrg-repo-2vectors.json").at(0);
  auto big = BlindRsaSigner::create(kRsaBssaSha384PssDeterministic,
                                    RsaPrivateKey::from_components(hex_field(v, "n"), hex_field(v, "e"),
                                                                   hex_field(v, "d"), hex_field(v, "p"),
                                                                   hex_field(v, "q"))
                                        .value())
                 .value();
  for (int i = 0; i < 35; ++i) {
    EXPECT_EQ(to_hex(big.blind_sign(hex_field(v, "blinded_msg")).value()), to_hex(hex_field(v, "blind_sig")));
  }
}

TEST(BlindRsaSigner, RejectsMessagesNotBelowN) {
  const Vector v = vector0();
  const auto signer = BlindRsaSigner::create(kOpenPccCreditSuite, key_of(v)).value();
  auto at_n = signer.blind_sign(v.n, v.info);
  ASSERT_FALSE(at_n.has_value());
  EXPECT_EQ(at_n.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(signer.blind_sign(Bytes(v.n.size(), 0xff), v.info).has_value());
}

}  // namespace
}  // namespace openpcc::crypto
