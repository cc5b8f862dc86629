// DSSE v1, the Dead Simple Signing Envelope (github.com/secure-systems-lab/dsse, protocol.md and envelope.md), with
// Ed25519 publisher keys.
//
// A signature covers the pre-authentication encoding of the payload type and the payload bytes:
//
//   PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
//
// with LEN the ASCII decimal byte length (no leading zeros) and SP one space, so the type is authenticated and cannot
// be swapped for another one that reads the same bytes differently.
//
// JSON envelope, as to_json writes it (compact, members in ascending order, standard base64 with padding):
//
//   {"payload":"<b64>","payloadType":"<type>","signatures":[{"keyid":"<keyid>","sig":"<b64 of 64 bytes>"}]}
//
// to_json is deterministic: the transparency log's leaf for a statement is exactly these bytes, so anyone holding the
// envelope recomputes the same leaf. A signature with an empty keyid is written without "keyid".
//
// parse_dsse_envelope follows envelope.md: empty members may be omitted, payload and sig may use the standard or the
// URL-safe base64 alphabet (standard: padding required; URL-safe: padding optional; never both alphabets in one
// string). It refuses unknown members, more than kMaxEnvelopeSignatures signatures and inputs above
// kMaxEnvelopeJsonBytes, so parse → to_json yields the canonical form of what was parsed.
//
// Keyids. Ours are publisher_key_id(key): the lowercase hex SHA-256 of the raw 32-byte Ed25519 public key. DSSE makes
// the keyid an unauthenticated hint; here it only selects which trusted key to try, and a signature is counted only if
// it verifies under that key.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/ed25519.h"

namespace openpcc::transparency {

// The payload type of in-toto statements (statement.h).
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";

inline constexpr size_t kMaxEnvelopeJsonBytes = size_t{1} << 20;  // 1 MiB
inline constexpr size_t kMaxEnvelopeSignatures = 16;

// PAE(UTF8(payload_type), payload), the bytes a DSSE signature signs.
Bytes dsse_pae(std::string_view payload_type, ByteSpan payload);

struct DsseEnvelope {
  struct Sig {
    std::string keyid;  // may be empty
    Bytes sig;
    friend bool operator==(const Sig&, const Sig&) = default;
  };
  std::string payload_type;
  Bytes payload;
  std::vector<Sig> signatures;
  friend bool operator==(const DsseEnvelope&, const DsseEnvelope&) = default;
};

// The canonical JSON text (see above).
std::string to_json(const DsseEnvelope& envelope);
// The same as a JSON value, for documents that embed an envelope (bundle.h).
nlohmann::json dsse_envelope_to_json_value(const DsseEnvelope& envelope);

// kDecode (malformed JSON, wrong member types, unknown members, bad base64) or kLimitExceeded (size, signature count).
Result<DsseEnvelope> parse_dsse_envelope(std::string_view json);
// The same checks on an already parsed value (without the byte limit, which is the caller's).
Result<DsseEnvelope> dsse_envelope_from_json_value(const nlohmann::json& value);

// Lowercase hex SHA-256 of the raw 32-byte public key (64 characters).
std::string publisher_key_id(const crypto::Ed25519PublicKey& key);

// The publisher keys a verifier trusts, by keyid, and how many of them must have signed.
class PublisherKeys {
 public:
  PublisherKeys() = default;
  // A set trusting each key under publisher_key_id (kInvalidArgument for a repeated key).
  static Result<PublisherKeys> of(std::initializer_list<crypto::Ed25519PublicKey> keys);

  // Trusts `key` under publisher_key_id(key).
  Status add(const crypto::Ed25519PublicKey& key);
  // Trusts `key` under a keyid agreed out of band (as in the DSSE test vectors). kInvalidArgument for an empty
  // keyid, a keyid already in use, or a key already trusted under another keyid (each key counts once).
  Status add(std::string keyid, const crypto::Ed25519PublicKey& key);

  // Valid signatures from this many distinct trusted keys are required. Default 1; kInvalidArgument for 0.
  Status set_threshold(size_t threshold);
  size_t threshold() const { return threshold_; }

  size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }
  const crypto::Ed25519PublicKey* find(std::string_view keyid) const;
  const std::map<std::string, crypto::Ed25519PublicKey, std::less<>>& keys() const { return keys_; }

 private:
  std::map<std::string, crypto::Ed25519PublicKey, std::less<>> keys_;
  size_t threshold_ = 1;
};

// Appends a signature by `key` over PAE(payload_type, payload), keyid publisher_key_id(key.public_key()).
// kInvalidArgument if the payload type is not UTF-8 or the envelope already has kMaxEnvelopeSignatures signatures;
// kLimitExceeded if the envelope's JSON would exceed kMaxEnvelopeJsonBytes.
Status dsse_add_signature(DsseEnvelope& envelope, const crypto::Ed25519PrivateKey& key);
// A new envelope with one signature.
Result<DsseEnvelope> dsse_sign(std::string payload_type, Bytes payload, const crypto::Ed25519PrivateKey& key);

// DSSE multi-signature verification. Each signature is checked against the trusted key its keyid names (signatures
// naming an unknown keyid are ignored), or against every trusted key when its keyid is empty. The envelope is
// accepted when signatures from at least keys.threshold() distinct trusted keys verify (a key that signed twice
// counts once) and its payload type is `expected_payload_type`.
//
// Returns the keyids of the trusted keys whose signatures verified, ascending. Errors: kInvalidArgument when `keys`
// is empty or has fewer keys than its threshold; kUnsupported for another payload type; kAuthenticationFailed when
// too few trusted signatures verify (the message counts the unknown-keyid and the invalid signatures).
Result<std::vector<std::string>> dsse_verify(const DsseEnvelope& envelope, const PublisherKeys& keys,
                                             std::string_view expected_payload_type);

}  // namespace openpcc::transparency
