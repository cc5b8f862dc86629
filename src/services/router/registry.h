// The router's view of the compute nodes: what their agents said (node events), how their health checks went, and
// from that which nodes requests may go to. Pure logic on an injectable clock; thread-safe (one mutex).
//
// Node events (validated first, node_event.h):
//   * a heartbeat from an unknown node registers it (grade unknown, health check due at once); from a known node it
//     must carry a larger event_index than any seen from that node (else kConflict, nothing changes) and replaces
//     the routing info (a changed healthcheck_url restarts the node's health history);
//   * a heartbeat for a URL another node holds removes that other node: one process listens at a URL, so a node
//     restarted at the same address (new key, new ID) supersedes its predecessor at once;
//   * a shutdown removes the node;
//   * a removed node (shutdown, unavailable, too old) leaves a tombstone with its last event index for node_max_age,
//     so a late heartbeat sent before its shutdown cannot bring it back; a later event_index registers it afresh.
//
// Grading (reference §5) over the checks of the last `window`:
//   fewer than min_checks            → unknown      (kept, not routable)
//   current failure streak ≥ failure_streak, or success rate < min_success_rate
//                                    → unavailable  (removed)
//   otherwise                        → ok           (routable)
// A node without any event for node_max_age is removed (expire()).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "openpcc/router.pb.h"
#include "openpcc/router_agent.pb.h"

namespace openpcc::router {

using TimePoint = std::chrono::system_clock::time_point;

struct HealthPolicy {
  std::chrono::seconds window{900};
  int min_checks = 3;
  int failure_streak = 3;
  double min_success_rate = 0.9;
};

enum class Grade { kUnknown, kOk, kUnavailable };
std::string_view grade_name(Grade grade);

struct CheckRecord {
  TimePoint at;
  bool ok = false;
};

// The grade of a history (oldest first) at `now`; checks older than the window are ignored.
Grade grade_history(std::span<const CheckRecord> history, TimePoint now, const HealthPolicy& policy);

struct RegistryOptions {
  HealthPolicy health;
  std::chrono::seconds node_max_age{900};
  std::chrono::milliseconds check_interval{30'000};
  size_t max_nodes = 10'000;  // registered nodes (tombstones are bounded by the same number)
};

enum class EventOutcome { kRegistered, kUpdated, kRemoved };

// One health check to run: GET url, then record_check(target, ok).
struct HealthTarget {
  std::string node_id;
  std::string url;
  uint64_t generation = 0;  // results for an older routing info are ignored
};

struct GradeCounts {
  size_t unknown = 0;
  size_t ok = 0;
};

class Registry {
 public:
  using Clock = std::function<TimePoint()>;
  // `clock` defaults to the system clock.
  explicit Registry(RegistryOptions options, Clock clock = {});

  const RegistryOptions& options() const { return options_; }
  TimePoint now() const;

  // Applies a validated event. Errors: kConflict (event_index not above the node's last one), kUnavailable
  // (max_nodes reached), kInvalidArgument (validate_node_event failed: callers should validate first).
  Result<EventOutcome> apply(const pb::NodeEvent& event);

  // Health checks due now: a new node's at once, then every check_interval after the previous one was taken.
  std::vector<HealthTarget> take_due_checks();
  // Records a finished check. Returns the node's new grade (kUnavailable: it was removed), or nullopt if the node is
  // gone or its routing info changed since the check was taken.
  std::optional<Grade> record_check(const HealthTarget& target, bool ok);

  // Removes nodes without an event for node_max_age and forgets expired tombstones; returns the nodes removed.
  size_t expire();

  // The URL to send a compute request for `node_id` to, if the node is routable (grade ok, not too old).
  std::optional<std::string> routable_url(std::string_view node_id) const;
  // Routable nodes whose tags include every tag in `tags`, in random order (common/random.h), at most `limit`.
  std::vector<pb::ComputeManifest> manifests(std::span<const std::string> tags, size_t limit) const;

  std::optional<Grade> grade_of(std::string_view node_id) const;
  GradeCounts counts() const;
  size_t size() const;

 private:
  struct Node {
    int64_t last_index = 0;
    TimePoint last_event;
    pb::RoutingInfo routing_info;
    std::deque<CheckRecord> history;
    Grade grade = Grade::kUnknown;
    TimePoint next_check;
    bool in_flight = false;  // a check was taken and not recorded yet
    uint64_t generation = 0;
  };
  struct Tombstone {
    int64_t last_index = 0;
    TimePoint removed_at;
  };

  void remove_locked(std::map<std::string, Node, std::less<>>::iterator it, TimePoint now);
  bool is_fresh(const Node& node, TimePoint now) const;

  RegistryOptions options_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Node, std::less<>> nodes_;
  std::map<std::string, Tombstone, std::less<>> tombstones_;
  uint64_t next_generation_ = 1;
};

}  // namespace openpcc::router
