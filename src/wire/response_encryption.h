// Response encryption keyed from a request's HPKE context (RFC 9458 §4.4, chunked OHTTP §6, and the compute-request
// responses, which differ only in their export label):
//
//   secret          = context.Export(label, max(Nn, Nk))             label names the response media
//   response_nonce  = random(max(Nn, Nk))
//   prk             = HKDF-Extract(salt = enc ‖ response_nonce, ikm = secret)
//   key             = HKDF-Expand(prk, "key", Nk)
//   nonce           = HKDF-Expand(prk, "nonce", Nn)
//   unchunked       = response_nonce ‖ Seal(key, nonce, aad = "", response)
//   chunked         = response_nonce ‖ chunk stream (wire/chunk_framing.h), chunk i sealed with nonce XOR I2OSP(i, Nn)
//
// The KDF and AEAD are the request's. A ResponseContext needs only (kdf, aead, enc, secret), so a process that did
// not see the request's HPKE context (a conformance driver, a gateway front end) can still answer.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/hpke.h"
#include "wire/chunk_framing.h"

namespace openpcc::wire {

// Response streams are a ChunkStreamSealer / PrefixedChunkOpener with the response nonce as prefix.
using ChunkedResponseSealer = ChunkStreamSealer;
using ChunkedResponseOpener = PrefixedChunkOpener;

// max(Nn, Nk) of the AEAD: the length of the exported secret and of the response nonce (16 for AES-128-GCM, 32 for
// AES-256-GCM and ChaCha20-Poly1305). kUnsupported for unknown or export-only AEADs.
Result<size_t> response_secret_size(crypto::AeadId aead);

class ResponseContext {
 public:
  // `secret` must be response_secret_size(aead) bytes. kUnsupported for unknown ids.
  static Result<ResponseContext> create(crypto::KdfId kdf, crypto::AeadId aead, ByteSpan enc, ByteSpan secret);

  ResponseContext(ResponseContext&&) = default;
  ResponseContext& operator=(ResponseContext&&) = default;
  ResponseContext clone() const;

  crypto::KdfId kdf() const { return kdf_.id(); }
  crypto::AeadId aead() const { return aead_; }
  ByteSpan enc() const { return enc_; }
  ByteSpan secret() const { return secret_; }
  size_t response_nonce_size() const { return secret_.size(); }

  // Unchunked: response_nonce ‖ ct with a fresh random nonce.
  Result<Bytes> seal(ByteSpan response) const;
  // The same with a given nonce (response_nonce_size() bytes) — for test vectors and conformance only: a repeated
  // nonce with the same secret reuses the AEAD key and nonce.
  Result<Bytes> seal_with_nonce_for_testing(ByteSpan response, ByteSpan response_nonce) const;
  // kTruncated if shorter than nonce + tag; kAuthenticationFailed on a bad tag.
  Result<Bytes> open(ByteSpan encapsulated_response) const;

  // Chunked, streaming. The sealer emits the nonce as its prefix.
  Result<ChunkedResponseSealer> chunked_sealer(const ChunkSealOptions& options = {}) const;
  Result<ChunkedResponseSealer> chunked_sealer_with_nonce_for_testing(ByteSpan response_nonce,
                                                                      const ChunkSealOptions& options = {}) const;
  ChunkedResponseOpener chunked_opener(const ChunkOpenLimits& limits = {}) const;

 private:
  ResponseContext(crypto::Hkdf kdf, crypto::AeadId aead, Bytes enc, SecretBytes secret)
      : kdf_(kdf), aead_(aead), enc_(std::move(enc)), secret_(std::move(secret)) {}
  // The keyed AEAD and base nonce for one response nonce.
  Result<std::unique_ptr<CounterNonceAead>> derive(ByteSpan response_nonce) const;

  crypto::Hkdf kdf_;
  crypto::AeadId aead_;
  Bytes enc_;
  SecretBytes secret_;
};

// What a request's HPKE context leaves behind for the response: enc and the exported secrets for an unchunked and
// a chunked response (which label applies is decided by the response's framing, known only when it is sent).
class ResponseSecrets {
 public:
  // Exports both secrets from `context` (any HPKE context of the request).
  static Result<ResponseSecrets> export_from(const crypto::HpkeContext& context, crypto::KdfId kdf,
                                             crypto::AeadId aead, ByteSpan enc, std::string_view unchunked_label,
                                             std::string_view chunked_label);

  ResponseSecrets(ResponseSecrets&&) = default;
  ResponseSecrets& operator=(ResponseSecrets&&) = default;
  ResponseSecrets clone() const { return ResponseSecrets(kdf_, aead_, enc_, unchunked_.clone(), chunked_.clone()); }

  ByteSpan enc() const { return enc_; }
  crypto::KdfId kdf() const { return kdf_; }
  crypto::AeadId aead() const { return aead_; }
  // The exported secret for a response of this framing.
  ByteSpan secret(Chunking response) const { return response == Chunking::kChunked ? chunked_ : unchunked_; }
  Result<ResponseContext> context(Chunking response) const;

 private:
  ResponseSecrets(crypto::KdfId kdf, crypto::AeadId aead, Bytes enc, SecretBytes unchunked, SecretBytes chunked)
      : kdf_(kdf), aead_(aead), enc_(std::move(enc)), unchunked_(std::move(unchunked)), chunked_(std::move(chunked)) {}

  crypto::KdfId kdf_;
  crypto::AeadId aead_;
  Bytes enc_;
  SecretBytes unchunked_;
  SecretBytes chunked_;
};

}  // namespace openpcc::wire
