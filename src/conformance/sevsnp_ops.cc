// sevsnp.verify: an AMD SEV-SNP attestation report checked against its VCEK, AMD's chain (the embedded Milan/Genoa
// roots) and optionally CRLs, at a given time (attest/sevsnp_verify.h).
//
// A report that parses but does not verify answers {"valid": false, ...}; only malformed input (bad hex, a report
// that is not a well-formed 1184-byte report, a certificate or CRL that does not parse) answers an error.
#include <chrono>

#include <nlohmann/json.hpp>

#include "attest/sevsnp_verify.h"
#include "conformance/fields.h"
#include "conformance/harness.h"

namespace openpcc::conformance {

using nlohmann::json;

namespace {

// Optional "crls": an array of PEM (or hex DER) strings.
Result<std::vector<crypto::CertificateRevocationList>> crl_fields(const json& req) {
  std::vector<crypto::CertificateRevocationList> out;
  auto it = req.find("crls");
  if (it == req.end() || it->is_null()) return out;
  if (!it->is_array()) return make_error(ErrorCode::kInvalidArgument, "field \"crls\" must be an array of PEM strings");
  for (const auto& item : *it) {
    if (!item.is_string()) return make_error(ErrorCode::kInvalidArgument, "field \"crls\" holds a non-string");
    auto crl = crypto::CertificateRevocationList::parse(as_bytes(item.get_ref<const std::string&>()));
    if (!crl) return std::unexpected(crl.error());
    out.push_back(std::move(*crl));
  }
  return out;
}

Result<std::optional<Bytes>> optional_pem_field(const json& req, std::string_view name) {
  auto text = optional_string_field(req, name);
  if (!text) return std::unexpected(text.error());
  if (!*text) return std::optional<Bytes>();
  return std::optional<Bytes>(to_bytes(**text));
}

Result<json> verify_op(const json& req) {
  auto report = hex_field(req, "report");
  if (!report) return std::unexpected(report.error());
  auto vcek = string_field(req, "vcek");
  if (!vcek) return std::unexpected(vcek.error());
  auto ask = optional_pem_field(req, "ask");
  if (!ask) return std::unexpected(ask.error());
  auto ark = optional_pem_field(req, "ark");
  if (!ark) return std::unexpected(ark.error());
  auto certs = attest::parse_sevsnp_certificates(as_bytes(*vcek), *ask ? std::optional<ByteSpan>(**ask) : std::nullopt,
                                                 *ark ? std::optional<ByteSpan>(**ark) : std::nullopt);
  if (!certs) return std::unexpected(certs.error());
  auto expected = optional_hex_field(req, "report_data");
  if (!expected) return std::unexpected(expected.error());
  auto time = optional_uint_field(req, "time", INT64_MAX);
  if (!time) return std::unexpected(time.error());
  auto crls = crl_fields(req);
  if (!crls) return std::unexpected(crls.error());

  attest::SevSnpPolicy policy;
  // Revocation is checked whenever the caller supplies CRLs; without any, it cannot be.
  policy.require_crl = !crls->empty();
  policy.crls = std::move(*crls);
  if (*time) policy.verification_time = crypto::UnixTime(std::chrono::seconds(static_cast<int64_t>(**time)));

  auto result = attest::verify_sevsnp_report(
      *report, *certs, policy, *expected ? std::optional<ByteSpan>(**expected) : std::nullopt);
  if (!result) return std::unexpected(result.error());
  return json{{"valid", result->valid()},
              {"report_data", to_hex(result->report_data())},
              {"measurement", to_hex(result->measurement())}};
}

}  // namespace

void add_sevsnp_operations(Harness& h) { h.add("sevsnp.verify", verify_op); }

}  // namespace openpcc::conformance
