// The gateway's view of one encapsulated request: outer body bytes in, inner request events out, as early as the
// bytes allow. No I/O here (the handler feeds it; the fuzz target drives it directly).
//
//   InnerRequestDecoder dec(Chunking::kChunked, key_finder, limits);
//   for each piece of the outer body:   dec.feed(piece);   then drain: while (auto ev = dec.next(); *ev) ...
//   at the end of the outer body:       dec.finish();      then drain until InnerEnd
//
// Chunked requests (message/ohttp-chunked-req) are opened chunk by chunk (wire::ohttp::ChunkedRequestOpener) and
// their BHTTP decoded incrementally (bhttp::StreamDecoder): the RequestHead is available as soon as the chunks that
// carry it have arrived, body data as each chunk opens. Unchunked requests (message/ohttp-req) are buffered (the HTTP
// server bounds the body) and decapsulated at finish().
//
// Every error carries its taxonomy code: the key finder's and the encapsulation's codes while reading the header,
// RequestDecoding (201) for anything wrong after that, BHTTP included (a limit exceeded says so in its message).
// After an error every call returns it again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>

#include "common/bytes.h"
#include "common/secure.h"
#include "wire/bhttp_decoder.h"
#include "wire/chunk_framing.h"
#include "wire/ohttp.h"
#include "wire/ohttp_chunked.h"

namespace openpcc::gateway {

struct InnerRequestLimits {
  // Outer body of an unchunked request (buffered whole).
  uint64_t max_request_bytes = uint64_t{16} << 20;
  // Plaintext of one chunk of a chunked request (the draft's minimum receive size by default).
  size_t max_chunk_plaintext = wire::kMinReceiveChunkPlaintext;
  // The inner BHTTP request.
  wire::bhttp::DecodeLimits bhttp;
};

// Inner body bytes, in order.
struct InnerBody {
  Bytes data;
};
// The inner trailer section (possibly empty): the content is complete.
struct InnerTrailers {
  wire::bhttp::Fields fields;
};
// The whole outer body has been read, authenticated and decoded.
struct InnerEnd {};

// Order: RequestHead, InnerBody..., InnerTrailers, InnerEnd.
using InnerEvent = std::variant<wire::bhttp::RequestHead, InnerBody, InnerTrailers, InnerEnd>;

class InnerRequestDecoder {
 public:
  InnerRequestDecoder(wire::Chunking chunking, wire::ohttp::KeyFinder keys, const InnerRequestLimits& limits = {});
  ~InnerRequestDecoder();
  InnerRequestDecoder(const InnerRequestDecoder&) = delete;
  InnerRequestDecoder& operator=(const InnerRequestDecoder&) = delete;

  wire::Chunking chunking() const { return chunking_; }

  // A piece of the outer body.
  wire::ohttp::OhttpStatus feed(ByteSpan outer);
  // The outer body has ended.
  wire::ohttp::OhttpStatus finish();

  // The next event that the input so far allows, or nullopt when more input is needed (or, after InnerEnd, always).
  wire::ohttp::OhttpResult<std::optional<InnerEvent>> next();

  // What the response is keyed from: available once the encapsulation header and enc have been read (chunked), or
  // after finish() (unchunked).
  const wire::ResponseSecrets* response_secrets() const;
  // The request's encapsulation header, once read.
  std::optional<wire::ohttp::RequestHeader> header() const;

  bool ended() const { return ended_; }

 private:
  wire::ohttp::OhttpStatus fail(wire::ohttp::OhttpError error);
  void compact();

  wire::Chunking chunking_;
  wire::ohttp::KeyFinder keys_;
  InnerRequestLimits limits_;
  std::optional<wire::ohttp::ChunkedRequestOpener> opener_;     // chunked
  Bytes outer_;                                                 // unchunked: the whole outer body
  std::optional<wire::ohttp::DecapsulatedRequest> whole_;       // unchunked, after finish()
  wire::bhttp::StreamDecoder decoder_;
  Bytes plaintext_;    // opened BHTTP bytes not yet consumed by decoder_ (wiped when dropped)
  size_t consumed_ = 0;
  bool input_ended_ = false;
  bool ended_ = false;
  std::optional<wire::ohttp::OhttpError> error_;
};

}  // namespace openpcc::gateway
