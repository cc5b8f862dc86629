#include "crypto/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace openpcc::crypto {

Sha256Digest sha256(ByteSpan data) {
  Sha256Digest out{};
  unsigned int size = 0;
  // EVP_Digest only fails on allocation failure or a missing SHA-256 provider; neither leaves a usable process.
  if (EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha256(), nullptr) != 1 || size != out.size()) {
    std::abort();
  }
  return out;
}

}  // namespace openpcc::crypto
