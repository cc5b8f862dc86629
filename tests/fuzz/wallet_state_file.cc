// The wallet's state-file parser (client/wallet/wallet_state.h): never crashes on any bytes, and whatever parses
// satisfies the consistency rules and re-serializes stably (serialize → parse → serialize gives the same bytes).
//
// The first input byte chooses how the rest is read:
//   0  the whole file, as it would be read from disk (mostly stops at the checksum: that is the point of it)
//   1  the body only: the target adds the header and the SHA-256 trailer, so the body parser itself is explored
//      (structure-aware)
// Seeds (corpus/wallet_state_file): real states in both forms — empty, one of every stage with accounts, counters
// and a badge.
#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>

#include "client/wallet/wallet_state.h"

namespace {

using openpcc::Bytes;
using openpcc::ByteSpan;
namespace wallet = openpcc::wallet;

void put_u32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

Bytes frame(ByteSpan body) {
  Bytes file(wallet::kStateMagic.begin(), wallet::kStateMagic.end());
  put_u32(file, wallet::kStateFormatVersion);
  put_u32(file, static_cast<uint32_t>(body.size()));
  file.insert(file.end(), body.begin(), body.end());
  uint8_t digest[32];
  unsigned int size = 0;
  if (EVP_Digest(file.data(), file.size(), digest, &size, EVP_sha256(), nullptr) != 1) std::abort();
  file.insert(file.end(), digest, digest + 32);
  return file;
}

void check(ByteSpan file) {
  auto state = wallet::parse_state(file);
  if (!state) return;
  if (!wallet::check_state(*state)) std::abort();
  const Bytes once = wallet::serialize_state(*state);
  auto again = wallet::parse_state(once);
  if (!again) std::abort();
  if (wallet::serialize_state(*again) != once) std::abort();
  if (again->items.size() != state->items.size() || again->accounts.size() != state->accounts.size() ||
      !(again->counters == state->counters) || again->next_id != state->next_id) {
    std::abort();
  }
  const wallet::WalletState copy = state->clone();
  if (wallet::serialize_state(copy) != once) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > wallet::kMaxStateFileSize) return 0;
  const ByteSpan rest(data + 1, size - 1);
  if (data[0] == 1) {
    check(frame(rest));
  } else {
    check(rest);
  }
  return 0;
}
