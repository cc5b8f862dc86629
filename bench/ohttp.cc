// Oblivious HTTP and compute-request encryption (src/wire) against raw OpenSSL floors.
//
//   ohttp/<kem>/<size>/{encapsulate,decapsulate}/{ours,floor}
//       A whole unchunked OHTTP request (RFC 9458 §4.3) of a 1 KiB or 64 KiB BHTTP message, including HPKE setup
//       and the response secret export. Floor: bench/floor_hpke.h single-shot HPKE with the OHTTP info, the 7-byte
//       header copied in front, and ONE Export("message/bhttp response", 16). Ours also re-validates the key
//       config's public key per request and exports both response secrets (unchunked and chunked: the response's
//       framing is not known yet), which the floor does not.
//
//   ohttp_stream/<chunk>/{seal,open}/{ours_request,ours_response,floor}
//       The body of one chunked OHTTP stream (draft-ietf-ohai-chunked-ohttp): a ~1 MiB BHTTP message in fixed-size
//       chunks of 532 bytes (the OpenPCC profile) or 16 KiB, then the final chunk. Request streams are sealed by the
//       HPKE context (X25519Kyber768Draft00, AES-128-GCM), response streams by the exported response key. Per-stream
//       setup (HPKE, response key derivation, the prefix) runs with the timer paused: the figure is the stream
//       itself. Floor: raw AES-128-GCM sealing/opening the same chunks on one EVP_CIPHER_CTX (a nonce per chunk, the
//       final chunk with AAD "final"), no framing. "ours_request_16k_reads" feeds the opener in 16 KiB slices, as
//       network reads would arrive, so chunks straddling two reads are buffered.
//
//   compute_body/514/{seal,open}/{ours,floor}
//       The multi-recipient compute-request body (wire/compute_request.h): ~1 MiB in 514-byte chunks under the
//       32-byte DEK, i.e. AES-256-GCM. Floor: raw AES-256-GCM on the same chunks.
//   compute/{wrap_key,unwrap_key}/{ours,floor}
//       One node's share of a compute request: P-256 HPKE seal/open of the DEK (AAD "multi-encap-key") and the
//       response secret export. Floor: floor_hpke.h with that info and AAD, one export.
//
// Every floor opens our output (and we open the floor's) before measuring.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "crypto/kem.h"
#include "floor_hpke.h"
#include "wire/chunk_framing.h"
#include "wire/compute_request.h"
#include "wire/ohttp.h"
#include "wire/ohttp_chunked.h"

namespace openpcc::bench {
namespace {

namespace ohttp = wire::ohttp;
namespace compute = wire::compute;
using crypto::AeadId;
using crypto::KdfId;
using crypto::KemId;
using wire::Chunking;

constexpr uint8_t kKeyId = 1;
constexpr size_t kTagSize = 16;
constexpr size_t kOneMiB = size_t{1} << 20;

template <class R>
auto take(R&& result, const char* what) {
  if (!result) die(what);
  return std::move(*result);
}

const char* kem_name(KemId kem) { return kem == KemId::kX25519Kyber768Draft00 ? "x25519kyber768" : "x25519"; }

// About 1 MiB, a whole number of chunks.
size_t stream_body_size(size_t chunk) { return kOneMiB / chunk * chunk; }

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 131 + 7);
  return b;
}

// ---- the gateway's key, shared by our side and the floor ------------------------------------------------------------

struct Gateway {
  explicit Gateway(KemId kem)
      : header{kKeyId, kem, KdfId::kHkdfSha256, AeadId::kAes128Gcm},
        floor(kem, ohttp::request_info(Chunking::kUnchunked, header)),
        hdr(header.encode()) {
    config = ohttp::KeyConfig{kKeyId, kem, floor.public_key(), {{KdfId::kHkdfSha256, AeadId::kAes128Gcm}}};
    auto kem_impl = take(crypto::Kem::create(kem), "Kem::create");
    std::shared_ptr<const crypto::KemPrivateKey> sk =
        take(kem_impl.deserialize_private_key(floor.private_key()), "private key");
    check(keys.add(config, sk).has_value(), "GatewayKeySet::add");
  }

  ohttp::RequestHeader header;
  FloorHpke floor;  // the unchunked-request floor, with this gateway's key pair
  std::array<uint8_t, ohttp::kRequestHeaderSize> hdr;
  ohttp::KeyConfig config;
  ohttp::GatewayKeySet keys;
};

Gateway& gateway(KemId kem) {
  static Gateway x25519(KemId::kDhkemX25519HkdfSha256);
  static Gateway hybrid(KemId::kX25519Kyber768Draft00);
  return kem == KemId::kX25519Kyber768Draft00 ? hybrid : x25519;
}

// ---- unchunked OHTTP requests -------------------------------------------------------------------------------------

OPENPCC_BENCH_OP ohttp::EncapsulatedRequest op_ohttp_encapsulate_ours(Gateway& g, Span bhttp) {
  return take(ohttp::encapsulate_request(g.config, bhttp), "encapsulate_request");
}
OPENPCC_BENCH_OP ohttp::DecapsulatedRequest op_ohttp_decapsulate_ours(Gateway& g, Span request) {
  return take(ohttp::decapsulate_request(g.keys, request), "decapsulate_request");
}
// out: hdr ‖ enc ‖ ct; secret: 16 bytes.
OPENPCC_BENCH_OP void op_ohttp_encapsulate_floor(Gateway& g, Span bhttp, uint8_t* out, uint8_t* secret) {
  std::memcpy(out, g.hdr.data(), g.hdr.size());
  g.floor.seal(bhttp, out + g.hdr.size(), out + g.hdr.size() + g.floor.enc_size());
  g.floor.export_secret(str(ohttp::kResponseLabel), 16, secret);
}
OPENPCC_BENCH_OP bool op_ohttp_decapsulate_floor(Gateway& g, Span request, uint8_t* bhttp, uint8_t* secret) {
  const size_t enc = g.floor.enc_size();
  if (request.size() < g.hdr.size() + enc + kTagSize || std::memcmp(request.data(), g.hdr.data(), g.hdr.size()) != 0) {
    return false;
  }
  if (!g.floor.open(request.subspan(g.hdr.size(), enc), request.subspan(g.hdr.size() + enc), bhttp)) return false;
  g.floor.export_secret(str(ohttp::kResponseLabel), 16, secret);
  return true;
}

void register_unchunked(KemId kem, size_t size) {
  const std::string prefix = std::string("ohttp/") + kem_name(kem) + "/" + std::to_string(size) + "/";
  auto floor_request_size = [kem, size] {
    return ohttp::kRequestHeaderSize + gateway(kem).floor.enc_size() + size + kTagSize;
  };

  // Cross-check once: each side decapsulates the other's request and both derive the same response secret.
  auto cross_check = [kem, size, floor_request_size] {
    Gateway& g = gateway(kem);
    const Bytes bhttp = pattern(size);
    auto ours = op_ohttp_encapsulate_ours(g, bhttp);
    Bytes pt(size);
    std::array<uint8_t, 16> secret;
    check(op_ohttp_decapsulate_floor(g, ours.request, pt.data(), secret.data()) && pt == bhttp &&
              std::ranges::equal(secret, ours.response_secrets.secret(Chunking::kUnchunked)),
          "floor decapsulates ours");
    Bytes request(floor_request_size());
    op_ohttp_encapsulate_floor(g, bhttp, request.data(), secret.data());
    auto got = op_ohttp_decapsulate_ours(g, request);
    check(got.bhttp == bhttp && std::ranges::equal(secret, got.response_secrets.secret(Chunking::kUnchunked)),
          "ours decapsulates the floor's");
    return request;  // a floor-made request, which ours decapsulates in the benchmark
  };

  benchmark::RegisterBenchmark((prefix + "encapsulate/ours").c_str(), [kem, size, cross_check](benchmark::State& s) {
    cross_check();
    Gateway& g = gateway(kem);
    const Bytes bhttp = pattern(size);
    for (auto _ : s) benchmark::DoNotOptimize(op_ohttp_encapsulate_ours(g, bhttp));
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * size));
  });
  benchmark::RegisterBenchmark((prefix + "encapsulate/floor").c_str(), [=](benchmark::State& s) {
    Gateway& g = gateway(kem);
    const Bytes bhttp = pattern(size);
    Bytes request(floor_request_size());
    std::array<uint8_t, 16> secret;
    for (auto _ : s) {
      op_ohttp_encapsulate_floor(g, bhttp, request.data(), secret.data());
      benchmark::DoNotOptimize(request.data());
    }
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * size));
  });
  benchmark::RegisterBenchmark((prefix + "decapsulate/ours").c_str(), [kem, size, cross_check](benchmark::State& s) {
    const Bytes request = cross_check();
    Gateway& g = gateway(kem);
    for (auto _ : s) benchmark::DoNotOptimize(op_ohttp_decapsulate_ours(g, request));
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * size));
  });
  benchmark::RegisterBenchmark((prefix + "decapsulate/floor").c_str(), [kem, size, cross_check](benchmark::State& s) {
    const Bytes request = cross_check();
    Gateway& g = gateway(kem);
    Bytes bhttp(size);
    std::array<uint8_t, 16> secret;
    for (auto _ : s) {
      if (!op_ohttp_decapsulate_floor(g, request, bhttp.data(), secret.data())) s.SkipWithError("floor failed");
      benchmark::DoNotOptimize(bhttp.data());
    }
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * size));
  });
}

// ---- streams ------------------------------------------------------------------------------------------------------

// Seals a stream's body: write(body) + finish() on a sealer whose prefix was already emitted.
OPENPCC_BENCH_OP void op_stream_seal_ours(wire::ChunkStreamSealer& sealer, Span body, Bytes& out) {
  check(sealer.write(body, out).has_value() && sealer.finish(out).has_value(), "stream seal");
}
OPENPCC_BENCH_OP void op_stream_request_seal_ours(ohttp::ChunkedRequestSealer& sealer, Span body, Bytes& out) {
  check(sealer.write(body, out).has_value() && sealer.finish(out).has_value(), "request stream seal");
}
// Opens the rest of a stream (after its prefix) fed in slices of `slice` bytes.
OPENPCC_BENCH_OP void op_stream_request_open_ours(ohttp::ChunkedRequestOpener& opener, Span rest, size_t slice,
                                                  Bytes& out) {
  for (size_t off = 0; off < rest.size(); off += slice) {
    check(opener.feed(rest.subspan(off, std::min(slice, rest.size() - off)), out).has_value(), "request stream open");
  }
  check(opener.finish(out).has_value(), "request stream finish");
}
OPENPCC_BENCH_OP void op_stream_open_ours(wire::PrefixedChunkOpener& opener, Span rest, Bytes& out) {
  check(opener.feed(rest, out).has_value() && opener.finish(out).has_value(), "stream open");
}

// Raw AEAD over the same chunks: out = ct_0 ‖ ct_1 ‖ ... ‖ ct_final (no framing).
OPENPCC_BENCH_OP void op_stream_seal_floor(FloorAead& aead, const uint8_t* key, const uint8_t* base_nonce, Span body,
                                           size_t chunk, uint8_t* out) {
  aead.set_key(key);
  std::array<uint8_t, 12> nonce;
  uint64_t i = 0;
  for (size_t off = 0; off < body.size(); off += chunk, ++i) {
    const size_t n = std::min(chunk, body.size() - off);
    xor_counter(base_nonce, i, nonce.data());
    aead.seal(nonce.data(), {}, body.subspan(off, n), out);
    out += n + kTagSize;
  }
  xor_counter(base_nonce, i, nonce.data());
  aead.seal(nonce.data(), str(wire::kFinalChunkAad), {}, out);
}
OPENPCC_BENCH_OP bool op_stream_open_floor(FloorAead& aead, const uint8_t* key, const uint8_t* base_nonce, Span sealed,
                                           size_t chunk, uint8_t* out) {
  aead.set_key(key);
  std::array<uint8_t, 12> nonce;
  uint64_t i = 0;
  bool ok = true;
  const size_t body = sealed.size() - kTagSize;  // without the final chunk
  for (size_t off = 0; off < body; off += chunk + kTagSize, ++i) {
    const size_t n = std::min(chunk + kTagSize, body - off);
    xor_counter(base_nonce, i, nonce.data());
    ok = aead.open(nonce.data(), {}, sealed.subspan(off, n), out) && ok;
    out += n - kTagSize;
  }
  xor_counter(base_nonce, i, nonce.data());
  return aead.open(nonce.data(), str(wire::kFinalChunkAad), sealed.subspan(body), out) && ok;
}

constexpr std::array<uint8_t, 32> kFloorKey = {7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                               16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
constexpr std::array<uint8_t, 12> kFloorNonce = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
                                                 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb};

void register_floor_stream(const std::string& prefix, const char* cipher, size_t chunk) {
  const size_t body_size = stream_body_size(chunk);
  const size_t sealed_size = body_size / chunk * (chunk + kTagSize) + kTagSize;
  benchmark::RegisterBenchmark((prefix + "seal/floor").c_str(), [=](benchmark::State& s) {
    FloorAead aead(cipher, true);
    const Bytes body = pattern(body_size);
    Bytes out(sealed_size);
    for (auto _ : s) {
      op_stream_seal_floor(aead, kFloorKey.data(), kFloorNonce.data(), body, chunk, out.data());
      benchmark::DoNotOptimize(out.data());
    }
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * body_size));
  });
  benchmark::RegisterBenchmark((prefix + "open/floor").c_str(), [=](benchmark::State& s) {
    FloorAead sealer(cipher, true), aead(cipher, false);
    const Bytes body = pattern(body_size);
    Bytes sealed(sealed_size), out(body_size);
    op_stream_seal_floor(sealer, kFloorKey.data(), kFloorNonce.data(), body, chunk, sealed.data());
    check(op_stream_open_floor(aead, kFloorKey.data(), kFloorNonce.data(), sealed, chunk, out.data()) && out == body,
          "floor stream round trip");
    for (auto _ : s) {
      if (!op_stream_open_floor(aead, kFloorKey.data(), kFloorNonce.data(), sealed, chunk, out.data())) {
        s.SkipWithError("floor open failed");
      }
      benchmark::DoNotOptimize(out.data());
    }
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * body_size));
  });
}

// OHTTP streams: the OpenPCC OHTTP suite (X25519Kyber768Draft00, HKDF-SHA256, AES-128-GCM).
void register_ohttp_streams(size_t chunk) {
  const std::string prefix = "ohttp_stream/" + std::to_string(chunk) + "/";
  const size_t body_size = stream_body_size(chunk);
  const wire::ChunkSealOptions options = wire::fixed_size_chunks(chunk);
  const wire::ChunkOpenLimits limits{std::max(chunk, wire::kMinReceiveChunkPlaintext)};
  constexpr KemId kKem = KemId::kX25519Kyber768Draft00;
  // hdr ‖ enc of a request stream.
  auto request_prefix_size = [] { return ohttp::kRequestHeaderSize + gateway(kKem).floor.enc_size(); };

  benchmark::RegisterBenchmark((prefix + "seal/ours_request").c_str(), [=](benchmark::State& s) {
    Gateway& g = gateway(kKem);
    const Bytes body = pattern(body_size);
    Bytes out;
    out.reserve(body_size + body_size / chunk * 24 + 4096);
    std::optional<ohttp::ChunkedRequestSealer> sealer;
    for (auto _ : s) {
      s.PauseTiming();
      sealer.emplace(take(ohttp::ChunkedRequestSealer::create(g.config, {}, options), "request sealer"));
      out.clear();
      check(sealer->begin(out).has_value(), "begin");
      s.ResumeTiming();
      op_stream_request_seal_ours(*sealer, body, out);
    }
    // Cross-check the last stream: the gateway opens it.
    auto got = take(ohttp::decapsulate_chunked_request(g.keys, out, limits), "decapsulate_chunked_request");
    check(got.bhttp == body, "request stream round trip");
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * body_size));
  });

  for (size_t slice : {size_t{0}, size_t{16384}}) {
    const std::string name = slice == 0 ? "open/ours_request" : "open/ours_request_16k_reads";
    benchmark::RegisterBenchmark((prefix + name).c_str(), [=](benchmark::State& s) {
      Gateway& g = gateway(kKem);
      const Bytes body = pattern(body_size);
      const Bytes request =
          take(ohttp::encapsulate_chunked_request(g.config, body, {}, options), "encapsulate_chunked_request").request;
      const ByteSpan rest = ByteSpan(request).subspan(request_prefix_size());
      Bytes out;
      out.reserve(body_size);
      std::optional<ohttp::ChunkedRequestOpener> opener;
      for (auto _ : s) {
        s.PauseTiming();
        opener.emplace(g.keys, limits);
        out.clear();
        check(opener->feed(ByteSpan(request).first(request_prefix_size()), out).has_value(), "prefix");
        s.ResumeTiming();
        op_stream_request_open_ours(*opener, rest, slice == 0 ? rest.size() : slice, out);
      }
      check(out == body, "request stream round trip");
      s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * body_size));
    });
  }

  // Responses: the gateway seals with the secrets of a request it opened; the client opens with its own.
  struct ResponseKeys {
    wire::ResponseContext gateway;
    wire::ResponseContext client;
  };
  auto response_keys = [] {
    Gateway& g = gateway(kKem);
    auto sent = take(ohttp::encapsulate_chunked_request(g.config, pattern(100)), "request");
    auto got = take(ohttp::decapsulate_chunked_request(g.keys, sent.request), "decapsulate");
    return ResponseKeys{take(got.response_secrets.context(Chunking::kChunked), "gateway context"),
                        take(sent.response_secrets.context(Chunking::kChunked), "client context")};
  };

  benchmark::RegisterBenchmark((prefix + "seal/ours_response").c_str(), [=](benchmark::State& s) {
    ResponseKeys keys = response_keys();
    const Bytes body = pattern(body_size);
    Bytes out;
    out.reserve(body_size + body_size / chunk * 24 + 4096);
    std::optional<wire::ChunkStreamSealer> sealer;
    for (auto _ : s) {
      s.PauseTiming();
      sealer.emplace(take(keys.gateway.chunked_sealer(options), "response sealer"));
      out.clear();
      check(sealer->begin(out).has_value(), "begin");
      s.ResumeTiming();
      op_stream_seal_ours(*sealer, body, out);
    }
    auto opener = keys.client.chunked_opener(limits);
    Bytes opened;
    check(opener.feed(out, opened).has_value() && opener.finish(opened).has_value() && opened == body,
          "response stream round trip");
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * body_size));
  });
  benchmark::RegisterBenchmark((prefix + "open/ours_response").c_str(), [=](benchmark::State& s) {
    ResponseKeys keys = response_keys();
    const Bytes body = pattern(body_size);
    Bytes response;
    auto sealer = take(keys.gateway.chunked_sealer(options), "response sealer");
    check(sealer.write(body, response).has_value() && sealer.finish(response).has_value(), "response seal");
    const size_t nonce_size = keys.client.response_nonce_size();
    Bytes out;
    out.reserve(body_size);
    std::optional<wire::PrefixedChunkOpener> opener;
    for (auto _ : s) {
      s.PauseTiming();
      opener.emplace(keys.client.chunked_opener(limits));
      out.clear();
      check(opener->feed(ByteSpan(response).first(nonce_size), out).has_value(), "nonce");
      s.ResumeTiming();
      op_stream_open_ours(*opener, ByteSpan(response).subspan(nonce_size), out);
    }
    check(out == body, "response stream round trip");
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * body_size));
  });

  register_floor_stream(prefix, "AES-128-GCM", chunk);
}

// ---- compute requests ---------------------------------------------------------------------------------------------

struct ComputeNode {
  ComputeNode()
      : floor(KemId::kDhkemP256HkdfSha256, compute::key_wrap_info(Chunking::kChunked)),
        kem(take(crypto::Kem::create(KemId::kDhkemP256HkdfSha256), "Kem::create")),
        public_key(take(kem.deserialize_public_key(floor.public_key()), "node public key")),
        private_key(take(kem.deserialize_private_key(floor.private_key()), "node private key")) {}

  FloorHpke floor;  // P-256 with the chunked request's key-wrap info
  crypto::Kem kem;
  crypto::KemPublicKey public_key;
  std::unique_ptr<crypto::KemPrivateKey> private_key;
};

ComputeNode& compute_node() {
  static ComputeNode node;
  return node;
}

OPENPCC_BENCH_OP compute::WrappedKey op_compute_wrap_ours(const compute::RequestSender& sender, ComputeNode& n) {
  return take(sender.wrap_key(n.public_key), "wrap_key");
}
OPENPCC_BENCH_OP compute::RequestReceiver op_compute_unwrap_ours(Span encapsulated_key, ComputeNode& n) {
  return take(compute::RequestReceiver::unwrap_key(encapsulated_key, *n.private_key, Chunking::kChunked), "unwrap");
}
// out: hdr ‖ enc ‖ wrapped DEK (120 bytes); secret: 16 bytes.
OPENPCC_BENCH_OP void op_compute_wrap_floor(ComputeNode& n, Span header, Span dek, uint8_t* out, uint8_t* secret) {
  std::memcpy(out, header.data(), header.size());
  n.floor.seal(dek, out + header.size(), out + header.size() + n.floor.enc_size(), str(compute::kKeyWrapAad));
  n.floor.export_secret(str(compute::kChunkedResponseMediaType), 16, secret);
}
OPENPCC_BENCH_OP bool op_compute_unwrap_floor(ComputeNode& n, Span header, Span key, uint8_t* dek, uint8_t* secret) {
  if (key.size() != compute::kEncapsulatedKeySize || std::memcmp(key.data(), header.data(), header.size()) != 0) {
    return false;
  }
  const size_t enc = n.floor.enc_size();
  const Span aad = str(compute::kKeyWrapAad);
  if (!n.floor.open(key.subspan(header.size(), enc), key.subspan(header.size() + enc), dek, aad)) return false;
  n.floor.export_secret(str(compute::kChunkedResponseMediaType), 16, secret);
  return true;
}

void register_compute() {
  benchmark::RegisterBenchmark("compute/wrap_key/ours", [](benchmark::State& s) {
    ComputeNode& n = compute_node();
    auto sender = take(compute::RequestSender::create(Chunking::kChunked), "sender");
    // Cross-check: the floor node unwraps ours.
    auto wrapped = op_compute_wrap_ours(sender, n);
    std::array<uint8_t, 32> dek;
    std::array<uint8_t, 16> secret;
    check(op_compute_unwrap_floor(n, compute::key_wrap_header(), wrapped.encapsulated_key, dek.data(), secret.data()) &&
              std::ranges::equal(secret, wrapped.response_secrets.secret(Chunking::kChunked)),
          "floor unwraps ours");
    for (auto _ : s) benchmark::DoNotOptimize(op_compute_wrap_ours(sender, n));
  });
  benchmark::RegisterBenchmark("compute/wrap_key/floor", [](benchmark::State& s) {
    ComputeNode& n = compute_node();
    const Bytes header = compute::key_wrap_header();
    const Bytes dek = pattern(compute::kDekSize);
    Bytes key(compute::kEncapsulatedKeySize);
    std::array<uint8_t, 16> secret;
    op_compute_wrap_floor(n, header, dek, key.data(), secret.data());
    auto rx = op_compute_unwrap_ours(key, n);  // cross-check: ours unwraps the floor's
    check(std::ranges::equal(secret, rx.response_secrets().secret(Chunking::kChunked)), "ours unwraps the floor's");
    for (auto _ : s) {
      op_compute_wrap_floor(n, header, dek, key.data(), secret.data());
      benchmark::DoNotOptimize(key.data());
    }
  });
  benchmark::RegisterBenchmark("compute/unwrap_key/ours", [](benchmark::State& s) {
    ComputeNode& n = compute_node();
    auto sender = take(compute::RequestSender::create(Chunking::kChunked), "sender");
    const Bytes key = take(sender.wrap_key(n.public_key), "wrap").encapsulated_key;
    for (auto _ : s) benchmark::DoNotOptimize(op_compute_unwrap_ours(key, n));
  });
  benchmark::RegisterBenchmark("compute/unwrap_key/floor", [](benchmark::State& s) {
    ComputeNode& n = compute_node();
    const Bytes header = compute::key_wrap_header();
    auto sender = take(compute::RequestSender::create(Chunking::kChunked), "sender");
    const Bytes key = take(sender.wrap_key(n.public_key), "wrap").encapsulated_key;
    std::array<uint8_t, 32> dek;
    std::array<uint8_t, 16> secret;
    for (auto _ : s) {
      if (!op_compute_unwrap_floor(n, header, key, dek.data(), secret.data())) s.SkipWithError("floor unwrap failed");
      benchmark::DoNotOptimize(dek.data());
    }
  });

  const size_t chunk = compute::kChunkPlaintextLen;
  const std::string prefix = "compute_body/" + std::to_string(chunk) + "/";
  const size_t body_size = stream_body_size(chunk);

  benchmark::RegisterBenchmark((prefix + "seal/ours").c_str(), [=](benchmark::State& s) {
    const Bytes body = pattern(body_size);
    Bytes out;
    out.reserve(body_size + body_size / chunk * 24 + 4096);
    std::optional<compute::RequestSender> sender;
    std::optional<wire::ChunkStreamSealer> sealer;
    for (auto _ : s) {
      s.PauseTiming();
      sender.emplace(take(compute::RequestSender::create(Chunking::kChunked), "sender"));
      sealer.emplace(take(sender->chunked_body_sealer(), "body sealer"));
      out.clear();
      check(sealer->begin(out).has_value(), "begin");
      s.ResumeTiming();
      op_stream_seal_ours(*sealer, body, out);
    }
    // Cross-check the last body: a node holding the wrapped key opens it.
    ComputeNode& n = compute_node();
    auto rx = take(compute::RequestReceiver::unwrap_key(take(sender->wrap_key(n.public_key), "wrap").encapsulated_key,
                                                        *n.private_key, Chunking::kChunked),
                   "unwrap");
    auto opener = take(rx.chunked_body_opener(), "body opener");
    Bytes opened;
    check(opener.feed(out, opened).has_value() && opener.finish(opened).has_value() && opened == body,
          "compute body round trip");
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * body_size));
  });
  benchmark::RegisterBenchmark((prefix + "open/ours").c_str(), [=](benchmark::State& s) {
    ComputeNode& n = compute_node();
    const Bytes body = pattern(body_size);
    auto sender = take(compute::RequestSender::create(Chunking::kChunked), "sender");
    const Bytes key = take(sender.wrap_key(n.public_key), "wrap").encapsulated_key;
    Bytes sealed;
    auto sealer = take(sender.chunked_body_sealer(), "body sealer");
    check(sealer.write(body, sealed).has_value() && sealer.finish(sealed).has_value(), "body seal");
    auto rx = take(compute::RequestReceiver::unwrap_key(key, *n.private_key, Chunking::kChunked), "unwrap");
    Bytes out;
    out.reserve(body_size);
    std::optional<wire::PrefixedChunkOpener> opener;
    for (auto _ : s) {
      s.PauseTiming();
      opener.emplace(take(rx.chunked_body_opener(), "body opener"));
      out.clear();
      check(opener->feed(ByteSpan(sealed).first(compute::kBodyNonceSize), out).has_value(), "body nonce");
      s.ResumeTiming();
      op_stream_open_ours(*opener, ByteSpan(sealed).subspan(compute::kBodyNonceSize), out);
    }
    check(out == body, "compute body round trip");
    s.SetBytesProcessed(static_cast<int64_t>(s.iterations() * body_size));
  });
  register_floor_stream(prefix, "AES-256-GCM", chunk);
}

struct Registrar {
  Registrar() {
    for (KemId kem : {KemId::kDhkemX25519HkdfSha256, KemId::kX25519Kyber768Draft00}) {
      for (size_t size : {size_t{1024}, size_t{65536}}) register_unchunked(kem, size);
    }
    for (size_t chunk : {ohttp::kOpenPccChunkPlaintextLen, size_t{16384}}) register_ohttp_streams(chunk);
    register_compute();
  }
} registrar;

}  // namespace
}  // namespace openpcc::bench
