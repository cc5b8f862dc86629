// DHKEM (RFC 9180 §4.1) with HKDF-SHA256 over P-256 (0x0010) and X25519 (0x0020). Internal to the KEM code: use
// Kem (kem.h). The hybrid KEM builds on it for its X25519 half.
#pragma once

#include <memory>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/kem.h"

namespace openpcc::crypto::dhkem {

inline bool is_dhkem(KemId id) {
  return id == KemId::kDhkemP256HkdfSha256 || id == KemId::kDhkemX25519HkdfSha256;
}

// In-memory keys. `id` must satisfy is_dhkem.
Result<std::unique_ptr<DhPrivateKey>> generate_key_pair(KemId id);
Result<std::unique_ptr<DhPrivateKey>> derive_key_pair(KemId id, ByteSpan ikm);
Result<std::unique_ptr<DhPrivateKey>> deserialize_private_key(KemId id, ByteSpan private_key);
Result<KemPublicKey> deserialize_public_key(KemId id, ByteSpan public_key);

// Encap, or AuthEncap when sk_s is given.
Result<Encapsulation> encap(KemId id, const KemPublicKey& pk_r, const EncapOptions& options,
                            const KemPrivateKey* sk_s);
// Decap, or AuthDecap when pk_s is given. sk_r may be any DhPrivateKey implementation.
Result<SecretBytes> decap(KemId id, ByteSpan enc, const KemPrivateKey& sk_r, const KemPublicKey* pk_s);

}  // namespace openpcc::crypto::dhkem

namespace openpcc::crypto::internal {

// How the KEM implementations build KemPublicKey and reach its parsed form.
struct KemPublicKeyAccess {
  static KemPublicKey make(KemId id, Bytes bytes, std::shared_ptr<EVP_PKEY> dh_key) {
    return KemPublicKey(id, std::move(bytes), std::move(dh_key));
  }
  static const std::shared_ptr<EVP_PKEY>& dh_key(const KemPublicKey& key) { return key.dh_key_; }
};

}  // namespace openpcc::crypto::internal
