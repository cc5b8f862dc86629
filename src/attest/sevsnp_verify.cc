#include "attest/sevsnp_verify.h"

#include <algorithm>
#include <chrono>

#include "common/secure.h"
#include "crypto/ecdsa.h"

namespace openpcc::attest {
namespace {

using crypto::Certificate;
using crypto::CertificateRevocationList;

constexpr std::string_view kOidProductName = "1.3.6.1.4.1.3704.1.2";
constexpr std::string_view kOidHardwareId = "1.3.6.1.4.1.3704.1.4";
constexpr size_t kChipIdSize = 64;

// The TCB_VERSION byte each SPL extension 1.3.6.1.4.1.3704.1.3.<n> fills (Milan/Genoa layout: .1 boot loader → 0,
// .2 TEE → 1, .4–.7 reserved → 2..5, .3 SNP → 6, .8 microcode → 7).
struct SplExtension {
  int arc;
  int tcb_byte;
  bool required;
};
constexpr SplExtension kSplExtensions[] = {
    {1, 0, true}, {2, 1, true}, {4, 2, false}, {5, 3, false}, {6, 4, false}, {7, 5, false}, {3, 6, true}, {8, 7, true},
};

class Recorder {
 public:
  explicit Recorder(std::vector<SevSnpCheckResult>& out) : out_(out) {}
  void pass(SevSnpCheck check, std::string note = {}) { out_.push_back({check, true, std::move(note)}); }
  void fail(SevSnpCheck check, std::string why) { out_.push_back({check, false, std::move(why)}); }
  void record(SevSnpCheck check, const Status& status) {
    if (status) {
      pass(check);
    } else {
      fail(check, status.error().message);
    }
  }

 private:
  std::vector<SevSnpCheckResult>& out_;
};

std::string first_bytes_hex(ByteSpan b) { return to_hex(b.first(std::min<size_t>(b.size(), 8))) + "…"; }

const AmdRootCertificates* find_root(const SevSnpPolicy& policy, AmdProduct product) {
  for (const auto& root : policy.trusted_roots) {
    if (root.product == product) return &root;
  }
  return nullptr;
}

Status check_validity(const Certificate& cert, std::string_view role, crypto::UnixTime time) {
  if (auto ok = cert.check_valid_at(time); !ok) {
    return make_error(ok.error().code, std::string(role) + ": " + ok.error().message);
  }
  if (cert.has_unknown_critical_extension()) {
    return make_error(ErrorCode::kUnauthenticated, std::string(role) + " has an unknown critical extension");
  }
  return {};
}

Status check_tcb_minimum(const TcbVersion& seen, const TcbVersion& minimum, std::string_view name) {
  if (seen.at_least(minimum)) return {};
  return make_error(ErrorCode::kAuthenticationFailed,
                    std::string(name) + " " + seen.to_string() + " is below the minimum " + minimum.to_string());
}

// The VCEK's P-384 key, taken from the already decoded certificate (re-importing its SPKI DER through OpenSSL's
// decoders costs more than the rest of the chain's glue together).
Result<crypto::EcdsaPublicKey> vcek_public_key(const Certificate& vcek) {
  auto key = vcek.ec_public_key();
  if (!key) return std::unexpected(key.error());
  if (key->curve != "secp384r1") return make_error(ErrorCode::kUnsupported, "not P-384 but " + key->curve);
  return crypto::EcdsaPublicKey::from_point(crypto::EcCurve::kP384, key->point);
}

// The CRLs of `issuer` among `crls` that verify and are current. A CRL naming the issuer that fails either check is
// an error: it is never silently skipped.
Result<std::vector<CertificateRevocationList>> verified_crls_of(const Certificate& issuer,
                                                                std::span<const CertificateRevocationList> crls,
                                                                crypto::UnixTime time) {
  std::vector<CertificateRevocationList> out;
  for (const auto& crl : crls) {
    if (crl.issuer() != issuer.subject()) continue;
    if (auto ok = crl.verify_signed_by(issuer); !ok) return std::unexpected(ok.error());
    if (auto ok = crl.check_current_at(time); !ok) return std::unexpected(ok.error());
    out.push_back(crl);
  }
  return out;
}

}  // namespace

std::string_view check_name(SevSnpCheck check) {
  switch (check) {
    case SevSnpCheck::kVcekProduct:
      return "sevsnp.vcek_product";
    case SevSnpCheck::kArkTrusted:
      return "sevsnp.ark_trusted";
    case SevSnpCheck::kArkSelfSigned:
      return "sevsnp.ark_self_signed";
    case SevSnpCheck::kAskSignedByArk:
      return "sevsnp.ask_signed_by_ark";
    case SevSnpCheck::kVcekSignedByAsk:
      return "sevsnp.vcek_signed_by_ask";
    case SevSnpCheck::kCertificateValidity:
      return "sevsnp.certificate_validity";
    case SevSnpCheck::kCrl:
      return "sevsnp.crl";
    case SevSnpCheck::kNotRevoked:
      return "sevsnp.not_revoked";
    case SevSnpCheck::kVcekTcb:
      return "sevsnp.vcek_tcb";
    case SevSnpCheck::kVcekChipId:
      return "sevsnp.vcek_chip_id";
    case SevSnpCheck::kSigningKey:
      return "sevsnp.signing_key";
    case SevSnpCheck::kReportSignature:
      return "sevsnp.report_signature";
    case SevSnpCheck::kReportData:
      return "sevsnp.report_data";
    case SevSnpCheck::kMinimumTcb:
      return "sevsnp.minimum_tcb";
    case SevSnpCheck::kMeasurement:
      return "sevsnp.measurement";
    case SevSnpCheck::kDebug:
      return "sevsnp.debug";
    case SevSnpCheck::kMigrationAgent:
      return "sevsnp.migration_agent";
    case SevSnpCheck::kVmpl:
      return "sevsnp.vmpl";
    case SevSnpCheck::kGuestSvn:
      return "sevsnp.guest_svn";
    case SevSnpCheck::kAzureUserData:
      return "azure.user_data";
  }
  return "sevsnp.unknown";
}

bool SevSnpVerification::valid() const {
  return !checks.empty() && std::all_of(checks.begin(), checks.end(), [](const auto& c) { return c.passed; });
}

const SevSnpCheckResult* SevSnpVerification::first_failure() const {
  for (const auto& c : checks) {
    if (!c.passed) return &c;
  }
  return nullptr;
}

const SevSnpCheckResult* SevSnpVerification::find(SevSnpCheck check) const {
  for (const auto& c : checks) {
    if (c.check == check) return &c;
  }
  return nullptr;
}

Status SevSnpVerification::status() const {
  if (valid()) return {};
  const SevSnpCheckResult* failure = first_failure();
  if (failure == nullptr) return make_error(ErrorCode::kAuthenticationFailed, "sevsnp: no checks ran");
  return make_error(ErrorCode::kAuthenticationFailed,
                    "sevsnp: " + std::string(check_name(failure->check)) + ": " + failure->detail);
}

Result<SevSnpCertificates> parse_sevsnp_certificates(ByteSpan vcek, std::optional<ByteSpan> ask,
                                                     std::optional<ByteSpan> ark) {
  auto vcek_cert = Certificate::parse(vcek);
  if (!vcek_cert) return std::unexpected(wrap_error("sevsnp: VCEK", vcek_cert.error()));
  SevSnpCertificates certs{*vcek_cert, std::nullopt, std::nullopt};
  if (ask) {
    auto cert = Certificate::parse(*ask);
    if (!cert) return std::unexpected(wrap_error("sevsnp: ASK", cert.error()));
    certs.ask = *cert;
  }
  if (ark) {
    auto cert = Certificate::parse(*ark);
    if (!cert) return std::unexpected(wrap_error("sevsnp: ARK", cert.error()));
    certs.ark = *cert;
  }
  return certs;
}

Result<VcekExtensions> read_vcek_extensions(const Certificate& vcek) {
  VcekExtensions out;
  auto product = vcek.extension(kOidProductName);
  if (!product) return std::unexpected(product.error());
  if (!*product) return make_error(ErrorCode::kDecode, "vcek: no productName extension");
  auto name = crypto::decode_der_ia5_string(**product);
  if (!name) return std::unexpected(wrap_error("vcek: productName", name.error()));
  out.product_name = *name;

  uint64_t raw_tcb = 0;
  for (const auto& spl : kSplExtensions) {
    const std::string oid = "1.3.6.1.4.1.3704.1.3." + std::to_string(spl.arc);
    auto value = vcek.extension(oid);
    if (!value) return std::unexpected(value.error());
    if (!*value) {
      if (spl.required) return make_error(ErrorCode::kDecode, "vcek: no SPL extension " + oid);
      continue;
    }
    auto level = crypto::decode_der_integer(**value);
    if (!level) return std::unexpected(wrap_error("vcek: SPL " + oid, level.error()));
    if (*level < 0 || *level > 255) {
      return make_error(ErrorCode::kDecode, "vcek: SPL " + oid + " = " + std::to_string(*level) + " is not a byte");
    }
    raw_tcb |= static_cast<uint64_t>(*level) << (8 * spl.tcb_byte);
  }
  out.tcb = TcbVersion::from_raw(raw_tcb);

  auto hwid = vcek.extension(kOidHardwareId);
  if (!hwid) return std::unexpected(hwid.error());
  if (!*hwid) return make_error(ErrorCode::kDecode, "vcek: no hwID extension");
  // KDS puts the 64 raw bytes directly in extnValue (no inner OCTET STRING).
  if ((*hwid)->size() != kChipIdSize) {
    return make_error(ErrorCode::kDecode, "vcek: hwID is " + std::to_string((*hwid)->size()) + " bytes, not 64");
  }
  out.hardware_id = std::move(**hwid);
  return out;
}

Status check_not_revoked(const Certificate& ask, const Certificate& vcek,
                         std::span<const CertificateRevocationList> ark_crls,
                         std::span<const CertificateRevocationList> ask_crls) {
  for (const auto& crl : ark_crls) {
    if (crl.is_revoked(ask)) {
      return make_error(ErrorCode::kUnauthenticated,
                        "ASK \"" + ask.subject() + "\" serial " + to_hex(ask.serial_number()) + " is revoked");
    }
  }
  for (const auto& crl : ask_crls) {
    if (crl.is_revoked(vcek)) {
      return make_error(ErrorCode::kUnauthenticated, "VCEK serial " + to_hex(vcek.serial_number()) + " is revoked");
    }
  }
  return {};
}

Result<SevSnpVerification> verify_sevsnp_report(ByteSpan report_bytes, const SevSnpCertificates& certs,
                                                const SevSnpPolicy& policy,
                                                std::optional<ByteSpan> expected_report_data) {
  auto report = parse_sevsnp_report(report_bytes);
  if (!report) return std::unexpected(report.error());
  if (expected_report_data && expected_report_data->size() != 64) {
    return make_error(ErrorCode::kInvalidArgument, "sevsnp: expected report data must be 64 bytes, got " +
                                                       std::to_string(expected_report_data->size()));
  }
  const crypto::UnixTime now =
      policy.verification_time.value_or(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));

  SevSnpVerification result;
  result.report = *report;
  Recorder rec(result.checks);
  const SevSnpReport& r = result.report;

  // --- The chain: which product, which root, who signed whom. ---
  auto ext = read_vcek_extensions(certs.vcek);
  const AmdRootCertificates* root = nullptr;
  if (!ext) {
    rec.fail(SevSnpCheck::kVcekProduct, ext.error().message);
  } else if (auto product = amd_product_from_name(ext->product_name); !product) {
    rec.fail(SevSnpCheck::kVcekProduct, "unknown product \"" + ext->product_name + "\"");
  } else if (root = find_root(policy, *product); root == nullptr) {
    rec.fail(SevSnpCheck::kVcekProduct, "no trusted root for " + std::string(to_string(*product)));
  } else {
    result.product = *product;
    rec.pass(SevSnpCheck::kVcekProduct);
  }

  const Certificate* ark = certs.ark ? &*certs.ark : root ? &root->ark : nullptr;
  const Certificate* ask = certs.ask ? &*certs.ask : root ? &root->ask : nullptr;
  if (root == nullptr) {
    rec.fail(SevSnpCheck::kArkTrusted, "no trusted root to compare with");
  } else if (*ark != root->ark) {
    rec.fail(SevSnpCheck::kArkTrusted, "ARK \"" + ark->subject() + "\" is not the trusted " +
                                           std::string(to_string(root->product)) + " root");
  } else {
    rec.pass(SevSnpCheck::kArkTrusted);
  }

  if (ark == nullptr) {
    rec.fail(SevSnpCheck::kArkSelfSigned, "no ARK");
  } else {
    rec.record(SevSnpCheck::kArkSelfSigned, ark->verify_issued_by(*ark));
  }
  if (ark == nullptr || ask == nullptr) {
    rec.fail(SevSnpCheck::kAskSignedByArk, "no ARK/ASK");
  } else {
    rec.record(SevSnpCheck::kAskSignedByArk, ask->verify_issued_by(*ark));
  }
  if (ask == nullptr) {
    rec.fail(SevSnpCheck::kVcekSignedByAsk, "no ASK");
  } else {
    rec.record(SevSnpCheck::kVcekSignedByAsk, certs.vcek.verify_issued_by(*ask));
  }

  {
    Status validity = check_validity(certs.vcek, "VCEK", now);
    if (validity && ask) validity = check_validity(*ask, "ASK", now);
    if (validity && ark) validity = check_validity(*ark, "ARK", now);
    rec.record(SevSnpCheck::kCertificateValidity, validity);
  }

  // --- Revocation. ---
  std::optional<std::vector<CertificateRevocationList>> ark_crls;
  if (ark == nullptr) {
    rec.fail(SevSnpCheck::kCrl, "no ARK");
  } else if (auto crls = verified_crls_of(*ark, policy.crls, now); !crls) {
    rec.fail(SevSnpCheck::kCrl, crls.error().message);
  } else if (crls->empty() && policy.require_crl) {
    rec.fail(SevSnpCheck::kCrl, "no CRL issued by \"" + ark->subject() + "\" was supplied");
  } else {
    ark_crls = std::move(*crls);
    rec.pass(SevSnpCheck::kCrl, ark_crls->empty() ? "revocation not checked (policy.require_crl = false)" : "");
  }
  if (!ark_crls || ask == nullptr) {
    rec.fail(SevSnpCheck::kNotRevoked, "no verified CRL to look the ASK up in");
  } else if (auto ask_crls = verified_crls_of(*ask, policy.crls, now); !ask_crls) {
    rec.fail(SevSnpCheck::kNotRevoked, ask_crls.error().message);
  } else {
    rec.record(SevSnpCheck::kNotRevoked, check_not_revoked(*ask, certs.vcek, *ark_crls, *ask_crls));
  }

  // --- The VCEK speaks for this chip at this TCB. ---
  if (!ext) {
    rec.fail(SevSnpCheck::kVcekTcb, ext.error().message);
    rec.fail(SevSnpCheck::kVcekChipId, ext.error().message);
  } else {
    if (ext->tcb == r.reported_tcb) {
      rec.pass(SevSnpCheck::kVcekTcb);
    } else {
      rec.fail(SevSnpCheck::kVcekTcb, "VCEK is for TCB " + ext->tcb.to_string() + " (raw " +
                                          to_hex(i2osp(ext->tcb.raw, 8)) + "), report has REPORTED_TCB " +
                                          r.reported_tcb.to_string() + " (raw " + to_hex(i2osp(r.reported_tcb.raw, 8)) +
                                          ")");
    }
    if (r.chip_id_masked()) {
      rec.pass(SevSnpCheck::kVcekChipId, "CHIP_ID is masked; the VCEK's hwID is not compared");
    } else if (ext->hardware_id == Bytes(r.chip_id.begin(), r.chip_id.end())) {
      rec.pass(SevSnpCheck::kVcekChipId);
    } else {
      rec.fail(SevSnpCheck::kVcekChipId, "VCEK hwID " + first_bytes_hex(ext->hardware_id) + " != CHIP_ID " +
                                             first_bytes_hex(r.chip_id));
    }
  }

  // --- The report itself. ---
  if (r.signing_key != kSevSnpSigningKeyVcek) {
    rec.fail(SevSnpCheck::kSigningKey, "SIGNING_KEY is " + std::to_string(r.signing_key) + ", not the VCEK (0)");
  } else if (r.mask_chip_key) {
    rec.fail(SevSnpCheck::kSigningKey, "MASK_CHIP_KEY is set: the report is not signed by the VCEK");
  } else {
    rec.pass(SevSnpCheck::kSigningKey);
  }

  {
    Status signature;
    auto key = vcek_public_key(certs.vcek);
    if (!key) {
      signature = make_error(ErrorCode::kAuthenticationFailed, "VCEK key: " + key.error().message);
    } else if (auto ok = key->verify(report_bytes.first(kSevSnpSignedSize), r.signature_r, r.signature_s); !ok) {
      signature = make_error(ErrorCode::kAuthenticationFailed, "signature does not verify under the VCEK");
    }
    rec.record(SevSnpCheck::kReportSignature, signature);
  }

  if (!expected_report_data) {
    rec.pass(SevSnpCheck::kReportData, "no expected report data given");
  } else if (ct_equal(*expected_report_data, r.report_data)) {
    rec.pass(SevSnpCheck::kReportData);
  } else {
    rec.fail(SevSnpCheck::kReportData, "REPORT_DATA " + first_bytes_hex(r.report_data) + " != expected " +
                                           first_bytes_hex(*expected_report_data));
  }

  {
    Status tcb = check_tcb_minimum(r.current_tcb, policy.minimum_tcb, "CURRENT_TCB");
    if (tcb) tcb = check_tcb_minimum(r.committed_tcb, policy.minimum_tcb, "COMMITTED_TCB");
    if (tcb) tcb = check_tcb_minimum(r.reported_tcb, policy.minimum_tcb, "REPORTED_TCB");
    if (tcb) tcb = check_tcb_minimum(r.launch_tcb, policy.minimum_launch_tcb, "LAUNCH_TCB");
    rec.record(SevSnpCheck::kMinimumTcb, tcb);
  }

  if (policy.allowed_measurements.empty()) {
    rec.pass(SevSnpCheck::kMeasurement, "no measurement list: any measurement accepted");
  } else if (std::any_of(policy.allowed_measurements.begin(), policy.allowed_measurements.end(),
                         [&](const Bytes& m) { return m == Bytes(r.measurement.begin(), r.measurement.end()); })) {
    rec.pass(SevSnpCheck::kMeasurement);
  } else {
    rec.fail(SevSnpCheck::kMeasurement, "MEASUREMENT " + to_hex(r.measurement) + " is not allowed");
  }

  if (r.debug_allowed() && !policy.allow_debug) {
    rec.fail(SevSnpCheck::kDebug, "guest policy allows debugging (POLICY bit 19)");
  } else {
    rec.pass(SevSnpCheck::kDebug);
  }
  if (r.migrate_ma_allowed() && !policy.allow_migration_agent) {
    rec.fail(SevSnpCheck::kMigrationAgent, "guest policy allows a migration agent (POLICY bit 18)");
  } else {
    rec.pass(SevSnpCheck::kMigrationAgent);
  }
  if (policy.required_vmpl && r.vmpl != *policy.required_vmpl) {
    rec.fail(SevSnpCheck::kVmpl,
             "VMPL is " + std::to_string(r.vmpl) + ", required " + std::to_string(*policy.required_vmpl));
  } else {
    rec.pass(SevSnpCheck::kVmpl);
  }
  if (r.guest_svn < policy.minimum_guest_svn) {
    rec.fail(SevSnpCheck::kGuestSvn, "GUEST_SVN " + std::to_string(r.guest_svn) + " is below the minimum " +
                                         std::to_string(policy.minimum_guest_svn));
  } else {
    rec.pass(SevSnpCheck::kGuestSvn);
  }
  return result;
}

}  // namespace openpcc::attest
