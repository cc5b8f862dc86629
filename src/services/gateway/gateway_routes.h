// What the OHTTP gateway lets through after decapsulation: the inner hosts clients address, the endpoints behind
// each, and the gateway's own ping. Pure functions of the inner request head, shared by the gateway's handler, its
// fuzz target and (for the host names) the client SDK.
//
//   inner request                                          gateway's answer
//   Host other than the two below                          400 problem, taxonomy InvalidRequest (202)
//   X-Confsec-Ping: gateway (on an allowed host)           inner 200, body "gateway"
//   POST confsec-bank.invalid/{deposit, exchange, withdraw, withdraw-full, balance}   → BlindBank
//   GET  confsec-router.invalid/ping                       → router
//   POST confsec-router.invalid/compute-manifests          → router
//   POST confsec-router.invalid/   (exactly "/")           → router
//   anything else on an allowed host                       inner 404
//
// Paths match exactly: a query string, a trailing slash or another method is "anything else".
#pragma once

#include <string_view>

#include "wire/bhttp_message.h"

namespace openpcc::gateway {

// The unroutable hosts of inner requests (the reference's externalBankURL / externalRouterURL).
inline constexpr std::string_view kBankHost = "confsec-bank.invalid";
inline constexpr std::string_view kRouterHost = "confsec-router.invalid";
inline constexpr std::string_view kBankUrl = "http://confsec-bank.invalid";
inline constexpr std::string_view kRouterUrl = "http://confsec-router.invalid";

// A request carrying this header with kGatewayPingValue is answered by the gateway itself (for latency checks).
inline constexpr std::string_view kPingHeader = "X-Confsec-Ping";
inline constexpr std::string_view kGatewayPingValue = "gateway";

enum class Upstream { kBank, kRouter };
// "bank" / "router" (metric label values).
std::string_view upstream_name(Upstream upstream);

struct InnerRoute {
  enum class Kind {
    kForward,       // to `upstream`, same method and path
    kPing,          // answer "gateway"
    kNotFound,      // an allowed host, but not an allowed endpoint
    kHostRefused,   // not an allowed host: InvalidRequest (202)
  };
  Kind kind = Kind::kHostRefused;
  Upstream upstream = Upstream::kBank;  // for kForward, kPing and kNotFound: the host's upstream
};

// The inner host is the request's authority, or its Host header when the authority is empty; it is compared
// case-insensitively and must be exactly one of the two hosts (no port).
InnerRoute route_inner_request(const wire::bhttp::RequestHead& head);

}  // namespace openpcc::gateway
