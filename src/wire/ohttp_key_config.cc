#include "wire/ohttp_key_config.h"

#include <algorithm>
#include <string>

#include "common/byte_reader.h"

namespace openpcc::wire::ohttp {

namespace {

Status check_symmetric(SymmetricAlgorithm alg) {
  if (auto kdf = crypto::Hkdf::create(alg.kdf); !kdf) {
    return make_error(ErrorCode::kUnsupported, "unknown KDF " + hex_id(static_cast<uint16_t>(alg.kdf)));
  }
  if (alg.aead == crypto::AeadId::kExportOnly) {
    return make_error(ErrorCode::kUnsupported, "AEAD 0xffff is export-only and cannot carry messages");
  }
  if (auto sizes = crypto::aead_sizes(alg.aead); !sizes) {
    return make_error(ErrorCode::kUnsupported, "unknown AEAD " + hex_id(static_cast<uint16_t>(alg.aead)));
  }
  return {};
}

// Checks the KEM id and the public key (length and, via the KEM, validity).
Status check_kem_and_key(crypto::KemId kem_id, ByteSpan public_key) {
  auto kem = crypto::Kem::create(kem_id);
  if (!kem) return make_error(ErrorCode::kUnsupported, "unknown KEM " + hex_id(static_cast<uint16_t>(kem_id)));
  if (public_key.size() != kem->public_key_size()) {
    return make_error(ErrorCode::kDecode, "public key is " + std::to_string(public_key.size()) + " bytes, KEM " +
                                              hex_id(static_cast<uint16_t>(kem_id)) + " needs " +
                                              std::to_string(kem->public_key_size()));
  }
  if (auto pk = kem->deserialize_public_key(public_key); !pk) {
    return make_error(ErrorCode::kDecode, "public key rejected: " + pk.error().message);
  }
  return {};
}

Error in_config(Error e) { return wrap_error("ohttp key config", std::move(e)); }

}  // namespace

bool KeyConfig::accepts(SymmetricAlgorithm algorithm) const {
  return std::find(algorithms.begin(), algorithms.end(), algorithm) != algorithms.end();
}

Result<Bytes> encode_key_config(const KeyConfig& config) {
  auto invalid = [](const Error& e) {
    return make_error(ErrorCode::kInvalidArgument, "ohttp key config: " + e.message);
  };
  if (auto s = check_kem_and_key(config.kem, config.public_key); !s) return invalid(s.error());
  if (config.algorithms.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "ohttp key config: no symmetric algorithms");
  }
  if (config.algorithms.size() > 0xffff / 4) {
    return make_error(ErrorCode::kInvalidArgument, "ohttp key config: too many symmetric algorithms");
  }
  for (const auto& alg : config.algorithms) {
    if (auto s = check_symmetric(alg); !s) return invalid(s.error());
  }
  Bytes out;
  out.reserve(3 + config.public_key.size() + 2 + 4 * config.algorithms.size());
  append_u8(out, config.key_id);
  append_u16be(out, static_cast<uint16_t>(config.kem));
  append(out, config.public_key);
  append_u16be(out, static_cast<uint16_t>(4 * config.algorithms.size()));
  for (const auto& alg : config.algorithms) {
    append_u16be(out, static_cast<uint16_t>(alg.kdf));
    append_u16be(out, static_cast<uint16_t>(alg.aead));
  }
  return out;
}

Result<KeyConfig> parse_key_config(ByteSpan encoded) {
  ByteReader r(encoded);
  KeyConfig config;
  auto key_id = r.read_u8("key_id");
  if (!key_id) return std::unexpected(in_config(key_id.error()));
  config.key_id = *key_id;
  auto kem_id = r.read_u16be("kem_id");
  if (!kem_id) return std::unexpected(in_config(kem_id.error()));
  config.kem = static_cast<crypto::KemId>(*kem_id);
  auto kem = crypto::Kem::create(config.kem);
  if (!kem) {
    return make_error(ErrorCode::kUnsupported, "ohttp key config: unknown KEM " + hex_id(*kem_id));
  }
  auto pk = r.read_bytes(kem->public_key_size(), "public key");
  if (!pk) return std::unexpected(in_config(pk.error()));
  if (auto s = check_kem_and_key(config.kem, *pk); !s) return std::unexpected(in_config(s.error()));
  config.public_key.assign(pk->begin(), pk->end());

  auto algs_len = r.read_u16be("symmetric algorithms length");
  if (!algs_len) return std::unexpected(in_config(algs_len.error()));
  if (*algs_len == 0 || *algs_len % 4 != 0) {
    return make_error(ErrorCode::kDecode, "ohttp key config: symmetric algorithms length " +
                                              std::to_string(*algs_len) + " is not a non-zero multiple of 4");
  }
  auto algs = r.read_bytes(*algs_len, "symmetric algorithms");
  if (!algs) return std::unexpected(in_config(algs.error()));
  ByteReader ar(*algs);
  while (!ar.empty()) {
    SymmetricAlgorithm alg{static_cast<crypto::KdfId>(*ar.read_u16be("kdf_id")),
                           static_cast<crypto::AeadId>(*ar.read_u16be("aead_id"))};
    if (auto s = check_symmetric(alg); !s) return std::unexpected(in_config(s.error()));
    config.algorithms.push_back(alg);
  }
  if (!r.empty()) {
    return make_error(ErrorCode::kDecode,
                      "ohttp key config: " + std::to_string(r.remaining()) + " trailing bytes after the algorithms");
  }
  return config;
}

Result<Bytes> encode_key_configs(const std::vector<KeyConfig>& configs) {
  Bytes out;
  for (size_t i = 0; i < configs.size(); ++i) {
    auto one = encode_key_config(configs[i]);
    if (!one) return std::unexpected(wrap_error("ohttp-keys entry " + std::to_string(i), one.error()));
    if (one->size() > 0xffff) {
      return make_error(ErrorCode::kInvalidArgument,
                        "ohttp-keys entry " + std::to_string(i) + " is longer than 65535 bytes");
    }
    append_u16be(out, static_cast<uint16_t>(one->size()));
    append(out, *one);
  }
  return out;
}

Result<std::vector<KeyConfig>> parse_key_configs(ByteSpan encoded, bool skip_unsupported) {
  ByteReader r(encoded);
  std::vector<KeyConfig> out;
  for (size_t i = 0; !r.empty(); ++i) {
    const std::string what = "ohttp-keys entry " + std::to_string(i);
    auto len = r.read_u16be(what + " length");
    if (!len) return std::unexpected(len.error());
    if (*len == 0) return make_error(ErrorCode::kDecode, what + " is empty");
    auto body = r.read_bytes(*len, what);
    if (!body) return std::unexpected(body.error());
    auto config = parse_key_config(*body);
    if (!config) {
      if (skip_unsupported && config.error().code == ErrorCode::kUnsupported) continue;
      return std::unexpected(wrap_error(what, config.error()));
    }
    out.push_back(std::move(*config));
  }
  return out;
}

}  // namespace openpcc::wire::ohttp
