#include "crypto/sha384.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace openpcc::crypto {

Sha384Digest sha384(ByteSpan data) {
  Sha384Digest out{};
  unsigned int size = 0;
  // As sha256(): failure means a broken OpenSSL, not bad input.
  if (EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha384(), nullptr) != 1 || size != out.size()) {
    std::abort();
  }
  return out;
}

}  // namespace openpcc::crypto
