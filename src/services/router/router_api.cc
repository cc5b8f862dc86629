#include "services/router/router_api.h"

#include <set>

#include "openpcc/router.pb.h"
#include "services/router/uuid_v7.h"
#include "wire/compute_request.h"

namespace openpcc::router {

Result<std::vector<Candidate>> parse_routing_info_header(std::string_view value) {
  if (value.empty()) return make_error(ErrorCode::kInvalidArgument, "routing info: empty");
  if (value.size() > kMaxRoutingInfoHeaderBytes) {
    return make_error(ErrorCode::kInvalidArgument, "routing info: longer than 16 KiB");
  }
  auto bytes = from_base64(value);
  if (!bytes) return make_error(ErrorCode::kDecode, "routing info: not standard base64");
  pb::ComputeRequestInfo info;
  if (!info.ParseFromArray(bytes->data(), static_cast<int>(bytes->size()))) {
    return make_error(ErrorCode::kDecode, "routing info: not a ComputeRequestInfo");
  }
  if (info.candidates_size() == 0) return make_error(ErrorCode::kInvalidArgument, "routing info: no candidates");
  if (static_cast<size_t>(info.candidates_size()) > kMaxCandidates) {
    return make_error(ErrorCode::kInvalidArgument, "routing info: more than 16 candidates");
  }
  std::vector<Candidate> out;
  std::set<std::string> seen;
  for (const pb::ComputeCandidate& c : info.candidates()) {
    if (!c.has_id() || !is_uuid_v7(c.id())) {
      return make_error(ErrorCode::kInvalidArgument, "routing info: a candidate id is not a UUIDv7");
    }
    if (c.encapsulated_key().size() != wire::compute::kEncapsulatedKeySize) {
      return make_error(ErrorCode::kInvalidArgument, "routing info: a candidate's encapsulated key is not 120 bytes");
    }
    if (!seen.insert(canonical_uuid(c.id())).second) continue;
    out.push_back(Candidate{c.id(), Bytes(c.encapsulated_key().begin(), c.encapsulated_key().end())});
  }
  return out;
}

std::string routing_info_header(std::span<const Candidate> candidates) {
  pb::ComputeRequestInfo info;
  for (const Candidate& c : candidates) {
    pb::ComputeCandidate* out = info.add_candidates();
    out->set_id(c.id);
    out->set_encapsulated_key(std::string(c.encapsulated_key.begin(), c.encapsulated_key.end()));
  }
  return to_base64(as_bytes(info.SerializeAsString()));
}

}  // namespace openpcc::router
