// The BlindBank client through the private path: BlindBankClient → OhttpTransport → gateway → a real BlindBank
// service (temporary SQLite database, the 1024-bit test currency key).
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "client/ohttp_transport.h"
#include "currency/issuer.h"
#include "currency/value.h"
#include "services/blindbank/blindbank_client.h"
#include "services/blindbank/blindbank_service.h"
#include "unit/gateway/gateway_test_support.h"

namespace openpcc::gateway {
namespace {

using namespace gwtest;
using net::Task;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class GatewayBank : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string pem = read_text(std::string(OPENPCC_TEST_DATA_DIR) + "/blindbank-currency-key-1024.pem");
    ASSERT_FALSE(pem.empty());
    {
      std::ofstream out(bank_dir_ / "currency.key");
      out << pem;
    }
    ::chmod((bank_dir_ / "currency.key").c_str(), 0600);
    auto key = crypto::RsaPrivateKey::from_pem(pem);
    ASSERT_TRUE(key);
    auto issuer = currency::Issuer::create(std::move(*key));
    ASSERT_TRUE(issuer);
    issuer_ = std::make_unique<currency::Issuer>(std::move(*issuer));

    blindbank::ServiceConfig bank_config;
    bank_config.host = "127.0.0.1";
    bank_config.port = 0;
    bank_config.data_dir = bank_dir_.path();
    bank_config.database = "sqlite:" + (bank_dir_ / "money.db").string();
    bank_config.currency_key = bank_dir_ / "currency.key";
    bank_config.threads = 1;
    bank_config.storage_threads = 1;
    auto bank = blindbank::Service::start(bank_config);
    ASSERT_TRUE(bank) << bank.error().to_string();
    bank_ = std::move(*bank);
    gw_.start(bank_->url(), dead_url());
  }

  void TearDown() override {
    if (gw_.service) gw_.service->shutdown(std::chrono::seconds(1));
    if (bank_) bank_->shutdown(std::chrono::seconds(1));
  }

  currency::Credit mint(int64_t amount) {
    auto credit = issuer_->issue_unblinded(*currency::Value::from_amount(amount));
    EXPECT_TRUE(credit) << credit.error().to_string();
    return *credit;
  }

  test_support::TempDir bank_dir_{"openpcc-gateway-bank"};
  std::unique_ptr<currency::Issuer> issuer_;
  std::unique_ptr<blindbank::Service> bank_;
  GatewayUnderTest gw_;
  net::Runtime rt_{1};
};

TEST_F(GatewayBank, BlindBankClientWorksThroughTheGateway) {
  auto http = net::Client::create();
  ASSERT_TRUE(http);
  client::OhttpTransport ohttp(*http, gw_.url() + "/", client::gateway_key_source(*http, gw_.keys_url()));
  blindbank::BlindBankClient bank(ohttp.transport(), std::string(kBankUrl));
  const Bytes token = random_bytes(blindbank::kAccountTokenSize);
  const currency::Credit credit = mint(64);

  auto deposited = rt_.block_on([&]() -> Task<Result<int64_t>> { co_return co_await bank.deposit(token, credit); });
  ASSERT_TRUE(deposited) << deposited.error().to_string();
  EXPECT_EQ(*deposited, 64);
  auto balance = rt_.block_on([&]() -> Task<Result<int64_t>> { co_return co_await bank.balance(token); });
  ASSERT_TRUE(balance) << balance.error().to_string();
  EXPECT_EQ(*balance, 64);

  // The bank's own refusals come back through the gateway as they are: the same credit again is spent (410).
  const Bytes other = random_bytes(blindbank::kAccountTokenSize);
  auto again = rt_.block_on([&]() -> Task<Result<int64_t>> { co_return co_await bank.deposit(other, credit); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyUsed) << again.error().to_string();

  auto full = rt_.block_on([&]() -> Task<Result<currency::Credit>> { co_return co_await bank.withdraw_full(token); });
  ASSERT_TRUE(full) << full.error().to_string();
  EXPECT_EQ(full->value.amount(), 64);
  auto empty = rt_.block_on([&]() -> Task<Result<int64_t>> { co_return co_await bank.balance(token); });
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, 0);
  EXPECT_TRUE(gw_.counter_reaches("upstream_requests_total{upstream=\"bank\"}", 5)) << gw_.counter("upstream_requests_total{upstream=\"bank\"}");
  EXPECT_TRUE(gw_.counter_reaches("requests_total{outcome=\"ok\"}", 5)) << gw_.counter("requests_total{outcome=\"ok\"}");

  // A path the gateway does not allow never reaches the bank (an inner 404 → kNotFound).
  blindbank::BlindBankClient wrong(ohttp.transport(), std::string(kBankUrl) + "/admin");
  auto refused = rt_.block_on([&]() -> Task<Result<int64_t>> { co_return co_await wrong.balance(token); });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNotFound) << refused.error().to_string();
  EXPECT_TRUE(gw_.counter_reaches("upstream_requests_total{upstream=\"bank\"}", 5)) << gw_.counter("upstream_requests_total{upstream=\"bank\"}");
}

TEST_F(GatewayBank, StreamedRequestsReachTheBankToo) {
  auto http = net::Client::create();
  ASSERT_TRUE(http);
  client::OhttpTransport ohttp(*http, gw_.url() + "/", client::fixed_key_source(gw_.current_key()));
  const Bytes token = random_bytes(blindbank::kAccountTokenSize);
  // A balance request sent with the compute requests' profile; the bank answers 200 with a BalanceResponse.
  blindbank::BlindBankClient bank(
      [&ohttp](net::ClientRequest request) -> Task<Result<net::ClientResponse>> {
        auto stream = co_await ohttp.send_streaming(std::move(request));
        if (!stream) co_return std::unexpected(stream.error());
        net::ClientResponse response;
        response.status = (*stream)->status();
        response.headers = (*stream)->headers();
        auto body = co_await (*stream)->read_all();
        if (!body) co_return std::unexpected(body.error());
        response.body = std::move(*body);
        co_return response;
      },
      std::string(kBankUrl));
  auto balance = rt_.block_on([&]() -> Task<Result<int64_t>> { co_return co_await bank.balance(token); });
  ASSERT_TRUE(balance) << balance.error().to_string();
  EXPECT_EQ(*balance, 0);
}

}  // namespace
}  // namespace openpcc::gateway
