// HPKE AEADs (RFC 9180 §7.3) keyed once and reused: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305, and the
// export-only id, which has no cipher and refuses to seal or open.
//
// An Aead keeps one OpenSSL cipher context with the key schedule already computed, so each seal/open only sets the
// nonce. It is movable, not copyable, and not safe for concurrent use (one per stream/thread).
// Ciphertext layout everywhere: encrypted plaintext ‖ tag (Nt bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/openssl_util.h"

namespace openpcc::crypto {

enum class AeadId : uint16_t {
  kAes128Gcm = 0x0001,
  kAes256Gcm = 0x0002,
  kChaCha20Poly1305 = 0x0003,
  kExportOnly = 0xFFFF,
};

// Nk, Nn, Nt of an AEAD id (all zero for export-only); kUnsupported for unknown ids.
struct AeadSizes {
  size_t key;    // Nk
  size_t nonce;  // Nn
  size_t tag;    // Nt
};
Result<AeadSizes> aead_sizes(AeadId id);

class Aead {
 public:
  // `key` must be exactly Nk bytes (empty for export-only). kUnsupported for unknown ids.
  static Result<Aead> create(AeadId id, ByteSpan key);

  AeadId id() const { return id_; }
  size_t key_size() const { return sizes_.key; }      // Nk
  size_t nonce_size() const { return sizes_.nonce; }  // Nn
  size_t tag_size() const { return sizes_.tag; }      // Nt

  // All seal/open calls take a nonce of exactly Nn bytes; the export-only AEAD returns kUnsupported.

  Result<Bytes> seal(ByteSpan nonce, ByteSpan aad, ByteSpan plaintext);
  // Appends plaintext.size() + Nt bytes to `out` (`plaintext` must not point into `out`: it may reallocate).
  Status seal_append(ByteSpan nonce, ByteSpan aad, ByteSpan plaintext, Bytes& out);
  // Writes plaintext.size() + Nt bytes to the front of `out` (which must be at least that large, and may alias
  // `plaintext` exactly for in-place encryption). Returns the number of bytes written.
  Result<size_t> seal_into(ByteSpan nonce, ByteSpan aad, ByteSpan plaintext, std::span<uint8_t> out);

  // On a tag mismatch these return kAuthenticationFailed and leave no plaintext behind (output wiped/removed).
  Result<Bytes> open(ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext);
  // Appends ciphertext.size() - Nt bytes to `out` (`ciphertext` must not point into `out`); on failure `out` is
  // restored to its previous size.
  Status open_append(ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext, Bytes& out);
  // Writes ciphertext.size() - Nt bytes to the front of `out` (may alias `ciphertext` exactly). Returns that count.
  Result<size_t> open_into(ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext, std::span<uint8_t> out);

 private:
  Aead(AeadId id, AeadSizes sizes, EvpCipherCtxPtr ctx) : id_(id), sizes_(sizes), ctx_(std::move(ctx)) {}
  Status check_usable(ByteSpan nonce) const;

  AeadId id_;
  AeadSizes sizes_;
  EvpCipherCtxPtr ctx_;  // null for export-only; holds the expanded key otherwise
};

}  // namespace openpcc::crypto
