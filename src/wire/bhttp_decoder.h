// Binary HTTP decoding (RFC 9292): an incremental decoder fed arbitrary byte slices, and whole-message decoding
// built on it (so both accept and reject exactly the same inputs).
//
// What is accepted: either framing; non-minimal varints; truncation of trailing empty parts (RFC 9292 §3.8) — the
// message may end where a header section, the content, or the trailer section would begin (of the final response,
// for responses), and the missing parts count as empty; any number of zero padding bytes after the trailers.
//
// What is rejected (ErrorCode::kDecode unless noted): framing indicators other than 0..3; informational statuses
// outside 100..199 and final statuses outside 200..599; invalid field names (not a token — this includes pseudo-
// fields) or values (NUL, CR, LF, leading/trailing SP/HTAB); a non-token method; control characters or spaces in
// scheme/authority/path; a zero-length field name in a known-length section; a field line that overruns its
// known-length section; non-zero padding; input that ends anywhere else (kTruncated); and anything over a limit
// (kLimitExceeded, naming the limit).
//
// Memory: a field section is buffered only up to its limit; body bytes are never buffered — each BodyData event is a
// view into the caller's input slice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "common/bytes.h"
#include "common/error.h"
#include "wire/bhttp_message.h"

namespace openpcc::wire::bhttp {

struct DecodeLimits {
  size_t max_header_section_bytes = 16 * 1024;   // encoded field lines of each header section (incl. informational)
  size_t max_trailer_section_bytes = 16 * 1024;  // encoded field lines of the trailer section
  size_t max_field_lines = 512;                  // field lines in any one section
  uint64_t max_body_bytes = uint64_t{64} << 20;  // content bytes of the message
  size_t max_informational_responses = 16;
  size_t max_control_data_bytes = 16 * 1024;     // method + scheme + authority + path, with their length prefixes
};

// --- Events of the incremental decoder ---------------------------------------------------------------------------

// All input so far has been consumed; feed more (or call finish()).
struct NeedMoreInput {};
// Content bytes, in order. `data` points into the input slice passed to next(); it is valid as long as that is.
struct BodyData {
  ByteSpan data;
};
// The trailer section (possibly empty). Always delivered once, after the last BodyData: the content is complete.
struct Trailers {
  Fields fields;
};
// The whole message, including any padding, has been read and checked. Only after finish().
struct EndOfMessage {};

// Order: [InformationalResponse...] ResponseHead | RequestHead, BodyData..., Trailers, EndOfMessage.
using DecodeEvent =
    std::variant<NeedMoreInput, InformationalResponse, RequestHead, ResponseHead, BodyData, Trailers, EndOfMessage>;

// Incremental decoder; feed it slices of any size (one byte at a time works).
//
//   StreamDecoder dec;
//   for each received slice `in`:
//     for (;;) {
//       auto ev = dec.next(in);              // consumes from the front of `in`
//       if (!ev) return ev.error();
//       if (std::holds_alternative<NeedMoreInput>(*ev)) break;
//       handle(*ev);                          // heads, body data, trailers
//     }
//   at end of input:
//     for (;;) { auto ev = dec.finish(); if (!ev) ...; handle(*ev); if (holds EndOfMessage) break; }
//
// One decoder decodes one message. Once an error has been returned, every later call returns it again.
class StreamDecoder {
 public:
  explicit StreamDecoder(const DecodeLimits& limits = {});

  // Consumes bytes from the front of `input` until one event is ready and returns it; NeedMoreInput once `input`
  // is empty. Body bytes are passed through as soon as they arrive, not a whole chunk at a time.
  Result<DecodeEvent> next(ByteSpan& input);

  // Declares that no more input follows and returns the next event: those that the truncation rules imply (a head
  // with empty headers, empty Trailers, ...) and finally EndOfMessage, which repeats if called again. Fails with
  // kTruncated if the message ends where RFC 9292 does not allow it to.
  Result<DecodeEvent> finish();

  // Known once the framing indicator has been read.
  std::optional<MessageKind> kind() const { return kind_; }
  std::optional<Framing> framing() const { return framing_; }
  // True once the Trailers event has been delivered (what follows is padding).
  bool content_complete() const { return stage_ == Stage::kPadding || stage_ == Stage::kDone; }
  // Bytes consumed so far.
  uint64_t offset() const { return offset_; }
  // Bytes currently held in partially decoded control data and field sections (bounded by the limits).
  size_t buffered_bytes() const;

 private:
  enum class Stage : uint8_t {
    kFramingIndicator,
    kControlLength,     // length of method/scheme/authority/path (control_index_)
    kControlValue,
    kStatusCode,
    kSectionLength,     // known-length field section prefix
    kFieldNameLength,   // or an indeterminate-length section's terminator
    kFieldName,
    kFieldValueLength,
    kFieldValue,
    kContentLength,     // known-length content prefix
    kChunkLength,       // indeterminate-length chunk prefix or content terminator
    kContentData,
    kPadding,
    kDone,
    kFailed,
  };
  enum class Section : uint8_t { kInformational, kHeaders, kTrailers };

  using StepResult = Result<std::optional<DecodeEvent>>;

  std::optional<uint64_t> take_varint(ByteSpan& input);  // sets last_varint_size_
  std::string& string_target();  // the control field, field name or field value being read
  StepResult on_varint(uint64_t value, size_t encoded_size);
  StepResult on_string_complete();
  void begin_field_section(Section section);
  DecodeEvent end_field_section();
  void begin_content();
  void begin_trailers();
  Status account_section_bytes(uint64_t n, std::string_view what);
  bool at_truncation_point() const;
  std::string truncation_context() const;
  std::unexpected<Error> fail(ErrorCode code, std::string message);
  std::unexpected<Error> fail_decode(std::string message);
  bool known() const { return framing_ == Framing::kKnownLength; }
  size_t section_limit() const;
  std::string_view section_name() const;

  DecodeLimits limits_;
  Stage stage_ = Stage::kFramingIndicator;
  std::optional<MessageKind> kind_;
  std::optional<Framing> framing_;
  bool input_ended_ = false;
  uint64_t offset_ = 0;
  Error error_;

  // A varint split across input slices.
  uint8_t varint_buf_[8] = {};
  uint8_t varint_have_ = 0;
  uint8_t varint_need_ = 0;
  uint8_t last_varint_size_ = 0;

  // Bytes still to come of the length-prefixed string being filled (see string_target()).
  uint64_t string_remaining_ = 0;

  // Request control data, in wire order; the current response status.
  RequestHead request_head_;
  size_t control_index_ = 0;
  uint64_t control_bytes_ = 0;
  uint16_t status_ = 0;
  size_t informational_count_ = 0;

  // The field section being decoded.
  Section section_ = Section::kHeaders;
  uint64_t section_len_ = 0;    // known-length: the prefix
  uint64_t section_bytes_ = 0;  // bytes of field lines read so far
  Fields fields_;
  Field field_;

  // Content.
  uint64_t data_remaining_ = 0;  // of the known-length content or the current chunk
  uint64_t body_bytes_ = 0;
  bool saw_chunk_ = false;
};

// --- Whole messages ----------------------------------------------------------------------------------------------

struct DecodedMessage {
  Framing framing = Framing::kKnownLength;
  Message message;
  bool operator==(const DecodedMessage&) const = default;
};

Result<DecodedMessage> decode(ByteSpan encoded, const DecodeLimits& limits = {});
// As decode(), but fail with kDecode if the message is of the other kind.
Result<Request> decode_request(ByteSpan encoded, const DecodeLimits& limits = {});
Result<Response> decode_response(ByteSpan encoded, const DecodeLimits& limits = {});

}  // namespace openpcc::wire::bhttp
