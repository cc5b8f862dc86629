// Fixed gateway keys and response secrets shared by the OHTTP fuzz targets. The seed corpora were produced with
// these exact keys (see corpus/README.md), so the fuzzers start from requests that decrypt.
#pragma once

#include <cstdlib>
#include <memory>

#include "common/bytes.h"
#include "crypto/kem.h"
#include "wire/ohttp.h"

namespace openpcc::fuzz {

// IKMs for DeriveKeyPair of the two gateway keys (key id 1: X25519; key id 2: X25519Kyber768Draft00).
inline constexpr char kX25519Ikm[] = "openpcc fuzz gateway key x25519";
inline constexpr char kHybridIkm[] = "openpcc fuzz gateway key x25519kyber768";

inline void require(bool ok) {
  if (!ok) std::abort();
}

inline wire::ohttp::GatewayKeySet make_gateway_keys() {
  wire::ohttp::GatewayKeySet keys;
  struct Spec {
    uint8_t id;
    crypto::KemId kem;
    const char* ikm;
  };
  for (const Spec& s : {Spec{1, crypto::KemId::kDhkemX25519HkdfSha256, kX25519Ikm},
                        Spec{2, crypto::KemId::kX25519Kyber768Draft00, kHybridIkm}}) {
    auto kem = crypto::Kem::create(s.kem);
    require(kem.has_value());
    auto sk = kem->derive_key_pair(as_bytes(s.ikm));
    require(sk.has_value());
    wire::ohttp::KeyConfig config;
    config.key_id = s.id;
    config.kem = s.kem;
    config.public_key = Bytes((*sk)->public_key().begin(), (*sk)->public_key().end());
    config.algorithms = {{crypto::KdfId::kHkdfSha256, crypto::AeadId::kAes128Gcm},
                         {crypto::KdfId::kHkdfSha256, crypto::AeadId::kChaCha20Poly1305}};
    require(keys.add(std::move(config), std::shared_ptr<const crypto::KemPrivateKey>(std::move(*sk))).has_value());
  }
  return keys;
}

// Slices `data` into pieces whose sizes come from `sizes` (cycled), so the fuzzer also explores chunk boundaries.
template <class Fn>
void for_each_slice(ByteSpan data, ByteSpan sizes, Fn&& fn) {
  size_t i = 0, pos = 0;
  while (pos < data.size()) {
    size_t n = sizes.empty() ? data.size() : 1 + sizes[i++ % sizes.size()] % 64;
    n = std::min(n, data.size() - pos);
    if (!fn(data.subspan(pos, n))) return;
    pos += n;
  }
}

}  // namespace openpcc::fuzz
