// The compute node's checks of a decrypted user request before any of it reaches the inference engine — the
// reference worker's validator chain (confidentcompute computeworker/input_validators.go), in its order:
//
//   1. endpoint   method POST; no query string; the path equal to its cleaned form (path.Clean: no "//", ".", "..",
//                 trailing "/"); one of the four prompt paths below (anything else: 404, the only non-400 answer)
//   2. headers    Content-Type exactly "application/json"; no Transfer-Encoding or Content-Encoding field; the
//                 values of each header name together at most 1024 bytes; an X-Confsec-Badge field
//   3. host       the authority (or, without one, the Host field) exactly "confsec.invalid"; both, if both are given
//   4. badge      X-Confsec-Badge = base64(proto Badge) signed with the AuthBank's badge key (Ed25519)
//   5. body       non-empty, at most 1 MiB, equal to Content-Length if one is given; exactly one JSON object with
//                 only the fields the route knows, of the right JSON types (unknown fields are errors, like Go's
//                 DisallowUnknownFields); "model" served by this node AND listed in the badge; "prompt"
//                 (generate, completions) or a non-empty "messages" array (chat) present
//
// The engine receives a body re-serialized from the parsed JSON (so that it reads exactly what was checked, e.g.
// when a field is repeated), and for the OpenAI routes with "stream": true, "stream_options.include_usage" is forced
// to true: the node needs the usage record to compute the refund.
//
// Deviations from the reference, all stricter or equal: nesting deeper than 64 levels is refused; an absent
// Content-Length is accepted (BHTTP frames the body and the encryption authenticates it), a present one must match;
// a Host field that disagrees with the authority is refused; a repeated Content-Type, Content-Length or badge field
// is refused. A failure is answered by the node as an encrypted inner JSON response
// {"code":"Err…","error":"Request Validation Error","message":…} with the credit refunded in full.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/secure.h"
#include "crypto/ed25519.h"
#include "wire/bhttp_message.h"

namespace openpcc::computenode {

// The host every user request names: not resolvable anywhere, so a request can only reach a node through the
// encrypted path.
inline constexpr std::string_view kUserRequestHost = "confsec.invalid";
inline constexpr size_t kMaxPromptBodyBytes = 1 << 20;
inline constexpr size_t kMaxHeaderValueBytes = 1024;
inline constexpr size_t kMaxJsonDepth = 64;

inline constexpr std::string_view kOllamaGeneratePath = "/api/generate";
inline constexpr std::string_view kOllamaChatPath = "/api/chat";
inline constexpr std::string_view kOpenAiCompletionsPath = "/v1/completions";
inline constexpr std::string_view kOpenAiChatCompletionsPath = "/v1/chat/completions";

enum class PromptApi { kOllamaGenerate, kOllamaChat, kOpenAiCompletions, kOpenAiChatCompletions };

// Why a request was refused. The message never repeats request data other than a field name.
struct ValidationError {
  int status = 400;  // 404 for an unsupported endpoint, 400 otherwise
  std::string code;  // "ErrUnsupportedEndpoint", "ErrInvalidBadge", ... (the constants below)
  std::string message;
};

inline constexpr std::string_view kErrUnsupportedEndpoint = "ErrUnsupportedEndpoint";
inline constexpr std::string_view kErrQueryNotAllowed = "ErrQueryNotAllowed";
inline constexpr std::string_view kErrInvalidPath = "ErrInvalidPath";
inline constexpr std::string_view kErrInvalidContentType = "ErrInvalidContentType";
inline constexpr std::string_view kErrBlockedHeader = "ErrBlockedHeader";
inline constexpr std::string_view kErrHeaderTooLarge = "ErrHeaderTooLarge";
inline constexpr std::string_view kErrMissingBadge = "ErrMissingBadge";
inline constexpr std::string_view kErrInvalidHost = "ErrInvalidHost";
inline constexpr std::string_view kErrInvalidBadge = "ErrInvalidBadge";
inline constexpr std::string_view kErrEmptyBody = "ErrEmptyBody";
inline constexpr std::string_view kErrBodyTooLarge = "ErrBodyTooLarge";
inline constexpr std::string_view kErrContentLengthMismatch = "ErrContentLengthMismatch";
inline constexpr std::string_view kErrInvalidJson = "ErrInvalidJson";
inline constexpr std::string_view kErrUnknownField = "ErrUnknownField";
inline constexpr std::string_view kErrInvalidField = "ErrInvalidField";
inline constexpr std::string_view kErrMissingField = "ErrMissingField";
inline constexpr std::string_view kErrModelNotServed = "ErrModelNotServed";
inline constexpr std::string_view kErrModelNotInBadge = "ErrModelNotInBadge";

// The inner response body for a refused request: {"code":…,"error":"Request Validation Error","message":…}.
std::string validation_error_json(const ValidationError& error);

// A request that passed every check.
struct ValidatedRequest {
  PromptApi api = PromptApi::kOpenAiCompletions;
  std::string path;   // one of the four prompt paths
  std::string model;  // a model the node serves and the badge allows
  SecretBytes body;   // the JSON object to send to the engine (re-serialized, include_usage forced when streaming)
};

// path.Clean of Go's standard library for '/'-rooted paths: the shortest equivalent path ("/a//b/../c/" → "/a/c").
std::string clean_path(std::string_view path);

class RequestValidator {
 public:
  // `models`: the models this node serves.
  RequestValidator(crypto::Ed25519PublicKey badge_key, std::vector<std::string> models);

  // All checks above, in order; the first failure is returned.
  std::expected<ValidatedRequest, ValidationError> validate(const wire::bhttp::RequestHead& head,
                                                            ByteSpan body) const;

  const std::vector<std::string>& models() const { return models_; }

 private:
  crypto::Ed25519PublicKey badge_key_;
  std::vector<std::string> models_;
};

}  // namespace openpcc::computenode
