// The whole system in one process (tests/support/full_stack.h): AuthBank (TLS, self-signed), BlindBank, router,
// gateway, relay, the built-in test engine and a compute node booted on swtpm, each a real service started from its
// config; the currency key, the gateway's OHTTP keys and the node's image manifest published as signed statements in
// a transparency log (kept in memory: clients check bundles offline against the log key). The client SDK is created
// from a config file exactly as `openpcc chat` does and sends private requests relay → gateway → router → node →
// engine and back.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>

#include "client/client.h"
#include "client/completion_text.h"
#include "client/request_step.h"
#include "client/wallet/wallet_state.h"
#include "services/authbank/ledger.h"
#include "support/full_stack.h"

namespace openpcc::client {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using test_support::FullStack;

constexpr char kModel[] = "openpcc-test-engine";

class FullStackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = FullStack::start();
    if (stack) {
      stack_ = stack->release();
    } else {
      failure_ = new std::string(stack.error().to_string());
    }
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
    delete failure_;
    failure_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(stack_ && stack_->client) << (failure_ ? *failure_ : "no stack"); }

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
    return FullStack::chat_request(std::move(prompt), std::move(model));
  }

  static inline FullStack* stack_ = nullptr;
  static inline std::string* failure_ = nullptr;
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
