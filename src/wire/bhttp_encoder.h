// Binary HTTP encoding (RFC 9292): whole messages in either framing, and indeterminate-length messages piece by
// piece as their parts become available.
//
// Encoders validate what they are given (field names must be tokens, field values free of NUL/CR/LF and of edge
// whitespace, a token method, 100..199 informational and 200..599 final statuses) and refuse with
// ErrorCode::kInvalidArgument, so everything they emit decodes. Field names are written in lowercase.
//
// Padding. `padding_len` appends that many zero bytes; `pad_to_multiple_of` then rounds the total encoded length up
// to a multiple of N with zero bytes (0 or 1 = off). Both apply to either framing and to the streaming encoder, which
// pads at finish() based on everything it has emitted.
//
// The OpenPCC fixed-size profile: the compute-request (inner) BHTTP message uses content chunks of at most 514
// encoded bytes (512 data bytes + a 2-byte length) and is padded to a multiple of 514; the OHTTP (outer) message uses
// 532. fixed_size_profile(kComputeMessageChunkLen) / fixed_size_profile(kOhttpMessageChunkLen) build those options.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"
#include "wire/bhttp_message.h"

namespace openpcc::wire::bhttp {

struct EncodeOptions {
  Framing framing = Framing::kKnownLength;

  // Known-length only: omit trailing empty parts as RFC 9292 §3.8 allows — empty trailers, then empty content, then
  // an empty header section. E.g. a bodiless GET with no headers is just control data (RFC 9458 Appendix A).
  // Indeterminate-length messages always carry all their terminators (as in the RFC 9292 §5 example).
  bool truncate_empty_tail = true;

  // Indeterminate-length only: the most data bytes in one content chunk; longer data is split. 0 = no limit (each
  // body() call, or the whole body, becomes one chunk).
  size_t max_chunk_data_len = 0;

  size_t padding_len = 0;         // zero bytes appended after the message
  size_t pad_to_multiple_of = 0;  // then round the total length up to a multiple of this (0 or 1 = off)
};

// Encodes a whole message. The body is copied once; the output is sized exactly before writing.
Result<Bytes> encode(const Request& request, const EncodeOptions& options = {});
Result<Bytes> encode(const Response& response, const EncodeOptions& options = {});
Result<Bytes> encode(const Message& message, const EncodeOptions& options = {});

// --- OpenPCC fixed-size profile ----------------------------------------------------------------------------------

inline constexpr size_t kComputeMessageChunkLen = 514;  // inner (compute request/response) BHTTP
inline constexpr size_t kOhttpMessageChunkLen = 532;    // outer OHTTP BHTTP

// The largest content-chunk data length whose encoding (varint length ‖ data) fits in `encoded_len` bytes:
// 514 → 512, 532 → 530. At least 1.
size_t max_chunk_data_len_for(size_t encoded_len);

// Options for the fixed-size profile: chunks of at most `chunk_len` encoded bytes and the whole message padded to a
// multiple of `chunk_len`.
EncodeOptions fixed_size_profile(size_t chunk_len, Framing framing = Framing::kIndeterminateLength);

// --- Streaming (indeterminate-length) encoder --------------------------------------------------------------------

// Produces an indeterminate-length message in pieces: a head, any number of body writes, then finish(). Every call
// appends the bytes it produces to `out` (nothing is appended on error) and can be sent on at once.
//
//   StreamEncoder enc(fixed_size_profile(kComputeMessageChunkLen));
//   enc.begin_request(head, out);        // framing indicator, control data, header section
//   enc.body(data, out);                 // content chunks of <= max_chunk_data_len bytes; empty data → nothing
//   enc.finish(trailers, out);           // content terminator, trailer section, padding
//
// For a response, call informational() for each 1xx response, then begin_response(). Calls out of this order fail
// with kInvalidArgument. `framing` and `truncate_empty_tail` in the options are ignored (always indeterminate).
class StreamEncoder {
 public:
  explicit StreamEncoder(const EncodeOptions& options = {});

  Status begin_request(const RequestHead& head, Bytes& out);
  Status informational(const InformationalResponse& response, Bytes& out);
  Status begin_response(const ResponseHead& head, Bytes& out);

  Status body(ByteSpan data, Bytes& out);

  // Ends the message. `extra_padding` zero bytes are added on top of the options' padding_len before rounding up to
  // pad_to_multiple_of, so the grand total (bytes_emitted()) is a multiple of it.
  Status finish(const Fields& trailers, Bytes& out, size_t extra_padding = 0);

  // Total bytes appended so far across all calls.
  uint64_t bytes_emitted() const { return emitted_; }
  bool finished() const { return stage_ == Stage::kFinished; }

 private:
  enum class Stage : uint8_t { kStart, kInformational, kBody, kFinished };

  EncodeOptions options_;
  Stage stage_ = Stage::kStart;
  uint64_t emitted_ = 0;
};

}  // namespace openpcc::wire::bhttp
