// PCR helpers: PolicyPCR against digests a real (software) TPM computed in trial sessions, selection marshalling,
// composite digest and extend.
#include "attest/pcr.h"

#include <gtest/gtest.h>

#include "tpm_fixtures.h"

namespace openpcc::attest {
namespace {

using testing::attested_pcr_values;
using testing::tpm_fixture;

PcrValues subset(const PcrValues& all, std::initializer_list<uint32_t> pcrs) {
  PcrValues out;
  for (uint32_t p : pcrs) out[p] = all.at(p);
  return out;
}

TEST(PolicyPcr, MatchesTpmTrialSessionAtReset) {
  auto values = attested_pcr_values(tpm_fixture("pcr_values_reset.bin"));
  ASSERT_TRUE(values.has_value());
  for (const auto& [pcr, value] : *values) EXPECT_EQ(value, Bytes(32, 0)) << pcr;  // a fresh swtpm
  EXPECT_EQ(policy_pcr_digest(*values).value(), tpm_fixture("policy_pcr_reset.bin"));
}

TEST(PolicyPcr, MatchesTpmTrialSessionAfterBoot) {
  auto values = attested_pcr_values(tpm_fixture("pcr_values_boot.bin"));
  ASSERT_TRUE(values.has_value());
  const Bytes policy = policy_pcr_digest(*values).value();
  EXPECT_EQ(policy, tpm_fixture("policy_pcr_boot.bin"));
  EXPECT_NE(policy, tpm_fixture("policy_pcr_reset.bin"));
  // Smaller selections, computed by tpm2_createpolicy.
  EXPECT_EQ(policy_pcr_digest(subset(*values, {0, 7})).value(), tpm_fixture("policy_pcr_0_7_boot.bin"));
  EXPECT_EQ(policy_pcr_digest(subset(*values, {0, 1, 2, 3, 4, 5, 7, 8})).value(),
            tpm_fixture("policy_pcr_0_8_boot.bin"));
  // Any change to any value changes the policy.
  for (uint32_t pcr : kAttestedPcrs) {
    PcrValues changed = *values;
    changed[pcr][5] ^= 0x40;
    EXPECT_NE(policy_pcr_digest(changed).value(), policy) << pcr;
  }
}

TEST(PolicyPcr, RejectsBadInput) {
  EXPECT_EQ(policy_pcr_digest({}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(policy_pcr_digest({{0, Bytes(31, 0)}}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(policy_pcr_digest({{0, Bytes(33, 0)}}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(policy_pcr_digest({{24, Bytes(32, 0)}}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(policy_pcr_digest({{23, Bytes(32, 0)}}).has_value());
}

TEST(PcrSelection, Marshalling) {
  EXPECT_EQ(to_hex(marshal_pcr_selection(kAttestedPcrs)), "00000001" "000b" "03" "bf1100");
  const uint32_t none[] = {99};
  EXPECT_EQ(to_hex(marshal_pcr_selection(none)), "00000001000b03000000");
  const uint32_t last[] = {23, 0};
  EXPECT_EQ(to_hex(marshal_pcr_selection(last)), "00000001000b03010080");
}

TEST(Pcr, CompositeDigestAndExtend) {
  PcrValues v = {{12, Bytes(32, 0xcc)}, {0, Bytes(32, 0xaa)}, {7, Bytes(32, 0xbb)}};
  Bytes concatenated = concat({Bytes(32, 0xaa), Bytes(32, 0xbb), Bytes(32, 0xcc)});
  EXPECT_EQ(pcr_composite_digest(v), testing::sha256_bytes(to_string(concatenated)));
  // SHA-256(32 zero bytes ‖ SHA-256("abc")) — the first extend of a fresh PCR.
  const Bytes abc = testing::sha256_bytes("abc");
  EXPECT_EQ(pcr_extend(Bytes(32, 0), abc), testing::sha256_bytes(to_string(concat({Bytes(32, 0), abc}))));
  EXPECT_EQ(pcr_extend(Bytes(32, 0), abc).size(), 32u);
}

}  // namespace
}  // namespace openpcc::attest
