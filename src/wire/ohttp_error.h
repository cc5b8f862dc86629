// The Oblivious HTTP gateway's error taxonomy (as the Go reference defines it), its HTTP status mapping and the
// application/problem+json bodies a gateway answers with. Pure data: no HTTP library is involved.
//
//   code  name                        HTTP  problem type
//   1     RequestIO                   400   about:blank
//   2     ResponseIO                  500   about:blank
//   100   InvalidRequestHeader        400   https://iana.org/assignments/http-problem-types#ohttp-key
//   101   KeyNotFound                 400   (same, "Oblivious HTTP key configuration not acceptable")
//   102   InvalidKey                  400   (same)
//   103   InactiveKey                 400   (same)
//   200   InvalidRequestContentType   400   about:blank
//   201   RequestDecoding             400   about:blank
//   202   InvalidRequest              400   about:blank
//   300   ResponseEncoding            500   about:blank
//   301   ResponseEncryption          500   about:blank
//
// Gateway-side decapsulation (wire/ohttp.h, wire/ohttp_chunked.h) reports failures as an OhttpError: the Error
// (code and message, for logs) plus the taxonomy code that decides what the client is told.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace openpcc::wire::ohttp {

enum class OhttpErrorCode : uint16_t {
  kRequestIo = 1,
  kResponseIo = 2,
  kInvalidRequestHeader = 100,
  kKeyNotFound = 101,
  kInvalidKey = 102,
  kInactiveKey = 103,
  kInvalidRequestContentType = 200,
  kRequestDecoding = 201,
  kInvalidRequest = 202,
  kResponseEncoding = 300,
  kResponseEncryption = 301,
};

// "KeyNotFound", ...; "Unknown" for values outside the taxonomy.
std::string_view name(OhttpErrorCode code);
// The taxonomy code for a wire number; nullopt if it is not one.
std::optional<OhttpErrorCode> ohttp_error_code_from(uint16_t value);

// 100-103: the client should refetch key configurations.
bool is_key_error(OhttpErrorCode code);
// 1 and 200-202: the client sent something unacceptable.
bool is_request_error(OhttpErrorCode code);

inline constexpr std::string_view kProblemJsonMediaType = "application/problem+json";
inline constexpr std::string_view kKeyProblemType = "https://iana.org/assignments/http-problem-types#ohttp-key";
inline constexpr std::string_view kKeyProblemTitle = "Oblivious HTTP key configuration not acceptable";

// What a gateway sends for an error: status, Content-Type and body.
struct ProblemResponse {
  int status;                                          // 400 or 500
  std::string_view content_type = kProblemJsonMediaType;
  std::string body;                                    // {"type":"...","title":"..."}
};

// 400 for key and request errors, 500 otherwise.
int http_status(OhttpErrorCode code);
// Key errors: the ohttp-key problem type and title above. Others: type "about:blank" with the status's reason
// phrase as title ("Bad Request" / "Internal Server Error"), as RFC 9457 §4.2.1 prescribes for about:blank.
ProblemResponse problem_response(OhttpErrorCode code);

// A gateway-side failure: what went wrong, and which taxonomy code it maps to.
struct OhttpError {
  OhttpErrorCode code;
  Error error;

  // "KeyNotFound (101): not_found: ohttp: no key with id 7 for KEM 0x0020"
  std::string to_string() const;
};

template <class T>
using OhttpResult = std::expected<T, OhttpError>;
using OhttpStatus = std::expected<void, OhttpError>;

inline std::unexpected<OhttpError> make_ohttp_error(OhttpErrorCode code, Error error) {
  return std::unexpected<OhttpError>(OhttpError{code, std::move(error)});
}
inline std::unexpected<OhttpError> make_ohttp_error(OhttpErrorCode code, ErrorCode error_code, std::string message) {
  return make_ohttp_error(code, Error{error_code, std::move(message)});
}

}  // namespace openpcc::wire::ohttp
