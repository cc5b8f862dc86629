#include "crypto/rsa_pbssa_verifier.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <string>

#include "crypto/openssl_util.h"

namespace openpcc::crypto {
namespace {

using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OpenSslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OpenSslDeleter<OSSL_PARAM, OSSL_PARAM_free>>;

// OpenSSL's limit (OPENSSL_RSA_SMALL_MODULUS_BITS): above it, public exponents must fit in 64 bits.
constexpr size_t kOpenSslLargeExponentMaxModulusBits = 3072;

Result<EvpPkeyPtr> public_key_pkey(ByteSpan n_bytes, ByteSpan e_bytes) {
  BignumPtr n(BN_bin2bn(n_bytes.data(), static_cast<int>(n_bytes.size()), nullptr));
  BignumPtr e(BN_bin2bn(e_bytes.data(), static_cast<int>(e_bytes.size()), nullptr));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
    return openssl_error(ErrorCode::kCrypto, "rsa verifier: building key parameters failed");
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return openssl_error(ErrorCode::kCrypto, "rsa verifier: EVP_PKEY_fromdata failed");
  }
  return EvpPkeyPtr(raw);
}

}  // namespace

struct RsaPbssaVerifier::State {
  BlindRsaSuite suite;
  RsaPublicKey key;
  Bytes info;
  Bytes e_prime;
  EvpPkeyPtr pkey;  // (n, e′); null when the key is too large for OpenSSL's exponent limit
};

RsaPbssaVerifier::RsaPbssaVerifier(std::unique_ptr<State> state) : state_(std::move(state)) {}
RsaPbssaVerifier::RsaPbssaVerifier(RsaPbssaVerifier&&) noexcept = default;
RsaPbssaVerifier& RsaPbssaVerifier::operator=(RsaPbssaVerifier&&) noexcept = default;
RsaPbssaVerifier::~RsaPbssaVerifier() = default;

const Bytes& RsaPbssaVerifier::derived_exponent() const { return state_->e_prime; }

Result<RsaPbssaVerifier> RsaPbssaVerifier::create(const BlindRsaSuite& suite, const RsaPublicKey& key,
                                                  ByteSpan info) {
  if (!suite.partially_blind) {
    return make_error(ErrorCode::kInvalidArgument, "rsa verifier: the suite is not partially blind");
  }
  if (info.size() > 0xffffffffu) return make_error(ErrorCode::kInvalidArgument, "rsa verifier: metadata too long");
  auto e_prime = derive_metadata_public_exponent(key, info);
  if (!e_prime) return std::unexpected(e_prime.error());
  auto state = std::make_unique<State>();
  state->suite = suite;
  state->key = key;
  state->info.assign(info.begin(), info.end());
  state->e_prime = std::move(*e_prime);
  if (key.modulus_bits() <= kOpenSslLargeExponentMaxModulusBits) {
    auto pkey = public_key_pkey(key.n, state->e_prime);
    if (!pkey) return std::unexpected(pkey.error());
    state->pkey = std::move(*pkey);
  }
  return RsaPbssaVerifier(std::move(state));
}

Status RsaPbssaVerifier::verify(ByteSpan prepared_msg, ByteSpan sig) const {
  const State& s = *state_;
  if (!s.pkey) return crypto::verify(s.suite, s.key, prepared_msg, s.info, sig);
  if (sig.size() != s.key.modulus_size()) {
    return make_error(ErrorCode::kInvalidArgument, "signature must be " + std::to_string(s.key.modulus_size()) +
                                                       " bytes, got " + std::to_string(sig.size()));
  }
  const Bytes msg_prime = concat({as_bytes("msg"), i2osp(s.info.size(), 4), s.info, prepared_msg});
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!md || EVP_DigestVerifyInit(md.get(), &pctx, EVP_sha384(), nullptr, s.pkey.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, static_cast<int>(s.suite.salt_length)) != 1) {
    return openssl_error(ErrorCode::kCrypto, "rsa verifier: EVP_DigestVerifyInit failed");
  }
  if (EVP_DigestVerify(md.get(), sig.data(), sig.size(), msg_prime.data(), msg_prime.size()) != 1) {
    return openssl_error(ErrorCode::kAuthenticationFailed, "signature does not verify");
  }
  return {};
}

}  // namespace openpcc::crypto
