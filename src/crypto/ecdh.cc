#include "crypto/ecdh.h"

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <bit>

#include "common/random.h"

namespace openpcc::crypto::ecdh {
namespace {

constexpr size_t kP256PublicKeySize = 65;
constexpr size_t kScalarSize = 32;
constexpr uint8_t kUncompressedPrefix = 0x04;
// The order n of the P-256 base point, big-endian.
constexpr std::array<uint8_t, kScalarSize> kP256Order = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
constexpr char kP256GroupName[] = "P-256";

// Built once per process and only read afterwards (EC_POINT_mul takes it const).
const EC_GROUP* p256_group() {
  static const EC_GROUP* const group = EC_GROUP_new_by_curve_name_ex(nullptr, nullptr, NID_X9_62_prime256v1);
  return group;
}

// A parameters-only P-256 key, built once per process and only read afterwards. Copying it (EVP_PKEY_dup, or a
// keygen context made from it) copies the group; EVP_PKEY_fromdata with a group name instead rebuilds the EC_GROUP
// from scratch on every call, which made a public-key import about four times slower.
EVP_PKEY* p256_parameters() {
  static EVP_PKEY* const parameters = [] {
    EVP_PKEY* key = nullptr;
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!ctx || EVP_PKEY_paramgen_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_group_name(ctx.get(), kP256GroupName) != 1 ||
        EVP_PKEY_paramgen(ctx.get(), &key) != 1) {
      ERR_clear_error();
      return static_cast<EVP_PKEY*>(nullptr);
    }
    return key;
  }();
  return parameters;
}

Result<EvpPkeyPtr> p256_from_params(OSSL_PARAM* params, int selection, const char* what) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 || EVP_PKEY_fromdata(ctx.get(), &pkey, selection, params) != 1) {
    return openssl_error(ErrorCode::kInvalidArgument, what);
  }
  return EvpPkeyPtr(pkey);
}

Result<EvpPkeyPtr> parse_p256_public_key(ByteSpan public_key) {
  if (public_key.size() != kP256PublicKeySize || public_key[0] != kUncompressedPrefix) {
    return make_error(ErrorCode::kInvalidArgument, "p256: public key must be a 65-byte uncompressed point");
  }
  EVP_PKEY* parameters = p256_parameters();
  if (parameters == nullptr) return openssl_error(ErrorCode::kCrypto, "p256: group unavailable in OpenSSL");
  EvpPkeyPtr key(EVP_PKEY_dup(parameters));
  if (!key) return openssl_error(ErrorCode::kCrypto, "p256: out of memory");
  // OpenSSL decodes the point with EC_POINT_oct2point, which rejects coordinates >= p and points that are not on the
  // curve.
  if (EVP_PKEY_set1_encoded_public_key(key.get(), public_key.data(), public_key.size()) != 1) {
    return openssl_error(ErrorCode::kInvalidArgument, "p256: public key is not a point on the curve");
  }
  return key;
}

Result<PrivateKey> import_p256_private_key(ByteSpan private_key) {
  if (private_key.size() != kScalarSize || !is_valid_p256_scalar(private_key)) {
    return make_error(ErrorCode::kInvalidArgument, "p256: private key must be a 32-byte scalar in [1, n-1]");
  }
  const EC_GROUP* group = p256_group();
  if (group == nullptr) return openssl_error(ErrorCode::kCrypto, "p256: group unavailable in OpenSSL");

  // pk = sk·G. OpenSSL's import does not derive the public key from the private one, so compute it here.
  BignumPtr scalar(BN_bin2bn(private_key.data(), static_cast<int>(private_key.size()), nullptr));
  EcPointPtr point(EC_POINT_new(group));
  BnCtxPtr bn_ctx(BN_CTX_new());
  Bytes public_key(kP256PublicKeySize);
  if (!scalar || !point || !bn_ctx) return openssl_error(ErrorCode::kCrypto, "p256: out of memory");
  BN_set_flags(scalar.get(), BN_FLG_CONSTTIME);
  if (EC_POINT_mul(group, point.get(), scalar.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      EC_POINT_point2oct(group, point.get(), POINT_CONVERSION_UNCOMPRESSED, public_key.data(), public_key.size(),
                         bn_ctx.get()) != kP256PublicKeySize) {
    return openssl_error(ErrorCode::kCrypto, "p256: public key computation failed");
  }

  // OSSL_PARAM integers are in native byte order.
  std::array<uint8_t, kScalarSize> native_scalar;
  WipeOnExit wipe_scalar(native_scalar);
  std::copy(private_key.begin(), private_key.end(), native_scalar.begin());
  if constexpr (std::endian::native == std::endian::little) std::reverse(native_scalar.begin(), native_scalar.end());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(kP256GroupName), 0),
      OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, native_scalar.data(), native_scalar.size()),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, public_key.data(), public_key.size()),
      OSSL_PARAM_construct_end()};
  auto key = p256_from_params(params, EVP_PKEY_KEYPAIR, "p256: private key import failed");
  if (!key) return std::unexpected(key.error());
  return PrivateKey{std::move(*key), std::move(public_key)};
}

Result<GeneratedKey> generate_p256_key() {
  // The scalar comes from the OS CSPRNG (common/random.h) like every other secret, not from OpenSSL's DRBG: draw
  // 32 bytes until they form a scalar in [1, n-1] (a retry happens with probability < 2^-32). OpenSSL 3.0 cannot set
  // a private scalar on a copy of the cached P-256 parameters, so the import rebuilds the group (about 9 µs); that
  // is the price of one source of randomness (docs/BENCHMARKS.md).
  SecretBytes scalar(kScalarSize);
  do {
    fill_random(scalar.mutable_span());
  } while (!is_valid_p256_scalar(scalar));
  auto key = import_p256_private_key(scalar);
  if (!key) return std::unexpected(key.error());
  return GeneratedKey{std::move(*key), std::move(scalar)};
}

Result<PrivateKey> import_x25519_private_key(ByteSpan private_key) {
  if (private_key.size() != kScalarSize) {
    return make_error(ErrorCode::kInvalidArgument, "x25519: private key must be 32 bytes");
  }
  EvpPkeyPtr key(EVP_PKEY_new_raw_private_key_ex(nullptr, "X25519", nullptr, private_key.data(), private_key.size()));
  Bytes public_key(public_key_size(Curve::kX25519));
  size_t length = public_key.size();
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), public_key.data(), &length) != 1 || length != public_key.size()) {
    return openssl_error(ErrorCode::kCrypto, "x25519: private key import failed");
  }
  return PrivateKey{std::move(key), std::move(public_key)};
}

}  // namespace

Result<EvpPkeyPtr> parse_public_key(Curve curve, ByteSpan public_key) {
  if (curve == Curve::kP256) return parse_p256_public_key(public_key);
  if (public_key.size() != public_key_size(Curve::kX25519)) {
    return make_error(ErrorCode::kInvalidArgument, "x25519: public key must be 32 bytes");
  }
  EvpPkeyPtr key(EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, public_key.data(), public_key.size()));
  if (!key) return openssl_error(ErrorCode::kCrypto, "x25519: public key import failed");
  return key;
}

Result<PrivateKey> import_private_key(Curve curve, ByteSpan private_key) {
  return curve == Curve::kP256 ? import_p256_private_key(private_key) : import_x25519_private_key(private_key);
}

Result<GeneratedKey> generate_private_key(Curve curve) {
  if (curve == Curve::kP256) return generate_p256_key();
  GeneratedKey out{{}, SecretBytes(kScalarSize)};
  fill_random(out.private_key.mutable_span());  // any 32 bytes are an X25519 private key
  auto key = import_x25519_private_key(out.private_key);
  if (!key) return std::unexpected(key.error());
  out.key = std::move(*key);
  return out;
}

bool is_valid_p256_scalar(ByteSpan candidate) {
  if (candidate.size() != kScalarSize) return false;
  // Not constant-time: rejection sampling only reveals that a candidate was rejected, and a scalar >= n or == 0
  // is never used.
  bool nonzero = std::any_of(candidate.begin(), candidate.end(), [](uint8_t b) { return b != 0; });
  bool below_order = std::lexicographical_compare(candidate.begin(), candidate.end(), kP256Order.begin(),
                                                  kP256Order.end());
  return nonzero && below_order;
}

Result<SecretBytes> derive(EVP_PKEY* private_key, EVP_PKEY* peer_public_key) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, private_key, nullptr));
  SecretBytes shared(kScalarSize);
  size_t length = shared.size();
  // The peer key was validated when it was parsed (parse_public_key), so OpenSSL's own check (for P-256 a full
  // public-key check with a scalar multiplication) is skipped.
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer_ex(ctx.get(), peer_public_key, 0) != 1 ||
      EVP_PKEY_derive(ctx.get(), shared.data(), &length) != 1 || length != shared.size()) {
    // OpenSSL's X25519 itself refuses an all-zero output (a low-order peer key).
    return openssl_error(ErrorCode::kInvalidArgument, "dh: key agreement failed (invalid peer public key)");
  }
  uint8_t any = 0;
  for (uint8_t b : shared.span()) any |= b;
  if (any == 0) return make_error(ErrorCode::kInvalidArgument, "dh: shared secret is all zero (invalid peer key)");
  return shared;
}

}  // namespace openpcc::crypto::ecdh
