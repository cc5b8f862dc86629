// Kyber-768 as specified for round 3 of the NIST PQC process ("CRYSTALS-Kyber Algorithm Specifications and
// Supporting Documentation", version 3.02), with the seed conventions of CIRCL's kem/kyber/kyber768.
//
// Arithmetic: coefficients are int16 mod q = 3329. Products go through Montgomery reduction (R = 2^16), sums through
// Barrett reduction; neither divides nor branches, so they are safe on secret coefficients. Polynomials in the
// "NTT domain" are the spec's NTT representation (pairs of coefficients mod X^2 - γ_i), which is also the encoding
// used on the wire for t̂ and ŝ.
#include "crypto/kyber768.h"

#include <cstring>
#include <string>
#include <type_traits>

#include "common/random.h"
#include "crypto/keccak.h"

namespace openpcc::crypto::kyber768 {
namespace {

constexpr int kN = 256;
constexpr int16_t kQ = 3329;
constexpr int kK = 3;
constexpr int kEta = 2;  // η1 = η2 = 2 for Kyber-768
constexpr int kDu = 10;
constexpr int kDv = 4;

constexpr size_t kSymBytes = 32;
constexpr size_t kPolyBytes = 384;                               // 256 coefficients × 12 bits
constexpr size_t kPolyVecBytes = kK * kPolyBytes;                // 1152
constexpr size_t kCompressedPolyVecBytes = kK * kN * kDu / 8;    // 960
constexpr size_t kCompressedPolyBytes = kN * kDv / 8;            // 128
constexpr size_t kCpaSecretKeySize = kPolyVecBytes;              // ŝ
constexpr size_t kNoiseBytes = kEta * kN / 4;                    // 128: CBD_η input

static_assert(kPublicKeySize == kPolyVecBytes + kSymBytes);
static_assert(kCiphertextSize == kCompressedPolyVecBytes + kCompressedPolyBytes);
static_assert(kSecretKeySize == kCpaSecretKeySize + kPublicKeySize + 2 * kSymBytes);

using Poly = std::array<int16_t, kN>;
using PolyVec = std::array<Poly, kK>;
using PolyMatrix = std::array<PolyVec, kK>;
using Sym = std::array<uint8_t, kSymBytes>;

// A value that is wiped when it goes out of scope. For plain arrays of secret coefficients and bytes.
template <class T>
struct Wiped {
  static_assert(std::is_trivially_copyable_v<T>);
  T v{};
  Wiped() = default;
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;
  ~Wiped() { secure_wipe(&v, sizeof(T)); }
};

// Stops the compiler from reasoning about a value (and so from turning mask arithmetic back into branches).
template <class T>
inline T value_barrier(T x) {
  __asm__("" : "+r"(x));
  return x;
}

// ---------------------------------------------------------------------------------------------------------------
// Modular arithmetic

constexpr int64_t mod_q(int64_t x) { return ((x % kQ) + kQ) % kQ; }

constexpr int64_t pow_mod_q(int64_t base, int64_t exp) {
  int64_t result = 1;
  base = mod_q(base);
  while (exp > 0) {
    if (exp & 1) result = result * base % kQ;
    base = base * base % kQ;
    exp >>= 1;
  }
  return result;
}

// x·R mod q as a centred int16, the form the Montgomery multiplier wants for constants.
constexpr int16_t to_montgomery_constant(int64_t x) {
  int64_t m = mod_q(x * 65536);
  return static_cast<int16_t>(m > kQ / 2 ? m - kQ : m);
}

constexpr unsigned bit_reverse7(unsigned i) {
  unsigned r = 0;
  for (int b = 0; b < 7; ++b) r |= ((i >> b) & 1u) << (6 - b);
  return r;
}

// ζ = 17 is the primitive 256th root of unity mod q fixed by the spec.
constexpr int64_t kZeta = 17;
static_assert(pow_mod_q(kZeta, 128) == kQ - 1);

// Twiddles of NTT layer k (k = 1..127 in the order the layers visit their blocks): ζ^brv7(k), and their inverses.
constexpr std::array<int16_t, 128> make_ntt_twiddles(bool inverse) {
  std::array<int16_t, 128> t{};
  for (unsigned k = 0; k < 128; ++k) {
    int64_t e = bit_reverse7(k);
    t[k] = to_montgomery_constant(pow_mod_q(kZeta, inverse ? 256 - e : e));
  }
  return t;
}
// γ_i = ζ^(2·brv7(i)+1): the base-case multiplication of pair i is mod X^2 - γ_i.
constexpr std::array<int16_t, 128> make_base_gammas() {
  std::array<int16_t, 128> g{};
  for (unsigned i = 0; i < 128; ++i) g[i] = to_montgomery_constant(pow_mod_q(kZeta, 2 * bit_reverse7(i) + 1));
  return g;
}

constexpr auto kTwiddles = make_ntt_twiddles(false);
constexpr auto kInverseTwiddles = make_ntt_twiddles(true);
constexpr auto kGammas = make_base_gammas();
// fqmul(x, kMontgomerySquared) = x·R: undoes the R^-1 a base multiplication leaves behind.
constexpr int16_t kMontgomerySquared = to_montgomery_constant(65536);
// The inverse NTT's 1/128, times R for the same reason.
constexpr int16_t kInverseNttScale = to_montgomery_constant(65536 * pow_mod_q(128, kQ - 2));

// q^-1 mod 2^16.
constexpr uint32_t kQInverseMod2_16 = 62209;
static_assert((kQInverseMod2_16 * static_cast<uint32_t>(kQ)) % 65536 == 1);

// Returns a·R^-1 mod q in (-q, q), for |a| ≤ q·2^15.
inline int16_t montgomery_reduce(int32_t a) {
  auto t = static_cast<int16_t>(static_cast<uint16_t>(static_cast<uint32_t>(a) * kQInverseMod2_16));
  return static_cast<int16_t>((a - static_cast<int32_t>(t) * kQ) >> 16);
}

inline int16_t fqmul(int16_t a, int16_t b) { return montgomery_reduce(static_cast<int32_t>(a) * b); }

// Returns a representative of a mod q in [-(q-1)/2, (q-1)/2] for any int16 a.
inline int16_t barrett_reduce(int16_t a) {
  constexpr int32_t kV = ((1 << 26) + kQ / 2) / kQ;
  int32_t t = (kV * a + (1 << 25)) >> 26;
  return static_cast<int16_t>(a - t * kQ);
}

// Maps (-q, q) to [0, q) without a branch.
inline int16_t to_canonical(int16_t a) {
  return static_cast<int16_t>(a + ((a >> 15) & kQ));
}

// Maps [0, 2q) to [0, q) without a branch.
inline int16_t subtract_q_if_needed(int16_t a) {
  auto r = static_cast<int16_t>(a - kQ);
  return static_cast<int16_t>(r + ((r >> 15) & kQ));
}

// floor(n / q) by multiply-and-shift (hardware division time can depend on its operands). With M = ceil(2^33 / q)
// and e = M·q - 2^33, n·M / 2^33 = n/q + n·e / (q·2^33), which has the same floor as n/q whenever n·e < 2^33.
constexpr uint64_t kDivideByQMultiplier = ((uint64_t{1} << 33) + kQ - 1) / kQ;
constexpr uint64_t kDivideByQMaxInput = (uint64_t{kQ - 1} << 10) + kQ / 2;  // largest n that compress<10> forms
static_assert((kDivideByQMultiplier * kQ - (uint64_t{1} << 33)) * kDivideByQMaxInput < (uint64_t{1} << 33));
inline uint32_t divide_by_q(uint32_t n) {
  return static_cast<uint32_t>((uint64_t{n} * kDivideByQMultiplier) >> 33);
}

// Compress_q(x, d) = round(2^d·x / q) mod 2^d for canonical x.
template <int D>
inline uint32_t compress(int16_t x) {
  static_assert(D >= 1 && D <= kDu);
  uint32_t n = (static_cast<uint32_t>(x) << D) + kQ / 2;
  return divide_by_q(n) & ((1u << D) - 1);
}

// Decompress_q(y, d) = round(q·y / 2^d).
template <int D>
inline int16_t decompress(uint32_t y) {
  return static_cast<int16_t>((y * kQ + (1u << (D - 1))) >> D);
}

// ---------------------------------------------------------------------------------------------------------------
// Polynomials

// One block of a forward layer: (lo, hi) ← (lo + ζ·hi, lo - ζ·hi). Fixed lengths and non-overlapping halves let
// the compiler vectorise the longer layers.
template <int Len>
inline void forward_butterflies(int16_t* __restrict lo, int16_t* __restrict hi, int16_t zeta) {
  for (int j = 0; j < Len; ++j) {
    int16_t t = fqmul(zeta, hi[j]);
    hi[j] = static_cast<int16_t>(lo[j] - t);
    lo[j] = static_cast<int16_t>(lo[j] + t);
  }
}

// One block of an inverse layer: (lo, hi) ← (lo + hi, ζ^-1·(lo - hi)), the sum Barrett-reduced.
template <int Len>
inline void inverse_butterflies(int16_t* __restrict lo, int16_t* __restrict hi, int16_t zeta_inverse) {
  for (int j = 0; j < Len; ++j) {
    int16_t t = lo[j];
    lo[j] = barrett_reduce(static_cast<int16_t>(t + hi[j]));
    hi[j] = fqmul(zeta_inverse, static_cast<int16_t>(t - hi[j]));
  }
}

// Block b of the layer with half-length Len uses twiddle index 128/Len + b, in both directions.
template <int Len>
inline void forward_layer(Poly& a) {
  for (int b = 0; b < kN / (2 * Len); ++b) {
    forward_butterflies<Len>(a.data() + 2 * Len * b, a.data() + 2 * Len * b + Len, kTwiddles[128 / Len + b]);
  }
}
template <int Len>
inline void inverse_layer(Poly& a) {
  for (int b = 0; b < kN / (2 * Len); ++b) {
    inverse_butterflies<Len>(a.data() + 2 * Len * b, a.data() + 2 * Len * b + Len, kInverseTwiddles[128 / Len + b]);
  }
}

// Forward NTT (Cooley–Tukey, bit-reversed output). Input |a| < q; output Barrett-reduced.
void ntt(Poly& a) {
  forward_layer<128>(a);
  forward_layer<64>(a);
  forward_layer<32>(a);
  forward_layer<16>(a);
  forward_layer<8>(a);
  forward_layer<4>(a);
  forward_layer<2>(a);
  // Each layer grows the bound by q, so after seven layers |a| < 8q still fits in int16.
  for (auto& c : a) c = barrett_reduce(c);
}

// Inverse NTT (Gentleman–Sande), then ×R/128: the factor R cancels the R^-1 of the base multiplications that
// produced the input. Input |a| < q; output |a| < q.
void inverse_ntt(Poly& a) {
  inverse_layer<2>(a);
  inverse_layer<4>(a);
  inverse_layer<8>(a);
  inverse_layer<16>(a);
  inverse_layer<32>(a);
  inverse_layer<64>(a);
  inverse_layer<128>(a);
  for (auto& c : a) c = fqmul(c, kInverseNttScale);
}

// out = Σ_j a[j] ∘ b[j] in the NTT domain, scaled by R^-1, with |out| < q. Inputs reduced (|·| < q).
// Pair i of a product is (a0 + a1·X)(b0 + b1·X) mod (X^2 - γ_i) = (a0·b0 + γ_i·a1·b1) + (a0·b1 + a1·b0)·X.
// The plain products are summed in 32 bits and reduced once: with γ_i held as γ_i·R, fqmul(a1, b1)·γ_i·R carries the
// same R scaling as a0·b0, and six terms below q^2 stay under the q·2^15 Montgomery bound.
void multiply_accumulate(Poly& out, const PolyVec& a, const PolyVec& b) {
  for (int i = 0; i < kN / 2; ++i) {
    int32_t c0 = 0, c1 = 0;
    for (int j = 0; j < kK; ++j) {
      int32_t a0 = a[j][2 * i], a1 = a[j][2 * i + 1];
      int32_t b0 = b[j][2 * i], b1 = b[j][2 * i + 1];
      c0 += a0 * b0 + static_cast<int32_t>(fqmul(static_cast<int16_t>(a1), static_cast<int16_t>(b1))) * kGammas[i];
      c1 += a0 * b1 + a1 * b0;
    }
    out[2 * i] = montgomery_reduce(c0);
    out[2 * i + 1] = montgomery_reduce(c1);
  }
}

void reduce(Poly& a) {
  for (auto& c : a) c = barrett_reduce(c);
}
void add_to(Poly& a, const Poly& b) {
  for (int i = 0; i < kN; ++i) a[i] = static_cast<int16_t>(a[i] + b[i]);
}

// 12-bit little-endian packing, two coefficients per three bytes. Input must be reduced (|a| < q).
void encode12(const Poly& a, std::span<uint8_t, kPolyBytes> out) {
  for (int i = 0; i < kN / 2; ++i) {
    auto t0 = static_cast<uint16_t>(to_canonical(a[2 * i]));
    auto t1 = static_cast<uint16_t>(to_canonical(a[2 * i + 1]));
    out[3 * i] = static_cast<uint8_t>(t0);
    out[3 * i + 1] = static_cast<uint8_t>((t0 >> 8) | (t1 << 4));
    out[3 * i + 2] = static_cast<uint8_t>(t1 >> 4);
  }
}

// Round 3 does not reject 12-bit values ≥ q in keys; they are reduced here. Everything downstream is arithmetic
// mod q, so this gives the same results as implementations that keep the raw value.
void decode12(std::span<const uint8_t, kPolyBytes> in, Poly& a) {
  for (int i = 0; i < kN / 2; ++i) {
    auto b0 = static_cast<uint16_t>(in[3 * i]), b1 = static_cast<uint16_t>(in[3 * i + 1]),
         b2 = static_cast<uint16_t>(in[3 * i + 2]);
    a[2 * i] = subtract_q_if_needed(static_cast<int16_t>(b0 | ((b1 & 0x0f) << 8)));
    a[2 * i + 1] = subtract_q_if_needed(static_cast<int16_t>((b1 >> 4) | (b2 << 4)));
  }
}

void encode12(const PolyVec& v, std::span<uint8_t, kPolyVecBytes> out) {
  for (int i = 0; i < kK; ++i) encode12(v[i], out.subspan(i * kPolyBytes).first<kPolyBytes>());
}
void decode12(std::span<const uint8_t, kPolyVecBytes> in, PolyVec& v) {
  for (int i = 0; i < kK; ++i) decode12(in.subspan(i * kPolyBytes).first<kPolyBytes>(), v[i]);
}

// u: 10 bits per coefficient, four coefficients per five bytes. Input reduced.
void compress_du(const PolyVec& u, std::span<uint8_t, kCompressedPolyVecBytes> out) {
  size_t o = 0;
  for (int p = 0; p < kK; ++p) {
    for (int i = 0; i < kN / 4; ++i) {
      uint64_t bits = 0;
      for (int j = 0; j < 4; ++j) bits |= uint64_t{compress<kDu>(to_canonical(u[p][4 * i + j]))} << (10 * j);
      for (int j = 0; j < 5; ++j) out[o++] = static_cast<uint8_t>(bits >> (8 * j));
    }
  }
}
void decompress_du(std::span<const uint8_t, kCompressedPolyVecBytes> in, PolyVec& u) {
  size_t o = 0;
  for (int p = 0; p < kK; ++p) {
    for (int i = 0; i < kN / 4; ++i) {
      uint64_t bits = 0;
      for (int j = 0; j < 5; ++j) bits |= uint64_t{in[o++]} << (8 * j);
      for (int j = 0; j < 4; ++j) u[p][4 * i + j] = decompress<kDu>(static_cast<uint32_t>(bits >> (10 * j)) & 0x3ff);
    }
  }
}

// v: 4 bits per coefficient, low nibble first. Input reduced.
void compress_dv(const Poly& v, std::span<uint8_t, kCompressedPolyBytes> out) {
  for (int i = 0; i < kN / 2; ++i) {
    uint32_t lo = compress<kDv>(to_canonical(v[2 * i]));
    uint32_t hi = compress<kDv>(to_canonical(v[2 * i + 1]));
    out[i] = static_cast<uint8_t>(lo | (hi << 4));
  }
}
void decompress_dv(std::span<const uint8_t, kCompressedPolyBytes> in, Poly& v) {
  for (int i = 0; i < kN / 2; ++i) {
    v[2 * i] = decompress<kDv>(in[i] & 0x0fu);
    v[2 * i + 1] = decompress<kDv>(in[i] >> 4);
  }
}

// Message bit i becomes coefficient i: 0 → 0, 1 → round(q/2) = 1665.
void message_to_poly(std::span<const uint8_t, kSymBytes> m, Poly& a) {
  for (int i = 0; i < kN; ++i) {
    auto bit = static_cast<int16_t>((m[i / 8] >> (i % 8)) & 1);
    auto mask = value_barrier(static_cast<int16_t>(-bit));
    a[i] = static_cast<int16_t>(mask & ((kQ + 1) / 2));
  }
}
// Compress_q(·, 1) per coefficient. Input reduced.
void poly_to_message(const Poly& a, std::span<uint8_t, kSymBytes> m) {
  for (int i = 0; i < static_cast<int>(kSymBytes); ++i) {
    uint8_t byte = 0;
    for (int j = 0; j < 8; ++j) byte |= static_cast<uint8_t>(compress<1>(to_canonical(a[8 * i + j])) << j);
    m[i] = byte;
  }
}

// CBD_2: each coefficient is (a0 + a1) - (b0 + b1) over four consecutive input bits.
void centered_binomial_eta2(std::span<const uint8_t, kNoiseBytes> in, Poly& a) {
  for (int i = 0; i < kN / 8; ++i) {
    uint32_t t = uint32_t{in[4 * i]} | uint32_t{in[4 * i + 1]} << 8 | uint32_t{in[4 * i + 2]} << 16 |
                 uint32_t{in[4 * i + 3]} << 24;
    uint32_t pair_sums = (t & 0x55555555u) + ((t >> 1) & 0x55555555u);
    for (int j = 0; j < 8; ++j) {
      auto x = static_cast<int16_t>((pair_sums >> (4 * j)) & 3);
      auto y = static_cast<int16_t>((pair_sums >> (4 * j + 2)) & 3);
      a[8 * i + j] = static_cast<int16_t>(x - y);
    }
  }
}

// CBD_η(PRF(seed, nonce)) with PRF = SHAKE256(seed ‖ nonce).
void sample_noise(std::span<const uint8_t, kSymBytes> seed, uint8_t nonce, Poly& a) {
  Wiped<std::array<uint8_t, kNoiseBytes>> buf;
  keccak::Sponge prf = keccak::Sponge::shake256();
  prf.absorb(seed).absorb(ByteSpan(&nonce, 1)).squeeze(buf.v);
  centered_binomial_eta2(buf.v, a);
}

// Parse(XOF(ρ ‖ x ‖ y)): uniform coefficients by rejection sampling of 12-bit values. ρ is public, so the data-
// dependent loop is fine.
void sample_uniform(std::span<const uint8_t, kSymBytes> rho, uint8_t x, uint8_t y, Poly& a) {
  keccak::Sponge xof = keccak::Sponge::shake128();
  const uint8_t indices[2] = {x, y};
  xof.absorb(rho).absorb(indices);
  std::array<uint8_t, 168> block;  // one SHAKE128 block; a multiple of 3, so no candidate straddles blocks
  int count = 0;
  while (count < kN) {
    xof.squeeze(block);
    for (size_t i = 0; i + 3 <= block.size() && count < kN; i += 3) {
      uint16_t d1 = static_cast<uint16_t>(block[i] | ((block[i + 1] & 0x0f) << 8));
      uint16_t d2 = static_cast<uint16_t>((block[i + 1] >> 4) | (block[i + 2] << 4));
      if (d1 < kQ) a[count++] = static_cast<int16_t>(d1);
      if (d2 < kQ && count < kN) a[count++] = static_cast<int16_t>(d2);
    }
  }
}

// Â with Â[i][j] = Parse(XOF(ρ ‖ j ‖ i)); transposed gives Âᵀ, i.e. XOF(ρ ‖ i ‖ j) at [i][j].
void generate_matrix(std::span<const uint8_t, kSymBytes> rho, bool transposed, PolyMatrix& a) {
  for (int i = 0; i < kK; ++i) {
    for (int j = 0; j < kK; ++j) {
      auto ui = static_cast<uint8_t>(i), uj = static_cast<uint8_t>(j);
      if (transposed) {
        sample_uniform(rho, ui, uj, a[i][j]);
      } else {
        sample_uniform(rho, uj, ui, a[i][j]);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Kyber.CPAPKE

struct CpaPublicKey {
  PolyVec t_hat;
  Sym rho;
};

void unpack_public_key(std::span<const uint8_t, kPublicKeySize> bytes, CpaPublicKey& pk) {
  decode12(bytes.first<kPolyVecBytes>(), pk.t_hat);
  std::memcpy(pk.rho.data(), bytes.data() + kPolyVecBytes, kSymBytes);
}

// Algorithm 4. (ρ, σ) = G(d) with nothing appended to d (that is FIPS 203's change).
void cpa_keygen(std::span<const uint8_t, kSymBytes> d, std::span<uint8_t, kPublicKeySize> pk_out,
                std::span<uint8_t, kCpaSecretKeySize> sk_out) {
  Wiped<std::array<uint8_t, 64>> rho_sigma;
  keccak::sha3_512(d, rho_sigma.v);
  auto rho = std::span<const uint8_t, kSymBytes>(rho_sigma.v.data(), kSymBytes);
  auto sigma = std::span<const uint8_t, kSymBytes>(rho_sigma.v.data() + kSymBytes, kSymBytes);

  PolyMatrix a;
  generate_matrix(rho, /*transposed=*/false, a);

  Wiped<PolyVec> s, e;
  uint8_t nonce = 0;
  for (auto& p : s.v) sample_noise(sigma, nonce++, p);
  for (auto& p : e.v) sample_noise(sigma, nonce++, p);
  for (auto& p : s.v) ntt(p);
  for (auto& p : e.v) ntt(p);

  PolyVec t_hat;
  for (int i = 0; i < kK; ++i) {
    multiply_accumulate(t_hat[i], a[i], s.v);
    for (auto& c : t_hat[i]) c = fqmul(c, kMontgomerySquared);  // back from R^-1 scaling
    add_to(t_hat[i], e.v[i]);
    reduce(t_hat[i]);
  }

  encode12(t_hat, pk_out.first<kPolyVecBytes>());
  std::memcpy(pk_out.data() + kPolyVecBytes, rho.data(), kSymBytes);
  encode12(s.v, sk_out);
}

// Algorithm 5.
void cpa_encrypt(const CpaPublicKey& pk, std::span<const uint8_t, kSymBytes> m,
                 std::span<const uint8_t, kSymBytes> coins, std::span<uint8_t, kCiphertextSize> ct_out) {
  PolyMatrix a_transposed;
  generate_matrix(pk.rho, /*transposed=*/true, a_transposed);

  Wiped<PolyVec> r, e1, u;
  Wiped<Poly> e2, v, message;
  uint8_t nonce = 0;
  for (auto& p : r.v) sample_noise(coins, nonce++, p);
  for (auto& p : e1.v) sample_noise(coins, nonce++, p);
  sample_noise(coins, nonce++, e2.v);
  for (auto& p : r.v) ntt(p);

  for (int i = 0; i < kK; ++i) {
    multiply_accumulate(u.v[i], a_transposed[i], r.v);
    inverse_ntt(u.v[i]);
    add_to(u.v[i], e1.v[i]);
    reduce(u.v[i]);
  }

  multiply_accumulate(v.v, pk.t_hat, r.v);
  inverse_ntt(v.v);
  message_to_poly(m, message.v);
  add_to(v.v, e2.v);
  add_to(v.v, message.v);
  reduce(v.v);

  compress_du(u.v, ct_out.first<kCompressedPolyVecBytes>());
  compress_dv(v.v, ct_out.last<kCompressedPolyBytes>());
}

// Algorithm 6.
void cpa_decrypt(std::span<const uint8_t, kCpaSecretKeySize> sk, std::span<const uint8_t, kCiphertextSize> ct,
                 std::span<uint8_t, kSymBytes> m_out) {
  Wiped<PolyVec> s_hat, u;
  Wiped<Poly> v, su;
  decode12(sk, s_hat.v);
  decompress_du(ct.first<kCompressedPolyVecBytes>(), u.v);
  decompress_dv(ct.last<kCompressedPolyBytes>(), v.v);

  for (auto& p : u.v) ntt(p);
  multiply_accumulate(su.v, s_hat.v, u.v);
  inverse_ntt(su.v);
  for (int i = 0; i < kN; ++i) v.v[i] = barrett_reduce(static_cast<int16_t>(v.v[i] - su.v[i]));
  poly_to_message(v.v, m_out);
}

// ---------------------------------------------------------------------------------------------------------------
// Kyber.CCAKEM helpers

// All-ones if the buffers differ, zero if equal, in time independent of the contents.
uint8_t differ_mask(ByteSpan a, ByteSpan b) {
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  diff = value_barrier(diff);
  // (0 - diff) has bit 8 set iff diff != 0.
  return static_cast<uint8_t>(-static_cast<int32_t>((0u - uint32_t{diff}) >> 31));
}

// dst ← mask ? src : dst, bytewise.
void conditional_copy(std::span<uint8_t> dst, ByteSpan src, uint8_t mask) {
  mask = value_barrier(mask);
  for (size_t i = 0; i < dst.size(); ++i) dst[i] = static_cast<uint8_t>(dst[i] ^ (mask & (dst[i] ^ src[i])));
}

// K = KDF(prefix ‖ H(c)) with KDF = SHAKE256.
SecretBytes derive_shared_secret(std::span<const uint8_t, kSymBytes> prefix, std::span<const uint8_t, kSymBytes> hc) {
  SecretBytes ss(kSharedSecretSize);
  keccak::Sponge kdf = keccak::Sponge::shake256();
  kdf.absorb(prefix).absorb(hc).squeeze(ss.mutable_span());
  return ss;
}

Encapsulation encapsulate_checked(std::span<const uint8_t, kPublicKeySize> pk,
                                  std::span<const uint8_t, kEncapsSeedSize> seed) {
  // m = H(seed): round 3 hashes the raw randomness before use.
  Wiped<Sym> m;
  keccak::sha3_256(seed, m.v);
  Sym hpk;
  keccak::sha3_256(pk, hpk);

  // (K̄, r) = G(m ‖ H(pk))
  Wiped<std::array<uint8_t, 64>> kr;
  keccak::Sponge::sha3_512().absorb(m.v).absorb(hpk).squeeze(kr.v);

  CpaPublicKey cpa_pk;
  unpack_public_key(pk, cpa_pk);
  Encapsulation out;
  out.ciphertext.resize(kCiphertextSize);
  cpa_encrypt(cpa_pk, m.v, std::span<const uint8_t, kSymBytes>(kr.v.data() + kSymBytes, kSymBytes),
              std::span<uint8_t, kCiphertextSize>(out.ciphertext.data(), kCiphertextSize));

  Sym hc;
  keccak::sha3_256(out.ciphertext, hc);
  out.shared_secret = derive_shared_secret(std::span<const uint8_t, kSymBytes>(kr.v.data(), kSymBytes), hc);
  return out;
}

}  // namespace

KeyPair derive_key_pair(std::span<const uint8_t, kKeySeedSize> seed) {
  KeyPair kp;
  kp.public_key.resize(kPublicKeySize);
  kp.secret_key = SecretBytes(kSecretKeySize);
  auto pk = std::span<uint8_t, kPublicKeySize>(kp.public_key.data(), kPublicKeySize);
  auto sk = std::span<uint8_t, kSecretKeySize>(kp.secret_key.data(), kSecretKeySize);

  cpa_keygen(seed.first<kSymBytes>(), pk, sk.first<kCpaSecretKeySize>());

  // sk = ŝ ‖ pk ‖ H(pk) ‖ z
  auto rest = sk.subspan<kCpaSecretKeySize>();
  std::memcpy(rest.data(), pk.data(), kPublicKeySize);
  keccak::sha3_256(pk, rest.subspan<kPublicKeySize, kSymBytes>());
  auto z = seed.subspan<kSymBytes, kSymBytes>();
  std::memcpy(rest.data() + kPublicKeySize + kSymBytes, z.data(), kSymBytes);
  return kp;
}

KeyPair generate_key_pair() {
  Wiped<std::array<uint8_t, kKeySeedSize>> seed;
  fill_random(seed.v);
  return derive_key_pair(seed.v);
}

Result<Encapsulation> encapsulate(ByteSpan public_key, std::span<const uint8_t, kEncapsSeedSize> seed) {
  if (public_key.size() != kPublicKeySize) {
    return make_error(ErrorCode::kInvalidArgument, "kyber768: public key must be 1184 bytes, got " +
                                                       std::to_string(public_key.size()));
  }
  return encapsulate_checked(public_key.first<kPublicKeySize>(), seed);
}

Result<Encapsulation> encapsulate(ByteSpan public_key) {
  Wiped<std::array<uint8_t, kEncapsSeedSize>> seed;
  fill_random(seed.v);
  return encapsulate(public_key, seed.v);
}

Result<SecretBytes> decapsulate(ByteSpan secret_key, ByteSpan ciphertext) {
  if (secret_key.size() != kSecretKeySize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "kyber768: secret key must be 2400 bytes, got " + std::to_string(secret_key.size()));
  }
  if (ciphertext.size() != kCiphertextSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "kyber768: ciphertext must be 1088 bytes, got " + std::to_string(ciphertext.size()));
  }
  auto sk = secret_key.first<kSecretKeySize>();
  auto ct = ciphertext.first<kCiphertextSize>();
  auto cpa_sk = sk.first<kCpaSecretKeySize>();
  auto pk = sk.subspan<kCpaSecretKeySize, kPublicKeySize>();
  auto hpk = sk.subspan<kCpaSecretKeySize + kPublicKeySize, kSymBytes>();
  auto z = sk.subspan<kCpaSecretKeySize + kPublicKeySize + kSymBytes, kSymBytes>();

  Wiped<Sym> m;
  cpa_decrypt(cpa_sk, ct, m.v);

  // (K̄', r') = G(m' ‖ H(pk)), using the H(pk) stored in the secret key as CIRCL does.
  Wiped<std::array<uint8_t, 64>> kr;
  keccak::Sponge::sha3_512().absorb(m.v).absorb(hpk).squeeze(kr.v);

  CpaPublicKey cpa_pk;
  unpack_public_key(pk, cpa_pk);
  Wiped<std::array<uint8_t, kCiphertextSize>> reencrypted;
  cpa_encrypt(cpa_pk, m.v, std::span<const uint8_t, kSymBytes>(kr.v.data() + kSymBytes, kSymBytes), reencrypted.v);

  Sym hc;
  keccak::sha3_256(ct, hc);

  // Implicit rejection: on mismatch the KDF input is z instead of K̄', chosen without a branch.
  auto k_bar = std::span<uint8_t, kSymBytes>(kr.v.data(), kSymBytes);
  conditional_copy(k_bar, z, differ_mask(ct, reencrypted.v));
  return derive_shared_secret(k_bar, hc);
}

}  // namespace openpcc::crypto::kyber768
