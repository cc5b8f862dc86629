// A log configured with publisher keys holds only what its publishers signed.
#include <gtest/gtest.h>

#include "crypto/ed25519.h"
#include "services/tlog/tlog.h"
#include "store/database.h"
#include "transparency/bundle.h"
#include "transparency/predicates.h"
#include "transparency/statement.h"

namespace openpcc::tlog {
namespace {

struct Fixture {
  crypto::Ed25519PrivateKey publisher = crypto::Ed25519PrivateKey::generate().value();
  std::unique_ptr<TransparencyLog> log;

  Fixture() {
    LogOptions options;
    EXPECT_TRUE(options.publishers.add(publisher.public_key()));
    auto db = store::open_database("sqlite::memory:").value();
    auto signer = transparency::NoteSigner::create("tlog.test/publishers",
                                                   crypto::Ed25519PrivateKey::generate().value());
    log = TransparencyLog::open(db, std::move(*signer), std::move(options)).value();
  }

  transparency::DsseEnvelope envelope(const crypto::Ed25519PrivateKey& key) {
    auto statement = transparency::currency_key_statement(R"({"kty":"RSA","n":"AQAB","e":"AQAB"})").value();
    return transparency::sign_statement(statement, key).value();
  }
};

TEST(TlogPublishers, AcceptsCanonicalEnvelopesSignedByAPublisher) {
  Fixture f;
  auto leaf = transparency::envelope_leaf(f.envelope(f.publisher));
  auto receipt = f.log->append(leaf);
  ASSERT_TRUE(receipt) << receipt.error().to_string();
  EXPECT_EQ(receipt->index, 0u);
  EXPECT_FALSE(receipt->duplicate);
  EXPECT_TRUE(transparency::assemble_bundle(f.envelope(f.publisher), receipt->index, receipt->inclusion_proof,
                                            receipt->checkpoint.note));
}

TEST(TlogPublishers, RefusesEverythingElse) {
  Fixture f;
  // Signed by someone else.
  auto stranger = crypto::Ed25519PrivateKey::generate().value();
  auto refused = f.log->append(transparency::envelope_leaf(f.envelope(stranger)));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated) << refused.error().to_string();
  // Not an envelope at all.
  refused = f.log->append(as_bytes("just some bytes"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  // A valid envelope in a non-canonical form: bundles could not recompute its leaf.
  std::string json = transparency::to_json(f.envelope(f.publisher));
  json.insert(1, " ");
  refused = f.log->append(as_bytes(json));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("canonical"), std::string::npos);
  // A signed envelope whose payload is not an in-toto statement.
  auto other = transparency::dsse_sign("application/vnd.in-toto+json", to_bytes("{}"), f.publisher).value();
  refused = f.log->append(transparency::envelope_leaf(other));
  ASSERT_FALSE(refused);
  // Nothing was appended.
  auto head = f.log->checkpoint();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->checkpoint.size, 0u);
}

}  // namespace
}  // namespace openpcc::tlog
