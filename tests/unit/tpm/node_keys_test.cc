#include "attest/tpm/node_keys.h"

#include <gtest/gtest.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include <chrono>
#include <iostream>

#include "attest/pcr.h"
#include "attest/tpm/pcr_policy.h"
#include "attest/tpm_structures.h"
#include "common/random.h"
#include "swtpm_device.h"

namespace openpcc::tpm {
namespace {

// Parsed with Tss2_MU directly: the test should not trust our own parser to check our own templates.
TPMT_PUBLIC unmarshal_public(ByteSpan bytes) {
  TPMT_PUBLIC pub{};
  size_t offset = 0;
  EXPECT_EQ(Tss2_MU_TPMT_PUBLIC_Unmarshal(bytes.data(), bytes.size(), &offset, &pub), TSS2_RC_SUCCESS);
  EXPECT_EQ(offset, bytes.size());
  return pub;
}

Bytes expected_name(ByteSpan public_area) { return concat({Bytes{0x00, 0x0B}, sha256_of(public_area)}); }

// Measures something into a few attested PCRs, as boot would, and returns the attested values.
attest::PcrValues boot(const TpmDevice& tpm) {
  for (uint32_t pcr : {0u, 4u, 7u, 12u}) {
    EXPECT_TRUE(tpm.pcr_extend(pcr, sha256_of(to_bytes("boot component " + std::to_string(pcr)))));
  }
  auto values = tpm.pcr_read(attest::kAttestedPcrs);
  EXPECT_TRUE(values) << values.error().to_string();
  return values ? *values : attest::PcrValues{};
}

using NodeKeysTest = SwtpmTest;

TEST_F(NodeKeysTest, StoragePrimaryTemplate) {
  auto srk = create_storage_primary(tpm());
  ASSERT_TRUE(srk) << srk.error().to_string();
  TPMT_PUBLIC pub = unmarshal_public(srk->public_area());
  EXPECT_EQ(pub.type, TPM2_ALG_ECC);
  EXPECT_EQ(pub.nameAlg, TPM2_ALG_SHA256);
  EXPECT_EQ(pub.objectAttributes, TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                      TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
                                      TPMA_OBJECT_DECRYPT);
  EXPECT_EQ(pub.parameters.eccDetail.symmetric.algorithm, TPM2_ALG_AES);
  EXPECT_EQ(pub.parameters.eccDetail.symmetric.keyBits.aes, 128);
  EXPECT_EQ(pub.parameters.eccDetail.symmetric.mode.aes, TPM2_ALG_CFB);
  EXPECT_EQ(pub.parameters.eccDetail.scheme.scheme, TPM2_ALG_NULL);
  EXPECT_EQ(pub.parameters.eccDetail.curveID, TPM2_ECC_NIST_P256);
  EXPECT_EQ(pub.unique.ecc.x.size, 32);
  EXPECT_EQ(srk->name(), expected_name(srk->public_area()));
  EXPECT_FALSE(srk->persistent_handle());

  // Primaries derive from the seed and the template: the same key again.
  auto again = create_storage_primary(tpm());
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->name(), srk->name());
}

TEST_F(NodeKeysTest, TransientKeysAreFlushedWhenDestroyed) {
  // swtpm holds 3 transient objects; without the flush in ~TpmKey the 4th create fails with TPM_RC_OBJECT_MEMORY.
  for (int i = 0; i < 10; ++i) {
    auto srk = create_storage_primary(tpm());
    ASSERT_TRUE(srk) << "round " << i << ": " << srk.error().to_string();
  }
  // And holding three at once is the limit, so the flush really is what made room.
  auto a = create_storage_primary(tpm());
  auto b = create_storage_primary(tpm());
  auto c = create_storage_primary(tpm());
  ASSERT_TRUE(a && b && c);
  auto d = create_storage_primary(tpm());
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("Esys_CreatePrimary"), std::string::npos) << d.error().message;
}

TEST_F(NodeKeysTest, RekAttributesAsSpecified) {
  attest::PcrValues golden = boot(tpm());
  auto srk = create_storage_primary(tpm());
  ASSERT_TRUE(srk) << srk.error().to_string();
  auto rek = create_rek(tpm(), *srk, golden);
  ASSERT_TRUE(rek) << rek.error().to_string();

  TPMT_PUBLIC pub = unmarshal_public(rek->key.public_area());
  EXPECT_EQ(pub.type, TPM2_ALG_ECC);
  EXPECT_EQ(pub.nameAlg, TPM2_ALG_SHA256);
  // Exactly these bits: in particular userWithAuth and restricted CLEAR.
  EXPECT_EQ(pub.objectAttributes, TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                      TPMA_OBJECT_DECRYPT | TPMA_OBJECT_ADMINWITHPOLICY);
  EXPECT_EQ(pub.objectAttributes & TPMA_OBJECT_USERWITHAUTH, 0u);
  EXPECT_EQ(pub.parameters.eccDetail.symmetric.algorithm, TPM2_ALG_NULL);
  EXPECT_EQ(pub.parameters.eccDetail.scheme.scheme, TPM2_ALG_ECDH);
  EXPECT_EQ(pub.parameters.eccDetail.scheme.details.ecdh.hashAlg, TPM2_ALG_SHA256);
  EXPECT_EQ(pub.parameters.eccDetail.curveID, TPM2_ECC_NIST_P256);
  EXPECT_EQ(pub.parameters.eccDetail.kdf.scheme, TPM2_ALG_NULL);
  EXPECT_EQ(pub.unique.ecc.x.size, 32);
  EXPECT_EQ(pub.unique.ecc.y.size, 32);

  // authPolicy: software PolicyPCR (attest) and the TPM's own trial session agree.
  auto software = attest::policy_pcr_digest(golden);
  ASSERT_TRUE(software);
  auto trial = trial_policy_pcr_digest(tpm(), golden);
  ASSERT_TRUE(trial) << trial.error().to_string();
  EXPECT_EQ(Bytes(pub.authPolicy.buffer, pub.authPolicy.buffer + pub.authPolicy.size), *software);
  EXPECT_EQ(*trial, *software);

  // Name = 0x000B ‖ SHA-256(TPMT_PUBLIC), also as the verifier computes it.
  EXPECT_EQ(rek->key.name(), expected_name(rek->key.public_area()));
  auto verifier_name = attest::tpm_object_name(rek->key.public_area());
  ASSERT_TRUE(verifier_name) << verifier_name.error().to_string();
  EXPECT_EQ(*verifier_name, rek->key.name());
  auto parsed = attest::parse_tpmt_public(rek->key.public_area());
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(parsed->auth_policy, *software);

  // Creation hash = SHA-256 of the TPMS_CREATION_DATA inside the TPM2B; it records the golden PCR digest.
  ASSERT_GT(rek->creation_data.size(), 2u);
  EXPECT_EQ(rek->creation_hash, sha256_of(ByteSpan(rek->creation_data).subspan(2)));
  TPM2B_CREATION_DATA creation{};
  size_t offset = 0;
  ASSERT_EQ(Tss2_MU_TPM2B_CREATION_DATA_Unmarshal(rek->creation_data.data(), rek->creation_data.size(), &offset,
                                                  &creation),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(offset, rek->creation_data.size());
  const TPMS_CREATION_DATA& cd = creation.creationData;
  EXPECT_EQ(Bytes(cd.pcrDigest.buffer, cd.pcrDigest.buffer + cd.pcrDigest.size),
            attest::pcr_composite_digest(golden));
  ASSERT_EQ(cd.pcrSelect.count, 1u);
  EXPECT_EQ(cd.pcrSelect.pcrSelections[0].hash, TPM2_ALG_SHA256);
  EXPECT_EQ(Bytes(cd.parentName.name, cd.parentName.name + cd.parentName.size), srk->name());

  TPMT_TK_CREATION ticket{};
  offset = 0;
  ASSERT_EQ(Tss2_MU_TPMT_TK_CREATION_Unmarshal(rek->creation_ticket.data(), rek->creation_ticket.size(), &offset,
                                               &ticket),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(offset, rek->creation_ticket.size());
  EXPECT_EQ(ticket.tag, TPM2_ST_CREATION);
  EXPECT_EQ(ticket.hierarchy, TPM2_RH_OWNER);
}

TEST_F(NodeKeysTest, PolicyDigestAgreesWithTrialSessionForManySelections) {
  const std::vector<std::vector<uint32_t>> selections = {
      {12}, {0}, {0, 1, 2, 3, 4, 5, 7, 8, 12}, {23}, {7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {1, 17, 22}};
  for (const auto& selection : selections) {
    attest::PcrValues values;
    for (uint32_t pcr : selection) values[pcr] = random_bytes(32);
    auto software = attest::policy_pcr_digest(values);
    ASSERT_TRUE(software) << software.error().to_string();
    auto trial = trial_policy_pcr_digest(tpm(), values);
    ASSERT_TRUE(trial) << trial.error().to_string();
    EXPECT_EQ(*trial, *software) << "selection of " << selection.size() << " starting at " << selection[0];
  }
}

TEST_F(NodeKeysTest, RekRejectsBadGoldenValues) {
  auto srk = create_storage_primary(tpm());
  ASSERT_TRUE(srk);
  const std::vector<attest::PcrValues> bad = {
      {}, {{12, Bytes(20, 0)}}, {{24, Bytes(32, 0)}}, {{0, Bytes(32, 0)}, {12, Bytes(33, 0)}}};
  for (const auto& golden : bad) {
    auto rek = create_rek(tpm(), *srk, golden);
    ASSERT_FALSE(rek);
    EXPECT_EQ(rek.error().code, ErrorCode::kInvalidArgument) << rek.error().to_string();
    auto trial = trial_policy_pcr_digest(tpm(), golden);
    ASSERT_FALSE(trial);
    EXPECT_EQ(trial.error().code, ErrorCode::kInvalidArgument) << trial.error().to_string();
  }
}

TEST_F(NodeKeysTest, KeysOfAnotherDeviceAreRejected) {
  auto other = test_support::Swtpm::start();
  ASSERT_TRUE(other) << other.error().to_string();
  auto other_device = open_started((*other)->tcti());
  ASSERT_TRUE(other_device) << other_device.error().to_string();
  auto foreign_srk = create_storage_primary(*other_device);
  ASSERT_TRUE(foreign_srk);
  auto rek = create_rek(tpm(), *foreign_srk, {{12, Bytes(32, 0)}});
  ASSERT_FALSE(rek);
  EXPECT_EQ(rek.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(rek.error().message.find("another TPM connection"), std::string::npos) << rek.error().message;
}

TEST_F(NodeKeysTest, AkTemplatesAndCreationTime) {
  struct Case {
    AkAlgorithm algorithm;
    const char* label;
  };
  for (const Case& c : {Case{AkAlgorithm::kRsa2048, "RSA-2048"}, Case{AkAlgorithm::kEccP256, "ECC P-256"}}) {
    auto start = std::chrono::steady_clock::now();
    auto ak = create_ak(tpm(), c.algorithm);
    auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(ak) << c.label << ": " << ak.error().to_string();
    std::cout << "[ timing   ] create_ak(" << c.label << ") on swtpm: " << elapsed << " ms\n";
    RecordProperty(std::string("create_ak_ms_") + (c.algorithm == AkAlgorithm::kRsa2048 ? "rsa" : "ecc"),
                   std::to_string(elapsed));

    TPMT_PUBLIC pub = unmarshal_public(ak->public_area());
    EXPECT_EQ(pub.nameAlg, TPM2_ALG_SHA256);
    EXPECT_EQ(pub.objectAttributes, TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                        TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                        TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT);
    if (c.algorithm == AkAlgorithm::kRsa2048) {
      EXPECT_EQ(pub.type, TPM2_ALG_RSA);
      EXPECT_EQ(pub.parameters.rsaDetail.keyBits, 2048);
      EXPECT_EQ(pub.parameters.rsaDetail.scheme.scheme, TPM2_ALG_RSASSA);
      EXPECT_EQ(pub.parameters.rsaDetail.scheme.details.rsassa.hashAlg, TPM2_ALG_SHA256);
      EXPECT_EQ(pub.parameters.rsaDetail.symmetric.algorithm, TPM2_ALG_NULL);
      EXPECT_EQ(pub.unique.rsa.size, 256);
    } else {
      EXPECT_EQ(pub.type, TPM2_ALG_ECC);
      EXPECT_EQ(pub.parameters.eccDetail.curveID, TPM2_ECC_NIST_P256);
      EXPECT_EQ(pub.parameters.eccDetail.scheme.scheme, TPM2_ALG_ECDSA);
      EXPECT_EQ(pub.parameters.eccDetail.scheme.details.ecdsa.hashAlg, TPM2_ALG_SHA256);
      EXPECT_EQ(pub.parameters.eccDetail.symmetric.algorithm, TPM2_ALG_NULL);
    }
    EXPECT_EQ(ak->name(), expected_name(ak->public_area()));
  }
}

}  // namespace
}  // namespace openpcc::tpm
