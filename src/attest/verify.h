// Verifying a compute node's evidence (a SignedEvidenceList) before sending it anything.
//
//   auto report = attest::verify_evidence(evidence, policy);
//   if (!report.ok()) { log(report.first_failure()->name, report.first_failure()->detail); refuse; }
//   auto rek = report.node->rek_public_key;   // 65-byte P-256 point: encrypt to it with HPKE 0x0010/0x0001/0x0001
//
// One routine per evidence piece, each recording named checks (docs/ATTESTATION.md lists them): the TEE report and
// its root, the report's binding to the quote and the AK, the AK, the quote's signature, PCR selection, PCR values,
// binding and freshness, the REK's creation certificate, Name, attributes and PCR policy, the event log's replay of
// every quoted PCR and its secure-boot state, and the match against an image manifest from the transparency log
// (all PCRs, PCR 12 against the model digest, the dm-verity root on the kernel command line).
//
// Every check runs that can; a check whose inputs failed to parse is recorded as skipped. The evidence is accepted
// only if no check failed and none was skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attest/pcr.h"
#include "attest/verifier_policy.h"
#include "common/bytes.h"
#include "openpcc/evidence.pb.h"

namespace openpcc::attest {

enum class CheckStatus { kPassed, kFailed, kSkipped };

struct Check {
  std::string name;      // stable identifier, e.g. "quote.signature", "rek.policy"
  CheckStatus status = CheckStatus::kSkipped;
  std::string seen;      // what the evidence holds (short, printable)
  std::string expected;  // what the policy wanted
  std::string detail;    // why it failed or was skipped; empty when it passed
};

// What the verifier learned about a node that passed.
struct VerifiedNode {
  Bytes rek_public_key;     // 65-byte uncompressed P-256 point (HPKE KEM 0x0010 public key)
  std::string tee;          // "sev-snp" or "simulated"
  std::string image_id;     // the matching image manifest
  Bytes model_digest;       // from that manifest, equal to what PCR 12 holds
  PcrValues pcrs;           // the quoted PCR values
  int64_t issued_at = 0;    // when the quote was made (Unix seconds)
};

struct VerificationReport {
  std::vector<Check> checks;
  std::optional<VerifiedNode> node;  // set only when ok()

  bool ok() const;
  // The first failed (or, failing none, skipped) check; nullptr when ok().
  const Check* first_failure() const;
  const Check* find(std::string_view name) const;
};

VerificationReport verify_evidence(const pb::SignedEvidenceList& evidence, const VerifierPolicy& policy);

// "✓ quote.signature" lines with seen/expected for failures: the human-readable report `openpcc verify` prints.
std::string format_report(const VerificationReport& report);

}  // namespace openpcc::attest
