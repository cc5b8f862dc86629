// The SIMULATED TEE report: what a machine without SEV-SNP/TDX presents in place of a hardware TEE report, so that
// the whole evidence chain (TEE report → AK → quote → REK) runs end to end on a laptop or a CI box.
//
// It is shaped like an SEV-SNP report (a launch measurement, 64 bytes of report_data, a chip id, a TCB version) and
// signed with ECDSA P-384 by a "simulated hardware root" key that the local stack generates and keeps in its data
// directory. Nothing about it is hardware-backed: anyone with the root key can mint reports. It is therefore named
// "simulated" on the wire (evidence type SIMULATED_TEE_REPORT), in every log line and report, and the production
// verifier policy rejects it; only a policy that lists the simulated root's public key and opts in accepts it.
//
// Wire form (all integers big-endian), 356 bytes:
//   magic[32]          "openpcc SIMULATED tee report v1" followed by one zero byte
//   version u32        1
//   measurement[48]    SHA-384 of what the simulated firmware "launched" (simulated_launch_measurement)
//   host_data[32]      opaque data chosen by the host (zero if unused)
//   report_data[64]    chosen by the guest: binds the report to a TPM quote (attest/quote_binding.h)
//   chip_id[64]        SHA-512 of the root's uncompressed public point: which simulated "chip" signed
//   reported_tcb u64   a TCB version number the verifier may bound from below
//   issued_at i64      Unix seconds when the report was made
//   signature[96]      ECDSA P-384 r ‖ s (48 bytes each) over SHA-384 of the 260 bytes above
// In a SignedEvidencePiece, data = the first 260 bytes and signature = the last 96.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/ecdsa.h"

namespace openpcc::attest {

inline constexpr size_t kSimulatedTeeBodySize = 260;
inline constexpr size_t kSimulatedTeeSignatureSize = 96;

struct SimulatedTeeReport {
  uint32_t version = 1;
  std::array<uint8_t, 48> measurement{};
  std::array<uint8_t, 32> host_data{};
  std::array<uint8_t, 64> report_data{};
  std::array<uint8_t, 64> chip_id{};
  uint64_t reported_tcb = 0;
  int64_t issued_at = 0;
};

// The 260-byte body.
Bytes encode_simulated_tee_report(const SimulatedTeeReport& report);
// Exactly 260 bytes with the right magic and version 1; anything else is kDecode.
Result<SimulatedTeeReport> parse_simulated_tee_report(ByteSpan body);

// The measurement a simulated launch of `what` (e.g. the firmware version and bootloader digest of a boot manifest)
// reports: SHA-384("openpcc simulated launch\0" ‖ what).
std::array<uint8_t, 48> simulated_launch_measurement(ByteSpan what);

// The locally generated key that plays the hardware vendor's root. Move-only.
class SimulatedHardwareRoot {
 public:
  static Result<SimulatedHardwareRoot> generate();
  static Result<SimulatedHardwareRoot> from_pem(std::string_view private_key_pem);
  Result<std::string> to_pem() const;  // holds the secret: wipe after use

  const crypto::EcdsaPublicKey& public_key() const { return key_.public_key(); }
  // SHA-512 of the public point: the chip id reports signed by this root carry.
  std::array<uint8_t, 64> chip_id() const;

  struct Signed {
    Bytes body;       // 260 bytes
    Bytes signature;  // 96 bytes
  };
  // Fills in chip_id from this root and signs.
  Result<Signed> sign(SimulatedTeeReport report) const;

 private:
  explicit SimulatedHardwareRoot(crypto::EcdsaPrivateKey key) : key_(std::move(key)) {}
  crypto::EcdsaPrivateKey key_;
};

// Parses `body` and checks `signature` with `root` and that the chip id is the root's: kAuthenticationFailed for a
// bad signature or a chip id of another root, kDecode for a malformed report.
Result<SimulatedTeeReport> verify_simulated_tee_report(ByteSpan body, ByteSpan signature,
                                                       const crypto::EcdsaPublicKey& root);

}  // namespace openpcc::attest
