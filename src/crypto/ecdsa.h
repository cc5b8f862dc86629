// ECDSA over NIST P-256 and P-384 (FIPS 186-5) on OpenSSL EVP: what attestation needs to check TPM quotes, SEV-SNP
// reports and simulated TEE reports, and to sign the latter.
//
// Signatures travel as (r, s): big-endian unsigned integers. Formats that store them differently (SEV-SNP's 72-byte
// little-endian fields, TPMT_SIGNATURE's sized buffers) convert at their own parser. The message hash follows the
// curve (SHA-256 for P-256, SHA-384 for P-384) unless a caller passes a digest it computed itself.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace openpcc::crypto {

enum class EcCurve { kP256, kP384 };

// Bytes in a coordinate, a scalar and each of r and s: 32 (P-256) or 48 (P-384).
size_t ec_field_size(EcCurve curve);
std::string_view to_string(EcCurve curve);  // "P-256", "P-384"

// An (r, s) pair, each exactly ec_field_size(curve) bytes, big-endian.
struct EcdsaSignature {
  Bytes r;
  Bytes s;
};

// A validated public key (a point on the curve, not the identity). Cheap to copy, safe to share between threads.
class EcdsaPublicKey {
 public:
  // 0x04 ‖ X ‖ Y with coordinates of exactly the field size.
  static Result<EcdsaPublicKey> from_point(EcCurve curve, ByteSpan uncompressed_point);
  // Big-endian coordinates; shorter values are left-padded (TPM buffers may drop leading zeros), longer are errors.
  static Result<EcdsaPublicKey> from_coordinates(EcCurve curve, ByteSpan x, ByteSpan y);
  // SubjectPublicKeyInfo (DER or PEM) of a P-256 or P-384 key; other key types and curves are rejected.
  static Result<EcdsaPublicKey> from_spki_der(ByteSpan der);
  static Result<EcdsaPublicKey> from_pem(std::string_view pem);

  EcCurve curve() const { return curve_; }
  // The uncompressed point, 1 + 2·field size bytes.
  const Bytes& point() const { return point_; }
  Result<Bytes> to_spki_der() const;
  Result<std::string> to_pem() const;

  // kAuthenticationFailed unless (r, s) is a valid signature of `digest`. r and s are big-endian, any length (a
  // leading-zero-stripped or zero-padded form is fine); zero or out-of-range values are simply invalid.
  Status verify_digest(ByteSpan digest, ByteSpan r, ByteSpan s) const;
  // The same over the curve's hash of `message`.
  Status verify(ByteSpan message, ByteSpan r, ByteSpan s) const;

  friend bool operator==(const EcdsaPublicKey& a, const EcdsaPublicKey& b) {
    return a.curve_ == b.curve_ && a.point_ == b.point_;
  }

 private:
  EcdsaPublicKey(EcCurve curve, Bytes point, std::shared_ptr<EVP_PKEY> key)
      : curve_(curve), point_(std::move(point)), key_(std::move(key)) {}
  EcCurve curve_;
  Bytes point_;
  std::shared_ptr<EVP_PKEY> key_;
};

// A private key. Move-only; OpenSSL wipes its copy of the scalar when the handle is freed.
class EcdsaPrivateKey {
 public:
  // A fresh key from OpenSSL's OS-seeded generator.
  static Result<EcdsaPrivateKey> generate(EcCurve curve);
  // PKCS#8 (or SEC1 "EC PRIVATE KEY") PEM of a P-256 or P-384 key.
  static Result<EcdsaPrivateKey> from_pem(std::string_view pem);
  // Unencrypted PKCS#8 PEM. The string holds the secret: wipe it after use.
  Result<std::string> to_pem() const;

  EcCurve curve() const { return public_key_.curve(); }
  const EcdsaPublicKey& public_key() const { return public_key_; }

  // A randomized signature (OpenSSL draws the per-signature nonce) of a digest / of the curve's hash of a message.
  Result<EcdsaSignature> sign_digest(ByteSpan digest) const;
  Result<EcdsaSignature> sign(ByteSpan message) const;

  EcdsaPrivateKey(EcdsaPrivateKey&&) noexcept;
  EcdsaPrivateKey& operator=(EcdsaPrivateKey&&) noexcept;
  ~EcdsaPrivateKey();

 private:
  struct Deleter {
    void operator()(EVP_PKEY* p) const;
  };
  EcdsaPrivateKey(std::unique_ptr<EVP_PKEY, Deleter> key, EcdsaPublicKey public_key);
  std::unique_ptr<EVP_PKEY, Deleter> key_;
  EcdsaPublicKey public_key_;
};

}  // namespace openpcc::crypto
