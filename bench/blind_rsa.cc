// RSA blind signatures at 2048 bits: blind-signing throughput against the raw RSA private operation of the same key,
// and credit verification with and without a cached derived key.
//
// The key is the draft-irtf-cfrg-partially-blind-rsa test-vector key (2048 bits, safe primes; read from
// tests/data), so nothing is generated here. Every benchmark signs the same blinded message, a credit of value 16
// (info 00 10).
//
//   rsa2048/private_op/floor          OpenSSL's RSA private operation, EVP_PKEY_decrypt with RSA_NO_PADDING on a
//                                     key with CRT parameters, blinding on (the default). OpenSSL 3.0 runs both CRT
//                                     halves with one dual AVX-512 IFMA exponentiation where the CPU has it and
//                                     re-checks the result with e = 65537.
//   rsa2048/private_op/ours           BlindRsaSigner(RSABSSA-SHA384).blind_sign, the same computation through our
//                                     API (check against (n, e) included).
//   rsa2048/credit_sign/floor         What a partially blind signature must compute, as bare BIGNUM calls with every
//                                     Montgomery context prepared: the CRT exponentiation with d′ (one dual
//                                     BN_mod_exp_mont_consttime_x2 call) and the re-verification s^e′ mod n, where
//                                     e′ is a ~1022-bit exponent — as expensive as the private operation itself.
//                                     No blinding.
//   rsa2048/credit_sign/ours          BlindRsaSigner(kOpenPccCreditSuite).blind_sign with (e′, d′) cached. It
//                                     re-verifies by CRT — (s mod p)^e′ mod p and (s mod q)^e′ mod q in one dual
//                                     call, recombined mod n — the same check for a quarter of the cost, so it
//                                     beats this floor by design; hence also:
//   rsa2048/credit_sign_crt_check/floor  the floor's CRT exponentiation followed by that CRT re-verification, as
//                                     bare calls: the like-for-like floor for ours (measured again under this name).
//   rsa2048/credit_verify/floor       RSASSA-PSS verification of a credit with OpenSSL on a prepared (n, e′) key:
//                                     SHA-384 of msg′ and EVP_PKEY_verify on a reused context.
//   rsa2048/credit_verify/ours_cached RsaPbssaVerifier (e′ derived once per value).
//   rsa2048/credit_verify/ours_derive crypto::verify, which derives e′ with HKDF on every call.
//   rsa2048/parts/*                   the floors' pieces, to see where the time goes.
#include <benchmark/benchmark.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "crypto/rsa_blind.h"
#include "crypto/rsa_pbssa_verifier.h"
#include "floor.h"

namespace openpcc::bench {
namespace {

using crypto::BlindRsaSigner;
using crypto::RsaPrivateKey;

// ---- The key ----

std::string test_data_dir() {
  if (const char* dir = std::getenv("OPENPCC_TEST_DATA_DIR")) return dir;
  std::string here = __FILE__;  // .../bench/blind_rsa.cc
  return here.substr(0, here.rfind("/bench/")) + "/tests/data";
}

struct VectorKey {
  Bytes n, e, d, p, q;
};

const VectorKey& vector_key() {
  static const VectorKey key = [] {
    const std::string path = test_data_dir() + "/rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json";
    std::ifstream in(path);
    check(in.good(), ("open " + path + " (set OPENPCC_TEST_DATA_DIR)").c_str());
    std::stringstream text;
    text << in.rdbuf();
    const auto v = nlohmann::json::parse(text.str()).at(0);
    auto h = [&](const char* k) { return from_hex(v.at(k).get<std::string>()).value(); };
    return VectorKey{h("n"), h("e"), h("d"), h("p"), h("q")};
  }();
  return key;
}

RsaPrivateKey our_key() {
  const auto& k = vector_key();
  auto key = RsaPrivateKey::from_components(k.n, k.e, k.d, k.p, k.q);
  check(key.has_value(), "RsaPrivateKey::from_components");
  return std::move(*key);
}

const Bytes kInfo = {0x00, 0x10};  // the credit value 16

// A blinded message of a 24-byte credit nonce, as a client would send it.
const Bytes& blinded_message() {
  static const Bytes m = [] {
    RsaPrivateKey key = our_key();
    auto b = crypto::blind(crypto::kOpenPccCreditSuite, key.public_key(), Bytes(24, 0x42), kInfo);
    check(b.has_value(), "blind");
    return b->blinded_msg;
  }();
  return m;
}

// ---- Raw OpenSSL (no code of ours below this line until the benchmarks) ----

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;
struct MontDeleter {
  void operator()(BN_MONT_CTX* m) const { BN_MONT_CTX_free(m); }
};
using Mont = std::unique_ptr<BN_MONT_CTX, MontDeleter>;
struct CtxDeleter {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using Ctx = std::unique_ptr<BN_CTX, CtxDeleter>;

Bn bn(Span b) { return Bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr)); }
Bn bn_new() { return Bn(BN_new()); }

Mont mont_for(const BIGNUM* m, BN_CTX* ctx) {
  Mont mont(BN_MONT_CTX_new());
  check(mont && BN_MONT_CTX_set(mont.get(), m, ctx), "BN_MONT_CTX_set");
  return mont;
}

// OpenSSL's RSA private operation with CRT parameters and default blinding: x ↦ x^d mod n.
class FloorRsaPrivate {
 public:
  explicit FloorRsaPrivate(const VectorKey& k) {
    Ctx ctx(BN_CTX_new());
    Bn n = bn(k.n), e = bn(k.e), d = bn(k.d), p = bn(k.p), q = bn(k.q), dp = bn_new(), dq = bn_new(), qinv = bn_new();
    Bn pm1(BN_dup(p.get())), qm1(BN_dup(q.get()));
    check(BN_sub_word(pm1.get(), 1) && BN_sub_word(qm1.get(), 1) && BN_mod(dp.get(), d.get(), pm1.get(), ctx.get()) &&
              BN_mod(dq.get(), d.get(), qm1.get(), ctx.get()) &&
              BN_mod_inverse(qinv.get(), q.get(), p.get(), ctx.get()),
          "CRT parameters");
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    check(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n.get()) &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e.get()) &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d.get()) &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p.get()) &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q.get()) &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get()) &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get()) &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv.get()),
          "RSA params");
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* fctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
    check(params && fctx && EVP_PKEY_fromdata_init(fctx) == 1 &&
              EVP_PKEY_fromdata(fctx, &pkey_, EVP_PKEY_KEYPAIR, params) == 1,
          "EVP_PKEY_fromdata");
    EVP_PKEY_CTX_free(fctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    ctx_ = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_, nullptr);
    check(ctx_ && EVP_PKEY_decrypt_init(ctx_) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx_, RSA_NO_PADDING) == 1,
          "EVP_PKEY_decrypt_init");
  }
  ~FloorRsaPrivate() {
    EVP_PKEY_CTX_free(ctx_);
    EVP_PKEY_free(pkey_);
  }
  FloorRsaPrivate(const FloorRsaPrivate&) = delete;
  FloorRsaPrivate& operator=(const FloorRsaPrivate&) = delete;

  void run(Span in, uint8_t* out, size_t out_size) {
    size_t len = out_size;
    check(EVP_PKEY_decrypt(ctx_, out, &len, in.data(), in.size()) == 1 && len == out_size, "EVP_PKEY_decrypt");
  }

 private:
  EVP_PKEY* pkey_ = nullptr;
  EVP_PKEY_CTX* ctx_ = nullptr;
};

// The partially blind signer's arithmetic for one metadata value, with d′ = e′⁻¹ mod φ(n) and every Montgomery
// context prepared once: CRT with one dual exponentiation, recombination (Garner), re-verification s^e′ mod n.
class FloorCreditSign {
 public:
  FloorCreditSign(const VectorKey& k, Span e_prime) : ctx_(BN_CTX_new()) {
    BN_CTX* c = ctx_.get();
    n_ = bn(k.n), p_ = bn(k.p), q_ = bn(k.q), e_ = bn(e_prime);
    Bn phi = bn_new(), pm1(BN_dup(p_.get())), qm1(BN_dup(q_.get())), d = bn_new();
    dp_ = bn_new(), dq_ = bn_new(), qinv_ = bn_new();
    for (BIGNUM* b : {p_.get(), q_.get(), d.get(), dp_.get(), dq_.get(), qinv_.get(), pm1.get(), qm1.get()}) {
      BN_set_flags(b, BN_FLG_CONSTTIME);
    }
    check(BN_sub_word(pm1.get(), 1) && BN_sub_word(qm1.get(), 1) && BN_mul(phi.get(), pm1.get(), qm1.get(), c) &&
              BN_mod_inverse(d.get(), e_.get(), phi.get(), c) && BN_mod(dp_.get(), d.get(), pm1.get(), c) &&
              BN_mod(dq_.get(), d.get(), qm1.get(), c) && BN_mod_inverse(qinv_.get(), q_.get(), p_.get(), c),
          "derived CRT parameters");
    mont_n_ = mont_for(n_.get(), c), mont_p_ = mont_for(p_.get(), c), mont_q_ = mont_for(q_.get(), c);
    for (Bn* b : {&m_, &mp_, &mq_, &s1_, &s2_, &h_, &s_, &v_}) *b = bn_new();
    for (BIGNUM* b : {mp_.get(), mq_.get(), s1_.get(), s2_.get(), h_.get()}) BN_set_flags(b, BN_FLG_CONSTTIME);
  }

  // m ↦ m^d′ mod n (CRT), into s_.
  void crt(Span in) {
    BN_CTX* c = ctx_.get();
    check(BN_bin2bn(in.data(), static_cast<int>(in.size()), m_.get()) && BN_mod(mp_.get(), m_.get(), p_.get(), c) &&
              BN_mod(mq_.get(), m_.get(), q_.get(), c) &&
              BN_mod_exp_mont_consttime_x2(s1_.get(), mp_.get(), dp_.get(), p_.get(), mont_p_.get(), s2_.get(),
                                           mq_.get(), dq_.get(), q_.get(), mont_q_.get(), c) &&
              BN_mod_sub(h_.get(), s1_.get(), s2_.get(), p_.get(), c) &&
              BN_mod_mul(h_.get(), h_.get(), qinv_.get(), p_.get(), c) && BN_mul(s_.get(), h_.get(), q_.get(), c) &&
              BN_add(s_.get(), s_.get(), s2_.get()),
          "CRT");
  }
  // The same exponentiations as two single calls (no dual AVX-512 path).
  void crt_two_calls(Span in) {
    BN_CTX* c = ctx_.get();
    check(BN_bin2bn(in.data(), static_cast<int>(in.size()), m_.get()) && BN_mod(mp_.get(), m_.get(), p_.get(), c) &&
              BN_mod(mq_.get(), m_.get(), q_.get(), c) &&
              BN_mod_exp_mont_consttime(s1_.get(), mp_.get(), dp_.get(), p_.get(), c, mont_p_.get()) &&
              BN_mod_exp_mont_consttime(s2_.get(), mq_.get(), dq_.get(), q_.get(), c, mont_q_.get()) &&
              BN_mod_sub(h_.get(), s1_.get(), s2_.get(), p_.get(), c) &&
              BN_mod_mul(h_.get(), h_.get(), qinv_.get(), p_.get(), c) && BN_mul(s_.get(), h_.get(), q_.get(), c) &&
              BN_add(s_.get(), s_.get(), s2_.get()),
          "CRT (two calls)");
  }
  // v = s^e′ mod p and mod q in one dual call, recombined, compared with m: the same check by CRT.
  bool reverify_crt() {
    BN_CTX* c = ctx_.get();
    check(BN_mod(mp_.get(), s_.get(), p_.get(), c) && BN_mod(mq_.get(), s_.get(), q_.get(), c) &&
              BN_mod_exp_mont_consttime_x2(s1_.get(), mp_.get(), e_.get(), p_.get(), mont_p_.get(), s2_.get(),
                                           mq_.get(), e_.get(), q_.get(), mont_q_.get(), c) &&
              BN_mod_sub(h_.get(), s1_.get(), s2_.get(), p_.get(), c) &&
              BN_mod_mul(h_.get(), h_.get(), qinv_.get(), p_.get(), c) && BN_mul(v_.get(), h_.get(), q_.get(), c) &&
              BN_add(v_.get(), v_.get(), s2_.get()),
          "CRT re-verification");
    return BN_cmp(v_.get(), m_.get()) == 0;
  }
  // v = s^e′ mod n; `consttime` selects OpenSSL's fixed-window routine instead of the sliding window.
  bool reverify(bool consttime) {
    BN_CTX* c = ctx_.get();
    const bool ok = consttime ? BN_mod_exp_mont_consttime(v_.get(), s_.get(), e_.get(), n_.get(), c, mont_n_.get())
                              : BN_mod_exp_mont(v_.get(), s_.get(), e_.get(), n_.get(), c, mont_n_.get());
    check(ok, "re-verification");
    return BN_cmp(v_.get(), m_.get()) == 0;
  }
  void signature(uint8_t* out, size_t size) const { check(BN_bn2binpad(s_.get(), out, static_cast<int>(size)) > 0, "out"); }

 private:
  Ctx ctx_;
  Bn n_, p_, q_, e_, dp_, dq_, qinv_;
  Mont mont_n_, mont_p_, mont_q_;
  Bn m_, mp_, mq_, s1_, s2_, h_, s_, v_;
};

// RSASSA-PSS verification (SHA-384, MGF1-SHA-384, sLen 48) against a prepared (n, e′) key on a reused context.
class FloorPssVerify {
 public:
  FloorPssVerify(Span n, Span e) : md_(EVP_MD_fetch(nullptr, "SHA2-384", nullptr)), mdctx_(EVP_MD_CTX_new()) {
    Bn bn_n = bn(n), bn_e = bn(e);
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    check(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get()),
          "params");
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* fctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
    check(EVP_PKEY_fromdata_init(fctx) == 1 && EVP_PKEY_fromdata(fctx, &pkey_, EVP_PKEY_PUBLIC_KEY, params) == 1,
          "public key");
    EVP_PKEY_CTX_free(fctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    ctx_ = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_, nullptr);
    check(ctx_ && EVP_PKEY_verify_init(ctx_) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx_, RSA_PKCS1_PSS_PADDING) == 1 &&
              EVP_PKEY_CTX_set_signature_md(ctx_, md_) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx_, md_) == 1 &&
              EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx_, 48) == 1,
          "EVP_PKEY_verify_init");
  }
  ~FloorPssVerify() {
    EVP_PKEY_CTX_free(ctx_);
    EVP_PKEY_free(pkey_);
    EVP_MD_CTX_free(mdctx_);
    EVP_MD_free(md_);
  }
  FloorPssVerify(const FloorPssVerify&) = delete;
  FloorPssVerify& operator=(const FloorPssVerify&) = delete;

  // msg′ = "msg" ‖ I2OSP(len(info), 4) ‖ info ‖ msg, hashed in pieces.
  bool verify(Span info, Span msg, Span sig) {
    const uint8_t len[4] = {0, 0, 0, static_cast<uint8_t>(info.size())};
    uint8_t hash[48];
    check(EVP_DigestInit_ex2(mdctx_, md_, nullptr) == 1 && EVP_DigestUpdate(mdctx_, "msg", 3) == 1 &&
              EVP_DigestUpdate(mdctx_, len, 4) == 1 && EVP_DigestUpdate(mdctx_, info.data(), info.size()) == 1 &&
              EVP_DigestUpdate(mdctx_, msg.data(), msg.size()) == 1 &&
              EVP_DigestFinal_ex(mdctx_, hash, nullptr) == 1,
          "SHA-384");
    return EVP_PKEY_verify(ctx_, sig.data(), sig.size(), hash, sizeof hash) == 1;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* mdctx_;
  EVP_PKEY* pkey_ = nullptr;
  EVP_PKEY_CTX* ctx_ = nullptr;
};

// ---- Measured operations (not inlined, so callgrind can count them) ----

OPENPCC_BENCH_OP void op_private_floor(FloorRsaPrivate& f, Span m, uint8_t* out) { f.run(m, out, 256); }
OPENPCC_BENCH_OP Bytes op_blind_sign_ours(const BlindRsaSigner& s, Span m, Span info) {
  auto sig = s.blind_sign(m, info);
  check(sig.has_value(), "blind_sign");
  return std::move(*sig);
}
OPENPCC_BENCH_OP bool op_credit_sign_floor(FloorCreditSign& f, Span m) {
  f.crt(m);
  return f.reverify(/*consttime=*/false);  // the cheaper of the two routines for this public exponentiation
}
OPENPCC_BENCH_OP bool op_credit_sign_crt_check_floor(FloorCreditSign& f, Span m) {
  f.crt(m);
  return f.reverify_crt();
}
OPENPCC_BENCH_OP bool op_verify_floor(FloorPssVerify& f, Span info, Span msg, Span sig) {
  return f.verify(info, msg, sig);
}

// ---- Benchmarks ----

const Bytes& e_prime() {
  static const Bytes e = [] {
    auto derived = crypto::derive_metadata_public_exponent(our_key().public_key(), kInfo);
    check(derived.has_value(), "derive e′");
    return *derived;
  }();
  return e;
}

BlindRsaSigner make_signer(const crypto::BlindRsaSuite& suite, Span info) {
  auto signer = BlindRsaSigner::create(suite, our_key());
  check(signer.has_value(), "BlindRsaSigner::create");
  check(signer->blind_sign(blinded_message(), info).has_value(), "first sign (fills the derived-key cache)");
  return std::move(*signer);
}

void BM_PrivateOpFloor(benchmark::State& state) {
  FloorRsaPrivate floor(vector_key());
  // Cross-check: RSA is deterministic, so the floor and our RSABSSA signer produce the same bytes.
  Bytes out(256);
  floor.run(blinded_message(), out.data(), out.size());
  check(out == *make_signer(crypto::kRsaBssaSha384PssDeterministic, {}).blind_sign(blinded_message()),
        "floor == ours (RSABSSA)");
  for (auto _ : state) {
    op_private_floor(floor, blinded_message(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_PrivateOpFloor)->Name("rsa2048/private_op/floor")->Unit(benchmark::kMicrosecond);

void BM_PrivateOpOurs(benchmark::State& state) {
  const BlindRsaSigner signer = make_signer(crypto::kRsaBssaSha384PssDeterministic, {});
  for (auto _ : state) benchmark::DoNotOptimize(op_blind_sign_ours(signer, blinded_message(), {}));
}
BENCHMARK(BM_PrivateOpOurs)->Name("rsa2048/private_op/ours")->Unit(benchmark::kMicrosecond);

void BM_CreditSignFloor(benchmark::State& state) {
  FloorCreditSign floor(vector_key(), e_prime());
  floor.crt(blinded_message());
  check(floor.reverify(true) && floor.reverify(false), "floor re-verifies");
  Bytes out(256);
  floor.signature(out.data(), out.size());
  check(out == *make_signer(crypto::kOpenPccCreditSuite, kInfo).blind_sign(blinded_message(), kInfo),
        "floor == ours (credit)");
  for (auto _ : state) benchmark::DoNotOptimize(op_credit_sign_floor(floor, blinded_message()));
}
BENCHMARK(BM_CreditSignFloor)->Name("rsa2048/credit_sign/floor")->Unit(benchmark::kMicrosecond);

void BM_CreditSignOurs(benchmark::State& state) {
  const BlindRsaSigner signer = make_signer(crypto::kOpenPccCreditSuite, kInfo);
  for (auto _ : state) benchmark::DoNotOptimize(op_blind_sign_ours(signer, blinded_message(), kInfo));
}
BENCHMARK(BM_CreditSignOurs)->Name("rsa2048/credit_sign/ours")->Unit(benchmark::kMicrosecond);

// The same signing work with the re-verification done as ours does it (by CRT): the like-for-like floor.
void BM_CreditSignCrtCheckFloor(benchmark::State& state) {
  FloorCreditSign floor(vector_key(), e_prime());
  floor.crt(blinded_message());
  check(floor.reverify_crt(), "floor re-verifies by CRT");
  Bytes bad = blinded_message();
  bad[200] ^= 1;
  floor.crt(bad);
  check(floor.reverify_crt(), "floor re-verifies another message");
  for (auto _ : state) benchmark::DoNotOptimize(op_credit_sign_crt_check_floor(floor, blinded_message()));
}
BENCHMARK(BM_CreditSignCrtCheckFloor)->Name("rsa2048/credit_sign_crt_check/floor")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CreditSignOurs)->Name("rsa2048/credit_sign_crt_check/ours")->Unit(benchmark::kMicrosecond);

// A finalized credit signature over a 24-byte nonce, for the verification benchmarks.
struct Credit {
  Bytes nonce = Bytes(24, 0x42);
  Bytes sig;
};
const Credit& credit() {
  static const Credit c = [] {
    Credit out;
    RsaPrivateKey key = our_key();
    const crypto::RsaPublicKey pub = key.public_key();
    auto signer = BlindRsaSigner::create(crypto::kOpenPccCreditSuite, std::move(key));
    auto b = crypto::blind(crypto::kOpenPccCreditSuite, pub, out.nonce, kInfo);
    check(signer.has_value() && b.has_value(), "credit setup");
    auto bs = signer->blind_sign(b->blinded_msg, kInfo);
    check(bs.has_value(), "credit blind_sign");
    auto sig = crypto::finalize(crypto::kOpenPccCreditSuite, pub, out.nonce, kInfo, *bs, b->inv);
    check(sig.has_value(), "finalize");
    out.sig = std::move(*sig);
    return out;
  }();
  return c;
}

void BM_CreditVerifyFloor(benchmark::State& state) {
  FloorPssVerify floor(vector_key().n, e_prime());
  check(floor.verify(kInfo, credit().nonce, credit().sig), "floor verifies our credit");
  Bytes bad = credit().sig;
  bad[100] ^= 1;
  check(!floor.verify(kInfo, credit().nonce, bad), "floor rejects a bad credit");
  for (auto _ : state) benchmark::DoNotOptimize(op_verify_floor(floor, kInfo, credit().nonce, credit().sig));
}
BENCHMARK(BM_CreditVerifyFloor)->Name("rsa2048/credit_verify/floor")->Unit(benchmark::kMicrosecond);

OPENPCC_BENCH_OP bool op_verify_cached(const crypto::RsaPbssaVerifier& v, Span msg, Span sig) {
  return v.verify(msg, sig).has_value();
}
OPENPCC_BENCH_OP bool op_verify_derive(const crypto::RsaPublicKey& pub, Span info, Span msg, Span sig) {
  return crypto::verify(crypto::kOpenPccCreditSuite, pub, msg, info, sig).has_value();
}

void BM_CreditVerifyCached(benchmark::State& state) {
  auto verifier = crypto::RsaPbssaVerifier::create(crypto::kOpenPccCreditSuite, our_key().public_key(), kInfo);
  check(verifier.has_value() && op_verify_cached(*verifier, credit().nonce, credit().sig), "cached verifier");
  for (auto _ : state) benchmark::DoNotOptimize(op_verify_cached(*verifier, credit().nonce, credit().sig));
}
BENCHMARK(BM_CreditVerifyCached)->Name("rsa2048/credit_verify/ours_cached")->Unit(benchmark::kMicrosecond);

void BM_CreditVerifyDerive(benchmark::State& state) {
  const crypto::RsaPublicKey pub = our_key().public_key();
  check(op_verify_derive(pub, kInfo, credit().nonce, credit().sig), "crypto::verify");
  for (auto _ : state) benchmark::DoNotOptimize(op_verify_derive(pub, kInfo, credit().nonce, credit().sig));
}
BENCHMARK(BM_CreditVerifyDerive)->Name("rsa2048/credit_verify/ours_derive")->Unit(benchmark::kMicrosecond);

// ---- Pieces of the floors ----

void BM_PartCrtDual(benchmark::State& state) {
  FloorCreditSign f(vector_key(), e_prime());
  for (auto _ : state) f.crt(blinded_message());
}
BENCHMARK(BM_PartCrtDual)->Name("rsa2048/parts/crt_dual_x2")->Unit(benchmark::kMicrosecond);

void BM_PartCrtTwoCalls(benchmark::State& state) {
  FloorCreditSign f(vector_key(), e_prime());
  for (auto _ : state) f.crt_two_calls(blinded_message());
}
BENCHMARK(BM_PartCrtTwoCalls)->Name("rsa2048/parts/crt_two_calls")->Unit(benchmark::kMicrosecond);

void BM_PartReverifyConsttime(benchmark::State& state) {
  FloorCreditSign f(vector_key(), e_prime());
  f.crt(blinded_message());
  for (auto _ : state) benchmark::DoNotOptimize(f.reverify(true));
}
BENCHMARK(BM_PartReverifyConsttime)->Name("rsa2048/parts/reverify_eprime_consttime")->Unit(benchmark::kMicrosecond);

void BM_PartReverifyWindow(benchmark::State& state) {
  FloorCreditSign f(vector_key(), e_prime());
  f.crt(blinded_message());
  for (auto _ : state) benchmark::DoNotOptimize(f.reverify(false));
}
BENCHMARK(BM_PartReverifyWindow)->Name("rsa2048/parts/reverify_eprime_window")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace openpcc::bench
