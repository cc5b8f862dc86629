// Chunked Oblivious HTTP (draft-ietf-ohai-chunked-ohttp): requests and responses streamed in chunks, never
// buffered whole.
//
//   request   = hdr ‖ enc ‖ chunk* ‖ final_chunk     HPKE context seals each chunk (its own sequence numbers);
//                                                    info = "message/bhttp chunked request" ‖ 0x00 ‖ hdr
//   response  = response_nonce ‖ chunk* ‖ final_chunk    ResponseContext::chunked_sealer / chunked_opener, from
//                                                    ResponseSecrets::context(Chunking::kChunked)
//   chunk / final_chunk as in wire/chunk_framing.h
//
// The OpenPCC fixed-size profile (the Go client and gateway): the BHTTP message is encoded with
// bhttp::fixed_size_profile(bhttp::kOhttpMessageChunkLen) — so its length is a multiple of 532 — and sealed in
// exactly-532-byte pieces (openpcc_fixed_size_chunks()). On the wire, with X25519Kyber768Draft00 and AES-128-GCM:
//   hdr ‖ enc = 7 + 1120 = 1127 bytes, then n × (varint(548) ‖ 548) = n × 550 bytes, then varint(0) ‖ tag = 17 bytes.
// Gateway responses use the same 532-byte pieces (response chunks are 550 bytes too, after the 16-byte nonce).
#pragma once

#include <cstddef>
#include <optional>

#include "common/bytes.h"
#include "common/error.h"
#include "wire/chunk_framing.h"
#include "wire/ohttp.h"

namespace openpcc::wire::ohttp {

// The OpenPCC profile's plaintext piece size and the options that seal with it.
inline constexpr size_t kOpenPccChunkPlaintextLen = 532;
inline ChunkSealOptions openpcc_fixed_size_chunks() { return fixed_size_chunks(kOpenPccChunkPlaintextLen); }

// Client side: seals a request as it is produced.
//
//   auto sealer = ChunkedRequestSealer::create(key_config);
//   sealer->write(bhttp_piece, out);      // first call also emits hdr ‖ enc
//   sealer->finish(out);                  // final chunk; then read the response with response_secrets()
class ChunkedRequestSealer {
 public:
  static Result<ChunkedRequestSealer> create(const KeyConfig& key_config, const EncapsulateOptions& options = {},
                                             const ChunkSealOptions& chunk_options = {});

  // Emits hdr ‖ enc now (e.g. to start the upload before any body exists).
  Status begin(Bytes& out) { return stream_.begin(out); }
  Status write(ByteSpan bhttp, Bytes& out) { return stream_.write(bhttp, out); }
  Status finish(Bytes& out, ByteSpan final_plaintext = {}) { return stream_.finish(out, final_plaintext); }

  const RequestHeader& header() const { return header_; }
  ByteSpan enc() const { return response_secrets_.enc(); }
  const ResponseSecrets& response_secrets() const { return response_secrets_; }
  const ChunkStreamSealer& stream() const { return stream_; }

 private:
  ChunkedRequestSealer(RequestHeader header, ResponseSecrets secrets, ChunkStreamSealer stream)
      : header_(header), response_secrets_(std::move(secrets)), stream_(std::move(stream)) {}

  RequestHeader header_;
  ResponseSecrets response_secrets_;
  ChunkStreamSealer stream_;
};

// Gateway side: opens a chunked request from slices of any size. The key is looked up as soon as the 7-byte header
// has arrived, HPKE is set up once enc has, and each chunk's plaintext is appended to `bhttp_out` as it completes.
// The final chunk runs to the end of the body, so call finish() at end of input. Buffering is bounded by the
// header, enc and one chunk (limits.max_chunk_plaintext + 16).
//
// Errors carry the taxonomy code: kInvalidRequestHeader / the key finder's code while reading the header;
// kRequestDecoding for everything after (bad enc, bad tag, oversized or empty non-final chunk, truncation).
// After an error every call returns it again.
class ChunkedRequestOpener {
 public:
  explicit ChunkedRequestOpener(KeyFinder keys, const ChunkOpenLimits& limits = {});
  // `keys` must outlive the opener.
  explicit ChunkedRequestOpener(const GatewayKeySet& keys, const ChunkOpenLimits& limits = {});

  OhttpStatus feed(ByteSpan input, Bytes& bhttp_out);
  OhttpStatus finish(Bytes& bhttp_out);

  bool finished() const { return opener_ && opener_->finished(); }
  // Known once the header has been read and its key found.
  const std::optional<RequestHeader>& header() const { return header_; }
  // Available once enc has been read (before any plaintext).
  const ResponseSecrets* response_secrets() const { return secrets_ ? &*secrets_ : nullptr; }
  size_t buffered_bytes() const { return prefix_.size() + (opener_ ? opener_->buffered_bytes() : 0); }

 private:
  OhttpStatus fail(OhttpError e);

  KeyFinder keys_;
  ChunkOpenLimits limits_;
  Bytes prefix_;  // header, then enc
  std::optional<RequestHeader> header_;
  std::optional<GatewayKey> key_;
  size_t enc_size_ = 0;
  std::optional<ResponseSecrets> secrets_;
  std::optional<ChunkStreamOpener> opener_;
  std::optional<OhttpError> error_;
};

// Convenience for whole messages (tests, conformance): the same code paths as the streaming classes.
// Seals `bhttp` as write(bhttp) + finish() under `chunk_options`.
Result<EncapsulatedRequest> encapsulate_chunked_request(const KeyConfig& key_config, ByteSpan bhttp,
                                                        const EncapsulateOptions& options = {},
                                                        const ChunkSealOptions& chunk_options = {});
OhttpResult<DecapsulatedRequest> decapsulate_chunked_request(const KeyFinder& keys, ByteSpan request,
                                                             const ChunkOpenLimits& limits = {});
OhttpResult<DecapsulatedRequest> decapsulate_chunked_request(const GatewayKeySet& keys, ByteSpan request,
                                                             const ChunkOpenLimits& limits = {});

}  // namespace openpcc::wire::ohttp
