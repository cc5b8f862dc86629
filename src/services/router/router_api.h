// The router's wire contract: its host name inside OHTTP, its headers, and the X-Routing-Info header a client sends
// with each compute request (reference: router/api/*, Appendix B of docs/shared reference).
//
//   client → router   POST /   Content-Type: application/confsec-{req,chunked-req}
//                              X-Routing-Info: base64(ComputeRequestInfo{candidates: [{id, encapsulated_key}]})
//                              X-Credit: base64(Credit)
//   router → node     POST <node url>   Content-Type (same), X-Encapsulated-Key: base64(that candidate's key),
//                                       X-Credit-Amount: <decimal amount of the credit>
//   node → router     200, Content-Type: application/confsec-{res,chunked-res}, trailer X-Refund-Amount
//   router → client   200, Content-Type (node's), X-Node-ID: <candidate id>, trailer X-Refund: base64(Credit)
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::router {

// The router's host in inner (OHTTP-encapsulated) requests; the gateway maps it to the router's real URL.
inline constexpr std::string_view kRouterHost = "confsec-router.invalid";

inline constexpr std::string_view kRoutingInfoHeader = "X-Routing-Info";
inline constexpr std::string_view kEncapsulatedKeyHeader = "X-Encapsulated-Key";
inline constexpr std::string_view kCreditAmountHeader = "X-Credit-Amount";
inline constexpr std::string_view kNodeIdHeader = "X-Node-ID";
// `X-Confsec-Ping: routercom` is forwarded to the node (which answers "routercom"); other values are not.
inline constexpr std::string_view kPingHeader = "X-Confsec-Ping";
inline constexpr std::string_view kRouterComPing = "routercom";

// Paths.
inline constexpr std::string_view kNodeEventsPath = "/node-events";
inline constexpr std::string_view kComputeManifestsPath = "/compute-manifests";
inline constexpr std::string_view kPingPath = "/ping";
inline constexpr std::string_view kComputePath = "/";

inline constexpr size_t kMaxRoutingInfoHeaderBytes = 16 * 1024;
inline constexpr size_t kMaxCandidates = 16;
// Upper bound of a ComputeManifestRequest's limit (the reference's MaxComputeManifests).
inline constexpr int kMaxComputeManifests = 500;

// A node the client encrypted the request's key for.
struct Candidate {
  std::string id;          // UUIDv7 text as the client sent it (echoed in X-Node-ID)
  Bytes encapsulated_key;  // wire::compute::kEncapsulatedKeySize bytes

  friend bool operator==(const Candidate&, const Candidate&) = default;
};

// Parses an X-Routing-Info value: at most kMaxRoutingInfoHeaderBytes of strict standard base64 of a
// ComputeRequestInfo with 1..kMaxCandidates candidates, each with a UUIDv7 id and a 120-byte encapsulated_key
// (the deprecated legacy fields are ignored). A repeated id keeps its first entry. Errors: kInvalidArgument or
// kDecode with a message saying what is wrong (no input bytes are echoed).
Result<std::vector<Candidate>> parse_routing_info_header(std::string_view value);

// The header value for `candidates` (client side; no validation).
std::string routing_info_header(std::span<const Candidate> candidates);

}  // namespace openpcc::router
