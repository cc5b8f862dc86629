#include "services/router/router_http.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/random.h"
#include "currency/credit.h"
#include "currency/nonce.h"
#include "openpcc/httpfmt.pb.h"
#include "openpcc/router.pb.h"
#include "openpcc/router_agent.pb.h"
#include "services/common/proto_http.h"
#include "services/router/node_event.h"
#include "services/router/node_token.h"
#include "services/router/router_api.h"
#include "wire/compute_request.h"

namespace openpcc::router {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A node's 4xx body is passed on up to this size.
constexpr size_t kMaxPassedErrorBody = 64 * 1024;

struct Context {
  Registry& registry;
  const currency::Processor& processor;
  net::BlockingPool& pool;
  std::shared_ptr<services::Metrics> metrics;
  RouterOptions options;
  net::Client node_client;

  int64_t now() const { return options.clock ? options.clock() : currency::unix_now(); }

  void count(std::string_view name, std::string_view help, std::string_view outcome) const {
    metrics->counter(name, help, {{"outcome", std::string(outcome)}}).inc();
  }
  void compute_outcome(std::string_view outcome, SteadyClock::time_point started) const {
    count("compute_requests_total", "Compute requests by outcome", outcome);
    metrics->histogram("compute_request_seconds", "Time from a compute request to the end of its response",
                       services::kLatencyBuckets)
        .observe(std::chrono::duration<double>(SteadyClock::now() - started).count());
  }
};

using ContextPtr = std::shared_ptr<const Context>;

// Answers with a message the router chose for the client (never an error's internal text, see proto_http.h).
using services::send_message;

// ---- credit settlement: every step on the blocking pool --------------------------------------------------------

net::Task<Status> rollback(const Context& ctx, currency::CreditTransaction& tx) {
  Status done = co_await ctx.pool.run([&tx] { return tx.rollback(); });
  if (!done) spdlog::warn("router: releasing a credit failed: {}", done.error().to_string());
  co_return done;
}

net::Task<Status> commit(const Context& ctx, currency::CreditTransaction& tx) {
  Status done = co_await ctx.pool.run([&tx] { return tx.commit(); });
  if (!done) spdlog::warn("router: consuming a credit failed: {}", done.error().to_string());
  co_return done;
}

// Commits with a refund of `amount` and returns the refund credit. If the refund cannot be issued the credit is
// still settled: a full refund falls back to a rollback (the client keeps the same value), a partial one to a plain
// commit.
net::Task<std::optional<currency::Credit>> commit_with_refund(const Context& ctx, currency::CreditTransaction& tx,
                                                              currency::Value amount, bool full) {
  Result<currency::Credit> refund = co_await ctx.pool.run([&tx, amount] { return tx.commit_with_refund(amount); });
  if (refund) co_return std::move(*refund);
  spdlog::warn("router: issuing a refund failed: {}", refund.error().to_string());
  if (tx.is_open()) {
    if (full) {
      co_await rollback(ctx, tx);
    } else {
      co_await commit(ctx, tx);
    }
  }
  co_return std::nullopt;
}

// ---- small handlers ----------------------------------------------------------------------------------------------

net::Task<Status> ping(net::ServerRequest&, net::ServerResponse& res) {
  net::Headers headers;
  headers.set("Content-Type", "text/plain");
  headers.set("Cache-Control", "no-store");
  co_return co_await res.send(200, std::move(headers), std::string_view("pong"));
}

// 401 for a node event without the right token: a JSON body (read by people and by the node agent's log line).
net::Task<Status> refuse_node_event(net::ServerResponse& res, std::string_view message) {
  net::Headers headers;
  headers.set("Content-Type", "application/json");
  headers.set("Cache-Control", "no-store");
  headers.set("WWW-Authenticate", "Bearer");
  const std::string body = nlohmann::json{{"error", std::string(message)}}.dump();
  co_return co_await res.send(401, std::move(headers), std::string_view(body));
}

net::Task<Status> node_events(ContextPtr ctx, net::ServerRequest& req, net::ServerResponse& res) {
  if (ctx->options.node_token) {
    const auto authorization = req.headers().get("Authorization");
    if (!authorization_matches(authorization, ctx->options.node_token->span())) {
      ctx->count("node_events_total", "Node events by outcome", "unauthorized");
      // The presented value is never logged: a near miss (an old token during a rotation) is still a secret.
      spdlog::warn("router: node event from {} refused: {}", req.remote_address(),
                   authorization ? "wrong node token" : "no node token");
      co_return co_await refuse_node_event(
          res, authorization ? "node event refused: the node token is not valid"
                             : "node event refused: the node token is required (Authorization: Bearer <token>)");
    }
  }
  pb::NodeEvent event;
  Status read = co_await services::read_proto(req, event, ctx->options.max_event_bytes);
  if (!read) {
    ctx->count("node_events_total", "Node events by outcome", "invalid");
    co_return co_await services::send_error(res, read.error());
  }
  Result<EventOutcome> applied = ctx->registry.apply(event);
  if (!applied) {
    const ErrorCode code = applied.error().code;
    int status = services::http_status_for(code);
    if (code == ErrorCode::kUnsupported) status = 400;  // an event form we do not take, not a media type
    ctx->count("node_events_total", "Node events by outcome",
               code == ErrorCode::kConflict ? "stale" : (status == 503 ? "full" : "invalid"));
    spdlog::debug("router: node event refused: {}", applied.error().to_string());
    if (status == 503) co_return co_await send_message(res, 503, "node table full");
    co_return co_await services::send_error(res, applied.error(), status);
  }
  switch (*applied) {
    case EventOutcome::kRegistered:
      spdlog::info("router: node {} registered", event.node_id());
      break;
    case EventOutcome::kRemoved:
      spdlog::info("router: node {} shut down", event.node_id());
      break;
    case EventOutcome::kUpdated:
      spdlog::debug("router: node {} heartbeat", event.node_id());
      break;
  }
  ctx->count("node_events_total", "Node events by outcome",
             *applied == EventOutcome::kRegistered ? "registered"
                                                   : (*applied == EventOutcome::kRemoved ? "shutdown" : "heartbeat"));
  net::Headers headers;
  headers.set("Content-Type", services::kProtoMediaType);
  co_return co_await res.send(200, std::move(headers), ByteSpan{});
}

net::Task<Status> compute_manifests(ContextPtr ctx, net::ServerRequest& req, net::ServerResponse& res) {
  const Context& c = *ctx;
  auto outcome = [&c](std::string_view o) { c.count("manifest_requests_total", "Compute manifest requests", o); };
  auto header = req.headers().get(currency::kCreditHeader);
  if (!header) {
    outcome("bad_request");
    co_return co_await send_message(res, 400, "X-Credit (an attestation token) is required");
  }
  auto credit = currency::Credit::from_header(*header);
  if (!credit || credit->value != currency::attestation_value()) {
    outcome("bad_request");
    co_return co_await send_message(res, 400, "X-Credit is not an attestation token");
  }
  pb::ComputeManifestRequest request;
  Status read = co_await services::read_proto(req, request, c.options.max_manifest_request_bytes);
  if (!read) {
    outcome("bad_request");
    co_return co_await services::send_error(res, read.error());
  }

  const int64_t now = c.now();
  const currency::Credit& token = *credit;
  Result<currency::CreditTransaction> tx = co_await c.pool.run(
      [&c, &token, now] { return c.processor.begin(token, now, currency::CreditKind::kSpecial); });
  if (!tx) {
    outcome("payment_refused");
    spdlog::debug("router: attestation token refused: {}", tx.error().to_string());
    co_return co_await services::send_error(res, tx.error());
  }

  const std::vector<std::string> tags(request.tags().begin(), request.tags().end());
  std::string problem;
  if (request.limit() < 0 || request.limit() > c.options.max_manifests) {
    problem = "limit must be between 0 and " + std::to_string(c.options.max_manifests);
  } else if (auto ok = validate_tags(tags, /*require_one=*/false); !ok) {
    problem = ok.error().message;
  }
  if (!problem.empty()) {
    co_await rollback(c, *tx);
    outcome("bad_request");
    co_return co_await send_message(res, 400, problem);
  }
  const size_t limit = request.limit() == 0 ? static_cast<size_t>(c.options.max_manifests)
                                            : static_cast<size_t>(request.limit());
  pb::ComputeManifestList list;
  for (pb::ComputeManifest& manifest : c.registry.manifests(tags, limit)) {
    *list.add_items() = std::move(manifest);
  }
  Status spent = co_await commit(c, *tx);
  if (!spent) {
    outcome("payment_failed");
    co_return co_await services::send_error(res, spent.error());
  }
  outcome("ok");
  c.metrics->counter("manifests_served_total", "Compute manifests handed out").inc(list.items_size());
  co_return co_await services::send_proto(res, 200, list);
}

// ---- compute forwarding ------------------------------------------------------------------------------------------

struct Target {
  const Candidate* candidate;
  std::string url;
};

std::vector<Target> routable_targets(const Registry& registry, const std::vector<Candidate>& candidates) {
  std::vector<Target> out;
  for (const Candidate& c : candidates) {
    if (auto url = registry.routable_url(c.id)) out.push_back(Target{&c, std::move(*url)});
  }
  for (size_t i = out.size(); i > 1; --i) {  // Fisher-Yates with the OS CSPRNG
    std::swap(out[i - 1], out[static_cast<size_t>(random_uniform(i))]);
  }
  return out;
}

// Reads the request body, refusing more than `limit` bytes.
net::Task<Result<Bytes>> read_body(net::ServerRequest& req, size_t limit) {
  if (auto length = req.content_length(); length && *length > limit) {
    co_return make_error(ErrorCode::kLimitExceeded, "request body too large");
  }
  Bytes body;
  while (true) {
    auto chunk = co_await req.read_chunk();
    if (!chunk) co_return std::unexpected(chunk.error());
    if (!*chunk) break;
    if (body.size() + (*chunk)->size() > limit) {
      co_return make_error(ErrorCode::kLimitExceeded, "request body too large");
    }
    append(body, **chunk);
  }
  co_return body;
}

// A node's 4xx: status, Content-Type and (bounded) body go to the client as they are.
net::Task<Status> pass_client_error(net::ClientStream& node, net::ServerResponse& res) {
  Bytes body;
  bool complete = false;
  while (body.size() <= kMaxPassedErrorBody) {
    auto chunk = co_await node.read_chunk();
    if (!chunk) break;
    if (!*chunk) {
      complete = true;
      break;
    }
    append(body, **chunk);
  }
  if (!complete || body.size() > kMaxPassedErrorBody) {
    co_return co_await send_message(res, node.status(), "the compute node refused the request");
  }
  net::Headers headers;
  if (auto type = node.headers().get("Content-Type")) headers.set("Content-Type", *type);
  co_return co_await res.send(node.status(), std::move(headers), ByteSpan(body));
}

// Streams a node's 2xx response to the client and settles the credit (see router_http.h).
net::Task<Status> stream_response(const Context& c, net::ClientStream& node, const Candidate& candidate,
                                  currency::CreditTransaction& tx, net::ServerResponse& res,
                                  SteadyClock::time_point started) {
  net::Headers head;
  if (auto type = node.headers().get("Content-Type")) head.set("Content-Type", *type);
  head.set(kNodeIdHeader, candidate.id);
  head.set("Trailer", currency::kRefundHeader);
  head.set("Cache-Control", "no-store");
  if (Status ok = co_await res.write_head(node.status(), std::move(head)); !ok) {
    co_await commit(c, tx);  // the node has the request; nobody is left to take a refund
    c.compute_outcome("client_gone", started);
    co_return ok;
  }

  while (true) {
    auto chunk = co_await node.read_chunk();
    if (!chunk) {
      // The node died mid-stream: give the whole value back and end the response cleanly.
      spdlog::warn("router: node {} failed mid-response: {}", candidate.id, chunk.error().to_string());
      std::optional<currency::Credit> refund = co_await commit_with_refund(c, tx, tx.credit().value, true);
      net::Headers trailers;
      if (refund) trailers.set(currency::kRefundHeader, refund->to_header());
      c.compute_outcome("node_failed_mid_stream", started);
      co_return co_await res.finish(trailers);
    }
    if (!*chunk) break;
    if (Status ok = co_await res.write_chunk(**chunk); !ok) {
      co_await commit(c, tx);
      c.compute_outcome("client_gone", started);
      co_return ok;
    }
  }

  net::Headers trailers;
  std::optional<currency::Value> refund_value;
  if (auto text = node.trailers().get(currency::kRefundAmountHeader)) {
    auto value = currency::value_from_header(*text);
    if (value && !value->is_special() && value->amount() > 0 && value->amount() <= tx.credit().value.amount()) {
      refund_value = *value;
    } else {
      spdlog::warn("router: node {} sent an invalid refund amount; no refund", candidate.id);
    }
  }
  if (refund_value) {
    std::optional<currency::Credit> refund = co_await commit_with_refund(c, tx, *refund_value, false);
    if (refund) trailers.set(currency::kRefundHeader, refund->to_header());
  } else {
    co_await commit(c, tx);
  }
  c.compute_outcome("ok", started);
  co_return co_await res.finish(trailers);
}

net::Task<Status> compute(ContextPtr ctx, net::ServerRequest& req, net::ServerResponse& res) {
  const Context& c = *ctx;
  const SteadyClock::time_point started = SteadyClock::now();

  const std::string content_type(req.headers().get("Content-Type").value_or(""));
  if (!wire::compute::request_chunking(content_type)) {
    c.compute_outcome("bad_request", started);
    co_return co_await send_message(res, 415, "Content-Type must be application/confsec-req or "
                                              "application/confsec-chunked-req");
  }
  auto routing = parse_routing_info_header(req.headers().get(kRoutingInfoHeader).value_or(""));
  if (!routing) {
    c.compute_outcome("bad_request", started);
    co_return co_await send_message(res, 400, routing.error().message);
  }
  auto credit_header = req.headers().get(currency::kCreditHeader);
  Result<currency::Credit> credit = credit_header
                                        ? currency::Credit::from_header(*credit_header)
                                        : Result<currency::Credit>(std::unexpected(Error{ErrorCode::kDecode, ""}));
  if (!credit) {
    c.compute_outcome("bad_request", started);
    co_return co_await send_message(res, 400, "X-Credit is missing or not a credit");
  }
  if (credit->value.amount() <= 0) {
    c.compute_outcome("bad_request", started);
    co_return co_await send_message(res, 400, "X-Credit has no value");
  }

  const int64_t now = c.now();
  const currency::Credit& paid = *credit;
  Result<currency::CreditTransaction> tx =
      co_await c.pool.run([&c, &paid, now] { return c.processor.begin(paid, now); });
  if (!tx) {
    c.compute_outcome("payment_refused", started);
    spdlog::debug("router: credit refused: {}", tx.error().to_string());
    co_return co_await services::send_error(res, tx.error());
  }

  Result<Bytes> body = co_await read_body(req, c.options.max_request_bytes);
  if (!body) {
    co_await rollback(c, *tx);
    c.compute_outcome("bad_request", started);
    if (body.error().code == ErrorCode::kLimitExceeded) {
      co_return co_await send_message(res, 413, "request body too large");
    }
    co_return std::unexpected(body.error());  // the client broke off or sent a malformed body
  }

  const std::vector<Target> targets = routable_targets(c.registry, *routing);
  const std::string key_amount = std::to_string(tx->credit().value.amount());
  const bool ping = req.headers().get(kPingHeader) == std::optional<std::string_view>(kRouterComPing);
  for (size_t i = 0; i < targets.size(); ++i) {
    const Target& target = targets[i];
    if (i > 0) c.metrics->counter("candidate_retries_total", "Compute requests retried on another node").inc();
    net::Headers headers;
    headers.set("Content-Type", content_type);
    headers.set(kEncapsulatedKeyHeader, to_base64(target.candidate->encapsulated_key));
    headers.set(kCreditAmountHeader, key_amount);
    if (ping) headers.set(kPingHeader, kRouterComPing);
    net::ClientRequest forward("POST", target.url, *body, std::move(headers));
    net::Client client = c.node_client;  // copies share the configuration
    auto node = co_await client.send(std::move(forward));
    if (!node) {
      spdlog::info("router: node {} unreachable: {}", target.candidate->id, node.error().to_string());
      continue;
    }
    const int status = (*node)->status();
    if (status >= 400 && status < 500) {
      co_await rollback(c, *tx);
      c.compute_outcome("node_refused", started);
      co_return co_await pass_client_error(**node, res);
    }
    if (status < 200 || status >= 300) {
      spdlog::info("router: node {} answered {}; trying the next candidate", target.candidate->id, status);
      continue;
    }
    co_return co_await stream_response(c, **node, *target.candidate, *tx, res, started);
  }

  co_await rollback(c, *tx);
  c.compute_outcome("no_node", started);
  co_return co_await send_message(res, 503, kNoCandidateMessage);
}

}  // namespace

size_t max_router_body(const RouterOptions& options) {
  return std::max({options.max_request_bytes, options.max_event_bytes, options.max_manifest_request_bytes});
}

Result<net::Handler> make_router_handler(Registry& registry, const currency::Processor& processor,
                                         net::BlockingPool& pool, std::shared_ptr<services::Metrics> metrics,
                                         RouterOptions options) {
  if (!metrics) metrics = std::make_shared<services::Metrics>("openpcc_router");
  if (options.max_manifests < 0 || options.max_manifests > kMaxComputeManifests) {
    return make_error(ErrorCode::kInvalidArgument, "max_manifests must be between 0 and 500");
  }
  net::ClientOptions node_options = options.node_client;
  // Streams are long: bounded by the read timeout per piece, not by size.
  node_options.max_response_body_bytes = std::nullopt;
  auto client = net::Client::create(node_options);
  if (!client) return std::unexpected(wrap_error("node client", client.error()));
  auto ctx = std::make_shared<const Context>(
      Context{registry, processor, pool, metrics, std::move(options), std::move(*client)});

  services::Routes routes;
  routes.add("GET", "/_health", [](net::ServerRequest&, net::ServerResponse& res) {
    return services::send_health(res);
  });
  routes.add("GET", "/metrics", [metrics](net::ServerRequest&, net::ServerResponse& res) {
    return services::send_metrics(res, *metrics);
  });
  routes.add("GET", std::string(kPingPath), ping);
  routes.add("POST", std::string(kNodeEventsPath), [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return node_events(ctx, req, res);
  });
  routes.add("POST", std::string(kComputeManifestsPath), [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return compute_manifests(ctx, req, res);
  });
  routes.add("POST", std::string(kComputePath), [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return compute(ctx, req, res);
  });
  return routes.handler();
}

}  // namespace openpcc::router
