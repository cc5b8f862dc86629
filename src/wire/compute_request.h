// Compute-request encryption: one request body for several candidate compute nodes (the Go reference's "twoway"
// multi-recipient mode). The router forwards the body to one node with that node's wrapped key; only a node holding
// the matching private key (its TPM-resident REK) can unwrap the body key.
//
//   DEK            = 32 random bytes, body_nonce = 12 random bytes (one pair per request)
//   body           = body_nonce ‖ AES-256-GCM(DEK, body_nonce, aad = "", bhttp)                  (unchunked)
//                  = body_nonce ‖ chunk* ‖ final_chunk, chunk i sealed with body_nonce XOR I2OSP(i, 12)  (chunked)
//   per node:      hdr  = 0x00 ‖ 0x0010 ‖ 0x0001 ‖ 0x0001        (key id 0, P-256, HKDF-SHA256, AES-128-GCM)
//                  info = request media type ‖ 0x00 ‖ hdr
//                  enc, ctx = SetupBaseS(pk_node, info)
//                  encapsulated key = hdr ‖ enc ‖ ctx.Seal(aad = "multi-encap-key", DEK)    7 + 65 + 48 = 120 bytes
//   response:      wire/response_encryption.h with this node's ctx, enc, AES-128-GCM and the response media type as
//                  export label: secret = ctx.Export(label, 16), response = response_nonce(16) ‖ ...
//
// The body AEAD is AES-256-GCM although the suite names AES-128-GCM: the reference passes the 32-byte DEK to a
// constructor that picks the AES variant from the key length. We do the same to interoperate.
//
// OpenPCC profile: the BHTTP message is encoded with bhttp::fixed_size_profile(bhttp::kComputeMessageChunkLen), i.e.
// padded to a multiple of 514 bytes, and chunked bodies are sealed in exactly-514-byte pieces, so every chunk on the
// wire is varint(530) ‖ 530 = 532 bytes (kEncapsulatedChunkLen) and the final chunk 17 bytes. Go peers reject
// chunks with more than 514 plaintext bytes, hence the opener's default limit.
//
// Client:  auto sender = RequestSender::create(Chunking::kChunked);
//          for each node: auto w = sender->wrap_key(node_pk);   // w->encapsulated_key → router; keep w->response_secrets
//          auto body = sender->chunked_body_sealer();  body->write(bhttp, out); body->finish(out);
// Node:    auto rx = RequestReceiver::unwrap_key(encapsulated_key, rek, Chunking::kChunked);
//          auto opener = rx->chunked_body_opener();  opener.feed(slice, out) ...  opener.finish(out);
//          auto ctx = rx->response_secrets().context(Chunking::kChunked);  ctx->chunked_sealer(...)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/hpke.h"
#include "crypto/kem.h"
#include "wire/chunk_framing.h"
#include "wire/response_encryption.h"

namespace openpcc::wire::compute {

inline constexpr std::string_view kRequestMediaType = "application/confsec-req";
inline constexpr std::string_view kChunkedRequestMediaType = "application/confsec-chunked-req";
inline constexpr std::string_view kResponseMediaType = "application/confsec-res";
inline constexpr std::string_view kChunkedResponseMediaType = "application/confsec-chunked-res";

std::string_view request_media_type(Chunking chunking);
std::string_view response_media_type(Chunking chunking);
// The framing a Content-Type announces (exact match); nullopt for anything else.
std::optional<Chunking> request_chunking(std::string_view content_type);
std::optional<Chunking> response_chunking(std::string_view content_type);

inline constexpr crypto::HpkeSuite kKeyWrapSuite{crypto::KemId::kDhkemP256HkdfSha256, crypto::KdfId::kHkdfSha256,
                                                 crypto::AeadId::kAes128Gcm};
inline constexpr uint8_t kKeyId = 0;
inline constexpr std::string_view kKeyWrapAad = "multi-encap-key";
inline constexpr crypto::AeadId kBodyAead = crypto::AeadId::kAes256Gcm;

inline constexpr size_t kDekSize = 32;
inline constexpr size_t kBodyNonceSize = 12;
inline constexpr size_t kHeaderSize = 7;
inline constexpr size_t kEncSize = 65;                                             // uncompressed P-256 point
inline constexpr size_t kWrappedDekSize = kDekSize + 16;                           // 48
inline constexpr size_t kEncapsulatedKeySize = kHeaderSize + kEncSize + kWrappedDekSize;  // 120
inline constexpr size_t kResponseNonceSize = 16;                                   // max(Nn, Nk) of AES-128-GCM

// The fixed-size profile: 514-byte plaintext pieces, 532-byte chunks on the wire.
inline constexpr size_t kChunkPlaintextLen = 514;
inline constexpr size_t kEncapsulatedChunkLen = 532;
inline ChunkSealOptions fixed_size_body_chunks() { return fixed_size_chunks(kChunkPlaintextLen); }
inline ChunkOpenLimits body_chunk_limits() { return ChunkOpenLimits{kChunkPlaintextLen}; }

// The 7-byte header and the key-wrap HPKE info for a request of this framing.
Bytes key_wrap_header();
Bytes key_wrap_info(Chunking request);

// One node's share of a request.
struct WrappedKey {
  Bytes encapsulated_key;            // 120 bytes: sent (base64) to the router as X-Encapsulated-Key
  ResponseSecrets response_secrets;  // the client keeps these to read this node's response
};

// Client side of one request.
class RequestSender {
 public:
  // Fresh DEK and body nonce.
  static Result<RequestSender> create(Chunking chunking);
  // Fixed DEK (32 bytes) and body nonce (12 bytes) — known-answer tests only.
  static Result<RequestSender> create_for_testing(Chunking chunking, ByteSpan dek, ByteSpan body_nonce);

  Chunking chunking() const { return chunking_; }
  std::string_view media_type() const { return request_media_type(chunking_); }

  // Wraps the DEK to a node's P-256 public key (kInvalidArgument for another KEM). Call once per candidate node.
  Result<WrappedKey> wrap_key(const crypto::KemPublicKey& node_key) const;
  // The same with a fixed ephemeral key (crypto/kem.h EncapOptions) — known-answer tests only.
  Result<WrappedKey> wrap_key_for_testing(const crypto::KemPublicKey& node_key,
                                          const crypto::EncapOptions& ephemeral) const;

  // The body, once per sender (a second body would reuse the DEK and nonce: kInvalidArgument).
  // Unchunked senders: the whole body.
  Result<Bytes> seal_body(ByteSpan bhttp);
  // Chunked senders: a streaming sealer whose prefix is the body nonce.
  Result<ChunkStreamSealer> chunked_body_sealer(const ChunkSealOptions& options = fixed_size_body_chunks());

 private:
  RequestSender(Chunking chunking, SecretBytes dek, Bytes body_nonce)
      : chunking_(chunking), dek_(std::move(dek)), body_nonce_(std::move(body_nonce)) {}
  Status use_body(Chunking expected);

  Chunking chunking_;
  SecretBytes dek_;
  Bytes body_nonce_;
  bool body_used_ = false;
};

// Node side of one request.
class RequestReceiver {
 public:
  // Checks the header (exactly the suite above, key id 0), then SetupBaseR with `node_key` — any KemPrivateKey for
  // P-256, e.g. a DhPrivateKey whose DH runs in the TPM — and opens the DEK. `request_chunking` comes from the
  // request's Content-Type; it selects the HPKE info, so a mismatch fails the unwrap. Errors: wrong size or header
  // (kDecode), wrong key type (kInvalidArgument), a key that is not the recipient or a tampered blob
  // (kAuthenticationFailed or the KEM's error for an invalid enc).
  static Result<RequestReceiver> unwrap_key(ByteSpan encapsulated_key, const crypto::KemPrivateKey& node_key,
                                            Chunking request_chunking);

  Chunking chunking() const { return chunking_; }
  ByteSpan enc() const { return response_secrets_.enc(); }
  const ResponseSecrets& response_secrets() const { return response_secrets_; }

  // Unchunked requests: the whole body (body_nonce ‖ ct).
  Result<Bytes> open_body(ByteSpan body) const;
  // Chunked requests: a streaming opener (body nonce prefix, then chunks).
  Result<PrefixedChunkOpener> chunked_body_opener(const ChunkOpenLimits& limits = body_chunk_limits()) const;

 private:
  RequestReceiver(Chunking chunking, SecretBytes dek, ResponseSecrets secrets)
      : chunking_(chunking), dek_(std::move(dek)), response_secrets_(std::move(secrets)) {}

  Chunking chunking_;
  SecretBytes dek_;
  ResponseSecrets response_secrets_;
};

}  // namespace openpcc::wire::compute
