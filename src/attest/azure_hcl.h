// The Azure confidential VM "HCL report": what the paravisor (HCL) of an Azure SEV-SNP CVM writes to the vTPM NV
// index 0x01400001 after the guest writes 64 bytes of user data to 0x01400002. All integers little-endian:
//
//   0     header: "HCLA" ‖ version u32 ‖ report_size u32 ‖ request_type u32 ‖ status u32 ‖ reserved[12]
//   32    the SEV-SNP ATTESTATION_REPORT, 1184 bytes (attest/sevsnp_report.h)
//   1216  runtime data header: data_size u32 ‖ version u32 ‖ report_type u32 (2 = SEV-SNP) ‖
//         hash_type u32 (1 = SHA-256) ‖ variable_data_size u32
//   1236  variable data: the runtime-data JSON, variable_data_size bytes
//
// report_size counts the header, the report and the runtime data (data_size = 20 + variable_data_size); the NV
// index pads the rest with zeros. The platform binds the JSON to the hardware report as
// REPORT_DATA = SHA-256(JSON) ‖ 32 zero bytes. The JSON carries the vTPM keys ("keys": HCLAkPub, HCLEkPub as RSA
// JWKs), the VM configuration and "user-data": the hex of the 64 bytes the guest wrote, through which a caller binds
// its own data (a TPM quote hash) to the report — compare it (the reference never does, openpcc-go §9.3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attest/sevsnp_report.h"
#include "attest/sevsnp_verify.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::attest {

inline constexpr size_t kAzureHclHeaderSize = 32;
inline constexpr size_t kAzureHclRuntimeHeaderSize = 20;
inline constexpr uint32_t kAzureHclReportTypeSevSnp = 2;
inline constexpr uint32_t kAzureHclHashTypeSha256 = 1;

// An RSA JWK from the runtime data's "keys".
struct AzureRuntimeKey {
  std::string kid;  // "HCLAkPub" (the vTPM attestation key), "HCLEkPub"
  std::string kty;  // "RSA"
  std::vector<std::string> key_ops;
  Bytes n;  // modulus, big-endian
  Bytes e;  // public exponent, big-endian
};

struct AzureHclReport {
  uint32_t header_version = 0;
  uint32_t report_size = 0;
  uint32_t request_type = 0;
  uint32_t status = 0;
  Bytes sevsnp_report;  // the raw 1184 bytes, for attest::verify_sevsnp_report
  SevSnpReport report;  // the same, parsed
  uint32_t runtime_data_version = 0;
  uint32_t report_type = 0;
  uint32_t hash_type = 0;
  std::string runtime_json;  // exactly the bytes REPORT_DATA hashes
  std::vector<AzureRuntimeKey> keys;
  Bytes user_data;  // "user-data", hex-decoded
};

// Bounds-checked structural parse: magic, sizes consistent with the blob and each other, a parseable SEV-SNP report,
// report type SEV-SNP, hash type SHA-256, a JSON object with a hex "user-data" string and well-formed RSA "keys".
// It does not check the binding or any signature (verify_azure_hcl_report does).
Result<AzureHclReport> parse_azure_hcl_report(ByteSpan blob);

// SHA-256(runtime_json) ‖ 32 zero bytes: the REPORT_DATA the platform writes for that JSON.
Bytes azure_hcl_expected_report_data(std::string_view runtime_json);

struct AzureHclVerification {
  AzureHclReport hcl;
  // verify_sevsnp_report's checks with REPORT_DATA required to bind the runtime JSON (kReportData), then
  // kAzureUserData: the JSON's user-data equals `expected_user_data`.
  SevSnpVerification snp;
  bool valid() const { return snp.valid(); }
};

// Parses the blob (malformed → error) and verifies the embedded SEV-SNP report with `certs` and `policy`, its binding
// to the runtime JSON, and the JSON's user-data against `expected_user_data` (what the guest should have written:
// the caller's binding to, e.g., a TPM quote).
Result<AzureHclVerification> verify_azure_hcl_report(ByteSpan blob, const SevSnpCertificates& certs,
                                                     const SevSnpPolicy& policy, ByteSpan expected_user_data);

}  // namespace openpcc::attest
