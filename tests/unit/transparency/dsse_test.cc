#include "transparency/dsse.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "crypto/sha256.h"
#include "transparency/strict_json.h"

namespace openpcc::transparency {
namespace {

using crypto::Ed25519PrivateKey;
using crypto::Ed25519PublicKey;

Ed25519PrivateKey key_from_hex(std::string_view seed_hex) {
  auto seed = from_hex(seed_hex);
  EXPECT_TRUE(seed.has_value());
  auto key = Ed25519PrivateKey::from_seed(*seed);
  EXPECT_TRUE(key.has_value());
  return std::move(*key);
}

// RFC 8032 §7.1 TEST 1 and TEST 2 (also the keys "A" and "B" of the DSSE vectors).
Ed25519PrivateKey key_a() { return key_from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"); }
Ed25519PrivateKey key_b() { return key_from_hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"); }

PublisherKeys trust(std::initializer_list<Ed25519PublicKey> keys) {
  auto set = PublisherKeys::of(keys);
  EXPECT_TRUE(set.has_value()) << set.error().to_string();
  return std::move(*set);
}

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

TEST(DssePae, SpecExample) {
  // protocol.md's test vector.
  EXPECT_EQ(text(dsse_pae("http://example.com/HelloWorld", as_bytes("hello world"))),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
}

TEST(DssePae, EmptyPartsKeepTheirSpaces) {
  EXPECT_EQ(text(dsse_pae("", {})), "DSSEv1 0  0 ");
  EXPECT_EQ(text(dsse_pae("t", {})), "DSSEv1 1 t 0 ");
}

TEST(DssePae, LengthsAreBytesNotCharacters) {
  EXPECT_EQ(text(dsse_pae("\xc3\xa4", as_bytes("x"))), "DSSEv1 2 \xc3\xa4 1 x");
  const Bytes payload(1000, 'a');
  const Bytes pae = dsse_pae("t", payload);
  EXPECT_EQ(text(Bytes(pae.begin(), pae.begin() + 16)), "DSSEv1 1 t 1000 ");
  EXPECT_EQ(pae.size(), 16 + payload.size());
}

// ---------------------------------------------------------------------------------------------------------------------
// The DSSE repository's protocol vectors.

nlohmann::json load_vectors() {
  std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/dsse/vectors.json");
  EXPECT_TRUE(in.good());
  std::stringstream s;
  s << in.rdbuf();
  return nlohmann::json::parse(s.str());
}

TEST(DsseVectors, AllVectorsGiveTheExpectedAnswer) {
  const nlohmann::json file = load_vectors();
  ASSERT_EQ(file["vectors"].size(), 9u);
  std::map<std::string, Ed25519PublicKey> named;
  for (const auto& [name, key] : file["keys"].items()) {
    auto pub = Ed25519PublicKey::from_bytes(*from_hex(key["public"].get<std::string>()));
    ASSERT_TRUE(pub.has_value());
    named.emplace(name, *pub);
    // The seed in the file gives that public key (our key derivation agrees).
    EXPECT_EQ(key_from_hex(key["seed"].get<std::string>()).public_key(), *pub);
  }
  int accepted = 0;
  for (const auto& v : file["vectors"]) {
    SCOPED_TRACE(v["id"].get<std::string>());
    auto envelope = parse_dsse_envelope(v["envelope"].dump());
    ASSERT_TRUE(envelope.has_value()) << envelope.error().to_string();

    // Every signature in the file is a valid signature over the stated PAE, by one of the two keys.
    const Bytes pae = *from_hex(v["pae"].get<std::string>());
    for (const auto& s : envelope->signatures) {
      bool by_one = false;
      for (const auto& [name, key] : named) by_one = by_one || key.verify(pae, s.sig).has_value();
      EXPECT_TRUE(by_one);
    }
    if (v["id"] != "payload-type-swapped") {
      EXPECT_EQ(dsse_pae(envelope->payload_type, envelope->payload), pae);
    }

    PublisherKeys keys;
    for (const auto& name : v["trustedKeys"]) {
      ASSERT_TRUE(keys.add(name.get<std::string>(), named.at(name.get<std::string>())).has_value());
    }
    ASSERT_TRUE(keys.set_threshold(v["threshold"].get<size_t>()).has_value());
    // The verifier supports several types: it expects the one the envelope claims when it supports it.
    std::string expected = v["supportedPayloadTypes"][0].get<std::string>();
    for (const auto& t : v["supportedPayloadTypes"]) {
      if (t == envelope->payload_type) expected = t.get<std::string>();
    }
    auto result = dsse_verify(*envelope, keys, expected);
    if (v["expect"] == "accept") {
      EXPECT_TRUE(result.has_value()) << result.error().to_string();
      if (result) {
        EXPECT_EQ(result->size(), v["threshold"].get<size_t>());
      }
      ++accepted;
    } else {
      EXPECT_FALSE(result.has_value());
    }
  }
  EXPECT_EQ(accepted, 6);
}

TEST(DsseVectors, OurSignerReproducesTheVectorSignature) {
  // Ed25519 is deterministic, so signing the first vector's payload with key A gives its signature byte for byte.
  const nlohmann::json file = load_vectors();
  const auto& v = file["vectors"][0];
  auto expected = parse_dsse_envelope(v["envelope"].dump());
  ASSERT_TRUE(expected.has_value());
  auto ours = dsse_sign(expected->payload_type, expected->payload, key_a());
  ASSERT_TRUE(ours.has_value());
  EXPECT_EQ(ours->signatures[0].sig, expected->signatures[0].sig);
}

// ---------------------------------------------------------------------------------------------------------------------
// JSON form.

TEST(DsseJson, CanonicalForm) {
  DsseEnvelope e{"http://example.com/HelloWorld", to_bytes("hello world"), {{"k1", Bytes{0xfb, 0xff}}, {"", Bytes{1}}}};
  EXPECT_EQ(to_json(e),
            R"({"payload":"aGVsbG8gd29ybGQ=","payloadType":"http://example.com/HelloWorld",)"
            R"("signatures":[{"keyid":"k1","sig":"+/8="},{"sig":"AQ=="}]})");
  auto back = parse_dsse_envelope(to_json(e));
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(*back, e);
}

TEST(DsseJson, TextEqualsTheJsonValueDump) {
  // to_json writes the text directly; it must equal the dump of the JSON value (which bundles embed) byte for byte,
  // escapes included.
  for (const DsseEnvelope& e : {
           DsseEnvelope{},
           DsseEnvelope{"a\"b\\c\n\x01\x7f/\xc3\xa4\xe2\x80\x94", Bytes(100, 0xfe), {{"", Bytes(64, 1)}}},
           DsseEnvelope{"t", {}, {{"k\"\t", {}}, {"", {}}, {"\xf0\x9f\x98\x80", Bytes{1, 2, 3}}}},
           DsseEnvelope{"bad \xff utf-8", {}, {{"\xc3", {}}}},
       }) {
    EXPECT_EQ(to_json(e), dump_canonical(dsse_envelope_to_json_value(e)));
  }
}

TEST(DsseJson, ParsedEnvelopesReserializeCanonically) {
  // Any spacing, member order and either base64 alphabet gives the one canonical text (and so one log leaf).
  const std::string loose = R"({ "signatures" : [ { "sig" : "-_8", "keyid" : "k1" } ],
                                 "payloadType" : "t", "payload" : "aGk" })";
  auto e = parse_dsse_envelope(loose);
  ASSERT_TRUE(e.has_value()) << e.error().to_string();
  EXPECT_EQ(text(e->payload), "hi");
  EXPECT_EQ(e->signatures[0].sig, (Bytes{0xfb, 0xff}));
  EXPECT_EQ(to_json(*e), R"({"payload":"aGk=","payloadType":"t","signatures":[{"keyid":"k1","sig":"+/8="}]})");
}

TEST(DsseJson, EmptyMembersMayBeOmitted) {
  auto e = parse_dsse_envelope(R"({"signatures":[{}]})");
  ASSERT_TRUE(e.has_value()) << e.error().to_string();
  EXPECT_TRUE(e->payload_type.empty());
  EXPECT_TRUE(e->payload.empty());
  ASSERT_EQ(e->signatures.size(), 1u);
  EXPECT_TRUE(e->signatures[0].keyid.empty());
  EXPECT_TRUE(e->signatures[0].sig.empty());
  auto bare = parse_dsse_envelope("{}");
  ASSERT_TRUE(bare.has_value());
  EXPECT_TRUE(bare->signatures.empty());
}

void expect_rejected(std::string_view json, ErrorCode code, std::string_view message_part) {
  auto e = parse_dsse_envelope(json);
  ASSERT_FALSE(e.has_value()) << json;
  EXPECT_EQ(e.error().code, code) << e.error().to_string();
  EXPECT_NE(e.error().message.find(message_part), std::string::npos) << e.error().to_string();
}

TEST(DsseJson, StrictParse) {
  expect_rejected("", ErrorCode::kDecode, "malformed JSON");
  expect_rejected("[]", ErrorCode::kDecode, "not a JSON object");
  expect_rejected(R"({"payload":"aGk="} x)", ErrorCode::kDecode, "malformed JSON");
  expect_rejected(R"({"payload":"aGk=","payload":"aGk="})", ErrorCode::kDecode, "duplicate key \"payload\"");
  expect_rejected(R"({"payload":"aGk=","extra":1})", ErrorCode::kDecode, "unknown member \"extra\"");
  expect_rejected(R"({"payload":1})", ErrorCode::kDecode, "\"payload\" must be a string");
  expect_rejected(R"({"payloadType":null})", ErrorCode::kDecode, "\"payloadType\" must be a string");
  expect_rejected(R"({"signatures":{}})", ErrorCode::kDecode, "\"signatures\" must be an array");
  expect_rejected(R"({"signatures":["x"]})", ErrorCode::kDecode, "signatures[0]: not an object");
  expect_rejected(R"({"signatures":[{"sig":"AQ==","key":"k"}]})", ErrorCode::kDecode, "unknown member \"key\"");
  expect_rejected(R"({"signatures":[{"sig":"AQ==","sig":"AQ=="}]})", ErrorCode::kDecode, "duplicate key");
  expect_rejected(R"({"signatures":[{"keyid":5}]})", ErrorCode::kDecode, "\"keyid\" must be a string");
  // base64: one alphabet per string, correct padding, no stray characters or non-zero trailing bits.
  expect_rejected(R"({"payload":"+_8="})", ErrorCode::kDecode, "mixes");
  expect_rejected(R"({"payload":"aGk=="})", ErrorCode::kDecode, "payload");
  expect_rejected(R"({"payload":"a+k"})", ErrorCode::kDecode, "payload");
  expect_rejected(R"({"payload":"aGl="})", ErrorCode::kDecode, "trailing bits");
  expect_rejected(R"({"payload":"aG k="})", ErrorCode::kDecode, "payload");
  expect_rejected(R"({"signatures":[{"sig":"!!!!"}]})", ErrorCode::kDecode, "signatures[0].sig");
  // Invalid UTF-8 inside a JSON string.
  expect_rejected("{\"payloadType\":\"\xff\"}", ErrorCode::kDecode, "malformed JSON");
}

TEST(DsseJson, Limits) {
  std::string many = R"({"signatures":[)";
  for (size_t i = 0; i < kMaxEnvelopeSignatures + 1; ++i) many += (i ? "," : "") + std::string(R"({"sig":"AQ=="})");
  many += "]}";
  expect_rejected(many, ErrorCode::kLimitExceeded, "17 signatures");

  std::string sixteen = R"({"signatures":[)";
  for (size_t i = 0; i < kMaxEnvelopeSignatures; ++i) sixteen += (i ? "," : "") + std::string(R"({"sig":"AQ=="})");
  sixteen += "]}";
  EXPECT_TRUE(parse_dsse_envelope(sixteen).has_value());

  const std::string big = R"({"payload":")" + std::string(kMaxEnvelopeJsonBytes, 'A') + R"("})";
  expect_rejected(big, ErrorCode::kLimitExceeded, "exceed the limit");

  std::string deep(100, '[');
  deep += std::string(100, ']');
  expect_rejected(R"({"payload":)" + deep + "}", ErrorCode::kLimitExceeded, "nesting");
}

// ---------------------------------------------------------------------------------------------------------------------
// Signing and verification.

TEST(DsseKeys, KeyidIsHexSha256OfTheRawPublicKey) {
  const auto key = key_a();
  EXPECT_EQ(publisher_key_id(key.public_key()), to_hex(crypto::sha256(key.public_key().bytes())));
  EXPECT_EQ(publisher_key_id(key.public_key()).size(), 64u);
}

TEST(DsseKeys, SetRules) {
  const auto a = key_a().public_key();
  const auto b = key_b().public_key();
  PublisherKeys keys;
  ASSERT_TRUE(keys.add(a).has_value());
  EXPECT_EQ(keys.add(a).error().code, ErrorCode::kInvalidArgument);         // same keyid
  EXPECT_EQ(keys.add("other", a).error().code, ErrorCode::kInvalidArgument);  // same key, other keyid
  EXPECT_EQ(keys.add("", b).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(keys.set_threshold(0).error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(keys.add(b).has_value());
  EXPECT_EQ(keys.size(), 2u);
  ASSERT_NE(keys.find(publisher_key_id(b)), nullptr);
  EXPECT_EQ(*keys.find(publisher_key_id(b)), b);
  EXPECT_EQ(keys.find("nope"), nullptr);
  EXPECT_FALSE(PublisherKeys::of({a, a}).has_value());
}

TEST(DsseSign, RoundTrip) {
  const auto key = key_a();
  auto e = dsse_sign(std::string(kInTotoPayloadType), to_bytes("{}"), key);
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->signatures.size(), 1u);
  EXPECT_EQ(e->signatures[0].keyid, publisher_key_id(key.public_key()));
  EXPECT_EQ(e->signatures[0].sig.size(), crypto::kEd25519SignatureSize);

  auto parsed = parse_dsse_envelope(to_json(*e));
  ASSERT_TRUE(parsed.has_value());
  auto signers = dsse_verify(*parsed, trust({key.public_key()}), kInTotoPayloadType);
  ASSERT_TRUE(signers.has_value()) << signers.error().to_string();
  EXPECT_EQ(*signers, std::vector<std::string>{publisher_key_id(key.public_key())});
}

TEST(DsseSign, RefusesBadTypesAndTooManySignatures) {
  const auto key = key_a();
  EXPECT_EQ(dsse_sign("\xc3", {}, key).error().code, ErrorCode::kInvalidArgument);
  auto e = dsse_sign("t", {}, key);
  ASSERT_TRUE(e.has_value());
  for (size_t i = 1; i < kMaxEnvelopeSignatures; ++i) ASSERT_TRUE(dsse_add_signature(*e, key).has_value());
  auto over = dsse_add_signature(*e, key);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(e->signatures.size(), kMaxEnvelopeSignatures);
  EXPECT_EQ(dsse_sign("t", Bytes(kMaxEnvelopeJsonBytes, 0), key).error().code, ErrorCode::kLimitExceeded);
}

class DsseVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto signed_envelope = dsse_sign(std::string(kInTotoPayloadType), to_bytes(R"({"a":1})"), a_);
    ASSERT_TRUE(signed_envelope.has_value());
    envelope_ = std::move(*signed_envelope);
  }
  // The error of verifying `e` against key A alone.
  Error rejection(const DsseEnvelope& e, const PublisherKeys& keys) {
    auto result = dsse_verify(e, keys, kInTotoPayloadType);
    EXPECT_FALSE(result.has_value());
    return result ? Error{ErrorCode::kInternal, "accepted"} : result.error();
  }
  Ed25519PrivateKey a_ = key_a();
  Ed25519PrivateKey b_ = key_b();
  DsseEnvelope envelope_;
};

TEST_F(DsseVerifyTest, Accepts) {
  EXPECT_TRUE(dsse_verify(envelope_, trust({a_.public_key()}), kInTotoPayloadType).has_value());
  // Another trusted key does not get in the way.
  EXPECT_TRUE(dsse_verify(envelope_, trust({b_.public_key(), a_.public_key()}), kInTotoPayloadType).has_value());
}

TEST_F(DsseVerifyTest, PayloadByteFlip) {
  for (size_t i = 0; i < envelope_.payload.size(); ++i) {
    DsseEnvelope e = envelope_;
    e.payload[i] ^= 0x01;
    Error err = rejection(e, trust({a_.public_key()}));
    EXPECT_EQ(err.code, ErrorCode::kAuthenticationFailed);
    EXPECT_NE(err.message.find("1 not valid"), std::string::npos) << err.message;
  }
  DsseEnvelope longer = envelope_;
  longer.payload.push_back(' ');
  EXPECT_EQ(rejection(longer, trust({a_.public_key()})).code, ErrorCode::kAuthenticationFailed);
}

TEST_F(DsseVerifyTest, PayloadTypeChange) {
  DsseEnvelope e = envelope_;
  e.payload_type = "application/vnd.in-toto+jsoN";
  Error err = rejection(e, trust({a_.public_key()}));
  EXPECT_EQ(err.code, ErrorCode::kUnsupported);
  EXPECT_NE(err.message.find("payload type"), std::string::npos);
  // Even a verifier that expects the new type refuses it: the type is signed.
  auto result = dsse_verify(e, trust({a_.public_key()}), e.payload_type);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kAuthenticationFailed);
}

TEST_F(DsseVerifyTest, SignatureFlip) {
  for (size_t i = 0; i < crypto::kEd25519SignatureSize; i += 7) {
    DsseEnvelope e = envelope_;
    e.signatures[0].sig[i] ^= 0x80;
    EXPECT_EQ(rejection(e, trust({a_.public_key()})).code, ErrorCode::kAuthenticationFailed);
  }
  DsseEnvelope truncated = envelope_;
  truncated.signatures[0].sig.pop_back();
  EXPECT_EQ(rejection(truncated, trust({a_.public_key()})).code, ErrorCode::kAuthenticationFailed);
  DsseEnvelope none = envelope_;
  none.signatures.clear();
  EXPECT_NE(rejection(none, trust({a_.public_key()})).message.find("0 signature(s)"), std::string::npos);
}

TEST_F(DsseVerifyTest, WrongKeyOnlyUnknownKeyid) {
  // Trusting only B: A's signature names a keyid the verifier does not know and is ignored.
  Error err = rejection(envelope_, trust({b_.public_key()}));
  EXPECT_EQ(err.code, ErrorCode::kAuthenticationFailed);
  EXPECT_NE(err.message.find("1 by an unknown keyid"), std::string::npos) << err.message;
}

TEST_F(DsseVerifyTest, KeyidClaimingATrustedKey) {
  // B signs but claims to be A: tried against A only, and fails.
  DsseEnvelope e = envelope_;
  e.signatures.clear();
  ASSERT_TRUE(dsse_add_signature(e, b_).has_value());
  e.signatures[0].keyid = publisher_key_id(a_.public_key());
  Error err = rejection(e, trust({a_.public_key()}));
  EXPECT_NE(err.message.find("1 not valid"), std::string::npos) << err.message;
  // With an empty keyid it is tried against every trusted key; B is not trusted, so it still fails.
  e.signatures[0].keyid.clear();
  EXPECT_EQ(rejection(e, trust({a_.public_key()})).code, ErrorCode::kAuthenticationFailed);
  EXPECT_TRUE(dsse_verify(e, trust({a_.public_key(), b_.public_key()}), kInTotoPayloadType).has_value());
}

TEST_F(DsseVerifyTest, UnknownSignersDoNotHurt) {
  DsseEnvelope e = envelope_;
  ASSERT_TRUE(dsse_add_signature(e, b_).has_value());
  std::swap(e.signatures[0], e.signatures[1]);
  e.signatures.push_back({"junk", Bytes(64, 0)});
  auto signers = dsse_verify(e, trust({a_.public_key()}), kInTotoPayloadType);
  ASSERT_TRUE(signers.has_value());
  EXPECT_EQ(*signers, std::vector<std::string>{publisher_key_id(a_.public_key())});
}

TEST_F(DsseVerifyTest, ThresholdCountsDistinctKeys) {
  PublisherKeys keys = trust({a_.public_key(), b_.public_key()});
  ASSERT_TRUE(keys.set_threshold(2).has_value());
  // A twice (same keyid) counts once.
  DsseEnvelope twice = envelope_;
  twice.signatures.push_back(twice.signatures[0]);
  Error err = rejection(twice, keys);
  EXPECT_NE(err.message.find("from 1 trusted publisher key(s), 2 required"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("1 by a key already counted"), std::string::npos) << err.message;
  // A twice, once without a keyid, still counts once.
  twice.signatures[1].keyid.clear();
  EXPECT_NE(rejection(twice, keys).message.find("1 by a key already counted"), std::string::npos);
  // A and B.
  DsseEnvelope both = envelope_;
  ASSERT_TRUE(dsse_add_signature(both, b_).has_value());
  auto signers = dsse_verify(both, keys, kInTotoPayloadType);
  ASSERT_TRUE(signers.has_value()) << signers.error().to_string();
  EXPECT_EQ(signers->size(), 2u);
}

TEST_F(DsseVerifyTest, BadKeySets) {
  EXPECT_EQ(rejection(envelope_, PublisherKeys{}).code, ErrorCode::kInvalidArgument);
  PublisherKeys keys = trust({a_.public_key()});
  ASSERT_TRUE(keys.set_threshold(2).has_value());
  Error err = rejection(envelope_, keys);
  EXPECT_EQ(err.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(err.message.find("threshold 2 exceeds"), std::string::npos);
}

}  // namespace
}  // namespace openpcc::transparency
