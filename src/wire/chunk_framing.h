// Chunked message framing (draft-ietf-ohai-chunked-ohttp §5-6), shared by chunked OHTTP requests and responses and
// by the compute-request body and response:
//
//   stream       = prefix ‖ chunk* ‖ final_chunk
//   chunk        = varint(L) ‖ Seal(aad = "", pt_i)          L = len(ct) = len(pt_i) + Nt, pt_i non-empty
//   final_chunk  = varint(0) ‖ Seal(aad = "final", pt_last)  runs to the end of the stream; pt_last may be empty
//
// Varints are QUIC varints. The prefix (hdr ‖ enc, a response nonce, a body nonce) is unframed; the cipher — an HPKE
// context or a CounterNonceAead (wire/chunk_cipher.h) — supplies the per-chunk nonces.
//
// Memory: the sealer holds at most one fixed-size piece of plaintext (fixed-size mode; wiped), the opener at most
// one chunk of ciphertext (max_chunk_plaintext + Nt bytes) plus a varint. Neither ever holds a whole message.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "wire/chunk_cipher.h"

namespace openpcc::wire {

// Whether a message is sent whole or as a chunked stream (it selects media types and HPKE labels).
enum class Chunking : uint8_t { kUnchunked, kChunked };

// The names one message goes by in its two forms (media types, HPKE labels), and the mapping both ways.
struct ChunkingNames {
  std::string_view unchunked;
  std::string_view chunked;

  std::string_view name(Chunking c) const { return c == Chunking::kChunked ? chunked : unchunked; }
  // nullopt if `n` is neither name.
  std::optional<Chunking> chunking_of(std::string_view n) const {
    if (n == unchunked) return Chunking::kUnchunked;
    if (n == chunked) return Chunking::kChunked;
    return std::nullopt;
  }
};

inline constexpr std::string_view kFinalChunkAad = "final";
// The draft requires receivers to accept chunks of at least this much plaintext.
inline constexpr size_t kMinReceiveChunkPlaintext = 16384;

struct ChunkSealOptions {
  // Each write() is cut into chunks of at most this many plaintext bytes. The default is the Go reference's
  // sealer default, which is also the Go gateway's default receive limit.
  size_t max_chunk_plaintext = 4096;
  // Fixed-size mode (traffic-analysis resistance) when non-zero: plaintext is accumulated and sealed in pieces of
  // exactly this many bytes, whatever the write() boundaries; max_chunk_plaintext is then ignored. At finish() a
  // remainder, if any, becomes one shorter chunk before the final chunk — pad the plaintext to a multiple of the
  // piece size (BHTTP pad_to_multiple_of) so that there is none.
  size_t fixed_chunk_plaintext = 0;
};

// Fixed-size mode with pieces of `plaintext_len` bytes.
inline ChunkSealOptions fixed_size_chunks(size_t plaintext_len) { return ChunkSealOptions{plaintext_len, plaintext_len}; }

struct ChunkOpenLimits {
  // Larger chunks (and a larger final chunk) fail with kLimitExceeded. Must be at least 1.
  size_t max_chunk_plaintext = kMinReceiveChunkPlaintext;
};

// Produces a chunked stream. Every call appends what it produces to `out` (nothing on error); the prefix is
// emitted before anything else, by begin() or by the first write()/finish().
//
//   ChunkStreamSealer s = ...;           // from a protocol: wire/ohttp_chunked.h, wire/response_encryption.h, ...
//   s.write(piece, out);                  // zero or more chunks
//   s.finish(out);                        // remainder (fixed-size mode), then the final chunk
//
// An empty write() produces nothing: non-final chunks are never empty. After an error the sealer refuses further
// calls (the cipher's sequence may be out of step).
class ChunkStreamSealer {
 public:
  // kInvalidArgument if the options are zero-sized.
  static Result<ChunkStreamSealer> create(std::unique_ptr<ChunkSealCipher> cipher, Bytes prefix,
                                          const ChunkSealOptions& options = {});

  Status begin(Bytes& out);
  Status write(ByteSpan plaintext, Bytes& out);
  // Seals `final_plaintext` (usually empty, as the Go reference always sends) as the final chunk.
  Status finish(Bytes& out, ByteSpan final_plaintext = {});

  bool finished() const { return state_ == State::kFinished; }
  uint64_t bytes_emitted() const { return emitted_; }  // total appended to `out` so far (prefix included)
  uint64_t chunks_emitted() const { return chunks_; }  // including the final chunk once written
  size_t buffered_bytes() const { return piece_fill_; }

 private:
  enum class State : uint8_t { kStart, kWriting, kFinished, kFailed };
  ChunkStreamSealer(std::unique_ptr<ChunkSealCipher> cipher, Bytes prefix, const ChunkSealOptions& options);
  Status check_writable() const;
  Status seal_chunk(ByteSpan plaintext, Bytes& out);
  Status fail(Error e);

  std::unique_ptr<ChunkSealCipher> cipher_;
  Bytes prefix_;
  ChunkSealOptions options_;
  SecretBytes piece_;     // fixed-size mode: the piece being filled
  size_t piece_fill_ = 0;
  State state_ = State::kStart;
  uint64_t emitted_ = 0;
  uint64_t chunks_ = 0;
  Error error_;
};

// Reads a chunked stream (without its prefix) from slices of any size. Plaintext is appended to `out` as soon as
// each chunk is complete and authenticated; the final chunk runs to the end of the stream, so it is opened only by
// finish(), which the caller invokes at end of input.
//
// Rejected: a non-final chunk shorter than Nt (kDecode) or with no plaintext (L == Nt; kDecode — later drafts
// forbid empty non-final chunks), chunks or a final chunk over the limit (kLimitExceeded), a bad tag — including
// reordered, replayed or dropped chunks and a non-final chunk presented as the final one (kAuthenticationFailed),
// and input that ends before or inside the final chunk (kTruncated). After an error every call returns it again.
class ChunkStreamOpener {
 public:
  ChunkStreamOpener(std::unique_ptr<ChunkOpenCipher> cipher, const ChunkOpenLimits& limits = {});

  Status feed(ByteSpan input, Bytes& out);
  // End of input: opens the final chunk. Idempotent once it has succeeded.
  Status finish(Bytes& out);

  bool finished() const { return state_ == State::kDone; }
  uint64_t chunks_opened() const { return chunks_; }
  // Ciphertext and varint bytes currently held (at most max_chunk_plaintext + Nt + 8).
  size_t buffered_bytes() const { return buffer_.size() + varint_have_; }

 private:
  enum class State : uint8_t { kLength, kChunk, kFinal, kDone, kFailed };
  Status open_chunk(ByteSpan ciphertext, Bytes& out);
  Status fail(ErrorCode code, std::string message);
  size_t max_ciphertext() const { return limits_.max_chunk_plaintext + cipher_->tag_size(); }

  std::unique_ptr<ChunkOpenCipher> cipher_;
  ChunkOpenLimits limits_;
  State state_ = State::kLength;
  std::array<uint8_t, 8> varint_buf_{};
  size_t varint_have_ = 0;
  size_t chunk_len_ = 0;  // kChunk: ciphertext length of the current chunk
  Bytes buffer_;          // ciphertext of a chunk split across feed() calls, or of the final chunk
  uint64_t chunks_ = 0;
  Error error_;
};

// A chunk stream preceded by a fixed-size unframed prefix from which its cipher is derived (a response nonce, a
// compute-request body nonce). The prefix is collected from the input; then `make_cipher(prefix)` is called once.
class PrefixedChunkOpener {
 public:
  using CipherFactory = std::move_only_function<Result<std::unique_ptr<ChunkOpenCipher>>(ByteSpan prefix)>;

  PrefixedChunkOpener(size_t prefix_size, CipherFactory make_cipher, const ChunkOpenLimits& limits = {});

  Status feed(ByteSpan input, Bytes& out);
  // kTruncated if the input ended inside the prefix; otherwise as ChunkStreamOpener::finish.
  Status finish(Bytes& out);

  bool finished() const { return opener_ && opener_->finished(); }
  // The prefix once complete (empty before).
  ByteSpan prefix() const { return opener_ ? ByteSpan(prefix_) : ByteSpan(); }
  size_t buffered_bytes() const { return opener_ ? opener_->buffered_bytes() : prefix_.size(); }

 private:
  size_t prefix_size_;
  CipherFactory make_cipher_;
  ChunkOpenLimits limits_;
  Bytes prefix_;
  std::optional<ChunkStreamOpener> opener_;
  std::optional<Error> error_;
};

}  // namespace openpcc::wire
