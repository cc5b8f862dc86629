#include "services/router/node_event.h"

#include <vector>

#include "net/url.h"
#include "services/router/uuid_v7.h"

namespace openpcc::router {
namespace {

Status validate_node_url(std::string_view url, std::string_view what) {
  if (url.empty()) return make_error(ErrorCode::kInvalidArgument, std::string(what) + " is missing");
  if (url.size() > kMaxNodeUrlBytes) {
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + " is longer than 2048 bytes");
  }
  auto parsed = net::parse_url(url);
  if (!parsed) return make_error(ErrorCode::kInvalidArgument, std::string(what) + " is not an absolute http(s) URL");
  return {};
}

}  // namespace

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagBytes) return false;
  for (unsigned char c : tag) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

Status validate_tags(std::span<const std::string> tags, bool require_one) {
  if (require_one && tags.empty()) return make_error(ErrorCode::kInvalidArgument, "at least one tag is required");
  if (tags.size() > kMaxTags) return make_error(ErrorCode::kInvalidArgument, "more than 64 tags");
  for (const std::string& tag : tags) {
    if (!is_valid_tag(tag)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "a tag is empty, longer than 512 bytes or contains control characters");
    }
  }
  return {};
}

Status validate_routing_info(const pb::RoutingInfo& info) {
  if (auto ok = validate_node_url(info.url(), "routing_info.url"); !ok) return ok;
  if (auto ok = validate_node_url(info.healthcheck_url(), "routing_info.healthcheck_url"); !ok) return ok;
  const std::vector<std::string> tags(info.tags().begin(), info.tags().end());
  if (auto ok = validate_tags(tags, /*require_one=*/true); !ok) {
    return std::unexpected(wrap_error("routing_info.tags", ok.error()));
  }
  if (!info.has_evidence()) return make_error(ErrorCode::kInvalidArgument, "routing_info.evidence is missing");
  return {};
}

Status validate_node_event(const pb::NodeEvent& event) {
  if (!event.has_node_id() || !is_uuid_v7(event.node_id())) {
    return make_error(ErrorCode::kInvalidArgument, "node_id must be a UUIDv7");
  }
  if (!event.has_event_index() || event.event_index() < 0) {
    return make_error(ErrorCode::kInvalidArgument, "event_index must be present and non-negative");
  }
  switch (event.payload_case()) {
    case pb::NodeEvent::kShutdown:
      return {};
    case pb::NodeEvent::kHeartbeat: {
      const pb::Heartbeat& heartbeat = event.heartbeat();
      if (heartbeat.has_routing_info_url()) {
        return make_error(ErrorCode::kUnsupported, "heartbeat.routing_info_url is not supported: send routing_info");
      }
      if (!heartbeat.has_routing_info()) {
        return make_error(ErrorCode::kInvalidArgument, "heartbeat without routing_info");
      }
      return validate_routing_info(heartbeat.routing_info());
    }
    case pb::NodeEvent::PAYLOAD_NOT_SET:
      break;
  }
  return make_error(ErrorCode::kInvalidArgument, "node event has neither heartbeat nor shutdown");
}

Result<pb::NodeEvent> parse_node_event(ByteSpan body) {
  pb::NodeEvent event;
  if (!event.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return make_error(ErrorCode::kDecode, "not a NodeEvent");
  }
  if (auto ok = validate_node_event(event); !ok) return std::unexpected(ok.error());
  return event;
}

}  // namespace openpcc::router
