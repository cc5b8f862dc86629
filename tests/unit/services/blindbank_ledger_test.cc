// The BlindBank's rules on SQLite and PostgreSQL: every operation, every refusal, idempotent retries, the journal.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "blindbank_test_support.h"
#include "crypto/sha256.h"
#include "currency/sql_nonce_store.h"
#include "services/blindbank/blindbank.h"

namespace openpcc::blindbank {
namespace {

using currency::Credit;
using testkit::Backend;
using testkit::BankFixture;
using testkit::blind;
using testkit::Blinded;
using testkit::kHour;
using testkit::kNow;
using testkit::new_token;
using testkit::value_of;

class BlindBankTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    f_ = std::make_unique<BankFixture>(GetParam());
    ASSERT_TRUE(f_->ok());
  }
  void TearDown() override {
    if (f_ && f_->ok()) f_->expect_consistent();
  }

  BlindBank& bank() { return f_->bank(); }

  int64_t deposit_ok(const Bytes& token, int64_t amount) {
    auto b = bank().deposit(token, f_->mint(amount), kNow);
    EXPECT_TRUE(b) << b.error().to_string();
    return b ? *b : -1;
  }

  Bytes account_hash(const Bytes& token) {
    auto d = crypto::sha256(token);
    return Bytes(d.begin(), d.end());
  }

  // Puts an account at `balance` directly (white-box), with a journal row so the books stay consistent.
  void set_balance(const Bytes& token, int64_t balance) {
    f_->exec("INSERT INTO blindbank_accounts (account_hash, balance) VALUES ($1, $2)",
             {store::SqlValue(account_hash(token)), balance});
    f_->exec("INSERT INTO blindbank_journal (op, account_hash, delta, credit_amount, created_hour) "
             "VALUES ('deposit', $1, $2, $2, 0)",
             {store::SqlValue(account_hash(token)), balance});
  }

  std::unique_ptr<BankFixture> f_;
};

// ---- deposit and balance ----

TEST_P(BlindBankTest, DepositCreatesTheAccountAndAddsUp) {
  const Bytes token = new_token();
  EXPECT_EQ(bank().balance(token).value(), 0);
  EXPECT_EQ(deposit_ok(token, 100), 100);
  EXPECT_EQ(deposit_ok(token, 24), 124);
  EXPECT_EQ(bank().balance(token).value(), 124);
  // Blind credits (finished by a client) deposit the same way as unblinded ones.
  auto b = bank().deposit(token, f_->mint_blinded(6), kNow);
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_EQ(*b, 130);
  EXPECT_EQ(bank().balance(new_token()).value(), 0);
}

TEST_P(BlindBankTest, StoresOnlyTheTokensHash) {
  const Bytes token = new_token();
  deposit_ok(token, 100);
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_accounts WHERE account_hash = $1",
                      {store::SqlValue(account_hash(token))}),
            1);
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_accounts WHERE account_hash = $1", {store::SqlValue(token)}),
            0);
}

TEST_P(BlindBankTest, TokenMustBeExactly32Bytes) {
  const Credit credit = f_->mint(10);
  for (size_t size : {0u, 1u, 31u, 33u, 64u}) {
    const Bytes token(size, 0x11);
    auto d = bank().deposit(token, credit, kNow);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
    Blinded b = blind(f_->key(), value_of(1));
    auto w = bank().withdraw_batch(token, std::vector<BlindSignRequest>{b.request}, kNow);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(bank().withdraw_full(token, kNow).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(bank().balance(token).error().code, ErrorCode::kInvalidArgument);
  }
  // The credit was not spent by any of the refusals.
  auto ok = bank().deposit(new_token(), credit, kNow);
  EXPECT_TRUE(ok) << ok.error().to_string();
}

TEST_P(BlindBankTest, DepositRefusesSpecialZeroExpiredAndForgedCredits) {
  const Bytes token = new_token();
  // Special (attestation token) credits are not money.
  auto special = f_->minter().issue_unblinded(currency::attestation_value(), kNow);
  ASSERT_TRUE(special);
  EXPECT_EQ(bank().deposit(token, *special, kNow).error().code, ErrorCode::kInvalidArgument);
  auto special_ten = f_->minter().issue_unblinded(currency::Value::special(10).value(), kNow);
  ASSERT_TRUE(special_ten);
  EXPECT_EQ(bank().deposit(token, *special_ten, kNow).error().code, ErrorCode::kInvalidArgument);
  // Value zero.
  auto zero = f_->minter().issue_unblinded(currency::Value(), kNow);
  ASSERT_TRUE(zero);
  EXPECT_EQ(bank().deposit(token, *zero, kNow).error().code, ErrorCode::kInvalidArgument);
  // Expired: minted at kNow, deposited three hours later; and too far in the future.
  const Credit old = f_->mint(10);
  EXPECT_EQ(bank().deposit(token, old, kNow + 3 * 3600).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bank().deposit(token, f_->mint(10, kNow + 2 * 86400), kNow).error().code, ErrorCode::kInvalidArgument);
  // A flipped signature bit, a signature for another value, another value under the same signature.
  Credit forged = f_->mint(10);
  forged.signature[5] ^= 0x01;
  EXPECT_EQ(bank().deposit(token, forged, kNow).error().code, ErrorCode::kAuthenticationFailed);
  Credit relabelled = f_->mint(10);
  relabelled.value = value_of(12);
  EXPECT_EQ(bank().deposit(token, relabelled, kNow).error().code, ErrorCode::kAuthenticationFailed);
  Credit short_sig = f_->mint(10);
  short_sig.signature.pop_back();
  EXPECT_FALSE(bank().deposit(token, short_sig, kNow));
  EXPECT_EQ(bank().balance(token).value(), 0);
  // None of the refusals touched the nonce: the genuine credit still deposits after its expired attempt failed?
  // (It is expired at that time, but at kNow it is fine.)
  EXPECT_EQ(bank().deposit(token, old, kNow).value(), 10);
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_journal"), 1);
}

TEST_P(BlindBankTest, DepositRefusesCreditsOfAnotherKey) {
  // A stranger's issuer: a second 1024-bit safe-prime key, generated once per test process.
  static currency::Issuer* stranger = [] {
    auto key = crypto::RsaPrivateKey::generate_safe_prime(1024);
    EXPECT_TRUE(key) << key.error().to_string();
    return new currency::Issuer(currency::Issuer::create(std::move(*key)).value());
  }();
  auto foreign = stranger->issue_unblinded(value_of(10), kNow);
  ASSERT_TRUE(foreign);
  auto d = bank().deposit(new_token(), *foreign, kNow);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, ErrorCode::kAuthenticationFailed);
  Blinded fresh = blind(f_->key(), value_of(10));
  auto x = bank().exchange(*foreign, fresh.request.blinded_message, kNow);
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().code, ErrorCode::kAuthenticationFailed);
}

TEST_P(BlindBankTest, RepeatedDepositIntoTheSameAccountIsIdempotent) {
  const Bytes token = new_token();
  const Credit credit = f_->mint(100);
  EXPECT_EQ(bank().deposit(token, credit, kNow).value(), 100);
  // The answer got lost; the client sends the same request again: success, the current balance, no second credit.
  EXPECT_EQ(bank().deposit(token, credit, kNow).value(), 100);
  deposit_ok(token, 20);
  EXPECT_EQ(bank().deposit(token, credit, kNow).value(), 120);
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_journal WHERE op = 'deposit'"), 2);
  // Into another account it is a double spend.
  auto other = bank().deposit(new_token(), credit, kNow);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kAlreadyUsed);
}

TEST_P(BlindBankTest, CreditsSpentOrLockedElsewhereAreRefused) {
  auto nonces = currency::make_sql_nonce_store(f_->db_ptr());
  const Credit spent = f_->mint(10);
  auto ticket = nonces->lock(spent.nonce, kNow);
  ASSERT_TRUE(ticket);
  // Locked by a router right now: 409 territory.
  auto locked = bank().deposit(new_token(), spent, kNow);
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(nonces->consume(spent.nonce, *ticket));
  auto consumed = bank().deposit(new_token(), spent, kNow);
  ASSERT_FALSE(consumed);
  EXPECT_EQ(consumed.error().code, ErrorCode::kAlreadyUsed);
  // A lock whose holder vanished is taken over after the lock timeout.
  const Credit abandoned = f_->mint(10);
  ASSERT_TRUE(nonces->lock(abandoned.nonce, kNow - currency::kNonceLockTimeoutSeconds - 1));
  EXPECT_EQ(bank().deposit(new_token(), abandoned, kNow).value(), 10);
  // And a credit the bank took is spent for everyone else sharing the database.
  const Credit taken = f_->mint(10);
  deposit_ok(new_token(), 1);  // unrelated
  ASSERT_TRUE(bank().deposit(new_token(), taken, kNow));
  auto relock = nonces->lock(taken.nonce, kNow);
  ASSERT_FALSE(relock);
  EXPECT_EQ(relock.error().code, ErrorCode::kAlreadyUsed);
}

TEST_P(BlindBankTest, BalanceIsCapped) {
  const Bytes token = new_token();
  set_balance(token, kMaxBalance - 5);
  auto over = bank().deposit(token, f_->mint(6), kNow);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bank().balance(token).value(), kMaxBalance - 5);
  EXPECT_EQ(bank().deposit(token, f_->mint(5), kNow).value(), kMaxBalance);
}

// ---- batch withdrawal ----

TEST_P(BlindBankTest, WithdrawBatchSignsEveryRequestInOrder) {
  const Bytes token = new_token();
  deposit_ok(token, 1024);
  std::vector<Blinded> blinded;
  std::vector<BlindSignRequest> requests;
  for (int64_t amount : {1, 2, 16, 100, 3}) {
    blinded.push_back(blind(f_->key(), value_of(amount)));
    requests.push_back(blinded.back().request);
  }
  auto w = bank().withdraw_batch(token, requests, kNow);
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(w->balance, 1024 - 122);
  ASSERT_EQ(w->blind_signatures.size(), 5u);
  for (size_t i = 0; i < blinded.size(); ++i) {
    auto credit = blinded[i].pending.finish(w->blind_signatures[i]);
    ASSERT_TRUE(credit) << i << ": " << credit.error().to_string();
    EXPECT_TRUE(f_->verifier().verify(*credit, kNow));
    EXPECT_EQ(credit->value, requests[i].value);
  }
  EXPECT_EQ(bank().balance(token).value(), 902);
}

TEST_P(BlindBankTest, WithdrawBatchBounds) {
  const Bytes token = new_token();
  deposit_ok(token, 10240);
  auto empty = bank().withdraw_batch(token, std::vector<BlindSignRequest>{}, kNow);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  std::vector<Blinded> blinded;
  std::vector<BlindSignRequest> requests;
  for (int i = 0; i < 16; ++i) {
    blinded.push_back(blind(f_->key(), value_of(1)));
    requests.push_back(blinded.back().request);
  }
  auto sixteen = bank().withdraw_batch(token, requests, kNow);
  ASSERT_FALSE(sixteen);
  EXPECT_EQ(sixteen.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bank().balance(token).value(), 10240);
  requests.pop_back();
  auto fifteen = bank().withdraw_batch(token, requests, kNow);
  ASSERT_TRUE(fifteen) << fifteen.error().to_string();
  EXPECT_EQ(fifteen->blind_signatures.size(), 15u);
  EXPECT_EQ(fifteen->balance, 10240 - 15);
}

TEST_P(BlindBankTest, WithdrawBatchRefusalsMoveNothing) {
  const Bytes token = new_token();
  deposit_ok(token, 100);
  Blinded good = blind(f_->key(), value_of(4));
  auto refuse = [&](BlindSignRequest bad, ErrorCode want) {
    std::vector<BlindSignRequest> requests{good.request, bad};
    auto w = bank().withdraw_batch(token, requests, kNow);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, want) << w.error().to_string();
  };
  Blinded other = blind(f_->key(), value_of(1));
  // Special values (also the attestation value), zero, wrong message sizes, a message equal to another's.
  refuse(BlindSignRequest{currency::attestation_value(), other.request.blinded_message}, ErrorCode::kInvalidArgument);
  refuse(BlindSignRequest{currency::Value::special(1).value(), other.request.blinded_message},
         ErrorCode::kInvalidArgument);
  refuse(BlindSignRequest{currency::Value(), other.request.blinded_message}, ErrorCode::kInvalidArgument);
  Bytes shorter = other.request.blinded_message;
  shorter.pop_back();
  refuse(BlindSignRequest{value_of(1), shorter}, ErrorCode::kInvalidArgument);
  Bytes longer = other.request.blinded_message;
  longer.push_back(0);
  refuse(BlindSignRequest{value_of(1), longer}, ErrorCode::kInvalidArgument);
  refuse(BlindSignRequest{value_of(1), good.request.blinded_message}, ErrorCode::kInvalidArgument);  // duplicate
  // A message not below the modulus cannot be signed: the whole batch fails inside the transaction.
  refuse(BlindSignRequest{value_of(1), Bytes(other.request.blinded_message.size(), 0xff)},
         ErrorCode::kInvalidArgument);
  // More than the balance.
  refuse(BlindSignRequest{value_of(100), other.request.blinded_message}, ErrorCode::kInsufficientBalance);
  EXPECT_EQ(bank().balance(token).value(), 100);
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_signatures"), 0);
  // The good request alone still works, and exactly the balance can be withdrawn.
  std::vector<BlindSignRequest> all{good.request, BlindSignRequest{value_of(96), other.request.blinded_message}};
  auto w = bank().withdraw_batch(token, all, kNow);
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(w->balance, 0);
}

TEST_P(BlindBankTest, InsufficientBalanceSaysSo) {
  Blinded b = blind(f_->key(), value_of(1));
  auto w = bank().withdraw_batch(new_token(), std::vector<BlindSignRequest>{b.request}, kNow);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, ErrorCode::kInsufficientBalance);
  EXPECT_EQ(w.error().message, kInsufficientBalanceMessage);
}

TEST_P(BlindBankTest, RepeatedBatchGetsTheSameSignaturesWithoutASecondDebit) {
  const Bytes token = new_token();
  deposit_ok(token, 100);
  Blinded a = blind(f_->key(), value_of(10));
  Blinded b = blind(f_->key(), value_of(20));
  std::vector<BlindSignRequest> batch{a.request, b.request};
  auto first = bank().withdraw_batch(token, batch, kNow);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(first->balance, 70);
  deposit_ok(token, 5);
  auto again = bank().withdraw_batch(token, batch, kNow + 60);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->blind_signatures, first->blind_signatures);
  EXPECT_EQ(again->balance, 75);  // the current balance; nothing debited twice
  // Order of a retry does not matter: each message gets its own signature.
  std::vector<BlindSignRequest> reversed{b.request, a.request};
  auto swapped = bank().withdraw_batch(token, reversed, kNow);
  ASSERT_TRUE(swapped);
  EXPECT_EQ(swapped->blind_signatures[0], first->blind_signatures[1]);
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_journal WHERE op = 'withdraw'"), 1);
  EXPECT_TRUE(a.pending.finish(again->blind_signatures[0]));

  // The same messages from another account, or for another value, or mixed with new ones: refused.
  const Bytes other = new_token();
  deposit_ok(other, 100);
  auto stolen = bank().withdraw_batch(other, batch, kNow);
  ASSERT_FALSE(stolen);
  EXPECT_EQ(stolen.error().code, ErrorCode::kInvalidArgument);
  std::vector<BlindSignRequest> revalued{BlindSignRequest{value_of(11), a.request.blinded_message}};
  EXPECT_EQ(bank().withdraw_batch(token, revalued, kNow).error().code, ErrorCode::kInvalidArgument);
  Blinded c = blind(f_->key(), value_of(1));
  std::vector<BlindSignRequest> partial{a.request, c.request};
  auto overlap = bank().withdraw_batch(token, partial, kNow);
  ASSERT_FALSE(overlap);
  EXPECT_EQ(overlap.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bank().balance(token).value(), 75);
  EXPECT_EQ(bank().balance(other).value(), 100);
}

// ---- withdraw-full ----

TEST_P(BlindBankTest, WithdrawFullOfARepresentableBalanceIsExact) {
  const Bytes token = new_token();
  deposit_ok(token, 1024);
  auto credit = bank().withdraw_full(token, kNow);
  ASSERT_TRUE(credit) << credit.error().to_string();
  EXPECT_EQ(credit->value.amount(), 1024);
  EXPECT_FALSE(credit->value.is_special());
  EXPECT_TRUE(f_->verifier().verify(*credit, kNow));
  EXPECT_EQ(bank().balance(token).value(), 0);
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_journal WHERE op = 'rounding'"), 0);
  // The issued credit is money: it deposits elsewhere.
  EXPECT_EQ(bank().deposit(new_token(), *credit, kNow).value(), 1024);
}

TEST_P(BlindBankTest, WithdrawFullRoundsStochasticallyAndJournalsTheDifference) {
  // 992 + 25 = 1017 is not representable (5 significant bits): its neighbours are 992 and 1024.
  std::set<int64_t> seen;
  int64_t rounding = 0;
  for (int i = 0; i < 40; ++i) {
    const Bytes token = new_token();
    deposit_ok(token, 992);
    deposit_ok(token, 25);
    auto credit = bank().withdraw_full(token, kNow);
    ASSERT_TRUE(credit) << credit.error().to_string();
    const int64_t issued = credit->value.amount();
    EXPECT_TRUE(issued == 992 || issued == 1024) << issued;
    seen.insert(issued);
    rounding += issued - 1017;
    EXPECT_TRUE(f_->verifier().verify(*credit, kNow));
  }
  auto audit = bank().audit();
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->rounding, rounding);
  EXPECT_EQ(audit->full_withdrawals_out, 40 * 1017 + rounding);
  // p(upper) = 25/32 each time: both sides appear in 40 draws except with probability < 1e-4.
  EXPECT_EQ(seen.size(), 2u);
}

TEST_P(BlindBankTest, WithdrawFullRetryReturnsTheSameCreditWhileTheAccountIsEmpty) {
  const Bytes token = new_token();
  deposit_ok(token, 64);
  auto first = bank().withdraw_full(token, kNow);
  ASSERT_TRUE(first);
  auto again = bank().withdraw_full(token, kNow + 10);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_journal WHERE op = 'withdraw_full'"), 1);
  // With new money in the account, it is a new withdrawal.
  deposit_ok(token, 8);
  auto second = bank().withdraw_full(token, kNow);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->value.amount(), 8);
  EXPECT_NE(second->nonce, first->nonce);
  // Once the record expires with its credit, an empty account is just empty.
  auto later = bank().withdraw_full(token, kHour + 3 * 3600);
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, ErrorCode::kInsufficientBalance);
}

TEST_P(BlindBankTest, WithdrawFullRefusesEmptyAndOversizedBalances) {
  auto none = bank().withdraw_full(new_token(), kNow);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kInsufficientBalance);
  const Bytes big = new_token();
  set_balance(big, currency::kMaxAmount + 1);
  auto over = bank().withdraw_full(big, kNow);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bank().balance(big).value(), currency::kMaxAmount + 1);
  const Bytes max = new_token();
  set_balance(max, currency::kMaxAmount);
  auto all = bank().withdraw_full(max, kNow);
  ASSERT_TRUE(all) << all.error().to_string();
  EXPECT_EQ(all->value.amount(), currency::kMaxAmount);
}

// ---- exchange ----

TEST_P(BlindBankTest, ExchangeBlindedAndUnblindedCredits) {
  for (bool blinded_input : {false, true}) {
    const Credit old = blinded_input ? f_->mint_blinded(48) : f_->mint(48);
    Blinded fresh = blind(f_->key(), value_of(48));
    auto sig = bank().exchange(old, fresh.request.blinded_message, kNow);
    ASSERT_TRUE(sig) << sig.error().to_string();
    auto credit = fresh.pending.finish(*sig);
    ASSERT_TRUE(credit) << credit.error().to_string();
    EXPECT_EQ(credit->value.amount(), 48);
    // The old credit is spent; the new one is good.
    EXPECT_EQ(bank().deposit(new_token(), old, kNow).error().code, ErrorCode::kAlreadyUsed);
    EXPECT_EQ(bank().deposit(new_token(), *credit, kNow).value(), 48);
  }
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_journal WHERE op = 'exchange' AND delta = 0"), 2);
}

TEST_P(BlindBankTest, ExchangeSignsUnderTheCreditsValueOnly) {
  // A client that blinded for another value gets a signature its finish() rejects: the value is the key's.
  const Credit old = f_->mint(48);
  Blinded wrong = blind(f_->key(), value_of(64));
  auto sig = bank().exchange(old, wrong.request.blinded_message, kNow);
  ASSERT_TRUE(sig);
  EXPECT_FALSE(wrong.pending.finish(*sig));
}

TEST_P(BlindBankTest, ExchangeRetriesAndRefusals) {
  const Credit old = f_->mint(32);
  Blinded fresh = blind(f_->key(), value_of(32));
  auto first = bank().exchange(old, fresh.request.blinded_message, kNow);
  ASSERT_TRUE(first);
  auto again = bank().exchange(old, fresh.request.blinded_message, kNow + 5);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(*again, *first);
  // The same credit for a new message is a double spend.
  Blinded other = blind(f_->key(), value_of(32));
  EXPECT_EQ(bank().exchange(old, other.request.blinded_message, kNow).error().code, ErrorCode::kAlreadyUsed);
  // Another credit for the answered message: refused, and that credit stays unspent.
  const Credit second = f_->mint(32);
  EXPECT_EQ(bank().exchange(second, fresh.request.blinded_message, kNow).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(bank().deposit(new_token(), second, kNow));
  // Withdrawal messages cannot be replayed as exchanges either.
  const Bytes token = new_token();
  deposit_ok(token, 100);
  Blinded w = blind(f_->key(), value_of(16));
  ASSERT_TRUE(bank().withdraw_batch(token, std::vector<BlindSignRequest>{w.request}, kNow));
  const Credit third = f_->mint(16);
  EXPECT_EQ(bank().exchange(third, w.request.blinded_message, kNow).error().code, ErrorCode::kInvalidArgument);
  // Size, special, zero, expired, forged.
  Bytes shorter = other.request.blinded_message;
  shorter.pop_back();
  EXPECT_EQ(bank().exchange(third, shorter, kNow).error().code, ErrorCode::kInvalidArgument);
  auto special = f_->minter().issue_unblinded(currency::attestation_value(), kNow);
  EXPECT_EQ(bank().exchange(*special, other.request.blinded_message, kNow).error().code,
            ErrorCode::kInvalidArgument);
  auto zero = f_->minter().issue_unblinded(currency::Value(), kNow);
  EXPECT_EQ(bank().exchange(*zero, other.request.blinded_message, kNow).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bank().exchange(third, other.request.blinded_message, kNow + 3 * 3600).error().code,
            ErrorCode::kInvalidArgument);
  Credit forged = third;
  forged.signature[0] ^= 0x80;
  EXPECT_FALSE(bank().exchange(forged, other.request.blinded_message, kNow));
  EXPECT_TRUE(bank().deposit(new_token(), third, kNow));
}

// ---- privacy ----

TEST_P(BlindBankTest, UnknownAndEmptiedAccountsAnswerAlike) {
  const Bytes emptied = new_token();
  deposit_ok(emptied, 10);
  Blinded b = blind(f_->key(), value_of(10));
  ASSERT_TRUE(bank().withdraw_batch(emptied, std::vector<BlindSignRequest>{b.request}, kNow));
  const Bytes unknown = new_token();
  EXPECT_EQ(bank().balance(emptied).value(), bank().balance(unknown).value());
  Blinded c = blind(f_->key(), value_of(1));
  auto w1 = bank().withdraw_batch(emptied, std::vector<BlindSignRequest>{c.request}, kNow);
  auto w2 = bank().withdraw_batch(unknown, std::vector<BlindSignRequest>{c.request}, kNow);
  ASSERT_FALSE(w1);
  ASSERT_FALSE(w2);
  EXPECT_EQ(w1.error().code, w2.error().code);
  EXPECT_EQ(w1.error().message, w2.error().message);
  auto f1 = bank().withdraw_full(emptied, kNow);
  auto f2 = bank().withdraw_full(unknown, kNow);
  ASSERT_FALSE(f1);
  ASSERT_FALSE(f2);
  EXPECT_EQ(f1.error().code, f2.error().code);
  EXPECT_EQ(f1.error().message, f2.error().message);
  // And the tables hold no row for either.
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_accounts"), 0);
}

// ---- housekeeping ----

TEST_P(BlindBankTest, GarbageCollectionForgetsRecordsOnlyAfterTheirCreditsExpire) {
  const Bytes token = new_token();
  const Credit credit = f_->mint(64);
  deposit_ok(token, 1);
  ASSERT_TRUE(bank().deposit(token, credit, kNow));
  Blinded b = blind(f_->key(), value_of(1));
  ASSERT_TRUE(bank().withdraw_batch(token, std::vector<BlindSignRequest>{b.request}, kNow));
  ASSERT_TRUE(bank().withdraw_full(token, kNow));
  EXPECT_EQ(bank().collect_garbage(kNow).value(), 0);
  EXPECT_EQ(bank().deposit(token, credit, kNow).value(), 0);  // still a recognised retry
  // Two days later every record is gone; the credits they concern are long expired.
  EXPECT_EQ(bank().collect_garbage(kNow + 2 * 86400).value(), 4);  // 2 deposits, 1 signature, 1 full withdrawal
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_deposits"), 0);
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_signatures"), 0);
  EXPECT_EQ(f_->count("SELECT COUNT(*) FROM blindbank_full_withdrawals"), 0);
}

TEST_P(BlindBankTest, ReopeningKeepsTheBooks) {
  const Bytes token = new_token();
  deposit_ok(token, 100);
  auto db = store::open_database(f_->url());
  ASSERT_TRUE(db);
  auto second = BlindBank::open(*db, testkit::test_issuer());  // migrations are idempotent
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_EQ((*second)->balance(token).value(), 100);
}

TEST_P(BlindBankTest, TwoBanksOnOneDatabaseNeverTakeACreditTwice) {
  auto db = store::open_database(f_->url());
  ASSERT_TRUE(db);
  auto second = BlindBank::open(*db, testkit::test_issuer());
  ASSERT_TRUE(second);
  std::vector<Credit> credits;
  for (int i = 0; i < 20; ++i) credits.push_back(f_->mint(8));
  const Bytes a = new_token(), b = new_token();
  std::atomic<int> ok_a{0}, ok_b{0}, other{0};
  std::thread ta([&] {
    for (const Credit& c : credits) {
      auto r = bank().deposit(a, c, kNow);
      r ? ++ok_a : (r.error().code == ErrorCode::kAlreadyUsed || r.error().code == ErrorCode::kConflict ? 0 : ++other);
    }
  });
  std::thread tb([&] {
    for (const Credit& c : credits) {
      auto r = (*second)->deposit(b, c, kNow);
      r ? ++ok_b : (r.error().code == ErrorCode::kAlreadyUsed || r.error().code == ErrorCode::kConflict ? 0 : ++other);
    }
  });
  ta.join();
  tb.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok_a + ok_b, 20);
  EXPECT_EQ(bank().balance(a).value() + bank().balance(b).value(), 160);
}

TEST_P(BlindBankTest, ConcurrentWithdrawalsNeverOverdraw) {
  const Bytes token = new_token();
  deposit_ok(token, 100);
  std::atomic<int> granted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        Blinded b = blind(f_->key(), value_of(8));
        auto w = bank().withdraw_batch(token, std::vector<BlindSignRequest>{b.request}, kNow);
        if (w) {
          ++granted;
        } else {
          EXPECT_EQ(w.error().code, ErrorCode::kInsufficientBalance) << w.error().to_string();
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 12);  // 12 × 8 = 96 ≤ 100 < 13 × 8
  EXPECT_EQ(refused.load(), 8);
  EXPECT_EQ(bank().balance(token).value(), 4);
}

INSTANTIATE_TEST_SUITE_P(Backends, BlindBankTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         testkit::backend_name);

}  // namespace
}  // namespace openpcc::blindbank
