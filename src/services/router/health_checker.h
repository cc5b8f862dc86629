// The router's background health checks: a coroutine on the runtime that, every `tick`, takes the checks that are
// due from the Registry (a new node's at once, then one per check interval), runs each concurrently as
// GET healthcheck_url (healthy = a 2xx whose X-Node-ID header is the registered node's id; up to `retries` tries,
// each bounded by `timeout`), records the outcomes (which grades the node, see registry.h) and removes nodes that
// sent no event for node_max_age. A 2xx without the node's X-Node-ID ("node id mismatch": the URL is somebody
// else's, or an old node still answers there) is a failed check, logged and counted in
// openpcc_router_health_check_node_id_mismatches_total; the X-Node-ID check goes beyond the reference.
#pragma once

#include <chrono>
#include <memory>

#include "net/client.h"
#include "net/runtime.h"
#include "services/common/metrics.h"
#include "services/router/registry.h"

namespace openpcc::router {

namespace detail {
struct HealthCheckerState;  // health_checker.cc
}

struct HealthCheckOptions {
  std::chrono::milliseconds timeout{5'000};  // per try: connect + response
  int retries = 3;                           // tries per check
  std::chrono::milliseconds tick{100};       // how often due checks are looked for
};

class HealthChecker {
 public:
  // The registry must outlive the checker and every check it started (i.e. the runtime's threads). `metrics`, if
  // given, gets openpcc_router_nodes{grade} and health check counters.
  static std::unique_ptr<HealthChecker> start(net::Runtime& runtime, Registry& registry, HealthCheckOptions options,
                                              std::shared_ptr<services::Metrics> metrics = nullptr);
  ~HealthChecker();  // stop()

  // Stops taking new checks (checks in flight end within their timeouts). Idempotent; does not block.
  void stop();

  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

 private:
  explicit HealthChecker(std::shared_ptr<detail::HealthCheckerState> state);
  std::shared_ptr<detail::HealthCheckerState> state_;
};

}  // namespace openpcc::router
