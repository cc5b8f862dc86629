#include "attest/tpm/persistence.h"

#include <gtest/gtest.h>

#include "attest/pcr.h"
#include "attest/tpm/attestation.h"
#include "attest/tpm/node_keys.h"
#include "attest/tpm/tpm_rek_key.h"
#include "attest/tpm_structures.h"
#include "crypto/hpke.h"
#include "swtpm_device.h"

namespace openpcc::tpm {
namespace {

constexpr uint32_t kSrkHandle = 0x81000001;
constexpr uint32_t kRekHandle = 0x81000002;
constexpr uint32_t kAkHandle = 0x81000003;
constexpr crypto::HpkeSuite kSuite{crypto::KemId::kDhkemP256HkdfSha256, crypto::KdfId::kHkdfSha256,
                                   crypto::AeadId::kAes128Gcm};

void measure_boot(const TpmDevice& tpm) {
  for (uint32_t pcr : {0u, 7u, 12u}) {
    ASSERT_TRUE(tpm.pcr_extend(pcr, sha256_of(to_bytes("boot " + std::to_string(pcr)))));
  }
}

crypto::KemPublicKey kem_public(ByteSpan point) {
  return crypto::Kem::create(crypto::KemId::kDhkemP256HkdfSha256)->deserialize_public_key(point).value();
}

struct Persisted {
  attest::PcrValues golden;
  Bytes srk_name, rek_public, rek_name, ak_public, ak_name;
};

// What a node's first boot does: measure, make the keys, persist them (clearing the slots first).
Persisted first_boot(const TpmDevice& tpm) {
  Persisted out;
  measure_boot(tpm);
  out.golden = tpm.pcr_read(attest::kAttestedPcrs).value();
  for (uint32_t handle : {kSrkHandle, kRekHandle, kAkHandle}) {
    auto evicted = evict_persistent(tpm, handle);
    EXPECT_TRUE(evicted) << evicted.error().to_string();
    EXPECT_FALSE(*evicted);  // fresh TPM: nothing there
  }
  auto srk = create_storage_primary(tpm);
  auto rek = create_rek(tpm, *srk, out.golden);
  auto ak = create_ak(tpm, AkAlgorithm::kEccP256);
  EXPECT_TRUE(srk && rek && ak);
  for (auto [key, handle] : {std::pair{&*srk, kSrkHandle}, {&rek->key, kRekHandle}, {&*ak, kAkHandle}}) {
    auto persistent = make_persistent(tpm, *key, handle);
    EXPECT_TRUE(persistent) << persistent.error().to_string();
    EXPECT_EQ(persistent->persistent_handle(), handle);
    EXPECT_EQ(persistent->name(), key->name());
    EXPECT_EQ(persistent->public_area(), key->public_area());
  }
  out.srk_name = srk->name();
  out.rek_public = rek->key.public_area();
  out.rek_name = rek->key.name();
  out.ak_public = ak->public_area();
  out.ak_name = ak->name();
  return out;  // every TpmKey here is destroyed: transient ones flushed, persistent handles closed
}

using PersistenceTest = SwtpmTest;

TEST_F(PersistenceTest, KeysSurviveReopeningTheDevice) {
  Persisted keys = first_boot(tpm());
  ASSERT_FALSE(HasFailure());
  // A client seals to the REK before the node process restarts.
  auto hpke = crypto::Hpke::create(kSuite).value();
  auto rek_point = attest::ecc_public_point(attest::parse_tpmt_public(keys.rek_public).value()).value();
  auto sealed = hpke.seal(kem_public(rek_point), {}, {}, to_bytes("sent before the restart"));
  ASSERT_TRUE(sealed);

  device_.reset();  // the node process exits
  auto reopened = open_started(swtpm_->tcti());
  ASSERT_TRUE(reopened) << reopened.error().to_string();

  auto srk = open_persistent(*reopened, kSrkHandle);
  auto rek = open_persistent(*reopened, kRekHandle);
  auto ak = open_persistent(*reopened, kAkHandle);
  ASSERT_TRUE(srk) << srk.error().to_string();
  ASSERT_TRUE(rek) << rek.error().to_string();
  ASSERT_TRUE(ak) << ak.error().to_string();
  EXPECT_EQ(srk->name(), keys.srk_name);
  EXPECT_EQ(rek->public_area(), keys.rek_public);
  EXPECT_EQ(rek->name(), keys.rek_name);
  EXPECT_EQ(ak->public_area(), keys.ak_public);
  EXPECT_EQ(ak->name(), keys.ak_name);
  EXPECT_EQ(rek->persistent_handle(), kRekHandle);

  // The persistent REK still decrypts (the PCRs are unchanged), and the AK still signs as before.
  auto rek_key = TpmRekKey::create(*reopened, std::move(*rek), keys.golden);
  ASSERT_TRUE(rek_key) << rek_key.error().to_string();
  auto opened = hpke.open(sealed->enc, **rek_key, {}, {}, sealed->ciphertext);
  ASSERT_TRUE(opened) << opened.error().to_string();
  EXPECT_EQ(*opened, to_bytes("sent before the restart"));
  auto q = quote(*reopened, *ak, attest::kAttestedPcrs, to_bytes("nonce"));
  ASSERT_TRUE(q) << q.error().to_string();
  auto verified = attest::verify_tpm_signature(attest::parse_tpmt_public(keys.ak_public).value(), q->tpms_attest,
                                               attest::parse_tpmt_signature(q->tpmt_signature).value());
  EXPECT_TRUE(verified) << verified.error().to_string();

  // A persistent TpmKey going away does not evict the key.
  { TpmKey gone = std::move(*ak); }
  auto ak_again = open_persistent(*reopened, kAkHandle);
  ASSERT_TRUE(ak_again) << ak_again.error().to_string();
  EXPECT_EQ(ak_again->name(), keys.ak_name);
}

TEST_F(PersistenceTest, RebootNeedsTheSameMeasurementsAgain) {
  Persisted keys = first_boot(tpm());
  ASSERT_FALSE(HasFailure());
  device_.reset();
  ASSERT_TRUE(swtpm_->restart());  // power cycle: PCRs reset, persistent keys stay

  auto tpm2 = open_started(swtpm_->tcti());
  ASSERT_TRUE(tpm2) << tpm2.error().to_string();
  auto rek = open_persistent(*tpm2, kRekHandle);
  ASSERT_TRUE(rek) << rek.error().to_string();
  EXPECT_EQ(rek->name(), keys.rek_name);
  auto rek_key = TpmRekKey::create(*tpm2, std::move(*rek), keys.golden);
  ASSERT_TRUE(rek_key) << rek_key.error().to_string();

  auto hpke = crypto::Hpke::create(kSuite).value();
  auto sealed = hpke.seal(kem_public((*rek_key)->public_key()), {}, {}, to_bytes("hello"));
  ASSERT_TRUE(sealed);
  // PCRs are back to zero: not the golden state.
  auto early = hpke.open(sealed->enc, **rek_key, {}, {}, sealed->ciphertext);
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, ErrorCode::kAuthenticationFailed) << early.error().to_string();
  // The same boot measured again: the key works again.
  measure_boot(*tpm2);
  ASSERT_FALSE(HasFailure());
  auto opened = hpke.open(sealed->enc, **rek_key, {}, {}, sealed->ciphertext);
  ASSERT_TRUE(opened) << opened.error().to_string();
  EXPECT_EQ(*opened, to_bytes("hello"));
}

TEST_F(PersistenceTest, EvictIsIdempotentAndSlotsConflict) {
  auto ak = create_ak(tpm(), AkAlgorithm::kEccP256);
  ASSERT_TRUE(ak);
  auto empty = evict_persistent(tpm(), kAkHandle);
  ASSERT_TRUE(empty) << empty.error().to_string();
  EXPECT_FALSE(*empty);
  auto missing = open_persistent(tpm(), kAkHandle);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().to_string();

  auto persisted = make_persistent(tpm(), *ak, kAkHandle);
  ASSERT_TRUE(persisted) << persisted.error().to_string();
  auto taken = make_persistent(tpm(), *ak, kAkHandle);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::kConflict) << taken.error().to_string();
  auto already = make_persistent(tpm(), *persisted, kAkHandle + 1);
  ASSERT_FALSE(already);
  EXPECT_EQ(already.error().code, ErrorCode::kInvalidArgument);

  auto evicted = evict_persistent(tpm(), kAkHandle);
  ASSERT_TRUE(evicted) << evicted.error().to_string();
  EXPECT_TRUE(*evicted);
  auto again = evict_persistent(tpm(), kAkHandle);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_FALSE(*again);
  EXPECT_FALSE(open_persistent(tpm(), kAkHandle));
  // The slot is free again.
  EXPECT_TRUE(make_persistent(tpm(), *ak, kAkHandle));
}

TEST_F(PersistenceTest, RejectsHandlesOutsideTheOwnerRange) {
  auto ak = create_ak(tpm(), AkAlgorithm::kEccP256);
  ASSERT_TRUE(ak);
  for (uint32_t handle : {0x80000000u, 0x81800000u, 0x01000000u, 0x81FFFFFFu}) {
    auto p = make_persistent(tpm(), *ak, handle);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(open_persistent(tpm(), handle).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(evict_persistent(tpm(), handle).error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace openpcc::tpm
