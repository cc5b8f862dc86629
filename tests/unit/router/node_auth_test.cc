// Node registration is authenticated (beyond the reference): the node token on POST /node-events, the router's
// refusal to start without one (unless told to run open), and the X-Node-ID check of health checks.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "net/runtime.h"
#include "router_test_support.h"
#include "services/router/node_agent.h"
#include "services/router/node_token.h"

namespace openpcc::router {
namespace {

namespace fs = std::filesystem;
using testkit::eventually;
using testkit::FakeNode;
using testkit::RouterFixture;

pb::NodeEvent heartbeat_for(const FakeNode& node, int64_t index, const std::string& url = "") {
  pb::NodeEvent event;
  event.set_node_id(node.id);
  event.set_event_index(index);
  pb::RoutingInfo* info = event.mutable_heartbeat()->mutable_routing_info();
  info->set_url(url.empty() ? node.url() : url);
  info->set_healthcheck_url(node.health_url());
  info->add_tags("llm");
  info->mutable_evidence()->add_items()->set_data("evidence");
  return event;
}

pb::NodeEvent shutdown_for(const FakeNode& node, int64_t index) {
  pb::NodeEvent event;
  event.set_node_id(node.id);
  event.set_event_index(index);
  event.mutable_shutdown();
  return event;
}

std::string metric_line(const std::string& metrics, const std::string& prefix) {
  const size_t at = metrics.find(prefix);
  if (at == std::string::npos) return {};
  return metrics.substr(at, metrics.find('\n', at) - at);
}

void write_file(const fs::path& path, const std::string& text, mode_t mode = 0600) {
  {
    std::ofstream out(path);
    out << text;
  }
  ::chmod(path.c_str(), mode);
}

// ---- the token itself ------------------------------------------------------------------------------------------

TEST(NodeToken, FormatIsCheckedAndGeneratedTokensPass) {
  EXPECT_TRUE(check_node_token(as_bytes(std::string(64, 'a'))));
  EXPECT_TRUE(check_node_token(as_bytes(std::string(64, 'F'))));
  EXPECT_FALSE(check_node_token(as_bytes(std::string(62, 'a'))));   // 31 bytes: too short
  EXPECT_FALSE(check_node_token(as_bytes(std::string(65, 'a'))));   // odd
  EXPECT_FALSE(check_node_token(as_bytes(std::string(63, 'a') + "g")));
  EXPECT_FALSE(check_node_token(as_bytes(std::string(1026, 'a'))));
  EXPECT_FALSE(check_node_token(ByteSpan{}));
  const SecretBytes a = generate_node_token();
  const SecretBytes b = generate_node_token();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_TRUE(check_node_token(a.span()));
  EXPECT_FALSE(ct_equal(a.span(), b.span()));
}

TEST(NodeToken, AuthorizationMatchesOnlyTheBearerToken) {
  const std::string token(64, 'c');
  const ByteSpan t = as_bytes(token);
  EXPECT_EQ(node_token_authorization(t), "Bearer " + token);
  EXPECT_TRUE(authorization_matches("Bearer " + token, t));
  EXPECT_TRUE(authorization_matches("bearer " + token, t));
  EXPECT_TRUE(authorization_matches("Bearer  " + token + " ", t));
  EXPECT_FALSE(authorization_matches(std::nullopt, t));
  EXPECT_FALSE(authorization_matches("", t));
  EXPECT_FALSE(authorization_matches(token, t));
  EXPECT_FALSE(authorization_matches("Basic " + token, t));
  EXPECT_FALSE(authorization_matches("Bearer " + std::string(63, 'c'), t));
  EXPECT_FALSE(authorization_matches("Bearer " + token + "c", t));
  EXPECT_FALSE(authorization_matches("Bearer " + std::string(63, 'c') + "d", t));
  EXPECT_FALSE(authorization_matches("Bearer ", ByteSpan{}));  // no token configured never matches
}

TEST(NodeToken, LoadsATrimmedLineAndRefusesBadFiles) {
  openpcc::test_support::TempDir dir("openpcc-node-token");
  const std::string token(64, '7');
  write_file(dir / "ok", "  " + token + "\n\n");
  auto loaded = load_node_token(dir / "ok");
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(to_string(loaded->span()), token);

  write_file(dir / "short", std::string(62, '7') + "\n");
  auto short_token = load_node_token(dir / "short");
  ASSERT_FALSE(short_token);
  EXPECT_NE(short_token.error().message.find("too short"), std::string::npos) << short_token.error().to_string();
  EXPECT_NE(short_token.error().message.find("at least 64"), std::string::npos);
  EXPECT_EQ(short_token.error().message.find(std::string(62, '7')), std::string::npos);  // never the content

  write_file(dir / "readable", token + "\n", 0644);
  EXPECT_FALSE(load_node_token(dir / "readable"));
  write_file(dir / "two-words", std::string(32, '7') + " " + std::string(32, '7') + "\n");
  EXPECT_FALSE(load_node_token(dir / "two-words"));
  EXPECT_EQ(load_node_token(dir / "missing").error().code, ErrorCode::kNotFound);
}

// ---- POST /node-events ---------------------------------------------------------------------------------------------

class NodeEventAuthTest : public ::testing::Test {
 protected:
  net::Runtime nodes_runtime_{2};
  RouterFixture router_;
};

TEST_F(NodeEventAuthTest, WithoutTheTokenNothingChanges) {
  FakeNode node(nodes_runtime_);
  auto r = router_.post_event_with(heartbeat_for(node, 1), std::nullopt);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers.get("Content-Type"), std::optional<std::string_view>("application/json"));
  EXPECT_EQ(r.headers.get("WWW-Authenticate"), std::optional<std::string_view>("Bearer"));
  auto body = nlohmann::json::parse(to_string(r.body), nullptr, false);
  ASSERT_TRUE(body.is_object()) << to_string(r.body);
  EXPECT_NE(body.value("error", "").find("token is required"), std::string::npos) << body.dump();
  EXPECT_EQ(router_.service().registry().size(), 0u);
  // Refused before the body is parsed: garbage gets the same answer.
  net::Headers h;
  h.set("Content-Type", "application/octet-stream");
  auto garbage = net::fetch_blocking(
      net::ClientRequest("POST", router_.url() + "/node-events", to_bytes("\xff\xff"), std::move(h)));
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 401);
  EXPECT_EQ(metric_line(router_.metrics(), "openpcc_router_node_events_total{outcome=\"unauthorized\"}"),
            "openpcc_router_node_events_total{outcome=\"unauthorized\"} 2")
      << router_.metrics();
}

TEST_F(NodeEventAuthTest, AWrongTokenCanNeitherRegisterNorEvictNorSupersede) {
  FakeNode node(nodes_runtime_);
  const std::string other = "Bearer " + to_hex(random_bytes(32));
  for (const std::optional<std::string>& wrong :
       {std::optional<std::string>(other), std::optional<std::string>("Bearer " + router_.token().substr(0, 63)),
        std::optional<std::string>(router_.token()), std::optional<std::string>("Basic " + router_.token())}) {
    auto r = router_.post_event_with(heartbeat_for(node, 1), wrong);
    EXPECT_EQ(r.status, 401) << *wrong;
    EXPECT_NE(to_string(r.body).find("not valid"), std::string::npos) << to_string(r.body);
  }
  EXPECT_EQ(router_.service().registry().size(), 0u);

  // With the right token the node registers and becomes routable.
  router_.register_node(node);
  ASSERT_EQ(router_.service().registry().size(), 1u);

  // An intruder with a wrong token cannot shut the node down nor take its URL with a fresh id.
  EXPECT_EQ(router_.post_event_with(shutdown_for(node, 100), other).status, 401);
  FakeNode intruder(nodes_runtime_);
  EXPECT_EQ(router_.post_event_with(heartbeat_for(intruder, 1, node.url()), other).status, 401);
  EXPECT_EQ(router_.service().registry().size(), 1u);
  EXPECT_EQ(router_.service().registry().routable_url(node.id), node.url());
  EXPECT_FALSE(router_.service().registry().grade_of(intruder.id));
  EXPECT_NE(router_.metrics().find("openpcc_router_node_events_total{outcome=\"unauthorized\"} 6"), std::string::npos)
      << router_.metrics();

  // The right token still works for the shutdown.
  EXPECT_EQ(router_.post_event(shutdown_for(node, 101)).status, 200);
  EXPECT_EQ(router_.service().registry().size(), 0u);
}

// ---- start-up ------------------------------------------------------------------------------------------------------

// A heartbeat for `node` posted to the service's /node-events without any Authorization header.
Result<net::ClientResponse> post_tokenless_heartbeat(const Service& service, const FakeNode& node) {
  net::Headers h;
  h.set("Content-Type", "application/octet-stream");
  return net::fetch_blocking(net::ClientRequest("POST", service.url() + "/node-events",
                                                to_bytes(heartbeat_for(node, 1).SerializeAsString()), std::move(h)));
}

class RouterStartTest : public ::testing::Test {
 protected:
  RouterStartTest() : dir_("openpcc-router-token") {
    write_file(dir_ / "currency.key", testkit::test_key_pem());
  }
  Result<ServiceConfig> config(nlohmann::json extra) {
    nlohmann::json json = {{"listen", "127.0.0.1:0"}, {"database", "sqlite:money.db"}, {"log_level", "off"}};
    json.update(extra);
    return parse_service_config(json, dir_.path());
  }
  openpcc::test_support::TempDir dir_;
};

TEST_F(RouterStartTest, RefusesToStartWithoutATokenUnlessToldToRunOpen) {
  auto none = config(nlohmann::json::object());
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("node_token_file is required"), std::string::npos) << none.error().message;
  EXPECT_NE(none.error().message.find("allow_unauthenticated_node_events"), std::string::npos);
  EXPECT_FALSE(config({{"allow_unauthenticated_node_events", false}}));

  // A config built in code is checked again at start.
  ServiceConfig direct;
  direct.port = 0;
  direct.database = "sqlite:" + (dir_ / "money.db").string();
  direct.currency_key = dir_ / "currency.key";
  auto refused = Service::start(direct);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("node_token_file"), std::string::npos) << refused.error().message;

  // Told to run open: it starts and takes events without a token (the reference's behaviour).
  auto open = config({{"allow_unauthenticated_node_events", true}});
  ASSERT_TRUE(open) << open.error().to_string();
  EXPECT_TRUE(open->node_token_file.empty());
  auto service = Service::start(*open);
  ASSERT_TRUE(service) << service.error().to_string();
  net::Runtime runtime(1);
  FakeNode node(runtime);
  auto r = post_tokenless_heartbeat(**service, node);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ((*service)->registry().size(), 1u);
}

TEST_F(RouterStartTest, RefusesAShortMissingOrReadableSecret) {
  write_file(dir_ / "short.token", std::string(62, 'a') + "\n");
  auto cfg = config({{"node_token_file", "short.token"}});
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  auto short_secret = Service::start(*cfg);
  ASSERT_FALSE(short_secret);
  EXPECT_NE(short_secret.error().message.find("too short"), std::string::npos) << short_secret.error().message;
  EXPECT_NE(short_secret.error().message.find("short.token"), std::string::npos);

  cfg = config({{"node_token_file", "missing.token"}});
  ASSERT_TRUE(cfg);
  EXPECT_FALSE(Service::start(*cfg));

  write_file(dir_ / "readable.token", std::string(64, 'a') + "\n", 0644);
  cfg = config({{"node_token_file", "readable.token"}});
  ASSERT_TRUE(cfg);
  EXPECT_FALSE(Service::start(*cfg));

  write_file(dir_ / "good.token", std::string(64, 'a') + "\n");
  cfg = config({{"node_token_file", "good.token"}, {"allow_unauthenticated_node_events", true}});
  ASSERT_TRUE(cfg);
  auto service = Service::start(*cfg);  // a token wins over allow_unauthenticated_node_events
  ASSERT_TRUE(service) << service.error().to_string();
  net::Runtime runtime(1);
  FakeNode node(runtime);
  auto r = post_tokenless_heartbeat(**service, node);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

// ---- health checks: X-Node-ID ----------------------------------------------------------------------------------------

TEST_F(NodeEventAuthTest, AHealthCheckWithoutTheNodesIdFails) {
  // The registration names a URL where another party answers (here: a node that says no id, or another id).
  FakeNode silent(nodes_runtime_);
  silent.set_health_node_id(std::nullopt);
  FakeNode other(nodes_runtime_);
  other.set_health_node_id(new_uuid_v7());
  FakeNode honest(nodes_runtime_);
  EXPECT_EQ(router_.post_event(heartbeat_for(silent, 1)).status, 200);
  EXPECT_EQ(router_.post_event(heartbeat_for(other, 1)).status, 200);
  EXPECT_EQ(router_.post_event(heartbeat_for(honest, 1)).status, 200);
  ASSERT_TRUE(eventually([&] { return silent.health_checks() >= 1 && other.health_checks() >= 1; }));
  ASSERT_TRUE(eventually([&] { return router_.service().registry().routable_url(honest.id).has_value(); }));
  // The checks answered 200, but not for the registered node: failed (one failure removes a node here: its success
  // rate drops below min_success_rate), so never routable.
  EXPECT_TRUE(eventually([&] {
    return !router_.service().registry().grade_of(silent.id) && !router_.service().registry().grade_of(other.id);
  }));
  EXPECT_FALSE(router_.service().registry().routable_url(silent.id));
  EXPECT_FALSE(router_.service().registry().routable_url(other.id));
  EXPECT_TRUE(eventually([&] {
    return router_.metrics().find("openpcc_router_health_check_node_id_mismatches_total 2") != std::string::npos;
  })) << router_.metrics();
}

// ---- the node side ---------------------------------------------------------------------------------------------------

NodeAgentConfig agent_config(const RouterFixture& router, const FakeNode& node) {
  NodeAgentConfig config;
  config.router_url = router.url();
  config.node_id = node.id;
  config.routing_info.set_url(node.url());
  config.routing_info.set_healthcheck_url(node.health_url());
  config.routing_info.add_tags("llm");
  config.routing_info.mutable_evidence()->add_items()->set_data("evidence");
  config.interval = std::chrono::milliseconds(100);
  return config;
}

TEST_F(NodeEventAuthTest, TheAgentSendsItsTokenWithHeartbeatsAndTheShutdown) {
  FakeNode node(nodes_runtime_);
  auto client = net::Client::create();
  ASSERT_TRUE(client);
  NodeAgentConfig config = agent_config(router_, node);
  config.token = SecretBytes(as_bytes(router_.token()));
  auto agent = NodeAgent::start(nodes_runtime_, std::move(config), *client);
  ASSERT_TRUE(eventually([&] { return router_.service().registry().routable_url(node.id).has_value(); }));
  ASSERT_TRUE(eventually([&] { return agent->heartbeats_sent() >= 3; }));
  agent->stop();
  EXPECT_EQ(router_.service().registry().size(), 0u);  // the shutdown carried the token too
  EXPECT_EQ(router_.metrics().find("outcome=\"unauthorized\""), std::string::npos) << router_.metrics();
}

TEST_F(NodeEventAuthTest, AnAgentWithoutTheTokenIsRefused) {
  FakeNode node(nodes_runtime_);
  auto client = net::Client::create();
  ASSERT_TRUE(client);
  NodeAgentConfig config = agent_config(router_, node);
  config.token = SecretBytes(as_bytes(to_hex(random_bytes(32))));
  auto wrong = NodeAgent::start(nodes_runtime_, std::move(config), *client);
  auto none = NodeAgent::start(nodes_runtime_, agent_config(router_, node), *client);
  ASSERT_TRUE(eventually([&] {
    return router_.metrics().find("openpcc_router_node_events_total{outcome=\"unauthorized\"} 4") != std::string::npos;
  })) << router_.metrics();
  EXPECT_EQ(wrong->heartbeats_sent(), 0u);
  EXPECT_EQ(none->heartbeats_sent(), 0u);
  EXPECT_EQ(router_.service().registry().size(), 0u);
}

}  // namespace
}  // namespace openpcc::router
