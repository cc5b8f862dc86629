// The data model of Binary HTTP messages (RFC 9292): requests, responses, field lines, framing, and the validity
// rules that both the encoder and the decoder enforce.
//
// The model carries HTTP semantics only. How a message was framed on the wire (known or indeterminate length) is
// reported by the decoder next to the message and chosen by the caller when encoding; padding and truncation are
// wire details that never reach the model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/bytes.h"

namespace openpcc::wire::bhttp {

enum class MessageKind : uint8_t { kRequest, kResponse };

// RFC 9292 §3.3. Known-length messages prefix every field section and the content with its length; indeterminate-
// length ones end field sections with a zero and send content as non-empty chunks ended by a zero.
enum class Framing : uint8_t { kKnownLength, kIndeterminateLength };

// The framing indicator that starts a message: 0/1 known-length request/response, 2/3 indeterminate.
uint8_t framing_indicator(MessageKind kind, Framing framing);

// One field line. Encoders lowercase the name; the decoder returns names exactly as read (RFC 9110 names are case-
// insensitive, and a valid token may contain uppercase letters).
struct Field {
  std::string name;
  std::string value;
  bool operator==(const Field&) const = default;
};

// An ordered list of field lines; repeated names are separate entries, in wire order.
using Fields = std::vector<Field>;

// The value of the first field named `name` (ASCII case-insensitive), if any.
std::optional<std::string_view> find_field(const Fields& fields, std::string_view name);

// Request control data (RFC 9292 §3.4) and the header section. All four control fields are always encoded; an
// absent pseudo-header (e.g. :authority, or :scheme/:path of CONNECT) is the empty string.
struct RequestHead {
  std::string method;
  std::string scheme;
  std::string authority;
  std::string path;
  Fields headers;
  bool operator==(const RequestHead&) const = default;
};

// A 1xx response that precedes the final one (RFC 9292 §3.5.1): status 100..199 and its header section.
struct InformationalResponse {
  uint16_t status = 100;
  Fields headers;
  bool operator==(const InformationalResponse&) const = default;
};

// The final response's control data (status 200..599) and header section.
struct ResponseHead {
  uint16_t status = 200;
  Fields headers;
  bool operator==(const ResponseHead&) const = default;
};

struct Request : RequestHead {
  Bytes body;
  Fields trailers;
  bool operator==(const Request&) const = default;
};

struct Response : ResponseHead {
  std::vector<InformationalResponse> informational;  // in wire order, before the final status
  Bytes body;
  Fields trailers;
  bool operator==(const Response&) const = default;
};

using Message = std::variant<Request, Response>;

// --- Validity rules (shared by encoder and decoder) --------------------------------------------------------------

// RFC 9110 §5.1: a field name is a non-empty token (tchar = ALPHA / DIGIT / "!#$%&'*+-.^_`|~"). This excludes
// pseudo-fields (":path", ...), which RFC 9292 §3.6 forbids for control data and we do not support for extensions.
bool is_valid_field_name(std::string_view name);

// RFC 9292 §3.6 defers to RFC 9113 §8.2.1: a value must not contain NUL, CR or LF, and must not start or end with
// SP or HTAB. Everything else (including obs-text bytes >= 0x80) is accepted.
bool is_valid_field_value(std::string_view value);

// A method is a non-empty token (RFC 9110 §9.1).
bool is_valid_method(std::string_view method);

// Scheme, authority and path may be empty but must not contain control characters (0x00-0x1f, 0x7f) or spaces:
// stricter than RFC 9292 requires, so that a gateway replaying the request over HTTP/1.1 cannot be made to split it.
bool is_valid_control_field(std::string_view value);

inline bool is_informational_status(uint64_t status) { return status >= 100 && status <= 199; }
inline bool is_final_status(uint64_t status) { return status >= 200 && status <= 599; }

}  // namespace openpcc::wire::bhttp
