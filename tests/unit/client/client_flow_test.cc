// The SDK's request path end to end except OHTTP: a Client with a real wallet (AuthBank + BlindBank), nodes booted
// on swtpm, and the router stand-in of client_world.h, which decrypts with the chosen node's TPM-resident REK and
// answers as a node would — streamed, failing, or refusing — so every step's error is seen as a user sees it.
#include "client/client.h"

#include <gtest/gtest.h>

#include "client/request_step.h"
#include "client_world.h"
#include "currency/badge.h"

namespace openpcc::client {
namespace {

using test::Answer;
using test::FakeRouter;
using test::Money;
using test::Nodes;

Request chat(std::string_view model = "test-model") {
  Request r;
  r.path = "/v1/chat/completions";
  r.body = to_bytes(std::string(R"({"model":")") + std::string(model) +
                    R"(","messages":[{"role":"user","content":"Hi"}],"stream":true})");
  return r;
}

class ClientFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Nodes::get().ok()) << "booting the swtpm nodes failed";
    router_.emplace(money_, std::vector<test::BootedNode*>{&Nodes::get().good(0), &Nodes::get().untrusted()});
    client_ = make_client("main", money_.api_key());
    ASSERT_TRUE(client_);
  }
  void TearDown() override {
    if (client_) {
      money_.runtime().block_on([&]() -> net::Task<void> { (void)co_await client_->close(); });
    }
    client_.reset();
  }

  std::unique_ptr<Client> make_client(const std::string& name, const std::string& api_key) {
    ClientConfig config;
    config.max_candidates = 3;
    config.wallet = money_.wallet_config(name);
    auto wallet = money_.open_wallet(name, api_key);
    if (!wallet) return nullptr;
    auto c = Client::create(config, router_->parts(std::move(wallet), api_key, Nodes::get().policy()));
    EXPECT_TRUE(c) << c.error().to_string();
    return c ? std::move(*c) : nullptr;
  }

  // request() and the whole body; the body is what read_chunk handed out, piece by piece.
  struct Outcome {
    Result<std::unique_ptr<Response>> response = make_error(ErrorCode::kInternal, "unset");
    std::vector<Bytes> pieces;
    std::optional<Error> read_error;
  };
  Outcome run(Client& client, Request request) {
    return money_.runtime().block_on([&]() -> net::Task<Outcome> {
      Outcome out;
      out.response = co_await client.request(std::move(request));
      if (!out.response) co_return out;
      for (;;) {
        auto piece = co_await (*out.response)->read_chunk();
        if (!piece) {
          out.read_error = piece.error();
          break;
        }
        if (!*piece) break;
        out.pieces.push_back(std::move(**piece));
      }
      co_return std::move(out);
    });
  }

  static std::string joined(const std::vector<Bytes>& pieces) {
    std::string s;
    for (const auto& p : pieces) s.append(p.begin(), p.end());
    return s;
  }

  Money money_;
  std::optional<FakeRouter> router_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientFlowTest, StreamsTheAnswerAndTakesTheRefund) {
  auto out = run(*client_, chat());
  ASSERT_TRUE(out.response) << out.response.error().to_string();
  ASSERT_FALSE(out.read_error) << out.read_error->to_string();
  Response& response = **out.response;
  EXPECT_EQ(response.status(), 200);
  EXPECT_EQ(response.headers().get("content-type"), "text/event-stream");
  // One piece per SSE event: nothing was held back to fill a buffer.
  ASSERT_EQ(out.pieces.size(), 5u);
  EXPECT_NE(joined(out.pieces).find("\"content\":\"Hello\""), std::string::npos);
  EXPECT_EQ(joined(out.pieces).substr(joined(out.pieces).size() - 14), "data: [DONE]\n\n");

  // The node that answered and what the client verified about it.
  EXPECT_EQ(response.node().id, Nodes::get().good(0).id);
  EXPECT_TRUE(response.node().report.ok());
  EXPECT_EQ(response.node().report.node->tee, "simulated");

  // Money: one credit of the prefetch amount; the refund is what the tokens did not use.
  EXPECT_EQ(response.credit_value(), 4096);
  ASSERT_TRUE(response.ended());
  ASSERT_TRUE(response.refund());
  const double used = 0.5 * FakeRouter::kPromptTokens + 2.0 * FakeRouter::kCompletionTokens;
  EXPECT_GT(*response.refund(), 0);
  EXPECT_LE(*response.refund(), 4096);
  EXPECT_NEAR(static_cast<double>(*response.refund()), 4096 - used, 4096 * 0.07);
  const auto status = client_->wallet().status();
  EXPECT_EQ(status.credits_spent, 1);
  EXPECT_EQ(status.credits_held, 0);
  EXPECT_EQ(status.totals.refunds_received, *response.refund());

  // The inner request as the node decrypted it.
  auto inner = router_->last_inner();
  ASSERT_TRUE(inner);
  EXPECT_EQ(inner->method, "POST");
  EXPECT_EQ(inner->authority, "confsec.invalid");
  EXPECT_EQ(inner->path, "/v1/chat/completions");
  EXPECT_EQ(wire::bhttp::find_field(inner->headers, "content-type"), "application/json");
  EXPECT_EQ(wire::bhttp::find_field(inner->headers, "content-length"), std::to_string(chat().body.size()));
  auto badge = currency::Badge::from_header(wire::bhttp::find_field(inner->headers, "x-confsec-badge").value_or(""));
  ASSERT_TRUE(badge) << badge.error().to_string();
  EXPECT_TRUE(currency::verify_badge(money_.badge_key(), *badge));
  EXPECT_TRUE(badge->credentials.allows("test-model"));
  EXPECT_EQ(inner->body, chat().body);
  // Only the verified node was a candidate; the untrusted one the router also listed was not.
  EXPECT_EQ(router_->last_candidates(), std::vector<std::string>{Nodes::get().good(0).id});
  EXPECT_EQ(router_->last_manifest_tags(), (std::vector<std::string>{"llm", "model=test-model"}));
}

TEST_F(ClientFlowTest, SecondRequestReusesTheVerifiedNodes) {
  ASSERT_TRUE(run(*client_, chat()).response);
  ASSERT_TRUE(run(*client_, chat()).response);
  EXPECT_EQ(router_->manifest_calls(), 1);
  EXPECT_EQ(router_->compute_calls(), 2);
  EXPECT_EQ(client_->wallet().status().credits_spent, 2);
}

TEST_F(ClientFlowTest, EngineErrorsCarryTheNodesMessageAndAreRefundedInFull) {
  router_->answer(Answer::kEngineError);
  auto out = run(*client_, chat());
  ASSERT_FALSE(out.response);
  const Error& e = out.response.error();
  EXPECT_EQ(step_of(e), Step::kEngine) << e.message;
  EXPECT_NE(e.message.find("400"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("ErrModelNotInBadge"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("model is not in the badge"), std::string::npos) << e.message;
  const auto status = client_->wallet().status();
  EXPECT_EQ(status.credits_spent, 1);
  EXPECT_EQ(status.totals.refunds_received, 4096);

  // raw_status hands the answer out instead.
  Request r = chat();
  r.raw_status = true;
  out = run(*client_, r);
  ASSERT_TRUE(out.response) << out.response.error().to_string();
  EXPECT_EQ((*out.response)->status(), 400);
  EXPECT_NE(joined(out.pieces).find("ErrModelNotInBadge"), std::string::npos);
  EXPECT_EQ((*out.response)->refund(), 4096);
}

TEST_F(ClientFlowTest, AnAnswerCutShortIsANodeErrorWithTheMoneyBack) {
  router_->answer(Answer::kCutMidStream);
  auto out = run(*client_, chat());
  ASSERT_TRUE(out.response) << out.response.error().to_string();
  ASSERT_EQ(out.pieces.size(), 1u);  // the token that came before the cut
  ASSERT_TRUE(out.read_error);
  EXPECT_EQ(step_of(*out.read_error), Step::kNode) << out.read_error->message;
  EXPECT_EQ(out.read_error->code, ErrorCode::kTruncated) << out.read_error->to_string();
  EXPECT_EQ((*out.response)->refund(), 4096);
  EXPECT_EQ(client_->wallet().status().totals.refunds_received, 4096);
  // The error sticks.
  auto again = money_.runtime().block_on(
      [&]() -> net::Task<Result<std::optional<Bytes>>> { co_return co_await (*out.response)->read_chunk(); });
  EXPECT_FALSE(again);
}

TEST_F(ClientFlowTest, AnUnknownNodeIdIsANodeError) {
  router_->answer(Answer::kUnknownNodeId);
  auto out = run(*client_, chat());
  ASSERT_FALSE(out.response);
  EXPECT_EQ(step_of(out.response.error()), Step::kNode) << out.response.error().message;
  EXPECT_EQ(client_->wallet().status().credits_held, 0) << "the payment was settled (cancelled)";
}

TEST_F(ClientFlowTest, RouterRefusalIsARoutingErrorAndForgetsTheNodes) {
  router_->answer(Answer::kRouter503);
  auto out = run(*client_, chat());
  ASSERT_FALSE(out.response);
  EXPECT_EQ(step_of(out.response.error()), Step::kRouting) << out.response.error().message;
  EXPECT_NE(out.response.error().message.find("503"), std::string::npos) << out.response.error().message;
  // The router's own words reach the user.
  EXPECT_NE(out.response.error().message.find("all candidate nodes unavailable"), std::string::npos)
      << out.response.error().message;
  EXPECT_EQ(client_->wallet().status().credits_held, 0);
  EXPECT_EQ(client_->wallet().status().credits_spent, 0);
  router_->answer(Answer::kStream);
  ASSERT_TRUE(run(*client_, chat()).response);
  EXPECT_EQ(router_->manifest_calls(), 2) << "the 503 dropped the cached nodes";
}

TEST_F(ClientFlowTest, StepsBeforeTheRouter) {
  // request: a prompt without a model.
  Request r = chat();
  r.body = to_bytes(R"({"messages":[]})");
  auto out = run(*client_, r);
  ASSERT_FALSE(out.response);
  EXPECT_EQ(step_of(out.response.error()), Step::kRequest) << out.response.error().message;

  // no verified node: a model nobody serves.
  out = run(*client_, chat("unknown-model"));
  ASSERT_FALSE(out.response);
  EXPECT_EQ(step_of(out.response.error()), Step::kNoVerifiedNode) << out.response.error().message;
  EXPECT_EQ(router_->compute_calls(), 0);

  // payment: an account without funds.
  auto poor = make_client("poor", money_.new_account(0, {"test-model"}));
  ASSERT_TRUE(poor);
  out = run(*poor, chat());
  ASSERT_FALSE(out.response);
  EXPECT_EQ(step_of(out.response.error()), Step::kPayment) << out.response.error().message;
  EXPECT_EQ(router_->compute_calls(), 0);

  // auth: an API key the AuthBank does not know (no attestation token).
  auto stranger = make_client("stranger", "opk_not_a_key");
  ASSERT_TRUE(stranger);
  out = run(*stranger, chat());
  ASSERT_FALSE(out.response);
  EXPECT_EQ(step_of(out.response.error()), Step::kAuth) << out.response.error().message;
  money_.runtime().block_on([&]() -> net::Task<void> { (void)co_await poor->close(); });
  money_.runtime().block_on([&]() -> net::Task<void> { (void)co_await stranger->close(); });
}

TEST_F(ClientFlowTest, CloseReturnsTheCreditsToTheAuthBank) {
  ASSERT_TRUE(run(*client_, chat()).response);
  auto closed = money_.runtime().block_on([&]() -> net::Task<Status> { co_return co_await client_->close(); });
  ASSERT_TRUE(closed) << closed.error().to_string();
  EXPECT_TRUE(client_->wallet().status().closed);
  client_.reset();
}

}  // namespace
}  // namespace openpcc::client
