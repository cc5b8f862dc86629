// Oblivious HTTP (RFC 9458): encapsulated requests and responses, for the client and the gateway.
//
//   hdr       = key_id(1) ‖ kem_id(2) ‖ kdf_id(2) ‖ aead_id(2)                            (7 bytes)
//   info      = "message/bhttp request" ‖ 0x00 ‖ hdr     ("message/bhttp chunked request" for chunked requests)
//   request   = hdr ‖ enc ‖ Seal(aad = "", bhttp)        (chunked: wire/ohttp_chunked.h)
//   response  = wire/response_encryption.h with label "message/bhttp response" / "message/bhttp chunked response"
//
// Client:
//   auto sent = encapsulate_request(key_config, bhttp);                 // → sent->request, to the relay
//   auto ctx  = sent->response_secrets.context(Chunking::kUnchunked);   // by the response's Content-Type
//   auto bhttp_response = ctx->open(response_body);
// Gateway:
//   auto got = decapsulate_request(keys, body);                         // OhttpError carries the taxonomy code
//   auto ctx = got->response_secrets.context(Chunking::kUnchunked);
//   auto body = ctx->seal(bhttp_response);
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/hpke.h"
#include "crypto/kem.h"
#include "wire/chunk_framing.h"
#include "wire/ohttp_error.h"
#include "wire/ohttp_key_config.h"
#include "wire/response_encryption.h"

namespace openpcc::wire::ohttp {

// Content-Types of the outer HTTP messages.
inline constexpr std::string_view kRequestMediaType = "message/ohttp-req";
inline constexpr std::string_view kResponseMediaType = "message/ohttp-res";
inline constexpr std::string_view kChunkedRequestMediaType = "message/ohttp-chunked-req";
inline constexpr std::string_view kChunkedResponseMediaType = "message/ohttp-chunked-res";

// HPKE info / exporter labels.
inline constexpr std::string_view kRequestLabel = "message/bhttp request";
inline constexpr std::string_view kResponseLabel = "message/bhttp response";
inline constexpr std::string_view kChunkedRequestLabel = "message/bhttp chunked request";
inline constexpr std::string_view kChunkedResponseLabel = "message/bhttp chunked response";

std::string_view request_media_type(Chunking chunking);
std::string_view response_media_type(Chunking chunking);
std::string_view request_label(Chunking chunking);
std::string_view response_label(Chunking chunking);
// The framing a Content-Type announces (exact match, as the media types have no parameters); nullopt for anything
// else, which a gateway answers with kInvalidRequestContentType (200).
std::optional<Chunking> request_chunking(std::string_view content_type);
std::optional<Chunking> response_chunking(std::string_view content_type);

inline constexpr size_t kRequestHeaderSize = 7;

struct RequestHeader {
  uint8_t key_id = 0;
  crypto::KemId kem = crypto::KemId::kDhkemX25519HkdfSha256;
  crypto::KdfId kdf = crypto::KdfId::kHkdfSha256;
  crypto::AeadId aead = crypto::AeadId::kAes128Gcm;

  std::array<uint8_t, kRequestHeaderSize> encode() const;
  // Reads the first 7 bytes of `bytes` (kTruncated if fewer). Unknown KEM/KDF/AEAD ids and the export-only AEAD
  // are kUnsupported.
  static Result<RequestHeader> parse(ByteSpan bytes);
  SymmetricAlgorithm algorithm() const { return {kdf, aead}; }
  bool operator==(const RequestHeader&) const = default;
};

// label ‖ 0x00 ‖ hdr
Bytes request_info(Chunking chunking, const RequestHeader& header);

// ---- Client -------------------------------------------------------------------------------------------------------

struct EncapsulateOptions {
  // The (KDF, AEAD) to use; it must be listed in the key config. Default: the first listed.
  std::optional<SymmetricAlgorithm> algorithm;
  // Tests and vectors only: a fixed ephemeral key (crypto/kem.h EncapOptions: ikm_e or sk_e).
  crypto::EncapOptions ephemeral_for_testing;
};

struct EncapsulatedRequest {
  Bytes request;                     // hdr ‖ enc ‖ ct: the message/ohttp-req body
  ResponseSecrets response_secrets;  // keep for the response
};

// Validates the key config (its KEM and public key) and the chosen algorithm (kInvalidArgument if not listed).
Result<EncapsulatedRequest> encapsulate_request(const KeyConfig& key_config, ByteSpan bhttp,
                                                const EncapsulateOptions& options = {});

// ---- Gateway ------------------------------------------------------------------------------------------------------

// A private key with its published configuration. Shared ownership so one key object (possibly hardware-backed)
// serves many concurrent requests; implementations must be safe for concurrent const use (crypto/kem.h).
struct GatewayKey {
  KeyConfig config;
  std::shared_ptr<const crypto::KemPrivateKey> private_key;
};

// Finds the key for a request header, or says which taxonomy error applies. A gateway with key rotation wraps
// GatewayKeySet::find and returns kInactiveKey (103) for keys outside their validity period.
using KeyFinder = std::function<OhttpResult<GatewayKey>(const RequestHeader& header)>;

// The gateway's keys, looked up by (key_id, kem_id).
class GatewayKeySet {
 public:
  // kInvalidArgument if the config is invalid, the private key's KEM or public key do not match it, or another key
  // already has the same (key_id, kem).
  Status add(KeyConfig config, std::shared_ptr<const crypto::KemPrivateKey> private_key);

  // kKeyNotFound (101) if no key has the header's (key_id, kem); kInvalidKey (102) if that key does not list the
  // header's (kdf, aead).
  OhttpResult<GatewayKey> find(const RequestHeader& header) const;

  const std::vector<GatewayKey>& keys() const { return keys_; }
  // application/ohttp-keys for all keys, in insertion order.
  Result<Bytes> encode_key_configs() const;

 private:
  std::vector<GatewayKey> keys_;
};

struct DecapsulatedRequest {
  RequestHeader header;
  Bytes bhttp;
  ResponseSecrets response_secrets;
};

// Taxonomy codes: a short or unparseable header (unknown ids) → kInvalidRequestHeader (100); the finder's code for
// key lookup; anything after that — short enc, an enc the KEM rejects, a bad tag — → kRequestDecoding (201).
OhttpResult<DecapsulatedRequest> decapsulate_request(const KeyFinder& keys, ByteSpan request);
OhttpResult<DecapsulatedRequest> decapsulate_request(const GatewayKeySet& keys, ByteSpan request);

}  // namespace openpcc::wire::ohttp
