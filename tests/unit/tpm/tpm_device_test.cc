#include "attest/tpm/tpm_device.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

#include "attest/pcr.h"
#include "common/random.h"
#include "swtpm_device.h"

namespace openpcc::tpm {
namespace {

using TpmDeviceTest = SwtpmTest;

TEST_F(TpmDeviceTest, StartupTwiceIsFine) {
  // swtpm was started with startup-clear, and SetUp sent TPM2_Startup already: TPM_RC_INITIALIZE both times.
  EXPECT_TRUE(tpm().startup());
  EXPECT_TRUE(tpm().startup());
}

TEST_F(TpmDeviceTest, FreshPcrsAreZero) {
  auto values = tpm().pcr_read(attest::kAttestedPcrs);
  ASSERT_TRUE(values) << values.error().to_string();
  ASSERT_EQ(values->size(), attest::kAttestedPcrs.size());
  for (uint32_t pcr : attest::kAttestedPcrs) EXPECT_EQ(values->at(pcr), Bytes(32, 0)) << "PCR " << pcr;
}

TEST_F(TpmDeviceTest, ExtendMatchesSoftwareSha256Extend) {
  for (uint32_t pcr : {0u, 7u, 12u, 23u}) {
    Bytes expected(32, 0);       // SHA-256(old ‖ digest), computed here directly
    Bytes via_attest(32, 0);     // and with attest::pcr_extend, which the verifier uses
    for (int i = 0; i < 3; ++i) {
      Bytes digest = sha256_of(to_bytes("measurement " + std::to_string(pcr) + "/" + std::to_string(i)));
      ASSERT_TRUE(tpm().pcr_extend(pcr, digest));
      expected = sha256_of(concat({expected, digest}));
      via_attest = attest::pcr_extend(via_attest, digest);
    }
    auto values = tpm().pcr_read(std::array<uint32_t, 1>{pcr});
    ASSERT_TRUE(values) << values.error().to_string();
    EXPECT_EQ(values->at(pcr), expected) << "PCR " << pcr;
    EXPECT_EQ(values->at(pcr), via_attest) << "PCR " << pcr;
  }
}

TEST_F(TpmDeviceTest, ReadsAllPcrsAcrossSeveralCommands) {
  // The TPM returns at most 8 digests per TPM2_PCR_Read; 24 PCRs take several round trips. PCRs 17-22 belong to
  // higher localities (locality 0 gets TPM_RC_LOCALITY), so they are read but not extended.
  auto extendable = [](uint32_t i) { return i < 17 || i == 23; };
  std::vector<uint32_t> all;
  for (uint32_t i = 0; i < kPcrCount; ++i) {
    all.push_back(i);
    if (extendable(i)) {
      ASSERT_TRUE(tpm().pcr_extend(i, Bytes(32, static_cast<uint8_t>(i + 1)))) << i;
    }
  }
  auto locality = tpm().pcr_extend(17, Bytes(32, 1));
  ASSERT_FALSE(locality);
  EXPECT_NE(locality.error().message.find("PCR 17"), std::string::npos) << locality.error().message;
  all.push_back(3);  // duplicates are fine
  auto values = tpm().pcr_read(all);
  ASSERT_TRUE(values) << values.error().to_string();
  ASSERT_EQ(values->size(), kPcrCount);
  for (uint32_t i = 0; i < kPcrCount; ++i) {
    ASSERT_EQ(values->at(i).size(), 32u);
    if (!extendable(i)) continue;
    EXPECT_EQ(values->at(i), attest::pcr_extend(Bytes(32, 0), Bytes(32, static_cast<uint8_t>(i + 1)))) << i;
  }
}

TEST_F(TpmDeviceTest, RejectsBadArguments) {
  auto bad_pcr = tpm().pcr_extend(24, Bytes(32, 1));
  ASSERT_FALSE(bad_pcr);
  EXPECT_EQ(bad_pcr.error().code, ErrorCode::kInvalidArgument);
  auto bad_digest = tpm().pcr_extend(12, Bytes(20, 1));
  ASSERT_FALSE(bad_digest);
  EXPECT_EQ(bad_digest.error().code, ErrorCode::kInvalidArgument);
  auto bad_read = tpm().pcr_read(std::array<uint32_t, 2>{1, 99});
  ASSERT_FALSE(bad_read);
  EXPECT_EQ(bad_read.error().code, ErrorCode::kInvalidArgument);
  auto empty = tpm().pcr_read({});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_F(TpmDeviceTest, OneDeviceSharedByThreads) {
  // Four threads extend PCR 16 and read it back through the same device; the mutex keeps ESAPI consistent and
  // the result is the same as extending sequentially (the digest is the same each time).
  const Bytes digest = sha256_of(to_bytes("thread"));
  constexpr int kThreads = 4, kPerThread = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(tpm().pcr_extend(16, digest));
        EXPECT_TRUE(tpm().pcr_read(std::array<uint32_t, 2>{16, 0}));
      }
    });
  }
  for (auto& t : threads) t.join();
  Bytes expected(32, 0);
  for (int i = 0; i < kThreads * kPerThread; ++i) expected = attest::pcr_extend(expected, digest);
  auto values = tpm().pcr_read(std::array<uint32_t, 1>{16});
  ASSERT_TRUE(values);
  EXPECT_EQ(values->at(16), expected);
}

TEST_F(TpmDeviceTest, ErrorsAfterTheTpmGoesAwayCarryDecodedText) {
  swtpm_->stop();
  auto values = tpm().pcr_read(std::array<uint32_t, 1>{0});
  ASSERT_FALSE(values);
  EXPECT_EQ(values.error().code, ErrorCode::kUnavailable) << values.error().to_string();
  EXPECT_NE(values.error().message.find("Esys_PCR_Read"), std::string::npos) << values.error().message;
  EXPECT_NE(values.error().message.find("tcti:"), std::string::npos) << values.error().message;  // Tss2_RC_Decode
}

}  // namespace
}  // namespace openpcc::tpm
