#include "crypto/x25519_kyber768.h"

#include <openssl/evp.h>

#include <algorithm>

#include "common/random.h"
#include "crypto/dhkem.h"
#include "crypto/hkdf.h"
#include "crypto/openssl_util.h"

namespace openpcc::crypto::x25519_kyber768 {
namespace {

using internal::KemPublicKeyAccess;

constexpr KemId kId = KemId::kX25519Kyber768Draft00;
constexpr KemId kX25519Id = KemId::kDhkemX25519HkdfSha256;
constexpr size_t kDeriveSeedSize = 32;  // CIRCL's SeedSize() for fresh key generation
// Layout of a round-3 Kyber secret key: s (1152) ‖ pk (1184) ‖ SHA3-256(pk) (32) ‖ z (32).
constexpr size_t kKyberSkPublicKeyOffset = 1152;
constexpr size_t kKyberSkHashOffset = kKyberSkPublicKeyOffset + kyber768::kPublicKeySize;

class HybridPrivateKey final : public KemPrivateKey {
 public:
  HybridPrivateKey(std::unique_ptr<DhPrivateKey> x25519, SecretBytes kyber_secret_key, ByteSpan kyber_public_key)
      : x25519_(std::move(x25519)),
        kyber_secret_key_(std::move(kyber_secret_key)),
        public_key_(concat({x25519_->public_key(), kyber_public_key})) {}

  KemId kem_id() const override { return kId; }
  ByteSpan public_key() const override { return public_key_; }
  Result<SecretBytes> serialize() const override {
    auto x25519 = x25519_->serialize();
    if (!x25519) return x25519;
    SecretBytes out(kPrivateKeySize);
    std::copy(x25519->span().begin(), x25519->span().end(), out.data());
    std::copy(kyber_secret_key_.span().begin(), kyber_secret_key_.span().end(), out.data() + kX25519Size);
    return out;
  }

  const DhPrivateKey& x25519() const { return *x25519_; }
  ByteSpan kyber_secret_key() const { return kyber_secret_key_; }

 private:
  std::unique_ptr<DhPrivateKey> x25519_;
  SecretBytes kyber_secret_key_;
  Bytes public_key_;
};

SecretBytes concat_secrets(ByteSpan a, ByteSpan b) {
  SecretBytes out(a.size() + b.size());
  std::copy(a.begin(), a.end(), out.data());
  std::copy(b.begin(), b.end(), out.data() + a.size());
  return out;
}

// The Kyber part of a serialized key must carry its own public key's hash, as a key made by Kyber does.
bool kyber_secret_key_consistent(ByteSpan kyber_sk) {
  uint8_t hash[32];
  unsigned int length = 0;
  ByteSpan pk = kyber_sk.subspan(kKyberSkPublicKeyOffset, kyber768::kPublicKeySize);
  if (EVP_Digest(pk.data(), pk.size(), hash, &length, EVP_sha3_256(), nullptr) != 1 || length != sizeof hash) {
    ERR_clear_error();
    return false;
  }
  return std::equal(hash, hash + sizeof hash, kyber_sk.begin() + kKyberSkHashOffset);
}

}  // namespace

Result<std::unique_ptr<KemPrivateKey>> derive_key_pair(ByteSpan ikm) {
  auto kdf = Hkdf::create(KdfId::kHkdfSha256);
  if (!kdf) return std::unexpected(kdf.error());
  const Bytes suite_id = kem_suite_id(static_cast<uint16_t>(kId));
  auto dkp_prk = kdf->labeled_extract(suite_id, {}, "dkp_prk", ikm);
  if (!dkp_prk) return std::unexpected(dkp_prk.error());
  auto seeds = kdf->labeled_expand(suite_id, *dkp_prk, "sk", {}, kX25519Size + kyber768::kKeySeedSize);
  if (!seeds) return std::unexpected(seeds.error());

  auto x25519 = dhkem::derive_key_pair(kX25519Id, seeds->span().first(kX25519Size));
  if (!x25519) return std::unexpected(x25519.error());
  kyber768::KeyPair kyber = kyber768::derive_key_pair(
      std::span<const uint8_t, kyber768::kKeySeedSize>(seeds->data() + kX25519Size, kyber768::kKeySeedSize));
  return std::make_unique<HybridPrivateKey>(std::move(*x25519), std::move(kyber.secret_key), kyber.public_key);
}

Result<std::unique_ptr<KemPrivateKey>> generate_key_pair() {
  SecretBytes seed(kDeriveSeedSize);
  fill_random(seed.mutable_span());
  return derive_key_pair(seed);
}

Result<std::unique_ptr<KemPrivateKey>> deserialize_private_key(ByteSpan private_key) {
  if (private_key.size() != kPrivateKeySize) {
    return make_error(ErrorCode::kInvalidArgument, "x25519kyber768: private key must be 2432 bytes");
  }
  ByteSpan kyber_sk = private_key.subspan(kX25519Size);
  if (!kyber_secret_key_consistent(kyber_sk)) {
    return make_error(ErrorCode::kInvalidArgument, "x25519kyber768: Kyber secret key is inconsistent");
  }
  auto x25519 = dhkem::deserialize_private_key(kX25519Id, private_key.first(kX25519Size));
  if (!x25519) return std::unexpected(x25519.error());
  return std::make_unique<HybridPrivateKey>(std::move(*x25519), SecretBytes(kyber_sk),
                                            kyber_sk.subspan(kKyberSkPublicKeyOffset, kyber768::kPublicKeySize));
}

Result<KemPublicKey> deserialize_public_key(ByteSpan public_key) {
  if (public_key.size() != kPublicKeySize) {
    return make_error(ErrorCode::kInvalidArgument, "x25519kyber768: public key must be 1216 bytes");
  }
  auto x25519 = dhkem::deserialize_public_key(kX25519Id, public_key.first(kX25519Size));
  if (!x25519) return std::unexpected(x25519.error());
  return KemPublicKeyAccess::make(kId, Bytes(public_key.begin(), public_key.end()),
                                  KemPublicKeyAccess::dh_key(*x25519));
}

Result<Encapsulation> encap(const KemPublicKey& pk_r, const EncapOptions& options) {
  if (pk_r.kem_id() != kId || pk_r.bytes().size() != kPublicKeySize) {
    return make_error(ErrorCode::kInvalidArgument, "x25519kyber768: recipient key is not a key of this KEM");
  }
  if (options.sk_e != nullptr) {
    return make_error(ErrorCode::kUnsupported, "x25519kyber768: an explicit ephemeral key is not supported");
  }
  if (options.ikm_e && options.ikm_e->size() != kEphemeralSeedSize) {
    return make_error(ErrorCode::kInvalidArgument, "x25519kyber768: the ephemeral seed must be 64 bytes");
  }
  ByteSpan x25519_pk_bytes = pk_r.bytes().first(kX25519Size);
  ByteSpan kyber_pk = pk_r.bytes().subspan(kX25519Size);
  KemPublicKey x25519_pk = KemPublicKeyAccess::make(kX25519Id, Bytes(x25519_pk_bytes.begin(), x25519_pk_bytes.end()),
                                                    KemPublicKeyAccess::dh_key(pk_r));

  EncapOptions x25519_options;
  Result<kyber768::Encapsulation> kyber = make_error(ErrorCode::kInternal, "unset");
  if (options.ikm_e) {
    x25519_options.ikm_e = options.ikm_e->first(kX25519Size);
    kyber = kyber768::encapsulate(kyber_pk, std::span<const uint8_t, kyber768::kEncapsSeedSize>(
                                                options.ikm_e->data() + kX25519Size, kyber768::kEncapsSeedSize));
  } else {
    kyber = kyber768::encapsulate(kyber_pk);
  }
  if (!kyber) return std::unexpected(kyber.error());
  auto x25519 = dhkem::encap(kX25519Id, x25519_pk, x25519_options, nullptr);
  if (!x25519) return std::unexpected(x25519.error());

  Encapsulation out;
  out.enc = concat({x25519->enc, kyber->ciphertext});
  out.shared_secret = concat_secrets(x25519->shared_secret, kyber->shared_secret);
  return out;
}

Result<SecretBytes> decap(ByteSpan enc, const KemPrivateKey& sk_r) {
  const auto* hybrid = dynamic_cast<const HybridPrivateKey*>(&sk_r);
  if (hybrid == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "x25519kyber768: recipient key is not a key of this KEM");
  }
  if (enc.size() != kEncSize) return make_error(ErrorCode::kInvalidArgument, "x25519kyber768: enc must be 1120 bytes");
  auto x25519 = dhkem::decap(kX25519Id, enc.first(kX25519Size), hybrid->x25519(), nullptr);
  if (!x25519) return std::unexpected(x25519.error());
  auto kyber = kyber768::decapsulate(hybrid->kyber_secret_key(), enc.subspan(kX25519Size));
  if (!kyber) return std::unexpected(kyber.error());
  return concat_secrets(*x25519, *kyber);
}

}  // namespace openpcc::crypto::x25519_kyber768
