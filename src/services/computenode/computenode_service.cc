#include "services/computenode/computenode_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include "crypto/ed25519.h"
#include "net/blocking_pool.h"
#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "services/common/config.h"
#include "services/common/key_files.h"
#include "services/common/metrics.h"
#include "services/computenode/compute_handler.h"
#include "services/computenode/node_boot.h"
#include "services/computenode/request_validator.h"
#include "services/engine/engine.h"
#include "services/router/node_agent.h"
#include "services/router/node_token.h"

namespace openpcc::computenode {
namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<crypto::Ed25519PublicKey> load_badge_key(const std::filesystem::path& path) {
  auto pem = services::read_public_file(path, 64 * 1024);
  if (!pem) return std::unexpected(wrap_error("badge_public_key " + path.string(), pem.error()));
  auto key = crypto::Ed25519PublicKey::from_pem(*pem);
  if (!key) return std::unexpected(wrap_error("badge_public_key " + path.string(), key.error()));
  return key;
}

// Decapsulations run here (one TPM round trip each; the device serializes them anyway), and evidence refreshes.
constexpr unsigned kTpmThreads = 2;

}  // namespace

struct Service::State {
  ServiceConfig config;
  std::unique_ptr<BootedNode> booted;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<services::Metrics> metrics;
  std::unique_ptr<net::Runtime> runtime;
  std::unique_ptr<net::BlockingPool> pool;
  std::unique_ptr<ComputeNodeContext> context;
  std::unique_ptr<net::Server> server;
  std::unique_ptr<router::NodeAgent> agent;
  std::string public_url;
  std::string node_id;
  pb::RoutingInfo routing_info;
  std::atomic<bool> stopping{false};
  bool shut_down = false;

  // Replaces the evidence every config.evidence_refresh with a fresh quote (runs on the runtime until it stops).
  net::Task<void> refresh_loop() {
    for (;;) {
      co_await net::sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(config.evidence_refresh));
      if (stopping.load()) co_return;
      BootedNode* node = booted.get();
      const int64_t now = unix_now();
      auto evidence = co_await pool->run([node, now] { return node->refresh_evidence(now); });
      if (!evidence) {
        spdlog::error("computenode: evidence refresh failed: {}", evidence.error().to_string());
        continue;
      }
      if (agent) agent->update_evidence(std::move(*evidence));
      spdlog::info("computenode: evidence refreshed");
    }
  }
};

Service::Service(std::unique_ptr<State> state) : state_(std::move(state)) {}

Service::~Service() { shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<Service>> Service::start(const ServiceConfig& config,
                                                std::chrono::milliseconds registration_wait) {
  auto state = std::make_unique<State>();
  state->config = config;

  auto badge_key = load_badge_key(config.badge_public_key);
  if (!badge_key) return std::unexpected(badge_key.error());

  // The router's registration token, read before the TPM work so that a bad file fails at once.
  SecretBytes token;
  if (!config.router_token_file.empty()) {
    auto loaded = router::load_node_token(config.router_token_file);
    if (!loaded) return std::unexpected(wrap_error("router_token_file", loaded.error()));
    token = std::move(*loaded);
  } else if (!config.router_url.empty()) {
    spdlog::warn("computenode: no router_token_file: node events carry no registration token (a router that "
                 "requires one answers 401)");
  }

  net::ClientOptions engine_options;
  engine_options.connect_timeout = std::chrono::seconds(9);
  engine_options.read_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.request_timeout);
  // Long streams: the request timeout bounds them, not a size.
  engine_options.max_response_body_bytes = std::nullopt;
  auto engine = engine::make_engine(config.engine, engine_options);
  if (!engine) return std::unexpected(wrap_error("engine", engine.error()));
  state->engine = std::move(*engine);

  auto booted = boot_node(config, unix_now());
  if (!booted) return std::unexpected(booted.error());
  state->booted = std::move(*booted);

  state->metrics = std::make_unique<services::Metrics>("openpcc_computenode");
  state->runtime = std::make_unique<net::Runtime>(config.threads);
  state->pool = std::make_unique<net::BlockingPool>(kTpmThreads);
  state->context = std::make_unique<ComputeNodeContext>(state->booted->node.rek(), *state->engine,
                                                        RequestValidator(*badge_key, config.models), *state->pool,
                                                        *state->metrics);
  state->context->request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.request_timeout);
  state->context->response_padding_block = config.response_padding_block;
  // Chosen before the server starts: /_health names it (X-Node-ID) from the first check on.
  state->node_id = router::new_uuid_v7();
  state->context->node_id = state->node_id;

  net::ServerConfig server_config;
  server_config.host = config.host;
  server_config.port = config.port;
  server_config.max_body_bytes = config.max_request_bytes;
  server_config.max_connections = config.max_connections;
  server_config.write_timeout = std::chrono::seconds(60);
  server_config.name = "computenode";
  auto server = net::Server::start(*state->runtime, server_config, make_compute_handler(*state->context));
  if (!server) return std::unexpected(wrap_error("listen on " + config.host, server.error()));
  state->server = std::move(*server);

  const std::string own_url = "http://" + services::url_host(config.host) + ":" + std::to_string(state->server->port());
  state->public_url = config.public_url.empty() ? own_url + "/" : config.public_url;
  state->routing_info.set_url(state->public_url);
  state->routing_info.set_healthcheck_url(state->public_url + "_health");
  for (const auto& tag : config.tags) state->routing_info.add_tags(tag);
  *state->routing_info.mutable_evidence() = state->booted->node.evidence();

  if (!config.router_url.empty()) {
    net::ClientOptions agent_options;
    const auto half = std::max(std::chrono::milliseconds(500), config.heartbeat_interval / 2);
    agent_options.connect_timeout = std::min(half, std::chrono::milliseconds(10'000));
    agent_options.read_timeout = std::min(half, std::chrono::milliseconds(30'000));
    agent_options.write_timeout = agent_options.read_timeout;
    auto client = net::Client::create(agent_options);
    if (!client) return std::unexpected(wrap_error("router client", client.error()));
    router::NodeAgentConfig agent_config;
    agent_config.router_url = config.router_url;
    agent_config.node_id = state->node_id;
    agent_config.routing_info = state->routing_info;
    agent_config.interval = config.heartbeat_interval;
    agent_config.token = std::move(token);
    state->agent = router::NodeAgent::start(*state->runtime, std::move(agent_config), *client);
    const auto deadline = std::chrono::steady_clock::now() + registration_wait;
    while (state->agent->heartbeats_sent() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (state->agent->heartbeats_sent() == 0) {
      spdlog::warn("computenode: not registered with the router yet (it keeps trying)");
    }
  } else {
    spdlog::warn("computenode: no router_url: this node does not register and receives no traffic from a router");
  }

  if (config.evidence_refresh.count() > 0) {
    State* raw = state.get();
    state->runtime->spawn([raw]() -> net::Task<void> { co_await raw->refresh_loop(); });
  }
  return std::unique_ptr<Service>(new Service(std::move(state)));
}

uint16_t Service::port() const { return state_->server->port(); }

std::string Service::url() const {
  return "http://" + services::url_host(state_->config.host) + ":" + std::to_string(port());
}

const std::string& Service::public_url() const { return state_->public_url; }
const std::string& Service::node_id() const { return state_->node_id; }
const pb::RoutingInfo& Service::routing_info() const { return state_->routing_info; }
const tpm::AttestedNode& Service::node() const { return state_->booted->node; }
const tpm::TpmDevice& Service::tpm() const { return state_->booted->device; }
uint64_t Service::heartbeats_sent() const { return state_->agent ? state_->agent->heartbeats_sent() : 0; }

void Service::shutdown(std::chrono::milliseconds grace) {
  if (state_->shut_down) return;
  state_->shut_down = true;
  state_->stopping.store(true);
  if (state_->agent) state_->agent->stop();  // the router stops routing here before we stop answering
  state_->server->shutdown(grace);
  state_->runtime->stop();
  state_->agent.reset();
  state_->pool.reset();
}

}  // namespace openpcc::computenode
