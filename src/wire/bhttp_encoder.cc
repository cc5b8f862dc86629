#include "wire/bhttp_encoder.h"

#include <algorithm>

#include "common/varint.h"
#include "wire/bhttp_internal.h"

namespace openpcc::wire::bhttp {

namespace {

using internal::bhttp_error;
using internal::quoted_excerpt;

Status validate_fields(const Fields& fields, std::string_view section) {
  for (const Field& f : fields) {
    if (!is_valid_field_name(f.name)) {
      return bhttp_error(ErrorCode::kInvalidArgument,
                         "invalid field name " + quoted_excerpt(f.name) + " in " + std::string(section));
    }
    if (!is_valid_field_value(f.value)) {
      return bhttp_error(ErrorCode::kInvalidArgument, "invalid value " + quoted_excerpt(f.value) + " of field \"" +
                                                          f.name + "\" in " + std::string(section));
    }
  }
  return {};
}

Status validate_request_head(const RequestHead& head) {
  if (!is_valid_method(head.method)) {
    return bhttp_error(ErrorCode::kInvalidArgument, "invalid method " + quoted_excerpt(head.method));
  }
  const std::pair<const char*, const std::string*> controls[] = {
      {"scheme", &head.scheme}, {"authority", &head.authority}, {"path", &head.path}};
  for (const auto& [what, value] : controls) {
    if (!is_valid_control_field(*value)) {
      return bhttp_error(ErrorCode::kInvalidArgument, std::string("invalid ") + what + " " + quoted_excerpt(*value));
    }
  }
  return validate_fields(head.headers, "header section");
}

Status validate_informational(const InformationalResponse& info) {
  if (!is_informational_status(info.status)) {
    return bhttp_error(ErrorCode::kInvalidArgument,
                       "informational status " + std::to_string(info.status) + " is not in 100..199");
  }
  return validate_fields(info.headers, "informational header section");
}

Status validate_response_head(const ResponseHead& head) {
  if (!is_final_status(head.status)) {
    return bhttp_error(ErrorCode::kInvalidArgument,
                       "final status " + std::to_string(head.status) + " is not in 200..599");
  }
  return validate_fields(head.headers, "header section");
}

size_t prefixed_size(size_t len) { return varint_size(len) + len; }

// Encoded size of the field lines of a section (without a length prefix or terminator).
size_t field_lines_size(const Fields& fields) {
  size_t n = 0;
  for (const Field& f : fields) n += prefixed_size(f.name.size()) + prefixed_size(f.value.size());
  return n;
}

size_t control_data_size(const RequestHead& head) {
  return prefixed_size(head.method.size()) + prefixed_size(head.scheme.size()) +
         prefixed_size(head.authority.size()) + prefixed_size(head.path.size());
}

void append_prefixed(Bytes& out, std::string_view s) {
  append_varint(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void append_field_lines(Bytes& out, const Fields& fields) {
  for (const Field& f : fields) {
    append_varint(out, f.name.size());
    for (char c : f.name) out.push_back(static_cast<uint8_t>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c));
    append_prefixed(out, f.value);
  }
}

void append_control_data(Bytes& out, const RequestHead& head) {
  append_prefixed(out, head.method);
  append_prefixed(out, head.scheme);
  append_prefixed(out, head.authority);
  append_prefixed(out, head.path);
}

// Total length after padding an unpadded message of `len` bytes.
uint64_t padded_length(uint64_t len, size_t padding_len, size_t multiple) {
  uint64_t total = len + padding_len;
  if (multiple > 1) {
    uint64_t rem = total % multiple;
    if (rem != 0) total += multiple - rem;
  }
  return total;
}

void append_known_length_section(Bytes& out, const Fields& fields, size_t lines_size) {
  append_varint(out, lines_size);
  append_field_lines(out, fields);
}

void append_indeterminate_section(Bytes& out, const Fields& fields) {
  append_field_lines(out, fields);
  append_varint(out, 0);
}

// The part of a known-length message after the control data of the final response/request: header section,
// content and trailer section, truncated as the options allow.
struct KnownLengthTail {
  const Fields& headers;
  ByteSpan body;
  const Fields& trailers;
  size_t headers_size;
  size_t trailers_size;
  bool emit_headers;
  bool emit_body;
  bool emit_trailers;

  KnownLengthTail(const Fields& h, ByteSpan b, const Fields& t, bool truncate)
      : headers(h), body(b), trailers(t), headers_size(field_lines_size(h)), trailers_size(field_lines_size(t)) {
    emit_trailers = !truncate || !trailers.empty();
    emit_body = emit_trailers || !body.empty();
    emit_headers = emit_body || !headers.empty();
  }

  size_t size() const {
    return (emit_headers ? prefixed_size(headers_size) : 0) + (emit_body ? prefixed_size(body.size()) : 0) +
           (emit_trailers ? prefixed_size(trailers_size) : 0);
  }

  void append_to(Bytes& out) const {
    if (emit_headers) append_known_length_section(out, headers, headers_size);
    if (emit_body) {
      append_varint(out, body.size());
      append(out, body);
    }
    if (emit_trailers) append_known_length_section(out, trailers, trailers_size);
  }
};

void append_padding(Bytes& out, uint64_t unpadded_len, size_t padding_len, size_t multiple) {
  out.resize(out.size() + (padded_length(unpadded_len, padding_len, multiple) - unpadded_len), 0);
}

Result<Bytes> encode_known_length(const Request& request, const EncodeOptions& options) {
  if (auto s = validate_request_head(request); !s) return std::unexpected(s.error());
  if (auto s = validate_fields(request.trailers, "trailer section"); !s) return std::unexpected(s.error());
  KnownLengthTail tail(request.headers, request.body, request.trailers, options.truncate_empty_tail);
  size_t unpadded = 1 + control_data_size(request) + tail.size();
  Bytes out;
  out.reserve(padded_length(unpadded, options.padding_len, options.pad_to_multiple_of));
  append_varint(out, framing_indicator(MessageKind::kRequest, Framing::kKnownLength));
  append_control_data(out, request);
  tail.append_to(out);
  append_padding(out, unpadded, options.padding_len, options.pad_to_multiple_of);
  return out;
}

Result<Bytes> encode_known_length(const Response& response, const EncodeOptions& options) {
  for (const auto& info : response.informational) {
    if (auto s = validate_informational(info); !s) return std::unexpected(s.error());
  }
  if (auto s = validate_response_head(response); !s) return std::unexpected(s.error());
  if (auto s = validate_fields(response.trailers, "trailer section"); !s) return std::unexpected(s.error());
  KnownLengthTail tail(response.headers, response.body, response.trailers, options.truncate_empty_tail);
  size_t unpadded = 1 + varint_size(response.status) + tail.size();
  for (const auto& info : response.informational) {
    unpadded += varint_size(info.status) + prefixed_size(field_lines_size(info.headers));
  }
  Bytes out;
  out.reserve(padded_length(unpadded, options.padding_len, options.pad_to_multiple_of));
  append_varint(out, framing_indicator(MessageKind::kResponse, Framing::kKnownLength));
  for (const auto& info : response.informational) {
    append_varint(out, info.status);
    append_known_length_section(out, info.headers, field_lines_size(info.headers));
  }
  append_varint(out, response.status);
  tail.append_to(out);
  append_padding(out, unpadded, options.padding_len, options.pad_to_multiple_of);
  return out;
}

// A generous size estimate for an indeterminate-length message, to reserve once.
size_t indeterminate_estimate(size_t head_size, size_t body_size, size_t trailers_size, const EncodeOptions& o) {
  size_t chunks = o.max_chunk_data_len == 0 ? 1 : body_size / o.max_chunk_data_len + 1;
  size_t n = head_size + body_size + chunks * 8 + trailers_size + 16 + o.padding_len;
  return n + o.pad_to_multiple_of;
}

Result<Bytes> encode_indeterminate_length(const Request& request, const EncodeOptions& options) {
  Bytes out;
  out.reserve(indeterminate_estimate(control_data_size(request) + field_lines_size(request.headers),
                                     request.body.size(), field_lines_size(request.trailers), options));
  StreamEncoder enc(options);
  if (auto s = enc.begin_request(request, out); !s) return std::unexpected(s.error());
  if (auto s = enc.body(request.body, out); !s) return std::unexpected(s.error());
  if (auto s = enc.finish(request.trailers, out); !s) return std::unexpected(s.error());
  return out;
}

Result<Bytes> encode_indeterminate_length(const Response& response, const EncodeOptions& options) {
  size_t head_size = 8 + field_lines_size(response.headers);
  for (const auto& info : response.informational) head_size += 8 + field_lines_size(info.headers);
  Bytes out;
  out.reserve(indeterminate_estimate(head_size, response.body.size(), field_lines_size(response.trailers), options));
  StreamEncoder enc(options);
  for (const auto& info : response.informational) {
    if (auto s = enc.informational(info, out); !s) return std::unexpected(s.error());
  }
  if (auto s = enc.begin_response(response, out); !s) return std::unexpected(s.error());
  if (auto s = enc.body(response.body, out); !s) return std::unexpected(s.error());
  if (auto s = enc.finish(response.trailers, out); !s) return std::unexpected(s.error());
  return out;
}

}  // namespace

Result<Bytes> encode(const Request& request, const EncodeOptions& options) {
  return options.framing == Framing::kKnownLength ? encode_known_length(request, options)
                                                  : encode_indeterminate_length(request, options);
}

Result<Bytes> encode(const Response& response, const EncodeOptions& options) {
  return options.framing == Framing::kKnownLength ? encode_known_length(response, options)
                                                  : encode_indeterminate_length(response, options);
}

Result<Bytes> encode(const Message& message, const EncodeOptions& options) {
  return std::visit([&](const auto& m) { return encode(m, options); }, message);
}

size_t max_chunk_data_len_for(size_t encoded_len) {
  size_t len = encoded_len;
  while (len > 1 && len + varint_size(len) > encoded_len) --len;
  return std::max<size_t>(len, 1);
}

EncodeOptions fixed_size_profile(size_t chunk_len, Framing framing) {
  EncodeOptions o;
  o.framing = framing;
  o.max_chunk_data_len = max_chunk_data_len_for(chunk_len);
  o.pad_to_multiple_of = chunk_len;
  return o;
}

// --- StreamEncoder -----------------------------------------------------------------------------------------------

StreamEncoder::StreamEncoder(const EncodeOptions& options) : options_(options) {}

namespace {
std::unexpected<Error> out_of_order(std::string_view call, std::string_view expected) {
  return bhttp_error(ErrorCode::kInvalidArgument,
                     "stream encoder: " + std::string(call) + " called out of order (expected " +
                         std::string(expected) + ")");
}
}  // namespace

Status StreamEncoder::begin_request(const RequestHead& head, Bytes& out) {
  if (stage_ != Stage::kStart) return out_of_order("begin_request", "a fresh encoder");
  if (auto s = validate_request_head(head); !s) return s;
  size_t before = out.size();
  append_varint(out, framing_indicator(MessageKind::kRequest, Framing::kIndeterminateLength));
  append_control_data(out, head);
  append_indeterminate_section(out, head.headers);
  emitted_ += out.size() - before;
  stage_ = Stage::kBody;
  return {};
}

Status StreamEncoder::informational(const InformationalResponse& response, Bytes& out) {
  if (stage_ != Stage::kStart && stage_ != Stage::kInformational) {
    return out_of_order("informational", "a response before its final head");
  }
  if (auto s = validate_informational(response); !s) return s;
  size_t before = out.size();
  if (stage_ == Stage::kStart) {
    append_varint(out, framing_indicator(MessageKind::kResponse, Framing::kIndeterminateLength));
  }
  append_varint(out, response.status);
  append_indeterminate_section(out, response.headers);
  emitted_ += out.size() - before;
  stage_ = Stage::kInformational;
  return {};
}

Status StreamEncoder::begin_response(const ResponseHead& head, Bytes& out) {
  if (stage_ != Stage::kStart && stage_ != Stage::kInformational) {
    return out_of_order("begin_response", "a fresh encoder or informational responses");
  }
  if (auto s = validate_response_head(head); !s) return s;
  size_t before = out.size();
  if (stage_ == Stage::kStart) {
    append_varint(out, framing_indicator(MessageKind::kResponse, Framing::kIndeterminateLength));
  }
  append_varint(out, head.status);
  append_indeterminate_section(out, head.headers);
  emitted_ += out.size() - before;
  stage_ = Stage::kBody;
  return {};
}

Status StreamEncoder::body(ByteSpan data, Bytes& out) {
  if (stage_ != Stage::kBody) return out_of_order("body", "a head first, and no finish yet");
  size_t before = out.size();
  size_t max = options_.max_chunk_data_len == 0 ? data.size() : options_.max_chunk_data_len;
  while (!data.empty()) {
    size_t n = std::min(max, data.size());
    append_varint(out, n);
    append(out, data.first(n));
    data = data.subspan(n);
  }
  emitted_ += out.size() - before;
  return {};
}

Status StreamEncoder::finish(const Fields& trailers, Bytes& out, size_t extra_padding) {
  if (stage_ != Stage::kBody) return out_of_order("finish", "a head first, and finish only once");
  if (auto s = validate_fields(trailers, "trailer section"); !s) return s;
  size_t before = out.size();
  append_varint(out, 0);  // content terminator
  append_indeterminate_section(out, trailers);
  uint64_t unpadded = emitted_ + (out.size() - before);
  append_padding(out, unpadded, options_.padding_len + extra_padding, options_.pad_to_multiple_of);
  emitted_ += out.size() - before;
  stage_ = Stage::kFinished;
  return {};
}

}  // namespace openpcc::wire::bhttp
