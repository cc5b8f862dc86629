// Verifying an AMD SEV-SNP attestation report against AMD's certificate chain and a policy, offline.
//
//   auto certs = attest::parse_sevsnp_certificates(vcek_der);            // ASK and ARK default to the embedded ones
//   attest::SevSnpPolicy policy;                                          // embedded Milan/Genoa roots, CRL required
//   policy.crls = {*CertificateRevocationList::parse(kds_crl)};           // from the evidence or a local cache
//   policy.minimum_tcb = attest::TcbVersion::from_spls(10, 0, 23, 84);
//   auto result = attest::verify_sevsnp_report(report, *certs, policy, expected_report_data);
//   if (!result) → malformed input;  if (!result->valid()) → result->first_failure() says which check refused.
//
// Unlike the reference verifier (openpcc-go §9.4), revocation is checked (a CRL signed by the ARK must be supplied
// unless the policy explicitly opts out), the TCB is bounded from below, and debug guests, migration agents and
// unexpected measurements are refused by policy.
//
// Every check runs that can, and each is recorded by name, so one run explains everything that is wrong. The result
// is acceptable only if valid(): the parsed report is returned either way (for diagnostics), but its contents mean
// nothing unless every check passed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attest/amd_roots.h"
#include "attest/sevsnp_report.h"
#include "common/bytes.h"
#include "common/error.h"
#include "crypto/x509.h"

namespace openpcc::attest {

// The checks, in the order they are recorded.
enum class SevSnpCheck {
  kVcekProduct,          // the VCEK's productName extension names a product the policy has a trusted root for
  kArkTrusted,           // the ARK (given, or the policy's) is the policy's trusted ARK for that product
  kArkSelfSigned,        // the ARK is a CA and signed itself
  kAskSignedByArk,       // the ASK is a CA issued and signed (RSASSA-PSS) by the ARK
  kVcekSignedByAsk,      // the VCEK is issued and signed (RSASSA-PSS) by the ASK
  kCertificateValidity,  // ARK, ASK and VCEK are within their validity at the verification time
  kCrl,                  // a CRL for the product is signed by the ARK and current at the verification time
  kNotRevoked,           // the ASK is not on the ARK's CRL (nor the VCEK on a CRL of the ASK, if one is given)
  kVcekTcb,              // the VCEK's SPL extensions equal the report's REPORTED_TCB
  kVcekChipId,           // the VCEK's hwID equals the report's CHIP_ID (passes with a note when CHIP_ID is masked)
  kSigningKey,           // the report says the VCEK signed it (SIGNING_KEY 0, MASK_CHIP_KEY 0)
  kReportSignature,      // ECDSA P-384 over SHA-384(report[0, 0x2A0)) verifies under the VCEK's key
  kReportData,           // REPORT_DATA equals the expected 64 bytes (passes with a note when none is expected)
  kMinimumTcb,           // CURRENT, COMMITTED and REPORTED TCB ≥ minimum_tcb, LAUNCH_TCB ≥ minimum_launch_tcb
  kMeasurement,          // MEASUREMENT is one of the allowed ones (passes with a note when the list is empty)
  kDebug,                // the guest policy does not allow debugging, unless the policy permits it
  kMigrationAgent,       // the guest policy does not allow a migration agent, unless the policy permits it
  kVmpl,                 // VMPL equals required_vmpl (when set)
  kGuestSvn,             // GUEST_SVN ≥ minimum_guest_svn
  kAzureUserData,        // Azure HCL only (attest/azure_hcl.h): the runtime data's user-data is the expected value
};

// Stable identifiers for logs and reports: "sevsnp.report_signature", "sevsnp.not_revoked", "azure.user_data", ...
std::string_view check_name(SevSnpCheck check);

struct SevSnpCheckResult {
  SevSnpCheck check;
  bool passed = false;
  std::string detail;  // why it failed, or a note on a pass that checked nothing ("no expected report data")
};

struct SevSnpVerification {
  SevSnpReport report;
  std::optional<AmdProduct> product;  // from the VCEK, when it names a known product
  std::vector<SevSnpCheckResult> checks;

  // Every check ran and passed.
  bool valid() const;
  // The first check that failed; nullptr when valid().
  const SevSnpCheckResult* first_failure() const;
  const SevSnpCheckResult* find(SevSnpCheck check) const;
  // {} when valid(), else kAuthenticationFailed "sevsnp: <check name>: <detail>" for the first failure.
  Status status() const;

  const std::array<uint8_t, 64>& report_data() const { return report.report_data; }
  const std::array<uint8_t, 48>& measurement() const { return report.measurement; }
};

struct SevSnpPolicy {
  // Roots by product; by default the embedded AMD Milan and Genoa ARK/ASK.
  std::vector<AmdRootCertificates> trusted_roots = embedded_amd_roots();
  // CRLs from AMD KDS (https://kdsintf.amd.com/vcek/v1/<product>/crl), supplied by the caller or the evidence. Only
  // those issued by the product's ARK are used; each such CRL must verify and be current.
  std::vector<crypto::CertificateRevocationList> crls;
  // Without a current ARK-signed CRL the chain is refused; turning this off skips revocation (the reference's
  // behaviour — say why if you do).
  bool require_crl = true;
  TcbVersion minimum_tcb;         // for CURRENT_TCB, COMMITTED_TCB and REPORTED_TCB, SPL by SPL
  TcbVersion minimum_launch_tcb;  // for LAUNCH_TCB
  // 48-byte launch measurements; empty = any.
  std::vector<Bytes> allowed_measurements;
  bool allow_debug = false;
  bool allow_migration_agent = false;
  std::optional<uint32_t> required_vmpl;
  uint32_t minimum_guest_svn = 0;
  // Certificates and CRLs are checked at this time; unset = the system clock.
  std::optional<crypto::UnixTime> verification_time;
};

// The certificates that vouch for one report. ASK and ARK may come with the evidence; absent, the policy's trusted
// ones for the VCEK's product are used. A given ARK must equal the trusted one.
struct SevSnpCertificates {
  crypto::Certificate vcek;
  std::optional<crypto::Certificate> ask;
  std::optional<crypto::Certificate> ark;
};

// Each input DER or PEM; kDecode if any does not parse as one certificate.
Result<SevSnpCertificates> parse_sevsnp_certificates(ByteSpan vcek, std::optional<ByteSpan> ask = std::nullopt,
                                                     std::optional<ByteSpan> ark = std::nullopt);

// What AMD writes into a VCEK (KDS VCEK certificate extensions, OIDs 1.3.6.1.4.1.3704.1.*).
struct VcekExtensions {
  std::string product_name;  // .1.2 productName (IA5String), e.g. "Genoa"
  TcbVersion tcb;            // .1.3.1 blSPL, .1.3.2 teeSPL, .1.3.3 snpSPL, .1.3.8 ucodeSPL, .1.3.4–7 reserved SPLs
  Bytes hardware_id;         // .1.4 hwID: the 64-byte CHIP_ID
};
// kDecode if an extension is missing (the reserved SPLs may be) or not the DER type and range AMD uses.
Result<VcekExtensions> read_vcek_extensions(const crypto::Certificate& vcek);

// The revocation step on its own (the kNotRevoked check): kUnauthenticated naming the certificate if the ASK is
// listed on one of `ark_crls` or the VCEK on one of `ask_crls`. The CRLs must already be verified; this only looks
// them up.
Status check_not_revoked(const crypto::Certificate& ask, const crypto::Certificate& vcek,
                         std::span<const crypto::CertificateRevocationList> ark_crls,
                         std::span<const crypto::CertificateRevocationList> ask_crls);

// Malformed input (a report that does not parse, expected_report_data not 64 bytes) is an error; everything else is
// a SevSnpVerification whose checks say what passed.
Result<SevSnpVerification> verify_sevsnp_report(ByteSpan report, const SevSnpCertificates& certs,
                                                const SevSnpPolicy& policy,
                                                std::optional<ByteSpan> expected_report_data = std::nullopt);

}  // namespace openpcc::attest
