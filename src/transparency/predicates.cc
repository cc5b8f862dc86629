#include "transparency/predicates.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

#include "common/byte_reader.h"
#include "transparency/strict_json.h"

namespace openpcc::transparency {
namespace {

using Json = nlohmann::json;

struct PredicateMember {
  std::string_view member;   // in the predicate object
  std::string_view subject;  // the subject its decoded bytes must match
};

Result<Statement> build(std::string_view predicate_type,
                        std::initializer_list<std::pair<PredicateMember, ByteSpan>> data) {
  Statement statement;
  statement.predicate_type = std::string(predicate_type);
  for (const auto& [names, bytes] : data) {
    statement.subject.push_back(subject_for(std::string(names.subject), bytes));
    statement.predicate[std::string(names.member)] = to_base64(bytes);
  }
  return statement;
}

// The reference's VerifyStatementPredicate, for all members at once: returns the decoded members in order.
Result<std::vector<Bytes>> extract(const Statement& statement, std::string_view predicate_type,
                                   std::initializer_list<PredicateMember> members) {
  const std::string what = "predicate " + std::string(predicate_type);
  if (statement.predicate_type != predicate_type) {
    return make_error(ErrorCode::kInvalidArgument, "predicate: type \"" + statement.predicate_type +
                                                       "\" is not \"" + std::string(predicate_type) + "\"");
  }
  std::set<std::string_view> expected, found;
  for (const auto& m : members) expected.insert(m.subject);
  for (const auto& s : statement.subject) found.insert(s.name);
  if (found != expected || statement.subject.size() != expected.size()) {
    std::string list;
    for (const auto& s : statement.subject) list += (list.empty() ? "\"" : ", \"") + s.name + "\"";
    return make_error(ErrorCode::kInvalidArgument, what + ": unexpected subjects " + list);
  }
  if (!statement.predicate.is_object()) return make_error(ErrorCode::kDecode, what + ": predicate is not an object");
  std::vector<Bytes> out;
  for (const auto& m : members) {
    auto text = string_member(statement.predicate, m.member, what);
    if (!text) return std::unexpected(text.error());
    auto bytes = from_base64(*text);
    if (!bytes) {
      return make_error(ErrorCode::kDecode,
                        what + ": \"" + std::string(m.member) + "\" is not base64: " + bytes.error().message);
    }
    if (auto ok = verify_subject(statement, m.subject, *bytes); !ok) {
      return std::unexpected(Error{ok.error().code, what + ": \"" + std::string(m.member) +
                                                        "\" does not match its subject: " + ok.error().message});
    }
    out.push_back(std::move(*bytes));
  }
  if (statement.predicate.size() != members.size()) {
    for (const auto& [key, value] : statement.predicate.items()) {
      bool known = false;
      for (const auto& m : members) known = known || key == m.member;
      if (!known) return make_error(ErrorCode::kDecode, what + ": unknown predicate member \"" + key + "\"");
    }
  }
  return out;
}

Status require_json_object(std::string_view text, std::string_view what) {
  auto value = parse_strict_json(text, kMaxEnvelopeJsonBytes, what);
  if (!value) return std::unexpected(Error{ErrorCode::kInvalidArgument, value.error().message});
  if (!value->is_object()) return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": not a JSON object");
  return {};
}

std::string_view text_of(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Reads exactly `n` decimal digits at `pos`.
bool read_digits(std::string_view s, size_t pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// int64 nanoseconds reach ±9,223,372,036 seconds around 1970 (1677-09-21 to 2262-04-11).
constexpr int64_t kMaxSeconds = 9'223'372'035;

}  // namespace

// ---------------------------------------------------------------------------------------------------------------------

Result<Statement> image_manifest_statement(std::string_view manifest_json) {
  if (auto ok = require_json_object(manifest_json, "image manifest"); !ok) return std::unexpected(ok.error());
  return build(kImageManifestPredicateType, {{{"imageManifest", kImageManifestSubject}, as_bytes(manifest_json)}});
}

Result<std::string> image_manifest_from_statement(const Statement& statement) {
  auto data = extract(statement, kImageManifestPredicateType, {{"imageManifest", kImageManifestSubject}});
  if (!data) return std::unexpected(data.error());
  std::string json(text_of((*data)[0]));
  if (auto ok = require_json_object(json, "image manifest"); !ok) {
    return make_error(ErrorCode::kDecode, ok.error().message);
  }
  return json;
}

Result<Statement> currency_key_statement(std::string_view jwk_json) {
  if (auto ok = require_json_object(jwk_json, "currency key jwk"); !ok) return std::unexpected(ok.error());
  return build(kCurrencyKeyPredicateType, {{{"jwkRaw", kCurrencyKeySubject}, as_bytes(jwk_json)}});
}

Result<std::string> currency_key_from_statement(const Statement& statement) {
  auto data = extract(statement, kCurrencyKeyPredicateType, {{"jwkRaw", kCurrencyKeySubject}});
  if (!data) return std::unexpected(data.error());
  std::string json(text_of((*data)[0]));
  if (auto ok = require_json_object(json, "currency key jwk"); !ok) {
    return make_error(ErrorCode::kDecode, ok.error().message);
  }
  return json;
}

// ---------------------------------------------------------------------------------------------------------------------

std::string format_rfc3339(Timestamp t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<nanoseconds> time{t - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  std::string out = buf;
  if (int64_t frac = time.subseconds().count(); frac != 0) {
    std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(frac));
    std::string digits = buf;
    while (digits.back() == '0') digits.pop_back();
    out += digits;
  }
  return out + "Z";
}

Result<Timestamp> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;
  auto fail = [&](std::string_view why) {
    std::string shown = text.size() > 40 ? std::string(text.substr(0, 40)) + "..." : std::string(text);
    return make_error(ErrorCode::kDecode, "time \"" + shown + "\": " + std::string(why));
  };
  int64_t y, mo, d, h, mi, s;
  if (!read_digits(text, 0, 4, y) || text.size() < 19 || text[4] != '-' || !read_digits(text, 5, 2, mo) ||
      text[7] != '-' || !read_digits(text, 8, 2, d) || text[10] != 'T' || !read_digits(text, 11, 2, h) ||
      text[13] != ':' || !read_digits(text, 14, 2, mi) || text[16] != ':' || !read_digits(text, 17, 2, s)) {
    return fail("not RFC 3339 (YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm))");
  }
  const year_month_day ymd{year{static_cast<int>(y)}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return fail("no such date or time");
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (++digits > 9) return fail("more than 9 fraction digits");
      nanos = nanos * 10 + (text[pos++] - '0');
    }
    if (digits == 0) return fail("empty fraction");
    for (size_t k = digits; k < 9; ++k) nanos *= 10;
  }
  int64_t offset = 0;
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int64_t oh, om;
    if (pos + 6 > text.size() || !read_digits(text, pos + 1, 2, oh) || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
      return fail("bad UTC offset");
    }
    offset = (text[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return fail("missing time zone (Z or ±hh:mm)");
  }
  if (pos != text.size()) return fail("trailing characters");
  const int64_t seconds = static_cast<int64_t>(sys_days{ymd}.time_since_epoch().count()) * 86400 + h * 3600 +
                          mi * 60 + s - offset;
  if (seconds > kMaxSeconds || seconds < -kMaxSeconds) return fail("outside 1678..2262");
  return Timestamp{nanoseconds{seconds * 1'000'000'000 + nanos}};
}

std::string key_rotation_periods_to_json(std::span<const KeyRotationPeriod> periods) {
  Json array = Json::array();
  for (const auto& p : periods) {
    array.push_back(Json{{"active_from", format_rfc3339(p.active_from)},
                         {"active_until", format_rfc3339(p.active_until)},
                         {"key_id", p.key_id}});
  }
  return dump_canonical(array);
}

Result<std::vector<KeyRotationPeriod>> parse_key_rotation_periods(std::string_view json) {
  constexpr std::string_view kWhat = "key rotation periods";
  auto value = parse_strict_json(json, kMaxEnvelopeJsonBytes, kWhat);
  if (!value) return std::unexpected(value.error());
  if (!value->is_array()) return make_error(ErrorCode::kDecode, std::string(kWhat) + ": not a JSON array");
  if (value->size() > kMaxKeyRotationPeriods) {
    return make_error(ErrorCode::kLimitExceeded, std::string(kWhat) + ": " + std::to_string(value->size()) +
                                                     " periods exceed the limit of " +
                                                     std::to_string(kMaxKeyRotationPeriods));
  }
  std::vector<KeyRotationPeriod> periods;
  for (size_t i = 0; i < value->size(); ++i) {
    const Json& entry = (*value)[i];
    const std::string what = std::string(kWhat) + "[" + std::to_string(i) + "]";
    if (!entry.is_object()) return make_error(ErrorCode::kDecode, what + ": not an object");
    if (auto ok = require_members_within(entry, {"active_from", "active_until", "key_id"}, what); !ok) {
      return std::unexpected(ok.error());
    }
    auto key_id = uint_member(entry, "key_id", what);
    if (!key_id) return std::unexpected(key_id.error());
    if (*key_id > 255) return make_error(ErrorCode::kDecode, what + ": key_id " + std::to_string(*key_id) + " > 255");
    KeyRotationPeriod period;
    period.key_id = static_cast<uint8_t>(*key_id);
    for (auto [member, out] : {std::pair{"active_from", &period.active_from},
                               std::pair{"active_until", &period.active_until}}) {
      auto text = string_member(entry, member, what);
      if (!text) return std::unexpected(text.error());
      auto t = parse_rfc3339(*text);
      if (!t) return make_error(ErrorCode::kDecode, what + ": " + member + ": " + t.error().message);
      *out = *t;
    }
    if (!(period.active_from < period.active_until)) {
      return make_error(ErrorCode::kDecode, what + ": active_from is not before active_until");
    }
    periods.push_back(period);
  }
  return periods;
}

std::vector<uint8_t> active_key_ids(std::span<const KeyRotationPeriod> periods, Timestamp now) {
  std::vector<const KeyRotationPeriod*> active;
  for (const auto& p : periods) {
    if (p.active_from < now && now <= p.active_until) active.push_back(&p);
  }
  std::stable_sort(active.begin(), active.end(),
                   [](const auto* a, const auto* b) { return a->active_from > b->active_from; });
  std::vector<uint8_t> ids;
  for (const auto* p : active) {
    if (std::find(ids.begin(), ids.end(), p->key_id) == ids.end()) ids.push_back(p->key_id);
  }
  return ids;
}

Result<std::vector<uint8_t>> ohttp_keys_key_ids(ByteSpan ohttp_keys) {
  if (ohttp_keys.empty()) return make_error(ErrorCode::kDecode, "ohttp keys: empty list");
  ByteReader reader(ohttp_keys);
  std::vector<uint8_t> ids;
  while (!reader.empty()) {
    auto length = reader.read_u16be("ohttp keys: config length");
    if (!length) return std::unexpected(length.error());
    if (*length == 0) return make_error(ErrorCode::kDecode, "ohttp keys: empty config");
    auto config = reader.read_bytes(*length, "ohttp keys: config");
    if (!config) return std::unexpected(config.error());
    ids.push_back((*config)[0]);
  }
  return ids;
}

Result<Statement> ohttp_keys_statement(ByteSpan ohttp_keys, std::span<const KeyRotationPeriod> periods) {
  const std::string periods_json = key_rotation_periods_to_json(periods);
  // The same checks the extractor makes, so that what we publish is what clients accept.
  auto ids = ohttp_keys_key_ids(ohttp_keys);
  if (!ids) return make_error(ErrorCode::kInvalidArgument, ids.error().message);
  auto parsed = parse_key_rotation_periods(periods_json);
  if (!parsed) return make_error(ErrorCode::kInvalidArgument, parsed.error().message);
  if (parsed->empty()) return make_error(ErrorCode::kInvalidArgument, "ohttp keys: no key rotation periods");
  for (const auto& p : *parsed) {
    if (std::find(ids->begin(), ids->end(), p.key_id) == ids->end()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "ohttp keys: no config for the key id " + std::to_string(p.key_id) + " of a rotation period");
    }
  }
  return build(kOhttpKeysPredicateType, {{{"ohttpKeys", kOhttpKeysSubject}, ohttp_keys},
                                         {{"keyRotationPeriods", kKeyRotationPeriodsSubject}, as_bytes(periods_json)}});
}

Result<OhttpKeysPredicate> ohttp_keys_from_statement(const Statement& statement) {
  auto data = extract(statement, kOhttpKeysPredicateType,
                      {{"ohttpKeys", kOhttpKeysSubject}, {"keyRotationPeriods", kKeyRotationPeriodsSubject}});
  if (!data) return std::unexpected(data.error());
  auto ids = ohttp_keys_key_ids((*data)[0]);
  if (!ids) return std::unexpected(ids.error());
  auto periods = parse_key_rotation_periods(text_of((*data)[1]));
  if (!periods) return std::unexpected(periods.error());
  if (periods->empty()) return make_error(ErrorCode::kDecode, "ohttp keys: no key rotation periods");
  for (const auto& p : *periods) {
    if (std::find(ids->begin(), ids->end(), p.key_id) == ids->end()) {
      return make_error(ErrorCode::kDecode,
                        "ohttp keys: no config for the key id " + std::to_string(p.key_id) + " of a rotation period");
    }
  }
  return OhttpKeysPredicate{std::move((*data)[0]), std::move(*periods)};
}

}  // namespace openpcc::transparency
