// The text and token usage inside an inference answer's body, as it streams: OpenAI SSE (`data: {…}` events with
// choices[0].delta.content or choices[0].text, a usage event, `data: [DONE]`), Ollama NDJSON (message.content or
// response, prompt_eval_count / eval_count), or one whole JSON answer (choices[0].message.content / text). For
// showing an answer as it arrives (openpcc chat); the bytes themselves are what the engine sent.
//
//   CompletionText text;
//   while (auto piece = read()) std::fputs(text.feed(*piece).c_str(), stdout);
//   std::fputs(text.finish().c_str(), stdout);
//   if (text.usage()) ... usage()->prompt_tokens ...
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.h"

namespace openpcc::client {

struct TokenUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

class CompletionText {
 public:
  // Lines longer than this are dropped (and so is a whole body beyond it).
  static constexpr size_t kMaxLine = 1 << 20;

  // Body bytes, split anywhere. Returns the text of the lines they completed.
  std::string feed(ByteSpan bytes);
  // End of body: a last line without a newline, or a whole JSON answer.
  std::string finish();

  // The last usage record seen.
  const std::optional<TokenUsage>& usage() const { return usage_; }
  // `data: [DONE]` was seen.
  bool done() const { return done_; }

 private:
  std::string line(std::string_view text);
  std::string from_json(std::string_view json);

  std::string pending_;     // the current, unfinished line
  bool pending_too_long_ = false;
  std::string whole_;       // lines that were neither SSE nor NDJSON: maybe one pretty-printed JSON answer
  bool whole_too_long_ = false;
  std::optional<TokenUsage> usage_;
  bool done_ = false;
};

}  // namespace openpcc::client
