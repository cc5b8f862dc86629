// A client verifying a transparency bundle (transparency/bundle.h verify_bundle): the log's checkpoint signature, the
// inclusion proof from the envelope's leaf to the checkpoint's root, and the publisher's DSSE signature, then the
// statement parsed out of the payload. The log holds 2^20 (1,048,576) leaves, built in memory once, so the proof has
// exactly 20 hashes; the statement is the currency-key statement (predicates.h) with a JWK of a 2048-bit key.
//
// The floor (FloorBundleVerify, below, on raw OpenSSL EVP) does only the cryptography the verification cannot skip,
// on inputs that are already decoded: one Ed25519 verification of the checkpoint text, SHA-256(0x00 ‖ leaf) of the
// envelope's canonical JSON, the 20 node hashes of the RFC 9162 §2.1.3.2 walk and the root comparison, one Ed25519
// verification of the PAE. Ed25519 keys are imported once and one EVP_MD_CTX per use is reused; SHA-256 is fetched
// once. What ours does on top: parsing the signed note and the checkpoint, serializing the envelope to find its leaf,
// building the PAE, JSON-parsing the statement, and the Result plumbing. `ours_from_json` also parses the bundle's
// JSON (what a client receiving it over the network pays).
#include <benchmark/benchmark.h>

#include "setup.h"

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "floor.h"
#include "transparency/bundle.h"
#include "transparency/predicates.h"

namespace openpcc::bench {
namespace {

using namespace openpcc::transparency;

constexpr uint64_t kLogSize = uint64_t{1} << 20;
constexpr uint64_t kLeafIndex = 777'777;
constexpr std::string_view kOrigin = "transparency.openpcc.example/log";

// The raw work of a bundle verification (see the file comment).
class FloorBundleVerify {
 public:
  struct Inputs {
    Bytes note_text;  // the checkpoint body the log signed
    Bytes note_sig;   // its 64-byte Ed25519 signature
    Bytes leaf;       // canonical envelope JSON
    uint64_t index = 0, size = 0;
    std::vector<Hash> proof;
    Hash root{};
    Bytes pae;        // PAE(payloadType, payload)
    Bytes sig;        // the publisher's 64-byte signature
  };

  FloorBundleVerify(Span publisher_key, Span log_key)
      : publisher_(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, publisher_key.data(), publisher_key.size())),
        log_(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, log_key.data(), log_key.size())),
        sha256_(EVP_MD_fetch(nullptr, "SHA2-256", nullptr)),
        md_(EVP_MD_CTX_new()),
        sig_(EVP_MD_CTX_new()) {
    check(publisher_ && log_ && sha256_ && md_ && sig_, "floor setup");
  }
  ~FloorBundleVerify() {
    EVP_MD_CTX_free(sig_);
    EVP_MD_CTX_free(md_);
    EVP_MD_free(sha256_);
    EVP_PKEY_free(log_);
    EVP_PKEY_free(publisher_);
  }
  FloorBundleVerify(const FloorBundleVerify&) = delete;
  FloorBundleVerify& operator=(const FloorBundleVerify&) = delete;

  // OpenSSL 3.0 cannot re-initialize a one-shot Ed25519 context for another key (the second verification fails), so
  // the context is reset first; the EVP_MD_CTX allocation is still reused.
  bool ed25519(EVP_PKEY* key, Span message, Span signature) {
    return EVP_MD_CTX_reset(sig_) == 1 &&
           EVP_DigestVerifyInit_ex(sig_, nullptr, nullptr, nullptr, nullptr, key, nullptr) == 1 &&
           EVP_DigestVerify(sig_, signature.data(), signature.size(), message.data(), message.size()) == 1;
  }

  // RFC 9162 §2.1.3.2, from the leaf's bytes.
  bool inclusion(const Inputs& in) {
    uint8_t r[32];
    const uint8_t leaf_prefix = 0x00;
    hash(leaf_prefix, in.leaf, {}, r);
    uint64_t fn = in.index, sn = in.size - 1;
    for (const Hash& p : in.proof) {
      if (sn == 0) return false;
      if ((fn & 1) || fn == sn) {
        hash(0x01, p, Span(r, 32), r);
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      } else {
        hash(0x01, Span(r, 32), p, r);
      }
      fn >>= 1;
      sn >>= 1;
    }
    return sn == 0 && std::memcmp(r, in.root.data(), 32) == 0;
  }

  bool verify(const Inputs& in) {
    return ed25519(log_, in.note_text, in.note_sig) && inclusion(in) && ed25519(publisher_, in.pae, in.sig);
  }
  bool verify_publisher(const Inputs& in) { return ed25519(publisher_, in.pae, in.sig); }
  bool verify_log(const Inputs& in) { return ed25519(log_, in.note_text, in.note_sig); }
  bool leaf(const Inputs& in) {
    uint8_t r[32];
    hash(0x00, in.leaf, {}, r);
    return r[0] != 0 || r[1] != 0;  // something that depends on the digest
  }

 private:
  void hash(uint8_t prefix, Span a, Span b, uint8_t* out) {
    uint8_t tmp[32];
    bool ok = EVP_DigestInit_ex2(md_, sha256_, nullptr) == 1 && EVP_DigestUpdate(md_, &prefix, 1) == 1 &&
              EVP_DigestUpdate(md_, a.data(), a.size()) == 1 &&
              (b.empty() || EVP_DigestUpdate(md_, b.data(), b.size()) == 1) &&
              EVP_DigestFinal_ex(md_, tmp, nullptr) == 1;
    check(ok, "SHA-256");
    std::memcpy(out, tmp, 32);
  }

  EVP_PKEY* publisher_;
  EVP_PKEY* log_;
  EVP_MD* sha256_;
  EVP_MD_CTX* md_;
  EVP_MD_CTX* sig_;
};

struct Setup {
  PublisherKeys publishers;
  std::optional<NoteVerifier> log_verifier;
  TransparencyBundle bundle;
  std::string bundle_json;
  Checkpoint checkpoint;
  FloorBundleVerify::Inputs floor_inputs;
  Bytes publisher_raw, log_raw;
};

const Setup& setup() {
  static const Setup s = [] {
    Setup out;
    auto publisher = must(crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x01)), "publisher key");
    auto signer = must(NoteSigner::create(std::string(kOrigin),
                                          must(crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x02)), "log key")),
                       "note signer");
    // A JWK of the size the AuthBank publishes (2048-bit modulus: 342 base64url characters).
    const std::string jwk = R"({"e":"AQAB","kid":")" + std::string(43, 'K') + R"(","kty":"RSA","n":")" +
                            std::string(342, 'n') + R"(","use":"sig"})";
    auto envelope = must(sign_statement(must(currency_key_statement(jwk), "statement"), publisher), "sign");

    MerkleTree tree;
    for (uint64_t i = 0; i < kLogSize; ++i) {
      if (i == kLeafIndex) {
        tree.append(envelope_leaf(envelope));
      } else {
        uint8_t leaf[8];
        for (int b = 0; b < 8; ++b) leaf[b] = static_cast<uint8_t>(i >> (8 * b));
        tree.append(Span(leaf, 8));
      }
    }
    out.checkpoint = Checkpoint{std::string(kOrigin), kLogSize, tree.root(), {}};
    const std::string note = must(sign_checkpoint(out.checkpoint, signer), "checkpoint");
    auto proof = must(tree.inclusion_proof(kLeafIndex, kLogSize), "proof");
    if (proof.size() != 20) die("proof length");
    out.bundle = must(assemble_bundle(envelope, kLeafIndex, proof, note), "bundle");
    out.bundle_json = to_json(out.bundle);
    out.publishers = must(PublisherKeys::of({publisher.public_key()}), "publisher keys");
    out.log_verifier.emplace(must(NoteVerifier::parse(signer.verifier_key()), "verifier"));

    auto parsed_note = must(parse_note(note), "note");
    out.floor_inputs.note_text = to_bytes(parsed_note.text);
    out.floor_inputs.note_sig = parsed_note.signatures.at(0).signature;
    out.floor_inputs.leaf = envelope_leaf(envelope);
    out.floor_inputs.index = kLeafIndex;
    out.floor_inputs.size = kLogSize;
    out.floor_inputs.proof = proof;
    out.floor_inputs.root = tree.root();
    out.floor_inputs.pae = dsse_pae(envelope.payload_type, envelope.payload);
    out.floor_inputs.sig = envelope.signatures.at(0).sig;
    const auto& p = publisher.public_key().bytes();
    out.publisher_raw.assign(p.begin(), p.end());
    const auto& l = signer.public_key().bytes();
    out.log_raw.assign(l.begin(), l.end());
    return out;
  }();
  return s;
}

OPENPCC_BENCH_OP bool op_verify_bundle_ours(const Setup& s) {
  return verify_bundle(s.bundle, s.publishers, *s.log_verifier, std::nullopt).has_value();
}
OPENPCC_BENCH_OP bool op_verify_bundle_ours_from_json(const Setup& s) {
  auto bundle = parse_transparency_bundle(s.bundle_json);
  return bundle && verify_bundle(*bundle, s.publishers, *s.log_verifier, std::nullopt).has_value();
}
OPENPCC_BENCH_OP bool op_verify_bundle_floor(FloorBundleVerify& floor, const FloorBundleVerify::Inputs& in) {
  return floor.verify(in);
}
OPENPCC_BENCH_OP bool op_checkpoint_ours(const Setup& s) {
  return open_signed_checkpoint(s.bundle.signed_checkpoint, *s.log_verifier).has_value();
}
OPENPCC_BENCH_OP bool op_checkpoint_floor(FloorBundleVerify& floor, const FloorBundleVerify::Inputs& in) {
  return floor.verify_log(in);
}
OPENPCC_BENCH_OP bool op_leaf_ours(const Setup& s) {
  const Hash h = envelope_leaf_hash(s.bundle.envelope);
  return h[0] != 0 || h[1] != 0;
}
OPENPCC_BENCH_OP bool op_leaf_floor(FloorBundleVerify& floor, const FloorBundleVerify::Inputs& in) {
  return floor.leaf(in);
}
OPENPCC_BENCH_OP bool op_inclusion_ours(const Setup& s) {
  return verify_inclusion(s.bundle.leaf_index, s.checkpoint.size, envelope_leaf_hash(s.bundle.envelope),
                          s.bundle.inclusion_proof, s.checkpoint.root)
      .has_value();
}
OPENPCC_BENCH_OP bool op_inclusion_floor(FloorBundleVerify& floor, const FloorBundleVerify::Inputs& in) {
  return floor.inclusion(in);
}
OPENPCC_BENCH_OP bool op_envelope_ours(const Setup& s) {
  return verify_envelope(s.bundle.envelope, s.publishers).has_value();
}
OPENPCC_BENCH_OP bool op_envelope_floor(FloorBundleVerify& floor, const FloorBundleVerify::Inputs& in) {
  return floor.verify_publisher(in);
}

void register_all() {
  auto with_floor = [](auto body) {
    return [body](benchmark::State& state) {
      const Setup& s = setup();
      FloorBundleVerify floor(s.publisher_raw, s.log_raw);
      body(state, s, floor);
    };
  };
  auto run = [](benchmark::State& state, auto op) {
    for (auto _ : state) {
      if (!op()) die("verification failed");
    }
  };

  benchmark::RegisterBenchmark("dsse/verify_bundle/ours", with_floor([run](auto& state, const Setup& s, auto&) {
                                 run(state, [&] { return op_verify_bundle_ours(s); });
                               }));
  benchmark::RegisterBenchmark("dsse/verify_bundle/ours_from_json",
                               with_floor([run](auto& state, const Setup& s, auto&) {
                                 run(state, [&] { return op_verify_bundle_ours_from_json(s); });
                               }));
  benchmark::RegisterBenchmark("dsse/verify_bundle/floor",
                               with_floor([run](auto& state, const Setup& s, FloorBundleVerify& floor) {
                                 run(state, [&] { return op_verify_bundle_floor(floor, s.floor_inputs); });
                               }));
  // The three steps separately: the signed checkpoint against one Ed25519 verification of its text; the envelope's
  // leaf hash (serialization included) against SHA-256 of the ready bytes, and the inclusion proof with it against
  // the raw walk; the envelope (signature and statement parse) against one Ed25519 verification of the PAE.
  benchmark::RegisterBenchmark("dsse/parts/checkpoint/ours", with_floor([run](auto& state, const Setup& s, auto&) {
                                 run(state, [&] { return op_checkpoint_ours(s); });
                               }));
  benchmark::RegisterBenchmark("dsse/parts/checkpoint/floor",
                               with_floor([run](auto& state, const Setup& s, FloorBundleVerify& floor) {
                                 run(state, [&] { return op_checkpoint_floor(floor, s.floor_inputs); });
                               }));
  benchmark::RegisterBenchmark("dsse/parts/leaf/ours", with_floor([run](auto& state, const Setup& s, auto&) {
                                 run(state, [&] { return op_leaf_ours(s); });
                               }));
  benchmark::RegisterBenchmark("dsse/parts/leaf/floor",
                               with_floor([run](auto& state, const Setup& s, FloorBundleVerify& floor) {
                                 run(state, [&] { return op_leaf_floor(floor, s.floor_inputs); });
                               }));
  benchmark::RegisterBenchmark("dsse/parts/inclusion_20/ours", with_floor([run](auto& state, const Setup& s, auto&) {
                                 run(state, [&] { return op_inclusion_ours(s); });
                               }));
  benchmark::RegisterBenchmark("dsse/parts/inclusion_20/floor",
                               with_floor([run](auto& state, const Setup& s, FloorBundleVerify& floor) {
                                 run(state, [&] { return op_inclusion_floor(floor, s.floor_inputs); });
                               }));
  benchmark::RegisterBenchmark("dsse/parts/envelope/ours", with_floor([run](auto& state, const Setup& s, auto&) {
                                 run(state, [&] { return op_envelope_ours(s); });
                               }));
  benchmark::RegisterBenchmark("dsse/parts/envelope/floor",
                               with_floor([run](auto& state, const Setup& s, FloorBundleVerify& floor) {
                                 run(state, [&] { return op_envelope_floor(floor, s.floor_inputs); });
                               }));
}

// Before measuring: the floor accepts the inputs ours accepts, and rejects them with one bit changed anywhere.
void cross_check() {
  const Setup& s = setup();
  FloorBundleVerify floor(s.publisher_raw, s.log_raw);
  if (auto ours = verify_bundle(s.bundle, s.publishers, *s.log_verifier, std::nullopt); !ours) {
    std::fprintf(stderr, "bench: %s\n", ours.error().to_string().c_str());
    die("cross-check: ours refused a valid bundle");
  }
  if (!op_verify_bundle_ours_from_json(s)) die("cross-check: ours refused the valid bundle's JSON");
  if (!floor.verify_log(s.floor_inputs)) die("cross-check: floor checkpoint signature");
  if (!floor.inclusion(s.floor_inputs)) die("cross-check: floor inclusion");
  if (!floor.verify_publisher(s.floor_inputs)) die("cross-check: floor envelope signature");
  for (int part = 0; part < 6; ++part) {
    FloorBundleVerify::Inputs bad = s.floor_inputs;
    switch (part) {
      case 0: bad.note_text[3] ^= 1; break;
      case 1: bad.note_sig[3] ^= 1; break;
      case 2: bad.leaf[3] ^= 1; break;
      case 3: bad.proof[7][3] ^= 1; break;
      case 4: bad.pae[40] ^= 1; break;
      case 5: bad.sig[3] ^= 1; break;
    }
    if (floor.verify(bad)) die("cross-check: the floor accepted a changed input");
  }
  TransparencyBundle bad = s.bundle;
  bad.inclusion_proof[7][3] ^= 1;
  if (verify_bundle(bad, s.publishers, *s.log_verifier, std::nullopt)) die("cross-check: ours accepted a bad proof");
}

const bool registered = [] {
  cross_check();
  register_all();
  return true;
}();

}  // namespace
}  // namespace openpcc::bench
