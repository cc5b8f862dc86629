// The state file format: round trips, and strict refusal of anything damaged or inconsistent.
#include "client/wallet/wallet_state.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "client/wallet/blind_request.h"
#include "currency/issuer.h"
#include "unit/wallet/wallet_test_support.h"

namespace openpcc::wallet {
namespace {

constexpr int64_t kNow = wallet_test::kWorldStartMs / 1000;
constexpr size_t kHeader = 16;
constexpr size_t kTrailer = 32;

class WalletStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto issuer = currency::Issuer::create(wallet_test::test_currency_key());
    ASSERT_TRUE(issuer.has_value());
    issuer_.emplace(std::move(*issuer));
  }

  currency::Credit credit(int64_t amount) {
    auto c = issuer_->issue_unblinded(currency::Value::from_amount(amount).value(), kNow);
    EXPECT_TRUE(c.has_value());
    return *c;
  }
  BlindRequest request(int64_t amount) {
    auto r = make_blind_request(issuer_->public_key(), currency::Value::from_amount(amount).value(), kNow, 0.9);
    EXPECT_TRUE(r.has_value());
    return std::move(*r);
  }

  // One item of every stage, two accounts, non-trivial counters and a badge.
  WalletState sample() {
    WalletState s;
    s.currency_key = issuer_->public_key();
    Account fill;
    fill.id = 1;
    fill.role = AccountRole::kFill;
    fill.token = SecretBytes(Bytes(32, 0xa1));
    fill.balance = 2048;
    Account consolidation;
    consolidation.id = 2;
    consolidation.role = AccountRole::kConsolidation;
    consolidation.token = SecretBytes(Bytes(32, 0xb2));
    consolidation.balance = 0;
    s.accounts.push_back(std::move(fill));
    s.accounts.push_back(std::move(consolidation));
    uint64_t id = 3;
    auto add = [&](Stage stage, Destination destination, uint64_t account, std::optional<currency::Credit> c,
                   int requests, bool maybe_spent = false) {
      Item item;
      item.id = id++;
      item.stage = stage;
      item.destination = destination;
      item.account_id = account;
      item.credit = std::move(c);
      item.maybe_spent = maybe_spent;
      item.not_before_ms = kNow * 1000 + static_cast<int64_t>(item.id);
      for (int i = 0; i < requests; ++i) item.requests.push_back(request(stage == Stage::kSourceWithdraw ? 2560 : 256));
      s.items.push_back(std::move(item));
    };
    add(Stage::kSourceWithdraw, Destination::kNone, 1, std::nullopt, 1);
    add(Stage::kDeposit, Destination::kNone, 2, credit(100), 0);
    add(Stage::kBatchWithdraw, Destination::kNone, 1, std::nullopt, 3);
    add(Stage::kAvailable, Destination::kNone, 0, credit(256), 0);
    add(Stage::kHeld, Destination::kNone, 0, credit(256), 0);
    add(Stage::kExchange, Destination::kPool, 0, credit(256), 1, true);
    add(Stage::kExchange, Destination::kDeposit, 0, credit(72), 0);
    add(Stage::kWithdrawFull, Destination::kReturn, 1, std::nullopt, 0);
    add(Stage::kReturn, Destination::kNone, 0, credit(1024), 0);
    s.next_id = id;
    s.counters = Counters{2560, 1024, 768, 150, 256, 3, -5, 3, 1, 2, 1};
    auto badge_key = crypto::Ed25519PrivateKey::from_seed(Bytes(32, 7));
    currency::Credentials credentials;
    credentials.models = {"llama3:8b"};
    auto badge = currency::BadgeIssuer(std::move(*badge_key)).issue(credentials);
    EXPECT_TRUE(badge.has_value());
    s.badge = badge->serialize().value();
    return s;
  }

  std::optional<currency::Issuer> issuer_;
};

// Recomputes the checksum after a test edited the body, so that the semantic checks are reached.
Bytes reframe(Bytes file) {
  unsigned int size = 0;
  const size_t covered = file.size() - kTrailer;
  EXPECT_EQ(EVP_Digest(file.data(), covered, file.data() + covered, &size, EVP_sha256(), nullptr), 1);
  return file;
}

void expect_same(const WalletState& a, const WalletState& b) {
  EXPECT_EQ(a.currency_key.n, b.currency_key.n);
  EXPECT_EQ(a.currency_key.e, b.currency_key.e);
  EXPECT_EQ(a.next_id, b.next_id);
  EXPECT_EQ(a.counters, b.counters);
  EXPECT_EQ(a.badge, b.badge);
  ASSERT_EQ(a.accounts.size(), b.accounts.size());
  for (size_t i = 0; i < a.accounts.size(); ++i) {
    EXPECT_EQ(a.accounts[i].id, b.accounts[i].id);
    EXPECT_EQ(a.accounts[i].role, b.accounts[i].role);
    EXPECT_TRUE(ct_equal(a.accounts[i].token, b.accounts[i].token));
    EXPECT_EQ(a.accounts[i].balance, b.accounts[i].balance);
  }
  ASSERT_EQ(a.items.size(), b.items.size());
  for (size_t i = 0; i < a.items.size(); ++i) {
    const Item& x = a.items[i];
    const Item& y = b.items[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.stage, y.stage);
    EXPECT_EQ(x.destination, y.destination);
    EXPECT_EQ(x.maybe_spent, y.maybe_spent);
    EXPECT_EQ(x.account_id, y.account_id);
    EXPECT_EQ(x.not_before_ms, y.not_before_ms);
    EXPECT_EQ(x.credit, y.credit);
    ASSERT_EQ(x.requests.size(), y.requests.size());
    for (size_t k = 0; k < x.requests.size(); ++k) EXPECT_TRUE(x.requests[k] == y.requests[k]);
  }
}

TEST_F(WalletStateTest, RoundTrip) {
  const WalletState s = sample();
  ASSERT_TRUE(check_state(s).has_value()) << check_state(s).error().to_string();
  const Bytes file = serialize_state(s);
  EXPECT_TRUE(std::equal(kStateMagic.begin(), kStateMagic.end(), file.begin()));
  auto parsed = parse_state(file);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  expect_same(s, *parsed);
  EXPECT_EQ(serialize_state(*parsed), file);
  expect_same(s, s.clone());

  WalletState empty;
  empty.currency_key = s.currency_key;
  auto parsed_empty = parse_state(serialize_state(empty));
  ASSERT_TRUE(parsed_empty.has_value());
  EXPECT_TRUE(parsed_empty->empty());
}

TEST_F(WalletStateTest, EveryFlippedByteIsCaught) {
  const Bytes file = serialize_state(sample());
  for (size_t i = 0; i < file.size(); ++i) {
    Bytes bad = file;
    bad[i] ^= 0x01;
    auto parsed = parse_state(bad);
    ASSERT_FALSE(parsed.has_value()) << "flipped byte " << i << " was accepted";
    EXPECT_TRUE(parsed.error().code == ErrorCode::kDecode || parsed.error().code == ErrorCode::kUnsupported);
  }
}

TEST_F(WalletStateTest, EveryTruncationIsCaught) {
  const Bytes file = serialize_state(sample());
  for (size_t n = 0; n < file.size(); ++n) {
    auto parsed = parse_state(ByteSpan(file).first(n));
    ASSERT_FALSE(parsed.has_value()) << "truncated to " << n;
  }
  Bytes longer = file;
  longer.push_back(0);
  EXPECT_FALSE(parse_state(longer).has_value());
}

TEST_F(WalletStateTest, HeaderRules) {
  Bytes file = serialize_state(sample());
  Bytes magic = file;
  magic[0] = 'X';
  auto parsed = parse_state(magic);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_NE(parsed.error().message.find("not a wallet state file"), std::string::npos);
  Bytes version = file;
  version[11] = 9;
  parsed = parse_state(version);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(parsed.error().message.find("version 9"), std::string::npos);
  Bytes oversized(kMaxStateFileSize + 1, 0);
  EXPECT_FALSE(parse_state(oversized).has_value());
}

// Bodies with a valid checksum that break a rule.
TEST_F(WalletStateTest, InconsistentStatesAreRefused) {
  struct Case {
    const char* what;
    std::function<void(WalletState&)> edit;
  };
  const std::vector<Case> cases = {
      {"duplicate", [](WalletState& s) { s.items[1].id = s.items[0].id; }},
      {"not below next id", [](WalletState& s) { s.next_id = s.items.back().id; }},
      {"unknown account", [](WalletState& s) { s.items[1].account_id = 999; }},
      {"credit missing", [](WalletState& s) { s.items[1].credit.reset(); }},
      {"needs exactly one request", [](WalletState& s) { s.items[0].requests.clear(); }},
      {"needs 1..15 requests", [](WalletState& s) { s.items[2].requests.clear(); }},
      {"unexpected requests", [](WalletState& s) { s.items[3].requests.push_back(s.items[0].requests[0].clone()); }},
      {"unexpected account", [](WalletState& s) { s.items[3].account_id = 1; }},
      {"destination does not fit", [](WalletState& s) { s.items[3].destination = Destination::kPool; }},
      {"destination does not fit", [](WalletState& s) { s.items[5].destination = Destination::kNone; }},
      {"maybe-spent", [](WalletState& s) { s.items[3].maybe_spent = true; }},
      {"key's size", [](WalletState& s) { s.items[0].requests[0].blinded_message.pop_back(); }},
      {"key's size", [](WalletState& s) { s.items[0].requests[0].inverse.resize(10); }},
      {"request value differs", [](WalletState& s) { s.items[5].requests[0].value = currency::Value::from_amount(240).value(); }},
      {"not a spendable amount", [](WalletState& s) { s.items[3].credit->value = currency::attestation_value(); }},
      {"token is not 32 bytes", [](WalletState& s) { s.accounts[0].token.resize(31); }},
      {"negative account balance", [](WalletState& s) { s.accounts[0].balance = -1; }},
      {"currency key", [](WalletState& s) { s.currency_key.n[s.currency_key.n.size() - 1] &= 0xfe; }},  // even n
      {"badge", [](WalletState& s) { s.badge = Bytes{1, 2, 3}; }},
  };
  for (const auto& c : cases) {
    WalletState s = sample();
    c.edit(s);
    EXPECT_FALSE(check_state(s).has_value()) << c.what;
    auto parsed = parse_state(serialize_state(s));
    ASSERT_FALSE(parsed.has_value()) << c.what << " was accepted";
    EXPECT_EQ(parsed.error().code, ErrorCode::kDecode);
    EXPECT_NE(parsed.error().message.find(c.what), std::string::npos)
        << "expected '" << c.what << "' in: " << parsed.error().message;
  }
}

TEST_F(WalletStateTest, RawFieldRules) {
  const WalletState s = sample();
  const Bytes file = serialize_state(s);
  // The body starts with bytes16 n; find the first item's stage byte by re-serializing a state with one item.
  WalletState one;
  one.currency_key = s.currency_key;
  one.next_id = 2;
  Item item;
  item.id = 1;
  item.stage = Stage::kAvailable;
  item.credit = s.items[3].credit;
  one.items.push_back(std::move(item));
  const Bytes base = serialize_state(one);
  ASSERT_TRUE(parse_state(base).has_value());
  // Layout after the key: next_id (8), counters (88), badge (2 + 0), #accounts (4), #items (4), then the item.
  const size_t key_size = 2 + s.currency_key.n.size() + 2 + s.currency_key.e.size();
  const size_t item_at = kHeader + key_size + 8 + 88 + 2 + 4 + 4;
  auto with = [&](size_t offset, uint8_t value) {
    Bytes b = base;
    b[offset] = value;
    return reframe(std::move(b));
  };
  auto expect_refused = [](const Bytes& b, const std::string& what) {
    auto parsed = parse_state(b);
    ASSERT_FALSE(parsed.has_value()) << what;
    EXPECT_NE(parsed.error().message.find(what), std::string::npos) << parsed.error().message;
  };
  expect_refused(with(item_at + 8, 0), "unknown item stage 0");
  expect_refused(with(item_at + 8, 9), "unknown item stage 9");
  expect_refused(with(item_at + 9, 4), "unknown item destination 4");
  expect_refused(with(item_at + 10, 2), "unknown item flags 2");
  // An absurd item count is refused before anything is allocated for it.
  Bytes count = base;
  count[item_at - 4] = 0xff;
  expect_refused(reframe(std::move(count)), "too many items");
  Bytes accounts = base;
  accounts[item_at - 8] = 0x7f;
  expect_refused(reframe(std::move(accounts)), "too many accounts");
}

}  // namespace
}  // namespace openpcc::wallet
