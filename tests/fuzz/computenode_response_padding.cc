// ResponsePadder (src/services/computenode/response_padding.h) on arbitrary engine answers.
//
// Input: byte 0 picks the syntax (low 2 bits: none, SSE, NDJSON, JSON), byte 1 the block (0..255, 0 = off), bytes
// 2-3 seed the piece sizes (1..64) the answer is fed in, the rest is the answer.
//
// Properties beyond "no crash":
//  * with padding on, every piece feed() returns is a multiple of the block;
//  * the output is the answer with bytes inserted, and every inserted byte is one the padding syntaxes use
//    (' ', ':', '\r', '\n'): the padder never drops, reorders or invents content;
//  * with padding off, the output is exactly the answer;
//  * finish() is final: a second call adds nothing.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/bytes.h"
#include "services/computenode/response_padding.h"

using openpcc::Bytes;
using openpcc::ByteSpan;
using openpcc::computenode::PaddingSyntax;
using openpcc::computenode::ResponsePadder;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  constexpr std::array<PaddingSyntax, 4> kSyntaxes = {PaddingSyntax::kNone, PaddingSyntax::kEventStream,
                                                      PaddingSyntax::kNdjson, PaddingSyntax::kJson};
  const PaddingSyntax syntax = kSyntaxes[data[0] & 3];
  const size_t block = data[1];
  uint32_t seed = static_cast<uint32_t>(data[2]) << 8 | data[3];
  const ByteSpan answer(data + 4, size - 4);

  ResponsePadder padder(syntax, block);
  Bytes output;
  size_t at = 0;
  while (at < answer.size()) {
    seed = seed * 1103515245u + 12345u;
    const size_t n = std::min<size_t>(answer.size() - at, 1 + (seed >> 16) % 64);
    Bytes piece;
    padder.feed(answer.subspan(at, n), piece);
    if (padder.padding() && piece.size() % block != 0) std::abort();
    output.insert(output.end(), piece.begin(), piece.end());
    at += n;
  }
  Bytes last;
  padder.finish(last);
  output.insert(output.end(), last.begin(), last.end());
  Bytes after;
  padder.finish(after);
  if (!after.empty()) std::abort();

  if (!padder.padding()) {
    if (output.size() != answer.size() || !std::equal(output.begin(), output.end(), answer.begin())) std::abort();
    return 0;
  }
  // The answer is a subsequence of the output (leftmost matching finds one if any exists) and what is left over is
  // padding. The left-over multiset does not depend on which embedding is found.
  size_t i = 0;
  for (uint8_t b : output) {
    if (i < answer.size() && b == answer[i]) {
      ++i;
    } else if (b != ' ' && b != ':' && b != '\r' && b != '\n') {
      std::abort();
    }
  }
  if (i != answer.size()) std::abort();
  return 0;
}
