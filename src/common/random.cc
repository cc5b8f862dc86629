#include "common/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace openpcc {

void fill_random(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fputs("openpcc: getrandom failed; aborting rather than using weak randomness\n", stderr);
      std::abort();
    }
    done += static_cast<size_t>(n);
  }
}

Bytes random_bytes(size_t n) {
  Bytes out(n);
  fill_random(out);
  return out;
}

uint64_t random_uniform(uint64_t bound) {
  if (bound <= 1) return 0;
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  for (;;) {
    uint64_t v;
    fill_random({reinterpret_cast<uint8_t*>(&v), sizeof v});
    if (v < limit) return v % bound;
  }
}

}  // namespace openpcc
