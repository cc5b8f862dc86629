// The AuthBank's currency key published as a transparency statement and read back by a client: the JWK text comes
// from services/authbank/jwk.h on both sides, the statement, envelope and bundle from transparency/.
#include <gtest/gtest.h>

#include "authbank_test_support.h"
#include "services/authbank/jwk.h"
#include "transparency/bundle.h"
#include "transparency/predicates.h"

namespace openpcc::transparency {
namespace {

using authbank::authbank_test::currency_key;
using authbank::authbank_test::other_currency_key;

TEST(TransparencyCurrencyKey, PublishedJwkVerifiesThroughABundle) {
  const crypto::RsaPublicKey key = currency_key().public_key();
  const std::string jwk = authbank::rsa_public_key_to_jwk(key);

  auto publisher = crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x11));
  auto log_key = crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x22));
  ASSERT_TRUE(publisher && log_key);
  auto envelope = sign_statement(*currency_key_statement(jwk), *publisher);
  ASSERT_TRUE(envelope.has_value());

  MerkleTree tree;
  tree.append(as_bytes("earlier entry"));
  const uint64_t index = tree.append(envelope_leaf(*envelope));
  tree.append(as_bytes("later entry"));
  auto signer = NoteSigner::create("log.example/currency", std::move(*log_key));
  ASSERT_TRUE(signer.has_value());
  auto note = sign_checkpoint(Checkpoint{"log.example/currency", tree.size(), tree.root(), {}}, *signer);
  auto bundle = assemble_bundle(*envelope, index, *tree.inclusion_proof(index, tree.size()), *note);
  ASSERT_TRUE(bundle.has_value()) << bundle.error().to_string();

  // The client side: parse, verify, extract, read the JWK.
  auto parsed = parse_transparency_bundle(to_json(*bundle));
  ASSERT_TRUE(parsed.has_value());
  auto publishers = PublisherKeys::of({publisher->public_key()});
  auto log_verifier = NoteVerifier::parse(signer->verifier_key());
  ASSERT_TRUE(publishers && log_verifier);
  auto verified = verify_bundle(*parsed, *publishers, *log_verifier, std::nullopt);
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  auto published = currency_key_from_statement(verified->statement);
  ASSERT_TRUE(published.has_value()) << published.error().to_string();
  EXPECT_EQ(*published, jwk);
  auto read = authbank::rsa_public_key_from_jwk(*published);
  ASSERT_TRUE(read.has_value()) << read.error().to_string();
  EXPECT_EQ(read->n, key.n);
  EXPECT_EQ(read->e, key.e);

  // Another issuer's JWK slipped into the predicate does not match the signed subject.
  Statement swapped = verified->statement;
  swapped.predicate["jwkRaw"] = to_base64(as_bytes(authbank::rsa_public_key_to_jwk(other_currency_key().public_key())));
  auto refused = currency_key_from_statement(swapped);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kAuthenticationFailed);
}

}  // namespace
}  // namespace openpcc::transparency
