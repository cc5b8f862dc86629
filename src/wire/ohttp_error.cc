#include "wire/ohttp_error.h"

namespace openpcc::wire::ohttp {

std::string_view name(OhttpErrorCode code) {
  switch (code) {
    case OhttpErrorCode::kRequestIo: return "RequestIO";
    case OhttpErrorCode::kResponseIo: return "ResponseIO";
    case OhttpErrorCode::kInvalidRequestHeader: return "InvalidRequestHeader";
    case OhttpErrorCode::kKeyNotFound: return "KeyNotFound";
    case OhttpErrorCode::kInvalidKey: return "InvalidKey";
    case OhttpErrorCode::kInactiveKey: return "InactiveKey";
    case OhttpErrorCode::kInvalidRequestContentType: return "InvalidRequestContentType";
    case OhttpErrorCode::kRequestDecoding: return "RequestDecoding";
    case OhttpErrorCode::kInvalidRequest: return "InvalidRequest";
    case OhttpErrorCode::kResponseEncoding: return "ResponseEncoding";
    case OhttpErrorCode::kResponseEncryption: return "ResponseEncryption";
  }
  return "Unknown";
}

std::optional<OhttpErrorCode> ohttp_error_code_from(uint16_t value) {
  auto code = static_cast<OhttpErrorCode>(value);
  if (name(code) == "Unknown") return std::nullopt;
  return code;
}

bool is_key_error(OhttpErrorCode code) {
  auto v = static_cast<uint16_t>(code);
  return v >= 100 && v <= 103;
}

bool is_request_error(OhttpErrorCode code) {
  auto v = static_cast<uint16_t>(code);
  return v == 1 || (v >= 200 && v <= 202);
}

int http_status(OhttpErrorCode code) { return is_key_error(code) || is_request_error(code) ? 400 : 500; }

ProblemResponse problem_response(OhttpErrorCode code) {
  const int status = http_status(code);
  std::string body;
  if (is_key_error(code)) {
    // Both strings are fixed ASCII without quotes or backslashes, so no JSON escaping is needed.
    body = "{\"type\":\"" + std::string(kKeyProblemType) + "\",\"title\":\"" + std::string(kKeyProblemTitle) + "\"}";
  } else {
    body = std::string("{\"type\":\"about:blank\",\"title\":\"") +
           (status == 400 ? "Bad Request" : "Internal Server Error") + "\"}";
  }
  return ProblemResponse{status, kProblemJsonMediaType, std::move(body)};
}

std::string OhttpError::to_string() const {
  return std::string(name(code)) + " (" + std::to_string(static_cast<uint16_t>(code)) + "): " + error.to_string();
}

}  // namespace openpcc::wire::ohttp
