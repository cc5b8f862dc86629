// Errors of the local OpenAI-/Ollama-compatible proxy, as the tools in front of it expect them.
//
// OpenAI paths answer {"error": {"message", "type", "param", "code"}} (what the official SDKs turn into their typed
// errors: 404 → NotFoundError, 401 → AuthenticationError, …); Ollama paths answer {"error": "<message>"}, which is
// what Ollama's clients read. Either way the message starts with the step of a private request that failed
// ("no verified node: …", "payment: …", client/request_step.h), or "proxy: " for the proxy's own checks.
//
// How a failed private request maps to HTTP (from_client_error):
//   request                 400 invalid_request_error  invalid_request
//   no verified node        404 invalid_request_error  model_not_found   (no node lists the model's tag)
//                           502 api_error              no_verified_node  (nodes listed, none passed the policy)
//   payment                 429 insufficient_quota     insufficient_quota (the account's balance is too low)
//                           503 api_error              payment_unavailable (anything else)
//   auth                    502 api_error              auth_failed
//   routing                 503 api_error              routing_unavailable (the router has no node free: a 503)
//                           502 api_error              routing_failed
//   node                    502 api_error              node_failed
//   engine                  502 api_error              engine_failed
//   config / no step        500 api_error              internal_error
//   a timeout at any step   504, type and code as above
// Answers that a retry cannot fix (4xx, and 429 insufficient_quota: waiting adds no credits) carry
// x-should-retry: false, which the official SDKs honour; 5xx carry x-should-retry: true.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "net/headers.h"

namespace openpcc::client::openai_proxy {

// The API family a path belongs to, which decides the error body's shape.
enum class ApiFamily { kOpenAi, kOllama };

struct ApiError {
  int status = 500;
  std::string type;     // OpenAI "type": invalid_request_error, authentication_error, api_error, …
  std::string code;     // OpenAI "code": model_not_found, invalid_api_key, … (empty → JSON null)
  std::string param;    // OpenAI "param" (empty → JSON null)
  std::string message;  // starts with the failed step
  bool retryable = false;
};

// The body of `error` in `family`'s shape (compact JSON).
std::string error_body(const ApiError& error, ApiFamily family);

// The response header fields of an error answer: Content-Type application/json, and x-should-retry.
net::Headers error_headers(const ApiError& error);

// A failed private request (an Error from client::Client, its message starting with the step) as an API error.
ApiError from_client_error(const Error& error);

// The node's (or its engine's) error answer — inner status ≥ 400 and its body — as an API error. Bodies the proxy
// understands: OpenAI's {"error": {…}} (type, code and param are kept), the node's validation error {"code": "Err…",
// "message": …} (the code is kept), Ollama's {"error": "…"}; anything else is quoted as text (printable, cut short).
// The message starts with "engine: the node answered <status>"; the status is the node's.
ApiError from_engine_answer(int status, ByteSpan body);

// The proxy's own refusals.
ApiError proxy_error(int status, std::string type, std::string code, std::string message,
                     std::string param = {});

}  // namespace openpcc::client::openai_proxy
