// The Azure HCL blob: structure of the real one, its runtime JSON bound into REPORT_DATA, the user-data a caller
// compares with its own binding, and bounds checks on every size field.
#include "attest/azure_hcl.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "sevsnp_fake_amd.h"
#include "sevsnp_test_data.h"

namespace openpcc::attest {
namespace {

using testing::put_le32;

constexpr size_t kRuntimeOffset = 32 + kSevSnpReportSize;  // 1216
constexpr size_t kJsonOffset = kRuntimeOffset + 20;         // 1236

std::vector<std::string> failed(const SevSnpVerification& v) {
  std::vector<std::string> names;
  for (const auto& c : v.checks) {
    if (!c.passed) names.emplace_back(check_name(c.check));
  }
  return names;
}
using Names = std::vector<std::string>;

TEST(AzureHcl, ParsesTheRealBlob) {
  const Bytes blob = testing::azure_hcl_blob();
  ASSERT_EQ(blob.size(), 2600u);
  auto hcl = parse_azure_hcl_report(blob);
  ASSERT_TRUE(hcl) << hcl.error().to_string();
  EXPECT_EQ(hcl->header_version, 2u);
  EXPECT_EQ(hcl->report_size, 2436u);  // 32 + 1184 + 1220; the NV index pads the rest
  EXPECT_EQ(hcl->request_type, 2u);
  EXPECT_EQ(hcl->status, 0u);
  EXPECT_EQ(hcl->sevsnp_report, testing::azure_report());
  EXPECT_EQ(hcl->report.version, 3u);
  EXPECT_EQ(hcl->runtime_data_version, 1u);
  EXPECT_EQ(hcl->report_type, kAzureHclReportTypeSevSnp);
  EXPECT_EQ(hcl->hash_type, kAzureHclHashTypeSha256);
  ASSERT_EQ(hcl->runtime_json.size(), 1200u);
  EXPECT_TRUE(hcl->runtime_json.starts_with("{\"keys\":[{\"kid\":\"HCLAkPub\""));
  EXPECT_EQ(hcl->user_data, Bytes(64, 0));
  ASSERT_EQ(hcl->keys.size(), 2u);
  EXPECT_EQ(hcl->keys[0].kid, "HCLAkPub");
  EXPECT_EQ(hcl->keys[0].kty, "RSA");
  EXPECT_EQ(hcl->keys[0].key_ops, std::vector<std::string>{"sign"});
  EXPECT_EQ(hcl->keys[0].n.size(), 256u);  // the vTPM AK: RSA-2048
  EXPECT_EQ(hcl->keys[0].e, Bytes({1, 0, 1}));
  EXPECT_EQ(hcl->keys[1].kid, "HCLEkPub");
  EXPECT_EQ(hcl->keys[1].key_ops, std::vector<std::string>{"encrypt"});

  // The platform's binding: REPORT_DATA = SHA-256(JSON) ‖ zeros.
  const Bytes expected = azure_hcl_expected_report_data(hcl->runtime_json);
  EXPECT_EQ(expected, Bytes(hcl->report.report_data.begin(), hcl->report.report_data.end()));
  EXPECT_EQ(to_hex(ByteSpan(expected).first(8)), "b2754e9b7b4076a3");
}

TEST(AzureHcl, VerifiesWithTheExpectedUserData) {
  auto v = verify_azure_hcl_report(testing::azure_hcl_blob(), {testing::vcek(), std::nullopt, std::nullopt},
                                   testing::azure_policy(), Bytes(64, 0));
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_TRUE(v->valid()) << v->snp.status().error().to_string();
  EXPECT_EQ(v->snp.checks.size(), 20u);
  EXPECT_EQ(v->snp.checks.back().check, SevSnpCheck::kAzureUserData);
  EXPECT_EQ(v->snp.find(SevSnpCheck::kReportData)->detail, "");  // the binding was required, not skipped
}

TEST(AzureHcl, WrongUserDataIsRejected) {
  Bytes wanted(64, 0);
  wanted[0] = 1;  // e.g. the hash of a different TPM quote
  auto v = verify_azure_hcl_report(testing::azure_hcl_blob(), {testing::vcek(), std::nullopt, std::nullopt},
                                   testing::azure_policy(), wanted);
  ASSERT_TRUE(v);
  EXPECT_EQ(failed(v->snp), Names{"azure.user_data"});
  auto shorter = verify_azure_hcl_report(testing::azure_hcl_blob(), {testing::vcek(), std::nullopt, std::nullopt},
                                         testing::azure_policy(), Bytes(32, 0));
  EXPECT_EQ(failed(shorter->snp), Names{"azure.user_data"});
}

TEST(AzureHcl, EditedRuntimeJsonBreaksTheBinding) {
  Bytes blob = testing::azure_hcl_blob();
  const std::string json(blob.begin() + kJsonOffset, blob.begin() + kJsonOffset + 1200);
  // Still well-formed JSON of the same length: one digit of vmUniqueId changes.
  const size_t id = json.find("3B09DD36");
  ASSERT_NE(id, std::string::npos);
  blob[kJsonOffset + id] = '4';
  ASSERT_TRUE(parse_azure_hcl_report(blob));
  auto v = verify_azure_hcl_report(blob, {testing::vcek(), std::nullopt, std::nullopt}, testing::azure_policy(),
                                   Bytes(64, 0));
  ASSERT_TRUE(v);
  EXPECT_EQ(failed(v->snp), Names{"sevsnp.report_data"});
}

TEST(AzureHcl, EveryTruncationIsRefused) {
  const Bytes blob = testing::azure_hcl_blob();
  for (size_t size = 0; size < 2436; ++size) {
    auto hcl = parse_azure_hcl_report(ByteSpan(blob).first(size));
    ASSERT_FALSE(hcl) << size;
  }
  EXPECT_TRUE(parse_azure_hcl_report(ByteSpan(blob).first(2436)));  // the padding is not needed
}

TEST(AzureHcl, RejectsInconsistentHeaders) {
  const Bytes original = testing::azure_hcl_blob();
  const auto refused = [](const Bytes& b) { return !parse_azure_hcl_report(b).has_value(); };
  Bytes b = original;
  b[0] = 'X';
  EXPECT_TRUE(refused(b));  // magic
  b = original;
  put_le32(b, 8, 2437);
  EXPECT_TRUE(refused(b));  // report_size disagrees with data_size
  b = original;
  put_le32(b, kRuntimeOffset, 1221);
  EXPECT_TRUE(refused(b));  // data_size != 20 + variable size
  b = original;
  put_le32(b, kRuntimeOffset + 16, 0xFFFFFFFF);
  EXPECT_TRUE(refused(b));  // variable size far out of range
  b = original;
  put_le32(b, kRuntimeOffset + 16, 1201);
  put_le32(b, kRuntimeOffset, 1221);
  put_le32(b, 8, 2437);
  EXPECT_TRUE(refused(b));  // consistent sizes, but the JSON now ends in a zero byte
  b = original;
  put_le32(b, kRuntimeOffset + 8, 4);
  auto tdx = parse_azure_hcl_report(b);
  ASSERT_FALSE(tdx);
  EXPECT_EQ(tdx.error().code, ErrorCode::kUnsupported);  // a TDX report type
  b = original;
  put_le32(b, kRuntimeOffset + 12, 2);
  auto sha384 = parse_azure_hcl_report(b);
  ASSERT_FALSE(sha384);
  EXPECT_EQ(sha384.error().code, ErrorCode::kUnsupported);
  b = original;
  b[32 + 0x34] = 2;  // the embedded report's signature algorithm
  EXPECT_TRUE(refused(b));
}

TEST(AzureHcl, RuntimeJsonMustCarryUserData) {
  // Rebuild the blob around other JSON texts of any length.
  const Bytes original = testing::azure_hcl_blob();
  const auto with_json = [&](const std::string& json) {
    Bytes b(original.begin(), original.begin() + kJsonOffset);
    append(b, as_bytes(json));
    put_le32(b, kRuntimeOffset + 16, static_cast<uint32_t>(json.size()));
    put_le32(b, kRuntimeOffset, static_cast<uint32_t>(20 + json.size()));
    put_le32(b, 8, static_cast<uint32_t>(kJsonOffset + json.size()));
    return b;
  };
  auto ok = parse_azure_hcl_report(with_json(R"({"user-data":"00ff"})"));
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->user_data, Bytes({0x00, 0xFF}));
  EXPECT_TRUE(ok->keys.empty());
  EXPECT_FALSE(parse_azure_hcl_report(with_json(R"({"keys":[]})")));
  EXPECT_FALSE(parse_azure_hcl_report(with_json(R"({"user-data":"0g"})")));
  EXPECT_FALSE(parse_azure_hcl_report(with_json(R"({"user-data":7})")));
  EXPECT_FALSE(parse_azure_hcl_report(with_json(R"(["user-data"])")));
  EXPECT_FALSE(parse_azure_hcl_report(with_json(R"({"user-data":"00")")));
  EXPECT_FALSE(parse_azure_hcl_report(with_json(R"({"user-data":"00","keys":{}})")));
  EXPECT_FALSE(parse_azure_hcl_report(with_json(R"({"user-data":"00","keys":[{"kid":"a","kty":"RSA","n":"!"}]})")));
  EXPECT_TRUE(parse_azure_hcl_report(with_json(R"({"user-data":"00","keys":[{"kid":"a","kty":"EC"}]})")));
}

}  // namespace
}  // namespace openpcc::attest
