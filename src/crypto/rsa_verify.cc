#include "crypto/rsa_verify.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <string>

#include "crypto/openssl_util.h"

namespace openpcc::crypto {

namespace {

using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OpenSslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OpenSslDeleter<OSSL_PARAM, OSSL_PARAM_free>>;

const EVP_MD* hash_md(RsaHash hash) {
  switch (hash) {
    case RsaHash::kSha256: return EVP_sha256();
    case RsaHash::kSha384: return EVP_sha384();
    case RsaHash::kSha512: return EVP_sha512();
  }
  return nullptr;
}

ByteSpan strip_leading_zeros(ByteSpan b) {
  size_t i = 0;
  while (i < b.size() && b[i] == 0) ++i;
  return b.subspan(i);
}

}  // namespace

size_t rsa_hash_size(RsaHash hash) {
  switch (hash) {
    case RsaHash::kSha256: return 32;
    case RsaHash::kSha384: return 48;
    case RsaHash::kSha512: return 64;
  }
  return 0;
}

Result<RsaVerifyingKey> RsaVerifyingKey::from_components(ByteSpan modulus, ByteSpan exponent) {
  const ByteSpan n_bytes = strip_leading_zeros(modulus);
  const ByteSpan e_bytes = strip_leading_zeros(exponent);
  if (n_bytes.empty() || (n_bytes.back() & 1) == 0) {
    return make_error(ErrorCode::kInvalidArgument, "rsa key: modulus must be odd and non-zero");
  }
  BignumPtr n(BN_bin2bn(n_bytes.data(), static_cast<int>(n_bytes.size()), nullptr));
  BignumPtr e(BN_bin2bn(e_bytes.data(), static_cast<int>(e_bytes.size()), nullptr));
  if (!n || !e) return openssl_error(ErrorCode::kCrypto, "rsa key: BN_bin2bn failed");
  const size_t bits = static_cast<size_t>(BN_num_bits(n.get()));
  if (bits < kMinModulusBits || bits > kMaxModulusBits) {
    return make_error(ErrorCode::kInvalidArgument, "rsa key: modulus of " + std::to_string(bits) +
                                                       " bits, want " + std::to_string(kMinModulusBits) + ".." +
                                                       std::to_string(kMaxModulusBits));
  }
  if (e_bytes.size() > 8 || !BN_is_odd(e.get()) || BN_cmp(e.get(), BN_value_one()) <= 0 ||
      BN_cmp(e.get(), n.get()) >= 0) {
    return make_error(ErrorCode::kInvalidArgument, "rsa key: exponent must be odd, at least 3 and at most 64 bits");
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
    return openssl_error(ErrorCode::kCrypto, "rsa key: OSSL_PARAM_BLD failed");
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return openssl_error(ErrorCode::kCrypto, "rsa key: EVP_PKEY_fromdata failed");
  }
  return RsaVerifyingKey(std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free), bits);
}

Status RsaVerifyingKey::verify_pkcs1v15_digest(RsaHash hash, ByteSpan digest, ByteSpan signature) const {
  return verify(hash, false, 0, digest, signature);
}

Status RsaVerifyingKey::verify_pss_digest(RsaHash hash, ByteSpan digest, ByteSpan signature, int salt_length) const {
  if (salt_length < kRsaPssAnySaltLength) {
    return make_error(ErrorCode::kInvalidArgument, "rsa pss: negative salt length");
  }
  return verify(hash, true, salt_length, digest, signature);
}

Status RsaVerifyingKey::verify(RsaHash hash, bool pss, int salt_length, ByteSpan digest, ByteSpan signature) const {
  if (digest.size() != rsa_hash_size(hash)) {
    return make_error(ErrorCode::kInvalidArgument, "rsa verify: digest of " + std::to_string(digest.size()) +
                                                       " bytes, want " + std::to_string(rsa_hash_size(hash)));
  }
  if (signature.size() != modulus_size()) {
    return make_error(ErrorCode::kInvalidArgument, "rsa verify: signature of " + std::to_string(signature.size()) +
                                                       " bytes, want " + std::to_string(modulus_size()));
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  const EVP_MD* md = hash_md(hash);
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) {
    return openssl_error(ErrorCode::kCrypto, "rsa verify: context setup failed");
  }
  if (pss && (EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1 ||
              EVP_PKEY_CTX_set_rsa_pss_saltlen(
                  ctx.get(), salt_length == kRsaPssAnySaltLength ? RSA_PSS_SALTLEN_AUTO : salt_length) != 1)) {
    return openssl_error(ErrorCode::kCrypto, "rsa verify: PSS parameters rejected");
  }
  if (EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(), digest.size()) != 1) {
    return openssl_error(ErrorCode::kAuthenticationFailed,
                         pss ? "rsa verify: invalid RSASSA-PSS signature" : "rsa verify: invalid RSASSA-PKCS1-v1_5 signature");
  }
  return {};
}

}  // namespace openpcc::crypto
