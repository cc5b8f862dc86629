// Protobuf over HTTP, the way the reference's bank, nonce-locker and router APIs speak it: request and response
// bodies are serialized protobuf messages with `Content-Type: application/octet-stream`; failures carry an
// `Error{Message}` body (proto/openpcc/httpfmt.proto) with a status that says what kind of failure it was.
//
// Handlers use it like this:
//
//   pb::DepositRequest in;
//   if (auto ok = co_await read_proto(req, in, kMaxBody); !ok) co_return co_await send_error(res, ok.error());
//   ...
//   co_return co_await send_proto(res, 200, out);
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "common/error.h"
#include "net/server.h"

namespace google::protobuf {
class MessageLite;
}

namespace openpcc::services {

inline constexpr std::string_view kProtoMediaType = "application/octet-stream";

// Reads the whole request body (at most `max_body_bytes`), requires the protobuf media type, and parses it into
// `message`. Errors: kUnsupported (wrong Content-Type → 415), kLimitExceeded (→ 413), kDecode (not a valid
// message → 400), and the body-read errors of net::ServerRequest.
net::Task<Status> read_proto(net::ServerRequest& request, google::protobuf::MessageLite& message,
                             size_t max_body_bytes);

// Sends `message` as the complete response.
net::Task<Status> send_proto(net::ServerResponse& response, int status, const google::protobuf::MessageLite& message);

// The HTTP status for an error of the given kind, as every service answers it unless it documents otherwise:
//   400 invalid argument / decode / truncated / authentication failed (a bad signature is bad input)
//   401 unauthenticated   404 not found   409 conflict   410 already used   413 limit exceeded
//   415 unsupported       429 insufficient balance       503 unavailable / timeout   500 anything else
int http_status_for(ErrorCode code);

// Sends an Error{Message} body with http_status_for(error.code) (or `status` if given). 5xx answers say only
// "internal error" / "temporarily unavailable": an error's text may describe internals (a database, a file), so its
// details are logged by the caller, not sent.
net::Task<Status> send_error(net::ServerResponse& response, const Error& error, int status = 0);

// Sends an Error{Message} body carrying `message` as given, whatever the status: for answers whose words the service
// chose for its clients to read, such as the router's 503 "all candidate nodes unavailable". Never pass an error's
// own text here (that is what send_error is for).
net::Task<Status> send_message(net::ServerResponse& response, int status, std::string_view message);

// Parses a response body written by send_error (for clients of these APIs); falls back to the raw text.
std::string error_message_from_body(ByteSpan body);

// Dispatches requests by exact path and method; unknown paths answer 404, known paths with another method 405
// (with an Allow header), both as Error bodies.
class Routes {
 public:
  void add(std::string method, std::string path, net::Handler handler);
  // A handler for the whole server (pass to net::Server::start). The query string is ignored for matching.
  net::Handler handler() const;

 private:
  std::map<std::string, std::map<std::string, net::Handler>, std::less<>> by_path_;
};

}  // namespace openpcc::services
