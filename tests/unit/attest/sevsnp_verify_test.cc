// SEV-SNP verification. The real Azure (Genoa) report verifies fully offline against the real VCEK, AMD's embedded
// Genoa ARK/ASK and the real Genoa CRL; every single-byte change to it, every wrong certificate, time, CRL or policy
// is refused and the refusal names the check. A synthetic AMD-shaped chain (sevsnp_fake_amd.h) reaches the checks
// the one real report cannot (revoked ASK, VCEK/report TCB or chip-id mismatch, correctly signed debug guests).
#include "attest/sevsnp_verify.h"

#include <gtest/gtest.h>

#include <chrono>

#include "crypto/sha256.h"
#include "sevsnp_fake_amd.h"
#include "sevsnp_test_data.h"

namespace openpcc::attest {
namespace {

using namespace std::chrono;
using crypto::UnixTime;
using testing::azure_policy;
using testing::azure_report;

Bytes azure_expected_report_data() {
  Bytes blob = testing::azure_hcl_blob();
  // SHA-256 of the 1200-byte runtime JSON at offset 1236, then 32 zero bytes.
  auto digest = crypto::sha256(ByteSpan(blob).subspan(1236, 1200));
  Bytes out(digest.begin(), digest.end());
  out.resize(64, 0);
  return out;
}

SevSnpCertificates azure_certs() { return SevSnpCertificates{testing::vcek(), std::nullopt, std::nullopt}; }

// Names of the failed checks, for readable assertions.
std::vector<std::string> failed(const SevSnpVerification& v) {
  std::vector<std::string> names;
  for (const auto& c : v.checks) {
    if (!c.passed) names.emplace_back(check_name(c.check));
  }
  return names;
}

bool check_failed(const SevSnpVerification& v, SevSnpCheck check) {
  const SevSnpCheckResult* c = v.find(check);
  return c != nullptr && !c->passed;
}

using Names = std::vector<std::string>;

TEST(SevSnpVerify, AzureReportVerifiesOffline) {
  const Bytes expected = azure_expected_report_data();
  auto v = verify_sevsnp_report(azure_report(), azure_certs(), azure_policy(), ByteSpan(expected));
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_TRUE(v->valid()) << v->status().error().to_string();
  EXPECT_TRUE(v->status());
  EXPECT_EQ(failed(*v), Names{});
  EXPECT_EQ(v->checks.size(), 19u);  // every check of the enum but the Azure user-data one
  EXPECT_EQ(v->product, AmdProduct::kGenoa);
  EXPECT_EQ(to_hex(v->report_data()), to_hex(expected));
  EXPECT_EQ(to_hex(v->measurement()),
            "572db4d3f521386bec1c76346f9c913431f2f257c9c09d604c1259b108a686ae0d277f31899a73098b41b556dc70a5fb");
  for (const auto& c : v->checks) {
    // Checks that pass vacuously say so; the rest carry no note.
    if (c.check == SevSnpCheck::kMeasurement) {
      EXPECT_FALSE(c.detail.empty());
    } else {
      EXPECT_EQ(c.detail, "") << check_name(c.check);
    }
  }
}

TEST(SevSnpVerify, AzureReportWithTheChainFromTheEvidence) {
  // ASK and ARK supplied (as PEM) instead of taken from the embedded roots.
  const std::string ask_pem = testing::genoa_ask().to_pem();
  const std::string ark_pem = testing::genoa_ark().to_pem();
  const std::string vcek_pem = testing::vcek_pem();
  auto certs = parse_sevsnp_certificates(as_bytes(vcek_pem), as_bytes(ask_pem), as_bytes(ark_pem));
  ASSERT_TRUE(certs) << certs.error().to_string();
  auto v = verify_sevsnp_report(azure_report(), *certs, azure_policy());
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->valid()) << v->status().error().to_string();
  // DER works as well.
  auto der = parse_sevsnp_certificates(testing::vcek().der(), testing::genoa_ask().der(), testing::genoa_ark().der());
  ASSERT_TRUE(der);
  EXPECT_TRUE(verify_sevsnp_report(azure_report(), *der, azure_policy())->valid());
}

TEST(SevSnpVerify, EveryFlippedBitInTheSignedPartIsRejected) {
  const Bytes original = azure_report();
  const SevSnpPolicy policy = azure_policy();
  const SevSnpCertificates certs = azure_certs();
  size_t parsed = 0;
  for (size_t i = 0; i < kSevSnpSignedSize; ++i) {
    Bytes bytes = original;
    bytes[i] ^= static_cast<uint8_t>(1u << (i % 8));
    auto v = verify_sevsnp_report(bytes, certs, policy);
    if (!v) continue;  // refused by the parser (version, algorithm, a reserved byte)
    ++parsed;
    EXPECT_FALSE(v->valid()) << "offset " << i;
    EXPECT_TRUE(check_failed(*v, SevSnpCheck::kReportSignature)) << "offset " << i;
  }
  EXPECT_GT(parsed, 400u);  // most flips reach the signature check
}

TEST(SevSnpVerify, EveryFlippedBitInTheSignatureIsRejected) {
  const Bytes original = azure_report();
  const SevSnpPolicy policy = azure_policy();
  const SevSnpCertificates certs = azure_certs();
  for (size_t i = kSevSnpSignatureOffset; i < kSevSnpReportSize; ++i) {
    for (int bit : {0, 7}) {
      Bytes bytes = original;
      bytes[i] ^= static_cast<uint8_t>(1u << bit);
      auto v = verify_sevsnp_report(bytes, certs, policy);
      if (!v) continue;  // upper bytes of R/S and the reserved area are must-be-zero
      EXPECT_FALSE(v->valid()) << "offset " << i;
      EXPECT_EQ(failed(*v), Names{"sevsnp.report_signature"}) << "offset " << i;
    }
  }
}

TEST(SevSnpVerify, WrongArkIsRejected) {
  SevSnpCertificates certs = azure_certs();
  certs.ark = testing::milan_ark();
  auto v = verify_sevsnp_report(azure_report(), certs, azure_policy());
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->valid());
  EXPECT_EQ(v->first_failure()->check, SevSnpCheck::kArkTrusted);
  EXPECT_TRUE(check_failed(*v, SevSnpCheck::kAskSignedByArk));  // Genoa ASK is not signed by the Milan ARK
  EXPECT_NE(v->status().error().message.find("sevsnp.ark_trusted"), std::string::npos);

  // A policy that trusts a different key for Genoa refuses the real chain.
  SevSnpPolicy policy = azure_policy();
  policy.trusted_roots = {AmdRootCertificates{AmdProduct::kGenoa, testing::milan_ark(), testing::milan_ask()}};
  auto w = verify_sevsnp_report(azure_report(), azure_certs(), policy);
  ASSERT_TRUE(w);
  EXPECT_FALSE(w->valid());
  EXPECT_EQ(failed(*w), Names{"sevsnp.vcek_signed_by_ask"});
}

TEST(SevSnpVerify, WrongAskIsRejected) {
  SevSnpCertificates certs = azure_certs();
  certs.ask = testing::milan_ask();
  auto v = verify_sevsnp_report(azure_report(), certs, azure_policy());
  ASSERT_TRUE(v);
  EXPECT_EQ(failed(*v), (Names{"sevsnp.ask_signed_by_ark", "sevsnp.vcek_signed_by_ask"}));
  // The Genoa ARK in place of the ASK: it did not issue the VCEK.
  certs.ask = testing::genoa_ark();
  auto w = verify_sevsnp_report(azure_report(), certs, azure_policy());
  ASSERT_TRUE(w);
  EXPECT_TRUE(check_failed(*w, SevSnpCheck::kVcekSignedByAsk));
}

TEST(SevSnpVerify, ProductWithoutTrustedRootIsRejected) {
  SevSnpPolicy policy = azure_policy();
  policy.trusted_roots = {embedded_amd_roots()[0]};  // Milan only
  ASSERT_EQ(policy.trusted_roots[0].product, AmdProduct::kMilan);
  auto v = verify_sevsnp_report(azure_report(), azure_certs(), policy);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->first_failure()->check, SevSnpCheck::kVcekProduct);
  EXPECT_FALSE(v->valid());
}

TEST(SevSnpVerify, TimeOutsideTheCertificatesIsRejected) {
  for (auto time : {UnixTime(sys_days{year{2033} / 1 / 1}), UnixTime(sys_days{year{2025} / 6 / 1})}) {
    SevSnpPolicy policy = azure_policy();
    policy.verification_time = time;
    policy.require_crl = false;  // isolate certificate validity from CRL freshness
    policy.crls.clear();
    auto v = verify_sevsnp_report(azure_report(), azure_certs(), policy);
    ASSERT_TRUE(v);
    EXPECT_EQ(failed(*v), Names{"sevsnp.certificate_validity"});
    EXPECT_NE(v->first_failure()->detail.find("VCEK"), std::string::npos);
  }
}

TEST(SevSnpVerify, RevocationNeedsACurrentArkSignedCrl) {
  {
    SevSnpPolicy policy = azure_policy();
    policy.crls.clear();
    auto v = verify_sevsnp_report(azure_report(), azure_certs(), policy);
    EXPECT_EQ(failed(*v), (Names{"sevsnp.crl", "sevsnp.not_revoked"}));
  }
  {
    SevSnpPolicy policy = azure_policy();
    policy.crls = {testing::milan_crl()};  // the wrong product's CRL does not count
    auto v = verify_sevsnp_report(azure_report(), azure_certs(), policy);
    EXPECT_EQ(failed(*v), (Names{"sevsnp.crl", "sevsnp.not_revoked"}));
  }
  {
    SevSnpPolicy policy = azure_policy();
    policy.verification_time = UnixTime(sys_days{year{2026} / 1 / 1});  // the Genoa CRL's nextUpdate has passed
    auto v = verify_sevsnp_report(azure_report(), azure_certs(), policy);
    EXPECT_EQ(failed(*v), (Names{"sevsnp.crl", "sevsnp.not_revoked"}));
    EXPECT_NE(v->first_failure()->detail.find("stale"), std::string::npos);
  }
  {
    SevSnpPolicy policy = azure_policy();
    policy.crls.clear();
    policy.require_crl = false;  // an explicit opt-out, noted on the check
    auto v = verify_sevsnp_report(azure_report(), azure_certs(), policy);
    EXPECT_TRUE(v->valid());
    EXPECT_NE(v->find(SevSnpCheck::kCrl)->detail.find("not checked"), std::string::npos);
  }
}

TEST(SevSnpVerify, RealGenoaCrlRefusesItsListedSerial) {
  const auto crl = testing::genoa_crl();
  ASSERT_TRUE(crl.verify_signed_by(testing::genoa_ark()));
  ASSERT_EQ(crl.revoked_serials(), std::vector<Bytes>{Bytes({0x02, 0x00, 0x01})});
  // A certificate under ARK-Genoa with the revoked serial 0x020001, in the ASK's place.
  const crypto::Certificate revoked = testing::fake_certificate_under(testing::genoa_ark(), 0x020001);
  const crypto::Certificate fine = testing::fake_certificate_under(testing::genoa_ark(), 0x020003);
  const std::vector<crypto::CertificateRevocationList> crls = {crl};
  auto refused = check_not_revoked(revoked, testing::vcek(), crls, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(refused.error().message.find("020001"), std::string::npos);
  EXPECT_TRUE(check_not_revoked(fine, testing::vcek(), crls, {}));
  EXPECT_TRUE(check_not_revoked(testing::genoa_ask(), testing::vcek(), crls, {}));
}

TEST(SevSnpVerify, TcbBelowMinimumIsRejected) {
  SevSnpPolicy policy = azure_policy();
  policy.minimum_tcb = TcbVersion::from_spls(10, 0, 23, 84);  // exactly the report's: fine
  policy.minimum_launch_tcb = policy.minimum_tcb;
  EXPECT_TRUE(verify_sevsnp_report(azure_report(), azure_certs(), policy)->valid());
  for (TcbVersion minimum : {TcbVersion::from_spls(11, 0, 0, 0), TcbVersion::from_spls(0, 1, 0, 0),
                             TcbVersion::from_spls(0, 0, 24, 0), TcbVersion::from_spls(0, 0, 0, 85)}) {
    policy.minimum_tcb = minimum;
    policy.minimum_launch_tcb = {};
    auto v = verify_sevsnp_report(azure_report(), azure_certs(), policy);
    EXPECT_EQ(failed(*v), Names{"sevsnp.minimum_tcb"}) << minimum.to_string();
  }
  policy.minimum_tcb = {};
  policy.minimum_launch_tcb = TcbVersion::from_spls(0, 0, 24, 0);
  auto v = verify_sevsnp_report(azure_report(), azure_certs(), policy);
  EXPECT_EQ(failed(*v), Names{"sevsnp.minimum_tcb"});
  EXPECT_NE(v->first_failure()->detail.find("LAUNCH_TCB"), std::string::npos);
}

TEST(SevSnpVerify, WrongReportDataIsRejected) {
  Bytes expected = azure_expected_report_data();
  expected[63] ^= 1;  // the zero upper half is part of the binding
  auto v = verify_sevsnp_report(azure_report(), azure_certs(), azure_policy(), ByteSpan(expected));
  EXPECT_EQ(failed(*v), Names{"sevsnp.report_data"});
  expected = Bytes(64, 0);
  v = verify_sevsnp_report(azure_report(), azure_certs(), azure_policy(), ByteSpan(expected));
  EXPECT_EQ(failed(*v), Names{"sevsnp.report_data"});
  // Not 64 bytes: a caller error, not a verdict.
  const Bytes short_data(32, 0);
  auto e = verify_sevsnp_report(azure_report(), azure_certs(), azure_policy(), ByteSpan(short_data));
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
}

TEST(SevSnpVerify, MeasurementVmplAndSvnPolicy) {
  const Bytes good = from_hex("572db4d3f521386bec1c76346f9c913431f2f257c9c09d604c1259b108a686ae0d277f31899a73098b41b5"
                              "56dc70a5fb")
                         .value();
  SevSnpPolicy policy = azure_policy();
  policy.allowed_measurements = {Bytes(48, 1), good};
  policy.required_vmpl = 0;
  policy.minimum_guest_svn = 0x10009;
  EXPECT_TRUE(verify_sevsnp_report(azure_report(), azure_certs(), policy)->valid());

  policy.allowed_measurements = {Bytes(48, 1)};
  EXPECT_EQ(failed(*verify_sevsnp_report(azure_report(), azure_certs(), policy)), Names{"sevsnp.measurement"});
  policy.allowed_measurements.clear();
  policy.required_vmpl = 2;
  EXPECT_EQ(failed(*verify_sevsnp_report(azure_report(), azure_certs(), policy)), Names{"sevsnp.vmpl"});
  policy.required_vmpl.reset();
  policy.minimum_guest_svn = 0x1000A;
  EXPECT_EQ(failed(*verify_sevsnp_report(azure_report(), azure_certs(), policy)), Names{"sevsnp.guest_svn"});
}

TEST(SevSnpVerify, DebugBitOnTheRealReportIsRejectedTwice) {
  Bytes bytes = azure_report();
  bytes[0x08 + 2] |= 0x08;  // POLICY bit 19
  auto v = verify_sevsnp_report(bytes, azure_certs(), azure_policy());
  ASSERT_TRUE(v);
  EXPECT_EQ(failed(*v), (Names{"sevsnp.report_signature", "sevsnp.debug"}));
}

TEST(SevSnpVerify, MalformedInputIsAnError) {
  EXPECT_FALSE(verify_sevsnp_report(Bytes(100, 0), azure_certs(), azure_policy()));
  EXPECT_FALSE(parse_sevsnp_certificates(Bytes{0x30, 0x03, 0x02, 0x01, 0x00}));
  EXPECT_FALSE(parse_sevsnp_certificates(as_bytes("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")));
  const std::string vcek = testing::vcek_pem();
  EXPECT_FALSE(parse_sevsnp_certificates(as_bytes(vcek), Bytes{1, 2, 3}));
  EXPECT_FALSE(parse_sevsnp_certificates(as_bytes(vcek), std::nullopt, Bytes{}));
}

TEST(SevSnpVerify, ReadsTheRealVcekExtensions) {
  auto ext = read_vcek_extensions(testing::vcek());
  ASSERT_TRUE(ext) << ext.error().to_string();
  EXPECT_EQ(ext->product_name, "Genoa");
  EXPECT_EQ(ext->tcb, TcbVersion::from_spls(10, 0, 23, 84));
  EXPECT_EQ(to_hex(ext->hardware_id), to_hex(ByteSpan(azure_report()).subspan(kSevSnpChipIdOffset, 64)));
  // The ASK has none of them.
  EXPECT_FALSE(read_vcek_extensions(testing::genoa_ask()));
}

TEST(SevSnpVerify, CheckNamesAreStable) {
  EXPECT_EQ(check_name(SevSnpCheck::kReportSignature), "sevsnp.report_signature");
  EXPECT_EQ(check_name(SevSnpCheck::kNotRevoked), "sevsnp.not_revoked");
  EXPECT_EQ(check_name(SevSnpCheck::kAzureUserData), "azure.user_data");
}

// ---- A synthetic chain for what the real data cannot show. ----

class SevSnpFakeChain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { root_ = new testing::FakeAmdRoot(testing::FakeAmdRoot::create()); }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }

  SevSnpPolicy policy(std::vector<long> revoked = {}) const {
    SevSnpPolicy p;
    p.trusted_roots = {root_->as_trusted_root(AmdProduct::kGenoa)};
    testing::FakeCrlOptions crl;
    crl.revoked_serials = std::move(revoked);
    p.crls = {root_->issue_crl(crl)};
    p.verification_time = testing::kFakeNow;
    return p;
  }

  // A report from `vcek_options`' chip, optionally edited before signing.
  template <class Edit>
  std::pair<Bytes, SevSnpCertificates> signed_report(const testing::FakeVcekOptions& vcek_options, Edit edit) const {
    auto vcek = root_->issue_vcek(vcek_options);
    Bytes report = testing::make_report(azure_report(), vcek_options, vcek.key);
    edit(report);
    testing::sign_report(report, vcek.key);
    return {report, SevSnpCertificates{vcek.cert, std::nullopt, std::nullopt}};
  }
  std::pair<Bytes, SevSnpCertificates> signed_report(const testing::FakeVcekOptions& o = {}) const {
    return signed_report(o, [](Bytes&) {});
  }

  static testing::FakeAmdRoot* root_;
};
testing::FakeAmdRoot* SevSnpFakeChain::root_ = nullptr;

TEST_F(SevSnpFakeChain, ValidChainVerifies) {
  auto [report, certs] = signed_report();
  auto v = verify_sevsnp_report(report, certs, policy());
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_TRUE(v->valid()) << v->status().error().to_string();
  // The same chain is foreign to the embedded AMD roots: AMD's Genoa ASK did not sign this VCEK.
  SevSnpPolicy amd = policy();
  amd.trusted_roots = embedded_amd_roots();
  EXPECT_EQ(verify_sevsnp_report(report, certs, amd)->first_failure()->check, SevSnpCheck::kVcekSignedByAsk);
  // Nor may the evidence bring its own ARK.
  certs.ark = root_->ark();
  certs.ask = root_->ask();
  EXPECT_EQ(verify_sevsnp_report(report, certs, amd)->first_failure()->check, SevSnpCheck::kArkTrusted);
}

TEST_F(SevSnpFakeChain, RevokedAskIsRejected) {
  auto [report, certs] = signed_report();
  auto v = verify_sevsnp_report(report, certs, policy({0x7777, 0x020002}));
  ASSERT_TRUE(v);
  EXPECT_EQ(failed(*v), Names{"sevsnp.not_revoked"});
  EXPECT_NE(v->first_failure()->detail.find("ASK"), std::string::npos);
  // Other serials on the list do not matter.
  EXPECT_TRUE(verify_sevsnp_report(report, certs, policy({0x7777}))->valid());
}

TEST_F(SevSnpFakeChain, ForgedOrStaleCrlIsRejected) {
  auto [report, certs] = signed_report();
  SevSnpPolicy p = policy();
  testing::FakeCrlOptions forged;
  forged.sign_with_other_key = true;
  p.crls = {root_->issue_crl(forged)};
  EXPECT_EQ(failed(*verify_sevsnp_report(report, certs, p)), (Names{"sevsnp.crl", "sevsnp.not_revoked"}));
  // A forged CRL next to a good one is still refused: a CRL naming the ARK must verify.
  p.crls.push_back(root_->issue_crl());
  EXPECT_EQ(failed(*verify_sevsnp_report(report, certs, p)), (Names{"sevsnp.crl", "sevsnp.not_revoked"}));
  testing::FakeCrlOptions open_ended;
  open_ended.next_update = std::nullopt;
  p.crls = {root_->issue_crl(open_ended)};
  EXPECT_EQ(failed(*verify_sevsnp_report(report, certs, p)), (Names{"sevsnp.crl", "sevsnp.not_revoked"}));
  testing::FakeCrlOptions stale;
  stale.next_update = testing::kFakeNow - hours(1);
  p.crls = {root_->issue_crl(stale)};
  EXPECT_EQ(failed(*verify_sevsnp_report(report, certs, p)), (Names{"sevsnp.crl", "sevsnp.not_revoked"}));
}

TEST_F(SevSnpFakeChain, VcekTcbMustMatchReportedTcb) {
  testing::FakeVcekOptions options;
  auto [report, certs] = signed_report(options, [](Bytes& r) {
    testing::put_le64(r, 0x180, TcbVersion::from_spls(10, 0, 22, 84).raw);  // claims an older TCB than the VCEK's
  });
  auto v = verify_sevsnp_report(report, certs, policy());
  EXPECT_EQ(failed(*v), Names{"sevsnp.vcek_tcb"});
  // A difference in a reserved byte counts too.
  auto [report2, certs2] = signed_report(options, [&](Bytes& r) {
    testing::put_le64(r, 0x180, options.tcb.raw | (uint64_t{1} << 24));
  });
  EXPECT_EQ(failed(*verify_sevsnp_report(report2, certs2, policy())), Names{"sevsnp.vcek_tcb"});
}

TEST_F(SevSnpFakeChain, VcekChipIdMustMatch) {
  auto [report, certs] = signed_report({}, [](Bytes& r) { r[kSevSnpChipIdOffset + 5] ^= 0x40; });
  EXPECT_EQ(failed(*verify_sevsnp_report(report, certs, policy())), Names{"sevsnp.vcek_chip_id"});
  // A masked CHIP_ID cannot be compared: it passes, with a note.
  auto [masked, masked_certs] = signed_report({}, [](Bytes& r) {
    std::fill(r.begin() + kSevSnpChipIdOffset, r.begin() + kSevSnpChipIdOffset + 64, 0);
  });
  auto v = verify_sevsnp_report(masked, masked_certs, policy());
  EXPECT_TRUE(v->valid());
  EXPECT_NE(v->find(SevSnpCheck::kVcekChipId)->detail.find("masked"), std::string::npos);
}

TEST_F(SevSnpFakeChain, SignedDebugAndMigrationGuestsAreRefusedByPolicy) {
  auto [debug, debug_certs] = signed_report({}, [](Bytes& r) { r[0x08 + 2] |= 0x08; });
  SevSnpPolicy p = policy();
  EXPECT_EQ(failed(*verify_sevsnp_report(debug, debug_certs, p)), Names{"sevsnp.debug"});
  p.allow_debug = true;
  EXPECT_TRUE(verify_sevsnp_report(debug, debug_certs, p)->valid());

  auto [ma, ma_certs] = signed_report({}, [](Bytes& r) { r[0x08 + 2] |= 0x04; });
  p = policy();
  EXPECT_EQ(failed(*verify_sevsnp_report(ma, ma_certs, p)), Names{"sevsnp.migration_agent"});
  p.allow_migration_agent = true;
  EXPECT_TRUE(verify_sevsnp_report(ma, ma_certs, p)->valid());
}

TEST_F(SevSnpFakeChain, OnlyVcekSignedReportsAreAccepted) {
  auto [vlek, vlek_certs] = signed_report({}, [](Bytes& r) { testing::put_le32(r, 0x48, 1u << 2); });
  EXPECT_EQ(failed(*verify_sevsnp_report(vlek, vlek_certs, policy())), Names{"sevsnp.signing_key"});
  auto [masked_key, masked_certs] = signed_report({}, [](Bytes& r) { testing::put_le32(r, 0x48, 2u); });
  EXPECT_EQ(failed(*verify_sevsnp_report(masked_key, masked_certs, policy())), Names{"sevsnp.signing_key"});
}

TEST_F(SevSnpFakeChain, UnknownProductIsRejected) {
  testing::FakeVcekOptions options;
  options.product_name = "Turin";
  auto [report, certs] = signed_report(options);
  auto v = verify_sevsnp_report(report, certs, policy());
  EXPECT_EQ(v->first_failure()->check, SevSnpCheck::kVcekProduct);
  EXPECT_NE(v->first_failure()->detail.find("Turin"), std::string::npos);
  // A stepping suffix is fine.
  options.product_name = "Genoa-B1";
  auto [report2, certs2] = signed_report(options);
  EXPECT_TRUE(verify_sevsnp_report(report2, certs2, policy())->valid());
}

TEST_F(SevSnpFakeChain, ReportSignedByAnotherKeyIsRejected) {
  auto [report, certs] = signed_report();
  auto other = root_->issue_vcek();  // same chain, same TCB and chip id, different key
  SevSnpCertificates swapped{other.cert, std::nullopt, std::nullopt};
  EXPECT_EQ(failed(*verify_sevsnp_report(report, swapped, policy())), Names{"sevsnp.report_signature"});
}

}  // namespace
}  // namespace openpcc::attest
