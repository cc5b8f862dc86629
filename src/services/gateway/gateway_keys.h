// The gateway's OHTTP keys: each derived from a 32-byte seed file (generated on first use), published with a
// rotation period, and accepted only inside that period.
//
//   auto material = load_gateway_keys(specs);          // seeds → key pairs, application/ohttp-keys, periods
//   auto finder = rotating_key_finder(material, system_now);   // for decapsulation: inactive key → 103
//   auto listed = current_key_configs(*material, now);        // what GET /ohttp-keys serves
//
// A publisher (`openpcc gateway keys`) writes material.ohttp_keys and the periods' JSON; `openpcc tlog publish`
// turns them into the signed statement that clients verify. Periods follow the reference: a key is active when
// active_from < now ≤ active_until, and clients use the active key with the latest active_from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/kem.h"
#include "transparency/predicates.h"
#include "wire/ohttp.h"
#include "wire/ohttp_key_config.h"

namespace openpcc::gateway {

inline constexpr size_t kKeySeedSize = 32;
// The one (KDF, AEAD) pair every gateway key lists: the reference's suite.
inline constexpr wire::ohttp::SymmetricAlgorithm kGatewayAlgorithm{crypto::KdfId::kHkdfSha256,
                                                                   crypto::AeadId::kAes128Gcm};

struct GatewayKeySpec {
  uint8_t key_id = 1;
  crypto::KemId kem = crypto::KemId::kX25519Kyber768Draft00;  // or kDhkemX25519HkdfSha256
  std::filesystem::path seed_file;                             // 32 bytes, mode 0600; generated if missing
  transparency::Timestamp active_from;
  transparency::Timestamp active_until;
};

struct GatewayKeyMaterial {
  wire::ohttp::GatewayKeySet keys;                        // in spec order
  Bytes ohttp_keys;                                       // application/ohttp-keys of every key, in spec order
  std::vector<transparency::KeyRotationPeriod> periods;   // one per key, in spec order
};

// Config names of the supported KEMs: "x25519-kyber768" (X25519Kyber768Draft00, the default) and "x25519".
Result<crypto::KemId> parse_kem_name(std::string_view name);
std::string_view kem_name(crypto::KemId kem);

// Reads each seed (generating a missing one: fresh random bytes, mode 0600, never replacing a file another process
// wrote first), derives the key pair (Kem::derive_key_pair) and builds the configs. kInvalidArgument for no keys,
// duplicate key ids, unsupported KEMs, seeds of another size or periods with active_from ≥ active_until; the
// key_files errors for unreadable seeds (e.g. a mode others can read).
Result<GatewayKeyMaterial> load_gateway_keys(std::span<const GatewayKeySpec> specs);

using Clock = std::function<transparency::Timestamp()>;
transparency::Timestamp system_now();

// Whether the reference would use the key now: active_from < now ≤ active_until.
bool is_active(const transparency::KeyRotationPeriod& period, transparency::Timestamp now);

// Looks a request's key up in material->keys (KeyNotFound 101 / InvalidKey 102), then checks its period at clock():
// outside it → InactiveKey (103).
wire::ohttp::KeyFinder rotating_key_finder(std::shared_ptr<const GatewayKeyMaterial> material, Clock clock);

// The configs of keys whose period has not ended at `now` (now ≤ active_until): the active ones first, latest
// active_from first (so a client taking the first one uses the right key), then the future ones, earliest first.
std::vector<wire::ohttp::KeyConfig> current_key_configs(const GatewayKeyMaterial& material,
                                                        transparency::Timestamp now);

}  // namespace openpcc::gateway
