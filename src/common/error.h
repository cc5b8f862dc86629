// Errors as values. Every fallible API in the project returns Result<T>; nothing throws across module APIs.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace openpcc {

enum class ErrorCode {
  kInvalidArgument,       // caller passed something malformed (bad length, unknown id, ...)
  kDecode,                // input bytes do not parse
  kTruncated,             // input ended early; a streaming caller may supply more
  kLimitExceeded,         // a configured size/count limit was hit
  kUnsupported,           // well-formed but not supported (unknown suite, mode, ...)
  kAuthenticationFailed,  // AEAD open / signature check failed
  kCrypto,                // the crypto library failed
  kNotFound,
  kIo,
  kTimeout,
  kInternal,
  kConflict,             // the resource is busy (a nonce locked by someone else)
  kAlreadyUsed,          // the resource was used up (a spent nonce)
  kInsufficientBalance,  // an account holds less than asked for
  kUnauthenticated,      // missing, unknown, revoked or expired credentials
  kUnavailable,          // a transient failure (storage busy, peer down); retrying may succeed
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;

  // "decode: bhttp: field section exceeds 16384 bytes"
  std::string to_string() const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> make_error(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

// Prefixes context to an error as it travels up: wrap_error("ohttp request", e).
inline Error wrap_error(std::string_view context, Error e) {
  e.message = std::string(context) + ": " + e.message;
  return e;
}

}  // namespace openpcc
