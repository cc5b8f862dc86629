// Deciding whether to trust a compute node: the client-side join of attestation (attest/verify.h) and transparency
// (transparency/bundle.h). A trust policy says which TEE roots count, which image manifests are expected (pinned
// files, or statements proven to be in the transparency log), and how fresh a quote must be.
//
//   auto policy = client::load_trust_policy("trust.json");          // or client::production_trust_policy()
//   auto report = client::verify_node(evidence, *policy);            // attest::VerificationReport
//   if (report.ok()) encrypt_to(report.node->rek_public_key);
//
// Trust policy file (JSON, strict: unknown keys are errors; paths are relative to the file):
//   {
//     "accept_simulated_tee": false,             // true only for a local stack: SIMULATED TEE reports
//     "simulated_roots": ["sim-root.pub.pem"],   // simulated hardware roots (ECDSA P-384 public keys)
//     "allowed_tee_measurements": ["<96 hex>"],  // optional launch-measurement allow list
//     "image_manifests": ["image.json"],         // pinned image manifests (trusted as given)
//     "transparency": {                           // image manifests proven in the transparency log
//       "log_key": "<name>+<hex8>+<base64>",      // the log's signed-note verifier key
//       "publisher_keys": ["publisher.pub.pem"],  // Ed25519 keys whose DSSE signatures count
//       "image_manifest_bundles": ["image.bundle.json"],
//       "state_file": "log-state.note"            // optional: the last checkpoint seen (fork check)
//     },
//     "max_evidence_age_seconds": 90000, "max_clock_skew_seconds": 300,
//     "challenge": "<hex>",                        // require a quote answering this challenge
//     "sevsnp": {"crls": ["genoa.crl"], "require_crl": true, "allow_debug": false,
//                "minimum_tcb": {"boot_loader": 0, "tee": 0, "snp": 0, "microcode": 0}}
//   }
// Evidence may also carry its own image manifest as an IMAGE_MANIFEST_BUNDLE piece; it counts only if it verifies
// under "transparency" (the "transparency.image_manifest_bundle" check).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "attest/verifier_policy.h"
#include "attest/verify.h"
#include "common/error.h"
#include "openpcc/evidence.pb.h"
#include "transparency/checkpoint.h"
#include "transparency/dsse.h"
#include "transparency/note.h"

namespace openpcc::client {

struct TransparencyTrust {
  transparency::NoteVerifier log_key;
  transparency::PublisherKeys publishers;
  std::optional<transparency::Checkpoint> trusted_checkpoint;  // from the state file, when there is one
};

struct TrustPolicy {
  attest::VerifierPolicy verifier;
  std::optional<TransparencyTrust> transparency;
  // Where each trusted image manifest came from ("pinned file image.json", "log index 7 (image.bundle.json)").
  std::vector<std::string> manifest_sources;
};

// The production default: SEV-SNP with the embedded AMD roots, no simulated TEEs, no image manifest yet (so no
// node passes until the caller adds manifests from the log).
TrustPolicy production_trust_policy();

// Reads a trust policy file (see above). Every bundle is verified while loading; a bundle that does not verify, or
// a statement that is not an image manifest, is an error naming the file.
Result<TrustPolicy> load_trust_policy(const std::filesystem::path& file);

// Verifies an image-manifest bundle (JSON) under `trust` and returns the manifest.
Result<attest::ImageManifest> verified_image_manifest(std::string_view bundle_json, const TransparencyTrust& trust);

// IMAGE_MANIFEST_BUNDLE pieces are verified first (check "transparency.image_manifest_bundle") and their manifests
// added to the policy's; then attest::verify_evidence.
attest::VerificationReport verify_node(const pb::SignedEvidenceList& evidence, const TrustPolicy& policy);

}  // namespace openpcc::client
