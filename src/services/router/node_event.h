// What the router accepts from a node's agent (POST /node-events) and from clients asking for nodes by tag.
//
// A NodeEvent is valid when:
//   node_id      UUIDv7 text (uuid_v7.h);
//   event_index  present and ≥ 0 (the registry requires it to grow per node);
//   payload      a heartbeat with routing_info, or a shutdown. A heartbeat with routing_info_url (the reference's
//                indirect form) is kUnsupported;
//   routing_info url and healthcheck_url absolute http(s) URLs (≤ kMaxNodeUrlBytes); 1..kMaxTags tags, each valid
//                (is_valid_tag); evidence present. The router does not judge evidence: clients verify it.
// The timestamp is optional and not used for ordering (event_index is).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "openpcc/router_agent.pb.h"

namespace openpcc::router {

inline constexpr size_t kMaxTags = 64;
inline constexpr size_t kMaxTagBytes = 512;
inline constexpr size_t kMaxNodeUrlBytes = 2048;

// Tags are plain strings or key=value pairs (e.g. "llm", "model=llama3.2:1b"): 1..kMaxTagBytes bytes, no control
// characters. A node matches a query when its tag set contains every queried tag.
bool is_valid_tag(std::string_view tag);
// At most kMaxTags valid tags (and at least one if `require_one`). kInvalidArgument names the problem.
Status validate_tags(std::span<const std::string> tags, bool require_one);

Status validate_routing_info(const pb::RoutingInfo& info);
Status validate_node_event(const pb::NodeEvent& event);

// Parses and validates a POST /node-events body. Errors: kDecode (not a NodeEvent), and validate_node_event's.
Result<pb::NodeEvent> parse_node_event(ByteSpan body);

}  // namespace openpcc::router
