// The router over HTTP: a real Service (SQLite money database, test currency key) and fake compute nodes that record
// what reaches them.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "currency/credit.h"
#include "net/runtime.h"
#include "openpcc/router.pb.h"
#include "router_test_support.h"
#include "services/common/proto_http.h"

namespace openpcc::router {
namespace {

using testkit::eventually;
using testkit::FakeNode;
using testkit::NodeBehaviour;
using testkit::RouterFixture;

std::string body_text(const net::ClientResponse& r) { return to_string(r.body); }
std::string error_text(const net::ClientResponse& r) { return services::error_message_from_body(r.body); }

class RouterHttpTest : public ::testing::Test {
 protected:
  net::Runtime nodes_runtime_{2};
  RouterFixture router_;
};

// ---- small endpoints ---------------------------------------------------------------------------------------------

TEST_F(RouterHttpTest, PingHealthAndMetrics) {
  auto ping = net::fetch_blocking(net::ClientRequest("GET", router_.url() + "/ping"));
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->status, 200);
  EXPECT_EQ(body_text(*ping), "pong");
  auto health = net::fetch_blocking(net::ClientRequest("GET", router_.url() + "/_health"));
  ASSERT_TRUE(health);
  EXPECT_EQ(body_text(*health), "{\"status\":\"OK\"}");
  EXPECT_NE(router_.metrics().find("openpcc_router_nodes{grade=\"ok\"} 0"), std::string::npos) << router_.metrics();
  auto other = net::fetch_blocking(net::ClientRequest("GET", router_.url() + "/other"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
}

// ---- node events ---------------------------------------------------------------------------------------------------

pb::NodeEvent heartbeat_for(const FakeNode& node, int64_t index) {
  pb::NodeEvent event;
  event.set_node_id(node.id);
  event.set_event_index(index);
  pb::RoutingInfo* info = event.mutable_heartbeat()->mutable_routing_info();
  info->set_url(node.url());
  info->set_healthcheck_url(node.health_url());
  info->add_tags("llm");
  info->mutable_evidence();
  return event;
}

TEST_F(RouterHttpTest, NodeEventsAreValidated) {
  FakeNode node(nodes_runtime_);
  pb::NodeEvent good = heartbeat_for(node, 5);

  EXPECT_EQ(router_.post_event(good, "text/plain").status, 415);
  net::Headers h;
  h.set("Content-Type", "application/octet-stream");
  h.set("Authorization", "Bearer " + router_.token());
  auto garbage = net::fetch_blocking(
      net::ClientRequest("POST", router_.url() + "/node-events", to_bytes("\xff\xff\xff"), std::move(h)));
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);

  pb::NodeEvent bad_id = good;
  bad_id.set_node_id("node-1");
  auto r = router_.post_event(bad_id);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_text(r).find("UUIDv7"), std::string::npos) << error_text(r);

  pb::NodeEvent indirect = good;
  indirect.mutable_heartbeat()->set_routing_info_url("http://node/info");
  r = router_.post_event(indirect);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_text(r).find("routing_info_url"), std::string::npos) << error_text(r);

  pb::NodeEvent no_tags = good;
  no_tags.mutable_heartbeat()->mutable_routing_info()->clear_tags();
  EXPECT_EQ(router_.post_event(no_tags).status, 400);
  pb::NodeEvent no_evidence = good;
  no_evidence.mutable_heartbeat()->mutable_routing_info()->clear_evidence();
  EXPECT_EQ(router_.post_event(no_evidence).status, 400);
  pb::NodeEvent relative = good;
  relative.mutable_heartbeat()->mutable_routing_info()->set_url("/compute");
  EXPECT_EQ(router_.post_event(relative).status, 400);
  EXPECT_EQ(router_.service().registry().size(), 0u);

  EXPECT_EQ(router_.post_event(good).status, 200);
  EXPECT_EQ(router_.service().registry().size(), 1u);
  EXPECT_EQ(router_.post_event(good).status, 409);  // same index again
  EXPECT_EQ(router_.post_event(heartbeat_for(node, 4)).status, 409);
  EXPECT_EQ(router_.post_event(heartbeat_for(node, 6)).status, 200);

  // The new node is health-checked at once and becomes routable (min_checks 1).
  EXPECT_TRUE(eventually([&] { return router_.service().registry().routable_url(node.id).has_value(); }));
  EXPECT_GE(node.health_checks(), 1u);

  pb::NodeEvent bye;
  bye.set_node_id(node.id);
  bye.set_event_index(7);
  bye.mutable_shutdown();
  EXPECT_EQ(router_.post_event(bye).status, 200);
  EXPECT_EQ(router_.service().registry().size(), 0u);
  EXPECT_FALSE(router_.service().registry().routable_url(node.id));
}

TEST_F(RouterHttpTest, AnUnhealthyNodeIsNotRouted) {
  FakeNode node(nodes_runtime_);
  node.set_healthy(false);
  EXPECT_EQ(router_.post_event(heartbeat_for(node, 1)).status, 200);
  EXPECT_TRUE(eventually([&] { return node.health_checks() >= 1 && router_.service().registry().size() == 0; }));
  EXPECT_FALSE(router_.service().registry().routable_url(node.id));
}

// ---- compute manifests ---------------------------------------------------------------------------------------------

net::ClientResponse ask_manifests(RouterFixture& router, const std::optional<currency::Credit>& token,
                                  std::vector<std::string> tags, int limit) {
  pb::ComputeManifestRequest request;
  for (const auto& t : tags) request.add_tags(t);
  request.set_limit(limit);
  net::Headers h;
  h.set("Content-Type", "application/octet-stream");
  if (token) h.set(currency::kCreditHeader, token->to_header());
  auto r = net::fetch_blocking(net::ClientRequest("POST", router.url() + "/compute-manifests",
                                                  to_bytes(request.SerializeAsString()), std::move(h)));
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? *r : net::ClientResponse{};
}

TEST_F(RouterHttpTest, ComputeManifestsCostOneAttestationToken) {
  FakeNode llama(nodes_runtime_);
  FakeNode qwen(nodes_runtime_);
  router_.register_node(llama, {"llm", "model=llama"});
  router_.register_node(qwen, {"llm", "model=qwen"});

  const currency::Credit token = router_.attestation_token();
  auto r = ask_manifests(router_, token, {"model=llama"}, 10);
  ASSERT_EQ(r.status, 200) << error_text(r);
  pb::ComputeManifestList list;
  ASSERT_TRUE(list.ParseFromArray(r.body.data(), static_cast<int>(r.body.size())));
  ASSERT_EQ(list.items_size(), 1);
  EXPECT_EQ(list.items(0).id(), llama.id);
  EXPECT_EQ(list.items(0).evidence().items(0).data(), "evidence of " + llama.id);
  EXPECT_EQ(list.items(0).tags_size(), 2);

  // Spent: a second use is refused.
  r = ask_manifests(router_, token, {"model=llama"}, 10);
  EXPECT_EQ(r.status, 410);

  // Limit 0 means the maximum; tags {} match every node.
  r = ask_manifests(router_, router_.attestation_token(), {}, 0);
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(list.ParseFromArray(r.body.data(), static_cast<int>(r.body.size())));
  EXPECT_EQ(list.items_size(), 2);
  r = ask_manifests(router_, router_.attestation_token(), {}, 1);
  ASSERT_TRUE(list.ParseFromArray(r.body.data(), static_cast<int>(r.body.size())));
  EXPECT_EQ(list.items_size(), 1);
}

TEST_F(RouterHttpTest, ABadManifestRequestDoesNotSpendTheToken) {
  const currency::Credit token = router_.attestation_token();
  auto r = ask_manifests(router_, token, {"llm"}, 501);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_text(r).find("limit"), std::string::npos);
  r = ask_manifests(router_, token, {"llm", std::string(600, 't')}, 1);
  EXPECT_EQ(r.status, 400);
  r = ask_manifests(router_, token, {"llm"}, -1);
  EXPECT_EQ(r.status, 400);
  // Rolled back each time: the token still buys one answer.
  r = ask_manifests(router_, token, {"llm"}, 1);
  EXPECT_EQ(r.status, 200) << error_text(r);
  EXPECT_EQ(ask_manifests(router_, token, {"llm"}, 1).status, 410);

  EXPECT_EQ(ask_manifests(router_, std::nullopt, {"llm"}, 1).status, 400);
  // Money is not an attestation token, and the money credit is not touched.
  const currency::Credit money = router_.mint(1024);
  EXPECT_EQ(ask_manifests(router_, money, {"llm"}, 1).status, 400);
  FakeNode node(nodes_runtime_);
  router_.register_node(node);
  EXPECT_EQ(router_.compute({&node}, money).status, 200);
}

// ---- compute forwarding --------------------------------------------------------------------------------------------

TEST_F(RouterHttpTest, ForwardsToTheNodeAndReturnsARefund) {
  FakeNode node(nodes_runtime_);
  NodeBehaviour b;
  b.refund_amount_trailer = currency::value_to_header(currency::Value::from_amount(512).value());
  node.set(b);
  router_.register_node(node);

  const currency::Credit credit = router_.mint(1024);
  auto r = router_.compute({&node}, credit, to_bytes("the sealed body"));
  ASSERT_EQ(r.status, 200) << error_text(r);
  EXPECT_EQ(body_text(r), "chunk-1|chunk-2|chunk-3");
  EXPECT_EQ(r.headers.get("Content-Type"), "application/confsec-chunked-res");
  EXPECT_EQ(r.headers.get("X-Node-ID"), node.id);
  EXPECT_EQ(r.headers.get("Trailer"), "X-Refund");
  EXPECT_FALSE(r.headers.contains("X-Node-Secret"));  // node headers other than Content-Type stay behind
  EXPECT_FALSE(r.trailers.contains("X-Refund-Amount"));

  // The refund is a valid credit of the node's amount.
  auto refund_text = r.trailers.get("X-Refund");
  ASSERT_TRUE(refund_text);
  auto refund = currency::Credit::from_header(*refund_text);
  ASSERT_TRUE(refund);
  EXPECT_EQ(refund->value.amount(), 512);
  EXPECT_TRUE(router_.verifier().verify(*refund, currency::unix_now()));
  EXPECT_NE(refund->nonce, credit.nonce);

  // What the node saw: exactly the forwarded headers and the body.
  auto received = node.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "POST");
  EXPECT_EQ(received[0].target, "/");
  EXPECT_EQ(to_string(received[0].body), "the sealed body");
  const net::Headers& seen = received[0].headers;
  EXPECT_EQ(seen.get("Content-Type"), "application/confsec-chunked-req");
  EXPECT_EQ(seen.get("X-Encapsulated-Key"), to_base64(node.key));
  EXPECT_EQ(seen.get("X-Credit-Amount"), "1024");
  for (const char* name : {"X-Credit", "X-Routing-Info", "Cookie", "X-Custom", "User-Agent", "X-Confsec-Ping"}) {
    EXPECT_FALSE(seen.contains(name)) << name;
  }
  for (const auto& [name, value] : seen) {
    const bool allowed = net::iequals(name, "Content-Type") || net::iequals(name, "X-Encapsulated-Key") ||
                         net::iequals(name, "X-Credit-Amount") || net::iequals(name, "Content-Length") ||
                         net::iequals(name, "Host") || net::iequals(name, "Connection");
    EXPECT_TRUE(allowed) << "forwarded: " << name;
  }

  // The credit is spent; the refund is money.
  EXPECT_EQ(router_.compute({&node}, credit).status, 410);
  EXPECT_EQ(router_.compute({&node}, *refund).status, 200);
}

TEST_F(RouterHttpTest, WithoutARefundTrailerTheCreditIsSimplySpent) {
  FakeNode node(nodes_runtime_);
  router_.register_node(node);
  const currency::Credit credit = router_.mint(1024);
  auto r = router_.compute({&node}, credit, to_bytes("x"), "application/confsec-req");
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(r.trailers.contains("X-Refund"));
  EXPECT_EQ(node.received().at(0).headers.get("Content-Type"), "application/confsec-req");
  EXPECT_EQ(router_.compute({&node}, credit).status, 410);
}

TEST_F(RouterHttpTest, AnInvalidRefundAmountIsIgnored) {
  FakeNode node(nodes_runtime_);
  NodeBehaviour b;
  b.refund_amount_trailer = currency::value_to_header(currency::Value::from_amount(2048).value());  // > credit
  node.set(b);
  router_.register_node(node);
  const currency::Credit credit = router_.mint(1024);
  auto r = router_.compute({&node}, credit);
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(r.trailers.contains("X-Refund"));
  b.refund_amount_trailer = "garbage";
  node.set(b);
  r = router_.compute({&node}, router_.mint(1024));
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(r.trailers.contains("X-Refund"));
  EXPECT_EQ(router_.compute({&node}, credit).status, 410);
}

TEST_F(RouterHttpTest, ADownCandidateIsSkipped) {
  FakeNode down(nodes_runtime_);
  FakeNode up(nodes_runtime_);
  router_.register_node(down);
  router_.register_node(up);
  down.stop();  // still routable (next check in a minute), but refuses connections

  for (int i = 0; i < 4; ++i) {  // random order: the down node comes first about half the time
    auto r = router_.compute({&down, &up}, router_.mint(1024), to_bytes("body " + std::to_string(i)));
    ASSERT_EQ(r.status, 200) << error_text(r);
    EXPECT_EQ(r.headers.get("X-Node-ID"), up.id);
  }
  auto received = up.received();
  ASSERT_EQ(received.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(to_string(received[i].body), "body " + std::to_string(i));
  EXPECT_TRUE(down.received().empty());
}

TEST_F(RouterHttpTest, AFailingCandidateIsRetriedOnTheNextWithTheSameBody) {
  FakeNode failing(nodes_runtime_);
  FakeNode good(nodes_runtime_);
  NodeBehaviour fail;
  fail.kind = NodeBehaviour::Kind::kStatus;
  fail.status = 503;
  failing.set(fail);
  router_.register_node(failing);
  router_.register_node(good);
  for (int i = 0; i < 6; ++i) {
    auto r = router_.compute({&failing, &good}, router_.mint(1024), to_bytes("replayed body"));
    ASSERT_EQ(r.status, 200) << error_text(r);
    EXPECT_EQ(r.headers.get("X-Node-ID"), good.id);
  }
  EXPECT_EQ(good.received().size(), 6u);
  for (const auto& req : failing.received()) {
    EXPECT_EQ(to_string(req.body), "replayed body");
    EXPECT_EQ(req.headers.get("X-Encapsulated-Key"), to_base64(failing.key));
  }
  for (const auto& req : good.received()) {
    EXPECT_EQ(to_string(req.body), "replayed body");
    EXPECT_EQ(req.headers.get("X-Encapsulated-Key"), to_base64(good.key));  // its own key, not the first's
  }
  // With 6 tries the failing node came first at least once with probability 63/64.
  const std::string metrics = router_.metrics();
  if (!failing.received().empty()) {
    EXPECT_NE(metrics.find("openpcc_router_candidate_retries_total " + std::to_string(failing.received().size())),
              std::string::npos)
        << metrics;
  }
}

TEST_F(RouterHttpTest, NoAvailableCandidateAnswers503AndKeepsTheCredit) {
  FakeNode down(nodes_runtime_);
  FakeNode unknown(nodes_runtime_);  // never registered
  FakeNode failing(nodes_runtime_);
  NodeBehaviour fail;
  fail.kind = NodeBehaviour::Kind::kStatus;
  fail.status = 500;
  failing.set(fail);
  router_.register_node(down);
  router_.register_node(failing);
  down.stop();

  const currency::Credit credit = router_.mint(1024);
  auto r = router_.compute({&down, &unknown, &failing}, credit);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(error_text(r), "all candidate nodes unavailable");
  EXPECT_EQ(failing.received().size(), 1u);
  EXPECT_TRUE(unknown.received().empty());
  r = router_.compute({&unknown}, credit);
  EXPECT_EQ(r.status, 503);

  // Not spent: it pays for a request on a working node.
  FakeNode good(nodes_runtime_);
  router_.register_node(good);
  EXPECT_EQ(router_.compute({&good}, credit).status, 200);
  EXPECT_EQ(router_.compute({&good}, credit).status, 410);
}

TEST_F(RouterHttpTest, ANodeClientErrorIsPassedThroughAndTheCreditKept) {
  FakeNode node(nodes_runtime_);
  NodeBehaviour b;
  b.kind = NodeBehaviour::Kind::kStatus;
  b.status = 400;
  b.content_type = "application/octet-stream";
  node.set(b);
  FakeNode other(nodes_runtime_);
  router_.register_node(node);
  router_.register_node(other);

  const currency::Credit credit = router_.mint(1024);
  auto r = router_.compute({&node}, credit);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body_text(r), "node says no");
  EXPECT_EQ(r.headers.get("Content-Type"), "application/octet-stream");
  EXPECT_FALSE(r.headers.contains("X-Node-ID"));
  EXPECT_EQ(router_.compute({&other}, credit).status, 200);
}

TEST_F(RouterHttpTest, ANodeDyingMidStreamRefundsEverything) {
  FakeNode node(nodes_runtime_);
  NodeBehaviour b;
  b.kind = NodeBehaviour::Kind::kDieMidStream;
  node.set(b);
  router_.register_node(node);
  const currency::Credit credit = router_.mint(1024);
  auto r = router_.compute({&node}, credit);
  ASSERT_EQ(r.status, 200);  // the head had been sent; the response still ends cleanly
  EXPECT_EQ(body_text(r), "chunk-1|");
  auto refund_text = r.trailers.get("X-Refund");
  ASSERT_TRUE(refund_text);
  auto refund = currency::Credit::from_header(*refund_text);
  ASSERT_TRUE(refund);
  EXPECT_EQ(refund->value.amount(), 1024);
  EXPECT_TRUE(router_.verifier().verify(*refund, currency::unix_now()));
  EXPECT_EQ(router_.compute({&node}, credit).status, 410);
  EXPECT_NE(router_.metrics().find("outcome=\"node_failed_mid_stream\"} 1"), std::string::npos);
}

TEST_F(RouterHttpTest, ChunksAreForwardedAsTheyArrive) {
  FakeNode node(nodes_runtime_);
  NodeBehaviour b;
  b.kind = NodeBehaviour::Kind::kGatedStream;
  b.refund_amount_trailer = currency::value_to_header(currency::Value::from_amount(16).value());
  node.set(b);
  router_.register_node(node);

  const currency::Credit credit = router_.mint(1024);
  std::vector<Candidate> list = {Candidate{node.id, node.key}};
  net::Runtime client_runtime(1);
  struct Outcome {
    int status = 0;
    std::string first;
    std::string rest;
    std::optional<std::string> refund;
  };
  Outcome out = client_runtime.block_on([&]() -> net::Task<Outcome> {
    Outcome o;
    auto client = net::Client::create();
    net::Headers h;
    h.set("Content-Type", "application/confsec-chunked-req");
    h.set(kRoutingInfoHeader, routing_info_header(list));
    h.set(currency::kCreditHeader, credit.to_header());
    auto stream = co_await client->send(net::ClientRequest("POST", router_.url() + "/", to_bytes("b"), std::move(h)));
    if (!stream) co_return o;
    o.status = (*stream)->status();
    auto first = co_await (*stream)->read_chunk();  // arrives while the node is still waiting for the gate
    if (first && *first) o.first = to_string(**first);
    node.open_gate();
    while (true) {
      auto chunk = co_await (*stream)->read_chunk();
      if (!chunk || !*chunk) break;
      o.rest += to_string(**chunk);
    }
    if (auto t = (*stream)->trailers().get("X-Refund")) o.refund = std::string(*t);
    co_return o;
  });
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.first, "chunk-1|");
  EXPECT_EQ(out.rest, "chunk-2|chunk-3");
  EXPECT_TRUE(node.gate_was_open_for_second_chunk());
  ASSERT_TRUE(out.refund);
  EXPECT_EQ(currency::Credit::from_header(*out.refund)->value.amount(), 16);
}

TEST_F(RouterHttpTest, AClientLeavingMidStreamStillSettlesTheCredit) {
  FakeNode node(nodes_runtime_);
  NodeBehaviour b;
  b.kind = NodeBehaviour::Kind::kEndless;
  node.set(b);
  router_.register_node(node);

  const currency::Credit credit = router_.mint(1024);
  std::vector<Candidate> list = {Candidate{node.id, node.key}};
  net::Runtime client_runtime(1);
  const std::string first = client_runtime.block_on([&]() -> net::Task<std::string> {
    auto client = net::Client::create();
    net::Headers h;
    h.set("Content-Type", "application/confsec-chunked-req");
    h.set(kRoutingInfoHeader, routing_info_header(list));
    h.set(currency::kCreditHeader, credit.to_header());
    auto stream = co_await client->send(net::ClientRequest("POST", router_.url() + "/", to_bytes("b"), std::move(h)));
    if (!stream) co_return std::string();
    auto chunk = co_await (*stream)->read_chunk();
    co_return chunk && *chunk ? to_string(**chunk) : std::string();
  });  // the stream (and its connection) is gone here
  EXPECT_EQ(first, "chunk-1|");
  node.open_gate();

  // The router notices, drops the node connection and consumes the credit: it is neither lost in a lock (409) nor
  // reusable.
  EXPECT_TRUE(eventually([&] { return node.writes_failed(); }, std::chrono::milliseconds(8000)));
  int status = 0;
  EXPECT_TRUE(eventually([&] {
    status = router_.compute({&node}, credit).status;
    return status != 409;
  }));
  EXPECT_EQ(status, 410);
  EXPECT_NE(router_.metrics().find("outcome=\"client_gone\"} 1"), std::string::npos) << router_.metrics();
}

TEST_F(RouterHttpTest, BadComputeRequestsAreRefusedBeforeAnyNodeSeesThem) {
  FakeNode node(nodes_runtime_);
  router_.register_node(node);
  const currency::Credit credit = router_.mint(1024);

  EXPECT_EQ(router_.compute({&node}, credit, to_bytes("x"), "application/octet-stream").status, 415);
  EXPECT_EQ(router_.compute({&node}, router_.attestation_token()).status, 400);  // not money

  auto raw = [&](net::Headers h) {
    h.set("Content-Type", "application/confsec-req");
    auto r = net::fetch_blocking(net::ClientRequest("POST", router_.url() + "/", to_bytes("x"), std::move(h)));
    EXPECT_TRUE(r);
    return r ? r->status : 0;
  };
  net::Headers no_routing;
  no_routing.set("X-Credit", credit.to_header());
  EXPECT_EQ(raw(no_routing), 400);
  net::Headers no_credit;
  std::vector<Candidate> list = {Candidate{node.id, node.key}};
  no_credit.set(kRoutingInfoHeader, routing_info_header(list));
  EXPECT_EQ(raw(no_credit), 400);
  net::Headers bad_credit = no_credit;
  bad_credit.set("X-Credit", "AAAA");
  EXPECT_EQ(raw(bad_credit), 400);
  net::Headers bad_routing;
  bad_routing.set(kRoutingInfoHeader, "!!!");
  bad_routing.set("X-Credit", credit.to_header());
  EXPECT_EQ(raw(bad_routing), 400);
  EXPECT_TRUE(node.received().empty());

  // Too large a body: 413, and the credit is released.
  EXPECT_EQ(router_.compute({&node}, credit, Bytes(70'000, 'x')).status, 413);
  // Also when the client is still sending far more than the sockets buffer (under the server's own limit).
  EXPECT_EQ(router_.compute({&node}, credit, Bytes(3 * 1024 * 1024, 'x')).status, 413);
  EXPECT_TRUE(node.received().empty());
  EXPECT_EQ(router_.compute({&node}, credit).status, 200);
}

TEST_F(RouterHttpTest, OnlyTheRoutercomPingIsForwarded) {
  FakeNode node(nodes_runtime_);
  router_.register_node(node);
  net::Headers ping;
  ping.set("X-Confsec-Ping", "routercom");
  ASSERT_EQ(router_.compute({&node}, router_.mint(1024), to_bytes("x"), "application/confsec-req", ping).status, 200);
  net::Headers other;
  other.set("X-Confsec-Ping", "gateway");
  ASSERT_EQ(router_.compute({&node}, router_.mint(1024), to_bytes("x"), "application/confsec-req", other).status, 200);
  auto received = node.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].headers.get("X-Confsec-Ping"), "routercom");
  EXPECT_FALSE(received[1].headers.contains("X-Confsec-Ping"));
}

// ---- shutdown ------------------------------------------------------------------------------------------------------

// Requests stuck on stalled nodes (one before its response head, one mid-stream) do not hold the router's shutdown
// for node_requests.timeout_seconds (300 s here): their node streams are cut when the grace period ends.
TEST(RouterShutdown, StalledNodeStreamsAreCutWhenTheGraceEnds) {
  net::Runtime nodes_runtime(2);
  nlohmann::json config = testkit::router_config_json();
  config["node_requests"]["timeout_seconds"] = 300;
  RouterFixture router(config);
  FakeNode before_head(nodes_runtime);
  FakeNode mid_stream(nodes_runtime);
  NodeBehaviour stalled;
  stalled.kind = NodeBehaviour::Kind::kStalledBeforeHead;
  before_head.set(stalled);
  stalled.kind = NodeBehaviour::Kind::kStalledMidStream;
  mid_stream.set(stalled);
  router.register_node(before_head);
  router.register_node(mid_stream);

  auto request = [&router](const FakeNode& node) {
    std::vector<Candidate> list = {Candidate{node.id, node.key}};
    net::Headers h;
    h.set("Content-Type", "application/confsec-chunked-req");
    h.set(kRoutingInfoHeader, routing_info_header(list));
    h.set(currency::kCreditHeader, router.mint(1024).to_header());
    return std::async(std::launch::async, [url = router.url(), h]() mutable {
      return net::fetch_blocking(net::ClientRequest("POST", url + "/", to_bytes("sealed"), std::move(h)));
    });
  };
  auto stuck_before_head = request(before_head);
  auto stuck_mid_stream = request(mid_stream);
  ASSERT_TRUE(eventually([&] { return before_head.received().size() == 1 && mid_stream.received().size() == 1; }));

  const auto grace = std::chrono::milliseconds(500);
  auto stopped = std::async(std::launch::async, [&router, grace] { router.service().shutdown(grace); });
  const bool in_time = stopped.wait_for(10 * grace) == std::future_status::ready;  // a hang guard, not a benchmark
  if (!in_time) {  // let a failing run end
    before_head.open_gate();
    mid_stream.open_gate();
  }
  EXPECT_TRUE(in_time) << "the shutdown waited for the stalled nodes";
  stopped.get();

  // Both requests ended without the rest of their node's answer: cut (an error or a truncated stream), or answered by
  // the router itself (a 503 for the node that never sent its head, the first chunk and a refund for the other).
  auto first = stuck_before_head.get();
  if (first) {
    EXPECT_NE(first->status, 200) << body_text(*first);
  }
  auto second = stuck_mid_stream.get();
  if (second) {
    EXPECT_EQ(body_text(*second).find("chunk-2"), std::string::npos) << body_text(*second);
  }
}

}  // namespace
}  // namespace openpcc::router
