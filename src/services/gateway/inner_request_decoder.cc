#include "services/gateway/inner_request_decoder.h"

#include <utility>

namespace openpcc::gateway {

using wire::ohttp::make_ohttp_error;
using wire::ohttp::OhttpError;
using wire::ohttp::OhttpErrorCode;
using wire::ohttp::OhttpResult;
using wire::ohttp::OhttpStatus;

namespace {

void wipe(Bytes& bytes) {
  if (!bytes.empty()) secure_wipe(bytes.data(), bytes.size());
  bytes.clear();
}

}  // namespace

InnerRequestDecoder::InnerRequestDecoder(wire::Chunking chunking, wire::ohttp::KeyFinder keys,
                                         const InnerRequestLimits& limits)
    : chunking_(chunking), keys_(std::move(keys)), limits_(limits), decoder_(limits.bhttp) {
  if (chunking_ == wire::Chunking::kChunked) {
    opener_.emplace(keys_, wire::ChunkOpenLimits{limits_.max_chunk_plaintext});
  }
}

InnerRequestDecoder::~InnerRequestDecoder() {
  wipe(plaintext_);
  if (whole_) wipe(whole_->bhttp);
}

OhttpStatus InnerRequestDecoder::fail(OhttpError error) {
  error_ = error;
  wipe(plaintext_);
  return std::unexpected(std::move(error));
}

void InnerRequestDecoder::compact() {
  // Drop what the BHTTP decoder has consumed once it is most of the buffer, so the buffer stays about one read.
  if (consumed_ == plaintext_.size()) {
    wipe(plaintext_);
    consumed_ = 0;
  } else if (consumed_ > 4096 && consumed_ * 2 > plaintext_.size()) {
    secure_wipe(plaintext_.data(), consumed_);
    plaintext_.erase(plaintext_.begin(), plaintext_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
}

OhttpStatus InnerRequestDecoder::feed(ByteSpan outer) {
  if (error_) return std::unexpected(*error_);
  if (input_ended_) {
    return make_ohttp_error(OhttpErrorCode::kRequestIo, ErrorCode::kInvalidArgument, "gateway: input after the end");
  }
  if (opener_) {
    compact();
    if (auto ok = opener_->feed(outer, plaintext_); !ok) return fail(ok.error());
    return {};
  }
  if (outer_.size() + outer.size() > limits_.max_request_bytes) {
    return fail(OhttpError{OhttpErrorCode::kRequestIo,
                           Error{ErrorCode::kLimitExceeded, "gateway: encapsulated request over the size limit"}});
  }
  append(outer_, outer);
  return {};
}

OhttpStatus InnerRequestDecoder::finish() {
  if (error_) return std::unexpected(*error_);
  if (input_ended_) return {};
  input_ended_ = true;
  if (opener_) {
    compact();
    if (auto ok = opener_->finish(plaintext_); !ok) return fail(ok.error());
    return {};
  }
  auto got = wire::ohttp::decapsulate_request(keys_, outer_);
  outer_.clear();
  if (!got) return fail(got.error());
  whole_.emplace(std::move(*got));
  plaintext_ = std::move(whole_->bhttp);
  whole_->bhttp.clear();
  consumed_ = 0;
  return {};
}

OhttpResult<std::optional<InnerEvent>> InnerRequestDecoder::next() {
  if (error_) return std::unexpected(*error_);
  if (ended_) return std::nullopt;
  auto decoding_error = [this](const Error& e) {
    return fail(OhttpError{OhttpErrorCode::kRequestDecoding, wrap_error("gateway: inner request", e)});
  };
  for (;;) {
    wire::bhttp::DecodeEvent event;
    bool from_finish = false;
    if (consumed_ < plaintext_.size()) {
      ByteSpan input(plaintext_.data() + consumed_, plaintext_.size() - consumed_);
      const size_t before = input.size();
      auto ev = decoder_.next(input);
      consumed_ += before - input.size();
      if (!ev) return std::unexpected(decoding_error(ev.error()).error());
      event = std::move(*ev);
    } else if (input_ended_) {
      // Everything opened has been decoded: the message must be complete now.
      auto ev = decoder_.finish();
      if (!ev) return std::unexpected(decoding_error(ev.error()).error());
      event = std::move(*ev);
      from_finish = true;
    } else {
      return std::nullopt;
    }

    if (std::holds_alternative<wire::bhttp::NeedMoreInput>(event)) {
      if (from_finish) return std::unexpected(decoding_error(Error{ErrorCode::kTruncated, "ended early"}).error());
      continue;  // all input consumed: finish() if the input has ended, else ask for more
    }
    if (auto* head = std::get_if<wire::bhttp::RequestHead>(&event)) return InnerEvent{std::move(*head)};
    if (auto* body = std::get_if<wire::bhttp::BodyData>(&event)) {
      if (body->data.empty()) continue;
      return InnerEvent{InnerBody{Bytes(body->data.begin(), body->data.end())}};
    }
    if (auto* trailers = std::get_if<wire::bhttp::Trailers>(&event)) {
      return InnerEvent{InnerTrailers{std::move(trailers->fields)}};
    }
    if (std::holds_alternative<wire::bhttp::EndOfMessage>(event)) {
      ended_ = true;
      wipe(plaintext_);
      consumed_ = 0;
      return InnerEvent{InnerEnd{}};
    }
    // A response or informational head cannot come out of a request decoder; be strict anyway.
    return std::unexpected(decoding_error(Error{ErrorCode::kDecode, "not a request"}).error());
  }
}

const wire::ResponseSecrets* InnerRequestDecoder::response_secrets() const {
  if (opener_) return opener_->response_secrets();
  return whole_ ? &whole_->response_secrets : nullptr;
}

std::optional<wire::ohttp::RequestHeader> InnerRequestDecoder::header() const {
  if (opener_) return opener_->header();
  if (whole_) return whole_->header;
  return std::nullopt;
}

}  // namespace openpcc::gateway
