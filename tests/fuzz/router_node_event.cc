// The router's parsers of untrusted input (services/router): NodeEvent bodies from node agents (applied to a
// registry on a fixed clock) and X-Routing-Info headers from clients. The first input byte chooses which.
//
// Properties beyond "no crash":
//  * a NodeEvent that parses is valid, re-serializes to an event that parses the same, applies to an empty registry
//    (a heartbeat registers, a shutdown removes) and, applied a second time, is refused as stale (kConflict);
//  * a registered node is unknown (not routable), due for a health check at once at its healthcheck_url, and after
//    one good check (min_checks 1) routable at its url and listed under each of its own tags;
//  * an X-Routing-Info value that parses has 1..16 candidates with UUIDv7 ids, distinct ignoring case, and 120-byte
//    keys, and re-encodes to a header that parses to the same candidates.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "services/router/node_event.h"
#include "services/router/registry.h"
#include "services/router/router_api.h"
#include "services/router/uuid_v7.h"

using namespace openpcc;
using namespace openpcc::router;

namespace {

void check_node_event(ByteSpan bytes) {
  auto event = parse_node_event(bytes);
  if (!event) return;
  auto again = parse_node_event(as_bytes(event->SerializeAsString()));
  if (!again || again->SerializeAsString() != event->SerializeAsString()) std::abort();

  RegistryOptions options;
  options.health.min_checks = 1;
  const TimePoint now{std::chrono::seconds(1'800'000'000)};
  Registry registry(options, [now] { return now; });
  auto applied = registry.apply(*event);
  if (!applied) std::abort();
  if (registry.apply(*event).error().code != ErrorCode::kConflict) std::abort();
  if (event->has_shutdown()) {
    if (*applied != EventOutcome::kRemoved || registry.size() != 0) std::abort();
    return;
  }
  if (*applied != EventOutcome::kRegistered || registry.size() != 1) std::abort();
  const pb::RoutingInfo& info = event->heartbeat().routing_info();
  if (registry.routable_url(event->node_id())) std::abort();
  auto due = registry.take_due_checks();
  if (due.size() != 1 || due[0].url != info.healthcheck_url()) std::abort();
  if (registry.record_check(due[0], true) != Grade::kOk) std::abort();
  if (registry.routable_url(event->node_id()) != info.url()) std::abort();
  for (const std::string& tag : info.tags()) {
    const std::string one[] = {tag};
    if (registry.manifests(one, 10).size() != 1) std::abort();
  }
}

void check_routing_info(std::string_view text) {
  auto candidates = parse_routing_info_header(text);
  if (!candidates) return;
  if (candidates->empty() || candidates->size() > kMaxCandidates) std::abort();
  std::set<std::string> ids;
  for (const Candidate& c : *candidates) {
    if (!is_uuid_v7(c.id) || c.encapsulated_key.size() != 120) std::abort();
    if (!ids.insert(canonical_uuid(c.id)).second) std::abort();
  }
  auto again = parse_routing_info_header(routing_info_header(*candidates));
  if (!again || *again != *candidates) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ByteSpan rest(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    check_node_event(rest);
  } else {
    check_routing_info(std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
  }
  return 0;
}
