// The real SEV-SNP test data (tests/data/attestation, from the reference's testdata): an Azure HCL blob whose report
// verifies offline against the Genoa VCEK, AMD's Milan/Genoa chains and CRLs, and a raw GCE (Milan) report.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "attest/sevsnp_verify.h"
#include "common/bytes.h"
#include "crypto/x509.h"
#include "support/txtar.h"

namespace openpcc::attest::testing {

inline std::string attestation_path(const std::string& file) {
  return std::string(OPENPCC_TEST_DATA_DIR) + "/attestation/" + file;
}

// The body of one section of sev_certificates.txt (PEM text).
inline std::string sev_section(std::string_view section) {
  auto archive = test_support::read_file(attestation_path("sev_certificates.txt"));
  if (!archive) return {};
  return test_support::txtar_section(*archive, section).value_or("");
}

inline Bytes azure_hcl_blob() {
  return test_support::txtar_pem(attestation_path("azure_sevsnp_report.txt"), "test_azure_sevsnp_report.pem", "REPORT")
      .value_or(Bytes{});
}

inline Bytes azure_report() {
  Bytes blob = azure_hcl_blob();
  if (blob.size() < 32 + kSevSnpReportSize) return {};
  return Bytes(blob.begin() + 32, blob.begin() + 32 + kSevSnpReportSize);
}

inline Bytes gce_report() {
  return test_support::txtar_pem(attestation_path("gce_sevsnp_report.txt"), "test_gce_sevsnp_report.pem", "REPORT")
      .value_or(Bytes{});
}

inline std::string vcek_pem() { return sev_section("test_vcek.pem"); }

inline crypto::Certificate vcek() { return crypto::Certificate::from_pem(vcek_pem()).value(); }

// The chain sections hold two certificates; pick by subject common name.
inline crypto::Certificate chain_cert(std::string_view section, std::string_view cn) {
  auto certs = crypto::Certificate::parse_pem_bundle(sev_section(section)).value();
  for (const auto& c : certs) {
    if (c.subject().starts_with("CN=" + std::string(cn) + ",")) return c;
  }
  ADD_FAILURE() << "no " << cn << " in " << section;
  return certs.at(0);
}
inline crypto::Certificate genoa_ark() { return chain_cert("test_amd_sev_genoa_root_certs.pem", "ARK-Genoa"); }
inline crypto::Certificate genoa_ask() { return chain_cert("test_amd_sev_genoa_root_certs.pem", "SEV-Genoa"); }
inline crypto::Certificate milan_ark() { return chain_cert("test_amd_sev_milan_root_certs.pem", "ARK-Milan"); }
inline crypto::Certificate milan_ask() { return chain_cert("test_amd_sev_milan_root_certs.pem", "SEV-Milan"); }

inline crypto::CertificateRevocationList genoa_crl() {
  return crypto::CertificateRevocationList::from_pem(sev_section("test_amd_genoa_crl.pem")).value();
}
inline crypto::CertificateRevocationList milan_crl() {
  return crypto::CertificateRevocationList::from_pem(sev_section("test_amd_milan_crl.pem")).value();
}

// Inside every window of the Azure chain: VCEK from 2025-06-11, Genoa CRL 2024-10-23 to 2025-11-03.
inline constexpr crypto::UnixTime kAzureVerifyTime{std::chrono::sys_days{std::chrono::year{2025} / 8 / 1}};

// The policy under which the Azure report is fully valid: embedded roots, the real Genoa (and Milan) CRLs.
inline SevSnpPolicy azure_policy() {
  SevSnpPolicy policy;
  policy.crls = {genoa_crl(), milan_crl()};
  policy.verification_time = kAzureVerifyTime;
  return policy;
}

}  // namespace openpcc::attest::testing
