#include "client/client_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "support/temp_dir.h"

namespace openpcc::client {
namespace {

class ClientConfigTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << text;
    ASSERT_EQ(::chmod((dir_ / name).c_str(), mode), 0);
  }
  Result<ClientConfig> load(const nlohmann::json& json) {
    write("client.json", json.dump(2), 0644);
    return load_client_config(dir_ / "client.json");
  }
  static nlohmann::json minimal() {
    return {{"authbank_url", "https://127.0.0.1:8443"},
            {"api_key", "key-1"},
            {"trust_policy", "trust.json"},
            {"wallet", {{"state_file", "wallet.state"}}}};
  }

  test_support::TempDir dir_{"openpcc-client-config"};
};

TEST_F(ClientConfigTest, MinimalConfigGetsTheDefaultsAndPathsRelativeToTheFile) {
  auto config = load(minimal());
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(config->authbank_url, "https://127.0.0.1:8443");
  EXPECT_EQ(config->api_key, "key-1");
  EXPECT_EQ(config->trust_policy, dir_.path() / "trust.json");
  EXPECT_EQ(config->wallet.state_file, dir_.path() / "wallet.state");
  EXPECT_TRUE(config->ca_file.empty());
  EXPECT_TRUE(config->relay_url.empty());
  EXPECT_EQ(config->default_tags, std::vector<std::string>{"llm"});
  EXPECT_EQ(config->max_candidates, 3u);
  EXPECT_EQ(config->credit_amount, 0);
  EXPECT_EQ(config->node_cache_ttl, std::chrono::seconds(60));
  EXPECT_EQ(config->wallet.prefetch_amount, wallet::WalletConfig{}.prefetch_amount);
}

TEST_F(ClientConfigTest, EveryKey) {
  write("api-key.txt", "  secret-key\n");
  auto json = minimal();
  json.erase("api_key");
  json["api_key_file"] = "api-key.txt";
  json["ca_file"] = "certs/ca.pem";
  json["relay_url"] = "http://127.0.0.1:3100/";
  json["trust_policy"] = "/etc/openpcc/trust.json";
  json["default_tags"] = nlohmann::json::array();
  json["max_candidates"] = 5;
  json["credit_amount"] = 1024;
  json["node_cache_ttl_seconds"] = 0;
  json["request_timeout_seconds"] = 30;
  json["wallet"] = {{"state_file", "state/w.state"}, {"source_amount", 20480}, {"prefetch_amount", 2048},
                    {"prefetch_credits", 4}, {"max_parallel", 3}, {"max_delay_ms", 0},
                    {"close_timeout_ms", 1000}, {"payment_timeout_ms", 2000}};
  auto config = load(json);
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(config->api_key, "secret-key");
  EXPECT_EQ(config->ca_file, dir_.path() / "certs/ca.pem");
  EXPECT_EQ(config->relay_url, "http://127.0.0.1:3100/");
  EXPECT_EQ(config->trust_policy, "/etc/openpcc/trust.json");
  EXPECT_TRUE(config->default_tags.empty());
  EXPECT_EQ(config->max_candidates, 5u);
  EXPECT_EQ(config->credit_amount, 1024);
  EXPECT_EQ(config->node_cache_ttl.count(), 0);
  EXPECT_EQ(config->request_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config->wallet.state_file, dir_.path() / "state/w.state");
  EXPECT_EQ(config->wallet.source_amount, 20480);
  EXPECT_EQ(config->wallet.prefetch_amount, 2048);
  EXPECT_EQ(config->wallet.prefetch_credits, 4u);
  EXPECT_EQ(config->wallet.max_parallel, 3u);
  EXPECT_EQ(config->wallet.max_delay.count(), 0);
  EXPECT_EQ(config->wallet.close_timeout.count(), 1000);
  EXPECT_EQ(config->wallet.payment_timeout.count(), 2000);
}

TEST_F(ClientConfigTest, IsStrict) {
  auto expect_refused = [&](nlohmann::json json, std::string_view why) {
    auto config = load(json);
    ASSERT_FALSE(config) << json.dump();
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument) << config.error().to_string();
    EXPECT_NE(config.error().message.find(why), std::string::npos) << config.error().message;
    EXPECT_TRUE(config.error().message.starts_with("config: ")) << config.error().message;
  };
  auto j = minimal();
  j["relays"] = "x";  // misspelt relay_url
  expect_refused(j, "relays");
  j = minimal();
  j["wallet"]["statefile"] = "x";
  expect_refused(j, "statefile");
  j = minimal();
  j.erase("authbank_url");
  expect_refused(j, "authbank_url");
  j = minimal();
  j["authbank_url"] = "ftp://bank";
  expect_refused(j, "authbank_url");
  j = minimal();
  j.erase("api_key");
  expect_refused(j, "api_key");
  j = minimal();
  j["api_key_file"] = "k.txt";
  expect_refused(j, "exclude");
  j = minimal();
  j.erase("trust_policy");
  expect_refused(j, "trust_policy");
  j = minimal();
  j["wallet"].erase("state_file");
  expect_refused(j, "state_file");
  j = minimal();
  j["max_candidates"] = 17;
  expect_refused(j, "max_candidates");
  j = minimal();
  j["max_candidates"] = "3";
  expect_refused(j, "max_candidates");
  j = minimal();
  j["credit_amount"] = 262144 * 2;
  expect_refused(j, "credit_amount");
  j = minimal();
  j["default_tags"] = {""};
  expect_refused(j, "default_tags");
  j = minimal();
  j["wallet"]["prefetch_amount"] = 1000;  // not representable
  expect_refused(j, "wallet");
  j = minimal();
  j["relay_url"] = "not a url";
  expect_refused(j, "relay_url");
}

TEST_F(ClientConfigTest, ApiKeyFileMustBePrivate) {
  write("api-key.txt", "secret", 0644);
  auto j = minimal();
  j.erase("api_key");
  j["api_key_file"] = "api-key.txt";
  auto config = load(j);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("api_key_file"), std::string::npos) << config.error().message;
  j["api_key_file"] = "missing.txt";
  EXPECT_FALSE(load(j));
}

TEST_F(ClientConfigTest, UnreadableFiles) {
  EXPECT_FALSE(load_client_config(dir_ / "nope.json"));
  write("bad.json", "{\"authbank_url\": ", 0644);
  EXPECT_FALSE(load_client_config(dir_ / "bad.json"));
  write("array.json", "[]", 0644);
  EXPECT_FALSE(load_client_config(dir_ / "array.json"));
}

TEST_F(ClientConfigTest, CommentsAndExampleParse) {
  write("trust.json", "{}", 0644);
  write("api-key.txt", "k");
  write("example.json", example_client_config(), 0644);
  auto config = load_client_config(dir_ / "example.json");
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(config->api_key, "k");
  EXPECT_NE(client_config_help().find("trust_policy"), std::string::npos);
}

}  // namespace
}  // namespace openpcc::client
