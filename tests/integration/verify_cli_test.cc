// `openpcc compute-boot` on a real swtpm, then `openpcc verify` as a user runs it: the report for a good node, the
// named failed check for tampered evidence, the production policy refusing the simulated TEE, stale evidence,
// --json, and unreadable input.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "openpcc/evidence.pb.h"
#include "support/service_process.h"
#include "support/swtpm.h"
#include "support/temp_dir.h"

namespace openpcc {
namespace {

using test_support::run_openpcc;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

class VerifyCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test_support::TempDir>("openpcc-verify-cli");
    auto swtpm = test_support::Swtpm::start();
    ASSERT_TRUE(swtpm) << swtpm.error().to_string();
    swtpm_ = std::move(*swtpm);
    std::filesystem::create_directories(*dir_ / "model");
    write_file(*dir_ / "model" / "weights.gguf", "not really a model, but its digest goes into PCR 12");
    write_file(*dir_ / "model" / "tokenizer.json", "{}");
    auto boot = run_openpcc({"compute-boot", "--tpm", swtpm_->tcti(), "--model", (*dir_ / "model").string(),
                             "--out-dir", (*dir_ / "node").string(), "--image-id", "test-image"});
    ASSERT_EQ(boot.status, 0) << boot.out;
    boot_output_ = boot.out;
  }
  static void TearDownTestSuite() {
    swtpm_.reset();
    dir_.reset();
  }
  void SetUp() override { ASSERT_FALSE(boot_output_.empty()) << "compute-boot failed in suite setup"; }

  static std::string evidence() { return (*dir_ / "node" / "evidence.pb").string(); }
  static std::string policy() { return (*dir_ / "node" / "trust-policy.json").string(); }

  static inline std::unique_ptr<test_support::TempDir> dir_;
  static inline std::unique_ptr<test_support::Swtpm> swtpm_;
  static inline std::string boot_output_;
};

TEST_F(VerifyCliTest, ComputeBootSaysWhatItDid) {
  EXPECT_NE(boot_output_.find("SIMULATED"), std::string::npos) << boot_output_;
  EXPECT_NE(boot_output_.find("openpcc verify"), std::string::npos) << boot_output_;
  for (const char* file : {"evidence.pb", "image-manifest.json", "trust-policy.json", "simulated-root.pem",
                           "simulated-root.pem.pub"}) {
    EXPECT_TRUE(std::filesystem::exists(*dir_ / "node" / file)) << file;
  }
  auto perms = std::filesystem::status(*dir_ / "node" / "simulated-root.pem").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(VerifyCliTest, GoodNodePasses) {
  auto out = run_openpcc({"verify", evidence(), "--policy", policy()});
  EXPECT_EQ(out.status, 0) << out.out;
  for (const char* line : {"✓ tee.signature", "✓ quote.signature", "✓ quote.binding", "✓ quote.freshness",
                           "✓ rek.policy", "✓ rek.attributes", "✓ event_log.replay", "✓ image.model_digest",
                           "PASS: node evidence verified (simulated TEE, image test-image)", "REK (HPKE P-256"}) {
    EXPECT_NE(out.out.find(line), std::string::npos) << line << "\n" << out.out;
  }
}

TEST_F(VerifyCliTest, JsonReport) {
  auto out = run_openpcc({"verify", evidence(), "--policy", policy(), "--json"});
  ASSERT_EQ(out.status, 0) << out.out;
  auto json = nlohmann::json::parse(out.out);
  EXPECT_TRUE(json["valid"].get<bool>());
  EXPECT_EQ(json["node"]["tee"], "simulated");
  EXPECT_EQ(json["node"]["image_id"], "test-image");
  EXPECT_EQ(json["node"]["rek_public_key"].get<std::string>().size(), 130u);
  EXPECT_GE(json["checks"].size(), 18u);
  for (const auto& c : json["checks"]) EXPECT_EQ(c["status"], "passed") << c.dump();
}

TEST_F(VerifyCliTest, TamperedQuoteSignatureIsNamed) {
  pb::SignedEvidenceList list;
  ASSERT_TRUE(list.ParseFromString(read_file(evidence())));
  bool flipped = false;
  for (auto& piece : *list.mutable_items()) {
    if (piece.type() == pb::TPM_QUOTE) {
      (*piece.mutable_signature())[20] ^= 0x04;
      flipped = true;
    }
  }
  ASSERT_TRUE(flipped);
  const auto tampered = *dir_ / "tampered.pb";
  write_file(tampered, list.SerializeAsString());
  auto out = run_openpcc({"verify", tampered.string(), "--policy", policy()});
  EXPECT_EQ(out.status, 1) << out.out;
  EXPECT_NE(out.out.find("✗ quote.signature"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("FAIL: quote.signature"), std::string::npos) << out.out;

  auto json = run_openpcc({"verify", tampered.string(), "--policy", policy(), "--json"});
  EXPECT_EQ(json.status, 1);
  EXPECT_EQ(nlohmann::json::parse(json.out)["failed_check"], "quote.signature");
}

TEST_F(VerifyCliTest, ProductionPolicyRefusesTheSimulatedTee) {
  auto out = run_openpcc({"verify", evidence()});
  EXPECT_EQ(out.status, 1) << out.out;
  EXPECT_NE(out.out.find("FAIL: tee.simulated_allowed"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("production default"), std::string::npos) << out.out;
}

TEST_F(VerifyCliTest, StaleEvidenceIsRefused) {
  const int64_t in_two_days = std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(48))
                                  .count();
  auto out = run_openpcc({"verify", evidence(), "--policy", policy(), "--at", std::to_string(in_two_days)});
  EXPECT_EQ(out.status, 1) << out.out;
  EXPECT_NE(out.out.find("FAIL: quote.freshness"), std::string::npos) << out.out;
}

TEST_F(VerifyCliTest, UnreadableInputIsExitTwo) {
  write_file(*dir_ / "garbage.pb", std::string("\xff\xff\xff\xff not protobuf", 18));
  EXPECT_EQ(run_openpcc({"verify", (*dir_ / "garbage.pb").string()}).status, 2);
  EXPECT_EQ(run_openpcc({"verify", (*dir_ / "missing.pb").string()}).status, 2);
  write_file(*dir_ / "bad-policy.json", "{\"accept_simulated_tee\": true, \"unknown_key\": 1}");
  EXPECT_EQ(run_openpcc({"verify", evidence(), "--policy", (*dir_ / "bad-policy.json").string()}).status, 2);
}

// The publisher's path: `openpcc tlog` with a publisher key, `openpcc tlog publish` of the node's image manifest,
// then a trust policy that takes the manifest from the bundle instead of a pinned file.
TEST_F(VerifyCliTest, ImageManifestFromTheTransparencyLog) {
  const auto log_dir = *dir_ / "tlog";
  std::filesystem::create_directories(log_dir);
  ASSERT_EQ(run_openpcc({"keygen", "badge", "--out", (log_dir / "publisher.pem").string()}).status, 0);
  auto token = run_openpcc({"tlog", "--new-publisher-token"});
  ASSERT_EQ(token.status, 0) << token.out;
  // "publisher token (…): <token>\nfor publisher_token_hashes …: <hash>\n"
  const std::string first = token.out.substr(0, token.out.find('\n'));
  const std::string second = token.out.substr(token.out.find('\n') + 1);
  const std::string token_value = first.substr(first.rfind(' ') + 1);
  const std::string token_hash = second.substr(second.rfind(' ') + 1, 64);
  write_file(log_dir / "token", token_value + "\n");
  std::filesystem::permissions(log_dir / "token", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  nlohmann::json config = {{"listen", "127.0.0.1:0"},
                           {"database", "sqlite:tlog.db"},
                           {"origin", "tlog.test/verify"},
                           {"log_key", "tlog.key"},
                           {"publisher_token_hashes", {token_hash}},
                           {"publisher_keys", {"publisher.pem.pub"}}};
  write_file(log_dir / "tlog.json", config.dump());
  test_support::ServiceProcess tlog;
  auto url = tlog.start({"tlog", "--config", (log_dir / "tlog.json").string()}, (log_dir / "tlog.log").string());
  ASSERT_TRUE(url) << url.error().to_string() << read_file(log_dir / "tlog.log");

  auto publish = run_openpcc({"tlog", "publish", "--log", *url, "--token-file", (log_dir / "token").string(), "--key",
                              (log_dir / "publisher.pem").string(), "--image-manifest",
                              (*dir_ / "node" / "image-manifest.json").string(), "--out",
                              (log_dir / "image.bundle.json").string()});
  ASSERT_EQ(publish.status, 0) << publish.out << read_file(log_dir / "tlog.log");
  EXPECT_NE(publish.out.find("published: https://confident.security/v2/image-manifest at index 0"), std::string::npos)
      << publish.out;

  // A statement signed by a key the log does not list is refused by the log itself.
  ASSERT_EQ(run_openpcc({"keygen", "badge", "--out", (log_dir / "stranger.pem").string()}).status, 0);
  EXPECT_EQ(run_openpcc({"tlog", "publish", "--log", *url, "--token-file", (log_dir / "token").string(), "--key",
                         (log_dir / "stranger.pem").string(), "--image-manifest",
                         (*dir_ / "node" / "image-manifest.json").string(), "--out",
                         (log_dir / "stranger.bundle.json").string()})
                .status,
            1);

  const std::string vkey = read_file(log_dir / "tlog.key.vkey");
  nlohmann::json policy_json = {
      {"accept_simulated_tee", true},
      {"simulated_roots", {(*dir_ / "node" / "simulated-root.pem.pub").string()}},
      {"transparency",
       {{"log_key", vkey.substr(0, vkey.find('\n'))},
        {"publisher_keys", {(log_dir / "publisher.pem.pub").string()}},
        {"image_manifest_bundles", {(log_dir / "image.bundle.json").string()}}}}};
  write_file(log_dir / "policy.json", policy_json.dump());
  auto out = run_openpcc({"verify", evidence(), "--policy", (log_dir / "policy.json").string()});
  EXPECT_EQ(out.status, 0) << out.out;
  EXPECT_NE(out.out.find("image manifest from transparency bundle"), std::string::npos) << out.out;

  // An edited bundle makes the policy unusable (exit 2), naming the bundle.
  std::string bundle = read_file(log_dir / "image.bundle.json");
  bundle[bundle.find("\"logIndex\":0") + 11] = '1';
  write_file(log_dir / "image.bundle.json", bundle);
  out = run_openpcc({"verify", evidence(), "--policy", (log_dir / "policy.json").string()});
  EXPECT_EQ(out.status, 2) << out.out;
}

TEST_F(VerifyCliTest, ASecondBootOnTheSameTpmIsRefused) {
  auto again = run_openpcc({"compute-boot", "--tpm", swtpm_->tcti(), "--model", (*dir_ / "model").string(),
                            "--out-dir", (*dir_ / "node2").string()});
  EXPECT_EQ(again.status, 1);
}

}  // namespace
}  // namespace openpcc
