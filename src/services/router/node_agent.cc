#include "services/router/node_agent.h"

#include <google/protobuf/timestamp.pb.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <utility>

#include "services/common/proto_http.h"
#include "services/router/node_token.h"
#include "services/router/router_api.h"

namespace openpcc::router {

namespace {

constexpr std::chrono::milliseconds kRetryDelay{2'000};
constexpr std::chrono::milliseconds kShutdownTimeout{2'000};
// Granularity of the loop's sleep: how quickly stop() ends it.
constexpr std::chrono::milliseconds kSleepSlice{50};

int64_t unix_millis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

net::ClientOptions shutdown_options(const net::ClientOptions& base) {
  net::ClientOptions out = base;
  out.connect_timeout = std::min(out.connect_timeout, kShutdownTimeout);
  out.read_timeout = std::min(out.read_timeout, kShutdownTimeout);
  out.write_timeout = std::min(out.write_timeout, kShutdownTimeout);
  out.max_response_body_bytes = 64 * 1024;
  return out;
}

net::ClientRequest event_request(const std::string& url, const std::string& body, const SecretBytes& token) {
  net::Headers headers;
  headers.set("Content-Type", services::kProtoMediaType);
  if (!token.empty()) headers.set("Authorization", node_token_authorization(token.span()));
  return net::ClientRequest("POST", url, to_bytes(body), std::move(headers));
}

}  // namespace

namespace detail {

struct NodeAgentState {
  NodeAgentState(net::Runtime& rt, NodeAgentConfig cfg, net::Client c)
      : runtime(rt),
        node_id(std::move(cfg.node_id)),
        events_url(cfg.router_url),
        interval(cfg.interval),
        token(std::move(cfg.token)),
        client(std::move(c)),
        routing_info(std::move(cfg.routing_info)) {
    while (!events_url.empty() && events_url.back() == '/') events_url.pop_back();
    events_url += kNodeEventsPath;
  }

  net::Runtime& runtime;
  const std::string node_id;
  std::string events_url;
  const std::chrono::milliseconds interval;
  const SecretBytes token;
  net::Client client;
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> accepted{0};

  std::mutex mutex;  // guards routing_info and last_index, and orders the last heartbeat before the shutdown
  pb::RoutingInfo routing_info;
  int64_t last_index = 0;

  // The next event (heartbeat or shutdown) as bytes; nullopt once stopped (for heartbeats).
  std::string make_event_locked(bool shutdown) {
    const auto now = std::chrono::system_clock::now();
    last_index = std::max(last_index + 1, unix_millis(now));
    pb::NodeEvent event;
    event.set_node_id(node_id);
    event.set_event_index(last_index);
    const int64_t ms = unix_millis(now);
    event.mutable_timestamp()->set_seconds(ms / 1000);
    event.mutable_timestamp()->set_nanos(static_cast<int32_t>((ms % 1000) * 1'000'000));
    if (shutdown) {
      event.mutable_shutdown();
    } else {
      *event.mutable_heartbeat()->mutable_routing_info() = routing_info;
    }
    return event.SerializeAsString();
  }

  std::optional<std::string> next_heartbeat() {
    std::lock_guard lock(mutex);
    if (stopped.load()) return std::nullopt;
    return make_event_locked(false);
  }
};

}  // namespace detail

namespace {

using detail::NodeAgentState;

net::Task<void> heartbeat_loop(std::shared_ptr<NodeAgentState> state) {
  uint64_t failures = 0;
  while (true) {
    std::optional<std::string> body = state->next_heartbeat();
    if (!body) break;
    auto response = co_await state->client.fetch(event_request(state->events_url, *body, state->token));
    const bool ok = response && response->status == 200;
    if (ok) {
      if (failures > 0) spdlog::info("node agent: router {} reachable again", state->events_url);
      failures = 0;
      state->accepted.fetch_add(1);
    } else {
      ++failures;
      const std::string why = response ? "status " + std::to_string(response->status) + ": " +
                                             services::error_message_from_body(response->body)
                                       : response.error().to_string();
      if (response && response->status >= 400 && response->status < 500 && response->status != 409) {
        spdlog::error("node agent: the router refused the heartbeat ({})", why);
      } else if (failures == 1 || failures % 30 == 0) {
        spdlog::warn("node agent: heartbeat to {} failed ({}); retrying", state->events_url, why);
      }
    }
    const auto wait = ok ? state->interval : std::min(state->interval, kRetryDelay);
    const auto until = std::chrono::steady_clock::now() + wait;
    while (!state->stopped.load() && std::chrono::steady_clock::now() < until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      co_await net::sleep_for(std::clamp(left, std::chrono::milliseconds(1), kSleepSlice));
    }
  }
}

}  // namespace

std::unique_ptr<NodeAgent> NodeAgent::start(net::Runtime& runtime, NodeAgentConfig config, net::Client client) {
  if (!is_uuid_v7(config.node_id)) {
    spdlog::error("node agent: node id '{}' is not a UUIDv7; the router will refuse it", config.node_id);
  }
  auto state = std::make_shared<NodeAgentState>(runtime, std::move(config), std::move(client));
  runtime.spawn([state]() -> net::Task<void> { co_await heartbeat_loop(state); });
  return std::unique_ptr<NodeAgent>(new NodeAgent(std::move(state)));
}

NodeAgent::NodeAgent(std::shared_ptr<detail::NodeAgentState> state) : state_(std::move(state)) {}

NodeAgent::~NodeAgent() { stop(); }

void NodeAgent::update_evidence(pb::SignedEvidenceList evidence) {
  std::lock_guard lock(state_->mutex);
  *state_->routing_info.mutable_evidence() = std::move(evidence);
}

void NodeAgent::stop() {
  std::string body;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopped.exchange(true)) return;
    body = state_->make_event_locked(true);
  }
  const net::ClientOptions options = shutdown_options(state_->client.options());
  if (state_->runtime.in_runtime_thread()) {
    auto client = net::Client::create(options);
    if (!client) return;
    state_->runtime.spawn([client = std::move(*client), state = state_, body]() mutable -> net::Task<void> {
      auto response = co_await client.fetch(event_request(state->events_url, body, state->token));
      if (!response || response->status != 200) spdlog::warn("node agent: shutdown event not delivered");
    });
    return;
  }
  auto response = net::fetch_blocking(event_request(state_->events_url, body, state_->token), options);
  if (!response || response->status != 200) {
    spdlog::warn("node agent: shutdown event not delivered ({})",
                 response ? "status " + std::to_string(response->status) : response.error().to_string());
  } else {
    spdlog::info("node agent: shutdown event delivered");
  }
}

const std::string& NodeAgent::node_id() const { return state_->node_id; }

uint64_t NodeAgent::heartbeats_sent() const { return state_->accepted.load(); }

}  // namespace openpcc::router
