#include "attest/azure_hcl.h"

#include <nlohmann/json.hpp>

#include "common/json_parse.h"
#include "common/secure.h"
#include "crypto/sha256.h"

namespace openpcc::attest {
namespace {

using nlohmann::json;

constexpr uint8_t kMagic[4] = {'H', 'C', 'L', 'A'};
// The NV index holding the blob is a few KiB; a JSON far beyond that is not the platform's.
constexpr size_t kMaxRuntimeJsonSize = 64 * 1024;

uint32_t le32(ByteSpan b, size_t offset) {
  uint32_t v = 0;
  for (size_t i = 4; i-- > 0;) v = v << 8 | b[offset + i];
  return v;
}

std::unexpected<Error> hcl_error(ErrorCode code, std::string message) {
  return make_error(code, "azure hcl: " + std::move(message));
}

Result<std::string> string_member(const json& object, const char* name, std::string_view where) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return hcl_error(ErrorCode::kDecode, std::string(where) + " has no string \"" + name + "\"");
  }
  return it->get<std::string>();
}

Result<AzureRuntimeKey> parse_key(const json& jwk) {
  if (!jwk.is_object()) return hcl_error(ErrorCode::kDecode, "runtime data key is not an object");
  AzureRuntimeKey key;
  auto kid = string_member(jwk, "kid", "runtime data key");
  if (!kid) return std::unexpected(kid.error());
  key.kid = *kid;
  auto kty = string_member(jwk, "kty", "runtime data key " + key.kid);
  if (!kty) return std::unexpected(kty.error());
  key.kty = *kty;
  if (auto ops = jwk.find("key_ops"); ops != jwk.end()) {
    if (!ops->is_array()) return hcl_error(ErrorCode::kDecode, "key_ops of " + key.kid + " is not an array");
    for (const auto& op : *ops) {
      if (!op.is_string()) return hcl_error(ErrorCode::kDecode, "key_ops of " + key.kid + " holds a non-string");
      key.key_ops.push_back(op.get<std::string>());
    }
  }
  if (key.kty == "RSA") {
    for (auto [name, out] : {std::pair{"n", &key.n}, std::pair{"e", &key.e}}) {
      auto text = string_member(jwk, name, "RSA key " + key.kid);
      if (!text) return std::unexpected(text.error());
      auto bytes = from_base64url(*text);
      if (!bytes || bytes->empty()) {
        return hcl_error(ErrorCode::kDecode, std::string("\"") + name + "\" of " + key.kid + " is not base64url");
      }
      *out = std::move(*bytes);
    }
  }
  return key;
}

}  // namespace

Result<AzureHclReport> parse_azure_hcl_report(ByteSpan blob) {
  constexpr size_t kReportOffset = kAzureHclHeaderSize;
  constexpr size_t kRuntimeOffset = kReportOffset + kSevSnpReportSize;
  constexpr size_t kJsonOffset = kRuntimeOffset + kAzureHclRuntimeHeaderSize;
  if (blob.size() < kJsonOffset) {
    return hcl_error(ErrorCode::kTruncated, "blob of " + std::to_string(blob.size()) + " bytes is shorter than the " +
                                                std::to_string(kJsonOffset) + " bytes of headers and report");
  }
  if (!std::equal(std::begin(kMagic), std::end(kMagic), blob.begin())) {
    return hcl_error(ErrorCode::kDecode, "no \"HCLA\" magic");
  }
  AzureHclReport out;
  out.header_version = le32(blob, 4);
  out.report_size = le32(blob, 8);
  out.request_type = le32(blob, 12);
  out.status = le32(blob, 16);

  const ByteSpan report = blob.subspan(kReportOffset, kSevSnpReportSize);
  auto parsed = parse_sevsnp_report(report);
  if (!parsed) return std::unexpected(wrap_error("azure hcl", parsed.error()));
  out.sevsnp_report.assign(report.begin(), report.end());
  out.report = *parsed;

  const uint32_t data_size = le32(blob, kRuntimeOffset);
  out.runtime_data_version = le32(blob, kRuntimeOffset + 4);
  out.report_type = le32(blob, kRuntimeOffset + 8);
  out.hash_type = le32(blob, kRuntimeOffset + 12);
  const uint32_t json_size = le32(blob, kRuntimeOffset + 16);

  if (out.report_type != kAzureHclReportTypeSevSnp) {
    return hcl_error(ErrorCode::kUnsupported, "runtime data report type " + std::to_string(out.report_type) +
                                                  " is not SEV-SNP (2)");
  }
  if (out.hash_type != kAzureHclHashTypeSha256) {
    return hcl_error(ErrorCode::kUnsupported,
                     "runtime data hash type " + std::to_string(out.hash_type) + " is not SHA-256 (1)");
  }
  if (json_size == 0 || json_size > kMaxRuntimeJsonSize) {
    return hcl_error(ErrorCode::kDecode, "runtime data size " + std::to_string(json_size) + " is out of range");
  }
  // Sizes in 64 bits: the u32 fields cannot overflow these sums.
  if (uint64_t{data_size} != uint64_t{kAzureHclRuntimeHeaderSize} + json_size) {
    return hcl_error(ErrorCode::kDecode, "runtime data size " + std::to_string(data_size) +
                                             " != 20 + variable data size " + std::to_string(json_size));
  }
  if (uint64_t{out.report_size} != uint64_t{kRuntimeOffset} + data_size) {
    return hcl_error(ErrorCode::kDecode, "report size " + std::to_string(out.report_size) +
                                             " != header + report + runtime data (" +
                                             std::to_string(kRuntimeOffset + uint64_t{data_size}) + ")");
  }
  if (out.report_size > blob.size()) {
    return hcl_error(ErrorCode::kTruncated, "report size " + std::to_string(out.report_size) + " exceeds the " +
                                                std::to_string(blob.size()) + "-byte blob");
  }
  const ByteSpan json_bytes = blob.subspan(kJsonOffset, json_size);
  out.runtime_json = openpcc::to_string(json_bytes);
  // The hashed bytes must be exactly the JSON text: parse_json refuses a NUL (where nlohmann alone would stop).
  auto runtime_doc = parse_json(out.runtime_json);
  if (!runtime_doc) return hcl_error(ErrorCode::kDecode, "runtime data: " + runtime_doc.error().message);
  const json& doc = *runtime_doc;
  if (!doc.is_object()) return hcl_error(ErrorCode::kDecode, "runtime data is not a JSON object");
  auto user_data = string_member(doc, "user-data", "runtime data");
  if (!user_data) return std::unexpected(user_data.error());
  auto user_bytes = from_hex(*user_data);
  if (!user_bytes) return hcl_error(ErrorCode::kDecode, "runtime data user-data is not hex");
  out.user_data = std::move(*user_bytes);
  if (auto keys = doc.find("keys"); keys != doc.end()) {
    if (!keys->is_array()) return hcl_error(ErrorCode::kDecode, "runtime data keys is not an array");
    for (const auto& jwk : *keys) {
      auto key = parse_key(jwk);
      if (!key) return std::unexpected(key.error());
      out.keys.push_back(std::move(*key));
    }
  }
  return out;
}

Bytes azure_hcl_expected_report_data(std::string_view runtime_json) {
  const auto digest = crypto::sha256(as_bytes(runtime_json));
  Bytes out(digest.begin(), digest.end());
  out.resize(64, 0);
  return out;
}

Result<AzureHclVerification> verify_azure_hcl_report(ByteSpan blob, const SevSnpCertificates& certs,
                                                     const SevSnpPolicy& policy, ByteSpan expected_user_data) {
  auto hcl = parse_azure_hcl_report(blob);
  if (!hcl) return std::unexpected(hcl.error());
  const Bytes expected_report_data = azure_hcl_expected_report_data(hcl->runtime_json);
  auto snp = verify_sevsnp_report(hcl->sevsnp_report, certs, policy, ByteSpan(expected_report_data));
  if (!snp) return std::unexpected(snp.error());
  if (ct_equal(hcl->user_data, expected_user_data)) {
    snp->checks.push_back({SevSnpCheck::kAzureUserData, true, {}});
  } else {
    snp->checks.push_back({SevSnpCheck::kAzureUserData, false,
                           "runtime data user-data " + to_hex(ByteSpan(hcl->user_data).first(
                                                           std::min<size_t>(hcl->user_data.size(), 8))) +
                               "… is not the expected value"});
  }
  return AzureHclVerification{std::move(*hcl), std::move(*snp)};
}

}  // namespace openpcc::attest
