#include "client/inner_response_reader.h"

#include <utility>
#include <variant>

#include "common/secure.h"
#include "wire/compute_request.h"

namespace openpcc::client {

namespace bhttp = wire::bhttp;

InnerResponseReader::InnerResponseReader(InnerResponseReader&&) noexcept = default;
InnerResponseReader& InnerResponseReader::operator=(InnerResponseReader&&) noexcept = default;
InnerResponseReader::~InnerResponseReader() {
  secure_wipe(body_.data(), body_.size());
}

Result<InnerResponseReader> InnerResponseReader::create(const wire::ResponseSecrets& secrets,
                                                        std::string_view content_type,
                                                        const bhttp::DecodeLimits& limits,
                                                        size_t max_unchunked_bytes) {
  auto chunking = wire::compute::response_chunking(content_type);
  if (!chunking) {
    return make_error(ErrorCode::kUnsupported,
                      "the answer's Content-Type \"" + std::string(content_type) + "\" is not a compute response");
  }
  auto context = secrets.context(*chunking);
  if (!context) return std::unexpected(context.error());
  InnerResponseReader reader;
  if (*chunking == wire::Chunking::kChunked) {
    reader.opener_ = std::make_unique<wire::ChunkedResponseOpener>(context->chunked_opener());
  } else {
    reader.whole_ = std::make_unique<wire::ResponseContext>(std::move(*context));
  }
  reader.max_unchunked_bytes_ = max_unchunked_bytes;
  reader.decoder_ = std::make_unique<bhttp::StreamDecoder>(limits);
  return reader;
}

Status InnerResponseReader::fail(Error e) {
  if (!error_) error_ = e;
  return std::unexpected(*error_);
}

Bytes InnerResponseReader::take_body() {
  Bytes out;
  out.swap(body_);
  return out;
}

Status InnerResponseReader::decode(ByteSpan plaintext) {
  while (true) {
    auto event = decoder_->next(plaintext);
    if (!event) return fail(wrap_error("bhttp", event.error()));
    if (std::holds_alternative<bhttp::NeedMoreInput>(*event)) return {};
    if (auto* h = std::get_if<bhttp::ResponseHead>(&*event)) {
      head_ = std::move(*h);
    } else if (auto* data = std::get_if<bhttp::BodyData>(&*event)) {
      body_.insert(body_.end(), data->data.begin(), data->data.end());
    } else if (auto* t = std::get_if<bhttp::Trailers>(&*event)) {
      trailers_ = std::move(t->fields);
    } else if (std::holds_alternative<bhttp::RequestHead>(*event)) {
      return fail(Error{ErrorCode::kDecode, "the node answered with a request, not a response"});
    }
    // Informational responses are skipped; EndOfMessage comes only from finish().
  }
}

Status InnerResponseReader::feed(ByteSpan ciphertext) {
  if (error_) return std::unexpected(*error_);
  if (complete_) return fail(Error{ErrorCode::kDecode, "data after the end of the answer"});
  if (whole_) {
    if (collected_.size() + ciphertext.size() > max_unchunked_bytes_) {
      return fail(Error{ErrorCode::kLimitExceeded, "the answer exceeds " + std::to_string(max_unchunked_bytes_) +
                                                       " bytes"});
    }
    collected_.insert(collected_.end(), ciphertext.begin(), ciphertext.end());
    return {};
  }
  Bytes out;
  if (auto ok = opener_->feed(ciphertext, out); !ok) return fail(wrap_error("decryption", ok.error()));
  Status decoded = decode(out);
  secure_wipe(out.data(), out.size());
  return decoded;
}

Status InnerResponseReader::finish() {
  if (error_) return std::unexpected(*error_);
  if (complete_) return {};
  Bytes out;
  if (whole_) {
    auto opened = whole_->open(collected_);
    if (!opened) return fail(wrap_error("decryption", opened.error()));
    out = std::move(*opened);
  } else if (auto ok = opener_->finish(out); !ok) {
    return fail(wrap_error("decryption", ok.error()));
  }
  Status decoded = decode(out);
  secure_wipe(out.data(), out.size());
  if (!decoded) return decoded;
  while (true) {
    auto event = decoder_->finish();
    if (!event) return fail(wrap_error("bhttp", event.error()));
    if (auto* h = std::get_if<bhttp::ResponseHead>(&*event)) {
      head_ = std::move(*h);
    } else if (auto* t = std::get_if<bhttp::Trailers>(&*event)) {
      trailers_ = std::move(t->fields);
    } else if (std::holds_alternative<bhttp::RequestHead>(*event)) {
      return fail(Error{ErrorCode::kDecode, "the node answered with a request, not a response"});
    } else if (std::holds_alternative<bhttp::EndOfMessage>(*event)) {
      break;
    }
  }
  if (!head_) return fail(Error{ErrorCode::kTruncated, "the answer has no response head"});
  complete_ = true;
  return {};
}

}  // namespace openpcc::client
