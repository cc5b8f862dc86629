// in-toto Statement v1 (github.com/in-toto/attestation, spec/v1/statement.md) carried in a DSSE envelope with payload
// type application/vnd.in-toto+json:
//
//   {"_type":"https://in-toto.io/Statement/v1",
//    "subject":[{"name":"jwk","digest":{"sha256":"<64 lowercase hex>"}}],
//    "predicateType":"https://confident.security/v1/public-key",
//    "predicate":{...}}
//
// A statement binds its predicate to the subjects by digest; what a subject is, and what the predicate says about it,
// depends on the predicate type (predicates.h). Verifying a signed statement proves who published it; verify_subject
// then proves that a given artifact is the one the statement talks about.
//
// Parsing is strict where it matters for a verifier: the _type, a non-empty subject list with unique names, every
// digest a lowercase hex string (sha256: exactly 64 characters), duplicate JSON keys refused. Unknown top-level members
// are ignored, as in-toto requires of consumers.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/ed25519.h"
#include "transparency/dsse.h"

namespace openpcc::transparency {

inline constexpr std::string_view kInTotoStatementType = "https://in-toto.io/Statement/v1";
inline constexpr size_t kMaxStatementSubjects = 64;

struct Subject {
  std::string name;
  std::map<std::string, std::string> digest;  // algorithm → lowercase hex, e.g. {"sha256": "ab12…"}
  friend bool operator==(const Subject&, const Subject&) = default;
};

struct Statement {
  std::vector<Subject> subject;
  std::string predicate_type;
  nlohmann::json predicate = nlohmann::json::object();  // an object (in-toto allows it to be absent: then {})
  friend bool operator==(const Statement&, const Statement&) = default;
};

// The subject for an artifact: {name, {"sha256": hex(SHA-256(artifact))}}.
Subject subject_for(std::string name, ByteSpan artifact);

// Compact JSON with members in ascending order. Deterministic, so the same statement signs to the same payload.
std::string to_json(const Statement& statement);

// kDecode for anything that is not a valid Statement v1 (the message names the member); kLimitExceeded for more than
// kMaxEnvelopeJsonBytes or more than kMaxStatementSubjects subjects.
Result<Statement> parse_statement(std::string_view json);

// Succeeds when the statement has a subject called `name` whose sha256 digest is SHA-256(artifact). kNotFound when
// there is no such subject or it has no sha256 digest; kAuthenticationFailed when the digest differs.
Status verify_subject(const Statement& statement, std::string_view name, ByteSpan artifact);

// A DSSE envelope of type application/vnd.in-toto+json holding to_json(statement), signed by `key`.
// kInvalidArgument for a statement that would not parse back (no subjects, a subject without digests, ...).
Result<DsseEnvelope> sign_statement(const Statement& statement, const crypto::Ed25519PrivateKey& key);

// dsse_verify with payload type application/vnd.in-toto+json, then parse_statement of the payload. Errors are
// dsse_verify's, or parse_statement's prefixed with "statement".
Result<Statement> verify_envelope(const DsseEnvelope& envelope, const PublisherKeys& keys);

}  // namespace openpcc::transparency
