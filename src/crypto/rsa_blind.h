// RSA blind signatures: RFC 9474 RSABSSA-SHA384 and partially blind RSA, RSAPBSSA-SHA384
// (draft-irtf-cfrg-partially-blind-rsa), on OpenSSL BIGNUM.
//
// The protocol, with `info` the public metadata (empty and ignored for the non-partial suites):
//
//   client:  prepared  = prepare(suite, msg)                      // Randomized suites prepend 32 random bytes
//            blinding  = blind(suite, public_key, prepared, info) // send blinding.blinded_msg
//   signer:  blind_sig = signer.blind_sign(blinded_msg, info)     // checks its own answer before returning it
//   client:  sig       = finalize(suite, public_key, prepared, info, blind_sig, blinding.inv)  // fails closed
//   anyone:  verify(suite, public_key, prepared, info, sig)
//
// Partially blind suites sign under a per-metadata key pair (n, e′), (n, d′) derived from (n, e, p, q) and `info`
// (derive_metadata_public_exponent). The derivation needs φ(n) with gcd(e′, φ(n)) = 1 for every odd e′ of λ/8
// bytes, which holds when p and q are safe primes; the partially blind signer rejects other keys.
//
// All message-representative arithmetic that touches secrets (d, d′, p, q, the blinding factor r and its inverse)
// runs in constant time (BN_FLG_CONSTTIME, BN_mod_exp_mont_consttime(_x2) with CRT). The signer additionally blinds
// its private operation (RSA blinding, as OpenSSL does), since the blinded messages it signs are chosen by clients.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"

namespace openpcc::crypto {

// A suite: the PSS salt length, whether prepare() adds a random prefix, and whether metadata is bound into the key.
// Every suite uses SHA-384 for the message hash and MGF1.
struct BlindRsaSuite {
  std::string_view name;
  bool partially_blind;
  size_t salt_length;  // PSS sLen: 48 (PSS) or 0 (PSSZERO)
  bool randomized;     // prepare() prepends a 32-byte random msg_prefix
  // Sign with an all-zero salt instead of a random one. Verification still accepts any salt of salt_length bytes.
  bool zero_salt;
};

// RFC 9474 §5 / §4.
inline constexpr BlindRsaSuite kRsaBssaSha384PssRandomized{"RSABSSA-SHA384-PSS-Randomized", false, 48, true, false};
inline constexpr BlindRsaSuite kRsaBssaSha384PssZeroRandomized{"RSABSSA-SHA384-PSSZERO-Randomized", false, 0, true,
                                                                false};
inline constexpr BlindRsaSuite kRsaBssaSha384PssDeterministic{"RSABSSA-SHA384-PSS-Deterministic", false, 48, false,
                                                              false};
inline constexpr BlindRsaSuite kRsaBssaSha384PssZeroDeterministic{"RSABSSA-SHA384-PSSZERO-Deterministic", false, 0,
                                                                  false, false};
// draft-irtf-cfrg-partially-blind-rsa.
inline constexpr BlindRsaSuite kRsaPbssaSha384PssRandomized{"RSAPBSSA-SHA384-PSS-Randomized", true, 48, true, false};
inline constexpr BlindRsaSuite kRsaPbssaSha384PssZeroRandomized{"RSAPBSSA-SHA384-PSSZERO-Randomized", true, 0, true,
                                                                 false};
inline constexpr BlindRsaSuite kRsaPbssaSha384PssDeterministic{"RSAPBSSA-SHA384-PSS-Deterministic", true, 48, false,
                                                               false};
inline constexpr BlindRsaSuite kRsaPbssaSha384PssZeroDeterministic{"RSAPBSSA-SHA384-PSSZERO-Deterministic", true, 0,
                                                                   false, false};
// OpenPCC's anonymous credits: RSAPBSSA-SHA384, deterministic prepare, PSS with a 48-byte ALL-ZERO salt (the nonce
// in the message supplies the randomness), metadata = the 2 currency bytes. Its signatures verify as
// RSAPBSSA-SHA384-PSS-Deterministic.
inline constexpr BlindRsaSuite kOpenPccCreditSuite{"OpenPCC-Credit-RSAPBSSA-SHA384-PSS-ZeroSalt", true, 48, false,
                                                   true};
inline constexpr size_t kOpenPccCreditMetadataSize = 2;

// Sizes.
inline constexpr size_t kBlindRsaMsgPrefixSize = 32;
inline constexpr size_t kBlindRsaDefaultModulusBits = 2048;
inline constexpr size_t kBlindRsaMinModulusBits = 1024;

// An RSA public key (n, e) as big-endian magnitudes without leading zeros.
struct RsaPublicKey {
  Bytes n;
  Bytes e;

  // Checks n odd and ≥ 1024 bits, 1 < e < n, e odd.
  static Result<RsaPublicKey> from_components(ByteSpan n, ByteSpan e);
  // modulus_len: the byte length of n, which is the size of every blinded message, signature and inverse.
  size_t modulus_size() const;
  size_t modulus_bits() const;

  // PKCS#1 RSAPublicKey in PEM ("-----BEGIN RSA PUBLIC KEY-----").
  Result<std::string> to_pem() const;
  static Result<RsaPublicKey> from_pem(std::string_view pem);
};

// Called during key generation as OpenSSL's BN_GENCB reports progress: (stage, count). Stage 0: candidate number
// `count` was drawn; 1 and 2: primality-test rounds; 3: a prime was found (count 0 = p, 1 = q). Return false to
// cancel.
using KeyGenProgress = std::function<bool(int stage, int count)>;

// An RSA private key with its primes. Move-only; the secret components are wiped on destruction.
class RsaPrivateKey {
 public:
  // Validates n = p·q, p and q prime, and e·d ≡ 1 mod lcm(p−1, q−1).
  static Result<RsaPrivateKey> from_components(ByteSpan n, ByteSpan e, ByteSpan d, ByteSpan p, ByteSpan q);
  // A fresh key of exactly `modulus_bits` bits (even, ≥ 1024) with safe primes p = 2p′+1, q = 2q′+1 and e = 65537.
  // Safe primes are slow and the time varies run to run: 0.5-5 s at 2048 bits, 15-60 s at 3072 and minutes at 4096
  // on the 2-core machine of docs/BENCHMARKS.md (OpenSSL 3.0, AVX-512); expect several times that on slower CPUs.
  static Result<RsaPrivateKey> generate_safe_prime(size_t modulus_bits = kBlindRsaDefaultModulusBits,
                                                   KeyGenProgress progress = {});

  // PKCS#1 RSAPrivateKey in PEM ("-----BEGIN RSA PRIVATE KEY-----"). The string holds the secret: wipe it after use.
  Result<std::string> to_pem() const;
  static Result<RsaPrivateKey> from_pem(std::string_view pem);

  const RsaPublicKey& public_key() const { return public_key_; }
  // True when (p−1)/2 and (q−1)/2 are prime, as the partially blind suites require.
  bool has_safe_primes() const;

  RsaPrivateKey(RsaPrivateKey&&) noexcept;
  RsaPrivateKey& operator=(RsaPrivateKey&&) noexcept;
  ~RsaPrivateKey();

  struct Secrets;  // implementation detail (BIGNUMs)
  const Secrets& secrets() const { return *secrets_; }

 private:
  RsaPrivateKey(RsaPublicKey pub, std::unique_ptr<Secrets> s);
  RsaPublicKey public_key_;
  std::unique_ptr<Secrets> secrets_;
};

// The per-metadata public exponent e′ (big-endian, λ/8 bytes) for a partially blind suite.
Result<Bytes> derive_metadata_public_exponent(const RsaPublicKey& key, ByteSpan info);

// Client step 1: the message to blind, sign and verify. Randomized suites return msg_prefix ‖ msg with a fresh
// 32-byte prefix; deterministic suites return msg unchanged.
Bytes prepare(const BlindRsaSuite& suite, ByteSpan msg);

struct BlindingResult {
  Bytes blinded_msg;  // modulus_len bytes, for the signer
  SecretBytes inv;    // r⁻¹ mod n, modulus_len bytes; keep it until finalize
};

// Client step 2: EMSA-PSS-encodes the prepared message (msg_prime for partially blind suites) with a fresh salt
// (or zeros for zero_salt suites), and blinds it with a fresh r uniform in [1, n) that is invertible mod n.
// kInvalidArgument for a key too small for the encoding, or metadata given to a non-partial suite.
Result<BlindingResult> blind(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan prepared_msg,
                             ByteSpan info = {});

// Fixed salt and r, for known-answer tests only: production code must call blind().
Result<BlindingResult> blind_for_testing(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan prepared_msg,
                                         ByteSpan info, ByteSpan salt, ByteSpan r);

// Client step 3: unblinds and verifies; returns the signature only if it verifies (kAuthenticationFailed if not).
Result<Bytes> finalize(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan prepared_msg, ByteSpan info,
                       ByteSpan blind_sig, ByteSpan inv);

// RSASSA-PSS verification with SHA-384/MGF1-SHA-384 and the suite's sLen, against (n, e) or, for partially blind
// suites, (n, e′(info)). kAuthenticationFailed for a signature that does not verify; kInvalidArgument for a
// signature whose size is not modulus_len.
Status verify(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan prepared_msg, ByteSpan info,
              ByteSpan sig);

// The signer. Partially blind signers derive (e′, d′) per metadata on first use and cache them (the cache is guarded
// by a mutex; entries are immutable once inserted). Safe to share between threads; move-only.
class BlindRsaSigner {
 public:
  // kInvalidArgument if the suite is partially blind and the key's primes are not safe primes.
  static Result<BlindRsaSigner> create(const BlindRsaSuite& suite, RsaPrivateKey key);

  // RSASP1 on the blinded message (modulus_len bytes, < n). Re-checks s^e == m (or s^e′ == m) before answering, so a
  // fault in the private operation never leaks a bad signature.
  Result<Bytes> blind_sign(ByteSpan blinded_msg, ByteSpan info = {}) const;

  const BlindRsaSuite& suite() const { return suite_; }
  const RsaPublicKey& public_key() const;

  BlindRsaSigner(BlindRsaSigner&&) noexcept;
  BlindRsaSigner& operator=(BlindRsaSigner&&) noexcept;
  ~BlindRsaSigner();

 private:
  struct State;
  BlindRsaSigner(const BlindRsaSuite& suite, std::unique_ptr<State> state);
  BlindRsaSuite suite_;
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::crypto
