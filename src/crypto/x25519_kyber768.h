// X25519Kyber768Draft00 (KEM 0x0030), byte-compatible with CIRCL v1.6.1's hpke hybrid KEM. Internal to the KEM
// code: use Kem (kem.h).
//
//   pk   = pk_X25519 (32) ‖ pk_Kyber768 (1184)                     1216 bytes
//   sk   = sk_X25519 (32) ‖ sk_Kyber768 (2400)                     2432 bytes
//   enc  = enc_DHKEM-X25519 (32) ‖ ct_Kyber768 (1088)              1120 bytes
//   ss   = ss_DHKEM-X25519 (32) ‖ ss_Kyber768 (32)                   64 bytes
//   DeriveKeyPair(ikm): dkp_prk = LabeledExtract("", "dkp_prk", ikm); b = LabeledExpand(dkp_prk, "sk", "", 96)
//     with suite_id "KEM" ‖ 0x0030 and HKDF-SHA256; DHKEM-X25519 DeriveKeyPair(b[0:32]), Kyber768 keys from b[32:96].
//   Deterministic Encap from a 64-byte seed: DHKEM-X25519 with skE = DeriveKeyPair(seed[0:32]), Kyber768
//     encapsulation seeded with seed[32:64].
#pragma once

#include <memory>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/kem.h"
#include "crypto/kyber768.h"

namespace openpcc::crypto::x25519_kyber768 {

inline constexpr size_t kX25519Size = 32;
inline constexpr size_t kPublicKeySize = kX25519Size + kyber768::kPublicKeySize;
inline constexpr size_t kPrivateKeySize = kX25519Size + kyber768::kSecretKeySize;
inline constexpr size_t kEncSize = kX25519Size + kyber768::kCiphertextSize;
inline constexpr size_t kSecretSize = 32 + kyber768::kSharedSecretSize;
inline constexpr size_t kEphemeralSeedSize = kX25519Size + kyber768::kEncapsSeedSize;

Result<std::unique_ptr<KemPrivateKey>> generate_key_pair();
Result<std::unique_ptr<KemPrivateKey>> derive_key_pair(ByteSpan ikm);
Result<std::unique_ptr<KemPrivateKey>> deserialize_private_key(ByteSpan private_key);
Result<KemPublicKey> deserialize_public_key(ByteSpan public_key);

// options.ikm_e, if given, is the 64-byte seed; an explicit options.sk_e is not supported.
Result<Encapsulation> encap(const KemPublicKey& pk_r, const EncapOptions& options);
// sk_r must be a key made by this module (generate/derive/deserialize).
Result<SecretBytes> decap(ByteSpan enc, const KemPrivateKey& sk_r);

}  // namespace openpcc::crypto::x25519_kyber768
