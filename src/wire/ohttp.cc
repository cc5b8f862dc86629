#include "wire/ohttp.h"

#include <algorithm>
#include <string>

#include "common/byte_reader.h"
#include "wire/ohttp_internal.h"

namespace openpcc::wire::ohttp {

namespace {

std::string describe(const RequestHeader& h) {
  return "key id " + std::to_string(h.key_id) + ", KEM " + hex_id(static_cast<uint16_t>(h.kem)) + ", KDF " +
         hex_id(static_cast<uint16_t>(h.kdf)) + ", AEAD " + hex_id(static_cast<uint16_t>(h.aead));
}

Result<crypto::Hpke> hpke_for(const RequestHeader& h) { return crypto::Hpke::create({h.kem, h.kdf, h.aead}); }

}  // namespace

namespace {
constexpr ChunkingNames kRequestMediaTypes{kRequestMediaType, kChunkedRequestMediaType};
constexpr ChunkingNames kResponseMediaTypes{kResponseMediaType, kChunkedResponseMediaType};
constexpr ChunkingNames kRequestLabels{kRequestLabel, kChunkedRequestLabel};
constexpr ChunkingNames kResponseLabels{kResponseLabel, kChunkedResponseLabel};
}  // namespace

std::string_view request_media_type(Chunking c) { return kRequestMediaTypes.name(c); }
std::string_view response_media_type(Chunking c) { return kResponseMediaTypes.name(c); }
std::string_view request_label(Chunking c) { return kRequestLabels.name(c); }
std::string_view response_label(Chunking c) { return kResponseLabels.name(c); }
std::optional<Chunking> request_chunking(std::string_view content_type) {
  return kRequestMediaTypes.chunking_of(content_type);
}
std::optional<Chunking> response_chunking(std::string_view content_type) {
  return kResponseMediaTypes.chunking_of(content_type);
}

// ---- RequestHeader -------------------------------------------------------------------------------------------------

std::array<uint8_t, kRequestHeaderSize> RequestHeader::encode() const {
  const auto kem_v = static_cast<uint16_t>(kem);
  const auto kdf_v = static_cast<uint16_t>(kdf);
  const auto aead_v = static_cast<uint16_t>(aead);
  return {key_id,
          static_cast<uint8_t>(kem_v >> 8),  static_cast<uint8_t>(kem_v),
          static_cast<uint8_t>(kdf_v >> 8),  static_cast<uint8_t>(kdf_v),
          static_cast<uint8_t>(aead_v >> 8), static_cast<uint8_t>(aead_v)};
}

Result<RequestHeader> RequestHeader::parse(ByteSpan bytes) {
  if (bytes.size() < kRequestHeaderSize) {
    return make_error(ErrorCode::kTruncated, "ohttp request header: need 7 bytes, have " +
                                                 std::to_string(bytes.size()));
  }
  ByteReader r(bytes.first(kRequestHeaderSize));
  RequestHeader h;
  h.key_id = *r.read_u8("key_id");
  h.kem = static_cast<crypto::KemId>(*r.read_u16be("kem_id"));
  h.kdf = static_cast<crypto::KdfId>(*r.read_u16be("kdf_id"));
  h.aead = static_cast<crypto::AeadId>(*r.read_u16be("aead_id"));
  if (!crypto::Kem::create(h.kem)) {
    return make_error(ErrorCode::kUnsupported,
                      "ohttp request header: unknown KEM " + hex_id(static_cast<uint16_t>(h.kem)));
  }
  if (!crypto::Hkdf::create(h.kdf)) {
    return make_error(ErrorCode::kUnsupported,
                      "ohttp request header: unknown KDF " + hex_id(static_cast<uint16_t>(h.kdf)));
  }
  if (h.aead == crypto::AeadId::kExportOnly || !crypto::aead_sizes(h.aead)) {
    return make_error(ErrorCode::kUnsupported,
                      "ohttp request header: unusable AEAD " + hex_id(static_cast<uint16_t>(h.aead)));
  }
  return h;
}

Bytes request_info(Chunking chunking, const RequestHeader& header) {
  const auto hdr = header.encode();
  const std::string_view label = request_label(chunking);
  Bytes info;
  info.reserve(label.size() + 1 + hdr.size());
  append(info, as_bytes(label));
  info.push_back(0x00);
  append(info, hdr);
  return info;
}

// ---- Client -------------------------------------------------------------------------------------------------------

namespace internal {

Result<ClientSetup> setup_client(const KeyConfig& key_config, Chunking chunking, const EncapsulateOptions& options) {
  if (key_config.algorithms.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "ohttp: the key config lists no symmetric algorithms");
  }
  const SymmetricAlgorithm alg = options.algorithm.value_or(key_config.algorithms.front());
  if (!key_config.accepts(alg)) {
    return make_error(ErrorCode::kInvalidArgument, "ohttp: the key config does not list KDF " +
                                                       hex_id(static_cast<uint16_t>(alg.kdf)) + " with AEAD " +
                                                       hex_id(static_cast<uint16_t>(alg.aead)));
  }
  RequestHeader header{key_config.key_id, key_config.kem, alg.kdf, alg.aead};
  if (alg.aead == crypto::AeadId::kExportOnly) {
    return make_error(ErrorCode::kUnsupported, "ohttp: the export-only AEAD cannot seal requests");
  }
  auto hpke = hpke_for(header);
  if (!hpke) return std::unexpected(wrap_error("ohttp", hpke.error()));
  auto pk = hpke->kem().deserialize_public_key(key_config.public_key);
  if (!pk) return std::unexpected(wrap_error("ohttp key config public key", pk.error()));
  crypto::HpkeSenderOptions sender_options;
  sender_options.ephemeral = options.ephemeral_for_testing;
  auto context = hpke->setup_sender(*pk, request_info(chunking, header), sender_options);
  if (!context) return std::unexpected(wrap_error("ohttp", context.error()));
  auto secrets = ResponseSecrets::export_from(*context, alg.kdf, alg.aead, context->enc(), kResponseLabel,
                                              kChunkedResponseLabel);
  if (!secrets) return std::unexpected(wrap_error("ohttp", secrets.error()));
  return ClientSetup{header, std::move(*context), std::move(*secrets)};
}

}  // namespace internal

Result<EncapsulatedRequest> encapsulate_request(const KeyConfig& key_config, ByteSpan bhttp,
                                                const EncapsulateOptions& options) {
  auto setup = internal::setup_client(key_config, Chunking::kUnchunked, options);
  if (!setup) return std::unexpected(setup.error());
  const auto hdr = setup->header.encode();
  Bytes out;
  out.reserve(hdr.size() + setup->context.enc().size() + bhttp.size() + setup->context.tag_size());
  append(out, hdr);
  append(out, setup->context.enc());
  if (auto s = setup->context.seal_append({}, bhttp, out); !s) return std::unexpected(wrap_error("ohttp", s.error()));
  return EncapsulatedRequest{std::move(out), std::move(setup->response_secrets)};
}

// ---- Gateway ------------------------------------------------------------------------------------------------------

Status GatewayKeySet::add(KeyConfig config, std::shared_ptr<const crypto::KemPrivateKey> private_key) {
  if (auto encoded = encode_key_config(config); !encoded) return std::unexpected(encoded.error());
  if (!private_key) return make_error(ErrorCode::kInvalidArgument, "ohttp gateway key: no private key");
  if (private_key->kem_id() != config.kem) {
    return make_error(ErrorCode::kInvalidArgument, "ohttp gateway key: the private key is for another KEM");
  }
  if (!std::ranges::equal(private_key->public_key(), config.public_key)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ohttp gateway key: the private key does not match the config's public key");
  }
  for (const auto& k : keys_) {
    if (k.config.key_id == config.key_id && k.config.kem == config.kem) {
      return make_error(ErrorCode::kInvalidArgument, "ohttp gateway key: key id " + std::to_string(config.key_id) +
                                                         " is already in use for this KEM");
    }
  }
  keys_.push_back(GatewayKey{std::move(config), std::move(private_key)});
  return {};
}

OhttpResult<GatewayKey> GatewayKeySet::find(const RequestHeader& header) const {
  for (const auto& k : keys_) {
    if (k.config.key_id != header.key_id || k.config.kem != header.kem) continue;
    if (!k.config.accepts(header.algorithm())) {
      return make_ohttp_error(OhttpErrorCode::kInvalidKey, ErrorCode::kUnsupported,
                              "ohttp: the key does not accept the request's algorithms (" + describe(header) + ")");
    }
    return k;
  }
  return make_ohttp_error(OhttpErrorCode::kKeyNotFound, ErrorCode::kNotFound,
                          "ohttp: no key for the request (" + describe(header) + ")");
}

Result<Bytes> GatewayKeySet::encode_key_configs() const {
  std::vector<KeyConfig> configs;
  configs.reserve(keys_.size());
  for (const auto& k : keys_) configs.push_back(k.config);
  return ohttp::encode_key_configs(configs);
}

namespace internal {

OhttpResult<std::pair<RequestHeader, GatewayKey>> find_key(const KeyFinder& keys, ByteSpan prefix) {
  auto header = RequestHeader::parse(prefix);
  if (!header) return make_ohttp_error(OhttpErrorCode::kInvalidRequestHeader, header.error());
  auto key = keys(*header);
  if (!key) return std::unexpected(key.error());
  if (!key->private_key || key->private_key->kem_id() != header->kem) {
    return make_ohttp_error(OhttpErrorCode::kInvalidKey, ErrorCode::kInternal,
                            "ohttp: the key finder returned a key for another KEM");
  }
  return std::pair{*header, std::move(*key)};
}

size_t enc_size(const RequestHeader& header) {
  auto kem = crypto::Kem::create(header.kem);
  return kem ? kem->enc_size() : 0;
}

OhttpResult<GatewaySetup> setup_gateway(const RequestHeader& header, const GatewayKey& key, ByteSpan enc,
                                        Chunking chunking) {
  auto decoding_error = [](std::string_view what, const Error& e) {
    return make_ohttp_error(OhttpErrorCode::kRequestDecoding, wrap_error(what, e));
  };
  auto hpke = hpke_for(header);
  if (!hpke) return decoding_error("ohttp", hpke.error());
  auto context = hpke->setup_recipient(enc, *key.private_key, request_info(chunking, header));
  if (!context) return decoding_error("ohttp request enc", context.error());
  auto secrets = ResponseSecrets::export_from(*context, header.kdf, header.aead, enc, kResponseLabel,
                                              kChunkedResponseLabel);
  if (!secrets) return decoding_error("ohttp", secrets.error());
  return GatewaySetup{std::move(*context), std::move(*secrets)};
}

}  // namespace internal

OhttpResult<DecapsulatedRequest> decapsulate_request(const KeyFinder& keys, ByteSpan request) {
  auto found = internal::find_key(keys, request);
  if (!found) return std::unexpected(found.error());
  auto& [header, key] = *found;
  const size_t nenc = internal::enc_size(header);
  ByteSpan rest = request.subspan(kRequestHeaderSize);
  if (rest.size() < nenc) {
    return make_ohttp_error(OhttpErrorCode::kRequestDecoding, ErrorCode::kTruncated,
                            "ohttp request: enc needs " + std::to_string(nenc) + " bytes, have " +
                                std::to_string(rest.size()));
  }
  auto setup = internal::setup_gateway(header, key, rest.first(nenc), Chunking::kUnchunked);
  if (!setup) return std::unexpected(setup.error());
  ByteSpan ciphertext = rest.subspan(nenc);
  if (ciphertext.size() < setup->context.tag_size()) {
    return make_ohttp_error(OhttpErrorCode::kRequestDecoding, ErrorCode::kTruncated,
                            "ohttp request: ciphertext shorter than the AEAD tag");
  }
  auto bhttp = setup->context.open({}, ciphertext);
  if (!bhttp) return make_ohttp_error(OhttpErrorCode::kRequestDecoding, wrap_error("ohttp request", bhttp.error()));
  return DecapsulatedRequest{header, std::move(*bhttp), std::move(setup->response_secrets)};
}

OhttpResult<DecapsulatedRequest> decapsulate_request(const GatewayKeySet& keys, ByteSpan request) {
  return decapsulate_request(KeyFinder([&keys](const RequestHeader& h) { return keys.find(h); }), request);
}

}  // namespace openpcc::wire::ohttp
