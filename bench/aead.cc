// Our keyed AEAD (src/crypto/aead.h) against raw EVP on the same cipher: one message per iteration at 1 KiB and
// 16 KiB, a fresh nonce each time, empty AAD.
//
// The floor (bench/floor.h FloorAead) keeps one EVP_CIPHER_CTX with the cipher and key bound and passes only the
// nonce per message, which is what our Aead does too; the difference is our API's checks, the Result plumbing and,
// for seal_append, growing the output vector (its capacity is kept between iterations, as a caller reusing a buffer
// would). Throughput is plaintext bytes per second.
#include <benchmark/benchmark.h>

#include <array>
#include <string>

#include "common/bytes.h"
#include "crypto/aead.h"
#include "floor.h"

namespace openpcc::bench {
namespace {

using crypto::Aead;
using crypto::AeadId;

struct Cipher {
  AeadId id;
  const char* evp_name;
  const char* label;
};
constexpr std::array<Cipher, 3> kCiphers = {{{AeadId::kAes128Gcm, "AES-128-GCM", "aes128gcm"},
                                             {AeadId::kAes256Gcm, "AES-256-GCM", "aes256gcm"},
                                             {AeadId::kChaCha20Poly1305, "ChaCha20-Poly1305", "chacha20poly1305"}}};
constexpr std::array<size_t, 2> kSizes = {1024, 16384};

OPENPCC_BENCH_OP size_t op_aead_seal_into_ours(Aead& aead, Span nonce, Span pt, std::span<uint8_t> out) {
  return *aead.seal_into(nonce, {}, pt, out);
}
OPENPCC_BENCH_OP void op_aead_seal_append_ours(Aead& aead, Span nonce, Span pt, Bytes& out) {
  out.clear();
  check(aead.seal_append(nonce, {}, pt, out).has_value(), "seal_append");
}
OPENPCC_BENCH_OP size_t op_aead_open_into_ours(Aead& aead, Span nonce, Span ct, std::span<uint8_t> out) {
  return *aead.open_into(nonce, {}, ct, out);
}
OPENPCC_BENCH_OP void op_aead_seal_floor(FloorAead& aead, const uint8_t* nonce, Span pt, uint8_t* out) {
  aead.seal(nonce, {}, pt, out);
}
OPENPCC_BENCH_OP bool op_aead_open_floor(FloorAead& aead, const uint8_t* nonce, Span ct, uint8_t* out) {
  return aead.open(nonce, {}, ct, out);
}

std::array<uint8_t, 32> kKey = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
const std::array<uint8_t, 12> kBaseNonce = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};

Aead make_ours(const Cipher& c) {
  auto sizes = crypto::aead_sizes(c.id);
  auto aead = Aead::create(c.id, Span(kKey.data(), sizes->key));
  check(aead.has_value(), "Aead::create");
  return std::move(*aead);
}

void register_all() {
  for (const Cipher& c : kCiphers) {
    for (size_t size : kSizes) {
      const std::string prefix = std::string("aead/") + c.label + "/" + std::to_string(size) + "/";

      benchmark::RegisterBenchmark((prefix + "seal/ours_into").c_str(), [c, size](benchmark::State& state) {
        Aead aead = make_ours(c);
        Bytes pt(size, 0x5a), out(size + 16);
        std::array<uint8_t, 12> nonce;
        uint64_t counter = 0;
        for (auto _ : state) {
          xor_counter(kBaseNonce.data(), counter++, nonce.data());
          benchmark::DoNotOptimize(op_aead_seal_into_ours(aead, nonce, pt, out));
        }
        state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
      });
      benchmark::RegisterBenchmark((prefix + "seal/ours_append").c_str(), [c, size](benchmark::State& state) {
        Aead aead = make_ours(c);
        Bytes pt(size, 0x5a), out;
        std::array<uint8_t, 12> nonce;
        uint64_t counter = 0;
        for (auto _ : state) {
          xor_counter(kBaseNonce.data(), counter++, nonce.data());
          op_aead_seal_append_ours(aead, nonce, pt, out);
          benchmark::DoNotOptimize(out.data());
        }
        state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
      });
      benchmark::RegisterBenchmark((prefix + "seal/floor").c_str(), [c, size](benchmark::State& state) {
        FloorAead aead(c.evp_name, true);
        aead.set_key(kKey.data());
        Bytes pt(size, 0x5a), out(size + 16);
        std::array<uint8_t, 12> nonce;
        uint64_t counter = 0;
        for (auto _ : state) {
          xor_counter(kBaseNonce.data(), counter++, nonce.data());
          op_aead_seal_floor(aead, nonce.data(), pt, out.data());
          benchmark::DoNotOptimize(out.data());
        }
        state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
      });
      benchmark::RegisterBenchmark((prefix + "open/ours_into").c_str(), [c, size](benchmark::State& state) {
        Aead aead = make_ours(c);
        Bytes pt(size, 0x5a), out(size);
        auto ct = aead.seal(kBaseNonce, {}, pt);
        check(ct.has_value(), "seal");
        for (auto _ : state) benchmark::DoNotOptimize(op_aead_open_into_ours(aead, kBaseNonce, *ct, out));
        state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
      });
      benchmark::RegisterBenchmark((prefix + "open/floor").c_str(), [c, size](benchmark::State& state) {
        Aead ours = make_ours(c);
        Bytes pt(size, 0x5a), out(size);
        auto ct = ours.seal(kBaseNonce, {}, pt);  // cross-check: the floor opens ours
        FloorAead aead(c.evp_name, false);
        aead.set_key(kKey.data());
        check(aead.open(kBaseNonce.data(), {}, *ct, out.data()) && out == pt, "floor opens ours");
        for (auto _ : state) {
          if (!op_aead_open_floor(aead, kBaseNonce.data(), *ct, out.data())) state.SkipWithError("open failed");
          benchmark::DoNotOptimize(out.data());
        }
        state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
      });
    }
  }
}

struct Registrar {
  Registrar() { register_all(); }
} registrar;

}  // namespace
}  // namespace openpcc::bench
