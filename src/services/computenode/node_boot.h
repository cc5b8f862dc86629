// How a compute node comes up on its TPM: the same simulated measured boot as `openpcc compute-boot`
// (attest::simulated_boot_manifest of the model files' digest), the SIMULATED TEE root loaded or generated, and the
// optional image-manifest bundle attached to the evidence.
//
//   auto booted = boot_node(config, now);     // TPM2_Startup, measure, REK + AK, certify, quote, TEE report
//   booted->node.rek();                       // HPKE decapsulation inside the TPM (PCR-bound)
//   booted->node.evidence();                  // what heartbeats carry
//
// node_image_manifest(config) gives the image manifest a publisher logs for such nodes without touching a TPM.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "attest/boot_manifest.h"
#include "attest/image_manifest.h"
#include "attest/simulated_tee.h"
#include "attest/tpm/compute_boot.h"
#include "attest/tpm/tpm_device.h"
#include "common/error.h"
#include "openpcc/evidence.pb.h"
#include "services/computenode/computenode_config.h"

namespace openpcc::computenode {

// Loads the simulated hardware root key at `path` (PEM, mode 0600), or generates one and writes it there with its
// public key at services::public_key_path(path) (never replacing an existing file). `created`, if given, says
// which happened.
Result<attest::SimulatedHardwareRoot> load_or_create_simulated_root(const std::filesystem::path& path,
                                                                    bool* created = nullptr);

// The boot a node of this config measures: simulated_boot_manifest(model_digest_of_files(model_path)).
Result<attest::BootManifest> node_boot_manifest(const ServiceConfig& config);
// attest::image_manifest_for(image_id, node_boot_manifest(config)).
Result<attest::ImageManifest> node_image_manifest(const ServiceConfig& config);

struct BootedNode {
  tpm::TpmDevice device;
  attest::SimulatedHardwareRoot simulated_root;
  tpm::AttestedNode node;

  // A fresh quote and TEE report over the same keys (AttestedNode::attest at `now`); kConflict once the PCRs moved.
  Result<pb::SignedEvidenceList> refresh_evidence(int64_t now);
};

// Opens config.tpm, sends TPM2_Startup and boots (tpm::boot_compute_node, keys transient) at `now` (Unix seconds).
// Errors name the step: the model files, the simulated root, the bundle file, the TPM (kConflict from the boot: its
// PCRs were already measured — restart the TPM).
Result<std::unique_ptr<BootedNode>> boot_node(const ServiceConfig& config, int64_t now);

}  // namespace openpcc::computenode
