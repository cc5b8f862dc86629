// The whole system in one process: AuthBank (TLS, self-signed), BlindBank, router, gateway, relay, the built-in test
// engine and a compute node booted on swtpm, each a real service started from its config; the currency key, the
// gateway's OHTTP keys and the node's image manifest published as signed statements in a transparency log (kept in
// memory here: clients check bundles offline against the log key). The client SDK is created from a config file
// exactly as `openpcc chat` does and sends private requests relay → gateway → router → node → engine and back.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "client/client.h"
#include "client/completion_text.h"
#include "client/request_step.h"
#include "client/wallet/wallet_state.h"
#include "crypto/ed25519.h"
#include "net/client.h"
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
#include "services/router/router_service.h"
#include "support/swtpm.h"
#include "support/temp_dir.h"
#include "transparency/bundle.h"
#include "transparency/checkpoint.h"
#include "transparency/merkle.h"
#include "transparency/note.h"
#include "transparency/predicates.h"
#include "transparency/statement.h"

namespace openpcc::client {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr char kModel[] = "openpcc-test-engine";

std::string read_test_file(const std::string& name) {
  std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, std::string_view text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// A transparency log in memory with one publisher: statements in, bundles out.
class Publisher {
 public:
  Publisher() {
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

// Polls the router's /metrics until it routes to `nodes` nodes.
bool wait_routable(const std::string& router_url, int nodes, std::chrono::seconds timeout) {
  const std::string want = "openpcc_router_nodes{grade=\"ok\"} " + std::to_string(nodes);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto got = net::fetch_blocking(net::ClientRequest("GET", router_url + "/metrics"));
    if (got && got->status == 200) {
      std::string text(got->body.begin(), got->body.end());
      if (text.find(want + "\n") != std::string::npos) return true;
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

class FullStackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = new Stack(); }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(stack_ && stack_->client) << (stack_ ? stack_->failure : "no stack"); }

  struct Stack {
    test_support::TempDir dir{"openpcc-stack"};
    Publisher publisher;
    std::unique_ptr<test_support::Swtpm> swtpm;
    std::unique_ptr<engine::TestEngine> engine;
    std::unique_ptr<blindbank::Service> blindbank;
    std::unique_ptr<router::Service> router;
    std::unique_ptr<gateway::Service> gateway;
    std::unique_ptr<relay::Service> relay;
    std::unique_ptr<authbank::Service> authbank;
    std::unique_ptr<computenode::Service> node;
    std::unique_ptr<net::Runtime> runtime;
    std::unique_ptr<Client> client;
    ClientConfig config;
    int64_t account_id = 0;
    authbank::ServiceConfig authbank_config;
    std::string failure;

    Stack() {
      if (auto ok = start(); !ok) failure = ok.error().to_string();
    }
    ~Stack() {
      if (client && runtime) runtime->block_on([&]() -> net::Task<void> { (void)co_await client->close(); });
      client.reset();
      runtime.reset();
      if (node) node->shutdown(2s);
      if (authbank) authbank->shutdown(2s);
      if (relay) relay->shutdown(2s);
      if (gateway) gateway->shutdown(2s);
      if (router) router->shutdown(2s);
      if (blindbank) blindbank->shutdown(2s);
      if (engine) engine->shutdown(2s);
    }

    template <class T>
    static Status check(const Result<T>& r, std::string_view what) {
      if (!r) return std::unexpected(wrap_error(what, r.error()));
      return {};
    }

    Status start() {
      const fs::path d = dir.path();
      const std::string money = "sqlite:" + (d / "money.db").string();
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
      engine_config.token_delay = 5ms;
      auto e = engine::TestEngine::start(engine_config);
      if (auto ok = check(e, "engine"); !ok) return ok;
      engine = std::move(*e);

      auto bb = blindbank::parse_service_config(
          json{{"listen", "127.0.0.1:0"}, {"database", money}, {"currency_key", "currency.key"}}, d);
      if (auto ok = check(bb, "blindbank config"); !ok) return ok;
      auto bbs = blindbank::Service::start(*bb);
      if (auto ok = check(bbs, "blindbank"); !ok) return ok;
      blindbank = std::move(*bbs);

      auto rc = router::parse_service_config(json{{"listen", "127.0.0.1:0"},
                                                  {"database", money},
                                                  {"currency_key", "currency.key"},
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
        auto account = (*ledger)->create_account("test", "stack", std::vector<std::string>{kModel}, t);
        if (auto ok = check(account, "account"); !ok) return ok;
        account_id = account->id;
        if (auto ok = check((*ledger)->add_funds(account->id, 100000000, t), "funds"); !ok) return ok;
        auto key = (*ledger)->issue_key(account->id, std::nullopt, t);
        if (auto ok = check(key, "API key"); !ok) return ok;
        api_key = key->key.text();
      }
      auto as = authbank::Service::start(*ac);
      if (auto ok = check(as, "authbank"); !ok) return ok;
      authbank = std::move(*as);

      auto tpm = test_support::Swtpm::start();
      if (auto ok = check(tpm, "swtpm"); !ok) return ok;
      swtpm = std::move(*tpm);
      json node_json = {{"listen", "127.0.0.1:0"},
                        {"tpm", swtpm->tcti()},
                        {"router_url", router->url()},
                        {"models", {kModel}},
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
      if (!wait_routable(router->url(), 1, 30s)) return make_error(ErrorCode::kTimeout, "node never routable");

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
      auto loaded = load_client_config(d / "client.json");
      if (auto ok = check(loaded, "client config"); !ok) return ok;
      config = *loaded;
      runtime = std::make_unique<net::Runtime>(2);
      auto c = Client::create(*runtime, *loaded);
      if (auto ok = check(c, "client"); !ok) return ok;
      client = std::move(*c);
      return {};
    }
  };

  struct Answer {
    Result<std::unique_ptr<Response>> response = make_error(ErrorCode::kInternal, "unset");
    std::string text;
    std::string body;
    size_t pieces = 0;
    std::optional<TokenUsage> usage;
    std::optional<Error> read_error;
  };

  Answer ask(Request request) {
    return stack_->runtime->block_on([&]() -> net::Task<Answer> {
      Answer out;
      out.response = co_await stack_->client->request(std::move(request));
      if (!out.response) co_return std::move(out);
      CompletionText text;
      for (;;) {
        auto piece = co_await (*out.response)->read_chunk();
        if (!piece) {
          out.read_error = piece.error();
          break;
        }
        if (!*piece) break;
        ++out.pieces;
        out.body.append((*piece)->begin(), (*piece)->end());
        out.text += text.feed(**piece);
      }
      out.text += text.finish();
      out.usage = text.usage();
      co_return std::move(out);
    });
  }

  static Request chat(std::string prompt, std::string model = kModel) {
    Request r;
    r.path = "/v1/chat/completions";
    json body = {{"model", model},
                 {"messages", {{{"role", "user"}, {"content", prompt}}}},
                 {"stream", true},
                 {"max_tokens", 12}};
    r.body = to_bytes(body.dump());
    return r;
  }

  static inline Stack* stack_ = nullptr;
};

TEST_F(FullStackTest, ChatStreamsThroughEveryHop) {
  auto a = ask(chat("Is this private?"));
  ASSERT_TRUE(a.response) << a.response.error().to_string();
  ASSERT_FALSE(a.read_error) << a.read_error->to_string();
  Response& response = **a.response;
  EXPECT_EQ(response.status(), 200);
  EXPECT_TRUE(a.text.starts_with("You said: Is this private?")) << a.text;
  // One piece per token event at least: the stream was not collected before it was handed out.
  EXPECT_GE(a.pieces, 12u) << a.body;
  // The node forced include_usage, so the client sees the usage record.
  ASSERT_TRUE(a.usage) << a.body;
  EXPECT_EQ(a.usage->completion_tokens, 12);

  EXPECT_EQ(response.node().id, stack_->node->node_id());
  ASSERT_TRUE(response.node().report.ok());
  EXPECT_EQ(response.node().report.node->tee, "simulated");
  EXPECT_EQ(response.node().report.node->image_id, "stack-test-image");
  const auto* bundle_check = response.node().report.find("transparency.image_manifest_bundle");
  ASSERT_NE(bundle_check, nullptr);
  EXPECT_EQ(bundle_check->status, attest::CheckStatus::kPassed);

  EXPECT_EQ(response.credit_value(), stack_->config.wallet.prefetch_amount);
  ASSERT_TRUE(response.refund());
  EXPECT_GT(*response.refund(), 0);
  EXPECT_LE(*response.refund(), response.credit_value());
}

TEST_F(FullStackTest, CompletionsAndOllamaPaths) {
  Request complete;
  complete.path = "/v1/completions";
  complete.body = to_bytes(json{{"model", kModel}, {"prompt", "alpha beta"}, {"stream", true}, {"max_tokens", 4}}.dump());
  auto a = ask(complete);
  ASSERT_TRUE(a.response) << a.response.error().to_string();
  EXPECT_TRUE(a.text.starts_with("You said: alpha")) << a.text;
  ASSERT_TRUE(a.usage);
  EXPECT_EQ(a.usage->completion_tokens, 4);

  Request ollama;
  ollama.path = "/api/chat";
  ollama.body = to_bytes(
      json{{"model", kModel}, {"messages", {{{"role", "user"}, {"content", "gamma"}}}}, {"options", {{"num_predict", 3}}}}
          .dump());
  a = ask(ollama);
  ASSERT_TRUE(a.response) << a.response.error().to_string();
  EXPECT_EQ((*a.response)->headers().get("content-type"), "application/x-ndjson");
  EXPECT_TRUE(a.text.starts_with("You said:")) << a.text;
  ASSERT_TRUE(a.usage) << a.body;
  EXPECT_EQ(a.usage->completion_tokens, 3);
}

TEST_F(FullStackTest, TheNodesRefusalIsAnEngineErrorRefundedInFull) {
  // Ask the serving node's tag for a model it does not serve: the node's validation refuses inside the encryption.
  Request r = chat("hello", "not-served");
  r.tags = {"llm", std::string("model=") + kModel};
  const auto before = stack_->client->wallet().status().totals.refunds_received;
  auto a = ask(r);
  ASSERT_FALSE(a.response);
  EXPECT_EQ(step_of(a.response.error()), Step::kEngine) << a.response.error().message;
  EXPECT_NE(a.response.error().message.find("400"), std::string::npos) << a.response.error().message;
  EXPECT_EQ(stack_->client->wallet().status().totals.refunds_received - before,
            stack_->config.wallet.prefetch_amount);
}

TEST_F(FullStackTest, NoNodeForAModelIsNamed) {
  auto a = ask(chat("hello", "llama-none"));
  ASSERT_FALSE(a.response);
  EXPECT_EQ(step_of(a.response.error()), Step::kNoVerifiedNode) << a.response.error().message;
}

TEST_F(FullStackTest, ConcurrentRequests) {
  auto results = stack_->runtime->block_on([&]() -> net::Task<std::vector<std::string>> {
    std::vector<std::string> texts(3);
    auto one = [&](size_t i) -> net::Task<Status> {
      auto response = co_await stack_->client->request(chat("request " + std::to_string(i)));
      if (!response) co_return std::unexpected(response.error());
      auto body = co_await (*response)->read_all();
      if (!body) co_return std::unexpected(body.error());
      CompletionText t;
      texts[i] = t.feed(*body) + t.finish();
      co_return Status{};
    };
    auto a = co_await net::run_concurrently(one(0), one(1));
    EXPECT_TRUE(a) << (a ? "" : a.error().to_string());
    auto b = co_await one(2);
    EXPECT_TRUE(b) << (b ? "" : b.error().to_string());
    co_return texts;
  });
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(results[i].starts_with("You said: request " + std::to_string(i))) << results[i];
  }
}

TEST_F(FullStackTest, ClosingReturnsWhatWasNotCharged) {
  // Its own AuthBank account, so that the suite's client (whose wallet may refill at any time) does not move this
  // account's balance.
  int64_t account_id = 0;
  std::string api_key;
  {
    auto ledger = authbank::open_ledger(stack_->authbank_config);
    ASSERT_TRUE(ledger) << ledger.error().to_string();
    const int64_t t = static_cast<int64_t>(std::time(nullptr));
    auto account = (*ledger)->create_account("test", "second", std::vector<std::string>{kModel}, t);
    ASSERT_TRUE(account);
    account_id = account->id;
    ASSERT_TRUE((*ledger)->add_funds(account_id, 50'000'000, t));
    api_key = (*ledger)->issue_key(account_id, std::nullopt, t)->key.text();
  }
  auto balance = [&]() -> int64_t {
    auto ledger = authbank::open_ledger(stack_->authbank_config);
    EXPECT_TRUE(ledger) << ledger.error().to_string();
    auto account = (*ledger)->account(account_id);
    EXPECT_TRUE(account) << account.error().to_string();
    return account ? account->balance : -1;
  };
  // A second client with its own wallet, so that closing it leaves the suite's client alone.
  ClientConfig config = stack_->config;
  config.wallet.state_file = stack_->dir.path() / "second-wallet.state";
  config.api_key = api_key;
  auto second = Client::create(*stack_->runtime, config);
  ASSERT_TRUE(second) << second.error().to_string();
  const int64_t before = balance();
  auto result = stack_->runtime->block_on([&]() -> net::Task<Result<int64_t>> {
    auto response = co_await (*second)->request(chat("pay for this"));
    if (!response) co_return std::unexpected(response.error());
    if (auto done = co_await (*response)->finish(); !done) co_return std::unexpected(done.error());
    const int64_t charged = (*response)->credit_value() - (*response)->refund().value_or(0);
    if (auto closed = co_await (*second)->close(); !closed) co_return std::unexpected(closed.error());
    co_return charged;
  });
  ASSERT_TRUE(result) << result.error().to_string();
  const auto status = (*second)->wallet().status();
  EXPECT_TRUE(status.closed);
  const wallet::Counters& c = status.totals;
  EXPECT_EQ(c.payments, 1);
  EXPECT_EQ(c.spent - c.refunds_received, *result);
  // Everything taken from the AuthBank went back but the charge (and the banks' stochastic rounding).
  EXPECT_EQ(c.from_source + c.refunds_received + c.rounding, c.returned_to_source + c.spent);
  EXPECT_EQ(balance(), before - c.from_source + c.returned_to_source);
  second->reset();
}

}  // namespace
}  // namespace openpcc::client
