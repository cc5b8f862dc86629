// Kyber-768, round-3 version (the "draft00" Kyber of X25519Kyber768Draft00), NOT FIPS 203 ML-KEM.
// Byte-compatible with CIRCL's kem/kyber/kyber768 (the reference pins circl v1.6.1), including its seed-based
// deterministic key generation and encapsulation. Operations on secret data are constant-time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"

namespace openpcc::crypto::kyber768 {

inline constexpr size_t kPublicKeySize = 1184;
inline constexpr size_t kSecretKeySize = 2400;
inline constexpr size_t kCiphertextSize = 1088;
inline constexpr size_t kSharedSecretSize = 32;
inline constexpr size_t kKeySeedSize = 64;     // d ‖ z, as CIRCL's NewKeyFromSeed
inline constexpr size_t kEncapsSeedSize = 32;  // the message m before hashing, as CIRCL's EncapsulateTo

struct KeyPair {
  Bytes public_key;        // kPublicKeySize
  SecretBytes secret_key;  // kSecretKeySize
};

struct Encapsulation {
  Bytes ciphertext;           // kCiphertextSize
  SecretBytes shared_secret;  // kSharedSecretSize
};

// Deterministic key generation from a 64-byte seed.
KeyPair derive_key_pair(std::span<const uint8_t, kKeySeedSize> seed);
KeyPair generate_key_pair();

// Deterministic encapsulation with a 32-byte seed. Fails only if the public key has the wrong size.
Result<Encapsulation> encapsulate(ByteSpan public_key, std::span<const uint8_t, kEncapsSeedSize> seed);
Result<Encapsulation> encapsulate(ByteSpan public_key);

// Implicit rejection: a malformed-but-right-sized ciphertext yields a pseudorandom secret, not an error.
// Fails only on wrong sizes.
Result<SecretBytes> decapsulate(ByteSpan secret_key, ByteSpan ciphertext);

}  // namespace openpcc::crypto::kyber768
