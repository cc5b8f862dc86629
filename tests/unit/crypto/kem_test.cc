// KEMs: sizes, round trips, key (de)serialization, validation of untrusted keys and encapsulations, the hybrid KEM's
// limits, and private keys supplied through the DhPrivateKey interface (as a TPM-backed key will be).
#include "crypto/kem.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/bytes.h"
#include "common/random.h"
#include "crypto/ecdh.h"
#include "crypto/hpke.h"

namespace openpcc::crypto {
namespace {

constexpr KemId kP256 = KemId::kDhkemP256HkdfSha256;
constexpr KemId kX25519 = KemId::kDhkemX25519HkdfSha256;
constexpr KemId kHybrid = KemId::kX25519Kyber768Draft00;

Kem kem_of(KemId id) { return Kem::create(id).value(); }
Bytes unhex(std::string_view s) { return from_hex(s).value(); }

// A DhPrivateKey implemented outside the library: it only forwards dh() to a key it wraps (standing in for a TPM)
// and counts the calls. It cannot be serialized, like a hardware key.
class CountingDhKey final : public DhPrivateKey {
 public:
  explicit CountingDhKey(std::unique_ptr<KemPrivateKey> inner) : inner_(std::move(inner)) {}
  KemId kem_id() const override { return inner_->kem_id(); }
  ByteSpan public_key() const override { return inner_->public_key(); }
  Result<SecretBytes> dh(ByteSpan peer_public_key) const override {
    ++calls;
    last_peer.assign(peer_public_key.begin(), peer_public_key.end());
    return dynamic_cast<const DhPrivateKey&>(*inner_).dh(peer_public_key);
  }
  mutable int calls = 0;
  mutable Bytes last_peer;

 private:
  std::unique_ptr<KemPrivateKey> inner_;
};

// A broken implementation returning a fixed DH result.
class FixedDhKey final : public DhPrivateKey {
 public:
  FixedDhKey(KemId id, Bytes public_key, Bytes result) : id_(id), public_key_(std::move(public_key)), result_(result) {}
  KemId kem_id() const override { return id_; }
  ByteSpan public_key() const override { return public_key_; }
  Result<SecretBytes> dh(ByteSpan) const override { return SecretBytes(result_); }

 private:
  KemId id_;
  Bytes public_key_, result_;
};

TEST(Kem, Sizes) {
  struct Case {
    KemId id;
    size_t secret, enc, pk, sk;
    bool auth;
  } cases[] = {{kP256, 32, 65, 65, 32, true}, {kX25519, 32, 32, 32, 32, true}, {kHybrid, 64, 1120, 1216, 2432, false}};
  for (const Case& c : cases) {
    Kem kem = kem_of(c.id);
    EXPECT_EQ(kem.id(), c.id);
    EXPECT_EQ(kem.secret_size(), c.secret);
    EXPECT_EQ(kem.enc_size(), c.enc);
    EXPECT_EQ(kem.public_key_size(), c.pk);
    EXPECT_EQ(kem.private_key_size(), c.sk);
    EXPECT_EQ(kem.supports_auth(), c.auth);
  }
  EXPECT_EQ(Kem::create(static_cast<KemId>(0x0011)).error().code, ErrorCode::kUnsupported);
}

class KemRoundTrip : public ::testing::TestWithParam<KemId> {};

TEST_P(KemRoundTrip, GenerateSerializeEncapDecap) {
  Kem kem = kem_of(GetParam());
  auto sk = kem.generate_key_pair();
  ASSERT_TRUE(sk.has_value()) << sk.error().to_string();
  EXPECT_EQ((*sk)->kem_id(), GetParam());
  EXPECT_EQ((*sk)->public_key().size(), kem.public_key_size());
  auto serialized = (*sk)->serialize();
  ASSERT_TRUE(serialized.has_value());
  EXPECT_EQ(serialized->size(), kem.private_key_size());
  auto reloaded = kem.deserialize_private_key(*serialized);
  ASSERT_TRUE(reloaded.has_value()) << reloaded.error().to_string();
  EXPECT_TRUE(std::ranges::equal((*reloaded)->public_key(), (*sk)->public_key()));

  auto pk = kem.deserialize_public_key((*sk)->public_key());
  ASSERT_TRUE(pk.has_value());
  EXPECT_TRUE(std::ranges::equal(pk->bytes(), (*sk)->public_key()));
  auto e1 = kem.encap(*pk);
  auto e2 = kem.encap(*pk);
  ASSERT_TRUE(e1.has_value() && e2.has_value());
  EXPECT_EQ(e1->enc.size(), kem.enc_size());
  EXPECT_EQ(e1->shared_secret.size(), kem.secret_size());
  EXPECT_NE(e1->enc, e2->enc);  // fresh ephemeral keys
  auto ss = kem.decap(e1->enc, **reloaded);
  ASSERT_TRUE(ss.has_value()) << ss.error().to_string();
  EXPECT_EQ(to_hex(*ss), to_hex(e1->shared_secret));

  // Deterministic paths.
  const Bytes ikm = random_bytes(GetParam() == kHybrid ? 64 : 32);
  auto d1 = kem.encap(*pk, {.ikm_e = ikm});
  auto d2 = kem.encap(*pk, {.ikm_e = ikm});
  ASSERT_TRUE(d1.has_value() && d2.has_value());
  EXPECT_EQ(d1->enc, d2->enc);
  EXPECT_EQ(to_hex(d1->shared_secret), to_hex(d2->shared_secret));
  auto k1 = kem.derive_key_pair(ikm);
  auto k2 = kem.derive_key_pair(ikm);
  EXPECT_TRUE(std::ranges::equal((*k1)->public_key(), (*k2)->public_key()));

  // A tampered encapsulation yields a different secret (or an error), never the same one.
  Bytes bad = e1->enc;
  bad[bad.size() - 1] ^= 0x01;
  auto ss_bad = kem.decap(bad, **reloaded);
  if (ss_bad.has_value()) {
    EXPECT_NE(to_hex(*ss_bad), to_hex(e1->shared_secret));
  }
}

INSTANTIATE_TEST_SUITE_P(AllKems, KemRoundTrip, ::testing::Values(kP256, kX25519, kHybrid));

TEST(Kem, AuthRoundTripAndKeyMismatch) {
  for (KemId id : {kP256, kX25519}) {
    Kem kem = kem_of(id);
    auto sk_r = kem.generate_key_pair().value();
    auto sk_s = kem.generate_key_pair().value();
    auto pk_r = kem.deserialize_public_key(sk_r->public_key()).value();
    auto pk_s = kem.deserialize_public_key(sk_s->public_key()).value();
    auto e = kem.auth_encap(pk_r, *sk_s);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(to_hex(kem.auth_decap(e->enc, *sk_r, pk_s).value()), to_hex(e->shared_secret));
    // Plain Decap of an authenticated encapsulation, or the wrong sender key, gives another secret.
    EXPECT_NE(to_hex(kem.decap(e->enc, *sk_r).value()), to_hex(e->shared_secret));
    EXPECT_NE(to_hex(kem.auth_decap(e->enc, *sk_r, pk_r).value()), to_hex(e->shared_secret));
  }
  // Keys of another KEM are refused.
  Kem p256 = kem_of(kP256), x25519 = kem_of(kX25519);
  auto x_key = x25519.generate_key_pair().value();
  auto x_pk = x25519.deserialize_public_key(x_key->public_key()).value();
  EXPECT_EQ(p256.encap(x_pk).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(p256.decap(Bytes(65), *x_key).error().code, ErrorCode::kInvalidArgument);
  auto p_key = p256.generate_key_pair().value();
  auto p_pk = p256.deserialize_public_key(p_key->public_key()).value();
  EXPECT_EQ(p256.auth_encap(p_pk, *x_key).error().code, ErrorCode::kInvalidArgument);
}

TEST(Kem, P256RejectsBadPublicKeys) {
  Kem kem = kem_of(kP256);
  auto sk = kem.generate_key_pair().value();
  const Bytes good(sk->public_key().begin(), sk->public_key().end());
  ASSERT_EQ(good[0], 0x04);
  auto expect_rejected = [&](const Bytes& pk, const char* what) {
    auto parsed = kem.deserialize_public_key(pk);
    EXPECT_FALSE(parsed.has_value()) << what;
    if (!parsed) {
      EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << what;
    }
    auto decap = kem.decap(pk, *sk);  // the same bytes as an enc
    EXPECT_FALSE(decap.has_value()) << what;
  };
  Bytes off_curve = good;
  off_curve[64] ^= 0x01;
  expect_rejected(off_curve, "point not on the curve");
  expect_rejected(Bytes{0x00}, "point at infinity");
  expect_rejected(Bytes(65, 0x00), "all zero");
  Bytes compressed(good.begin(), good.begin() + 33);
  compressed[0] = static_cast<uint8_t>(0x02 | (good[64] & 1));
  expect_rejected(compressed, "compressed encoding");
  Bytes hybrid_prefix = good;
  hybrid_prefix[0] = 0x06;
  expect_rejected(hybrid_prefix, "hybrid encoding");
  expect_rejected(Bytes(good.begin(), good.end() - 1), "too short");
  Bytes too_long = good;
  too_long.push_back(0);
  expect_rejected(too_long, "too long");
  // x = p (not reduced) with some y.
  Bytes x_is_p = concat({Bytes{0x04}, unhex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
                         ByteSpan(good).subspan(33)});
  expect_rejected(x_is_p, "x >= p");
  EXPECT_TRUE(kem.deserialize_public_key(good).has_value());
}

TEST(Kem, P256PrivateKeyRange) {
  Kem kem = kem_of(kP256);
  const Bytes n = unhex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  Bytes n_minus_1 = n;
  n_minus_1[31] -= 1;
  Bytes n_plus_1 = n;
  n_plus_1[31] += 1;
  Bytes one(32, 0);
  one[31] = 1;
  EXPECT_FALSE(kem.deserialize_private_key(Bytes(32, 0)).has_value());
  EXPECT_FALSE(kem.deserialize_private_key(n).has_value());
  EXPECT_FALSE(kem.deserialize_private_key(n_plus_1).has_value());
  EXPECT_FALSE(kem.deserialize_private_key(Bytes(32, 0xff)).has_value());
  EXPECT_FALSE(kem.deserialize_private_key(Bytes(31, 1)).has_value());
  EXPECT_FALSE(kem.deserialize_private_key(Bytes(33, 1)).has_value());
  auto key_one = kem.deserialize_private_key(one);
  ASSERT_TRUE(key_one.has_value());
  // 1·G is the generator.
  EXPECT_EQ(to_hex((*key_one)->public_key()),
            "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
            "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
  EXPECT_TRUE(kem.deserialize_private_key(n_minus_1).has_value());
  EXPECT_TRUE(ecdh::is_valid_p256_scalar(n_minus_1));
  EXPECT_FALSE(ecdh::is_valid_p256_scalar(n));
}

TEST(Kem, X25519RejectsWrongSizesAndLowOrderPoints) {
  Kem kem = kem_of(kX25519);
  auto sk = kem.generate_key_pair().value();
  EXPECT_EQ(kem.deserialize_public_key(Bytes(31, 9)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(kem.deserialize_public_key(Bytes(33, 9)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(kem.deserialize_private_key(Bytes(31, 9)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(kem.decap(Bytes(31, 9), *sk).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(kem.decap({}, *sk).error().code, ErrorCode::kInvalidArgument);
  // Low-order points make the DH output all zero, which must be refused on both sides.
  Bytes order_one(32, 0);
  order_one[0] = 1;
  for (const Bytes& low : {Bytes(32, 0), order_one}) {
    auto decap = kem.decap(low, *sk);
    ASSERT_FALSE(decap.has_value());
    EXPECT_EQ(decap.error().code, ErrorCode::kInvalidArgument);
    auto pk = kem.deserialize_public_key(low);
    ASSERT_TRUE(pk.has_value());  // parses: the check is at DH time
    EXPECT_FALSE(kem.encap(*pk).has_value());
  }
}

TEST(Kem, HybridLimits) {
  Kem kem = kem_of(kHybrid);
  auto sk = kem.generate_key_pair().value();
  auto pk = kem.deserialize_public_key(sk->public_key()).value();
  EXPECT_EQ(kem.deserialize_public_key(Bytes(1215)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(kem.deserialize_private_key(Bytes(2431)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(kem.decap(Bytes(1119), *sk).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(kem.encap(pk, {.ikm_e = Bytes(32)}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(kem.encap(pk, {.sk_e = sk.get()}).error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(kem.auth_encap(pk, *sk).error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(kem.auth_decap(Bytes(1120), *sk, pk).error().code, ErrorCode::kUnsupported);
  // A corrupted Kyber part (its embedded public-key hash no longer matches) is refused.
  SecretBytes serialized = sk->serialize().value();
  serialized[32 + 1152 + 1184] ^= 0x01;
  EXPECT_EQ(kem.deserialize_private_key(serialized).error().code, ErrorCode::kInvalidArgument);
  // A DHKEM key cannot stand in for a hybrid one.
  auto x_key = kem_of(kX25519).generate_key_pair().value();
  EXPECT_EQ(kem.decap(Bytes(1120), *x_key).error().code, ErrorCode::kInvalidArgument);
}

// The recipient's private key through the abstract interface: KEM Decap/AuthDecap, and HPKE setup/open/export.
class PluggableKey : public ::testing::TestWithParam<KemId> {};

TEST_P(PluggableKey, DecapAndHpkeGoThroughDh) {
  auto hpke = Hpke::create({GetParam(), KdfId::kHkdfSha256, AeadId::kAes128Gcm}).value();
  const Kem& kem = hpke.kem();
  CountingDhKey sk_r(kem.generate_key_pair().value());
  auto pk_r = kem.deserialize_public_key(sk_r.public_key()).value();

  auto e = kem.encap(pk_r).value();
  auto ss = kem.decap(e.enc, sk_r);
  ASSERT_TRUE(ss.has_value()) << ss.error().to_string();
  EXPECT_EQ(to_hex(*ss), to_hex(e.shared_secret));
  EXPECT_EQ(sk_r.calls, 1);
  EXPECT_EQ(sk_r.last_peer, e.enc);
  EXPECT_FALSE(sk_r.serialize().has_value());  // non-exportable by default
  EXPECT_EQ(sk_r.serialize().error().code, ErrorCode::kUnsupported);

  const Bytes info = to_bytes("application/confsec-req"), aad = to_bytes("multi-encap-key");
  auto sender = hpke.setup_sender(pk_r, info);
  ASSERT_TRUE(sender.has_value());
  const Bytes dek = random_bytes(32);
  const Bytes wrapped = sender->seal(aad, dek).value();
  auto recipient = hpke.setup_recipient(sender->enc(), sk_r, info);
  ASSERT_TRUE(recipient.has_value()) << recipient.error().to_string();
  EXPECT_EQ(sk_r.calls, 2);
  EXPECT_EQ(recipient->open(aad, wrapped).value(), dek);
  EXPECT_EQ(to_hex(recipient->export_secret(as_bytes("res"), 16).value()),
            to_hex(sender->export_secret(as_bytes("res"), 16).value()));

  // Auth mode: the interface key as recipient (two DH calls) and as sender.
  CountingDhKey sk_s(kem.generate_key_pair().value());
  auto pk_s = kem.deserialize_public_key(sk_s.public_key()).value();
  auto auth_sender = hpke.setup_sender(pk_r, info, {.mode = HpkeMode::kAuth, .sk_s = &sk_s});
  ASSERT_TRUE(auth_sender.has_value()) << auth_sender.error().to_string();
  EXPECT_EQ(sk_s.calls, 1);
  auto ct = auth_sender->seal(aad, dek).value();
  int before = sk_r.calls;
  auto auth_recipient = hpke.setup_recipient(auth_sender->enc(), sk_r, info, {.mode = HpkeMode::kAuth, .pk_s = &pk_s});
  ASSERT_TRUE(auth_recipient.has_value());
  EXPECT_EQ(sk_r.calls - before, 2);
  EXPECT_EQ(auth_recipient->open(aad, ct).value(), dek);

  // And as an explicit ephemeral key.
  CountingDhKey sk_e(kem.generate_key_pair().value());
  auto fixed = kem.encap(pk_r, {.sk_e = &sk_e});
  ASSERT_TRUE(fixed.has_value());
  EXPECT_TRUE(std::ranges::equal(fixed->enc, sk_e.public_key()));
  EXPECT_EQ(sk_e.calls, 1);
}

TEST_P(PluggableKey, InvalidEncNeverReachesTheKeyAndBadResultsAreRefused) {
  const Kem kem = kem_of(GetParam());
  CountingDhKey sk_r(kem.generate_key_pair().value());
  EXPECT_FALSE(kem.decap(Bytes(kem.enc_size() - 1, 4), sk_r).has_value());
  if (GetParam() == kP256) {
    Bytes off_curve(sk_r.public_key().begin(), sk_r.public_key().end());
    off_curve[64] ^= 0x01;
    EXPECT_FALSE(kem.decap(off_curve, sk_r).has_value());
  }
  EXPECT_EQ(sk_r.calls, 0);

  const Bytes pk(sk_r.public_key().begin(), sk_r.public_key().end());
  auto e = kem.encap(kem.deserialize_public_key(pk).value()).value();
  FixedDhKey zero(GetParam(), pk, Bytes(32, 0));
  EXPECT_EQ(kem.decap(e.enc, zero).error().code, ErrorCode::kInvalidArgument);
  FixedDhKey short_result(GetParam(), pk, Bytes(31, 7));
  EXPECT_EQ(kem.decap(e.enc, short_result).error().code, ErrorCode::kCrypto);
  FixedDhKey bad_public_key(GetParam(), Bytes(5, 1), Bytes(32, 7));
  EXPECT_EQ(kem.decap(e.enc, bad_public_key).error().code, ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Dhkems, PluggableKey, ::testing::Values(kP256, kX25519));

}  // namespace
}  // namespace openpcc::crypto
