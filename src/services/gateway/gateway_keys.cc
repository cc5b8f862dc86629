#include "services/gateway/gateway_keys.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/random.h"
#include "common/secure.h"
#include "services/common/key_files.h"

namespace openpcc::gateway {
namespace {

using wire::ohttp::KeyConfig;

// The seed at `path`, generated if the file does not exist. A seed another process stored first wins.
Result<SecretBytes> load_or_generate_seed(const std::filesystem::path& path) {
  auto seed = services::read_secret_file(path);
  if (!seed && seed.error().code == ErrorCode::kNotFound) {
    SecretBytes fresh(kKeySeedSize);
    fill_random(fresh.mutable_span());
    auto written = services::write_secret_file_atomically(path, fresh.span(), services::ExistingFile::kKeep);
    if (!written && written.error().code != ErrorCode::kConflict) {
      return std::unexpected(wrap_error("seed file " + path.string(), written.error()));
    }
    seed = services::read_secret_file(path);
  }
  if (!seed) return std::unexpected(wrap_error("seed file " + path.string(), seed.error()));
  if (seed->size() != kKeySeedSize) {
    return make_error(ErrorCode::kInvalidArgument, "seed file " + path.string() + " holds " +
                                                       std::to_string(seed->size()) + " bytes, not " +
                                                       std::to_string(kKeySeedSize));
  }
  return seed;
}

}  // namespace

Result<crypto::KemId> parse_kem_name(std::string_view name) {
  if (name == "x25519-kyber768") return crypto::KemId::kX25519Kyber768Draft00;
  if (name == "x25519") return crypto::KemId::kDhkemX25519HkdfSha256;
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown KEM \"" + std::string(name) + "\" (use x25519-kyber768 or x25519)");
}

std::string_view kem_name(crypto::KemId kem) {
  switch (kem) {
    case crypto::KemId::kX25519Kyber768Draft00: return "x25519-kyber768";
    case crypto::KemId::kDhkemX25519HkdfSha256: return "x25519";
    case crypto::KemId::kDhkemP256HkdfSha256: return "p256";
  }
  return "unknown";
}

Result<GatewayKeyMaterial> load_gateway_keys(std::span<const GatewayKeySpec> specs) {
  if (specs.empty()) return make_error(ErrorCode::kInvalidArgument, "gateway keys: no keys configured");
  GatewayKeyMaterial material;
  std::vector<KeyConfig> configs;
  for (const GatewayKeySpec& spec : specs) {
    const std::string which = "gateway key " + std::to_string(spec.key_id);
    for (const auto& p : material.periods) {
      if (p.key_id == spec.key_id) {
        return make_error(ErrorCode::kInvalidArgument, which + ": key id used twice (rotate to a new id)");
      }
    }
    if (spec.kem != crypto::KemId::kX25519Kyber768Draft00 && spec.kem != crypto::KemId::kDhkemX25519HkdfSha256) {
      return make_error(ErrorCode::kInvalidArgument, which + ": unsupported KEM (use x25519-kyber768 or x25519)");
    }
    if (spec.active_from >= spec.active_until) {
      return make_error(ErrorCode::kInvalidArgument, which + ": active_from must be before active_until");
    }
    auto seed = load_or_generate_seed(spec.seed_file);
    if (!seed) return std::unexpected(wrap_error(which, seed.error()));
    auto kem = crypto::Kem::create(spec.kem);
    if (!kem) return std::unexpected(wrap_error(which, kem.error()));
    auto key = kem->derive_key_pair(seed->span());
    if (!key) return std::unexpected(wrap_error(which, key.error()));
    KeyConfig config;
    config.key_id = spec.key_id;
    config.kem = spec.kem;
    const ByteSpan pk = (*key)->public_key();
    config.public_key.assign(pk.begin(), pk.end());
    config.algorithms = {kGatewayAlgorithm};
    std::shared_ptr<const crypto::KemPrivateKey> shared(std::move(*key));
    if (auto ok = material.keys.add(config, std::move(shared)); !ok) return std::unexpected(wrap_error(which, ok.error()));
    configs.push_back(std::move(config));
    material.periods.push_back(transparency::KeyRotationPeriod{spec.key_id, spec.active_from, spec.active_until});
  }
  auto encoded = wire::ohttp::encode_key_configs(configs);
  if (!encoded) return std::unexpected(wrap_error("gateway keys", encoded.error()));
  material.ohttp_keys = std::move(*encoded);
  return material;
}

transparency::Timestamp system_now() {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

bool is_active(const transparency::KeyRotationPeriod& period, transparency::Timestamp now) {
  return period.active_from < now && now <= period.active_until;
}

wire::ohttp::KeyFinder rotating_key_finder(std::shared_ptr<const GatewayKeyMaterial> material, Clock clock) {
  return [material = std::move(material), clock = std::move(clock)](const wire::ohttp::RequestHeader& header)
             -> wire::ohttp::OhttpResult<wire::ohttp::GatewayKey> {
    auto key = material->keys.find(header);
    if (!key) return key;
    const auto now = clock();
    for (const auto& period : material->periods) {
      if (period.key_id != header.key_id) continue;
      if (is_active(period, now)) return key;
      return wire::ohttp::make_ohttp_error(wire::ohttp::OhttpErrorCode::kInactiveKey, ErrorCode::kUnauthenticated,
                                           "gateway: key " + std::to_string(header.key_id) +
                                               " is outside its rotation period");
    }
    return wire::ohttp::make_ohttp_error(wire::ohttp::OhttpErrorCode::kKeyNotFound, ErrorCode::kNotFound,
                                         "gateway: key " + std::to_string(header.key_id) + " has no period");
  };
}

std::vector<KeyConfig> current_key_configs(const GatewayKeyMaterial& material, transparency::Timestamp now) {
  struct Listed {
    const KeyConfig* config;
    const transparency::KeyRotationPeriod* period;
    bool active;
    size_t index;  // config order breaks ties
  };
  std::vector<Listed> listed;
  for (size_t i = 0; i < material.keys.keys().size() && i < material.periods.size(); ++i) {
    const auto& period = material.periods[i];
    if (now > period.active_until) continue;
    listed.push_back(Listed{&material.keys.keys()[i].config, &period, is_active(period, now), i});
  }
  std::sort(listed.begin(), listed.end(), [](const Listed& a, const Listed& b) {
    if (a.active != b.active) return a.active;
    if (a.period->active_from != b.period->active_from) {
      return a.active ? a.period->active_from > b.period->active_from : a.period->active_from < b.period->active_from;
    }
    return a.index < b.index;
  });
  std::vector<KeyConfig> out;
  out.reserve(listed.size());
  for (const auto& l : listed) out.push_back(*l.config);
  return out;
}

}  // namespace openpcc::gateway
