// Image manifests: derivation from a boot manifest, deterministic JSON, and the strict parser.
#include "attest/image_manifest.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tpm_fixtures.h"

namespace openpcc::attest {
namespace {

using testing::fixture_boot_manifest;

ImageManifest fixture_manifest() { return image_manifest_for("openpcc-node-2025.1", fixture_boot_manifest()); }

TEST(ImageManifest, DerivedFromBootManifest) {
  const BootManifest boot = fixture_boot_manifest();
  const ImageManifest m = fixture_manifest();
  EXPECT_EQ(m.id, "openpcc-node-2025.1");
  EXPECT_EQ(m.expected_pcrs, expected_pcrs(boot));
  EXPECT_EQ(m.expected_pcrs.size(), kAttestedPcrs.size());
  EXPECT_EQ(m.model_digest, boot.model_digest);
  EXPECT_EQ(m.kernel_cmdline, boot.kernel_cmdline);
  EXPECT_EQ(m.verity_root, "4813494d137e1631bba301d5acab6e7bb7aa74ce1185d456565ef51d737677b2");  // SHA-256("root")
}

TEST(ImageManifest, VerityRootFromCmdline) {
  EXPECT_EQ(verity_root_from_cmdline("ro confsec.root=abc quiet"), "abc");
  EXPECT_EQ(verity_root_from_cmdline("confsec.root=abc"), "abc");
  EXPECT_EQ(verity_root_from_cmdline("ro xconfsec.root=abc"), "");
  EXPECT_EQ(verity_root_from_cmdline("confsec.root=a confsec.root=b"), "a");
  EXPECT_EQ(verity_root_from_cmdline(""), "");
  // The real GCE command line's value.
  EXPECT_EQ(verity_root_from_cmdline("ro root=/dev/mapper/verity-root confsec.root=3f729361d013276cf81e970ace1b855243e8ca09"
                                     "aacf611103fee2dcdfd95f09 confsec.efi=103a"),
            "3f729361d013276cf81e970ace1b855243e8ca09aacf611103fee2dcdfd95f09");
}

TEST(ImageManifest, JsonRoundTripAndDeterminism) {
  const ImageManifest m = fixture_manifest();
  const std::string json = to_json(m);
  EXPECT_EQ(json, to_json(fixture_manifest()));
  EXPECT_TRUE(json.starts_with("{\"expected_pcrs\":{\"0\":\"")) << json;
  EXPECT_NE(json.find("\"model_digest\":\"" + to_hex(m.model_digest) + "\""), std::string::npos);
  auto parsed = parse_image_manifest_json(json);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_EQ(parsed->id, m.id);
  EXPECT_EQ(parsed->expected_pcrs, m.expected_pcrs);
  EXPECT_EQ(parsed->model_digest, m.model_digest);
  EXPECT_EQ(parsed->kernel_cmdline, m.kernel_cmdline);
  EXPECT_EQ(parsed->verity_root, m.verity_root);
  EXPECT_EQ(to_json(*parsed), json);
  // Whitespace and key order do not matter to the parser.
  auto pretty = parse_image_manifest_json(nlohmann::json::parse(json).dump(2));
  ASSERT_TRUE(pretty.has_value());
  EXPECT_EQ(to_json(*pretty), json);
}

// Parses, edits and re-serializes the fixture manifest's JSON.
std::string edited(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json doc = nlohmann::json::parse(to_json(fixture_manifest()));
  edit(doc);
  return doc.dump();
}

void expect_rejected(const std::string& json, std::string_view fragment,
                     ErrorCode code = ErrorCode::kDecode) {
  auto r = parse_image_manifest_json(json);
  ASSERT_FALSE(r.has_value()) << json;
  EXPECT_EQ(r.error().code, code) << r.error().to_string();
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().to_string();
}

TEST(ImageManifest, StrictParsing) {
  using nlohmann::json;
  expect_rejected("", "not valid JSON");
  expect_rejected("[]", "not a JSON object");
  expect_rejected(to_json(fixture_manifest()) + "x", "not valid JSON");
  expect_rejected(to_json(fixture_manifest()) + std::string("\0x", 2), "NUL byte");
  expect_rejected(edited([](json& d) { d["extra"] = 1; }), "unknown field \"extra\"");
  for (const char* field : {"id", "expected_pcrs", "model_digest", "kernel_cmdline", "verity_root"}) {
    expect_rejected(edited([&](json& d) { d.erase(field); }), std::string("missing field \"") + field + "\"");
  }
  expect_rejected(edited([](json& d) { d["id"] = 5; }), "\"id\" is not a string");
  expect_rejected(edited([](json& d) { d["id"] = ""; }), "empty id");
  expect_rejected(edited([](json& d) { d["expected_pcrs"] = json::array(); }), "not an object");
  expect_rejected(edited([](json& d) { d["expected_pcrs"].erase("12"); }), "lacks attested PCR 12");
  expect_rejected(edited([](json& d) { d["expected_pcrs"]["24"] = std::string(64, 'a'); }), "PCR index 0-23");
  expect_rejected(edited([](json& d) { d["expected_pcrs"]["07"] = std::string(64, 'a'); }), "\"07\"");
  expect_rejected(edited([](json& d) { d["expected_pcrs"]["+9"] = std::string(64, 'a'); }), "\"+9\"");
  expect_rejected(edited([](json& d) { d["expected_pcrs"]["9x"] = std::string(64, 'a'); }), "\"9x\"");
  expect_rejected(edited([](json& d) { d["expected_pcrs"]["0"] = std::string(62, 'a'); }), "64 hex digits");
  expect_rejected(edited([](json& d) { d["expected_pcrs"]["0"] = std::string(64, 'g'); }), "64 hex digits");
  expect_rejected(edited([](json& d) { d["expected_pcrs"]["0"] = 0; }), "not a string");
  expect_rejected(edited([](json& d) { d["model_digest"] = "00"; }), "model_digest");
  expect_rejected(edited([](json& d) { d["verity_root"] = "00"; }), "does not match confsec.root=");
  expect_rejected(edited([](json& d) { d["kernel_cmdline"] = "ro quiet"; }), "does not match confsec.root=");
  // Extra (non-attested) PCRs are allowed; a command line without confsec.root= needs an empty verity_root.
  EXPECT_TRUE(parse_image_manifest_json(edited([](json& d) { d["expected_pcrs"]["9"] = std::string(64, 'a'); })));
  EXPECT_TRUE(parse_image_manifest_json(edited([](json& d) {
    d["kernel_cmdline"] = "ro";
    d["verity_root"] = "";
  })));
  // Upper-case hex is read (and written back in lower case).
  auto upper = parse_image_manifest_json(edited([](json& d) { d["model_digest"] = std::string(64, 'A'); }));
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(upper->model_digest, Bytes(32, 0xaa));
}

TEST(ImageManifest, RepeatedKeysDepthAndSize) {
  const std::string json = to_json(fixture_manifest());
  // The same key twice at the top level, and inside expected_pcrs.
  expect_rejected("{\"id\":\"a\"," + json.substr(1), "repeated object key");
  const std::string dup_pcr = json.substr(0, json.find("{\"0\":") + 1) + "\"0\":\"" + std::string(64, 'b') + "\"," +
                              json.substr(json.find("{\"0\":") + 1);
  expect_rejected(dup_pcr, "repeated object key");
  std::string deep = std::string(100, '[') + std::string(100, ']');
  expect_rejected("{\"x\":" + deep + "}", "nests deeper than 8 levels");
  std::string nested_objects;
  for (int i = 0; i < 20; ++i) nested_objects += "{\"a\":";
  nested_objects += "1" + std::string(20, '}');
  expect_rejected(nested_objects, "nests deeper than 8 levels");
  expect_rejected(std::string(kMaxImageManifestJsonSize + 1, ' '), "exceed", ErrorCode::kLimitExceeded);
  // The largest allowed input, all nesting: refused without exhausting the stack.
  EXPECT_FALSE(parse_image_manifest_json(std::string(kMaxImageManifestJsonSize, '[')).has_value());
  EXPECT_FALSE(parse_image_manifest_json(std::string(kMaxImageManifestJsonSize / 2, '{')).has_value());
  // Invalid UTF-8 in a string.
  expect_rejected("{\"id\":\"\xff\"}", "not valid JSON");
}

TEST(ImageManifest, ToJsonReplacesInvalidUtf8) {
  ImageManifest m = fixture_manifest();
  m.id = "node-\xff";
  const std::string json = to_json(m);
  EXPECT_NE(json.find("node-\xef\xbf\xbd"), std::string::npos);
  EXPECT_TRUE(parse_image_manifest_json(json).has_value());
}

}  // namespace
}  // namespace openpcc::attest
