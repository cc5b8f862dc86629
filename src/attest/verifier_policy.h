// What a verifier trusts and expects of a compute node's evidence (attest/verify.h).
//
// Two starting points:
//   VerifierPolicy::production()   SEV-SNP only (AMD roots embedded), simulated TEE reports rejected.
//   VerifierPolicy::local(roots)   also accepts SIMULATED TEE reports signed by the listed simulated hardware roots:
//                                  for the local stack and tests, never for production.
// Either way the expected measurements come from the transparency log: `image_manifests` holds the image manifests
// the caller has verified there (an empty list accepts no node — fail closed).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "attest/image_manifest.h"
#include "attest/sevsnp_verify.h"
#include "common/bytes.h"
#include "crypto/ecdsa.h"

namespace openpcc::attest {

struct VerifierPolicy {
  // Simulated TEE reports (evidence type SIMULATED_TEE_REPORT): accepted only when this is set AND the report is
  // signed by one of `simulated_roots`.
  bool accept_simulated_tee = false;
  std::vector<crypto::EcdsaPublicKey> simulated_roots;
  // Launch measurements a TEE report may carry (SEV-SNP MEASUREMENT or the simulated report's). Empty: any.
  std::vector<Bytes> allowed_tee_measurements;

  // SEV-SNP: trusted AMD roots, CRLs, minimum TCB, debug/migration policy (attest/sevsnp_verify.h).
  SevSnpPolicy sevsnp;

  // The image manifests verified in the transparency log; a node must match one of them.
  std::vector<ImageManifest> image_manifests;

  // Freshness of the quote (its binding's issued_at): not older than max_evidence_age, not more than
  // max_clock_skew in the future.
  std::chrono::seconds max_evidence_age = std::chrono::hours(25);
  std::chrono::seconds max_clock_skew = std::chrono::minutes(5);
  // When set, the quote must answer exactly this challenge (a verifier-chosen nonce).
  std::optional<Bytes> challenge;
  // Verification time, Unix seconds; unset = the system clock.
  std::optional<int64_t> now;

  // SEV-SNP with the embedded AMD roots, no simulated TEEs.
  static VerifierPolicy production();
  // production() plus simulated TEE reports from `roots`.
  static VerifierPolicy local(std::vector<crypto::EcdsaPublicKey> roots);
};

}  // namespace openpcc::attest
