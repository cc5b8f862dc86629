// Beast/Asio plumbing shared by server.cc and client.cc. Include only from those .cc files: this is the one place
// the template-heavy headers enter the build.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/bytes.h"
#include "common/error.h"
#include "net/headers.h"
#include "net/runtime.h"

namespace openpcc::net::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using ErrorCodeT = boost::system::error_code;

// Largest body piece handed to the application per read.
inline constexpr size_t kBodyPieceBytes = 16 * 1024;

inline auto await_ec(ErrorCodeT& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

// Maps an Asio/Beast/OpenSSL error to our error codes; `context` says what was being done.
inline Error to_error(const ErrorCodeT& ec, std::string_view context) {
  std::string message = std::string(context) + ": " + ec.message();
  if (ec == beast::error::timeout) return Error{ErrorCode::kTimeout, std::move(message)};
  if (ec == http::error::body_limit || ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return Error{ErrorCode::kLimitExceeded, std::move(message)};
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == http::error::need_more) {
    return Error{ErrorCode::kIo, std::move(message)};
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
    return Error{ErrorCode::kDecode, std::move(message)};
  }
  return Error{ErrorCode::kIo, std::move(message)};
}

inline bool is_managed(std::string_view name, std::initializer_list<std::string_view> skip) {
  for (std::string_view s : skip) {
    if (iequals(s, name)) return true;
  }
  return false;
}

// Copies validated fields into a Beast header, leaving out the ones this layer manages itself.
template <class Fields>
Status copy_fields(const Headers& in, Fields& out, std::initializer_list<std::string_view> skip) {
  for (const auto& [name, value] : in) {
    if (!is_valid_field_name(name)) return make_error(ErrorCode::kInvalidArgument, "invalid header field name");
    if (!is_valid_field_value(value)) {
      return make_error(ErrorCode::kInvalidArgument, "invalid value for header field " + name);
    }
    if (is_managed(name, skip)) continue;
    out.insert(beast::string_view(name.data(), name.size()), beast::string_view(value.data(), value.size()));
  }
  return {};
}

// Fields of a parsed message from position `from` on (Beast appends trailer fields after the header fields).
template <class Fields>
Headers to_headers(const Fields& fields, size_t from = 0) {
  Headers out;
  size_t index = 0;
  for (const auto& f : fields) {
    if (index++ < from) continue;
    out.add(std::string_view(f.name_string().data(), f.name_string().size()),
            std::string_view(f.value().data(), f.value().size()));
  }
  return out;
}

template <class Fields>
size_t field_count(const Fields& fields) {
  size_t n = 0;
  for (auto it = fields.begin(); it != fields.end(); ++it) ++n;
  return n;
}

// Parses a Content-Length value: digits only, no sign, no overflow.
inline std::optional<uint64_t> parse_content_length(std::string_view v) {
  if (v.empty() || v.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

// The next piece of a message body, or nullopt at its end. The parser must use http::buffer_body and have read the
// header. Each socket read must make progress within `timeout`.
template <class Stream, bool isRequest>
Task<Result<std::optional<Bytes>>> read_body_piece(Stream& stream, beast::flat_buffer& buffer,
                                                   http::parser<isRequest, http::buffer_body>& parser,
                                                   std::chrono::milliseconds timeout, std::string_view context) {
  Bytes piece(kBodyPieceBytes);
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = piece.data();
    body.size = piece.size();
    beast::get_lowest_layer(stream).expires_after(timeout);
    ErrorCodeT ec;
    co_await http::async_read_some(stream, buffer, parser, await_ec(ec));
    const size_t got = piece.size() - body.size;
    body.data = nullptr;
    body.size = 0;
    if (ec == http::error::need_buffer) ec = {};
    // A body delimited by the connection's close, over TLS from a peer that skips close_notify: the close still
    // ends the body (what HTTP clients commonly accept; framed bodies never reach this).
    if (ec == ssl::error::stream_truncated && parser.need_eof()) {
      ec = {};
      parser.put_eof(ec);
    }
    if (ec) co_return std::unexpected(to_error(ec, context));
    if (got > 0) {
      piece.resize(got);
      co_return piece;
    }
  }
  co_return std::nullopt;
}

template <class Stream, class Buffers>
Task<Status> write_buffers(Stream& stream, const Buffers& buffers, std::chrono::milliseconds timeout,
                           std::string_view context) {
  beast::get_lowest_layer(stream).expires_after(timeout);
  ErrorCodeT ec;
  co_await asio::async_write(stream, buffers, await_ec(ec));
  if (ec) co_return std::unexpected(to_error(ec, context));
  co_return Status{};
}

// One HTTP chunk carrying `data` (non-empty), written and flushed now.
template <class Stream>
Task<Status> write_chunk(Stream& stream, ByteSpan data, std::chrono::milliseconds timeout) {
  co_return co_await write_buffers(stream, http::make_chunk(asio::const_buffer(data.data(), data.size())), timeout,
                                   "write chunk");
}

// The last chunk, with optional trailer fields (validated by the caller).
template <class Stream>
Task<Status> write_last_chunk(Stream& stream, const http::fields& trailers, std::chrono::milliseconds timeout) {
  if (trailers.begin() == trailers.end()) {
    co_return co_await write_buffers(stream, http::make_chunk_last(), timeout, "write last chunk");
  }
  co_return co_await write_buffers(stream, http::make_chunk_last(trailers), timeout, "write last chunk");
}

// Sets SNI and host-name (or IP address) verification on a client TLS stream.
inline Status configure_client_tls(TlsStream& stream, const std::string& host, bool is_ip_literal, bool verify) {
  SSL* ssl = stream.native_handle();
  if (!is_ip_literal && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return make_error(ErrorCode::kCrypto, "tls: cannot set SNI");
  }
  if (!verify) {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    return {};
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  const int ok = is_ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                               : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1) return make_error(ErrorCode::kCrypto, "tls: cannot set the expected peer name");
  return {};
}

}  // namespace openpcc::net::internal
