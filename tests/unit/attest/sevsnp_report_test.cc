// SEV-SNP ATTESTATION_REPORT parsing on the two real reports (Azure Genoa v3, GCE Milan v4) and on edited copies:
// every field lands where the ABI puts it, and wrong sizes, versions, signature algorithms and every reserved
// must-be-zero byte are refused.
#include "attest/sevsnp_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "sevsnp_fake_amd.h"
#include "sevsnp_test_data.h"

namespace openpcc::attest {
namespace {

using testing::put_le32;

std::string hex(ByteSpan b) { return to_hex(b); }

TEST(SevSnpReport, ParsesTheAzureGenoaReport) {
  const Bytes bytes = testing::azure_report();
  ASSERT_EQ(bytes.size(), kSevSnpReportSize);
  auto r = parse_sevsnp_report(bytes);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->version, 3u);
  EXPECT_EQ(r->guest_svn, 0x10009u);
  EXPECT_EQ(r->policy, 0x3001Full);
  EXPECT_EQ(r->policy_abi_major(), 0);
  EXPECT_EQ(r->policy_abi_minor(), 0x1F);
  EXPECT_FALSE(r->debug_allowed());
  EXPECT_FALSE(r->migrate_ma_allowed());
  EXPECT_EQ(hex(r->family_id), "01000000000000000000000000000000");
  EXPECT_EQ(hex(r->image_id), "02000000000000000000000000000000");
  EXPECT_EQ(r->vmpl, 0u);
  EXPECT_EQ(r->signature_algo, 1u);
  const TcbVersion tcb = TcbVersion::from_spls(10, 0, 23, 84);
  EXPECT_EQ(r->current_tcb, tcb);
  EXPECT_EQ(r->current_tcb.raw, 0x541700000000000Aull);
  EXPECT_EQ(r->reported_tcb, tcb);
  EXPECT_EQ(r->committed_tcb, tcb);
  EXPECT_EQ(r->launch_tcb, tcb);
  EXPECT_EQ(r->platform_info, 0x24u);
  EXPECT_FALSE(r->author_key_en);
  EXPECT_FALSE(r->mask_chip_key);
  EXPECT_EQ(r->signing_key, kSevSnpSigningKeyVcek);
  EXPECT_EQ(hex(r->report_data),
            "b2754e9b7b4076a3c65fefeb6926903852820fb0a78b2f96fa5e80833c6cc3bb"
            "0000000000000000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(hex(r->measurement),
            "572db4d3f521386bec1c76346f9c913431f2f257c9c09d604c1259b108a686ae0d277f31899a73098b41b556dc70a5fb");
  EXPECT_EQ(hex(r->host_data), std::string(64, '0'));
  EXPECT_EQ(hex(r->id_key_digest),
            "0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3");
  EXPECT_EQ(hex(r->author_key_digest), std::string(96, '0'));
  EXPECT_EQ(hex(r->report_id), "21cf505379e0854dccb11d46860340c8c84a6fdede7b9473b129402c64f6b80d");
  EXPECT_EQ(hex(r->report_id_ma), std::string(64, 'f'));
  EXPECT_EQ(r->cpuid_family_id, 0x19);  // family 19h
  EXPECT_EQ(r->cpuid_model_id, 0x11);   // Genoa
  EXPECT_EQ(r->cpuid_stepping, 0x01);
  EXPECT_EQ(hex(ByteSpan(r->chip_id).first(8)), "c70912d8d216bd3f");
  EXPECT_FALSE(r->chip_id_masked());
  EXPECT_EQ(r->current_major, 1);
  EXPECT_EQ(r->current_minor, 55);
  EXPECT_EQ(r->current_build, 40);
  EXPECT_EQ(r->committed_major, 1);
  EXPECT_EQ(r->committed_minor, 55);
  EXPECT_EQ(r->committed_build, 40);
  EXPECT_FALSE(r->launch_mit_vector.has_value());
  // R and S: the 48 low bytes of the 72-byte little-endian fields, reversed.
  EXPECT_EQ(hex(ByteSpan(r->signature_r).last(4)), "944148da");
  EXPECT_EQ(hex(ByteSpan(r->signature_s).last(4)), "4d32fdbc");
  EXPECT_EQ(hex(ByteSpan(r->signature_r).first(4)), "193fe25a");
}

TEST(SevSnpReport, ParsesTheGceMilanReport) {
  const Bytes bytes = testing::gce_report();
  ASSERT_EQ(bytes.size(), kSevSnpReportSize);
  auto r = parse_sevsnp_report(bytes);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->version, 4u);
  EXPECT_EQ(r->guest_svn, 0u);
  EXPECT_EQ(r->policy, kSevSnpPolicySmt | kSevSnpPolicyReservedMustBeOne);
  EXPECT_FALSE(r->debug_allowed());
  EXPECT_EQ(r->vmpl, 0u);
  EXPECT_EQ(r->signature_algo, 1u);
  EXPECT_EQ(r->reported_tcb, TcbVersion::from_spls(4, 0, 0x19, 0xDB));
  EXPECT_EQ(r->current_tcb, r->reported_tcb);
  EXPECT_EQ(r->launch_tcb, r->reported_tcb);
  EXPECT_EQ(r->platform_info, 0x25u);
  EXPECT_EQ(r->signing_key, kSevSnpSigningKeyVcek);
  EXPECT_EQ(hex(ByteSpan(r->report_data).first(8)), "29e348d0fd42479c");
  EXPECT_EQ(hex(ByteSpan(r->measurement).first(8)), "59ead9b42664d54f");
  EXPECT_EQ(hex(r->id_key_digest), std::string(96, '0'));
  EXPECT_EQ(r->cpuid_family_id, 0x19);
  EXPECT_EQ(r->cpuid_model_id, 0x01);  // Milan
  EXPECT_EQ(r->cpuid_stepping, 0x01);
  EXPECT_EQ(hex(ByteSpan(r->chip_id).first(8)), "12d937a2e0fa6469");
  EXPECT_EQ(r->current_major, 1);
  EXPECT_EQ(r->current_minor, 55);
  EXPECT_EQ(r->current_build, 31);
  EXPECT_EQ(hex(r->report_id_ma), std::string(64, 'f'));
  EXPECT_FALSE(r->launch_mit_vector.has_value());
  EXPECT_TRUE(std::any_of(r->signature_r.begin(), r->signature_r.end(), [](uint8_t b) { return b != 0; }));
}

TEST(SevSnpReport, RejectsWrongSizes) {
  const Bytes bytes = testing::azure_report();
  for (size_t size : {size_t{0}, size_t{1}, kSevSnpSignedSize, kSevSnpReportSize - 1}) {
    auto r = parse_sevsnp_report(ByteSpan(bytes).first(size));
    ASSERT_FALSE(r) << size;
    EXPECT_EQ(r.error().code, ErrorCode::kDecode);
  }
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(parse_sevsnp_report(longer));
}

TEST(SevSnpReport, AcceptsVersions2To5Only) {
  Bytes bytes = testing::azure_report();
  for (uint32_t version : {0u, 1u, 6u, 0xFFFFFFFFu}) {
    put_le32(bytes, 0, version);
    auto r = parse_sevsnp_report(bytes);
    ASSERT_FALSE(r) << version;
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  }
  for (uint32_t version : {3u, 4u, 5u}) {
    put_le32(bytes, 0, version);
    EXPECT_TRUE(parse_sevsnp_report(bytes)) << version;
  }
  // Version 2 predates the CPUID bytes: there they are reserved, must be zero.
  put_le32(bytes, 0, 2);
  EXPECT_FALSE(parse_sevsnp_report(bytes));
  std::fill(bytes.begin() + 0x188, bytes.begin() + 0x18B, 0);
  auto v2 = parse_sevsnp_report(bytes);
  ASSERT_TRUE(v2) << v2.error().to_string();
  EXPECT_FALSE(v2->cpuid_family_id.has_value());
}

TEST(SevSnpReport, Version5CarriesMitigationVectors) {
  Bytes bytes = testing::azure_report();
  put_le32(bytes, 0, 5);
  testing::put_le64(bytes, 0x1F8, 0x0102030405060708ull);
  testing::put_le64(bytes, 0x200, 0x1112131415161718ull);
  auto r = parse_sevsnp_report(bytes);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->launch_mit_vector, 0x0102030405060708ull);
  EXPECT_EQ(r->current_mit_vector, 0x1112131415161718ull);
  // Before version 5 the same bytes are reserved.
  put_le32(bytes, 0, 4);
  EXPECT_FALSE(parse_sevsnp_report(bytes));
}

TEST(SevSnpReport, RejectsOtherSignatureAlgorithms) {
  Bytes bytes = testing::azure_report();
  for (uint32_t algo : {0u, 2u, 0x100u}) {
    put_le32(bytes, 0x34, algo);
    auto r = parse_sevsnp_report(bytes);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  }
}

// Every byte the ABI reserves as must-be-zero, for a version-3/4 report.
std::vector<std::pair<size_t, size_t>> reserved_ranges() {
  return {{0x4C, 0x50},   {0x18B, 0x1A0}, {0x1EB, 0x1EC}, {0x1EF, 0x1F0}, {0x1F8, 0x2A0},
          {0x2D0, 0x2E8},  // R's upper 24 bytes
          {0x318, 0x330},  // S's upper 24 bytes
          {0x330, 0x4A0}};
}

TEST(SevSnpReport, RejectsEveryNonZeroReservedByte) {
  const Bytes original = testing::azure_report();
  size_t tried = 0;
  for (auto [begin, end] : reserved_ranges()) {
    for (size_t i = begin; i < end; ++i) {
      Bytes bytes = original;
      bytes[i] = 0x01;
      auto r = parse_sevsnp_report(bytes);
      ASSERT_FALSE(r) << "offset " << i;
      EXPECT_EQ(r.error().code, ErrorCode::kDecode);
      ++tried;
    }
  }
  EXPECT_EQ(tried, 4u + 21 + 1 + 1 + 168 + 24 + 24 + 368);
  // Key information bits 31:5 are reserved too; bits 0..4 are fields.
  for (int bit = 5; bit < 32; ++bit) {
    Bytes bytes = original;
    put_le32(bytes, 0x48, 1u << bit);
    EXPECT_FALSE(parse_sevsnp_report(bytes)) << bit;
  }
  Bytes flags = original;
  put_le32(flags, 0x48, 0x1F);
  auto r = parse_sevsnp_report(flags);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->author_key_en);
  EXPECT_TRUE(r->mask_chip_key);
  EXPECT_EQ(r->signing_key, kSevSnpSigningKeyNone);
}

TEST(TcbVersion, LayoutAndOrdering) {
  const TcbVersion t = TcbVersion::from_raw(0x541700000000000Aull);
  EXPECT_EQ(t.boot_loader, 10);
  EXPECT_EQ(t.tee, 0);
  EXPECT_EQ(t.snp, 23);
  EXPECT_EQ(t.microcode, 84);
  EXPECT_EQ(TcbVersion::from_spls(10, 0, 23, 84), t);
  EXPECT_EQ(t.to_string(), "bl=10 tee=0 snp=23 ucode=84");
  EXPECT_TRUE(t.at_least(t));
  EXPECT_TRUE(t.at_least(TcbVersion{}));
  EXPECT_FALSE(t.at_least(TcbVersion::from_spls(11, 0, 0, 0)));
  EXPECT_FALSE(t.at_least(TcbVersion::from_spls(0, 1, 0, 0)));
  EXPECT_FALSE(t.at_least(TcbVersion::from_spls(0, 0, 24, 0)));
  EXPECT_FALSE(t.at_least(TcbVersion::from_spls(0, 0, 0, 85)));
  // SPL by SPL: a higher microcode does not make up for a lower boot loader.
  EXPECT_FALSE(TcbVersion::from_spls(9, 0, 23, 200).at_least(t));
}

}  // namespace
}  // namespace openpcc::attest
