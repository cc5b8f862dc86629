// `openpcc compute-boot --tpm TCTI --model PATH --out-dir DIR`: measures a node boot into a fresh TPM (normally a
// swtpm), creates the node's keys and writes its attestation evidence, the image manifest a publisher would put in
// the transparency log, and a local trust policy that `openpcc verify` can use.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "attest/boot_manifest.h"
#include "attest/image_manifest.h"
#include "attest/simulated_tee.h"
#include "attest/tpm/compute_boot.h"
#include "attest/tpm/tcti.h"
#include "attest/tpm/tpm_device.h"
#include "cli/commands.h"
#include "services/common/key_files.h"
#include "services/computenode/node_boot.h"

namespace openpcc::cli {
namespace {

constexpr char kHelp[] =
    "Boot a compute node's measured state into a TPM and write its evidence, like the reference's compute_boot on a "
    "confidential VM. The TPM must be fresh (PCRs at zero): start a swtpm, e.g.\n"
    "  swtpm socket --tpm2 --tpmstate dir=/tmp/tpm --server type=tcp,port=2321 --ctrl type=tcp,port=2322 "
    "--flags not-need-init,startup-clear\n"
    "then run `openpcc compute-boot --tpm swtpm:port=2321 --model ./model --out-dir node`.\n\n"
    "What is measured: a simulated firmware, boot loader, GPT and secure-boot state, the kernel command line "
    "(carrying the dm-verity root) and, in PCR 12, the digest of the model files. No SEV-SNP/TDX exists here, so the "
    "TEE report is SIMULATED, signed by a local simulated hardware root (DIR/simulated-root.pem, generated if "
    "missing); the production verifier policy rejects it.\n\n"
    "Writes DIR/evidence.pb (SignedEvidenceList), DIR/image-manifest.json, DIR/simulated-root.pem(.pub) and "
    "DIR/trust-policy.json (accepts this simulated root and pins the manifest), so that\n"
    "  openpcc verify DIR/evidence.pb --policy DIR/trust-policy.json\n"
    "passes.";

struct ComputeBootOptions {
  std::string tpm;
  std::string model;
  std::string out_dir;
  std::string simulated_root;
  std::string image_id = "local-image";
  std::string firmware_version = "openpcc simulated firmware 1.0";
  std::string verity_root;
  std::string ak = "ecc";
  bool persist = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "openpcc compute-boot: error: %s\n", message.c_str());
  return 1;
}

int run_compute_boot(const ComputeBootOptions& opts) {
  const std::filesystem::path dir(opts.out_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir.string() + ": " + ec.message());

  auto model_digest = attest::model_digest_of_files(opts.model);
  if (!model_digest) return fail("model " + opts.model + ": " + model_digest.error().to_string());

  attest::SimulatedBootOptions boot_options;
  boot_options.firmware_version = opts.firmware_version;
  boot_options.verity_root = opts.verity_root;
  const attest::BootManifest manifest = attest::simulated_boot_manifest(*model_digest, boot_options);

  const std::filesystem::path root_path =
      opts.simulated_root.empty() ? dir / "simulated-root.pem" : std::filesystem::path(opts.simulated_root);
  bool created = false;
  auto root = computenode::load_or_create_simulated_root(root_path, &created);
  if (!root) return fail("simulated hardware root " + root_path.string() + ": " + root.error().to_string());

  auto tcti = tpm::TctiConfig::parse(opts.tpm);
  if (!tcti) return fail("--tpm: " + tcti.error().to_string());
  auto device = tpm::TpmDevice::open(*tcti);
  if (!device) return fail(device.error().to_string());
  if (auto s = device->startup(); !s) return fail(s.error().to_string());

  tpm::ComputeBootConfig config;
  config.manifest = manifest;
  config.simulated_root = &*root;
  config.persist_keys = opts.persist;
  config.ak_algorithm = opts.ak == "rsa" ? tpm::AkAlgorithm::kRsa2048 : tpm::AkAlgorithm::kEccP256;
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto node = tpm::boot_compute_node(*device, config, now);
  if (!node) return fail(node.error().to_string());

  std::string evidence;
  if (!node->evidence().SerializeToString(&evidence)) return fail("cannot serialize the evidence");
  const auto image = attest::image_manifest_for(opts.image_id, manifest);
  nlohmann::json policy = {{"accept_simulated_tee", true},
                           {"simulated_roots", {std::filesystem::absolute(services::public_key_path(root_path))}},
                           {"image_manifests", {"image-manifest.json"}}};
  for (const auto& [name, bytes] :
       {std::pair{"evidence.pb", evidence}, std::pair{"image-manifest.json", attest::to_json(image) + "\n"},
        std::pair{"trust-policy.json", policy.dump(2) + "\n"}}) {
    if (auto w = services::write_public_file_atomically(dir / name, as_bytes(bytes)); !w) {
      return fail(w.error().to_string());
    }
  }
  std::printf("measured boot into %s (PCRs 0-5, 7, 8, 12; model digest %s)\n", tcti->to_string().c_str(),
              to_hex(*model_digest).c_str());
  std::printf("REK (HPKE P-256): %s%s\n", to_hex(node->rek_public_key()).c_str(),
              opts.persist ? " (persistent at 0x81000002)" : " (transient: gone when this process exits)");
  std::printf("TEE: SIMULATED, root %s%s\n", services::public_key_path(root_path).c_str(),
              created ? " (new)" : "");
  std::printf("wrote %s/{evidence.pb, image-manifest.json, trust-policy.json}\n", dir.c_str());
  std::printf("verify with: openpcc verify %s --policy %s\n", (dir / "evidence.pb").c_str(),
              (dir / "trust-policy.json").c_str());
  return 0;
}

}  // namespace

void add_compute_boot_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ComputeBootOptions>();
  auto* cmd = app.add_subcommand("compute-boot", "Measure a node boot into a TPM and write its attestation evidence");
  cmd->footer(kHelp);
  cmd->add_option("--tpm", opts->tpm, "TPM to use: swtpm:host=H,port=P | mssim:host=H,port=P | device:/dev/tpmrm0")
      ->required();
  cmd->add_option("--model", opts->model, "Model file or directory whose digest goes into PCR 12")->required();
  cmd->add_option("--out-dir", opts->out_dir, "Directory for evidence.pb, image-manifest.json, trust-policy.json")
      ->required();
  cmd->add_option("--simulated-root", opts->simulated_root,
                  "Simulated hardware root key (PEM; default OUT_DIR/simulated-root.pem, generated if missing)");
  cmd->add_option("--image-id", opts->image_id, "Image id written into the image manifest")->default_val("local-image");
  cmd->add_option("--firmware-version", opts->firmware_version, "Firmware version string measured into PCR 0");
  cmd->add_option("--verity-root", opts->verity_root, "dm-verity root hash (hex) for the kernel command line");
  cmd->add_option("--ak", opts->ak, "Attestation key type")->check(CLI::IsMember({"ecc", "rsa"}))->default_val("ecc");
  cmd->add_flag("--persist", opts->persist, "Keep REK and AK at persistent handles 0x81000002 / 0x81000003");
  cmd->callback([opts, &exit_code] { exit_code = run_compute_boot(*opts); });
}

}  // namespace openpcc::cli
