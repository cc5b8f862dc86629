#include "crypto/kem.h"

#include "crypto/dhkem.h"
#include "crypto/x25519_kyber768.h"

namespace openpcc::crypto {
namespace {

struct KemSizes {
  size_t secret, enc, public_key, private_key;
};

KemSizes sizes_of(KemId id) {
  switch (id) {
    case KemId::kDhkemP256HkdfSha256: return {32, 65, 65, 32};
    case KemId::kDhkemX25519HkdfSha256: return {32, 32, 32, 32};
    case KemId::kX25519Kyber768Draft00:
      return {x25519_kyber768::kSecretSize, x25519_kyber768::kEncSize, x25519_kyber768::kPublicKeySize,
              x25519_kyber768::kPrivateKeySize};
  }
  return {};
}

template <class T>
Result<std::unique_ptr<KemPrivateKey>> upcast(Result<std::unique_ptr<T>> key) {
  if (!key) return std::unexpected(key.error());
  return std::unique_ptr<KemPrivateKey>(std::move(*key));
}

std::unexpected<Error> wrong_key(const char* role) {
  return make_error(ErrorCode::kInvalidArgument, std::string("kem: ") + role + " belongs to a different KEM");
}

std::unexpected<Error> no_auth() {
  return make_error(ErrorCode::kUnsupported, "kem: X25519Kyber768Draft00 has no authenticated mode");
}

}  // namespace

Result<SecretBytes> KemPrivateKey::serialize() const {
  return make_error(ErrorCode::kUnsupported, "kem: this private key cannot be exported");
}

Result<Kem> Kem::create(KemId id) {
  switch (id) {
    case KemId::kDhkemP256HkdfSha256:
    case KemId::kDhkemX25519HkdfSha256:
    case KemId::kX25519Kyber768Draft00: return Kem(id);
  }
  return make_error(ErrorCode::kUnsupported, "kem: unknown KEM id");
}

size_t Kem::secret_size() const { return sizes_of(id_).secret; }
size_t Kem::enc_size() const { return sizes_of(id_).enc; }
size_t Kem::public_key_size() const { return sizes_of(id_).public_key; }
size_t Kem::private_key_size() const { return sizes_of(id_).private_key; }
bool Kem::supports_auth() const { return dhkem::is_dhkem(id_); }

Result<std::unique_ptr<KemPrivateKey>> Kem::generate_key_pair() const {
  if (dhkem::is_dhkem(id_)) return upcast(dhkem::generate_key_pair(id_));
  return x25519_kyber768::generate_key_pair();
}

Result<std::unique_ptr<KemPrivateKey>> Kem::derive_key_pair(ByteSpan ikm) const {
  if (dhkem::is_dhkem(id_)) return upcast(dhkem::derive_key_pair(id_, ikm));
  return x25519_kyber768::derive_key_pair(ikm);
}

Result<std::unique_ptr<KemPrivateKey>> Kem::deserialize_private_key(ByteSpan sk) const {
  if (dhkem::is_dhkem(id_)) return upcast(dhkem::deserialize_private_key(id_, sk));
  return x25519_kyber768::deserialize_private_key(sk);
}

Result<KemPublicKey> Kem::deserialize_public_key(ByteSpan pk) const {
  if (dhkem::is_dhkem(id_)) return dhkem::deserialize_public_key(id_, pk);
  return x25519_kyber768::deserialize_public_key(pk);
}

Result<Encapsulation> Kem::encap(const KemPublicKey& pk_r, const EncapOptions& options) const {
  if (pk_r.kem_id() != id_) return wrong_key("recipient public key");
  if (dhkem::is_dhkem(id_)) return dhkem::encap(id_, pk_r, options, nullptr);
  return x25519_kyber768::encap(pk_r, options);
}

Result<SecretBytes> Kem::decap(ByteSpan enc, const KemPrivateKey& sk_r) const {
  if (sk_r.kem_id() != id_) return wrong_key("recipient private key");
  if (dhkem::is_dhkem(id_)) return dhkem::decap(id_, enc, sk_r, nullptr);
  return x25519_kyber768::decap(enc, sk_r);
}

Result<Encapsulation> Kem::auth_encap(const KemPublicKey& pk_r, const KemPrivateKey& sk_s,
                                      const EncapOptions& options) const {
  if (!supports_auth()) return no_auth();
  if (pk_r.kem_id() != id_) return wrong_key("recipient public key");
  if (sk_s.kem_id() != id_) return wrong_key("sender private key");
  return dhkem::encap(id_, pk_r, options, &sk_s);
}

Result<SecretBytes> Kem::auth_decap(ByteSpan enc, const KemPrivateKey& sk_r, const KemPublicKey& pk_s) const {
  if (!supports_auth()) return no_auth();
  if (sk_r.kem_id() != id_) return wrong_key("recipient private key");
  if (pk_s.kem_id() != id_) return wrong_key("sender public key");
  return dhkem::decap(id_, enc, sk_r, &pk_s);
}

}  // namespace openpcc::crypto
