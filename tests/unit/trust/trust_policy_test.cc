#include "client/trust/trust_policy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "attest/boot_manifest.h"
#include "attest/image_manifest.h"
#include "attest/simulated_tee.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "support/temp_dir.h"
#include "transparency/bundle.h"
#include "transparency/checkpoint.h"
#include "transparency/merkle.h"
#include "transparency/note.h"
#include "transparency/predicates.h"
#include "transparency/statement.h"

namespace openpcc::client {
namespace {

Bytes digest(std::string_view s) {
  auto d = crypto::sha256(as_bytes(s));
  return Bytes(d.begin(), d.end());
}

void write_file(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

attest::ImageManifest sample_manifest(std::string id, std::string_view model) {
  attest::BootManifest boot;
  boot.firmware_version = "fw";
  boot.bootloader_digest = digest("bootloader");
  boot.gpt_header = to_bytes("gpt");
  boot.kernel_cmdline = "ro confsec.root=" + to_hex(digest("root"));
  boot.model_digest = digest(model);
  return attest::image_manifest_for(std::move(id), boot);
}

// A publisher key, a log (in memory) with its note key, and bundles for image manifests appended to it.
class TrustPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto pem = publisher_.public_key().to_pem().value();
    write_file(dir_ / "publisher.pub.pem", pem);
    log_signer_.emplace(transparency::NoteSigner::create("example.org/log", crypto::Ed25519PrivateKey::generate().value()).value());
  }

  // Appends the manifest's signed statement to the log and returns the bundle JSON as of the current size.
  std::string publish(const attest::ImageManifest& manifest, const crypto::Ed25519PrivateKey& key) {
    auto statement = transparency::image_manifest_statement(attest::to_json(manifest)).value();
    auto envelope = transparency::sign_statement(statement, key).value();
    const uint64_t index = tree_.append(transparency::envelope_leaf(envelope));
    envelopes_.push_back(envelope);
    return bundle_for(index);
  }

  std::string bundle_for(uint64_t index) {
    transparency::Checkpoint checkpoint{"example.org/log", tree_.size(), tree_.root()};
    auto note = transparency::sign_checkpoint(checkpoint, *log_signer_).value();
    auto proof = tree_.inclusion_proof(index, tree_.size()).value();
    auto bundle = transparency::assemble_bundle(envelopes_[index], index, proof, note).value();
    return transparency::to_json(bundle);
  }

  std::string log_key() const { return log_signer_->verifier_key(); }

  Result<TrustPolicy> load(const nlohmann::json& json) {
    write_file(dir_ / "trust.json", json.dump());
    return load_trust_policy(dir_ / "trust.json");
  }

  test_support::TempDir dir_{"openpcc-trust"};
  crypto::Ed25519PrivateKey publisher_ = crypto::Ed25519PrivateKey::generate().value();
  std::optional<transparency::NoteSigner> log_signer_;
  transparency::MerkleTree tree_;
  std::vector<transparency::DsseEnvelope> envelopes_;
};

TEST_F(TrustPolicyTest, DefaultIsProductionAndTrustsNoImage) {
  auto policy = production_trust_policy();
  EXPECT_FALSE(policy.verifier.accept_simulated_tee);
  EXPECT_TRUE(policy.verifier.image_manifests.empty());
  EXPECT_FALSE(policy.transparency);
}

TEST_F(TrustPolicyTest, LoadsPinnedManifestsAndSimulatedRoots) {
  auto root = attest::SimulatedHardwareRoot::generate().value();
  write_file(dir_ / "root.pub.pem", root.public_key().to_pem().value());
  write_file(dir_ / "image.json", attest::to_json(sample_manifest("pinned", "model A")));
  auto policy = load({{"accept_simulated_tee", true},
                      {"simulated_roots", {"root.pub.pem"}},
                      {"image_manifests", {"image.json"}},
                      {"max_evidence_age_seconds", 600},
                      {"challenge", "00112233"}});
  ASSERT_TRUE(policy) << policy.error().to_string();
  EXPECT_TRUE(policy->verifier.accept_simulated_tee);
  ASSERT_EQ(policy->verifier.simulated_roots.size(), 1u);
  EXPECT_EQ(policy->verifier.simulated_roots[0], root.public_key());
  ASSERT_EQ(policy->verifier.image_manifests.size(), 1u);
  EXPECT_EQ(policy->verifier.image_manifests[0].id, "pinned");
  EXPECT_EQ(policy->verifier.max_evidence_age, std::chrono::seconds(600));
  EXPECT_EQ(*policy->verifier.challenge, (Bytes{0x00, 0x11, 0x22, 0x33}));
  EXPECT_EQ(policy->manifest_sources, std::vector<std::string>{"pinned file image.json"});
}

TEST_F(TrustPolicyTest, RejectsBadPolicies) {
  EXPECT_FALSE(load({{"unknown", 1}}));
  EXPECT_FALSE(load({{"simulated_roots", {"missing.pem"}}, {"accept_simulated_tee", true}}));
  auto root = attest::SimulatedHardwareRoot::generate().value();
  write_file(dir_ / "root.pub.pem", root.public_key().to_pem().value());
  // Roots without opting in to simulated TEEs is a contradiction, not a silent no-op.
  EXPECT_FALSE(load({{"simulated_roots", {"root.pub.pem"}}}));
  // A P-256 key is not a simulated root.
  auto p256 = crypto::EcdsaPrivateKey::generate(crypto::EcCurve::kP256).value();
  write_file(dir_ / "p256.pem", p256.public_key().to_pem().value());
  EXPECT_FALSE(load({{"simulated_roots", {"p256.pem"}}, {"accept_simulated_tee", true}}));
  write_file(dir_ / "bad.json", "{\"id\":\"x\"}");
  EXPECT_FALSE(load({{"image_manifests", {"bad.json"}}}));
  EXPECT_FALSE(load({{"challenge", "zz"}}));
  EXPECT_FALSE(load({{"transparency", {{"log_key", log_key()}}}}));  // no publisher keys
}

TEST_F(TrustPolicyTest, LoadsImageManifestsProvenInTheLog) {
  auto first = publish(sample_manifest("image-1", "model A"), publisher_);
  auto second = publish(sample_manifest("image-2", "model B"), publisher_);
  write_file(dir_ / "image-1.bundle.json", first);
  write_file(dir_ / "image-2.bundle.json", second);
  auto policy = load({{"transparency",
                       {{"log_key", log_key()},
                        {"publisher_keys", {"publisher.pub.pem"}},
                        {"image_manifest_bundles", {"image-1.bundle.json", "image-2.bundle.json"}}}}});
  ASSERT_TRUE(policy) << policy.error().to_string();
  ASSERT_EQ(policy->verifier.image_manifests.size(), 2u);
  EXPECT_EQ(policy->verifier.image_manifests[0].id, "image-1");
  EXPECT_EQ(policy->verifier.image_manifests[1].id, "image-2");
  EXPECT_EQ(policy->verifier.image_manifests[1].model_digest, digest("model B"));
  ASSERT_TRUE(policy->transparency);
}

TEST_F(TrustPolicyTest, RefusesBundlesThatDoNotVerify) {
  // Signed by a key the policy does not trust.
  auto stranger = crypto::Ed25519PrivateKey::generate().value();
  write_file(dir_ / "stranger.bundle.json", publish(sample_manifest("x", "model A"), stranger));
  auto policy = load({{"transparency",
                       {{"log_key", log_key()},
                        {"publisher_keys", {"publisher.pub.pem"}},
                        {"image_manifest_bundles", {"stranger.bundle.json"}}}}});
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find("stranger.bundle.json"), std::string::npos) << policy.error().to_string();

  // Another log's checkpoint.
  auto other_log = transparency::NoteSigner::create("example.org/log", crypto::Ed25519PrivateKey::generate().value());
  write_file(dir_ / "good.bundle.json", publish(sample_manifest("y", "model A"), publisher_));
  policy = load({{"transparency",
                  {{"log_key", other_log->verifier_key()},
                   {"publisher_keys", {"publisher.pub.pem"}},
                   {"image_manifest_bundles", {"good.bundle.json"}}}}});
  EXPECT_FALSE(policy);

  // A bundle whose statement was edited after signing.
  auto json = nlohmann::json::parse(publish(sample_manifest("z", "model A"), publisher_));
  std::string payload = json["dsseEnvelope"]["payload"];
  payload[10] = payload[10] == 'A' ? 'B' : 'A';
  json["dsseEnvelope"]["payload"] = payload;
  write_file(dir_ / "edited.bundle.json", json.dump());
  policy = load({{"transparency",
                  {{"log_key", log_key()},
                   {"publisher_keys", {"publisher.pub.pem"}},
                   {"image_manifest_bundles", {"edited.bundle.json"}}}}});
  EXPECT_FALSE(policy);
}

TEST_F(TrustPolicyTest, EvidenceBundlesAreCheckedBeforeTheEvidence) {
  auto bundle = publish(sample_manifest("carried", "model A"), publisher_);
  auto policy = load({{"transparency", {{"log_key", log_key()}, {"publisher_keys", {"publisher.pub.pem"}}}}});
  ASSERT_TRUE(policy) << policy.error().to_string();

  pb::SignedEvidenceList evidence;
  auto* piece = evidence.add_items();
  piece->set_type(pb::IMAGE_MANIFEST_BUNDLE);
  piece->set_data(bundle);
  auto report = verify_node(evidence, *policy);
  ASSERT_FALSE(report.ok());  // the rest of the evidence is missing
  const auto* check = report.find("transparency.image_manifest_bundle");
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->status, attest::CheckStatus::kPassed) << check->detail;
  EXPECT_EQ(check->seen, "image carried");

  piece->set_data(bundle.substr(0, bundle.size() / 2));
  report = verify_node(evidence, *policy);
  EXPECT_EQ(report.find("transparency.image_manifest_bundle")->status, attest::CheckStatus::kFailed);

  // Without a transparency log in the policy, a carried bundle cannot count.
  piece->set_data(bundle);
  report = verify_node(evidence, production_trust_policy());
  EXPECT_EQ(report.find("transparency.image_manifest_bundle")->status, attest::CheckStatus::kFailed);
}

}  // namespace
}  // namespace openpcc::client
