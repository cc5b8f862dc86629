#include "services/gateway/gateway_http.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <utility>
#include <variant>

#include "common/secure.h"
#include "net/headers.h"
#include "services/common/key_files.h"
#include "services/gateway/gateway_routes.h"
#include "transparency/bundle.h"
#include "wire/bhttp.h"
#include "wire/ohttp.h"
#include "wire/ohttp_error.h"

namespace openpcc::gateway {
namespace {

namespace bhttp = wire::bhttp;
namespace ohttp = wire::ohttp;
using net::Task;
using ohttp::OhttpError;
using ohttp::OhttpErrorCode;

using Clock = std::chrono::steady_clock;

enum class Outcome : size_t { kOk, kKeyError, kRequestError, kUpstreamError };
constexpr std::array<std::string_view, 4> kOutcomeNames{"ok", "key_error", "request_error", "upstream_error"};

struct GatewayMetrics {
  std::array<services::Counter*, 4> requests{};
  std::array<services::Counter*, 2> upstream{};  // by Upstream
  services::Gauge* in_flight = nullptr;
  services::Histogram* latency = nullptr;
};

struct Shared {
  std::shared_ptr<const GatewayContext> context;
  ohttp::KeyFinder finder;
  GatewayMetrics metrics;
};

void wipe(Bytes& bytes) {
  if (!bytes.empty()) secure_wipe(bytes.data(), bytes.size());
  bytes.clear();
}

std::string_view path_of(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) return target.substr(0, q);
  return target;
}

Task<Status> send_text(net::ServerResponse& res, int status, std::string_view text) {
  net::Headers headers;
  headers.set("Content-Type", "text/plain; charset=utf-8");
  co_return co_await res.send(status, std::move(headers), text);
}

// Inner header or trailer fields as upstream request fields: false if one cannot be written as an HTTP/1.1 field
// (bhttp allows control characters that HTTP/1.1 forbids).
bool to_upstream_fields(const bhttp::Fields& fields, net::Headers& out) {
  net::Headers all;
  for (const auto& f : fields) {
    if (!net::is_valid_field_name(f.name) || !net::is_valid_field_value(f.value)) return false;
    all.add(f.name, f.value);
  }
  out = net::without_hop_by_hop(all, /*drop_content_length=*/true);
  out.remove("Host");
  out.remove("Expect");
  return true;
}

// Upstream response fields as inner BHTTP fields. Fields BHTTP cannot carry (values with edge whitespace or bytes it
// refuses) are left out rather than failing the response.
bhttp::Fields to_inner_fields(const net::Headers& headers, bool drop_framing) {
  const net::Headers kept = drop_framing ? net::without_hop_by_hop(headers, /*drop_content_length=*/true) : headers;
  bhttp::Fields out;
  for (const auto& [name, value] : kept) {
    if (!bhttp::is_valid_field_name(name) || !bhttp::is_valid_field_value(value)) continue;
    out.push_back(bhttp::Field{name, value});
  }
  return out;
}

// Writes an inner response as a chunked OHTTP response: the head at once, then every body piece as it comes.
class ChunkedResponder {
 public:
  static Result<ChunkedResponder> create(const wire::ResponseSecrets& secrets) {
    auto context = secrets.context(wire::Chunking::kChunked);
    if (!context) return std::unexpected(context.error());
    wire::ChunkSealOptions options;
    options.max_chunk_plaintext = kResponseChunkPlaintext;
    options.fixed_chunk_plaintext = 0;  // never hold a piece back to fill a chunk
    auto sealer = context->chunked_sealer(options);
    if (!sealer) return std::unexpected(sealer.error());
    return ChunkedResponder(std::move(*sealer));
  }

  Task<Status> begin(net::ServerResponse& res, const bhttp::ResponseHead& head) {
    Bytes plain;
    if (auto ok = encoder_.begin_response(head, plain); !ok) co_return ok;
    Bytes out;
    auto sealed = sealer_.write(plain, out);
    wipe(plain);
    if (!sealed) co_return sealed;
    net::Headers headers;
    headers.set("Content-Type", ohttp::kChunkedResponseMediaType);
    if (auto ok = co_await res.write_head(200, std::move(headers)); !ok) co_return ok;
    co_return co_await res.write_chunk(out);
  }

  Task<Status> body(net::ServerResponse& res, ByteSpan data) {
    Bytes plain;
    Bytes out;
    if (auto ok = encoder_.body(data, plain); !ok) co_return ok;
    auto sealed = sealer_.write(plain, out);
    wipe(plain);
    if (!sealed) co_return sealed;
    co_return co_await res.write_chunk(out);
  }

  Task<Status> end(net::ServerResponse& res, const bhttp::Fields& trailers) {
    Bytes plain;
    Bytes out;
    if (auto ok = encoder_.finish(trailers, plain); !ok) co_return ok;
    auto sealed = sealer_.write(plain, out);
    wipe(plain);
    if (!sealed) co_return sealed;
    if (auto ok = sealer_.finish(out); !ok) co_return ok;
    if (auto ok = co_await res.write_chunk(out); !ok) co_return ok;
    co_return co_await res.finish();
  }

 private:
  explicit ChunkedResponder(wire::ChunkedResponseSealer sealer) : sealer_(std::move(sealer)) {}
  wire::ChunkedResponseSealer sealer_;
  bhttp::StreamEncoder encoder_;
};

// What the upload and the download of one streamed forward tell each other (both run on the connection's strand).
struct PumpState {
  std::optional<OhttpError> request_error;  // the client's request failed after its head was forwarded
  bool upstream_broken = false;             // writing to the upstream failed
};

// One encapsulated request, from its first byte to the end of its response.
class OhttpExchange {
 public:
  OhttpExchange(const Shared& shared, net::ServerRequest& req, net::ServerResponse& res, wire::Chunking chunking)
      : shared_(shared),
        context_(*shared.context),
        req_(req),
        res_(res),
        chunking_(chunking),
        decoder_(chunking, shared.finder, shared.context->request_limits),
        upstream_client_(shared.context->upstream) {}

  Outcome outcome() const { return outcome_; }

  Task<Status> run() {
    auto first = co_await next_event();
    if (!first) co_return co_await fail(first.error());
    auto* head = std::get_if<bhttp::RequestHead>(&*first);
    if (head == nullptr) {
      OhttpError e{OhttpErrorCode::kRequestDecoding, Error{ErrorCode::kDecode, "gateway: no request head"}};
      co_return co_await fail(e);
    }
    const InnerRoute route = route_inner_request(*head);
    switch (route.kind) {
      case InnerRoute::Kind::kHostRefused: {
        OhttpError e{OhttpErrorCode::kInvalidRequest,
                     Error{ErrorCode::kInvalidArgument, "gateway: inner request for a host that is not allowed"}};
        co_return co_await fail(e);
      }
      case InnerRoute::Kind::kPing:
        co_return co_await answer_locally(200, "gateway");
      case InnerRoute::Kind::kNotFound:
        outcome_ = Outcome::kRequestError;
        co_return co_await answer_locally(404, "not found\n");
      case InnerRoute::Kind::kForward:
        break;
    }
    co_return co_await forward(std::move(*head), route.upstream);
  }

 private:
  // ---- reading the client's request ----

  Task<ohttp::OhttpStatus> read_more() {
    auto piece = co_await req_.read_chunk();
    if (!piece) {
      client_error_ = piece.error();
      co_return ohttp::make_ohttp_error(OhttpErrorCode::kRequestIo, piece.error());
    }
    if (!*piece) co_return decoder_.finish();
    co_return decoder_.feed(**piece);
  }

  Task<ohttp::OhttpResult<InnerEvent>> next_event() {
    for (;;) {
      auto event = decoder_.next();
      if (!event) co_return std::unexpected(event.error());
      if (*event) co_return std::move(**event);
      if (decoder_.ended()) {
        co_return ohttp::make_ohttp_error(OhttpErrorCode::kRequestDecoding, ErrorCode::kInternal,
                                          "gateway: no event after the end");
      }
      if (auto ok = co_await read_more(); !ok) co_return std::unexpected(ok.error());
    }
  }

  // ---- answers of the gateway itself ----

  // A request-side failure before the response started: the problem answer for its taxonomy code, or — for the
  // client's own transport failures — the HTTP server's answer.
  Task<Status> fail(const OhttpError& error) {
    if (ohttp::is_key_error(error.code)) {
      outcome_ = Outcome::kKeyError;
    } else if (outcome_ != Outcome::kUpstreamError) {
      outcome_ = Outcome::kRequestError;
    }
    if (client_error_) co_return std::unexpected(*client_error_);
    if (res_.head_sent()) co_return std::unexpected(error.error);
    spdlog::debug("gateway: request refused: {}", error.to_string());
    const ohttp::ProblemResponse problem = ohttp::problem_response(error.code);
    net::Headers headers;
    headers.set("Content-Type", problem.content_type);
    co_return co_await res_.send(problem.status, std::move(headers), std::string_view(problem.body));
  }

  Task<Status> fail_response(OhttpErrorCode code, const Error& error) {
    spdlog::warn("gateway: cannot encapsulate the response: {}", error.to_string());
    if (res_.head_sent()) co_return std::unexpected(error);
    const ohttp::ProblemResponse problem = ohttp::problem_response(code);
    net::Headers headers;
    headers.set("Content-Type", problem.content_type);
    co_return co_await res_.send(problem.status, std::move(headers), std::string_view(problem.body));
  }

  // An inner response made here (ping, 404, 502), framed like the request.
  Task<Status> answer_locally(int status, std::string_view text) {
    const wire::ResponseSecrets* secrets = decoder_.response_secrets();
    if (secrets == nullptr) {
      co_return co_await fail_response(OhttpErrorCode::kResponseEncryption,
                                       Error{ErrorCode::kInternal, "no response secrets"});
    }
    bhttp::ResponseHead head;
    head.status = static_cast<uint16_t>(status);
    head.headers.push_back(bhttp::Field{"content-type", "text/plain; charset=utf-8"});
    if (chunking_ == wire::Chunking::kChunked) {
      auto responder = ChunkedResponder::create(*secrets);
      if (!responder) co_return co_await fail_response(OhttpErrorCode::kResponseEncryption, responder.error());
      if (auto ok = co_await responder->begin(res_, head); !ok) co_return ok;
      if (auto ok = co_await responder->body(res_, as_bytes(text)); !ok) co_return ok;
      const bhttp::Fields no_trailers;
      co_return co_await responder->end(res_, no_trailers);
    }
    bhttp::Response response;
    static_cast<bhttp::ResponseHead&>(response) = std::move(head);
    response.body = to_bytes(text);
    co_return co_await send_whole(response);
  }

  Task<Status> send_whole(const bhttp::Response& response) {
    auto encoded = bhttp::encode(response);
    if (!encoded) co_return co_await fail_response(OhttpErrorCode::kResponseEncoding, encoded.error());
    auto context = decoder_.response_secrets()->context(wire::Chunking::kUnchunked);
    if (!context) {
      wipe(*encoded);
      co_return co_await fail_response(OhttpErrorCode::kResponseEncryption, context.error());
    }
    auto sealed = context->seal(*encoded);
    wipe(*encoded);
    if (!sealed) co_return co_await fail_response(OhttpErrorCode::kResponseEncryption, sealed.error());
    net::Headers headers;
    headers.set("Content-Type", ohttp::kResponseMediaType);
    co_return co_await res_.send(200, std::move(headers), ByteSpan(*sealed));
  }

  Task<Status> upstream_failed(const Error& error) {
    outcome_ = Outcome::kUpstreamError;
    spdlog::warn("gateway: {} unavailable: {}", upstream_name(upstream_), error.to_string());
    if (res_.head_sent()) co_return std::unexpected(error);
    co_return co_await answer_locally(502, "bad gateway\n");
  }

  // ---- forwarding ----

  const std::string& base_url() const {
    return upstream_ == Upstream::kBank ? context_.bank_url : context_.router_url;
  }

  Task<Status> forward(bhttp::RequestHead head, Upstream upstream) {
    upstream_ = upstream;
    net::Headers headers;
    if (!to_upstream_fields(head.headers, headers)) {
      OhttpError e{OhttpErrorCode::kInvalidRequest,
                   Error{ErrorCode::kInvalidArgument, "gateway: an inner header field cannot be forwarded"}};
      co_return co_await fail(e);
    }
    const std::string url = base_url() + head.path;

    // What is already in hand: if the whole inner request is, it goes upstream with a Content-Length; if its body
    // is still arriving, it is streamed. Wait for the first body bytes (or the end) before dialling.
    Bytes body;
    bhttp::Fields trailers;
    bool trailers_seen = false;
    bool complete = false;
    while (!complete) {
      auto event = decoder_.next();
      if (!event) co_return co_await fail(event.error());
      if (!*event) {
        if (!body.empty() && !trailers_seen) break;
        if (auto ok = co_await read_more(); !ok) co_return co_await fail(ok.error());
        continue;
      }
      if (auto* data = std::get_if<InnerBody>(&**event)) {
        append(body, data->data);
        wipe(data->data);
      } else if (auto* t = std::get_if<InnerTrailers>(&**event)) {
        trailers = std::move(t->fields);
        trailers_seen = true;
      } else if (std::holds_alternative<InnerEnd>(**event)) {
        complete = true;
      }
    }
    shared_.metrics.upstream[static_cast<size_t>(upstream)]->inc();
    Status result;
    if (complete) {
      result = co_await forward_whole(head.method, url, std::move(headers), std::move(body), trailers);
    } else {
      result = co_await forward_streaming(head.method, url, std::move(headers), std::move(body));
    }
    co_return result;
  }

  Task<Status> forward_whole(const std::string& method, const std::string& url, net::Headers headers, Bytes body,
                             const bhttp::Fields& trailers) {
    std::unique_ptr<net::ClientStream> stream;
    if (trailers.empty()) {
      net::ClientRequest request(method, url, std::move(body), std::move(headers));
      auto sent = co_await upstream_client_.send(std::move(request));
      if (!sent) co_return co_await upstream_failed(sent.error());
      stream = std::move(*sent);
    } else {
      net::Headers upstream_trailers;
      if (!to_upstream_fields(trailers, upstream_trailers)) {
        OhttpError e{OhttpErrorCode::kInvalidRequest,
                     Error{ErrorCode::kInvalidArgument, "gateway: an inner trailer field cannot be forwarded"}};
        co_return co_await fail(e);
      }
      auto opened = co_await upstream_client_.open(method, url, std::move(headers));
      if (!opened) co_return co_await upstream_failed(opened.error());
      stream = std::move(*opened);
      Status sent = co_await stream->write_chunk(body);
      wipe(body);
      if (sent) sent = co_await stream->finish(upstream_trailers);
      auto head = co_await stream->read_head();
      if (!head) co_return co_await upstream_failed(head.error());
    }
    co_return co_await relay_response(*stream, nullptr);
  }

  Task<Status> forward_streaming(const std::string& method, const std::string& url, net::Headers headers,
                                 Bytes first_body) {
    auto opened = co_await upstream_client_.open(method, url, std::move(headers));
    if (!opened) {
      wipe(first_body);
      co_return co_await upstream_failed(opened.error());
    }
    net::ClientStream& stream = **opened;
    PumpState state;
    Status result = co_await net::run_concurrently(upload(stream, state, std::move(first_body)),
                                                   download(stream, state));
    if (state.request_error) {
      if (!res_.head_sent()) co_return co_await fail(*state.request_error);
      co_return std::unexpected(state.request_error->error);
    }
    co_return result;
  }

  // The rest of the inner request, upstream as it opens. Never finishes the upstream request unless the client's
  // request ended and authenticated (InnerEnd); when it fails instead, the upstream connection is aborted, so that
  // the upstream stops waiting for the rest at once (not after its body read timeout) and the download side stops
  // waiting for an answer.
  Task<Status> upload(net::ClientStream& stream, PumpState& state, Bytes first_body) {
    Status written = co_await stream.write_chunk(first_body);
    wipe(first_body);
    if (!written) {
      state.upstream_broken = true;
      co_return Status{};
    }
    net::Headers trailers;
    for (;;) {
      auto event = co_await next_event();
      if (!event) {
        state.request_error = event.error();
        stream.abort();
        co_return Status{};
      }
      if (auto* data = std::get_if<InnerBody>(&*event)) {
        written = co_await stream.write_chunk(data->data);
        wipe(data->data);
        if (!written) {
          state.upstream_broken = true;
          co_return Status{};
        }
      } else if (auto* t = std::get_if<InnerTrailers>(&*event)) {
        if (!to_upstream_fields(t->fields, trailers)) {
          state.request_error = OhttpError{
              OhttpErrorCode::kInvalidRequest,
              Error{ErrorCode::kInvalidArgument, "gateway: an inner trailer field cannot be forwarded"}};
          stream.abort();
          co_return Status{};
        }
      } else if (std::holds_alternative<InnerEnd>(*event)) {
        if (!co_await stream.finish(trailers)) state.upstream_broken = true;
        co_return Status{};
      }
    }
  }

  Task<Status> download(net::ClientStream& stream, PumpState& state) {
    auto head = co_await stream.read_head();
    if (state.request_error) co_return Status{};  // the request's error is answered instead
    if (!head) co_return co_await upstream_failed(head.error());
    co_return co_await relay_response(stream, &state);
  }

  // The upstream's response (head already read) back to the client, encapsulated.
  Task<Status> relay_response(net::ClientStream& stream, const PumpState* state) {
    const int status = stream.status();
    if (!bhttp::is_final_status(static_cast<uint64_t>(status))) {
      Error e{ErrorCode::kDecode, "upstream answered status " + std::to_string(status)};
      co_return co_await upstream_failed(e);
    }
    const net::Headers& up = stream.headers();
    bhttp::ResponseHead head;
    head.status = static_cast<uint16_t>(status);
    head.headers = to_inner_fields(up, /*drop_framing=*/true);
    const bool chunked =
        chunking_ == wire::Chunking::kChunked || !up.contains("Content-Length") || up.contains("Trailer");

    if (!chunked) {
      Bytes body;
      for (;;) {
        auto piece = co_await stream.read_chunk();
        if (!piece) co_return co_await upstream_failed(piece.error());
        if (!*piece) break;
        if (body.size() + (*piece)->size() > context_.max_response_bytes) {
          wipe(body);
          Error e{ErrorCode::kLimitExceeded, "upstream response over max_response_bytes"};
          co_return co_await upstream_failed(e);
        }
        append(body, **piece);
      }
      bhttp::Response response;
      static_cast<bhttp::ResponseHead&>(response) = std::move(head);
      response.body = std::move(body);
      Status sent = co_await send_whole(response);
      wipe(response.body);
      co_return sent;
    }

    auto responder = ChunkedResponder::create(*decoder_.response_secrets());
    if (!responder) co_return co_await fail_response(OhttpErrorCode::kResponseEncryption, responder.error());
    if (auto ok = co_await responder->begin(res_, head); !ok) co_return ok;
    for (;;) {
      if (state && state->request_error) co_return std::unexpected(state->request_error->error);
      auto piece = co_await stream.read_chunk();
      if (!piece) {
        // Cut the client's connection: without the final chunk the client sees a truncated message.
        outcome_ = Outcome::kUpstreamError;
        spdlog::warn("gateway: {} failed mid-response: {}", upstream_name(upstream_), piece.error().to_string());
        co_return std::unexpected(piece.error());
      }
      if (!*piece) break;
      Status written = co_await responder->body(res_, **piece);
      wipe(**piece);
      if (!written) co_return written;
    }
    if (state && state->request_error) co_return std::unexpected(state->request_error->error);
    const bhttp::Fields trailers = to_inner_fields(stream.trailers(), /*drop_framing=*/false);
    co_return co_await responder->end(res_, trailers);
  }

  const Shared& shared_;
  const GatewayContext& context_;
  net::ServerRequest& req_;
  net::ServerResponse& res_;
  wire::Chunking chunking_;
  InnerRequestDecoder decoder_;
  net::Client upstream_client_;  // a copy: the client's calls are not const
  Upstream upstream_ = Upstream::kBank;
  Outcome outcome_ = Outcome::kOk;
  std::optional<Error> client_error_;
};

Task<Status> serve_keys(const Shared& shared, net::ServerResponse& res) {
  const auto configs = current_key_configs(*shared.context->keys, shared.context->clock());
  if (configs.empty()) co_return co_await send_text(res, 503, "no current OHTTP keys\n");
  auto encoded = ohttp::encode_key_configs(configs);
  if (!encoded) {
    spdlog::error("gateway: cannot encode the key configs: {}", encoded.error().to_string());
    co_return co_await send_text(res, 500, "internal error\n");
  }
  net::Headers headers;
  headers.set("Content-Type", ohttp::kKeysMediaType);
  co_return co_await res.send(200, std::move(headers), ByteSpan(*encoded));
}

Task<Status> serve_statement(const Shared& shared, net::ServerResponse& res) {
  const auto& path = shared.context->key_statement;
  if (!path) co_return co_await send_text(res, 404, "no key statement\n");
  auto bytes = services::read_public_file(*path);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::kNotFound) co_return co_await send_text(res, 404, "no key statement\n");
    spdlog::error("gateway: key statement {}: {}", path->string(), bytes.error().to_string());
    co_return co_await send_text(res, 500, "internal error\n");
  }
  net::Headers headers;
  headers.set("Content-Type", transparency::kTransparencyBundleMediaType);
  co_return co_await res.send(200, std::move(headers), std::string_view(*bytes));
}

Task<Status> handle(std::shared_ptr<const Shared> shared, net::ServerRequest& req, net::ServerResponse& res) {
  const std::string_view path = path_of(req.target());
  if (req.method() == "GET") {
    if (path == "/_health") co_return co_await services::send_health(res);
    if (path == "/metrics") co_return co_await services::send_metrics(res, *shared->context->metrics);
    if (path == kKeysPath) co_return co_await serve_keys(*shared, res);
    if (path == kStatementPath) co_return co_await serve_statement(*shared, res);
    co_return co_await send_text(res, 404, "not found\n");
  }
  if (req.method() != "POST") {
    net::Headers headers;
    headers.set("Content-Type", "text/plain; charset=utf-8");
    headers.set("Allow", "GET, POST");
    co_return co_await res.send(405, std::move(headers), std::string_view("method not allowed\n"));
  }

  const auto started = Clock::now();
  const GatewayMetrics& metrics = shared->metrics;
  metrics.in_flight->add(1);
  Outcome outcome = Outcome::kRequestError;
  Status result;
  auto content_type = req.headers().get("Content-Type");
  auto chunking = content_type ? ohttp::request_chunking(*content_type) : std::nullopt;
  if (!chunking) {
    const ohttp::ProblemResponse problem = ohttp::problem_response(OhttpErrorCode::kInvalidRequestContentType);
    net::Headers headers;
    headers.set("Content-Type", problem.content_type);
    result = co_await res.send(problem.status, std::move(headers), std::string_view(problem.body));
  } else {
    OhttpExchange exchange(*shared, req, res, *chunking);
    result = co_await exchange.run();
    outcome = exchange.outcome();
  }
  metrics.in_flight->add(-1);
  metrics.requests[static_cast<size_t>(outcome)]->inc();
  metrics.latency->observe(std::chrono::duration<double>(Clock::now() - started).count());
  co_return result;
}

}  // namespace

net::Handler make_gateway_handler(std::shared_ptr<const GatewayContext> context) {
  auto shared = std::make_shared<Shared>();
  shared->context = context;
  shared->finder = rotating_key_finder(context->keys, context->clock);
  services::Metrics& m = *context->metrics;
  for (size_t i = 0; i < kOutcomeNames.size(); ++i) {
    shared->metrics.requests[i] = &m.counter("requests_total", "Encapsulated requests by outcome",
                                             {{"outcome", std::string(kOutcomeNames[i])}});
  }
  for (Upstream u : {Upstream::kBank, Upstream::kRouter}) {
    shared->metrics.upstream[static_cast<size_t>(u)] =
        &m.counter("upstream_requests_total", "Inner requests forwarded, by upstream",
                   {{"upstream", std::string(upstream_name(u))}});
  }
  shared->metrics.in_flight = &m.gauge("requests_in_flight", "Encapsulated requests being handled");
  shared->metrics.latency =
      &m.histogram("request_seconds", "Time from an encapsulated request's head to the end of its response",
                   services::kLatencyBuckets);
  std::shared_ptr<const Shared> frozen = shared;
  return [frozen](net::ServerRequest& req, net::ServerResponse& res) -> Task<Status> {
    return handle(frozen, req, res);
  };
}

}  // namespace openpcc::gateway
