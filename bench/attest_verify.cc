// Verifying one compute node's evidence (what a client does before it encrypts to a node):
//
//   attest/verify_evidence       attest::verify_evidence on the 6-piece evidence of a node booted on swtpm (SIMULATED
//                                TEE report, ECC AK): every check of docs/ATTESTATION.md
//   attest/floor                 the public-key operations it cannot avoid, done directly on OpenSSL through
//                                crypto::EcdsaPublicKey with keys parsed once: the TEE report's ECDSA P-384 verify and
//                                the quote's and the creation certification's ECDSA P-256 verifies
//   attest/parse_evidence        SignedEvidenceList protobuf parse alone
//
// The ratio floor/verify says how much of a verification is our parsing, hashing and bookkeeping (event-log replay,
// PolicyPCR digest, Names, quote binding) on top of the three signatures.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include "attest/image_manifest.h"
#include "attest/simulated_tee.h"
#include "attest/tpm/compute_boot.h"
#include "attest/tpm/tcti.h"
#include "attest/tpm_structures.h"
#include "attest/verify.h"
#include "crypto/ecdsa.h"
#include "crypto/sha256.h"
#include "setup.h"
#include "support/swtpm.h"

namespace openpcc::bench {
namespace {

constexpr int64_t kBootTime = 1'790'000'000;

const pb::SignedEvidencePiece& piece(const pb::SignedEvidenceList& list, pb::EvidenceType type) {
  for (const auto& p : list.items()) {
    if (p.type() == type) return p;
  }
  die("evidence without piece " + std::to_string(type));
}

struct Fixture {
  Fixture() {
    auto swtpm = must(test_support::Swtpm::start(), "start swtpm");
    auto device = must(tpm::TpmDevice::open(must(tpm::TctiConfig::parse(swtpm->tcti()), "tcti")), "open swtpm");
    if (auto s = device.startup(); !s) die(s.error().to_string());
    auto root = must(attest::SimulatedHardwareRoot::generate(), "simulated root");
    attest::BootManifest manifest;
    manifest.firmware_version = "bench firmware";
    manifest.bootloader_digest = sha256_bytes("bootloader");
    manifest.gpt_header = to_bytes("gpt");
    manifest.kernel_cmdline = "ro confsec.root=" + to_hex(sha256_bytes("root"));
    manifest.model_digest = sha256_bytes("model");
    tpm::ComputeBootConfig config;
    config.manifest = manifest;
    config.simulated_root = &root;
    auto node = must(tpm::boot_compute_node(device, config, kBootTime), "boot");
    evidence = node.evidence();
    if (!evidence.SerializeToString(&serialized)) die("serialize");
    policy = attest::VerifierPolicy::local({root.public_key()});
    policy.image_manifests = {attest::image_manifest_for("bench", manifest)};
    policy.now = kBootTime + 1;
    auto report = attest::verify_evidence(evidence, policy);
    if (!report.ok()) die("evidence does not verify:\n" + attest::format_report(report));

    // The floor's inputs: keys and signatures parsed once.
    tee_key.emplace(root.public_key());
    const auto& tee = piece(evidence, pb::SIMULATED_TEE_REPORT);
    tee_body = to_bytes(tee.data());
    tee_signature = to_bytes(tee.signature());
    auto ak = must(attest::parse_tpmt_public(as_bytes(piece(evidence, pb::AK_TPMT_PUBLIC).data())), "AK");
    ak_key.emplace(must(crypto::EcdsaPublicKey::from_coordinates(crypto::EcCurve::kP256, ak.ecc_x, ak.ecc_y), "AK"));
    pb::TPMQuoteAttestation quote;
    if (!quote.ParseFromString(piece(evidence, pb::TPM_QUOTE).data())) die("quote");
    quote_attest = to_bytes(quote.tpmstattestquote());
    quote_signature = must(attest::parse_tpmt_signature(as_bytes(piece(evidence, pb::TPM_QUOTE).signature())), "sig");
    const auto& certify = piece(evidence, pb::TPM_CERTIFY_REK_CREATION);
    certify_attest = must(attest::parse_tpm2b_attest(as_bytes(certify.data())), "certify").marshalled;
    certify_signature = must(attest::parse_tpmt_signature(as_bytes(certify.signature())), "certify sig");
  }

  pb::SignedEvidenceList evidence;
  std::string serialized;
  attest::VerifierPolicy policy;
  std::optional<crypto::EcdsaPublicKey> tee_key, ak_key;
  Bytes tee_body, tee_signature, quote_attest, certify_attest;
  attest::TpmSignature quote_signature, certify_signature;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_VerifyEvidence(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    auto report = attest::verify_evidence(f.evidence, f.policy);
    if (!report.ok()) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(report);
  }
}
BENCHMARK(BM_VerifyEvidence)->Name("attest/verify_evidence")->Unit(benchmark::kMicrosecond);

void BM_Floor(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    bool ok = f.tee_key->verify(f.tee_body, ByteSpan(f.tee_signature).first(48), ByteSpan(f.tee_signature).subspan(48))
                  .has_value();
    ok &= f.ak_key->verify(f.quote_attest, f.quote_signature.ecdsa_r, f.quote_signature.ecdsa_s).has_value();
    ok &= f.ak_key->verify(f.certify_attest, f.certify_signature.ecdsa_r, f.certify_signature.ecdsa_s).has_value();
    if (!ok) state.SkipWithError("floor verification failed");
  }
}
BENCHMARK(BM_Floor)->Name("attest/floor")->Unit(benchmark::kMicrosecond);

void BM_ParseEvidence(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    pb::SignedEvidenceList list;
    if (!list.ParseFromString(f.serialized)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(list);
  }
}
BENCHMARK(BM_ParseEvidence)->Name("attest/parse_evidence")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace openpcc::bench
