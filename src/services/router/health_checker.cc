#include "services/router/health_checker.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <string>
#include <utility>

#include "services/router/router_api.h"

namespace openpcc::router {

namespace detail {

struct HealthCheckerState {
  net::Runtime& runtime;
  Registry& registry;
  HealthCheckOptions options;
  std::shared_ptr<services::Metrics> metrics;
  net::Client client;
  std::atomic<bool> stopped{false};

  HealthCheckerState(net::Runtime& rt, Registry& reg, HealthCheckOptions opts, std::shared_ptr<services::Metrics> m,
        net::Client c)
      : runtime(rt), registry(reg), options(opts), metrics(std::move(m)), client(std::move(c)) {}

  void update_gauges() {
    if (!metrics) return;
    const GradeCounts counts = registry.counts();
    metrics->gauge("nodes", "Registered compute nodes by health grade", {{"grade", "ok"}})
        .set(static_cast<int64_t>(counts.ok));
    metrics->gauge("nodes", "Registered compute nodes by health grade", {{"grade", "unknown"}})
        .set(static_cast<int64_t>(counts.unknown));
  }

  void count_check(bool ok) {
    if (!metrics) return;
    metrics->counter("health_checks_total", "Node health checks by outcome", {{"outcome", ok ? "ok" : "failed"}})
        .inc();
  }

  void count_removed(std::string_view reason, size_t n) {
    if (!metrics || n == 0) return;
    metrics->counter("nodes_removed_total", "Nodes removed by the router, by reason", {{"reason", std::string(reason)}})
        .inc(n);
  }
};

}  // namespace detail

namespace {

enum class CheckResult { kOk, kFailed, kNodeIdMismatch };

net::Task<CheckResult> check_once(net::Client client, std::string url, std::string_view node_id) {
  net::ClientRequest request("GET", std::move(url));
  auto response = co_await client.fetch(std::move(request));
  if (!response || response->status < 200 || response->status >= 300) co_return CheckResult::kFailed;
  // Whoever answers must be the node that registered: a registration that names somebody else's URL (say, a real
  // node's, with replayed evidence) never passes a check, so it never becomes routable.
  if (response->headers.get(kNodeIdHeader) != std::optional<std::string_view>(node_id)) {
    co_return CheckResult::kNodeIdMismatch;
  }
  co_return CheckResult::kOk;
}

net::Task<void> run_check(std::shared_ptr<detail::HealthCheckerState> state, HealthTarget target) {
  CheckResult result = CheckResult::kFailed;
  const int tries = std::max(state->options.retries, 1);
  for (int attempt = 0; attempt < tries && result != CheckResult::kOk; ++attempt) {
    if (attempt > 0) co_await net::sleep_for(std::chrono::milliseconds(100));
    result = co_await check_once(state->client, target.url, target.node_id);
  }
  const bool healthy = result == CheckResult::kOk;
  if (result == CheckResult::kNodeIdMismatch) {
    spdlog::warn("router: node {} health check failed: node id mismatch (X-Node-ID missing or another node's)",
                 target.node_id);
    if (state->metrics) {
      state->metrics
          ->counter("health_check_node_id_mismatches_total",
                    "Health checks answered without the registered node's X-Node-ID")
          .inc();
    }
  }
  state->count_check(healthy);
  auto grade = state->registry.record_check(target, healthy);
  if (grade == Grade::kUnavailable) {
    spdlog::info("router: node {} failed its health checks and was removed", target.node_id);
    state->count_removed("unhealthy", 1);
  } else if (grade) {
    spdlog::debug("router: node {} health check {} (grade {})", target.node_id, healthy ? "ok" : "failed",
                  grade_name(*grade));
  }
  state->update_gauges();
}

net::Task<void> check_loop(std::shared_ptr<detail::HealthCheckerState> state) {
  while (!state->stopped.load()) {
    const size_t expired = state->registry.expire();
    if (expired > 0) {
      spdlog::info("router: removed {} nodes that sent no heartbeat in time", expired);
      state->count_removed("expired", expired);
    }
    for (HealthTarget& target : state->registry.take_due_checks()) {
      state->runtime.spawn([state, target = std::move(target)]() -> net::Task<void> {
        co_await run_check(state, target);
      });
    }
    state->update_gauges();
    co_await net::sleep_for(state->options.tick);
  }
}

}  // namespace

std::unique_ptr<HealthChecker> HealthChecker::start(net::Runtime& runtime, Registry& registry,
                                                    HealthCheckOptions options,
                                                    std::shared_ptr<services::Metrics> metrics) {
  net::ClientOptions client_options;
  client_options.connect_timeout = options.timeout;
  client_options.read_timeout = options.timeout;
  client_options.write_timeout = options.timeout;
  client_options.max_response_body_bytes = 64 * 1024;
  auto client = net::Client::create(client_options);
  if (!client) {
    // Creating a client without a CA file cannot fail; keep the router running without checks if it ever does.
    spdlog::error("router: health checks disabled: {}", client.error().to_string());
    return nullptr;
  }
  auto state = std::make_shared<detail::HealthCheckerState>(runtime, registry, options, std::move(metrics), std::move(*client));
  runtime.spawn([state]() -> net::Task<void> { co_await check_loop(state); });
  return std::unique_ptr<HealthChecker>(new HealthChecker(std::move(state)));
}

HealthChecker::HealthChecker(std::shared_ptr<detail::HealthCheckerState> state) : state_(std::move(state)) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::stop() { state_->stopped.store(true); }

}  // namespace openpcc::router
