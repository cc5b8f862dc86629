// Publisher tokens: the bearer secrets that allow appending to the transparency log (`Authorization: Bearer <token>`).
//
// A token is 32 bytes from the OS CSPRNG, written as "tlogpub_" followed by the unpadded base64url of the bytes. The
// log's configuration holds only SHA-256 of the token text, in hex (a uniformly random secret needs no slow hash), so
// a leaked config file grants nothing. The check hashes the presented token and compares it with every configured
// hash in constant time.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "crypto/sha256.h"

namespace openpcc::tlog {

inline constexpr std::string_view kPublisherTokenPrefix = "tlogpub_";

// A fresh token (show it once; never log it).
std::string generate_publisher_token();
// SHA-256 of the token text, lowercase hex: what the config stores.
std::string publisher_token_hash(std::string_view token);

class PublisherTokens {
 public:
  // From hex SHA-256 strings (64 hex digits each); kInvalidArgument names the bad entry.
  static Result<PublisherTokens> from_hashes(std::span<const std::string> hex_hashes);

  bool empty() const { return hashes_.empty(); }
  // Whether an Authorization header value ("Bearer <token>") carries a configured token. Scheme case-insensitive.
  bool authorizes(std::string_view authorization_header) const;

 private:
  std::vector<crypto::Sha256Digest> hashes_;
};

}  // namespace openpcc::tlog
