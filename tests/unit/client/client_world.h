// The client tests' world: the real AuthBank and BlindBank (logic + HTTP services over loopback on one SQLite money
// database, the 1024-bit safe-prime test key), compute nodes booted on swtpm (real TPM quotes, evidence and REKs;
// one of them with an image the trust policy does not know), and a router stand-in speaking the router's protocol:
// POST /compute-manifests paid with an attestation token, POST / verifying and locking the credit, decrypting the
// request with the chosen node's REK (in its TPM), answering as a node would (streamed, sealed chunk by chunk) and
// turning the node's refund into an X-Refund credit. Its answer can be switched to the failure cases.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "attest/boot_manifest.h"
#include "attest/image_manifest.h"
#include "attest/simulated_tee.h"
#include "attest/tpm/compute_boot.h"
#include "attest/tpm/tcti.h"
#include "attest/tpm/tpm_device.h"
#include "client/client.h"
#include "client/node_finder.h"
#include "client/router_transport.h"
#include "client/sealed_request.h"
#include "client/trust/trust_policy.h"
#include "client/wallet/wallet.h"
#include "crypto/ed25519.h"
#include "crypto/rsa_blind.h"
#include "crypto/sha256.h"
#include "currency/credit.h"
#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "currency/nonce_store.h"
#include "currency/processor.h"
#include "currency/sql_nonce_store.h"
#include "net/blocking_pool.h"
#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "node_answer.h"
#include "openpcc/router.pb.h"
#include "services/authbank/authbank.h"
#include "services/authbank/authbank_client.h"
#include "services/authbank/authbank_http.h"
#include "services/blindbank/blindbank.h"
#include "services/blindbank/blindbank_client.h"
#include "services/blindbank/blindbank_http.h"
#include "services/common/http_transport.h"
#include "services/common/proto_http.h"
#include "store/database.h"
#include "support/swtpm.h"
#include "support/temp_dir.h"
#include "wire/compute_request.h"

namespace openpcc::client::test {

inline constexpr std::string_view kModel = "test-model";

// 2026-11-21 07:20:00 UTC plus the real time elapsed: credits minted in a test stay valid well past its run time.
class WorldClock {
 public:
  int64_t now_ms() const {
    const auto elapsed = std::chrono::steady_clock::now() - start_;
    return int64_t{1795244400 + 1200} * 1000 + std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  }
  int64_t now_s() const { return now_ms() / 1000; }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

inline std::string read_test_file(const std::string& name) {
  std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open tests/data/" << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline crypto::RsaPrivateKey test_currency_key() {
  return crypto::RsaPrivateKey::from_pem(read_test_file("blindbank-currency-key-1024.pem")).value();
}

inline Bytes sha256_of(std::string_view s) {
  auto d = crypto::sha256(as_bytes(s));
  return Bytes(d.begin(), d.end());
}

// ---- compute nodes on swtpm ---------------------------------------------------------------------------------------

inline attest::BootManifest boot_manifest_for(std::string_view model) {
  attest::BootManifest m;
  m.firmware_version = "OpenPCC simulated firmware 1.0";
  m.bootloader_digest = sha256_of("grubx64.efi");
  m.gpt_header = to_bytes("EFI PART simulated GPT header");
  m.secure_boot = true;
  m.kernel_cmdline = "root=/dev/mapper/root ro confsec.root=" + to_hex(sha256_of("rootfs")) + " quiet";
  m.model_digest = sha256_of(model);
  return m;
}

struct BootedNode {
  std::string id;
  std::vector<std::string> tags;
  std::unique_ptr<test_support::Swtpm> swtpm;
  std::optional<tpm::TpmDevice> device;
  std::optional<tpm::AttestedNode> node;
  const crypto::KemPrivateKey& rek() const { return node->rek(); }
};

// Three nodes booted once per test program: two of the trusted image, one of an image the policy does not know.
class Nodes {
 public:
  static Nodes& get() {
    static Nodes* nodes = new Nodes();  // the swtpms die with the process (PR_SET_PDEATHSIG)
    return *nodes;
  }

  bool ok() const { return ok_; }
  const attest::SimulatedHardwareRoot& root() const { return *root_; }
  BootedNode& good(size_t i) { return *good_[i]; }
  BootedNode& untrusted() { return *untrusted_; }

  // The local policy: SIMULATED TEE reports from our root, the trusted image pinned.
  std::shared_ptr<const TrustPolicy> policy() const {
    auto policy = std::make_shared<TrustPolicy>();
    policy->verifier = attest::VerifierPolicy::local({root_->public_key()});
    policy->verifier.image_manifests = {attest::image_manifest_for("test-image-1", boot_manifest_for(kModel))};
    policy->manifest_sources = {"test"};
    return policy;
  }

 private:
  Nodes() {
    root_.emplace(attest::SimulatedHardwareRoot::generate().value());
    const std::vector<std::string> tags{"llm", std::string("model=") + std::string(kModel)};
    good_.push_back(boot("0190a000-0000-7000-8000-000000000001", tags, boot_manifest_for(kModel)));
    good_.push_back(boot("0190a000-0000-7000-8000-000000000002", tags, boot_manifest_for(kModel)));
    untrusted_ = boot("0190a000-0000-7000-8000-000000000003", tags, boot_manifest_for("some other model"));
    ok_ = good_[0]->node && good_[1]->node && untrusted_->node;
  }

  std::unique_ptr<BootedNode> boot(std::string id, std::vector<std::string> tags, const attest::BootManifest& m) {
    auto b = std::make_unique<BootedNode>();
    b->id = std::move(id);
    b->tags = std::move(tags);
    auto swtpm = test_support::Swtpm::start();
    EXPECT_TRUE(swtpm) << swtpm.error().to_string();
    if (!swtpm) return b;
    b->swtpm = std::move(*swtpm);
    auto config = tpm::TctiConfig::parse(b->swtpm->tcti());
    auto device = tpm::TpmDevice::open(*config);
    EXPECT_TRUE(device) << device.error().to_string();
    if (!device || !device->startup()) return b;
    b->device.emplace(std::move(*device));
    tpm::ComputeBootConfig boot;
    boot.manifest = m;
    boot.simulated_root = &*root_;
    auto node = tpm::boot_compute_node(*b->device, boot, static_cast<int64_t>(std::time(nullptr)));
    EXPECT_TRUE(node) << node.error().to_string();
    if (node) b->node.emplace(std::move(*node));
    return b;
  }

  std::optional<attest::SimulatedHardwareRoot> root_;
  std::vector<std::unique_ptr<BootedNode>> good_;
  std::unique_ptr<BootedNode> untrusted_;
  bool ok_ = false;
};

// ---- the banks ----------------------------------------------------------------------------------------------------

class Money {
 public:
  static constexpr int64_t kInitialFunds = 10'000'000;

  Money() {
    db_ = store::open_database("sqlite:" + (dir_ / "money.db").string()).value();
    auto clock_s = [this] { return clock_.now_s(); };
    authbank::AuthBankOptions auth_options;
    auth_options.clock = clock_s;
    auto badge_key = crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x42)).value();
    badge_public_ = badge_key.public_key();
    authbank_ = authbank::AuthBank::create(db_, test_currency_key(), std::move(badge_key), std::move(auth_options))
                    .value();
    api_key_ = new_account(kInitialFunds, {std::string(kModel)});
    auth_server_ =
        net::Server::start(runtime_, net::ServerConfig{}, authbank::make_routes(*authbank_, pool_).handler()).value();

    blindbank_ = blindbank::BlindBank::open(db_, currency::Issuer::create(test_currency_key()).value()).value();
    blindbank::ServiceOptions blind_options;
    blind_options.clock = clock_s;
    net::ServerConfig blind_config;
    blind_config.max_body_bytes = blindbank::max_request_body(*blindbank_, blind_options);
    blind_server_ = net::Server::start(runtime_, blind_config,
                                       blindbank::make_blindbank_handler(*blindbank_, pool_, blind_options))
                        .value();

    verifier_.emplace(currency::CreditVerifier::create(test_currency_key().public_key()).value());
    nonces_ = currency::make_sql_nonce_store(db_);
    issuer_.emplace(currency::Issuer::create(test_currency_key()).value());
    processor_.emplace(*verifier_, *nonces_, &*issuer_);
    direct_ = services::direct_transport(net::Client::create().value());
  }

  ~Money() {
    auth_server_->shutdown(std::chrono::seconds(2));
    blind_server_->shutdown(std::chrono::seconds(2));
  }

  // A new AuthBank account with `funds` and an API key for it.
  std::string new_account(int64_t funds, std::vector<std::string> models) {
    auto& ledger = authbank_->ledger();
    const int64_t now = clock_.now_s();
    const int64_t id = ledger.create_account("acme", "user" + std::to_string(++accounts_), models, now)->id;
    if (funds > 0) EXPECT_TRUE(ledger.add_funds(id, funds, now).has_value());
    return ledger.issue_key(id, std::nullopt, now)->key.text();
  }

  net::Runtime& runtime() { return runtime_; }
  const WorldClock& clock() const { return clock_; }
  const test_support::TempDir& dir() const { return dir_; }
  const std::string& api_key() const { return api_key_; }
  std::string authbank_url() const { return "http://127.0.0.1:" + std::to_string(auth_server_->port()); }
  std::string blindbank_url() const { return "http://127.0.0.1:" + std::to_string(blind_server_->port()); }
  crypto::RsaPublicKey currency_key() const { return test_currency_key().public_key(); }
  const crypto::Ed25519PublicKey& badge_key() const { return badge_public_; }
  const currency::Processor& processor() const { return *processor_; }
  const services::HttpTransport& direct() const { return direct_; }

  AttestationTokenSource tokens(const std::string& api_key) const {
    const WorldClock* clock = &clock_;
    return authbank_attestation_tokens(direct_, authbank_url(), api_key, currency_key(),
                                       [clock] { return clock->now_s(); });
  }

  wallet::WalletConfig wallet_config(const std::string& name) const {
    wallet::WalletConfig config;
    config.source_amount = 40960;
    config.prefetch_amount = 4096;
    config.max_parallel = 2;
    config.max_delay = std::chrono::milliseconds(0);
    config.state_file = dir_ / (name + ".state");
    config.close_timeout = std::chrono::seconds(20);
    config.payment_timeout = std::chrono::seconds(5);
    config.min_backoff = std::chrono::milliseconds(20);
    config.max_backoff = std::chrono::milliseconds(200);
    const WorldClock* clock = &clock_;
    config.clock_ms = [clock] { return clock->now_ms(); };
    return config;
  }

  std::unique_ptr<wallet::Wallet> open_wallet(const std::string& name, const std::string& api_key) {
    wallet::WalletBanks banks{authbank::AuthBankClient(direct_, authbank_url(), api_key),
                              blindbank::BlindBankClient(direct_, blindbank_url()), currency_key()};
    auto w = wallet::Wallet::open(runtime_, wallet_config(name), std::move(banks));
    EXPECT_TRUE(w) << w.error().to_string();
    return w ? std::move(*w) : nullptr;
  }

 private:
  test_support::TempDir dir_{"openpcc-client"};
  WorldClock clock_;
  net::Runtime runtime_{2};
  net::BlockingPool pool_{2};
  std::shared_ptr<store::Database> db_;
  std::unique_ptr<authbank::AuthBank> authbank_;
  crypto::Ed25519PublicKey badge_public_ = crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x42))->public_key();
  std::unique_ptr<blindbank::BlindBank> blindbank_;
  std::unique_ptr<net::Server> auth_server_;
  std::unique_ptr<net::Server> blind_server_;
  std::string api_key_;
  int accounts_ = 0;
  std::optional<currency::CreditVerifier> verifier_;
  std::unique_ptr<currency::NonceStore> nonces_;
  std::optional<currency::Issuer> issuer_;
  std::optional<currency::Processor> processor_;
  services::HttpTransport direct_;
};

// ---- the router stand-in ------------------------------------------------------------------------------------------

enum class Answer {
  kStream,          // 200, SSE events one chunk each, usage, [DONE]; refund credit − (0.5·in + 2·out)
  kEngineError,     // the node's validation refuses: inner 400 JSON, full refund
  kCutMidStream,    // the node dies after one event: the router ends normally with a full refund
  kUnknownNodeId,   // X-Node-ID names no candidate
  kRouter503,       // no candidate available: 503 Error, credit rolled back
};

class FakeRouter {
 public:
  static constexpr int kPromptTokens = 7;
  static constexpr int kCompletionTokens = 3;

  FakeRouter(Money& money, std::vector<BootedNode*> nodes) : money_(money), nodes_(std::move(nodes)) {
    net::ServerConfig config;
    config.max_body_bytes = 8 << 20;
    server_ = net::Server::start(money.runtime(), config, [this](net::ServerRequest& req, net::ServerResponse& res) {
                return handle(req, res);
              }).value();
  }
  ~FakeRouter() { server_->shutdown(std::chrono::seconds(2)); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  void answer(Answer a) { answer_.store(a); }
  int manifest_calls() const { return manifest_calls_.load(); }
  int compute_calls() const { return compute_calls_.load(); }

  // What the last compute request carried.
  std::vector<std::string> last_candidates() const {
    std::lock_guard lock(mu_);
    return last_candidates_;
  }
  std::optional<wire::bhttp::Request> last_inner() const {
    std::lock_guard lock(mu_);
    return last_inner_;
  }
  std::vector<std::string> last_manifest_tags() const {
    std::lock_guard lock(mu_);
    return last_manifest_tags_;
  }

  // Parts of a client that reaches this router directly (no OHTTP).
  ClientParts parts(std::unique_ptr<wallet::Wallet> wallet, const std::string& api_key,
                    std::shared_ptr<const TrustPolicy> policy) const {
    ClientParts p;
    auto client = net::Client::create().value();
    p.router = rewriting_transport(services::direct_transport(client), std::string(kRouterBaseUrl), url());
    p.router_streaming = direct_streaming_transport(client, std::string(kRouterBaseUrl), url());
    p.attestation_tokens = money_.tokens(api_key);
    p.trust_policy = std::move(policy);
    p.wallet = std::move(wallet);
    return p;
  }

 private:
  // (GCC 12: no aggregate temporaries inside co_await — the Error is built in here.)
  static net::Task<Status> refuse(net::ServerResponse& res, ErrorCode code, std::string message, int status = 0) {
    const Error error{code, std::move(message)};
    co_return co_await services::send_error(res, error, status);
  }

  net::Task<Status> handle(net::ServerRequest& req, net::ServerResponse& res) {
    if (req.method() == "POST" && req.target() == "/compute-manifests") co_return co_await manifests(req, res);
    if (req.method() == "POST" && req.target() == "/") co_return co_await compute(req, res);
    co_return co_await refuse(res, ErrorCode::kNotFound, "no such path");
  }

  net::Task<Status> manifests(net::ServerRequest& req, net::ServerResponse& res) {
    ++manifest_calls_;
    auto token = currency::Credit::from_header(req.headers().get("X-Credit").value_or(""));
    if (!token) co_return co_await services::send_error(res, token.error());
    auto tx = money_.processor().begin(*token, money_.clock().now_s(), currency::CreditKind::kSpecial);
    if (!tx) co_return co_await services::send_error(res, tx.error());
    pb::ComputeManifestRequest query;
    if (auto ok = co_await services::read_proto(req, query, 65536); !ok) {
      co_return co_await services::send_error(res, ok.error());
    }
    pb::ComputeManifestList list;
    {
      std::lock_guard lock(mu_);
      last_manifest_tags_.assign(query.tags().begin(), query.tags().end());
    }
    for (BootedNode* node : nodes_) {
      const bool match = std::all_of(query.tags().begin(), query.tags().end(), [&](const std::string& t) {
        return std::find(node->tags.begin(), node->tags.end(), t) != node->tags.end();
      });
      if (!match || list.items_size() >= query.limit()) continue;
      auto* m = list.add_items();
      m->set_id(node->id);
      for (const auto& t : node->tags) m->add_tags(t);
      *m->mutable_evidence() = node->node->evidence();
    }
    if (auto ok = tx->commit(); !ok) co_return co_await services::send_error(res, ok.error());
    co_return co_await services::send_proto(res, 200, list);
  }

  net::Task<Status> compute(net::ServerRequest& req, net::ServerResponse& res) {
    ++compute_calls_;
    const Answer answer = answer_.load();
    auto chunking = wire::compute::request_chunking(req.headers().get("Content-Type").value_or(""));
    if (!chunking) co_return co_await refuse(res, ErrorCode::kUnsupported, "media type");
    pb::ComputeRequestInfo info;
    auto raw = from_base64(req.headers().get("X-Routing-Info").value_or(""));
    if (!raw || !info.ParseFromArray(raw->data(), static_cast<int>(raw->size())) || info.candidates_size() == 0) {
      co_return co_await refuse(res, ErrorCode::kInvalidArgument, "routing info");
    }
    auto credit = currency::Credit::from_header(req.headers().get("X-Credit").value_or(""));
    if (!credit) co_return co_await services::send_error(res, credit.error());
    auto tx = money_.processor().begin(*credit, money_.clock().now_s());
    if (!tx) co_return co_await services::send_error(res, tx.error());
    auto body = co_await req.read_all();
    if (!body) co_return std::unexpected(body.error());
    {
      std::lock_guard lock(mu_);
      last_candidates_.clear();
      for (const auto& c : info.candidates()) last_candidates_.push_back(c.id());
    }
    if (answer == Answer::kRouter503) {
      (void)tx->rollback();
      co_return co_await services::send_message(res, 503, "all candidate nodes unavailable");  // as the router
    }
    // The first candidate that is one of ours (the router picks at random; any will do here).
    BootedNode* node = nullptr;
    Bytes key;
    for (const auto& c : info.candidates()) {
      for (BootedNode* n : nodes_) {
        if (!node && n->id == c.id()) {
          node = n;
          key = to_bytes(c.encapsulated_key());
        }
      }
    }
    if (!node) co_return co_await refuse(res, ErrorCode::kUnavailable, "no node", 503);
    auto opened = open_request(key, node->rek(), *body, 1000);
    if (!opened) co_return co_await refuse(res, ErrorCode::kInvalidArgument, "decapsulate");
    {
      std::lock_guard lock(mu_);
      last_inner_ = opened->second;
    }
    const int64_t amount = credit->value.amount();
    StreamedAnswer sealed(opened->first.response_secrets());
    net::Headers head{{"Content-Type", "application/confsec-chunked-res"}, {"Trailer", "X-Refund"}};
    head.set("X-Node-ID", answer == Answer::kUnknownNodeId ? "0190a000-0000-7000-8000-0000000000ff" : node->id);
    if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;

    std::optional<currency::Value> refund;
    if (answer == Answer::kEngineError) {
      Bytes out = sealed.head(400, {{"content-type", "application/json"}});
      Bytes b = sealed.body(R"({"code":"ErrModelNotInBadge","error":"Request Validation Error",)"
                            R"("message":"model is not in the badge"})");
      Bytes end = sealed.finish();
      out.insert(out.end(), b.begin(), b.end());
      out.insert(out.end(), end.begin(), end.end());
      if (auto ok = co_await res.write_chunk(out); !ok) co_return ok;
      refund = credit->value;
    } else {
      wire::bhttp::Fields fields{{"content-type", "text/event-stream"}};
      Bytes first = sealed.head(200, std::move(fields));
      if (auto ok = co_await res.write_chunk(first); !ok) co_return ok;
      const std::vector<std::string> events = {
          R"(data: {"choices":[{"delta":{"content":"Hello"}}]})" "\n\n",
          R"(data: {"choices":[{"delta":{"content":" there"}}]})" "\n\n",
          R"(data: {"choices":[{"delta":{"content":"!"}}]})" "\n\n",
          R"(data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}})" "\n\n",
          "data: [DONE]\n\n"};
      for (size_t i = 0; i < events.size(); ++i) {
        Bytes piece = sealed.body(events[i]);
        if (auto ok = co_await res.write_chunk(piece); !ok) co_return ok;
        if (answer == Answer::kCutMidStream && i == 0) break;
      }
      if (answer == Answer::kCutMidStream) {
        refund = credit->value;  // the node failed after its head: everything back
      } else {
        Bytes end = sealed.finish();
        if (auto ok = co_await res.write_chunk(end); !ok) co_return ok;
        const double used = 0.5 * kPromptTokens + 2.0 * kCompletionTokens;
        if (amount - used > 0) refund = currency::Value::rounded(static_cast<double>(amount) - used).value();
      }
    }
    net::Headers trailers;
    if (refund && refund->amount() > 0 && answer != Answer::kUnknownNodeId) {
      auto refund_credit = tx->commit_with_refund(*refund);
      if (refund_credit) trailers.set("X-Refund", refund_credit->to_header());
    } else {
      (void)tx->commit();
    }
    co_return co_await res.finish(trailers);
  }

  Money& money_;
  std::vector<BootedNode*> nodes_;
  std::unique_ptr<net::Server> server_;
  std::atomic<Answer> answer_{Answer::kStream};
  std::atomic<int> manifest_calls_{0};
  std::atomic<int> compute_calls_{0};
  mutable std::mutex mu_;
  std::vector<std::string> last_candidates_;
  std::optional<wire::bhttp::Request> last_inner_;
  std::vector<std::string> last_manifest_tags_;
};

}  // namespace openpcc::client::test
