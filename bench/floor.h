// Floors for the benchmarks: the raw OpenSSL 3.0 operations our hot paths are made of, written directly on EVP
// without any of our crypto code, in the cheapest reasonable way (algorithms fetched once, contexts reused wherever
// OpenSSL allows it, no heap allocation per operation). A benchmark reports our figure next to the floor measured in
// the same run; the ratio between them is what we track.
//
// Header-only on purpose: each bench/<name>.cc is its own executable.
#pragma once

#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string_view>

namespace openpcc::bench {

using Span = std::span<const uint8_t>;

// A failed OpenSSL call in a benchmark is a broken benchmark, not a measurement: stop loudly.
[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "bench: %s failed\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}
inline void check(bool ok, const char* what) {
  if (!ok) die(what);
}

inline Span str(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// HMAC-SHA256 (RFC 2104) on a reused EVP_MD_CTX with SHA-256 fetched once: the cheapest raw route we found.
// EVP_MAC("HMAC") with its digest bound once and only re-keyed per call is about a third slower for HPKE-sized inputs
// (component/hmac_sha256_64B/evp_mac in bench_hpke), and OpenSSL 3.0's one-shot HMAC() re-fetches the digest on
// every call.
class FloorHmacSha256 {
 public:
  static constexpr size_t kSize = 32;
  static constexpr size_t kBlock = 64;

  FloorHmacSha256() : md_(EVP_MD_fetch(nullptr, "SHA2-256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    check(md_ != nullptr && ctx_ != nullptr, "SHA-256 setup");
  }
  ~FloorHmacSha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  FloorHmacSha256(const FloorHmacSha256&) = delete;
  FloorHmacSha256& operator=(const FloorHmacSha256&) = delete;

  // out = HMAC(key, parts[0] ‖ parts[1] ‖ ...), 32 bytes. Keys are at most one block (all HPKE keys are).
  void mac(Span key, std::initializer_list<Span> parts, uint8_t* out) {
    if (key.size() > kBlock) die("floor HMAC key longer than a block");
    std::array<uint8_t, kBlock> pad{};
    std::memcpy(pad.data(), key.data(), key.size());
    for (auto& b : pad) b ^= 0x36;
    std::array<uint8_t, kSize> inner;
    bool ok = EVP_DigestInit_ex2(ctx_, md_, nullptr) == 1 && EVP_DigestUpdate(ctx_, pad.data(), kBlock) == 1;
    for (Span p : parts) ok = ok && (p.empty() || EVP_DigestUpdate(ctx_, p.data(), p.size()) == 1);
    ok = ok && EVP_DigestFinal_ex(ctx_, inner.data(), nullptr) == 1;
    for (auto& b : pad) b ^= 0x36 ^ 0x5c;
    ok = ok && EVP_DigestInit_ex2(ctx_, md_, nullptr) == 1 && EVP_DigestUpdate(ctx_, pad.data(), kBlock) == 1 &&
         EVP_DigestUpdate(ctx_, inner.data(), kSize) == 1 && EVP_DigestFinal_ex(ctx_, out, nullptr) == 1;
    check(ok, "HMAC");
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

// HMAC-SHA256 through EVP_MAC, the MAC and its digest bound once, each computation only re-keying the context. For
// comparison only (see FloorHmacSha256).
class EvpMacHmacSha256 {
 public:
  static constexpr size_t kSize = 32;

  EvpMacHmacSha256() {
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx_ = mac_ ? EVP_MAC_CTX_new(mac_) : nullptr;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    check(ctx_ != nullptr && EVP_MAC_CTX_set_params(ctx_, params) == 1, "HMAC setup");
  }
  ~EvpMacHmacSha256() {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
  }
  EvpMacHmacSha256(const EvpMacHmacSha256&) = delete;
  EvpMacHmacSha256& operator=(const EvpMacHmacSha256&) = delete;

  void mac(Span key, std::initializer_list<Span> parts, uint8_t* out) {
    size_t out_len = 0;
    bool ok = EVP_MAC_init(ctx_, key.data(), key.size(), nullptr) == 1;
    for (Span p : parts) ok = ok && (p.empty() || EVP_MAC_update(ctx_, p.data(), p.size()) == 1);
    check(ok && EVP_MAC_final(ctx_, out, &out_len, kSize) == 1 && out_len == kSize, "HMAC");
  }

 private:
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* ctx_ = nullptr;
};

// RFC 9180 §4 LabeledExtract / LabeledExpand with HKDF-SHA256 on the floor HMAC. Expand outputs of at most 32 bytes
// (everything HPKE's base-mode key schedule and DHKEM need) take exactly one HMAC: T(1) = HMAC(prk, info ‖ 0x01).
class FloorLabeledHkdf {
 public:
  static constexpr std::string_view kVersion = "HPKE-v1";

  void extract(Span suite_id, Span salt, std::string_view label, Span ikm, uint8_t* prk) {
    static constexpr std::array<uint8_t, 32> kZeroSalt{};
    hmac_.mac(salt.empty() ? Span(kZeroSalt) : salt, {str(kVersion), suite_id, str(label), ikm}, prk);
  }
  void expand(Span suite_id, Span prk, std::string_view label, Span info, size_t length, uint8_t* out) {
    if (length > FloorHmacSha256::kSize) die("floor expand longer than one block");
    const uint8_t encoded_length[2] = {0, static_cast<uint8_t>(length)};
    const uint8_t counter = 1;
    std::array<uint8_t, FloorHmacSha256::kSize> block;
    hmac_.mac(prk, {Span(encoded_length), str(kVersion), suite_id, str(label), info, Span(&counter, 1)}, block.data());
    std::memcpy(out, block.data(), length);
  }

 private:
  FloorHmacSha256 hmac_;
};

// One AEAD direction on a reused EVP_CIPHER_CTX. The cipher is bound once; each operation passes only key and/or
// nonce (EVP_CipherInit_ex2 with a null cipher keeps the provider context instead of rebuilding it).
class FloorAead {
 public:
  static constexpr size_t kTagSize = 16;

  // name: "AES-128-GCM", "AES-256-GCM" or "ChaCha20-Poly1305".
  FloorAead(const char* name, bool encrypt) : encrypt_(encrypt) {
    cipher_ = EVP_CIPHER_fetch(nullptr, name, nullptr);
    ctx_ = EVP_CIPHER_CTX_new();
    check(cipher_ != nullptr && ctx_ != nullptr &&
              EVP_CipherInit_ex2(ctx_, cipher_, nullptr, nullptr, encrypt ? 1 : 0, nullptr) == 1,
          "cipher setup");
  }
  ~FloorAead() {
    EVP_CIPHER_CTX_free(ctx_);
    EVP_CIPHER_free(cipher_);
  }
  FloorAead(const FloorAead&) = delete;
  FloorAead& operator=(const FloorAead&) = delete;

  size_t key_size() const { return static_cast<size_t>(EVP_CIPHER_get_key_length(cipher_)); }

  // Sets a key (and nonce, if given) for the following operations.
  void set_key(const uint8_t* key, const uint8_t* nonce = nullptr) {
    check(EVP_CipherInit_ex2(ctx_, nullptr, key, nonce, encrypt_ ? 1 : 0, nullptr) == 1, "cipher key");
  }

  // out = E(pt) ‖ tag. nonce == nullptr: the nonce given to set_key (its first use only, as in single-shot HPKE).
  void seal(const uint8_t* nonce, Span aad, Span pt, uint8_t* out) {
    int n = 0;
    if (nonce != nullptr) check(EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce, 1, nullptr) == 1, "nonce");
    if (!aad.empty()) check(EVP_CipherUpdate(ctx_, nullptr, &n, aad.data(), static_cast<int>(aad.size())) == 1, "aad");
    if (!pt.empty()) check(EVP_CipherUpdate(ctx_, out, &n, pt.data(), static_cast<int>(pt.size())) == 1, "encrypt");
    check(EVP_CipherFinal_ex(ctx_, out + pt.size(), &n) == 1, "encrypt final");
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out + pt.size(), kTagSize),
                           OSSL_PARAM_construct_end()};
    check(EVP_CIPHER_CTX_get_params(ctx_, params) == 1, "get tag");
  }

  // out = D(ct minus tag); false on a bad tag.
  bool open(const uint8_t* nonce, Span aad, Span ct, uint8_t* out) {
    if (ct.size() < kTagSize) return false;
    const size_t n_pt = ct.size() - kTagSize;
    int n = 0;
    if (nonce != nullptr) check(EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce, 0, nullptr) == 1, "nonce");
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                                             const_cast<uint8_t*>(ct.data() + n_pt), kTagSize),
                           OSSL_PARAM_construct_end()};
    check(EVP_CIPHER_CTX_set_params(ctx_, params) == 1, "set tag");
    if (!aad.empty()) check(EVP_CipherUpdate(ctx_, nullptr, &n, aad.data(), static_cast<int>(aad.size())) == 1, "aad");
    if (n_pt != 0) check(EVP_CipherUpdate(ctx_, out, &n, ct.data(), static_cast<int>(n_pt)) == 1, "decrypt");
    return EVP_CipherFinal_ex(ctx_, out + n_pt, &n) == 1;
  }

 private:
  bool encrypt_;
  EVP_CIPHER* cipher_ = nullptr;
  EVP_CIPHER_CTX* ctx_ = nullptr;
};

// nonce = base XOR I2OSP(counter, 12)
inline void xor_counter(const uint8_t* base, uint64_t counter, uint8_t* nonce) {
  std::memcpy(nonce, base, 12);
  for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(counter >> (8 * i));
}

}  // namespace openpcc::bench

// Every measured operation is one call of a non-inlined function whose name starts with op_, so that
// `valgrind --tool=callgrind` can attribute instructions per call (bench/callgrind.py: inclusive Ir / calls).
#define OPENPCC_BENCH_OP __attribute__((noinline))
