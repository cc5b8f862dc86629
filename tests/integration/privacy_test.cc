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
// Also: a node whose evidence fails the client's policy gets no request, a request for a model that no verified
// node serves fails with a clear error before anything is paid or sent to the router, and the sizes of a streamed
// answer's chunks on the way back (what the relay sees) do not show how long each token is (the node pads the
// engine's answer: services/computenode/response_padding.h; with the padding turned off, the control test sees them
// differ).
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
#include "common/varint.h"
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

// The HTTP/1.1 messages in one direction of a connection (Content-Length or chunked bodies; incomplete ones left
// out): the head as text, the body decoded.
struct HttpMessage {
  std::string head;
  std::string body;
};

std::vector<HttpMessage> http_messages(const std::string& stream) {
  std::vector<HttpMessage> out;
  size_t at = 0;
  while (at < stream.size()) {
    const size_t head_end = stream.find("\r\n\r\n", at);
    if (head_end == std::string::npos) break;
    HttpMessage message;
    message.head = stream.substr(at, head_end - at);
    at = head_end + 4;
    std::string lower = message.head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower.find("transfer-encoding: chunked") != std::string::npos) {
      for (;;) {
        const size_t line_end = stream.find("\r\n", at);
        if (line_end == std::string::npos) return out;
        const size_t size = std::stoul(stream.substr(at, line_end - at), nullptr, 16);
        at = line_end + 2;
        if (size == 0) {  // trailers up to a blank line
          const size_t trailers_end = stream.find("\r\n", at) == at ? at : stream.find("\r\n\r\n", at);
          if (trailers_end == std::string::npos) return out;
          at = trailers_end == at ? at + 2 : trailers_end + 4;
          break;
        }
        if (at + size + 2 > stream.size()) return out;
        message.body += stream.substr(at, size);
        at += size + 2;
      }
    } else if (const size_t cl = lower.find("content-length: "); cl != std::string::npos) {
      const size_t length = std::stoul(lower.substr(cl + 16));
      if (at + length > stream.size()) return out;
      message.body = stream.substr(at, length);
      at += length;
    }
    out.push_back(std::move(message));
  }
  return out;
}

// The ciphertext lengths of the non-final chunks of a chunked response stream with a 16-byte response nonce: a
// chunked OHTTP response (AES-128-GCM) or a compute node's chunked response (draft-ietf-ohai-chunked-ohttp framing:
// varint(L) ‖ L bytes each, then varint(0) ‖ the final chunk).
std::vector<uint64_t> chunk_lengths(const std::string& body) {
  std::vector<uint64_t> lengths;
  size_t at = 16;
  while (at < body.size()) {
    auto length = peek_varint(as_bytes(std::string_view(body).substr(at)));
    if (!length || length->value == 0) break;
    lengths.push_back(length->value);
    at += length->size + length->value;
  }
  return lengths;
}

// The bytes of a compute node's chunked response stream, from its non-final chunk lengths: the 16-byte response
// nonce, each varint(L) ‖ L, and the final chunk (varint(0) ‖ an empty plaintext's 16-byte tag).
uint64_t node_stream_bytes(const std::vector<uint64_t>& chunks) {
  uint64_t total = 16 + 1 + 16;
  for (auto length : chunks) total += varint_size(length) + length;
  return total;
}

// The bytes of the node's stream that a chunked OHTTP response carried, from its non-final chunk lengths: the first
// chunk is the inner response head and the last the end of the BHTTP message (trailers); every other one is a BHTTP
// content chunk varint(m) ‖ m of m bytes read from the router, sealed (+ 16).
uint64_t relay_carried_bytes(const std::vector<uint64_t>& chunks) {
  uint64_t total = 0;
  for (size_t i = 1; i + 1 < chunks.size(); ++i) {
    const uint64_t plaintext = chunks[i] - 16;
    total += plaintext <= 64 ? plaintext - 1 : (plaintext <= 16385 ? plaintext - 2 : plaintext - 4);
  }
  return total;
}

// The chunk plaintext sizes a node produces for padded pieces of up to 16 blocks of 256 bytes: a piece of n bytes is
// BHTTP-encoded (varint(n) ‖ n) and sealed in chunks of at most 514 bytes of plaintext.
std::vector<uint64_t> padded_node_chunk_plaintexts() {
  std::vector<uint64_t> out;
  for (size_t n = 256; n <= 16 * 256; n += 256) {
    for (size_t left = varint_size(n) + n; left > 0;) {
      const size_t plain = std::min<size_t>(left, 514);
      out.push_back(plain);
      left -= plain;
    }
  }
  return out;
}

class PrivacyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::TempDir("openpcc-privacy");
    devstack::DevUpOptions options;
    options.data_dir = dir_->path() / "stack";
    options.nodes = 2;
    options.binary = OPENPCC_BINARY;
    options.token_delay_ms = 25;       // tokens apart in time, so that each streamed token is a piece of its own
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

  // How much each connection of a tap has sent so far (connections are kept alive between requests).
  static std::vector<size_t> sent_sizes(const std::string& service) {
    std::vector<size_t> sizes;
    for (const auto& c : tap(service).connections()) sizes.push_back(c.sent.size());
    return sizes;
  }

  // The chunk lengths of the longest chunked response of a kind that `service` sent since `before`.
  static std::vector<uint64_t> longest_response(const std::string& service, const std::vector<size_t>& before,
                                                const std::string& media_type) {
    std::vector<uint64_t> longest;
    const auto connections = tap(service).connections();
    for (size_t i = 0; i < connections.size(); ++i) {
      const size_t from = i < before.size() ? before[i] : 0;
      for (const auto& message : http_messages(connections[i].sent.substr(from))) {
        if (!contains_ci(message.head, media_type)) continue;
        auto lengths = chunk_lengths(message.body);
        if (lengths.size() > longest.size()) longest = std::move(lengths);
      }
    }
    return longest;
  }

  struct Seen {
    std::vector<uint64_t> relay;  // OHTTP chunks the relay passed back (what the relay, and any observer, sees)
    std::vector<uint64_t> node;   // the node's sealed chunks (what the router and the gateway see)
    std::string answer;           // the raw SSE stream the client printed
  };

  // One streamed chat of 8 tokens, and what the relay and the node sent back for it.
  static Seen streamed_chat(const std::string& prompt) {
    const auto relay_before = sent_sizes("relay");
    const auto node1_before = sent_sizes("node-1");
    const auto node2_before = sent_sizes("node-2");
    Seen seen;
    auto out = chat(prompt, {"--max-tokens", "8", "--json"});
    EXPECT_EQ(out.status, 0) << out.out;
    seen.answer = out.out;
    seen.relay = longest_response("relay", relay_before, "message/ohttp-chunked-res");
    seen.node = longest_response("node-1", node1_before, "application/confsec-chunked-res");
    if (seen.node.empty()) seen.node = longest_response("node-2", node2_before, "application/confsec-chunked-res");
    return seen;
  }

  static std::string describe(const std::vector<uint64_t>& v) {
    std::string s;
    for (auto x : v) s += std::to_string(x) + " ";
    return s;
  }

  // Two prompts whose answers have as many tokens (the test engine echoes the prompt's words), of very different
  // lengths.
  static constexpr std::string_view kShortWords = "Please repeat a b c d e f";
  static constexpr std::string_view kLongWords =
      "Please repeat Pneumonoultram Floccinaucinih Antidisestabli Supercalifrag Incomprehensi Otorhinolaryn";

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

TEST_F(PrivacyTest, ResponseChunkSizesDoNotShowTokenLengths) {
  const std::vector<uint64_t> padded_set = padded_node_chunk_plaintexts();


  // Strict on every run: each chunk of the answer's body leaves the node at a padded size (the node's framing has
  // explicit lengths, so TCP does not blur this). Chunks: the inner head, the body pieces, the end of the BHTTP
  // message.
  //
  // Same sequence for both answers, at the node and at the relay: the test engine writes its closing events (finish,
  // usage, [DONE]) right after the last token, so the node sometimes reads them with it in one piece and sometimes
  // not — a difference in timing, not in the tokens' lengths, which a retry tells apart: a length leak fails every run.
  std::string last_failure;
  for (int attempt = 0; attempt < 5; ++attempt) {
    const Seen short_seen = streamed_chat(std::string(kShortWords));
    const Seen long_seen = streamed_chat(std::string(kLongWords));
    // The client read the padded stream as the engine's: every word, the padding as SSE comment events.
    EXPECT_TRUE(contains(short_seen.answer, "\"content\":\" a\"")) << short_seen.answer;
    EXPECT_TRUE(contains(long_seen.answer, "\"content\":\" Floccinaucinih\"")) << long_seen.answer;
    EXPECT_TRUE(contains(long_seen.answer, "\n\n:")) << "padding comments in the raw stream: " << long_seen.answer;
    ASSERT_GE(short_seen.node.size(), 11u) << "a head, 8 token pieces and the end: " << describe(short_seen.node);
    ASSERT_GE(long_seen.node.size(), 11u) << describe(long_seen.node);
    for (const Seen* seen : {&short_seen, &long_seen}) {
      for (size_t i = 1; i + 1 < seen->node.size(); ++i) {
        const uint64_t plaintext = seen->node[i] - 16;
        EXPECT_NE(std::find(padded_set.begin(), padded_set.end(), plaintext), padded_set.end())
            << "node chunk " << i << " of " << seen->node[i] << " bytes is not a padded size: " << describe(seen->node);
      }
    }
    ASSERT_GE(short_seen.relay.size(), 11u) << describe(short_seen.relay);

    // The relay sees the node's stream re-cut by the gateway's reads (a gateway chunk per read from the router):
    // its body chunks carry exactly the node's bytes, nothing else, so their sizes come from padded sizes and
    // timing only. (Which reads the gateway gets depends on TCP, so the cuts themselves are not compared.)
    for (const Seen* seen : {&short_seen, &long_seen}) {
      EXPECT_EQ(relay_carried_bytes(seen->relay), node_stream_bytes(seen->node))
          << "relay [" << describe(seen->relay) << "] node [" << describe(seen->node) << "]";
    }

    std::string failure;
    // The head, the role event and the 8 tokens (25 ms apart: a piece each) are the same size for both answers.
    const std::vector<uint64_t> short_tokens(short_seen.node.begin(), short_seen.node.begin() + 10);
    const std::vector<uint64_t> long_tokens(long_seen.node.begin(), long_seen.node.begin() + 10);
    if (short_tokens != long_tokens) {
      failure += "token chunks differ: short [" + describe(short_seen.node) + "] long [" + describe(long_seen.node) +
                 "] ";
    }
    // So is the whole answer, unless the closing events came in pieces cut differently (timing).
    if (short_seen.node != long_seen.node || relay_carried_bytes(short_seen.relay) != relay_carried_bytes(long_seen.relay)) {
      failure += "answers differ: short [" + describe(short_seen.node) + "] long [" + describe(long_seen.node) + "] ";
    }
    if (failure.empty()) {
      last_failure.clear();
      break;
    }
    last_failure = failure;
  }
  EXPECT_TRUE(last_failure.empty()) << last_failure;
}

TEST_F(PrivacyTest, WithoutPaddingTheChunkSizesShowTokenLengths) {
  // The control for the test above: with response_padding_block 0 the same two answers leave the node in chunks
  // whose sizes differ with the tokens' lengths — what the padding is there to hide.
  for (const char* node : {"node-1", "node-2"}) {
    const auto config_path = stack_->data_dir() / node / "node.json";
    nlohmann::json config;
    {
      std::ifstream in(config_path);
      in >> config;
    }
    config["response_padding_block"] = 0;
    {
      std::ofstream out(config_path);
      out << config.dump(2);
    }
    ASSERT_TRUE(stack_->restart(node));
  }
  ASSERT_TRUE(stack_->wait_until_routable(2, std::chrono::seconds(60)));

  const Seen short_seen = streamed_chat(std::string(kShortWords));
  const Seen long_seen = streamed_chat(std::string(kLongWords));
  ASSERT_GE(short_seen.node.size(), 11u) << describe(short_seen.node);
  ASSERT_GE(long_seen.node.size(), 11u) << describe(long_seen.node);
  EXPECT_FALSE(contains(long_seen.answer, "\n\n:")) << "no padding comments: " << long_seen.answer;
  // The echoed words' chunks are longer for the long words, and not at padded sizes. (Unpadded, an event may also
  // come in two pieces, so chunks are not compared one by one.)
  // Content bytes, whatever the pieces: each chunk minus its tag and its BHTTP length varint.
  auto content = [](const std::vector<uint64_t>& chunks) {
    uint64_t total = 0;
    for (size_t i = 1; i + 1 < chunks.size(); ++i) {
      const uint64_t plaintext = chunks[i] - 16;
      total += plaintext - (plaintext <= 64 ? 1 : 2);
    }
    return total;
  };
  const uint64_t short_total = content(short_seen.node);
  const uint64_t long_total = content(long_seen.node);
  EXPECT_NE(short_seen.node, long_seen.node);
  EXPECT_GE(long_total, short_total + 4 * 10) << "4 echoed words, each at least 10 bytes longer: short ["
                                              << describe(short_seen.node) << "] long [" << describe(long_seen.node)
                                              << "]";
  const std::vector<uint64_t> padded_set = padded_node_chunk_plaintexts();
  size_t unpadded = 0;
  for (size_t i = 1; i + 1 < long_seen.node.size(); ++i) {
    unpadded += std::find(padded_set.begin(), padded_set.end(), long_seen.node[i] - 16) == padded_set.end();
  }
  EXPECT_GE(unpadded, 4u) << describe(long_seen.node);
}

}  // namespace
}  // namespace openpcc
