#include "wire/compute_request.h"

#include <algorithm>
#include <memory>

#include "common/random.h"

namespace openpcc::wire::compute {

namespace {

Result<crypto::Hpke> key_wrap_hpke() { return crypto::Hpke::create(kKeyWrapSuite); }

Result<ResponseSecrets> export_response_secrets(const crypto::HpkeContext& context, ByteSpan enc) {
  return ResponseSecrets::export_from(context, kKeyWrapSuite.kdf, kKeyWrapSuite.aead, enc, kResponseMediaType,
                                      kChunkedResponseMediaType);
}

Result<std::unique_ptr<CounterNonceAead>> body_cipher(ByteSpan dek, ByteSpan body_nonce) {
  return CounterNonceAead::create(kBodyAead, dek, body_nonce);
}

}  // namespace

namespace {
constexpr ChunkingNames kRequestMediaTypes{kRequestMediaType, kChunkedRequestMediaType};
constexpr ChunkingNames kResponseMediaTypes{kResponseMediaType, kChunkedResponseMediaType};
}  // namespace

std::string_view request_media_type(Chunking c) { return kRequestMediaTypes.name(c); }
std::string_view response_media_type(Chunking c) { return kResponseMediaTypes.name(c); }
std::optional<Chunking> request_chunking(std::string_view content_type) {
  return kRequestMediaTypes.chunking_of(content_type);
}
std::optional<Chunking> response_chunking(std::string_view content_type) {
  return kResponseMediaTypes.chunking_of(content_type);
}

Bytes key_wrap_header() {
  Bytes hdr;
  append_u8(hdr, kKeyId);
  append_u16be(hdr, static_cast<uint16_t>(kKeyWrapSuite.kem));
  append_u16be(hdr, static_cast<uint16_t>(kKeyWrapSuite.kdf));
  append_u16be(hdr, static_cast<uint16_t>(kKeyWrapSuite.aead));
  return hdr;
}

Bytes key_wrap_info(Chunking request) {
  const std::string_view media_type = request_media_type(request);
  Bytes info(media_type.begin(), media_type.end());
  info.push_back(0x00);
  append(info, key_wrap_header());
  return info;
}

// ---- RequestSender -------------------------------------------------------------------------------------------------

Result<RequestSender> RequestSender::create(Chunking chunking) {
  SecretBytes dek(kDekSize);
  fill_random(dek.mutable_span());
  return RequestSender(chunking, std::move(dek), random_bytes(kBodyNonceSize));
}

Result<RequestSender> RequestSender::create_for_testing(Chunking chunking, ByteSpan dek, ByteSpan body_nonce) {
  if (dek.size() != kDekSize || body_nonce.size() != kBodyNonceSize) {
    return make_error(ErrorCode::kInvalidArgument, "compute request: the DEK must be 32 bytes and the nonce 12");
  }
  return RequestSender(chunking, SecretBytes(dek), Bytes(body_nonce.begin(), body_nonce.end()));
}

Result<WrappedKey> RequestSender::wrap_key(const crypto::KemPublicKey& node_key) const {
  return wrap_key_for_testing(node_key, {});
}

Result<WrappedKey> RequestSender::wrap_key_for_testing(const crypto::KemPublicKey& node_key,
                                                       const crypto::EncapOptions& ephemeral) const {
  if (node_key.kem_id() != kKeyWrapSuite.kem) {
    return make_error(ErrorCode::kInvalidArgument, "compute request: node keys must be DHKEM(P-256, HKDF-SHA256)");
  }
  auto hpke = key_wrap_hpke();
  if (!hpke) return std::unexpected(hpke.error());
  crypto::HpkeSenderOptions options;
  options.ephemeral = ephemeral;
  auto context = hpke->setup_sender(node_key, key_wrap_info(chunking_), options);
  if (!context) return std::unexpected(wrap_error("compute request key wrap", context.error()));
  Bytes out = key_wrap_header();
  out.reserve(kEncapsulatedKeySize);
  append(out, context->enc());
  if (auto s = context->seal_append(as_bytes(kKeyWrapAad), dek_, out); !s) {
    return std::unexpected(wrap_error("compute request key wrap", s.error()));
  }
  auto secrets = export_response_secrets(*context, context->enc());
  if (!secrets) return std::unexpected(secrets.error());
  return WrappedKey{std::move(out), std::move(*secrets)};
}

Status RequestSender::use_body(Chunking expected) {
  if (chunking_ != expected) {
    return make_error(ErrorCode::kInvalidArgument, chunking_ == Chunking::kChunked
                                                       ? "compute request: a chunked sender needs chunked_body_sealer()"
                                                       : "compute request: an unchunked sender needs seal_body()");
  }
  if (body_used_) {
    return make_error(ErrorCode::kInvalidArgument, "compute request: the body has already been sealed");
  }
  body_used_ = true;
  return {};
}

Result<Bytes> RequestSender::seal_body(ByteSpan bhttp) {
  if (auto s = use_body(Chunking::kUnchunked); !s) return std::unexpected(s.error());
  auto cipher = body_cipher(dek_, body_nonce_);
  if (!cipher) return std::unexpected(cipher.error());
  Bytes out;
  out.reserve(kBodyNonceSize + bhttp.size() + (*cipher)->tag_size());
  append(out, body_nonce_);
  if (auto s = (*cipher)->seal_append({}, bhttp, out); !s) return std::unexpected(s.error());
  return out;
}

Result<ChunkStreamSealer> RequestSender::chunked_body_sealer(const ChunkSealOptions& options) {
  if (auto s = use_body(Chunking::kChunked); !s) return std::unexpected(s.error());
  auto cipher = body_cipher(dek_, body_nonce_);
  if (!cipher) return std::unexpected(cipher.error());
  return ChunkStreamSealer::create(std::move(*cipher), body_nonce_, options);
}

// ---- RequestReceiver -----------------------------------------------------------------------------------------------

Result<RequestReceiver> RequestReceiver::unwrap_key(ByteSpan encapsulated_key, const crypto::KemPrivateKey& node_key,
                                                    Chunking request_chunking) {
  if (encapsulated_key.size() != kEncapsulatedKeySize) {
    return make_error(ErrorCode::kDecode, "compute request: the encapsulated key must be 120 bytes, got " +
                                              std::to_string(encapsulated_key.size()));
  }
  const Bytes expected_header = key_wrap_header();
  if (!std::ranges::equal(encapsulated_key.first(kHeaderSize), expected_header)) {
    return make_error(ErrorCode::kDecode,
                      "compute request: the encapsulated key's header is not key id 0 with P-256/HKDF-SHA256/AES-128-GCM");
  }
  if (node_key.kem_id() != kKeyWrapSuite.kem) {
    return make_error(ErrorCode::kInvalidArgument, "compute request: the node key must be DHKEM(P-256, HKDF-SHA256)");
  }
  ByteSpan enc = encapsulated_key.subspan(kHeaderSize, kEncSize);
  ByteSpan wrapped = encapsulated_key.subspan(kHeaderSize + kEncSize);
  auto hpke = key_wrap_hpke();
  if (!hpke) return std::unexpected(hpke.error());
  auto context = hpke->setup_recipient(enc, node_key, key_wrap_info(request_chunking));
  if (!context) return std::unexpected(wrap_error("compute request key unwrap", context.error()));
  Bytes opened;
  opened.reserve(kDekSize);
  if (auto s = context->open_append(as_bytes(kKeyWrapAad), wrapped, opened); !s) {
    return std::unexpected(wrap_error("compute request key unwrap", s.error()));
  }
  SecretBytes dek(opened);
  secure_wipe(opened.data(), opened.size());
  auto secrets = export_response_secrets(*context, enc);
  if (!secrets) return std::unexpected(secrets.error());
  return RequestReceiver(request_chunking, std::move(dek), std::move(*secrets));
}

Result<Bytes> RequestReceiver::open_body(ByteSpan body) const {
  if (chunking_ != Chunking::kUnchunked) {
    return make_error(ErrorCode::kInvalidArgument, "compute request: a chunked body needs chunked_body_opener()");
  }
  if (body.size() < kBodyNonceSize + 16) {
    return make_error(ErrorCode::kTruncated, "compute request: the body is shorter than nonce and tag");
  }
  auto cipher = body_cipher(dek_, body.first(kBodyNonceSize));
  if (!cipher) return std::unexpected(cipher.error());
  Bytes out;
  if (auto s = (*cipher)->open_append({}, body.subspan(kBodyNonceSize), out); !s) {
    return std::unexpected(wrap_error("compute request body", s.error()));
  }
  return out;
}

Result<PrefixedChunkOpener> RequestReceiver::chunked_body_opener(const ChunkOpenLimits& limits) const {
  if (chunking_ != Chunking::kChunked) {
    return make_error(ErrorCode::kInvalidArgument, "compute request: an unchunked body needs open_body()");
  }
  auto make_cipher = [dek = dek_.clone()](ByteSpan nonce) -> Result<std::unique_ptr<ChunkOpenCipher>> {
    auto cipher = body_cipher(dek, nonce);
    if (!cipher) return std::unexpected(cipher.error());
    return std::unique_ptr<ChunkOpenCipher>(std::move(*cipher));
  };
  return PrefixedChunkOpener(kBodyNonceSize, std::move(make_cipher), limits);
}

}  // namespace openpcc::wire::compute
