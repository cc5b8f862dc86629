#include "services/router/registry.h"

#include <algorithm>
#include <utility>

#include "common/random.h"
#include "services/router/node_event.h"
#include "services/router/uuid_v7.h"

namespace openpcc::router {
namespace {

// A node's history never needs more than window / interval entries; this caps it whatever the configuration.
constexpr size_t kMaxHistory = 4096;

bool has_all_tags(const pb::RoutingInfo& info, std::span<const std::string> wanted) {
  for (const std::string& tag : wanted) {
    if (std::find(info.tags().begin(), info.tags().end(), tag) == info.tags().end()) return false;
  }
  return true;
}

}  // namespace

std::string_view grade_name(Grade grade) {
  switch (grade) {
    case Grade::kUnknown:
      return "unknown";
    case Grade::kOk:
      return "ok";
    case Grade::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

Grade grade_history(std::span<const CheckRecord> history, TimePoint now, const HealthPolicy& policy) {
  const TimePoint since = now - policy.window;
  size_t total = 0;
  size_t successes = 0;
  int streak = 0;  // failures since the last success, within the window
  for (const CheckRecord& check : history) {
    if (check.at < since) continue;
    ++total;
    if (check.ok) {
      ++successes;
      streak = 0;
    } else {
      ++streak;
    }
  }
  if (total < static_cast<size_t>(std::max(policy.min_checks, 0))) return Grade::kUnknown;
  if (total == 0) return Grade::kUnknown;  // min_checks 0 and nothing seen yet
  if (streak >= policy.failure_streak) return Grade::kUnavailable;
  if (static_cast<double>(successes) < policy.min_success_rate * static_cast<double>(total)) {
    return Grade::kUnavailable;
  }
  return Grade::kOk;
}

Registry::Registry(RegistryOptions options, Clock clock) : options_(std::move(options)), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
}

TimePoint Registry::now() const { return clock_(); }

bool Registry::is_fresh(const Node& node, TimePoint now) const {
  return now - node.last_event < options_.node_max_age;
}

void Registry::remove_locked(std::map<std::string, Node, std::less<>>::iterator it, TimePoint now) {
  if (tombstones_.size() < options_.max_nodes || tombstones_.contains(it->first)) {
    tombstones_[it->first] = Tombstone{it->second.last_index, now};
  }
  nodes_.erase(it);
}

Result<EventOutcome> Registry::apply(const pb::NodeEvent& event) {
  if (auto ok = validate_node_event(event); !ok) return std::unexpected(ok.error());
  const std::string id = canonical_uuid(event.node_id());
  const int64_t index = event.event_index();
  const TimePoint now = clock_();

  std::lock_guard lock(mutex_);
  auto node = nodes_.find(id);
  if (node != nodes_.end() && index <= node->second.last_index) {
    return make_error(ErrorCode::kConflict, "event_index is not above the node's last event");
  }
  if (node == nodes_.end()) {
    auto tomb = tombstones_.find(id);
    if (tomb != tombstones_.end() && index <= tomb->second.last_index) {
      return make_error(ErrorCode::kConflict, "event_index is not above the node's last event");
    }
  }

  if (event.has_shutdown()) {
    if (node != nodes_.end()) {
      node->second.last_index = index;
      remove_locked(node, now);
    } else if (tombstones_.size() < options_.max_nodes || tombstones_.contains(id)) {
      tombstones_[id] = Tombstone{index, now};
    }
    return EventOutcome::kRemoved;
  }

  const pb::RoutingInfo& info = event.heartbeat().routing_info();
  // Only one process listens at a URL: a node (re)starting there supersedes whatever node held it before. Without
  // this the old entry stays routable (the new process answers its health checks) and requests encrypted to the old
  // node's key would reach the new one.
  for (auto other = nodes_.begin(); other != nodes_.end();) {
    auto next = std::next(other);
    if (other->first != id && other->second.routing_info.url() == info.url()) remove_locked(other, now);
    other = next;
  }
  node = nodes_.find(id);
  if (node != nodes_.end()) {
    Node& n = node->second;
    const bool new_health_endpoint = n.routing_info.healthcheck_url() != info.healthcheck_url();
    n.last_index = index;
    n.last_event = now;
    n.routing_info = info;
    if (new_health_endpoint) {
      n.history.clear();
      n.grade = Grade::kUnknown;
      n.next_check = now;
      n.in_flight = false;
      n.generation = next_generation_++;
    }
    return EventOutcome::kUpdated;
  }
  if (nodes_.size() >= options_.max_nodes) {
    return make_error(ErrorCode::kUnavailable, "the router's node table is full");
  }
  Node n;
  n.last_index = index;
  n.last_event = now;
  n.routing_info = info;
  n.next_check = now;
  n.generation = next_generation_++;
  nodes_.emplace(id, std::move(n));
  tombstones_.erase(id);
  return EventOutcome::kRegistered;
}

std::vector<HealthTarget> Registry::take_due_checks() {
  const TimePoint now = clock_();
  std::vector<HealthTarget> out;
  std::lock_guard lock(mutex_);
  for (auto& [id, node] : nodes_) {
    if (node.in_flight || node.next_check > now || !is_fresh(node, now)) continue;
    node.in_flight = true;
    node.next_check = now + options_.check_interval;
    out.push_back(HealthTarget{id, node.routing_info.healthcheck_url(), node.generation});
  }
  return out;
}

std::optional<Grade> Registry::record_check(const HealthTarget& target, bool ok) {
  const TimePoint now = clock_();
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(target.node_id);
  if (it == nodes_.end() || it->second.generation != target.generation) return std::nullopt;
  Node& node = it->second;
  node.in_flight = false;
  node.history.push_back(CheckRecord{now, ok});
  const TimePoint since = now - options_.health.window;
  while (!node.history.empty() && (node.history.front().at < since || node.history.size() > kMaxHistory)) {
    node.history.pop_front();
  }
  const std::vector<CheckRecord> history(node.history.begin(), node.history.end());
  node.grade = grade_history(history, now, options_.health);
  const Grade grade = node.grade;
  if (grade == Grade::kUnavailable) remove_locked(it, now);
  return grade;
}

size_t Registry::expire() {
  const TimePoint now = clock_();
  std::lock_guard lock(mutex_);
  size_t removed = 0;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    auto next = std::next(it);
    if (!is_fresh(it->second, now)) {
      remove_locked(it, now);
      ++removed;
    }
    it = next;
  }
  std::erase_if(tombstones_, [&](const auto& entry) { return now - entry.second.removed_at >= options_.node_max_age; });
  return removed;
}

std::optional<std::string> Registry::routable_url(std::string_view node_id) const {
  const TimePoint now = clock_();
  const std::string id = canonical_uuid(node_id);
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(id);
  if (it == nodes_.end() || it->second.grade != Grade::kOk || !is_fresh(it->second, now)) return std::nullopt;
  return it->second.routing_info.url();
}

std::vector<pb::ComputeManifest> Registry::manifests(std::span<const std::string> tags, size_t limit) const {
  const TimePoint now = clock_();
  std::lock_guard lock(mutex_);
  std::vector<const std::pair<const std::string, Node>*> matches;
  for (const auto& entry : nodes_) {
    const Node& node = entry.second;
    if (node.grade != Grade::kOk || !is_fresh(node, now) || !has_all_tags(node.routing_info, tags)) continue;
    matches.push_back(&entry);
  }
  const size_t count = std::min(limit, matches.size());
  // A partial Fisher-Yates shuffle: the first `count` places get a uniformly random selection in random order.
  for (size_t i = 0; i < count; ++i) {
    const size_t j = i + static_cast<size_t>(random_uniform(matches.size() - i));
    std::swap(matches[i], matches[j]);
  }
  std::vector<pb::ComputeManifest> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const auto& [id, node] = *matches[i];
    pb::ComputeManifest manifest;
    manifest.set_id(id);
    manifest.mutable_tags()->CopyFrom(node.routing_info.tags());
    *manifest.mutable_evidence() = node.routing_info.evidence();
    out.push_back(std::move(manifest));
  }
  return out;
}

std::optional<Grade> Registry::grade_of(std::string_view node_id) const {
  const std::string id = canonical_uuid(node_id);
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return std::nullopt;
  return it->second.grade;
}

GradeCounts Registry::counts() const {
  std::lock_guard lock(mutex_);
  GradeCounts out;
  for (const auto& [id, node] : nodes_) {
    if (node.grade == Grade::kOk) ++out.ok;
    else ++out.unknown;
  }
  return out;
}

size_t Registry::size() const {
  std::lock_guard lock(mutex_);
  return nodes_.size();
}

}  // namespace openpcc::router
