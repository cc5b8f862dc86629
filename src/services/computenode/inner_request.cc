#include "services/computenode/inner_request.h"

#include <algorithm>
#include <string>
#include <utility>
#include <variant>

namespace openpcc::computenode {
namespace {

using namespace wire::bhttp;

void wipe_string(std::string& s) {
  if (!s.empty()) secure_wipe(s.data(), s.size());
}

void wipe_bytes(Bytes& b) {
  if (!b.empty()) secure_wipe(b.data(), b.size());
  b.clear();
}

// A read_chunk() piece is at most 16 KiB and decrypts to less: this scratch size avoids reallocations (which would
// leave unwiped copies behind).
constexpr size_t kScratchReserve = 32 * 1024;

}  // namespace

InnerRequest::~InnerRequest() {
  wipe_string(head.method);
  wipe_string(head.scheme);
  wipe_string(head.authority);
  wipe_string(head.path);
  for (auto& field : head.headers) {
    wipe_string(field.name);
    wipe_string(field.value);
  }
}

InnerRequestReader::InnerRequestReader(const wire::compute::RequestReceiver& receiver, size_t max_body_bytes)
    : receiver_(&receiver), max_body_bytes_(max_body_bytes) {
  plaintext_.reserve(kScratchReserve);
  if (receiver.chunking() == wire::Chunking::kChunked) {
    auto opener = receiver.chunked_body_opener();
    if (opener) {
      opener_.emplace(std::move(*opener));
    } else {
      error_ = opener.error();
    }
  }
}

InnerRequestReader::~InnerRequestReader() {
  wipe_bytes(plaintext_);
  if (head_) {
    InnerRequest wiper;
    wiper.head = std::move(*head_);
  }
}

Status InnerRequestReader::fail(Error e) {
  if (!error_) error_ = e;
  return std::unexpected(std::move(e));
}

Status InnerRequestReader::append_body(ByteSpan data) {
  if (over_limit_ || data.empty()) return {};
  const size_t keep_limit = max_body_bytes_ + 1;
  const size_t take = std::min(data.size(), keep_limit - body_length_);
  if (body_length_ + take > body_.size()) {
    // Grow geometrically; SecretBytes::resize moves into a fresh buffer and wipes the old one.
    const size_t wanted = std::max(body_length_ + take, std::min(keep_limit, std::max<size_t>(4096, body_.size() * 2)));
    body_.resize(wanted);
  }
  std::copy_n(data.begin(), take, body_.data() + body_length_);
  body_length_ += take;
  if (body_length_ > max_body_bytes_) over_limit_ = true;
  return {};
}

Status InnerRequestReader::decode(ByteSpan plaintext) {
  plaintext_bytes_ += plaintext.size();
  ByteSpan input = plaintext;
  for (;;) {
    auto event = decoder_.next(input);
    if (!event) return fail(event.error());
    if (std::holds_alternative<NeedMoreInput>(*event)) return {};
    if (auto* head = std::get_if<RequestHead>(&*event)) {
      head_ = std::move(*head);
    } else if (auto* data = std::get_if<BodyData>(&*event)) {
      if (auto ok = append_body(data->data); !ok) return ok;
    } else if (std::holds_alternative<Trailers>(*event) || std::holds_alternative<EndOfMessage>(*event)) {
      trailers_seen_ = true;
    } else {
      return fail(Error{ErrorCode::kDecode, "compute request: the inner message is not a request"});
    }
  }
}

Status InnerRequestReader::feed(ByteSpan ciphertext) {
  if (error_) return std::unexpected(*error_);
  if (!opener_) {
    append(whole_ciphertext_, ciphertext);
    return {};
  }
  auto opened = opener_->feed(ciphertext, plaintext_);
  Status decoded = opened ? decode(plaintext_) : fail(opened.error());
  wipe_bytes(plaintext_);
  return decoded;
}

Result<InnerRequest> InnerRequestReader::finish() {
  if (error_) return std::unexpected(*error_);
  Status last;
  if (opener_) {
    auto opened = opener_->finish(plaintext_);
    last = opened ? decode(plaintext_) : fail(opened.error());
    wipe_bytes(plaintext_);
  } else {
    auto body = receiver_->open_body(whole_ciphertext_);
    whole_ciphertext_.clear();
    if (!body) return std::unexpected(body.error());
    last = decode(*body);
    wipe_bytes(*body);
  }
  if (!last) return std::unexpected(last.error());
  for (;;) {
    auto event = decoder_.finish();
    if (!event) return std::unexpected(event.error());
    if (std::holds_alternative<EndOfMessage>(*event)) break;
    if (auto* head = std::get_if<RequestHead>(&*event)) {
      head_ = std::move(*head);
    } else if (auto* data = std::get_if<BodyData>(&*event)) {
      if (auto ok = append_body(data->data); !ok) return std::unexpected(ok.error());
    } else if (!std::holds_alternative<Trailers>(*event) && !std::holds_alternative<NeedMoreInput>(*event)) {
      return make_error(ErrorCode::kDecode, "compute request: the inner message is not a request");
    }
  }
  if (!head_) return make_error(ErrorCode::kDecode, "compute request: the inner message has no request head");
  InnerRequest out;
  out.head = std::move(*head_);
  head_.reset();
  body_.resize(body_length_);
  out.body = std::move(body_);
  out.over_limit = over_limit_;
  return out;
}

}  // namespace openpcc::computenode
