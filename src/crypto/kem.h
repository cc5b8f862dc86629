// HPKE KEMs (RFC 9180 §4, §7.1):
//   0x0010 DHKEM(P-256, HKDF-SHA256)      public keys uncompressed SEC1 (65 bytes), private keys 32-byte scalars
//   0x0020 DHKEM(X25519, HKDF-SHA256)     32-byte keys
//   0x0030 X25519Kyber768Draft00          hybrid, as CIRCL v1.6.1: pk = X25519 pk ‖ Kyber768 pk,
//                                         enc = X25519 enc ‖ Kyber768 ciphertext, shared secret = ss_X25519 ‖ ss_Kyber,
//                                         no auth mode.
//
// Private keys are an interface so that the secret can live elsewhere: a DHKEM key only has to perform
// Diffie-Hellman (DhPrivateKey::dh), e.g. with TPM2_ECDH_ZGen, and every KEM/HPKE operation works with it.
// Keys made by Kem (generate/derive/deserialize) are in-memory software keys, immutable and safe to share between
// threads; other implementations should be safe for concurrent const calls too.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/hkdf.h"

namespace openpcc::crypto {

enum class KemId : uint16_t {
  kDhkemP256HkdfSha256 = 0x0010,
  kDhkemX25519HkdfSha256 = 0x0020,
  kX25519Kyber768Draft00 = 0x0030,
};

namespace internal {
struct KemPublicKeyAccess;
}

// A validated, parsed public key (DeserializePublicKey). Parse once, encapsulate to it many times. Cheap to copy.
class KemPublicKey {
 public:
  KemId kem_id() const { return kem_id_; }
  // SerializePublicKey(pk): Npk bytes.
  ByteSpan bytes() const { return bytes_; }

 private:
  friend struct internal::KemPublicKeyAccess;
  KemPublicKey(KemId kem_id, Bytes bytes, std::shared_ptr<EVP_PKEY> dh_key)
      : kem_id_(kem_id), bytes_(std::move(bytes)), dh_key_(std::move(dh_key)) {}

  KemId kem_id_;
  Bytes bytes_;
  std::shared_ptr<EVP_PKEY> dh_key_;  // the X25519/P-256 key (for the hybrid KEM, its X25519 part)
};

// A KEM private key together with its public key.
class KemPrivateKey {
 public:
  virtual ~KemPrivateKey() = default;
  virtual KemId kem_id() const = 0;
  // SerializePublicKey(pk) of the matching public key: Npk bytes.
  virtual ByteSpan public_key() const = 0;
  // SerializePrivateKey(sk): Nsk bytes. Keys that cannot leave their device return kUnsupported.
  virtual Result<SecretBytes> serialize() const;
};

// A DHKEM private key (P-256 or X25519): everything HPKE does with it goes through dh(). Implement this to keep the
// scalar out of process memory.
class DhPrivateKey : public KemPrivateKey {
 public:
  // DH(sk, pk) with a serialized peer public key of Npk bytes: the X25519 output, or for P-256 the x-coordinate of
  // the shared point (32 bytes). Must fail on a peer key that is not a valid point. The KEM validates peer keys
  // before calling this and rejects an all-zero result itself.
  virtual Result<SecretBytes> dh(ByteSpan peer_public_key) const = 0;
};

struct Encapsulation {
  Bytes enc;                  // Nenc bytes, sent to the recipient
  SecretBytes shared_secret;  // Nsecret bytes
};

// Where Encap's ephemeral key comes from. Leave both unset for fresh randomness; the others exist for test vectors.
struct EncapOptions {
  // skE = DeriveKeyPair(ikm_e). For X25519Kyber768Draft00 this is the 64-byte seed (the vectors' "ier"): the X25519
  // ephemeral is DeriveKeyPair(seed[0:32]) and seed[32:64] is the Kyber768 encapsulation seed.
  std::optional<ByteSpan> ikm_e = std::nullopt;
  // An explicit ephemeral private key (DHKEM only), e.g. skE from RFC 9458's vectors.
  const KemPrivateKey* sk_e = nullptr;
};

// One KEM. A small immutable value: copy it freely and share it between threads.
class Kem {
 public:
  // kUnsupported for unknown ids (wire values may be cast to KemId and checked here).
  static Result<Kem> create(KemId id);

  KemId id() const { return id_; }
  size_t secret_size() const;       // Nsecret
  size_t enc_size() const;          // Nenc
  size_t public_key_size() const;   // Npk
  size_t private_key_size() const;  // Nsk
  bool supports_auth() const;       // the DHKEMs do; the hybrid KEM does not

  Result<std::unique_ptr<KemPrivateKey>> generate_key_pair() const;
  // DeriveKeyPair(ikm) (RFC 9180 §7.1.3; for the hybrid KEM, as CIRCL: LabeledExpand 96 bytes from ikm, the first 32
  // derive the X25519 key, the other 64 seed Kyber768).
  Result<std::unique_ptr<KemPrivateKey>> derive_key_pair(ByteSpan ikm) const;
  Result<std::unique_ptr<KemPrivateKey>> deserialize_private_key(ByteSpan sk) const;
  // Rejects wrong sizes and, for P-256, anything but an uncompressed point on the curve.
  Result<KemPublicKey> deserialize_public_key(ByteSpan pk) const;

  Result<Encapsulation> encap(const KemPublicKey& pk_r, const EncapOptions& options = {}) const;
  Result<SecretBytes> decap(ByteSpan enc, const KemPrivateKey& sk_r) const;
  // Auth modes; the hybrid KEM returns kUnsupported.
  Result<Encapsulation> auth_encap(const KemPublicKey& pk_r, const KemPrivateKey& sk_s,
                                   const EncapOptions& options = {}) const;
  Result<SecretBytes> auth_decap(ByteSpan enc, const KemPrivateKey& sk_r, const KemPublicKey& pk_s) const;

 private:
  explicit Kem(KemId id) : id_(id) {}
  KemId id_;
};

}  // namespace openpcc::crypto
