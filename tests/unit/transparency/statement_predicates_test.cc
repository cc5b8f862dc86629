#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "crypto/sha256.h"
#include "transparency/predicates.h"

namespace openpcc::transparency {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kManifest = R"({"id":"image-1","kernel_cmdline":"confsec.root=abc","model_digest":"00"})";
// The shape services/authbank/jwk.h writes (tests/unit/services checks the real one end to end).
constexpr std::string_view kJwk = R"({"e":"AQAB","kid":"k","kty":"RSA","n":"xyz","use":"sig"})";

std::string sha256_hex(std::string_view s) { return to_hex(crypto::sha256(as_bytes(s))); }

void expect_error(const Error& e, ErrorCode code, std::string_view part) {
  EXPECT_EQ(e.code, code) << e.to_string();
  EXPECT_NE(e.message.find(part), std::string::npos) << e.to_string();
}

// ---------------------------------------------------------------------------------------------------------------------
// Image manifest and currency key.

TEST(ImageManifestPredicate, BuildAndExtract) {
  auto s = image_manifest_statement(kManifest);
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_EQ(s->predicate_type, "https://confident.security/v2/image-manifest");
  ASSERT_EQ(s->subject.size(), 1u);
  EXPECT_EQ(s->subject[0].name, "image-manifest");
  EXPECT_EQ(s->subject[0].digest.at("sha256"), sha256_hex(kManifest));
  EXPECT_EQ(s->predicate, (nlohmann::json{{"imageManifest", to_base64(as_bytes(kManifest))}}));

  // Through signed JSON and back.
  auto parsed = parse_statement(to_json(*s));
  ASSERT_TRUE(parsed.has_value());
  auto manifest = image_manifest_from_statement(*parsed);
  ASSERT_TRUE(manifest.has_value()) << manifest.error().to_string();
  EXPECT_EQ(*manifest, kManifest);
}

TEST(ImageManifestPredicate, BuilderWantsAJsonObject) {
  expect_error(image_manifest_statement("[1]").error(), ErrorCode::kInvalidArgument, "not a JSON object");
  expect_error(image_manifest_statement("{").error(), ErrorCode::kInvalidArgument, "image manifest");
}

TEST(ImageManifestPredicate, Tampering) {
  const Statement good = *image_manifest_statement(kManifest);

  // The predicate carries other data than the subject names (the attack VerifyStatementPredicate stops).
  Statement swapped = good;
  swapped.predicate["imageManifest"] = to_base64(as_bytes(R"({"id":"evil"})"));
  expect_error(image_manifest_from_statement(swapped).error(), ErrorCode::kAuthenticationFailed,
               "\"imageManifest\" does not match its subject");

  // ... or the subject digest was changed.
  Statement digest = good;
  digest.subject[0].digest["sha256"] = sha256_hex("x");
  expect_error(image_manifest_from_statement(digest).error(), ErrorCode::kAuthenticationFailed, "sha256 digest");

  Statement type = good;
  type.predicate_type = std::string(kCurrencyKeyPredicateType);
  expect_error(image_manifest_from_statement(type).error(), ErrorCode::kInvalidArgument, "type");

  Statement renamed = good;
  renamed.subject[0].name = "jwk";
  expect_error(image_manifest_from_statement(renamed).error(), ErrorCode::kInvalidArgument, "unexpected subjects");

  Statement extra_subject = good;
  extra_subject.subject.push_back(subject_for("other", as_bytes("x")));
  expect_error(image_manifest_from_statement(extra_subject).error(), ErrorCode::kInvalidArgument,
               "unexpected subjects \"image-manifest\", \"other\"");

  Statement missing = good;
  missing.predicate = nlohmann::json::object();
  expect_error(image_manifest_from_statement(missing).error(), ErrorCode::kDecode, "missing \"imageManifest\"");

  Statement not_string = good;
  not_string.predicate["imageManifest"] = 5;
  expect_error(image_manifest_from_statement(not_string).error(), ErrorCode::kDecode, "must be a string");

  Statement not_base64 = good;
  not_base64.predicate["imageManifest"] = "%%%";
  expect_error(image_manifest_from_statement(not_base64).error(), ErrorCode::kDecode, "is not base64");

  Statement extra_member = good;
  extra_member.predicate["other"] = "x";
  expect_error(image_manifest_from_statement(extra_member).error(), ErrorCode::kDecode,
               "unknown predicate member \"other\"");

  // Data that matches its subject but is not a JSON object (a publisher bug) is still refused.
  Statement not_json = good;
  not_json.subject[0] = subject_for("image-manifest", as_bytes("nope"));
  not_json.predicate["imageManifest"] = to_base64(as_bytes("nope"));
  expect_error(image_manifest_from_statement(not_json).error(), ErrorCode::kDecode, "image manifest");
}

TEST(CurrencyKeyPredicate, BuildAndExtract) {
  auto s = currency_key_statement(kJwk);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->predicate_type, "https://confident.security/v1/public-key");
  EXPECT_EQ(s->subject[0].name, "jwk");
  EXPECT_EQ(s->subject[0].digest.at("sha256"), sha256_hex(kJwk));
  EXPECT_EQ(s->predicate, (nlohmann::json{{"jwkRaw", to_base64(as_bytes(kJwk))}}));
  auto jwk = currency_key_from_statement(*parse_statement(to_json(*s)));
  ASSERT_TRUE(jwk.has_value());
  EXPECT_EQ(*jwk, kJwk);

  Statement swapped = *s;
  swapped.predicate["jwkRaw"] = to_base64(as_bytes(R"({"kty":"RSA"})"));
  expect_error(currency_key_from_statement(swapped).error(), ErrorCode::kAuthenticationFailed, "\"jwkRaw\"");
  // Another predicate type with the right data is not a currency key.
  expect_error(currency_key_from_statement(*image_manifest_statement(kJwk)).error(), ErrorCode::kInvalidArgument,
               "type");
}

// ---------------------------------------------------------------------------------------------------------------------
// RFC 3339 times.

Timestamp at(std::chrono::sys_days day, std::chrono::nanoseconds since_midnight = 0ns) { return day + since_midnight; }

TEST(Rfc3339, Format) {
  using namespace std::chrono;
  EXPECT_EQ(format_rfc3339(at(sys_days{2026y / 1 / 2}, 3h + 4min + 5s)), "2026-01-02T03:04:05Z");
  EXPECT_EQ(format_rfc3339(at(sys_days{2026y / 1 / 2}, 5s + 500ms)), "2026-01-02T00:00:05.5Z");
  EXPECT_EQ(format_rfc3339(at(sys_days{2026y / 1 / 2}, 1ns)), "2026-01-02T00:00:00.000000001Z");
  EXPECT_EQ(format_rfc3339(Timestamp{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(Timestamp{} - 1ns), "1969-12-31T23:59:59.999999999Z");
}

TEST(Rfc3339, Parse) {
  using namespace std::chrono;
  EXPECT_EQ(*parse_rfc3339("2026-01-02T03:04:05Z"), at(sys_days{2026y / 1 / 2}, 3h + 4min + 5s));
  EXPECT_EQ(*parse_rfc3339("2026-01-02T03:04:05.25Z"), at(sys_days{2026y / 1 / 2}, 3h + 4min + 5s + 250ms));
  EXPECT_EQ(*parse_rfc3339("2026-01-02T03:04:05.123456789Z"),
            at(sys_days{2026y / 1 / 2}, 3h + 4min + 5s + 123456789ns));
  // Offsets: 05:00+02:00 is 03:00 UTC; -00:30 crosses midnight backwards.
  EXPECT_EQ(*parse_rfc3339("2026-01-02T05:00:00+02:00"), at(sys_days{2026y / 1 / 2}, 3h));
  EXPECT_EQ(*parse_rfc3339("2026-01-01T23:45:00-00:30"), at(sys_days{2026y / 1 / 2}, 15min));
  EXPECT_EQ(*parse_rfc3339("2024-02-29T00:00:00Z"), at(sys_days{2024y / 2 / 29}));
  EXPECT_EQ(*parse_rfc3339("1969-12-31T23:59:59.999999999Z"), Timestamp{} - 1ns);
  for (std::string_view t : {"2026-01-02T03:04:05.5Z", "2026-01-02T03:04:05Z", "2262-01-01T00:00:00Z",
                             "1678-01-01T00:00:00.000000001Z"}) {
    EXPECT_EQ(format_rfc3339(*parse_rfc3339(t)), t);
  }
}

TEST(Rfc3339, Rejects) {
  for (std::string_view bad : {"", "2026-01-02", "2026-01-02T03:04:05", "2026-01-02 03:04:05Z",
                               "2026-01-02t03:04:05Z", "2026-01-02T03:04:05z", "2026-1-02T03:04:05Z",
                               "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05.1234567891Z", "2026-13-01T00:00:00Z",
                               "2026-00-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
                               "2026-01-02T24:00:00Z", "2026-01-02T00:60:00Z", "2026-12-31T23:59:60Z",
                               "2026-01-02T03:04:05+2:00", "2026-01-02T03:04:05+24:00", "2026-01-02T03:04:05+02:60",
                               "2026-01-02T03:04:05+0200", "2026-01-02T03:04:05Zjunk", "2263-01-01T00:00:00Z",
                               "1600-01-01T00:00:00Z", "+026-01-02T03:04:05Z"}) {
    auto t = parse_rfc3339(bad);
    EXPECT_FALSE(t.has_value()) << bad;
    if (!t) {
      EXPECT_EQ(t.error().code, ErrorCode::kDecode);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// OHTTP keys and rotation periods.

// An application/ohttp-keys list with configs for these key ids (the configs' contents do not matter here).
Bytes ohttp_keys_for(std::initializer_list<uint8_t> ids) {
  Bytes out;
  for (uint8_t id : ids) {
    Bytes config = {id, 0x00, 0x20};
    config.insert(config.end(), 32, 0xab);
    append(config, Bytes{0x00, 0x04, 0x00, 0x01, 0x00, 0x01});
    append_u16be(out, static_cast<uint16_t>(config.size()));
    append(out, config);
  }
  return out;
}

const Timestamp kJan = at(std::chrono::sys_days{std::chrono::year{2026} / 1 / 1});
const Timestamp kFeb = at(std::chrono::sys_days{std::chrono::year{2026} / 2 / 1});
const Timestamp kMar = at(std::chrono::sys_days{std::chrono::year{2026} / 3 / 1});

TEST(KeyRotationPeriods, JsonFormat) {
  const std::vector<KeyRotationPeriod> periods = {{1, kJan, kFeb}, {2, kFeb + 1500ms, kMar}};
  const std::string json = key_rotation_periods_to_json(periods);
  EXPECT_EQ(json,
            R"([{"active_from":"2026-01-01T00:00:00Z","active_until":"2026-02-01T00:00:00Z","key_id":1},)"
            R"({"active_from":"2026-02-01T00:00:01.5Z","active_until":"2026-03-01T00:00:00Z","key_id":2}])");
  auto back = parse_key_rotation_periods(json);
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(*back, periods);
  // What Go's encoding/json writes for time.Time with a zone offset and nanoseconds reads too.
  auto go = parse_key_rotation_periods(
      R"([{"active_from":"2025-12-31T19:00:00-05:00","active_until":"2026-02-01T00:00:00.000000001Z","key_id":255}])");
  ASSERT_TRUE(go.has_value()) << go.error().to_string();
  EXPECT_EQ((*go)[0], (KeyRotationPeriod{255, kJan, kFeb + 1ns}));
  EXPECT_TRUE(parse_key_rotation_periods("[]")->empty());
}

TEST(KeyRotationPeriods, StrictParse) {
  auto period = [](std::string_view from, std::string_view until, std::string_view id) {
    return R"([{"active_from":")" + std::string(from) + R"(","active_until":")" + std::string(until) +
           R"(","key_id":)" + std::string(id) + "}]";
  };
  const std::string from = "2026-01-01T00:00:00Z", until = "2026-02-01T00:00:00Z";
  ASSERT_TRUE(parse_key_rotation_periods(period(from, until, "0")).has_value());
  struct Case {
    std::string json;
    std::string_view message;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"{}", "not a JSON array"},
           {"[1]", "[0]: not an object"},
           {period(from, until, "256"), "key_id 256 > 255"},
           {period(from, until, "-1"), "non-negative integer"},
           {period(from, until, "1.0"), "non-negative integer"},
           {period(from, until, "\"1\""), "non-negative integer"},
           {period(until, from, "1"), "active_from is not before active_until"},
           {period(from, from, "1"), "active_from is not before active_until"},
           {period("2026-01-01", until, "1"), "active_from"},
           {period(from, "tomorrow", "1"), "active_until"},
           {R"([{"active_from":"2026-01-01T00:00:00Z","key_id":1}])", "missing \"active_until\""},
           {R"([{"active_from":"2026-01-01T00:00:00Z","active_until":"2026-02-01T00:00:00Z","key_id":1,"x":2}])",
            "unknown member \"x\""},
           {R"([{"active_from":"2026-01-01T00:00:00Z","active_until":"2026-02-01T00:00:00Z","key_id":1,"key_id":2}])",
            "duplicate key"},
       }) {
    auto result = parse_key_rotation_periods(c.json);
    ASSERT_FALSE(result.has_value()) << c.json;
    expect_error(result.error(), ErrorCode::kDecode, c.message);
  }
  std::string many = "[";
  for (size_t i = 0; i <= kMaxKeyRotationPeriods; ++i) {
    many += (i ? "," : "") + period(from, until, "1").substr(1, period(from, until, "1").size() - 2);
  }
  many += "]";
  expect_error(parse_key_rotation_periods(many).error(), ErrorCode::kLimitExceeded, "1025 periods");
}

TEST(KeyRotationPeriods, ActiveKeyIds) {
  const std::vector<KeyRotationPeriod> periods = {{1, kJan, kMar}, {2, kFeb, kMar}, {3, kJan, kFeb}, {2, kJan, kMar}};
  // IsActive: from < now ≤ until.
  EXPECT_TRUE(active_key_ids(periods, kJan).empty());
  EXPECT_EQ(active_key_ids(periods, kJan + 1ns), (std::vector<uint8_t>{1, 3, 2}));
  EXPECT_EQ(active_key_ids(periods, kFeb), (std::vector<uint8_t>{1, 3, 2}));
  // Latest active_from first; key 2 listed once although two of its periods are active.
  EXPECT_EQ(active_key_ids(periods, kFeb + 1ns), (std::vector<uint8_t>{2, 1}));
  EXPECT_EQ(active_key_ids(periods, kMar), (std::vector<uint8_t>{2, 1}));
  EXPECT_TRUE(active_key_ids(periods, kMar + 1ns).empty());
}

TEST(OhttpKeysFraming, KeyIds) {
  EXPECT_EQ(*ohttp_keys_key_ids(ohttp_keys_for({1, 7, 1})), (std::vector<uint8_t>{1, 7, 1}));
  EXPECT_FALSE(ohttp_keys_key_ids({}).has_value());
  EXPECT_FALSE(ohttp_keys_key_ids(Bytes{0x00}).has_value());
  EXPECT_FALSE(ohttp_keys_key_ids(Bytes{0x00, 0x00}).has_value());        // empty config
  EXPECT_FALSE(ohttp_keys_key_ids(Bytes{0x00, 0x02, 0x01}).has_value());  // truncated config
  Bytes trailing = ohttp_keys_for({1});
  trailing.push_back(0x00);
  EXPECT_FALSE(ohttp_keys_key_ids(trailing).has_value());
}

TEST(OhttpKeysPredicate, BuildAndExtract) {
  const Bytes keys = ohttp_keys_for({1, 2});
  const std::vector<KeyRotationPeriod> periods = {{1, kJan, kFeb}, {2, kFeb, kMar}};
  auto s = ohttp_keys_statement(keys, periods);
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_EQ(s->predicate_type, "https://confident.security/v2/ohttp-keys");
  ASSERT_EQ(s->subject.size(), 2u);
  EXPECT_EQ(s->subject[0].name, "ohttp-keys");
  EXPECT_EQ(s->subject[0].digest.at("sha256"), to_hex(crypto::sha256(keys)));
  EXPECT_EQ(s->subject[1].name, "key-rotation-periods");
  const std::string periods_json = key_rotation_periods_to_json(periods);
  EXPECT_EQ(s->subject[1].digest.at("sha256"), sha256_hex(periods_json));
  EXPECT_EQ(s->predicate, (nlohmann::json{{"ohttpKeys", to_base64(keys)},
                                          {"keyRotationPeriods", to_base64(as_bytes(periods_json))}}));

  auto extracted = ohttp_keys_from_statement(*parse_statement(to_json(*s)));
  ASSERT_TRUE(extracted.has_value()) << extracted.error().to_string();
  EXPECT_EQ(extracted->ohttp_keys, keys);
  EXPECT_EQ(extracted->periods, periods);
  EXPECT_EQ(active_key_ids(extracted->periods, kFeb + 1s), std::vector<uint8_t>{2});
}

TEST(OhttpKeysPredicate, BuilderChecks) {
  const std::vector<KeyRotationPeriod> periods = {{1, kJan, kFeb}};
  expect_error(ohttp_keys_statement(ohttp_keys_for({2}), periods).error(), ErrorCode::kInvalidArgument,
               "no config for the key id 1");
  expect_error(ohttp_keys_statement(Bytes{}, periods).error(), ErrorCode::kInvalidArgument, "empty list");
  expect_error(ohttp_keys_statement(ohttp_keys_for({1}), {}).error(), ErrorCode::kInvalidArgument, "no key rotation");
  const std::vector<KeyRotationPeriod> backwards = {{1, kFeb, kJan}};
  expect_error(ohttp_keys_statement(ohttp_keys_for({1}), backwards).error(), ErrorCode::kInvalidArgument,
               "active_from is not before");
}

TEST(OhttpKeysPredicate, Tampering) {
  const Bytes keys = ohttp_keys_for({1, 2});
  const std::vector<KeyRotationPeriod> periods = {{1, kJan, kFeb}};
  const Statement good = *ohttp_keys_statement(keys, periods);

  // Other key configs than the subject names.
  Statement other_keys = good;
  other_keys.predicate["ohttpKeys"] = to_base64(ohttp_keys_for({1}));
  expect_error(ohttp_keys_from_statement(other_keys).error(), ErrorCode::kAuthenticationFailed,
               "\"ohttpKeys\" does not match its subject");

  // An extended rotation period.
  Statement longer = good;
  const std::vector<KeyRotationPeriod> extended = {{1, kJan, kMar}};
  longer.predicate["keyRotationPeriods"] = to_base64(as_bytes(key_rotation_periods_to_json(extended)));
  expect_error(ohttp_keys_from_statement(longer).error(), ErrorCode::kAuthenticationFailed,
               "\"keyRotationPeriods\" does not match its subject");

  // Swapping the two subjects' digests.
  Statement crossed = good;
  std::swap(crossed.subject[0].digest, crossed.subject[1].digest);
  expect_error(ohttp_keys_from_statement(crossed).error(), ErrorCode::kAuthenticationFailed, "does not match");

  Statement one_subject = good;
  one_subject.subject.pop_back();
  expect_error(ohttp_keys_from_statement(one_subject).error(), ErrorCode::kInvalidArgument, "unexpected subjects");

  Statement type = good;
  type.predicate_type = "https://confident.security/v1/ohttp-keys";
  expect_error(ohttp_keys_from_statement(type).error(), ErrorCode::kInvalidArgument, "type");

  // Consistent subject and data, but the period names a key that is not in the list.
  Statement orphan = good;
  const std::vector<KeyRotationPeriod> for_key_9 = {{9, kJan, kFeb}};
  const std::string orphan_json = key_rotation_periods_to_json(for_key_9);
  orphan.subject[1] = subject_for("key-rotation-periods", as_bytes(orphan_json));
  orphan.predicate["keyRotationPeriods"] = to_base64(as_bytes(orphan_json));
  expect_error(ohttp_keys_from_statement(orphan).error(), ErrorCode::kDecode, "no config for the key id 9");
}

}  // namespace
}  // namespace openpcc::transparency
