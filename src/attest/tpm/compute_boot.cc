#include "attest/tpm/compute_boot.h"

#include <string>

#include "attest/quote_binding.h"
#include "attest/tpm/attestation.h"
#include "attest/tpm/persistence.h"

namespace openpcc::tpm {
namespace {

void add_piece(pb::SignedEvidenceList& list, pb::EvidenceType type, ByteSpan data, ByteSpan signature = {}) {
  auto* piece = list.add_items();
  piece->set_type(type);
  piece->set_data(std::string(data.begin(), data.end()));
  if (!signature.empty()) piece->set_signature(std::string(signature.begin(), signature.end()));
}

std::string pcr_names(const std::vector<uint32_t>& pcrs) {
  std::string out;
  for (uint32_t p : pcrs) out += (out.empty() ? "" : ", ") + std::to_string(p);
  return out;
}

// Makes a key persistent at `handle`, replacing whatever a previous boot left there.
Result<TpmKey> persist(const TpmDevice& tpm, const TpmKey& key, uint32_t handle) {
  if (auto evicted = evict_persistent(tpm, handle); !evicted) return std::unexpected(evicted.error());
  return make_persistent(tpm, key, handle);
}

}  // namespace

AttestedNode::AttestedNode(TpmKey ak, std::unique_ptr<TpmRekKey> rek, Bytes event_log, Bytes certify_attest,
                           Bytes certify_signature, Bytes launch_measurement, uint64_t tcb,
                           Bytes image_manifest_bundle)
    : ak_(std::move(ak)),
      rek_(std::move(rek)),
      event_log_(std::move(event_log)),
      certify_attest_(std::move(certify_attest)),
      certify_signature_(std::move(certify_signature)),
      launch_measurement_(std::move(launch_measurement)),
      tcb_(tcb),
      image_manifest_bundle_(std::move(image_manifest_bundle)) {}

AttestedNode::AttestedNode(AttestedNode&&) noexcept = default;
AttestedNode& AttestedNode::operator=(AttestedNode&&) noexcept = default;
AttestedNode::~AttestedNode() = default;

Result<pb::SignedEvidenceList> AttestedNode::attest(const TpmDevice& tpm, const attest::SimulatedHardwareRoot& root,
                                                    int64_t issued_at, ByteSpan challenge) {
  // The PCRs must still be the golden ones; otherwise the quote would describe a state the REK refuses to work in.
  auto current = tpm.pcr_read(attest::kAttestedPcrs);
  if (!current) return std::unexpected(current.error());
  std::vector<uint32_t> changed;
  for (const auto& [index, value] : rek_->golden_pcrs()) {
    if ((*current)[index] != value) changed.push_back(index);
  }
  if (!changed.empty()) {
    return make_error(ErrorCode::kConflict, "compute boot: PCR " + pcr_names(changed) +
                                                " changed since boot; this node can no longer be attested");
  }

  auto qualifying = attest::quote_qualifying_data({issued_at, challenge, ak_.public_area(), rek_->key().name(),
                                                   certify_attest_, event_log_});
  if (!qualifying) return std::unexpected(qualifying.error());
  auto q = quote(tpm, ak_, attest::kAttestedPcrs, *qualifying);
  if (!q) return std::unexpected(q.error());

  attest::SimulatedTeeReport report;
  std::copy(launch_measurement_.begin(), launch_measurement_.end(), report.measurement.begin());
  Bytes report_data = attest::tee_report_data(q->tpmt_signature, ak_.public_area());
  std::copy(report_data.begin(), report_data.end(), report.report_data.begin());
  report.reported_tcb = tcb_;
  report.issued_at = issued_at;
  auto tee = root.sign(report);
  if (!tee) return std::unexpected(tee.error());

  pb::TPMQuoteAttestation quote_piece;
  quote_piece.set_tpmstattestquote(std::string(q->tpms_attest.begin(), q->tpms_attest.end()));
  for (const auto& [index, value] : *current) {
    (*quote_piece.mutable_pcrvalues()->mutable_values())[index] = std::string(value.begin(), value.end());
  }
  quote_piece.mutable_binding()->mutable_issued_at()->set_seconds(issued_at);
  if (!challenge.empty()) quote_piece.mutable_binding()->set_challenge(std::string(challenge.begin(), challenge.end()));
  std::string quote_bytes;
  if (!quote_piece.SerializeToString(&quote_bytes)) {
    return make_error(ErrorCode::kInternal, "compute boot: cannot serialize the quote piece");
  }

  pb::SignedEvidenceList evidence;
  add_piece(evidence, pb::SIMULATED_TEE_REPORT, tee->body, tee->signature);
  add_piece(evidence, pb::AK_TPMT_PUBLIC, ak_.public_area());
  add_piece(evidence, pb::TPM_CERTIFY_REK_CREATION, certify_attest_, certify_signature_);
  add_piece(evidence, pb::TPMT_PUBLIC, rek_->key().public_area(), rek_->key().name());
  add_piece(evidence, pb::EVENT_LOG, event_log_);
  add_piece(evidence, pb::TPM_QUOTE, as_bytes(quote_bytes), q->tpmt_signature);
  if (!image_manifest_bundle_.empty()) add_piece(evidence, pb::IMAGE_MANIFEST_BUNDLE, image_manifest_bundle_);
  evidence_ = evidence;
  return evidence;
}

Result<AttestedNode> boot_compute_node(const TpmDevice& tpm, const ComputeBootConfig& config, int64_t now) {
  if (config.simulated_root == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      "compute boot: no TEE on this machine and no simulated hardware root to sign a SIMULATED report");
  }
  if (auto ok = attest::check_boot_manifest(config.manifest); !ok) return std::unexpected(ok.error());

  // 1. Measure, as firmware would, into PCRs that nothing has touched yet.
  auto before = tpm.pcr_read(attest::kAttestedPcrs);
  if (!before) return std::unexpected(before.error());
  std::vector<uint32_t> dirty;
  for (const auto& [index, value] : *before) {
    if (value != Bytes(attest::kPcrSize, 0)) dirty.push_back(index);
  }
  if (!dirty.empty()) {
    return make_error(ErrorCode::kConflict, "compute boot: PCR " + pcr_names(dirty) +
                                                " already measured; a TPM is booted once per power cycle "
                                                "(restart the TPM to boot again)");
  }
  for (const auto& event : attest::boot_events(config.manifest)) {
    if (auto ok = tpm.pcr_extend(event.pcr, event.digest); !ok) return std::unexpected(ok.error());
  }
  auto event_log = attest::boot_event_log(config.manifest);
  if (!event_log) return std::unexpected(event_log.error());

  // 2. The golden values, which must be what the manifest predicts.
  auto golden = tpm.pcr_read(attest::kAttestedPcrs);
  if (!golden) return std::unexpected(golden.error());
  if (*golden != attest::expected_pcrs(config.manifest)) {
    return make_error(ErrorCode::kInternal, "compute boot: PCRs after measuring differ from the manifest's values");
  }

  // 3. Keys. The storage primary is flushed as soon as the REK is loaded: TPMs have few object slots (swtpm: 3).
  auto rek = [&]() -> Result<RekCreation> {
    auto srk = create_storage_primary(tpm);
    if (!srk) return std::unexpected(srk.error());
    return create_rek(tpm, *srk, *golden);
  }();
  if (!rek) return std::unexpected(rek.error());
  auto ak = create_ak(tpm, config.ak_algorithm);
  if (!ak) return std::unexpected(ak.error());

  // 4. The AK certifies that this TPM created the REK (as described by its creation data).
  auto certification =
      certify_creation(tpm, *ak, rek->key, rek->creation_hash, rek->creation_ticket, /*qualifying_data=*/{});
  if (!certification) return std::unexpected(certification.error());

  TpmKey rek_key = std::move(rek->key);
  TpmKey ak_key = std::move(*ak);
  if (config.persist_keys) {
    auto persistent_rek = persist(tpm, rek_key, kRekPersistentHandle);
    if (!persistent_rek) return std::unexpected(persistent_rek.error());
    auto persistent_ak = persist(tpm, ak_key, kAkPersistentHandle);
    if (!persistent_ak) return std::unexpected(persistent_ak.error());
    rek_key = std::move(*persistent_rek);
    ak_key = std::move(*persistent_ak);
  }
  auto rek_key_for_hpke = TpmRekKey::create(tpm, std::move(rek_key), *golden);
  if (!rek_key_for_hpke) return std::unexpected(rek_key_for_hpke.error());

  const auto& m = config.manifest;
  auto measurement = attest::simulated_launch_measurement(
      concat({i2osp(m.firmware_version.size(), 8), as_bytes(m.firmware_version), m.bootloader_digest}));
  AttestedNode node(std::move(ak_key), std::move(*rek_key_for_hpke), std::move(*event_log),
                    std::move(certification->tpm2b_attest), std::move(certification->tpmt_signature),
                    Bytes(measurement.begin(), measurement.end()), config.simulated_tcb,
                    config.image_manifest_bundle);

  // 5 + 6. Quote and TEE report.
  if (auto evidence = node.attest(tpm, *config.simulated_root, now); !evidence) {
    return std::unexpected(evidence.error());
  }
  return node;
}

}  // namespace openpcc::tpm
