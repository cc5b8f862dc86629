// The whole system in one process, for tests and benchmarks: AuthBank (TLS, self-signed), BlindBank, router,
// gateway, relay, the built-in test engine and a compute node booted on swtpm, each a real service started from its
// config; the currency key, the gateway's OHTTP keys and the node's image manifest published as signed statements in
// a transparency log (kept in memory: clients check bundles offline against the log key). A client SDK object is
// created from a config file exactly as `openpcc chat` does and sends private requests relay → gateway → router →
// node → engine and back.
//
//   auto stack = test_support::FullStack::start();                 // seconds: swtpm boot, key generation
//   ASSERT_TRUE(stack) << stack.error().to_string();
//   auto answer = (*stack)->runtime->block_on([&]() -> net::Task<...> {
//     auto response = co_await (*stack)->client->request(test_support::FullStack::chat_request("Hi"));
//     ...
//   });
//
// Options: the engine's token delay and token gate (engine_gate.h: hold an answer at a chosen token), the funds of
// the client's account. Everything lives in a temporary directory (dir) that goes away with the stack; link the
// test with openpcc_client, openpcc_relay, openpcc_gateway, openpcc_router, openpcc_computenode, openpcc_engine and
// openpcc_tlog. Start it from a thread that outlives it (swtpm.h: PR_SET_PDEATHSIG).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "client/client_config.h"
#include "crypto/ed25519.h"
#include "net/client.h"
#include "net/runtime.h"
#include "services/authbank/authbank_service.h"
#include "services/authbank/jwk.h"
#include "services/authbank/ledger.h"
#include "services/blindbank/blindbank_service.h"
#include "services/common/key_files.h"
#include "services/computenode/computenode_config.h"
#include "services/computenode/computenode_service.h"
#include "services/computenode/node_boot.h"
#include "services/engine/test_engine.h"
#include "services/engine/test_model.h"
#include "services/gateway/gateway_keys.h"
#include "services/gateway/gateway_service.h"
#include "services/relay/relay_service.h"
#include "services/router/node_token.h"
#include "services/router/router_service.h"
#include "support/swtpm.h"
#include "support/temp_dir.h"
#include "transparency/bundle.h"
#include "transparency/checkpoint.h"
#include "transparency/merkle.h"
#include "transparency/note.h"
#include "transparency/predicates.h"
#include "transparency/statement.h"

namespace openpcc::test_support {

// The model the test engine serves and the node advertises.
inline constexpr char kFullStackModel[] = "openpcc-test-engine";

// A transparency log in memory with one publisher: statements in, bundles out.
class MemoryPublisher {
 public:
  MemoryPublisher() {
    log_.emplace(transparency::NoteSigner::create("openpcc-test.local/log",
                                                  crypto::Ed25519PrivateKey::generate().value())
                     .value());
  }
  std::string publish(const transparency::Statement& statement) {
    auto envelope = transparency::sign_statement(statement, key_).value();
    const uint64_t index = tree_.append(transparency::envelope_leaf(envelope));
    transparency::Checkpoint checkpoint{"openpcc-test.local/log", tree_.size(), tree_.root()};
    auto note = transparency::sign_checkpoint(checkpoint, *log_).value();
    auto proof = tree_.inclusion_proof(index, tree_.size()).value();
    return transparency::to_json(transparency::assemble_bundle(envelope, index, proof, note).value());
  }
  std::string log_key() const { return log_->verifier_key(); }
  std::string publisher_pem() const { return key_.public_key().to_pem().value(); }

 private:
  crypto::Ed25519PrivateKey key_ = crypto::Ed25519PrivateKey::generate().value();
  std::optional<transparency::NoteSigner> log_;
  transparency::MerkleTree tree_;
};

// Polls a router's /metrics until it routes to `nodes` nodes.
inline bool wait_routable(const std::string& router_url, int nodes, std::chrono::milliseconds timeout) {
  const std::string want = "openpcc_router_nodes{grade=\"ok\"} " + std::to_string(nodes);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto got = net::fetch_blocking(net::ClientRequest("GET", router_url + "/metrics"));
    if (got && got->status == 200) {
      std::string text(got->body.begin(), got->body.end());
      if (text.find(want + "\n") != std::string::npos) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

struct FullStackOptions {
  std::chrono::milliseconds token_delay{5};  // the test engine's delay between tokens
  engine::TokenGate token_gate;              // the test engine's gate (engine_gate.h); empty = none
  int64_t funds = 100'000'000;               // the client's AuthBank account
  unsigned client_threads = 2;               // the client's runtime
};

class FullStack {
 public:
  // Starts every service and the client; on failure, what was started is stopped again.
  static Result<std::unique_ptr<FullStack>> start(FullStackOptions options = {}) {
    std::unique_ptr<FullStack> stack(new FullStack(std::move(options)));
    if (auto ok = stack->boot(); !ok) return std::unexpected(ok.error());
    return stack;
  }

  // Returns the client's credits (close), then stops the client and the services, the node first.
  ~FullStack() {
    if (client && runtime) runtime->block_on([&]() -> net::Task<void> { (void)co_await client->close(); });
    client.reset();
    runtime.reset();
    if (node) node->shutdown(std::chrono::seconds(2));
    if (authbank) authbank->shutdown(std::chrono::seconds(2));
    if (relay) relay->shutdown(std::chrono::seconds(2));
    if (gateway) gateway->shutdown(std::chrono::seconds(2));
    if (router) router->shutdown(std::chrono::seconds(2));
    if (blindbank) blindbank->shutdown(std::chrono::seconds(2));
    if (engine) engine->shutdown(std::chrono::seconds(2));
  }
  FullStack(const FullStack&) = delete;
  FullStack& operator=(const FullStack&) = delete;

  // A streamed OpenAI chat request for the test engine's model (or `model`).
  static client::Request chat_request(std::string prompt, std::string model = kFullStackModel, int max_tokens = 12) {
    client::Request r;
    r.path = "/v1/chat/completions";
    nlohmann::json body = {{"model", model},
                           {"messages", {{{"role", "user"}, {"content", prompt}}}},
                           {"stream", true},
                           {"max_tokens", max_tokens}};
    r.body = to_bytes(body.dump());
    return r;
  }

  // The parts, for tests to use and inspect. Declared in start order.
  TempDir dir{"openpcc-stack"};
  FullStackOptions options;
  MemoryPublisher publisher;
  std::unique_ptr<Swtpm> swtpm;
  std::unique_ptr<engine::TestEngine> engine;
  std::unique_ptr<blindbank::Service> blindbank;
  std::unique_ptr<router::Service> router;
  std::unique_ptr<gateway::Service> gateway;
  std::unique_ptr<relay::Service> relay;
  std::unique_ptr<authbank::Service> authbank;
  std::unique_ptr<computenode::Service> node;
  std::unique_ptr<net::Runtime> runtime;    // the client's
  std::unique_ptr<client::Client> client;
  client::ClientConfig config;              // what the client was created from (client.json)
  int64_t account_id = 0;                   // its AuthBank account
  authbank::ServiceConfig authbank_config;  // to open the ledger (authbank::open_ledger)

 private:
  explicit FullStack(FullStackOptions o) : options(std::move(o)) {}

  static void write_file(const std::filesystem::path& path, std::string_view text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  static std::string read_test_file(const std::string& name) {
    std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/" + name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  template <class T>
  static Status check(const Result<T>& r, std::string_view what) {
    if (!r) return std::unexpected(wrap_error(what, r.error()));
    return {};
  }

  Status boot() {
    using nlohmann::json;
    namespace fs = std::filesystem;
    const fs::path d = dir.path();
    if (d.empty()) return make_error(ErrorCode::kIo, "cannot create a temporary directory");
    const std::string money = "sqlite:" + (d / "money.db").string();
    // A fixed 1024-bit test key: generating a safe-prime key takes seconds.
    if (auto ok = services::write_secret_file_atomically(d / "currency.key",
                                                         as_bytes(read_test_file("blindbank-currency-key-1024.pem")));
        !ok) {
      return ok;
    }
    auto currency = services::load_currency_key(d / "currency.key");
    if (auto ok = check(currency, "currency key"); !ok) return ok;
    if (auto ok = check(services::generate_ed25519_key_file(d / "badge.key"), "badge key"); !ok) return ok;
    if (auto ok = check(computenode::load_or_create_simulated_root(d / "simulated-root.pem"), "root"); !ok) return ok;
    write_file(d / "publisher.pub.pem", publisher.publisher_pem());

    // The engine and its model directory (measured into the node's PCR 12).
    if (auto ok = engine::init_test_model(d / "model"); !ok) return ok;
    engine::TestEngineConfig engine_config;
    engine_config.model_dir = d / "model";
    engine_config.token_delay = options.token_delay;
    engine_config.token_gate = options.token_gate;
    auto e = engine::TestEngine::start(engine_config);
    if (auto ok = check(e, "engine"); !ok) return ok;
    engine = std::move(*e);

    auto bb = blindbank::parse_service_config(
        json{{"listen", "127.0.0.1:0"}, {"database", money}, {"currency_key", "currency.key"}}, d);
    if (auto ok = check(bb, "blindbank config"); !ok) return ok;
    auto bbs = blindbank::Service::start(*bb);
    if (auto ok = check(bbs, "blindbank"); !ok) return ok;
    blindbank = std::move(*bbs);

    // The node registration token the router requires and the node presents (router/node_token.h).
    if (auto ok = services::write_secret_file_atomically(d / "node.token", router::generate_node_token().span());
        !ok) {
      return ok;
    }
    auto rc = router::parse_service_config(json{{"listen", "127.0.0.1:0"},
                                                {"database", money},
                                                {"currency_key", "currency.key"},
                                                {"node_token_file", "node.token"},
                                                {"health", {{"interval_ms", 500}, {"min_checks", 1}}}},
                                           d);
    if (auto ok = check(rc, "router config"); !ok) return ok;
    auto rs = router::Service::start(*rc);
    if (auto ok = check(rs, "router"); !ok) return ok;
    router = std::move(*rs);

    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    auto gc = gateway::parse_service_config(
        json{{"listen", "127.0.0.1:0"},
             {"keys",
              {{{"key_id", 7},
                {"kem", "x25519-kyber768"},
                {"seed_file", "ohttp-key-7.seed"},
                {"active_from", transparency::format_rfc3339(now - std::chrono::hours(1))},
                {"active_until", transparency::format_rfc3339(now + std::chrono::hours(24))}}}},
             {"bank_url", blindbank->url()},
             {"router_url", router->url()}},
        d);
    if (auto ok = check(gc, "gateway config"); !ok) return ok;
    auto material = gateway::load_gateway_keys(gc->keys);
    if (auto ok = check(material, "gateway keys"); !ok) return ok;
    auto gs = gateway::Service::start(*gc);
    if (auto ok = check(gs, "gateway"); !ok) return ok;
    gateway = std::move(*gs);
    auto ohttp_statement = transparency::ohttp_keys_statement(material->ohttp_keys, material->periods);
    if (auto ok = check(ohttp_statement, "OHTTP keys statement"); !ok) return ok;
    write_file(d / "ohttp-keys.bundle.json", publisher.publish(*ohttp_statement));
    auto currency_statement =
        transparency::currency_key_statement(authbank::rsa_public_key_to_jwk(currency->public_key()));
    if (auto ok = check(currency_statement, "currency statement"); !ok) return ok;
    write_file(d / "currency.bundle.json", publisher.publish(*currency_statement));

    auto rl = relay::parse_service_config(json{{"listen", "127.0.0.1:0"}, {"gateway_url", gateway->url() + "/"}}, d);
    if (auto ok = check(rl, "relay config"); !ok) return ok;
    auto rls = relay::Service::start(*rl);
    if (auto ok = check(rls, "relay"); !ok) return ok;
    relay = std::move(*rls);

    auto ac = authbank::parse_service_config(json{{"listen", "127.0.0.1:0"},
                                                  {"database", money},
                                                  {"currency_key", "currency.key"},
                                                  {"badge_key", "badge.key"},
                                                  {"relays", {relay->url() + "/"}},
                                                  {"currency_key_bundle", "currency.bundle.json"},
                                                  {"ohttp_keys_bundle", "ohttp-keys.bundle.json"},
                                                  {"tls", {{"self_signed", true}}}},
                                             d);
    if (auto ok = check(ac, "authbank config"); !ok) return ok;
    authbank_config = *ac;
    std::string api_key;
    {
      auto ledger = authbank::open_ledger(*ac);
      if (auto ok = check(ledger, "ledger"); !ok) return ok;
      const int64_t t = static_cast<int64_t>(std::time(nullptr));
      auto account = (*ledger)->create_account("test", "stack", std::vector<std::string>{kFullStackModel}, t);
      if (auto ok = check(account, "account"); !ok) return ok;
      account_id = account->id;
      if (auto ok = check((*ledger)->add_funds(account->id, options.funds, t), "funds"); !ok) return ok;
      auto key = (*ledger)->issue_key(account->id, std::nullopt, t);
      if (auto ok = check(key, "API key"); !ok) return ok;
      api_key = key->key.text();
    }
    auto as = authbank::Service::start(*ac);
    if (auto ok = check(as, "authbank"); !ok) return ok;
    authbank = std::move(*as);

    auto tpm = Swtpm::start();
    if (auto ok = check(tpm, "swtpm"); !ok) return ok;
    swtpm = std::move(*tpm);
    json node_json = {{"listen", "127.0.0.1:0"},
                      {"tpm", swtpm->tcti()},
                      {"router_url", router->url()},
                      {"router_token_file", "node.token"},
                      {"models", {kFullStackModel}},
                      {"engine", "ollama+" + engine->url()},
                      {"model_path", "model"},
                      {"badge_public_key", "badge.key.pub"},
                      {"simulated_root", "simulated-root.pem"},
                      {"image_id", "stack-test-image"},
                      {"heartbeat_interval_ms", 500}};
    auto nc = computenode::parse_service_config(node_json, d);
    if (auto ok = check(nc, "node config"); !ok) return ok;
    auto manifest = computenode::node_image_manifest(*nc);
    if (auto ok = check(manifest, "image manifest"); !ok) return ok;
    auto image_statement = transparency::image_manifest_statement(attest::to_json(*manifest));
    if (auto ok = check(image_statement, "image statement"); !ok) return ok;
    write_file(d / "image.bundle.json", publisher.publish(*image_statement));
    node_json["image_manifest_bundle"] = "image.bundle.json";  // carried in the evidence
    nc = computenode::parse_service_config(node_json, d);
    if (auto ok = check(nc, "node config"); !ok) return ok;
    auto ns = computenode::Service::start(*nc);
    if (auto ok = check(ns, "node"); !ok) return ok;
    node = std::move(*ns);
    if (!wait_routable(router->url(), 1, std::chrono::seconds(30))) {
      return make_error(ErrorCode::kTimeout, "node never routable");
    }

    // The client side: a trust policy that knows the log and the publisher (the image manifest comes with the
    // node's evidence) and a client config file, as `openpcc dev up` writes them.
    const json policy = {{"accept_simulated_tee", true},
                         {"simulated_roots", {"simulated-root.pem.pub"}},
                         {"transparency", {{"log_key", publisher.log_key()}, {"publisher_keys", {"publisher.pub.pem"}}}}};
    write_file(d / "trust.json", policy.dump());
    if (!authbank->certificate_file()) return make_error(ErrorCode::kInternal, "authbank has no certificate");
    const json client_json = {{"authbank_url", authbank->url()},
                              {"api_key", api_key},
                              {"ca_file", authbank->certificate_file()->string()},
                              {"trust_policy", "trust.json"},
                              {"wallet", {{"state_file", "wallet.state"}, {"max_delay_ms", 0}}}};
    write_file(d / "client.json", client_json.dump());
    auto loaded = client::load_client_config(d / "client.json");
    if (auto ok = check(loaded, "client config"); !ok) return ok;
    config = *loaded;
    runtime = std::make_unique<net::Runtime>(options.client_threads);
    auto c = client::Client::create(*runtime, *loaded);
    if (auto ok = check(c, "client"); !ok) return ok;
    client = std::move(*c);
    return {};
  }
};

}  // namespace openpcc::test_support
