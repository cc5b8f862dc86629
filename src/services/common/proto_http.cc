#include "services/common/proto_http.h"

#include <google/protobuf/message_lite.h>

#include <memory>
#include <utility>

#include "openpcc/httpfmt.pb.h"

namespace openpcc::services {

namespace {

bool is_proto_media_type(std::string_view value) {
  // Accept parameters ("; charset=…" is meaningless here but harmless) and any letter case.
  auto semicolon = value.find(';');
  if (semicolon != std::string_view::npos) value = value.substr(0, semicolon);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  if (value.size() != kProtoMediaType.size()) return false;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kProtoMediaType[i]) return false;
  }
  return true;
}

}  // namespace

net::Task<Status> read_proto(net::ServerRequest& request, google::protobuf::MessageLite& message,
                             size_t max_body_bytes) {
  auto type = request.headers().get("Content-Type");
  if (!type || !is_proto_media_type(*type)) {
    co_return make_error(ErrorCode::kUnsupported, "Content-Type must be application/octet-stream");
  }
  if (auto length = request.content_length(); length && *length > max_body_bytes) {
    co_return make_error(ErrorCode::kLimitExceeded, "request body too large");
  }
  Bytes body;
  while (true) {
    auto chunk = co_await request.read_chunk();
    if (!chunk) co_return std::unexpected(chunk.error());
    if (!*chunk) break;
    if (body.size() + (*chunk)->size() > max_body_bytes) {
      co_return make_error(ErrorCode::kLimitExceeded, "request body too large");
    }
    body.insert(body.end(), (*chunk)->begin(), (*chunk)->end());
  }
  if (!message.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    co_return make_error(ErrorCode::kDecode, "request body is not a valid " + message.GetTypeName());
  }
  co_return Status{};
}

net::Task<Status> send_proto(net::ServerResponse& response, int status,
                             const google::protobuf::MessageLite& message) {
  std::string body;
  if (!message.SerializeToString(&body)) {
    co_return make_error(ErrorCode::kInternal, "could not serialize " + message.GetTypeName());
  }
  net::Headers headers;
  headers.set("Content-Type", kProtoMediaType);
  headers.set("Cache-Control", "no-store");
  co_return co_await response.send(status, std::move(headers), std::string_view(body));
}

int http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kDecode:
    case ErrorCode::kTruncated:
    case ErrorCode::kAuthenticationFailed: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kAlreadyUsed: return 410;
    case ErrorCode::kLimitExceeded: return 413;
    case ErrorCode::kUnsupported: return 415;
    case ErrorCode::kInsufficientBalance: return 429;
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout: return 503;
    case ErrorCode::kCrypto:
    case ErrorCode::kIo:
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

net::Task<Status> send_error(net::ServerResponse& response, const Error& error, int status) {
  if (status == 0) status = http_status_for(error.code);
  pb::Error body;
  if (status == 503) {
    body.set_message("temporarily unavailable");
  } else if (status >= 500) {
    body.set_message("internal error");
  } else {
    body.set_message(error.message);
  }
  co_return co_await send_proto(response, status, body);
}

net::Task<Status> send_message(net::ServerResponse& response, int status, std::string_view message) {
  pb::Error body;
  body.set_message(std::string(message));
  co_return co_await send_proto(response, status, body);
}

std::string error_message_from_body(ByteSpan body) {
  pb::Error error;
  if (error.ParseFromArray(body.data(), static_cast<int>(body.size())) && error.has_message()) {
    return error.message();
  }
  std::string text(body.begin(), body.end());
  if (text.size() > 200) text.resize(200);
  return text;
}

void Routes::add(std::string method, std::string path, net::Handler handler) {
  by_path_[std::move(path)][std::move(method)] = std::move(handler);
}

net::Handler Routes::handler() const {
  auto table = std::make_shared<const decltype(by_path_)>(by_path_);
  return [table](net::ServerRequest& request, net::ServerResponse& response) -> net::Task<Status> {
    std::string_view path = request.target();
    if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    auto entry = table->find(path);
    if (entry == table->end()) {
      Error not_found{ErrorCode::kNotFound, "no such endpoint"};
      co_return co_await send_error(response, not_found);
    }
    auto method = entry->second.find(std::string(request.method()));
    if (method == entry->second.end()) {
      std::string allow;
      for (const auto& [name, unused] : entry->second) allow += (allow.empty() ? "" : ", ") + name;
      pb::Error body;
      body.set_message("method not allowed");
      std::string bytes = body.SerializeAsString();
      net::Headers headers;
      headers.set("Content-Type", kProtoMediaType);
      headers.set("Allow", allow);
      co_return co_await response.send(405, std::move(headers), std::string_view(bytes));
    }
    co_return co_await method->second(request, response);
  };
}

}  // namespace openpcc::services
