// The AEADs behind a chunked stream: each chunk is sealed/opened with the next nonce of a sequence, so reordering,
// dropping or replaying chunks fails authentication.
//
// Two nonce sequences exist, with the same formula nonce_i = base_nonce XOR I2OSP(i, Nn) (i counts from 0 and
// includes the final chunk):
//   * an HPKE context's own sequence (chunked OHTTP requests: the sender's/recipient's context);
//   * CounterNonceAead: an AEAD key and a base nonce (chunked OHTTP and compute responses, the compute-request body).
//
// The framing (wire/chunk_framing.h) only sees these interfaces. One cipher object serves one direction of one
// stream; none is for concurrent use.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/aead.h"
#include "crypto/hpke.h"

namespace openpcc::wire {

class ChunkSealCipher {
 public:
  virtual ~ChunkSealCipher() = default;
  // Seals with the next nonce, appending plaintext.size() + tag_size() bytes; `plaintext` must not point into
  // `out`. kLimitExceeded once the sequence is exhausted (the nonce would repeat).
  virtual Status seal_append(ByteSpan aad, ByteSpan plaintext, Bytes& out) = 0;
  virtual size_t tag_size() const = 0;
};

class ChunkOpenCipher {
 public:
  virtual ~ChunkOpenCipher() = default;
  // Opens with the next nonce (advancing only on success), appending the plaintext; on failure `out` is unchanged.
  virtual Status open_append(ByteSpan aad, ByteSpan ciphertext, Bytes& out) = 0;
  virtual size_t tag_size() const = 0;
};

// An AEAD key with a base nonce and a 64-bit counter: chunk i uses base_nonce XOR I2OSP(i, Nn). The counter stops
// at 2^64 - 1 (kLimitExceeded) rather than wrap: a smaller bound than the Nn-byte counter allows, never reached.
class CounterNonceAead final : public ChunkSealCipher, public ChunkOpenCipher {
 public:
  // `key` of Nk bytes and `base_nonce` of Nn bytes for `aead` (not export-only).
  static Result<std::unique_ptr<CounterNonceAead>> create(crypto::AeadId aead, ByteSpan key, ByteSpan base_nonce);

  Status seal_append(ByteSpan aad, ByteSpan plaintext, Bytes& out) override;
  Status open_append(ByteSpan aad, ByteSpan ciphertext, Bytes& out) override;
  size_t tag_size() const override { return aead_.tag_size(); }

  uint64_t counter() const { return counter_; }
  // Testing hook: jump the counter, e.g. to exercise exhaustion.
  void set_counter_for_testing(uint64_t counter) { counter_ = counter; }

  // Only create() can make the passkey, so only create() constructs.
  class Passkey {
    friend class CounterNonceAead;
    Passkey() = default;
  };
  CounterNonceAead(Passkey, crypto::Aead aead, SecretBytes base_nonce)
      : aead_(std::move(aead)), base_nonce_(std::move(base_nonce)) {}

 private:
  static constexpr size_t kMaxNonceSize = 12;  // Nn of every AEAD HPKE defines
  Status next_nonce(std::array<uint8_t, kMaxNonceSize>& nonce) const;

  crypto::Aead aead_;
  SecretBytes base_nonce_;
  uint64_t counter_ = 0;
};

// Adapters that make an HPKE context's seal/open sequence a chunk cipher (they own the context).
std::unique_ptr<ChunkSealCipher> make_hpke_chunk_sealer(crypto::SenderContext context);
std::unique_ptr<ChunkOpenCipher> make_hpke_chunk_opener(crypto::RecipientContext context);

}  // namespace openpcc::wire
