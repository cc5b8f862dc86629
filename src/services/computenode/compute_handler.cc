#include "services/computenode/compute_handler.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "attest/tpm/tpm_rek_key.h"
#include "common/bytes.h"
#include "common/secure.h"
#include "currency/value.h"
#include "services/common/proto_http.h"
#include "services/computenode/inner_request.h"
#include "services/computenode/refund.h"
#include "services/computenode/response_padding.h"
#include "services/engine/usage_meter.h"
#include "wire/bhttp_encoder.h"
#include "wire/compute_request.h"

namespace openpcc::computenode {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Request outcomes: the only label values of requests_total.
constexpr std::string_view kOutcomeOk = "ok";
constexpr std::string_view kOutcomePing = "ping";
constexpr std::string_view kOutcomeBadRequest = "bad_request";
constexpr std::string_view kOutcomeDecapsulation = "decapsulation_error";
constexpr std::string_view kOutcomeTpmPolicy = "tpm_policy_error";
constexpr std::string_view kOutcomeValidation = "validation_error";
constexpr std::string_view kOutcomeEngineUnavailable = "engine_unavailable";
constexpr std::string_view kOutcomeEngineStatus = "engine_error_status";
constexpr std::string_view kOutcomeEngineStream = "engine_stream_error";
constexpr std::string_view kOutcomeClientGone = "client_gone";
constexpr std::string_view kOutcomeInternal = "internal_error";

class NodeMetrics {
 public:
  explicit NodeMetrics(services::Metrics& metrics)
      : metrics_(metrics),
        in_flight_(metrics.gauge("requests_in_flight", "Compute requests being handled")),
        decap_(metrics.histogram("decapsulation_seconds", "TPM decapsulation of the request key (ECDH_ZGen)",
                                 services::kLatencyBuckets)),
        first_byte_(metrics.histogram("engine_first_byte_seconds",
                                      "From sending a request to the engine to its first body byte",
                                      services::kLatencyBuckets)),
        duration_(metrics.histogram("request_seconds", "Whole compute requests", services::kLatencyBuckets)),
        input_tokens_(metrics.counter("input_tokens_total", "Prompt tokens the engine reported")),
        output_tokens_(metrics.counter("output_tokens_total", "Generated tokens the engine reported")) {
    for (auto outcome : {kOutcomeOk, kOutcomePing, kOutcomeBadRequest, kOutcomeDecapsulation, kOutcomeTpmPolicy,
                         kOutcomeValidation, kOutcomeEngineUnavailable, kOutcomeEngineStatus, kOutcomeEngineStream,
                         kOutcomeClientGone, kOutcomeInternal}) {
      outcome_counter(outcome);
    }
  }

  void outcome(std::string_view outcome) { outcome_counter(outcome).inc(); }

  services::Metrics& metrics_;
  services::Gauge& in_flight_;
  services::Histogram& decap_;
  services::Histogram& first_byte_;
  services::Histogram& duration_;
  services::Counter& input_tokens_;
  services::Counter& output_tokens_;

 private:
  services::Counter& outcome_counter(std::string_view outcome) {
    return metrics_.counter("requests_total", "Compute requests by outcome", {{"outcome", std::string(outcome)}});
  }
};

struct RouterHeaders {
  wire::Chunking chunking = wire::Chunking::kUnchunked;
  Bytes encapsulated_key;
  int64_t credit_amount = 0;
};

Result<RouterHeaders> parse_router_headers(const net::Headers& headers) {
  RouterHeaders out;
  const auto content_type = headers.get("Content-Type");
  const auto chunking = content_type ? wire::compute::request_chunking(*content_type) : std::nullopt;
  if (!chunking) return make_error(ErrorCode::kInvalidArgument, "unsupported Content-Type");
  out.chunking = *chunking;

  const auto key = headers.get(kEncapsulatedKeyHeader);
  if (!key || key->empty() || key->size() > kMaxEncapsulatedKeyChars) {
    return make_error(ErrorCode::kInvalidArgument, "missing or oversized X-Encapsulated-Key");
  }
  auto key_bytes = from_base64(*key);
  if (!key_bytes) return make_error(ErrorCode::kInvalidArgument, "X-Encapsulated-Key is not standard base64");
  out.encapsulated_key = std::move(*key_bytes);

  const auto amount = headers.get(kCreditAmountHeader);
  int64_t value = 0;
  if (!amount || amount->empty() || amount->size() > 19 ||
      std::from_chars(amount->data(), amount->data() + amount->size(), value).ptr != amount->data() + amount->size() ||
      value < 1 || value > currency::kMaxAmount) {
    return make_error(ErrorCode::kInvalidArgument, "X-Credit-Amount must be a decimal amount > 0");
  }
  out.credit_amount = value;
  return out;
}

// The encrypted inner response: a BHTTP indeterinate-length response, sealed piece by piece as a chunked compute
// response. Every call appends ciphertext to `out`, ready to be written at once.
class SealedResponse {
 public:
  static Result<SealedResponse> create(const wire::compute::RequestReceiver& receiver) {
    auto context = receiver.response_secrets().context(wire::Chunking::kChunked);
    if (!context) return std::unexpected(context.error());
    wire::ChunkSealOptions options;
    options.max_chunk_plaintext = kMaxResponseChunkPlaintext;
    options.fixed_chunk_plaintext = 0;  // never hold a piece back to fill a chunk
    auto sealer = context->chunked_sealer(options);
    if (!sealer) return std::unexpected(sealer.error());
    return SealedResponse(std::move(*sealer));
  }

  SealedResponse(SealedResponse&&) = default;
  ~SealedResponse() { wipe(); }

  Status head(int status, std::string_view content_type, Bytes& out) {
    wire::bhttp::ResponseHead head;
    head.status = static_cast<uint16_t>(status);
    head.headers.push_back(wire::bhttp::Field{"content-type", std::string(content_type)});
    if (auto ok = sealer_.begin(out); !ok) return ok;
    if (auto ok = encoder_.begin_response(head, plain_); !ok) return ok;
    return seal(out);
  }

  Status body(ByteSpan data, Bytes& out) {
    if (auto ok = encoder_.body(data, plain_); !ok) return ok;
    return seal(out);
  }

  // The end of the BHTTP message and the final chunk.
  Status end(Bytes& out) {
    if (auto ok = encoder_.finish({}, plain_); !ok) return ok;
    if (auto ok = seal(out); !ok) return ok;
    return sealer_.finish(out);
  }

 private:
  explicit SealedResponse(wire::ChunkStreamSealer sealer) : sealer_(std::move(sealer)) {}

  Status seal(Bytes& out) {
    Status sealed = sealer_.write(plain_, out);
    wipe();
    return sealed;
  }
  void wipe() {
    if (!plain_.empty()) secure_wipe(plain_.data(), plain_.size());
    plain_.clear();
  }

  wire::ChunkStreamSealer sealer_;
  wire::bhttp::StreamEncoder encoder_;
  Bytes plain_;  // BHTTP bytes of the current piece
};

std::string engine_error_json(std::string_view code, std::string_view message) {
  nlohmann::json body = {{"code", code}, {"error", "Inference Engine Error"}, {"message", message}};
  return body.dump();
}

net::Task<Status> send_text(net::ServerResponse& res, int status, std::string_view text) {
  net::Headers headers;
  headers.set("Content-Type", "text/plain; charset=utf-8");
  co_return co_await res.send(status, std::move(headers), text);
}

net::Task<Status> send_bad_request(net::ServerResponse& res, std::string message) {
  Error error{ErrorCode::kInvalidArgument, std::move(message)};
  co_return co_await services::send_error(res, error, 400);
}

net::Headers response_head() {
  net::Headers headers;
  headers.set("Content-Type", wire::compute::kChunkedResponseMediaType);
  headers.set("Trailer", kRefundAmountTrailer);
  return headers;
}

net::Headers refund_trailers(const std::optional<currency::Value>& refund) {
  net::Headers trailers;
  if (refund && refund->amount() > 0) trailers.set(kRefundAmountTrailer, refund_trailer_value(*refund));
  return trailers;
}

// A complete encrypted inner response with a JSON body (a refused request, an unreachable engine) and the whole
// credit back.
net::Task<Status> send_inner_json(net::ServerResponse& res, SealedResponse& sealed, int status, std::string json,
                                  int64_t credit_amount) {
  Bytes out;
  Status built = sealed.head(status, "application/json", out);
  if (built) built = sealed.body(as_bytes(json), out);
  if (built) built = sealed.end(out);
  secure_wipe(json.data(), json.size());
  if (!built) co_return built;
  auto refund = full_refund(credit_amount);
  if (!refund) co_return std::unexpected(refund.error());
  if (auto ok = co_await res.write_head(200, response_head()); !ok) co_return ok;
  if (auto ok = co_await res.write_chunk(out); !ok) co_return ok;
  const net::Headers trailers = refund_trailers(*refund);
  co_return co_await res.finish(trailers);
}

// Reads the whole encrypted body into `reader`. A read error (network, limits) is returned as is; a decryption or
// decoding error is kept in `unreadable` so that the caller can answer it.
net::Task<Status> read_body(net::ServerRequest& req, InnerRequestReader& reader, std::optional<Error>& unreadable) {
  for (;;) {
    auto piece = co_await req.read_chunk();
    if (!piece) co_return std::unexpected(piece.error());
    if (!*piece) co_return Status{};
    if (unreadable) continue;  // drain: the answer is decided, but the router is still sending
    if (auto fed = reader.feed(**piece); !fed) unreadable = fed.error();
  }
}

struct StreamResult {
  std::string_view outcome = kOutcomeOk;
  std::optional<currency::Value> refund;
  bool cut = false;  // the encrypted stream was left without its final chunk
};

net::Task<Status> handle_compute(ComputeNodeContext& ctx, NodeMetrics& metrics, net::ServerRequest& req,
                                 net::ServerResponse& res) {
  const Clock::time_point started = Clock::now();
  auto router = parse_router_headers(req.headers());
  if (!router) {
    metrics.outcome(kOutcomeBadRequest);
    co_return co_await send_bad_request(res, router.error().message);
  }
  const int64_t credit = router->credit_amount;

  // The one TPM operation, off the network threads.
  const Clock::time_point decap_started = Clock::now();
  const Bytes& key = router->encapsulated_key;
  const wire::Chunking chunking = router->chunking;
  const crypto::KemPrivateKey& rek = ctx.rek;
  auto receiver = co_await ctx.tpm_pool.run(
      [&key, &rek, chunking] { return wire::compute::RequestReceiver::unwrap_key(key, rek, chunking); });
  metrics.decap_.observe(seconds_since(decap_started));
  if (!receiver) {
    if (receiver.error().message.find(tpm::kRekPolicyError) != std::string::npos) {
      // The PCRs no longer hold the values the REK is bound to: this node can answer nothing any more.
      if (ctx.healthy.exchange(false)) {
        spdlog::error("computenode: the TPM refuses the REK: {}", receiver.error().to_string());
      }
      metrics.outcome(kOutcomeTpmPolicy);
      Error unavailable{ErrorCode::kUnavailable, "node unavailable"};
      co_return co_await services::send_error(res, unavailable, 503);
    }
    spdlog::info("computenode: decapsulation failed: {}", receiver.error().to_string());
    metrics.outcome(kOutcomeDecapsulation);
    co_return co_await send_bad_request(res, std::string(kDecapsulationFailed));
  }

  InnerRequestReader reader(*receiver, kMaxPromptBodyBytes);
  std::optional<Error> unreadable;
  if (auto ok = co_await read_body(req, reader, unreadable); !ok) co_return ok;
  std::optional<InnerRequest> inner;
  if (!unreadable) {
    auto finished = reader.finish();
    if (finished) {
      inner.emplace(std::move(*finished));
    } else {
      unreadable = finished.error();
    }
  }
  if (unreadable) {
    spdlog::info("computenode: unreadable request body: {}", unreadable->to_string());
    metrics.outcome(kOutcomeDecapsulation);
    co_return co_await send_bad_request(res, std::string(kDecapsulationFailed));
  }

  auto sealed = SealedResponse::create(*receiver);
  if (!sealed) {
    metrics.outcome(kOutcomeInternal);
    co_return std::unexpected(sealed.error());
  }

  auto validated = ctx.validator.validate(inner->head, inner->body);
  inner.reset();  // wiped
  if (!validated) {
    spdlog::debug("computenode: request refused: {} {}", validated.error().status, validated.error().code);
    metrics.outcome(kOutcomeValidation);
    co_return co_await send_inner_json(res, *sealed, validated.error().status,
                                       validation_error_json(validated.error()), credit);
  }

  if (!ctx.engine.serves(validated->path)) {
    // E.g. an Ollama path on an OpenAI-compatible engine: the node does not translate between APIs.
    metrics.outcome(kOutcomeValidation);
    ValidationError unsupported{404, std::string(kErrUnsupportedEndpoint),
                                "this node's engine does not serve this path"};
    co_return co_await send_inner_json(res, *sealed, 404, validation_error_json(unsupported), credit);
  }

  // The engine gets its own copy of the body (it sends and drops it); ours is wiped with `validated`.
  engine::EngineRequest engine_request(validated->path, Bytes(validated->body.span().begin(),
                                                              validated->body.span().end()));
  validated->body = SecretBytes();
  const Clock::time_point engine_started = Clock::now();
  auto answer = co_await ctx.engine.generate(std::move(engine_request));
  if (!answer) {
    spdlog::warn("computenode: the engine failed before answering: {}", answer.error().to_string());
    metrics.outcome(kOutcomeEngineUnavailable);
    co_return co_await send_inner_json(res, *sealed, 502,
                                       engine_error_json("ErrEngineUnavailable", "the inference engine failed"),
                                       credit);
  }
  engine::EngineResponse& response = **answer;
  const int engine_status = response.status();

  Bytes out;
  if (auto ok = sealed->head(engine_status, response.content_type(), out); !ok) {
    metrics.outcome(kOutcomeInternal);
    co_return ok;
  }
  if (auto ok = co_await res.write_head(200, response_head()); !ok) {
    metrics.outcome(kOutcomeClientGone);
    co_return ok;
  }
  if (auto ok = co_await res.write_chunk(out); !ok) {
    metrics.outcome(kOutcomeClientGone);
    co_return ok;
  }

  engine::UsageMeter meter;
  ResponsePadder padder(response.content_type(), ctx.response_padding_block);
  Bytes padded;  // what the padder lets out of the engine's bytes: sealed at once
  StreamResult result;
  bool first = true;
  uint64_t body_bytes = 0;
  for (;;) {
    padded.clear();
    bool last = false;  // the answer ended, or was cut: what the padder still holds goes out with this round
    if (Clock::now() - started > ctx.request_timeout) {
      spdlog::warn("computenode: request timeout after {} body bytes", body_bytes);
      result.cut = true;
      last = true;
    } else if (auto piece = co_await response.read_chunk(); !piece) {
      spdlog::warn("computenode: the engine failed mid-answer: {}", piece.error().to_string());
      result.cut = true;
      last = true;
    } else if (!*piece) {
      last = true;
    } else {
      Bytes data = std::move(**piece);
      if (first) {
        metrics.first_byte_.observe(seconds_since(engine_started));
        first = false;
      }
      body_bytes += data.size();
      meter.feed(data);  // usage is read from the engine's own bytes, never the padded ones
      padder.feed(data, padded);
      secure_wipe(data.data(), data.size());
    }
    // Before a cut too: the client gets every byte the engine sent.
    if (last) padder.finish(padded);
    if (!padded.empty()) {  // empty: part of an event, less than a block, held until the event is complete
      out.clear();
      Status sealed_piece = sealed->body(padded, out);
      secure_wipe(padded.data(), padded.size());
      if (!sealed_piece) {
        metrics.outcome(kOutcomeInternal);
        co_return sealed_piece;
      }
      if (auto ok = co_await res.write_chunk(out); !ok) {
        metrics.outcome(kOutcomeClientGone);
        co_return ok;
      }
    }
    if (last) break;
  }
  meter.finish();
  const auto usage = meter.usage();
  if (usage) {
    metrics.input_tokens_.inc(static_cast<uint64_t>(usage->input_tokens));
    metrics.output_tokens_.inc(static_cast<uint64_t>(usage->output_tokens));
  }

  if (result.cut || engine_status < 200 || engine_status >= 300) {
    result.outcome = result.cut ? kOutcomeEngineStream : kOutcomeEngineStatus;
    auto refund = full_refund(credit);
    if (!refund) co_return std::unexpected(refund.error());
    result.refund = *refund;
  } else {
    auto refund = usage_refund(credit, usage);
    if (!refund) co_return std::unexpected(refund.error());
    result.refund = *refund;
  }

  if (!result.cut) {
    out.clear();
    if (auto ok = sealed->end(out); !ok) {
      metrics.outcome(kOutcomeInternal);
      co_return ok;
    }
    if (auto ok = co_await res.write_chunk(out); !ok) {
      metrics.outcome(kOutcomeClientGone);
      co_return ok;
    }
  }
  const net::Headers trailers = refund_trailers(result.refund);
  if (auto ok = co_await res.finish(trailers); !ok) {
    metrics.outcome(kOutcomeClientGone);
    co_return ok;
  }
  metrics.outcome(result.outcome);
  metrics.duration_.observe(seconds_since(started));
  spdlog::debug("computenode: request done: engine status {}, {} body bytes, refund {}", engine_status, body_bytes,
                result.refund ? result.refund->amount() : 0);
  co_return Status{};
}

}  // namespace

net::Handler make_compute_handler(ComputeNodeContext& context) {
  auto metrics = std::make_shared<NodeMetrics>(context.metrics);
  ComputeNodeContext* ctx = &context;
  return [ctx, metrics](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
    if (auto ping = req.headers().get(kPingHeader); ping && *ping == kPingValue) {
      metrics->outcome(kOutcomePing);
      co_return co_await send_text(res, 200, kPingValue);
    }
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    if (req.method() == "GET" || req.method() == "HEAD") {
      if (path == "/_health") {
        if (!ctx->healthy.load()) co_return co_await send_text(res, 503, "unhealthy: the TPM refuses the REK");
        net::Headers headers{{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
        headers.set("X-Node-ID", ctx->node_id);  // the router's health check compares it with the registered id
        co_return co_await res.send(200, std::move(headers), std::string_view(R"({"status":"OK"})"));
      }
      if (path == "/metrics") co_return co_await services::send_metrics(res, ctx->metrics);
      Error not_found{ErrorCode::kNotFound, "not found"};
      co_return co_await services::send_error(res, not_found, 404);
    }
    if (req.method() != "POST") {
      Error not_allowed{ErrorCode::kInvalidArgument, "method not allowed"};
      co_return co_await services::send_error(res, not_allowed, 405);
    }
    metrics->in_flight_.add(1);
    Status status = co_await handle_compute(*ctx, *metrics, req, res);
    metrics->in_flight_.add(-1);
    co_return status;
  };
}

}  // namespace openpcc::computenode
