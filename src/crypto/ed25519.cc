#include "crypto/ed25519.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <limits>
#include <utility>

#include "common/random.h"
#include "crypto/openssl_util.h"

namespace openpcc::crypto {
namespace {

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;

Result<std::array<uint8_t, kEd25519PublicKeySize>> raw_public_key(const EVP_PKEY* key) {
  std::array<uint8_t, kEd25519PublicKeySize> raw{};
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &len) != 1 || len != raw.size()) {
    return openssl_error(ErrorCode::kCrypto, "ed25519: cannot read the public key");
  }
  return raw;
}

Result<std::string> bio_to_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return openssl_error(ErrorCode::kCrypto, "ed25519: PEM encoding failed");
  return std::string(data, static_cast<size_t>(len));
}

Result<BioPtr> bio_from(std::string_view pem) {
  if (pem.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return make_error(ErrorCode::kInvalidArgument, "ed25519: PEM too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error(ErrorCode::kCrypto, "ed25519: BIO_new_mem_buf failed");
  return bio;
}

bool is_ed25519(const EVP_PKEY* key) { return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519; }

}  // namespace

// ---- Public key ----

Ed25519PublicKey::Ed25519PublicKey(std::array<uint8_t, kEd25519PublicKeySize> raw, std::shared_ptr<EVP_PKEY> key)
    : raw_(raw), key_(std::move(key)) {}

Result<Ed25519PublicKey> Ed25519PublicKey::from_bytes(ByteSpan raw) {
  if (raw.size() != kEd25519PublicKeySize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ed25519: public key must be 32 bytes, got " + std::to_string(raw.size()));
  }
  std::shared_ptr<EVP_PKEY> key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()),
                                EVP_PKEY_free);
  if (!key) return openssl_error(ErrorCode::kInvalidArgument, "ed25519: bad public key");
  std::array<uint8_t, kEd25519PublicKeySize> copy{};
  std::copy(raw.begin(), raw.end(), copy.begin());
  return Ed25519PublicKey(copy, std::move(key));
}

Result<Ed25519PublicKey> Ed25519PublicKey::from_pem(std::string_view pem) {
  auto bio = bio_from(pem);
  if (!bio) return std::unexpected(bio.error());
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio->get(), nullptr, nullptr, nullptr));
  if (!key) return openssl_error(ErrorCode::kDecode, "ed25519: not a PEM public key");
  if (!is_ed25519(key.get())) return make_error(ErrorCode::kInvalidArgument, "ed25519: PEM key is not Ed25519");
  auto raw = raw_public_key(key.get());
  if (!raw) return std::unexpected(raw.error());
  return Ed25519PublicKey(*raw, std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free));
}

Result<std::string> Ed25519PublicKey::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    return openssl_error(ErrorCode::kCrypto, "ed25519: PEM encoding failed");
  }
  return bio_to_string(bio.get());
}

Status Ed25519PublicKey::verify(ByteSpan message, ByteSpan signature) const {
  if (signature.size() != kEd25519SignatureSize) {
    return make_error(ErrorCode::kAuthenticationFailed, "ed25519: signature must be 64 bytes");
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
    return openssl_error(ErrorCode::kCrypto, "ed25519: EVP_DigestVerifyInit failed");
  }
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) != 1) {
    return openssl_error(ErrorCode::kAuthenticationFailed, "ed25519: signature does not verify");
  }
  return {};
}

// ---- Private key ----

void Ed25519PrivateKey::Deleter::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }

Ed25519PrivateKey::Ed25519PrivateKey(std::unique_ptr<EVP_PKEY, Deleter> key, Ed25519PublicKey public_key)
    : key_(std::move(key)), public_key_(std::move(public_key)) {}
Ed25519PrivateKey::Ed25519PrivateKey(Ed25519PrivateKey&&) noexcept = default;
Ed25519PrivateKey& Ed25519PrivateKey::operator=(Ed25519PrivateKey&&) noexcept = default;
Ed25519PrivateKey::~Ed25519PrivateKey() = default;

Result<Ed25519PrivateKey> Ed25519PrivateKey::generate() {
  SecretBytes seed(kEd25519SeedSize);
  fill_random(seed.mutable_span());
  return from_seed(seed);
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::from_seed(ByteSpan seed) {
  if (seed.size() != kEd25519SeedSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ed25519: private key seed must be 32 bytes, got " + std::to_string(seed.size()));
  }
  std::unique_ptr<EVP_PKEY, Deleter> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!key) return openssl_error(ErrorCode::kCrypto, "ed25519: cannot import the private key");
  auto raw = raw_public_key(key.get());
  if (!raw) return std::unexpected(raw.error());
  auto pub = Ed25519PublicKey::from_bytes(*raw);
  if (!pub) return std::unexpected(pub.error());
  return Ed25519PrivateKey(std::move(key), std::move(*pub));
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::from_pem(std::string_view pem) {
  auto bio = bio_from(pem);
  if (!bio) return std::unexpected(bio.error());
  std::unique_ptr<EVP_PKEY, Deleter> key(PEM_read_bio_PrivateKey(bio->get(), nullptr, nullptr, nullptr));
  if (!key) return openssl_error(ErrorCode::kDecode, "ed25519: not a PEM private key");
  if (!is_ed25519(key.get())) return make_error(ErrorCode::kInvalidArgument, "ed25519: PEM key is not Ed25519");
  auto raw = raw_public_key(key.get());
  if (!raw) return std::unexpected(raw.error());
  auto pub = Ed25519PublicKey::from_bytes(*raw);
  if (!pub) return std::unexpected(pub.error());
  return Ed25519PrivateKey(std::move(key), std::move(*pub));
}

Result<SecretBytes> Ed25519PrivateKey::seed() const {
  SecretBytes seed(kEd25519SeedSize);
  size_t len = seed.size();
  if (EVP_PKEY_get_raw_private_key(key_.get(), seed.data(), &len) != 1 || len != kEd25519SeedSize) {
    return openssl_error(ErrorCode::kCrypto, "ed25519: cannot read the private key");
  }
  return seed;
}

Result<std::string> Ed25519PrivateKey::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return openssl_error(ErrorCode::kCrypto, "ed25519: PEM encoding failed");
  }
  return bio_to_string(bio.get());
}

Result<Bytes> Ed25519PrivateKey::sign(ByteSpan message) const {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
    return openssl_error(ErrorCode::kCrypto, "ed25519: EVP_DigestSignInit failed");
  }
  Bytes signature(kEd25519SignatureSize);
  size_t len = signature.size();
  if (EVP_DigestSign(ctx.get(), signature.data(), &len, message.data(), message.size()) != 1 ||
      len != kEd25519SignatureSize) {
    return openssl_error(ErrorCode::kCrypto, "ed25519: signing failed");
  }
  return signature;
}

}  // namespace openpcc::crypto
