// Keccak-f[1600] and the FIPS 202 functions built on it: SHA3-256, SHA3-512, SHAKE128, SHAKE256.
// OpenSSL 3.0 can squeeze a SHAKE only once, but Kyber's matrix sampling reads SHAKE128 output block by block, so the
// sponge lives here with an incremental absorb/squeeze interface. Not constant-time in the input *length*; constant
// time in the input *contents*, as every sponge is.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/bytes.h"

namespace openpcc::crypto::keccak {

inline constexpr size_t kStateLanes = 25;
using State = std::array<uint64_t, kStateLanes>;

// The 24-round permutation, in place.
void permute(State& state);

// An incremental sponge. Absorb any number of times, then squeeze any number of times; the first squeeze pads.
// Absorbing after squeezing has started is a programming error and is ignored in release builds (asserts otherwise).
// The state is wiped on destruction because callers hash secrets through it.
class Sponge {
 public:
  static Sponge sha3_256() { return Sponge(136, kSha3Domain); }
  static Sponge sha3_512() { return Sponge(72, kSha3Domain); }
  static Sponge shake128() { return Sponge(168, kShakeDomain); }
  static Sponge shake256() { return Sponge(136, kShakeDomain); }

  Sponge(const Sponge&) = delete;
  Sponge& operator=(const Sponge&) = delete;
  Sponge(Sponge&& other) noexcept;
  Sponge& operator=(Sponge&&) = delete;
  ~Sponge();

  Sponge& absorb(ByteSpan data);
  void squeeze(std::span<uint8_t> out);

  size_t rate() const { return rate_; }

 private:
  // FIPS 202 domain-separation suffixes, already merged with the first bit of pad10*1.
  static constexpr uint8_t kSha3Domain = 0x06;
  static constexpr uint8_t kShakeDomain = 0x1f;

  Sponge(size_t rate, uint8_t domain) : rate_(rate), domain_(domain) {}
  void pad_and_switch_to_squeezing();

  State state_{};
  size_t rate_;
  uint8_t domain_;
  size_t position_ = 0;  // byte offset into the current block (absorbing or squeezing)
  bool squeezing_ = false;
};

// One-shot helpers. Digest outputs have fixed sizes; XOF outputs take any length.
void sha3_256(ByteSpan in, std::span<uint8_t, 32> out);
void sha3_512(ByteSpan in, std::span<uint8_t, 64> out);
void shake128(ByteSpan in, std::span<uint8_t> out);
void shake256(ByteSpan in, std::span<uint8_t> out);

}  // namespace openpcc::crypto::keccak
