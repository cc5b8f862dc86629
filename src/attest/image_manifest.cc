#include "attest/image_manifest.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

#include "common/json_parse.h"

namespace openpcc::attest {

namespace {

using nlohmann::json;

constexpr std::string_view kVerityRootArg = "confsec.root=";
constexpr size_t kMaxDepth = 8;  // the manifest is two levels deep

std::unexpected<Error> manifest_error(std::string message) {
  return make_error(ErrorCode::kDecode, "image manifest: " + std::move(message));
}

// nlohmann keeps the last of repeated keys; a signed document must not mean different things to different parsers,
// so repeated keys (and absurd nesting, and NUL bytes) make the parse fail.
Result<json> parse_strict(std::string_view text) {
  auto value = parse_json(text, {.max_depth = kMaxDepth, .reject_duplicate_keys = true});
  if (!value) return manifest_error("not valid JSON (" + value.error().message + ")");
  return value;
}

Result<std::string> string_field(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end()) return manifest_error(std::string("missing field \"") + name + "\"");
  if (!it->is_string()) return manifest_error(std::string("field \"") + name + "\" is not a string");
  return it->get<std::string>();
}

Result<Bytes> digest_from_hex(std::string_view hex, const std::string& what) {
  auto bytes = from_hex(hex);
  if (!bytes || bytes->size() != kPcrSize) return manifest_error(what + " is not 64 hex digits");
  return *bytes;
}

Result<uint32_t> pcr_index(std::string_view key) {
  uint32_t index = 0;
  auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
  // Canonical decimal only: no sign, no leading zeros, nothing after the digits.
  if (key.empty() || ec != std::errc() || end != key.data() + key.size() || (key.size() > 1 && key[0] == '0') ||
      index > kMaxPcrIndex) {
    return manifest_error("expected_pcrs key \"" + std::string(key) + "\" is not a PCR index 0-23");
  }
  return index;
}

}  // namespace

std::string verity_root_from_cmdline(std::string_view cmdline) {
  size_t pos = 0;
  while (pos < cmdline.size()) {
    size_t end = cmdline.find(' ', pos);
    if (end == std::string_view::npos) end = cmdline.size();
    std::string_view arg = cmdline.substr(pos, end - pos);
    if (arg.starts_with(kVerityRootArg)) return std::string(arg.substr(kVerityRootArg.size()));
    pos = end + 1;
  }
  return "";
}

ImageManifest image_manifest_for(std::string id, const BootManifest& boot) {
  ImageManifest m;
  m.id = std::move(id);
  m.expected_pcrs = expected_pcrs(boot);
  m.model_digest = boot.model_digest;
  m.kernel_cmdline = boot.kernel_cmdline;
  m.verity_root = verity_root_from_cmdline(boot.kernel_cmdline);
  return m;
}

std::string to_json(const ImageManifest& m) {
  json pcrs = json::object();
  for (const auto& [index, value] : m.expected_pcrs) pcrs[std::to_string(index)] = to_hex(value);
  json doc = {
      {"id", m.id},
      {"expected_pcrs", std::move(pcrs)},
      {"model_digest", to_hex(m.model_digest)},
      {"kernel_cmdline", m.kernel_cmdline},
      {"verity_root", m.verity_root},
  };
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ImageManifest> parse_image_manifest_json(std::string_view text) {
  if (text.size() > kMaxImageManifestJsonSize) {
    return make_error(ErrorCode::kLimitExceeded, "image manifest: " + std::to_string(text.size()) +
                                                     " bytes of JSON exceed " +
                                                     std::to_string(kMaxImageManifestJsonSize));
  }
  auto doc = parse_strict(text);
  if (!doc) return std::unexpected(doc.error());
  if (!doc->is_object()) return manifest_error("not a JSON object");
  static constexpr std::string_view kFields[] = {"expected_pcrs", "id", "kernel_cmdline", "model_digest",
                                                 "verity_root"};
  for (const auto& [key, value] : doc->items()) {
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields)) {
      return manifest_error("unknown field \"" + key + "\"");
    }
  }
  ImageManifest m;
  auto id = string_field(*doc, "id");
  if (!id) return std::unexpected(id.error());
  if (id->empty()) return manifest_error("empty id");
  m.id = std::move(*id);

  auto pcrs = doc->find("expected_pcrs");
  if (pcrs == doc->end()) return manifest_error("missing field \"expected_pcrs\"");
  if (!pcrs->is_object()) return manifest_error("field \"expected_pcrs\" is not an object");
  for (const auto& [key, value] : pcrs->items()) {
    auto index = pcr_index(key);
    if (!index) return std::unexpected(index.error());
    if (!value.is_string()) return manifest_error("expected_pcrs[" + key + "] is not a string");
    auto digest = digest_from_hex(value.get<std::string>(), "expected_pcrs[" + key + "]");
    if (!digest) return std::unexpected(digest.error());
    m.expected_pcrs.emplace(*index, std::move(*digest));
  }
  for (uint32_t pcr : kAttestedPcrs) {
    if (!m.expected_pcrs.contains(pcr)) {
      return manifest_error("expected_pcrs lacks attested PCR " + std::to_string(pcr));
    }
  }

  auto model = string_field(*doc, "model_digest");
  if (!model) return std::unexpected(model.error());
  auto model_digest = digest_from_hex(*model, "model_digest");
  if (!model_digest) return std::unexpected(model_digest.error());
  m.model_digest = std::move(*model_digest);

  auto cmdline = string_field(*doc, "kernel_cmdline");
  if (!cmdline) return std::unexpected(cmdline.error());
  m.kernel_cmdline = std::move(*cmdline);
  auto verity = string_field(*doc, "verity_root");
  if (!verity) return std::unexpected(verity.error());
  m.verity_root = std::move(*verity);
  if (m.verity_root != verity_root_from_cmdline(m.kernel_cmdline)) {
    return manifest_error("verity_root does not match confsec.root= in kernel_cmdline");
  }
  return m;
}

}  // namespace openpcc::attest
