// The node finder against a router stand-in that lists compute nodes booted on swtpm: attestation tokens from the
// real AuthBank, evidence verified under the trust policy, the untrusted image skipped, caching per tag set.
#include "client/node_finder.h"

#include <gtest/gtest.h>

#include <set>

#include "client/request_step.h"
#include "client_world.h"

namespace openpcc::client {
namespace {

using test::FakeRouter;
using test::Money;
using test::Nodes;

const std::vector<std::string> kModelTags{"llm", "model=test-model"};

class NodeFinderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Nodes::get().ok()) << "booting the swtpm nodes failed"; }

  NodeFinder finder(const FakeRouter& router, NodeFinderOptions options = {}) {
    auto client = net::Client::create().value();
    return NodeFinder(rewriting_transport(services::direct_transport(client), std::string(kRouterBaseUrl),
                                          router.url()),
                      money_.tokens(money_.api_key()), Nodes::get().policy(), std::move(options));
  }

  Result<std::vector<std::shared_ptr<const VerifiedNode>>> find(NodeFinder& f, std::vector<std::string> tags,
                                                               size_t max) {
    return money_.runtime().block_on([&]() -> net::Task<Result<std::vector<std::shared_ptr<const VerifiedNode>>>> {
      co_return co_await f.find(tags, max);
    });
  }

  Money money_;
  Nodes& nodes_ = Nodes::get();
};

TEST_F(NodeFinderTest, VerifiesEveryManifestAndSkipsTheUntrustedImage) {
  FakeRouter router(money_, {&nodes_.good(0), &nodes_.untrusted(), &nodes_.good(1)});
  auto f = finder(router);
  auto found = find(f, kModelTags, 5);
  ASSERT_TRUE(found) << found.error().to_string();
  ASSERT_EQ(found->size(), 2u);
  std::set<std::string> ids;
  for (const auto& node : *found) {
    ids.insert(node->id);
    EXPECT_TRUE(node->report.ok());
    ASSERT_TRUE(node->report.node);
    EXPECT_EQ(node->report.node->tee, "simulated");
    EXPECT_EQ(node->report.node->image_id, "test-image-1");
    EXPECT_EQ(node->report.node->model_digest, test::sha256_of(test::kModel));
    EXPECT_EQ(node->tags, kModelTags);
  }
  EXPECT_EQ(ids, (std::set<std::string>{nodes_.good(0).id, nodes_.good(1).id}));
  // The REK the client encrypts to is the one in the node's TPM.
  for (const auto& node : *found) {
    test::BootedNode& booted = node->id == nodes_.good(0).id ? nodes_.good(0) : nodes_.good(1);
    EXPECT_EQ(to_hex(node->rek.bytes()), to_hex(booted.rek().public_key()));
  }
  // The router was asked for exactly the tags, sorted.
  EXPECT_EQ(router.last_manifest_tags(), kModelTags);
}

TEST_F(NodeFinderTest, NoVerifiedNode) {
  FakeRouter router(money_, {&nodes_.untrusted()});
  auto f = finder(router);
  auto found = find(f, kModelTags, 3);
  ASSERT_FALSE(found);
  EXPECT_EQ(step_of(found.error()), Step::kNoVerifiedNode) << found.error().message;
  EXPECT_EQ(found.error().code, ErrorCode::kNotFound);
  EXPECT_NE(found.error().message.find(nodes_.untrusted().id), std::string::npos) << found.error().message;
  EXPECT_NE(found.error().message.find("listed 1 node"), std::string::npos) << found.error().message;

  // Tags no node has: the router lists nothing.
  FakeRouter all(money_, {&nodes_.good(0)});
  auto g = finder(all);
  found = find(g, {"llm", "model=nope"}, 3);
  ASSERT_FALSE(found);
  EXPECT_EQ(step_of(found.error()), Step::kNoVerifiedNode);
  EXPECT_NE(found.error().message.find("listed 0 node"), std::string::npos) << found.error().message;
}

TEST_F(NodeFinderTest, CachesPerTagSetUntilTheTtlOrInvalidate) {
  FakeRouter router(money_, {&nodes_.good(0), &nodes_.good(1)});
  auto t = std::chrono::steady_clock::now();
  NodeFinderOptions options;
  options.cache_ttl = std::chrono::seconds(60);
  options.clock = [&t] { return t; };
  auto f = finder(router, options);
  ASSERT_TRUE(find(f, {"model=test-model", "llm"}, 3));
  ASSERT_TRUE(find(f, {"llm", "model=test-model", "llm"}, 3));  // the same set
  EXPECT_EQ(f.router_lookups(), 1u);
  EXPECT_EQ(router.manifest_calls(), 1);
  ASSERT_TRUE(find(f, {"llm"}, 3));  // another set
  EXPECT_EQ(router.manifest_calls(), 2);
  t += std::chrono::seconds(61);
  ASSERT_TRUE(find(f, kModelTags, 3));
  EXPECT_EQ(router.manifest_calls(), 3);
  f.invalidate();
  ASSERT_TRUE(find(f, kModelTags, 3));
  EXPECT_EQ(router.manifest_calls(), 4);

  NodeFinderOptions no_cache;
  no_cache.cache_ttl = std::chrono::milliseconds(0);
  auto g = finder(router, no_cache);
  ASSERT_TRUE(find(g, kModelTags, 3));
  ASSERT_TRUE(find(g, kModelTags, 3));
  EXPECT_EQ(router.manifest_calls(), 6);
}

TEST_F(NodeFinderTest, ReturnsAtMostMaxInRandomOrder) {
  FakeRouter router(money_, {&nodes_.good(0), &nodes_.good(1)});
  auto f = finder(router);
  std::set<std::string> firsts;
  for (int i = 0; i < 40; ++i) {
    auto found = find(f, kModelTags, 1);
    ASSERT_TRUE(found);
    ASSERT_EQ(found->size(), 1u);
    firsts.insert((*found)[0]->id);
  }
  EXPECT_EQ(firsts.size(), 2u) << "40 draws always gave the same node (chance 2^-39)";
  EXPECT_EQ(router.manifest_calls(), 1);
  auto none = find(f, kModelTags, 0);
  EXPECT_FALSE(none);
}

TEST_F(NodeFinderTest, RouterAndTokenFailuresNameTheirStep) {
  FakeRouter router(money_, {&nodes_.good(0)});
  // A router that answers errors: the path is wrong.
  auto client = net::Client::create().value();
  NodeFinder wrong(rewriting_transport(services::direct_transport(client), std::string(kRouterBaseUrl),
                                       router.url() + "/nothing"),
                   money_.tokens(money_.api_key()), nodes_.policy());
  auto found = find(wrong, kModelTags, 1);
  ASSERT_FALSE(found);
  EXPECT_EQ(step_of(found.error()), Step::kRouting) << found.error().message;
  EXPECT_NE(found.error().message.find("404"), std::string::npos) << found.error().message;

  // Nothing listening.
  NodeFinder gone(rewriting_transport(services::direct_transport(client), std::string(kRouterBaseUrl),
                                      "http://127.0.0.1:1"),
                  money_.tokens(money_.api_key()), nodes_.policy());
  found = find(gone, kModelTags, 1);
  ASSERT_FALSE(found);
  EXPECT_EQ(step_of(found.error()), Step::kRouting) << found.error().message;

  // An API key the AuthBank does not know: no attestation token.
  NodeFinder stranger(rewriting_transport(services::direct_transport(client), std::string(kRouterBaseUrl),
                                          router.url()),
                      money_.tokens("opk_unknown"), nodes_.policy());
  found = find(stranger, kModelTags, 1);
  ASSERT_FALSE(found);
  EXPECT_EQ(step_of(found.error()), Step::kAuth) << found.error().message;
  EXPECT_EQ(router.manifest_calls(), 0);
}

TEST_F(NodeFinderTest, TheTokenIsSpentOnce) {
  // The stand-in router consumes each token; a finder asking twice must bring two tokens.
  FakeRouter router(money_, {&nodes_.good(0)});
  NodeFinderOptions no_cache;
  no_cache.cache_ttl = std::chrono::milliseconds(0);
  auto f = finder(router, no_cache);
  ASSERT_TRUE(find(f, kModelTags, 1));
  ASSERT_TRUE(find(f, kModelTags, 1));
  EXPECT_EQ(router.manifest_calls(), 2);
}

}  // namespace
}  // namespace openpcc::client
