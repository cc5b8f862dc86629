// A real gateway in process in front of fake upstreams (net::Server), spoken to with raw OHTTP requests and with the
// client's OhttpTransport: key publication, round trips whole and chunked both ways, trailers, streaming in both
// directions, the allowlist, the ping, key errors and rotation, malformed and oversize requests, upstream failures.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "client/ohttp_transport.h"
#include "transparency/bundle.h"
#include "unit/gateway/gateway_test_support.h"

namespace openpcc::gateway {
namespace {

using namespace gwtest;
using client::OhttpTransport;
using net::Task;
using Code = ohttp::OhttpErrorCode;

net::Client new_client() {
  auto c = net::Client::create();
  EXPECT_TRUE(c);
  return *c;
}

class GatewayHttp : public ::testing::Test {
 protected:
  // A gateway whose bank and router are `upstream` (or dead).
  void start(FakeUpstream* bank, FakeUpstream* router, std::function<void(ServiceConfig&)> adjust = {}) {
    gw_.start(bank ? bank->url() : dead_url(), router ? router->url() : dead_url(), std::move(adjust));
  }

  OhttpTransport transport(client::KeySource keys = {}) {
    if (!keys) keys = client::fixed_key_source(gw_.current_key());
    return OhttpTransport(new_client(), gw_.url() + "/", std::move(keys));
  }

  Result<net::ClientResponse> send(const OhttpTransport& t, net::ClientRequest inner) {
    return rt_.block_on([&]() -> Task<Result<net::ClientResponse>> { co_return co_await t.send(std::move(inner)); });
  }

  GatewayUnderTest gw_;
  net::Runtime rt_{1};
};

// ---- keys ----

TEST_F(GatewayHttp, PublishesItsCurrentKeysAndStatement) {
  start(nullptr, nullptr, [](ServiceConfig& c) { c.key_statement = c.data_dir / "bundle.json"; });
  auto keys = net::fetch_blocking(net::ClientRequest("GET", gw_.keys_url()));
  ASSERT_TRUE(keys) << keys.error().to_string();
  EXPECT_EQ(keys->status, 200);
  EXPECT_EQ(keys->headers.get("Content-Type"), ohttp::kKeysMediaType);
  auto parsed = ohttp::parse_key_configs(keys->body);
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  // What load_gateway_keys gives a publisher, minus the expired key, the current one first.
  auto material = load_gateway_keys(gw_.config);
  ASSERT_TRUE(material);
  EXPECT_EQ(*parsed, current_key_configs(*material, system_now()));
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[0], gw_.current_key());
  EXPECT_EQ((*parsed)[0].kem, crypto::KemId::kX25519Kyber768Draft00);

  // The key source of the transport reads the same.
  auto fetched = rt_.block_on([&]() -> Task<Result<ohttp::KeyConfig>> {
    co_return co_await client::fetch_gateway_key_config(new_client(), gw_.keys_url());
  });
  ASSERT_TRUE(fetched) << fetched.error().to_string();
  EXPECT_EQ(*fetched, gw_.current_key());

  // The statement: 404 until the file exists, then its bytes, re-read per request.
  auto none = net::fetch_blocking(net::ClientRequest("GET", gw_.url() + "/ohttp-keys/statement"));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  std::ofstream(gw_.dir / "bundle.json") << R"({"bundle": 1})";
  auto first = net::fetch_blocking(net::ClientRequest("GET", gw_.url() + "/ohttp-keys/statement"));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->headers.get("Content-Type"), transparency::kTransparencyBundleMediaType);
  EXPECT_EQ(text_of(first->body), R"({"bundle": 1})");
  std::ofstream(gw_.dir / "bundle.json") << R"({"bundle": 2})";
  auto second = net::fetch_blocking(net::ClientRequest("GET", gw_.url() + "/ohttp-keys/statement"));
  EXPECT_EQ(text_of(second->body), R"({"bundle": 2})");
}

TEST_F(GatewayHttp, HealthMetricsAndOtherMethods) {
  start(nullptr, nullptr);
  auto health = net::fetch_blocking(net::ClientRequest("GET", gw_.url() + "/_health"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(text_of(health->body), R"({"status":"OK"})");
  auto metrics = net::fetch_blocking(net::ClientRequest("GET", gw_.url() + "/metrics"));
  ASSERT_TRUE(metrics);
  EXPECT_NE(text_of(metrics->body).find("openpcc_gateway_requests_total{outcome=\"ok\"} 0"), std::string::npos)
      << text_of(metrics->body);
  EXPECT_EQ(net::fetch_blocking(net::ClientRequest("GET", gw_.url() + "/nothing"))->status, 404);
  EXPECT_EQ(net::fetch_blocking(net::ClientRequest("PUT", gw_.url() + "/", to_bytes("x")))->status, 405);
}

// ---- round trips ----

TEST_F(GatewayHttp, WholeRequestWholeResponse) {
  FakeUpstream bank(echo_answer());
  start(&bank, nullptr);
  bhttp::Request inner = inner_request("POST", "confsec-bank.invalid", "/deposit", to_bytes("credit"));
  inner.headers = {{"content-type", "application/octet-stream"}, {"x-custom", "1"}, {"host", "spoofed.example"},
                   {"connection", "x-custom"}, {"content-length", "6"}};
  RawAnswer answer = send_whole(gw_.url() + "/", gw_.current_key(), inner);
  ASSERT_EQ(answer.status, 200) << answer.error << text_of(answer.body);
  EXPECT_EQ(answer.content_type, ohttp::kResponseMediaType);
  ASSERT_TRUE(answer.inner) << answer.error;
  EXPECT_EQ(*answer.inner_framing, bhttp::Framing::kKnownLength);
  EXPECT_EQ(answer.inner->status, 200);
  EXPECT_EQ(text_of(answer.inner->body), "POST /deposit|credit");
  EXPECT_EQ(bhttp::find_field(answer.inner->headers, "x-echo"), "yes");
  EXPECT_FALSE(bhttp::find_field(answer.inner->headers, "content-length"));

  ASSERT_EQ(bank.count(), 1u);
  const SeenRequest seen = bank.seen()[0];
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/deposit");
  EXPECT_EQ(text_of(seen.body), "credit");
  EXPECT_EQ(seen.content_length, 6u);  // the whole request was in hand: sent with its length
  EXPECT_FALSE(seen.chunked);
  EXPECT_EQ(seen.headers.get("Content-Type"), "application/octet-stream");
  // The inner Host never reaches the upstream, nor fields the inner Connection named (hop-by-hop).
  EXPECT_NE(seen.headers.get("Host"), "spoofed.example");
  EXPECT_FALSE(seen.headers.contains("X-Custom"));
  EXPECT_TRUE(gw_.counter_reaches("requests_total{outcome=\"ok\"}", 1)) << gw_.counter("requests_total{outcome=\"ok\"}");
  EXPECT_TRUE(gw_.counter_reaches("upstream_requests_total{upstream=\"bank\"}", 1)) << gw_.counter("upstream_requests_total{upstream=\"bank\"}");
}

TEST_F(GatewayHttp, ChunkedRequestChunkedResponseWithTrailersBothWays) {
  FakeUpstream router([](const SeenRequest& seen, net::ServerResponse& res) -> Task<Status> {
    net::Headers head{{"Content-Type", "application/confsec-chunked-res"}, {"Trailer", "X-Refund"}};
    if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
    for (int i = 0; i < 3; ++i) {
      Bytes piece(3000, static_cast<uint8_t>('a' + i));
      if (auto ok = co_await res.write_chunk(piece); !ok) co_return ok;
    }
    net::Headers trailers{{"X-Refund", "refund-" + std::string(seen.trailers.get("X-Sum").value_or("?"))}};
    co_return co_await res.finish(trailers);
  });
  start(nullptr, &router);
  bhttp::Request inner = inner_request("POST", "confsec-router.invalid", "/", Bytes(4000, 'q'));
  inner.headers = {{"content-type", "application/confsec-chunked-req"}, {"x-routing-info", "ri"}};
  inner.trailers = {{"x-sum", "42"}};
  RawAnswer answer = send_chunked(gw_.url() + "/", gw_.current_key(), inner);
  ASSERT_EQ(answer.status, 200) << answer.error;
  EXPECT_EQ(answer.content_type, ohttp::kChunkedResponseMediaType);
  ASSERT_TRUE(answer.inner) << answer.error;
  EXPECT_EQ(*answer.inner_framing, bhttp::Framing::kIndeterminateLength);
  EXPECT_EQ(answer.inner->body.size(), 9000u);
  EXPECT_EQ(answer.inner->body[8999], 'c');
  EXPECT_EQ(bhttp::find_field(answer.inner->trailers, "x-refund"), "refund-42");
  EXPECT_EQ(bhttp::find_field(answer.inner->headers, "trailer"), "X-Refund");

  ASSERT_EQ(router.count(), 1u);
  const SeenRequest seen = router.seen()[0];
  EXPECT_EQ(seen.body, inner.body);
  EXPECT_EQ(seen.trailers.get("X-Sum"), "42");  // request trailers go upstream (chunked)
  EXPECT_TRUE(seen.chunked);
  EXPECT_EQ(seen.headers.get("X-Routing-Info"), "ri");
}

TEST_F(GatewayHttp, ResponseFramingFollowsTheRequestAndTheUpstream) {
  // A whole upstream answer to a chunked request is chunked; a chunked upstream answer to a whole request too.
  FakeUpstream bank(echo_answer());
  FakeUpstream router([](const SeenRequest&, net::ServerResponse& res) -> Task<Status> {
    net::Headers head{{"Content-Type", "text/plain"}};
    if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
    if (auto ok = co_await res.write_chunk(as_bytes(std::string_view("pong"))); !ok) co_return ok;
    co_return co_await res.finish();
  });
  start(&bank, &router);
  RawAnswer chunked = send_chunked(gw_.url() + "/", gw_.current_key(),
                                   inner_request("POST", "confsec-bank.invalid", "/balance", to_bytes("t")));
  ASSERT_TRUE(chunked.inner) << chunked.error;
  EXPECT_EQ(chunked.content_type, ohttp::kChunkedResponseMediaType);
  EXPECT_EQ(text_of(chunked.inner->body), "POST /balance|t");
  RawAnswer whole = send_whole(gw_.url() + "/", gw_.current_key(),
                               inner_request("GET", "confsec-router.invalid", "/ping"));
  ASSERT_TRUE(whole.inner) << whole.error;
  EXPECT_EQ(whole.content_type, ohttp::kChunkedResponseMediaType);
  EXPECT_EQ(text_of(whole.inner->body), "pong");
  // A bodiless GET goes upstream without a body.
  EXPECT_EQ(router.seen()[0].method, "GET");
  EXPECT_TRUE(router.seen()[0].body.empty());
  EXPECT_FALSE(router.seen()[0].chunked);
}

TEST_F(GatewayHttp, TransportRoundTripsBothWays) {
  FakeUpstream bank(echo_answer());
  FakeUpstream router([](const SeenRequest& seen, net::ServerResponse& res) -> Task<Status> {
    net::Headers head{{"Content-Type", "application/confsec-chunked-res"}, {"Trailer", "X-Refund"}};
    if (auto ok = co_await res.write_head(201, std::move(head)); !ok) co_return ok;
    if (auto ok = co_await res.write_chunk(seen.body); !ok) co_return ok;
    net::Headers trailers{{"X-Refund", "r"}};
    co_return co_await res.finish(trailers);
  });
  start(&bank, &router);
  OhttpTransport t = transport();

  // Whole messages: the HttpTransport the bank client uses.
  net::ClientRequest deposit("POST", std::string(kBankUrl) + "/deposit", to_bytes("abc"));
  deposit.headers.set("Content-Type", "application/octet-stream");
  auto answer = rt_.block_on([&]() -> Task<Result<net::ClientResponse>> {
    co_return co_await t.transport()(std::move(deposit));
  });
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(text_of(answer->body), "POST /deposit|abc");
  EXPECT_EQ(answer->headers.get("X-Echo"), "yes");

  // Whole request, chunked response with trailers, collected whole.
  Bytes big(20000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i);
  auto collected = send(t, net::ClientRequest("POST", std::string(kRouterUrl) + "/", big));
  ASSERT_TRUE(collected) << collected.error().to_string();
  EXPECT_EQ(collected->status, 201);
  EXPECT_EQ(collected->body, big);
  EXPECT_EQ(collected->trailers.get("X-Refund"), "r");

  // Streaming: chunked request with the fixed-size profile.
  auto streamed = rt_.block_on([&]() -> Task<Result<std::pair<Bytes, std::string>>> {
    auto s = co_await t.send_streaming(net::ClientRequest("POST", std::string(kRouterUrl) + "/", big));
    if (!s) co_return std::unexpected(s.error());
    EXPECT_EQ((*s)->status(), 201);
    EXPECT_TRUE((*s)->chunked());
    EXPECT_EQ((*s)->headers().get("Content-Type"), "application/confsec-chunked-res");
    auto body = co_await (*s)->read_all();
    if (!body) co_return std::unexpected(body.error());
    co_return std::make_pair(std::move(*body), std::string((*s)->trailers().get("X-Refund").value_or("")));
  });
  ASSERT_TRUE(streamed) << streamed.error().to_string();
  EXPECT_EQ(streamed->first, big);
  EXPECT_EQ(streamed->second, "r");
  ASSERT_EQ(router.count(), 2u);
  EXPECT_EQ(router.seen()[1].body, big);
}

TEST_F(GatewayHttp, TheStreamedRequestIsTheFixedSizeProfileOnTheWire) {
  // What the relay would see: hdr ‖ enc (1127 bytes), n × 550-byte chunks, a 17-byte final chunk.
  Bytes outer_body;
  FakeUpstream relay(
      [&outer_body](net::ServerRequest& req, net::ServerResponse& res, FakeUpstream&) -> Task<Status> {
        EXPECT_EQ(req.headers().get("Content-Type"), ohttp::kChunkedRequestMediaType);
        EXPECT_EQ(req.headers().get("Incremental"), "?1");
        EXPECT_FALSE(req.headers().contains("User-Agent"));
        auto body = co_await req.read_all();
        if (body) outer_body = *body;
        co_return co_await res.send(502, net::Headers(), std::string_view(""));
      },
      10s);
  start(nullptr, nullptr);
  OhttpTransport t(new_client(), relay.url() + "/", client::fixed_key_source(gw_.current_key()));
  auto result = rt_.block_on([&]() -> Task<Status> {
    auto s = co_await t.send_streaming(net::ClientRequest("POST", std::string(kRouterUrl) + "/", Bytes(1500, 1)));
    if (!s) co_return std::unexpected(s.error());
    co_return Status{};
  });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);  // the 502
  ASSERT_GT(outer_body.size(), 1127u + 17u);
  EXPECT_EQ((outer_body.size() - 1127 - 17) % 550, 0u) << outer_body.size();
}

// ---- streaming ----

TEST_F(GatewayHttp, ResponsePiecesReachTheClientBeforeTheUpstreamSendsTheNext) {
  std::atomic<bool> client_got_first{false};
  std::atomic<bool> waited_in_vain{false};
  FakeUpstream router([&](const SeenRequest&, net::ServerResponse& res) -> Task<Status> {
    net::Headers head{{"Content-Type", "text/event-stream"}, {"Trailer", "X-Refund"}};
    if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
    if (auto ok = co_await res.write_chunk(as_bytes(std::string_view("token-1 "))); !ok) co_return ok;
    for (int i = 0; i < 500 && !client_got_first; ++i) co_await net::sleep_for(std::chrono::milliseconds(10));
    if (!client_got_first) waited_in_vain = true;
    if (auto ok = co_await res.write_chunk(as_bytes(std::string_view("token-2"))); !ok) co_return ok;
    net::Headers trailers{{"X-Refund", "5"}};
    co_return co_await res.finish(trailers);
  });
  start(nullptr, &router);
  OhttpTransport t = transport();
  auto pieces = rt_.block_on([&]() -> Task<Result<std::vector<std::string>>> {
    auto s = co_await t.send_streaming(net::ClientRequest("POST", std::string(kRouterUrl) + "/", to_bytes("q")));
    if (!s) co_return std::unexpected(s.error());
    std::vector<std::string> out;
    for (;;) {
      auto piece = co_await (*s)->read_chunk();
      if (!piece) co_return std::unexpected(piece.error());
      if (!*piece) break;
      out.push_back(to_string(**piece));
      client_got_first = true;
    }
    out.push_back(std::string((*s)->trailers().get("X-Refund").value_or("")));
    co_return out;
  });
  ASSERT_TRUE(pieces) << pieces.error().to_string();
  EXPECT_FALSE(waited_in_vain) << "the first piece was held back until the second";
  EXPECT_EQ(*pieces, (std::vector<std::string>{"token-1 ", "token-2", "5"}));
}

// A raw client that streams a chunked OHTTP request: the first BHTTP piece (head + some body), then waits.
struct StreamingRawClient {
  ohttp::ChunkedRequestSealer sealer;
  bhttp::StreamEncoder encoder{bhttp::EncodeOptions{}};
  std::unique_ptr<net::ClientStream> stream;

  static Result<StreamingRawClient> create(const ohttp::KeyConfig& key) {
    auto sealer = ohttp::ChunkedRequestSealer::create(key);
    if (!sealer) return std::unexpected(sealer.error());
    return StreamingRawClient{std::move(*sealer), bhttp::StreamEncoder(bhttp::EncodeOptions{}), nullptr};
  }
  Task<Status> open(const std::string& url) {
    auto client = new_client();
    net::Headers headers;
    headers.set("Content-Type", ohttp::kChunkedRequestMediaType);
    auto s = co_await client.open("POST", url, std::move(headers));
    if (!s) co_return std::unexpected(s.error());
    stream = std::move(*s);
    co_return Status{};
  }
  Task<Status> write_bhttp(ByteSpan bhttp) {
    Bytes out;
    if (auto ok = sealer.write(bhttp, out); !ok) co_return ok;
    co_return co_await stream->write_chunk(out);
  }
  Task<Status> write_head(const bhttp::RequestHead& head) {
    Bytes plain;
    if (auto ok = encoder.begin_request(head, plain); !ok) co_return ok;
    co_return co_await write_bhttp(plain);
  }
  Task<Status> write_body(std::string_view text) {
    Bytes plain;
    if (auto ok = encoder.body(as_bytes(text), plain); !ok) co_return ok;
    co_return co_await write_bhttp(plain);
  }
  Task<Status> end(const bhttp::Fields& trailers) {
    Bytes plain;
    if (auto ok = encoder.finish(trailers, plain); !ok) co_return ok;
    Bytes out;
    if (auto ok = sealer.write(plain, out); !ok) co_return ok;
    if (auto ok = sealer.finish(out); !ok) co_return ok;
    if (auto ok = co_await stream->write_chunk(out); !ok) co_return ok;
    co_return co_await stream->finish();
  }
};

TEST_F(GatewayHttp, RequestBodyIsForwardedAsItArrives) {
  std::atomic<bool> upstream_got_first{false};
  FakeUpstream router(
      [&](net::ServerRequest& req, net::ServerResponse& res, FakeUpstream& self) -> Task<Status> {
        SeenRequest seen;
        seen.chunked = req.is_chunked();
        for (;;) {
          auto piece = co_await req.read_chunk();
          if (!piece) co_return std::unexpected(piece.error());
          if (!*piece) break;
          append(seen.body, **piece);
          if (text_of(seen.body) == "part-1;") upstream_got_first = true;
        }
        seen.trailers = req.trailers();
        seen.body_complete = true;
        self.record(seen);
        net::Headers head{{"Content-Type", "text/plain"}};
        co_return co_await res.send(200, std::move(head), std::string_view("done"));
      },
      10s);
  start(nullptr, &router);
  auto raw = StreamingRawClient::create(gw_.current_key());
  ASSERT_TRUE(raw);
  bool saw_first_in_time = false;
  RawAnswer answer;
  auto ok = rt_.block_on([&]() -> Task<Status> {
    if (auto ok = co_await raw->open(gw_.url() + "/"); !ok) co_return ok;
    bhttp::RequestHead head;
    head.method = "POST";
    head.scheme = "http";
    head.authority = "confsec-router.invalid";
    head.path = "/";
    if (auto ok = co_await raw->write_head(head); !ok) co_return ok;
    if (auto ok = co_await raw->write_body("part-1;"); !ok) co_return ok;
    for (int i = 0; i < 500 && !upstream_got_first; ++i) co_await net::sleep_for(std::chrono::milliseconds(10));
    saw_first_in_time = upstream_got_first;
    if (auto ok = co_await raw->write_body("part-2"); !ok) co_return ok;
    bhttp::Fields trailers{{"x-end", "yes"}};
    if (auto ok = co_await raw->end(trailers); !ok) co_return ok;
    if (auto ok = co_await raw->stream->read_head(); !ok) co_return ok;
    answer.status = raw->stream->status();
    answer.content_type = std::string(raw->stream->headers().get("Content-Type").value_or(""));
    auto body = co_await raw->stream->read_all();
    if (!body) co_return std::unexpected(body.error());
    answer.body = *body;
    co_return Status{};
  });
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_TRUE(saw_first_in_time) << "the gateway held the request body back";
  open_inner(answer, raw->sealer.response_secrets());
  ASSERT_TRUE(answer.inner) << answer.error;
  EXPECT_EQ(text_of(answer.inner->body), "done");
  ASSERT_EQ(router.count(), 1u);
  EXPECT_TRUE(router.seen()[0].chunked);
  EXPECT_EQ(text_of(router.seen()[0].body), "part-1;part-2");
  EXPECT_EQ(router.seen()[0].trailers.get("x-end"), "yes");
}

TEST_F(GatewayHttp, ARequestThatFailsMidStreamIsNeverFinishedUpstream) {
  std::atomic<bool> upstream_got_first{false};
  FakeUpstream router(
      [&](net::ServerRequest& req, net::ServerResponse& res, FakeUpstream& self) -> Task<Status> {
        SeenRequest seen = co_await FakeUpstream::read_request(req);
        upstream_got_first = !seen.body.empty();
        self.record(seen);
        if (!seen.body_complete) co_return make_error(ErrorCode::kIo, "incomplete request");
        co_return co_await res.send(200, net::Headers(), std::string_view("processed"));
      },
      300ms);  // the upstream gives up on the body quickly (the gateway never finishes it)
  start(nullptr, &router);
  auto raw = StreamingRawClient::create(gw_.current_key());
  ASSERT_TRUE(raw);
  RawAnswer answer;
  auto ok = rt_.block_on([&]() -> Task<Status> {
    if (auto ok = co_await raw->open(gw_.url() + "/"); !ok) co_return ok;
    bhttp::RequestHead head;
    head.method = "POST";
    head.scheme = "http";
    head.authority = "confsec-router.invalid";
    head.path = "/";
    if (auto ok = co_await raw->write_head(head); !ok) co_return ok;
    if (auto ok = co_await raw->write_body("part-1;"); !ok) co_return ok;
    co_await net::sleep_for(std::chrono::milliseconds(100));
    // A chunk that does not authenticate, then the end of the body.
    Bytes forged{0x40, 0x20};
    forged.resize(2 + 32, 0xee);
    if (auto ok = co_await raw->stream->write_chunk(forged); !ok) co_return ok;
    if (auto ok = co_await raw->stream->finish(); !ok) co_return ok;
    if (auto ok = co_await raw->stream->read_head(); !ok) co_return ok;
    answer.status = raw->stream->status();
    answer.content_type = std::string(raw->stream->headers().get("Content-Type").value_or(""));
    auto body = co_await raw->stream->read_all();
    if (body) answer.body = *body;
    co_return Status{};
  });
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(text_of(answer.body), problem_body(Code::kRequestDecoding));
  // The upstream's handler notices the cut connection on its own schedule.
  ASSERT_TRUE(eventually([&] { return router.count() == 1; }));
  EXPECT_FALSE(router.seen()[0].body_complete);  // the upstream never saw the end of a request that failed
  EXPECT_EQ(text_of(router.seen()[0].body), "part-1;");
}

// A client that breaks its connection in the middle of a streamed request: the gateway aborts its upstream
// connection, so the upstream sees the connection end (kIo) instead of waiting out its body read timeout.
TEST_F(GatewayHttp, AClientThatBreaksOffMidBodyCutsTheUpstreamConnection) {
  std::atomic<bool> upstream_got_first{false};
  std::mutex mutex;
  std::optional<ErrorCode> upstream_read_error;
  std::atomic<bool> upstream_done{false};
  FakeUpstream router(
      [&](net::ServerRequest& req, net::ServerResponse& res, FakeUpstream& self) -> Task<Status> {
        SeenRequest seen;
        for (;;) {
          auto piece = co_await req.read_chunk();
          if (!piece) {
            {
              std::lock_guard lock(mutex);
              upstream_read_error = piece.error().code;
            }
            self.record(seen);
            upstream_done = true;
            co_return std::unexpected(piece.error());
          }
          if (!*piece) break;
          append(seen.body, **piece);
          upstream_got_first = true;
        }
        seen.body_complete = true;
        self.record(seen);
        upstream_done = true;
        co_return co_await res.send(200, net::Headers(), std::string_view("processed"));
      },
      60s);  // far beyond the test's waits: only the gateway's abort can end the upstream's read in time
  start(nullptr, &router);
  auto raw = StreamingRawClient::create(gw_.current_key());
  ASSERT_TRUE(raw);
  auto ok = rt_.block_on([&]() -> Task<Status> {
    if (auto ok = co_await raw->open(gw_.url() + "/"); !ok) co_return ok;
    bhttp::RequestHead head;
    head.method = "POST";
    head.scheme = "http";
    head.authority = "confsec-router.invalid";
    head.path = "/";
    if (auto ok = co_await raw->write_head(head); !ok) co_return ok;
    if (auto ok = co_await raw->write_body("part-1;"); !ok) co_return ok;
    for (int i = 0; i < 2000 && !upstream_got_first; ++i) co_await net::sleep_for(std::chrono::milliseconds(10));
    if (!upstream_got_first) co_return make_error(ErrorCode::kTimeout, "the upstream never got the first piece");
    raw->stream.reset();  // the client goes away mid-body: its connection closes
    co_return Status{};
  });
  ASSERT_TRUE(ok) << ok.error().to_string();
  ASSERT_TRUE(eventually([&] { return upstream_done.load(); }, 20s)) << "the upstream still waits for the body";
  std::lock_guard lock(mutex);
  ASSERT_TRUE(upstream_read_error) << "the upstream saw a complete request";
  EXPECT_EQ(*upstream_read_error, ErrorCode::kIo);  // the connection ended; not kTimeout
  EXPECT_EQ(text_of(router.seen().at(0).body), "part-1;");
}

// ---- allowlist and ping ----

TEST_F(GatewayHttp, AllowlistRefusesHostsAndAnswersUnknownPathsWith404) {
  FakeUpstream bank(echo_answer());
  FakeUpstream router(echo_answer());
  start(&bank, &router);
  for (bool chunked : {false, true}) {
    auto send_it = [&](const bhttp::Request& r) {
      return chunked ? send_chunked(gw_.url() + "/", gw_.current_key(), r)
                     : send_whole(gw_.url() + "/", gw_.current_key(), r);
    };
    RawAnswer host = send_it(inner_request("POST", "evil.example", "/deposit", to_bytes("x")));
    EXPECT_EQ(host.status, 400);
    EXPECT_EQ(host.content_type, ohttp::kProblemJsonMediaType);
    EXPECT_EQ(text_of(host.body), problem_body(Code::kInvalidRequest));
    for (auto [method, authority, path] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"POST", "confsec-bank.invalid", "/admin"},
             {"GET", "confsec-bank.invalid", "/balance"},
             {"POST", "confsec-router.invalid", "/node-events"},
             {"POST", "confsec-router.invalid", "/?q=1"}}) {
      RawAnswer answer = send_it(inner_request(method, authority, path));
      EXPECT_EQ(answer.status, 200) << path;
      ASSERT_TRUE(answer.inner) << answer.error;
      EXPECT_EQ(answer.inner->status, 404) << method << " " << path;
    }
  }
  EXPECT_EQ(bank.count(), 0u);
  EXPECT_EQ(router.count(), 0u);

  // What the transport's user sees.
  OhttpTransport t = transport();
  auto refused = send(t, net::ClientRequest("POST", "http://evil.example/deposit", to_bytes("x")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("400"), std::string::npos) << refused.error().message;
  auto missing = send(t, net::ClientRequest("POST", std::string(kBankUrl) + "/admin", to_bytes("x")));
  ASSERT_TRUE(missing) << missing.error().to_string();
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(gw_.counter_reaches("requests_total{outcome=\"request_error\"}", 12))
      << gw_.counter("requests_total{outcome=\"request_error\"}");
}

TEST_F(GatewayHttp, PingIsAnsweredByTheGateway) {
  FakeUpstream router(echo_answer());
  start(nullptr, &router);
  bhttp::Request ping = inner_request("GET", "confsec-router.invalid", "/ping");
  ping.headers = {{"x-confsec-ping", "gateway"}};
  for (bool chunked : {false, true}) {
    RawAnswer answer = chunked ? send_chunked(gw_.url() + "/", gw_.current_key(), ping)
                               : send_whole(gw_.url() + "/", gw_.current_key(), ping);
    ASSERT_TRUE(answer.inner) << answer.error;
    EXPECT_EQ(answer.inner->status, 200);
    EXPECT_EQ(text_of(answer.inner->body), "gateway");
  }
  EXPECT_EQ(router.count(), 0u);
  OhttpTransport t = transport();
  net::ClientRequest request("POST", std::string(kRouterUrl) + "/");
  request.headers.set("X-Confsec-Ping", "gateway");
  auto answer = send(t, std::move(request));
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_EQ(text_of(answer->body), "gateway");
  EXPECT_EQ(router.count(), 0u);
}

// ---- keys ----

TEST_F(GatewayHttp, KeyErrorsAreOhttpKeyProblems) {
  FakeUpstream bank(echo_answer());
  start(&bank, nullptr);
  const bhttp::Request inner = inner_request("POST", "confsec-bank.invalid", "/balance", to_bytes("x"));
  const std::string key_problem = problem_body(Code::kKeyNotFound);
  EXPECT_NE(key_problem.find("ohttp-key"), std::string::npos);

  ohttp::KeyConfig unknown = gw_.current_key();
  unknown.key_id = 77;
  ohttp::KeyConfig wrong_aead = gw_.current_key();
  wrong_aead.algorithms = {{crypto::KdfId::kHkdfSha256, crypto::AeadId::kChaCha20Poly1305}};
  for (const ohttp::KeyConfig& key : {unknown, wrong_aead, gw_.key(1), gw_.key(4)}) {
    for (bool chunked : {false, true}) {
      RawAnswer answer = chunked ? send_chunked(gw_.url() + "/", key, inner) : send_whole(gw_.url() + "/", key, inner);
      EXPECT_EQ(answer.status, 400) << int(key.key_id);
      EXPECT_EQ(answer.content_type, ohttp::kProblemJsonMediaType);
      EXPECT_EQ(text_of(answer.body), key_problem) << int(key.key_id);
    }
  }
  // A config that claims a key id of the gateway with another public key: decryption fails (201), not a key error.
  ohttp::KeyConfig impostor = gw_.current_key();
  impostor.public_key = gw_.key(2).public_key;
  RawAnswer answer = send_whole(gw_.url() + "/", impostor, inner);
  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(text_of(answer.body), problem_body(Code::kRequestDecoding));
  EXPECT_EQ(bank.count(), 0u);
  EXPECT_TRUE(gw_.counter_reaches("requests_total{outcome=\"key_error\"}", 8)) << gw_.counter("requests_total{outcome=\"key_error\"}");
  // The older active key still works.
  RawAnswer older = send_whole(gw_.url() + "/", gw_.key(2), inner);
  ASSERT_TRUE(older.inner) << older.error;
  EXPECT_EQ(older.inner->status, 200);
}

TEST_F(GatewayHttp, TransportRefreshesTheKeyOnceAndRetries) {
  FakeUpstream bank(echo_answer());
  start(&bank, nullptr);
  // A client that last fetched the keys before key 1 expired: the gateway answers 103, the transport fetches the
  // keys again and re-encapsulates the same request under key 3.
  std::vector<bool> calls;
  auto fresh = client::gateway_key_source(new_client(), gw_.keys_url());
  client::KeySource keys = [&calls, fresh, stale = gw_.key(1)](bool refresh) -> Task<Result<ohttp::KeyConfig>> {
    calls.push_back(refresh);
    if (!refresh) co_return stale;
    co_return co_await fresh(true);
  };
  OhttpTransport t = transport(keys);
  auto answer = send(t, net::ClientRequest("POST", std::string(kBankUrl) + "/balance", to_bytes("acct")));
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_EQ(text_of(answer->body), "POST /balance|acct");
  EXPECT_EQ(calls, (std::vector<bool>{false, true}));
  EXPECT_EQ(bank.count(), 1u);

  // The same for a streamed request.
  calls.clear();
  auto streamed = rt_.block_on([&]() -> Task<Result<Bytes>> {
    auto s = co_await t.send_streaming(net::ClientRequest("POST", std::string(kBankUrl) + "/balance", to_bytes("s")));
    if (!s) co_return std::unexpected(s.error());
    co_return co_await (*s)->read_all();
  });
  ASSERT_TRUE(streamed) << streamed.error().to_string();
  EXPECT_EQ(text_of(*streamed), "POST /balance|s");
  EXPECT_EQ(calls, (std::vector<bool>{false, true}));

  // A source that keeps giving a refused key: one retry, then the error says so.
  int stubborn_calls = 0;
  OhttpTransport stubborn = transport([&stubborn_calls, stale = gw_.key(1)](bool) -> Task<Result<ohttp::KeyConfig>> {
    ++stubborn_calls;
    co_return stale;
  });
  auto refused = send(stubborn, net::ClientRequest("POST", std::string(kBankUrl) + "/balance", to_bytes("x")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(stubborn_calls, 2);
  EXPECT_NE(refused.error().message.find("key"), std::string::npos) << refused.error().message;
  EXPECT_EQ(bank.count(), 2u);
}

// ---- malformed and oversize requests ----

TEST_F(GatewayHttp, MalformedRequestsGetProblemAnswers) {
  FakeUpstream bank(echo_answer(), 300ms);
  start(&bank, nullptr, [](ServiceConfig& c) {
    c.max_request_bytes = 64 * 1024;
    c.max_chunk_plaintext = 1024;
    c.max_inner_header_bytes = 1024;
  });
  const std::string url = gw_.url() + "/";
  auto problem_of = [](const RawAnswer& a) { return a.status == 400 ? text_of(a.body) : std::to_string(a.status); };

  // Content types.
  EXPECT_EQ(problem_of(post_raw(url, "application/octet-stream", Bytes(10))),
            problem_body(Code::kInvalidRequestContentType));
  EXPECT_EQ(problem_of(post_raw(url, "message/ohttp-req; x=1", Bytes(10))),
            problem_body(Code::kInvalidRequestContentType));
  // Garbage, short and truncated bodies.
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kRequestMediaType, Bytes{})), problem_body(Code::kInvalidRequestHeader));
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kRequestMediaType, Bytes(5, 1))), problem_body(Code::kInvalidRequestHeader));
  bhttp::Request inner = inner_request("POST", "confsec-bank.invalid", "/balance", to_bytes("x"));
  auto encoded = bhttp::encode(inner);
  auto whole = ohttp::encapsulate_request(gw_.current_key(), *encoded);
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kRequestMediaType, ByteSpan(whole->request).first(whole->request.size() - 10))),
            problem_body(Code::kRequestDecoding));
  Bytes flipped = whole->request;
  flipped.back() ^= 1;
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kRequestMediaType, flipped)), problem_body(Code::kRequestDecoding));
  // The whole form under the chunked media type and the other way round.
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kChunkedRequestMediaType, whole->request)),
            problem_body(Code::kRequestDecoding));
  auto chunked = ohttp::encapsulate_chunked_request(gw_.current_key(), *encoded);
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kRequestMediaType, chunked->request)), problem_body(Code::kRequestDecoding));
  // A chunked request without its final chunk.
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kChunkedRequestMediaType,
                                ByteSpan(chunked->request).first(chunked->request.size() - 17))),
            problem_body(Code::kRequestDecoding));
  // Well encrypted, but not BHTTP; a BHTTP response instead of a request.
  auto garbage = ohttp::encapsulate_request(gw_.current_key(), to_bytes("\x09not bhttp"));
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kRequestMediaType, garbage->request)), problem_body(Code::kRequestDecoding));
  auto response_bytes = bhttp::encode(bhttp::Response{});
  auto response_inside = ohttp::encapsulate_request(gw_.current_key(), *response_bytes);
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kRequestMediaType, response_inside->request)),
            problem_body(Code::kRequestDecoding));
  // An inner header field HTTP/1.1 cannot carry.
  bhttp::Request control = inner;
  control.headers = {{"x-bad", std::string("a\x01z")}};
  auto control_bytes = bhttp::encode(control);
  ASSERT_TRUE(control_bytes) << control_bytes.error().to_string();
  auto control_sealed = ohttp::encapsulate_request(gw_.current_key(), *control_bytes);
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kRequestMediaType, control_sealed->request)),
            problem_body(Code::kInvalidRequest));

  // Limits: the outer body (the HTTP server's 413), a chunk, the inner header section.
  EXPECT_EQ(post_raw(url, ohttp::kRequestMediaType, Bytes(65 * 1024, 0)).status, 413);
  bhttp::Request large_body = inner;
  large_body.body = Bytes(3000, 'b');
  bhttp::EncodeOptions indeterminate;
  indeterminate.framing = bhttp::Framing::kIndeterminateLength;
  auto large_chunk = ohttp::encapsulate_chunked_request(gw_.current_key(), *bhttp::encode(large_body, indeterminate),
                                                        {}, wire::ChunkSealOptions{4096, 0});
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kChunkedRequestMediaType, large_chunk->request)),
            problem_body(Code::kRequestDecoding));
  bhttp::Request large_header = inner;
  large_header.headers = {{"x-big", std::string(2000, 'h')}};
  auto large_header_sealed = ohttp::encapsulate_request(gw_.current_key(), *bhttp::encode(large_header));
  EXPECT_EQ(problem_of(post_raw(url, ohttp::kRequestMediaType, large_header_sealed->request)),
            problem_body(Code::kRequestDecoding));

  // Only one of these reached the bank: the chunked request without its final chunk, whose (known-length) inner
  // message had a body in hand before its end, so it was streamed. It was never finished upstream.
  EXPECT_LE(bank.count(), 1u);
  for (const auto& seen : bank.seen()) EXPECT_FALSE(seen.body_complete);
  // The gateway still serves a good request.
  RawAnswer good = send_chunked(url, gw_.current_key(), inner);
  ASSERT_TRUE(good.inner) << good.error;
  EXPECT_EQ(good.inner->status, 200);
}

// ---- upstream failures ----

TEST_F(GatewayHttp, UnreachableUpstreamIsAnInner502) {
  start(nullptr, nullptr);
  for (bool chunked : {false, true}) {
    bhttp::Request inner = inner_request("POST", "confsec-bank.invalid", "/deposit", to_bytes("x"));
    RawAnswer answer = chunked ? send_chunked(gw_.url() + "/", gw_.current_key(), inner)
                               : send_whole(gw_.url() + "/", gw_.current_key(), inner);
    ASSERT_EQ(answer.status, 200);
    ASSERT_TRUE(answer.inner) << answer.error;
    EXPECT_EQ(answer.inner->status, 502);
  }
  OhttpTransport t = transport();
  auto answer = send(t, net::ClientRequest("GET", std::string(kRouterUrl) + "/ping"));
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_EQ(answer->status, 502);
  EXPECT_TRUE(gw_.counter_reaches("requests_total{outcome=\"upstream_error\"}", 3)) << gw_.counter("requests_total{outcome=\"upstream_error\"}");
}

TEST_F(GatewayHttp, OversizeWholeUpstreamAnswerIsAnInner502) {
  FakeUpstream bank([](const SeenRequest&, net::ServerResponse& res) -> Task<Status> {
    co_return co_await res.send(200, net::Headers(), ByteSpan(Bytes(5000, 'z')));
  });
  start(&bank, nullptr, [](ServiceConfig& c) { c.max_response_bytes = 4096; });
  RawAnswer answer = send_whole(gw_.url() + "/", gw_.current_key(),
                                inner_request("POST", "confsec-bank.invalid", "/balance", to_bytes("x")));
  ASSERT_TRUE(answer.inner) << answer.error;
  EXPECT_EQ(answer.inner->status, 502);
}

TEST_F(GatewayHttp, UpstreamFailingMidStreamTruncatesTheClientsStream) {
  FakeUpstream router([](const SeenRequest&, net::ServerResponse& res) -> Task<Status> {
    net::Headers head{{"Content-Type", "text/event-stream"}};
    if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
    if (auto ok = co_await res.write_chunk(as_bytes(std::string_view("partial"))); !ok) co_return ok;
    co_return make_error(ErrorCode::kIo, "the node went away");  // the connection is cut
  });
  start(nullptr, &router);
  OhttpTransport t = transport();
  auto result = rt_.block_on([&]() -> Task<Result<std::string>> {
    auto s = co_await t.send_streaming(net::ClientRequest("POST", std::string(kRouterUrl) + "/", to_bytes("q")));
    if (!s) co_return std::unexpected(s.error());
    std::string got;
    for (;;) {
      auto piece = co_await (*s)->read_chunk();
      if (!piece) co_return std::unexpected(Error{piece.error().code, got + "|" + piece.error().message});
      if (!*piece) co_return got;
      got += to_string(**piece);
    }
  });
  ASSERT_FALSE(result) << "a cut stream must not look complete";
  EXPECT_TRUE(result.error().message.starts_with("partial|")) << result.error().message;
  EXPECT_TRUE(gw_.counter_reaches("requests_total{outcome=\"upstream_error\"}", 1)) << gw_.counter("requests_total{outcome=\"upstream_error\"}");
}

}  // namespace
}  // namespace openpcc::gateway
