#include "common/error.h"

namespace openpcc {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kDecode: return "decode";
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kLimitExceeded: return "limit exceeded";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kAuthenticationFailed: return "authentication failed";
    case ErrorCode::kCrypto: return "crypto";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kIo: return "i/o";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kAlreadyUsed: return "already used";
    case ErrorCode::kInsufficientBalance: return "insufficient balance";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kUnavailable: return "unavailable";
  }
  return "unknown";
}

std::string Error::to_string() const {
  return std::string(openpcc::to_string(code)) + ": " + message;
}

}  // namespace openpcc
