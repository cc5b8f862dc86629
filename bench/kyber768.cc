// Kyber-768 (round 3, src/crypto/kyber768.h): key generation, encapsulation, decapsulation.
//
// There is no floor here: OpenSSL 3.0 has no Kyber (or ML-KEM, which arrived in 3.5 and is a different KEM), so
// these are absolute figures. They are the part of an X25519Kyber768Draft00 HPKE operation that bench_hpke's hybrid
// floor takes from our own code.
#include <benchmark/benchmark.h>

#include <array>

#include "common/bytes.h"
#include "crypto/kyber768.h"
#include "floor.h"

namespace openpcc::bench {
namespace {

namespace kyber768 = crypto::kyber768;

OPENPCC_BENCH_OP kyber768::KeyPair op_kyber_keygen() { return kyber768::generate_key_pair(); }
OPENPCC_BENCH_OP kyber768::KeyPair op_kyber_derive(std::span<const uint8_t, kyber768::kKeySeedSize> seed) {
  return kyber768::derive_key_pair(seed);
}
OPENPCC_BENCH_OP kyber768::Encapsulation op_kyber_encaps(Span pk) { return std::move(*kyber768::encapsulate(pk)); }
OPENPCC_BENCH_OP SecretBytes op_kyber_decaps(Span sk, Span ct) { return std::move(*kyber768::decapsulate(sk, ct)); }

void BM_Keygen(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(op_kyber_keygen());
}
BENCHMARK(BM_Keygen)->Name("kyber768/keygen");

// Deterministic key generation from a seed (no getrandom call): what DeriveKeyPair of the hybrid KEM runs.
void BM_DeriveKeyPair(benchmark::State& state) {
  std::array<uint8_t, kyber768::kKeySeedSize> seed{};
  uint8_t i = 0;
  for (auto _ : state) {
    seed[0] = i++;  // a different matrix each time, as with fresh keys
    benchmark::DoNotOptimize(op_kyber_derive(seed));
  }
}
BENCHMARK(BM_DeriveKeyPair)->Name("kyber768/derive_key_pair");

void BM_Encaps(benchmark::State& state) {
  const kyber768::KeyPair keys = kyber768::generate_key_pair();
  for (auto _ : state) benchmark::DoNotOptimize(op_kyber_encaps(keys.public_key));
}
BENCHMARK(BM_Encaps)->Name("kyber768/encaps");

void BM_Decaps(benchmark::State& state) {
  const kyber768::KeyPair keys = kyber768::generate_key_pair();
  auto encapsulation = kyber768::encapsulate(keys.public_key);
  check(encapsulation.has_value(), "encapsulate");
  for (auto _ : state) benchmark::DoNotOptimize(op_kyber_decaps(keys.secret_key, encapsulation->ciphertext));
}
BENCHMARK(BM_Decaps)->Name("kyber768/decaps");

}  // namespace
}  // namespace openpcc::bench
