// The BlindBank's configuration (strict keys, defaults, paths) and the Service runner (key, database, listening,
// shutdown), plus the API layer's request decoding.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "blindbank_test_support.h"
#include "currency/credit_pb.h"
#include "net/client.h"
#include "openpcc/anonpay_banking.pb.h"
#include "services/blindbank/blindbank_api.h"
#include "services/blindbank/blindbank_service.h"
#include "services/common/config.h"

namespace openpcc::blindbank {
namespace {

namespace fs = std::filesystem;
using currency::Credit;
using testkit::kNow;

nlohmann::json parse(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, false, /*ignore_comments=*/true);
}

std::string error_of(const Result<ServiceConfig>& r) { return r ? std::string("(ok)") : r.error().message; }

TEST(BlindBankConfig, ExampleParsesToTheDocumentedDefaults) {
  auto json = parse(example_service_config());
  ASSERT_FALSE(json.is_discarded());
  auto cfg = parse_service_config(json, "/srv/bank");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->host, "127.0.0.1");
  EXPECT_EQ(cfg->port, 8083);
  EXPECT_EQ(cfg->database, "sqlite:/srv/bank/money.db");
  EXPECT_EQ(cfg->currency_key, fs::path("/srv/bank/currency.key"));
  EXPECT_EQ(cfg->currency_key_bits, 2048u);
  ASSERT_TRUE(cfg->tls);
  EXPECT_EQ(cfg->tls->certificate_file, fs::path("/srv/bank/bank-cert.pem"));
  EXPECT_EQ(cfg->max_body_bytes, 8192u);
  EXPECT_EQ(cfg->max_withdraw_body_bytes, 0u);
  EXPECT_EQ(cfg->threads, 2u);
  EXPECT_EQ(cfg->storage_threads, 4u);
  EXPECT_EQ(cfg->gc_interval, std::chrono::seconds(3600));
  EXPECT_EQ(cfg->log_level, "info");
}

TEST(BlindBankConfig, MinimalConfigAndPaths) {
  auto cfg = parse_service_config(parse(R"({"database": "postgresql://bank@db/money", "listen": "[::1]:0"})"), "/etc");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->host, "::1");
  EXPECT_EQ(cfg->port, 0);
  EXPECT_EQ(cfg->database, "postgresql://bank@db/money");
  EXPECT_EQ(cfg->currency_key, fs::path("/etc/currency.key"));
  EXPECT_FALSE(cfg->tls);
  auto abs = parse_service_config(
      parse(R"({"database": "sqlite:/var/money.db", "currency_key": "/keys/c.key", "data_dir": "d"})"), "/etc");
  ASSERT_TRUE(abs);
  EXPECT_EQ(abs->database, "sqlite:/var/money.db");
  EXPECT_EQ(abs->currency_key, fs::path("/keys/c.key"));
  EXPECT_EQ(abs->data_dir, fs::path("/etc/d"));
}

TEST(BlindBankConfig, RefusesWhatItDoesNotUnderstand) {
  EXPECT_NE(error_of(parse_service_config(parse(R"({})"), "/")).find("database is required"), std::string::npos);
  EXPECT_NE(error_of(parse_service_config(parse(R"({"database": "sqlite:x", "databse": 1})"), "/")).find("databse"),
            std::string::npos);
  EXPECT_NE(error_of(parse_service_config(parse(R"({"database": "sqlite:x", "limits": {"max_bdy": 1}})"), "/"))
                .find("limits.max_bdy"),
            std::string::npos);
  EXPECT_FALSE(parse_service_config(parse(R"({"database": "sqlite:x", "tls": {"certificate": "c"}})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"database": "sqlite:x", "tls": {"cert": "c", "key": "k"}})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"database": "sqlite:x", "listen": "8080"})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"database": "sqlite:x", "log_level": "loud"})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"database": "sqlite:x", "threads": 0})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"database": "sqlite:x", "currency_key_bits": 1025})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"database": 5})"), "/"));
  EXPECT_FALSE(parse_service_config(parse(R"({"database": "sqlite:x", "limits": {"max_body_bytes": 10}})"), "/"));
}

TEST(BlindBankConfig, HelpNamesEveryKeyOfTheExample) {
  const std::string help = service_config_help();
  for (const char* key : {"listen", "data_dir", "database", "currency_key", "currency_key_bits", "tls", "limits",
                          "max_body_bytes", "max_withdraw_body_bytes", "max_connections", "threads",
                          "storage_threads", "gc_interval_seconds", "log_level"}) {
    EXPECT_NE(help.find(key), std::string::npos) << key;
    EXPECT_NE(example_service_config().find(std::string("\"") + key + "\""), std::string::npos) << key;
  }
}

TEST(BlindBankService, StartsServesAndStops) {
  openpcc::test_support::TempDir dir("openpcc-blindbank-service");
  const fs::path key = dir / "currency.key";
  {
    std::ofstream out(key);
    out << testkit::read_text_file(testkit::test_key_path());
  }
  ::chmod(key.c_str(), 0600);
  auto cfg = parse_service_config(
      parse(R"({"listen": "127.0.0.1:0", "database": "sqlite:money.db", "threads": 1, "storage_threads": 1})"),
      dir.path());
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  auto service = Service::start(*cfg);
  ASSERT_TRUE(service) << service.error().to_string();
  EXPECT_NE((*service)->port(), 0);
  EXPECT_EQ((*service)->url(), "http://127.0.0.1:" + std::to_string((*service)->port()));
  EXPECT_EQ((*service)->bank().public_key().modulus_bits(), 1024u);
  auto health = net::fetch_blocking(net::ClientRequest("GET", (*service)->url() + "/_health"));
  ASSERT_TRUE(health) << health.error().to_string();
  EXPECT_EQ(health->status, 200);
  (*service)->shutdown(std::chrono::seconds(1));
  (*service)->shutdown(std::chrono::seconds(1));  // idempotent
  EXPECT_FALSE(net::fetch_blocking(net::ClientRequest("GET", (*service)->url() + "/_health")));
  EXPECT_TRUE(fs::exists(dir / "money.db"));
}

TEST(BlindBankService, RefusesAKeyOthersCanRead) {
  openpcc::test_support::TempDir dir("openpcc-blindbank-service");
  const fs::path key = dir / "currency.key";
  {
    std::ofstream out(key);
    out << testkit::read_text_file(testkit::test_key_path());
  }
  ::chmod(key.c_str(), 0644);
  auto cfg = parse_service_config(parse(R"({"listen": "127.0.0.1:0", "database": "sqlite:money.db"})"), dir.path());
  ASSERT_TRUE(cfg);
  auto service = Service::start(*cfg);
  ASSERT_FALSE(service);
  EXPECT_NE(service.error().message.find("currency key"), std::string::npos) << service.error().message;
}

// ---- the API layer's decoding ----

TEST(BlindBankApi, DecodingIsStrict) {
  testkit::BankFixture f(testkit::Backend::kSqlite);
  ASSERT_TRUE(f.ok());
  const Credit credit = f.mint(16);
  pb::DepositRequest deposit;
  deposit.set_account_token(std::string(32, 't'));
  EXPECT_EQ(decode(deposit).error().code, ErrorCode::kDecode);  // no credit
  *deposit.mutable_credit() = currency::to_proto(credit);
  auto ok = decode(deposit);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->credit, credit);
  deposit.mutable_credit()->mutable_nonce()->set_nonce("short");
  EXPECT_EQ(decode(deposit).error().code, ErrorCode::kDecode);
  deposit.clear_account_token();
  EXPECT_EQ(decode(deposit).error().code, ErrorCode::kInvalidArgument);

  pb::BatchWithdrawRequest batch;
  batch.set_account_token(std::string(32, 't'));
  pb::BlindSignRequest* entry = batch.add_requests();
  entry->set_blinded_message(std::string(128, 'm'));
  EXPECT_EQ(decode(batch).error().code, ErrorCode::kDecode);  // no value
  entry->mutable_value()->set_currency(std::string("\x04\x00", 2));  // byte0 > 3
  EXPECT_EQ(decode(batch).error().code, ErrorCode::kDecode);
  entry->mutable_value()->set_currency(std::string("\x00\x10", 2));
  auto decoded = decode(batch);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(decoded->requests[0].value.amount(), 16);
  for (int i = 0; i < 15; ++i) *batch.add_requests() = *entry;
  EXPECT_EQ(decode(batch).error().code, ErrorCode::kInvalidArgument);  // 16

  pb::ExchangeRequest exchange;
  exchange.set_blinded_message("m");
  EXPECT_EQ(decode(exchange).error().code, ErrorCode::kDecode);
  pb::WithdrawFullUnblindedRequest full;
  full.set_account_token(std::string(33, 't'));
  EXPECT_EQ(decode(full).error().code, ErrorCode::kInvalidArgument);
  pb::BalanceRequest balance;
  EXPECT_EQ(decode(balance).error().code, ErrorCode::kInvalidArgument);

  // Encoders are decode's inverse.
  DepositCall call{Bytes(32, 7), credit};
  auto round = decode(encode(call));
  ASSERT_TRUE(round);
  EXPECT_EQ(round->account_token, call.account_token);
  EXPECT_EQ(round->credit, call.credit);
  // serve() answers with the bank's result.
  auto served = serve(f.bank(), encode(call), kNow);
  ASSERT_TRUE(served) << served.error().to_string();
  EXPECT_EQ(served->balance(), 16);
}

}  // namespace
}  // namespace openpcc::blindbank
