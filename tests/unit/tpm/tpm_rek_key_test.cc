#include "attest/tpm/tpm_rek_key.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "attest/pcr.h"
#include "attest/tpm/node_keys.h"
#include "attest/tpm/pcr_policy.h"
#include "attest/tpm_structures.h"
#include "common/random.h"
#include "crypto/hpke.h"
#include "crypto/kem.h"
#include "swtpm_device.h"
#include "wire/compute_request.h"

namespace openpcc::tpm {
namespace {

using crypto::AeadId;
using crypto::Hpke;
using crypto::KdfId;
using crypto::KemId;
using wire::Chunking;
using wire::compute::RequestReceiver;
using wire::compute::RequestSender;

constexpr crypto::HpkeSuite kSuite{KemId::kDhkemP256HkdfSha256, KdfId::kHkdfSha256, AeadId::kAes128Gcm};

class TpmRekKeyTest : public SwtpmTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SwtpmTest::SetUp());
    // Boot: firmware, bootloader, secure boot state and the model digest measured into attested PCRs.
    for (uint32_t pcr : {0u, 2u, 4u, 7u, 8u, 12u}) {
      ASSERT_TRUE(tpm().pcr_extend(pcr, sha256_of(to_bytes("component for PCR " + std::to_string(pcr)))));
    }
    auto golden = tpm().pcr_read(attest::kAttestedPcrs);
    ASSERT_TRUE(golden) << golden.error().to_string();
    golden_ = *golden;
    auto srk = create_storage_primary(tpm());
    ASSERT_TRUE(srk) << srk.error().to_string();
    srk_.emplace(std::move(*srk));
    auto rek = create_rek(tpm(), *srk_, golden_);
    ASSERT_TRUE(rek) << rek.error().to_string();
    auto key = TpmRekKey::create(tpm(), std::move(rek->key), golden_);
    ASSERT_TRUE(key) << key.error().to_string();
    rek_ = std::move(*key);
  }

  crypto::KemPublicKey rek_public() const {
    return crypto::Kem::create(KemId::kDhkemP256HkdfSha256)->deserialize_public_key(rek_->public_key()).value();
  }

  void expect_policy_failure(const Error& e) const {
    EXPECT_EQ(e.code, ErrorCode::kAuthenticationFailed) << e.to_string();
    EXPECT_NE(e.message.find(kRekPolicyError), std::string::npos) << e.to_string();
  }

  attest::PcrValues golden_;
  std::optional<TpmKey> srk_;
  std::unique_ptr<TpmRekKey> rek_;
};

std::unique_ptr<crypto::DhPrivateKey> software_p256_key() {
  auto key = crypto::Kem::create(KemId::kDhkemP256HkdfSha256)->generate_key_pair();
  EXPECT_TRUE(key);
  return std::unique_ptr<crypto::DhPrivateKey>(dynamic_cast<crypto::DhPrivateKey*>(key->release()));
}

TEST_F(TpmRekKeyTest, PublicKeyIsTheRekPoint) {
  EXPECT_EQ(rek_->kem_id(), KemId::kDhkemP256HkdfSha256);
  ASSERT_EQ(rek_->public_key().size(), 65u);
  EXPECT_EQ(rek_->public_key()[0], 0x04);
  auto parsed = attest::parse_tpmt_public(rek_->key().public_area());
  ASSERT_TRUE(parsed);
  auto point = attest::ecc_public_point(*parsed);
  ASSERT_TRUE(point);
  EXPECT_EQ(Bytes(rek_->public_key().begin(), rek_->public_key().end()), *point);
  EXPECT_EQ(rek_->golden_pcrs(), golden_);
  auto serialized = rek_->serialize();
  ASSERT_FALSE(serialized);
  EXPECT_EQ(serialized.error().code, ErrorCode::kUnsupported);  // the scalar never leaves the TPM
}

TEST_F(TpmRekKeyTest, DhAgreesWithSoftwareEcdh) {
  for (int i = 0; i < 3; ++i) {
    auto peer = software_p256_key();
    ASSERT_TRUE(peer);
    auto in_tpm = rek_->dh(peer->public_key());
    ASSERT_TRUE(in_tpm) << in_tpm.error().to_string();
    auto in_software = peer->dh(rek_->public_key());
    ASSERT_TRUE(in_software) << in_software.error().to_string();
    ASSERT_EQ(in_tpm->size(), 32u);
    EXPECT_EQ(to_hex(*in_tpm), to_hex(*in_software));
  }
}

TEST_F(TpmRekKeyTest, SessionsAreClosedAfterEveryCall) {
  // swtpm has 3 session slots (64 active): 70 successful and 10 failed calls would run out if any session leaked.
  auto peer = software_p256_key();
  for (int i = 0; i < 70; ++i) ASSERT_TRUE(rek_->dh(peer->public_key())) << i;
  ASSERT_TRUE(tpm().pcr_extend(12, Bytes(32, 0xee)));
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(rek_->dh(peer->public_key()));
  auto trial = attest::PcrValues{{12, Bytes(32, 0)}};
  for (int i = 0; i < 70; ++i) ASSERT_TRUE(trial_policy_pcr_digest(tpm(), trial)) << i;
}

TEST_F(TpmRekKeyTest, RejectsInvalidPeerKeys) {
  auto peer = software_p256_key();
  Bytes good(peer->public_key().begin(), peer->public_key().end());
  Bytes compressed = good;
  compressed.resize(33);
  compressed[0] = 0x02 | (good[64] & 1);
  Bytes off_curve = good;
  off_curve[64] ^= 0x01;
  Bytes coordinate_too_big = good;
  std::fill(coordinate_too_big.begin() + 1, coordinate_too_big.begin() + 33, 0xff);  // x ≥ p
  for (const Bytes& bad : {Bytes{}, Bytes{0x00}, Bytes(65, 0), compressed, off_curve, coordinate_too_big,
                           Bytes(good.begin(), good.end() - 1), concat({good, Bytes{0}})}) {
    auto r = rek_->dh(bad);
    ASSERT_FALSE(r) << to_hex(bad);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().to_string();
  }
}

TEST_F(TpmRekKeyTest, HpkeEndToEnd) {
  auto hpke = Hpke::create(kSuite);
  ASSERT_TRUE(hpke);
  const Bytes info = to_bytes("openpcc tpm test info");
  auto sender = hpke->setup_sender(rek_public(), info);
  ASSERT_TRUE(sender) << sender.error().to_string();
  auto recipient = hpke->setup_recipient(sender->enc(), *rek_, info);
  ASSERT_TRUE(recipient) << recipient.error().to_string();
  for (int i = 0; i < 3; ++i) {
    const Bytes aad = to_bytes("aad " + std::to_string(i));
    const Bytes message = to_bytes("prompt number " + std::to_string(i) + " for the attested model");
    auto ct = sender->seal(aad, message);
    ASSERT_TRUE(ct);
    auto pt = recipient->open(aad, *ct);
    ASSERT_TRUE(pt) << pt.error().to_string();
    EXPECT_EQ(*pt, message);
  }
  auto a = sender->export_secret(to_bytes("response"), 32);
  auto b = recipient->export_secret(to_bytes("response"), 32);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(to_hex(*a), to_hex(*b));

  // Single-shot too, and a different info does not open.
  auto sealed = hpke->seal(rek_public(), info, {}, to_bytes("single shot"));
  ASSERT_TRUE(sealed);
  auto opened = hpke->open(sealed->enc, *rek_, info, {}, sealed->ciphertext);
  ASSERT_TRUE(opened) << opened.error().to_string();
  EXPECT_EQ(*opened, to_bytes("single shot"));
  EXPECT_FALSE(hpke->open(sealed->enc, *rek_, to_bytes("other info"), {}, sealed->ciphertext));
}

TEST_F(TpmRekKeyTest, ComputeRequestUnwrapKey) {
  for (Chunking chunking : {Chunking::kUnchunked, Chunking::kChunked}) {
    auto sender = RequestSender::create(chunking);
    ASSERT_TRUE(sender);
    auto wrapped = sender->wrap_key(rek_public());
    ASSERT_TRUE(wrapped) << wrapped.error().to_string();
    auto rx = RequestReceiver::unwrap_key(wrapped->encapsulated_key, *rek_, chunking);
    ASSERT_TRUE(rx) << rx.error().to_string();
    EXPECT_EQ(to_hex(rx->enc()), to_hex(wrapped->response_secrets.enc()));
    if (chunking == Chunking::kUnchunked) {
      const Bytes bhttp = to_bytes("a binary HTTP request for the node");
      auto body = sender->seal_body(bhttp);
      ASSERT_TRUE(body);
      auto opened = rx->open_body(*body);
      ASSERT_TRUE(opened) << opened.error().to_string();
      EXPECT_EQ(*opened, bhttp);
    }
    // The node's reply opens with the client's response secrets.
    const Bytes reply = to_bytes("node reply");
    auto response = rx->response_secrets().context(Chunking::kUnchunked)->seal(reply);
    ASSERT_TRUE(response);
    auto read = wrapped->response_secrets.context(Chunking::kUnchunked)->open(*response);
    ASSERT_TRUE(read) << read.error().to_string();
    EXPECT_EQ(*read, reply);
  }
  // A key wrapped for someone else does not unwrap.
  auto other = software_p256_key();
  auto other_pk = crypto::Kem::create(KemId::kDhkemP256HkdfSha256)->deserialize_public_key(other->public_key());
  auto sender = RequestSender::create(Chunking::kUnchunked);
  auto wrapped = sender->wrap_key(*other_pk);
  ASSERT_TRUE(wrapped);
  auto rx = RequestReceiver::unwrap_key(wrapped->encapsulated_key, *rek_, Chunking::kUnchunked);
  ASSERT_FALSE(rx);
  EXPECT_EQ(rx.error().code, ErrorCode::kAuthenticationFailed) << rx.error().to_string();
}

TEST_F(TpmRekKeyTest, UnaffectedByPcrsOutsideThePolicy) {
  ASSERT_TRUE(tpm().pcr_extend(16, Bytes(32, 0x16)));  // debug PCR, not attested
  ASSERT_TRUE(tpm().pcr_extend(9, Bytes(32, 0x09)));
  auto peer = software_p256_key();
  auto r = rek_->dh(peer->public_key());
  EXPECT_TRUE(r) << r.error().to_string();
}

// TOCTOU: the REK was made and bound while the PCRs held the golden values; one more extend of any bound PCR
// afterwards (a different model in PCR 12, different firmware in PCR 0, ...) makes every use fail closed.
class TpmRekKeyToctouTest : public TpmRekKeyTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(TpmRekKeyToctouTest, ExtendingAPolicyPcrDisablesTheKey) {
  const uint32_t pcr = GetParam();
  auto hpke = Hpke::create(kSuite);
  ASSERT_TRUE(hpke);
  const Bytes info = to_bytes("info");
  // Sealed while the node was in the golden state...
  auto before = hpke->seal(rek_public(), info, {}, to_bytes("secret prompt"));
  ASSERT_TRUE(before);
  auto wrap_sender = RequestSender::create(Chunking::kUnchunked);
  auto wrapped = wrap_sender->wrap_key(rek_public());
  ASSERT_TRUE(wrapped);
  ASSERT_TRUE(hpke->open(before->enc, *rek_, info, {}, before->ciphertext));

  // ... then the PCR changes.
  ASSERT_TRUE(tpm().pcr_extend(pcr, sha256_of(to_bytes("something else"))));

  auto peer = software_p256_key();
  auto dh = rek_->dh(peer->public_key());
  ASSERT_FALSE(dh);
  expect_policy_failure(dh.error());

  auto recipient = hpke->setup_recipient(before->enc, *rek_, info);
  ASSERT_FALSE(recipient);
  expect_policy_failure(recipient.error());
  auto opened = hpke->open(before->enc, *rek_, info, {}, before->ciphertext);
  ASSERT_FALSE(opened);
  expect_policy_failure(opened.error());
  auto rx = RequestReceiver::unwrap_key(wrapped->encapsulated_key, *rek_, Chunking::kUnchunked);
  ASSERT_FALSE(rx);
  expect_policy_failure(rx.error());

  // Wrapping the same golden values into a new TpmRekKey does not help: the TPM checks the real PCRs.
  auto srk_rek = create_rek(tpm(), *srk_, golden_);
  ASSERT_TRUE(srk_rek);
  auto fresh = TpmRekKey::create(tpm(), std::move(srk_rek->key), golden_);
  ASSERT_TRUE(fresh);
  auto again = (*fresh)->dh(peer->public_key());
  ASSERT_FALSE(again);
  expect_policy_failure(again.error());
}

INSTANTIATE_TEST_SUITE_P(PolicyPcrs, TpmRekKeyToctouTest, ::testing::Values(12u, 0u, 7u),
                         [](const auto& info) { return "Pcr" + std::to_string(info.param); });

TEST_F(TpmRekKeyTest, CreateChecksTheKeyAgainstTheGoldenValues) {
  // Golden values that are not those the REK was made with.
  auto rek = create_rek(tpm(), *srk_, golden_);
  ASSERT_TRUE(rek);
  attest::PcrValues other = golden_;
  other[12] = Bytes(32, 0x12);
  auto wrong = TpmRekKey::create(tpm(), std::move(rek->key), other);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(wrong.error().message.find("authPolicy"), std::string::npos) << wrong.error().message;

  // A key that is not a REK at all.
  auto ak = create_ak(tpm(), AkAlgorithm::kEccP256);
  ASSERT_TRUE(ak);
  auto not_rek = TpmRekKey::create(tpm(), std::move(*ak), golden_);
  ASSERT_FALSE(not_rek);
  EXPECT_EQ(not_rek.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(TpmRekKeyTest, ConcurrentDecapsulations) {
  auto hpke = Hpke::create(kSuite);
  ASSERT_TRUE(hpke);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const Bytes message = to_bytes("thread " + std::to_string(t) + " message " + std::to_string(i));
        auto sealed = hpke->seal(rek_public(), {}, {}, message);
        ASSERT_TRUE(sealed);
        auto opened = hpke->open(sealed->enc, *rek_, {}, {}, sealed->ciphertext);
        ASSERT_TRUE(opened) << opened.error().to_string();
        EXPECT_EQ(*opened, message);
      }
    });
  }
  for (auto& th : threads) th.join();
}

}  // namespace
}  // namespace openpcc::tpm
