// Shared pieces of the router's HTTP tests: a real router Service over a temporary SQLite money database with the
// 1024-bit test currency key, and fake compute nodes (net::Server) that record what they receive and answer as told.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "common/random.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "openpcc/router_agent.pb.h"
#include "services/common/proto_http.h"
#include "services/router/router_api.h"
#include "services/router/router_service.h"
#include "services/router/uuid_v7.h"
#include "support/temp_dir.h"

namespace openpcc::router::testkit {

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string test_key_pem() { return read_text_file(std::string(OPENPCC_TEST_DATA_DIR) + "/blindbank-currency-key-1024.pem"); }

// Waits up to `timeout` for `done()`.
template <class F>
bool eventually(F done, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

struct ReceivedRequest {
  std::string method;
  std::string target;
  net::Headers headers;
  Bytes body;
};

// How a fake node answers POST requests.
struct NodeBehaviour {
  // kStalledBeforeHead / kStalledMidStream (after the first chunk): the node sends nothing more until open_gate()
  // or stop(), however long that takes (≤ 60 s).
  enum class Kind { kStream, kStatus, kDieMidStream, kGatedStream, kEndless, kStalledBeforeHead, kStalledMidStream };
  Kind kind = Kind::kStream;
  int status = 200;                                  // kStatus
  std::string content_type = "application/confsec-chunked-res";
  std::vector<std::string> chunks = {"chunk-1|", "chunk-2|", "chunk-3"};
  std::optional<std::string> refund_amount_trailer;  // X-Refund-Amount value
};

class FakeNode {
 public:
  explicit FakeNode(net::Runtime& runtime) : state_(std::make_shared<State>()) {
    state_->health_node_id = id;
    net::ServerConfig config;
    config.name = "fake-node";
    auto state = state_;
    auto server = net::Server::start(runtime, config, [state](net::ServerRequest& req, net::ServerResponse& res) {
      return handle(state, req, res);
    });
    EXPECT_TRUE(server) << server.error().to_string();
    if (server) server_ = std::move(*server);
  }
  ~FakeNode() { stop(); }

  void stop() {
    state_->gate = true;  // releases stalled answers, so that the shutdown below does not wait for them
    if (server_) server_->shutdown(std::chrono::milliseconds(200));
  }

  void set(NodeBehaviour behaviour) {
    std::lock_guard lock(state_->mutex);
    state_->behaviour = std::move(behaviour);
  }
  void set_healthy(bool healthy) { state_->healthy = healthy; }
  // What /_health says in X-Node-ID: the node's id by default; nullopt leaves the header out.
  void set_health_node_id(std::optional<std::string> node_id) {
    std::lock_guard lock(state_->mutex);
    state_->health_node_id = std::move(node_id);
  }

  std::vector<ReceivedRequest> received() const {
    std::lock_guard lock(state_->mutex);
    return state_->received;
  }
  size_t health_checks() const { return state_->health_checks.load(); }

  // kGatedStream: the node sends its first chunk, then waits (≤ 5 s) for open_gate() before the rest.
  void open_gate() { state_->gate = true; }
  bool gate_was_open_for_second_chunk() const { return state_->gate_seen.load(); }
  // kEndless: true once a write to the router failed (the router dropped the connection).
  bool writes_failed() const { return state_->write_failed.load(); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/"; }
  std::string health_url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/_health"; }

  const std::string id = new_uuid_v7();
  const Bytes key = random_bytes(120);  // stands in for an encapsulated key wrapped to this node

 private:
  struct State {
    mutable std::mutex mutex;
    NodeBehaviour behaviour;
    std::vector<ReceivedRequest> received;
    std::optional<std::string> health_node_id;
    std::atomic<bool> healthy{true};
    std::atomic<size_t> health_checks{0};
    std::atomic<bool> gate{false};
    std::atomic<bool> gate_seen{false};
    std::atomic<bool> write_failed{false};
  };

  static net::Task<Status> handle(std::shared_ptr<State> state, net::ServerRequest& req, net::ServerResponse& res) {
    if (req.method() == "GET" && req.target() == "/_health") {
      state->health_checks.fetch_add(1);
      net::Headers h;
      h.set("Content-Type", "application/json");
      {
        std::lock_guard lock(state->mutex);
        if (state->health_node_id) h.set(kNodeIdHeader, *state->health_node_id);
      }
      co_return co_await res.send(state->healthy ? 200 : 503, std::move(h), std::string_view("{\"status\":\"OK\"}"));
    }
    auto body = co_await req.read_all();
    if (!body) co_return std::unexpected(body.error());
    NodeBehaviour b;
    {
      std::lock_guard lock(state->mutex);
      state->received.push_back(ReceivedRequest{std::string(req.method()), std::string(req.target()), req.headers(),
                                                std::move(*body)});
      b = state->behaviour;
    }
    if (b.kind == NodeBehaviour::Kind::kStatus) {
      net::Headers h;
      h.set("Content-Type", b.content_type);
      co_return co_await res.send(b.status, std::move(h), std::string_view("node says no"));
    }
    auto stall = [&state]() -> net::Task<void> {
      for (int wait = 0; wait < 6000 && !state->gate.load(); ++wait) co_await net::sleep_for(std::chrono::milliseconds(10));
    };
    if (b.kind == NodeBehaviour::Kind::kStalledBeforeHead) co_await stall();
    net::Headers head;
    head.set("Content-Type", b.content_type);
    head.set("Trailer", "X-Refund-Amount");
    head.set("X-Node-Secret", "must not reach the client");
    if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
    for (size_t i = 0; i < b.chunks.size(); ++i) {
      if (i == 1 && b.kind == NodeBehaviour::Kind::kDieMidStream) {
        co_return make_error(ErrorCode::kIo, "fake node dies");
      }
      if (i == 1 && b.kind == NodeBehaviour::Kind::kStalledMidStream) co_await stall();
      if (i == 1 && (b.kind == NodeBehaviour::Kind::kGatedStream || b.kind == NodeBehaviour::Kind::kEndless)) {
        for (int wait = 0; wait < 500 && !state->gate.load(); ++wait) {
          co_await net::sleep_for(std::chrono::milliseconds(10));
        }
        state->gate_seen = state->gate.load();
      }
      if (auto ok = co_await res.write_chunk(as_bytes(b.chunks[i])); !ok) co_return ok;
    }
    if (b.kind == NodeBehaviour::Kind::kEndless) {
      for (int i = 0; i < 500; ++i) {
        co_await net::sleep_for(std::chrono::milliseconds(10));
        if (auto ok = co_await res.write_chunk(as_bytes(std::string("more|"))); !ok) {
          state->write_failed = true;
          co_return ok;
        }
      }
    }
    net::Headers trailers;
    if (b.refund_amount_trailer) trailers.set("X-Refund-Amount", *b.refund_amount_trailer);
    co_return co_await res.finish(trailers);
  }

  std::shared_ptr<State> state_;
  std::unique_ptr<net::Server> server_;
};

inline nlohmann::json router_config_json() {
  return nlohmann::json::parse(R"({
    "listen": "127.0.0.1:0", "database": "sqlite:money.db", "currency_key": "currency.key",
    "node_token_file": "node.token",
    "health": {"interval_ms": 60000, "timeout_ms": 1000, "retries": 1, "min_checks": 1},
    "node_requests": {"connect_timeout_ms": 1000, "timeout_seconds": 5},
    "limits": {"max_request_bytes": 65536},
    "threads": 2, "storage_threads": 2, "log_level": "warn"})");
}

// A router over a fresh money database, plus the issuer (same key) to mint credits and a verifier for refunds. The
// node token file node.token (a fresh token) is written in the router's directory; post_event presents it.
class RouterFixture {
 public:
  explicit RouterFixture(nlohmann::json config = router_config_json()) : dir_("openpcc-router-test") {
    const auto key = dir_ / "currency.key";
    {
      std::ofstream out(key);
      out << test_key_pem();
    }
    ::chmod(key.c_str(), 0600);
    {
      std::ofstream out(dir_ / "node.token");
      out << token_ << "\n";
    }
    ::chmod((dir_ / "node.token").c_str(), 0600);
    auto cfg = parse_service_config(config, dir_.path());
    EXPECT_TRUE(cfg) << cfg.error().to_string();
    if (!cfg) return;
    config_ = *cfg;
    start();
    auto pem = crypto::RsaPrivateKey::from_pem(test_key_pem());
    EXPECT_TRUE(pem);
    auto issuer = currency::Issuer::create(std::move(*pem));
    EXPECT_TRUE(issuer);
    issuer_ = std::make_unique<currency::Issuer>(std::move(*issuer));
    auto verifier = currency::CreditVerifier::create(issuer_->public_key());
    EXPECT_TRUE(verifier);
    verifier_ = std::make_unique<currency::CreditVerifier>(std::move(*verifier));
  }

  void start() {
    auto service = Service::start(config_);
    EXPECT_TRUE(service) << service.error().to_string();
    if (service) {
      service_ = std::move(*service);
      port_ = service_->port();
    }
  }
  // Stops the router and starts a new one on the same port and database (a router restart).
  void restart() {
    service_->shutdown(std::chrono::milliseconds(500));
    service_.reset();
    config_.port = port_;
    start();
  }

  Service& service() { return *service_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const currency::CreditVerifier& verifier() const { return *verifier_; }

  currency::Credit mint(int64_t amount) {
    auto credit = issuer_->issue_unblinded(currency::Value::from_amount(amount).value());
    EXPECT_TRUE(credit) << credit.error().to_string();
    return *credit;
  }
  currency::Credit attestation_token() {
    auto credit = issuer_->issue_unblinded(currency::attestation_value());
    EXPECT_TRUE(credit) << credit.error().to_string();
    return *credit;
  }

  // The node token in node.token (hex text).
  const std::string& token() const { return token_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  net::ClientResponse post_event(const pb::NodeEvent& event, std::string content_type = "application/octet-stream") {
    return post_event_with(event, "Bearer " + token_, std::move(content_type));
  }
  // POST /node-events with the given Authorization header (nullopt: none).
  net::ClientResponse post_event_with(const pb::NodeEvent& event, std::optional<std::string> authorization,
                                      std::string content_type = "application/octet-stream") {
    net::Headers h;
    h.set("Content-Type", content_type);
    if (authorization) h.set("Authorization", *authorization);
    auto r = net::fetch_blocking(
        net::ClientRequest("POST", url() + "/node-events", to_bytes(event.SerializeAsString()), std::move(h)));
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? *r : net::ClientResponse{};
  }

  // Registers `node` with a heartbeat and waits until its first health check made it routable.
  void register_node(const FakeNode& node, std::vector<std::string> tags = {"llm"}, int64_t index = 1) {
    pb::NodeEvent event;
    event.set_node_id(node.id);
    event.set_event_index(index);
    pb::RoutingInfo* info = event.mutable_heartbeat()->mutable_routing_info();
    info->set_url(node.url());
    info->set_healthcheck_url(node.health_url());
    for (const auto& t : tags) info->add_tags(t);
    info->mutable_evidence()->add_items()->set_data("evidence of " + node.id);
    auto r = post_event(event);
    EXPECT_EQ(r.status, 200) << services::error_message_from_body(r.body);
    EXPECT_TRUE(eventually([&] { return service_->registry().routable_url(node.id).has_value(); }))
        << "node never became routable";
  }

  // POST / with the given candidates and credit, plus headers a node must never see.
  net::ClientResponse compute(const std::vector<const FakeNode*>& candidates, const currency::Credit& credit,
                              Bytes body = to_bytes("sealed request body"),
                              std::string content_type = "application/confsec-chunked-req",
                              net::Headers extra = {}) {
    std::vector<Candidate> list;
    for (const FakeNode* n : candidates) list.push_back(Candidate{n->id, n->key});
    net::Headers h = std::move(extra);
    h.set("Content-Type", content_type);
    h.set(kRoutingInfoHeader, routing_info_header(list));
    h.set(currency::kCreditHeader, credit.to_header());
    h.add("Cookie", "session=secret");
    h.add("X-Custom", "private");
    h.add("User-Agent", "test-client");
    auto r = net::fetch_blocking(net::ClientRequest("POST", url() + "/", std::move(body), std::move(h)));
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? *r : net::ClientResponse{};
  }

  std::string metrics() {
    auto r = net::fetch_blocking(net::ClientRequest("GET", url() + "/metrics"));
    return r ? to_string(r->body) : std::string();
  }

 private:
  openpcc::test_support::TempDir dir_;
  const std::string token_ = to_hex(random_bytes(32));
  ServiceConfig config_;
  uint16_t port_ = 0;
  std::unique_ptr<Service> service_;
  std::unique_ptr<currency::Issuer> issuer_;
  std::unique_ptr<currency::CreditVerifier> verifier_;
};

}  // namespace openpcc::router::testkit
