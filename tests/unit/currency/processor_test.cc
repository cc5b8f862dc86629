// Processor and CreditTransaction over the in-process NonceStore: commit, refund, rollback (explicit and by
// destruction), double spends, bad credits never reaching the store, store failures during commit, and exchange.
#include "currency/processor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "credit_test_keys.h"
#include "currency/credit_request.h"
#include "currency/memory_nonce_store.h"

namespace openpcc::currency {
namespace {

constexpr int64_t kHour = 1795244400;  // 2026-11-21 07:00:00 UTC
constexpr int64_t kNow = kHour + 1200;

// Wraps a real store: counts calls and can fail the next consume/release with a chosen error.
class InstrumentedStore final : public NonceStore {
 public:
  using NonceStore::lock;
  Result<NonceTicket> lock(const Nonce& nonce, int64_t now) override {
    ++locks;
    return inner_->lock(nonce, now);
  }
  Status consume(const Nonce& nonce, std::string_view ticket) override {
    ++consumes;
    if (fail_consume) return make_error(*std::exchange(fail_consume, std::nullopt), "injected");
    return inner_->consume(nonce, ticket);
  }
  Status release(const Nonce& nonce, std::string_view ticket) override {
    ++releases;
    if (fail_release) return make_error(*std::exchange(fail_release, std::nullopt), "injected");
    return inner_->release(nonce, ticket);
  }
  Result<int64_t> collect_garbage(int64_t now) override { return inner_->collect_garbage(now); }

  int total() const { return locks + consumes + releases; }

  std::atomic<int> locks{0}, consumes{0}, releases{0};
  std::optional<ErrorCode> fail_consume, fail_release;

 private:
  std::unique_ptr<NonceStore> inner_ = make_memory_nonce_store();
};

class ProcessorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    issuer_ = std::make_unique<Issuer>(Issuer::create(testing::currency_test_key()).value());
    verifier_ = std::make_unique<CreditVerifier>(CreditVerifier::create(issuer_->public_key()).value());
  }
  static void TearDownTestSuite() {
    verifier_.reset();
    issuer_.reset();
  }

  Credit withdraw(int64_t amount) { return withdraw_value(Value::from_amount(amount).value()); }
  Credit withdraw_value(const Value& v) {
    auto pending = begin_credit(issuer_->public_key(), v, kNow, 0.0).value();
    return pending.finish(issuer_->blind_sign(v, pending.blinded_message()).value()).value();
  }
  ErrorCode begin_error(const Processor& p, const Credit& c, CreditKind kind = CreditKind::kSpendable) {
    auto tx = p.begin(c, kNow, kind);
    EXPECT_FALSE(tx.has_value());
    return tx ? ErrorCode::kInternal : tx.error().code;
  }

  static inline std::unique_ptr<Issuer> issuer_;
  static inline std::unique_ptr<CreditVerifier> verifier_;
  InstrumentedStore store_;
};

TEST_F(ProcessorTest, CommitSpendsOnce) {
  Processor p(*verifier_, store_);
  const Credit c = withdraw(100);
  auto tx = p.begin(c, kNow);
  ASSERT_TRUE(tx.has_value()) << tx.error().to_string();
  EXPECT_TRUE(tx->is_open());
  EXPECT_EQ(tx->credit(), c);
  // While locked, a second spend conflicts.
  EXPECT_EQ(begin_error(p, c), ErrorCode::kConflict);
  ASSERT_TRUE(tx->commit().has_value());
  EXPECT_FALSE(tx->is_open());
  // Spent: every later attempt is refused, including a re-parsed copy of the same credit.
  EXPECT_EQ(begin_error(p, c), ErrorCode::kAlreadyUsed);
  EXPECT_EQ(begin_error(p, Credit::parse(c.serialize()).value()), ErrorCode::kAlreadyUsed);
  // Finished transactions refuse further work.
  EXPECT_FALSE(tx->commit().has_value());
  EXPECT_FALSE(tx->rollback().has_value());
}

TEST_F(ProcessorTest, RollbackAndDestructorReleaseTheNonce) {
  Processor p(*verifier_, store_);
  const Credit c = withdraw(64);
  {
    auto tx = p.begin(c, kNow).value();
    ASSERT_TRUE(tx.rollback().has_value());
    EXPECT_FALSE(tx.is_open());
  }
  EXPECT_EQ(store_.releases.load(), 1);
  {
    auto tx = p.begin(c, kNow).value();  // available again
    // dropped without a decision
  }
  EXPECT_EQ(store_.releases.load(), 2);
  {
    auto tx = p.begin(c, kNow).value();
    CreditTransaction moved = std::move(tx);  // the moved-from object must not release
    EXPECT_FALSE(tx.is_open());
    EXPECT_TRUE(moved.is_open());
    ASSERT_TRUE(moved.commit().has_value());
  }
  EXPECT_EQ(store_.releases.load(), 2);
  EXPECT_EQ(begin_error(p, c), ErrorCode::kAlreadyUsed);
}

TEST_F(ProcessorTest, BadCreditsNeverReachTheStore) {
  Processor p(*verifier_, store_);
  const Credit good = withdraw(100);
  Credit bad_sig = good;
  bad_sig.signature[7] ^= 1;
  EXPECT_EQ(begin_error(p, bad_sig), ErrorCode::kAuthenticationFailed);
  Credit other_value = good;
  other_value.value = Value::from_amount(104).value();
  EXPECT_EQ(begin_error(p, other_value), ErrorCode::kAuthenticationFailed);
  Credit short_sig = good;
  short_sig.signature.resize(10);
  EXPECT_EQ(begin_error(p, short_sig), ErrorCode::kInvalidArgument);
  EXPECT_EQ(begin_error(p, good, CreditKind::kSpecial), ErrorCode::kInvalidArgument);
  auto expired = p.begin(good, kHour + 3 * 86400);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_.total(), 0);
  // The untouched credit is still spendable.
  EXPECT_TRUE(p.begin(good, kNow).value().commit().has_value());
}

TEST_F(ProcessorTest, SpecialCreditsForAttestation) {
  Processor p(*verifier_, store_);
  const Credit token = withdraw_value(attestation_value());
  EXPECT_EQ(begin_error(p, token), ErrorCode::kInvalidArgument);
  auto tx = p.begin(token, kNow, CreditKind::kSpecial);
  ASSERT_TRUE(tx.has_value()) << tx.error().to_string();
  ASSERT_TRUE(tx->commit().has_value());
  EXPECT_EQ(begin_error(p, token, CreditKind::kSpecial), ErrorCode::kAlreadyUsed);
}

TEST_F(ProcessorTest, CommitWithRefund) {
  Processor p(*verifier_, store_, issuer_.get());
  const Credit c = withdraw(100);
  auto tx = p.begin(c, kNow).value();
  const Value refund_value = Value::from_amount(36).value();
  auto refund = tx.commit_with_refund(refund_value);
  ASSERT_TRUE(refund.has_value()) << refund.error().to_string();
  EXPECT_FALSE(tx.is_open());
  EXPECT_EQ(refund->value, refund_value);
  EXPECT_NE(refund->nonce, c.nonce);
  EXPECT_TRUE(verifier_->verify(*refund, kNow).has_value());
  EXPECT_EQ(begin_error(p, c), ErrorCode::kAlreadyUsed);
  // The refund is itself a spendable credit, once.
  auto spend_refund = p.begin(*refund, kNow);
  ASSERT_TRUE(spend_refund.has_value()) << spend_refund.error().to_string();
  EXPECT_TRUE(spend_refund->commit().has_value());
  EXPECT_EQ(begin_error(p, *refund), ErrorCode::kAlreadyUsed);
}

TEST_F(ProcessorTest, RefundBoundsAndMissingIssuer) {
  Processor with(*verifier_, store_, issuer_.get());
  const Credit c = withdraw(100);
  auto tx = with.begin(c, kNow).value();
  for (const Value& bad : {Value::from_amount(0).value(), Value::from_amount(104).value(), attestation_value(),
                           Value::special(16).value()}) {
    auto r = tx.commit_with_refund(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(tx.is_open());
  }
  EXPECT_TRUE(tx.commit_with_refund(Value::from_amount(100).value()).has_value());  // the whole amount back is fine

  Processor without(*verifier_, store_);
  const Credit d = withdraw(100);
  auto tx2 = without.begin(d, kNow).value();
  auto r = tx2.commit_with_refund(Value::from_amount(1).value());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_TRUE(tx2.is_open());
  EXPECT_EQ(without.exchange(d, Bytes(256, 1), kNow).error().code, ErrorCode::kUnsupported);
}

TEST_F(ProcessorTest, StoreFailureDuringCommit) {
  Processor p(*verifier_, store_, issuer_.get());
  const Credit c = withdraw(100);
  // Transient failure: nothing spent, no refund handed out, the transaction stays open and can be retried.
  auto tx = p.begin(c, kNow).value();
  store_.fail_consume = ErrorCode::kUnavailable;
  auto r = tx.commit_with_refund(Value::from_amount(10).value());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(tx.is_open());
  auto retried = tx.commit_with_refund(Value::from_amount(10).value());
  ASSERT_TRUE(retried.has_value()) << retried.error().to_string();
  EXPECT_EQ(begin_error(p, c), ErrorCode::kAlreadyUsed);

  // A lost lock (kNotFound): closed, and the destructor does not try to release.
  const Credit d = withdraw(100);
  const int releases_before = store_.releases.load();
  {
    auto tx2 = p.begin(d, kNow).value();
    store_.fail_consume = ErrorCode::kNotFound;
    EXPECT_EQ(tx2.commit().error().code, ErrorCode::kNotFound);
    EXPECT_FALSE(tx2.is_open());
  }
  EXPECT_EQ(store_.releases.load(), releases_before);
  // The real store still holds our (never consumed) lock; it is taken over after the timeout.
  EXPECT_EQ(begin_error(p, d), ErrorCode::kConflict);
  EXPECT_TRUE(p.begin(d, kNow + kNonceLockTimeoutSeconds).has_value());

  // A failed rollback in the destructor is swallowed.
  const Credit e = withdraw(100);
  {
    auto tx3 = p.begin(e, kNow).value();
    store_.fail_release = ErrorCode::kUnavailable;
  }
  EXPECT_EQ(begin_error(p, e), ErrorCode::kConflict);
}

TEST_F(ProcessorTest, ExchangeSameValue) {
  Processor p(*verifier_, store_, issuer_.get());
  const Value v = Value::from_amount(100).value();
  const Credit old = withdraw(100);
  auto pending = begin_credit(issuer_->public_key(), v, kNow, 0.0).value();
  auto blind_sig = p.exchange(old, pending.blinded_message(), kNow);
  ASSERT_TRUE(blind_sig.has_value()) << blind_sig.error().to_string();
  auto fresh = pending.finish(*blind_sig);
  ASSERT_TRUE(fresh.has_value()) << fresh.error().to_string();
  EXPECT_TRUE(verifier_->verify(*fresh, kNow).has_value());
  // The old credit is spent; exchanging it again fails.
  auto again = p.exchange(old, pending.blinded_message(), kNow);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyUsed);
  // An unblinded credit (a refund) can be exchanged too.
  const Credit unblinded = issuer_->issue_unblinded(v, kNow).value();
  auto pending2 = begin_credit(issuer_->public_key(), v, kNow, 0.0).value();
  EXPECT_TRUE(pending2.finish(p.exchange(unblinded, pending2.blinded_message(), kNow).value()).has_value());
}

TEST_F(ProcessorTest, ExchangeWrongValueIsRejected) {
  Processor p(*verifier_, store_, issuer_.get());
  const Credit old = withdraw(100);
  // The client blinded for 200: the signature comes under 100's key, and the client's finish() rejects it.
  auto pending = begin_credit(issuer_->public_key(), Value::from_amount(200).value(), kNow, 0.0).value();
  auto blind_sig = p.exchange(old, pending.blinded_message(), kNow);
  ASSERT_TRUE(blind_sig.has_value());
  EXPECT_EQ(pending.finish(*blind_sig).error().code, ErrorCode::kAuthenticationFailed);

  // A request that states the value it wants is refused up front, without touching the store.
  const Credit other = withdraw(100);
  const int before = store_.total();
  auto pending2 = begin_credit(issuer_->public_key(), Value::from_amount(200).value(), kNow, 0.0).value();
  auto r = p.exchange(other, pending2.blinded_message(), kNow, Value::from_amount(200).value());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_.total(), before);
  // Special credits are not exchangeable.
  const Credit token = withdraw_value(attestation_value());
  EXPECT_EQ(p.exchange(token, pending2.blinded_message(), kNow).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ProcessorTest, ExchangeSigningFailureReleases) {
  Processor p(*verifier_, store_, issuer_.get());
  const Credit old = withdraw(100);
  const size_t k = issuer_->public_key().modulus_size();
  // Wrong size: refused before locking.
  EXPECT_EQ(p.exchange(old, Bytes(k - 1, 1), kNow).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_.total(), 0);
  // Not below n: the signer refuses after the lock; the nonce is released, the credit still usable.
  auto r = p.exchange(old, Bytes(k, 0xff), kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(store_.locks.load(), 1);
  EXPECT_EQ(store_.releases.load(), 1);
  EXPECT_EQ(store_.consumes.load(), 0);
  EXPECT_TRUE(p.begin(old, kNow).value().commit().has_value());
}

TEST_F(ProcessorTest, ConcurrentSpendsExactlyOneWins) {
  Processor p(*verifier_, store_, issuer_.get());
  std::vector<Credit> credits;
  for (int i = 0; i < 20; ++i) credits.push_back(withdraw(1 + i));
  std::atomic<int> spent{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (const Credit& c : credits) {
        auto tx = p.begin(c, kNow);
        if (!tx) {
          const ErrorCode code = tx.error().code;
          (code == ErrorCode::kConflict || code == ErrorCode::kAlreadyUsed ? refused : other)++;
          continue;
        }
        (tx->commit() ? spent : other)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(spent.load(), 20);
  EXPECT_EQ(refused.load(), 60);
  EXPECT_EQ(other.load(), 0);
}

}  // namespace
}  // namespace openpcc::currency
