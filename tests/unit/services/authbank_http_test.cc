// The AuthBank service over loopback HTTPS (self-signed certificate from the config) with AuthBankClient, on both
// storage backends; raw HTTP status checks; the client's status mapping and request headers against a fake
// transport.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "currency/credit_request.h"
#include "currency/credit_verifier.h"
#include "net/client.h"
#include "net/runtime.h"
#include "openpcc/httpfmt.pb.h"
#include "services/authbank/authbank_client.h"
#include "services/authbank/authbank_service.h"
#include "services/common/http_transport.h"
#include "services/common/key_files.h"
#include "services/common/proto_http.h"
#include "currency/credit_pb.h"
#include "authbank_test_support.h"

namespace openpcc::authbank {
namespace {

using authbank_test::Backend;

// Stand-ins for the bundles `openpcc tlog publish` writes: the bank passes them on as opaque bytes (clients verify
// them; tests/unit/client/remote_config_test.cc has real ones).
const std::string kOhttpKeysBundle = R"({"mediaType":"ohttp-keys stand-in"})";
const std::string kCurrencyKeyBundle = R"({"mediaType":"currency-key stand-in"})";

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

class AuthBankHttpTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string url = "sqlite:money.db";
    if (GetParam() == Backend::kPostgres) {
      auto pg = openpcc::test_support::fresh_postgres_database();
      ASSERT_TRUE(pg.has_value()) << pg.error().to_string();
      url = *pg;
    }
    const auto pem = authbank_test::read_test_file("authbank-currency-key-1024.pem");
    ASSERT_TRUE(services::write_secret_file_atomically(dir_ / "currency.key", as_bytes(pem)).has_value());
    write_text(dir_ / "ohttp-keys.bundle.json", kOhttpKeysBundle);
    write_text(dir_ / "currency-key.bundle.json", kCurrencyKeyBundle);
    nlohmann::json json = {
        {"listen", "127.0.0.1:0"},
        {"database", url},
        {"relays", {"https://relay.example"}},
        {"ohttp_keys_bundle", "ohttp-keys.bundle.json"},
        {"currency_key_bundle", "currency-key.bundle.json"},
        {"tls", {{"self_signed", true}}},
        {"limits", {{"max_body_bytes", 4096}, {"attestation_tokens_per_minute", 1}, {"attestation_burst", 2}}},
        {"log_level", "warn"},
    };
    auto config = parse_service_config(json, dir_.path());
    ASSERT_TRUE(config.has_value()) << config.error().to_string();
    auto service = Service::start(*config);
    ASSERT_TRUE(service.has_value()) << service.error().to_string();
    service_ = std::move(*service);
    ASSERT_TRUE(service_->certificate_file().has_value());
    EXPECT_TRUE(service_->url().starts_with("https://127.0.0.1:"));

    Ledger& ledger = service_->bank().ledger();
    const int64_t now = currency::unix_now();
    account_ = ledger.create_account("acme", "alice", {"llama3:8b"}, now)->id;
    key_ = ledger.issue_key(account_, now + 3600, now)->key.text();
    ASSERT_TRUE(ledger.add_funds(account_, 1000, now).has_value());
    other_account_ = ledger.create_account("acme", "bob", {}, now)->id;
    other_key_ = ledger.issue_key(other_account_, std::nullopt, now)->key.text();

    net::ClientOptions options;
    options.ca_file = service_->certificate_file()->string();
    client_options_ = options;
    auto client = net::Client::create(options);
    ASSERT_TRUE(client.has_value()) << client.error().to_string();
    transport_ = services::direct_transport(*client);
  }

  void TearDown() override {
    if (service_) service_->shutdown(std::chrono::seconds(2));
  }

  AuthBankClient client(const std::string& key) { return AuthBankClient(transport_, service_->url() + "/", key); }

  template <class F>
  auto run(F fn) {
    return runtime_.block_on(std::move(fn));
  }

  net::ClientResponse raw(std::string method, std::string path, Bytes body = {}, net::Headers headers = {}) {
    net::ClientRequest request(std::move(method), service_->url() + path, std::move(body), std::move(headers));
    auto response = net::fetch_blocking(std::move(request), client_options_);
    EXPECT_TRUE(response.has_value()) << response.error().to_string();
    return response.value_or(net::ClientResponse{});
  }

  openpcc::test_support::TempDir dir_;
  std::unique_ptr<Service> service_;
  net::Runtime runtime_{1};
  net::ClientOptions client_options_;
  services::HttpTransport transport_;
  int64_t account_ = 0;
  int64_t other_account_ = 0;
  std::string key_;
  std::string other_key_;
};

TEST_P(AuthBankHttpTest, ClientFlows) {
  AuthBankClient bank = client(key_);

  auto config = run([&]() -> net::Task<Result<pb::AuthConfigResponse>> { co_return co_await bank.config(); });
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  ASSERT_EQ(config->relays_size(), 1);
  EXPECT_EQ(config->relays(0).url(), "https://relay.example");
  EXPECT_EQ(config->ohttp_key_configs_bundle(), kOhttpKeysBundle);
  EXPECT_EQ(config->currency_key_bundle(), kCurrencyKeyBundle);
  const crypto::RsaPublicKey currency_key_value = authbank_test::currency_key().public_key();
  const crypto::RsaPublicKey* currency_key = &currency_key_value;

  // Publishing a new bundle over the file rotates it without a restart; a missing file is 503 (kUnavailable).
  write_text(dir_ / "ohttp-keys.bundle.json", R"({"mediaType":"rotated"})");
  auto rotated = run([&]() -> net::Task<Result<pb::AuthConfigResponse>> { co_return co_await bank.config(); });
  ASSERT_TRUE(rotated.has_value()) << rotated.error().to_string();
  EXPECT_EQ(rotated->ohttp_key_configs_bundle(), R"({"mediaType":"rotated"})");
  std::filesystem::remove(dir_ / "currency-key.bundle.json");
  auto missing = run([&]() -> net::Task<Result<pb::AuthConfigResponse>> { co_return co_await bank.config(); });
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kUnavailable);
  write_text(dir_ / "currency-key.bundle.json", kCurrencyKeyBundle);

  // Withdraw → finish → verify; the badge names the account's model.
  const auto value = *currency::Value::from_amount(256);
  auto pending = currency::begin_credit(*currency_key, value).value();
  auto got = run([&]() -> net::Task<Result<BlindSignature>> {
    co_return co_await bank.withdraw(value, pending.blinded_message());
  });
  ASSERT_TRUE(got.has_value()) << got.error().to_string();
  auto credit = pending.finish(got->blind_signature);
  ASSERT_TRUE(credit.has_value()) << credit.error().to_string();
  auto verifier = currency::CreditVerifier::create(*currency_key).value();
  EXPECT_TRUE(verifier.verify(*credit, currency::unix_now()).has_value());
  ASSERT_TRUE(got->badge.has_value());
  EXPECT_EQ(got->badge->credentials.models, std::vector<std::string>{"llama3:8b"});
  EXPECT_TRUE(currency::verify_badge(service_->bank().badge_public_key(), *got->badge).has_value());
  // The identical request again (a lost answer): same signature, no second debit.
  auto retried = run([&]() -> net::Task<Result<BlindSignature>> {
    co_return co_await bank.withdraw(value, pending.blinded_message());
  });
  ASSERT_TRUE(retried.has_value());
  EXPECT_EQ(retried->blind_signature, got->blind_signature);
  EXPECT_EQ(service_->bank().ledger().account(account_)->balance, 744);

  // Too much → 429 → kInsufficientBalance.
  const auto big = *currency::Value::from_amount(1024);
  auto big_pending = currency::begin_credit(*currency_key, big).value();
  auto poor = run([&]() -> net::Task<Result<BlindSignature>> {
    co_return co_await bank.withdraw(big, big_pending.blinded_message());
  });
  ASSERT_FALSE(poor.has_value());
  EXPECT_EQ(poor.error().code, ErrorCode::kInsufficientBalance);

  // Refund the credit: twice from the owner is fine, once more from someone else is 410.
  for (int i = 0; i < 2; ++i) {
    auto refunded = run([&]() -> net::Task<Status> { co_return co_await bank.refund(*credit); });
    ASSERT_TRUE(refunded.has_value()) << refunded.error().to_string();
  }
  EXPECT_EQ(service_->bank().ledger().account(account_)->balance, 1000);
  AuthBankClient other = client(other_key_);
  auto stolen = run([&]() -> net::Task<Status> { co_return co_await other.refund(*credit); });
  ASSERT_FALSE(stolen.has_value());
  EXPECT_EQ(stolen.error().code, ErrorCode::kAlreadyUsed);

  // Attestation tokens: special(0), rate limited (burst 2) → kLimitExceeded with the wait.
  for (int i = 0; i < 2; ++i) {
    auto token_pending = currency::begin_credit(*currency_key, currency::attestation_value()).value();
    auto token = run([&]() -> net::Task<Result<BlindSignature>> {
      co_return co_await bank.attestation_token(token_pending.blinded_message());
    });
    ASSERT_TRUE(token.has_value()) << token.error().to_string();
    auto finished = token_pending.finish(token->blind_signature);
    ASSERT_TRUE(finished.has_value());
    EXPECT_TRUE(verifier.verify(*finished, currency::unix_now(), currency::CreditKind::kSpecial).has_value());
  }
  auto limited_pending = currency::begin_credit(*currency_key, currency::attestation_value()).value();
  auto limited = run([&]() -> net::Task<Result<BlindSignature>> {
    co_return co_await bank.attestation_token(limited_pending.blinded_message());
  });
  ASSERT_FALSE(limited.has_value());
  EXPECT_EQ(limited.error().code, ErrorCode::kLimitExceeded);
  EXPECT_NE(limited.error().message.find("retry after"), std::string::npos);

  // A wrong key is 401 everywhere.
  AuthBankClient stranger = client(ApiKey::generate().text());
  auto denied = run([&]() -> net::Task<Result<pb::AuthConfigResponse>> { co_return co_await stranger.config(); });
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code, ErrorCode::kUnauthenticated);
  auto denied_withdraw = run([&]() -> net::Task<Result<BlindSignature>> {
    co_return co_await stranger.withdraw(value, big_pending.blinded_message());
  });
  ASSERT_FALSE(denied_withdraw.has_value());
  EXPECT_EQ(denied_withdraw.error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(service_->bank().ledger().audit()->empty());
}

TEST_P(AuthBankHttpTest, RawStatuses) {
  auto health = raw("GET", "/_health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(to_string(health.body), R"({"status":"OK"})");
  EXPECT_EQ(health.headers.get("Content-Type").value_or(""), "application/json");

  EXPECT_EQ(raw("GET", "/api/config").status, 401);
  net::Headers bad_key{{"cf-authorization", "opcc_nope"}};
  EXPECT_EQ(raw("GET", "/api/config", {}, bad_key).status, 401);
  net::Headers good_key{{"cf-authorization", key_}};
  auto config = raw("GET", "/api/config", {}, good_key);
  EXPECT_EQ(config.status, 200);
  EXPECT_EQ(config.headers.get("Content-Type").value_or(""), "application/octet-stream");
  EXPECT_EQ(raw("POST", "/api/config", {}, good_key).status, 405);
  EXPECT_EQ(raw("GET", "/api/nothing", {}, good_key).status, 404);

  net::Headers proto{{"cf-authorization", key_}, {"Content-Type", "application/octet-stream"}};
  net::Headers text{{"cf-authorization", key_}, {"Content-Type", "text/plain"}};
  EXPECT_EQ(raw("POST", "/api/auth", to_bytes("x"), text).status, 415);
  EXPECT_EQ(raw("POST", "/api/auth", Bytes(5000, 0x0a), proto).status, 413);
  auto garbage = raw("POST", "/api/auth", Bytes{0xff, 0xff, 0xff}, proto);
  EXPECT_EQ(garbage.status, 400);
  auto empty = raw("POST", "/api/auth", {}, proto);  // a valid, empty message: no value
  EXPECT_EQ(empty.status, 400);
  EXPECT_NE(services::error_message_from_body(empty.body).find("value"), std::string::npos);
  EXPECT_EQ(raw("POST", "/api/refund", {}, proto).status, 400);

  // 429 for too much, with nothing changed.
  pb::AuthWithdrawalRequest too_much;
  *too_much.mutable_value() = currency::to_proto(*currency::Value::from_amount(2048));
  too_much.set_blinded_message(std::string(128, '\x01'));
  auto refused = raw("POST", "/api/auth", to_bytes(too_much.SerializeAsString()), proto);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(services::error_message_from_body(refused.body), "insufficient balance");
  EXPECT_EQ(service_->bank().ledger().account(account_)->balance, 1000);

  // The attestation limit: 429 with Retry-After.
  pb::AuthWithdrawalRequest token;
  *token.mutable_value() = currency::to_proto(currency::attestation_value());
  token.set_blinded_message(std::string(128, '\x01'));
  const Bytes token_body = to_bytes(token.SerializeAsString());
  EXPECT_EQ(raw("POST", "/api/attestationRequest", token_body, proto).status, 200);
  EXPECT_EQ(raw("POST", "/api/attestationRequest", token_body, proto).status, 200);
  auto limited = raw("POST", "/api/attestationRequest", token_body, proto);
  EXPECT_EQ(limited.status, 429);
  auto retry_after = limited.headers.get("Retry-After");
  ASSERT_TRUE(retry_after.has_value());
  EXPECT_GE(std::stoi(std::string(*retry_after)), 1);
  EXPECT_LE(std::stoi(std::string(*retry_after)), 60);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthBankHttpTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         authbank_test::backend_name);

// ---- The client against a fake transport ----

struct FakeServer {
  int status = 200;
  std::string body;
  net::Headers headers;
  bool fail_transport = false;
  std::vector<net::ClientRequest> seen;

  services::HttpTransport transport() {
    return [this](net::ClientRequest request) -> net::Task<Result<net::ClientResponse>> {
      seen.push_back(request);
      if (fail_transport) co_return make_error(ErrorCode::kIo, "connection refused");
      net::ClientResponse response;
      response.status = status;
      response.headers = headers;
      response.body = to_bytes(body);
      co_return response;
    };
  }
};

std::string error_body(const std::string& message) {
  pb::Error e;
  e.set_message(message);
  return e.SerializeAsString();
}

TEST(AuthBankClientMapping, StatusesToErrorCodes) {
  net::Runtime rt(1);
  FakeServer fake;
  AuthBankClient bank(fake.transport(), "https://auth.example/", "opcc_key");
  auto withdraw_code = [&](int status, std::string body = "") {
    fake.status = status;
    fake.body = body;
    auto r = rt.block_on([&]() -> net::Task<Result<BlindSignature>> {
      co_return co_await bank.withdraw(*currency::Value::from_amount(16), Bytes(128, 1));
    });
    return r ? std::optional<ErrorCode>() : std::optional<ErrorCode>(r.error().code);
  };
  EXPECT_EQ(withdraw_code(429, error_body("insufficient balance")), ErrorCode::kInsufficientBalance);
  EXPECT_EQ(withdraw_code(401), ErrorCode::kUnauthenticated);
  EXPECT_EQ(withdraw_code(409), ErrorCode::kConflict);
  EXPECT_EQ(withdraw_code(410), ErrorCode::kAlreadyUsed);
  EXPECT_EQ(withdraw_code(413), ErrorCode::kLimitExceeded);
  EXPECT_EQ(withdraw_code(500), ErrorCode::kUnavailable);
  EXPECT_EQ(withdraw_code(503), ErrorCode::kUnavailable);
  EXPECT_EQ(withdraw_code(200, "\xff\xff"), ErrorCode::kDecode);
  EXPECT_EQ(withdraw_code(200, ""), ErrorCode::kDecode);  // no signature
  fake.fail_transport = true;
  EXPECT_EQ(withdraw_code(200), ErrorCode::kUnavailable);
  fake.fail_transport = false;

  fake.status = 400;
  fake.body = error_body("blinded message must be 128 bytes");
  auto invalid = rt.block_on([&]() -> net::Task<Result<BlindSignature>> {
    co_return co_await bank.withdraw(*currency::Value::from_amount(16), Bytes(1, 1));
  });
  ASSERT_FALSE(invalid.has_value());
  EXPECT_EQ(invalid.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(invalid.error().message.find("blinded message must be 128 bytes"), std::string::npos);

  // 429 on the attestation endpoint is the rate limit, with Retry-After in the message.
  fake.status = 429;
  fake.headers.set("Retry-After", "17");
  auto limited = rt.block_on([&]() -> net::Task<Result<BlindSignature>> {
    co_return co_await bank.attestation_token(Bytes(128, 1));
  });
  ASSERT_FALSE(limited.has_value());
  EXPECT_EQ(limited.error().code, ErrorCode::kLimitExceeded);
  EXPECT_NE(limited.error().message.find("17"), std::string::npos);
}

TEST(AuthBankClientMapping, RequestsCarryKeyDateAndBodies) {
  net::Runtime rt(1);
  FakeServer fake;
  pb::AuthConfigResponse config;
  config.add_relays()->set_url("https://r.example");
  fake.body = config.SerializeAsString();
  AuthBankClient bank(fake.transport(), "https://auth.example//", "opcc_key");
  auto got = rt.block_on([&]() -> net::Task<Result<pb::AuthConfigResponse>> { co_return co_await bank.config(); });
  ASSERT_TRUE(got.has_value()) << got.error().to_string();
  EXPECT_EQ(got->relays(0).url(), "https://r.example");
  ASSERT_EQ(fake.seen.size(), 1u);
  EXPECT_EQ(fake.seen[0].method, "GET");
  EXPECT_EQ(fake.seen[0].url, "https://auth.example/api/config");
  EXPECT_EQ(fake.seen[0].headers.get("cf-authorization").value_or(""), "opcc_key");
  const std::string date(fake.seen[0].headers.get("X-Currency-Date").value_or(""));
  EXPECT_TRUE(std::regex_match(date, std::regex(R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:00:00 GMT)")))
      << date;

  fake.body.clear();
  currency::Credit credit;
  credit.value = *currency::Value::from_amount(8);
  credit.nonce.timestamp = 7200;
  credit.signature = Bytes(128, 9);
  auto refunded = rt.block_on([&]() -> net::Task<Status> { co_return co_await bank.refund(credit); });
  ASSERT_TRUE(refunded.has_value()) << refunded.error().to_string();
  ASSERT_EQ(fake.seen.size(), 2u);
  EXPECT_EQ(fake.seen[1].url, "https://auth.example/api/refund");
  EXPECT_EQ(fake.seen[1].headers.get("Content-Type").value_or(""), "application/octet-stream");
  pb::AuthRefundRequest sent;
  ASSERT_TRUE(sent.ParseFromArray(fake.seen[1].body.data(), static_cast<int>(fake.seen[1].body.size())));
  EXPECT_EQ(sent.api_key(), "opcc_key");
  auto sent_credit = currency::from_proto(sent.credit());
  ASSERT_TRUE(sent_credit.has_value());
  EXPECT_EQ(*sent_credit, credit);
}

TEST(AuthBankClientMapping, CurrencyDate) {
  EXPECT_EQ(AuthBankClient::currency_date(1750000000), "Sun, 15 Jun 2025 15:00:00 GMT");
  EXPECT_EQ(AuthBankClient::currency_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(AuthBankClient::currency_date(951782400 + 3599), "Tue, 29 Feb 2000 00:00:00 GMT");
}

TEST(AuthBankConfig, BundleKeysReplaceTheInterimRawForms) {
  auto example = nlohmann::json::parse(example_service_config(), nullptr, false, /*ignore_comments=*/true);
  ASSERT_FALSE(example.is_discarded());
  auto config = parse_service_config(example, "/srv/auth");
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(config->currency_key_bundle, std::filesystem::path("/srv/auth/currency-key.bundle.json"));
  EXPECT_EQ(config->ohttp_keys_bundle, std::filesystem::path("/srv/auth/ohttp-keys.bundle.json"));

  auto minimal = parse_service_config(nlohmann::json{{"database", "sqlite:m.db"}}, "/srv/auth");
  ASSERT_TRUE(minimal.has_value());
  EXPECT_TRUE(minimal->currency_key_bundle.empty());
  EXPECT_TRUE(minimal->ohttp_keys_bundle.empty());

  // The raw key-config file of the interim form is gone: a config still naming it is refused, naming the key.
  auto old = parse_service_config(nlohmann::json{{"ohttp_key_configs", "ohttp-keys.bin"}}, "/srv/auth");
  ASSERT_FALSE(old.has_value());
  EXPECT_NE(old.error().message.find("ohttp_key_configs"), std::string::npos);
}

}  // namespace
}  // namespace openpcc::authbank
