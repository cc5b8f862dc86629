#include "crypto/aead.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "common/secure.h"

namespace openpcc::crypto {
namespace {

constexpr size_t kTagSize = 16;            // all three ciphers
constexpr size_t kMaxUpdate = size_t{1} << 30;  // EVP takes int lengths; feed larger inputs in slices

// Fetched once per process and never freed (immutable, shareable): creating an Aead must not pay for a lookup.
const EVP_CIPHER* cached_cipher(AeadId id) {
  static const EVP_CIPHER* const aes128gcm = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  static const EVP_CIPHER* const aes256gcm = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  static const EVP_CIPHER* const chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  switch (id) {
    case AeadId::kAes128Gcm: return aes128gcm;
    case AeadId::kAes256Gcm: return aes256gcm;
    case AeadId::kChaCha20Poly1305: return chacha;
    case AeadId::kExportOnly: break;
  }
  return nullptr;
}

std::unexpected<Error> cipher_failed(const char* what) {
  return openssl_error(ErrorCode::kCrypto, std::string("aead: ") + what + " failed");
}

// Runs the cipher over `in` into `out` (out == nullptr: absorb as AAD). GCM and ChaCha20-Poly1305 are stream modes,
// so output length always equals input length.
bool update(EVP_CIPHER_CTX* ctx, uint8_t* out, ByteSpan in) {
  size_t done = 0;
  while (done < in.size()) {
    size_t n = std::min(kMaxUpdate, in.size() - done);
    int written = 0;
    if (EVP_CipherUpdate(ctx, out == nullptr ? nullptr : out + done, &written, in.data() + done,
                         static_cast<int>(n)) != 1) {
      return false;
    }
    done += n;
  }
  return true;
}

bool set_tag(EVP_CIPHER_CTX* ctx, const uint8_t* tag) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, const_cast<uint8_t*>(tag), kTagSize),
      OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_set_params(ctx, params) == 1;
}

bool get_tag(EVP_CIPHER_CTX* ctx, uint8_t* tag) {
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kTagSize),
                         OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_get_params(ctx, params) == 1;
}

}  // namespace

Result<AeadSizes> aead_sizes(AeadId id) {
  switch (id) {
    case AeadId::kAes128Gcm: return AeadSizes{16, 12, kTagSize};
    case AeadId::kAes256Gcm: return AeadSizes{32, 12, kTagSize};
    case AeadId::kChaCha20Poly1305: return AeadSizes{32, 12, kTagSize};
    case AeadId::kExportOnly: return AeadSizes{0, 0, 0};
  }
  return make_error(ErrorCode::kUnsupported, "aead: unknown AEAD id");
}

Result<Aead> Aead::create(AeadId id, ByteSpan key) {
  auto sizes = aead_sizes(id);
  if (!sizes) return std::unexpected(sizes.error());
  if (key.size() != sizes->key) return make_error(ErrorCode::kInvalidArgument, "aead: key must be Nk bytes");
  if (id == AeadId::kExportOnly) return Aead(id, *sizes, nullptr);

  const EVP_CIPHER* cipher = cached_cipher(id);
  if (cipher == nullptr) return openssl_error(ErrorCode::kCrypto, "aead: cipher unavailable in OpenSSL");
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex2(ctx.get(), cipher, key.data(), nullptr, 1, nullptr) != 1) {
    return cipher_failed("key setup");
  }
  return Aead(id, *sizes, std::move(ctx));
}

Status Aead::check_usable(ByteSpan nonce) const {
  if (!ctx_) return make_error(ErrorCode::kUnsupported, "aead: the export-only AEAD cannot seal or open");
  if (nonce.size() != sizes_.nonce) return make_error(ErrorCode::kInvalidArgument, "aead: nonce must be Nn bytes");
  return {};
}

Result<size_t> Aead::seal_into(ByteSpan nonce, ByteSpan aad, ByteSpan plaintext, std::span<uint8_t> out) {
  if (auto s = check_usable(nonce); !s) return std::unexpected(s.error());
  const size_t total = plaintext.size() + sizes_.tag;
  if (out.size() < total) return make_error(ErrorCode::kInvalidArgument, "aead: output buffer too small");
  EVP_CIPHER_CTX* ctx = ctx_.get();
  int final_len = 0;
  // Only the nonce changes; the key schedule set at create() is kept.
  if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce.data(), 1, nullptr) != 1 || !update(ctx, nullptr, aad) ||
      !update(ctx, out.data(), plaintext) || EVP_CipherFinal_ex(ctx, out.data() + plaintext.size(), &final_len) != 1 ||
      !get_tag(ctx, out.data() + plaintext.size())) {
    return cipher_failed("seal");
  }
  return total;
}

Status Aead::seal_append(ByteSpan nonce, ByteSpan aad, ByteSpan plaintext, Bytes& out) {
  if (auto s = check_usable(nonce); !s) return s;
  const size_t start = out.size();
  out.resize(start + plaintext.size() + sizes_.tag);
  auto written = seal_into(nonce, aad, plaintext, std::span<uint8_t>(out).subspan(start));
  if (!written) {
    out.resize(start);
    return std::unexpected(written.error());
  }
  return {};
}

Result<Bytes> Aead::seal(ByteSpan nonce, ByteSpan aad, ByteSpan plaintext) {
  Bytes out;
  if (auto s = seal_append(nonce, aad, plaintext, out); !s) return std::unexpected(s.error());
  return out;
}

Result<size_t> Aead::open_into(ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext, std::span<uint8_t> out) {
  if (auto s = check_usable(nonce); !s) return std::unexpected(s.error());
  if (ciphertext.size() < sizes_.tag) {
    return make_error(ErrorCode::kAuthenticationFailed, "aead: ciphertext shorter than the tag");
  }
  const size_t length = ciphertext.size() - sizes_.tag;
  if (out.size() < length) return make_error(ErrorCode::kInvalidArgument, "aead: output buffer too small");
  // Copy the tag first: `out` may alias `ciphertext`.
  std::array<uint8_t, kTagSize> tag;
  std::copy_n(ciphertext.begin() + length, kTagSize, tag.begin());
  EVP_CIPHER_CTX* ctx = ctx_.get();
  if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce.data(), 0, nullptr) != 1 || !set_tag(ctx, tag.data()) ||
      !update(ctx, nullptr, aad) || !update(ctx, out.data(), ciphertext.first(length))) {
    secure_wipe(out.data(), length);
    return cipher_failed("open");
  }
  int final_len = 0;
  if (EVP_CipherFinal_ex(ctx, out.data() + length, &final_len) != 1) {
    secure_wipe(out.data(), length);
    return openssl_error(ErrorCode::kAuthenticationFailed, "aead: authentication failed");
  }
  return length;
}

Status Aead::open_append(ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext, Bytes& out) {
  if (auto s = check_usable(nonce); !s) return s;
  if (ciphertext.size() < sizes_.tag) {
    return make_error(ErrorCode::kAuthenticationFailed, "aead: ciphertext shorter than the tag");
  }
  const size_t start = out.size();
  out.resize(start + ciphertext.size() - sizes_.tag);
  auto written = open_into(nonce, aad, ciphertext, std::span<uint8_t>(out).subspan(start));
  if (!written) {
    out.resize(start);  // open_into already wiped what it wrote
    return std::unexpected(written.error());
  }
  return {};
}

Result<Bytes> Aead::open(ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext) {
  Bytes out;
  if (auto s = open_append(nonce, aad, ciphertext, out); !s) return std::unexpected(s.error());
  return out;
}

}  // namespace openpcc::crypto
