#include "client/openai_proxy/api_error.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "client/openai_proxy/prompt_request.h"
#include "client/request_step.h"

namespace openpcc::client::openai_proxy {
namespace {

using json = nlohmann::json;

Error step(Step s, ErrorCode code, std::string message) { return step_error(s, Error{code, std::move(message)}); }

TEST(ApiErrorTest, OpenAiAndOllamaShapes) {
  ApiError e{404, "invalid_request_error", "model_not_found", "model", "no verified node: none", false};
  auto openai = json::parse(error_body(e, ApiFamily::kOpenAi));
  EXPECT_EQ(openai, (json{{"error",
                           {{"message", "no verified node: none"},
                            {"type", "invalid_request_error"},
                            {"param", "model"},
                            {"code", "model_not_found"}}}}));
  EXPECT_EQ(json::parse(error_body(e, ApiFamily::kOllama)), (json{{"error", "no verified node: none"}}));
  // Empty param and code are JSON null, as OpenAI sends them.
  ApiError bare{500, "api_error", "", "", "proxy: x", true};
  auto b = json::parse(error_body(bare, ApiFamily::kOpenAi));
  EXPECT_TRUE(b["error"]["param"].is_null());
  EXPECT_TRUE(b["error"]["code"].is_null());
  EXPECT_EQ(error_headers(bare).get("x-should-retry"), "true");
  EXPECT_EQ(error_headers(e).get("x-should-retry"), "false");
  EXPECT_EQ(error_headers(e).get("Content-Type"), "application/json");
  ApiError unauthorized{401, "invalid_request_error", "invalid_api_key", "", "proxy: token", false};
  EXPECT_EQ(error_headers(unauthorized).get("WWW-Authenticate"), "Bearer");
}

TEST(ApiErrorTest, EveryStepHasItsStatus) {
  struct Case {
    Error error;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {step(Step::kRequest, ErrorCode::kInvalidArgument, "no path"), 400, "invalid_request"},
      {step(Step::kNoVerifiedNode, ErrorCode::kNotFound, "the router listed 0 node(s) for tags [llm, model=x]"), 404,
       "model_not_found"},
      {step(Step::kNoVerifiedNode, ErrorCode::kNotFound,
            "the router listed 2 node(s) for tags [llm]; none passed the trust policy (node a: tee)"),
       502, "no_verified_node"},
      {step(Step::kPayment, ErrorCode::kInsufficientBalance, "balance"), 429, "insufficient_quota"},
      {step(Step::kPayment, ErrorCode::kUnavailable, "bank down"), 503, "payment_unavailable"},
      {step(Step::kAuth, ErrorCode::kUnauthenticated, "key refused"), 502, "auth_failed"},
      {step(Step::kRouting, ErrorCode::kUnavailable, "the router answered 503"), 503, "routing_unavailable"},
      {step(Step::kRouting, ErrorCode::kIo, "relay down"), 502, "routing_failed"},
      {step(Step::kNode, ErrorCode::kDecode, "bad answer"), 502, "node_failed"},
      {step(Step::kEngine, ErrorCode::kUnavailable, "the node answered 502"), 502, "engine_failed"},
      {step(Step::kRouting, ErrorCode::kTimeout, "the answer's stream broke"), 504, "routing_failed"},
      {Error{ErrorCode::kInternal, "something"}, 500, "internal_error"},
  };
  for (const auto& c : cases) {
    const ApiError e = from_client_error(c.error);
    EXPECT_EQ(e.status, c.status) << c.error.message;
    EXPECT_EQ(e.code, c.code) << c.error.message;
    // The message names the step the SDK named (or the proxy).
    const auto s = step_of(c.error);
    const std::string prefix = s ? std::string(step_name(*s)) + ": " : "proxy: ";
    EXPECT_TRUE(e.message.starts_with(prefix)) << e.message;
    EXPECT_EQ(e.retryable, c.status >= 500) << c.error.message;
  }
}

TEST(ApiErrorTest, EngineAnswersKeepTheirStatusAndCode) {
  // The node's own validation error.
  auto node = from_engine_answer(
      400, as_bytes(std::string_view(R"({"code":"ErrQueryNotAllowed","error":"Request Validation Error",)"
                                     R"("message":"query strings are not allowed"})")));
  EXPECT_EQ(node.status, 400);
  EXPECT_EQ(node.code, "ErrQueryNotAllowed");
  EXPECT_EQ(node.type, "invalid_request_error");
  EXPECT_EQ(node.message, "engine: the node answered 400 (ErrQueryNotAllowed): query strings are not allowed");
  EXPECT_FALSE(node.retryable);
  // An OpenAI-shaped engine error: type, code and param kept.
  auto openai = from_engine_answer(
      404, as_bytes(std::string_view(R"({"error":{"message":"no such model","type":"invalid_request_error",)"
                                     R"("param":"model","code":"model_not_found"}})")));
  EXPECT_EQ(openai.status, 404);
  EXPECT_EQ(openai.code, "model_not_found");
  EXPECT_EQ(openai.param, "model");
  EXPECT_EQ(openai.message, "engine: the node answered 404 (model_not_found): no such model");
  // Ollama's shape.
  auto ollama = from_engine_answer(500, as_bytes(std::string_view(R"({"error":"out of memory"})")));
  EXPECT_EQ(ollama.status, 500);
  EXPECT_EQ(ollama.type, "api_error");
  EXPECT_TRUE(ollama.retryable);
  EXPECT_EQ(ollama.message, "engine: the node answered 500: out of memory");
  // Text, binary, oversized: quoted printable and cut; the body stays valid JSON.
  std::string binary = "bad\x01\x02\xff";
  binary += std::string(1000, 'z');
  auto raw = from_engine_answer(502, as_bytes(binary));
  EXPECT_TRUE(raw.message.starts_with("engine: the node answered 502: bad???")) << raw.message;
  EXPECT_LT(raw.message.size(), 400u);
  // Well-formed UTF-8 is kept; overlong forms, surrogates and stray continuation bytes are not.
  auto utf8 = from_engine_answer(500, as_bytes(std::string_view("\xc3\xa9\xe6\x97\xa5 \xc0\xaf \xed\xa0\x80 \x80")));
  EXPECT_EQ(utf8.message, "engine: the node answered 500: \xc3\xa9\xe6\x97\xa5 ?? ??? ?");
  EXPECT_TRUE(json::accept(error_body(raw, ApiFamily::kOpenAi)));
  // A status outside 4xx/5xx cannot be an error status: 502.
  EXPECT_EQ(from_engine_answer(302, {}).status, 502);
}

TEST(PromptRequestTest, Endpoints) {
  EXPECT_EQ(prompt_endpoint("/v1/chat/completions"), Endpoint::kChatCompletions);
  EXPECT_EQ(prompt_endpoint("/v1/completions"), Endpoint::kCompletions);
  EXPECT_EQ(prompt_endpoint("/api/generate"), Endpoint::kOllamaGenerate);
  EXPECT_EQ(prompt_endpoint("/api/chat"), Endpoint::kOllamaChat);
  EXPECT_EQ(prompt_endpoint("/v1/chat/completions/"), std::nullopt);
  EXPECT_EQ(prompt_endpoint("/v1/embeddings"), std::nullopt);
  EXPECT_EQ(path_of("/v1/completions?a=b?c"), "/v1/completions");
  EXPECT_EQ(path_of("/v1/models"), "/v1/models");
  EXPECT_EQ(family_of_path("/api/tags"), ApiFamily::kOllama);
  EXPECT_EQ(family_of_path("/v1/models"), ApiFamily::kOpenAi);
  EXPECT_EQ(family_of_path("/other"), ApiFamily::kOpenAi);
}

TEST(PromptRequestTest, Options) {
  auto read = [](Endpoint e, std::string_view body) { return read_prompt_options(e, as_bytes(body)); };
  auto chat = read(Endpoint::kChatCompletions, R"({"model":"m","messages":[]})");
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->model, "m");
  EXPECT_FALSE(chat->stream);
  EXPECT_FALSE(chat->include_usage);
  auto streamed = read(Endpoint::kCompletions, R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})");
  ASSERT_TRUE(streamed);
  EXPECT_TRUE(streamed->stream);
  EXPECT_TRUE(streamed->include_usage);
  // Ollama streams unless told not to.
  EXPECT_TRUE(read(Endpoint::kOllamaGenerate, R"({"model":"m"})")->stream);
  EXPECT_FALSE(read(Endpoint::kOllamaChat, R"({"model":"m","stream":false})")->stream);
  EXPECT_FALSE(read(Endpoint::kChatCompletions, R"({"model":"m","stream":null})")->stream);

  struct Bad {
    std::string body;
    std::string param;
  };
  for (const auto& bad : std::vector<Bad>{{"", ""},
                                          {"[1]", ""},
                                          {"{\"model\":\"m\"} trailing", ""},
                                          {std::string("\0\x01{", 3), ""},
                                          {std::string("{\"model\":\"m\"}") + '\0' + "garbage", ""},
                                          {std::string("{\"model\":\"m\",\"x\":\"a") + '\0' + "b\"}", ""},
                                          {"{}", "model"},
                                          {R"({"model":""})", "model"},
                                          {R"({"model":7})", "model"},
                                          {R"({"model":"m","stream":"yes"})", "stream"},
                                          {R"({"model":"m","stream_options":{"include_usage":1}})",
                                           "stream_options.include_usage"}}) {
    auto r = read(Endpoint::kChatCompletions, bad.body);
    ASSERT_FALSE(r) << bad.body;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().type, "invalid_request_error");
    EXPECT_EQ(r.error().param, bad.param) << bad.body;
    EXPECT_TRUE(r.error().message.starts_with("proxy: ")) << r.error().message;
  }
}

TEST(PromptRequestTest, DeepNestingIsRefusedWithoutCrashing) {
  std::string deep(200'000, '[');
  deep += std::string(200'000, ']');
  auto r = read_prompt_options(Endpoint::kCompletions, as_bytes(deep));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 400);
  // Nesting within the bound passes (the node judges the rest); a depth bomb inside a valid object does not.
  auto nested = [](size_t depth) {
    return "{\"model\":\"m\",\"x\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  auto ok = read_prompt_options(Endpoint::kCompletions, as_bytes(nested(100)));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->model, "m");
  auto bomb = read_prompt_options(Endpoint::kCompletions, as_bytes(nested(200'000)));
  ASSERT_FALSE(bomb);
  EXPECT_EQ(bomb.error().status, 400);
  EXPECT_NE(bomb.error().message.find("deeper"), std::string::npos) << bomb.error().message;
}

}  // namespace
}  // namespace openpcc::client::openai_proxy
