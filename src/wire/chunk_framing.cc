#include "wire/chunk_framing.h"

#include <algorithm>
#include <string>

#include "common/varint.h"

namespace openpcc::wire {

namespace {

constexpr ByteSpan kNoAad{};

ByteSpan final_aad() { return as_bytes(kFinalChunkAad); }

}  // namespace

// ---- ChunkStreamSealer ---------------------------------------------------------------------------------------------

ChunkStreamSealer::ChunkStreamSealer(std::unique_ptr<ChunkSealCipher> cipher, Bytes prefix,
                                     const ChunkSealOptions& options)
    : cipher_(std::move(cipher)), prefix_(std::move(prefix)), options_(options) {
  if (options_.fixed_chunk_plaintext != 0) piece_ = SecretBytes(options_.fixed_chunk_plaintext);
}

Result<ChunkStreamSealer> ChunkStreamSealer::create(std::unique_ptr<ChunkSealCipher> cipher, Bytes prefix,
                                                    const ChunkSealOptions& options) {
  if (!cipher) return make_error(ErrorCode::kInvalidArgument, "chunk sealer: no cipher");
  if (options.fixed_chunk_plaintext == 0 && options.max_chunk_plaintext == 0) {
    return make_error(ErrorCode::kInvalidArgument, "chunk sealer: max_chunk_plaintext must be at least 1");
  }
  return ChunkStreamSealer(std::move(cipher), std::move(prefix), options);
}

Status ChunkStreamSealer::fail(Error e) {
  state_ = State::kFailed;
  error_ = e;
  return std::unexpected(std::move(e));
}

Status ChunkStreamSealer::check_writable() const {
  if (state_ == State::kFailed) return std::unexpected(error_);
  if (state_ == State::kFinished) {
    return make_error(ErrorCode::kInvalidArgument, "chunk sealer: the stream is already finished");
  }
  return {};
}

Status ChunkStreamSealer::begin(Bytes& out) {
  if (auto s = check_writable(); !s) return s;
  if (state_ == State::kStart) {
    append(out, prefix_);
    emitted_ += prefix_.size();
    state_ = State::kWriting;
  }
  return {};
}

Status ChunkStreamSealer::seal_chunk(ByteSpan plaintext, Bytes& out) {
  append_varint(out, plaintext.size() + cipher_->tag_size());
  if (auto s = cipher_->seal_append(kNoAad, plaintext, out); !s) return s;
  ++chunks_;
  return {};
}

Status ChunkStreamSealer::write(ByteSpan plaintext, Bytes& out) {
  const size_t mark = out.size();
  if (auto s = begin(out); !s) return s;
  const size_t after_prefix = out.size();  // begin() has counted the prefix
  Status status;
  if (options_.fixed_chunk_plaintext == 0) {
    while (status && !plaintext.empty()) {
      const size_t n = std::min(plaintext.size(), options_.max_chunk_plaintext);
      status = seal_chunk(plaintext.first(n), out);
      plaintext = plaintext.subspan(n);
    }
  } else {
    const size_t piece = options_.fixed_chunk_plaintext;
    while (status && !plaintext.empty()) {
      if (piece_fill_ == 0 && plaintext.size() >= piece) {
        // A whole piece is available in the caller's buffer: seal it without copying.
        status = seal_chunk(plaintext.first(piece), out);
        plaintext = plaintext.subspan(piece);
        continue;
      }
      const size_t n = std::min(plaintext.size(), piece - piece_fill_);
      std::copy_n(plaintext.data(), n, piece_.data() + piece_fill_);
      piece_fill_ += n;
      plaintext = plaintext.subspan(n);
      if (piece_fill_ == piece) {
        status = seal_chunk(piece_.span(), out);
        piece_fill_ = 0;
      }
    }
  }
  if (!status) {
    out.resize(mark);
    return fail(wrap_error("chunk sealer", status.error()));
  }
  emitted_ += out.size() - after_prefix;
  return {};
}

Status ChunkStreamSealer::finish(Bytes& out, ByteSpan final_plaintext) {
  const size_t mark = out.size();
  if (auto s = begin(out); !s) return s;
  const size_t after_prefix = out.size();  // begin() has counted the prefix
  Status status;
  if (piece_fill_ > 0) {
    status = seal_chunk(piece_.span().first(piece_fill_), out);
    secure_wipe(piece_.data(), piece_fill_);
    piece_fill_ = 0;
  }
  if (status) {
    append_varint(out, 0);
    status = cipher_->seal_append(final_aad(), final_plaintext, out);
  }
  if (!status) {
    out.resize(mark);
    return fail(wrap_error("chunk sealer", status.error()));
  }
  ++chunks_;
  emitted_ += out.size() - after_prefix;
  state_ = State::kFinished;
  return {};
}

// ---- ChunkStreamOpener ---------------------------------------------------------------------------------------------

ChunkStreamOpener::ChunkStreamOpener(std::unique_ptr<ChunkOpenCipher> cipher, const ChunkOpenLimits& limits)
    : cipher_(std::move(cipher)), limits_(limits) {
  // At least 1; at most what a varint can declare (so max_ciphertext() cannot overflow).
  limits_.max_chunk_plaintext = std::clamp<size_t>(limits_.max_chunk_plaintext, 1, kMaxVarint - 64);
}

Status ChunkStreamOpener::fail(ErrorCode code, std::string message) {
  state_ = State::kFailed;
  error_ = Error{code, "chunked stream: " + std::move(message)};
  buffer_.clear();
  return std::unexpected(error_);
}

Status ChunkStreamOpener::open_chunk(ByteSpan ciphertext, Bytes& out) {
  if (auto s = cipher_->open_append(kNoAad, ciphertext, out); !s) {
    return fail(s.error().code, "chunk " + std::to_string(chunks_) + ": " + s.error().message);
  }
  ++chunks_;
  return {};
}

Status ChunkStreamOpener::feed(ByteSpan input, Bytes& out) {
  if (state_ == State::kFailed) return std::unexpected(error_);
  if (state_ == State::kDone) {
    if (input.empty()) return {};
    return make_error(ErrorCode::kInvalidArgument, "chunked stream: input after finish()");
  }
  const size_t tag = cipher_->tag_size();
  while (!input.empty()) {
    switch (state_) {
      case State::kLength: {
        // The first byte of a QUIC varint says how long it is.
        const size_t need = size_t{1} << (varint_have_ == 0 ? input[0] >> 6 : varint_buf_[0] >> 6);
        const size_t n = std::min(need - varint_have_, input.size());
        std::copy_n(input.data(), n, varint_buf_.data() + varint_have_);
        varint_have_ += n;
        input = input.subspan(n);
        if (varint_have_ < need) return {};
        const uint64_t len = peek_varint(ByteSpan(varint_buf_.data(), need))->value;
        varint_have_ = 0;
        if (len == 0) {
          state_ = State::kFinal;
        } else if (len < tag) {
          return fail(ErrorCode::kDecode, "chunk " + std::to_string(chunks_) + " length " + std::to_string(len) +
                                              " is shorter than the AEAD tag");
        } else if (len == tag) {
          return fail(ErrorCode::kDecode, "chunk " + std::to_string(chunks_) + " is an empty non-final chunk");
        } else if (len > max_ciphertext()) {
          return fail(ErrorCode::kLimitExceeded, "chunk " + std::to_string(chunks_) + " carries " +
                                                     std::to_string(len - tag) + " bytes, limit " +
                                                     std::to_string(limits_.max_chunk_plaintext));
        } else {
          chunk_len_ = static_cast<size_t>(len);
          state_ = State::kChunk;
        }
        break;
      }
      case State::kChunk: {
        if (buffer_.empty() && input.size() >= chunk_len_) {
          // The whole chunk is in this slice: open it in place.
          if (auto s = open_chunk(input.first(chunk_len_), out); !s) return s;
          input = input.subspan(chunk_len_);
          state_ = State::kLength;
          break;
        }
        const size_t n = std::min(chunk_len_ - buffer_.size(), input.size());
        buffer_.insert(buffer_.end(), input.begin(), input.begin() + static_cast<ptrdiff_t>(n));
        input = input.subspan(n);
        if (buffer_.size() == chunk_len_) {
          if (auto s = open_chunk(buffer_, out); !s) return s;
          buffer_.clear();  // keeps its capacity for the next split chunk
          state_ = State::kLength;
        }
        break;
      }
      case State::kFinal: {
        if (buffer_.size() + input.size() > max_ciphertext()) {
          return fail(ErrorCode::kLimitExceeded, "final chunk exceeds " +
                                                     std::to_string(limits_.max_chunk_plaintext) + " bytes");
        }
        append(buffer_, input);
        input = {};
        break;
      }
      case State::kDone:
      case State::kFailed:
        return make_error(ErrorCode::kInternal, "chunked stream: unreachable state");
    }
  }
  return {};
}

Status ChunkStreamOpener::finish(Bytes& out) {
  switch (state_) {
    case State::kFailed:
      return std::unexpected(error_);
    case State::kDone:
      return {};
    case State::kLength:
      return fail(ErrorCode::kTruncated, varint_have_ == 0 ? "ended before the final chunk"
                                                           : "ended inside a chunk length");
    case State::kChunk:
      return fail(ErrorCode::kTruncated, "ended inside chunk " + std::to_string(chunks_));
    case State::kFinal:
      break;
  }
  if (buffer_.size() < cipher_->tag_size()) {
    return fail(ErrorCode::kTruncated, "final chunk is shorter than the AEAD tag");
  }
  if (auto s = cipher_->open_append(final_aad(), buffer_, out); !s) {
    return fail(s.error().code, "final chunk: " + s.error().message);
  }
  ++chunks_;
  buffer_.clear();
  buffer_.shrink_to_fit();
  state_ = State::kDone;
  return {};
}

// ---- PrefixedChunkOpener -------------------------------------------------------------------------------------------

PrefixedChunkOpener::PrefixedChunkOpener(size_t prefix_size, CipherFactory make_cipher, const ChunkOpenLimits& limits)
    : prefix_size_(prefix_size), make_cipher_(std::move(make_cipher)), limits_(limits) {}

Status PrefixedChunkOpener::feed(ByteSpan input, Bytes& out) {
  if (error_) return std::unexpected(*error_);
  if (!opener_) {
    const size_t n = std::min(prefix_size_ - prefix_.size(), input.size());
    append(prefix_, input.first(n));
    input = input.subspan(n);
    if (prefix_.size() < prefix_size_) return {};
    auto cipher = make_cipher_(prefix_);
    if (!cipher) {
      error_ = cipher.error();
      return std::unexpected(*error_);
    }
    opener_.emplace(std::move(*cipher), limits_);
  }
  return opener_->feed(input, out);
}

Status PrefixedChunkOpener::finish(Bytes& out) {
  if (error_) return std::unexpected(*error_);
  if (!opener_) {
    if (prefix_size_ == 0) {
      if (auto s = feed({}, out); !s) return s;
    }
    if (!opener_) {
      error_ = Error{ErrorCode::kTruncated, "chunked stream: ended inside its " + std::to_string(prefix_size_) +
                                                "-byte prefix"};
      return std::unexpected(*error_);
    }
  }
  return opener_->finish(out);
}

}  // namespace openpcc::wire
