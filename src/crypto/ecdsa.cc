#include "crypto/ecdsa.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>

#include "crypto/openssl_util.h"

namespace openpcc::crypto {
namespace {

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpenSslDeleter<ECDSA_SIG, ECDSA_SIG_free>>;

// Generous: a DER-ish or padded integer is never longer than this for the curves here.
constexpr size_t kMaxScalarInput = 128;

const char* group_name(EcCurve curve) { return curve == EcCurve::kP256 ? "prime256v1" : "secp384r1"; }

const EVP_MD* curve_hash(EcCurve curve) { return curve == EcCurve::kP256 ? EVP_sha256() : EVP_sha384(); }

Result<EcCurve> curve_of(const EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return make_error(ErrorCode::kUnsupported, "ecdsa: not an EC key");
  char name[64] = {};
  size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &length) != 1) {
    return openssl_error(ErrorCode::kUnsupported, "ecdsa: EC key without a named curve");
  }
  std::string_view group(name, length);
  if (group == "prime256v1" || group == "P-256") return EcCurve::kP256;
  if (group == "secp384r1" || group == "P-384") return EcCurve::kP384;
  return make_error(ErrorCode::kUnsupported, "ecdsa: unsupported curve " + std::string(group));
}

// The uncompressed point of an EC key, whatever point format it was imported with.
Result<Bytes> uncompressed_point(const EVP_PKEY* key, EcCurve curve) {
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
    BN_free(x);
    BN_free(y);
    return openssl_error(ErrorCode::kCrypto, "ecdsa: cannot read the public point");
  }
  BignumPtr owned_x(x), owned_y(y);
  const size_t n = ec_field_size(curve);
  Bytes point(1 + 2 * n);
  point[0] = 0x04;
  if (BN_bn2binpad(x, point.data() + 1, static_cast<int>(n)) < 0 ||
      BN_bn2binpad(y, point.data() + 1 + n, static_cast<int>(n)) < 0) {
    return openssl_error(ErrorCode::kCrypto, "ecdsa: public point does not fit the curve");
  }
  return point;
}

Result<EvpPkeyPtr> import_point(EcCurve curve, ByteSpan point) {
  const size_t n = ec_field_size(curve);
  if (point.size() != 1 + 2 * n || point[0] != 0x04) {
    return make_error(ErrorCode::kInvalidArgument, std::string("ecdsa: ") + std::string(to_string(curve)) +
                                                       " public key must be an uncompressed point of " +
                                                       std::to_string(1 + 2 * n) + " bytes");
  }
  Bytes copy(point.begin(), point.end());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group_name(curve)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, copy.data(), copy.size()),
      OSSL_PARAM_construct_end()};
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return openssl_error(ErrorCode::kInvalidArgument, "ecdsa: public key is not a point on the curve");
  }
  EvpPkeyPtr key(raw);
  // P-256 and P-384 have cofactor 1, so a point on the curve that is not the identity is in the prime-order group:
  // the quick check (on-curve) is complete here and skips the full check's n·Q scalar multiplication.
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check_quick(check.get()) != 1) {
    return openssl_error(ErrorCode::kInvalidArgument, "ecdsa: public key fails validation");
  }
  return key;
}

Result<Bytes> hash_for(EcCurve curve, ByteSpan message) {
  Bytes digest(EVP_MD_get_size(curve_hash(curve)));
  unsigned int length = 0;
  if (EVP_Digest(message.data(), message.size(), digest.data(), &length, curve_hash(curve), nullptr) != 1 ||
      length != digest.size()) {
    return openssl_error(ErrorCode::kCrypto, "ecdsa: hashing failed");
  }
  return digest;
}

}  // namespace

size_t ec_field_size(EcCurve curve) { return curve == EcCurve::kP256 ? 32 : 48; }

std::string_view to_string(EcCurve curve) { return curve == EcCurve::kP256 ? "P-256" : "P-384"; }

Result<EcdsaPublicKey> EcdsaPublicKey::from_point(EcCurve curve, ByteSpan uncompressed_point) {
  auto key = import_point(curve, uncompressed_point);
  if (!key) return std::unexpected(key.error());
  return EcdsaPublicKey(curve, Bytes(uncompressed_point.begin(), uncompressed_point.end()),
                        std::shared_ptr<EVP_PKEY>(key->release(), EVP_PKEY_free));
}

Result<EcdsaPublicKey> EcdsaPublicKey::from_coordinates(EcCurve curve, ByteSpan x, ByteSpan y) {
  const size_t n = ec_field_size(curve);
  if (x.size() > n || y.size() > n) {
    return make_error(ErrorCode::kInvalidArgument, "ecdsa: coordinate longer than the field size");
  }
  Bytes point(1 + 2 * n, 0);
  point[0] = 0x04;
  std::memcpy(point.data() + 1 + (n - x.size()), x.data(), x.size());
  std::memcpy(point.data() + 1 + n + (n - y.size()), y.data(), y.size());
  return from_point(curve, point);
}

Result<EcdsaPublicKey> EcdsaPublicKey::from_spki_der(ByteSpan der) {
  const unsigned char* p = der.data();
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key || p != der.data() + der.size()) {
    return openssl_error(ErrorCode::kDecode, "ecdsa: not a DER SubjectPublicKeyInfo");
  }
  auto curve = curve_of(key.get());
  if (!curve) return std::unexpected(curve.error());
  auto point = uncompressed_point(key.get(), *curve);
  if (!point) return std::unexpected(point.error());
  return from_point(*curve, *point);
}

Result<EcdsaPublicKey> EcdsaPublicKey::from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error(ErrorCode::kCrypto, "ecdsa: BIO allocation failed");
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return openssl_error(ErrorCode::kDecode, "ecdsa: not a PEM public key");
  auto curve = curve_of(key.get());
  if (!curve) return std::unexpected(curve.error());
  auto point = uncompressed_point(key.get(), *curve);
  if (!point) return std::unexpected(point.error());
  return from_point(*curve, *point);
}

Result<Bytes> EcdsaPublicKey::to_spki_der() const {
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key_.get(), &der);
  if (length <= 0) return openssl_error(ErrorCode::kCrypto, "ecdsa: SPKI encoding failed");
  Bytes out(der, der + length);
  OPENSSL_free(der);
  return out;
}

Result<std::string> EcdsaPublicKey::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    return openssl_error(ErrorCode::kCrypto, "ecdsa: PEM encoding failed");
  }
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

Status EcdsaPublicKey::verify_digest(ByteSpan digest, ByteSpan r, ByteSpan s) const {
  if (r.empty() || s.empty() || r.size() > kMaxScalarInput || s.size() > kMaxScalarInput) {
    return make_error(ErrorCode::kAuthenticationFailed, "ecdsa: signature integers have impossible sizes");
  }
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* br = BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr);
  BIGNUM* bs = BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr);
  if (!sig || !br || !bs || ECDSA_SIG_set0(sig.get(), br, bs) != 1) {
    BN_free(br);
    BN_free(bs);
    return openssl_error(ErrorCode::kCrypto, "ecdsa: signature allocation failed");
  }
  unsigned char* der = nullptr;
  int der_length = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_length <= 0) return openssl_error(ErrorCode::kCrypto, "ecdsa: signature encoding failed");
  std::unique_ptr<unsigned char, void (*)(void*)> owned_der(der, [](void* p) { OPENSSL_free(p); });
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) {
    return openssl_error(ErrorCode::kCrypto, "ecdsa: verify setup failed");
  }
  if (EVP_PKEY_verify(ctx.get(), der, static_cast<size_t>(der_length), digest.data(), digest.size()) != 1) {
    return openssl_error(ErrorCode::kAuthenticationFailed,
                         std::string("ecdsa: ") + std::string(to_string(curve_)) + " signature is invalid");
  }
  return {};
}

Status EcdsaPublicKey::verify(ByteSpan message, ByteSpan r, ByteSpan s) const {
  auto digest = hash_for(curve_, message);
  if (!digest) return std::unexpected(digest.error());
  return verify_digest(*digest, r, s);
}

void EcdsaPrivateKey::Deleter::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }

EcdsaPrivateKey::EcdsaPrivateKey(std::unique_ptr<EVP_PKEY, Deleter> key, EcdsaPublicKey public_key)
    : key_(std::move(key)), public_key_(std::move(public_key)) {}
EcdsaPrivateKey::EcdsaPrivateKey(EcdsaPrivateKey&&) noexcept = default;
EcdsaPrivateKey& EcdsaPrivateKey::operator=(EcdsaPrivateKey&&) noexcept = default;
EcdsaPrivateKey::~EcdsaPrivateKey() = default;

namespace {
Result<EcdsaPrivateKey> wrap_private(EVP_PKEY* raw, auto make) {
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> guard(raw, EVP_PKEY_free);
  auto curve = curve_of(raw);
  if (!curve) return std::unexpected(curve.error());
  auto point = uncompressed_point(raw, *curve);
  if (!point) return std::unexpected(point.error());
  auto pub = EcdsaPublicKey::from_point(*curve, *point);
  if (!pub) return std::unexpected(pub.error());
  return make(guard.release(), std::move(*pub));
}
}  // namespace

Result<EcdsaPrivateKey> EcdsaPrivateKey::generate(EcCurve curve) {
  EVP_PKEY* raw = EVP_EC_gen(group_name(curve));
  if (!raw) return openssl_error(ErrorCode::kCrypto, "ecdsa: key generation failed");
  return wrap_private(raw, [](EVP_PKEY* key, EcdsaPublicKey pub) {
    return EcdsaPrivateKey(std::unique_ptr<EVP_PKEY, Deleter>(key), std::move(pub));
  });
}

Result<EcdsaPrivateKey> EcdsaPrivateKey::from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error(ErrorCode::kCrypto, "ecdsa: BIO allocation failed");
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!raw) return openssl_error(ErrorCode::kDecode, "ecdsa: not a PEM private key");
  return wrap_private(raw, [](EVP_PKEY* key, EcdsaPublicKey pub) {
    return EcdsaPrivateKey(std::unique_ptr<EVP_PKEY, Deleter>(key), std::move(pub));
  });
}

Result<std::string> EcdsaPrivateKey::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) bio.reset(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return openssl_error(ErrorCode::kCrypto, "ecdsa: PEM encoding failed");
  }
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

Result<EcdsaSignature> EcdsaPrivateKey::sign_digest(ByteSpan digest) const {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  size_t length = 0;
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_sign(ctx.get(), nullptr, &length, digest.data(), digest.size()) != 1) {
    return openssl_error(ErrorCode::kCrypto, "ecdsa: sign setup failed");
  }
  Bytes der(length);
  if (EVP_PKEY_sign(ctx.get(), der.data(), &length, digest.data(), digest.size()) != 1) {
    return openssl_error(ErrorCode::kCrypto, "ecdsa: signing failed");
  }
  const unsigned char* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(length)));
  if (!sig) return openssl_error(ErrorCode::kCrypto, "ecdsa: signature decoding failed");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  const size_t n = ec_field_size(curve());
  EcdsaSignature out{Bytes(n), Bytes(n)};
  if (BN_bn2binpad(r, out.r.data(), static_cast<int>(n)) < 0 || BN_bn2binpad(s, out.s.data(), static_cast<int>(n)) < 0) {
    return openssl_error(ErrorCode::kCrypto, "ecdsa: signature integers do not fit the curve");
  }
  return out;
}

Result<EcdsaSignature> EcdsaPrivateKey::sign(ByteSpan message) const {
  auto digest = hash_for(curve(), message);
  if (!digest) return std::unexpected(digest.error());
  return sign_digest(*digest);
}

}  // namespace openpcc::crypto
