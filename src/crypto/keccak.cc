#include "crypto/keccak.h"

#include <cassert>
#include <utility>

#include "common/secure.h"

namespace openpcc::crypto::keccak {
namespace {

constexpr int kRounds = 24;

// Lane (x, y) lives at index x + 5y; bytes are little-endian within a lane (FIPS 202 §3.1.2).
constexpr size_t lane(size_t x, size_t y) { return x + 5 * y; }

// The constants of FIPS 202 §3.2 are derived here from their definitions rather than typed in.

// rc(t): output bit of the LFSR x^8 + x^6 + x^5 + x^4 + 1 (Algorithm 5).
constexpr bool lfsr_bit(int t) {
  unsigned r = 1;
  for (int i = 0; i < t % 255; ++i) {
    r <<= 1;
    if (r & 0x100) r ^= 0x171;
  }
  return r & 1;
}

constexpr std::array<uint64_t, kRounds> make_round_constants() {
  std::array<uint64_t, kRounds> rc{};
  for (int round = 0; round < kRounds; ++round) {
    for (int j = 0; j <= 6; ++j) {
      if (lfsr_bit(j + 7 * round)) rc[round] |= uint64_t{1} << ((1u << j) - 1);
    }
  }
  return rc;
}

// ρ offsets walk (x, y) ← (y, 2x + 3y) starting from (1, 0) (Algorithm 2).
constexpr std::array<unsigned, kStateLanes> make_rho_offsets() {
  std::array<unsigned, kStateLanes> offsets{};
  size_t x = 1, y = 0;
  for (unsigned t = 0; t < 24; ++t) {
    offsets[lane(x, y)] = ((t + 1) * (t + 2) / 2) % 64;
    size_t next_y = (2 * x + 3 * y) % 5;
    x = y;
    y = next_y;
  }
  return offsets;
}

// π moves lane (x, y) to (y, 2x + 3y) (Algorithm 3, read as a destination map).
constexpr std::array<size_t, kStateLanes> make_pi_destinations() {
  std::array<size_t, kStateLanes> dest{};
  for (size_t x = 0; x < 5; ++x) {
    for (size_t y = 0; y < 5; ++y) dest[lane(x, y)] = lane(y, (2 * x + 3 * y) % 5);
  }
  return dest;
}

constexpr auto kRoundConstants = make_round_constants();
constexpr auto kRhoOffsets = make_rho_offsets();
constexpr auto kPiDestinations = make_pi_destinations();

static_assert(kRoundConstants[0] == 0x0000000000000001ULL);
static_assert(kRoundConstants[23] == 0x8000000080008008ULL);
static_assert(kRhoOffsets[lane(1, 0)] == 1 && kRhoOffsets[lane(4, 4)] == 14);

constexpr uint64_t rotl(uint64_t v, unsigned n) { return n == 0 ? v : (v << n) | (v >> (64 - n)); }

}  // namespace

void permute(State& a) {
  for (int round = 0; round < kRounds; ++round) {
    // θ
    uint64_t c[5];
#pragma GCC unroll 5
    for (size_t x = 0; x < 5; ++x) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
#pragma GCC unroll 5
    for (size_t x = 0; x < 5; ++x) {
      uint64_t d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
#pragma GCC unroll 5
      for (size_t y = 0; y < 25; y += 5) a[x + y] ^= d;
    }
    // ρ and π together
    State b;
#pragma GCC unroll 25
    for (size_t i = 0; i < kStateLanes; ++i) b[kPiDestinations[i]] = rotl(a[i], kRhoOffsets[i]);
    // χ
#pragma GCC unroll 5
    for (size_t y = 0; y < 25; y += 5) {
#pragma GCC unroll 5
      for (size_t x = 0; x < 5; ++x) a[x + y] = b[x + y] ^ (~b[(x + 1) % 5 + y] & b[(x + 2) % 5 + y]);
    }
    // ι
    a[0] ^= kRoundConstants[round];
  }
}

Sponge::Sponge(Sponge&& other) noexcept
    : state_(other.state_),
      rate_(other.rate_),
      domain_(other.domain_),
      position_(other.position_),
      squeezing_(other.squeezing_) {
  secure_wipe(other.state_.data(), sizeof(other.state_));
}

Sponge::~Sponge() { secure_wipe(state_.data(), sizeof(state_)); }

Sponge& Sponge::absorb(ByteSpan data) {
  assert(!squeezing_ && "Sponge::absorb after squeeze");
  if (squeezing_) return *this;
  size_t i = 0;
  while (i < data.size()) {
    // Whole lanes when aligned, bytes otherwise.
    if (position_ % 8 == 0 && data.size() - i >= 8 && position_ + 8 <= rate_) {
      uint64_t v = 0;
      for (size_t k = 0; k < 8; ++k) v |= uint64_t{data[i + k]} << (8 * k);
      state_[position_ / 8] ^= v;
      position_ += 8;
      i += 8;
    } else {
      state_[position_ / 8] ^= uint64_t{data[i]} << (8 * (position_ % 8));
      ++position_;
      ++i;
    }
    if (position_ == rate_) {
      permute(state_);
      position_ = 0;
    }
  }
  return *this;
}

void Sponge::pad_and_switch_to_squeezing() {
  // pad10*1 with the domain suffix: the suffix bits first, then the final 1 bit at the end of the block.
  state_[position_ / 8] ^= uint64_t{domain_} << (8 * (position_ % 8));
  state_[(rate_ - 1) / 8] ^= uint64_t{0x80} << (8 * ((rate_ - 1) % 8));
  permute(state_);
  position_ = 0;
  squeezing_ = true;
}

void Sponge::squeeze(std::span<uint8_t> out) {
  if (!squeezing_) pad_and_switch_to_squeezing();
  size_t i = 0;
  while (i < out.size()) {
    if (position_ == rate_) {
      permute(state_);
      position_ = 0;
    }
    // Whole lanes when aligned, bytes otherwise.
    if (position_ % 8 == 0 && out.size() - i >= 8 && position_ + 8 <= rate_) {
      uint64_t v = state_[position_ / 8];
      for (size_t k = 0; k < 8; ++k) out[i + k] = static_cast<uint8_t>(v >> (8 * k));
      position_ += 8;
      i += 8;
    } else {
      out[i++] = static_cast<uint8_t>(state_[position_ / 8] >> (8 * (position_ % 8)));
      ++position_;
    }
  }
}

void sha3_256(ByteSpan in, std::span<uint8_t, 32> out) { Sponge::sha3_256().absorb(in).squeeze(out); }
void sha3_512(ByteSpan in, std::span<uint8_t, 64> out) { Sponge::sha3_512().absorb(in).squeeze(out); }
void shake128(ByteSpan in, std::span<uint8_t> out) { Sponge::shake128().absorb(in).squeeze(out); }
void shake256(ByteSpan in, std::span<uint8_t> out) { Sponge::shake256().absorb(in).squeeze(out); }

}  // namespace openpcc::crypto::keccak
