// The ledger invariant under random sequences of operations, on SQLite and PostgreSQL.
//
// A seeded client model holds credits and knows what it put in. Each step is one operation — often one that must
// fail (forged signature, double deposit, insufficient balance, duplicate blinded messages, oversized or empty
// batches, a batch that fails midway at signing, spent credits) — or a retry of an answered request whose answer the
// client "lost". After every step:
//   bank side:    Σ journal deltas = Σ balances, and deposits_in − withdrawals_out − full_withdrawals_out + rounding
//                 = Σ balances (LedgerAudit::consistent);
//   client side:  value held as credits + balances = value put in + recorded rounding, and the bank's balances
//                 equal the model's, account by account;
//   every credit the client holds verifies and is unspent (checked at the end by depositing all of them).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "blindbank_test_support.h"
#include "services/blindbank/blindbank.h"

namespace openpcc::blindbank {
namespace {

using currency::Credit;
using testkit::Backend;
using testkit::BankFixture;
using testkit::blind;
using testkit::Blinded;
using testkit::kNow;
using testkit::new_token;
using testkit::value_of;

struct Param {
  Backend backend;
  uint64_t seed;
};

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  return std::string(info.param.backend == Backend::kSqlite ? "Sqlite" : "Postgres") + "_seed" +
         std::to_string(info.param.seed);
}

class LedgerInvariant : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    f_ = std::make_unique<BankFixture>(GetParam().backend);
    ASSERT_TRUE(f_->ok());
    rng_.seed(GetParam().seed);
    for (int i = 0; i < 4; ++i) {
      tokens_.push_back(new_token());
      balances_[tokens_.back()] = 0;
    }
  }

  BlindBank& bank() { return f_->bank(); }
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  const Bytes& some_token() { return tokens_[pick(tokens_.size())]; }

  // A representable amount, mostly small, sometimes large.
  int64_t some_amount() {
    static const int64_t kAmounts[] = {1, 2, 3, 5, 8, 13, 16, 17, 31, 32, 34, 40, 100, 256, 992, 1024, 4096};
    return kAmounts[pick(std::size(kAmounts))];
  }

  int64_t held() const {
    int64_t sum = 0;
    for (const Credit& c : wallet_) sum += c.value.amount();
    return sum;
  }
  int64_t model_balances() const {
    int64_t sum = 0;
    for (const auto& [token, b] : balances_) sum += b;
    return sum;
  }

  void check(const std::string& step) {
    auto audit = bank().audit();
    ASSERT_TRUE(audit) << audit.error().to_string();
    ASSERT_TRUE(audit->consistent()) << step << ": journal " << audit->journal_delta << " balances "
                                     << audit->balances;
    ASSERT_EQ(audit->balances, model_balances()) << step;
    ASSERT_EQ(audit->rounding, rounding_) << step;
    ASSERT_EQ(held() + model_balances(), put_in_ + rounding_) << step;
    ASSERT_EQ(audit->deposits_in - audit->withdrawals_out - audit->full_withdrawals_out + audit->rounding,
              model_balances())
        << step;
  }

  void expect_fails(const Status& s, std::initializer_list<ErrorCode> codes, const std::string& what) {
    ASSERT_FALSE(s) << what << " should have failed";
    bool match = false;
    for (ErrorCode c : codes) match |= s.error().code == c;
    EXPECT_TRUE(match) << what << ": " << s.error().to_string();
  }
  template <class T>
  Status status_of(const Result<T>& r) {
    if (r) return {};
    return std::unexpected(r.error());
  }

  // ---- the operations ----

  void mint_and_deposit() {
    const int64_t amount = some_amount();
    const Credit credit = chance(0.5) ? f_->mint(amount) : f_->mint_blinded(amount);
    put_in_ += amount;
    const Bytes& token = some_token();
    auto b = bank().deposit(token, credit, kNow);
    ASSERT_TRUE(b) << b.error().to_string();
    balances_[token] += amount;
    ASSERT_EQ(*b, balances_[token]);
    deposited_.push_back({credit, token});
    if (chance(0.3)) {  // the answer got lost: the identical request again
      auto again = bank().deposit(token, credit, kNow);
      ASSERT_TRUE(again) << again.error().to_string();
      ASSERT_EQ(*again, balances_[token]);
    }
  }

  void deposit_held() {
    if (wallet_.empty()) return;
    const size_t i = pick(wallet_.size());
    const Credit credit = wallet_[i];
    const Bytes& token = some_token();
    auto b = bank().deposit(token, credit, kNow);
    ASSERT_TRUE(b) << b.error().to_string();
    wallet_.erase(wallet_.begin() + static_cast<ptrdiff_t>(i));
    balances_[token] += credit.value.amount();
    ASSERT_EQ(*b, balances_[token]);
    deposited_.push_back({credit, token});
  }

  void double_deposit() {
    if (deposited_.empty()) return;
    const auto& [credit, owner] = deposited_[pick(deposited_.size())];
    const Bytes& token = some_token();
    auto b = bank().deposit(token, credit, kNow);
    if (token == owner) {
      ASSERT_TRUE(b) << b.error().to_string();  // a retry: answered with the current balance
      ASSERT_EQ(*b, balances_[token]);
    } else {
      expect_fails(status_of(b), {ErrorCode::kAlreadyUsed}, "double deposit");
    }
  }

  void forged_deposit() {
    Credit credit = f_->mint(some_amount());
    credit.signature[pick(credit.signature.size())] ^= static_cast<uint8_t>(1u << pick(8));
    expect_fails(status_of(bank().deposit(some_token(), credit, kNow)),
                 {ErrorCode::kAuthenticationFailed, ErrorCode::kInvalidArgument}, "forged deposit");
  }

  void withdraw_batch() {
    const Bytes& token = some_token();
    size_t n = 1 + pick(kMaxBatchSize);
    enum { kNormal, kEmpty, kOversize, kDuplicate, kMidwayFailure, kSpecial } kind = kNormal;
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.05) kind = kEmpty;
    else if (r < 0.10) kind = kOversize;
    else if (r < 0.18) kind = kDuplicate;
    else if (r < 0.24) kind = kMidwayFailure;
    else if (r < 0.28) kind = kSpecial;
    if (kind == kEmpty) n = 0;
    if (kind == kOversize) n = kMaxBatchSize + 1;
    if ((kind == kDuplicate || kind == kMidwayFailure) && n < 2) n = 2;
    // Mostly affordable amounts; sometimes whatever, which may exceed the balance.
    const int64_t balance = balances_[token];
    std::vector<Blinded> blinded;
    std::vector<BlindSignRequest> requests;
    int64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      int64_t amount = some_amount();
      if (chance(0.7) && balance > 0) {
        while (amount > balance / static_cast<int64_t>(n) && amount > 1) amount /= 2;
        amount = currency::Value::rounded(static_cast<double>(amount), 0.0).value().amount();
      }
      blinded.push_back(blind(f_->key(), value_of(amount)));
      requests.push_back(blinded.back().request);
      total += amount;
    }
    if (kind == kDuplicate) requests.back().blinded_message = requests.front().blinded_message;
    if (kind == kMidwayFailure) requests.back().blinded_message.assign(requests.back().blinded_message.size(), 0xff);
    if (kind == kSpecial) requests.back().value = currency::Value::special(1).value();
    auto w = bank().withdraw_batch(token, requests, kNow);
    if (kind != kNormal) {
      expect_fails(status_of(w), {ErrorCode::kInvalidArgument, ErrorCode::kInsufficientBalance}, "bad batch");
      return;
    }
    if (total > balance) {
      expect_fails(status_of(w), {ErrorCode::kInsufficientBalance}, "overdraft");
      return;
    }
    ASSERT_TRUE(w) << w.error().to_string();
    balances_[token] -= total;
    ASSERT_EQ(w->balance, balances_[token]);
    if (chance(0.3)) {  // lost answer: retry; same signatures, nothing debited
      auto again = bank().withdraw_batch(token, requests, kNow);
      ASSERT_TRUE(again) << again.error().to_string();
      ASSERT_EQ(again->blind_signatures, w->blind_signatures);
      ASSERT_EQ(again->balance, balances_[token]);
    }
    for (size_t i = 0; i < n; ++i) {
      auto credit = blinded[i].pending.finish(w->blind_signatures[i]);
      ASSERT_TRUE(credit) << credit.error().to_string();
      wallet_.push_back(*credit);
    }
  }

  void withdraw_full() {
    const Bytes& token = some_token();
    const int64_t balance = balances_[token];
    auto credit = bank().withdraw_full(token, kNow);
    if (balance == 0) {
      // Either a retry answer (a recorded earlier full withdrawal, which the client holds already) or nothing.
      if (credit) {
        ASSERT_TRUE(full_withdrawals_.count(token)) << "credit from an account that never had money";
        ASSERT_EQ(*credit, full_withdrawals_[token]);
      } else {
        expect_fails(status_of(credit), {ErrorCode::kInsufficientBalance}, "empty withdraw-full");
      }
      return;
    }
    ASSERT_TRUE(credit) << credit.error().to_string();
    ASSERT_TRUE(f_->verifier().verify(*credit, kNow));
    rounding_ += credit->value.amount() - balance;
    balances_[token] = 0;
    wallet_.push_back(*credit);
    full_withdrawals_[token] = *credit;
  }

  void exchange() {
    if (wallet_.empty()) return;
    const size_t i = pick(wallet_.size());
    const Credit old = wallet_[i];
    Blinded fresh = blind(f_->key(), old.value);
    auto sig = bank().exchange(old, fresh.request.blinded_message, kNow);
    ASSERT_TRUE(sig) << sig.error().to_string();
    if (chance(0.3)) {
      auto again = bank().exchange(old, fresh.request.blinded_message, kNow);
      ASSERT_TRUE(again) << again.error().to_string();
      ASSERT_EQ(*again, *sig);
    }
    auto credit = fresh.pending.finish(*sig);
    ASSERT_TRUE(credit) << credit.error().to_string();
    wallet_[i] = *credit;
    spent_.push_back(old);
  }

  void spend_spent() {
    if (spent_.empty()) return;
    const Credit& old = spent_[pick(spent_.size())];
    if (chance(0.5)) {
      expect_fails(status_of(bank().deposit(some_token(), old, kNow)), {ErrorCode::kAlreadyUsed}, "spent deposit");
    } else {
      Blinded fresh = blind(f_->key(), old.value);
      expect_fails(status_of(bank().exchange(old, fresh.request.blinded_message, kNow)), {ErrorCode::kAlreadyUsed},
                   "spent exchange");
    }
  }

  void balance_matches() {
    const Bytes& token = some_token();
    auto b = bank().balance(token);
    ASSERT_TRUE(b);
    ASSERT_EQ(*b, balances_[token]);
  }

  std::unique_ptr<BankFixture> f_;
  std::mt19937_64 rng_;
  std::vector<Bytes> tokens_;
  std::map<Bytes, int64_t> balances_;
  std::vector<Credit> wallet_;
  std::vector<std::pair<Credit, Bytes>> deposited_;
  std::vector<Credit> spent_;
  std::map<Bytes, Credit> full_withdrawals_;
  int64_t put_in_ = 0;
  int64_t rounding_ = 0;
};

TEST_P(LedgerInvariant, HoldsAfterEveryStep) {
  constexpr int kSteps = 120;
  std::map<std::string, int> ops;
  for (int step = 0; step < kSteps; ++step) {
    const size_t op = pick(10);
    static const char* kNames[] = {"mint+deposit", "mint+deposit", "deposit held", "double deposit", "forged deposit",
                                   "withdraw batch", "withdraw batch", "withdraw full", "exchange", "spent/balance"};
    ++ops[kNames[op]];
    switch (op) {
      case 0:
      case 1: mint_and_deposit(); break;
      case 2: deposit_held(); break;
      case 3: double_deposit(); break;
      case 4: forged_deposit(); break;
      case 5:
      case 6: withdraw_batch(); break;
      case 7: withdraw_full(); break;
      case 8: exchange(); break;
      default:
        spend_spent();
        balance_matches();
        break;
    }
    if (HasFatalFailure()) FAIL() << "at step " << step << " (" << kNames[op] << ")";
    check("step " + std::to_string(step) + " (" + kNames[op] + ")");
    if (HasFatalFailure()) return;
  }
  // Every credit the client holds is valid and unspent: all of them deposit, and then the books show exactly what
  // was put in, plus rounding, as balances.
  const Bytes sink = new_token();
  for (const Credit& c : wallet_) {
    ASSERT_TRUE(f_->verifier().verify(c, kNow));
    auto b = bank().deposit(sink, c, kNow);
    ASSERT_TRUE(b) << b.error().to_string();
    balances_[sink] += c.value.amount();
  }
  wallet_.clear();
  check("final deposit of every held credit");
  auto audit = bank().audit();
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->balances, put_in_ + rounding_);
  std::string summary;
  for (const auto& [name, n] : ops) summary += name + "=" + std::to_string(n) + " ";
  RecordProperty("operations", summary);
  std::printf("seed %llu: %s put in %lld, rounding %lld, journal rows %lld\n",
              static_cast<unsigned long long>(GetParam().seed), summary.c_str(), static_cast<long long>(put_in_),
              static_cast<long long>(rounding_), static_cast<long long>(audit->journal_rows));
}

INSTANTIATE_TEST_SUITE_P(Seeds, LedgerInvariant,
                         ::testing::Values(Param{Backend::kSqlite, 1}, Param{Backend::kSqlite, 2},
                                           Param{Backend::kSqlite, 3}, Param{Backend::kPostgres, 1},
                                           Param{Backend::kPostgres, 4}),
                         param_name);

}  // namespace
}  // namespace openpcc::blindbank
