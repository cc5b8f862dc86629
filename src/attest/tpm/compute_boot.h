// Compute boot: turns a fresh TPM into an attested compute node, the way the reference's compute_boot does on a
// confidential VM, with the firmware's part played in software because a swtpm has no firmware in front of it.
//
//   auto node = tpm::boot_compute_node(device, {.manifest = boot, .simulated_root = &root}, now);
//   send(node->evidence());                         // to the router, with heartbeats
//   RequestReceiver::unwrap_key(enc, node->rek(), …) // HPKE decapsulation inside the TPM
//   node->attest(device, root, later, challenge);   // a fresh quote + TEE report over the same keys
//
// Steps (docs/ATTESTATION.md):
//  1. Measure the boot manifest (attest/boot_manifest.h) into the PCRs and write the matching TCG event log — the
//     firmware, boot loader, GPT, secure-boot variables, kernel command line (dm-verity root) and, in PCR 12, the
//     digest of the model files the engine serves. The PCRs must be fresh (all zero): a TPM is measured once per
//     power cycle.
//  2. Read the attested PCRs back (the golden values) and check them against the manifest's expected values.
//  3. Create the storage primary, the REK bound by PolicyPCR to the golden values, and the AK.
//  4. TPM2_CertifyCreation of the REK by the AK.
//  5. TPM2_Quote of the attested PCRs whose qualifying data binds the quote to the AK, the REK, the certification,
//     the event log, the time and an optional challenge (attest/quote_binding.h).
//  6. A TEE report whose report_data binds the quote and the AK. No TEE exists here, so it is a SIMULATED report
//     signed by a local simulated hardware root; the production verifier policy rejects it.
#pragma once

#include <cstdint>
#include <memory>

#include "attest/boot_manifest.h"
#include "attest/pcr.h"
#include "attest/simulated_tee.h"
#include "attest/tpm/node_keys.h"
#include "attest/tpm/tpm_device.h"
#include "attest/tpm/tpm_key.h"
#include "attest/tpm/tpm_rek_key.h"
#include "common/bytes.h"
#include "common/error.h"
#include "openpcc/evidence.pb.h"

namespace openpcc::tpm {

// Persistent handles for the node's keys (the reference's production layout).
inline constexpr uint32_t kRekPersistentHandle = 0x81000002;
inline constexpr uint32_t kAkPersistentHandle = 0x81000003;

struct ComputeBootConfig {
  attest::BootManifest manifest;
  AkAlgorithm ak_algorithm = AkAlgorithm::kEccP256;
  // Signs the SIMULATED TEE report. Required: this machine has no SEV-SNP/TDX to produce a real one.
  const attest::SimulatedHardwareRoot* simulated_root = nullptr;
  // Keep the REK and AK at kRekPersistentHandle / kAkPersistentHandle (replacing what is there).
  bool persist_keys = false;
  // Attached as IMAGE_MANIFEST_BUNDLE when not empty: the transparency bundle of this node's image manifest.
  Bytes image_manifest_bundle;
  // A SIMULATED TEE's reported TCB version.
  uint64_t simulated_tcb = 1;
};

class AttestedNode {
 public:
  // The REK as an HPKE recipient key (P-256 DH through TPM2_ECDH_ZGen under the PCR policy).
  const TpmRekKey& rek() const { return *rek_; }
  ByteSpan rek_public_key() const { return rek_->public_key(); }
  const attest::PcrValues& golden_pcrs() const { return rek_->golden_pcrs(); }
  ByteSpan event_log() const { return event_log_; }
  // The evidence of the last attest() (boot makes the first).
  const pb::SignedEvidenceList& evidence() const { return evidence_; }

  // A new quote (issued_at, challenge ≤ 64 bytes) and TEE report over the same keys, certification and event log,
  // through the device the node booted on. Fails if the PCRs changed since boot (kConflict): such a quote would
  // contradict the REK's policy, and the node is no longer the one that was attested.
  Result<pb::SignedEvidenceList> attest(const TpmDevice& tpm, const attest::SimulatedHardwareRoot& root,
                                        int64_t issued_at, ByteSpan challenge = {});

  AttestedNode(AttestedNode&&) noexcept;
  AttestedNode& operator=(AttestedNode&&) noexcept;
  ~AttestedNode();

 private:
  friend Result<AttestedNode> boot_compute_node(const TpmDevice&, const ComputeBootConfig&, int64_t);
  AttestedNode(TpmKey ak, std::unique_ptr<TpmRekKey> rek, Bytes event_log, Bytes certify_attest,
               Bytes certify_signature, Bytes launch_measurement, uint64_t tcb, Bytes image_manifest_bundle);

  TpmKey ak_;
  std::unique_ptr<TpmRekKey> rek_;
  Bytes event_log_;
  Bytes certify_attest_;
  Bytes certify_signature_;
  Bytes launch_measurement_;
  uint64_t tcb_ = 0;
  Bytes image_manifest_bundle_;
  pb::SignedEvidenceList evidence_;
};

// Runs the steps above on `tpm` at time `now` (Unix seconds). kConflict if the PCRs are not fresh, kInvalidArgument
// for a bad manifest or a missing simulated root; TPM errors as tpm_device.h describes.
Result<AttestedNode> boot_compute_node(const TpmDevice& tpm, const ComputeBootConfig& config, int64_t now);

}  // namespace openpcc::tpm
