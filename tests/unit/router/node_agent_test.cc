// NodeAgent against a real router: registration, heartbeats carrying new evidence, re-registration after a router
// restart, and removal on stop().
#include <gtest/gtest.h>

#include "net/runtime.h"
#include "router_test_support.h"
#include "services/router/node_agent.h"

namespace openpcc::router {
namespace {

using testkit::eventually;
using testkit::FakeNode;
using testkit::RouterFixture;

NodeAgentConfig agent_config(const RouterFixture& router, const FakeNode& node) {
  NodeAgentConfig config;
  config.router_url = router.url() + "/";  // a trailing slash is fine
  config.node_id = node.id;
  config.routing_info.set_url(node.url());
  config.routing_info.set_healthcheck_url(node.health_url());
  config.routing_info.add_tags("llm");
  config.routing_info.add_tags("model=test");
  config.routing_info.mutable_evidence()->add_items()->set_data("first evidence");
  config.interval = std::chrono::milliseconds(100);
  config.token = SecretBytes(as_bytes(router.token()));
  return config;
}

std::string first_evidence_of(RouterFixture& router) {
  auto manifests = router.service().registry().manifests(std::vector<std::string>{"model=test"}, 10);
  if (manifests.size() != 1 || manifests[0].evidence().items_size() == 0) return {};
  return manifests[0].evidence().items(0).data();
}

TEST(NodeAgent, RegistersHeartbeatsAndLeaves) {
  net::Runtime runtime(2);
  RouterFixture router;
  FakeNode node(runtime);
  auto client = net::Client::create();
  ASSERT_TRUE(client);
  auto agent = NodeAgent::start(runtime, agent_config(router, node), *client);
  EXPECT_EQ(agent->node_id(), node.id);

  ASSERT_TRUE(eventually([&] { return router.service().registry().routable_url(node.id).has_value(); }));
  EXPECT_EQ(router.service().registry().routable_url(node.id), node.url());
  EXPECT_EQ(first_evidence_of(router), "first evidence");

  // Heartbeats keep coming; new evidence goes out with the next one.
  const uint64_t sent = agent->heartbeats_sent();
  ASSERT_TRUE(eventually([&] { return agent->heartbeats_sent() >= sent + 2; }));
  pb::SignedEvidenceList fresh;
  fresh.add_items()->set_data("second evidence");
  agent->update_evidence(fresh);
  EXPECT_TRUE(eventually([&] { return first_evidence_of(router) == "second evidence"; }));

  agent->stop();
  EXPECT_EQ(router.service().registry().size(), 0u);  // stop() waited for the shutdown event
  const uint64_t after_stop = agent->heartbeats_sent();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(agent->heartbeats_sent(), after_stop);  // the loop ended
  EXPECT_EQ(router.service().registry().size(), 0u);
  agent->stop();  // idempotent
}

TEST(NodeAgent, RegistersAgainAfterARouterRestart) {
  net::Runtime runtime(2);
  RouterFixture router;
  FakeNode node(runtime);
  auto client = net::Client::create();
  ASSERT_TRUE(client);
  auto agent = NodeAgent::start(runtime, agent_config(router, node), *client);
  ASSERT_TRUE(eventually([&] { return router.service().registry().routable_url(node.id).has_value(); }));

  router.restart();  // same port, empty registry
  EXPECT_TRUE(eventually([&] { return router.service().registry().routable_url(node.id).has_value(); }));

  agent.reset();  // the destructor sends the shutdown
  EXPECT_EQ(router.service().registry().size(), 0u);
}

TEST(NodeAgent, KeepsTryingWhileTheRouterIsAway) {
  net::Runtime runtime(2);
  FakeNode node(runtime);
  // A router that is down when the agent starts.
  RouterFixture router;
  NodeAgentConfig config = agent_config(router, node);
  router.service().shutdown(std::chrono::milliseconds(100));
  auto client = net::Client::create();
  ASSERT_TRUE(client);
  auto agent = NodeAgent::start(runtime, std::move(config), *client);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(agent->heartbeats_sent(), 0u);
  router.restart();  // the router comes (back) up on the same port
  EXPECT_TRUE(eventually([&] { return router.service().registry().routable_url(node.id).has_value(); }));
  router.service().shutdown(std::chrono::milliseconds(100));
  const auto before = std::chrono::steady_clock::now();
  agent->stop();  // the shutdown cannot be delivered: returns anyway, within its time limit
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
}

}  // namespace
}  // namespace openpcc::router
