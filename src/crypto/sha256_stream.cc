#include "crypto/sha256_stream.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace openpcc::crypto {

// As in sha256(): the digest calls only fail on allocation failure or a missing provider, which leave nothing to
// recover, so they abort instead of threading an error through every caller.
void Sha256Stream::Deleter::operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
void Sha256Stream::Deleter::operator()(EVP_MD* md) const { EVP_MD_free(md); }

Sha256Stream::Sha256Stream() : md_(EVP_MD_fetch(nullptr, "SHA2-256", nullptr)), ctx_(EVP_MD_CTX_new()) {
  if (!md_ || !ctx_ || EVP_DigestInit_ex(ctx_.get(), md_.get(), nullptr) != 1) std::abort();
}
Sha256Stream::Sha256Stream(Sha256Stream&&) noexcept = default;
Sha256Stream& Sha256Stream::operator=(Sha256Stream&&) noexcept = default;
Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::update(ByteSpan data) {
  if (data.empty()) return;
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) std::abort();
}

Sha256Digest Sha256Stream::finish() {
  Sha256Digest out{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &size) != 1 || size != out.size() ||
      EVP_DigestInit_ex(ctx_.get(), md_.get(), nullptr) != 1) {
    std::abort();
  }
  return out;
}

}  // namespace openpcc::crypto
