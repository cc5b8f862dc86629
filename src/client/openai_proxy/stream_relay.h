// Passing a streamed answer (OpenAI server-sent events, Ollama NDJSON) from the node to the local caller as it is
// decrypted, record by record.
//
//   StreamRelay relay(StreamFormat::kServerSentEvents, /*drop_usage_only_events=*/!caller_asked_for_usage);
//   while (piece = read())  write(relay.feed(piece));      // every complete event now; a partial one waits
//   write(relay.finish());                                 // the rest at the end
//   on a broken stream:  write(relay.error_record(body)); // an error the caller's SDK raises
//
// Why records rather than raw pieces: the bytes are forwarded the moment a record (an SSE event, an NDJSON line) is
// complete — no later than its last byte arrives, so the first token reaches the caller as soon as the node sent it —
// and the output always ends on a record boundary, so that an error record appended after a broken stream parses
// (the official OpenAI SDKs raise an event whose data has an "error" member; Ollama's clients an NDJSON line with an
// "error" member). Bytes are passed unchanged: nothing is re-encoded.
//
// drop_usage_only_events: a compute node always asks the engine for stream_options.include_usage (it needs the
// counts for the refund), so a caller who did not ask gets a final event with "choices": [] and a "usage" object
// that it does not expect (code that reads choices[0] of every chunk breaks on it). With the flag, events whose data
// is exactly such a chunk are left out; everything else passes.
//
// SSE events made only of comment lines (": …", a node's response padding) are always left out: padding protects the
// wire between node and client, and the local caller's stream then ends with its last data event as OpenAI's does.
//
// A record longer than max_record_bytes is forwarded in pieces as it arrives (no holding back without bound); the
// boundary guarantee is then lost for that record only.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/bytes.h"

namespace openpcc::client::openai_proxy {

enum class StreamFormat { kServerSentEvents, kNdjson };

class StreamRelay {
 public:
  static constexpr size_t kDefaultMaxRecordBytes = 1 << 20;

  explicit StreamRelay(StreamFormat format, bool drop_usage_only_events = false,
                       size_t max_record_bytes = kDefaultMaxRecordBytes);

  // Bytes to forward now: every record that `piece` completed (possibly none).
  Bytes feed(ByteSpan piece);
  // The end of the stream: whatever is held back (a last record without its terminator).
  Bytes finish();
  // An error record carrying `error_json` (a JSON object with an "error" member), placed so that it parses after
  // what was forwarded; a held-back partial record is discarded. For SSE: `data: <json>` as its own event; for NDJSON:
  // one line.
  Bytes error_record(std::string_view error_json);

  // Usage-only events left out so far.
  size_t dropped_events() const { return dropped_; }

 private:
  Bytes take_events();
  Bytes take_lines();
  bool is_usage_only_event(std::string_view event) const;
  void note_output(const Bytes& out);

  StreamFormat format_;
  bool drop_usage_only_;
  size_t max_record_;
  Bytes pending_;
  size_t scanned_ = 0;         // bytes of pending_ already searched for line ends
  size_t line_len_ = 0;        // SSE: bytes of the current line so far
  bool line_first_cr_ = false;  // SSE: the current line starts with '\r' (so "\r\n" is a blank line)
  bool at_boundary_ = true;    // the output so far ends where a record ended
  char last_byte_ = 0;
  size_t forwarded_ = 0;
  size_t dropped_ = 0;
};

}  // namespace openpcc::client::openai_proxy
