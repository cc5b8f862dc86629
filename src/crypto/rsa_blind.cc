#include "crypto/rsa_blind.h"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <map>
#include <mutex>

#include "common/random.h"
#include "crypto/hkdf.h"
#include "crypto/openssl_util.h"

namespace openpcc::crypto {

struct RsaPrivateKey::Secrets {
  BignumPtr n, e, d, p, q;
};

namespace {

using BnGencbPtr = std::unique_ptr<BN_GENCB, OpenSslDeleter<BN_GENCB, BN_GENCB_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OpenSslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OpenSslDeleter<OSSL_PARAM, OSSL_PARAM_free>>;
using EncoderCtxPtr = std::unique_ptr<OSSL_ENCODER_CTX, OpenSslDeleter<OSSL_ENCODER_CTX, OSSL_ENCODER_CTX_free>>;
using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, OpenSslDeleter<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>>;

constexpr size_t kHashSize = 48;  // SHA-384

std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return openssl_error(code, "rsa blind: " + std::move(message));
}

BignumPtr new_bn() { return BignumPtr(BN_new()); }

BignumPtr bn_from(ByteSpan b) {
  return BignumPtr(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr));
}

BignumPtr bn_dup(const BIGNUM* a) { return BignumPtr(BN_dup(a)); }

// Big-endian magnitude without leading zeros.
Bytes bn_bytes(const BIGNUM* a) {
  Bytes out(static_cast<size_t>(BN_num_bytes(a)));
  BN_bn2bin(a, out.data());
  return out;
}

// I2OSP(a, len); fails if a does not fit.
Result<Bytes> i2osp_bn(const BIGNUM* a, size_t len) {
  Bytes out(len);
  if (BN_bn2binpad(a, out.data(), static_cast<int>(len)) < 0) return fail(ErrorCode::kInternal, "integer too large");
  return out;
}

void set_consttime(BIGNUM* a) { BN_set_flags(a, BN_FLG_CONSTTIME); }

Bytes sha384(std::initializer_list<ByteSpan> parts) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  Bytes out(kHashSize);
  EVP_DigestInit_ex(ctx.get(), EVP_sha384(), nullptr);
  for (ByteSpan p : parts) EVP_DigestUpdate(ctx.get(), p.data(), p.size());
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), out.data(), &len);
  return out;
}

// MGF1-SHA-384 (RFC 8017 B.2.1), XORed into `out`.
void xor_mgf1(ByteSpan seed, std::span<uint8_t> out) {
  size_t done = 0;
  for (uint32_t counter = 0; done < out.size(); ++counter) {
    const Bytes c = i2osp(counter, 4);
    const Bytes block = sha384({seed, c});
    for (size_t i = 0; i < block.size() && done < out.size(); ++i) out[done++] ^= block[i];
  }
}

// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with SHA-384/MGF1-SHA-384.
Result<Bytes> emsa_pss_encode(ByteSpan msg, ByteSpan salt, size_t em_bits) {
  const size_t em_len = (em_bits + 7) / 8;
  if (em_len < kHashSize + salt.size() + 2) return fail(ErrorCode::kInvalidArgument, "modulus too small for PSS");
  const Bytes m_hash = sha384({msg});
  const uint8_t zeros[8] = {};
  const Bytes h = sha384({zeros, m_hash, salt});
  Bytes em(em_len, 0);
  const size_t db_len = em_len - kHashSize - 1;
  em[db_len - salt.size() - 1] = 0x01;
  std::copy(salt.begin(), salt.end(), em.begin() + static_cast<ptrdiff_t>(db_len - salt.size()));
  xor_mgf1(h, std::span<uint8_t>(em.data(), db_len));
  em[0] &= static_cast<uint8_t>(0xff >> (8 * em_len - em_bits));
  std::copy(h.begin(), h.end(), em.begin() + static_cast<ptrdiff_t>(db_len));
  em[em_len - 1] = 0xbc;
  return em;
}

// EMSA-PSS-VERIFY (RFC 8017 §9.1.2).
bool emsa_pss_verify(ByteSpan msg, Bytes em, size_t em_bits, size_t salt_len) {
  const size_t em_len = (em_bits + 7) / 8;
  if (em.size() != em_len || em_len < kHashSize + salt_len + 2) return false;
  if (em[em_len - 1] != 0xbc) return false;
  const uint8_t top_mask = static_cast<uint8_t>(0xff << (8 - (8 * em_len - em_bits)));
  if (8 * em_len != em_bits && (em[0] & top_mask) != 0) return false;
  const size_t db_len = em_len - kHashSize - 1;
  const ByteSpan h(em.data() + db_len, kHashSize);
  const Bytes h_copy(h.begin(), h.end());
  xor_mgf1(h_copy, std::span<uint8_t>(em.data(), db_len));
  em[0] &= static_cast<uint8_t>(0xff >> (8 * em_len - em_bits));
  const size_t ps_len = db_len - salt_len - 1;
  for (size_t i = 0; i < ps_len; ++i) {
    if (em[i] != 0) return false;
  }
  if (em[ps_len] != 0x01) return false;
  const ByteSpan salt(em.data() + db_len - salt_len, salt_len);
  const Bytes m_hash = sha384({msg});
  const uint8_t zeros[8] = {};
  return ct_equal(sha384({zeros, m_hash, salt}), h_copy);
}

// msg_prime = "msg" ‖ I2OSP(len(info), 4) ‖ info ‖ msg for partially blind suites; msg otherwise.
Result<Bytes> message_to_encode(const BlindRsaSuite& suite, ByteSpan msg, ByteSpan info) {
  if (!suite.partially_blind) {
    if (!info.empty()) return fail(ErrorCode::kInvalidArgument, "metadata given to a suite without metadata");
    return Bytes(msg.begin(), msg.end());
  }
  if (info.size() > 0xffffffffu) return fail(ErrorCode::kInvalidArgument, "metadata too long");
  return concat({as_bytes("msg"), i2osp(info.size(), 4), info, msg});
}

// e′ for a partially blind suite; (n, e) otherwise.
Result<BignumPtr> public_exponent(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan info) {
  if (!suite.partially_blind) return bn_from(key.e);
  auto e = derive_metadata_public_exponent(key, info);
  if (!e) return std::unexpected(e.error());
  return bn_from(*e);
}

// m = s^e mod n for a public e (no secrets involved).
Result<BignumPtr> rsa_public(const BIGNUM* s, const BIGNUM* e, const BIGNUM* n, BN_CTX* ctx) {
  BignumPtr m = new_bn();
  if (!m || !BN_mod_exp(m.get(), s, e, n, ctx)) return fail(ErrorCode::kCrypto, "BN_mod_exp failed");
  return m;
}

Status check_size(ByteSpan b, size_t expected, const char* what) {
  if (b.size() != expected) {
    return fail(ErrorCode::kInvalidArgument, std::string(what) + " must be " + std::to_string(expected) +
                                                 " bytes, got " + std::to_string(b.size()));
  }
  return {};
}

// Builds an EVP_PKEY (for PEM encoding) from components; null ones are left out.
Result<EvpPkeyPtr> build_pkey(const BIGNUM* n, const BIGNUM* e, const RsaPrivateKey::Secrets* s, BN_CTX* ctx) {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) return fail(ErrorCode::kCrypto, "OSSL_PARAM_BLD_new failed");
  int selection = EVP_PKEY_PUBLIC_KEY;
  bool ok = OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n) &&
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e);
  BignumPtr dp, dq, qinv, pm1, qm1;
  if (s) {
    selection = EVP_PKEY_KEYPAIR;
    dp = new_bn(), dq = new_bn(), qinv = new_bn(), pm1 = bn_dup(s->p.get()), qm1 = bn_dup(s->q.get());
    ok = ok && dp && dq && qinv && pm1 && qm1 && BN_sub_word(pm1.get(), 1) && BN_sub_word(qm1.get(), 1) &&
         BN_mod(dp.get(), s->d.get(), pm1.get(), ctx) && BN_mod(dq.get(), s->d.get(), qm1.get(), ctx) &&
         BN_mod_inverse(qinv.get(), s->q.get(), s->p.get(), ctx) &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, s->d.get()) &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, s->p.get()) &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, s->q.get()) &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get()) &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get()) &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv.get());
  }
  if (!ok) return fail(ErrorCode::kCrypto, "building RSA key parameters failed");
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !pctx || EVP_PKEY_fromdata_init(pctx.get()) != 1 ||
      EVP_PKEY_fromdata(pctx.get(), &raw, selection, params.get()) != 1) {
    return fail(ErrorCode::kCrypto, "EVP_PKEY_fromdata failed");
  }
  return EvpPkeyPtr(raw);
}

Result<std::string> encode_pem(const EVP_PKEY* pkey, int selection) {
  EncoderCtxPtr ectx(OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, "PEM", "type-specific", nullptr));
  unsigned char* data = nullptr;
  size_t len = 0;
  if (!ectx || OSSL_ENCODER_CTX_get_num_encoders(ectx.get()) == 0 || OSSL_ENCODER_to_data(ectx.get(), &data, &len) != 1) {
    return fail(ErrorCode::kCrypto, "PEM encoding failed");
  }
  std::string out(reinterpret_cast<char*>(data), len);
  OPENSSL_clear_free(data, len);
  return out;
}

Result<EvpPkeyPtr> decode_pem(std::string_view pem, int selection) {
  EVP_PKEY* raw = nullptr;
  DecoderCtxPtr dctx(OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", "type-specific", "RSA", selection, nullptr, nullptr));
  const unsigned char* data = reinterpret_cast<const unsigned char*>(pem.data());
  size_t len = pem.size();
  if (!dctx || OSSL_DECODER_from_data(dctx.get(), &data, &len) != 1 || raw == nullptr) {
    EVP_PKEY_free(raw);
    return fail(ErrorCode::kDecode, "not a PKCS#1 RSA PEM key");
  }
  return EvpPkeyPtr(raw);
}

Result<BignumPtr> get_bn(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return fail(ErrorCode::kDecode, std::string("missing ") + name);
  return BignumPtr(raw);
}

// True when (x−1)/2 is prime (x itself is checked elsewhere).
bool is_safe_prime(const BIGNUM* x, BN_CTX* ctx) {
  BignumPtr half = bn_dup(x);
  if (!half || !BN_rshift1(half.get(), half.get())) return false;
  return BN_check_prime(half.get(), ctx, nullptr) == 1;
}

// r uniform in [1, n) by rejection sampling from random_bytes masked to bitlen(n).
Result<BignumPtr> random_below(const BIGNUM* n) {
  const size_t bits = static_cast<size_t>(BN_num_bits(n));
  SecretBytes buf((bits + 7) / 8);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    fill_random(buf.mutable_span());
    if (bits % 8) buf[0] &= static_cast<uint8_t>(0xff >> (8 - bits % 8));
    BignumPtr r = bn_from(buf);
    if (!r) return fail(ErrorCode::kCrypto, "allocation failed");
    if (!BN_is_zero(r.get()) && BN_cmp(r.get(), n) < 0) return r;
  }
  return fail(ErrorCode::kInternal, "could not sample r");
}

Result<BlindingResult> blind_impl(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan prepared_msg,
                                  ByteSpan info, ByteSpan fixed_salt, ByteSpan fixed_r) {
  auto encoded_input = message_to_encode(suite, prepared_msg, info);
  if (!encoded_input) return std::unexpected(encoded_input.error());
  Bytes salt;
  if (!fixed_salt.empty() || suite.salt_length == 0) {
    if (auto st = check_size(fixed_salt, suite.salt_length, "salt"); !st) return std::unexpected(st.error());
    salt.assign(fixed_salt.begin(), fixed_salt.end());
  } else if (suite.zero_salt) {
    salt.assign(suite.salt_length, 0);
  } else {
    salt = random_bytes(suite.salt_length);
  }
  BnCtxPtr ctx(BN_CTX_new());
  BignumPtr n = bn_from(key.n);
  if (!ctx || !n) return fail(ErrorCode::kCrypto, "allocation failed");
  const size_t mod_bits = static_cast<size_t>(BN_num_bits(n.get()));
  const size_t mod_len = key.n.size();
  auto em = emsa_pss_encode(*encoded_input, salt, mod_bits - 1);
  if (!em) return std::unexpected(em.error());
  BignumPtr m = bn_from(*em);
  BignumPtr g = new_bn();
  if (!m || !g || !BN_gcd(g.get(), m.get(), n.get(), ctx.get())) return fail(ErrorCode::kCrypto, "gcd failed");
  if (!BN_is_one(g.get())) return fail(ErrorCode::kInvalidArgument, "encoded message not invertible mod n");
  auto e = public_exponent(suite, key, info);
  if (!e) return std::unexpected(e.error());

  BignumPtr r;
  if (!fixed_r.empty()) {
    r = bn_from(fixed_r);
    if (!r || BN_is_zero(r.get()) || BN_cmp(r.get(), n.get()) >= 0) {
      return fail(ErrorCode::kInvalidArgument, "r must be in [1, n)");
    }
  }
  BignumPtr inv = new_bn(), x = new_bn(), z = new_bn();
  if (!inv || !x || !z) return fail(ErrorCode::kCrypto, "allocation failed");
  set_consttime(inv.get());
  set_consttime(x.get());
  for (int attempt = 0;; ++attempt) {
    if (fixed_r.empty()) {
      auto fresh = random_below(n.get());
      if (!fresh) return std::unexpected(fresh.error());
      r = std::move(*fresh);
    }
    set_consttime(r.get());
    if (BN_mod_inverse(inv.get(), r.get(), n.get(), ctx.get()) != nullptr) break;
    ERR_clear_error();
    if (!fixed_r.empty() || attempt > 100) return fail(ErrorCode::kInvalidArgument, "r not invertible mod n");
  }
  if (!BN_mod_exp_mont_consttime(x.get(), r.get(), e->get(), n.get(), ctx.get(), nullptr) ||
      !BN_mod_mul(z.get(), m.get(), x.get(), n.get(), ctx.get())) {
    return fail(ErrorCode::kCrypto, "blinding failed");
  }
  auto blinded = i2osp_bn(z.get(), mod_len);
  auto inv_bytes = i2osp_bn(inv.get(), mod_len);
  if (!blinded || !inv_bytes) return fail(ErrorCode::kInternal, "encoding failed");
  BlindingResult out{std::move(*blinded), SecretBytes(*inv_bytes)};
  secure_wipe(inv_bytes->data(), inv_bytes->size());
  return out;
}

}  // namespace

// ---- RsaPublicKey ----

Result<RsaPublicKey> RsaPublicKey::from_components(ByteSpan n_bytes, ByteSpan e_bytes) {
  BignumPtr n = bn_from(n_bytes), e = bn_from(e_bytes);
  if (!n || !e) return fail(ErrorCode::kCrypto, "allocation failed");
  if (BN_num_bits(n.get()) < static_cast<int>(kBlindRsaMinModulusBits) || !BN_is_odd(n.get())) {
    return fail(ErrorCode::kInvalidArgument, "modulus must be odd and at least 1024 bits");
  }
  if (!BN_is_odd(e.get()) || BN_is_one(e.get()) || BN_cmp(e.get(), n.get()) >= 0) {
    return fail(ErrorCode::kInvalidArgument, "public exponent must be odd and in (1, n)");
  }
  return RsaPublicKey{bn_bytes(n.get()), bn_bytes(e.get())};
}

size_t RsaPublicKey::modulus_size() const { return n.size(); }

size_t RsaPublicKey::modulus_bits() const {
  BignumPtr b = bn_from(n);
  return b ? static_cast<size_t>(BN_num_bits(b.get())) : 0;
}

Result<std::string> RsaPublicKey::to_pem() const {
  BignumPtr bn = bn_from(n), be = bn_from(e);
  BnCtxPtr ctx(BN_CTX_new());
  if (!bn || !be || !ctx) return fail(ErrorCode::kCrypto, "allocation failed");
  auto pkey = build_pkey(bn.get(), be.get(), nullptr, ctx.get());
  if (!pkey) return std::unexpected(pkey.error());
  return encode_pem(pkey->get(), EVP_PKEY_PUBLIC_KEY);
}

Result<RsaPublicKey> RsaPublicKey::from_pem(std::string_view pem) {
  auto pkey = decode_pem(pem, EVP_PKEY_PUBLIC_KEY);
  if (!pkey) return std::unexpected(pkey.error());
  auto n = get_bn(pkey->get(), OSSL_PKEY_PARAM_RSA_N);
  auto e = get_bn(pkey->get(), OSSL_PKEY_PARAM_RSA_E);
  if (!n || !e) return fail(ErrorCode::kDecode, "RSA public key lacks n or e");
  return from_components(bn_bytes(n->get()), bn_bytes(e->get()));
}

// ---- RsaPrivateKey ----

RsaPrivateKey::RsaPrivateKey(RsaPublicKey pub, std::unique_ptr<Secrets> s)
    : public_key_(std::move(pub)), secrets_(std::move(s)) {}
RsaPrivateKey::RsaPrivateKey(RsaPrivateKey&&) noexcept = default;
RsaPrivateKey& RsaPrivateKey::operator=(RsaPrivateKey&&) noexcept = default;
RsaPrivateKey::~RsaPrivateKey() = default;

Result<RsaPrivateKey> RsaPrivateKey::from_components(ByteSpan n, ByteSpan e, ByteSpan d, ByteSpan p, ByteSpan q) {
  auto pub = RsaPublicKey::from_components(n, e);
  if (!pub) return std::unexpected(pub.error());
  auto s = std::make_unique<Secrets>(Secrets{bn_from(n), bn_from(e), bn_from(d), bn_from(p), bn_from(q)});
  BnCtxPtr ctx(BN_CTX_new());
  BignumPtr prod = new_bn(), pm1 = bn_from(p), qm1 = bn_from(q), g = new_bn(), lambda = new_bn(), ed = new_bn();
  if (!ctx || !s->n || !s->e || !s->d || !s->p || !s->q || !prod || !pm1 || !qm1 || !g || !lambda || !ed) {
    return fail(ErrorCode::kCrypto, "allocation failed");
  }
  for (BIGNUM* b : {s->d.get(), s->p.get(), s->q.get(), pm1.get(), qm1.get(), lambda.get()}) set_consttime(b);
  if (!BN_mul(prod.get(), s->p.get(), s->q.get(), ctx.get()) || BN_cmp(prod.get(), s->n.get()) != 0) {
    return fail(ErrorCode::kInvalidArgument, "n != p·q");
  }
  if (BN_check_prime(s->p.get(), ctx.get(), nullptr) != 1 || BN_check_prime(s->q.get(), ctx.get(), nullptr) != 1) {
    return fail(ErrorCode::kInvalidArgument, "p or q is not prime");
  }
  // e·d ≡ 1 mod lcm(p−1, q−1): the key actually signs.
  if (!BN_sub_word(pm1.get(), 1) || !BN_sub_word(qm1.get(), 1) || !BN_gcd(g.get(), pm1.get(), qm1.get(), ctx.get()) ||
      !BN_mul(lambda.get(), pm1.get(), qm1.get(), ctx.get()) ||
      !BN_div(lambda.get(), nullptr, lambda.get(), g.get(), ctx.get()) ||
      !BN_mod_mul(ed.get(), s->e.get(), s->d.get(), lambda.get(), ctx.get()) || !BN_is_one(ed.get())) {
    return fail(ErrorCode::kInvalidArgument, "d is not the inverse of e");
  }
  return RsaPrivateKey(std::move(*pub), std::move(s));
}

Result<RsaPrivateKey> RsaPrivateKey::generate_safe_prime(size_t modulus_bits, KeyGenProgress progress) {
  if (modulus_bits < kBlindRsaMinModulusBits || modulus_bits % 2 != 0 || modulus_bits > 8192) {
    return fail(ErrorCode::kInvalidArgument, "modulus bits must be even, in [1024, 8192]");
  }
  BnCtxPtr ctx(BN_CTX_new());
  BnGencbPtr cb;
  if (progress) {
    cb.reset(BN_GENCB_new());
    if (!cb) return fail(ErrorCode::kCrypto, "allocation failed");
    BN_GENCB_set(
        cb.get(),
        [](int stage, int count, BN_GENCB* g) -> int {
          return (*static_cast<KeyGenProgress*>(BN_GENCB_get_arg(g)))(stage, count) ? 1 : 0;
        },
        &progress);
  }
  BignumPtr e = new_bn(), p = new_bn(), q = new_bn(), n = new_bn(), phi = new_bn(), pm1 = new_bn(), qm1 = new_bn();
  if (!ctx || !e || !p || !q || !n || !phi || !pm1 || !qm1 || !BN_set_word(e.get(), RSA_F4)) {
    return fail(ErrorCode::kCrypto, "allocation failed");
  }
  const int prime_bits = static_cast<int>(modulus_bits / 2);
  for (int attempt = 0; attempt < 100; ++attempt) {
    // Stage 3 after each prime, as OpenSSL's own RSA keygen reports it, so a display can say "p found".
    if (!BN_generate_prime_ex2(p.get(), prime_bits, /*safe=*/1, nullptr, nullptr, cb.get(), ctx.get()) ||
        (cb && !BN_GENCB_call(cb.get(), 3, 0)) ||
        !BN_generate_prime_ex2(q.get(), prime_bits, /*safe=*/1, nullptr, nullptr, cb.get(), ctx.get()) ||
        (cb && !BN_GENCB_call(cb.get(), 3, 1))) {
      return fail(ErrorCode::kCrypto, "safe prime generation failed or was cancelled");
    }
    if (BN_cmp(p.get(), q.get()) == 0 || !BN_mul(n.get(), p.get(), q.get(), ctx.get())) continue;
    if (static_cast<size_t>(BN_num_bits(n.get())) != modulus_bits) continue;
    // With safe primes φ(n) = 4p′q′, so 65537 is invertible unless it equals p′ or q′ (impossible at these sizes).
    break;
  }
  if (static_cast<size_t>(BN_num_bits(n.get())) != modulus_bits) return fail(ErrorCode::kInternal, "keygen failed");
  BignumPtr d = new_bn();
  set_consttime(d.get());
  if (!d || !BN_copy(pm1.get(), p.get()) || !BN_copy(qm1.get(), q.get()) || !BN_sub_word(pm1.get(), 1) ||
      !BN_sub_word(qm1.get(), 1) || !BN_mul(phi.get(), pm1.get(), qm1.get(), ctx.get()) ||
      !BN_mod_inverse(d.get(), e.get(), phi.get(), ctx.get())) {
    return fail(ErrorCode::kCrypto, "private exponent failed");
  }
  auto pub = RsaPublicKey::from_components(bn_bytes(n.get()), bn_bytes(e.get()));
  if (!pub) return std::unexpected(pub.error());
  auto s = std::make_unique<Secrets>(
      Secrets{std::move(n), std::move(e), std::move(d), std::move(p), std::move(q)});
  return RsaPrivateKey(std::move(*pub), std::move(s));
}

Result<std::string> RsaPrivateKey::to_pem() const {
  BnCtxPtr ctx(BN_CTX_new());
  if (!ctx) return fail(ErrorCode::kCrypto, "allocation failed");
  auto pkey = build_pkey(secrets_->n.get(), secrets_->e.get(), secrets_.get(), ctx.get());
  if (!pkey) return std::unexpected(pkey.error());
  return encode_pem(pkey->get(), EVP_PKEY_KEYPAIR);
}

Result<RsaPrivateKey> RsaPrivateKey::from_pem(std::string_view pem) {
  auto pkey = decode_pem(pem, EVP_PKEY_KEYPAIR);
  if (!pkey) return std::unexpected(pkey.error());
  const char* names[] = {OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
                         OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2};
  SecretBytes parts[5];
  for (int i = 0; i < 5; ++i) {
    auto bn = get_bn(pkey->get(), names[i]);
    if (!bn) return fail(ErrorCode::kDecode, "RSA private key lacks a component (p and q are required)");
    parts[i] = SecretBytes(bn_bytes(bn->get()));
  }
  return from_components(parts[0], parts[1], parts[2], parts[3], parts[4]);
}

bool RsaPrivateKey::has_safe_primes() const {
  BnCtxPtr ctx(BN_CTX_new());
  return ctx && is_safe_prime(secrets_->p.get(), ctx.get()) && is_safe_prime(secrets_->q.get(), ctx.get());
}

// ---- Client side ----

Result<Bytes> derive_metadata_public_exponent(const RsaPublicKey& key, ByteSpan info) {
  const size_t lambda_bytes = key.modulus_bits() / 2 / 8;
  auto hkdf = Hkdf::create(KdfId::kHkdfSha384);
  if (!hkdf) return std::unexpected(hkdf.error());
  const uint8_t zero = 0;
  const Bytes ikm = concat({as_bytes("key"), info, ByteSpan(&zero, 1)});
  // salt = I2OSP(n, modulus_len): n's magnitude is already modulus_len bytes.
  auto prk = hkdf->extract(key.n, ikm);
  if (!prk) return std::unexpected(prk.error());
  auto okm = hkdf->expand(*prk, as_bytes("PBRSA"), lambda_bytes + 16);
  if (!okm) return std::unexpected(okm.error());
  Bytes e(okm->data(), okm->data() + lambda_bytes);
  e[0] &= 0x3f;
  e[lambda_bytes - 1] |= 0x01;
  return e;
}

Bytes prepare(const BlindRsaSuite& suite, ByteSpan msg) {
  if (!suite.randomized) return Bytes(msg.begin(), msg.end());
  return concat({random_bytes(kBlindRsaMsgPrefixSize), msg});
}

Result<BlindingResult> blind(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan prepared_msg,
                             ByteSpan info) {
  return blind_impl(suite, key, prepared_msg, info, {}, {});
}

Result<BlindingResult> blind_for_testing(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan prepared_msg,
                                         ByteSpan info, ByteSpan salt, ByteSpan r) {
  if (r.empty()) return fail(ErrorCode::kInvalidArgument, "blind_for_testing needs r");
  return blind_impl(suite, key, prepared_msg, info, salt, r);
}

Result<Bytes> finalize(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan prepared_msg, ByteSpan info,
                       ByteSpan blind_sig, ByteSpan inv) {
  const size_t mod_len = key.modulus_size();
  if (auto st = check_size(blind_sig, mod_len, "blind signature"); !st) return std::unexpected(st.error());
  if (auto st = check_size(inv, mod_len, "inverse"); !st) return std::unexpected(st.error());
  BnCtxPtr ctx(BN_CTX_new());
  BignumPtr n = bn_from(key.n), z = bn_from(blind_sig), bi = bn_from(inv), s = new_bn();
  if (!ctx || !n || !z || !bi || !s) return fail(ErrorCode::kCrypto, "allocation failed");
  if (BN_cmp(z.get(), n.get()) >= 0) return fail(ErrorCode::kInvalidArgument, "blind signature not below n");
  set_consttime(bi.get());
  if (!BN_mod_mul(s.get(), z.get(), bi.get(), n.get(), ctx.get())) return fail(ErrorCode::kCrypto, "unblind failed");
  auto sig = i2osp_bn(s.get(), mod_len);
  if (!sig) return std::unexpected(sig.error());
  if (auto st = verify(suite, key, prepared_msg, info, *sig); !st) return std::unexpected(st.error());
  return sig;
}

Status verify(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan prepared_msg, ByteSpan info,
              ByteSpan sig) {
  if (auto st = check_size(sig, key.modulus_size(), "signature"); !st) return st;
  auto encoded_input = message_to_encode(suite, prepared_msg, info);
  if (!encoded_input) return std::unexpected(encoded_input.error());
  auto e = public_exponent(suite, key, info);
  if (!e) return std::unexpected(e.error());
  BnCtxPtr ctx(BN_CTX_new());
  BignumPtr n = bn_from(key.n), s = bn_from(sig);
  if (!ctx || !n || !s) return fail(ErrorCode::kCrypto, "allocation failed");
  if (BN_cmp(s.get(), n.get()) >= 0) return fail(ErrorCode::kAuthenticationFailed, "signature not below n");
  auto m = rsa_public(s.get(), e->get(), n.get(), ctx.get());
  if (!m) return std::unexpected(m.error());
  const size_t em_bits = static_cast<size_t>(BN_num_bits(n.get())) - 1;
  Bytes em((em_bits + 7) / 8);
  if (BN_bn2binpad(m->get(), em.data(), static_cast<int>(em.size())) < 0 ||
      !emsa_pss_verify(*encoded_input, std::move(em), em_bits, suite.salt_length)) {
    return fail(ErrorCode::kAuthenticationFailed, "signature does not verify");
  }
  return {};
}

// ---- Signer ----
//
// The private operation, per signature (m < n is the client's blinded message, public):
//
//   1. RSA blinding: mb = m·a mod n with a = r^−e for a secret random r, undone by a multiplication by r after the
//      exponentiation (the pair is squared after every use and redrawn every kBlindingUses signatures, as OpenSSL's
//      BN_BLINDING does). The client's message is attacker
//      chosen; blinding keeps the arithmetic on d′ independent of it, on top of the constant-time routines.
//   2. CRT: sp = (mb mod p)^dp mod p and sq = (mb mod q)^dq mod q in ONE call to BN_mod_exp_mont_consttime_x2, which
//      OpenSSL 3 runs as a dual AVX-512 IFMA exponentiation for 1024-bit primes (2.5x faster than two calls) and
//      falls back to two constant-time calls elsewhere; Garner recombination sb = sq + q·((sp − sq)·q⁻¹ mod p).
//   3. Unblinding: s = sb·r mod n.
//   4. Re-verification of s against the public key before answering: v = s^e mod n must equal m. For a short e
//      (65537) that is one cheap modular exponentiation mod n. For a derived e′ (~λ bits, as long as the private
//      exponents) it is computed by CRT instead — (s mod p)^e′ mod p and (s mod q)^e′ mod q in one dual call,
//      recombined to v mod n and compared with the original m — which is the same number (n = p·q, checked at key
//      load) at a quarter of the cost of a 2048-bit exponentiation with a 1022-bit exponent. Because v is rebuilt
//      to a full residue mod n and compared with the original m (not with the reduced halves the signing step used),
//      a fault in either CRT half, in the reductions of m or in the recombination still fails the check.
//
// Montgomery contexts for n, p and q and q⁻¹ (in Montgomery form mod p) are computed once per signer. Every BIGNUM
// derived from p, q, d, r carries BN_FLG_CONSTTIME.

namespace {

using MontCtxPtr = std::unique_ptr<BN_MONT_CTX, OpenSslDeleter<BN_MONT_CTX, BN_MONT_CTX_free>>;

// How many signatures one blinding factor serves (squared in between) before a fresh r is drawn.
constexpr int kBlindingUses = 32;

// BN_CTX_start/BN_CTX_end as a scope.
class BnCtxFrame {
 public:
  explicit BnCtxFrame(BN_CTX* ctx) : ctx_(ctx) { BN_CTX_start(ctx_); }
  ~BnCtxFrame() { BN_CTX_end(ctx_); }
  BnCtxFrame(const BnCtxFrame&) = delete;
  BnCtxFrame& operator=(const BnCtxFrame&) = delete;
  // A temporary from the context, marked constant-time (it may hold secret-dependent values). Null on failure.
  BIGNUM* get() {
    BIGNUM* b = BN_CTX_get(ctx_);
    if (b) set_consttime(b);
    return b;
  }
  // A temporary for public values only. Without the flag, BN_mod_exp_mont may use its faster variable-time path
  // (with the flag set on any operand it silently switches to the constant-time routine: 4.5x slower for e = 65537).
  BIGNUM* get_public() { return BN_CTX_get(ctx_); }

 private:
  BN_CTX* ctx_;
};

// The key in the form the private operation uses, shared by the base and every derived exponent.
struct SignerCore {
  explicit SignerCore(RsaPrivateKey k) : key(std::move(k)) {}
  RsaPrivateKey key;
  BignumPtr n, p, q;    // p, q constant-time flagged
  BignumPtr qinv_mont;  // q⁻¹·R mod p: one Montgomery multiplication by it multiplies by q⁻¹
  MontCtxPtr mont_n, mont_p, mont_q;

  // One exponent pair (e, d) or (e′, d′) with its blinding state. Immutable except for the blinding, which has its
  // own lock.
  struct Exponent {
    BignumPtr e;                // public
    BignumPtr dp, dq;           // d mod (p−1), d mod (q−1)
    BignumPtr blind_ep, blind_eq;  // (p−1) − (e mod (p−1)), (q−1) − (e mod (q−1)): r to these is r^−e mod p, q
    bool check_by_crt = false;     // long e: re-verify by CRT (see above)
    mutable std::mutex blinding_mu;
    mutable BignumPtr a_mont, a_inv_mont;  // r^−e·R and r·R mod n
    mutable int blinding_uses_left = 0;
  };
  std::unique_ptr<Exponent> base;  // (e, d) for the non-partial suites
  mutable std::mutex derived_mu;
  // info → (e′, d′). shared_ptr so a signing thread keeps its entry while others insert.
  mutable std::map<std::string, std::shared_ptr<const Exponent>> derived;
};

using Exponent = SignerCore::Exponent;

// out = sq + q·((sp − sq)·q⁻¹ mod p): the residue mod n with the given residues mod p and q.
bool crt_recombine(BIGNUM* out, const BIGNUM* sp, const BIGNUM* sq, const SignerCore& st, BN_CTX* ctx) {
  BnCtxFrame frame(ctx);
  BIGNUM* h = frame.get();
  return h && BN_mod_sub(h, sp, sq, st.p.get(), ctx) &&
         BN_mod_mul_montgomery(h, h, st.qinv_mont.get(), st.mont_p.get(), ctx) && BN_mul(out, h, st.q.get(), ctx) &&
         BN_add(out, out, sq);
}

// out = x^(ep, eq) by CRT: (x mod p)^ep mod p and (x mod q)^eq mod q in one dual constant-time call, recombined.
bool crt_power(BIGNUM* out, const BIGNUM* x, const BIGNUM* ep, const BIGNUM* eq, const SignerCore& st,
               BN_CTX* ctx) {
  BnCtxFrame frame(ctx);
  BIGNUM *xp = frame.get(), *xq = frame.get(), *sp = frame.get(), *sq = frame.get();
  return sq && BN_mod(xp, x, st.p.get(), ctx) && BN_mod(xq, x, st.q.get(), ctx) &&
         BN_mod_exp_mont_consttime_x2(sp, xp, ep, st.p.get(), st.mont_p.get(), sq, xq, eq, st.q.get(),
                                      st.mont_q.get(), ctx) &&
         crt_recombine(out, sp, sq, st, ctx);
}

// A fresh blinding pair (r^−e·R, r·R) mod n for a secret random r: mb = m·r^−e gives mb^d = m^d·r^−1, which the
// multiplication by r undoes. r^−e is computed without an inversion, by CRT with one dual constant-time call:
// r^−e ≡ r^((p−1) − (e mod (p−1))) (mod p) by Fermat, likewise mod q. (An r sharing a factor with n, probability
// about 2^−1000, would yield a wrong signature that the re-verification rejects.)
Status fresh_blinding(BIGNUM* a_mont, BIGNUM* a_inv_mont, const Exponent& k, const SignerCore& st, BN_CTX* ctx) {
  auto r = random_below(st.n.get());
  if (!r) return std::unexpected(r.error());
  set_consttime(r->get());
  if (!crt_power(a_mont, r->get(), k.blind_ep.get(), k.blind_eq.get(), st, ctx) ||
      !BN_to_montgomery(a_mont, a_mont, st.mont_n.get(), ctx) ||
      !BN_to_montgomery(a_inv_mont, r->get(), st.mont_n.get(), ctx)) {
    return fail(ErrorCode::kCrypto, "blinding factor failed");
  }
  return {};
}

// Copies the current blinding pair into (a_mont, a_inv_mont) and advances the shared state (squares it, or draws a
// fresh r once it has served kBlindingUses signatures; the draw runs outside the lock).
Status take_blinding(BIGNUM* a_mont, BIGNUM* a_inv_mont, const Exponent& k, const SignerCore& st, BN_CTX* ctx) {
  {
    std::lock_guard<std::mutex> lock(k.blinding_mu);
    if (k.blinding_uses_left > 0) {
      --k.blinding_uses_left;
      return (BN_copy(a_mont, k.a_mont.get()) && BN_copy(a_inv_mont, k.a_inv_mont.get()) &&
              BN_mod_mul_montgomery(k.a_mont.get(), k.a_mont.get(), k.a_mont.get(), st.mont_n.get(), ctx) &&
              BN_mod_mul_montgomery(k.a_inv_mont.get(), k.a_inv_mont.get(), k.a_inv_mont.get(), st.mont_n.get(),
                                    ctx))
                 ? Status{}
                 : fail(ErrorCode::kCrypto, "blinding update failed");
    }
  }
  // This call uses the fresh pair once; its square serves the next kBlindingUses − 1 calls.
  if (auto st_fresh = fresh_blinding(a_mont, a_inv_mont, k, st, ctx); !st_fresh) return st_fresh;
  BignumPtr next_a = new_bn(), next_a_inv = new_bn();
  if (!next_a || !next_a_inv) return fail(ErrorCode::kCrypto, "allocation failed");
  set_consttime(next_a.get());
  set_consttime(next_a_inv.get());
  if (!BN_mod_mul_montgomery(next_a.get(), a_mont, a_mont, st.mont_n.get(), ctx) ||
      !BN_mod_mul_montgomery(next_a_inv.get(), a_inv_mont, a_inv_mont, st.mont_n.get(), ctx)) {
    return fail(ErrorCode::kCrypto, "blinding update failed");
  }
  std::lock_guard<std::mutex> lock(k.blinding_mu);
  k.a_mont = std::move(next_a);
  k.a_inv_mont = std::move(next_a_inv);
  k.blinding_uses_left = kBlindingUses - 1;
  return {};
}

// s = m^d mod n (m < n), blinded, by CRT, re-verified (steps 1-4 above).
Result<Bytes> private_operation(const BIGNUM* m, const Exponent& k, const SignerCore& st, size_t mod_len,
                                BN_CTX* ctx) {
  BnCtxFrame frame(ctx);
  BIGNUM *a = frame.get(), *a_inv = frame.get(), *mb = frame.get(), *xp = frame.get(), *xq = frame.get(),
         *sp = frame.get(), *sq = frame.get(), *sb = frame.get();
  // The unblinded signature and its check are public (the signature is the answer).
  BIGNUM *s = frame.get_public(), *v = frame.get_public();
  if (!v) return fail(ErrorCode::kCrypto, "allocation failed");
  if (auto blinding = take_blinding(a, a_inv, k, st, ctx); !blinding) return std::unexpected(blinding.error());
  if (!BN_mod_mul_montgomery(mb, m, a, st.mont_n.get(), ctx) || !BN_mod(xp, mb, st.p.get(), ctx) ||
      !BN_mod(xq, mb, st.q.get(), ctx) ||
      !BN_mod_exp_mont_consttime_x2(sp, xp, k.dp.get(), st.p.get(), st.mont_p.get(), sq, xq, k.dq.get(),
                                    st.q.get(), st.mont_q.get(), ctx) ||
      !crt_recombine(sb, sp, sq, st, ctx) || !BN_mod_mul_montgomery(s, sb, a_inv, st.mont_n.get(), ctx)) {
    return fail(ErrorCode::kCrypto, "private operation failed");
  }
  if (k.check_by_crt ? !crt_power(v, s, k.e.get(), k.e.get(), st, ctx)
                     : !BN_mod_exp_mont(v, s, k.e.get(), st.n.get(), ctx, st.mont_n.get())) {
    return fail(ErrorCode::kCrypto, "re-verification failed");
  }
  if (BN_cmp(v, m) != 0) return fail(ErrorCode::kCrypto, "signature self-check failed");
  return i2osp_bn(s, mod_len);
}

// An exponent pair from e and d mod (p−1), d mod (q−1) (computed by the caller, constant-time flagged).
Result<std::unique_ptr<Exponent>> make_exponent(BignumPtr e, BignumPtr dp, BignumPtr dq, const SignerCore& st,
                                                BN_CTX* ctx) {
  auto k = std::make_unique<Exponent>();
  // Beyond 64 bits, an exponentiation mod n costs more than the CRT pair; 65537 is far cheaper mod n.
  k->check_by_crt = BN_num_bits(e.get()) > 64;
  k->blind_ep = new_bn(), k->blind_eq = new_bn();
  BignumPtr pm1 = bn_dup(st.p.get()), qm1 = bn_dup(st.q.get());
  if (!e || !dp || !dq || !k->blind_ep || !k->blind_eq || !pm1 || !qm1) {
    return fail(ErrorCode::kCrypto, "allocation failed");
  }
  for (BIGNUM* b : {k->blind_ep.get(), k->blind_eq.get(), pm1.get(), qm1.get()}) set_consttime(b);
  if (!BN_sub_word(pm1.get(), 1) || !BN_sub_word(qm1.get(), 1) ||
      !BN_mod(k->blind_ep.get(), e.get(), pm1.get(), ctx) || !BN_mod(k->blind_eq.get(), e.get(), qm1.get(), ctx) ||
      !BN_sub(k->blind_ep.get(), pm1.get(), k->blind_ep.get()) ||
      !BN_sub(k->blind_eq.get(), qm1.get(), k->blind_eq.get())) {
    return fail(ErrorCode::kCrypto, "blinding exponents failed");
  }
  k->e = std::move(e);
  k->dp = std::move(dp);
  k->dq = std::move(dq);
  return k;
}

// d′ for e′ as its CRT halves: dp′ = e′⁻¹ mod (p−1), dq′ = e′⁻¹ mod (q−1) (enough for signing; no φ(n) needed).
Result<std::unique_ptr<Exponent>> derive_exponent(ByteSpan e_prime, const SignerCore& st, BN_CTX* ctx) {
  BignumPtr e = bn_from(e_prime), dp = new_bn(), dq = new_bn(), pm1 = bn_dup(st.p.get()), qm1 = bn_dup(st.q.get());
  if (!e || !dp || !dq || !pm1 || !qm1) return fail(ErrorCode::kCrypto, "allocation failed");
  for (BIGNUM* b : {dp.get(), dq.get(), pm1.get(), qm1.get()}) set_consttime(b);
  if (!BN_sub_word(pm1.get(), 1) || !BN_sub_word(qm1.get(), 1) ||
      !BN_mod_inverse(dp.get(), e.get(), pm1.get(), ctx) || !BN_mod_inverse(dq.get(), e.get(), qm1.get(), ctx)) {
    return fail(ErrorCode::kCrypto, "e' is not invertible mod p-1 and q-1");
  }
  return make_exponent(std::move(e), std::move(dp), std::move(dq), st, ctx);
}

}  // namespace

struct BlindRsaSigner::State : SignerCore {
  explicit State(RsaPrivateKey k) : SignerCore(std::move(k)) {}
};

BlindRsaSigner::BlindRsaSigner(const BlindRsaSuite& suite, std::unique_ptr<State> state)
    : suite_(suite), state_(std::move(state)) {}
BlindRsaSigner::BlindRsaSigner(BlindRsaSigner&&) noexcept = default;
BlindRsaSigner& BlindRsaSigner::operator=(BlindRsaSigner&&) noexcept = default;
BlindRsaSigner::~BlindRsaSigner() = default;

const RsaPublicKey& BlindRsaSigner::public_key() const { return state_->key.public_key(); }

Result<BlindRsaSigner> BlindRsaSigner::create(const BlindRsaSuite& suite, RsaPrivateKey key) {
  if (suite.partially_blind && !key.has_safe_primes()) {
    return fail(ErrorCode::kInvalidArgument, "partially blind signing needs safe primes p = 2p'+1, q = 2q'+1");
  }
  auto state = std::make_unique<State>(std::move(key));
  State& st = *state;
  const auto& s = st.key.secrets();
  BnCtxPtr ctx(BN_CTX_new());
  st.n = bn_dup(s.n.get()), st.p = bn_dup(s.p.get()), st.q = bn_dup(s.q.get());
  st.qinv_mont = new_bn();
  st.mont_n.reset(BN_MONT_CTX_new()), st.mont_p.reset(BN_MONT_CTX_new()), st.mont_q.reset(BN_MONT_CTX_new());
  BignumPtr d = bn_dup(s.d.get()), dp = new_bn(), dq = new_bn(), pm1 = bn_dup(s.p.get()), qm1 = bn_dup(s.q.get());
  if (!ctx || !st.n || !st.p || !st.q || !st.qinv_mont || !st.mont_n || !st.mont_p || !st.mont_q || !d || !dp ||
      !dq || !pm1 || !qm1) {
    return fail(ErrorCode::kCrypto, "allocation failed");
  }
  for (BIGNUM* b : {st.p.get(), st.q.get(), st.qinv_mont.get(), d.get(), dp.get(), dq.get(), pm1.get(), qm1.get()}) {
    set_consttime(b);
  }
  if (!BN_MONT_CTX_set(st.mont_n.get(), st.n.get(), ctx.get()) ||
      !BN_MONT_CTX_set(st.mont_p.get(), st.p.get(), ctx.get()) ||
      !BN_MONT_CTX_set(st.mont_q.get(), st.q.get(), ctx.get()) ||
      !BN_mod_inverse(st.qinv_mont.get(), st.q.get(), st.p.get(), ctx.get()) ||
      !BN_to_montgomery(st.qinv_mont.get(), st.qinv_mont.get(), st.mont_p.get(), ctx.get()) ||
      !BN_sub_word(pm1.get(), 1) || !BN_sub_word(qm1.get(), 1) || !BN_mod(dp.get(), d.get(), pm1.get(), ctx.get()) ||
      !BN_mod(dq.get(), d.get(), qm1.get(), ctx.get())) {
    return fail(ErrorCode::kCrypto, "signer precomputation failed");
  }
  auto base = make_exponent(bn_dup(s.e.get()), std::move(dp), std::move(dq), st, ctx.get());
  if (!base) return std::unexpected(base.error());
  st.base = std::move(*base);
  return BlindRsaSigner(suite, std::move(state));
}

Result<Bytes> BlindRsaSigner::blind_sign(ByteSpan blinded_msg, ByteSpan info) const {
  const RsaPublicKey& pub = public_key();
  const size_t mod_len = pub.modulus_size();
  if (auto st = check_size(blinded_msg, mod_len, "blinded message"); !st) return std::unexpected(st.error());
  if (!suite_.partially_blind && !info.empty()) {
    return fail(ErrorCode::kInvalidArgument, "metadata given to a suite without metadata");
  }
  BnCtxPtr ctx(BN_CTX_new());
  if (!ctx) return fail(ErrorCode::kCrypto, "allocation failed");

  std::shared_ptr<const Exponent> derived;
  const Exponent* exponent = state_->base.get();
  if (suite_.partially_blind) {
    const std::string key_id = to_string(info);
    {
      std::lock_guard<std::mutex> lock(state_->derived_mu);
      auto it = state_->derived.find(key_id);
      if (it != state_->derived.end()) derived = it->second;
    }
    if (!derived) {
      auto e_prime = derive_metadata_public_exponent(pub, info);
      if (!e_prime) return std::unexpected(e_prime.error());
      auto fresh = derive_exponent(*e_prime, *state_, ctx.get());
      if (!fresh) return std::unexpected(fresh.error());
      std::shared_ptr<const Exponent> entry(std::move(*fresh));
      std::lock_guard<std::mutex> lock(state_->derived_mu);
      derived = state_->derived.emplace(key_id, std::move(entry)).first->second;  // first insert wins
    }
    exponent = derived.get();
  }

  BignumPtr m = bn_from(blinded_msg);
  if (!m) return fail(ErrorCode::kCrypto, "allocation failed");
  if (BN_cmp(m.get(), state_->n.get()) >= 0) return fail(ErrorCode::kInvalidArgument, "blinded message not below n");
  return private_operation(m.get(), *exponent, *state_, mod_len, ctx.get());
}

}  // namespace openpcc::crypto
