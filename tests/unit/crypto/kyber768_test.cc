// Kyber-768 (round 3, CIRCL-compatible): known answers from the X25519Kyber768Draft00 HPKE vectors, round trips,
// implicit rejection, size errors and robustness on arbitrary inputs.
#include "crypto/kyber768.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/random.h"
#include "common/secure.h"
#include "unit/crypto/openssl_reference.h"

namespace openpcc::crypto::kyber768 {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Independent helpers built on OpenSSL, so that expectations do not go through our own Keccak.

using ::openpcc::crypto::testing::openssl_hash;
Bytes sha3_256(ByteSpan in) { return openssl_hash(EVP_sha3_256(), in, 32); }
Bytes shake256(ByteSpan in, size_t n) { return openssl_hash(EVP_shake256(), in, n); }

Bytes hmac_sha256(ByteSpan key, ByteSpan data) {
  Bytes out(32);
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
  EXPECT_EQ(len, 32u);
  return out;
}

// RFC 9180 §4 LabeledExtract / LabeledExpand with HKDF-SHA256 for KEM 0x0030.
const Bytes kSuiteId = concat({as_bytes("KEM"), i2osp(0x0030, 2)});

Bytes labeled_extract(ByteSpan salt, std::string_view label, ByteSpan ikm) {
  return hmac_sha256(salt, concat({as_bytes("HPKE-v1"), kSuiteId, as_bytes(label), ikm}));
}

Bytes labeled_expand(ByteSpan prk, std::string_view label, ByteSpan info, size_t length) {
  Bytes labeled_info = concat({i2osp(length, 2), as_bytes("HPKE-v1"), kSuiteId, as_bytes(label), info});
  Bytes okm, block;
  for (uint8_t counter = 1; okm.size() < length; ++counter) {
    block = hmac_sha256(prk, concat({block, labeled_info, ByteSpan(&counter, 1)}));
    append(okm, block);
  }
  okm.resize(length);
  return okm;
}

Bytes hex(const nlohmann::json& j, const char* field) { return from_hex(j.at(field).get<std::string>()).value(); }

std::vector<nlohmann::json> load_hybrid_vectors() {
  std::ifstream f(std::string(OPENPCC_TEST_DATA_DIR) + "/hpke-x25519kyber768draft00-circl-v1.6.1.json");
  EXPECT_TRUE(f.good());
  if (!f.good()) return {};
  return nlohmann::json::parse(f).get<std::vector<nlohmann::json>>();
}

std::array<uint8_t, kKeySeedSize> random_key_seed() {
  std::array<uint8_t, kKeySeedSize> s;
  fill_random(s);
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// Known answers

// The hybrid KEM's DeriveKeyPair expands ikmR to 96 bytes: X25519 seed (32) ‖ Kyber seed (64). Its keys are
// X25519 (32) ‖ Kyber (1184 / 2400), its ciphertext X25519 (32) ‖ Kyber (1088), its secret X25519 (32) ‖ Kyber (32).
// The encapsulation randomness "ier" (64 bytes) is X25519's ephemeral seed (32) ‖ Kyber's encapsulation seed (32).
TEST(Kyber768Test, MatchesCirclHybridHpkeVectors) {
  auto vectors = load_hybrid_vectors();
  ASSERT_EQ(vectors.size(), 2u);
  for (const auto& v : vectors) {
    SCOPED_TRACE("mode " + std::to_string(v.at("mode").get<int>()));
    ASSERT_EQ(v.at("kem_id").get<int>(), 0x30);
    Bytes ikm = hex(v, "ikmR"), pk_rm = hex(v, "pkRm"), sk_rm = hex(v, "skRm"), enc = hex(v, "enc"),
          ss = hex(v, "shared_secret"), ier = hex(v, "ier");
    ASSERT_EQ(pk_rm.size(), 32 + kPublicKeySize);
    ASSERT_EQ(sk_rm.size(), 32 + kSecretKeySize);
    ASSERT_EQ(enc.size(), 32 + kCiphertextSize);
    ASSERT_EQ(ss.size(), 32 + kSharedSecretSize);
    ASSERT_EQ(ier.size(), 64u);

    Bytes dkp_prk = labeled_extract({}, "dkp_prk", ikm);
    Bytes expanded = labeled_expand(dkp_prk, "sk", {}, 96);
    auto kyber_seed = std::span<const uint8_t, kKeySeedSize>(expanded.data() + 32, kKeySeedSize);

    KeyPair kp = derive_key_pair(kyber_seed);
    EXPECT_EQ(to_hex(kp.public_key), to_hex(ByteSpan(pk_rm).subspan(32)));
    EXPECT_EQ(to_hex(kp.secret_key), to_hex(ByteSpan(sk_rm).subspan(32)));

    auto encaps_seed = std::span<const uint8_t, kEncapsSeedSize>(ier.data() + 32, kEncapsSeedSize);
    auto e = encapsulate(kp.public_key, encaps_seed);
    ASSERT_TRUE(e.has_value()) << e.error().to_string();
    EXPECT_EQ(to_hex(e->ciphertext), to_hex(ByteSpan(enc).subspan(32)));
    EXPECT_EQ(to_hex(e->shared_secret), to_hex(ByteSpan(ss).subspan(32)));

    auto d = decapsulate(ByteSpan(sk_rm).subspan(32), ByteSpan(enc).subspan(32));
    ASSERT_TRUE(d.has_value()) << d.error().to_string();
    EXPECT_EQ(to_hex(*d), to_hex(ByteSpan(ss).subspan(32)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Structure and properties

TEST(Kyber768Test, SecretKeyLayoutIsCpaKeyPublicKeyHashAndZ) {
  auto seed = random_key_seed();
  KeyPair kp = derive_key_pair(seed);
  ASSERT_EQ(kp.public_key.size(), kPublicKeySize);
  ASSERT_EQ(kp.secret_key.size(), kSecretKeySize);
  ByteSpan sk = kp.secret_key;
  EXPECT_EQ(Bytes(sk.begin() + 1152, sk.begin() + 1152 + 1184), kp.public_key);
  EXPECT_EQ(Bytes(sk.begin() + 2336, sk.begin() + 2368), sha3_256(kp.public_key));
  EXPECT_EQ(Bytes(sk.begin() + 2368, sk.end()), Bytes(seed.begin() + 32, seed.end()));
  // ρ = the first half of SHA3-512(d) ends the public key (round 3: nothing appended to d).
  Bytes rho_sigma = openssl_hash(EVP_sha3_512(), ByteSpan(seed).first(32), 64);
  EXPECT_EQ(Bytes(kp.public_key.end() - 32, kp.public_key.end()), Bytes(rho_sigma.begin(), rho_sigma.begin() + 32));
  // Every 12-bit coefficient we emit is canonical (< q).
  for (ByteSpan packed : {sk.first(1152), ByteSpan(kp.public_key).first(1152)}) {
    for (size_t i = 0; i < packed.size(); i += 3) {
      EXPECT_LT(packed[i] | ((packed[i + 1] & 0x0f) << 8), 3329);
      EXPECT_LT((packed[i + 1] >> 4) | (packed[i + 2] << 4), 3329);
    }
  }
}

TEST(Kyber768Test, DerivationAndEncapsulationAreDeterministic) {
  auto seed = random_key_seed();
  KeyPair a = derive_key_pair(seed), b = derive_key_pair(seed);
  EXPECT_EQ(a.public_key, b.public_key);
  EXPECT_TRUE(ct_equal(a.secret_key, b.secret_key));
  seed[40] ^= 1;  // z only: the public key does not depend on it
  KeyPair c = derive_key_pair(seed);
  EXPECT_EQ(a.public_key, c.public_key);
  EXPECT_FALSE(ct_equal(a.secret_key, c.secret_key));

  std::array<uint8_t, kEncapsSeedSize> m{};
  auto e1 = encapsulate(a.public_key, m).value();
  auto e2 = encapsulate(a.public_key, m).value();
  EXPECT_EQ(e1.ciphertext, e2.ciphertext);
  EXPECT_TRUE(ct_equal(e1.shared_secret, e2.shared_secret));
  m[0] = 1;
  auto e3 = encapsulate(a.public_key, m).value();
  EXPECT_NE(e1.ciphertext, e3.ciphertext);
}

TEST(Kyber768Test, RoundTripsOnRandomKeys) {
  constexpr int kIterations = 300;
  for (int i = 0; i < kIterations; ++i) {
    KeyPair kp = generate_key_pair();
    auto e = encapsulate(kp.public_key);
    ASSERT_TRUE(e.has_value());
    ASSERT_EQ(e->ciphertext.size(), kCiphertextSize);
    ASSERT_EQ(e->shared_secret.size(), kSharedSecretSize);
    auto d = decapsulate(kp.secret_key, e->ciphertext);
    ASSERT_TRUE(d.has_value());
    ASSERT_TRUE(ct_equal(*d, e->shared_secret)) << "iteration " << i;
  }
}

TEST(Kyber768Test, FreshRandomnessGivesDistinctKeysAndCiphertexts) {
  KeyPair a = generate_key_pair(), b = generate_key_pair();
  EXPECT_NE(a.public_key, b.public_key);
  auto e1 = encapsulate(a.public_key).value(), e2 = encapsulate(a.public_key).value();
  EXPECT_NE(e1.ciphertext, e2.ciphertext);
  EXPECT_FALSE(ct_equal(e1.shared_secret, e2.shared_secret));
}

// A tampered ciphertext decapsulates, deterministically, to SHAKE256(z ‖ H(c')) rather than failing.
TEST(Kyber768Test, ImplicitRejectionOnTamperedCiphertext) {
  KeyPair kp = derive_key_pair(random_key_seed());
  auto e = encapsulate(kp.public_key).value();
  ByteSpan z = ByteSpan(kp.secret_key).last(32);
  for (size_t pos : {size_t{0}, size_t{1}, size_t{500}, size_t{959}, size_t{960}, size_t{1087}}) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
      Bytes tampered = e.ciphertext;
      tampered[pos] ^= flip;
      auto d1 = decapsulate(kp.secret_key, tampered);
      auto d2 = decapsulate(kp.secret_key, tampered);
      ASSERT_TRUE(d1.has_value() && d2.has_value());
      EXPECT_FALSE(ct_equal(*d1, e.shared_secret)) << pos;
      EXPECT_TRUE(ct_equal(*d1, *d2)) << pos;
      Bytes expected = shake256(concat({z, sha3_256(tampered)}), 32);
      EXPECT_EQ(to_hex(*d1), to_hex(expected)) << pos;
    }
  }
}

TEST(Kyber768Test, WrongKeyYieldsTheRejectionSecret) {
  KeyPair a = generate_key_pair(), b = generate_key_pair();
  auto e = encapsulate(a.public_key).value();
  auto d = decapsulate(b.secret_key, e.ciphertext).value();
  EXPECT_FALSE(ct_equal(d, e.shared_secret));
  EXPECT_EQ(to_hex(d), to_hex(shake256(concat({ByteSpan(b.secret_key).last(32), sha3_256(e.ciphertext)}), 32)));
}

TEST(Kyber768Test, WrongSizesAreErrors) {
  KeyPair kp = generate_key_pair();
  std::array<uint8_t, kEncapsSeedSize> seed{};
  for (size_t n : {size_t{0}, kPublicKeySize - 1, kPublicKeySize + 1, kSecretKeySize}) {
    Bytes pk(n, 0);
    auto r1 = encapsulate(pk, seed);
    ASSERT_FALSE(r1.has_value()) << n;
    EXPECT_EQ(r1.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(encapsulate(pk).has_value()) << n;
  }
  auto e = encapsulate(kp.public_key).value();
  for (size_t n : {size_t{0}, kSecretKeySize - 1, kSecretKeySize + 1, kPublicKeySize}) {
    Bytes sk(n, 0);
    auto r = decapsulate(sk, e.ciphertext);
    ASSERT_FALSE(r.has_value()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  for (size_t n : {size_t{0}, kCiphertextSize - 1, kCiphertextSize + 1}) {
    Bytes ct(n, 0);
    auto r = decapsulate(kp.secret_key, ct);
    ASSERT_FALSE(r.has_value()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

// Round 3 accepts any 1184-byte public key; 12-bit values ≥ q are used as their residues mod q. A key whose
// coefficients are rewritten as x + q (where that fits in 12 bits) must therefore still round-trip with the
// matching secret key (the stored pk and H(pk) in the secret key updated to the raised bytes).
TEST(Kyber768Test, NonCanonicalPublicKeyCoefficientsActAsResidues) {
  KeyPair kp = derive_key_pair(random_key_seed());
  Bytes raised = kp.public_key;
  int raised_count = 0;
  for (size_t i = 0; i < 1152; i += 3) {
    uint16_t c0 = raised[i] | ((raised[i + 1] & 0x0f) << 8);
    uint16_t c1 = (raised[i + 1] >> 4) | (raised[i + 2] << 4);
    if (c0 + 3329 < 4096) c0 += 3329, ++raised_count;
    if (c1 + 3329 < 4096) c1 += 3329, ++raised_count;
    raised[i] = static_cast<uint8_t>(c0);
    raised[i + 1] = static_cast<uint8_t>((c0 >> 8) | (c1 << 4));
    raised[i + 2] = static_cast<uint8_t>(c1 >> 4);
  }
  ASSERT_GT(raised_count, 0);
  ASSERT_NE(raised, kp.public_key);

  Bytes sk(kp.secret_key.span().begin(), kp.secret_key.span().end());
  std::copy(raised.begin(), raised.end(), sk.begin() + 1152);
  Bytes hpk = sha3_256(raised);
  std::copy(hpk.begin(), hpk.end(), sk.begin() + 2336);
  for (int i = 0; i < 20; ++i) {
    auto e = encapsulate(raised).value();
    auto d = decapsulate(sk, e.ciphertext).value();
    EXPECT_TRUE(ct_equal(d, e.shared_secret)) << i;
  }
}

// Decapsulation must never crash or read out of bounds on arbitrary right-sized input, including garbage keys.
TEST(Kyber768Test, DecapsulateAcceptsArbitraryInputs) {
  KeyPair kp = generate_key_pair();
  std::vector<Bytes> ciphertexts = {Bytes(kCiphertextSize, 0x00), Bytes(kCiphertextSize, 0xff)};
  for (int i = 0; i < 200; ++i) ciphertexts.push_back(random_bytes(kCiphertextSize));
  for (const Bytes& ct : ciphertexts) {
    auto d = decapsulate(kp.secret_key, ct);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->size(), kSharedSecretSize);
  }
  for (const Bytes& sk : {Bytes(kSecretKeySize, 0x00), Bytes(kSecretKeySize, 0xff), random_bytes(kSecretKeySize)}) {
    auto d = decapsulate(sk, ciphertexts[2]);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->size(), kSharedSecretSize);
  }
  for (const Bytes& pk : {Bytes(kPublicKeySize, 0x00), Bytes(kPublicKeySize, 0xff), random_bytes(kPublicKeySize)}) {
    auto e = encapsulate(pk);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->ciphertext.size(), kCiphertextSize);
  }
}

}  // namespace
}  // namespace openpcc::crypto::kyber768
