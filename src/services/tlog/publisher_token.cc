#include "services/tlog/publisher_token.h"

#include <algorithm>
#include <cctype>

#include "common/bytes.h"
#include "common/random.h"
#include "common/secure.h"

namespace openpcc::tlog {

std::string generate_publisher_token() {
  Bytes secret = random_bytes(32);
  std::string out = std::string(kPublisherTokenPrefix) + to_base64url(secret);
  secure_wipe(secret.data(), secret.size());
  return out;
}

std::string publisher_token_hash(std::string_view token) { return to_hex(crypto::sha256(as_bytes(token))); }

Result<PublisherTokens> PublisherTokens::from_hashes(std::span<const std::string> hex_hashes) {
  PublisherTokens out;
  for (size_t i = 0; i < hex_hashes.size(); ++i) {
    auto bytes = from_hex(hex_hashes[i]);
    if (!bytes || bytes->size() != crypto::kSha256Size) {
      return make_error(ErrorCode::kInvalidArgument,
                        "publisher token hash #" + std::to_string(i + 1) + " is not 64 hex digits (SHA-256)");
    }
    crypto::Sha256Digest d;
    std::copy(bytes->begin(), bytes->end(), d.begin());
    out.hashes_.push_back(d);
  }
  return out;
}

bool PublisherTokens::authorizes(std::string_view header) const {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return false;
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return false;
  const crypto::Sha256Digest presented = crypto::sha256(as_bytes(token));
  bool match = false;
  // Every configured hash is compared, whichever matches, so timing says nothing about which one did.
  for (const crypto::Sha256Digest& h : hashes_) match |= ct_equal(presented, h);
  return match;
}

}  // namespace openpcc::tlog
