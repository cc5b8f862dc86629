#include "client/completion_text.h"

#include <gtest/gtest.h>

namespace openpcc::client {
namespace {

std::string feed_split(CompletionText& t, std::string_view body, size_t split) {
  std::string out;
  for (size_t at = 0; at < body.size(); at += split) out += t.feed(as_bytes(body.substr(at, split)));
  return out + t.finish();
}

TEST(CompletionTextTest, OpenAiChatStreamAnySplit) {
  const std::string body =
      "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n"
      ": keep-alive\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"lo \\u00e9\"}}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n"
      "data: [DONE]\n\n";
  for (size_t split : {1u, 2u, 5u, 64u, 4096u}) {
    CompletionText t;
    EXPECT_EQ(feed_split(t, body, split), "Hello \xc3\xa9") << split;
    ASSERT_TRUE(t.usage());
    EXPECT_EQ(t.usage()->prompt_tokens, 5);
    EXPECT_EQ(t.usage()->completion_tokens, 2);
    EXPECT_TRUE(t.done());
  }
}

TEST(CompletionTextTest, TextIsHandedOutPerEvent) {
  CompletionText t;
  EXPECT_EQ(t.feed(as_bytes("data: {\"choices\":[{\"text\":\"one\"}]}\n")), "one");
  EXPECT_EQ(t.feed(as_bytes("data: {\"choices\":[{\"text\":\" tw")), "");
  EXPECT_EQ(t.feed(as_bytes("o\"}]}\n")), " two");
  EXPECT_FALSE(t.usage());
  EXPECT_FALSE(t.done());
}

TEST(CompletionTextTest, OllamaNdjsonAndWholeAnswers) {
  CompletionText ollama;
  EXPECT_EQ(feed_split(ollama,
                       "{\"message\":{\"content\":\"Hi\"},\"done\":false}\n"
                       "{\"response\":\"!\",\"done\":false}\n"
                       "{\"done\":true,\"prompt_eval_count\":4,\"eval_count\":9}",
                       3),
            "Hi!");
  ASSERT_TRUE(ollama.usage());
  EXPECT_EQ(ollama.usage()->completion_tokens, 9);

  CompletionText whole;
  EXPECT_EQ(feed_split(whole,
                       "{\n  \"choices\": [{\"message\": {\"content\": \"whole answer\"}}],\n"
                       "  \"usage\": {\"prompt_tokens\": 1, \"completion_tokens\": 2}\n}\n",
                       7),
            "whole answer");
  EXPECT_EQ(whole.usage()->prompt_tokens, 1);
}

TEST(CompletionTextTest, GarbageIsIgnored) {
  CompletionText t;
  EXPECT_EQ(feed_split(t, "data: {not json\n\ndata: [1,2]\n\nhello\n\x01\x02\n", 4), "");
  EXPECT_FALSE(t.usage());
  CompletionText long_line;
  std::string big = "data: {\"choices\":[{\"text\":\"" + std::string(CompletionText::kMaxLine, 'a') + "\"}]}\n";
  EXPECT_EQ(long_line.feed(as_bytes(big)), "");
  EXPECT_EQ(long_line.feed(as_bytes("data: {\"choices\":[{\"text\":\"ok\"}]}\n")), "ok");
}

}  // namespace
}  // namespace openpcc::client
