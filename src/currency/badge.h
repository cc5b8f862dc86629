// Badges: AuthBank's signed statement of which models a client may use, shown to compute nodes with each request.
//
// Credentials.models encoding (the bytes of proto `Credentials{bytes models = 1}`): for each model in strictly
// ascending byte order, uint32 little-endian length ‖ the name. Names are non-empty printable ASCII (32..126).
// Decoding accepts only that canonical form (sorted, no duplicates, nothing left over), so every credential set has
// exactly one encoding and re-encoding a decoded badge reproduces the signed bytes.
//
// Badge = proto `Badge{Credentials credentials = 1; bytes signature = 2}` with
// signature = Ed25519(badge key, serialized Credentials) — exactly the bytes Go's proto.Marshal produces for
// Credentials{models}: 0x0a ‖ varint(len(models)) ‖ models. Header form (`X-Confsec-Badge`): standard base64.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/ed25519.h"

namespace openpcc::currency {

inline constexpr std::string_view kBadgeHeader = "X-Confsec-Badge";
// Serialized badges (and their models encodings) larger than this are rejected before parsing.
inline constexpr size_t kMaxBadgeSize = 64 * 1024;

struct Credentials {
  std::vector<std::string> models;  // any order; encoding sorts

  // The models encoding. kInvalidArgument for an empty or non-printable name or a duplicate.
  Result<Bytes> encode_models() const;
  // The canonical encoding only (see above); models come back in ascending order. kDecode otherwise.
  static Result<Credentials> decode_models(ByteSpan encoded);

  // The serialized proto Credentials: the bytes the badge signature covers.
  Result<Bytes> serialize() const;

  // Exact match of a model name.
  bool allows(std::string_view model) const;
};

struct Badge {
  Credentials credentials;  // ascending once parsed or issued
  Bytes signature;

  Result<Bytes> serialize() const;
  // Both fields present, models canonical, signature exactly 64 bytes. kDecode otherwise. Does not verify.
  static Result<Badge> parse(ByteSpan bytes);

  Result<std::string> to_header() const;
  static Result<Badge> from_header(std::string_view text);
};

// Signs credentials with the badge key (AuthBank side).
class BadgeIssuer {
 public:
  explicit BadgeIssuer(crypto::Ed25519PrivateKey key) : key_(std::move(key)) {}

  // kInvalidArgument for credentials naming no model or an invalid one. The badge lists the models sorted.
  Result<Badge> issue(const Credentials& credentials) const;
  const crypto::Ed25519PublicKey& public_key() const { return key_.public_key(); }

 private:
  crypto::Ed25519PrivateKey key_;
};

// Node side: ok iff the signature covers the badge's credentials under `key`; kAuthenticationFailed otherwise.
Status verify_badge(const crypto::Ed25519PublicKey& key, const Badge& badge);

}  // namespace openpcc::currency
