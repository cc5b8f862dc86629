// Done-means 1 of the attestation issue, on real TPM emulators: boot a node on swtpm, verify its evidence under the
// local policy, encrypt to its REK with our HPKE and decrypt through the TPM; TOCTOU; and the tamper matrix (each
// piece with a corrupted signature or bytes, swapped in from another node, replayed, wrong PCRs, a simulated TEE under
// the production policy), each rejected with the check that caught it named.
#include "attest/tpm/compute_boot.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>

#include "attest/image_manifest.h"
#include "attest/verify.h"
#include "common/random.h"
#include "crypto/hpke.h"
#include "swtpm_device.h"
#include "unit/attest/sevsnp_test_data.h"
#include "wire/compute_request.h"

namespace openpcc::tpm {
namespace {

using attest::CheckStatus;
using attest::VerificationReport;
using attest::VerifierPolicy;

constexpr int64_t kBootTime = 1'790'000'000;
constexpr crypto::HpkeSuite kSuite{crypto::KemId::kDhkemP256HkdfSha256, crypto::KdfId::kHkdfSha256,
                                   crypto::AeadId::kAes128Gcm};

attest::BootManifest manifest_for(std::string_view model) {
  attest::BootManifest m;
  m.firmware_version = "OpenPCC simulated firmware 1.0";
  m.bootloader_digest = sha256_of(to_bytes("grubx64.efi"));
  m.gpt_header = to_bytes("EFI PART simulated GPT header");
  m.secure_boot = true;
  m.kernel_cmdline = "root=/dev/mapper/root ro confsec.root=" + to_hex(sha256_of(to_bytes("rootfs"))) + " quiet";
  m.model_digest = sha256_of(to_bytes(model));
  return m;
}

struct BootedNode {
  std::unique_ptr<test_support::Swtpm> swtpm;
  std::optional<TpmDevice> device;
  std::optional<AttestedNode> node;
};

BootedNode boot(const attest::SimulatedHardwareRoot& root, const attest::BootManifest& manifest) {
  BootedNode b;
  auto swtpm = test_support::Swtpm::start();
  EXPECT_TRUE(swtpm) << swtpm.error().to_string();
  if (!swtpm) return b;
  b.swtpm = std::move(*swtpm);
  auto device = open_started(b.swtpm->tcti());
  EXPECT_TRUE(device) << device.error().to_string();
  if (!device) return b;
  b.device.emplace(std::move(*device));
  ComputeBootConfig config;
  config.manifest = manifest;
  config.simulated_root = &root;
  auto node = boot_compute_node(*b.device, config, kBootTime);
  EXPECT_TRUE(node) << node.error().to_string();
  if (node) b.node.emplace(std::move(*node));
  return b;
}

// Two nodes of the same image on two swtpms, booted once for the whole suite (tests copy their evidence).
class ComputeBootTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = std::make_unique<attest::SimulatedHardwareRoot>(attest::SimulatedHardwareRoot::generate().value());
    manifest_ = manifest_for("model A weights");
    a_ = std::make_unique<BootedNode>(boot(*root_, manifest_));
    b_ = std::make_unique<BootedNode>(boot(*root_, manifest_));
    if (a_->node) boot_evidence_a_ = a_->node->evidence();
  }
  static void TearDownTestSuite() {
    a_.reset();
    b_.reset();
    root_.reset();
  }
  void SetUp() override {
    ASSERT_TRUE(a_ && a_->node && b_ && b_->node) << "suite setup failed";
  }

  static VerifierPolicy local_policy() {
    auto policy = VerifierPolicy::local({root_->public_key()});
    policy.image_manifests = {attest::image_manifest_for("image-2026.11", manifest_)};
    policy.now = kBootTime + 60;
    return policy;
  }

  // Node A's evidence from boot (tests that re-attest A do not change it).
  static pb::SignedEvidenceList evidence_a() { return boot_evidence_a_; }
  static pb::SignedEvidencePiece* piece(pb::SignedEvidenceList& list, pb::EvidenceType type) {
    for (auto& p : *list.mutable_items()) {
      if (p.type() == type) return &p;
    }
    ADD_FAILURE() << "no piece of type " << type;
    return nullptr;
  }

  // The evidence fails, and the first failing check is `check`.
  static void expect_rejected_by(const pb::SignedEvidenceList& evidence, std::string_view check,
                                 const VerifierPolicy& policy = local_policy()) {
    VerificationReport report = attest::verify_evidence(evidence, policy);
    ASSERT_FALSE(report.ok()) << attest::format_report(report);
    EXPECT_FALSE(report.node.has_value());
    const attest::Check* failure = report.first_failure();
    ASSERT_NE(failure, nullptr);
    EXPECT_EQ(failure->status, CheckStatus::kFailed) << attest::format_report(report);
    EXPECT_EQ(failure->name, check) << attest::format_report(report);
  }

  static inline std::unique_ptr<attest::SimulatedHardwareRoot> root_;
  static inline attest::BootManifest manifest_;
  static inline std::unique_ptr<BootedNode> a_, b_;
  static inline pb::SignedEvidenceList boot_evidence_a_;
};

TEST_F(ComputeBootTest, EvidenceVerifiesUnderTheLocalPolicy) {
  VerificationReport report = attest::verify_evidence(evidence_a(), local_policy());
  ASSERT_TRUE(report.ok()) << attest::format_report(report);
  ASSERT_TRUE(report.node);
  EXPECT_EQ(report.node->tee, "simulated");
  EXPECT_EQ(report.node->image_id, "image-2026.11");
  EXPECT_EQ(report.node->model_digest, manifest_.model_digest);
  EXPECT_EQ(report.node->issued_at, kBootTime);
  EXPECT_EQ(report.node->rek_public_key, Bytes(a_->node->rek_public_key().begin(), a_->node->rek_public_key().end()));
  EXPECT_EQ(report.node->pcrs, attest::expected_pcrs(manifest_));
  for (const char* name : {"evidence.pieces", "tee.signature", "tee.report_data", "ak.public", "quote.signature",
                           "quote.pcr_selection", "quote.pcr_values", "quote.binding", "quote.freshness",
                           "rek.name", "rek.creation_certified", "rek.attributes", "rek.policy", "event_log.replay",
                           "event_log.secure_boot", "image.pcrs", "image.model_digest", "image.kernel_cmdline"}) {
    const attest::Check* c = report.find(name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(c->status, CheckStatus::kPassed) << name;
  }
  std::string text = attest::format_report(report);
  EXPECT_NE(text.find("✓ rek.policy"), std::string::npos) << text;
  EXPECT_NE(text.find("PASS"), std::string::npos) << text;
}

TEST_F(ComputeBootTest, ClientEncryptsToTheVerifiedRekAndTheNodeDecryptsInTheTpm) {
  VerificationReport report = attest::verify_evidence(evidence_a(), local_policy());
  ASSERT_TRUE(report.ok()) << attest::format_report(report);
  auto hpke = crypto::Hpke::create(kSuite).value();
  auto pk = hpke.kem().deserialize_public_key(report.node->rek_public_key);
  ASSERT_TRUE(pk) << pk.error().to_string();
  Bytes prompt = to_bytes("what is the airspeed velocity of an unladen swallow?");
  auto sealed = hpke.seal(*pk, as_bytes("openpcc test"), {}, prompt);
  ASSERT_TRUE(sealed);
  auto opened = hpke.open(sealed->enc, a_->node->rek(), as_bytes("openpcc test"), {}, sealed->ciphertext);
  ASSERT_TRUE(opened) << opened.error().to_string();
  EXPECT_EQ(*opened, prompt);
  // The other node's TPM cannot open it.
  EXPECT_FALSE(hpke.open(sealed->enc, b_->node->rek(), as_bytes("openpcc test"), {}, sealed->ciphertext));
}

TEST_F(ComputeBootTest, ProductionPolicyRejectsTheSimulatedTee) {
  auto policy = VerifierPolicy::production();
  policy.image_manifests = local_policy().image_manifests;
  policy.now = kBootTime + 60;
  expect_rejected_by(evidence_a(), "tee.simulated_allowed", policy);
  VerificationReport report = attest::verify_evidence(evidence_a(), policy);
  EXPECT_NE(attest::format_report(report).find("SIMULATED"), std::string::npos);
}

TEST_F(ComputeBootTest, ARealSevSnpReportVerifiesButIsNotBoundToThisNode) {
  // The production path with real AMD data: the Azure report's VCEK chain, CRL and signature verify inside the
  // evidence verifier, but its report_data was made for another quote, so the binding check refuses it.
  auto evidence = evidence_a();
  auto* tee = piece(evidence, pb::SIMULATED_TEE_REPORT);
  ASSERT_NE(tee, nullptr);
  tee->set_type(pb::SEVSNP_REPORT);
  Bytes report = attest::testing::azure_report();
  ASSERT_EQ(report.size(), attest::kSevSnpReportSize);
  tee->set_data(std::string(report.begin(), report.end()));
  const Bytes vcek = attest::testing::vcek().der();  // a copy: the certificate is a temporary
  tee->set_signature(std::string(vcek.begin(), vcek.end()));

  auto policy = VerifierPolicy::production();
  policy.image_manifests = local_policy().image_manifests;
  policy.now = kBootTime + 60;
  policy.sevsnp = attest::testing::azure_policy();
  VerificationReport report_ok = attest::verify_evidence(evidence, policy);
  ASSERT_FALSE(report_ok.ok());
  EXPECT_EQ(report_ok.find("tee.simulated_allowed")->status, CheckStatus::kPassed);
  EXPECT_EQ(report_ok.find("tee.signature")->status, CheckStatus::kPassed) << attest::format_report(report_ok);
  EXPECT_EQ(report_ok.first_failure()->name, "tee.report_data") << attest::format_report(report_ok);

  // Without the CRL the chain itself is refused (revocation is not optional, unlike the reference).
  policy.sevsnp.crls.clear();
  expect_rejected_by(evidence, "tee.signature", policy);
}

TEST_F(ComputeBootTest, AnUntrustedSimulatedRootIsRejected) {
  auto other = attest::SimulatedHardwareRoot::generate().value();
  auto policy = local_policy();
  policy.simulated_roots = {other.public_key()};
  expect_rejected_by(evidence_a(), "tee.signature", policy);
}

TEST_F(ComputeBootTest, CorruptedSignaturesAreRejected) {
  struct Case {
    pb::EvidenceType type;
    const char* check;
  };
  for (const Case& c : {Case{pb::SIMULATED_TEE_REPORT, "tee.signature"},
                        Case{pb::TPM_CERTIFY_REK_CREATION, "rek.creation_certified"},
                        Case{pb::TPM_QUOTE, "quote.signature"}}) {
    SCOPED_TRACE(pb::EvidenceType_Name(c.type));
    auto evidence = evidence_a();
    std::string& sig = *piece(evidence, c.type)->mutable_signature();
    sig[sig.size() - 5] ^= 0x01;
    expect_rejected_by(evidence, c.check);
  }
}

TEST_F(ComputeBootTest, CorruptedUnsignedPiecesAreRejected) {
  struct Case {
    pb::EvidenceType type;
    size_t offset_from_end;
    const char* check;
  };
  // The AK's and the REK's public areas: flip a byte of the key itself; the event log: flip a byte of an event.
  for (const Case& c : {Case{pb::AK_TPMT_PUBLIC, 3, "quote.signature"}, Case{pb::TPMT_PUBLIC, 3, "rek.name"},
                        Case{pb::EVENT_LOG, 10, "quote.binding"}}) {
    SCOPED_TRACE(pb::EvidenceType_Name(c.type));
    auto evidence = evidence_a();
    std::string& data = *piece(evidence, c.type)->mutable_data();
    data[data.size() - c.offset_from_end] ^= 0x01;
    VerificationReport report = attest::verify_evidence(evidence, local_policy());
    ASSERT_FALSE(report.ok());
    const attest::Check* check = report.find(c.check);
    ASSERT_NE(check, nullptr) << attest::format_report(report);
    EXPECT_EQ(check->status, CheckStatus::kFailed) << attest::format_report(report);
  }
}

TEST_F(ComputeBootTest, PiecesSwappedFromAnotherNodeAreRejected) {
  // Node B booted the same image with the same simulated root: every piece is individually valid, none belongs here.
  struct Case {
    pb::EvidenceType type;
    const char* check;
  };
  const auto other = b_->node->evidence();
  for (const Case& c : {Case{pb::SIMULATED_TEE_REPORT, "tee.report_data"}, Case{pb::AK_TPMT_PUBLIC, "quote.signature"},
                        Case{pb::TPM_CERTIFY_REK_CREATION, "rek.creation_certified"},
                        Case{pb::TPMT_PUBLIC, "rek.creation_certified"}, Case{pb::TPM_QUOTE, "tee.report_data"}}) {
    SCOPED_TRACE(pb::EvidenceType_Name(c.type));
    auto evidence = evidence_a();
    auto copy = other;
    *piece(evidence, c.type) = *piece(copy, c.type);
    VerificationReport report = attest::verify_evidence(evidence, local_policy());
    ASSERT_FALSE(report.ok()) << attest::format_report(report);
    const attest::Check* check = report.find(c.check);
    ASSERT_NE(check, nullptr) << attest::format_report(report);
    EXPECT_EQ(check->status, CheckStatus::kFailed) << attest::format_report(report);
  }
}

TEST_F(ComputeBootTest, AnotherBootsEventLogIsRejected) {
  // Nodes of one image write identical logs (the log is a function of the boot manifest), so swapping A's and B's
  // is no change at all. A log of another boot is.
  auto a = evidence_a();
  auto b = b_->node->evidence();
  EXPECT_EQ(piece(a, pb::EVENT_LOG)->data(), piece(b, pb::EVENT_LOG)->data());
  auto other = manifest_;
  other.kernel_cmdline += " init=/bin/sh";
  auto log = attest::boot_event_log(other).value();
  piece(a, pb::EVENT_LOG)->set_data(std::string(log.begin(), log.end()));
  VerificationReport report = attest::verify_evidence(a, local_policy());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.find("quote.binding")->status, CheckStatus::kFailed) << attest::format_report(report);
  EXPECT_EQ(report.find("event_log.replay")->status, CheckStatus::kFailed) << attest::format_report(report);
}

TEST_F(ComputeBootTest, ReplayedOldEvidenceIsRejected) {
  // The evidence from boot, presented 30 hours later.
  auto policy = local_policy();
  policy.now = kBootTime + 30 * 3600;
  expect_rejected_by(evidence_a(), "quote.freshness", policy);

  // A verifier that asked for a fresh quote with its own challenge gets an answer only once the node re-attests.
  Bytes challenge = random_bytes(32);
  policy = local_policy();
  policy.challenge = challenge;
  expect_rejected_by(evidence_a(), "quote.freshness", policy);
  auto fresh = a_->node->attest(*a_->device, *root_, kBootTime + 120, challenge);
  ASSERT_TRUE(fresh) << fresh.error().to_string();
  policy.now = kBootTime + 130;
  VerificationReport report = attest::verify_evidence(*fresh, policy);
  EXPECT_TRUE(report.ok()) << attest::format_report(report);

  // The old quote spliced into the new evidence: the new TEE report is bound to the new quote.
  auto spliced = *fresh;
  auto old = evidence_a();
  *piece(spliced, pb::TPM_QUOTE) = *piece(old, pb::TPM_QUOTE);
  report = attest::verify_evidence(spliced, local_policy());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.find("tee.report_data")->status, CheckStatus::kFailed) << attest::format_report(report);

  // Rewriting the binding's time in the quote piece breaks the quote's qualifying data.
  auto backdated = evidence_a();
  pb::TPMQuoteAttestation q;
  ASSERT_TRUE(q.ParseFromString(piece(backdated, pb::TPM_QUOTE)->data()));
  q.mutable_binding()->mutable_issued_at()->set_seconds(kBootTime + 29 * 3600);
  piece(backdated, pb::TPM_QUOTE)->set_data(q.SerializeAsString());
  policy = local_policy();
  policy.now = kBootTime + 30 * 3600;
  expect_rejected_by(backdated, "quote.binding", policy);
}

TEST_F(ComputeBootTest, WrongPcrsAreRejected) {
  // A reported PCR value that is not what the TPM quoted.
  auto evidence = evidence_a();
  pb::TPMQuoteAttestation q;
  ASSERT_TRUE(q.ParseFromString(piece(evidence, pb::TPM_QUOTE)->data()));
  (*q.mutable_pcrvalues()->mutable_values())[12] = std::string(32, '\x42');
  piece(evidence, pb::TPM_QUOTE)->set_data(q.SerializeAsString());
  expect_rejected_by(evidence, "quote.pcr_values");

  // The policy expects another model: PCR 12 matches no manifest.
  auto policy = local_policy();
  policy.image_manifests = {attest::image_manifest_for("other-model", manifest_for("model B weights"))};
  expect_rejected_by(evidence_a(), "image.pcrs", policy);

  // A manifest whose PCRs match but whose model digest field disagrees with PCR 12.
  policy = local_policy();
  policy.image_manifests[0].model_digest = sha256_of(to_bytes("model B weights"));
  expect_rejected_by(evidence_a(), "image.model_digest", policy);

  // A manifest naming another dm-verity root.
  policy = local_policy();
  policy.image_manifests[0].verity_root = to_hex(sha256_of(to_bytes("other rootfs")));
  expect_rejected_by(evidence_a(), "image.kernel_cmdline", policy);

  // No manifest at all: fail closed.
  policy = local_policy();
  policy.image_manifests.clear();
  expect_rejected_by(evidence_a(), "image.pcrs", policy);
}

TEST_F(ComputeBootTest, StructuralProblemsAreRejected) {
  auto evidence = evidence_a();
  evidence.mutable_items()->RemoveLast();  // the quote
  expect_rejected_by(evidence, "evidence.pieces");
  evidence = evidence_a();
  *evidence.add_items() = evidence.items(1);
  expect_rejected_by(evidence, "evidence.pieces");
  evidence = evidence_a();
  evidence.add_items()->set_type(pb::NVIDIA_ETA);
  expect_rejected_by(evidence, "evidence.pieces");
  expect_rejected_by(pb::SignedEvidenceList{}, "evidence.pieces");
}

// TOCTOU: a node is attested, then its measured state changes. The TPM must refuse the REK, so a request encrypted to
// the attested key cannot be read, and the node cannot produce fresh evidence for the old key.
class ComputeBootToctouTest : public SwtpmTest {};

TEST_F(ComputeBootToctouTest, ExtendingAnAttestedPcrAfterVerificationFailsClosed) {
  auto root = attest::SimulatedHardwareRoot::generate().value();
  auto manifest = manifest_for("model A weights");
  ComputeBootConfig config;
  config.manifest = manifest;
  config.simulated_root = &root;
  config.persist_keys = true;
  auto node = boot_compute_node(tpm(), config, kBootTime);
  ASSERT_TRUE(node) << node.error().to_string();

  auto policy = VerifierPolicy::local({root.public_key()});
  policy.image_manifests = {attest::image_manifest_for("image", manifest)};
  policy.now = kBootTime + 1;
  VerificationReport report = attest::verify_evidence(node->evidence(), policy);
  ASSERT_TRUE(report.ok()) << attest::format_report(report);

  auto sender = wire::compute::RequestSender::create(wire::Chunking::kUnchunked).value();
  auto hpke = crypto::Hpke::create(kSuite).value();
  auto pk = hpke.kem().deserialize_public_key(report.node->rek_public_key).value();
  auto wrapped = sender.wrap_key(pk);
  ASSERT_TRUE(wrapped);
  EXPECT_TRUE(wire::compute::RequestReceiver::unwrap_key(wrapped->encapsulated_key, node->rek(),
                                                         wire::Chunking::kUnchunked));

  // After verification, something swaps the model: PCR 12 is extended.
  ASSERT_TRUE(tpm().pcr_extend(attest::kModelDigestPcr, sha256_of(to_bytes("model B weights"))));
  auto refused = wire::compute::RequestReceiver::unwrap_key(wrapped->encapsulated_key, node->rek(),
                                                            wire::Chunking::kUnchunked);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("PCR policy"), std::string::npos) << refused.error().to_string();
  auto again = node->attest(tpm(), root, kBootTime + 10);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);

  // Booting again on the same power cycle is refused too.
  EXPECT_EQ(boot_compute_node(tpm(), config, kBootTime).error().code, ErrorCode::kConflict);
}

}  // namespace
}  // namespace openpcc::tpm
