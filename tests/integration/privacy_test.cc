// Proofs of the privacy claims: the whole stack runs as processes (devstack::DevStack, the code behind
// `openpcc dev up`) with a recording TCP tap in front of every service, so every byte each service receives and
// sends is kept. Requests carry a unique marker in the prompt; the test engine echoes it, so it is in the answer
// too. Then, for each service, what it may and may not have seen:
//
//   relay      no marker, no inner header, no API key, no badge
//   gateway    no marker, no client address (no forwarding header, none of the client's source ports)
//   router     no marker, no API key, no badge content
//   blindbank  no marker, no API key
//   authbank   no compute request (no marker, no router or compute traffic)
//   node       only ciphertext on the wire (the node decrypts inside its process, with its TPM)
//   engine     the marker in plaintext: the only party besides the node
//
// Also: a node whose evidence fails the client's policy gets no request, and a request for a model that no verified
// node serves fails with a clear error before anything is paid or sent to the router.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/bytes.h"
#include "common/random.h"
#include "currency/badge.h"
#include "devstack/dev_stack.h"
#include "services/common/key_files.h"
#include "support/service_process.h"
#include "support/tap_proxy.h"
#include "support/temp_dir.h"

namespace openpcc {
namespace {

using test_support::run_openpcc;
using test_support::TapProxy;

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

bool contains_ci(std::string haystack, std::string needle) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  return lower(std::move(haystack)).find(lower(std::move(needle))) != std::string::npos;
}

// Ports the connecting side used, from the tap's view: ("127.0.0.1:<port>" strings are what a forwarding header
// would carry).
int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

class PrivacyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::TempDir("openpcc-privacy");
    devstack::DevUpOptions options;
    options.data_dir = dir_->path() / "stack";
    options.nodes = 2;
    options.binary = OPENPCC_BINARY;
    options.token_delay_ms = 0;
    options.currency_key_bits = 1024;  // faster key generation; the size does not matter to these tests
    options.authbank_tls = false;      // so that the tap can read what the AuthBank receives
    options.quiet = true;
    options.expose = [](const std::string& service, const std::string& url) {
      auto tap = TapProxy::start(static_cast<uint16_t>(port_of(url)));
      if (!tap) return url;  // the test fails below: every service must be tapped
      const std::string tapped = "http://127.0.0.1:" + std::to_string((*tap)->port());
      taps_->emplace(service, std::move(*tap));
      return tapped;
    };
    taps_ = new std::map<std::string, std::unique_ptr<TapProxy>>();
    auto stack = devstack::DevStack::up(options);
    if (!stack) {
      setup_error_ = new std::string(stack.error().to_string());
      return;
    }
    stack_ = stack->release();
  }

  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
    delete taps_;
    taps_ = nullptr;
    delete dir_;
    dir_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    for (const char* s : {"relay", "gateway", "router", "blindbank", "authbank", "node-1", "node-2", "engine"}) {
      ASSERT_TRUE(taps_->contains(s)) << "no tap in front of " << s;
    }
  }

  static TapProxy& tap(const std::string& service) { return *taps_->at(service); }
  static std::string client_config() { return stack_->client_config().string(); }

  // A fresh marker: random hex so that it can appear nowhere by chance.
  static std::string marker() { return "MARKER" + to_hex(random_bytes(12)); }

  static test_support::CommandOutput chat(const std::string& prompt, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"chat", "--config", client_config()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(prompt);
    return run_openpcc(args);
  }

  static std::string api_key() {
    std::ifstream in(stack_->data_dir() / "keys" / "api.key");
    std::string key;
    std::getline(in, key);
    return key;
  }

  // The dev account's badge: Ed25519 is deterministic, so re-issuing it with the badge key gives the very bytes the
  // AuthBank handed out.
  static std::string badge_header() {
    auto key = services::load_or_generate_ed25519_key(stack_->data_dir() / "keys" / "badge.key");
    EXPECT_TRUE(key) << key.error().to_string();
    currency::Credentials credentials;
    credentials.models = {"openpcc-test-engine"};
    auto badge = currency::BadgeIssuer(std::move(*key)).issue(credentials);
    EXPECT_TRUE(badge);
    auto header = badge->to_header();
    EXPECT_TRUE(header);
    return *header;
  }

  static test_support::TempDir* dir_;
  static devstack::DevStack* stack_;
  static std::map<std::string, std::unique_ptr<TapProxy>>* taps_;
  static std::string* setup_error_;
};

test_support::TempDir* PrivacyTest::dir_ = nullptr;
devstack::DevStack* PrivacyTest::stack_ = nullptr;
std::map<std::string, std::unique_ptr<TapProxy>>* PrivacyTest::taps_ = nullptr;
std::string* PrivacyTest::setup_error_ = nullptr;

TEST_F(PrivacyTest, EachServiceSeesOnlyWhatItMust) {
  // Node 2 is made untrustworthy first (next test does the same check on its own); here both are trusted, and the
  // requests below may go to either.
  std::vector<std::string> markers;
  for (int i = 0; i < 3; ++i) {
    const std::string m = marker();
    markers.push_back(m);
    auto out = chat("Please repeat " + m);
    ASSERT_EQ(out.status, 0) << out.out;
    EXPECT_TRUE(contains(out.out, m)) << "the answer echoes the marker: " << out.out;
  }
  {
    const std::string m = marker();
    markers.push_back(m);
    auto out = run_openpcc({"complete", "--config", client_config(), "Complete this " + m});
    ASSERT_EQ(out.status, 0) << out.out;
    EXPECT_TRUE(contains(out.out, m)) << out.out;
  }

  const std::string key = api_key();
  ASSERT_FALSE(key.empty());
  const std::string badge = badge_header();

  const std::string relay_in = tap("relay").received();
  const std::string relay_out = tap("relay").sent();
  const std::string gateway_in = tap("gateway").received();
  const std::string router_in = tap("router").received() + tap("router").sent();
  const std::string bank_in = tap("blindbank").received();
  const std::string auth_in = tap("authbank").received();
  const std::string engine_in = tap("engine").received();
  const std::string node_in = tap("node-1").received() + tap("node-2").received();
  ASSERT_GT(tap("relay").connection_count(), 0u);
  ASSERT_GT(tap("gateway").connection_count(), 0u);
  ASSERT_GT(tap("router").connection_count(), 0u);
  ASSERT_GT(tap("blindbank").connection_count(), 0u) << "the wallet banks through the gateway";

  for (const auto& m : markers) {
    EXPECT_FALSE(contains(relay_in, m)) << "relay saw the marker";
    EXPECT_FALSE(contains(relay_out, m)) << "relay saw the marker in a response";
    EXPECT_FALSE(contains(gateway_in, m)) << "gateway saw the marker";
    EXPECT_FALSE(contains(tap("gateway").sent(), m)) << "gateway sent the marker";
    EXPECT_FALSE(contains(router_in, m)) << "router saw the marker";
    EXPECT_FALSE(contains(bank_in, m)) << "blindbank saw the marker";
    EXPECT_FALSE(contains(auth_in, m)) << "authbank saw the marker";
    EXPECT_FALSE(contains(node_in, m)) << "the node's network input is ciphertext";
    EXPECT_TRUE(contains(engine_in, m)) << "the engine (behind the node) sees the prompt in plaintext";
  }

  // Relay: no inner header, no API key, no badge.
  for (const char* inner : {"x-confsec-badge", "confsec.invalid", "x-confsec-node-tags", "application/json",
                            "confsec-router.invalid", "x-credit"}) {
    EXPECT_FALSE(contains_ci(relay_in, inner)) << "relay saw " << inner;
  }
  EXPECT_FALSE(contains(relay_in, key)) << "relay saw the API key";
  EXPECT_FALSE(contains(relay_in, badge)) << "relay saw the badge";

  // Gateway: nothing that says who the client is.
  for (const char* header : {"x-forwarded-for", "forwarded:", "x-real-ip", "via:", "user-agent", "cookie"}) {
    EXPECT_FALSE(contains_ci(gateway_in, header)) << "gateway received " << header;
  }
  for (int port : tap("relay").peer_ports()) {
    EXPECT_FALSE(contains(gateway_in, ":" + std::to_string(port))) << "gateway saw the client's port " << port;
  }
  EXPECT_FALSE(contains(gateway_in, key));

  // Router: no API key, no badge content (the badge travels inside the node's ciphertext).
  EXPECT_FALSE(contains(router_in, key)) << "router saw the API key";
  EXPECT_FALSE(contains(router_in, badge)) << "router saw the badge";
  EXPECT_FALSE(contains_ci(router_in, "x-confsec-badge")) << "router saw the badge header";

  // BlindBank: no API key.
  EXPECT_FALSE(contains(bank_in, key)) << "blindbank saw the API key";
  EXPECT_FALSE(contains_ci(bank_in, "cf-authorization"));

  // AuthBank: identified traffic only — never a compute request or anything meant for the router.
  for (const char* compute : {"confsec-router.invalid", "application/confsec", "compute-manifests", "x-routing-info",
                              "message/ohttp"}) {
    EXPECT_FALSE(contains_ci(auth_in, compute)) << "authbank received " << compute;
  }
  EXPECT_TRUE(contains(auth_in, key)) << "the AuthBank is the one party that knows the API key";
}

TEST_F(PrivacyTest, ANodeWhoseEvidenceFailsPolicyGetsNoRequest) {
  // node-2 reboots with a simulated hardware root the clients do not trust: its evidence fails their policy.
  const auto config_path = stack_->data_dir() / "node-2" / "node.json";
  nlohmann::json config;
  {
    std::ifstream in(config_path);
    in >> config;
  }
  config["simulated_root"] = (dir_->path() / "untrusted-root.pem").string();
  {
    std::ofstream out(config_path);
    out << config.dump(2);
  }
  ASSERT_TRUE(stack_->restart("node-2"));
  ASSERT_TRUE(stack_->wait_until_routable(2, std::chrono::seconds(60)));

  const size_t before = tap("node-2").received().size();
  for (int i = 0; i < 4; ++i) {
    auto out = chat("untrusted node check " + marker());
    ASSERT_EQ(out.status, 0) << out.out;
  }
  const std::string after = tap("node-2").received().substr(before);
  EXPECT_FALSE(contains_ci(after, "application/confsec")) << "node-2 received a compute request";
  EXPECT_FALSE(contains_ci(after, "x-encapsulated-key")) << "node-2 received a compute request";
}

TEST_F(PrivacyTest, AModelNoVerifiedNodeServesFailsBeforeAnythingIsSpent) {
  const size_t router_before = tap("router").received().size();
  auto out = chat("anyone there? " + marker(), {"--model", "no-such-model"});
  EXPECT_EQ(out.status, 1) << out.out;
  const std::string router_after = tap("router").received().substr(router_before);
  EXPECT_FALSE(contains_ci(router_after, "application/confsec")) << "a compute request reached the router";
  EXPECT_FALSE(contains_ci(router_after, "x-routing-info"));
}

}  // namespace
}  // namespace openpcc
