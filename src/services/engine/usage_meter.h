// Token usage of an inference engine's response, read from the response body as it streams past.
//
// A compute node charges for what the engine reports: input (prompt) and output (generated) tokens. The engine says
// so inside its answer, in one of the shapes the node proxies unchanged:
//
//   * OpenAI-compatible SSE (text/event-stream): `data: {json}` lines, the last chunk carrying
//     "usage": {"prompt_tokens": N, "completion_tokens": M} when stream_options.include_usage is set; `data: [DONE]`
//     ends the stream. Other SSE lines (event:, id:, retry:, comments) are ignored.
//   * Ollama NDJSON (application/x-ndjson): one JSON object per line; the final one ("done": true) carries
//     "prompt_eval_count" and "eval_count".
//   * A whole JSON body (stream: false), single-line or pretty-printed, with either of the above fields.
//
// The LAST usage seen wins. Feed every body piece as it arrives (pieces may split anywhere, even inside a UTF-8
// character or a "\r\n"), then call finish() at the end of the body:
//
//   engine::UsageMeter meter;
//   while (auto piece = co_await response->read_chunk()) { ...; if (!*piece) break; meter.feed(**piece); ... }
//   meter.finish();
//   if (auto usage = meter.usage()) refund = credit - engine::credits_used_exact(*usage);
//   else no refund (the engine did not say what it used).
//
// Memory is bounded: a line longer than max_line_bytes is skipped (its usage, if any, is not seen), and the whole
// body is kept for the final whole-JSON parse only while it is at most max_line_bytes. So a meter holds at most about
// 2 × max_line_bytes. Nothing of the body is kept after finish() (plaintext of a user's request: wiped).
//
// Rules for a usage record (anything else is ignored, never an error):
//   * OpenAI: a JSON object whose "usage" member is an object with both "prompt_tokens" and "completion_tokens" as
//     integers in [0, kMaxTokenCount].
//   * Ollama: a JSON object with "eval_count" in that range, and "prompt_eval_count" in range or absent (Ollama omits
//     it when zero, e.g. when the whole prompt came from its cache; absent counts as 0). When an object has both
//     shapes, the OpenAI one is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/secure.h"

namespace openpcc::engine {

// Larger token counts are treated as not reported (keeps the arithmetic below far from overflow).
inline constexpr int64_t kMaxTokenCount = int64_t{1} << 40;

// The reference's prices: credits per input and per output token.
inline constexpr double kInputTokenCreditMultiplier = 0.5;
inline constexpr double kOutputTokenCreditMultiplier = 2.0;

struct Usage {
  int64_t input_tokens = 0;   // prompt_tokens / prompt_eval_count
  int64_t output_tokens = 0;  // completion_tokens / eval_count
  friend bool operator==(const Usage&, const Usage&) = default;
};

// 0.5 · input + 2 · output, exactly (what the reference subtracts from the credit before randomized rounding).
double credits_used_exact(const Usage& usage);
// The same rounded up to a whole number of credits.
int64_t credits_used(const Usage& usage);

class UsageMeter {
 public:
  static constexpr size_t kDefaultMaxLineBytes = size_t{1} << 20;

  explicit UsageMeter(size_t max_line_bytes = kDefaultMaxLineBytes);
  UsageMeter(const UsageMeter&) = delete;
  UsageMeter& operator=(const UsageMeter&) = delete;
  UsageMeter(UsageMeter&&) = default;
  UsageMeter& operator=(UsageMeter&&) = default;

  // The next piece of the body.
  void feed(ByteSpan piece);
  // The body has ended: reads a last line without a line break and tries the whole body as one JSON document.
  // Further feed() calls are ignored.
  void finish();

  // The last usage record seen so far (complete lines only until finish()).
  std::optional<Usage> usage() const { return usage_; }
  // Lines dropped for exceeding max_line_bytes (for tests and logs).
  size_t skipped_lines() const { return skipped_lines_; }

 private:
  // A growable buffer whose old storage is wiped when it grows and when it goes away (bodies are user data).
  struct Buffer {
    SecretBytes storage;
    size_t length = 0;
    // False (and nothing appended) if the result would exceed `limit`.
    bool append(ByteSpan data, size_t limit);
    ByteSpan view() const { return storage.span().first(length); }
  };

  void feed_whole(ByteSpan piece);
  void consider_line(ByteSpan line);
  void consider_json(ByteSpan text);

  size_t max_line_bytes_;
  Buffer line_;   // the current line so far
  Buffer whole_;  // the body so far, while it fits and may be one JSON document
  bool skipping_line_ = false;
  enum class WholeBody { kUndecided, kCollecting, kNotJson } whole_state_ = WholeBody::kUndecided;
  bool finished_ = false;
  size_t skipped_lines_ = 0;
  std::optional<Usage> usage_;
};

}  // namespace openpcc::engine
