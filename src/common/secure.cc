#include "common/secure.h"

#include <string.h>

namespace openpcc {

void secure_wipe(void* data, size_t size) {
  if (size != 0) explicit_bzero(data, size);
}

bool ct_equal(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = diff | (a[i] ^ b[i]);
  return diff == 0;
}

void SecretBytes::resize(size_t n) {
  if (n < data_.size()) secure_wipe(data_.data() + n, data_.size() - n);
  if (n > data_.capacity()) {
    // Reallocation would leave the old copy behind: move into a fresh buffer and wipe the old one ourselves.
    std::vector<uint8_t> bigger(n, 0);
    std::copy(data_.begin(), data_.end(), bigger.begin());
    wipe();
    data_.swap(bigger);
    return;
  }
  data_.resize(n, 0);
}

}  // namespace openpcc
