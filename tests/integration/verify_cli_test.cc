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

TEST_F(VerifyCliTest, ASecondBootOnTheSameTpmIsRefused) {
  auto again = run_openpcc({"compute-boot", "--tpm", swtpm_->tcti(), "--model", (*dir_ / "model").string(),
                            "--out-dir", (*dir_ / "node2").string()});
  EXPECT_EQ(again.status, 1);
}

}  // namespace
}  // namespace openpcc
