#include "wire/response_encryption.h"

#include <algorithm>

#include "common/random.h"

namespace openpcc::wire {

namespace {

constexpr std::string_view kKeyLabel = "key";
constexpr std::string_view kNonceLabel = "nonce";

}  // namespace

Result<size_t> response_secret_size(crypto::AeadId aead) {
  if (aead == crypto::AeadId::kExportOnly) {
    return make_error(ErrorCode::kUnsupported, "response: the export-only AEAD cannot seal responses");
  }
  auto sizes = crypto::aead_sizes(aead);
  if (!sizes) return std::unexpected(sizes.error());
  return std::max(sizes->key, sizes->nonce);
}

Result<ResponseContext> ResponseContext::create(crypto::KdfId kdf_id, crypto::AeadId aead, ByteSpan enc,
                                                ByteSpan secret) {
  auto kdf = crypto::Hkdf::create(kdf_id);
  if (!kdf) return std::unexpected(kdf.error());
  auto size = response_secret_size(aead);
  if (!size) return std::unexpected(size.error());
  if (secret.size() != *size) {
    return make_error(ErrorCode::kInvalidArgument, "response: the exported secret must be " + std::to_string(*size) +
                                                       " bytes for this AEAD, got " + std::to_string(secret.size()));
  }
  return ResponseContext(*kdf, aead, Bytes(enc.begin(), enc.end()), SecretBytes(secret));
}

ResponseContext ResponseContext::clone() const { return ResponseContext(kdf_, aead_, enc_, secret_.clone()); }

Result<std::unique_ptr<CounterNonceAead>> ResponseContext::derive(ByteSpan response_nonce) const {
  if (response_nonce.size() != response_nonce_size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "response: the response nonce must be " + std::to_string(response_nonce_size()) + " bytes");
  }
  auto sizes = crypto::aead_sizes(aead_);
  if (!sizes) return std::unexpected(sizes.error());
  const Bytes salt = concat({enc_, response_nonce});
  auto prk = kdf_.extract(salt, secret_);
  if (!prk) return std::unexpected(prk.error());
  auto key = kdf_.expand(*prk, as_bytes(kKeyLabel), sizes->key);
  if (!key) return std::unexpected(key.error());
  auto nonce = kdf_.expand(*prk, as_bytes(kNonceLabel), sizes->nonce);
  if (!nonce) return std::unexpected(nonce.error());
  return CounterNonceAead::create(aead_, *key, *nonce);
}

Result<Bytes> ResponseContext::seal(ByteSpan response) const {
  SecretBytes nonce(response_nonce_size());
  fill_random(nonce.mutable_span());
  return seal_with_nonce_for_testing(response, nonce);
}

Result<Bytes> ResponseContext::seal_with_nonce_for_testing(ByteSpan response, ByteSpan response_nonce) const {
  auto cipher = derive(response_nonce);
  if (!cipher) return std::unexpected(cipher.error());
  Bytes out;
  out.reserve(response_nonce.size() + response.size() + (*cipher)->tag_size());
  append(out, response_nonce);
  if (auto s = (*cipher)->seal_append({}, response, out); !s) return std::unexpected(s.error());
  return out;
}

Result<Bytes> ResponseContext::open(ByteSpan encapsulated_response) const {
  auto sizes = crypto::aead_sizes(aead_);
  if (!sizes) return std::unexpected(sizes.error());
  const size_t nonce_size = response_nonce_size();
  if (encapsulated_response.size() < nonce_size + sizes->tag) {
    return make_error(ErrorCode::kTruncated, "response: " + std::to_string(encapsulated_response.size()) +
                                                 " bytes is shorter than nonce and tag");
  }
  auto cipher = derive(encapsulated_response.first(nonce_size));
  if (!cipher) return std::unexpected(cipher.error());
  Bytes out;
  if (auto s = (*cipher)->open_append({}, encapsulated_response.subspan(nonce_size), out); !s) {
    return std::unexpected(wrap_error("response", s.error()));
  }
  return out;
}

Result<ChunkedResponseSealer> ResponseContext::chunked_sealer(const ChunkSealOptions& options) const {
  SecretBytes nonce(response_nonce_size());
  fill_random(nonce.mutable_span());
  return chunked_sealer_with_nonce_for_testing(nonce, options);
}

Result<ChunkedResponseSealer> ResponseContext::chunked_sealer_with_nonce_for_testing(
    ByteSpan response_nonce, const ChunkSealOptions& options) const {
  auto cipher = derive(response_nonce);
  if (!cipher) return std::unexpected(cipher.error());
  return ChunkStreamSealer::create(std::move(*cipher), Bytes(response_nonce.begin(), response_nonce.end()), options);
}

ChunkedResponseOpener ResponseContext::chunked_opener(const ChunkOpenLimits& limits) const {
  auto derive_for = [self = clone()](ByteSpan nonce) -> Result<std::unique_ptr<ChunkOpenCipher>> {
    auto cipher = self.derive(nonce);
    if (!cipher) return std::unexpected(cipher.error());
    return std::unique_ptr<ChunkOpenCipher>(std::move(*cipher));
  };
  return ChunkedResponseOpener(response_nonce_size(), std::move(derive_for), limits);
}

Result<ResponseSecrets> ResponseSecrets::export_from(const crypto::HpkeContext& context, crypto::KdfId kdf,
                                                     crypto::AeadId aead, ByteSpan enc,
                                                     std::string_view unchunked_label,
                                                     std::string_view chunked_label) {
  auto size = response_secret_size(aead);
  if (!size) return std::unexpected(size.error());
  auto unchunked = context.export_secret(as_bytes(unchunked_label), *size);
  if (!unchunked) return std::unexpected(unchunked.error());
  auto chunked = context.export_secret(as_bytes(chunked_label), *size);
  if (!chunked) return std::unexpected(chunked.error());
  return ResponseSecrets(kdf, aead, Bytes(enc.begin(), enc.end()), std::move(*unchunked), std::move(*chunked));
}

Result<ResponseContext> ResponseSecrets::context(Chunking response) const {
  return ResponseContext::create(kdf_, aead_, enc_, secret(response));
}

}  // namespace openpcc::wire
