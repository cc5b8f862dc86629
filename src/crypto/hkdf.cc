#include "crypto/hkdf.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <initializer_list>

#include "crypto/openssl_util.h"

namespace openpcc::crypto {
namespace {

constexpr std::string_view kHpkeVersionLabel = "HPKE-v1";
constexpr size_t kMaxHashSize = 64;    // SHA-512
constexpr size_t kMaxBlockSize = 128;  // SHA-384/512

// Fetched once per process and never freed: algorithm descriptors are immutable and thread-safe to share, and the
// per-call paths below must not pay for a provider lookup.
const EVP_MD* cached_digest(KdfId id) {
  static const EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  static const EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA2-384", nullptr);
  static const EVP_MD* const sha512 = EVP_MD_fetch(nullptr, "SHA2-512", nullptr);
  switch (id) {
    case KdfId::kHkdfSha256: return sha256;
    case KdfId::kHkdfSha384: return sha384;
    case KdfId::kHkdfSha512: return sha512;
  }
  return nullptr;
}

using Parts = std::initializer_list<ByteSpan>;

// HMAC (RFC 2104) written directly over the digest. OpenSSL 3.0's HMAC() and EVP_MAC re-fetch the digest on every
// call (about 3x slower for HPKE-sized inputs), and feeding the message in parts lets the labeled functions avoid
// concatenating secrets into temporary buffers.
class Hmac {
 public:
  explicit Hmac(const EVP_MD* md)
      : md_(md),
        ctx_(EVP_MD_CTX_new()),
        block_size_(static_cast<size_t>(EVP_MD_get_block_size(md))),
        digest_size_(static_cast<size_t>(EVP_MD_get_size(md))) {}
  ~Hmac() { secure_wipe(key_block_.data(), key_block_.size()); }
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  // Starts HMAC(key, ·): the inner digest has absorbed key ^ ipad.
  bool begin(ByteSpan key) {
    if (!ctx_) return false;
    key_block_.fill(0);
    if (key.size() > block_size_) {
      if (EVP_DigestInit_ex2(ctx_.get(), md_, nullptr) != 1 ||
          EVP_DigestUpdate(ctx_.get(), key.data(), key.size()) != 1 ||
          EVP_DigestFinal_ex(ctx_.get(), key_block_.data(), nullptr) != 1) {
        return false;
      }
    } else {
      std::copy(key.begin(), key.end(), key_block_.begin());
    }
    for (size_t i = 0; i < block_size_; ++i) key_block_[i] ^= 0x36;
    bool ok = EVP_DigestInit_ex2(ctx_.get(), md_, nullptr) == 1 &&
              EVP_DigestUpdate(ctx_.get(), key_block_.data(), block_size_) == 1;
    for (size_t i = 0; i < block_size_; ++i) key_block_[i] ^= 0x36;  // back to the plain padded key
    return ok;
  }

  bool update(ByteSpan part) {
    return part.empty() || EVP_DigestUpdate(ctx_.get(), part.data(), part.size()) == 1;
  }

  // Writes digest_size() bytes to out.
  bool finish(uint8_t* out) {
    std::array<uint8_t, kMaxHashSize> inner{};
    WipeOnExit wipe_inner(inner);
    if (EVP_DigestFinal_ex(ctx_.get(), inner.data(), nullptr) != 1) return false;
    for (size_t i = 0; i < block_size_; ++i) key_block_[i] ^= 0x5c;
    bool ok = EVP_DigestInit_ex2(ctx_.get(), md_, nullptr) == 1 &&
              EVP_DigestUpdate(ctx_.get(), key_block_.data(), block_size_) == 1 &&
              EVP_DigestUpdate(ctx_.get(), inner.data(), digest_size_) == 1 &&
              EVP_DigestFinal_ex(ctx_.get(), out, nullptr) == 1;
    key_block_.fill(0);
    return ok;
  }

 private:
  const EVP_MD* md_;
  EvpMdCtxPtr ctx_;  // its digest state is cleansed by EVP_MD_CTX_free
  size_t block_size_;
  size_t digest_size_;
  std::array<uint8_t, kMaxBlockSize> key_block_{};
};

std::unexpected<Error> hmac_failed() { return openssl_error(ErrorCode::kCrypto, "hkdf: HMAC computation failed"); }

Result<SecretBytes> extract_parts(const EVP_MD* md, size_t hash_size, ByteSpan salt, Parts ikm) {
  const std::array<uint8_t, kMaxHashSize> zero_salt{};
  if (salt.empty()) salt = ByteSpan(zero_salt.data(), hash_size);
  SecretBytes prk(hash_size);
  Hmac hmac(md);
  bool ok = hmac.begin(salt);
  for (ByteSpan part : ikm) ok = ok && hmac.update(part);
  if (!ok || !hmac.finish(prk.data())) return hmac_failed();
  return prk;
}

Result<SecretBytes> expand_parts(const EVP_MD* md, size_t hash_size, ByteSpan prk, Parts info, size_t length) {
  if (length > 255 * hash_size) return make_error(ErrorCode::kInvalidArgument, "hkdf: expand length exceeds 255*Nh");
  SecretBytes okm(length);
  std::array<uint8_t, kMaxHashSize> block{};
  WipeOnExit wipe_block(block);
  Hmac hmac(md);
  size_t done = 0;
  for (uint8_t counter = 1; done < length; ++counter) {
    // T(i) = HMAC(PRK, T(i-1) ‖ info ‖ i), T(0) empty.
    bool ok = hmac.begin(prk) && hmac.update(ByteSpan(block.data(), counter == 1 ? 0 : hash_size));
    for (ByteSpan part : info) ok = ok && hmac.update(part);
    ok = ok && hmac.update(ByteSpan(&counter, 1)) && hmac.finish(block.data());
    if (!ok) return hmac_failed();
    size_t take = std::min(hash_size, length - done);
    std::copy_n(block.begin(), take, okm.data() + done);
    done += take;
  }
  return okm;
}

}  // namespace

Result<Hkdf> Hkdf::create(KdfId id) {
  switch (id) {
    case KdfId::kHkdfSha256:
    case KdfId::kHkdfSha384:
    case KdfId::kHkdfSha512: break;
    default: return make_error(ErrorCode::kUnsupported, "hkdf: unknown KDF id");
  }
  const EVP_MD* md = cached_digest(id);
  if (md == nullptr) return openssl_error(ErrorCode::kCrypto, "hkdf: digest unavailable in OpenSSL");
  return Hkdf(id, md, static_cast<size_t>(EVP_MD_get_size(md)));
}

Result<SecretBytes> Hkdf::extract(ByteSpan salt, ByteSpan ikm) const {
  return extract_parts(md_, hash_size_, salt, {ikm});
}

Result<SecretBytes> Hkdf::expand(ByteSpan prk, ByteSpan info, size_t length) const {
  return expand_parts(md_, hash_size_, prk, {info}, length);
}

Result<SecretBytes> Hkdf::labeled_extract(ByteSpan suite_id, ByteSpan salt, std::string_view label,
                                          ByteSpan ikm) const {
  return extract_parts(md_, hash_size_, salt, {as_bytes(kHpkeVersionLabel), suite_id, as_bytes(label), ikm});
}

Result<SecretBytes> Hkdf::labeled_expand(ByteSpan suite_id, ByteSpan prk, std::string_view label, ByteSpan info,
                                         size_t length) const {
  if (length > 0xffff) return make_error(ErrorCode::kInvalidArgument, "hkdf: labeled expand length exceeds 65535");
  const uint8_t encoded_length[2] = {static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)};
  return expand_parts(md_, hash_size_, prk,
                      {ByteSpan(encoded_length), as_bytes(kHpkeVersionLabel), suite_id, as_bytes(label), info},
                      length);
}

Bytes hpke_suite_id(uint16_t kem_id, uint16_t kdf_id, uint16_t aead_id) {
  Bytes id = to_bytes("HPKE");
  append_u16be(id, kem_id);
  append_u16be(id, kdf_id);
  append_u16be(id, aead_id);
  return id;
}

Bytes kem_suite_id(uint16_t kem_id) {
  Bytes id = to_bytes("KEM");
  append_u16be(id, kem_id);
  return id;
}

}  // namespace openpcc::crypto
