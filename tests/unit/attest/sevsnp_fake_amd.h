// A synthetic AMD key-distribution chain for tests: an ARK and ASK (RSA, RSASSA-PSS SHA-384 signatures, like
// AMD's), a VCEK (P-384) carrying the KDS extensions (productName, SPLs, hwID), a CRL signed by the ARK, and a
// signer for SEV-SNP reports. Lets tests reach the checks the one real report cannot: a revoked ASK, a VCEK whose
// TCB or chip id disagrees with the report, a correctly signed report with the debug bit set, and so on.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "attest/sevsnp_report.h"
#include "attest/sevsnp_verify.h"
#include "common/bytes.h"
#include "crypto/ecdsa.h"
#include "crypto/x509.h"

namespace openpcc::attest::testing {

inline constexpr crypto::UnixTime kFakeNotBefore{std::chrono::sys_days{std::chrono::year{2024} / 1 / 1}};
inline constexpr crypto::UnixTime kFakeNotAfter{std::chrono::sys_days{std::chrono::year{2034} / 1 / 1}};
// Inside every validity window of the fake chain and its CRL.
inline constexpr crypto::UnixTime kFakeNow{std::chrono::sys_days{std::chrono::year{2026} / 6 / 1}};

struct FakeVcekOptions {
  std::string product_name = "Genoa";
  TcbVersion tcb = TcbVersion::from_spls(10, 0, 23, 84);
  Bytes hardware_id = Bytes(64, 0xC7);
  long serial = 0;
};

struct FakeCrlOptions {
  std::vector<long> revoked_serials;
  crypto::UnixTime this_update = kFakeNotBefore;
  std::optional<crypto::UnixTime> next_update = kFakeNotAfter;
  bool sign_with_other_key = false;  // a CRL naming the ARK but signed by an unrelated key
};

// One ARK/ASK pair (RSA-2048 to keep tests fast; AMD uses RSA-4096) from which VCEKs and CRLs are minted.
class FakeAmdRoot {
 public:
  static FakeAmdRoot create(std::string product_name = "Genoa", long ask_serial = 0x020002);

  const crypto::Certificate& ark() const { return ark_; }
  const crypto::Certificate& ask() const { return ask_; }
  AmdRootCertificates as_trusted_root(AmdProduct product) const { return {product, ark_, ask_}; }

  struct Vcek {
    crypto::Certificate cert;
    crypto::EcdsaPrivateKey key;
  };
  Vcek issue_vcek(const FakeVcekOptions& options = {}) const;
  crypto::CertificateRevocationList issue_crl(const FakeCrlOptions& options = {}) const;

  ~FakeAmdRoot();
  FakeAmdRoot(FakeAmdRoot&&) noexcept;

 private:
  struct Keys;
  FakeAmdRoot(std::unique_ptr<Keys> keys, crypto::Certificate ark, crypto::Certificate ask, std::string product);
  std::unique_ptr<Keys> keys_;
  crypto::Certificate ark_;
  crypto::Certificate ask_;
  std::string product_;
};

// A certificate naming `issuer`'s subject as its issuer, with this serial, signed by a throwaway key: for revocation
// lookups, which only look at names and serials.
crypto::Certificate fake_certificate_under(const crypto::Certificate& issuer, long serial);

// Writes `key`'s signature over report[0, 0x2A0) into the signature fields (R, S little-endian, 72 bytes each).
void sign_report(Bytes& report, const crypto::EcdsaPrivateKey& key);

// A plausible version-3 report for a fake VCEK: fields taken from `template_report` (1184 bytes), then REPORTED_TCB,
// CURRENT/COMMITTED/LAUNCH TCB and CHIP_ID made to match the VCEK options, then signed.
Bytes make_report(ByteSpan template_report, const FakeVcekOptions& vcek, const crypto::EcdsaPrivateKey& key);

// Little-endian field writers for tests that edit a report.
void put_le32(Bytes& b, size_t offset, uint32_t v);
void put_le64(Bytes& b, size_t offset, uint64_t v);

}  // namespace openpcc::attest::testing
