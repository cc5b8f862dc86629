#include "services/authbank/api_key.h"

#include "common/bytes.h"
#include "common/random.h"
#include "common/secure.h"

namespace openpcc::authbank {

ApiKey::ApiKey(std::string text) : text_(std::move(text)), hash_(crypto::sha256(as_bytes(text_))) {}

ApiKey::ApiKey(ApiKey&& other) noexcept : text_(std::move(other.text_)), hash_(other.hash_) { other.wipe(); }

ApiKey& ApiKey::operator=(ApiKey&& other) noexcept {
  if (this != &other) {
    wipe();
    text_ = std::move(other.text_);
    hash_ = other.hash_;
    other.wipe();
  }
  return *this;
}

ApiKey::~ApiKey() { wipe(); }

void ApiKey::wipe() {
  if (!text_.empty()) secure_wipe(text_.data(), text_.size());
  text_.clear();
}

ApiKey ApiKey::generate() {
  SecretBytes random(kApiKeyRandomSize);
  fill_random(random.mutable_span());
  std::string encoded = to_base64url(random.span());
  std::string text = std::string(kApiKeyPrefix) + encoded;
  secure_wipe(encoded.data(), encoded.size());
  return ApiKey(std::move(text));
}

Result<ApiKey> ApiKey::parse(std::string_view text) {
  auto unauthenticated = [] { return make_error(ErrorCode::kUnauthenticated, "invalid API key"); };
  if (text.size() != kApiKeyTextSize || !text.starts_with(kApiKeyPrefix)) return unauthenticated();
  // Strict base64url (no padding, zero trailing bits) makes the text form of a key unique, so equal keys hash equal.
  auto decoded = from_base64url(text.substr(kApiKeyPrefix.size()));
  if (!decoded || decoded->size() != kApiKeyRandomSize) {
    if (decoded) secure_wipe(decoded->data(), decoded->size());
    return unauthenticated();
  }
  secure_wipe(decoded->data(), decoded->size());
  return ApiKey(std::string(text));
}

std::string ApiKey::id() const { return api_key_id(hash_); }

std::string api_key_id(const crypto::Sha256Digest& hash) { return to_hex(ByteSpan(hash).first(8)); }

}  // namespace openpcc::authbank
