#include "services/relay/relay_handler.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "net/runtime.h"

namespace openpcc::relay {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The relay's metrics, registered once.
struct RelayMetrics {
  explicit RelayMetrics(services::Metrics& m)
      : ok(outcome(m, "ok")),
        unsupported_media_type(outcome(m, "unsupported_media_type")),
        too_large(outcome(m, "too_large")),
        bad_gateway(outcome(m, "bad_gateway")),
        gateway_timeout(outcome(m, "gateway_timeout")),
        client_error(outcome(m, "client_error")),
        upstream_error(outcome(m, "upstream_error")),
        method_not_allowed(outcome(m, "method_not_allowed")),
        request_bytes(m.counter("request_bytes_total", "Request body bytes sent to the gateway")),
        response_bytes(m.counter("response_bytes_total", "Response body bytes sent to clients")),
        in_flight(m.gauge("requests_in_flight", "Requests being forwarded")),
        latency(m.histogram("request_seconds", "Time from a request's head to the end of its response",
                            services::kLatencyBuckets)) {}

  static services::Counter& outcome(services::Metrics& m, std::string_view name) {
    return m.counter("requests_total", "Requests by outcome", {{"outcome", std::string(name)}});
  }

  services::Counter& ok;
  services::Counter& unsupported_media_type;
  services::Counter& too_large;
  services::Counter& bad_gateway;
  services::Counter& gateway_timeout;
  services::Counter& client_error;
  services::Counter& upstream_error;
  services::Counter& method_not_allowed;
  services::Counter& request_bytes;
  services::Counter& response_bytes;
  services::Gauge& in_flight;
  services::Histogram& latency;
};

// One forwarded request: what the two pumps share. Both run on the connection's strand, so nothing is locked.
struct Exchange {
  Exchange(net::ServerRequest& request_, net::ServerResponse& response_, net::ClientStream& upstream_,
           RelayMetrics& metrics_)
      : request(request_), response(response_), upstream(upstream_), metrics(metrics_) {}

  net::ServerRequest& request;
  net::ServerResponse& response;
  net::ClientStream& upstream;
  RelayMetrics& metrics;
  std::optional<Error> client_error;    // reading the client's body or writing its response failed
  std::optional<Error> upstream_error;  // the gateway's response failed (or never came)
};

// Client body → gateway, each piece as soon as it arrives.
net::Task<Status> pump_upload(Exchange& x) {
  for (;;) {
    auto piece = co_await x.request.read_chunk();
    if (!piece) {
      x.client_error = piece.error();
      // The request can never be completed: cut the gateway's connection, so that it stops waiting for the rest of
      // the body now (not after its read timeout), and the download side stops waiting for an answer.
      x.upstream.abort();
      co_return Status{};
    }
    if (!*piece) break;
    if (auto ok = co_await x.upstream.write_chunk(**piece); !ok) {
      // The gateway stopped reading (it may have answered early); the download side reports what it got.
      spdlog::debug("relay: upload to the gateway ended early: {}", ok.error().to_string());
      co_return Status{};
    }
    x.metrics.request_bytes.inc((*piece)->size());
  }
  if (auto ok = co_await x.upstream.finish(); !ok) {
    spdlog::debug("relay: ending the upload to the gateway failed: {}", ok.error().to_string());
  }
  co_return Status{};
}

// Gateway response → client: status, Content-Type (and Content-Length), then each piece as soon as it arrives.
net::Task<Status> pump_download(Exchange& x) {
  if (auto ok = co_await x.upstream.read_head(); !ok) {
    x.upstream_error = ok.error();
    co_return Status{};
  }
  // The client's request failed meanwhile: that failure is the answer, not the gateway's reaction to it.
  if (x.client_error) co_return Status{};
  net::Headers head = client_response_headers(x.upstream.headers());
  if (auto ok = co_await x.response.write_head(x.upstream.status(), std::move(head)); !ok) {
    x.client_error = ok.error();
    co_return Status{};
  }
  for (;;) {
    auto piece = co_await x.upstream.read_chunk();
    if (!piece) {
      x.upstream_error = piece.error();
      co_return Status{};
    }
    if (!*piece) break;
    if (auto ok = co_await x.response.write_chunk(**piece); !ok) {
      x.client_error = ok.error();
      co_return Status{};
    }
    x.metrics.response_bytes.inc((*piece)->size());
  }
  if (auto ok = co_await x.response.finish(); !ok) x.client_error = ok.error();
  co_return Status{};
}

net::Task<Status> send_text(net::ServerResponse& response, int status, std::string_view text,
                            std::string_view allow = {}) {
  net::Headers headers;
  headers.add("Content-Type", kTextPlain);
  if (!allow.empty()) headers.add("Allow", allow);
  co_return co_await response.send(status, std::move(headers), text);
}

class Relay {
 public:
  Relay(RelayOptions options, std::shared_ptr<services::Metrics> metrics)
      : options_(std::move(options)), metrics_(std::move(metrics)), m_(*metrics_) {}

  net::Task<Status> handle(net::ServerRequest& request, net::ServerResponse& response) {
    const std::string_view target = request.target();
    const std::string_view path = target.substr(0, target.find('?'));
    if (request.method() == "GET" && path == "/_health") co_return co_await services::send_health(response);
    if (request.method() == "GET" && path == "/metrics") co_return co_await services::send_metrics(response, *metrics_);
    if (request.method() != "POST") {
      m_.method_not_allowed.inc();
      const bool readable = path == "/_health" || path == "/metrics";
      co_return co_await send_text(response, 405, "method not allowed", readable ? "GET, POST" : "POST");
    }
    m_.in_flight.add(1);
    const auto started = Clock::now();
    Status result = co_await forward(request, response);
    m_.latency.observe(std::chrono::duration<double>(Clock::now() - started).count());
    m_.in_flight.add(-1);
    co_return result;
  }

 private:
  net::Task<Status> forward(net::ServerRequest& request, net::ServerResponse& response) {
    std::optional<uint64_t> length;
    if (!request.is_chunked()) length = request.content_length().value_or(0);
    auto headers = gateway_request_headers(request.headers(), length);
    if (!headers) {
      m_.unsupported_media_type.inc();
      co_return co_await send_text(response, 415, "unsupported media type");
    }

    auto upstream = co_await options_.client.open("POST", options_.gateway_url, std::move(*headers));
    if (!upstream) {
      spdlog::warn("relay: gateway unreachable: {}", upstream.error().to_string());
      m_.bad_gateway.inc();
      co_return co_await send_text(response, 502, "bad gateway");
    }

    Exchange x(request, response, **upstream, m_);
    (void)co_await net::run_concurrently(pump_upload(x), pump_download(x));

    if (response.finished()) {
      m_.ok.inc();
      co_return Status{};
    }
    if (!response.head_sent()) {
      if (x.client_error) {
        // The server answers 413 for an oversized body, 400 for a malformed one, nothing to a client that left.
        (x.client_error->code == ErrorCode::kLimitExceeded ? m_.too_large : m_.client_error).inc();
        co_return std::unexpected(*x.client_error);
      }
      if (x.upstream_error) {
        spdlog::warn("relay: gateway failed before its response head: {}", x.upstream_error->to_string());
        if (x.upstream_error->code == ErrorCode::kTimeout) {
          m_.gateway_timeout.inc();
          co_return co_await send_text(response, 504, "gateway timeout");
        }
        m_.bad_gateway.inc();
        co_return co_await send_text(response, 502, "bad gateway");
      }
      m_.upstream_error.inc();
      co_return make_error(ErrorCode::kInternal, "relay: exchange ended without a response");
    }
    // The response started: all that is left is to cut the connection, so the client sees a truncated message.
    if (x.client_error) {
      m_.client_error.inc();
      spdlog::debug("relay: client went away during the response: {}", x.client_error->to_string());
      co_return std::unexpected(*x.client_error);
    }
    m_.upstream_error.inc();
    const Error error = x.upstream_error.value_or(Error{ErrorCode::kInternal, "response incomplete"});
    spdlog::warn("relay: gateway failed during its response: {}", error.to_string());
    co_return std::unexpected(error);
  }

  RelayOptions options_;
  std::shared_ptr<services::Metrics> metrics_;
  RelayMetrics m_;
};

}  // namespace

std::optional<std::string_view> ohttp_request_media_type(std::string_view content_type) {
  const std::string_view value = trim_ows(content_type);
  if (net::iequals(value, kOhttpRequestMediaType)) return kOhttpRequestMediaType;
  if (net::iequals(value, kOhttpChunkedRequestMediaType)) return kOhttpChunkedRequestMediaType;
  return std::nullopt;
}

Result<net::Headers> gateway_request_headers(const net::Headers& client_headers,
                                             std::optional<uint64_t> content_length) {
  const auto types = client_headers.get_all("Content-Type");
  if (types.size() != 1) {
    return make_error(ErrorCode::kUnsupported, "the request needs exactly one Content-Type (an OHTTP request type)");
  }
  const auto media_type = ohttp_request_media_type(types.front());
  if (!media_type) return make_error(ErrorCode::kUnsupported, "Content-Type is not an OHTTP request type");
  net::Headers out;
  out.add("Content-Type", *media_type);
  if (*media_type == kOhttpChunkedRequestMediaType) out.add(kIncrementalField, "?1");
  if (content_length) out.add("Content-Length", std::to_string(*content_length));
  return out;
}

net::Headers client_response_headers(const net::Headers& gateway_headers) {
  net::Headers out;
  if (auto type = gateway_headers.get("Content-Type")) out.add("Content-Type", *type);
  if (!gateway_headers.contains("Transfer-Encoding")) {
    if (auto length = gateway_headers.get("Content-Length")) out.add("Content-Length", *length);
  }
  return out;
}

net::Handler make_relay_handler(RelayOptions options, std::shared_ptr<services::Metrics> metrics) {
  auto relay = std::make_shared<Relay>(std::move(options), std::move(metrics));
  return [relay](net::ServerRequest& request, net::ServerResponse& response) -> net::Task<Status> {
    co_return co_await relay->handle(request, response);
  };
}

}  // namespace openpcc::relay
