// Length padding of the engine's answer, inside the plaintext, before the node seals it.
//
// The node seals the answer piece by piece as the engine streams it, and every sealed chunk's size is visible on the
// way back (router, gateway, relay: the OHTTP chunk sizes). With one token per piece those sizes would spell out the
// length of every token. The padder turns the engine's pieces into pieces whose sizes are multiples of a block
// (default 256 bytes), padding in the syntax of the answer's content type so that every client reads the same
// answer as before:
//
//   text/event-stream      after an event's blank line, a comment event ":<spaces>\n\n" (SSE parsers ignore lines
//                          that start with ':'; with no data line the blank line dispatches nothing). The line
//                          ending of the event before it is used ("\r\n" streams get "\r\n").
//   application/x-ndjson   spaces right after the last non-whitespace byte of a JSON line, i.e. before its line
//   (and application/ndjson) break (JSON allows trailing whitespace).
//   application/json, */*+json  spaces after the document, at the end of the body (JSON allows trailing whitespace).
//   anything else          no padding: the pieces pass through as they come.
//
// Pieces are never held back longer than the syntax requires: whatever ends at a padding point (a complete event, a
// complete line) goes out at once, and the bytes after it go out too, in whole blocks; only the remainder (less than
// one block) waits for the next piece. So every piece feed() returns is a multiple of the block, complete events are
// never delayed, and the padder holds less than one block. finish() flushes the remainder, padded when the syntax
// allows it there (an SSE stream that ends mid-line, an NDJSON stream that ends with blank lines and other edge
// cases leave a last piece unpadded; documented in docs/PROTOCOL.md).
//
// What padding hides: the length of each token (or of anything within one block). What it does not hide: how many
// pieces there are (≈ the number of tokens when streaming), their timing, and the answer's length in blocks.
//
//   ResponsePadder padder(response.content_type(), block);
//   while (piece) { Bytes out; padder.feed(*piece, out); if (!out.empty()) seal(out); }
//   Bytes out; padder.finish(out); if (!out.empty()) seal(out);
//
// The padder keeps plaintext of the answer (less than one block) and wipes it when done with it.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/bytes.h"

namespace openpcc::computenode {

// The node's default block (config key response_padding_block); 0 turns padding off.
inline constexpr size_t kDefaultResponsePaddingBlock = 256;
// Larger blocks are refused by the config (a block is the most a client may have to wait for, in bytes).
inline constexpr size_t kMaxResponsePaddingBlock = 65536;

enum class PaddingSyntax { kNone, kEventStream, kNdjson, kJson };

// The padding syntax of a Content-Type value (parameters and case ignored).
PaddingSyntax padding_syntax(std::string_view content_type);

class ResponsePadder {
 public:
  // block == 0, or a content type without a syntax: pass-through.
  ResponsePadder(std::string_view content_type, size_t block);
  ResponsePadder(PaddingSyntax syntax, size_t block);
  ResponsePadder(const ResponsePadder&) = delete;
  ResponsePadder& operator=(const ResponsePadder&) = delete;
  ~ResponsePadder();

  // Appends to `out` what can be sealed now (possibly nothing): a multiple of the block when padding is on.
  void feed(ByteSpan piece, Bytes& out);
  // The answer ended: appends the rest, padded where the syntax allows. Further calls append nothing.
  void finish(Bytes& out);

  bool padding() const { return syntax_ != PaddingSyntax::kNone && block_ > 0; }

 private:
  void scan(size_t from);
  void emit(Bytes& out, bool at_end);
  void wipe_held();

  PaddingSyntax syntax_;
  size_t block_;
  bool finished_ = false;
  Bytes held_;  // not yet returned (less than one block between calls)

  // Scanner state over the whole stream (positions are indices into held_).
  bool line_empty_ = true;          // SSE: nothing but a line break so far on the current line
  bool pending_cr_ = false;         // SSE: the last byte was CR: an LF right after belongs to the same line break
  bool cr_ended_boundary_ = false;  // SSE: that CR ended a blank line: the event closes after the next byte
  size_t content_end_ = 0;          // NDJSON: just after the current line's last non-whitespace byte (in held_)
  bool line_has_content_ = false;   // NDJSON: the current line has a non-whitespace byte still in held_
  // The last padding point found in held_, if any: where padding goes, and how much of held_ it lets out.
  bool has_point_ = false;
  size_t point_ = 0;
  size_t through_ = 0;  // NDJSON: the end of the point's line (its line break included)
  enum class PointKind { kEvent, kLine };
  PointKind point_kind_ = PointKind::kEvent;  // SSE: after a complete event, or (at the end only) after a line
  bool point_crlf_ = false;                   // SSE: the blank line was "\r\n"-terminated
};

}  // namespace openpcc::computenode
