#include "services/tlog/tlog_http.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "services/common/proto_http.h"
#include "services/tlog/tlog_api.h"

namespace openpcc::tlog {
namespace {

using Clock = std::chrono::steady_clock;

struct Context {
  TransparencyLog& log;
  net::BlockingPool& pool;
  PublisherTokens publishers;
};

using Query = std::map<std::string, std::string, std::less<>>;

void log_outcome(std::string_view op, int status, const Error* error, Clock::time_point started) {
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (error && status >= 500) {
    spdlog::warn("tlog: op={} status={} ms={:.1f} error=\"{}\"", op, status, ms, error->message);
  } else {
    spdlog::info("tlog: op={} status={} ms={:.1f}", op, status, ms);
    if (error) spdlog::debug("tlog: op={} rejected: {}", op, error->message);
  }
}

net::Task<Status> send_body(net::ServerResponse& res, int status, std::string content_type, std::string body) {
  net::Headers headers;
  headers.set("Content-Type", content_type);
  headers.set("Cache-Control", "no-store");
  if (status == 401) headers.set("WWW-Authenticate", "Bearer");
  co_return co_await res.send(status, std::move(headers), std::string_view(body));
}

net::Task<Status> send_json(net::ServerResponse& res, int status, std::string body) {
  co_return co_await send_body(res, status, "application/json", std::move(body));
}

// An error answer (5xx without details) with its log line.
net::Task<Status> fail(net::ServerResponse& res, std::string_view op, const Error& error, Clock::time_point started,
                       int status = 0) {
  if (status == 0) status = services::http_status_for(error.code);
  log_outcome(op, status, &error, started);
  std::string message = status == 503 ? "temporarily unavailable" : status >= 500 ? "internal error" : error.message;
  co_return co_await send_json(res, status, error_json(message));
}

// "application/json", in any letter case, with or without parameters ("; charset=utf-8").
bool is_json_media_type(std::optional<std::string_view> value) {
  constexpr std::string_view kJson = "application/json";
  if (!value) return false;
  std::string_view media = value->substr(0, value->find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  if (media.size() != kJson.size()) return false;
  for (size_t i = 0; i < media.size(); ++i) {
    char c = media[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kJson[i]) return false;
  }
  return true;
}

// "?a=1&b=2" → {a: 1, b: 2}. Strict: only `allowed` names, each at most once, no empty names; values are taken as
// they are (our parameters are digits and hex, which need no percent-decoding).
Result<Query> parse_query(std::string_view target, std::initializer_list<std::string_view> allowed) {
  Query out;
  size_t q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    bool known = false;
    for (std::string_view a : allowed) known |= a == name;
    if (!known) return make_error(ErrorCode::kInvalidArgument, "unknown query parameter \"" + std::string(name) + "\"");
    if (!out.emplace(std::string(name), std::string(value)).second) {
      return make_error(ErrorCode::kInvalidArgument, "query parameter \"" + std::string(name) + "\" given twice");
    }
  }
  return out;
}

// A decimal parameter: canonical digits up to 2^63 − 1.
Result<std::optional<uint64_t>> number_param(const Query& query, std::string_view name) {
  auto it = query.find(name);
  if (it == query.end()) return std::optional<uint64_t>();
  const std::string& s = it->second;
  bool ok = !s.empty() && s.size() <= 19 && (s.size() == 1 || s[0] != '0');
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok || v > static_cast<uint64_t>(INT64_MAX)) {
    return make_error(ErrorCode::kInvalidArgument, "query parameter \"" + std::string(name) + "\" is not a number");
  }
  return std::optional<uint64_t>(v);
}

net::Task<Status> append(std::shared_ptr<const Context> ctx, net::ServerRequest& req, net::ServerResponse& res) {
  const auto started = Clock::now();
  constexpr std::string_view op = "append";
  // Authentication first: no body is read for an unknown caller.
  auto auth = req.headers().get("Authorization");
  if (!auth || !ctx->publishers.authorizes(*auth)) {
    Error e{ErrorCode::kUnauthenticated, "a publisher token is required (Authorization: Bearer <token>)"};
    co_return co_await fail(res, op, e, started);
  }
  if (!is_json_media_type(req.headers().get("Content-Type"))) {
    Error e{ErrorCode::kUnsupported, "Content-Type must be application/json (a DSSE envelope)"};
    co_return co_await fail(res, op, e, started);
  }
  const size_t limit = ctx->log.max_entry_bytes();
  if (auto length = req.content_length(); length && *length > limit) {
    Error e{ErrorCode::kLimitExceeded, "entry larger than " + std::to_string(limit) + " bytes"};
    co_return co_await fail(res, op, e, started);
  }
  Bytes body;
  while (true) {
    auto chunk = co_await req.read_chunk();
    if (!chunk) co_return co_await fail(res, op, chunk.error(), started);
    if (!*chunk) break;
    if (body.size() + (*chunk)->size() > limit) {
      Error e{ErrorCode::kLimitExceeded, "entry larger than " + std::to_string(limit) + " bytes"};
      co_return co_await fail(res, op, e, started);
    }
    body.insert(body.end(), (*chunk)->begin(), (*chunk)->end());
  }
  TransparencyLog& log = ctx->log;
  auto receipt = co_await ctx->pool.run([&log, &body] { return log.append(body); });
  if (!receipt) co_return co_await fail(res, op, receipt.error(), started);
  log_outcome(op, 200, nullptr, started);
  co_return co_await send_json(res, 200, append_receipt_json(*receipt));
}

net::Task<Status> checkpoint(std::shared_ptr<const Context> ctx, net::ServerRequest& req, net::ServerResponse& res) {
  const auto started = Clock::now();
  constexpr std::string_view op = "checkpoint";
  auto query = parse_query(req.target(), {});
  if (!query) co_return co_await fail(res, op, query.error(), started);
  TransparencyLog& log = ctx->log;
  auto cp = co_await ctx->pool.run([&log] { return log.checkpoint(); });
  if (!cp) co_return co_await fail(res, op, cp.error(), started);
  log_outcome(op, 200, nullptr, started);
  co_return co_await send_body(res, 200, "text/plain; charset=utf-8", std::move(cp->note));
}

net::Task<Status> entry(std::shared_ptr<const Context> ctx, net::ServerRequest& req, net::ServerResponse& res) {
  const auto started = Clock::now();
  constexpr std::string_view op = "entry";
  auto query = parse_query(req.target(), {"index"});
  if (!query) co_return co_await fail(res, op, query.error(), started);
  auto index = number_param(*query, "index");
  if (!index) co_return co_await fail(res, op, index.error(), started);
  if (!*index) {
    Error e{ErrorCode::kInvalidArgument, "query parameter \"index\" is required"};
    co_return co_await fail(res, op, e, started);
  }
  TransparencyLog& log = ctx->log;
  const uint64_t i = **index;
  auto e = co_await ctx->pool.run([&log, i] { return log.entry(i); });
  if (!e) co_return co_await fail(res, op, e.error(), started);
  log_outcome(op, 200, nullptr, started);
  co_return co_await send_json(res, 200, entry_json(*e));
}

net::Task<Status> inclusion(std::shared_ptr<const Context> ctx, net::ServerRequest& req, net::ServerResponse& res) {
  const auto started = Clock::now();
  constexpr std::string_view op = "inclusion_proof";
  auto query = parse_query(req.target(), {"index", "leafHash", "treeSize"});
  if (!query) co_return co_await fail(res, op, query.error(), started);
  auto index = number_param(*query, "index");
  if (!index) co_return co_await fail(res, op, index.error(), started);
  auto size = number_param(*query, "treeSize");
  if (!size) co_return co_await fail(res, op, size.error(), started);
  std::optional<Hash> leaf;
  if (auto it = query->find("leafHash"); it != query->end()) {
    auto bytes = from_hex(it->second);
    auto h = bytes ? transparency::hash_from_bytes(*bytes) : Result<Hash>(std::unexpected(bytes.error()));
    if (!h) {
      Error e{ErrorCode::kInvalidArgument, "query parameter \"leafHash\" must be 64 hex digits"};
      co_return co_await fail(res, op, e, started);
    }
    leaf = *h;
  }
  if (index->has_value() == leaf.has_value()) {
    Error e{ErrorCode::kInvalidArgument, "give exactly one of the query parameters \"index\" and \"leafHash\""};
    co_return co_await fail(res, op, e, started);
  }
  TransparencyLog& log = ctx->log;
  const std::optional<uint64_t> i = *index;
  const std::optional<uint64_t> tree_size = *size;
  auto answer = co_await ctx->pool.run([&log, i, leaf, tree_size] {
    return i ? log.inclusion(*i, tree_size) : log.inclusion_by_leaf_hash(*leaf, tree_size);
  });
  if (!answer) co_return co_await fail(res, op, answer.error(), started);
  log_outcome(op, 200, nullptr, started);
  co_return co_await send_json(res, 200, inclusion_json(*answer));
}

net::Task<Status> consistency(std::shared_ptr<const Context> ctx, net::ServerRequest& req, net::ServerResponse& res) {
  const auto started = Clock::now();
  constexpr std::string_view op = "consistency_proof";
  auto query = parse_query(req.target(), {"from", "to"});
  if (!query) co_return co_await fail(res, op, query.error(), started);
  auto from = number_param(*query, "from");
  if (!from) co_return co_await fail(res, op, from.error(), started);
  auto to = number_param(*query, "to");
  if (!to) co_return co_await fail(res, op, to.error(), started);
  if (!*from) {
    Error e{ErrorCode::kInvalidArgument, "query parameter \"from\" is required"};
    co_return co_await fail(res, op, e, started);
  }
  TransparencyLog& log = ctx->log;
  const uint64_t from_size = **from;
  const std::optional<uint64_t> to_size = *to;
  auto answer = co_await ctx->pool.run([&log, from_size, to_size]() -> Result<ConsistencyAnswer> {
    uint64_t resolved = 0;
    auto proof = log.consistency(from_size, to_size, &resolved);
    if (!proof) return std::unexpected(proof.error());
    return ConsistencyAnswer{from_size, resolved, std::move(*proof)};
  });
  if (!answer) co_return co_await fail(res, op, answer.error(), started);
  log_outcome(op, 200, nullptr, started);
  co_return co_await send_json(res, 200, consistency_json(*answer));
}

net::Task<Status> health(net::ServerRequest&, net::ServerResponse& res) {
  co_return co_await send_json(res, 200, "{\"status\":\"OK\"}");
}

using Route = std::function<net::Task<Status>(net::ServerRequest&, net::ServerResponse&)>;

}  // namespace

net::Handler make_tlog_handler(TransparencyLog& log, net::BlockingPool& pool, PublisherTokens publishers) {
  auto ctx = std::make_shared<const Context>(Context{log, pool, std::move(publishers)});
  // path → (method, handler)
  auto routes = std::make_shared<std::map<std::string, std::pair<std::string, Route>, std::less<>>>();
  (*routes)[std::string(kEntriesPath)] = {"POST", [ctx](auto& req, auto& res) { return append(ctx, req, res); }};
  (*routes)[std::string(kCheckpointPath)] = {"GET", [ctx](auto& req, auto& res) { return checkpoint(ctx, req, res); }};
  (*routes)[std::string(kEntryPath)] = {"GET", [ctx](auto& req, auto& res) { return entry(ctx, req, res); }};
  (*routes)[std::string(kInclusionPath)] = {"GET", [ctx](auto& req, auto& res) { return inclusion(ctx, req, res); }};
  (*routes)[std::string(kConsistencyPath)] = {"GET",
                                              [ctx](auto& req, auto& res) { return consistency(ctx, req, res); }};
  (*routes)["/_health"] = {"GET", health};
  return [routes](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
    std::string_view path = req.target();
    if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    auto it = routes->find(path);
    if (it == routes->end()) co_return co_await send_json(res, 404, error_json("no such endpoint"));
    const auto& [method, route] = it->second;
    if (req.method() != method && !(method == "GET" && req.method() == "HEAD")) {
      net::Headers headers;
      headers.set("Content-Type", "application/json");
      headers.set("Allow", method == "GET" ? "GET, HEAD" : method);
      std::string body = error_json("method not allowed");
      co_return co_await res.send(405, std::move(headers), std::string_view(body));
    }
    co_return co_await route(req, res);
  };
}

}  // namespace openpcc::tlog
