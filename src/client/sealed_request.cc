#include "client/sealed_request.h"

#include <set>

#include "client/client_config.h"
#include "client/request_step.h"
#include "wire/compute_request.h"

namespace openpcc::client {

std::string SealedRequest::routing_info_header() const {
  std::string serialized;
  routing_info.SerializeToString(&serialized);
  return to_base64(as_bytes(serialized));
}

const wire::ResponseSecrets* SealedRequest::secrets_for(std::string_view node_id) const {
  for (const auto& [id, s] : secrets) {
    if (id == node_id) return &s;
  }
  return nullptr;
}

Result<SealedRequest> seal_compute_request(ByteSpan inner_bhttp, std::span<const Candidate> candidates) {
  if (candidates.empty() || candidates.size() > kMaxCandidatesLimit) {
    return make_step_error(Step::kRequest, ErrorCode::kInvalidArgument,
                           "a request needs 1.." + std::to_string(kMaxCandidatesLimit) + " candidate nodes");
  }
  std::set<std::string_view> ids;
  for (const auto& c : candidates) {
    if (c.id.empty() || !ids.insert(c.id).second) {
      return make_step_error(Step::kRequest, ErrorCode::kInvalidArgument, "candidate ids must be unique and set");
    }
  }
  auto sender = wire::compute::RequestSender::create(wire::Chunking::kChunked);
  if (!sender) return std::unexpected(step_error(Step::kRequest, wrap_error("encryption", sender.error())));

  SealedRequest out;
  out.media_type = std::string(sender->media_type());
  for (const auto& c : candidates) {
    auto wrapped = sender->wrap_key(c.rek);
    if (!wrapped) {
      return std::unexpected(step_error(Step::kRequest, wrap_error("wrapping the key for node " + c.id,
                                                                    wrapped.error())));
    }
    auto* candidate = out.routing_info.add_candidates();
    candidate->set_id(c.id);
    candidate->set_encapsulated_key(std::string(wrapped->encapsulated_key.begin(), wrapped->encapsulated_key.end()));
    out.secrets.emplace_back(c.id, std::move(wrapped->response_secrets));
  }
  auto sealer = sender->chunked_body_sealer();
  if (!sealer) return std::unexpected(step_error(Step::kRequest, wrap_error("encryption", sealer.error())));
  if (auto ok = sealer->write(inner_bhttp, out.body); !ok) {
    return std::unexpected(step_error(Step::kRequest, wrap_error("encryption", ok.error())));
  }
  if (auto ok = sealer->finish(out.body); !ok) {
    return std::unexpected(step_error(Step::kRequest, wrap_error("encryption", ok.error())));
  }
  return out;
}

}  // namespace openpcc::client
