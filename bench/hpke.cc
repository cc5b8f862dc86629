// Single-shot HPKE (RFC 9180 §6.1, base mode, HKDF-SHA256, AES-128-GCM, 64-byte plaintext) per KEM, ours against
// the floor of bench/floor_hpke.h (raw OpenSSL 3.0 EVP; what it is made of and how it is counted is described
// there). Before measuring, the floor and our code open each other's output, so both do the same work.
#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "crypto/hpke.h"
#include "floor_hpke.h"

namespace openpcc::bench {
namespace {

using crypto::AeadId;
using crypto::Hpke;
using crypto::KdfId;
using crypto::KemId;

constexpr size_t kPlaintextSize = 64;
// The OHTTP request info for key id 1 and this suite, a realistic length (RFC 9458 §4.3).
constexpr std::string_view kInfoPrefix = "message/bhttp request";

Bytes make_info(KemId kem) {
  Bytes info = to_bytes(kInfoPrefix);
  info.push_back(0);
  info.push_back(1);
  append_u16be(info, static_cast<uint16_t>(kem));
  append_u16be(info, 1);
  append_u16be(info, 1);
  return info;
}

const char* kem_name(KemId kem) {
  switch (kem) {
    case KemId::kDhkemX25519HkdfSha256: return "x25519";
    case KemId::kDhkemP256HkdfSha256: return "p256";
    case KemId::kX25519Kyber768Draft00: return "x25519kyber768";
  }
  return "?";
}

// ---- both sides, sharing the recipient's key pair ---------------------------------------------------------------

struct Fixture {
  explicit Fixture(KemId kem)
      : floor(kem, make_info(kem)),
        hpke(*Hpke::create({kem, KdfId::kHkdfSha256, AeadId::kAes128Gcm})),
        pk_r(*hpke.kem().deserialize_public_key(floor.public_key())),
        sk_r(std::move(*hpke.kem().deserialize_private_key(floor.private_key()))),
        plaintext(kPlaintextSize, 0x5a) {
    // Cross-check: each side opens the other's output.
    auto ours = hpke.seal(pk_r, floor.info(), {}, plaintext);
    check(ours.has_value(), "our seal");
    Bytes pt(kPlaintextSize);
    check(floor.open(ours->enc, ours->ciphertext, pt.data()) && pt == plaintext, "floor opens ours");
    enc.resize(floor.enc_size());
    ciphertext.resize(kPlaintextSize + 16);
    floor.seal(plaintext, enc.data(), ciphertext.data());
    auto opened = hpke.open(enc, *sk_r, floor.info(), {}, ciphertext);
    check(opened.has_value() && *opened == plaintext, "ours opens the floor's");
  }

  FloorHpke floor;
  Hpke hpke;
  crypto::KemPublicKey pk_r;
  std::unique_ptr<crypto::KemPrivateKey> sk_r;
  Bytes plaintext;
  Bytes enc;         // a sealed message to open repeatedly (single-shot open is stateless)
  Bytes ciphertext;
};

// The measured operations (see OPENPCC_BENCH_OP).
OPENPCC_BENCH_OP Hpke::Sealed op_hpke_seal_ours(Fixture& f) {
  return std::move(*f.hpke.seal(f.pk_r, f.floor.info(), {}, f.plaintext));
}
OPENPCC_BENCH_OP Bytes op_hpke_open_ours(Fixture& f, Span enc, Span ct) {
  return std::move(*f.hpke.open(enc, *f.sk_r, f.floor.info(), {}, ct));
}
OPENPCC_BENCH_OP void op_hpke_seal_floor(Fixture& f, uint8_t* enc, uint8_t* ct) { f.floor.seal(f.plaintext, enc, ct); }
OPENPCC_BENCH_OP bool op_hpke_open_floor(Fixture& f, Span enc, Span ct, uint8_t* pt) {
  return f.floor.open(enc, ct, pt);
}
OPENPCC_BENCH_OP void op_hpke_pair_ours(Fixture& f) {
  auto sealed = op_hpke_seal_ours(f);
  benchmark::DoNotOptimize(op_hpke_open_ours(f, sealed.enc, sealed.ciphertext));
}
OPENPCC_BENCH_OP void op_hpke_pair_floor(Fixture& f, uint8_t* enc, uint8_t* ct, uint8_t* pt) {
  op_hpke_seal_floor(f, enc, ct);
  check(op_hpke_open_floor(f, Span(enc, f.floor.enc_size()), Span(ct, kPlaintextSize + 16), pt), "floor pair");
}

void register_kem(KemId kem) {
  // One fixture per KEM for the whole process, made on first use (key generation is not measured).
  auto fixture = [kem] {
    static std::array<std::unique_ptr<Fixture>, 3> fixtures;
    size_t i = kem == KemId::kDhkemX25519HkdfSha256 ? 0 : kem == KemId::kDhkemP256HkdfSha256 ? 1 : 2;
    if (!fixtures[i]) fixtures[i] = std::make_unique<Fixture>(kem);
    return fixtures[i].get();
  };
  const std::string prefix = std::string("hpke/") + kem_name(kem) + "/";

  benchmark::RegisterBenchmark((prefix + "seal/ours").c_str(), [fixture](benchmark::State& state) {
    Fixture& f = *fixture();
    for (auto _ : state) benchmark::DoNotOptimize(op_hpke_seal_ours(f));
  });
  benchmark::RegisterBenchmark((prefix + "seal/floor").c_str(), [fixture](benchmark::State& state) {
    Fixture& f = *fixture();
    Bytes enc(f.floor.enc_size()), ct(kPlaintextSize + 16);
    for (auto _ : state) {
      op_hpke_seal_floor(f, enc.data(), ct.data());
      benchmark::DoNotOptimize(ct.data());
    }
  });
  benchmark::RegisterBenchmark((prefix + "open/ours").c_str(), [fixture](benchmark::State& state) {
    Fixture& f = *fixture();
    for (auto _ : state) benchmark::DoNotOptimize(op_hpke_open_ours(f, f.enc, f.ciphertext));
  });
  benchmark::RegisterBenchmark((prefix + "open/floor").c_str(), [fixture](benchmark::State& state) {
    Fixture& f = *fixture();
    Bytes pt(kPlaintextSize);
    for (auto _ : state) {
      if (!op_hpke_open_floor(f, f.enc, f.ciphertext, pt.data())) state.SkipWithError("floor open failed");
      benchmark::DoNotOptimize(pt.data());
    }
  });
  benchmark::RegisterBenchmark((prefix + "seal+open/ours").c_str(), [fixture](benchmark::State& state) {
    Fixture& f = *fixture();
    for (auto _ : state) op_hpke_pair_ours(f);
  });
  benchmark::RegisterBenchmark((prefix + "seal+open/floor").c_str(), [fixture](benchmark::State& state) {
    Fixture& f = *fixture();
    Bytes enc(f.floor.enc_size()), ct(kPlaintextSize + 16), pt(kPlaintextSize);
    for (auto _ : state) {
      op_hpke_pair_floor(f, enc.data(), ct.data(), pt.data());
      benchmark::DoNotOptimize(pt.data());
    }
  });
}

// ---- components: where the time goes ------------------------------------------------------------------------------

OPENPCC_BENCH_OP void op_hmac_floor(FloorHmacSha256& h, Span key, Span msg, uint8_t* out) { h.mac(key, {msg}, out); }
OPENPCC_BENCH_OP void op_hmac_evp_mac(EvpMacHmacSha256& h, Span key, Span msg, uint8_t* out) {
  h.mac(key, {msg}, out);
}
OPENPCC_BENCH_OP SecretBytes op_hkdf_extract_ours(const crypto::Hkdf& h, Span salt, Span ikm) {
  return std::move(*h.extract(salt, ikm));
}

// One HMAC-SHA256 with a 32-byte key over 64 bytes (an HKDF-Extract of a DH output, give or take the label).
void BM_HmacFloor(benchmark::State& state) {
  FloorHmacSha256 h;
  std::array<uint8_t, 32> key{1}, out;
  Bytes msg(64, 7);
  for (auto _ : state) {
    op_hmac_floor(h, key, msg, out.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_HmacFloor)->Name("component/hmac_sha256_64B/floor");

void BM_HmacEvpMac(benchmark::State& state) {
  EvpMacHmacSha256 h;
  std::array<uint8_t, 32> key{1}, out;
  Bytes msg(64, 7);
  for (auto _ : state) {
    op_hmac_evp_mac(h, key, msg, out.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_HmacEvpMac)->Name("component/hmac_sha256_64B/evp_mac");

void BM_HkdfExtractOurs(benchmark::State& state) {
  auto h = *crypto::Hkdf::create(KdfId::kHkdfSha256);
  std::array<uint8_t, 32> key{1};
  Bytes msg(64, 7);
  for (auto _ : state) benchmark::DoNotOptimize(op_hkdf_extract_ours(h, key, msg));
}
BENCHMARK(BM_HkdfExtractOurs)->Name("component/hmac_sha256_64B/ours");

struct Registrar {
  Registrar() {
    register_kem(KemId::kDhkemX25519HkdfSha256);
    register_kem(KemId::kDhkemP256HkdfSha256);
    register_kem(KemId::kX25519Kyber768Draft00);
  }
} registrar;

}  // namespace
}  // namespace openpcc::bench
