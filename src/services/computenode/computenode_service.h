// The compute node as a running service: boot on the TPM (node_boot.h), the engine, the HTTP server
// (compute_handler.h), registration with the router (router/node_agent.h) and evidence refreshes. `openpcc
// computenode --config FILE` is a thin wrapper around this.
//
//   auto config = computenode::load_service_config(path);
//   auto node = computenode::Service::start(*config);   // booted, listening, first heartbeat tried
//   ... (*node)->url() ...
//   (*node)->shutdown(std::chrono::seconds(10));         // deregisters (Shutdown event), then stops serving
//
// Routing info: url = public_url, healthcheck_url = public_url + "_health", tags = config.tags (model=<m> per
// model included), evidence = the boot's (refreshed every evidence_refresh). Node events carry the router's token
// (config.router_token_file, router/node_token.h) and /_health answers with X-Node-ID: node_id().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "attest/tpm/compute_boot.h"
#include "common/error.h"
#include "openpcc/router_agent.pb.h"
#include "services/computenode/computenode_config.h"

namespace openpcc::computenode {

class Service {
 public:
  // Loads the router token (a bad router_token_file fails here, before any TPM work), boots on config.tpm (at the
  // current time), loads the badge key, starts the engine client and the server,
  // registers with the router (waiting up to `registration_wait` for the first heartbeat to be accepted; a router
  // that is not up yet only delays routing, the agent keeps trying) and starts the evidence refresh.
  static Result<std::unique_ptr<Service>> start(const ServiceConfig& config,
                                                std::chrono::milliseconds registration_wait = std::chrono::seconds(5));

  ~Service();  // shutdown(0)

  uint16_t port() const;
  // "http://host:port" (IPv6 hosts in brackets): where this process listens.
  std::string url() const;
  // The URL registered with the router (config.public_url or url() + "/").
  const std::string& public_url() const;
  // This start's UUIDv7.
  const std::string& node_id() const;
  // What heartbeats carry.
  const pb::RoutingInfo& routing_info() const;
  const tpm::AttestedNode& node() const;
  // The TPM the node booted on (its REK works only while the PCRs keep their boot values).
  const tpm::TpmDevice& tpm() const;
  // Heartbeats the router accepted so far (0 without a router_url).
  uint64_t heartbeats_sent() const;

  // Deregisters (best effort, ~2 s), stops accepting, lets requests in flight finish for up to `grace`, then stops.
  // Idempotent.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct State;
  explicit Service(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::computenode
