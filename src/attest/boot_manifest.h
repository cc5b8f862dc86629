// What a compute node's boot measures, as data: the simulated (or expected) boot sequence of a node image, the
// event log it produces and the PCR values a quote of that boot must show.
//
// boot_events() emits, in this order, the events a UEFI PC Client boot through GRUB would log (TCG PC Client
// Platform Firmware Profile), each PCR value depending only on the manifest field named:
//   PCR 0  EV_S_CRTM_VERSION   UCS-2 firmware_version with terminator
//   PCR 0  EV_POST_CODE        "POST CODE"
//   PCR 7  EV_EFI_VARIABLE_DRIVER_CONFIG ×5  UEFI_VARIABLE_DATA of SecureBoot (one byte 0x01/0x00 from secure_boot),
//                              PK, KEK (EFI_GLOBAL_VARIABLE) and db, dbx (EFI_IMAGE_SECURITY_DATABASE), these empty
//   PCR 1  EV_PLATFORM_CONFIG_FLAGS  "openpcc platform configuration"
//   PCR 4  EV_EFI_ACTION       "Calling EFI Application from Boot Option"
//   PCR 0–7 EV_SEPARATOR       4 zero bytes each (ReadyToBoot; PCR 6 too, as firmware does)
//   PCR 5  EV_EFI_GPT_EVENT    gpt_header as given (the UEFI_GPT_DATA bytes)
//   PCR 4  EV_EFI_BOOT_SERVICES_APPLICATION  UEFI_IMAGE_LOAD_EVENT with no device path; digest = bootloader_digest
//   PCR 8  EV_IPL              "kernel_cmdline: <kernel_cmdline>\0"; digest = SHA-256(kernel_cmdline), as GRUB does
//   PCR 12 EV_IPL              "openpcc model digest\0"; digest = model_digest
// Every event's digest is SHA-256 of its data unless noted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "attest/pcr.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::attest {

struct BootManifest {
  std::string firmware_version;
  Bytes bootloader_digest;  // SHA-256 of the boot loader image (32 bytes)
  Bytes gpt_header;
  bool secure_boot = true;
  std::string kernel_cmdline;  // carries confsec.root=<dm-verity root hash, hex>
  Bytes model_digest;          // 32 bytes → PCR 12 (model_digest_of_files)
};

// kInvalidArgument unless bootloader_digest and model_digest are 32 bytes and every event fits the event log limits.
Status check_boot_manifest(const BootManifest& manifest);

struct MeasuredEvent {
  uint32_t pcr = 0, type = 0;
  Bytes digest;  // SHA-256
  Bytes data;
};

// Deterministic; every attested PCR gets at least one event. For a manifest that fails check_boot_manifest the
// events carry the digests as given (and EventLogWriter refuses them).
std::vector<MeasuredEvent> boot_events(const BootManifest& manifest);

// The crypto-agile event log of boot_events (locality 0). Fails like check_boot_manifest.
Result<Bytes> boot_event_log(const BootManifest& manifest);

// The SHA-256 bank values after boot_events, for each of kAttestedPcrs (= replay of boot_event_log).
PcrValues expected_pcrs(const BootManifest& manifest);

// What the simulated boot of `openpcc compute-boot` and `openpcc computenode` measures: a simulated firmware, boot
// loader and GPT with secure boot on, and the kernel command line "root=/dev/mapper/root ro confsec.root=<verity>".
// Both build their manifest here, so a node's evidence matches the image manifest a publisher derives from the
// same inputs.
struct SimulatedBootOptions {
  std::string firmware_version = "openpcc simulated firmware 1.0";
  std::string verity_root;  // hex dm-verity root hash; empty = SHA-256("openpcc simulated root filesystem")
};
BootManifest simulated_boot_manifest(ByteSpan model_digest, const SimulatedBootOptions& options = {});

// The model digest measured into PCR 12: SHA-256 over a canonical listing of every regular file under a directory
// (or of one file), so that the same model files give the same digest wherever they are stored:
//
//   digest  = SHA-256("openpcc/model-digest/v1\0" ‖ entry_1 ‖ … ‖ entry_n)
//   entry_i = u64be(len(path_i)) ‖ path_i ‖ u64be(size_i) ‖ SHA-256(content_i)
//
// path_i is the file's path relative to the directory with '/' separators (for a single file, its file name), and
// entries are sorted by path bytewise. Directories contribute only their files (empty ones nothing). kInvalidArgument
// for a symbolic link anywhere (including the argument itself), for other non-regular files, and for a directory
// without files; kIo when something cannot be read.
Result<Bytes> model_digest_of_files(const std::filesystem::path& dir_or_file);

}  // namespace openpcc::attest
