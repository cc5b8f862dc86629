#include "crypto/sha512.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace openpcc::crypto {

Sha512Digest sha512(ByteSpan data) {
  Sha512Digest out{};
  unsigned int size = 0;
  // As sha256(): failure means a broken OpenSSL, not bad input.
  if (EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha512(), nullptr) != 1 || size != out.size()) {
    std::abort();
  }
  return out;
}

}  // namespace openpcc::crypto
