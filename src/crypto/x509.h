// X.509 certificates and CRLs (RFC 5280) on OpenSSL: just the pieces a verifier needs to walk a short, fixed chain
// by hand — parse, check who signed what, check validity windows and revocation, read extensions. Nothing here knows
// a particular PKI; profile rules (which roots, which extensions mean what) belong to the caller.
//
// Signatures are checked with the issuer's key whatever the algorithm OpenSSL knows (RSA PKCS#1 v1.5, RSASSA-PSS
// with its parameters taken from the signature algorithm, ECDSA, Ed25519), but only with a digest of at least
// SHA-256 (or Ed25519/Ed448) and RSA keys of at least 2048 bits: anything weaker is refused as kUnsupported.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

typedef struct x509_st X509;
typedef struct X509_crl_st X509_CRL;

namespace openpcc::crypto {

using UnixTime = std::chrono::sys_seconds;

// A parsed certificate. Immutable; cheap to copy (the OpenSSL object is shared and only read); thread-safe.
class Certificate {
 public:
  // Exactly one DER certificate and nothing after it.
  static Result<Certificate> from_der(ByteSpan der);
  // Exactly one "CERTIFICATE" PEM block (text around it is ignored, a second block is an error).
  static Result<Certificate> from_pem(std::string_view pem);
  // PEM if the input starts with "-----BEGIN" (after whitespace), DER otherwise.
  static Result<Certificate> parse(ByteSpan der_or_pem);
  // Every "CERTIFICATE" block, in order; at least one.
  static Result<std::vector<Certificate>> parse_pem_bundle(std::string_view pem);

  const Bytes& der() const { return der_; }
  std::string to_pem() const;

  // RFC 2253 forms, e.g. "CN=SEV-Genoa,O=Advanced Micro Devices,...".
  std::string subject() const;
  std::string issuer() const;
  // The serial number's big-endian magnitude, at least one byte (serial 0 is {0x00}).
  Bytes serial_number() const;
  UnixTime not_before() const;
  UnixTime not_after() const;
  // The SubjectPublicKeyInfo, DER.
  Result<Bytes> public_key_spki_der() const;
  // An EC subject key as its curve's OpenSSL name ("prime256v1", "secp384r1", ...) and uncompressed point
  // 0x04 ‖ X ‖ Y; kUnsupported for other key types. Cheaper than re-importing public_key_spki_der(): the key was
  // decoded with the certificate.
  struct EcKey {
    std::string curve;
    Bytes point;
  };
  Result<EcKey> ec_public_key() const;

  // kUnauthenticated unless not_before ≤ time ≤ not_after.
  Status check_valid_at(UnixTime time) const;
  // basicConstraints cA = TRUE.
  bool is_ca() const;
  // An extension marked critical that OpenSSL does not understand (a relying party must then reject the cert).
  bool has_unknown_critical_extension() const;

  // The extnValue contents (the DER inside the OCTET STRING) of the extension with this dotted OID, or nullopt when
  // absent. kInvalidArgument for a malformed OID, kDecode if the extension occurs twice (RFC 5280 §4.2).
  Result<std::optional<Bytes>> extension(std::string_view dotted_oid) const;

  // kAuthenticationFailed unless this certificate's signature verifies under `issuer`'s public key. Names and
  // extensions are not looked at.
  Status verify_signature_by(const Certificate& issuer) const;
  // What a chain step needs: `issuer` is a CA (basicConstraints cA, and keyCertSign if it has keyUsage), its subject
  // equals this certificate's issuer name (and key identifiers agree where both are present), and the signature
  // verifies. A self-signed root passes with itself as issuer.
  Status verify_issued_by(const Certificate& issuer) const;

  // Same DER encoding.
  friend bool operator==(const Certificate& a, const Certificate& b) { return a.der_ == b.der_; }

 private:
  friend class CertificateRevocationList;
  Certificate(std::shared_ptr<X509> x509, Bytes der) : x509_(std::move(x509)), der_(std::move(der)) {}
  std::shared_ptr<X509> x509_;
  Bytes der_;
};

// A parsed certificate revocation list. Immutable; cheap to copy; thread-safe.
class CertificateRevocationList {
 public:
  static Result<CertificateRevocationList> from_der(ByteSpan der);
  // Exactly one "X509 CRL" PEM block.
  static Result<CertificateRevocationList> from_pem(std::string_view pem);
  static Result<CertificateRevocationList> parse(ByteSpan der_or_pem);

  const Bytes& der() const { return der_; }
  std::string issuer() const;
  UnixTime this_update() const;
  std::optional<UnixTime> next_update() const;
  // Big-endian serial magnitudes of every listed certificate, in list order.
  std::vector<Bytes> revoked_serials() const;

  // kAuthenticationFailed unless `issuer` is named as this CRL's issuer, may sign CRLs (cRLSign if it has keyUsage)
  // and its key verifies the CRL's signature.
  Status verify_signed_by(const Certificate& issuer) const;
  // kUnauthenticated unless this_update ≤ time ≤ next_update (a CRL without nextUpdate is never current: RFC 5280
  // requires the field, and a verifier cannot tell how stale such a list is).
  Status check_current_at(UnixTime time) const;
  // True if `cert` was issued by this CRL's issuer (by name) and its serial number is listed.
  bool is_revoked(const Certificate& cert) const;
  // True if this big-endian serial (leading zeros ignored) is listed, whoever issued the certificate.
  bool lists_serial(ByteSpan serial) const;

 private:
  CertificateRevocationList(std::shared_ptr<X509_CRL> crl, Bytes der) : crl_(std::move(crl)), der_(std::move(der)) {}
  std::shared_ptr<X509_CRL> crl_;
  Bytes der_;
};

// Decoders for the DER values extensions commonly carry. The whole input must be exactly one element of the type.
// An INTEGER must fit in int64_t.
Result<int64_t> decode_der_integer(ByteSpan der);
Result<std::string> decode_der_ia5_string(ByteSpan der);

}  // namespace openpcc::crypto
