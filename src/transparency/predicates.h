// The statements OpenPCC publishes, as the reference defines them (transparency/statements/*): every predicate member
// is the standard base64 of the subject's bytes, and the subject is SHA-256 of those same bytes, so a verified
// statement carries the data it vouches for.
//
//   predicate type                                   subject (SHA-256 of)            predicate
//   https://confident.security/v2/image-manifest     "image-manifest": manifest JSON  {"imageManifest": b64}
//   https://confident.security/v1/public-key         "jwk": JWK JSON                  {"jwkRaw": b64}
//   https://confident.security/v2/ohttp-keys         "ohttp-keys": application/ohttp-keys bytes,
//                                                    "key-rotation-periods": periods JSON
//                                                                                    {"ohttpKeys": b64,
//                                                                                     "keyRotationPeriods": b64}
//
// Deviation: the reference's image-manifest subject is SHA-256 of the Packer artifact id; ours is SHA-256 of the
// manifest JSON itself, so the statement binds the manifest and not a name for it.
//
// Each extractor checks the predicate type, that the subjects are exactly the expected ones, that the predicate has
// exactly the expected members, decodes them, and verifies each decoded value against its subject (the reference's
// VerifyStatementPredicate); only then does it return the data. The manifest and JWK JSON are opaque here (checked
// only to be one JSON object): attest/image_manifest.h and services/authbank/jwk.h give them meaning, e.g.
//
//   auto jwk = currency_key_from_statement(statement);              // bytes the publisher vouched for
//   auto key = authbank::rsa_public_key_from_jwk(*jwk);             // what the AuthBank's rsa_public_key_to_jwk wrote
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "transparency/statement.h"

namespace openpcc::transparency {

inline constexpr std::string_view kImageManifestPredicateType = "https://confident.security/v2/image-manifest";
inline constexpr std::string_view kImageManifestSubject = "image-manifest";
inline constexpr std::string_view kCurrencyKeyPredicateType = "https://confident.security/v1/public-key";
inline constexpr std::string_view kCurrencyKeySubject = "jwk";
inline constexpr std::string_view kOhttpKeysPredicateType = "https://confident.security/v2/ohttp-keys";
inline constexpr std::string_view kOhttpKeysSubject = "ohttp-keys";
inline constexpr std::string_view kKeyRotationPeriodsSubject = "key-rotation-periods";

// ---------------------------------------------------------------------------------------------------------------------
// Image manifest (attest::to_json(ImageManifest) text) and currency key (the AuthBank's JWK text). kInvalidArgument
// when the text is not a JSON object.

Result<Statement> image_manifest_statement(std::string_view manifest_json);
Result<std::string> image_manifest_from_statement(const Statement& statement);

Result<Statement> currency_key_statement(std::string_view jwk_json);
Result<std::string> currency_key_from_statement(const Statement& statement);

// ---------------------------------------------------------------------------------------------------------------------
// OHTTP keys with their rotation periods.
//
// Rotation periods JSON, as the reference's Go encoding/json writes []KeyRotationPeriodWithID:
//
//   [{"active_from":"2026-01-01T00:00:00Z","active_until":"2026-02-01T00:00:00Z","key_id":1}]
//
// Times are RFC 3339 (Go's RFC3339Nano: optional 1–9 fraction digits, "Z" or a ±hh:mm offset; we write UTC with "Z"
// and no trailing zeros). A period is active at `now` when active_from < now ≤ active_until (the reference's
// IsActive).

using Timestamp = std::chrono::sys_time<std::chrono::nanoseconds>;

inline constexpr size_t kMaxKeyRotationPeriods = 1024;

struct KeyRotationPeriod {
  uint8_t key_id = 0;
  Timestamp active_from;
  Timestamp active_until;
  friend bool operator==(const KeyRotationPeriod&, const KeyRotationPeriod&) = default;
};

// RFC 3339 text of a time (UTC, "Z"). Times are representable from 1678 to 2262 (int64 nanoseconds since 1970).
std::string format_rfc3339(Timestamp t);
// kDecode for malformed text, impossible dates or times (no leap seconds) or times outside that range.
Result<Timestamp> parse_rfc3339(std::string_view text);

std::string key_rotation_periods_to_json(std::span<const KeyRotationPeriod> periods);
// Strict: a JSON array (at most kMaxKeyRotationPeriods) of objects with exactly the three members, key_id an integer
// in 0..255, active_from < active_until. kDecode / kLimitExceeded otherwise.
Result<std::vector<KeyRotationPeriod>> parse_key_rotation_periods(std::string_view json);

// The key ids of the periods active at `now`, the latest active_from first (the reference client uses the first),
// each id once.
std::vector<uint8_t> active_key_ids(std::span<const KeyRotationPeriod> periods, Timestamp now);

// The key ids of an application/ohttp-keys list, in order: (u16 length ‖ config)*, each config at least its 1-byte
// key id. Only the framing is checked here; wire/ohttp_key_config.h parses the configs. kDecode for bad framing or
// an empty list.
Result<std::vector<uint8_t>> ohttp_keys_key_ids(ByteSpan ohttp_keys);

struct OhttpKeysPredicate {
  Bytes ohttp_keys;                        // application/ohttp-keys
  std::vector<KeyRotationPeriod> periods;  // every key_id names a config in ohttp_keys
};

// kInvalidArgument for bad framing, no periods, a period that does not satisfy the parser's rules, or a period
// whose key id has no config.
Result<Statement> ohttp_keys_statement(ByteSpan ohttp_keys, std::span<const KeyRotationPeriod> periods);
Result<OhttpKeysPredicate> ohttp_keys_from_statement(const Statement& statement);

}  // namespace openpcc::transparency
