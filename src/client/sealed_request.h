// Encrypting one request for several candidate nodes (wire/compute_request.h): the body once under a fresh key, the
// key wrapped to each candidate's REK, and what the client must keep to read whichever node answers.
//
//   auto sealed = seal_compute_request(encode_inner_request(inner), candidates);
//   POST http://confsec-router.invalid/   Content-Type: sealed->media_type
//                                         X-Routing-Info: sealed->routing_info_header()   body: sealed->body
//   ... response X-Node-ID → sealed->secrets_for(id) → InnerResponseReader (inner_response_reader.h)
//
// The body is chunked in the fixed-size profile: the BHTTP message is a multiple of 514 bytes, every chunk on the
// wire 532 bytes, so its size tells the router only a rounded length.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/kem.h"
#include "openpcc/router.pb.h"
#include "wire/response_encryption.h"

namespace openpcc::client {

inline constexpr std::string_view kRoutingInfoHeader = "X-Routing-Info";
inline constexpr std::string_view kNodeIdHeader = "X-Node-ID";

// A node to encrypt to: its id at the router and its verified REK (a P-256 HPKE public key).
struct Candidate {
  std::string id;
  crypto::KemPublicKey rek;
};

struct SealedRequest {
  std::string media_type;             // application/confsec-chunked-req
  Bytes body;                         // body nonce ‖ chunks
  pb::ComputeRequestInfo routing_info;  // one ComputeCandidate{id, encapsulated_key} per candidate
  std::vector<std::pair<std::string, wire::ResponseSecrets>> secrets;  // per candidate id

  // Standard base64 of routing_info.
  std::string routing_info_header() const;
  // The secrets of the node the router chose, or nullptr for an id that was not a candidate.
  const wire::ResponseSecrets* secrets_for(std::string_view node_id) const;
};

// kInvalidArgument ("request: …") without candidates, with more than 16, or with a repeated id; errors of the
// encryption otherwise.
Result<SealedRequest> seal_compute_request(ByteSpan inner_bhttp, std::span<const Candidate> candidates);

}  // namespace openpcc::client
