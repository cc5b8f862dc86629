// The two banks as real processes over HTTP, sharing one money database and one currency key, driven by their
// clients the way a wallet uses them:
//   AuthBank withdraw → BlindBank deposit → batch withdraw → exchange → withdraw-full → AuthBank refund,
// with both banks' balances checked after every step, and replayed and malformed requests rejected without moving
// money. The AuthBank serves the currency key and OHTTP keys as the transparency bundles a publisher made with
// `openpcc keygen jwk` and `openpcc tlog publish`.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/random.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"
#include "currency/credit_request.h"
#include "currency/credit_verifier.h"
#include "net/client.h"
#include "net/runtime.h"
#include "openpcc/anonpay_banking.pb.h"
#include "services/authbank/authbank_client.h"
#include "services/blindbank/blindbank_client.h"
#include "services/common/http_transport.h"
#include "services/common/proto_http.h"
#include "support/service_process.h"
#include "support/temp_dir.h"

namespace openpcc {
namespace {

using currency::Credit;
using currency::Value;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, std::string_view text, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ::chmod(path.c_str(), mode);
}

Value value_of(int64_t amount) { return *Value::from_amount(amount); }

class BankFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    const std::string key_pem = read_file(std::string(OPENPCC_TEST_DATA_DIR) + "/blindbank-currency-key-1024.pem");
    write_file(path("currency.key"), key_pem, 0600);
    auto key = crypto::RsaPrivateKey::from_pem(key_pem);
    ASSERT_TRUE(key);
    public_key_ = key->public_key();
    // One X25519 key config (id 1, HKDF-SHA256, AES-128-GCM) in application/ohttp-keys form.
    Bytes config{0x00, 0x29, 0x01, 0x00, 0x20};
    Bytes pk = random_bytes(32);
    config.insert(config.end(), pk.begin(), pk.end());
    for (uint8_t b : {0x00, 0x04, 0x00, 0x01, 0x00, 0x01}) config.push_back(b);
    ohttp_keys_ = config;
    write_file(path("ohttp-keys.bin"), to_string(config));
    write_file(path("periods.json"),
               R"([{"active_from":"2026-01-01T00:00:00Z","active_until":"2099-01-01T00:00:00Z","key_id":1}])");
    write_file(path("currency.key.pub"), public_key_.to_pem().value());
    publish_bundles();

    const std::string common = "\"database\": \"sqlite:" + path("money.db") + "\", \"currency_key\": \"" +
                               path("currency.key") + "\", \"currency_key_bits\": 1024, \"log_level\": \"warn\"";
    write_file(path("authbank.json"),
               "{\"listen\": \"127.0.0.1:0\", " + common + ", \"badge_key\": \"" + path("badge.key") +
                   "\", \"relays\": [\"http://127.0.0.1:3100\"], \"currency_key_bundle\": \"" +
                   path("currency-key.bundle.json") + "\", \"ohttp_keys_bundle\": \"" + path("ohttp-keys.bundle.json") +
                   "\"}");
    write_file(path("blindbank.json"), "{\"listen\": \"127.0.0.1:0\", " + common + "}");

    // An account with funds and a key, made with the admin CLI on the shared database.
    auto created = admin({"create-account", "--org", "acme", "--label", "alice", "--models", "llama3:8b"});
    ASSERT_EQ(created.status, 0);
    account_ = first_number(created.out);
    ASSERT_FALSE(account_.empty()) << created.out;
    ASSERT_EQ(admin({"add-funds", "--account", account_, "--amount", "1000"}).status, 0);
    auto key_out = admin({"issue-key", "--account", account_, "--expires-in", "1d"});
    ASSERT_EQ(key_out.status, 0);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(key_out.out, m, std::regex("opcc_[A-Za-z0-9_-]+"))) << key_out.out;
    api_key_ = m.str();

    auto auth_url = authbank_process_.start({"authbank", "--config", path("authbank.json")}, path("authbank.log"));
    ASSERT_TRUE(auth_url) << auth_url.error().to_string() << "\n" << read_file(path("authbank.log"));
    auto blind_url = blindbank_process_.start({"blindbank", "--config", path("blindbank.json")}, path("blindbank.log"));
    ASSERT_TRUE(blind_url) << blind_url.error().to_string() << "\n" << read_file(path("blindbank.log"));
    auth_url_ = *auth_url;
    blind_url_ = *blind_url;
    auto client = net::Client::create();
    ASSERT_TRUE(client);
    auth_ = std::make_unique<authbank::AuthBankClient>(services::direct_transport(*client), auth_url_, api_key_);
    blind_ = std::make_unique<blindbank::BlindBankClient>(services::direct_transport(*client), blind_url_);
  }

  void TearDown() override {
    EXPECT_EQ(authbank_process_.stop(), 0) << read_file(path("authbank.log"));
    EXPECT_EQ(blindbank_process_.stop(), 0) << read_file(path("blindbank.log"));
  }

  // The publisher's side, with the real commands: the currency key's JWK (openpcc keygen jwk), a transparency log
  // that accepts statements by one publisher key, and the two statements the AuthBank serves (openpcc tlog publish).
  void publish_bundles() {
    auto jwk = test_support::run_openpcc(
        {"keygen", "jwk", "--public-key", path("currency.key.pub"), "--out", path("currency.jwk")});
    ASSERT_EQ(jwk.status, 0) << jwk.out;
    ASSERT_EQ(test_support::run_openpcc({"keygen", "badge", "--out", path("publisher.pem")}).status, 0);
    auto token = test_support::run_openpcc({"tlog", "--new-publisher-token"});
    ASSERT_EQ(token.status, 0) << token.out;
    // "publisher token (…): <token>\nfor publisher_token_hashes …: <hash>\n"
    const std::string first = token.out.substr(0, token.out.find('\n'));
    const std::string second = token.out.substr(token.out.find('\n') + 1);
    write_file(path("publisher.token"), first.substr(first.rfind(' ') + 1) + "\n", 0600);
    const std::string token_hash = second.substr(second.rfind(' ') + 1, 64);
    write_file(path("tlog.json"), "{\"listen\": \"127.0.0.1:0\", \"database\": \"sqlite:" + path("tlog.db") +
                                      "\", \"origin\": \"tlog.test/bank-flow\", \"log_key\": \"" + path("tlog.key") +
                                      "\", \"publisher_token_hashes\": [\"" + token_hash +
                                      "\"], \"publisher_keys\": [\"" + path("publisher.pem.pub") +
                                      "\"], \"log_level\": \"warn\"}");
    auto log_url = tlog_process_.start({"tlog", "--config", path("tlog.json")}, path("tlog.log"));
    ASSERT_TRUE(log_url) << log_url.error().to_string() << "\n" << read_file(path("tlog.log"));
    const std::vector<std::string> common{"tlog", "publish", "--log", *log_url, "--token-file",
                                          path("publisher.token"), "--key", path("publisher.pem")};
    auto publish = [&](std::vector<std::string> what) {
      std::vector<std::string> args = common;
      args.insert(args.end(), what.begin(), what.end());
      return test_support::run_openpcc(args);
    };
    auto currency = publish({"--currency-jwk", path("currency.jwk"), "--out", path("currency-key.bundle.json")});
    ASSERT_EQ(currency.status, 0) << currency.out << read_file(path("tlog.log"));
    auto ohttp = publish({"--ohttp-keys", path("ohttp-keys.bin"), "--rotation-periods", path("periods.json"), "--out",
                          path("ohttp-keys.bundle.json")});
    ASSERT_EQ(ohttp.status, 0) << ohttp.out << read_file(path("tlog.log"));
    EXPECT_EQ(tlog_process_.stop(), 0) << read_file(path("tlog.log"));  // bundles verify offline
  }

  // The predicate of the statement inside a bundle (no signature checks: tests/unit/client does those).
  static nlohmann::json bundle_predicate(const std::string& bundle_json) {
    auto bundle = nlohmann::json::parse(bundle_json, nullptr, false);
    if (!bundle.is_object() || !bundle.contains("dsseEnvelope")) return {};
    auto payload = from_base64(bundle["dsseEnvelope"]["payload"].get<std::string>());
    if (!payload) return {};
    auto statement = nlohmann::json::parse(to_string(*payload), nullptr, false);
    return statement.is_object() ? statement["predicate"] : nlohmann::json();
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  test_support::CommandOutput admin(std::vector<std::string> args) {
    std::vector<std::string> all{"authbank", "admin"};
    all.insert(all.end(), args.begin(), args.end());
    all.push_back("--config");
    all.push_back(path("authbank.json"));
    return test_support::run_openpcc(all);
  }

  static std::string first_number(const std::string& text) {
    std::smatch m;
    if (!std::regex_search(text, m, std::regex("[0-9]+"))) return {};
    return m.str();
  }

  int64_t auth_balance() {
    auto out = admin({"balance", "--account", account_});
    EXPECT_EQ(out.status, 0);
    auto n = first_number(out.out.substr(out.out.find(':') == std::string::npos ? 0 : out.out.find(':')));
    return n.empty() ? -1 : std::stoll(n);
  }

  template <class F>
  auto run(F fn) {
    return runtime_.block_on(std::move(fn));
  }

  // A fresh credit request for `amount`, signed by whoever `sign` asks.
  Result<currency::PendingCredit> begin(int64_t amount) { return currency::begin_credit(public_key_, value_of(amount)); }

  int64_t blind_balance(const Bytes& token) {
    auto b = run([&]() -> net::Task<Result<int64_t>> { co_return co_await blind_->balance(token); });
    EXPECT_TRUE(b) << b.error().to_string();
    return b.value_or(-1);
  }

  // A raw POST to the BlindBank (for malformed requests the client would never send).
  net::ClientResponse raw_post(const std::string& path_part, const std::string& body, const std::string& type) {
    net::ClientRequest request("POST", blind_url_ + path_part, Bytes(body.begin(), body.end()));
    request.headers.set("Content-Type", type);
    auto response = net::fetch_blocking(std::move(request));
    EXPECT_TRUE(response);
    return response ? *response : net::ClientResponse{};
  }

  test_support::TempDir dir_{"openpcc-bank-flow"};
  crypto::RsaPublicKey public_key_;
  Bytes ohttp_keys_;
  std::string account_, api_key_, auth_url_, blind_url_;
  test_support::ServiceProcess authbank_process_, blindbank_process_, tlog_process_;
  net::Runtime runtime_{1};
  std::unique_ptr<authbank::AuthBankClient> auth_;
  std::unique_ptr<blindbank::BlindBankClient> blind_;
};

TEST_F(BankFlowTest, WithdrawDepositSplitExchangeWithdrawFullRefund) {
  ASSERT_EQ(auth_balance(), 1000);

  // Config: the relay and the two published bundles, byte for byte, carrying the currency key's JWK and the OHTTP
  // key configs.
  auto config = run([&]() -> net::Task<Result<pb::AuthConfigResponse>> { co_return co_await auth_->config(); });
  ASSERT_TRUE(config) << config.error().to_string();
  ASSERT_EQ(config->relays_size(), 1);
  EXPECT_EQ(config->relays(0).url(), "http://127.0.0.1:3100");
  EXPECT_EQ(config->currency_key_bundle(), read_file(path("currency-key.bundle.json")));
  EXPECT_EQ(config->ohttp_key_configs_bundle(), read_file(path("ohttp-keys.bundle.json")));
  auto jwk_raw = from_base64(bundle_predicate(config->currency_key_bundle()).value("jwkRaw", ""));
  ASSERT_TRUE(jwk_raw);
  auto jwk = nlohmann::json::parse(to_string(*jwk_raw), nullptr, false);
  ASSERT_TRUE(jwk.is_object());
  EXPECT_EQ(jwk.value("n", ""), to_base64url(public_key_.n));
  EXPECT_EQ(to_string(*jwk_raw) + "\n", read_file(path("currency.jwk")));
  auto keys_raw = from_base64(bundle_predicate(config->ohttp_key_configs_bundle()).value("ohttpKeys", ""));
  ASSERT_TRUE(keys_raw);
  EXPECT_EQ(*keys_raw, ohttp_keys_);

  // 1. AuthBank withdrawal of 512 (identified): a blind credit and a badge for the account's models.
  auto pending = begin(512);
  ASSERT_TRUE(pending);
  const Bytes source_blinded = pending->blinded_message();
  auto signed_source = run([&]() -> net::Task<Result<authbank::BlindSignature>> {
    co_return co_await auth_->withdraw(value_of(512), source_blinded);
  });
  ASSERT_TRUE(signed_source) << signed_source.error().to_string();
  ASSERT_TRUE(signed_source->badge.has_value());
  EXPECT_TRUE(signed_source->badge->credentials.allows("llama3:8b"));
  auto source = pending->finish(signed_source->blind_signature);
  ASSERT_TRUE(source) << source.error().to_string();
  EXPECT_EQ(auth_balance(), 488);
  // A replay of the identical withdrawal returns the same signature and debits nothing.
  auto replay = run([&]() -> net::Task<Result<authbank::BlindSignature>> {
    co_return co_await auth_->withdraw(value_of(512), source_blinded);
  });
  ASSERT_TRUE(replay) << replay.error().to_string();
  EXPECT_EQ(replay->blind_signature, signed_source->blind_signature);
  EXPECT_EQ(auth_balance(), 488);
  // More than the balance: 429 → kInsufficientBalance, nothing changes.
  auto big = begin(1024);
  ASSERT_TRUE(big);
  auto refused = run([&]() -> net::Task<Result<authbank::BlindSignature>> {
    co_return co_await auth_->withdraw(value_of(1024), big->blinded_message());
  });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInsufficientBalance);
  EXPECT_EQ(auth_balance(), 488);

  // 2. Deposit into a fresh anonymous account.
  const Bytes token = random_bytes(32);
  EXPECT_EQ(blind_balance(token), 0);
  auto deposited = run([&]() -> net::Task<Result<int64_t>> { co_return co_await blind_->deposit(token, *source); });
  ASSERT_TRUE(deposited) << deposited.error().to_string();
  EXPECT_EQ(*deposited, 512);
  // The same credit into another account: already spent.
  auto twice = run([&]() -> net::Task<Result<int64_t>> {
    co_return co_await blind_->deposit(random_bytes(32), *source);
  });
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::kAlreadyUsed);
  // And into the same account again: the bank answers the retry like the first time, without counting it twice.
  auto retried = run([&]() -> net::Task<Result<int64_t>> { co_return co_await blind_->deposit(token, *source); });
  ASSERT_TRUE(retried) << retried.error().to_string();
  EXPECT_EQ(blind_balance(token), 512);

  // 3. Batch withdrawal: three credits of 128.
  std::vector<currency::PendingCredit> parts;
  std::vector<blindbank::BlindSignRequest> requests;
  for (int i = 0; i < 3; ++i) {
    auto p = begin(128);
    ASSERT_TRUE(p);
    requests.push_back({value_of(128), p->blinded_message()});
    parts.push_back(std::move(*p));
  }
  auto batch = run([&]() -> net::Task<Result<blindbank::WithdrawResult>> {
    co_return co_await blind_->withdraw_batch(token, requests);
  });
  ASSERT_TRUE(batch) << batch.error().to_string();
  EXPECT_EQ(batch->balance, 128);
  ASSERT_EQ(batch->blind_signatures.size(), 3u);
  std::vector<Credit> credits;
  for (int i = 0; i < 3; ++i) {
    auto c = parts[i].finish(batch->blind_signatures[i]);
    ASSERT_TRUE(c) << c.error().to_string();
    credits.push_back(*c);
  }
  // Replaying the batch: same signatures, same balance. Asking for more than is left: refused, nothing moves.
  auto batch_again = run([&]() -> net::Task<Result<blindbank::WithdrawResult>> {
    co_return co_await blind_->withdraw_batch(token, requests);
  });
  ASSERT_TRUE(batch_again) << batch_again.error().to_string();
  EXPECT_EQ(batch_again->blind_signatures, batch->blind_signatures);
  auto over = begin(256);
  ASSERT_TRUE(over);
  std::vector<blindbank::BlindSignRequest> too_much{{value_of(256), over->blinded_message()}};
  auto overdrawn = run([&]() -> net::Task<Result<blindbank::WithdrawResult>> {
    co_return co_await blind_->withdraw_batch(token, too_much);
  });
  ASSERT_FALSE(overdrawn);
  EXPECT_EQ(overdrawn.error().code, ErrorCode::kInvalidArgument);  // the reference's 400 for insufficient balance
  EXPECT_EQ(blind_balance(token), 128);

  // 4. Exchange one credit for a fresh, unlinkable one of the same value; the old one is then spent.
  auto fresh = begin(128);
  ASSERT_TRUE(fresh);
  const Bytes fresh_blinded = fresh->blinded_message();
  auto exchanged = run([&]() -> net::Task<Result<Bytes>> {
    co_return co_await blind_->exchange(credits[0], fresh_blinded);
  });
  ASSERT_TRUE(exchanged) << exchanged.error().to_string();
  auto renewed = fresh->finish(*exchanged);
  ASSERT_TRUE(renewed) << renewed.error().to_string();
  auto other = begin(128);
  ASSERT_TRUE(other);
  auto spent_again = run([&]() -> net::Task<Result<Bytes>> {
    co_return co_await blind_->exchange(credits[0], other->blinded_message());
  });
  ASSERT_FALSE(spent_again);
  EXPECT_EQ(spent_again.error().code, ErrorCode::kAlreadyUsed);

  // 5. Withdraw-full: the remaining 128 (exactly representable, so no rounding) as an unblinded credit.
  auto full = run([&]() -> net::Task<Result<Credit>> { co_return co_await blind_->withdraw_full(token); });
  ASSERT_TRUE(full) << full.error().to_string();
  EXPECT_EQ(full->value.amount(), 128);
  EXPECT_EQ(blind_balance(token), 0);

  // 6. Refunds to the AuthBank: the unblinded credit and the exchanged one; a replay counts once.
  auto refunded = run([&]() -> net::Task<Status> { co_return co_await auth_->refund(*full); });
  ASSERT_TRUE(refunded) << refunded.error().to_string();
  EXPECT_EQ(auth_balance(), 488 + 128);
  refunded = run([&]() -> net::Task<Status> { co_return co_await auth_->refund(*full); });
  ASSERT_TRUE(refunded) << refunded.error().to_string();
  EXPECT_EQ(auth_balance(), 488 + 128);
  refunded = run([&]() -> net::Task<Status> { co_return co_await auth_->refund(*renewed); });
  ASSERT_TRUE(refunded) << refunded.error().to_string();
  EXPECT_EQ(auth_balance(), 488 + 256);
  // A credit refunded to the AuthBank cannot also be deposited at the BlindBank (one money database).
  auto after_refund = run([&]() -> net::Task<Result<int64_t>> {
    co_return co_await blind_->deposit(random_bytes(32), *renewed);
  });
  ASSERT_FALSE(after_refund);
  EXPECT_EQ(after_refund.error().code, ErrorCode::kAlreadyUsed);
  // The two batch credits still unspent go back too: everything is accounted for (1000 − 512 + 128 + 128 + 256).
  for (int i = 1; i < 3; ++i) {
    refunded = run([&]() -> net::Task<Status> { co_return co_await auth_->refund(credits[i]); });
    ASSERT_TRUE(refunded) << refunded.error().to_string();
  }
  EXPECT_EQ(auth_balance(), 1000);
}

TEST_F(BankFlowTest, MalformedAndForgedRequestsAreRejectedWithoutEffect) {
  // Wrong media type, garbage bodies, a short token, a forged credit.
  EXPECT_EQ(raw_post("/deposit", "{}", "application/json").status, 415);
  auto garbage = raw_post("/deposit", std::string("\x0a\xff\xff\xff", 4), "application/octet-stream");
  EXPECT_EQ(garbage.status, 400);
  pb::BalanceRequest short_token;
  short_token.set_account_token(std::string(31, 'x'));
  EXPECT_EQ(raw_post("/balance", short_token.SerializeAsString(), "application/octet-stream").status, 400);
  EXPECT_EQ(raw_post("/nope", "", "application/octet-stream").status, 404);

  // A credit with a signature that does not verify: 400 and no balance.
  auto pending = begin(64);
  ASSERT_TRUE(pending);
  Credit forged{value_of(64), pending->nonce(), Bytes(public_key_.modulus_size(), 0x42)};
  const Bytes token = random_bytes(32);
  auto deposited = run([&]() -> net::Task<Result<int64_t>> { co_return co_await blind_->deposit(token, forged); });
  ASSERT_FALSE(deposited);
  EXPECT_EQ(deposited.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(blind_balance(token), 0);

  // A bad API key: 401, and the account is untouched.
  auto client = net::Client::create();
  ASSERT_TRUE(client);
  authbank::AuthBankClient stranger(services::direct_transport(*client), auth_url_, "opcc_not-a-real-key");
  auto blinded = pending->blinded_message();
  auto denied = run([&]() -> net::Task<Result<authbank::BlindSignature>> {
    co_return co_await stranger.withdraw(value_of(64), blinded);
  });
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(auth_balance(), 1000);
  // A special value through the normal withdrawal: 400.
  auto special = run([&]() -> net::Task<Result<authbank::BlindSignature>> {
    co_return co_await auth_->withdraw(currency::attestation_value(), blinded);
  });
  ASSERT_FALSE(special);
  EXPECT_EQ(special.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(auth_balance(), 1000);
}

}  // namespace
}  // namespace openpcc
