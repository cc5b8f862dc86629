// The built-in test engine over real HTTP: every endpoint, streaming and not, usage numbers against the tokens
// emitted, errors in each API's shape, and the token delay (ordering only: the first token arrives while the rest
// is still being produced).
#include "services/engine/test_engine.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "engine_test_support.h"
#include "services/engine/usage_meter.h"

namespace openpcc::engine {
namespace {

using namespace std::chrono_literals;
using namespace testing;
using nlohmann::json;

std::optional<Usage> meter(const std::string& body) {
  UsageMeter m;
  m.feed(as_bytes(body));
  m.finish();
  return m.usage();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- The model directory --------------------------------------------------------------------------------------------

TEST(TestModelTest, InitWritesTheSameFileOnceAndLoads) {
  test_support::TempDir dir;
  const auto model_dir = dir.path() / "nested" / "model";
  ASSERT_TRUE(init_test_model(model_dir));
  const std::string first = read_file(model_dir / "model.json");
  EXPECT_EQ(first, test_model_json(default_test_model()));
  EXPECT_NE(first.find("\"name\": \"openpcc-test-engine\""), std::string::npos) << first;
  EXPECT_NE(first.find("not a language model"), std::string::npos);
  EXPECT_EQ(first.back(), '\n');

  // A second init leaves an existing model alone (even a different one).
  TestModel custom = default_test_model();
  custom.vocabulary = {"only"};
  {
    std::ofstream out(model_dir / "model.json", std::ios::binary | std::ios::trunc);
    out << test_model_json(custom);
  }
  ASSERT_TRUE(init_test_model(model_dir));
  auto loaded = load_test_model(model_dir);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(loaded->vocabulary, std::vector<std::string>{"only"});
  EXPECT_EQ(loaded->name, "openpcc-test-engine");

  // Two fresh directories get byte-identical files (the node measures the directory).
  test_support::TempDir other;
  ASSERT_TRUE(init_test_model(other.path()));
  EXPECT_EQ(read_file(other.path() / "model.json"), first);
}

TEST(TestModelTest, LoadRefusesBadModels) {
  test_support::TempDir dir;
  auto load_text = [&](const std::string& text) {
    std::ofstream(dir.path() / "model.json", std::ios::binary | std::ios::trunc) << text;
    return load_test_model(dir.path());
  };
  EXPECT_EQ(load_test_model(dir.path() / "missing").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(load_text("{not json").error().code, ErrorCode::kDecode);
  EXPECT_EQ(load_text(R"({"name":"m","version":"1","vocabulary":["a"],"extra":1})").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(load_text(R"({"name":"","version":"1","vocabulary":["a"]})").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(load_text(R"({"name":"m","version":"1","vocabulary":[]})").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(load_text(R"({"name":"m","version":"1","vocabulary":["two words"]})").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(load_text(R"({"name":"m","version":"1","vocabulary":[""]})").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(load_text(R"({"name":"m","version":"1","vocabulary":[1]})").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(load_text("[]").error().code, ErrorCode::kInvalidArgument);
  auto ok = load_text(R"({"name":"m","version":"2","vocabulary":["a","b"]})");
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->name, "m");
  // A test engine does not start without a model.
  TestEngineConfig config;
  config.model_dir = dir.path() / "missing";
  EXPECT_FALSE(TestEngine::start(config).has_value());
}

TEST(TestModelTest, GenerationIsDeterministicEchoThenVocabulary) {
  const TestModel model = default_test_model();
  EXPECT_EQ(test_completion_tokens(model, "  hello\tworld \n", 6),
            (std::vector<std::string>{"You", "said:", "hello", "world", "this", "is"}));
  EXPECT_EQ(test_completion_tokens(model, "a b c d e", 3), (std::vector<std::string>{"You", "said:", "a"}));
  EXPECT_EQ(test_completion_tokens(model, "", 1), (std::vector<std::string>{"You"}));
  EXPECT_TRUE(test_completion_tokens(model, "x", 0).empty());
  const auto many = test_completion_tokens(model, "", 2 + 25);
  ASSERT_EQ(many.size(), 27u);
  EXPECT_EQ(many[2], "this");
  EXPECT_EQ(many[12], "this") << "the vocabulary cycles";
  EXPECT_EQ(count_words(" a  b\tc\n"), 3u);
  EXPECT_EQ(count_words(""), 0u);
  EXPECT_EQ(split_words(" a  b\tc\n"), (std::vector<std::string>{"a", "b", "c"}));
}

// ---- Plain endpoints ------------------------------------------------------------------------------------------------

class TestEngineHttpTest : public ::testing::Test {
 protected:
  net::Runtime rt_{2};
  EngineFixture fixture_;
};

TEST_F(TestEngineHttpTest, HealthRootAndModelLists) {
  auto health = get(rt_, fixture_.url("/_health"));
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(parse_json(health.body()), json::parse(R"({"status":"OK"})"));
  auto server = health.headers.get("Server");
  ASSERT_TRUE(server);
  EXPECT_NE(server->find("not a language model"), std::string_view::npos);

  auto root = get(rt_, fixture_.url("/"));
  EXPECT_EQ(root.status, 200);
  EXPECT_NE(root.body().find("test engine"), std::string::npos);

  auto models = get(rt_, fixture_.url("/v1/models?x=1"));
  ASSERT_EQ(models.status, 200);
  json list = parse_json(models.body());
  EXPECT_EQ(list["object"], "list");
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_EQ(list["data"][0]["id"], "openpcc-test-engine");
  EXPECT_EQ(list["data"][0]["owned_by"], "openpcc test engine (not a language model)");

  auto tags = get(rt_, fixture_.url("/api/tags"));
  ASSERT_EQ(tags.status, 200);
  json t = parse_json(tags.body());
  ASSERT_EQ(t["models"].size(), 1u);
  EXPECT_EQ(t["models"][0]["name"], "openpcc-test-engine");
  EXPECT_EQ(t["models"][0]["details"]["family"], "openpcc test engine (not a language model)");
  const std::string file = read_file(fixture_.dir() / "model" / "model.json");
  EXPECT_EQ(t["models"][0]["digest"], "sha256:" + to_hex(crypto::sha256(as_bytes(file))));
  EXPECT_EQ(t["models"][0]["size"], file.size());
}

TEST_F(TestEngineHttpTest, UnknownPathsAndMethods) {
  auto openai = get(rt_, fixture_.url("/v1/embeddings"));
  EXPECT_EQ(openai.status, 404);
  json e = parse_json(openai.body());
  EXPECT_TRUE(e["error"]["message"].is_string());
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");

  auto ollama = get(rt_, fixture_.url("/api/pull"));
  EXPECT_EQ(ollama.status, 404);
  EXPECT_TRUE(parse_json(ollama.body())["error"].is_string());

  auto other = get(rt_, fixture_.url("/nowhere"));
  EXPECT_EQ(other.status, 404);

  auto get_chat = get(rt_, fixture_.url("/v1/chat/completions"));
  EXPECT_EQ(get_chat.status, 405);
  EXPECT_TRUE(parse_json(get_chat.body())["error"]["message"].is_string());
  auto get_generate = get(rt_, fixture_.url("/api/generate"));
  EXPECT_EQ(get_generate.status, 405);
  EXPECT_TRUE(parse_json(get_generate.body())["error"].is_string());
  auto post_models = post_json(rt_, fixture_.url("/v1/models"), "{}");
  EXPECT_EQ(post_models.status, 405);
}

// ---- OpenAI ---------------------------------------------------------------------------------------------------------

TEST_F(TestEngineHttpTest, OpenAiChatWhole) {
  auto res = post_json(rt_, fixture_.url("/v1/chat/completions"),
                       R"({"model":"openpcc-test-engine","messages":[{"role":"system","content":"be brief"},)"
                       R"({"role":"user","content":"hello there engine"}]})");
  ASSERT_EQ(res.status, 200) << res.body();
  EXPECT_EQ(res.headers.get("Content-Type"), "application/json");
  json body = parse_json(res.body());
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["model"], "openpcc-test-engine");
  EXPECT_EQ(body["system_fingerprint"], "openpcc test engine (not a language model)");
  const std::string text = body["choices"][0]["message"]["content"];
  EXPECT_EQ(text, expected_text("hello there engine", 16));
  EXPECT_EQ(text.substr(0, 28), "You said: hello there engine");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 5);  // "be brief" + "hello there engine"
  EXPECT_EQ(body["usage"]["completion_tokens"], count_words(text));
  EXPECT_EQ(body["usage"]["completion_tokens"], 16);
  EXPECT_EQ(body["usage"]["total_tokens"], 21);
  EXPECT_EQ(meter(res.body()), (Usage{5, 16}));
}

TEST_F(TestEngineHttpTest, OpenAiCompletionsWholeWithMaxTokensAndArrayPrompt) {
  auto res = post_json(rt_, fixture_.url("/v1/completions"),
                       R"({"model":"openpcc-test-engine","prompt":["one two","three"],"max_tokens":4})");
  ASSERT_EQ(res.status, 200) << res.body();
  json body = parse_json(res.body());
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["choices"][0]["text"], "You said: one two");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(body["usage"]["completion_tokens"], 4);
}

TEST_F(TestEngineHttpTest, OpenAiChatStreamWithUsage) {
  auto res = post_json(rt_, fixture_.url("/v1/chat/completions"),
                       R"({"model":"openpcc-test-engine","stream":true,"stream_options":{"include_usage":true},)"
                       R"("max_tokens":7,"messages":[{"role":"user","content":[{"type":"text","text":"why sky"},)"
                       R"({"type":"image_url","image_url":{"url":"x"}}]}]})");
  ASSERT_EQ(res.status, 200) << res.body();
  EXPECT_TRUE(res.headers.get("Content-Type")->starts_with("text/event-stream"));
  const SseEvents sse = parse_sse(res.body());
  EXPECT_TRUE(sse.well_formed) << res.body();
  EXPECT_TRUE(sse.done);
  // role chunk, 7 token chunks, finish chunk, usage chunk
  ASSERT_EQ(sse.events.size(), 10u) << res.body();
  EXPECT_EQ(sse.events[0]["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (size_t i = 1; i <= 7; ++i) {
    const json& e = sse.events[i];
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    EXPECT_TRUE(e["usage"].is_null()) << "with include_usage every other chunk says usage: null";
    const std::string piece = e["choices"][0]["delta"]["content"];
    EXPECT_EQ(count_words(piece), 1u) << "one token per event: '" << piece << "'";
    text += piece;
  }
  EXPECT_EQ(text, expected_text("why sky", 7));
  EXPECT_EQ(sse.events[8]["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(sse.events[9]["choices"].empty());
  EXPECT_EQ(sse.events[9]["usage"]["prompt_tokens"], 2);
  EXPECT_EQ(sse.events[9]["usage"]["completion_tokens"], 7);
  EXPECT_EQ(meter(res.body()), (Usage{2, 7}));
}

TEST_F(TestEngineHttpTest, OpenAiStreamsWithoutUsage) {
  auto chat = post_json(rt_, fixture_.url("/v1/chat/completions"),
                        R"({"model":"openpcc-test-engine","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(chat.status, 200);
  SseEvents sse = parse_sse(chat.body());
  EXPECT_TRUE(sse.well_formed && sse.done);
  ASSERT_EQ(sse.events.size(), 1u + 16u + 1u);
  for (const auto& e : sse.events) EXPECT_FALSE(e.contains("usage"));
  EXPECT_EQ(meter(chat.body()), std::nullopt);

  auto completions = post_json(rt_, fixture_.url("/v1/completions"),
                               R"({"model":"openpcc-test-engine","stream":true,"prompt":"a b","max_tokens":5,)"
                               R"("stream_options":{"include_usage":true}})");
  ASSERT_EQ(completions.status, 200);
  sse = parse_sse(completions.body());
  EXPECT_TRUE(sse.well_formed && sse.done);
  ASSERT_EQ(sse.events.size(), 5u + 1u + 1u);  // tokens, finish, usage
  std::string text;
  for (size_t i = 0; i < 5; ++i) text += sse.events[i]["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, "You said: a b this");
  EXPECT_EQ(meter(completions.body()), (Usage{2, 5}));
}

TEST_F(TestEngineHttpTest, OpenAiErrorsInOpenAiShape) {
  struct Case {
    std::string path, body;
    int status;
    std::optional<std::string> code;
  };
  const std::vector<Case> cases = {
      {"/v1/chat/completions", "{not json", 400, std::nullopt},
      {"/v1/chat/completions", "[1,2]", 400, std::nullopt},
      // nlohmann alone stops at a NUL and would take this for a valid request.
      {"/v1/chat/completions",
       std::string(R"({"model":"openpcc-test-engine","messages":[{"role":"user","content":"x"}]})") + '\0' + "junk",
       400, std::nullopt},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}]})", 400, std::nullopt},
      {"/v1/chat/completions", R"({"model":"gpt-4","messages":[{"role":"user","content":"x"}]})", 404,
       "model_not_found"},
      {"/v1/chat/completions", R"({"model":"openpcc-test-engine","messages":[]})", 400, std::nullopt},
      {"/v1/chat/completions", R"({"model":"openpcc-test-engine","messages":[{"content":"x"}]})", 400, std::nullopt},
      {"/v1/chat/completions",
       R"({"model":"openpcc-test-engine","max_tokens":0,"messages":[{"role":"user","content":"x"}]})", 400,
       std::nullopt},
      {"/v1/chat/completions",
       R"({"model":"openpcc-test-engine","max_tokens":5000,"messages":[{"role":"user","content":"x"}]})", 400,
       std::nullopt},
      {"/v1/chat/completions",
       R"({"model":"openpcc-test-engine","stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]})",
       400, std::nullopt},
      {"/v1/chat/completions",
       R"({"model":"openpcc-test-engine","stream":"yes","messages":[{"role":"user","content":"x"}]})", 400,
       std::nullopt},
      {"/v1/completions", R"({"model":"openpcc-test-engine"})", 400, std::nullopt},
      {"/v1/completions", R"({"model":"openpcc-test-engine","prompt":[1]})", 400, std::nullopt},
      {"/v1/completions", R"({"model":"llama","prompt":"x"})", 404, "model_not_found"},
  };
  for (const auto& c : cases) {
    auto res = post_json(rt_, fixture_.url(c.path), c.body);
    EXPECT_EQ(res.status, c.status) << c.body << " → " << res.body();
    json e = parse_json(res.body());
    ASSERT_TRUE(e.is_object() && e.contains("error") && e["error"].is_object()) << res.body();
    EXPECT_TRUE(e["error"]["message"].is_string());
    EXPECT_EQ(e["error"]["type"], "invalid_request_error");
    ASSERT_TRUE(e["error"].contains("code"));
    if (c.code) {
      EXPECT_EQ(e["error"]["code"], *c.code);
    } else {
      EXPECT_TRUE(e["error"]["code"].is_null());
    }
  }
}

// ---- Ollama ---------------------------------------------------------------------------------------------------------

TEST_F(TestEngineHttpTest, OllamaGenerateStreamsByDefault) {
  auto res = post_json(rt_, fixture_.url("/api/generate"),
                       R"({"model":"openpcc-test-engine","prompt":"tell me","system":"you are a test"})");
  ASSERT_EQ(res.status, 200) << res.body();
  EXPECT_EQ(res.headers.get("Content-Type"), "application/x-ndjson");
  bool well_formed = false;
  auto lines = parse_ndjson(res.body(), &well_formed);
  EXPECT_TRUE(well_formed);
  ASSERT_EQ(lines.size(), 17u);
  std::string text;
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    EXPECT_EQ(lines[i]["model"], "openpcc-test-engine");
    EXPECT_TRUE(lines[i]["created_at"].is_string());
    const std::string piece = lines[i]["response"];
    EXPECT_EQ(count_words(piece), 1u);
    text += piece;
  }
  EXPECT_EQ(text, expected_text("tell me", 16));
  const json& last = lines.back();
  EXPECT_EQ(last["done"], true);
  EXPECT_EQ(last["done_reason"], "length");
  EXPECT_EQ(last["response"], "");
  EXPECT_EQ(last["prompt_eval_count"], 6);  // prompt + system words
  EXPECT_EQ(last["eval_count"], 16);
  EXPECT_EQ(meter(res.body()), (Usage{6, 16}));
}

TEST_F(TestEngineHttpTest, OllamaGenerateWholeAndNumPredict) {
  auto res = post_json(rt_, fixture_.url("/api/generate"),
                       R"({"model":"openpcc-test-engine:latest","prompt":"x y z","stream":false,)"
                       R"("options":{"num_predict":3,"temperature":0}})");
  ASSERT_EQ(res.status, 200) << res.body();
  EXPECT_EQ(res.headers.get("Content-Type"), "application/json");
  json body = parse_json(res.body());
  EXPECT_EQ(body["model"], "openpcc-test-engine:latest");
  EXPECT_EQ(body["response"], "You said: x");
  EXPECT_EQ(body["done"], true);
  EXPECT_EQ(body["prompt_eval_count"], 3);
  EXPECT_EQ(body["eval_count"], 3);
  EXPECT_EQ(meter(res.body()), (Usage{3, 3}));

  // num_predict 0: no tokens, still a final line with the counts.
  auto none = post_json(rt_, fixture_.url("/api/generate"),
                        R"({"model":"openpcc-test-engine","prompt":"x","options":{"num_predict":0}})");
  auto lines = parse_ndjson(none.body());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["eval_count"], 0);
  EXPECT_EQ(meter(none.body()), (Usage{1, 0}));
}

TEST_F(TestEngineHttpTest, OllamaEmptyPromptOnlyLoads) {
  for (const char* body : {R"({"model":"openpcc-test-engine"})", R"({"model":"openpcc-test-engine","prompt":""})"}) {
    auto res = post_json(rt_, fixture_.url("/api/generate"), body);
    ASSERT_EQ(res.status, 200);
    auto lines = parse_ndjson(res.body());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["done_reason"], "load");
    EXPECT_FALSE(lines[0].contains("eval_count"));
    EXPECT_EQ(meter(res.body()), std::nullopt);
  }
  auto chat = post_json(rt_, fixture_.url("/api/chat"), R"({"model":"openpcc-test-engine","messages":[]})");
  ASSERT_EQ(chat.status, 200);
  auto lines = parse_ndjson(chat.body());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["done_reason"], "load");
}

TEST_F(TestEngineHttpTest, OllamaChatStreamAndWhole) {
  const std::string request =
      R"({"model":"openpcc-test-engine","messages":[{"role":"system","content":"sys tem"},)"
      R"({"role":"user","content":"first question"},{"role":"assistant","content":"answer"},)"
      R"({"role":"user","content":"second one"}],"options":{"num_predict":5})";
  auto streamed = post_json(rt_, fixture_.url("/api/chat"), request + "}");
  ASSERT_EQ(streamed.status, 200) << streamed.body();
  auto lines = parse_ndjson(streamed.body());
  ASSERT_EQ(lines.size(), 6u);
  std::string text;
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(lines[i]["message"]["role"], "assistant");
    text += lines[i]["message"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, "You said: second one this");
  EXPECT_EQ(lines[5]["prompt_eval_count"], 7);
  EXPECT_EQ(lines[5]["eval_count"], 5);
  EXPECT_EQ(meter(streamed.body()), (Usage{7, 5}));

  auto whole = post_json(rt_, fixture_.url("/api/chat"), request + R"(,"stream":false})");
  ASSERT_EQ(whole.status, 200);
  json body = parse_json(whole.body());
  EXPECT_EQ(body["message"]["content"], "You said: second one this");
  EXPECT_EQ(body["done"], true);
  EXPECT_EQ(meter(whole.body()), (Usage{7, 5}));
}

TEST_F(TestEngineHttpTest, OllamaErrorsInOllamaShape) {
  struct Case {
    std::string path, body;
    int status;
  };
  const std::vector<Case> cases = {
      {"/api/generate", "{oops", 400},
      {"/api/generate", std::string(R"({"model":"openpcc-test-engine","prompt":"x"})") + '\0' + "junk", 400},
      {"/api/generate", R"({"prompt":"x"})", 400},
      {"/api/generate", R"({"model":"llama3","prompt":"x"})", 404},
      {"/api/generate", R"({"model":"openpcc-test-engine","prompt":5})", 400},
      {"/api/generate", R"({"model":"openpcc-test-engine","prompt":"x","stream":1})", 400},
      {"/api/generate", R"({"model":"openpcc-test-engine","prompt":"x","options":{"num_predict":1.5}})", 400},
      {"/api/chat", R"({"model":"openpcc-test-engine","messages":[{"content":"x"}]})", 400},
      {"/api/chat", R"({"model":"openpcc-test-engine","messages":{}})", 400},
      {"/api/chat", R"({"model":"nope","messages":[{"role":"user","content":"x"}]})", 404},
  };
  for (const auto& c : cases) {
    auto res = post_json(rt_, fixture_.url(c.path), c.body);
    EXPECT_EQ(res.status, c.status) << c.body << " → " << res.body();
    json e = parse_json(res.body());
    ASSERT_TRUE(e.is_object() && e.size() == 1 && e.contains("error") && e["error"].is_string()) << res.body();
  }
  auto missing = post_json(rt_, fixture_.url("/api/chat"), R"({"model":"llama3","messages":[]})");
  EXPECT_EQ(parse_json(missing.body())["error"], "model \"llama3\" not found, try pulling it first");
}

// ---- Token delay ----------------------------------------------------------------------------------------------------

TEST(TestEngineDelayTest, TokensArriveAsTheyAreProduced) {
  constexpr auto kDelay = 100ms;
  constexpr int kTokens = 5;
  net::Runtime rt(2);
  EngineFixture fixture(kDelay);
  for (const bool ollama : {false, true}) {
    auto res = ollama ? post_json(rt, fixture.url("/api/generate"),
                                  R"({"model":"openpcc-test-engine","prompt":"p","options":{"num_predict":5}})")
                      : post_json(rt, fixture.url("/v1/completions"),
                                  R"({"model":"openpcc-test-engine","prompt":"p","max_tokens":5,"stream":true})");
    ASSERT_EQ(res.status, 200);
    ASSERT_FALSE(res.error);
    // The first piece arrived while the answer was still being produced: it does not hold the end of the stream,
    // and the end came (kTokens - 1) delays of generation later. (Bounds with slack for a loaded machine: a client
    // that reads late sees pieces merged, never earlier.)
    ASSERT_GE(res.pieces.size(), 2u);
    const std::string& first = res.pieces.front().data;
    EXPECT_NE(first.find("You"), std::string::npos) << first;
    EXPECT_EQ(first.find(ollama ? "\"done\":true" : "[DONE]"), std::string::npos) << first;
    const auto first_to_end = res.ended - res.pieces.front().arrived;
    EXPECT_GE(first_to_end, (kTokens - 1) * kDelay / 2) << (ollama ? "ollama" : "openai");
    // Every token piece arrived in the order generated.
    std::string text;
    if (ollama) {
      for (const auto& line : parse_ndjson(res.body())) text += line["response"].get<std::string>();
    } else {
      for (const auto& e : parse_sse(res.body()).events) {
        if (!e["choices"].empty()) text += e["choices"][0]["text"].get<std::string>();
      }
    }
    EXPECT_EQ(text, "You said: p this is");
  }
  // Not streaming: the answer takes as long as the tokens would.
  auto whole = post_json(rt, fixture.url("/v1/completions"),
                         R"({"model":"openpcc-test-engine","prompt":"p","max_tokens":5})");
  ASSERT_EQ(whole.status, 200);
  EXPECT_GE(whole.ended - whole.sent, (kTokens - 1) * kDelay - 5ms);
}

}  // namespace
}  // namespace openpcc::engine
