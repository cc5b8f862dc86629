// The AuthBank logic layer on SQLite and PostgreSQL: withdraw (exactly one debit under retries, also concurrent
// ones; 429 with nothing changed), badges, attestation tokens (special(0), rate limit), refunds (idempotent for the
// same account, 410 across accounts and after spending elsewhere), the config answer, 401 cases, and journal =
// balances after a random sequence of operations.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "common/random.h"
#include "currency/credit_request.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "currency/sql_nonce_store.h"
#include "services/authbank/authbank.h"
#include "authbank_test_support.h"

namespace openpcc::authbank {
namespace {

using authbank_test::Backend;

class AuthBankTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = authbank_test::open_test_database(GetParam(), dir_);
    ASSERT_TRUE(db_);
    ASSERT_TRUE(create_bank(RateLimit{.per_second = 0, .burst = 1}));
    auto issuer = currency::Issuer::create(authbank_test::currency_key());
    ASSERT_TRUE(issuer.has_value());
    issuer_ = std::make_unique<currency::Issuer>(std::move(*issuer));
    auto verifier = currency::CreditVerifier::create(issuer_->public_key());
    ASSERT_TRUE(verifier.has_value());
    verifier_ = std::make_unique<currency::CreditVerifier>(std::move(*verifier));
  }

  bool create_bank(RateLimit limit) {
    AuthBankOptions options;
    options.relay_urls = {"https://relay-1.example", "https://relay-2.example"};
    options.router_url = "http://confsec-router.invalid";
    if (with_bundles_) {
      options.ohttp_keys_bundle = [this]() -> Result<Bytes> {
        if (ohttp_bundle_fails_) return make_error(ErrorCode::kIo, "gone");
        return to_bytes(ohttp_bundle_);
      };
      options.currency_key_bundle = [this]() -> Result<Bytes> {
        if (currency_bundle_fails_) return make_error(ErrorCode::kNotFound, "no file");
        return to_bytes(currency_bundle_);
      };
    }
    options.attestation_limit = limit;
    options.clock = clock_;
    auto bank = AuthBank::create(db_, authbank_test::currency_key(), authbank_test::badge_key(), std::move(options));
    EXPECT_TRUE(bank.has_value()) << bank.error().to_string();
    if (!bank) return false;
    bank_ = std::move(*bank);
    return true;
  }

  struct Customer {
    Account account;
    std::string key;
  };

  Customer customer(int64_t funds, std::vector<std::string> models = {"qwen3:1.7b", "llama3:8b"}) {
    auto account = bank_->ledger().create_account("acme", "user", std::move(models), clock_());
    EXPECT_TRUE(account.has_value());
    auto key = bank_->ledger().issue_key(account->id, clock_() + 86400, clock_());
    EXPECT_TRUE(key.has_value());
    if (funds > 0) EXPECT_TRUE(bank_->ledger().add_funds(account->id, funds, clock_()).has_value());
    return Customer{*account, key->key.text()};
  }

  static ApiKey key_of(const std::string& text) { return ApiKey::parse(text).value(); }

  WithdrawalRequest request(const std::string& key, const currency::Value& value, const Bytes& blinded) {
    return WithdrawalRequest{key_of(key), value, blinded};
  }

  int64_t balance(const Customer& c) { return bank_->ledger().account(c.account.id)->balance; }

  int64_t count(const std::string& table) {
    auto n = db_->read([&](store::Transaction& tx) -> Result<int64_t> {
      auto row = tx.query_row("SELECT COUNT(*) FROM " + table);
      if (!row) return std::unexpected(row.error());
      return (*row)->integer(0);
    });
    EXPECT_TRUE(n.has_value());
    return n.value_or(-1);
  }

  // A finished credit from the AuthBank (so: a credit of our currency key).
  currency::Credit withdraw_credit(const Customer& c, int64_t amount) {
    const auto value = currency::Value::from_amount(amount).value();
    auto pending = currency::begin_credit(bank_->currency_public_key(), value, clock_(), 0.0).value();
    auto answer = bank_->withdraw(request(c.key, value, pending.blinded_message()));
    EXPECT_TRUE(answer.has_value()) << answer.error().to_string();
    return pending.finish(answer->blind_signature).value();
  }

  openpcc::test_support::TempDir dir_;
  authbank_test::TestClock clock_;
  std::shared_ptr<store::Database> db_;
  std::unique_ptr<AuthBank> bank_;
  std::unique_ptr<currency::Issuer> issuer_;
  std::unique_ptr<currency::CreditVerifier> verifier_;
  bool with_bundles_ = true;
  bool ohttp_bundle_fails_ = false;
  bool currency_bundle_fails_ = false;
  std::string ohttp_bundle_ = R"({"mediaType":"ohttp keys bundle"})";
  std::string currency_bundle_ = R"({"mediaType":"currency key bundle"})";
};

TEST_P(AuthBankTest, WithdrawSignsDebitsAndBadges) {
  Customer c = customer(1000);
  const auto value = *currency::Value::from_amount(160);
  auto pending = currency::begin_credit(bank_->currency_public_key(), value, clock_(), 0.0);
  ASSERT_TRUE(pending.has_value());
  CallInfo info;
  auto answer = bank_->withdraw(request(c.key, value, pending->blinded_message()), &info);
  ASSERT_TRUE(answer.has_value()) << answer.error().to_string();
  EXPECT_EQ(info.account_id, c.account.id);
  EXPECT_EQ(answer->balance, 840);
  EXPECT_FALSE(answer->replayed);
  EXPECT_EQ(balance(c), 840);

  auto credit = pending->finish(answer->blind_signature);
  ASSERT_TRUE(credit.has_value()) << credit.error().to_string();
  EXPECT_TRUE(verifier_->verify(*credit, clock_()).has_value());
  EXPECT_EQ(credit->value, value);

  ASSERT_TRUE(answer->badge.has_value());
  EXPECT_EQ(answer->badge->credentials.models, (std::vector<std::string>{"llama3:8b", "qwen3:1.7b"}));
  EXPECT_TRUE(currency::verify_badge(bank_->badge_public_key(), *answer->badge).has_value());
  EXPECT_EQ(bank_->badge_public_key(), authbank_test::badge_key().public_key());
  auto other = crypto::Ed25519PrivateKey::generate().value();
  EXPECT_FALSE(currency::verify_badge(other.public_key(), *answer->badge).has_value());

  auto journal = bank_->ledger().journal(c.account.id);
  ASSERT_TRUE(journal.has_value());
  ASSERT_EQ(journal->size(), 2u);
  EXPECT_EQ(journal->back().op, JournalOp::kWithdrawal);
  EXPECT_EQ(journal->back().delta, -160);
  EXPECT_EQ(journal->back().amount, 160);
}

TEST_P(AuthBankTest, AccountWithoutModelsGetsNoBadge) {
  Customer c = customer(100, {});
  const auto value = *currency::Value::from_amount(10);
  auto pending = currency::begin_credit(bank_->currency_public_key(), value, clock_(), 0.0).value();
  auto answer = bank_->withdraw(request(c.key, value, pending.blinded_message()));
  ASSERT_TRUE(answer.has_value()) << answer.error().to_string();
  EXPECT_FALSE(answer->badge.has_value());
}

TEST_P(AuthBankTest, RetriesDebitExactlyOnce) {
  Customer c = customer(1000);
  const auto value = *currency::Value::from_amount(100);
  auto pending = currency::begin_credit(bank_->currency_public_key(), value, clock_(), 0.0).value();
  auto first = bank_->withdraw(request(c.key, value, pending.blinded_message()));
  ASSERT_TRUE(first.has_value());
  for (int i = 0; i < 3; ++i) {
    auto again = bank_->withdraw(request(c.key, value, pending.blinded_message()));
    ASSERT_TRUE(again.has_value()) << again.error().to_string();
    EXPECT_TRUE(again->replayed);
    EXPECT_EQ(again->blind_signature, first->blind_signature);
    EXPECT_EQ(again->balance, 900);
    EXPECT_TRUE(again->badge.has_value());
  }
  EXPECT_EQ(balance(c), 900);
  EXPECT_EQ(bank_->ledger().journal(c.account.id)->size(), 2u);

  // The same blinded message with another value, or from another account, is refused.
  auto other_value = bank_->withdraw(request(c.key, *currency::Value::from_amount(96), pending.blinded_message()));
  ASSERT_FALSE(other_value.has_value());
  EXPECT_EQ(other_value.error().code, ErrorCode::kInvalidArgument);
  Customer d = customer(1000);
  auto other_account = bank_->withdraw(request(d.key, value, pending.blinded_message()));
  ASSERT_FALSE(other_account.has_value());
  EXPECT_EQ(other_account.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(balance(c), 900);
  EXPECT_EQ(balance(d), 1000);
}

TEST_P(AuthBankTest, ConcurrentRetriesDebitExactlyOnce) {
  Customer c = customer(10'000);
  const auto value = *currency::Value::from_amount(100);
  // 4 distinct requests, each sent by 4 threads at once.
  std::vector<currency::PendingCredit> pendings;
  for (int i = 0; i < 4; ++i) {
    pendings.push_back(currency::begin_credit(bank_->currency_public_key(), value, clock_(), 0.0).value());
  }
  std::atomic<int> failures{0};
  std::atomic<int> fresh{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<Bytes>> answers(16);
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      auto answer = bank_->withdraw(request(c.key, value, pendings[t % 4].blinded_message()));
      if (!answer) {
        ++failures;
        ADD_FAILURE() << answer.error().to_string();
        return;
      }
      if (!answer->replayed) ++fresh;
      answers[t].push_back(answer->blind_signature);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(fresh.load(), 4);
  EXPECT_EQ(balance(c), 10'000 - 400);
  for (int t = 0; t < 16; ++t) {
    ASSERT_EQ(answers[t].size(), 1u);
    EXPECT_TRUE(pendings[t % 4].finish(answers[t][0]).has_value());
  }
  EXPECT_EQ(count("authbank_withdrawals"), 4);
  EXPECT_TRUE(bank_->ledger().audit()->empty());
}

TEST_P(AuthBankTest, InsufficientBalanceChangesNothing) {
  Customer c = customer(99);
  const auto value = *currency::Value::from_amount(100);
  auto pending = currency::begin_credit(bank_->currency_public_key(), value, clock_(), 0.0).value();
  const int64_t journal_before = count("authbank_journal");
  CallInfo info;
  auto answer = bank_->withdraw(request(c.key, value, pending.blinded_message()), &info);
  ASSERT_FALSE(answer.has_value());
  EXPECT_EQ(answer.error().code, ErrorCode::kInsufficientBalance);
  EXPECT_EQ(info.account_id, c.account.id);
  EXPECT_EQ(balance(c), 99);
  EXPECT_EQ(count("authbank_journal"), journal_before);
  EXPECT_EQ(count("authbank_withdrawals"), 0);
  // Exactly the balance works.
  ASSERT_TRUE(bank_->ledger().add_funds(c.account.id, 1, clock_()).has_value());
  EXPECT_TRUE(bank_->withdraw(request(c.key, value, pending.blinded_message())).has_value());
  EXPECT_EQ(balance(c), 0);
}

TEST_P(AuthBankTest, BadKeysAreUnauthenticated) {
  Customer c = customer(1000);
  const auto value = *currency::Value::from_amount(10);
  const Bytes blinded = currency::begin_credit(bank_->currency_public_key(), value, clock_(), 0.0)->blinded_message();

  auto expect_401 = [&](const std::string& key) {
    auto r = bank_->withdraw(request(key, value, blinded));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
    auto t = bank_->attestation_token(request(key, currency::attestation_value(), blinded));
    ASSERT_FALSE(t.has_value());
    EXPECT_EQ(t.error().code, ErrorCode::kUnauthenticated);
    auto cfg = bank_->config(key_of(key));
    ASSERT_FALSE(cfg.has_value());
    EXPECT_EQ(cfg.error().code, ErrorCode::kUnauthenticated);
  };
  expect_401(ApiKey::generate().text());  // unknown

  auto expiring = bank_->ledger().issue_key(c.account.id, clock_() + 60, clock_()).value();
  EXPECT_TRUE(bank_->config(expiring.key).has_value());
  clock_.advance(60);
  expect_401(expiring.key.text());  // expired

  auto revoked = bank_->ledger().issue_key(c.account.id, std::nullopt, clock_()).value();
  ASSERT_TRUE(bank_->ledger().revoke_key(revoked.record.key_id, clock_()).has_value());
  expect_401(revoked.key.text());
  EXPECT_EQ(balance(c), 1000);
}

TEST_P(AuthBankTest, WrongSizedBlindedMessageIsRefused) {
  Customer c = customer(1000);
  const auto value = *currency::Value::from_amount(10);
  for (size_t size : {size_t{1}, size_t{127}, size_t{129}, size_t{256}}) {
    auto r = bank_->withdraw(request(c.key, value, Bytes(size, 1)));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  // A modulus-sized message at or above n is refused by the signer; nothing is debited.
  auto r = bank_->withdraw(request(c.key, value, Bytes(128, 0xff)));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(balance(c), 1000);
}

TEST_P(AuthBankTest, AttestationTokensAreSpecialZeroAndFree) {
  Customer c = customer(0);
  const auto value = currency::attestation_value();
  auto pending = currency::begin_credit(bank_->currency_public_key(), value, clock_(), 0.0).value();
  auto answer = bank_->attestation_token(request(c.key, value, pending.blinded_message()));
  ASSERT_TRUE(answer.has_value()) << answer.error().to_string();
  auto token = pending.finish(answer->blind_signature);
  ASSERT_TRUE(token.has_value()) << token.error().to_string();
  EXPECT_EQ(token->value.to_wire(), (std::array<uint8_t, 2>{0x01, 0x00}));
  EXPECT_TRUE(verifier_->verify(*token, clock_(), currency::CreditKind::kSpecial).has_value());
  EXPECT_FALSE(verifier_->verify(*token, clock_(), currency::CreditKind::kSpendable).has_value());
  EXPECT_EQ(balance(c), 0);
  EXPECT_EQ(count("authbank_journal"), 0);

  // Only special(0): a money value on this endpoint is refused.
  auto money = bank_->attestation_token(request(c.key, *currency::Value::from_amount(1), pending.blinded_message()));
  ASSERT_FALSE(money.has_value());
  EXPECT_EQ(money.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(AuthBankTest, AttestationTokensAreRateLimitedPerAccount) {
  ASSERT_TRUE(create_bank(RateLimit{.per_second = 0.001, .burst = 2}));
  Customer c = customer(0);
  Customer d = customer(0);
  const auto value = currency::attestation_value();
  const Bytes blinded = currency::begin_credit(bank_->currency_public_key(), value, clock_(), 0.0)->blinded_message();
  EXPECT_TRUE(bank_->attestation_token(request(c.key, value, blinded)).has_value());
  EXPECT_TRUE(bank_->attestation_token(request(c.key, value, blinded)).has_value());
  CallInfo info;
  auto limited = bank_->attestation_token(request(c.key, value, blinded), &info);
  ASSERT_FALSE(limited.has_value());
  EXPECT_EQ(limited.error().code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(info.account_id, c.account.id);
  EXPECT_GT(info.retry_after, std::chrono::seconds(100));
  EXPECT_TRUE(bank_->attestation_token(request(d.key, value, blinded)).has_value());  // another account
}

TEST_P(AuthBankTest, RefundCreditsOnceAndRefusesOthers) {
  Customer c = customer(1000);
  Customer d = customer(1000);
  const auto credit = withdraw_credit(c, 100);  // balance 900
  CallInfo info;
  auto refunded = bank_->refund(RefundRequest{key_of(c.key), credit}, &info);
  ASSERT_TRUE(refunded.has_value()) << refunded.error().to_string();
  EXPECT_FALSE(refunded->replayed);
  EXPECT_EQ(refunded->balance, 1000);
  EXPECT_EQ(info.account_id, c.account.id);

  // Same credit, same account: success, no second credit.
  auto again = bank_->refund(RefundRequest{key_of(c.key), credit});
  ASSERT_TRUE(again.has_value()) << again.error().to_string();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(balance(c), 1000);

  // Same credit into another account: already spent.
  auto stolen = bank_->refund(RefundRequest{key_of(d.key), credit});
  ASSERT_FALSE(stolen.has_value());
  EXPECT_EQ(stolen.error().code, ErrorCode::kAlreadyUsed);
  EXPECT_EQ(balance(d), 1000);

  auto journal = bank_->ledger().journal(c.account.id);
  ASSERT_TRUE(journal.has_value());
  EXPECT_EQ(journal->back().op, JournalOp::kRefund);
  EXPECT_EQ(journal->back().delta, 100);
  EXPECT_TRUE(bank_->ledger().audit()->empty());
}

TEST_P(AuthBankTest, RefundOfACreditSpentElsewhereIs410AndLockedIs409) {
  Customer c = customer(1000);
  auto nonces = currency::make_sql_nonce_store(db_);  // the router's view of the same money database
  // An unblinded credit from the same issuer (a router refund), spent at the router first.
  const auto spent = issuer_->issue_unblinded(*currency::Value::from_amount(64), clock_()).value();
  auto ticket = nonces->lock(spent.nonce, clock_());
  ASSERT_TRUE(ticket.has_value());
  auto locked = bank_->refund(RefundRequest{key_of(c.key), spent});
  ASSERT_FALSE(locked.has_value());
  EXPECT_EQ(locked.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(nonces->consume(spent.nonce, *ticket).has_value());
  auto used = bank_->refund(RefundRequest{key_of(c.key), spent});
  ASSERT_FALSE(used.has_value());
  EXPECT_EQ(used.error().code, ErrorCode::kAlreadyUsed);
  EXPECT_EQ(balance(c), 1000);

  // And the other way round: refunded here, it can no longer be spent at the router.
  const auto fresh = issuer_->issue_unblinded(*currency::Value::from_amount(64), clock_()).value();
  ASSERT_TRUE(bank_->refund(RefundRequest{key_of(c.key), fresh}).has_value());
  auto relock = nonces->lock(fresh.nonce, clock_());
  ASSERT_FALSE(relock.has_value());
  EXPECT_EQ(relock.error().code, ErrorCode::kAlreadyUsed);
  EXPECT_EQ(balance(c), 1064);
}

TEST_P(AuthBankTest, RefundRejectsForgedExpiredAndSpecialCredits) {
  Customer c = customer(0);
  auto other = currency::Issuer::create(authbank_test::other_currency_key()).value();
  const auto forged = other.issue_unblinded(*currency::Value::from_amount(64), clock_()).value();
  auto r = bank_->refund(RefundRequest{key_of(c.key), forged});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kAuthenticationFailed);

  auto tampered = issuer_->issue_unblinded(*currency::Value::from_amount(64), clock_()).value();
  tampered.value = *currency::Value::from_amount(4096);  // claims more than was signed
  EXPECT_EQ(bank_->refund(RefundRequest{key_of(c.key), tampered}).error().code, ErrorCode::kAuthenticationFailed);

  const auto old = issuer_->issue_unblinded(*currency::Value::from_amount(64), clock_() - 3 * 86400).value();
  EXPECT_EQ(bank_->refund(RefundRequest{key_of(c.key), old}).error().code, ErrorCode::kInvalidArgument);

  const auto token = issuer_->issue_unblinded(currency::attestation_value(), clock_()).value();
  EXPECT_FALSE(bank_->refund(RefundRequest{key_of(c.key), token}).has_value());

  // A bad key is checked before anything is spent: the credit stays refundable.
  const auto good = issuer_->issue_unblinded(*currency::Value::from_amount(64), clock_()).value();
  EXPECT_EQ(bank_->refund(RefundRequest{ApiKey::generate(), good}).error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(bank_->refund(RefundRequest{key_of(c.key), good}).has_value());
  EXPECT_EQ(balance(c), 64);
}

TEST_P(AuthBankTest, ConfigAnswer) {
  Customer c = customer(0);
  CallInfo info;
  auto config = bank_->config(key_of(c.key), &info);
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(info.account_id, c.account.id);
  const auto& r = config->response;
  ASSERT_EQ(r.relays_size(), 2);
  EXPECT_EQ(r.relays(0).url(), "https://relay-1.example");
  EXPECT_EQ(r.relays(1).url(), "https://relay-2.example");
  EXPECT_EQ(r.router_url(), "http://confsec-router.invalid");
  EXPECT_FALSE(r.has_bank_url());
  EXPECT_FALSE(r.has_identity_policy());
  // The bundles go out byte for byte as the publisher wrote them, read again for every answer (rotation).
  EXPECT_EQ(r.ohttp_key_configs_bundle(), ohttp_bundle_);
  EXPECT_EQ(r.currency_key_bundle(), currency_bundle_);
  ohttp_bundle_ = R"({"mediaType":"rotated ohttp keys bundle"})";
  auto rotated = bank_->config(key_of(c.key));
  ASSERT_TRUE(rotated.has_value());
  EXPECT_EQ(rotated->response.ohttp_key_configs_bundle(), ohttp_bundle_);

  // A bundle that cannot be read makes the answer unavailable rather than incomplete.
  ohttp_bundle_fails_ = true;
  auto unavailable = bank_->config(key_of(c.key));
  ASSERT_FALSE(unavailable.has_value());
  EXPECT_EQ(unavailable.error().code, ErrorCode::kUnavailable);
  ohttp_bundle_fails_ = false;
  currency_bundle_fails_ = true;
  auto no_currency = bank_->config(key_of(c.key));
  ASSERT_FALSE(no_currency.has_value());
  EXPECT_EQ(no_currency.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(no_currency.error().message.find("currency key bundle"), std::string::npos);

  // Without configured bundles the fields are left out (no raw key, no raw configs).
  with_bundles_ = false;
  ASSERT_TRUE(create_bank(RateLimit{.per_second = 0, .burst = 1}));
  auto bare = bank_->config(key_of(c.key));
  ASSERT_TRUE(bare.has_value()) << bare.error().to_string();
  EXPECT_FALSE(bare->response.has_currency_key_bundle());
  EXPECT_FALSE(bare->response.has_ohttp_key_configs_bundle());
}

TEST_P(AuthBankTest, JournalEqualsBalancesAfterRandomOperations) {
  std::vector<Customer> customers;
  for (int i = 0; i < 3; ++i) customers.push_back(customer(500));
  std::vector<std::pair<int, currency::Credit>> held;  // (owner, credit)
  std::mt19937 rng(12345);
  int64_t expected_total = 1500;
  for (int step = 0; step < 60; ++step) {
    const int who = static_cast<int>(rng() % customers.size());
    switch (rng() % 4) {
      case 0: {  // withdraw (may be refused)
        const int64_t amount = int64_t{1} << (rng() % 9);
        const auto value = *currency::Value::from_amount(amount);
        auto pending = currency::begin_credit(bank_->currency_public_key(), value, clock_(), 0.0).value();
        auto answer = bank_->withdraw(request(customers[who].key, value, pending.blinded_message()));
        if (answer) {
          held.emplace_back(who, pending.finish(answer->blind_signature).value());
          expected_total -= amount;
        } else {
          EXPECT_EQ(answer.error().code, ErrorCode::kInsufficientBalance);
        }
        break;
      }
      case 1:  // refund a held credit (sometimes twice, sometimes into the wrong account)
        if (!held.empty()) {
          auto [owner, credit] = held.back();
          const int into = (rng() % 3 == 0) ? who : owner;
          auto r = bank_->refund(RefundRequest{key_of(customers[into].key), credit});
          if (r && !r->replayed) expected_total += credit.value.amount();
          if (rng() % 2) held.pop_back();
        }
        break;
      case 2:
        ASSERT_TRUE(bank_->ledger().add_funds(customers[who].account.id, 10, clock_()).has_value());
        expected_total += 10;
        break;
      default: {  // a malformed request: nothing may change
        auto r = bank_->withdraw(request(customers[who].key, *currency::Value::from_amount(1), Bytes(3, 0)));
        EXPECT_FALSE(r.has_value());
      }
    }
  }
  EXPECT_TRUE(bank_->ledger().audit()->empty());
  int64_t total = 0;
  for (const auto& c : customers) {
    int64_t journal_sum = 0;
    auto journal = bank_->ledger().journal(c.account.id);
    ASSERT_TRUE(journal.has_value());
    for (const auto& e : *journal) journal_sum += e.delta;
    EXPECT_EQ(journal_sum, balance(c));
    total += balance(c);
  }
  EXPECT_EQ(total, expected_total);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthBankTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         authbank_test::backend_name);

}  // namespace
}  // namespace openpcc::authbank
