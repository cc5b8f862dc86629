#include "transparency/statement.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/sha256.h"

namespace openpcc::transparency {
namespace {

using crypto::Ed25519PrivateKey;

Ed25519PrivateKey fixed_key(uint8_t fill) {
  auto key = Ed25519PrivateKey::from_seed(Bytes(32, fill));
  EXPECT_TRUE(key.has_value());
  return std::move(*key);
}

Statement example() {
  Statement s;
  s.subject.push_back(subject_for("artifact", as_bytes("hello")));
  s.predicate_type = "https://example.com/predicate/v1";
  s.predicate = {{"note", "hi"}, {"n", 3}};
  return s;
}

// SHA-256("hello")
constexpr std::string_view kHelloSha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

TEST(Statement, SubjectFor) {
  Subject s = subject_for("x", as_bytes("hello"));
  EXPECT_EQ(s.name, "x");
  ASSERT_EQ(s.digest.size(), 1u);
  EXPECT_EQ(s.digest.at("sha256"), kHelloSha256);
}

TEST(Statement, CanonicalJson) {
  EXPECT_EQ(to_json(example()),
            R"({"_type":"https://in-toto.io/Statement/v1","predicate":{"n":3,"note":"hi"},)"
            R"("predicateType":"https://example.com/predicate/v1",)"
            R"("subject":[{"digest":{"sha256":")" +
                std::string(kHelloSha256) + R"("},"name":"artifact"}]})");
  auto back = parse_statement(to_json(example()));
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(*back, example());
}

TEST(Statement, ParsesTheInTotoExampleShape) {
  // Members in the spec's order, other digest algorithms, extra subject fields and unknown top-level members (which
  // consumers must ignore); no predicate at all.
  const std::string json = R"({
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "a.tar", "digest": {"sha256": ")" + std::string(kHelloSha256) +
                           R"(", "sha512": "abc"}, "uri": "https://x"}],
    "predicateType": "https://slsa.dev/provenance/v1",
    "futureField": true})";
  auto s = parse_statement(json);
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_EQ(s->subject[0].digest.size(), 2u);
  EXPECT_TRUE(s->predicate.is_object());
  EXPECT_TRUE(s->predicate.empty());
  EXPECT_TRUE(verify_subject(*s, "a.tar", as_bytes("hello")).has_value());
}

void expect_rejected(const std::string& json, std::string_view message_part,
                     ErrorCode code = ErrorCode::kDecode) {
  auto s = parse_statement(json);
  ASSERT_FALSE(s.has_value()) << json;
  EXPECT_EQ(s.error().code, code) << s.error().to_string();
  EXPECT_NE(s.error().message.find(message_part), std::string::npos) << s.error().to_string();
}

std::string with(std::string_view type, std::string_view subject, std::string_view rest) {
  return R"({"_type":")" + std::string(type) + R"(","subject":)" + std::string(subject) + std::string(rest) + "}";
}

TEST(Statement, StrictParse) {
  const std::string t(kInTotoStatementType);
  const std::string good_subject = R"([{"name":"a","digest":{"sha256":")" + std::string(kHelloSha256) + R"("}}])";
  const std::string pt = R"(,"predicateType":"p")";
  ASSERT_TRUE(parse_statement(with(t, good_subject, pt)).has_value());

  expect_rejected("[]", "not a JSON object");
  expect_rejected(with("https://in-toto.io/Statement/v0.1", good_subject, pt), "_type");
  expect_rejected(R"({"subject":[],"predicateType":"p"})", "missing \"_type\"");
  expect_rejected(with(t, "[]", pt), "non-empty array");
  expect_rejected(with(t, "{}", pt), "non-empty array");
  expect_rejected(with(t, good_subject, ""), "missing \"predicateType\"");
  expect_rejected(with(t, good_subject, R"(,"predicateType":"")"), "empty predicateType");
  expect_rejected(with(t, good_subject, pt + R"(,"predicate":[1])"), "\"predicate\" must be an object");
  expect_rejected(with(t, good_subject, pt + R"(,"predicate":"x")"), "\"predicate\" must be an object");
  expect_rejected(with(t, R"([{"digest":{"sha256":"00"}}])", pt), "subject[0]: missing \"name\"");
  expect_rejected(with(t, R"([{"name":"","digest":{"a":"b"}}])", pt), "empty name");
  expect_rejected(with(t, R"([{"name":"a"}])", pt), "\"digest\" must be a non-empty object");
  expect_rejected(with(t, R"([{"name":"a","digest":{}}])", pt), "\"digest\" must be a non-empty object");
  expect_rejected(with(t, R"([{"name":"a","digest":{"sha1":7}}])", pt), "digest \"sha1\"");
  expect_rejected(with(t, R"([{"name":"a","digest":{"sha256":"00"}}])", pt), "64 lowercase hex");
  std::string upper(kHelloSha256);
  upper[0] = 'C';
  upper[1] = 'F';
  expect_rejected(with(t, R"([{"name":"a","digest":{"sha256":")" + upper + R"("}}])", pt), "64 lowercase hex");
  expect_rejected(with(t, R"([{"name":"a","digest":{"x":"1"}},{"name":"a","digest":{"x":"2"}}])", pt),
                  "subject name \"a\" appears twice");
  // Duplicate keys anywhere, including inside the predicate, are refused.
  expect_rejected(with(t, good_subject, pt + R"(,"predicateType":"q")"), "duplicate key \"predicateType\"");
  expect_rejected(with(t, good_subject, pt + R"(,"predicate":{"k":1,"k":2})"), "duplicate key \"k\"");
  expect_rejected(with(t, good_subject, pt + R"(,"predicate":{"k":1e999})"), "number overflow");

  std::string many = "[";
  for (size_t i = 0; i <= kMaxStatementSubjects; ++i) {
    many += (i ? "," : "") + std::string(R"({"name":"s)") + std::to_string(i) + R"(","digest":{"x":"1"}})";
  }
  many += "]";
  expect_rejected(with(t, many, pt), "65 subjects", ErrorCode::kLimitExceeded);
}

TEST(Statement, VerifySubject) {
  Statement s = example();
  s.subject.push_back({"other-algorithm", {{"sha512", "00"}}});
  EXPECT_TRUE(verify_subject(s, "artifact", as_bytes("hello")).has_value());

  auto mismatch = verify_subject(s, "artifact", as_bytes("hellO"));
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_EQ(mismatch.error().code, ErrorCode::kAuthenticationFailed);
  EXPECT_NE(mismatch.error().message.find("subject \"artifact\""), std::string::npos);

  auto missing = verify_subject(s, "nothing", as_bytes("hello"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("no subject named \"nothing\""), std::string::npos);

  auto no_sha256 = verify_subject(s, "other-algorithm", as_bytes("hello"));
  ASSERT_FALSE(no_sha256.has_value());
  EXPECT_EQ(no_sha256.error().code, ErrorCode::kNotFound);
}

TEST(StatementSigning, RoundTrip) {
  const auto key = fixed_key(7);
  auto envelope = sign_statement(example(), key);
  ASSERT_TRUE(envelope.has_value()) << envelope.error().to_string();
  EXPECT_EQ(envelope->payload_type, kInTotoPayloadType);
  EXPECT_EQ(std::string(envelope->payload.begin(), envelope->payload.end()), to_json(example()));

  auto keys = PublisherKeys::of({key.public_key()});
  ASSERT_TRUE(keys.has_value());
  auto parsed = parse_dsse_envelope(to_json(*envelope));
  ASSERT_TRUE(parsed.has_value());
  auto statement = verify_envelope(*parsed, *keys);
  ASSERT_TRUE(statement.has_value()) << statement.error().to_string();
  EXPECT_EQ(*statement, example());
}

TEST(StatementSigning, RefusesStatementsThatWouldNotParse) {
  const auto key = fixed_key(7);
  Statement no_subjects = example();
  no_subjects.subject.clear();
  EXPECT_EQ(sign_statement(no_subjects, key).error().code, ErrorCode::kInvalidArgument);
  Statement no_type = example();
  no_type.predicate_type.clear();
  EXPECT_EQ(sign_statement(no_type, key).error().code, ErrorCode::kInvalidArgument);
  Statement array_predicate = example();
  array_predicate.predicate = nlohmann::json::array();
  EXPECT_EQ(sign_statement(array_predicate, key).error().code, ErrorCode::kInvalidArgument);
  Statement bad_utf8 = example();
  bad_utf8.subject[0].name = "\xff";
  EXPECT_EQ(sign_statement(bad_utf8, key).error().code, ErrorCode::kInvalidArgument);
}

TEST(StatementSigning, VerifyEnvelopeRejects) {
  const auto key = fixed_key(7);
  const auto other = fixed_key(8);
  auto keys = PublisherKeys::of({key.public_key()});
  ASSERT_TRUE(keys.has_value());

  // Signed by an untrusted key.
  auto by_other = sign_statement(example(), other);
  ASSERT_TRUE(by_other.has_value());
  EXPECT_EQ(verify_envelope(*by_other, *keys).error().code, ErrorCode::kAuthenticationFailed);

  // A properly signed envelope of another payload type.
  auto other_type = dsse_sign("application/json", to_bytes(to_json(example())), key);
  ASSERT_TRUE(other_type.has_value());
  EXPECT_EQ(verify_envelope(*other_type, *keys).error().code, ErrorCode::kUnsupported);

  // A properly signed in-toto envelope whose payload is not a statement.
  auto not_statement = dsse_sign(std::string(kInTotoPayloadType), to_bytes(R"({"_type":"x"})"), key);
  ASSERT_TRUE(not_statement.has_value());
  auto err = verify_envelope(*not_statement, *keys);
  ASSERT_FALSE(err.has_value());
  EXPECT_EQ(err.error().code, ErrorCode::kDecode);
  EXPECT_NE(err.error().message.find("statement: _type"), std::string::npos);
}

}  // namespace
}  // namespace openpcc::transparency
