#include "services/gateway/gateway_routes.h"

#include <array>
#include <optional>

#include "net/headers.h"

namespace openpcc::gateway {
namespace {

struct Endpoint {
  std::string_view method;
  std::string_view path;
};

constexpr std::array<Endpoint, 5> kBankEndpoints{{
    {"POST", "/deposit"},
    {"POST", "/exchange"},
    {"POST", "/withdraw"},
    {"POST", "/withdraw-full"},
    {"POST", "/balance"},
}};

constexpr std::array<Endpoint, 3> kRouterEndpoints{{
    {"GET", "/ping"},
    {"POST", "/compute-manifests"},
    {"POST", "/"},
}};

template <size_t N>
bool allowed(const std::array<Endpoint, N>& endpoints, const wire::bhttp::RequestHead& head) {
  for (const Endpoint& e : endpoints) {
    // Methods are case-sensitive (RFC 9110 §9.1).
    if (head.method == e.method && head.path == e.path) return true;
  }
  return false;
}

std::optional<Upstream> upstream_for_host(std::string_view host) {
  if (net::iequals(host, kBankHost)) return Upstream::kBank;
  if (net::iequals(host, kRouterHost)) return Upstream::kRouter;
  return std::nullopt;
}

}  // namespace

std::string_view upstream_name(Upstream upstream) { return upstream == Upstream::kBank ? "bank" : "router"; }

InnerRoute route_inner_request(const wire::bhttp::RequestHead& head) {
  std::string_view host = head.authority;
  if (host.empty()) {
    if (auto h = wire::bhttp::find_field(head.headers, "Host")) host = *h;
  }
  auto upstream = upstream_for_host(host);
  if (!upstream) return InnerRoute{InnerRoute::Kind::kHostRefused, Upstream::kBank};
  InnerRoute route{InnerRoute::Kind::kNotFound, *upstream};
  if (auto ping = wire::bhttp::find_field(head.headers, kPingHeader); ping && *ping == kGatewayPingValue) {
    route.kind = InnerRoute::Kind::kPing;
    return route;
  }
  const bool ok = *upstream == Upstream::kBank ? allowed(kBankEndpoints, head) : allowed(kRouterEndpoints, head);
  if (ok) route.kind = InnerRoute::Kind::kForward;
  return route;
}

}  // namespace openpcc::gateway
