// A whole compute node in process: booted on a real swtpm, serving the built-in test engine, registered with a fake
// router through the router's real NodeAgent. The client side encrypts BHTTP requests to the node's REK exactly as
// a client does (RequestSender, chunked and unchunked), POSTs them with the router's headers, and decrypts the
// streamed answer with the wrapped key's response secrets.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/verifier_policy.h"
#include "attest/verify.h"
#include "common/bytes.h"
#include "common/random.h"
#include "crypto/ed25519.h"
#include "crypto/kem.h"
#include "currency/badge.h"
#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "openpcc/httpfmt.pb.h"
#include "openpcc/router_agent.pb.h"
#include "services/common/key_files.h"
#include "services/computenode/compute_handler.h"
#include "services/computenode/computenode_service.h"
#include "services/computenode/node_boot.h"
#include "services/computenode/refund.h"
#include "services/computenode/request_validator.h"
#include "services/engine/test_engine.h"
#include "services/engine/test_model.h"
#include "services/router/uuid_v7.h"
#include "support/swtpm.h"
#include "support/temp_dir.h"
#include "wire/bhttp.h"
#include "wire/compute_request.h"

namespace openpcc::computenode {
namespace {

namespace bhttp = wire::bhttp;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using wire::Chunking;

constexpr std::string_view kModel = engine::kTestModelName;
constexpr auto kTokenDelay = std::chrono::milliseconds(100);

// --- a fake router: records the node events the agent sends -------------------------------------------------------

class FakeRouter {
 public:
  FakeRouter() : runtime_(1) {
    net::ServerConfig config;
    config.name = "fake-router";
    server_ = net::Server::start(runtime_, config,
                                 [this](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
                                   auto body = co_await req.read_all();
                                   if (!body) co_return std::unexpected(body.error());
                                   pb::NodeEvent event;
                                   const bool parsed = req.target() == "/node-events" &&
                                                       event.ParseFromArray(body->data(), int(body->size()));
                                   if (parsed) {
                                     std::lock_guard lock(mutex_);
                                     events_.push_back(event);
                                     authorizations_.emplace_back(req.headers().get("Authorization").value_or(""));
                                   }
                                   net::Headers headers;
                                   co_return co_await res.send(parsed ? 200 : 400, std::move(headers),
                                                               std::string_view());
                                 })
                  .value();
  }
  ~FakeRouter() { server_->shutdown(std::chrono::milliseconds(0)); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::vector<pb::NodeEvent> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  // The Authorization header of each recorded event ("" when absent).
  std::vector<std::string> authorizations() const {
    std::lock_guard lock(mutex_);
    return authorizations_;
  }

 private:
  net::Runtime runtime_;
  std::unique_ptr<net::Server> server_;
  mutable std::mutex mutex_;
  std::vector<pb::NodeEvent> events_;
  std::vector<std::string> authorizations_;
};

// The router token every test node presents (router/node_token.h), in each node's directory as router.token.
const std::string& test_router_token() {
  static const std::string token = to_hex(random_bytes(32));
  return token;
}

// --- the client side ----------------------------------------------------------------------------------------------

struct Answer {
  int status = 0;  // outer
  std::string content_type;
  net::Headers trailers;
  Bytes raw;  // the outer body when it is not an encrypted response
  // The decrypted inner response.
  std::optional<Error> decrypt_error;
  bool complete = false;  // the encrypted stream and the BHTTP message ended properly
  int inner_status = 0;
  std::string inner_content_type;
  std::string inner_body;
  std::vector<double> data_at;  // seconds after sending, of each piece that decrypted to body data
  double ended_at = 0;
};

// Not an aggregate: coroutines take it by value (GCC 12, net/runtime.h).
struct Outgoing {
  Outgoing() = default;
  net::Headers headers;
  Bytes body;
  std::optional<wire::ResponseSecrets> secrets;
};

bhttp::Request user_request(std::string path, std::string json_body, const std::string& badge) {
  bhttp::Request r;
  r.method = "POST";
  r.scheme = "http";
  r.authority = std::string(kUserRequestHost);
  r.path = std::move(path);
  r.headers = {{"content-type", "application/json"},
               {"x-confsec-badge", badge},
               {"content-length", std::to_string(json_body.size())}};
  r.body = to_bytes(json_body);
  return r;
}

// Credits are currency values (the router forwards a credit's amount): 992 = 0b11111 << 5.
Outgoing encrypt(const crypto::KemPublicKey& rek, Chunking chunking, const bhttp::Request& inner,
                 int64_t credit = 992) {
  auto sender = wire::compute::RequestSender::create(chunking).value();
  auto wrapped = sender.wrap_key(rek).value();
  Outgoing out;
  if (chunking == Chunking::kChunked) {
    Bytes encoded = bhttp::encode(inner, bhttp::fixed_size_profile(bhttp::kComputeMessageChunkLen)).value();
    auto sealer = sender.chunked_body_sealer().value();
    EXPECT_TRUE(sealer.write(encoded, out.body));
    EXPECT_TRUE(sealer.finish(out.body));
  } else {
    Bytes encoded = bhttp::encode(inner, bhttp::fixed_size_profile(bhttp::kComputeMessageChunkLen,
                                                                   bhttp::Framing::kKnownLength))
                        .value();
    out.body = sender.seal_body(encoded).value();
  }
  out.headers.set("Content-Type", sender.media_type());
  out.headers.set(kEncapsulatedKeyHeader, to_base64(wrapped.encapsulated_key));
  out.headers.set(kCreditAmountHeader, std::to_string(credit));
  out.secrets.emplace(std::move(wrapped.response_secrets));
  return out;
}

// Feeds decrypted bytes to the BHTTP decoder and records what it yields.
Status decode_into(bhttp::StreamDecoder& decoder, ByteSpan plaintext, Answer& answer, double at) {
  ByteSpan in = plaintext;
  for (;;) {
    auto event = decoder.next(in);
    if (!event) return std::unexpected(event.error());
    if (std::holds_alternative<bhttp::NeedMoreInput>(*event)) return {};
    if (auto* head = std::get_if<bhttp::ResponseHead>(&*event)) {
      answer.inner_status = head->status;
      answer.inner_content_type = std::string(bhttp::find_field(head->headers, "content-type").value_or(""));
    } else if (auto* data = std::get_if<bhttp::BodyData>(&*event)) {
      if (!data->data.empty()) {
        answer.inner_body.append(data->data.begin(), data->data.end());
        answer.data_at.push_back(at);
      }
    }
  }
}

net::Task<Answer> exchange(net::Client client, std::string url, Outgoing request) {
  Answer answer;
  const Clock::time_point sent = Clock::now();
  net::ClientRequest http("POST", url, std::move(request.body), std::move(request.headers));
  auto stream = co_await client.send(std::move(http));
  if (!stream) {
    answer.decrypt_error = stream.error();
    co_return answer;
  }
  answer.status = (*stream)->status();
  answer.content_type = std::string((*stream)->headers().get("Content-Type").value_or(""));
  const bool encrypted = answer.status == 200 &&
                         answer.content_type == wire::compute::kChunkedResponseMediaType && request.secrets;
  std::optional<wire::ChunkedResponseOpener> opener;
  if (encrypted) opener.emplace(request.secrets->context(Chunking::kChunked).value().chunked_opener());
  bhttp::StreamDecoder decoder;
  for (;;) {
    auto piece = co_await (*stream)->read_chunk();
    if (!piece) {
      answer.decrypt_error = piece.error();
      co_return answer;
    }
    if (!*piece) break;
    if (!encrypted) {
      append(answer.raw, **piece);
      continue;
    }
    if (answer.decrypt_error) continue;
    const double at = std::chrono::duration<double>(Clock::now() - sent).count();
    Bytes plain;
    if (auto ok = opener->feed(**piece, plain); !ok) {
      answer.decrypt_error = ok.error();
      continue;
    }
    if (auto ok = decode_into(decoder, plain, answer, at); !ok) answer.decrypt_error = ok.error();
  }
  answer.ended_at = std::chrono::duration<double>(Clock::now() - sent).count();
  answer.trailers = (*stream)->trailers();
  if (encrypted && !answer.decrypt_error) {
    Bytes plain;
    if (auto ok = opener->finish(plain); !ok) {
      answer.decrypt_error = ok.error();
      co_return answer;
    }
    if (auto ok = decode_into(decoder, plain, answer, answer.ended_at); !ok) {
      answer.decrypt_error = ok.error();
      co_return answer;
    }
    for (;;) {
      auto event = decoder.finish();
      if (!event) {
        answer.decrypt_error = event.error();
        co_return answer;
      }
      if (std::holds_alternative<bhttp::EndOfMessage>(*event)) break;
    }
    answer.complete = true;
  }
  co_return answer;
}

std::optional<int64_t> refund_of(const Answer& answer) {
  auto text = answer.trailers.get(kRefundAmountTrailer);
  if (!text) return std::nullopt;
  auto value = parse_refund_trailer_value(*text);
  EXPECT_TRUE(value) << value.error().to_string();
  if (!value) return std::nullopt;
  return value->amount();
}

std::string error_message(const Answer& answer) {
  pb::Error e;
  if (!e.ParseFromArray(answer.raw.data(), int(answer.raw.size()))) return "<not an Error proto>";
  return e.message();
}

// --- one node on one swtpm ----------------------------------------------------------------------------------------

struct Node {
  std::unique_ptr<test_support::TempDir> dir;
  std::unique_ptr<test_support::Swtpm> swtpm;
  std::unique_ptr<engine::TestEngine> engine;
  ServiceConfig config;
  std::unique_ptr<Service> service;
  std::optional<crypto::KemPublicKey> rek;
};

struct Shared {
  crypto::Ed25519PrivateKey badge_key = crypto::Ed25519PrivateKey::generate().value();
  std::string badge;
  std::string badge_other_model;
};

Shared& shared() {
  static Shared s = [] {
    Shared out;
    currency::BadgeIssuer issuer(crypto::Ed25519PrivateKey::from_seed(out.badge_key.seed().value().span()).value());
    currency::Credentials credentials;
    credentials.models = {std::string(kModel)};
    out.badge = issuer.issue(credentials).value().to_header().value();
    credentials.models = {"some-other-model"};
    out.badge_other_model = issuer.issue(credentials).value().to_header().value();
    return out;
  }();
  return s;
}

std::unique_ptr<Node> start_node(const std::string& router_url, const json& extra = json::object()) {
  auto node = std::make_unique<Node>();
  node->dir = std::make_unique<test_support::TempDir>("openpcc-computenode");
  auto swtpm = test_support::Swtpm::start();
  EXPECT_TRUE(swtpm) << swtpm.error().to_string();
  if (!swtpm) return nullptr;
  node->swtpm = std::move(*swtpm);
  const auto model_dir = *node->dir / "model";
  EXPECT_TRUE(engine::init_test_model(model_dir));
  engine::TestEngineConfig engine_config;
  engine_config.model_dir = model_dir;
  engine_config.token_delay = kTokenDelay;
  auto test_engine = engine::TestEngine::start(engine_config);
  EXPECT_TRUE(test_engine) << test_engine.error().to_string();
  if (!test_engine) return nullptr;
  node->engine = std::move(*test_engine);

  const auto badge_pub = *node->dir / "badge.key.pub";
  EXPECT_TRUE(services::write_public_file_atomically(
      badge_pub, as_bytes(shared().badge_key.public_key().to_pem().value())));

  json j = {{"listen", "127.0.0.1:0"},
            {"tpm", node->swtpm->tcti()},
            {"models", {std::string(kModel)}},
            {"engine", node->engine->url()},
            {"model_path", "model"},
            {"badge_public_key", "badge.key.pub"},
            {"heartbeat_interval_ms", 200},
            {"request_timeout_seconds", 30},
            {"threads", 2}};
  if (!router_url.empty()) {
    j["router_url"] = router_url;
    EXPECT_TRUE(services::write_secret_file_atomically(*node->dir / "router.token",
                                                       as_bytes(test_router_token() + "\n")));
    j["router_token_file"] = "router.token";
  }
  j.update(extra);
  auto config = parse_service_config(j, node->dir->path());
  EXPECT_TRUE(config) << config.error().to_string();
  if (!config) return nullptr;
  node->config = *config;
  auto service = Service::start(node->config);
  EXPECT_TRUE(service) << service.error().to_string();
  if (!service) return nullptr;
  node->service = std::move(*service);
  auto kem = crypto::Kem::create(crypto::KemId::kDhkemP256HkdfSha256).value();
  node->rek.emplace(kem.deserialize_public_key(node->service->node().rek_public_key()).value());
  return node;
}

class ComputeNodeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    router_ = std::make_unique<FakeRouter>();
    node_ = start_node(router_->url());
    runtime_ = std::make_unique<net::Runtime>(1);
    client_.emplace(net::Client::create().value());
  }
  static void TearDownTestSuite() {
    node_.reset();
    router_.reset();
    client_.reset();
    runtime_.reset();
  }
  void SetUp() override { ASSERT_TRUE(node_ && node_->service) << "the node did not start"; }

  static Answer send(Outgoing request, Node* node = nullptr) {
    Node* target = node ? node : node_.get();
    const std::string url = target->service->url() + "/";
    return runtime_->block_on(
        [&]() -> net::Task<Answer> { co_return co_await exchange(*client_, url, std::move(request)); });
  }
  static Answer ask(Chunking chunking, std::string path, std::string body, int64_t credit = 992) {
    return send(encrypt(*node_->rek, chunking, user_request(std::move(path), std::move(body), shared().badge), credit));
  }

  static inline std::unique_ptr<FakeRouter> router_;
  static inline std::unique_ptr<Node> node_;
  static inline std::unique_ptr<net::Runtime> runtime_;
  static inline std::optional<net::Client> client_;
};

void expect_answered(const Answer& a) {
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.content_type, wire::compute::kChunkedResponseMediaType);
  EXPECT_FALSE(a.decrypt_error) << a.decrypt_error->to_string();
  EXPECT_TRUE(a.complete);
}

TEST_F(ComputeNodeTest, ChunkedRequestStreamingChatAnswer) {
  const std::string prompt = "hello compute node";
  const Answer a = ask(Chunking::kChunked, "/v1/chat/completions",
                       R"({"model":"openpcc-test-engine","messages":[{"role":"user","content":")" + prompt +
                           R"("}],"max_tokens":5,"stream":true})");
  expect_answered(a);
  EXPECT_EQ(a.inner_status, 200);
  EXPECT_EQ(a.inner_content_type.substr(0, 17), "text/event-stream");
  // "You said: hello compute node" = 5 tokens, one SSE event each; the node forced include_usage.
  EXPECT_NE(a.inner_body.find("\"You\""), std::string::npos) << a.inner_body;
  EXPECT_NE(a.inner_body.find("compute"), std::string::npos) << a.inner_body;
  EXPECT_NE(a.inner_body.find("\"usage\":{"), std::string::npos) << a.inner_body;
  EXPECT_NE(a.inner_body.find("data: [DONE]"), std::string::npos) << a.inner_body;
  // 3 prompt words + 5 generated: 992 − (1.5 + 10) = 980.5 → 960 or 992 (5 significant bits).
  auto refund = refund_of(a);
  ASSERT_TRUE(refund);
  EXPECT_TRUE(*refund == 960 || *refund == 992) << *refund;
}

TEST_F(ComputeNodeTest, UnchunkedRequestWholeCompletion) {
  const Answer a = ask(Chunking::kUnchunked, "/v1/completions",
                       R"({"model":"openpcc-test-engine","prompt":"one two three four","max_tokens":4})", 200);
  expect_answered(a);
  EXPECT_EQ(a.inner_status, 200);
  EXPECT_EQ(a.inner_content_type.substr(0, 16), "application/json");
  auto body = json::parse(a.inner_body);
  EXPECT_EQ(body["choices"][0]["text"], "You said: one two");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 4);
  EXPECT_EQ(body["usage"]["completion_tokens"], 4);
  // 200 − (2 + 8) = 190 → 184 or 192.
  auto refund = refund_of(a);
  ASSERT_TRUE(refund);
  EXPECT_TRUE(*refund == 184 || *refund == 192) << *refund;
}

TEST_F(ComputeNodeTest, FirstTokenArrivesBeforeTheEngineFinishes) {
  // 10 tokens, 100 ms apart: the engine needs at least 0.9 s; the first token must be decrypted long before.
  const Answer a = ask(Chunking::kChunked, "/v1/completions",
                       R"({"model":"openpcc-test-engine","prompt":"stream","max_tokens":10,"stream":true})");
  expect_answered(a);
  ASSERT_GE(a.data_at.size(), 10u) << "tokens were not sealed and sent one by one";
  EXPECT_GE(a.ended_at - a.data_at.front(), 0.6) << "first " << a.data_at.front() << " s, end " << a.ended_at << " s";
  // Arrival times spread out like the engine's tokens.
  EXPECT_GE(a.data_at[a.data_at.size() - 2] - a.data_at.front(), 0.5);
}

TEST_F(ComputeNodeTest, OllamaPathOnAnOpenAiEngineIsRefusedInside) {
  const Answer a = ask(Chunking::kChunked, "/api/generate", R"({"model":"openpcc-test-engine","prompt":"hi"})", 480);
  expect_answered(a);
  EXPECT_EQ(a.inner_status, 404);
  EXPECT_EQ(json::parse(a.inner_body)["code"], "ErrUnsupportedEndpoint");
  EXPECT_EQ(refund_of(a), 480);
}

TEST_F(ComputeNodeTest, ValidationFailureIsEncryptedWithFullRefund) {
  // A badge for another model.
  Outgoing out = encrypt(*node_->rek, Chunking::kChunked,
                         user_request("/v1/completions", R"({"model":"openpcc-test-engine","prompt":"hi"})",
                                      shared().badge_other_model),
                         640);
  Answer a = send(std::move(out));
  expect_answered(a);
  EXPECT_EQ(a.inner_status, 400);
  EXPECT_EQ(a.inner_content_type, "application/json");
  auto body = json::parse(a.inner_body);
  EXPECT_EQ(body["code"], "ErrModelNotInBadge");
  EXPECT_EQ(body["error"], "Request Validation Error");
  EXPECT_EQ(refund_of(a), 640);

  // An unknown field, unchunked.
  a = ask(Chunking::kUnchunked, "/v1/completions", R"({"model":"openpcc-test-engine","prompt":"hi","x":1})", 96);
  expect_answered(a);
  EXPECT_EQ(a.inner_status, 400);
  EXPECT_EQ(json::parse(a.inner_body)["code"], "ErrUnknownField");
  EXPECT_EQ(refund_of(a), 96);
}

TEST_F(ComputeNodeTest, EngineErrorStatusIsPassedThroughWithFullRefund) {
  // The test engine refuses max_tokens beyond its limit with an OpenAI-shaped 400.
  const Answer a = ask(Chunking::kChunked, "/v1/completions",
                       R"({"model":"openpcc-test-engine","prompt":"hi","max_tokens":100000})", 320);
  expect_answered(a);
  EXPECT_EQ(a.inner_status, 400);
  EXPECT_NE(a.inner_body.find("error"), std::string::npos);
  EXPECT_EQ(refund_of(a), 320);
}

TEST_F(ComputeNodeTest, TamperedKeyIs400) {
  Outgoing out = encrypt(*node_->rek, Chunking::kChunked,
                         user_request("/v1/completions", R"({"model":"openpcc-test-engine","prompt":"hi"})",
                                      shared().badge));
  Bytes key = from_base64(*out.headers.get(kEncapsulatedKeyHeader)).value();
  key[key.size() - 5] ^= 0x01;  // inside the wrapped DEK's tag
  out.headers.set(kEncapsulatedKeyHeader, to_base64(key));
  const Answer a = send(std::move(out));
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(error_message(a), kDecapsulationFailed);
  EXPECT_FALSE(a.trailers.contains(kRefundAmountTrailer));
}

TEST_F(ComputeNodeTest, MediaTypeMismatchIs400) {
  // The key was wrapped for a chunked request; calling it unchunked changes the HPKE info.
  Outgoing out = encrypt(*node_->rek, Chunking::kChunked,
                         user_request("/v1/completions", R"({"model":"openpcc-test-engine","prompt":"hi"})",
                                      shared().badge));
  out.headers.set("Content-Type", wire::compute::kRequestMediaType);
  const Answer a = send(std::move(out));
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(error_message(a), kDecapsulationFailed);
}

TEST_F(ComputeNodeTest, TamperedBodyIs400) {
  Outgoing out = encrypt(*node_->rek, Chunking::kChunked,
                         user_request("/v1/completions", R"({"model":"openpcc-test-engine","prompt":"hi"})",
                                      shared().badge));
  out.body[40] ^= 0x80;
  const Answer a = send(std::move(out));
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(error_message(a), kDecapsulationFailed);
}

TEST_F(ComputeNodeTest, KeyForAnotherNodeIs400) {
  auto kem = crypto::Kem::create(crypto::KemId::kDhkemP256HkdfSha256).value();
  auto stranger = kem.generate_key_pair().value();
  auto stranger_pk = kem.deserialize_public_key(stranger->public_key()).value();
  const Answer a = send(encrypt(stranger_pk, Chunking::kUnchunked,
                                user_request("/v1/completions", R"({"model":"openpcc-test-engine","prompt":"hi"})",
                                             shared().badge)));
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(error_message(a), kDecapsulationFailed);
}

TEST_F(ComputeNodeTest, RouterHeaderChecks) {
  const auto base = [] {
    return encrypt(*node_->rek, Chunking::kChunked,
                   user_request("/v1/completions", R"({"model":"openpcc-test-engine","prompt":"hi"})",
                                shared().badge));
  };
  const std::vector<std::pair<std::string, std::function<void(net::Headers&)>>> bad = {
      {"no content type", [](net::Headers& h) { h.remove("Content-Type"); }},
      {"ohttp content type", [](net::Headers& h) { h.set("Content-Type", "message/ohttp-req"); }},
      {"response media type", [](net::Headers& h) { h.set("Content-Type", "application/confsec-res"); }},
      {"no key", [](net::Headers& h) { h.remove(kEncapsulatedKeyHeader); }},
      {"empty key", [](net::Headers& h) { h.set(kEncapsulatedKeyHeader, ""); }},
      {"key not base64", [](net::Headers& h) { h.set(kEncapsulatedKeyHeader, "!!!!"); }},
      {"key too long", [](net::Headers& h) { h.set(kEncapsulatedKeyHeader, std::string(516, 'A')); }},
      {"no credit", [](net::Headers& h) { h.remove(kCreditAmountHeader); }},
      {"zero credit", [](net::Headers& h) { h.set(kCreditAmountHeader, "0"); }},
      {"negative credit", [](net::Headers& h) { h.set(kCreditAmountHeader, "-5"); }},
      {"credit not decimal", [](net::Headers& h) { h.set(kCreditAmountHeader, "1e3"); }},
      {"credit too large", [](net::Headers& h) { h.set(kCreditAmountHeader, "99999999999999"); }},
  };
  for (const auto& [name, edit] : bad) {
    Outgoing out = base();
    edit(out.headers);
    const Answer a = send(std::move(out));
    EXPECT_EQ(a.status, 400) << name;
    EXPECT_NE(error_message(a), "<not an Error proto>") << name;
  }
}

TEST_F(ComputeNodeTest, PingHealthAndMetrics) {
  auto ping = runtime_->block_on([&]() -> net::Task<Result<net::ClientResponse>> {
    net::Headers headers;
    headers.set(kPingHeader, kPingValue);
    net::ClientRequest request("POST", node_->service->url() + "/", {}, std::move(headers));
    co_return co_await client_->fetch(std::move(request));
  });
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->status, 200);
  EXPECT_EQ(to_string(ping->body), "routercom");

  auto health = net::fetch_blocking(net::ClientRequest("GET", node_->service->url() + "/_health"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(to_string(health->body)), json({{"status", "OK"}}));
  // The node names itself, so that the router can tell that whoever answers is the node it registered.
  EXPECT_EQ(health->headers.get("X-Node-ID"), std::optional<std::string_view>(node_->service->node_id()));

  // At least one answered request, so that the counters moved.
  ask(Chunking::kChunked, "/v1/completions", R"({"model":"openpcc-test-engine","prompt":"hi","max_tokens":1})");
  auto metrics = net::fetch_blocking(net::ClientRequest("GET", node_->service->url() + "/metrics"));
  ASSERT_TRUE(metrics);
  const std::string text = to_string(metrics->body);
  EXPECT_NE(text.find("openpcc_computenode_requests_total{outcome=\"ok\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("openpcc_computenode_decapsulation_seconds_count"), std::string::npos);
  EXPECT_NE(text.find("openpcc_computenode_output_tokens_total"), std::string::npos);
  EXPECT_EQ(text.find("openpcc-test-engine"), std::string::npos) << "a model name in the metrics";
}

TEST_F(ComputeNodeTest, RegisteredWithRoutingInfoAndEvidence) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (router_->events().size() < 2 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto events = router_->events();
  ASSERT_GE(events.size(), 2u);
  for (const std::string& authorization : router_->authorizations()) {
    EXPECT_EQ(authorization, "Bearer " + test_router_token());  // the router token, from router_token_file
  }
  EXPECT_GE(node_->service->heartbeats_sent(), 1u);
  int64_t last_index = 0;
  for (const auto& event : events) {
    EXPECT_EQ(event.node_id(), node_->service->node_id());
    EXPECT_TRUE(router::is_uuid_v7(event.node_id()));
    EXPECT_GT(event.event_index(), last_index);
    last_index = event.event_index();
    ASSERT_TRUE(event.has_heartbeat());
    ASSERT_TRUE(event.heartbeat().has_routing_info());
    const pb::RoutingInfo& info = event.heartbeat().routing_info();
    EXPECT_EQ(info.url(), node_->service->url() + "/");
    EXPECT_EQ(info.healthcheck_url(), node_->service->url() + "/_health");
    EXPECT_EQ(std::vector<std::string>(info.tags().begin(), info.tags().end()),
              (std::vector<std::string>{"llm", "model=openpcc-test-engine"}));
    EXPECT_EQ(info.evidence().SerializeAsString(), node_->service->node().evidence().SerializeAsString());
  }
}

TEST_F(ComputeNodeTest, EvidenceVerifiesAgainstThePrintedImageManifest) {
  // What `openpcc computenode image-manifest` prints (no TPM) is what the booted node quotes.
  auto manifest = node_image_manifest(node_->config);
  ASSERT_TRUE(manifest) << manifest.error().to_string();
  auto root = load_or_create_simulated_root(node_->config.simulated_root);
  ASSERT_TRUE(root);
  auto policy = attest::VerifierPolicy::local({root->public_key()});
  policy.image_manifests = {*manifest};
  const auto report = attest::verify_evidence(node_->service->node().evidence(), policy);
  ASSERT_TRUE(report.ok()) << attest::format_report(report);
  EXPECT_EQ(report.node->rek_public_key, Bytes(node_->service->node().rek_public_key().begin(),
                                               node_->service->node().rek_public_key().end()));
  EXPECT_EQ(report.node->image_id, "local-image");
}

// Its own node and router: the evidence is refreshed (a new quote) and the next heartbeats carry it.
TEST(ComputeNodeRefresh, HeartbeatsCarryRefreshedEvidence) {
  FakeRouter router;
  auto node = start_node(router.url(), json{{"evidence_refresh_seconds", 1}});
  ASSERT_TRUE(node && node->service);
  const std::string boot_evidence = node->service->node().evidence().SerializeAsString();
  std::optional<pb::SignedEvidenceList> refreshed;
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (!refreshed && Clock::now() < deadline) {
    for (const auto& event : router.events()) {
      if (event.has_heartbeat() && event.heartbeat().routing_info().evidence().SerializeAsString() != boot_evidence) {
        refreshed = event.heartbeat().routing_info().evidence();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(refreshed) << "no heartbeat with refreshed evidence";
  auto root = load_or_create_simulated_root(node->config.simulated_root);
  ASSERT_TRUE(root);
  auto policy = attest::VerifierPolicy::local({root->public_key()});
  policy.image_manifests = {node_image_manifest(node->config).value()};
  const auto report = attest::verify_evidence(*refreshed, policy);
  ASSERT_TRUE(report.ok()) << attest::format_report(report);
  // Same node: same REK.
  EXPECT_EQ(report.node->rek_public_key, Bytes(node->service->node().rek_public_key().begin(),
                                               node->service->node().rek_public_key().end()));
  node->service->shutdown(std::chrono::milliseconds(0));
  // Deregistered on shutdown.
  const auto events = router.events();
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.back().has_shutdown());
}

// Its own node: extending a PCR breaks the REK for good.
TEST(ComputeNodePcr, ExtendedPcr12MakesTheTpmRefuseTheRek) {
  auto node = start_node("");
  ASSERT_TRUE(node && node->service);
  net::Runtime runtime(1);
  auto client = net::Client::create().value();
  const std::string url = node->service->url() + "/";
  auto exchange_once = [&](Chunking chunking) {
    Outgoing out = encrypt(*node->rek, chunking,
                           user_request("/v1/completions",
                                        R"({"model":"openpcc-test-engine","prompt":"hi","max_tokens":1})",
                                        shared().badge));
    return runtime.block_on([&]() -> net::Task<Answer> { co_return co_await exchange(client, url, std::move(out)); });
  };
  const Answer before = exchange_once(Chunking::kChunked);
  EXPECT_EQ(before.status, 200);
  EXPECT_EQ(before.inner_status, 200);

  // Someone measures something else into PCR 12 (another model) after boot.
  Bytes digest(32, 0x42);
  ASSERT_TRUE(node->service->tpm().pcr_extend(12, digest));

  const Answer after = exchange_once(Chunking::kUnchunked);
  EXPECT_EQ(after.status, 503) << error_message(after);
  auto health = net::fetch_blocking(net::ClientRequest("GET", node->service->url() + "/_health"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  auto metrics = net::fetch_blocking(net::ClientRequest("GET", node->service->url() + "/metrics"));
  ASSERT_TRUE(metrics);
  EXPECT_NE(to_string(metrics->body).find("requests_total{outcome=\"tpm_policy_error\"} 1"), std::string::npos);
}

TEST_F(ComputeNodeTest, AnswersArePaddedToBlocksInsideTheirSyntax) {
  // response_padding.h, default block: the streamed answer gets SSE comment events, the whole one trailing spaces;
  // both still parse as the engine's, and the usage counts (the refund) come from the unpadded bytes.
  const Answer streamed = ask(Chunking::kChunked, "/v1/chat/completions",
                              R"({"model":"openpcc-test-engine","messages":[{"role":"user","content":"pad me"}],)"
                              R"("max_tokens":4,"stream":true})");
  expect_answered(streamed);
  EXPECT_EQ(streamed.inner_body.size() % kDefaultResponsePaddingBlock, 0u) << streamed.inner_body.size();
  EXPECT_NE(streamed.inner_body.find("\n\n:"), std::string::npos) << "a padding comment event";
  size_t events = 0;
  for (size_t at = streamed.inner_body.find("data: {"); at != std::string::npos;
       at = streamed.inner_body.find("data: {", at + 1)) {
    const size_t end = streamed.inner_body.find('\n', at);
    ASSERT_NE(end, std::string::npos);
    EXPECT_FALSE(json::parse(streamed.inner_body.substr(at + 6, end - at - 6), nullptr, false).is_discarded());
    ++events;
  }
  EXPECT_EQ(events, 7u) << "role, 4 tokens, finish, usage: " << streamed.inner_body;
  auto refund = refund_of(streamed);
  ASSERT_TRUE(refund);
  // 2 prompt words + 4 generated: 992 − (1 + 8) = 983 → 960 or 992.
  EXPECT_TRUE(*refund == 960 || *refund == 992) << *refund;

  const Answer whole = ask(Chunking::kUnchunked, "/v1/completions",
                           R"({"model":"openpcc-test-engine","prompt":"one two","max_tokens":3})", 200);
  expect_answered(whole);
  EXPECT_EQ(whole.inner_body.size() % kDefaultResponsePaddingBlock, 0u) << whole.inner_body.size();
  const auto body = json::parse(whole.inner_body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << whole.inner_body;
  EXPECT_EQ(body["choices"][0]["text"], "You said: one");
  EXPECT_EQ(whole.inner_body.back(), ' ') << "spaces after the document";
}

}  // namespace
}  // namespace openpcc::computenode
