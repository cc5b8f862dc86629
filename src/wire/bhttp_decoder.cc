#include "wire/bhttp_decoder.h"

#include <algorithm>
#include <cstring>

#include "common/varint.h"
#include "wire/bhttp_internal.h"

namespace openpcc::wire::bhttp {

namespace {

using internal::quoted_excerpt;

constexpr const char* kControlNames[4] = {"method", "scheme", "authority", "path"};

void consume(ByteSpan& input, size_t n) { input = input.subspan(n); }

}  // namespace

StreamDecoder::StreamDecoder(const DecodeLimits& limits) : limits_(limits) {}

std::unexpected<Error> StreamDecoder::fail(ErrorCode code, std::string message) {
  error_ = Error{code, "bhttp: " + message + " (at byte " + std::to_string(offset_) + ")"};
  stage_ = Stage::kFailed;
  return std::unexpected(error_);
}

std::unexpected<Error> StreamDecoder::fail_decode(std::string message) {
  return fail(ErrorCode::kDecode, std::move(message));
}

size_t StreamDecoder::section_limit() const {
  return section_ == Section::kTrailers ? limits_.max_trailer_section_bytes : limits_.max_header_section_bytes;
}

std::string_view StreamDecoder::section_name() const {
  switch (section_) {
    case Section::kInformational: return "informational header section";
    case Section::kHeaders: return "header section";
    case Section::kTrailers: return "trailer section";
  }
  return "field section";
}

size_t StreamDecoder::buffered_bytes() const {
  size_t n = request_head_.method.size() + request_head_.scheme.size() + request_head_.authority.size() +
             request_head_.path.size() + field_.name.size() + field_.value.size();
  for (const Field& f : fields_) n += f.name.size() + f.value.size();
  return n;
}

std::optional<uint64_t> StreamDecoder::take_varint(ByteSpan& input) {
  // Precondition: !input.empty().
  if (varint_have_ == 0) {
    if (auto v = peek_varint(input)) {
      consume(input, v->size);
      offset_ += v->size;
      last_varint_size_ = static_cast<uint8_t>(v->size);
      return v->value;
    }
    varint_need_ = static_cast<uint8_t>(1u << (input[0] >> 6));
  }
  size_t n = std::min<size_t>(varint_need_ - varint_have_, input.size());
  std::memcpy(varint_buf_ + varint_have_, input.data(), n);
  varint_have_ = static_cast<uint8_t>(varint_have_ + n);
  consume(input, n);
  offset_ += n;
  if (varint_have_ < varint_need_) return std::nullopt;
  auto v = peek_varint(ByteSpan(varint_buf_, varint_have_));
  last_varint_size_ = varint_have_;
  varint_have_ = 0;
  return v->value;
}

std::string& StreamDecoder::string_target() {
  if (stage_ == Stage::kFieldName) return field_.name;
  if (stage_ == Stage::kFieldValue) return field_.value;
  // kControlValue. Resolved on each use (not stored as a pointer) so that the decoder stays safely movable.
  switch (control_index_) {
    case 0: return request_head_.method;
    case 1: return request_head_.scheme;
    case 2: return request_head_.authority;
    default: return request_head_.path;
  }
}

Status StreamDecoder::account_section_bytes(uint64_t n, std::string_view what) {
  section_bytes_ += n;
  if (known()) {
    if (section_bytes_ > section_len_) {
      return fail_decode(std::string(what) + " overruns the " + std::to_string(section_len_) + "-byte " +
                         std::string(section_name()));
    }
  } else if (section_bytes_ > section_limit()) {
    return fail(ErrorCode::kLimitExceeded,
                std::string(section_name()) + " exceeds DecodeLimits::" +
                    (section_ == Section::kTrailers ? "max_trailer_section_bytes" : "max_header_section_bytes") +
                    " (" + std::to_string(section_limit()) + ")");
  }
  return {};
}

void StreamDecoder::begin_field_section(Section section) {
  section_ = section;
  section_len_ = 0;
  section_bytes_ = 0;
  fields_.clear();
  stage_ = known() ? Stage::kSectionLength : Stage::kFieldNameLength;
}

void StreamDecoder::begin_content() { stage_ = known() ? Stage::kContentLength : Stage::kChunkLength; }

void StreamDecoder::begin_trailers() { begin_field_section(Section::kTrailers); }

DecodeEvent StreamDecoder::end_field_section() {
  Fields fields = std::move(fields_);
  fields_.clear();
  switch (section_) {
    case Section::kInformational:
      stage_ = Stage::kStatusCode;
      return InformationalResponse{status_, std::move(fields)};
    case Section::kHeaders:
      begin_content();
      if (kind_ == MessageKind::kRequest) {
        request_head_.headers = std::move(fields);
        RequestHead head = std::move(request_head_);
        request_head_ = RequestHead{};
        return head;
      }
      return ResponseHead{status_, std::move(fields)};
    case Section::kTrailers:
      stage_ = Stage::kPadding;
      return Trailers{std::move(fields)};
  }
  return NeedMoreInput{};  // unreachable
}

StreamDecoder::StepResult StreamDecoder::on_varint(uint64_t value, size_t encoded_size) {
  switch (stage_) {
    case Stage::kFramingIndicator:
      if (value > 3) return fail_decode("invalid framing indicator " + std::to_string(value));
      kind_ = (value & 1) ? MessageKind::kResponse : MessageKind::kRequest;
      framing_ = value >= 2 ? Framing::kIndeterminateLength : Framing::kKnownLength;
      stage_ = kind_ == MessageKind::kRequest ? Stage::kControlLength : Stage::kStatusCode;
      return std::nullopt;

    case Stage::kControlLength: {
      control_bytes_ += encoded_size + value;
      if (control_bytes_ > limits_.max_control_data_bytes) {
        return fail(ErrorCode::kLimitExceeded, "request control data exceeds DecodeLimits::max_control_data_bytes (" +
                                                   std::to_string(limits_.max_control_data_bytes) + ")");
      }
      stage_ = Stage::kControlValue;
      string_target().reserve(static_cast<size_t>(value));
      string_remaining_ = value;
      if (value == 0) return on_string_complete();
      return std::nullopt;
    }

    case Stage::kStatusCode:
      if (is_informational_status(value)) {
        if (informational_count_ >= limits_.max_informational_responses) {
          return fail(ErrorCode::kLimitExceeded,
                      "more informational responses than DecodeLimits::max_informational_responses (" +
                          std::to_string(limits_.max_informational_responses) + ")");
        }
        ++informational_count_;
        status_ = static_cast<uint16_t>(value);
        begin_field_section(Section::kInformational);
        return std::nullopt;
      }
      if (is_final_status(value)) {
        status_ = static_cast<uint16_t>(value);
        begin_field_section(Section::kHeaders);
        return std::nullopt;
      }
      return fail_decode("invalid status code " + std::to_string(value));

    case Stage::kSectionLength:
      if (value > section_limit()) {
        return fail(ErrorCode::kLimitExceeded,
                    std::string(section_name()) + " of " + std::to_string(value) + " bytes exceeds DecodeLimits::" +
                        (section_ == Section::kTrailers ? "max_trailer_section_bytes" : "max_header_section_bytes") +
                        " (" + std::to_string(section_limit()) + ")");
      }
      section_len_ = value;
      if (value == 0) return end_field_section();
      stage_ = Stage::kFieldNameLength;
      return std::nullopt;

    case Stage::kFieldNameLength:
      if (value == 0) {
        if (!known()) return end_field_section();  // the section terminator
        return fail_decode("zero-length field name in " + std::string(section_name()));
      }
      if (fields_.size() >= limits_.max_field_lines) {
        return fail(ErrorCode::kLimitExceeded, std::string(section_name()) +
                                                   " has more field lines than DecodeLimits::max_field_lines (" +
                                                   std::to_string(limits_.max_field_lines) + ")");
      }
      if (auto s = account_section_bytes(encoded_size, "field name length"); !s) return std::unexpected(s.error());
      if (auto s = account_section_bytes(value, "field name"); !s) return std::unexpected(s.error());
      field_.name.clear();
      field_.name.reserve(static_cast<size_t>(value));
      string_remaining_ = value;
      stage_ = Stage::kFieldName;
      return std::nullopt;

    case Stage::kFieldValueLength:
      if (auto s = account_section_bytes(encoded_size, "field value length"); !s) return std::unexpected(s.error());
      if (auto s = account_section_bytes(value, "field value"); !s) return std::unexpected(s.error());
      field_.value.clear();
      field_.value.reserve(static_cast<size_t>(value));
      string_remaining_ = value;
      stage_ = Stage::kFieldValue;
      if (value == 0) return on_string_complete();
      return std::nullopt;

    case Stage::kContentLength:
      if (value > limits_.max_body_bytes) {
        return fail(ErrorCode::kLimitExceeded, "content length " + std::to_string(value) +
                                                   " exceeds DecodeLimits::max_body_bytes (" +
                                                   std::to_string(limits_.max_body_bytes) + ")");
      }
      body_bytes_ = value;
      data_remaining_ = value;
      if (value == 0) {
        begin_trailers();
      } else {
        stage_ = Stage::kContentData;
      }
      return std::nullopt;

    case Stage::kChunkLength:
      if (value == 0) {  // the content terminator
        begin_trailers();
        return std::nullopt;
      }
      if (value > limits_.max_body_bytes - body_bytes_) {
        return fail(ErrorCode::kLimitExceeded,
                    "content exceeds DecodeLimits::max_body_bytes (" + std::to_string(limits_.max_body_bytes) + ")");
      }
      body_bytes_ += value;
      saw_chunk_ = true;
      data_remaining_ = value;
      stage_ = Stage::kContentData;
      return std::nullopt;

    default:
      return fail(ErrorCode::kInternal, "varint in an unexpected state");
  }
}

StreamDecoder::StepResult StreamDecoder::on_string_complete() {
  switch (stage_) {
    case Stage::kControlValue: {
      const std::string& v = string_target();
      bool ok = control_index_ == 0 ? is_valid_method(v) : is_valid_control_field(v);
      if (!ok) return fail_decode(std::string("invalid ") + kControlNames[control_index_] + " " + quoted_excerpt(v));
      if (++control_index_ < 4) {
        stage_ = Stage::kControlLength;
      } else {
        begin_field_section(Section::kHeaders);
      }
      return std::nullopt;
    }
    case Stage::kFieldName:
      if (!is_valid_field_name(field_.name)) {
        return fail_decode("invalid field name " + quoted_excerpt(field_.name) + " in " +
                           std::string(section_name()));
      }
      stage_ = Stage::kFieldValueLength;
      return std::nullopt;
    case Stage::kFieldValue:
      if (!is_valid_field_value(field_.value)) {
        return fail_decode("invalid value " + quoted_excerpt(field_.value) + " of field \"" + field_.name +
                           "\" in " + std::string(section_name()));
      }
      fields_.push_back(std::move(field_));
      field_ = Field{};
      if (known() && section_bytes_ == section_len_) return end_field_section();
      stage_ = Stage::kFieldNameLength;
      return std::nullopt;
    default:
      return fail(ErrorCode::kInternal, "string in an unexpected state");
  }
}

bool StreamDecoder::at_truncation_point() const {
  if (varint_have_ != 0) return false;
  switch (stage_) {
    case Stage::kSectionLength:
      return section_ != Section::kInformational;
    case Stage::kFieldNameLength:  // only before the first byte of an indeterminate-length section
      return !known() && section_ != Section::kInformational && section_bytes_ == 0;
    case Stage::kContentLength:
      return true;
    case Stage::kChunkLength:  // only before the first chunk: non-empty content needs its terminator
      return !saw_chunk_;
    default:
      return false;
  }
}

std::string StreamDecoder::truncation_context() const {
  switch (stage_) {
    case Stage::kFramingIndicator: return "before the framing indicator is complete";
    case Stage::kControlLength:
    case Stage::kControlValue: return std::string("inside the request control data (") +
                                      kControlNames[control_index_] + ")";
    case Stage::kStatusCode:
      return informational_count_ > 0 ? "before the final status code" : "before the status code is complete";
    case Stage::kSectionLength:
    case Stage::kFieldNameLength:
    case Stage::kFieldName:
    case Stage::kFieldValueLength:
    case Stage::kFieldValue: return "inside the " + std::string(section_name());
    case Stage::kContentLength: return "inside the content length";
    case Stage::kChunkLength: return "inside the content (no content terminator)";
    case Stage::kContentData:
      return "inside the content (" + std::to_string(data_remaining_) + " more bytes announced)";
    default: return "unexpectedly";
  }
}

Result<DecodeEvent> StreamDecoder::next(ByteSpan& input) {
  if (stage_ == Stage::kFailed) return std::unexpected(error_);
  if (input_ended_ && !input.empty()) {
    return fail(ErrorCode::kInvalidArgument, "input passed to next() after finish()");
  }
  for (;;) {
    if (stage_ == Stage::kDone) return EndOfMessage{};
    if (input.empty()) {
      if (!input_ended_) return NeedMoreInput{};
      if (stage_ == Stage::kPadding) {
        stage_ = Stage::kDone;
        return EndOfMessage{};
      }
      if (!at_truncation_point()) return fail(ErrorCode::kTruncated, "message ends " + truncation_context());
      // RFC 9292 §3.8: a missing trailing part counts as one sent with a zero length.
      auto step = on_varint(0, 0);
      if (!step) return std::unexpected(step.error());
      if (*step) return std::move(**step);
      continue;
    }

    StepResult step = std::optional<DecodeEvent>{};
    switch (stage_) {
      case Stage::kFramingIndicator:
      case Stage::kControlLength:
      case Stage::kStatusCode:
      case Stage::kSectionLength:
      case Stage::kFieldNameLength:
      case Stage::kFieldValueLength:
      case Stage::kContentLength:
      case Stage::kChunkLength: {
        auto v = take_varint(input);
        if (!v) continue;  // the rest of the varint is in a later slice
        step = on_varint(*v, last_varint_size_);
        break;
      }
      case Stage::kControlValue:
      case Stage::kFieldName:
      case Stage::kFieldValue: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(string_remaining_, input.size()));
        string_target().append(reinterpret_cast<const char*>(input.data()), n);
        consume(input, n);
        offset_ += n;
        string_remaining_ -= n;
        if (string_remaining_ > 0) continue;
        step = on_string_complete();
        break;
      }
      case Stage::kContentData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(data_remaining_, input.size()));
        ByteSpan data = input.first(n);
        consume(input, n);
        offset_ += n;
        data_remaining_ -= n;
        if (data_remaining_ == 0) {
          if (known()) {
            begin_trailers();
          } else {
            stage_ = Stage::kChunkLength;
          }
        }
        return BodyData{data};
      }
      case Stage::kPadding: {
        auto it = std::find_if(input.begin(), input.end(), [](uint8_t b) { return b != 0; });
        offset_ += static_cast<uint64_t>(it - input.begin());
        if (it != input.end()) return fail_decode("non-zero padding byte");
        consume(input, input.size());
        continue;
      }
      case Stage::kDone:
      case Stage::kFailed:
        return fail(ErrorCode::kInternal, "unexpected decoder state");
    }
    if (!step) return std::unexpected(step.error());
    if (*step) return std::move(**step);
  }
}

Result<DecodeEvent> StreamDecoder::finish() {
  input_ended_ = true;
  ByteSpan none;
  return next(none);
}

// --- Whole messages ----------------------------------------------------------------------------------------------

Result<DecodedMessage> decode(ByteSpan encoded, const DecodeLimits& limits) {
  StreamDecoder decoder(limits);
  Request request;
  Response response;
  bool ended = false;
  auto handle = [&](DecodeEvent& event) {
    if (auto* info = std::get_if<InformationalResponse>(&event)) {
      response.informational.push_back(std::move(*info));
    } else if (auto* rh = std::get_if<RequestHead>(&event)) {
      static_cast<RequestHead&>(request) = std::move(*rh);
    } else if (auto* sh = std::get_if<ResponseHead>(&event)) {
      static_cast<ResponseHead&>(response) = std::move(*sh);
    } else if (auto* data = std::get_if<BodyData>(&event)) {
      Bytes& body = decoder.kind() == MessageKind::kRequest ? request.body : response.body;
      append(body, data->data);
    } else if (auto* tr = std::get_if<Trailers>(&event)) {
      (decoder.kind() == MessageKind::kRequest ? request.trailers : response.trailers) = std::move(tr->fields);
    } else if (std::holds_alternative<EndOfMessage>(event)) {
      ended = true;
    }
  };

  ByteSpan input = encoded;
  for (;;) {
    auto event = decoder.next(input);
    if (!event) return std::unexpected(event.error());
    if (std::holds_alternative<NeedMoreInput>(*event)) break;
    handle(*event);
  }
  while (!ended) {
    auto event = decoder.finish();
    if (!event) return std::unexpected(event.error());
    handle(*event);
  }

  DecodedMessage out;
  out.framing = *decoder.framing();
  if (decoder.kind() == MessageKind::kRequest) {
    out.message = std::move(request);
  } else {
    out.message = std::move(response);
  }
  return out;
}

Result<Request> decode_request(ByteSpan encoded, const DecodeLimits& limits) {
  auto decoded = decode(encoded, limits);
  if (!decoded) return std::unexpected(decoded.error());
  if (auto* request = std::get_if<Request>(&decoded->message)) return std::move(*request);
  return internal::bhttp_error(ErrorCode::kDecode, "expected a request, got a response");
}

Result<Response> decode_response(ByteSpan encoded, const DecodeLimits& limits) {
  auto decoded = decode(encoded, limits);
  if (!decoded) return std::unexpected(decoded.error());
  if (auto* response = std::get_if<Response>(&decoded->message)) return std::move(*response);
  return internal::bhttp_error(ErrorCode::kDecode, "expected a response, got a request");
}

}  // namespace openpcc::wire::bhttp
