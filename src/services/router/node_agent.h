// The node side of registration (reference: router/agent): a compute node's agent tells the router where the node
// is, what it serves (tags) and its attestation evidence, by POSTing NodeEvent protos to {router_url}/node-events.
//
//   router::NodeAgentConfig agent_config;
//   agent_config.router_url = "http://127.0.0.1:8084";
//   agent_config.node_id = router::new_uuid_v7();                 // once per node start
//   agent_config.routing_info.set_url("http://10.0.0.5:8090/");   // where compute requests go
//   agent_config.routing_info.set_healthcheck_url("http://10.0.0.5:8090/_health");
//   agent_config.routing_info.add_tags("llm");  agent_config.routing_info.add_tags("model=llama3.2:1b");
//   *agent_config.routing_info.mutable_evidence() = node.evidence();
//   auto agent = router::NodeAgent::start(runtime, std::move(agent_config), client);
//   ...
//   agent->stop();          // before the node stops serving: the router removes it at once
//
// Heartbeats run on the runtime: the first at once, then one per interval; a failed heartbeat is logged and retried
// after min(interval, 2 s) until one succeeds. event_index is max(previous + 1, unix time in ms), so it keeps growing
// across agent restarts with the same node id. A router that restarted (forgot the node) learns it again from the
// next heartbeat. The router's own checks (node_event.h) apply to routing_info; a 4xx answer is logged as an error.
// With a token (node_token.h) every event, heartbeats and the shutdown, carries `Authorization: Bearer <token>`.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/secure.h"
#include "net/client.h"
#include "net/runtime.h"
#include "openpcc/evidence.pb.h"
#include "openpcc/router_agent.pb.h"
#include "services/router/uuid_v7.h"  // new_uuid_v7(), is_uuid_v7()

namespace openpcc::router {

namespace detail {
struct NodeAgentState;  // node_agent.cc
}

struct NodeAgentConfig {
  std::string router_url;  // base URL: events go to router_url + "/node-events"
  std::string node_id;     // UUIDv7 text (new_uuid_v7())
  pb::RoutingInfo routing_info;
  std::chrono::milliseconds interval{60'000};
  // The router's node registration token (node_token.h); empty: events carry no Authorization header.
  SecretBytes token;
};

class NodeAgent {
 public:
  // Starts the heartbeat loop on `runtime`. Call stop() (or destroy the agent) before destroying the runtime; a
  // runtime that is merely stopped is fine. `client` sends the heartbeats (its timeouts apply; the reference uses
  // interval / 2). Never fails: problems show up in the log and in heartbeats_sent() staying 0.
  static std::unique_ptr<NodeAgent> start(net::Runtime& runtime, NodeAgentConfig config, net::Client client);

  ~NodeAgent();  // stop()
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  // Replaces the evidence sent with the next heartbeat (e.g. after refreshing a TEE report).
  void update_evidence(pb::SignedEvidenceList evidence);

  // Stops the loop and sends a Shutdown event (best effort, at most ~2 s). From outside the runtime's threads it
  // blocks until the event was answered or timed out (on a private connection, so it works even if the runtime is
  // already stopped); from a runtime thread it only starts sending. Idempotent.
  void stop();

  const std::string& node_id() const;
  // Heartbeats the router accepted (for tests and health output).
  uint64_t heartbeats_sent() const;

 private:
  explicit NodeAgent(std::shared_ptr<detail::NodeAgentState> state);
  std::shared_ptr<detail::NodeAgentState> state_;
};

}  // namespace openpcc::router
