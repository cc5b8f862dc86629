// A private request as an SDK user gives it (client.h), and what the client makes of it before encrypting: the node
// tags to ask the router for, and the inner HTTP request the compute node decrypts.
//
//   Request r;
//   r.path = "/v1/chat/completions";
//   r.body = to_bytes(R"({"model":"llama3","messages":[...],"stream":true})");
//   auto tags  = request_tags(r, {"llm"});                       // {"llm", "model=llama3"}
//   auto inner = build_inner_request(r, badge);                  // POST http://confsec.invalid/v1/chat/completions
//   auto bhttp = encode_inner_request(*inner);                   // the 514-byte fixed-size BHTTP profile
//
// The inner request is what the node validates (confidentcompute's validators): Host confsec.invalid, Content-Type
// application/json, a Content-Length equal to the body's, the X-Confsec-Badge header, no Transfer-Encoding. The
// user's other headers travel as given (inside the encryption: the router and the gateway never see them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "currency/badge.h"
#include "net/headers.h"
#include "wire/bhttp_message.h"

namespace openpcc::client {

// The host every user request is addressed to; a node refuses any other.
inline constexpr std::string_view kUserRequestHost = "confsec.invalid";
inline constexpr std::string_view kJsonMediaType = "application/json";
// The tag key a node advertises per model it serves ("model=llama3").
inline constexpr std::string_view kModelTagPrefix = "model=";

struct Request {
  std::string method = "POST";
  std::string path;                   // origin form, e.g. "/v1/chat/completions"
  net::Headers headers;               // extra inner headers (Content-Type defaults to application/json)
  Bytes body;                         // the JSON body
  std::vector<std::string> tags;      // node tags; empty = the client's default tags
  std::optional<int64_t> credit_amount;  // empty = the client's configured amount
  // false (default): an inner status ≥ 400 is an "engine: " error carrying the answer's message. true: such
  // answers are handed out as Responses like any other (their status() tells).
  bool raw_status = false;
};

// The four paths that run a model: /api/generate, /api/chat (Ollama), /v1/completions, /v1/chat/completions. A query
// string does not change the path ("/v1/chat/completions?x=1" runs a model too).
bool is_prompt_path(std::string_view path);

// The "model" member of a JSON object body, if the body is one and the member is a non-empty string.
std::optional<std::string> model_of(ByteSpan json_body);

// The tags a request asks the router for: request.tags, or `default_tags` when it has none, plus
// "model=<body's model>" for a prompt path when no model= tag is there yet. kInvalidArgument ("request: …") for a
// prompt path without any model, or an empty or over-long (> 512 bytes) tag.
Result<std::vector<std::string>> request_tags(const Request& request, const std::vector<std::string>& default_tags);

// The inner request: method, scheme "http", authority confsec.invalid, the path; the user's headers without Host,
// Content-Length, X-Confsec-Badge and hop-by-hop fields; then Content-Type (application/json unless given),
// Content-Length and X-Confsec-Badge. Field names are lowercase, as BHTTP carries them. kInvalidArgument ("request: …") for a path that is not origin form or a
// header that BHTTP cannot carry.
Result<wire::bhttp::Request> build_inner_request(const Request& request, const currency::Badge& badge);

// BHTTP in the compute profile: indeterminate length, content chunks of ≤ 512 bytes, padded to a multiple of 514
// (so every sealed piece of the body is exactly 514 plaintext bytes).
Result<Bytes> encode_inner_request(const wire::bhttp::Request& request);

}  // namespace openpcc::client
