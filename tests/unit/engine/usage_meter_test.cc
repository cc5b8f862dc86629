// UsageMeter on bodies shaped like real engines' answers, fed whole, byte by byte and split at every position.
#include "services/engine/usage_meter.h"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace openpcc::engine {
namespace {

std::optional<Usage> meter_whole(const std::string& body, size_t max_line = UsageMeter::kDefaultMaxLineBytes) {
  UsageMeter meter(max_line);
  meter.feed(as_bytes(body));
  meter.finish();
  return meter.usage();
}

std::optional<Usage> meter_bytewise(const std::string& body) {
  UsageMeter meter;
  for (char c : body) meter.feed(as_bytes(std::string_view(&c, 1)));
  meter.finish();
  return meter.usage();
}

// Every way of cutting the body in two, and in three at a second point.
void expect_split_invariant(const std::string& body, std::optional<Usage> expected) {
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    UsageMeter meter;
    meter.feed(as_bytes(std::string_view(body).substr(0, cut)));
    meter.feed(as_bytes(std::string_view(body).substr(cut)));
    meter.finish();
    ASSERT_EQ(meter.usage(), expected) << "cut at " << cut;
  }
  for (size_t a = 0; a <= body.size(); a += 17) {
    for (size_t b = a; b <= body.size(); b += 13) {
      UsageMeter meter;
      meter.feed(as_bytes(std::string_view(body).substr(0, a)));
      meter.feed(as_bytes(std::string_view(body).substr(a, b - a)));
      meter.feed(as_bytes(std::string_view(body).substr(b)));
      meter.finish();
      ASSERT_EQ(meter.usage(), expected) << "cuts at " << a << ", " << b;
    }
  }
  EXPECT_EQ(meter_bytewise(body), expected);
}

// An OpenAI chat completion stream as api.openai.com sends it with stream_options.include_usage (abridged ids).
const std::string kOpenAiSseWithUsage =
    "data: {\"id\":\"chatcmpl-B9\",\"object\":\"chat.completion.chunk\",\"created\":1727000000,\"model\":\"gpt-4o-mini"
    "\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
    "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-B9\",\"object\":\"chat.completion.chunk\",\"created\":1727000000,\"model\":\"gpt-4o-mini"
    "\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],"
    "\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-B9\",\"object\":\"chat.completion.chunk\",\"created\":1727000000,\"model\":\"gpt-4o-mini"
    "\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there \\\"usage\\\": {\\\"prompt_tokens\\\": 1}\"},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-B9\",\"object\":\"chat.completion.chunk\",\"created\":1727000000,\"model\":\"gpt-4o-mini"
    "\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-B9\",\"object\":\"chat.completion.chunk\",\"created\":1727000000,\"model\":\"gpt-4o-mini"
    "\",\"choices\":[],\"usage\":{\"prompt_tokens\":29,\"completion_tokens\":54,\"total_tokens\":83,"
    "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":"
    "{\"reasoning_tokens\":0,\"audio_tokens\":0}}}\n\n"
    "data: [DONE]\n\n";

// vLLM's completions stream without include_usage: no usage anywhere.
const std::string kOpenAiSseWithoutUsage =
    "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
    "\"text\":\" Paris\",\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
    "\"text\":\".\",\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n"
    "data: [DONE]\n\n";

// Ollama /api/chat streaming (application/x-ndjson).
const std::string kOllamaNdjson =
    "{\"model\":\"llama3.2:1b\",\"created_at\":\"2025-01-01T00:00:00.1Z\",\"message\":{\"role\":\"assistant\","
    "\"content\":\"The\"},\"done\":false}\n"
    "{\"model\":\"llama3.2:1b\",\"created_at\":\"2025-01-01T00:00:00.2Z\",\"message\":{\"role\":\"assistant\","
    "\"content\":\" sky\"},\"done\":false}\n"
    "{\"model\":\"llama3.2:1b\",\"created_at\":\"2025-01-01T00:00:00.3Z\",\"message\":{\"role\":\"assistant\","
    "\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true,\"total_duration\":5191566416,\"load_duration\":"
    "2154458,\"prompt_eval_count\":26,\"prompt_eval_duration\":383809000,\"eval_count\":298,\"eval_duration\":"
    "4799921000}\n";

TEST(UsageMeterTest, OpenAiSseWithUsageChunk) {
  EXPECT_EQ(meter_whole(kOpenAiSseWithUsage), (Usage{29, 54}));
  expect_split_invariant(kOpenAiSseWithUsage, Usage{29, 54});
}

TEST(UsageMeterTest, OpenAiSseWithoutUsageChunkHasNone) {
  EXPECT_EQ(meter_whole(kOpenAiSseWithoutUsage), std::nullopt);
  expect_split_invariant(kOpenAiSseWithoutUsage, std::nullopt);
}

TEST(UsageMeterTest, OllamaNdjsonFinalLine) {
  EXPECT_EQ(meter_whole(kOllamaNdjson), (Usage{26, 298}));
  expect_split_invariant(kOllamaNdjson, Usage{26, 298});
}

TEST(UsageMeterTest, OllamaOmitsZeroPromptCount) {
  const std::string body =
      "{\"model\":\"m\",\"response\":\"Hi\",\"done\":false}\n"
      "{\"model\":\"m\",\"response\":\"\",\"done\":true,\"done_reason\":\"stop\",\"eval_count\":7}\n";
  EXPECT_EQ(meter_whole(body), (Usage{0, 7}));
  // A prompt count that is there but not a count is not "omitted": no usage.
  EXPECT_EQ(meter_whole("{\"prompt_eval_count\":\"26\",\"eval_count\":7}\n"), std::nullopt);
  EXPECT_EQ(meter_whole("{\"prompt_eval_count\":26}\n"), std::nullopt);
}

TEST(UsageMeterTest, WholeJsonBodies) {
  // Single-line (vLLM, Ollama) and pretty-printed (api.openai.com) whole answers.
  const std::string vllm =
      "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
      "\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,"
      "\"total_tokens\":12,\"completion_tokens\":2}}";
  const std::string pretty =
      "{\n  \"id\": \"chatcmpl-2\",\n  \"object\": \"chat.completion\",\n  \"choices\": [\n    {\n      \"index\": "
      "0,\n      \"message\": {\n        \"role\": \"assistant\",\n        \"content\": \"Hi\"\n      },\n"
      "      \"finish_reason\": \"stop\"\n    }\n  ],\n  \"usage\": {\n    \"prompt_tokens\": 19,\n"
      "    \"completion_tokens\": 10,\n    \"total_tokens\": 29\n  }\n}\n";
  const std::string ollama =
      "{\"model\":\"m\",\"created_at\":\"x\",\"response\":\"The sky is blue.\",\"done\":true,\"context\":[1,2,3],"
      "\"total_duration\":1,\"prompt_eval_count\":5,\"eval_count\":6}\n";
  EXPECT_EQ(meter_whole(vllm), (Usage{10, 2}));
  EXPECT_EQ(meter_whole(pretty), (Usage{19, 10}));
  EXPECT_EQ(meter_whole("\r\n  " + pretty), (Usage{19, 10}));
  EXPECT_EQ(meter_whole(ollama), (Usage{5, 6}));
  expect_split_invariant(vllm, Usage{10, 2});
  expect_split_invariant(pretty, Usage{19, 10});
  expect_split_invariant(ollama, Usage{5, 6});
}

TEST(UsageMeterTest, LastUsageWins) {
  const std::string sse =
      "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n"
      "data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"
      "data: {\"usage\":null}\n\n"  // not a usage record: the last one stays
      "data: [DONE]\n\n";
  EXPECT_EQ(meter_whole(sse), (Usage{3, 4}));
  const std::string ndjson = "{\"prompt_eval_count\":1,\"eval_count\":1}\n{\"prompt_eval_count\":8,\"eval_count\":9}\n";
  EXPECT_EQ(meter_whole(ndjson), (Usage{8, 9}));
  // Within one object, a repeated member replaces the earlier one.
  EXPECT_EQ(meter_whole("{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2},\"usage\":null}"), std::nullopt);
  EXPECT_EQ(meter_whole("{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2},"
                        "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}"),
            (Usage{5, 6}));
  // Both shapes in one object: the OpenAI one.
  EXPECT_EQ(meter_whole("{\"eval_count\":1,\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}"),
            (Usage{5, 6}));
}

TEST(UsageMeterTest, UsageSeenAsLinesComplete) {
  UsageMeter meter;
  meter.feed(as_bytes("data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}"));
  EXPECT_EQ(meter.usage(), std::nullopt) << "the line is not complete yet";
  meter.feed(as_bytes("\n"));
  EXPECT_EQ(meter.usage(), (Usage{3, 4}));
  meter.feed(as_bytes("{\"prompt_eval_count\":1,\"eval_count\":2}"));
  EXPECT_EQ(meter.usage(), (Usage{3, 4}));
  meter.finish();  // a last line without a line break
  EXPECT_EQ(meter.usage(), (Usage{1, 2}));
  meter.feed(as_bytes("\n{\"prompt_eval_count\":9,\"eval_count\":9}\n"));
  EXPECT_EQ(meter.usage(), (Usage{1, 2})) << "nothing counts after finish()";
}

TEST(UsageMeterTest, LineEndings) {
  const std::string crlf =
      "data: {\"choices\":[]}\r\n\r\ndata: {\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3}}\r\n\r\n"
      "data: [DONE]\r\n\r\n";
  EXPECT_EQ(meter_whole(crlf), (Usage{2, 3}));
  expect_split_invariant(crlf, Usage{2, 3});
  const std::string cr = "data: {\"choices\":[]}\r\rdata:{\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3}}\r\r";
  EXPECT_EQ(meter_whole(cr), (Usage{2, 3}));
}

TEST(UsageMeterTest, IgnoresWhatIsNotAUsageRecord) {
  const std::vector<std::string> bodies = {
      "",
      "data: [DONE]\n\n",
      "event: ping\nid: 1\nretry: 10\n: comment\n\n",
      "not json at all\n",
      "data: {\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":2}}\n",
      "data: {\"usage\":{\"prompt_tokens\":1.5,\"completion_tokens\":2}}\n",
      "data: {\"usage\":{\"prompt_tokens\":\"1\",\"completion_tokens\":2}}\n",
      "data: {\"usage\":{\"prompt_tokens\":1}}\n",
      "data: {\"usage\":{\"prompt_tokens\":1099511627777,\"completion_tokens\":2}}\n",  // 2^40 + 1
      "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}\n",                // truncated JSON
      "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}} trailing\n",
      "data: {\"choices\":[{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}]}\n",  // nested: not the top
      "data: [{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}]\n",
      "{\"eval_count\":[7]}\n",
      "{\"eval_count\":{\"n\":7}}\n",
      "{\"usage\":{\"prompt_tokens\":{\"n\":1},\"completion_tokens\":2}}\n",
      "  \"usage\": {\"prompt_tokens\": 1, \"completion_tokens\": 2}\n",  // a line of a pretty body, alone
      "data: " + std::string(100000, '[') + "\n",
      std::string(200000, '{') + "\n",
  };
  for (const auto& body : bodies) {
    EXPECT_EQ(meter_whole(body), std::nullopt) << body.substr(0, 120);
  }
  EXPECT_EQ(meter_whole("data: {\"usage\":{\"prompt_tokens\":1099511627776,\"completion_tokens\":0}}\n"),
            (Usage{kMaxTokenCount, 0}));
}

TEST(UsageMeterTest, OversizeLinesAreSkipped) {
  const std::string usage_line = "data: {\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}\n";
  const std::string long_usage = "data: {\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":8},\"pad\":\"" +
                                 std::string(200, 'x') + "\"}\n";
  {
    UsageMeter meter(128);
    meter.feed(as_bytes(usage_line + long_usage));
    meter.finish();
    EXPECT_EQ(meter.usage(), (Usage{5, 6})) << "the oversize line's usage is not seen";
    EXPECT_EQ(meter.skipped_lines(), 1u);
  }
  {
    // The same, the long line arriving in small pieces, and a usage line after it.
    UsageMeter meter(128);
    const std::string body = long_usage + usage_line;
    for (size_t i = 0; i < body.size(); i += 3) meter.feed(as_bytes(std::string_view(body).substr(i, 3)));
    meter.finish();
    EXPECT_EQ(meter.usage(), (Usage{5, 6}));
    EXPECT_EQ(meter.skipped_lines(), 1u);
  }
  {
    // A whole body over the limit is not parsed as one document either.
    const std::string pretty = "{\n\"usage\": {\"prompt_tokens\": 1, \"completion_tokens\": 2},\n\"pad\": \"" +
                               std::string(200, 'y') + "\"\n}";
    EXPECT_EQ(meter_whole(pretty, 128), std::nullopt);
    EXPECT_EQ(meter_whole(pretty, 4096), (Usage{1, 2}));
  }
  {
    // The default limit: a 3 MiB data line fed in 16 KiB pieces, then the usage.
    UsageMeter meter;
    const std::string huge = "data: {\"x\":\"" + std::string(3 << 20, 'z') + "\"}\n\n";
    for (size_t i = 0; i < huge.size(); i += 16384) meter.feed(as_bytes(std::string_view(huge).substr(i, 16384)));
    meter.feed(as_bytes(usage_line));
    meter.finish();
    EXPECT_EQ(meter.usage(), (Usage{5, 6}));
    EXPECT_EQ(meter.skipped_lines(), 1u);
  }
}

TEST(UsageMeterTest, CreditsUsed) {
  // The reference's example: 29 input + 54 output tokens use 122.5 credits (a 200 credit gets ≈ 77.5 back).
  EXPECT_DOUBLE_EQ(credits_used_exact(Usage{29, 54}), 122.5);
  EXPECT_EQ(credits_used(Usage{29, 54}), 123);
  EXPECT_EQ(credits_used(Usage{28, 54}), 122);
  EXPECT_EQ(credits_used(Usage{0, 0}), 0);
  EXPECT_EQ(credits_used(Usage{1, 0}), 1);
  EXPECT_EQ(credits_used(Usage{kMaxTokenCount, kMaxTokenCount}), kMaxTokenCount / 2 + 2 * kMaxTokenCount);
}

}  // namespace
}  // namespace openpcc::engine
