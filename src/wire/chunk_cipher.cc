#include "wire/chunk_cipher.h"

#include <algorithm>
#include <limits>

namespace openpcc::wire {

namespace {

class HpkeChunkSealer final : public ChunkSealCipher {
 public:
  explicit HpkeChunkSealer(crypto::SenderContext context) : context_(std::move(context)) {}
  Status seal_append(ByteSpan aad, ByteSpan plaintext, Bytes& out) override {
    return context_.seal_append(aad, plaintext, out);
  }
  size_t tag_size() const override { return context_.tag_size(); }

 private:
  crypto::SenderContext context_;
};

class HpkeChunkOpener final : public ChunkOpenCipher {
 public:
  explicit HpkeChunkOpener(crypto::RecipientContext context) : context_(std::move(context)) {}
  Status open_append(ByteSpan aad, ByteSpan ciphertext, Bytes& out) override {
    return context_.open_append(aad, ciphertext, out);
  }
  size_t tag_size() const override { return context_.tag_size(); }

 private:
  crypto::RecipientContext context_;
};

}  // namespace

Result<std::unique_ptr<CounterNonceAead>> CounterNonceAead::create(crypto::AeadId aead_id, ByteSpan key,
                                                                   ByteSpan base_nonce) {
  if (aead_id == crypto::AeadId::kExportOnly) {
    return make_error(ErrorCode::kUnsupported, "chunk cipher: the export-only AEAD cannot seal");
  }
  auto aead = crypto::Aead::create(aead_id, key);
  if (!aead) return std::unexpected(aead.error());
  if (base_nonce.size() != aead->nonce_size() || base_nonce.size() > kMaxNonceSize) {
    return make_error(ErrorCode::kInvalidArgument, "chunk cipher: base nonce must be " +
                                                       std::to_string(aead->nonce_size()) + " bytes");
  }
  return std::make_unique<CounterNonceAead>(Passkey(), std::move(*aead), SecretBytes(base_nonce));
}

Status CounterNonceAead::next_nonce(std::array<uint8_t, kMaxNonceSize>& nonce) const {
  if (counter_ == std::numeric_limits<uint64_t>::max()) {
    return make_error(ErrorCode::kLimitExceeded, "chunk cipher: nonce counter exhausted");
  }
  const size_t nn = base_nonce_.size();
  std::copy_n(base_nonce_.data(), nn, nonce.begin());
  // XOR the big-endian counter into the low-order bytes (Nn >= 8 for every AEAD here).
  for (size_t i = 0; i < sizeof(uint64_t) && i < nn; ++i) {
    nonce[nn - 1 - i] ^= static_cast<uint8_t>(counter_ >> (8 * i));
  }
  return {};
}

Status CounterNonceAead::seal_append(ByteSpan aad, ByteSpan plaintext, Bytes& out) {
  std::array<uint8_t, kMaxNonceSize> nonce;
  if (auto s = next_nonce(nonce); !s) return s;
  if (auto s = aead_.seal_append(ByteSpan(nonce.data(), base_nonce_.size()), aad, plaintext, out); !s) return s;
  ++counter_;
  return {};
}

Status CounterNonceAead::open_append(ByteSpan aad, ByteSpan ciphertext, Bytes& out) {
  std::array<uint8_t, kMaxNonceSize> nonce;
  if (auto s = next_nonce(nonce); !s) return s;
  if (auto s = aead_.open_append(ByteSpan(nonce.data(), base_nonce_.size()), aad, ciphertext, out); !s) return s;
  ++counter_;
  return {};
}

std::unique_ptr<ChunkSealCipher> make_hpke_chunk_sealer(crypto::SenderContext context) {
  return std::make_unique<HpkeChunkSealer>(std::move(context));
}

std::unique_ptr<ChunkOpenCipher> make_hpke_chunk_opener(crypto::RecipientContext context) {
  return std::make_unique<HpkeChunkOpener>(std::move(context));
}

}  // namespace openpcc::wire
