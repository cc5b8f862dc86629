// sevsnp.verify through the harness on the real Azure report, VCEK, AMD chains and CRLs: valid answers carry the
// report data and measurement; a tampered report or a foreign root answers valid:false; malformed input an error.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "conformance/harness.h"
#include "support/txtar.h"

namespace openpcc::conformance {
namespace {

using nlohmann::json;

std::string data_path(const std::string& file) { return std::string(OPENPCC_TEST_DATA_DIR) + "/attestation/" + file; }

std::string sev_section(std::string_view name) {
  auto archive = test_support::read_file(data_path("sev_certificates.txt"));
  return archive ? test_support::txtar_section(*archive, name).value_or("") : "";
}

// The PEM text of the index-th certificate of a section.
std::string pem_cert(std::string_view section, size_t index) {
  const std::string text = sev_section(section);
  size_t pos = 0;
  for (size_t i = 0; i <= index; ++i) {
    const size_t begin = text.find("-----BEGIN CERTIFICATE-----", pos);
    const size_t end = text.find("-----END CERTIFICATE-----", begin);
    if (begin == std::string::npos || end == std::string::npos) return {};
    if (i == index) return text.substr(begin, end + 25 - begin) + "\n";
    pos = end;
  }
  return {};
}

class SevSnpOps : public ::testing::Test {
 protected:
  void SetUp() override {
    auto blob = test_support::txtar_pem(data_path("azure_sevsnp_report.txt"), "test_azure_sevsnp_report.pem");
    ASSERT_TRUE(blob.has_value());
    ASSERT_GE(blob->size(), 32u + 1184u);
    report_ = to_hex(ByteSpan(*blob).subspan(32, 1184));
  }

  json ask(const json& request) const {
    json answer = json::parse(harness_.answer_line(request.dump()), nullptr, false);
    EXPECT_TRUE(answer.is_object());
    return answer;
  }

  json request() const {
    // The Genoa section lists the ASK first, then the ARK.
    return {{"op", "sevsnp.verify"},
            {"report", report_},
            {"vcek", sev_section("test_vcek.pem")},
            {"ask", pem_cert("test_amd_sev_genoa_root_certs.pem", 0)},
            {"ark", pem_cert("test_amd_sev_genoa_root_certs.pem", 1)},
            {"crls", json::array({sev_section("test_amd_genoa_crl.pem")})},
            {"time", 1754006400}};  // 2025-08-01T00:00:00Z
  }

  Harness harness_ = Harness::with_all_operations();
  std::string report_;
};

TEST_F(SevSnpOps, RealAzureReportIsValid) {
  const json answer = ask(request());
  const std::string report_data =
      "b2754e9b7b4076a3c65fefeb6926903852820fb0a78b2f96fa5e80833c6cc3bb" + std::string(64, '0');
  EXPECT_EQ(answer,
            (json{{"valid", true},
                  {"report_data", report_data},
                  {"measurement", "572db4d3f521386bec1c76346f9c913431f2f257c9c09d604c1259b108a686ae0d277f31899a7309"
                                  "8b41b556dc70a5fb"}}));
  // ASK/ARK and CRLs are optional: the embedded roots, and no revocation check without CRLs.
  json minimal = request();
  minimal.erase("ask");
  minimal.erase("ark");
  minimal.erase("crls");
  EXPECT_EQ(ask(minimal)["valid"], true);
  // With the expected report data given.
  json with_data = request();
  with_data["report_data"] = answer["report_data"];
  EXPECT_EQ(ask(with_data)["valid"], true);
}

TEST_F(SevSnpOps, InvalidReportsAnswerValidFalse) {
  json tampered = request();
  std::string hex = report_;
  hex[2 * 0x90] = hex[2 * 0x90] == '0' ? '1' : '0';  // a measurement nibble
  tampered["report"] = hex;
  EXPECT_EQ(ask(tampered)["valid"], false);

  json foreign_root = request();
  foreign_root["ark"] = pem_cert("test_amd_sev_milan_root_certs.pem", 0);  // ARK-Milan
  EXPECT_EQ(ask(foreign_root)["valid"], false);

  json wrong_data = request();
  wrong_data["report_data"] = std::string(128, '0');
  EXPECT_EQ(ask(wrong_data)["valid"], false);

  json stale_crl = request();
  stale_crl["time"] = 1767225600;  // 2026-01-01: the Genoa CRL's nextUpdate has passed
  EXPECT_EQ(ask(stale_crl)["valid"], false);

  json expired = request();
  expired.erase("crls");
  expired["time"] = 2000000000;  // 2033: the VCEK has expired
  EXPECT_EQ(ask(expired)["valid"], false);
}

TEST_F(SevSnpOps, MalformedInputAnswersAnError) {
  const auto is_error = [&](const json& req) { return ask(req).contains("error"); };
  json r = request();
  r["report"] = report_.substr(1);
  EXPECT_TRUE(is_error(r));
  r["report"] = "00";
  EXPECT_TRUE(is_error(r));
  r = request();
  r["report"] = "06000000" + report_.substr(8);  // version 6 is unknown
  EXPECT_TRUE(is_error(r));
  r = request();
  r.erase("vcek");
  EXPECT_TRUE(is_error(r));
  r = request();
  r["vcek"] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_TRUE(is_error(r));
  r = request();
  r["crls"] = "not an array";
  EXPECT_TRUE(is_error(r));
  r = request();
  r["crls"] = json::array({"garbage"});
  EXPECT_TRUE(is_error(r));
  r = request();
  r["report_data"] = "00";
  EXPECT_TRUE(is_error(r));  // not 64 bytes
  r = request();
  r["time"] = -1;
  EXPECT_TRUE(is_error(r));
}

}  // namespace
}  // namespace openpcc::conformance
