// SEV-SNP report and Azure HCL blob parsing (attest/sevsnp_report.h, attest/azure_hcl.h): never crashes on any bytes.
// Whatever parses as a report has the invariants the parser promises (size, version, algorithm, every reserved
// byte zero, R/S converted from little-endian) and is then run through full verification against the real Genoa
// VCEK with AMD's embedded chain: only a report whose signed part is the real Azure report's may verify (ECDSA allows
// another S for the same message, so the signed part, not the whole report, is what must match). Whatever parses as
// an HCL blob is consistent with its size fields and carries a parseable report.
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "attest/azure_hcl.h"
#include "attest/sevsnp_report.h"
#include "attest/sevsnp_verify.h"
#include "crypto/sha256.h"

using namespace openpcc;
using namespace openpcc::attest;

namespace {

// The Genoa VCEK that signed the Azure seed report (tests/data/attestation/sev_certificates.txt; public AMD data).
constexpr std::string_view kVcekPem = R"(-----BEGIN CERTIFICATE-----
MIIFPzCCAvOgAwIBAgIBADBBBgkqhkiG9w0BAQowNKAPMA0GCWCGSAFlAwQCAgUA
oRwwGgYJKoZIhvcNAQEIMA0GCWCGSAFlAwQCAgUAogMCATAwezEUMBIGA1UECwwL
RW5naW5lZXJpbmcxCzAJBgNVBAYTAlVTMRQwEgYDVQQHDAtTYW50YSBDbGFyYTEL
MAkGA1UECAwCQ0ExHzAdBgNVBAoMFkFkdmFuY2VkIE1pY3JvIERldmljZXMxEjAQ
BgNVBAMMCVNFVi1HZW5vYTAeFw0yNTA2MTExMjA3MzdaFw0zMjA2MTExMjA3Mzda
MHoxFDASBgNVBAsMC0VuZ2luZWVyaW5nMQswCQYDVQQGEwJVUzEUMBIGA1UEBwwL
U2FudGEgQ2xhcmExCzAJBgNVBAgMAkNBMR8wHQYDVQQKDBZBZHZhbmNlZCBNaWNy
byBEZXZpY2VzMREwDwYDVQQDDAhTRVYtVkNFSzB2MBAGByqGSM49AgEGBSuBBAAi
A2IABCLZ5XGgA4g23UhW3x6p3bz6+CvbwU3C73t7VJBDUcUI6IbgSETMjKbOISHk
i3wFCOPFqsnQwtk3VvHK2ua84VpzzSHq65We5njSoNQhg5eay49KVHCz2UY9pJma
eHXTLqOCARMwggEPMBAGCSsGAQQBnHgBAQQDAgEAMBQGCSsGAQQBnHgBAgQHFgVH
ZW5vYTARBgorBgEEAZx4AQMBBAMCAQowEQYKKwYBBAGceAEDAgQDAgEAMBEGCisG
AQQBnHgBAwQEAwIBADARBgorBgEEAZx4AQMFBAMCAQAwEQYKKwYBBAGceAEDBgQD
AgEAMBEGCisGAQQBnHgBAwcEAwIBADARBgorBgEEAZx4AQMDBAMCARcwEQYKKwYB
BAGceAEDCAQDAgFUME0GCSsGAQQBnHgBBARAxwkS2NIWvT9APpe9otR2kkuWJ1IR
kmOjyNup/EC638mQONI1Kq4iUgqQA7QmLhzDE20DW0LksCK0GW+VmBpFxjBBBgkq
hkiG9w0BAQowNKAPMA0GCWCGSAFlAwQCAgUAoRwwGgYJKoZIhvcNAQEIMA0GCWCG
SAFlAwQCAgUAogMCATADggIBAEgtwrlgOXXKowKDmuzyWA9eGlnG4DXGrGop9IQk
la+svcv41WtFi6qQS0RwyrqmmpyVtw5tDNIHMFW5H8iZQu5ntGsQ/PxxM6Erk/nt
eakzvNtPcQY/l0iowLmSxN8AJmWaiyaqDCEHIYhWC/LepboSznWHvZqqeFTNyVKV
YVC5FRuz0RP6sg2bhRmRBWkYqwNctD5Xtut710HAes8fZVqZdnN4wTowBUZ8gMQH
VQqlrpgBLoZgQOmb00WTqaelo2JnB4KoPb241h/q2Gzl2kr//2PG5yN3UPkT4R0p
MUazs8z+EedsRfUSik453hQN7gMBGhirjY7+06oL32LCauSJF8sQQBm2i9QHiQnz
S+MxzzKnDmLM5oAUiAi3mA/RRngNKE5LWIKsbVzYQwM0iQsuYypINmg+17tsO4QY
b13J84fjl3HvM6T4PsKv5ZbQejkM9nd+Z6tpLP71T7to4oF6RC3Cv7xUKMUpDE/g
IdN8bJS8NeveLP5P39/4u582Ft5L3kuBJd+Rrij9Cmh/GYf4T12oO3hHZsVZW8Hz
H4f/tF/UXsEJa5PIGTec+wLGtPzBtrzAojT/BMZoeN900F7TpxjUPnCPyAQEdJq7
f6LFqdNAXj/KwER2Qc+0UVCqvliBj7/L41qBR0+/sJqNAKFjfg85YCmdOxfSP7+6
8frU
-----END CERTIFICATE-----
)";

// SHA-256 of bytes [0, 0x2A0) of the Azure seed report.
constexpr std::string_view kRealSignedPartSha256 = "ece435449c2c4f27c5b7d0a3ba0d3e1688b483c52852452740e2e54cc3fa8e8d";

struct Fixture {
  SevSnpCertificates certs;
  SevSnpPolicy policy;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    auto certs = parse_sevsnp_certificates(as_bytes(kVcekPem));
    if (!certs) std::abort();
    SevSnpPolicy policy;
    policy.require_crl = false;  // no CRL in the fuzzer; every other check runs
    policy.verification_time = crypto::UnixTime(std::chrono::sys_days{std::chrono::year{2025} / 8 / 1});
    return Fixture{*certs, policy};
  }();
  return f;
}

bool all_zero(ByteSpan b, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

void check_report(ByteSpan bytes, const SevSnpReport& r) {
  if (bytes.size() != kSevSnpReportSize) std::abort();
  if (r.version < 2 || r.version > 5 || r.signature_algo != 1) std::abort();
  if (!all_zero(bytes, 0x4C, 0x50) || bytes[0x1EB] != 0 || bytes[0x1EF] != 0) std::abort();
  if (!all_zero(bytes, r.version >= 3 ? 0x18B : 0x188, 0x1A0)) std::abort();
  if (!all_zero(bytes, r.version >= 5 ? 0x208 : 0x1F8, kSevSnpSignedSize)) std::abort();
  if (!all_zero(bytes, 0x2D0, 0x2E8) || !all_zero(bytes, 0x318, kSevSnpReportSize)) std::abort();
  if (std::memcmp(r.report_data.data(), bytes.data() + kSevSnpReportDataOffset, 64) != 0) std::abort();
  if (std::memcmp(r.measurement.data(), bytes.data() + kSevSnpMeasurementOffset, 48) != 0) std::abort();
  for (size_t i = 0; i < 48; ++i) {
    if (r.signature_r[i] != bytes[kSevSnpSignatureOffset + 47 - i]) std::abort();
    if (r.signature_s[i] != bytes[kSevSnpSignatureOffset + 72 + 47 - i]) std::abort();
  }
  if (TcbVersion::from_raw(r.reported_tcb.raw) != r.reported_tcb) std::abort();

  auto v = verify_sevsnp_report(bytes, fixture().certs, fixture().policy);
  if (!v) std::abort();  // a parsed report is never malformed input
  if (v->valid() && to_hex(crypto::sha256(bytes.first(kSevSnpSignedSize))) != kRealSignedPartSha256) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan bytes(data, size);
  if (auto report = parse_sevsnp_report(bytes)) check_report(bytes, *report);

  if (auto hcl = parse_azure_hcl_report(bytes)) {
    if (hcl->report_size > size || hcl->runtime_json.size() + 1236 != hcl->report_size) std::abort();
    if (hcl->sevsnp_report.size() != kSevSnpReportSize ||
        std::memcmp(hcl->sevsnp_report.data(), data + kAzureHclHeaderSize, kSevSnpReportSize) != 0) {
      std::abort();
    }
    if (azure_hcl_expected_report_data(hcl->runtime_json).size() != 64) std::abort();
  }
  return 0;
}
