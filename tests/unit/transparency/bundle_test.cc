#include "transparency/bundle.h"

#include <gtest/gtest.h>

#include <string>

#include "transparency/predicates.h"

namespace openpcc::transparency {
namespace {

using crypto::Ed25519PrivateKey;

constexpr std::string_view kOrigin = "transparency.openpcc.example/log";
constexpr std::string_view kJwk = R"({"e":"AQAB","kid":"k","kty":"RSA","n":"xyz","use":"sig"})";

Ed25519PrivateKey fixed_key(uint8_t fill) {
  auto key = Ed25519PrivateKey::from_seed(Bytes(32, fill));
  EXPECT_TRUE(key.has_value());
  return std::move(*key);
}

NoteSigner log_signer(uint8_t fill, std::string name = std::string(kOrigin)) {
  auto signer = NoteSigner::create(std::move(name), fixed_key(fill));
  EXPECT_TRUE(signer.has_value());
  return std::move(*signer);
}

void expect_error(const Error& e, ErrorCode code, std::string_view part) {
  EXPECT_EQ(e.code, code) << e.to_string();
  EXPECT_NE(e.message.find(part), std::string::npos) << e.to_string();
}

// A log of 1000 other leaves with the publisher's envelope at index 617, a checkpoint at the full size, and the
// bundle for that envelope.
class BundleTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kSize = 1000;
  static constexpr uint64_t kIndex = 617;

  void SetUp() override {
    auto envelope = sign_statement(*currency_key_statement(kJwk), publisher_);
    ASSERT_TRUE(envelope.has_value());
    envelope_ = *envelope;
    for (uint64_t i = 0; i < kSize; ++i) {
      if (i == kIndex) {
        tree_.append(envelope_leaf(envelope_));
      } else {
        tree_.append(as_bytes("other leaf " + std::to_string(i)));
      }
    }
    auto bundle = bundle_at(envelope_, kIndex, kSize);
    ASSERT_TRUE(bundle.has_value()) << bundle.error().to_string();
    bundle_ = *bundle;
    auto keys = PublisherKeys::of({publisher_.public_key()});
    ASSERT_TRUE(keys.has_value());
    publishers_ = std::move(*keys);
  }

  std::string signed_checkpoint(uint64_t size, const NoteSigner& signer) {
    Checkpoint cp{std::string(kOrigin), size, *tree_.root(size), {}};
    auto note = sign_checkpoint(cp, signer);
    EXPECT_TRUE(note.has_value());
    return *note;
  }

  Result<TransparencyBundle> bundle_at(const DsseEnvelope& envelope, uint64_t index, uint64_t size) {
    auto proof = tree_.inclusion_proof(index, size);
    if (!proof) return std::unexpected(proof.error());
    return assemble_bundle(envelope, index, *proof, signed_checkpoint(size, log_));
  }

  Result<VerifiedStatement> verify(const TransparencyBundle& bundle,
                                   const std::optional<Checkpoint>& trusted = std::nullopt) {
    return verify_bundle(bundle, publishers_, log_verifier(), trusted);
  }
  NoteVerifier log_verifier() {
    auto v = NoteVerifier::parse(log_.verifier_key());
    EXPECT_TRUE(v.has_value());
    return std::move(*v);
  }

  Ed25519PrivateKey publisher_ = fixed_key(1);
  NoteSigner log_ = log_signer(2);
  MerkleTree tree_;
  DsseEnvelope envelope_;
  TransparencyBundle bundle_;
  PublisherKeys publishers_;
};

TEST_F(BundleTest, Verifies) {
  auto verified = verify(bundle_);
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  EXPECT_EQ(verified->leaf_index, kIndex);
  EXPECT_EQ(verified->signers, std::vector<std::string>{publisher_key_id(publisher_.public_key())});
  EXPECT_EQ(verified->checkpoint.origin, kOrigin);
  EXPECT_EQ(verified->checkpoint.size, kSize);
  EXPECT_EQ(verified->checkpoint.root, tree_.root());
  auto jwk = currency_key_from_statement(verified->statement);
  ASSERT_TRUE(jwk.has_value());
  EXPECT_EQ(*jwk, kJwk);
  EXPECT_EQ(bundle_.inclusion_proof.size(), 10u);  // ⌈log2 1000⌉
}

TEST_F(BundleTest, LeafIsTheCanonicalEnvelopeJson) {
  EXPECT_EQ(envelope_leaf(envelope_), to_bytes(to_json(envelope_)));
  EXPECT_EQ(envelope_leaf_hash(envelope_), leaf_hash(to_bytes(to_json(envelope_))));
  // The same envelope written loosely (other order, spacing, URL-safe base64) has the same leaf.
  std::string sig = to_base64(envelope_.signatures[0].sig);
  for (char& c : sig) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (sig.back() == '=') sig.pop_back();
  const std::string loose = R"({ "signatures": [ {"sig": ")" + sig + R"(", "keyid": ")" +
                            envelope_.signatures[0].keyid + R"("} ], "payload": ")" + to_base64(envelope_.payload) +
                            R"(", "payloadType": "application/vnd.in-toto+json" })";
  auto parsed = parse_dsse_envelope(loose);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_EQ(envelope_leaf_hash(*parsed), envelope_leaf_hash(envelope_));
}

TEST_F(BundleTest, JsonRoundTrip) {
  const std::string json = to_json(bundle_);
  EXPECT_EQ(json.rfind(R"({"checkpoint":")", 0), 0u);
  EXPECT_NE(json.find(R"("mediaType":"application/vnd.openpcc.transparency-bundle+json")"), std::string::npos);
  EXPECT_NE(json.find(R"("logIndex":617,)"), std::string::npos);
  auto back = parse_transparency_bundle(json);
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(*back, bundle_);
  EXPECT_EQ(to_json(*back), json);
  EXPECT_TRUE(verify(*back).has_value());
}

TEST_F(BundleTest, EveryLeafPositionAndSmallTrees) {
  // Bundles for the envelope as leaf i of trees of every size 1..20 verify (proof shapes at the tree's edges).
  for (uint64_t size = 1; size <= 20; ++size) {
    for (uint64_t index = 0; index < size; ++index) {
      MerkleTree tree;
      for (uint64_t i = 0; i < size; ++i) {
        if (i == index) {
          tree.append(envelope_leaf(envelope_));
        } else {
          tree.append(as_bytes("leaf " + std::to_string(i)));
        }
      }
      Checkpoint cp{std::string(kOrigin), size, tree.root(), {}};
      auto bundle = assemble_bundle(envelope_, index, *tree.inclusion_proof(index, size), *sign_checkpoint(cp, log_));
      ASSERT_TRUE(bundle.has_value()) << size << "/" << index << ": " << bundle.error().to_string();
      EXPECT_TRUE(verify(*bundle).has_value()) << size << "/" << index;
    }
  }
}

TEST_F(BundleTest, WrongIndex) {
  for (uint64_t index : {kIndex - 1, kIndex + 1, uint64_t{0}}) {
    TransparencyBundle b = bundle_;
    b.leaf_index = index;
    expect_error(verify(b).error(), ErrorCode::kAuthenticationFailed, "bundle: inclusion proof");
  }
  // An index whose path has another length in this tree.
  TransparencyBundle last = bundle_;
  last.leaf_index = kSize - 1;
  expect_error(verify(last).error(), ErrorCode::kInvalidArgument, "bundle: inclusion proof");
  TransparencyBundle outside = bundle_;
  outside.leaf_index = kSize;
  expect_error(verify(outside).error(), ErrorCode::kInvalidArgument,
               "bundle: inclusion proof: leaf index 1000 is outside the checkpoint's tree of 1000 leaves");
}

TEST_F(BundleTest, WrongProof) {
  for (size_t i = 0; i < bundle_.inclusion_proof.size(); ++i) {
    TransparencyBundle b = bundle_;
    b.inclusion_proof[i][i % kHashSize] ^= 0x01;
    expect_error(verify(b).error(), ErrorCode::kAuthenticationFailed, "bundle: inclusion proof");
  }
  TransparencyBundle shorter = bundle_;
  shorter.inclusion_proof.pop_back();
  expect_error(verify(shorter).error(), ErrorCode::kInvalidArgument, "bundle: inclusion proof");
  TransparencyBundle longer = bundle_;
  longer.inclusion_proof.push_back(Hash{});
  expect_error(verify(longer).error(), ErrorCode::kInvalidArgument, "bundle: inclusion proof");
  // A valid proof for another leaf.
  TransparencyBundle other = bundle_;
  other.inclusion_proof = *tree_.inclusion_proof(kIndex + 1, kSize);
  expect_error(verify(other).error(), ErrorCode::kAuthenticationFailed, "bundle: inclusion proof");
}

TEST_F(BundleTest, WrongRoot) {
  // The log signed a checkpoint whose root is not the tree the proof came from.
  Checkpoint cp{std::string(kOrigin), kSize, *tree_.root(kSize - 1), {}};
  TransparencyBundle b = bundle_;
  b.signed_checkpoint = *sign_checkpoint(cp, log_);
  expect_error(verify(b).error(), ErrorCode::kAuthenticationFailed, "bundle: inclusion proof");
  // A genuine checkpoint of another size: the proof is for size 1000.
  b.signed_checkpoint = signed_checkpoint(kSize - 1, log_);
  EXPECT_FALSE(verify(b).has_value());
}

TEST_F(BundleTest, CheckpointSignature) {
  // One flipped character in the signature line.
  TransparencyBundle b = bundle_;
  const size_t at = b.signed_checkpoint.size() - 10;
  b.signed_checkpoint[at] = b.signed_checkpoint[at] == 'A' ? 'B' : 'A';
  expect_error(verify(b).error(), ErrorCode::kAuthenticationFailed, "bundle: checkpoint");

  // Signed by another key under the same name.
  TransparencyBundle impostor = bundle_;
  impostor.signed_checkpoint = signed_checkpoint(kSize, log_signer(3));
  expect_error(verify(impostor).error(), ErrorCode::kAuthenticationFailed, "bundle: checkpoint");

  // The size in the body changed after signing.
  TransparencyBundle edited = bundle_;
  const size_t size_at = edited.signed_checkpoint.find("\n1000\n");
  ASSERT_NE(size_at, std::string::npos);
  edited.signed_checkpoint.replace(size_at, 6, "\n1001\n");
  expect_error(verify(edited).error(), ErrorCode::kAuthenticationFailed, "bundle: checkpoint");

  TransparencyBundle garbage = bundle_;
  garbage.signed_checkpoint = "not a note";
  expect_error(verify(garbage).error(), ErrorCode::kDecode, "bundle: checkpoint");
}

TEST_F(BundleTest, EnvelopeSignatures) {
  // Untrusted publisher.
  auto other = PublisherKeys::of({fixed_key(9).public_key()});
  ASSERT_TRUE(other.has_value());
  expect_error(verify_bundle(bundle_, *other, log_verifier(), std::nullopt).error(), ErrorCode::kAuthenticationFailed,
               "bundle: envelope: dsse verify");

  // A payload byte flipped after logging: the leaf changes, so the inclusion proof fails first.
  TransparencyBundle flipped = bundle_;
  flipped.envelope.payload[5] ^= 0x01;
  expect_error(verify(flipped).error(), ErrorCode::kAuthenticationFailed, "bundle: inclusion proof");

  // A badly signed envelope that did get into the log: the proof holds, the signature does not.
  DsseEnvelope forged = envelope_;
  forged.signatures[0].sig[0] ^= 0x01;
  tree_.append(envelope_leaf(forged));
  auto logged = bundle_at(forged, kSize, kSize + 1);
  ASSERT_TRUE(logged.has_value()) << logged.error().to_string();
  expect_error(verify(*logged).error(), ErrorCode::kAuthenticationFailed, "bundle: envelope: dsse verify");

  // A logged, properly signed envelope whose type is changed afterwards.
  DsseEnvelope retyped = envelope_;
  retyped.payload_type = "application/json";
  tree_.append(envelope_leaf(retyped));
  auto logged_retyped = bundle_at(retyped, kSize + 1, kSize + 2);
  ASSERT_TRUE(logged_retyped.has_value());
  expect_error(verify(*logged_retyped).error(), ErrorCode::kUnsupported, "bundle: envelope");
}

TEST_F(BundleTest, PayloadThatIsNotAStatement) {
  auto envelope = dsse_sign(std::string(kInTotoPayloadType), to_bytes("[]"), publisher_);
  ASSERT_TRUE(envelope.has_value());
  tree_.append(envelope_leaf(*envelope));
  auto bundle = bundle_at(*envelope, kSize, kSize + 1);
  ASSERT_TRUE(bundle.has_value());
  expect_error(verify(*bundle).error(), ErrorCode::kDecode, "bundle: envelope payload: statement");
}

TEST_F(BundleTest, TrustedCheckpoint) {
  const Checkpoint current{std::string(kOrigin), kSize, tree_.root(), {}};
  EXPECT_TRUE(verify(bundle_, current).has_value());
  // An older or newer trusted checkpoint is accepted here; consistency is the log state's job.
  const Checkpoint older{std::string(kOrigin), 10, *tree_.root(10), {}};
  auto with_older = verify(bundle_, older);
  ASSERT_TRUE(with_older.has_value());
  EXPECT_EQ(with_older->checkpoint.size, kSize);
  const Checkpoint newer{std::string(kOrigin), kSize + 5, leaf_hash(as_bytes("future")), {}};
  EXPECT_TRUE(verify(bundle_, newer).has_value());

  // The same size with another root: the log forked.
  const Checkpoint fork{std::string(kOrigin), kSize, leaf_hash(as_bytes("fork")), {}};
  expect_error(verify(bundle_, fork).error(), ErrorCode::kAuthenticationFailed, "bundle: trusted checkpoint");

  // A trusted checkpoint of another log.
  const Checkpoint elsewhere{"other.example/log", kSize, tree_.root(), {}};
  expect_error(verify(bundle_, elsewhere).error(), ErrorCode::kAuthenticationFailed, "bundle: checkpoint");
}

TEST_F(BundleTest, AssembleChecksThePieces) {
  auto proof = *tree_.inclusion_proof(kIndex, kSize);
  const std::string cp = signed_checkpoint(kSize, log_);
  expect_error(assemble_bundle(envelope_, kIndex + 1, proof, cp).error(), ErrorCode::kAuthenticationFailed,
               "bundle: inclusion proof");
  expect_error(assemble_bundle(envelope_, kSize, proof, cp).error(), ErrorCode::kInvalidArgument,
               "bundle: inclusion proof");
  expect_error(assemble_bundle(envelope_, kIndex, proof, "junk").error(), ErrorCode::kDecode, "bundle: checkpoint");
  DsseEnvelope other = envelope_;
  other.payload.push_back(' ');
  expect_error(assemble_bundle(other, kIndex, proof, cp).error(), ErrorCode::kAuthenticationFailed,
               "bundle: inclusion proof");
  expect_error(assemble_bundle(envelope_, kIndex, std::vector<Hash>(65), cp).error(), ErrorCode::kInvalidArgument,
               "more than 64");
}

// ---------------------------------------------------------------------------------------------------------------------
// Parsing.

class BundleParseTest : public BundleTest {
 protected:
  // The bundle's JSON with one member replaced (or removed, with an empty replacement).
  std::string with_member(const std::string& key, const std::string& raw_value) {
    nlohmann::json j = nlohmann::json::parse(to_json(bundle_));
    if (raw_value.empty()) {
      j.erase(key);
    } else {
      j[key] = nlohmann::json::parse(raw_value);
    }
    return j.dump();
  }
  void expect_rejected(const std::string& json, ErrorCode code, std::string_view part) {
    auto b = parse_transparency_bundle(json);
    ASSERT_FALSE(b.has_value()) << json.substr(0, 200);
    expect_error(b.error(), code, part);
  }
};

TEST_F(BundleParseTest, Strict) {
  expect_rejected("[]", ErrorCode::kDecode, "not a JSON object");
  expect_rejected(with_member("mediaType", R"("application/vnd.dev.sigstore.bundle.v0.3+json")"), ErrorCode::kDecode,
                  "mediaType");
  expect_rejected(with_member("mediaType", ""), ErrorCode::kDecode, "missing \"mediaType\"");
  expect_rejected(with_member("extra", "1"), ErrorCode::kDecode, "unknown member \"extra\"");
  expect_rejected(with_member("logIndex", "-1"), ErrorCode::kDecode, "logIndex");
  expect_rejected(with_member("logIndex", R"("617")"), ErrorCode::kDecode, "logIndex");
  expect_rejected(with_member("logIndex", ""), ErrorCode::kDecode, "missing \"logIndex\"");
  expect_rejected(with_member("inclusionProof", R"({})"), ErrorCode::kDecode, "must be an array");
  expect_rejected(with_member("inclusionProof", R"([1])"), ErrorCode::kDecode, "inclusionProof[0]: not a string");
  expect_rejected(with_member("inclusionProof", R"(["AQ=="])"), ErrorCode::kDecode, "inclusionProof[0]: not 32 bytes");
  expect_rejected(with_member("inclusionProof", R"(["%%%%"])"), ErrorCode::kDecode, "inclusionProof[0]");
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 65; ++i) many.push_back(to_base64(Hash{}));
  expect_rejected(with_member("inclusionProof", many.dump()), ErrorCode::kLimitExceeded, "65 proof hashes");
  expect_rejected(with_member("checkpoint", "7"), ErrorCode::kDecode, "\"checkpoint\" must be a string");
  expect_rejected(with_member("checkpoint", nlohmann::json(std::string(kMaxBundleCheckpointBytes + 1, 'x')).dump()),
                  ErrorCode::kLimitExceeded, "checkpoint");
  expect_rejected(with_member("dsseEnvelope", ""), ErrorCode::kDecode, "missing \"dsseEnvelope\"");
  expect_rejected(with_member("dsseEnvelope", R"({"payload":"x","junk":1})"), ErrorCode::kDecode,
                  "transparency bundle: dsse envelope: unknown member");
  std::string dup = to_json(bundle_);
  dup.insert(1, R"("logIndex":1,)");
  expect_rejected(dup, ErrorCode::kDecode, "duplicate key \"logIndex\"");
  expect_rejected(std::string(kMaxBundleJsonBytes + 1, ' '), ErrorCode::kLimitExceeded, "exceed the limit");
}

}  // namespace
}  // namespace openpcc::transparency
