// Issuing and verifying credits end to end with the partially blind vectors' 2048-bit safe-prime key:
// begin_credit → Issuer::blind_sign → finish → CreditVerifier, the unsafe-increment wait, unblinded credits, and
// every way verification must fail. Credits also verify as plain RSAPBSSA-SHA384-PSS-Deterministic.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "credit_test_keys.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"
#include "currency/credit_request.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"

namespace openpcc::currency {
namespace {

constexpr int64_t kHour = 1795244400;  // 2026-11-21 07:00:00 UTC
constexpr int64_t kNow = kHour + 1200;

class CreditFlow : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto issuer = Issuer::create(testing::currency_test_key());
    ASSERT_TRUE(issuer.has_value()) << issuer.error().to_string();
    issuer_ = std::make_unique<Issuer>(std::move(*issuer));
    auto verifier = CreditVerifier::create(issuer_->public_key());
    ASSERT_TRUE(verifier.has_value()) << verifier.error().to_string();
    verifier_ = std::make_unique<CreditVerifier>(std::move(*verifier));
  }
  static void TearDownTestSuite() {
    verifier_.reset();
    issuer_.reset();
  }

  static Credit withdraw(const Value& value, int64_t now = kNow) {
    // value() throws on failure, which gtest reports as a failure of the calling test.
    auto pending = begin_credit(issuer_->public_key(), value, now, 0.0).value();
    return pending.finish(issuer_->blind_sign(value, pending.blinded_message()).value()).value();
  }

  static inline std::unique_ptr<Issuer> issuer_;
  static inline std::unique_ptr<CreditVerifier> verifier_;
};

TEST_F(CreditFlow, BlindIssueFinishVerify) {
  const Value v = Value::from_amount(100).value();
  auto pending = begin_credit(issuer_->public_key(), v, kNow, 0.0);
  ASSERT_TRUE(pending.has_value()) << pending.error().to_string();
  EXPECT_EQ(pending->blinded_message().size(), issuer_->public_key().modulus_size());
  EXPECT_EQ(pending->nonce().timestamp, kHour);
  EXPECT_FALSE(pending->unsafe_increment());
  EXPECT_LE(pending->ready_at(), kNow);
  EXPECT_EQ(pending->wait_from(kNow).count(), 0);

  auto blind_sig = issuer_->blind_sign(v, pending->blinded_message());
  ASSERT_TRUE(blind_sig.has_value()) << blind_sig.error().to_string();
  auto credit = pending->finish(*blind_sig);
  ASSERT_TRUE(credit.has_value()) << credit.error().to_string();
  EXPECT_EQ(credit->value, v);
  EXPECT_EQ(credit->nonce, pending->nonce());
  // The signature is not the blind signature (it was unblinded).
  EXPECT_NE(credit->signature, *blind_sig);

  EXPECT_TRUE(verifier_->verify(*credit, kNow).has_value());
  // Interop form: RSAPBSSA-SHA384-PSS-Deterministic, metadata = value bytes, message = the 24-byte nonce.
  const auto wire = v.to_wire();
  EXPECT_TRUE(crypto::verify(crypto::kRsaPbssaSha384PssDeterministic, issuer_->public_key(), credit->nonce.message(),
                             wire, credit->signature)
                  .has_value());
  // And survives the wire.
  auto back = Credit::from_header(credit->to_header());
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(verifier_->verify(*back, kNow).has_value());
}

TEST_F(CreditFlow, IssuerSigningAnotherValueFailsFinish) {
  const Value asked = Value::from_amount(100).value(), other = Value::from_amount(96).value();
  auto pending = begin_credit(issuer_->public_key(), asked, kNow, 0.0).value();
  auto blind_sig = issuer_->blind_sign(other, pending.blinded_message()).value();
  auto credit = pending.finish(blind_sig);
  ASSERT_FALSE(credit.has_value());
  EXPECT_EQ(credit.error().code, ErrorCode::kAuthenticationFailed);
  // Garbage and wrong sizes.
  Bytes junk = blind_sig;
  junk[3] ^= 1;
  EXPECT_EQ(pending.finish(junk).error().code, ErrorCode::kAuthenticationFailed);
  EXPECT_FALSE(pending.finish(Bytes(10, 1)).has_value());
  // The pending request still works with the right answer.
  EXPECT_TRUE(pending.finish(issuer_->blind_sign(asked, pending.blinded_message()).value()).has_value());
}

TEST_F(CreditFlow, UnsafeIncrementMustWait) {
  const Value v = Value::from_amount(16).value();
  // 10 s into the hour, r close to 1: the next hour is chosen, which is unsafe before t0 + 30 s.
  auto pending = begin_credit(issuer_->public_key(), v, kHour + 10, 0.9999).value();
  EXPECT_EQ(pending.nonce().timestamp, kHour + 3600);
  EXPECT_TRUE(pending.unsafe_increment());
  EXPECT_EQ(pending.ready_at(), kHour + 30);
  EXPECT_EQ(pending.wait_from(kHour + 10).count(), 20);
  EXPECT_EQ(pending.wait_from(kHour + 31).count(), 0);
  // Late in the hour the increment is safe.
  auto late = begin_credit(issuer_->public_key(), v, kHour + 3000, 0.9999).value();
  EXPECT_EQ(late.nonce().timestamp, kHour + 3600);
  EXPECT_FALSE(late.unsafe_increment());
  EXPECT_EQ(late.ready_at(), kHour + 3000);
}

TEST_F(CreditFlow, UnblindedCreditsVerify) {
  const Value v = Value::from_amount(48).value();
  auto credit = issuer_->issue_unblinded(v, kNow);
  ASSERT_TRUE(credit.has_value()) << credit.error().to_string();
  EXPECT_EQ(credit->value, v);
  EXPECT_TRUE(credit->nonce.timestamp == kHour || credit->nonce.timestamp == kHour + 3600);
  EXPECT_TRUE(verifier_->verify(*credit, kNow).has_value());
  auto other = issuer_->issue_unblinded(v, kNow).value();
  EXPECT_NE(other.nonce, credit->nonce);
  EXPECT_TRUE(issuer_->issue_unblinded(v).has_value());
}

TEST_F(CreditFlow, VerificationFailures) {
  const Credit good = withdraw(Value::from_amount(100).value());
  ASSERT_TRUE(verifier_->verify(good, kNow).has_value());

  auto expect_code = [&](const Credit& c, ErrorCode code, CreditKind kind = CreditKind::kSpendable,
                         int64_t now = kNow) {
    auto r = verifier_->verify(c, now, kind);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, code) << r.error().to_string();
  };
  Credit c = good;
  c.value = Value::from_amount(96).value();  // claims another value
  expect_code(c, ErrorCode::kAuthenticationFailed);
  c = good;
  c.nonce.random[0] ^= 1;
  expect_code(c, ErrorCode::kAuthenticationFailed);
  c = good;
  c.nonce.timestamp += 3600;
  expect_code(c, ErrorCode::kAuthenticationFailed);
  c = good;
  c.signature.back() ^= 1;
  expect_code(c, ErrorCode::kAuthenticationFailed);
  c = good;
  c.signature.pop_back();
  expect_code(c, ErrorCode::kInvalidArgument);
  // Expired: more than a lifespan later, or before the hour it names (minus skew).
  expect_code(good, ErrorCode::kInvalidArgument, CreditKind::kSpendable, kHour + kNonceLifespanSeconds + 7200);
  expect_code(good, ErrorCode::kInvalidArgument, CreditKind::kSpendable, kHour - 2 * 86400);
  // Kind mismatch.
  expect_code(good, ErrorCode::kInvalidArgument, CreditKind::kSpecial);
  // Another issuer's key: a verifier for it rejects our credits.
  auto foreign = CreditVerifier::create(testing::other_public_key()).value();
  EXPECT_FALSE(foreign.verify(good, kNow).has_value());
}

TEST_F(CreditFlow, SpecialCreditsOnlyWhenAsked) {
  const Credit token = withdraw(attestation_value());
  EXPECT_TRUE(verifier_->verify(token, kNow, CreditKind::kSpecial).has_value());
  auto spend = verifier_->verify(token, kNow);
  ASSERT_FALSE(spend.has_value());
  EXPECT_EQ(spend.error().code, ErrorCode::kInvalidArgument);
  // special(0) and plain 0 are different keys: relabelling the flag breaks the signature.
  Credit relabelled = token;
  relabelled.value = Value::from_amount(0).value();
  EXPECT_EQ(verifier_->verify(relabelled, kNow).error().code, ErrorCode::kAuthenticationFailed);
}

TEST_F(CreditFlow, BlindSignRejectsBadSizes) {
  const Value v = Value::from_amount(1).value();
  const size_t k = issuer_->public_key().modulus_size();
  for (size_t len : {size_t{0}, k - 1, k + 1}) {
    auto r = issuer_->blind_sign(v, Bytes(len, 1));
    ASSERT_FALSE(r.has_value()) << len;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  auto too_big = issuer_->blind_sign(v, Bytes(k, 0xff));  // not below n
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(CreditFlow, ConcurrentVerificationAcrossValues) {
  std::vector<Credit> credits;
  for (int64_t amount : {1, 2, 3, 17, 18, 100, 1024}) credits.push_back(withdraw(Value::from_amount(amount).value()));
  auto fresh = CreditVerifier::create(issuer_->public_key()).value();  // empty cache: threads race to fill it
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < credits.size(); ++i) {
        Credit c = credits[(i + t) % credits.size()];
        (fresh.verify(c, kNow) ? ok : bad)++;
        c.nonce.random[1] ^= 1;
        (fresh.verify(c, kNow) ? bad : ok)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), static_cast<int>(4 * 2 * credits.size()));
  EXPECT_EQ(bad.load(), 0);
}

TEST(CreditIssuer, RejectsKeysWithoutSafePrimes) {
  const auto v = testing::load_test_json("rsabssa-cfrg-repo-2vectors.json").at(0);
  auto key = crypto::RsaPrivateKey::from_components(testing::hex_of(v, "n"), testing::hex_of(v, "e"),
                                                    testing::hex_of(v, "d"), testing::hex_of(v, "p"),
                                                    testing::hex_of(v, "q"));
  ASSERT_TRUE(key.has_value()) << key.error().to_string();
  auto issuer = Issuer::create(std::move(*key));
  ASSERT_FALSE(issuer.has_value());
  EXPECT_EQ(issuer.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace openpcc::currency
