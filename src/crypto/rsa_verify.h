// RSA signature verification over a digest the caller computed: RSASSA-PKCS1-v1_5 and RSASSA-PSS (RFC 8017) with
// SHA-256/384/512, for public keys that arrive as raw (modulus, exponent) pairs — TPM keys, certificates' keys.
//
// The key is validated once (odd modulus of 2048..8192 bits, odd exponent 3 ≤ e < n of at most 64 bits) and held as
// an OpenSSL key, so many verifications reuse its Montgomery context.
#pragma once

#include <cstddef>
#include <memory>

#include "common/bytes.h"
#include "common/error.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace openpcc::crypto {

enum class RsaHash { kSha256, kSha384, kSha512 };

// Digest size of the hash: 32, 48 or 64.
size_t rsa_hash_size(RsaHash hash);

// PSS salt length: any length (the salt length is recovered from the encoded message) or an exact one.
inline constexpr int kRsaPssAnySaltLength = -1;

class RsaVerifyingKey {
 public:
  inline static constexpr size_t kMinModulusBits = 2048;
  inline static constexpr size_t kMaxModulusBits = 8192;

  // Big-endian magnitudes; leading zero bytes are allowed. kInvalidArgument for keys outside the limits above.
  static Result<RsaVerifyingKey> from_components(ByteSpan modulus, ByteSpan exponent);

  size_t modulus_bits() const { return modulus_bits_; }
  // Every signature under this key has exactly this many bytes.
  size_t modulus_size() const { return (modulus_bits_ + 7) / 8; }

  // kAuthenticationFailed unless `signature` is a valid signature of `digest`; kInvalidArgument when the digest's
  // size does not match `hash` or the signature's size is not modulus_size().
  Status verify_pkcs1v15_digest(RsaHash hash, ByteSpan digest, ByteSpan signature) const;
  // MGF1 with the same hash. salt_length: kRsaPssAnySaltLength or an exact length in bytes.
  Status verify_pss_digest(RsaHash hash, ByteSpan digest, ByteSpan signature,
                           int salt_length = kRsaPssAnySaltLength) const;

 private:
  RsaVerifyingKey(std::shared_ptr<EVP_PKEY> key, size_t bits) : key_(std::move(key)), modulus_bits_(bits) {}
  Status verify(RsaHash hash, bool pss, int salt_length, ByteSpan digest, ByteSpan signature) const;
  std::shared_ptr<EVP_PKEY> key_;  // immutable after construction, so sharing between copies and threads is safe
  size_t modulus_bits_;
};

}  // namespace openpcc::crypto
