#include "client/trust/trust_policy.h"

#include "attest/image_manifest.h"
#include "services/common/config.h"
#include "services/common/key_files.h"
#include "transparency/bundle.h"
#include "transparency/predicates.h"

namespace openpcc::client {
namespace {

Result<std::string> read_text(const std::filesystem::path& path) {
  constexpr size_t kMaxPolicyInputFile = 4 << 20;  // keys, manifests, bundles, CRLs: all far smaller
  return services::read_public_file(path, kMaxPolicyInputFile);
}

std::unexpected<Error> in_file(const std::filesystem::path& path, const Error& e) {
  return make_error(e.code, path.string() + ": " + e.message);
}

}  // namespace

TrustPolicy production_trust_policy() { return TrustPolicy{attest::VerifierPolicy::production(), std::nullopt, {}}; }

Result<attest::ImageManifest> verified_image_manifest(std::string_view bundle_json, const TransparencyTrust& trust) {
  auto bundle = transparency::parse_transparency_bundle(bundle_json);
  if (!bundle) return std::unexpected(bundle.error());
  auto verified = transparency::verify_bundle(*bundle, trust.publishers, trust.log_key, trust.trusted_checkpoint);
  if (!verified) return std::unexpected(verified.error());
  auto manifest_json = transparency::image_manifest_from_statement(verified->statement);
  if (!manifest_json) return std::unexpected(manifest_json.error());
  return attest::parse_image_manifest_json(*manifest_json);
}

Result<TrustPolicy> load_trust_policy(const std::filesystem::path& file) {
  auto json = services::read_config_file(file.string());
  if (!json) return std::unexpected(json.error());
  const std::filesystem::path base = file.parent_path();
  auto path_of = [&](const std::string& p) { return services::resolve_config_path(base, p); };

  services::ConfigReader cfg(*json, file.string());
  TrustPolicy policy = production_trust_policy();
  attest::VerifierPolicy& v = policy.verifier;
  v.accept_simulated_tee = cfg.boolean("accept_simulated_tee", false);
  const auto simulated_roots = cfg.strings("simulated_roots");
  const auto measurements = cfg.strings("allowed_tee_measurements");
  const auto pinned = cfg.strings("image_manifests");
  auto& tlog = cfg.object("transparency");
  const bool has_tlog = cfg.has("transparency");
  const std::string log_key = tlog.string("log_key");
  const auto publisher_keys = tlog.strings("publisher_keys");
  const auto bundles = tlog.strings("image_manifest_bundles");
  const std::string state_file = tlog.string("state_file");
  v.max_evidence_age = std::chrono::seconds(cfg.integer("max_evidence_age_seconds", v.max_evidence_age.count(), 1,
                                                        int64_t{366} * 24 * 3600));
  v.max_clock_skew = std::chrono::seconds(cfg.integer("max_clock_skew_seconds", v.max_clock_skew.count(), 0, 3600));
  const auto challenge = cfg.optional_string("challenge");
  auto& sev = cfg.object("sevsnp");
  const auto crls = sev.strings("crls");
  v.sevsnp.require_crl = sev.boolean("require_crl", true);
  v.sevsnp.allow_debug = sev.boolean("allow_debug", false);
  v.sevsnp.allow_migration_agent = sev.boolean("allow_migration_agent", false);
  auto& tcb = sev.object("minimum_tcb");
  v.sevsnp.minimum_tcb = attest::TcbVersion::from_spls(
      static_cast<uint8_t>(tcb.integer("boot_loader", 0, 0, 255)), static_cast<uint8_t>(tcb.integer("tee", 0, 0, 255)),
      static_cast<uint8_t>(tcb.integer("snp", 0, 0, 255)), static_cast<uint8_t>(tcb.integer("microcode", 0, 0, 255)));
  if (auto ok = cfg.finish(); !ok) return std::unexpected(ok.error());

  for (const auto& root : simulated_roots) {
    auto pem = read_text(path_of(root));
    if (!pem) return std::unexpected(pem.error());
    auto key = crypto::EcdsaPublicKey::from_pem(*pem);
    if (!key) return in_file(path_of(root), key.error());
    if (key->curve() != crypto::EcCurve::kP384) {
      return make_error(ErrorCode::kInvalidArgument, path_of(root).string() + ": a simulated root is a P-384 key");
    }
    v.simulated_roots.push_back(std::move(*key));
  }
  if (!v.simulated_roots.empty() && !v.accept_simulated_tee) {
    return make_error(ErrorCode::kInvalidArgument,
                      file.string() + ": simulated_roots are listed but accept_simulated_tee is false");
  }
  for (const auto& m : measurements) {
    auto bytes = from_hex(m);
    if (!bytes || bytes->size() != 48) {
      return make_error(ErrorCode::kInvalidArgument,
                        file.string() + ": allowed_tee_measurements entries are 48-byte hex values");
    }
    v.allowed_tee_measurements.push_back(std::move(*bytes));
  }
  if (challenge) {
    auto bytes = from_hex(*challenge);
    if (!bytes || bytes->empty() || bytes->size() > 64) {
      return make_error(ErrorCode::kInvalidArgument, file.string() + ": challenge must be 1 to 64 bytes of hex");
    }
    v.challenge = std::move(*bytes);
  }
  for (const auto& crl : crls) {
    auto text = read_text(path_of(crl));
    if (!text) return std::unexpected(text.error());
    auto parsed = crypto::CertificateRevocationList::parse(as_bytes(*text));
    if (!parsed) return in_file(path_of(crl), parsed.error());
    v.sevsnp.crls.push_back(std::move(*parsed));
  }
  for (const auto& m : pinned) {
    auto text = read_text(path_of(m));
    if (!text) return std::unexpected(text.error());
    auto manifest = attest::parse_image_manifest_json(*text);
    if (!manifest) return in_file(path_of(m), manifest.error());
    v.image_manifests.push_back(std::move(*manifest));
    policy.manifest_sources.push_back("pinned file " + m);
  }

  if (has_tlog) {
    if (log_key.empty() || publisher_keys.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        file.string() + ": transparency needs log_key and at least one publisher key");
    }
    auto verifier = transparency::NoteVerifier::parse(log_key);
    if (!verifier) return in_file(file, verifier.error());
    TransparencyTrust trust{std::move(*verifier), {}, std::nullopt};
    for (const auto& k : publisher_keys) {
      auto pem = read_text(path_of(k));
      if (!pem) return std::unexpected(pem.error());
      auto key = crypto::Ed25519PublicKey::from_pem(*pem);
      if (!key) return in_file(path_of(k), key.error());
      if (auto ok = trust.publishers.add(*key); !ok) return in_file(path_of(k), ok.error());
    }
    if (!state_file.empty() && std::filesystem::exists(path_of(state_file))) {
      auto note = read_text(path_of(state_file));
      if (!note) return std::unexpected(note.error());
      auto checkpoint = transparency::open_signed_checkpoint(*note, trust.log_key);
      if (!checkpoint) return in_file(path_of(state_file), checkpoint.error());
      trust.trusted_checkpoint = std::move(*checkpoint);
    }
    for (const auto& b : bundles) {
      auto text = read_text(path_of(b));
      if (!text) return std::unexpected(text.error());
      auto manifest = verified_image_manifest(*text, trust);
      if (!manifest) return in_file(path_of(b), manifest.error());
      v.image_manifests.push_back(std::move(*manifest));
      policy.manifest_sources.push_back("transparency bundle " + b);
    }
    policy.transparency = std::move(trust);
  }
  return policy;
}

attest::VerificationReport verify_node(const pb::SignedEvidenceList& evidence, const TrustPolicy& policy) {
  attest::VerifierPolicy verifier = policy.verifier;
  std::vector<attest::Check> bundle_checks;
  for (const auto& piece : evidence.items()) {
    if (piece.type() != pb::IMAGE_MANIFEST_BUNDLE) continue;
    attest::Check check{"transparency.image_manifest_bundle", attest::CheckStatus::kPassed, {}, {}, {}};
    if (!policy.transparency) {
      check.status = attest::CheckStatus::kFailed;
      check.detail = "the evidence carries an image-manifest bundle but the trust policy names no transparency log";
    } else {
      auto manifest = verified_image_manifest(piece.data(), *policy.transparency);
      if (manifest) {
        check.seen = "image " + manifest->id;
        check.expected = "signed by a trusted publisher, included in log " + policy.transparency->log_key.name();
        verifier.image_manifests.push_back(std::move(*manifest));
      } else {
        check.status = attest::CheckStatus::kFailed;
        check.detail = manifest.error().message;
      }
    }
    bundle_checks.push_back(std::move(check));
  }
  attest::VerificationReport report = attest::verify_evidence(evidence, verifier);
  if (!bundle_checks.empty()) {
    report.checks.insert(report.checks.begin(), bundle_checks.begin(), bundle_checks.end());
    if (!report.ok()) report.node.reset();
  }
  return report;
}

}  // namespace openpcc::client
