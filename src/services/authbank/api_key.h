// AuthBank API keys: the bearer secret that identifies an account to the AuthBank.
//
// A key is 32 bytes from the OS CSPRNG, shown to its owner exactly once as text: "opcc_" followed by the unpadded
// base64url of the bytes (48 characters in all). The prefix makes a leaked key recognisable to secret scanners and
// to people. The AuthBank stores only SHA-256 of the text (the key is uniformly random, so a fast hash is the right
// one: there is nothing to brute-force) and a short key id derived from that hash, which is what logs and admin
// commands show.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/sha256.h"

namespace openpcc::authbank {

inline constexpr std::string_view kApiKeyPrefix = "opcc_";
inline constexpr size_t kApiKeyRandomSize = 32;
inline constexpr size_t kApiKeyTextSize = 48;  // prefix + 43 base64url characters
// The header the reference client sends the key in (plain HTTPS to the AuthBank).
inline constexpr std::string_view kApiKeyHeader = "cf-authorization";

class ApiKey {
 public:
  // A fresh key.
  static ApiKey generate();
  // Exactly the text form above; anything else is kUnauthenticated (a malformed key is a wrong key, and the answer
  // must not help anyone probe the format).
  static Result<ApiKey> parse(std::string_view text);

  // The secret text. Show it once; never log it.
  const std::string& text() const { return text_; }
  // SHA-256 of text(): what the database stores and looks keys up by.
  const crypto::Sha256Digest& hash() const { return hash_; }
  // A short public handle (16 hex characters from the hash) for logs and admin commands.
  std::string id() const;

  // Move-only, so that copies of the secret do not scatter; wiped on destruction.
  ApiKey(const ApiKey&) = delete;
  ApiKey& operator=(const ApiKey&) = delete;
  ApiKey(ApiKey&& other) noexcept;
  ApiKey& operator=(ApiKey&& other) noexcept;
  ~ApiKey();

 private:
  explicit ApiKey(std::string text);
  void wipe();
  std::string text_;
  crypto::Sha256Digest hash_{};
};

// The key id for a stored hash (the same as ApiKey::id()).
std::string api_key_id(const crypto::Sha256Digest& hash);

}  // namespace openpcc::authbank
