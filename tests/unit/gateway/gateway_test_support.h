// Shared pieces of the gateway tests: a gateway in process in front of a fake upstream (a net::Server whose handler
// each test supplies), keys with periods relative to now, and raw OHTTP clients that build requests byte by byte so
// that tests can see exactly what the gateway answers.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/ohttp_transport.h"
#include "common/bytes.h"
#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "common/random.h"
#include "services/common/metrics.h"
#include "services/gateway/gateway_keys.h"
#include "services/gateway/gateway_routes.h"
#include "services/gateway/gateway_service.h"
#include "support/temp_dir.h"
#include "wire/bhttp.h"
#include "wire/ohttp.h"
#include "wire/ohttp_chunked.h"
#include "wire/ohttp_error.h"

namespace openpcc::gateway::gwtest {

using namespace std::chrono_literals;
namespace bhttp = wire::bhttp;
namespace ohttp = wire::ohttp;

inline transparency::Timestamp hours_from_now(int hours) { return system_now() + std::chrono::hours(hours); }

inline GatewayKeySpec key_spec(const test_support::TempDir& dir, uint8_t id, int from_hours, int until_hours,
                               crypto::KemId kem = crypto::KemId::kX25519Kyber768Draft00) {
  GatewayKeySpec spec;
  spec.key_id = id;
  spec.kem = kem;
  spec.seed_file = dir / ("key-" + std::to_string(id) + ".seed");
  spec.active_from = hours_from_now(from_hours);
  spec.active_until = hours_from_now(until_hours);
  return spec;
}

// Polls `condition` for up to `limit` (what a server records after it has answered may land a moment later).
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 3s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// What the fake upstream saw of one request.
struct SeenRequest {
  std::string method;
  std::string target;
  net::Headers headers;
  Bytes body;
  net::Headers trailers;
  bool chunked = false;
  std::optional<uint64_t> content_length;
  bool body_complete = false;  // read to its end without error
};

// A net::Server on its own runtime that records every request and answers with `handler` (which runs after the
// body has been read, unless the test's handler reads it itself: see `raw`).
class FakeUpstream {
 public:
  using Answer = std::function<net::Task<Status>(const SeenRequest&, net::ServerResponse&)>;
  using Raw = std::function<net::Task<Status>(net::ServerRequest&, net::ServerResponse&, FakeUpstream&)>;

  explicit FakeUpstream(Answer answer, std::chrono::milliseconds body_read_timeout = 10s)
      : answer_(std::move(answer)) {
    start(body_read_timeout);
  }
  FakeUpstream(Raw raw, std::chrono::milliseconds body_read_timeout)
      : raw_(std::move(raw)) {
    start(body_read_timeout);
  }
  ~FakeUpstream() {
    if (server_) server_->shutdown(1s);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  std::vector<SeenRequest> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }
  void record(SeenRequest r) {
    std::lock_guard lock(mutex_);
    seen_.push_back(std::move(r));
  }

  // Reads the whole body into a SeenRequest (records it either way).
  static net::Task<SeenRequest> read_request(net::ServerRequest& req) {
    SeenRequest seen;
    seen.method = std::string(req.method());
    seen.target = std::string(req.target());
    seen.headers = req.headers();
    seen.chunked = req.is_chunked();
    seen.content_length = req.content_length();
    for (;;) {
      auto piece = co_await req.read_chunk();
      if (!piece) co_return seen;
      if (!*piece) break;
      append(seen.body, **piece);
    }
    seen.trailers = req.trailers();
    seen.body_complete = true;
    co_return seen;
  }

 private:
  void start(std::chrono::milliseconds body_read_timeout) {
    net::ServerConfig config;
    config.body_read_timeout = body_read_timeout;
    config.name = "fake-upstream";
    auto server = net::Server::start(runtime_, config, [this](net::ServerRequest& req, net::ServerResponse& res) {
      return handle(req, res);
    });
    EXPECT_TRUE(server) << server.error().to_string();
    server_ = std::move(*server);
  }

  net::Task<Status> handle(net::ServerRequest& req, net::ServerResponse& res) {
    if (raw_) co_return co_await raw_(req, res, *this);
    SeenRequest seen = co_await read_request(req);
    record(seen);
    co_return co_await answer_(seen, res);
  }

  net::Runtime runtime_{2};
  Answer answer_;
  Raw raw_;
  std::unique_ptr<net::Server> server_;
  std::mutex mutex_;
  std::vector<SeenRequest> seen_;
};

// Answers 200 with a body made of the request's method, target and body ("POST /deposit|<body>").
inline FakeUpstream::Answer echo_answer() {
  return [](const SeenRequest& seen, net::ServerResponse& res) -> net::Task<Status> {
    net::Headers headers;
    headers.set("Content-Type", "application/octet-stream");
    headers.set("X-Echo", "yes");
    std::string text = seen.method + " " + seen.target + "|";
    Bytes body = to_bytes(text);
    append(body, seen.body);
    co_return co_await res.send(200, std::move(headers), ByteSpan(body));
  };
}

// A gateway (real service) in front of a bank and a router URL, with keys in its own directory.
struct GatewayUnderTest {
  test_support::TempDir dir{"openpcc-gateway-test"};
  ServiceConfig config;
  std::unique_ptr<Service> service;

  // Default keys: 1 expired, 2 active since 2 h, 3 active since 1 h (the current one), 4 from tomorrow.
  static std::vector<GatewayKeySpec> default_keys(const test_support::TempDir& dir) {
    return {key_spec(dir, 1, -48, -24), key_spec(dir, 2, -2, 24 * 30), key_spec(dir, 3, -1, 24 * 30),
            key_spec(dir, 4, 24, 24 * 30)};
  }

  void start(const std::string& bank_url, const std::string& router_url,
             std::function<void(ServiceConfig&)> adjust = {}) {
    config.host = "127.0.0.1";
    config.port = 0;
    config.data_dir = dir.path();
    config.keys = default_keys(dir);
    config.bank_url = bank_url;
    config.router_url = router_url;
    config.threads = 2;
    config.upstream_connect_timeout = 2s;
    if (adjust) adjust(config);
    auto started = Service::start(config);
    ASSERT_TRUE(started) << started.error().to_string();
    service = std::move(*started);
  }

  std::string url() const { return service->url(); }
  std::string keys_url() const { return url() + "/ohttp-keys"; }

  const ohttp::KeyConfig& key(uint8_t id) const {
    for (const auto& k : service->keys().keys.keys()) {
      if (k.config.key_id == id) return k.config;
    }
    ADD_FAILURE() << "no key " << int(id);
    return service->keys().keys.keys().front().config;
  }
  const ohttp::KeyConfig& current_key() const { return key(3); }

  // The gateway records a request's metrics after its response has gone out: wait for the expected value.
  bool counter_reaches(std::string_view needle, uint64_t expected) const {
    return eventually([&] { return counter(needle) == expected; });
  }

  uint64_t counter(std::string_view needle) const {
    // "openpcc_gateway_requests_total{outcome="ok"} 3": the number after the first line containing `needle`.
    const std::string text = service->metrics().render();
    size_t at = text.find(needle);
    if (at == std::string::npos) return 0;
    size_t end = text.find('\n', at);
    std::string line = text.substr(at, end - at);
    return std::stoull(line.substr(line.rfind(' ') + 1));
  }
};

// A URL nobody listens on.
inline std::string dead_url() {
  net::Runtime rt(1);
  net::ServerConfig config;
  auto server = net::Server::start(rt, config, [](net::ServerRequest&, net::ServerResponse& res) -> net::Task<Status> {
    co_return co_await res.send(500, net::Headers(), std::string_view(""));
  });
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port());
  (*server)->shutdown(0s);
  return url;
}

// ---- raw OHTTP exchanges ----------------------------------------------------------------------------------------

inline bhttp::Request inner_request(std::string method, std::string authority, std::string path, Bytes body = {}) {
  bhttp::Request r;
  r.method = std::move(method);
  r.scheme = "http";
  r.authority = std::move(authority);
  r.path = std::move(path);
  r.body = std::move(body);
  return r;
}

struct RawAnswer {
  int status = 0;
  std::string content_type;
  Bytes body;                                 // the outer body
  std::optional<bhttp::Response> inner;       // decapsulated and decoded, for 200 answers
  std::optional<bhttp::Framing> inner_framing;
  std::string error;                          // why `inner` is missing
};

inline void open_inner(RawAnswer& answer, const wire::ResponseSecrets& secrets) {
  if (answer.status != 200) return;
  auto chunking = ohttp::response_chunking(answer.content_type);
  if (!chunking) {
    answer.error = "content type " + answer.content_type;
    return;
  }
  auto context = secrets.context(*chunking);
  Bytes plain;
  if (*chunking == wire::Chunking::kUnchunked) {
    auto opened = context->open(answer.body);
    if (!opened) {
      answer.error = opened.error().to_string();
      return;
    }
    plain = std::move(*opened);
  } else {
    auto opener = context->chunked_opener();
    if (auto ok = opener.feed(answer.body, plain); !ok) {
      answer.error = ok.error().to_string();
      return;
    }
    if (auto ok = opener.finish(plain); !ok) {
      answer.error = ok.error().to_string();
      return;
    }
  }
  auto decoded = bhttp::decode(plain);
  if (!decoded || !std::holds_alternative<bhttp::Response>(decoded->message)) {
    answer.error = decoded ? "not a response" : decoded.error().to_string();
    return;
  }
  answer.inner = std::get<bhttp::Response>(decoded->message);
  answer.inner_framing = decoded->framing;
}

inline RawAnswer post_raw(const std::string& url, std::string_view content_type, ByteSpan body) {
  net::ClientRequest request("POST", url, Bytes(body.begin(), body.end()));
  request.headers.set("Content-Type", content_type);
  RawAnswer answer;
  auto response = net::fetch_blocking(std::move(request));
  if (!response) {
    answer.error = response.error().to_string();
    return answer;
  }
  answer.status = response->status;
  answer.content_type = std::string(response->headers.get("Content-Type").value_or(""));
  answer.body = std::move(response->body);
  return answer;
}

// An unchunked OHTTP request (known-length BHTTP unless told otherwise).
inline RawAnswer send_whole(const std::string& url, const ohttp::KeyConfig& key, const bhttp::Request& inner,
                            bhttp::Framing framing = bhttp::Framing::kKnownLength) {
  bhttp::EncodeOptions options;
  options.framing = framing;
  auto encoded = bhttp::encode(inner, options);
  EXPECT_TRUE(encoded) << encoded.error().to_string();
  auto sealed = ohttp::encapsulate_request(key, *encoded);
  EXPECT_TRUE(sealed) << sealed.error().to_string();
  RawAnswer answer = post_raw(url, ohttp::kRequestMediaType, sealed->request);
  open_inner(answer, sealed->response_secrets);
  return answer;
}

// A chunked OHTTP request (indeterminate BHTTP, the fixed-size profile), sent whole.
inline RawAnswer send_chunked(const std::string& url, const ohttp::KeyConfig& key, const bhttp::Request& inner) {
  auto encoded = bhttp::encode(inner, bhttp::fixed_size_profile(bhttp::kOhttpMessageChunkLen));
  EXPECT_TRUE(encoded) << encoded.error().to_string();
  auto sealed = ohttp::encapsulate_chunked_request(key, *encoded, {}, ohttp::openpcc_fixed_size_chunks());
  EXPECT_TRUE(sealed) << sealed.error().to_string();
  RawAnswer answer = post_raw(url, ohttp::kChunkedRequestMediaType, sealed->request);
  open_inner(answer, sealed->response_secrets);
  return answer;
}

inline std::string text_of(ByteSpan b) { return to_string(b); }

// The problem body the gateway answers for a taxonomy code.
inline std::string problem_body(ohttp::OhttpErrorCode code) { return ohttp::problem_response(code).body; }

}  // namespace openpcc::gateway::gwtest
