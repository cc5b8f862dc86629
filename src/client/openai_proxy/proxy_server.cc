#include "client/openai_proxy/proxy_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "client/openai_proxy/api_error.h"
#include "client/openai_proxy/prompt_request.h"
#include "client/openai_proxy/stream_relay.h"
#include "common/secure.h"
#include "crypto/sha256.h"
#include "services/common/config.h"

namespace openpcc::client::openai_proxy {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Error answers of the node are short; more is not read.
constexpr size_t kMaxErrorAnswerBytes = 64 * 1024;
constexpr std::string_view kNodeHeader = "X-OpenPCC-Node";
constexpr std::string_view kModelsPath = "/v1/models";
constexpr std::string_view kModelsPrefix = "/v1/models/";
constexpr std::string_view kOllamaTagsPath = "/api/tags";
constexpr char kBanner[] =
    "openpcc proxy: an OpenAI- and Ollama-compatible API; every prompt goes privately through OpenPCC\n";

struct Shared {
  ProxyConfig config;
  std::shared_ptr<Upstream> upstream;
  std::optional<crypto::Sha256Digest> token_digest;
  bool check_host = false;
};

// What the per-request log line says.
struct Outcome {
  int status = 0;
  std::string code;
};

// ApiError is an aggregate: every one passed into a co_await expression is a named local first (GCC 12, see
// net/runtime.h).
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

net::Task<Status> send_json(net::ServerResponse& res, Outcome& outcome, int status, const json& body) {
  outcome.status = status;
  net::Headers headers;
  headers.set("Content-Type", "application/json");
  const std::string text = dump(body);
  co_return co_await res.send(status, std::move(headers), std::string_view(text));
}

net::Task<Status> send_error(net::ServerResponse& res, Outcome& outcome, const ApiError& error, ApiFamily family) {
  outcome.status = error.status;
  outcome.code = error.code.empty() ? error.type : error.code;
  const std::string body = error_body(error, family);
  co_return co_await res.send(error.status, error_headers(error), std::string_view(body));
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

// The host part of a Host header ("localhost:8765" → "localhost", "[::1]:80" → "::1").
std::string_view host_of_header(std::string_view value) {
  if (value.starts_with('[')) {
    const size_t close = value.find(']');
    return close == std::string_view::npos ? std::string_view() : value.substr(1, close - 1);
  }
  const size_t colon = value.find(':');
  return value.substr(0, colon);
}

// The token of "Authorization: Bearer <token>" (scheme case-insensitive), if that is what the header says.
std::optional<std::string_view> bearer_token(const net::Headers& headers) {
  auto value = headers.get("Authorization");
  if (!value) return std::nullopt;
  constexpr std::string_view kScheme = "bearer ";
  if (value->size() < kScheme.size() || lowercase(value->substr(0, kScheme.size())) != kScheme) return std::nullopt;
  std::string_view token = value->substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

bool token_matches(const crypto::Sha256Digest& want, std::string_view given) {
  // Digests of equal length, compared in constant time: neither the token's bytes nor its length leak by timing.
  const crypto::Sha256Digest got = crypto::sha256(as_bytes(given));
  return ct_equal(want, got);
}

// "%2F" → "/" in a path segment; std::nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(text[i + 1]);
    const int lo = hex(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// The media type of a Content-Type value, lowercase, without parameters.
std::string media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return lowercase(type);
}

std::optional<StreamFormat> stream_format(std::string_view content_type) {
  const std::string type = media_type(content_type);
  if (type == "text/event-stream") return StreamFormat::kServerSentEvents;
  if (type == "application/x-ndjson" || type == "application/jsonl" || type == "application/stream+json") {
    return StreamFormat::kNdjson;
  }
  return std::nullopt;
}

json openai_model(const std::string& id) {
  return json{{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "openpcc"}};
}

// ---- model lists ---------------------------------------------------------------------------------------------------

net::Task<Status> serve_models(Shared& s, net::ServerResponse& res, Outcome& outcome, std::string_view path) {
  const ApiFamily family = family_of_path(path);
  auto models = co_await s.upstream->models();
  if (!models) {
    const ApiError error = from_client_error(models.error());
    co_return co_await send_error(res, outcome, error, family);
  }
  if (path == kOllamaTagsPath) {
    json list = json::array();
    for (const auto& m : *models) list.push_back(json{{"name", m}, {"model", m}});
    const json body = {{"models", std::move(list)}};
    co_return co_await send_json(res, outcome, 200, body);
  }
  if (path == kModelsPath) {
    json data = json::array();
    for (const auto& m : *models) data.push_back(openai_model(m));
    const json body = {{"object", "list"}, {"data", std::move(data)}};
    co_return co_await send_json(res, outcome, 200, body);
  }
  // /v1/models/{id}
  auto id = percent_decode(path.substr(kModelsPrefix.size()));
  if (id && std::binary_search(models->begin(), models->end(), *id)) {
    const json body = openai_model(*id);
    co_return co_await send_json(res, outcome, 200, body);
  }
  ApiError error{404, "invalid_request_error", "model_not_found", "model",
                 "no verified node: no node that passed the trust policy serves the model \"" +
                     (id ? *id : std::string(path.substr(kModelsPrefix.size()))) + "\"",
                 false};
  co_return co_await send_error(res, outcome, error, family);
}

// ---- prompts -------------------------------------------------------------------------------------------------------

// The request body, at most max_request_bytes; std::nullopt after an answer was sent (or the connection broke).
net::Task<Result<std::optional<Bytes>>> read_body(Shared& s, net::ServerRequest& req, net::ServerResponse& res,
                                                  Outcome& outcome, ApiFamily family) {
  const uint64_t limit = s.config.max_request_bytes;
  const ApiError too_large = proxy_error(413, "invalid_request_error", "request_too_large",
                                         "the request body exceeds " + std::to_string(limit) + " bytes");
  if (req.content_length() && *req.content_length() > limit) {
    if (auto ok = co_await send_error(res, outcome, too_large, family); !ok) co_return std::unexpected(ok.error());
    co_return std::nullopt;
  }
  Bytes body;
  for (;;) {
    auto chunk = co_await req.read_chunk();
    if (!chunk) {
      if (chunk.error().code == ErrorCode::kIo || chunk.error().code == ErrorCode::kTimeout) {
        co_return std::unexpected(chunk.error());  // the caller is gone or stalled: nobody to answer
      }
      const ApiError bad = chunk.error().code == ErrorCode::kLimitExceeded
                               ? too_large
                               : proxy_error(400, "invalid_request_error", "invalid_request",
                                             "the request body is malformed (" + chunk.error().message + ")");
      if (auto ok = co_await send_error(res, outcome, bad, family); !ok) co_return std::unexpected(ok.error());
      co_return std::nullopt;
    }
    if (!*chunk) break;
    if (body.size() + (*chunk)->size() > limit) {
      if (auto ok = co_await send_error(res, outcome, too_large, family); !ok) co_return std::unexpected(ok.error());
      co_return std::nullopt;
    }
    body.insert(body.end(), (*chunk)->begin(), (*chunk)->end());
  }
  co_return std::optional<Bytes>(std::move(body));
}

ApiError too_slow(const ProxyConfig& config) {
  ApiError e = proxy_error(504, "api_error", "timeout",
                           "the answer took longer than max_request_duration (" +
                               std::to_string(config.max_request_duration.count()) + " s)");
  return e;
}

net::Task<Status> relay_stream(Shared& s, UpstreamResponse& answer, net::ServerResponse& res, Outcome& outcome,
                               StreamFormat format, ApiFamily family, bool drop_usage, Clock::time_point deadline) {
  StreamRelay relay(format, drop_usage);
  net::Headers head;
  head.set("Content-Type", answer.headers().get("content-type").value_or("text/event-stream"));
  head.set("Cache-Control", "no-cache");
  if (const std::string node = answer.node_id(); !node.empty()) head.set(kNodeHeader, node);
  outcome.status = answer.status();
  if (auto ok = co_await res.write_head(answer.status(), std::move(head)); !ok) co_return ok;
  for (;;) {
    std::optional<ApiError> failure;
    Bytes out;
    bool ended = false;
    if (Clock::now() > deadline) {
      failure = too_slow(s.config);
    } else {
      auto piece = co_await answer.read_chunk();
      if (!piece) {
        failure = from_client_error(piece.error());
      } else if (!*piece) {
        out = relay.finish();
        ended = true;
      } else {
        out = relay.feed(**piece);
      }
    }
    if (failure) {
      // The status line is gone already: the caller's SDK raises the error record instead.
      outcome.code = failure->code.empty() ? failure->type : failure->code;
      out = relay.error_record(error_body(*failure, family));
      ended = true;
    }
    if (!out.empty()) {
      if (auto ok = co_await res.write_chunk(out); !ok) co_return ok;
    }
    if (ended) co_return co_await res.finish();
  }
}

net::Task<Status> send_whole(Shared& s, UpstreamResponse& answer, net::ServerResponse& res, Outcome& outcome,
                             ApiFamily family, Clock::time_point deadline) {
  Bytes body;
  for (;;) {
    if (Clock::now() > deadline) {
      const ApiError error = too_slow(s.config);
      co_return co_await send_error(res, outcome, error, family);
    }
    auto piece = co_await answer.read_chunk();
    if (!piece) {
      const ApiError error = from_client_error(piece.error());
      co_return co_await send_error(res, outcome, error, family);
    }
    if (!*piece) break;
    if (body.size() + (*piece)->size() > s.config.max_response_bytes) {
      const ApiError e = proxy_error(502, "api_error", "response_too_large",
                                     "the node's answer exceeds " + std::to_string(s.config.max_response_bytes) +
                                         " bytes (max_response_bytes)");
      co_return co_await send_error(res, outcome, e, family);
    }
    body.insert(body.end(), (*piece)->begin(), (*piece)->end());
  }
  net::Headers headers;
  headers.set("Content-Type", answer.headers().get("content-type").value_or("application/octet-stream"));
  if (const std::string node = answer.node_id(); !node.empty()) headers.set(kNodeHeader, node);
  outcome.status = answer.status();
  co_return co_await res.send(answer.status(), std::move(headers), ByteSpan(body));
}

net::Task<Status> serve_prompt(Shared& s, Endpoint endpoint, net::ServerRequest& req, net::ServerResponse& res,
                               Outcome& outcome) {
  const ApiFamily family = family_of(endpoint);
  const auto deadline = Clock::now() + s.config.max_request_duration;
  auto body = co_await read_body(s, req, res, outcome, family);
  if (!body) co_return std::unexpected(body.error());
  if (!*body) co_return Status{};  // answered already
  auto options = read_prompt_options(endpoint, **body);
  if (!options) co_return co_await send_error(res, outcome, options.error(), family);

  PrivateRequest request(std::string(req.target()), options->model, std::move(**body));
  auto answer = co_await s.upstream->send(std::move(request));
  if (!answer) {
    const ApiError error = from_client_error(answer.error());
    co_return co_await send_error(res, outcome, error, family);
  }
  UpstreamResponse& a = **answer;

  if (a.status() >= 400) {
    Bytes error_answer;
    while (error_answer.size() < kMaxErrorAnswerBytes) {
      auto piece = co_await a.read_chunk();
      if (!piece || !*piece) break;
      error_answer.insert(error_answer.end(), (*piece)->begin(), (*piece)->end());
    }
    const ApiError error = from_engine_answer(a.status(), error_answer);
    co_return co_await send_error(res, outcome, error, family);
  }
  const auto format = stream_format(a.headers().get("content-type").value_or(""));
  if (format) {
    const bool drop_usage = family == ApiFamily::kOpenAi && !options->include_usage;
    co_return co_await relay_stream(s, a, res, outcome, *format, family, drop_usage, deadline);
  }
  co_return co_await send_whole(s, a, res, outcome, family, deadline);
}

// ---- dispatch ------------------------------------------------------------------------------------------------------

net::Task<Status> dispatch(Shared& s, net::ServerRequest& req, net::ServerResponse& res, std::string_view path,
                           Outcome& outcome) {
  const std::string_view method = req.method();
  const ApiFamily family = family_of_path(path);
  if (path == "/_health" && method == "GET") {
    const json body = {{"status", "OK"}};
    co_return co_await send_json(res, outcome, 200, body);
  }
  if (path == "/" && (method == "GET" || method == "HEAD")) {
    outcome.status = 200;
    net::Headers headers;
    headers.set("Content-Type", "text/plain; charset=utf-8");
    co_return co_await res.send(200, std::move(headers), std::string_view(kBanner));
  }

  if (req.headers().contains("Origin")) {
    const ApiError e = proxy_error(403, "permission_error", "origin_not_allowed",
                                   "requests from web pages (with an Origin header) are refused: a page could spend "
                                   "this proxy's credits");
    co_return co_await send_error(res, outcome, e, family);
  }
  if (s.check_host) {
    if (auto host = req.headers().get("Host"); host && !is_loopback_host(host_of_header(*host))) {
      const ApiError e = proxy_error(403, "permission_error", "host_not_allowed",
                                     "this proxy listens on loopback and answers only requests addressed to "
                                     "localhost, 127.0.0.1 or [::1]");
      co_return co_await send_error(res, outcome, e, family);
    }
  }
  if (s.token_digest) {
    auto token = bearer_token(req.headers());
    if (!token || !token_matches(*s.token_digest, *token)) {
      const ApiError e = proxy_error(401, "invalid_request_error", "invalid_api_key",
                                     token ? "the bearer token is not this proxy's token"
                                           : "this proxy needs \"Authorization: Bearer <token>\" (its --token)");
      co_return co_await send_error(res, outcome, e, family);
    }
  }

  const bool is_models = path == kModelsPath || path == kOllamaTagsPath ||
                         (path.starts_with(kModelsPrefix) && path.size() > kModelsPrefix.size());
  const auto endpoint = prompt_endpoint(path);
  if (is_models && method == "GET") co_return co_await serve_models(s, res, outcome, path);
  if (endpoint && method == "POST") co_return co_await serve_prompt(s, *endpoint, req, res, outcome);
  if (is_models || endpoint) {
    const ApiError e = proxy_error(405, "invalid_request_error", "method_not_allowed",
                                   std::string(method) + " is not allowed here: use " +
                                       (endpoint ? "POST" : "GET") + " " + std::string(path));
    co_return co_await send_error(res, outcome, e, family);
  }
  const ApiError e = proxy_error(404, "invalid_request_error", "unknown_url",
                                 "unknown endpoint " + std::string(method) + " " + std::string(path) +
                                     ": this proxy serves POST /v1/chat/completions, /v1/completions, /api/generate, "
                                     "/api/chat and GET /v1/models, /api/tags");
  co_return co_await send_error(res, outcome, e, family);
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (lowercase(host) == "localhost") return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return std::memcmp(&v6, &in6addr_loopback, sizeof v6) == 0;
  return false;
}

net::Handler make_proxy_handler(const ProxyConfig& config, std::shared_ptr<Upstream> upstream) {
  auto shared = std::make_shared<Shared>();
  shared->config = config;
  shared->upstream = std::move(upstream);
  if (!config.token.empty()) shared->token_digest = crypto::sha256(as_bytes(config.token));
  shared->check_host = is_loopback_host(config.host);
  return [shared](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
    const auto started = Clock::now();
    const std::string method(req.method());
    const std::string path(path_of(req.target()));
    Outcome outcome;
    Status result = co_await dispatch(*shared, req, res, path, outcome);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    if (!result) {
      spdlog::info("proxy: {} {} -> {} after {} ms; the connection broke: {}", method, path, outcome.status, ms,
                   to_string(result.error().code));
    } else if (!outcome.code.empty()) {
      spdlog::info("proxy: {} {} -> {} ({}) {} ms", method, path, outcome.status, outcome.code, ms);
    } else {
      spdlog::info("proxy: {} {} -> {} {} ms", method, path, outcome.status, ms);
    }
    co_return result;
  };
}

Proxy::Proxy(std::unique_ptr<net::Server> server, std::string host)
    : server_(std::move(server)), host_(std::move(host)) {}

Proxy::~Proxy() {
  if (server_) server_->shutdown(std::chrono::milliseconds(0));
}

Result<std::unique_ptr<Proxy>> Proxy::start(net::Runtime& runtime, ProxyConfig config,
                                            std::shared_ptr<Upstream> upstream) {
  if (!upstream) return make_error(ErrorCode::kInvalidArgument, "proxy: no upstream");
  if (!is_loopback_host(config.host) && config.token.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "proxy: listening on " + config.host +
                          " (not loopback) needs a token: anyone who reaches the port could spend the credits");
  }
  if (config.max_request_bytes == 0 || config.max_response_bytes == 0 || config.max_connections == 0 ||
      config.max_request_duration.count() <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "proxy: limits must be positive");
  }
  if (config.max_request_bytes > kMaxRequestBytesCeiling) {
    return make_error(ErrorCode::kInvalidArgument, "proxy: max_request_bytes must be at most " +
                                                       std::to_string(kMaxRequestBytesCeiling) + " bytes");
  }
  net::ServerConfig server_config;
  server_config.host = config.host == "localhost" ? "127.0.0.1" : config.host;
  server_config.port = config.port;
  // The handler enforces max_request_bytes itself (answering 413 in the API's error shape, a declared
  // Content-Length before reading anything), so the server's own limit sits above it: far enough for a slightly
  // oversized prompt to get the shaped answer, close enough that the server still refuses absurd declarations.
  server_config.max_body_bytes = config.max_request_bytes + kDeclaredBodySlackBytes;
  server_config.max_connections = config.max_connections;
  server_config.header_timeout = config.header_timeout;
  server_config.body_read_timeout = config.body_read_timeout;
  server_config.write_timeout = config.write_timeout;
  server_config.name = "proxy";
  const std::string host = server_config.host;
  auto server = net::Server::start(runtime, server_config, make_proxy_handler(config, std::move(upstream)));
  if (!server) return std::unexpected(wrap_error("proxy", server.error()));
  return std::unique_ptr<Proxy>(new Proxy(std::move(*server), host));
}

uint16_t Proxy::port() const { return server_->port(); }

std::string Proxy::url() const { return "http://" + services::url_host(host_) + ":" + std::to_string(port()); }

void Proxy::shutdown(std::chrono::milliseconds grace) { server_->shutdown(grace); }

}  // namespace openpcc::client::openai_proxy
