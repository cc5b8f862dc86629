// The committed TPM fixtures (tests/data/tpm, made by make_fixtures.sh on swtpm with tpm2-tools) and the fixed boot
// manifest whose event log they were made from.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "attest/boot_manifest.h"
#include "attest/pcr.h"
#include "common/bytes.h"
#include "crypto/sha256.h"
#include "support/txtar.h"

namespace openpcc::attest::testing {

inline std::filesystem::path tpm_fixture_path(const std::string& name) {
  return std::filesystem::path(OPENPCC_TEST_DATA_DIR) / "tpm" / name;
}

inline Bytes tpm_fixture(const std::string& name) {
  return test_support::read_binary_file(tpm_fixture_path(name)).value_or(Bytes{});
}

inline Bytes sha256_bytes(std::string_view s) {
  auto d = crypto::sha256(as_bytes(s));
  return Bytes(d.begin(), d.end());
}

// UEFI_GPT_DATA: a 92-byte GPT header ("EFI PART", revision 1.0, header size 92, the rest zero) and no partitions.
inline Bytes fixture_gpt_data() {
  Bytes gpt = to_bytes("EFI PART");
  const uint8_t revision_and_size[] = {0x00, 0x00, 0x01, 0x00, 92, 0, 0, 0};
  append(gpt, revision_and_size);
  gpt.resize(92, 0);
  gpt.resize(92 + 8, 0);  // NumberOfPartitions = 0
  return gpt;
}

// The boot whose event log make_fixtures.sh replays into swtpm (boot_eventlog.bin, boot_pcr_extends.txt).
inline BootManifest fixture_boot_manifest() {
  BootManifest m;
  m.firmware_version = "OpenPCC simulated firmware 1.0";
  m.bootloader_digest = sha256_bytes("openpcc test bootloader");
  m.gpt_header = fixture_gpt_data();
  m.secure_boot = true;
  m.kernel_cmdline = "console=ttyS0 ro root=/dev/mapper/verity-root confsec.root=" + to_hex(sha256_bytes("root"));
  m.model_digest = sha256_bytes("openpcc test model");
  return m;
}

// The sha256 bank of tpm2_eventlog's YAML "pcrs:" section ("    12 : 0x…").
inline std::optional<PcrValues> tpm2_eventlog_sha256_pcrs(const std::string& yaml) {
  std::istringstream in(yaml);
  std::string line;
  bool in_pcrs = false, in_sha256 = false;
  PcrValues out;
  while (std::getline(in, line)) {
    if (line == "pcrs:") {
      in_pcrs = true;
      continue;
    }
    if (!in_pcrs) continue;
    if (line.starts_with("  ") && !line.starts_with("   ")) {
      in_sha256 = line == "  sha256:";
      continue;
    }
    if (!in_sha256) continue;
    const size_t colon = line.find(':');
    const size_t hex = line.find("0x");
    if (colon == std::string::npos || hex == std::string::npos) return std::nullopt;
    const uint32_t index = static_cast<uint32_t>(std::stoul(line.substr(0, colon)));
    auto value = from_hex(line.substr(hex + 2));
    if (!value) return std::nullopt;
    out[index] = *value;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// PCR values in the order of kAttestedPcrs, as tpm2_pcrread -o / tpm2_quote -F values write them.
inline std::optional<PcrValues> attested_pcr_values(ByteSpan concatenated) {
  if (concatenated.size() != kAttestedPcrs.size() * kPcrSize) return std::nullopt;
  PcrValues out;
  for (size_t i = 0; i < kAttestedPcrs.size(); ++i) {
    auto v = concatenated.subspan(i * kPcrSize, kPcrSize);
    out[kAttestedPcrs[i]] = Bytes(v.begin(), v.end());
  }
  return out;
}

}  // namespace openpcc::attest::testing
