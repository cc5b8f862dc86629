// HKDF (RFC 5869) with SHA-256/384/512, and HPKE's labeled variants (RFC 9180 §4).
//
// An Hkdf is a small immutable value: copy it freely and share it between threads. The digest is fetched from
// OpenSSL once per process, so nothing on the per-call path looks algorithms up or builds parameter lists.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"

namespace openpcc::crypto {

// HPKE KDF identifiers (RFC 9180 §7.2).
enum class KdfId : uint16_t {
  kHkdfSha256 = 0x0001,
  kHkdfSha384 = 0x0002,
  kHkdfSha512 = 0x0003,
};

class Hkdf {
 public:
  // kUnsupported for any other id (wire values may be cast to KdfId and checked here).
  static Result<Hkdf> create(KdfId id);

  KdfId id() const { return id_; }
  // Nh: the digest and PRK size.
  size_t hash_size() const { return hash_size_; }
  // The largest `length` expand() accepts: 255·Nh.
  size_t max_output_size() const { return 255 * hash_size_; }

  // PRK = HMAC-Hash(salt, ikm). An empty salt stands for Nh zero bytes.
  Result<SecretBytes> extract(ByteSpan salt, ByteSpan ikm) const;
  // OKM of `length` bytes; kInvalidArgument if length > 255·Nh.
  Result<SecretBytes> expand(ByteSpan prk, ByteSpan info, size_t length) const;

  // LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" ‖ suite_id ‖ label ‖ ikm)
  Result<SecretBytes> labeled_extract(ByteSpan suite_id, ByteSpan salt, std::string_view label, ByteSpan ikm) const;
  // LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) ‖ "HPKE-v1" ‖ suite_id ‖ label ‖ info, L)
  Result<SecretBytes> labeled_expand(ByteSpan suite_id, ByteSpan prk, std::string_view label, ByteSpan info,
                                     size_t length) const;

 private:
  Hkdf(KdfId id, const EVP_MD* md, size_t hash_size) : id_(id), md_(md), hash_size_(hash_size) {}

  KdfId id_;
  const EVP_MD* md_;  // process-lifetime, owned by the fetch cache in hkdf.cc
  size_t hash_size_;
};

// The 10-byte HPKE suite_id "HPKE" ‖ I2OSP(kem, 2) ‖ I2OSP(kdf, 2) ‖ I2OSP(aead, 2) and the 5-byte KEM suite_id
// "KEM" ‖ I2OSP(kem, 2) that the labeled functions take.
Bytes hpke_suite_id(uint16_t kem_id, uint16_t kdf_id, uint16_t aead_id);
Bytes kem_suite_id(uint16_t kem_id);

}  // namespace openpcc::crypto
