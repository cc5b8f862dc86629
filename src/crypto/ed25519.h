// Ed25519 signatures (RFC 8032, pure Ed25519, no context or prehash) on OpenSSL EVP.
//
// Keys travel as their raw RFC 8032 forms: a 32-byte private seed and a 32-byte public key; signatures are 64
// bytes. PEM forms are PKCS#8 ("-----BEGIN PRIVATE KEY-----") and SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----")
// as RFC 8410 defines them, which is what `openssl genpkey -algorithm ed25519` and Go's x509 package read and write.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace openpcc::crypto {

inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

// A public key. Cheap to copy (the OpenSSL key is shared and only read); safe to use from many threads.
class Ed25519PublicKey {
 public:
  // Exactly 32 bytes. An encoding that is not a curve point is accepted here and fails every verification.
  static Result<Ed25519PublicKey> from_bytes(ByteSpan raw);
  static Result<Ed25519PublicKey> from_pem(std::string_view pem);

  const std::array<uint8_t, kEd25519PublicKeySize>& bytes() const { return raw_; }
  Result<std::string> to_pem() const;

  // kAuthenticationFailed unless `signature` is a valid signature of `message` (a signature of the wrong size is
  // simply invalid).
  Status verify(ByteSpan message, ByteSpan signature) const;

  friend bool operator==(const Ed25519PublicKey& a, const Ed25519PublicKey& b) { return a.raw_ == b.raw_; }

 private:
  Ed25519PublicKey(std::array<uint8_t, kEd25519PublicKeySize> raw, std::shared_ptr<EVP_PKEY> key);
  std::array<uint8_t, kEd25519PublicKeySize> raw_;
  std::shared_ptr<EVP_PKEY> key_;
};

// A private key. Move-only; OpenSSL wipes its copy of the key when the handle is freed.
class Ed25519PrivateKey {
 public:
  // A fresh key from the OS CSPRNG.
  static Result<Ed25519PrivateKey> generate();
  // Exactly 32 bytes (the RFC 8032 private key).
  static Result<Ed25519PrivateKey> from_seed(ByteSpan seed);
  // PKCS#8 PEM of an Ed25519 key; other key types are rejected.
  static Result<Ed25519PrivateKey> from_pem(std::string_view pem);

  Result<SecretBytes> seed() const;
  // PKCS#8 PEM, unencrypted. The string holds the secret: wipe it after use.
  Result<std::string> to_pem() const;

  const Ed25519PublicKey& public_key() const { return public_key_; }
  // The 64-byte signature (deterministic, as RFC 8032 specifies).
  Result<Bytes> sign(ByteSpan message) const;

  Ed25519PrivateKey(Ed25519PrivateKey&&) noexcept;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&&) noexcept;
  ~Ed25519PrivateKey();

 private:
  struct Deleter {
    void operator()(EVP_PKEY* p) const;
  };
  Ed25519PrivateKey(std::unique_ptr<EVP_PKEY, Deleter> key, Ed25519PublicKey public_key);
  std::unique_ptr<EVP_PKEY, Deleter> key_;
  Ed25519PublicKey public_key_;
};

}  // namespace openpcc::crypto
