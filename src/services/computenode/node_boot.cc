#include "services/computenode/node_boot.h"

#include <string>
#include <utility>

#include "attest/tpm/tcti.h"
#include "common/bytes.h"
#include "common/secure.h"
#include "services/common/key_files.h"

namespace openpcc::computenode {

Result<attest::SimulatedHardwareRoot> load_or_create_simulated_root(const std::filesystem::path& path,
                                                                    bool* created) {
  if (created) *created = false;
  auto pem = services::read_secret_file(path);
  if (pem) return attest::SimulatedHardwareRoot::from_pem(to_string(pem->span()));
  if (pem.error().code != ErrorCode::kNotFound) return std::unexpected(pem.error());
  auto root = attest::SimulatedHardwareRoot::generate();
  if (!root) return std::unexpected(root.error());
  auto text = root->to_pem();
  if (!text) return std::unexpected(text.error());
  auto written = services::write_secret_file_atomically(path, as_bytes(*text), services::ExistingFile::kKeep);
  secure_wipe(text->data(), text->size());
  if (!written) {
    // Another process created it meanwhile: use that one, so that every node sharing the file has one root.
    if (written.error().code == ErrorCode::kConflict) return load_or_create_simulated_root(path, created);
    return std::unexpected(written.error());
  }
  auto pub = root->public_key().to_pem();
  if (!pub) return std::unexpected(pub.error());
  if (auto w = services::write_public_file_atomically(services::public_key_path(path), as_bytes(*pub)); !w) {
    return std::unexpected(w.error());
  }
  if (created) *created = true;
  return root;
}

Result<attest::BootManifest> node_boot_manifest(const ServiceConfig& config) {
  auto digest = attest::model_digest_of_files(config.model_path);
  if (!digest) return std::unexpected(wrap_error("model_path " + config.model_path.string(), digest.error()));
  return attest::simulated_boot_manifest(*digest);
}

Result<attest::ImageManifest> node_image_manifest(const ServiceConfig& config) {
  auto boot = node_boot_manifest(config);
  if (!boot) return std::unexpected(boot.error());
  return attest::image_manifest_for(config.image_id, *boot);
}

Result<pb::SignedEvidenceList> BootedNode::refresh_evidence(int64_t now) {
  return node.attest(device, simulated_root, now);
}

Result<std::unique_ptr<BootedNode>> boot_node(const ServiceConfig& config, int64_t now) {
  auto manifest = node_boot_manifest(config);
  if (!manifest) return std::unexpected(manifest.error());
  auto root = load_or_create_simulated_root(config.simulated_root);
  if (!root) return std::unexpected(wrap_error("simulated_root " + config.simulated_root.string(), root.error()));

  tpm::ComputeBootConfig boot;
  boot.manifest = std::move(*manifest);
  boot.simulated_root = &*root;
  if (config.image_manifest_bundle) {
    auto bundle = services::read_public_file(*config.image_manifest_bundle);
    if (!bundle) {
      return std::unexpected(
          wrap_error("image_manifest_bundle " + config.image_manifest_bundle->string(), bundle.error()));
    }
    boot.image_manifest_bundle = to_bytes(*bundle);
  }

  auto tcti = tpm::TctiConfig::parse(config.tpm);
  if (!tcti) return std::unexpected(wrap_error("tpm", tcti.error()));
  auto device = tpm::TpmDevice::open(*tcti);
  if (!device) return std::unexpected(wrap_error("tpm " + tcti->to_string(), device.error()));
  if (auto s = device->startup(); !s) return std::unexpected(wrap_error("tpm startup", s.error()));
  auto node = tpm::boot_compute_node(*device, boot, now);
  if (!node) return std::unexpected(node.error());  // names the step; kConflict says to restart the TPM
  return std::make_unique<BootedNode>(BootedNode{std::move(*device), std::move(*root), std::move(*node)});
}

}  // namespace openpcc::computenode
