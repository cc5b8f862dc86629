#include "transparency/statement.h"

#include <set>
#include <utility>

#include "crypto/sha256.h"
#include "transparency/strict_json.h"

namespace openpcc::transparency {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kWhat = "statement";

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string shown(std::string_view s) { return s.size() > 64 ? std::string(s.substr(0, 64)) + "..." : std::string(s); }

Result<Subject> subject_from_json(const Json& value, size_t index) {
  const std::string what = std::string(kWhat) + ": subject[" + std::to_string(index) + "]";
  if (!value.is_object()) return make_error(ErrorCode::kDecode, what + ": not an object");
  Subject subject;
  auto name = string_member(value, "name", what);
  if (!name) return std::unexpected(name.error());
  if (name->empty()) return make_error(ErrorCode::kDecode, what + ": empty name");
  subject.name = std::move(*name);
  const Json* digest = find_member(value, "digest");
  if (digest == nullptr || !digest->is_object() || digest->empty()) {
    return make_error(ErrorCode::kDecode,
                      what + " \"" + shown(subject.name) + "\": \"digest\" must be a non-empty object");
  }
  for (const auto& [algorithm, hex] : digest->items()) {
    if (!hex.is_string() || hex.get_ref<const std::string&>().empty()) {
      return make_error(ErrorCode::kDecode, what + ": digest \"" + shown(algorithm) + "\" must be a non-empty string");
    }
    const auto& text = hex.get_ref<const std::string&>();
    if (algorithm == "sha256" && (text.size() != 2 * crypto::kSha256Size || !is_lower_hex(text))) {
      return make_error(ErrorCode::kDecode, what + ": digest \"sha256\" must be 64 lowercase hex characters");
    }
    subject.digest.emplace(algorithm, text);
  }
  return subject;
}

Result<Statement> statement_from_json(const Json& value) {
  if (!value.is_object()) return make_error(ErrorCode::kDecode, std::string(kWhat) + ": not a JSON object");
  auto type = string_member(value, "_type", kWhat);
  if (!type) return std::unexpected(type.error());
  if (*type != kInTotoStatementType) {
    return make_error(ErrorCode::kDecode, std::string(kWhat) + ": _type \"" + shown(*type) + "\" is not \"" +
                                              std::string(kInTotoStatementType) + "\"");
  }
  Statement statement;
  const Json* subjects = find_member(value, "subject");
  if (subjects == nullptr || !subjects->is_array() || subjects->empty()) {
    return make_error(ErrorCode::kDecode, std::string(kWhat) + ": \"subject\" must be a non-empty array");
  }
  if (subjects->size() > kMaxStatementSubjects) {
    return make_error(ErrorCode::kLimitExceeded, std::string(kWhat) + ": " + std::to_string(subjects->size()) +
                                                     " subjects exceed the limit of " +
                                                     std::to_string(kMaxStatementSubjects));
  }
  std::set<std::string_view> names;
  for (size_t i = 0; i < subjects->size(); ++i) {
    auto subject = subject_from_json((*subjects)[i], i);
    if (!subject) return std::unexpected(subject.error());
    statement.subject.push_back(std::move(*subject));
  }
  for (const auto& subject : statement.subject) {
    if (!names.insert(subject.name).second) {
      return make_error(ErrorCode::kDecode,
                        std::string(kWhat) + ": subject name \"" + shown(subject.name) + "\" appears twice");
    }
  }
  auto predicate_type = string_member(value, "predicateType", kWhat);
  if (!predicate_type) return std::unexpected(predicate_type.error());
  if (predicate_type->empty()) return make_error(ErrorCode::kDecode, std::string(kWhat) + ": empty predicateType");
  statement.predicate_type = std::move(*predicate_type);
  if (const Json* predicate = find_member(value, "predicate")) {
    if (!predicate->is_object()) {
      return make_error(ErrorCode::kDecode, std::string(kWhat) + ": \"predicate\" must be an object");
    }
    statement.predicate = *predicate;
  }
  return statement;
}

}  // namespace

Subject subject_for(std::string name, ByteSpan artifact) {
  return Subject{std::move(name), {{"sha256", to_hex(crypto::sha256(artifact))}}};
}

std::string to_json(const Statement& statement) {
  Json subjects = Json::array();
  for (const auto& s : statement.subject) {
    Json digest = Json::object();
    for (const auto& [algorithm, hex] : s.digest) digest[algorithm] = hex;
    subjects.push_back(Json{{"name", s.name}, {"digest", std::move(digest)}});
  }
  return dump_canonical(Json{{"_type", kInTotoStatementType},
                             {"subject", std::move(subjects)},
                             {"predicateType", statement.predicate_type},
                             {"predicate", statement.predicate}});
}

Result<Statement> parse_statement(std::string_view json) {
  auto value = parse_strict_json(json, kMaxEnvelopeJsonBytes, kWhat);
  if (!value) return std::unexpected(value.error());
  return statement_from_json(*value);
}

Status verify_subject(const Statement& statement, std::string_view name, ByteSpan artifact) {
  for (const auto& subject : statement.subject) {
    if (subject.name != name) continue;
    auto it = subject.digest.find("sha256");
    if (it == subject.digest.end()) {
      return make_error(ErrorCode::kNotFound, "statement: subject \"" + shown(name) + "\" has no sha256 digest");
    }
    if (it->second != to_hex(crypto::sha256(artifact))) {
      return make_error(ErrorCode::kAuthenticationFailed,
                        "statement: subject \"" + shown(name) + "\": the sha256 digest does not match the artifact");
    }
    return {};
  }
  return make_error(ErrorCode::kNotFound, "statement: no subject named \"" + shown(name) + "\"");
}

Result<DsseEnvelope> sign_statement(const Statement& statement, const crypto::Ed25519PrivateKey& key) {
  std::string payload = to_json(statement);
  // What we sign must be what verifiers accept; the round trip also catches non-UTF-8 strings.
  auto check = parse_statement(payload);
  if (!check) return make_error(ErrorCode::kInvalidArgument, "sign statement: " + check.error().message);
  if (!(*check == statement)) {
    return make_error(ErrorCode::kInvalidArgument, "sign statement: the statement does not survive serialization");
  }
  return dsse_sign(std::string(kInTotoPayloadType), to_bytes(payload), key);
}

Result<Statement> verify_envelope(const DsseEnvelope& envelope, const PublisherKeys& keys) {
  auto signers = dsse_verify(envelope, keys, kInTotoPayloadType);
  if (!signers) return std::unexpected(signers.error());
  const ByteSpan payload = envelope.payload;
  return parse_statement(std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()));
}

}  // namespace openpcc::transparency
