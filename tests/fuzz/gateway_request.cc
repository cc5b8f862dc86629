// The gateway's view of an encapsulated request (services/gateway/inner_request_decoder.h and gateway_routes.h):
// streaming decapsulation, incremental BHTTP decoding and the allowlist, with the fixed fuzz keys of fuzz_keys.h
// (key 1 X25519, key 2 X25519Kyber768Draft00), both inside their rotation periods.
//
// Input: byte 0 holds flags, byte 1 seeds slice sizes, the rest is the payload.
//   bit 0: chunked (message/ohttp-chunked-req) or not
//   bit 1: construct mode — the payload is the inner BHTTP plaintext, sealed here under a fuzz key (bit 2: key 2
//          instead of key 1) with a fixed ephemeral key, so mutations reach the BHTTP decoder and the allowlist;
//          otherwise the payload is the encapsulated request itself (seeds: the ohttp_request_decap corpus)
// Properties: no crash; events come in order (head, body…, trailers, end); feeding in slices gives exactly what
// feeding whole gives; in construct mode the decoder accepts exactly the requests bhttp::decode accepts (same head,
// body and trailers); a forwarded route is a GET or POST of an absolute path to one of the two inner hosts.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "fuzz_keys.h"
#include "net/headers.h"
#include "services/gateway/gateway_keys.h"
#include "services/gateway/gateway_routes.h"
#include "services/gateway/inner_request_decoder.h"
#include "wire/bhttp.h"
#include "wire/ohttp_chunked.h"

using namespace openpcc;
namespace bhttp = wire::bhttp;

namespace {

std::shared_ptr<const gateway::GatewayKeyMaterial> material() {
  static const auto m = [] {
    auto out = std::make_shared<gateway::GatewayKeyMaterial>();
    out->keys = fuzz::make_gateway_keys();
    const auto epoch = transparency::Timestamp{};
    for (uint8_t id : {1, 2}) {
      out->periods.push_back(transparency::KeyRotationPeriod{id, epoch, epoch + std::chrono::hours(2)});
    }
    return std::shared_ptr<const gateway::GatewayKeyMaterial>(std::move(out));
  }();
  return m;
}

struct Outcome {
  std::optional<bhttp::RequestHead> head;
  Bytes body;
  std::optional<bhttp::Fields> trailers;
  bool ended = false;
  std::optional<wire::ohttp::OhttpErrorCode> error;
  bool operator==(const Outcome&) const = default;
};

// Drains the decoder's events into `out`, checking their order; false once it failed.
bool drain(gateway::InnerRequestDecoder& decoder, Outcome& out) {
  for (;;) {
    auto event = decoder.next();
    if (!event) {
      out.error = event.error().code;
      return false;
    }
    if (!*event) return true;
    fuzz::require(!out.ended);
    if (auto* head = std::get_if<bhttp::RequestHead>(&**event)) {
      fuzz::require(!out.head);
      out.head = *head;
    } else if (auto* body = std::get_if<gateway::InnerBody>(&**event)) {
      fuzz::require(out.head && !out.trailers && !body->data.empty());
      append(out.body, body->data);
    } else if (auto* trailers = std::get_if<gateway::InnerTrailers>(&**event)) {
      fuzz::require(out.head && !out.trailers);
      out.trailers = trailers->fields;
    } else {
      fuzz::require(out.trailers.has_value());
      out.ended = true;
    }
  }
}

Outcome run(wire::Chunking chunking, ByteSpan outer, ByteSpan slice_sizes, const gateway::InnerRequestLimits& limits) {
  auto clock = [] { return transparency::Timestamp{} + std::chrono::hours(1); };
  gateway::InnerRequestDecoder decoder(chunking, gateway::rotating_key_finder(material(), clock), limits);
  Outcome out;
  bool ok = true;
  fuzz::for_each_slice(outer, slice_sizes, [&](ByteSpan piece) {
    if (auto fed = decoder.feed(piece); !fed) {
      out.error = fed.error().code;
      ok = false;
      return false;
    }
    ok = drain(decoder, out);
    return ok;
  });
  if (!ok) return out;
  if (auto finished = decoder.finish(); !finished) {
    out.error = finished.error().code;
    return out;
  }
  if (drain(decoder, out)) fuzz::require(out.ended);
  if (out.ended) fuzz::require(decoder.response_secrets() != nullptr);
  return out;
}

void check_route(const bhttp::RequestHead& head) {
  const gateway::InnerRoute route = gateway::route_inner_request(head);
  if (route.kind != gateway::InnerRoute::Kind::kForward) return;
  fuzz::require(head.method == "GET" || head.method == "POST");
  fuzz::require(!head.path.empty() && head.path[0] == '/');
  std::string_view host = head.authority.empty() ? bhttp::find_field(head.headers, "host").value_or("")
                                                 : std::string_view(head.authority);
  fuzz::require(net::iequals(host, gateway::kBankHost) || net::iequals(host, gateway::kRouterHost));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const wire::Chunking chunking = (flags & 1) ? wire::Chunking::kChunked : wire::Chunking::kUnchunked;
  const bool construct = flags & 2;
  const ByteSpan slice_sizes(data + 1, 1);
  const ByteSpan payload(data + 2, size - 2);

  gateway::InnerRequestLimits limits;
  limits.max_request_bytes = 1 << 20;
  limits.max_chunk_plaintext = 4096;
  limits.bhttp.max_header_section_bytes = 4096;
  limits.bhttp.max_trailer_section_bytes = 4096;
  limits.bhttp.max_control_data_bytes = 4096;
  limits.bhttp.max_body_bytes = 1 << 20;

  Bytes outer;
  if (construct) {
    const auto& key = material()->keys.keys()[(flags & 4) ? 1 : 0].config;
    static const Bytes ephemeral(64, 0x5a);  // fixed, so every run of an input seals the same bytes
    wire::ohttp::EncapsulateOptions options;
    options.ephemeral_for_testing.ikm_e = ByteSpan(ephemeral);
    if (chunking == wire::Chunking::kChunked) {
      auto sealed = wire::ohttp::encapsulate_chunked_request(key, payload, options);
      fuzz::require(sealed.has_value());
      outer = std::move(sealed->request);
    } else {
      auto sealed = wire::ohttp::encapsulate_request(key, payload, options);
      fuzz::require(sealed.has_value());
      outer = std::move(sealed->request);
    }
  } else {
    outer.assign(payload.begin(), payload.end());
  }
  if (construct && outer.size() > limits.max_request_bytes) return 0;  // refused before any decoding

  const Outcome sliced = run(chunking, outer, slice_sizes, limits);
  const Outcome whole = run(chunking, outer, ByteSpan(), limits);
  fuzz::require(sliced == whole);
  if (sliced.head) check_route(*sliced.head);

  if (construct) {
    auto expected = bhttp::decode(payload, limits.bhttp);
    const bool is_request = expected && std::holds_alternative<bhttp::Request>(expected->message);
    fuzz::require(sliced.ended == is_request);
    if (is_request) {
      const auto& request = std::get<bhttp::Request>(expected->message);
      fuzz::require(*sliced.head == static_cast<const bhttp::RequestHead&>(request));
      fuzz::require(sliced.body == request.body);
      fuzz::require(*sliced.trailers == request.trailers);
    } else {
      fuzz::require(sliced.error == wire::ohttp::OhttpErrorCode::kRequestDecoding);
    }
  }
  return 0;
}
