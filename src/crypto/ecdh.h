// X25519 and P-256 on OpenSSL EVP_PKEY: the Diffie-Hellman groups under DHKEM. Internal to the KEM code (kem.h is
// the public API): key import with validation, serialization, and the DH operation itself.
#pragma once

#include <cstddef>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/openssl_util.h"

namespace openpcc::crypto::ecdh {

enum class Curve { kX25519, kP256 };

inline constexpr size_t public_key_size(Curve c) { return c == Curve::kX25519 ? 32 : 65; }  // Npk
inline constexpr size_t private_key_size(Curve) { return 32; }                              // Nsk
inline constexpr size_t dh_size(Curve) { return 32; }                                       // Ndh

// Serialized public key → EVP_PKEY. P-256: exactly 65 bytes, 0x04 ‖ X ‖ Y, coordinates < p, point on the curve
// (which also excludes the point at infinity). X25519: exactly 32 bytes (low-order points are caught at DH time).
Result<EvpPkeyPtr> parse_public_key(Curve curve, ByteSpan public_key);

struct PrivateKey {
  EvpPkeyPtr key;
  Bytes public_key;  // serialized
};
// Serialized private key → EVP_PKEY plus the serialized public key. P-256: a 32-byte big-endian scalar in [1, n-1].
Result<PrivateKey> import_private_key(Curve curve, ByteSpan private_key);

// A fresh random key pair, with its serialized private key, drawn from the OS CSPRNG (common/random.h). X25519: any
// 32 bytes. P-256: 32 bytes rejection-sampled into [1, n-1].
struct GeneratedKey {
  PrivateKey key;
  SecretBytes private_key;  // SerializePrivateKey: Nsk bytes
};
Result<GeneratedKey> generate_private_key(Curve curve);

// For P-256's DeriveKeyPair: is this 32-byte big-endian value a valid scalar (0 < x < n)?
bool is_valid_p256_scalar(ByteSpan candidate);

// DH(sk, pk): 32 bytes. Fails on an all-zero result (X25519 with a low-order peer key).
Result<SecretBytes> derive(EVP_PKEY* private_key, EVP_PKEY* peer_public_key);

}  // namespace openpcc::crypto::ecdh
