// The compute node's configuration file: required keys, defaults, tags, strictness.
#include "services/computenode/computenode_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace openpcc::computenode {
namespace {

using nlohmann::json;

json minimal() {
  return json{{"tpm", "swtpm:host=127.0.0.1,port=2321"},
              {"models", {"openpcc-test-engine"}},
              {"engine", "http://127.0.0.1:8000"},
              {"model_path", "model"},
              {"badge_public_key", "badge.key.pub"}};
}

Result<ServiceConfig> parse(const json& j) { return parse_service_config(j, "/srv/node"); }

TEST(ComputeNodeConfig, MinimalWithDefaults) {
  auto config = parse(minimal());
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(config->host, "127.0.0.1");
  EXPECT_EQ(config->port, 8090);
  EXPECT_EQ(config->data_dir, "/srv/node");
  EXPECT_EQ(config->model_path, "/srv/node/model");
  EXPECT_EQ(config->badge_public_key, "/srv/node/badge.key.pub");
  EXPECT_EQ(config->simulated_root, "/srv/node/simulated-root.pem");
  EXPECT_FALSE(config->image_manifest_bundle);
  EXPECT_EQ(config->router_url, "");
  EXPECT_TRUE(config->router_token_file.empty());
  EXPECT_EQ(config->public_url, "");
  EXPECT_EQ(config->tags, (std::vector<std::string>{"llm", "model=openpcc-test-engine"}));
  EXPECT_EQ(config->heartbeat_interval, std::chrono::milliseconds(60'000));
  EXPECT_EQ(config->request_timeout, std::chrono::seconds(300));
  EXPECT_EQ(config->max_request_bytes, kDefaultMaxRequestBytes);
  EXPECT_EQ(config->image_id, "local-image");
}

TEST(ComputeNodeConfig, EverythingSet) {
  json j = minimal();
  j["listen"] = "0.0.0.0:0";
  j["data_dir"] = "data";
  j["router_url"] = "http://127.0.0.1:8084";
  j["router_token_file"] = "node.token";
  j["public_url"] = "http://10.0.0.5:8090/";
  j["tags"] = {"llm", "gpu=none", "llm"};
  j["models"] = {"b-model", "a-model", "b-model"};
  j["image_manifest_bundle"] = "/abs/image.bundle.json";
  j["heartbeat_interval_ms"] = 250;
  j["evidence_refresh_seconds"] = 0;
  j["request_timeout_seconds"] = 30;
  j["max_request_bytes"] = 2 << 20;
  j["log_level"] = "debug";
  auto config = parse(j);
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(config->host, "0.0.0.0");
  EXPECT_EQ(config->port, 0);
  EXPECT_EQ(config->data_dir, "/srv/node/data");
  EXPECT_EQ(config->model_path, "/srv/node/data/model");
  EXPECT_EQ(config->models, (std::vector<std::string>{"a-model", "b-model"}));
  EXPECT_EQ(config->tags, (std::vector<std::string>{"llm", "gpu=none", "model=a-model", "model=b-model"}));
  EXPECT_EQ(*config->image_manifest_bundle, "/abs/image.bundle.json");
  EXPECT_EQ(config->evidence_refresh.count(), 0);
  EXPECT_EQ(config->heartbeat_interval.count(), 250);
  EXPECT_EQ(config->router_token_file, "/srv/node/data/node.token");
}

TEST(ComputeNodeConfig, Refusals) {
  const std::vector<std::pair<std::string, std::function<void(json&)>>> bad = {
      {"unknown key", [](json& j) { j["modles"] = {"x"}; }},
      {"tpm missing", [](json& j) { j.erase("tpm"); }},
      {"tpm malformed", [](json& j) { j["tpm"] = "tabrmd:bus=system"; }},
      {"models missing", [](json& j) { j.erase("models"); }},
      {"models empty", [](json& j) { j["models"] = json::array(); }},
      {"model name control char", [](json& j) { j["models"] = {"a\nb"}; }},
      {"engine missing", [](json& j) { j.erase("engine"); }},
      {"model_path missing", [](json& j) { j.erase("model_path"); }},
      {"badge key missing", [](json& j) { j.erase("badge_public_key"); }},
      {"router_url not a url", [](json& j) { j["router_url"] = "router:8084"; }},
      {"router_token_file without router_url", [](json& j) { j["router_token_file"] = "node.token"; }},
      {"router_token_file not a string", [](json& j) { j["router_token_file"] = 1; }},
      {"public_url without slash", [](json& j) { j["public_url"] = "http://10.0.0.5:8090"; }},
      {"public_url not http", [](json& j) { j["public_url"] = "ftp://x/"; }},
      {"all addresses without public_url", [](json& j) { j["listen"] = "0.0.0.0:8090"; }},
      {"empty tag", [](json& j) { j["tags"] = {""}; }},
      {"long tag", [](json& j) { j["tags"] = {std::string(513, 't')}; }},
      {"too many tags",
       [](json& j) {
         json tags = json::array();
         for (int i = 0; i < 64; ++i) tags.push_back("t" + std::to_string(i));
         j["tags"] = tags;  // 64 + model=… = 65
       }},
      {"heartbeat too fast", [](json& j) { j["heartbeat_interval_ms"] = 10; }},
      {"bad log level", [](json& j) { j["log_level"] = "loud"; }},
      {"wrong type", [](json& j) { j["threads"] = "two"; }},
      {"empty bundle", [](json& j) { j["image_manifest_bundle"] = ""; }},
  };
  for (const auto& [name, edit] : bad) {
    json j = minimal();
    edit(j);
    auto config = parse(j);
    EXPECT_FALSE(config) << name;
    if (!config) {
      EXPECT_NE(config.error().message.find("computenode"), std::string::npos) << config.error().message;
    }
  }
}

TEST(ComputeNodeConfig, ExampleParses) {
  json j = json::parse(example_service_config(), nullptr, true, /*ignore_comments=*/true);
  auto config = parse(j);
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(config->router_url, "http://127.0.0.1:8084");
  EXPECT_EQ(config->router_token_file, "/srv/node/node.token");
  EXPECT_FALSE(service_config_help().empty());
  EXPECT_NE(service_config_help().find("router_token_file"), std::string::npos);
}

}  // namespace
}  // namespace openpcc::computenode
