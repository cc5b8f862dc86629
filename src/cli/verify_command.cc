// `openpcc verify EVIDENCE [--policy FILE] [--json] [--at UNIX]`: verifies a compute node's evidence and prints
// every check with what was seen and expected. Exit status: 0 verified, 1 not verified, 2 bad input.
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "attest/verify.h"
#include "cli/commands.h"
#include "client/trust/trust_policy.h"
#include "services/common/key_files.h"

namespace openpcc::cli {
namespace {

constexpr char kHelp[] =
    "Verify a compute node's attestation evidence (a SignedEvidenceList protobuf, as compute-boot writes it and as "
    "routers will serve it) against a trust policy, and print each check: the TEE report and its root, its binding "
    "to the quote and the AK, the quote (signature, PCRs, binding, freshness), the REK (Name, creation "
    "certification, attributes, PCR policy), the event log (replay of every quoted PCR, secure boot) and the image "
    "manifest (PCRs, PCR 12 model digest, dm-verity root).\n\n"
    "Without --policy the production policy applies: SEV-SNP only, SIMULATED TEE reports rejected, and no image "
    "manifest is trusted until a policy file names one (pinned, or proven in the transparency log). The policy file "
    "format is in docs/ATTESTATION.md.\n\n"
    "Exit status: 0 verified, 1 not verified (the report names the failed check), 2 unreadable input.";

constexpr size_t kMaxEvidenceFile = 16 << 20;

struct VerifyOptions {
  std::string evidence;
  std::string policy;
  bool json = false;
  int64_t at = 0;
};

int input_error(const std::string& message) {
  std::fprintf(stderr, "openpcc verify: error: %s\n", message.c_str());
  return 2;
}

const char* status_name(attest::CheckStatus s) {
  switch (s) {
    case attest::CheckStatus::kPassed: return "passed";
    case attest::CheckStatus::kFailed: return "failed";
    case attest::CheckStatus::kSkipped: return "skipped";
  }
  return "?";
}

int run_verify(const VerifyOptions& opts) {
  auto bytes = services::read_public_file(opts.evidence, kMaxEvidenceFile);
  if (!bytes) return input_error(bytes.error().message);
  pb::SignedEvidenceList evidence;
  if (!evidence.ParseFromString(*bytes)) {
    return input_error(opts.evidence + " is not a SignedEvidenceList protobuf");
  }

  client::TrustPolicy policy = client::production_trust_policy();
  if (!opts.policy.empty()) {
    auto loaded = client::load_trust_policy(opts.policy);
    if (!loaded) return input_error(loaded.error().to_string());
    policy = std::move(*loaded);
  }
  if (opts.at != 0) policy.verifier.now = opts.at;

  attest::VerificationReport report = client::verify_node(evidence, policy);
  if (opts.json) {
    nlohmann::json out;
    out["valid"] = report.ok();
    out["checks"] = nlohmann::json::array();
    for (const auto& c : report.checks) {
      out["checks"].push_back({{"name", c.name},
                               {"status", status_name(c.status)},
                               {"seen", c.seen},
                               {"expected", c.expected},
                               {"detail", c.detail}});
    }
    if (const auto* f = report.first_failure()) out["failed_check"] = f->name;
    if (report.node) {
      out["node"] = {{"tee", report.node->tee},
                     {"image_id", report.node->image_id},
                     {"model_digest", to_hex(report.node->model_digest)},
                     {"rek_public_key", to_hex(report.node->rek_public_key)},
                     {"issued_at", report.node->issued_at}};
    }
    out["manifest_sources"] = policy.manifest_sources;
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("evidence: %s (%d pieces)\npolicy:   %s\n", opts.evidence.c_str(), evidence.items_size(),
                opts.policy.empty() ? "production default" : opts.policy.c_str());
    for (const auto& source : policy.manifest_sources) std::printf("          image manifest from %s\n", source.c_str());
    std::printf("\n%s", attest::format_report(report).c_str());
    if (report.node) {
      std::printf("REK (HPKE P-256 public key): %s\n", to_hex(report.node->rek_public_key).c_str());
    }
  }
  return report.ok() ? 0 : 1;
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<VerifyOptions>();
  auto* cmd = app.add_subcommand("verify", "Verify a compute node's attestation evidence and print the checks");
  cmd->footer(kHelp);
  cmd->add_option("evidence", opts->evidence, "Evidence file (SignedEvidenceList protobuf)")->required();
  cmd->add_option("--policy", opts->policy, "Trust policy file (JSON; default: the production policy)");
  cmd->add_flag("--json", opts->json, "Print the report as JSON");
  cmd->add_option("--at", opts->at, "Verify as of this Unix time (default: now)");
  cmd->callback([opts, &exit_code] { exit_code = run_verify(*opts); });
}

}  // namespace openpcc::cli
