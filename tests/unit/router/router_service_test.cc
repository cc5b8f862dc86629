// The router's configuration (strict keys, defaults, paths) and the Service runner on both money database backends.
#include <gtest/gtest.h>

#include <filesystem>

#include "router_test_support.h"
#include "services/router/router_service.h"
#include "support/postgres_server.h"

namespace openpcc::router {
namespace {

namespace fs = std::filesystem;
using testkit::FakeNode;
using testkit::RouterFixture;

nlohmann::json parse_raw(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, false, /*ignore_comments=*/true);
}

// The configs here name a node token file unless they say something about it (or are not an object).
nlohmann::json parse(const std::string& text) {
  nlohmann::json json = parse_raw(text);
  if (json.is_object() && !json.contains("node_token_file") && !json.contains("allow_unauthenticated_node_events")) {
    json["node_token_file"] = "node.token";
  }
  return json;
}

std::string error_of(const Result<ServiceConfig>& r) { return r ? std::string("(ok)") : r.error().message; }

TEST(RouterConfig, ExampleParsesToTheDocumentedDefaults) {
  auto json = parse(example_service_config());
  ASSERT_FALSE(json.is_discarded());
  auto cfg = parse_service_config(json, "/srv/router");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->host, "127.0.0.1");
  EXPECT_EQ(cfg->port, 8084);
  EXPECT_EQ(cfg->database, "sqlite:/srv/router/money.db");
  EXPECT_EQ(cfg->currency_key, fs::path("/srv/router/currency.key"));
  ASSERT_TRUE(cfg->tls);
  EXPECT_EQ(cfg->tls->certificate_file, fs::path("/srv/router/router-cert.pem"));
  EXPECT_EQ(cfg->health_interval, std::chrono::milliseconds(30'000));
  EXPECT_EQ(cfg->health_timeout, std::chrono::milliseconds(5'000));
  EXPECT_EQ(cfg->health_retries, 3);
  EXPECT_EQ(cfg->health.window, std::chrono::seconds(900));
  EXPECT_EQ(cfg->health.min_checks, 3);
  EXPECT_EQ(cfg->health.failure_streak, 3);
  EXPECT_DOUBLE_EQ(cfg->health.min_success_rate, 0.9);
  EXPECT_EQ(cfg->node_max_age, std::chrono::seconds(900));
  EXPECT_EQ(cfg->max_manifests, 500);
  EXPECT_EQ(cfg->node_connect_timeout, std::chrono::milliseconds(5'000));
  EXPECT_EQ(cfg->node_timeout, std::chrono::seconds(300));
  EXPECT_EQ(cfg->max_request_bytes, 8u << 20);
  EXPECT_EQ(cfg->max_event_bytes, 4u << 20);
  EXPECT_EQ(cfg->max_nodes, 10'000u);
  EXPECT_EQ(cfg->threads, 2u);
  EXPECT_EQ(cfg->storage_threads, 4u);
  EXPECT_EQ(cfg->log_level, "info");
  EXPECT_EQ(cfg->node_token_file, fs::path("/srv/router/node.token"));
  EXPECT_FALSE(cfg->allow_unauthenticated_node_events);
}

TEST(RouterConfig, MinimalConfigAndDevSettings) {
  auto cfg = parse_service_config(
      parse(R"({"database": "postgresql://router@db/money", "listen": "[::1]:0",
                "health": {"interval_ms": 1000, "min_checks": 1, "min_success_rate": 0.5}})"),
      "/etc");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->host, "::1");
  EXPECT_EQ(cfg->port, 0);
  EXPECT_EQ(cfg->database, "postgresql://router@db/money");
  EXPECT_EQ(cfg->currency_key, fs::path("/etc/currency.key"));
  EXPECT_FALSE(cfg->tls);
  EXPECT_EQ(cfg->health.min_checks, 1);
  EXPECT_EQ(cfg->health_interval, std::chrono::milliseconds(1000));
  EXPECT_DOUBLE_EQ(cfg->health.min_success_rate, 0.5);
  auto rate_one = parse_service_config(parse(R"({"database": "sqlite:x", "health": {"min_success_rate": 1}})"), "/");
  ASSERT_TRUE(rate_one) << rate_one.error().to_string();
  EXPECT_DOUBLE_EQ(rate_one->health.min_success_rate, 1.0);
}

TEST(RouterConfig, RefusesWhatItDoesNotUnderstand) {
  EXPECT_NE(error_of(parse_service_config(parse(R"({})"), "/")).find("database is required"), std::string::npos);
  EXPECT_NE(error_of(parse_service_config(parse(R"({"database": "sqlite:x", "databse": 1})"), "/")).find("databse"),
            std::string::npos);
  EXPECT_NE(error_of(parse_service_config(parse(R"({"database": "sqlite:x", "health": {"intervl_ms": 1}})"), "/"))
                .find("health.intervl_ms"),
            std::string::npos);
  for (const char* bad : {
           R"({"database": "sqlite:x", "health": {"min_success_rate": 1.5}})",
           R"({"database": "sqlite:x", "health": {"min_success_rate": "high"}})",
           R"({"database": "sqlite:x", "health": {"min_success_rate": -0.1}})",
           R"({"database": "sqlite:x", "health": 0.5})",
           R"({"database": "sqlite:x", "health": {"min_checks": 0}})",
           R"({"database": "sqlite:x", "max_manifests": 501})",
           R"({"database": "sqlite:x", "max_manifests": 0})",
           R"({"database": "sqlite:x", "node_requests": {"timeout_seconds": 0}})",
           R"({"database": "sqlite:x", "limits": {"max_request_bytes": 10}})",
           R"({"database": "sqlite:x", "tls": {"certificate": "c"}})",
           R"({"database": "sqlite:x", "listen": "8084"})",
           R"({"database": "sqlite:x", "log_level": "loud"})",
           R"({"database": "sqlite:x", "threads": 0})",
           R"({"database": 5})",
       }) {
    EXPECT_FALSE(parse_service_config(parse(bad), "/")) << bad;
  }
}

TEST(RouterConfig, HelpNamesEveryKeyOfTheExample) {
  const std::string help = service_config_help();
  for (const char* key :
       {"listen", "data_dir", "database", "currency_key", "currency_key_bits", "tls", "health", "interval_ms",
        "timeout_ms", "retries", "window_seconds", "min_checks", "failure_streak", "min_success_rate",
        "node_max_age_seconds", "max_manifests", "node_requests", "connect_timeout_ms", "timeout_seconds", "limits",
        "max_request_bytes", "max_event_bytes", "max_nodes", "max_connections", "threads", "storage_threads",
        "log_level", "node_token_file", "allow_unauthenticated_node_events"}) {
    EXPECT_NE(help.find(key), std::string::npos) << key;
    EXPECT_NE(example_service_config().find(std::string("\"") + key + "\""), std::string::npos) << key;
  }
}

TEST(RouterService, RefusesAKeyOthersCanRead) {
  openpcc::test_support::TempDir dir("openpcc-router-service");
  const fs::path key = dir / "currency.key";
  {
    std::ofstream out(key);
    out << testkit::test_key_pem();
  }
  ::chmod(key.c_str(), 0644);
  auto cfg = parse_service_config(
      parse(R"({"listen": "127.0.0.1:0", "database": "sqlite:money.db", "allow_unauthenticated_node_events": true})"),
      dir.path());
  ASSERT_TRUE(cfg);
  auto service = Service::start(*cfg);
  ASSERT_FALSE(service);
  EXPECT_NE(service.error().message.find("currency key"), std::string::npos) << service.error().to_string();
}

TEST(RouterService, SpendsCreditsOnPostgres) {
  auto url = openpcc::test_support::fresh_postgres_database();
  ASSERT_TRUE(url) << url.error().to_string();
  nlohmann::json config = testkit::router_config_json();
  config["database"] = *url;
  RouterFixture router(config);
  net::Runtime runtime(1);
  FakeNode node(runtime);
  testkit::NodeBehaviour b;
  b.refund_amount_trailer = currency::value_to_header(currency::Value::from_amount(96).value());
  node.set(b);
  router.register_node(node);

  const currency::Credit credit = router.mint(1024);
  auto r = router.compute({&node}, credit);
  ASSERT_EQ(r.status, 200);
  auto refund = currency::Credit::from_header(r.trailers.get("X-Refund").value_or(""));
  ASSERT_TRUE(refund);
  EXPECT_EQ(refund->value.amount(), 96);
  EXPECT_EQ(router.compute({&node}, credit).status, 410);
  // The router's restart keeps the spent nonce (it lives in the shared database, not in the process).
  router.restart();
  router.register_node(node, {"llm"}, 2);
  EXPECT_EQ(router.compute({&node}, credit).status, 410);
  EXPECT_EQ(router.compute({&node}, *refund).status, 200);
}

}  // namespace
}  // namespace openpcc::router
