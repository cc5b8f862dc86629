// Oblivious HTTP key configurations (RFC 9458 §3) and the application/ohttp-keys list format (§3.2).
//
//   KeyConfig    = key_id(1) ‖ kem_id(2) ‖ public_key(Npk) ‖ algs_len(2) ‖ (kdf_id(2) ‖ aead_id(2))*
//   ohttp-keys   = (u16 length ‖ KeyConfig)*
//
//   auto config = parse_key_config(bytes);          // validated: known ids, exact Npk, valid public key
//   Bytes again = encode_key_config(*config).value();
//
// All integers are big-endian. parse_* reject (with an error naming the field): unknown KEM (kUnsupported), a
// public key of the wrong length or that the KEM rejects (kDecode), an algorithms length that is zero or not a
// multiple of 4 (kDecode), unknown KDF/AEAD ids or the export-only AEAD, which cannot seal (kUnsupported), input
// that ends early (kTruncated) and trailing bytes (kDecode).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/kem.h"

namespace openpcc::wire::ohttp {

inline constexpr std::string_view kKeysMediaType = "application/ohttp-keys";

// One (KDF, AEAD) pair a key configuration accepts.
struct SymmetricAlgorithm {
  crypto::KdfId kdf;
  crypto::AeadId aead;
  bool operator==(const SymmetricAlgorithm&) const = default;
};

struct KeyConfig {
  uint8_t key_id = 0;
  crypto::KemId kem = crypto::KemId::kDhkemX25519HkdfSha256;
  Bytes public_key;                             // SerializePublicKey(pkR): Npk bytes
  std::vector<SymmetricAlgorithm> algorithms;   // in preference order; clients use the first by default

  bool accepts(SymmetricAlgorithm algorithm) const;
  bool operator==(const KeyConfig&) const = default;
};

// Validates as parse_key_config does, then encodes. kInvalidArgument if the config would not parse back.
Result<Bytes> encode_key_config(const KeyConfig& config);
Result<KeyConfig> parse_key_config(ByteSpan encoded);

// application/ohttp-keys. Encoding fails if a config is invalid or longer than 65535 bytes.
Result<Bytes> encode_key_configs(const std::vector<KeyConfig>& configs);
// Zero-length entries and framing errors always fail. By default an entry that is well framed but unsupported
// (unknown KEM/KDF/AEAD: kUnsupported) fails the whole list; with skip_unsupported it is left out instead, so a
// client can use the configurations it understands. Malformed entries (kDecode/kTruncated) always fail.
Result<std::vector<KeyConfig>> parse_key_configs(ByteSpan encoded, bool skip_unsupported = false);

}  // namespace openpcc::wire::ohttp
