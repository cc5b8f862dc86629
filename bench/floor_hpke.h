// The HPKE floor: single-shot base-mode HPKE (HKDF-SHA256, AES-128-GCM) for one KEM written directly on OpenSSL 3.0
// EVP, without any of our crypto code except Kyber-768 (OpenSSL 3.0 has none). Used by bench_hpke and bench_ohttp.
//
// What one single-shot seal is made of (RFC 9180 §4.1, §5.1; the same counts in src/crypto/dhkem.cc and hpke.cc):
//   Encap:        GenerateKeyPair (ephemeral), DH(skE, pkR), SerializePublicKey(pkE),
//                 ExtractAndExpand = LabeledExtract("eae_prk") + LabeledExpand("shared_secret", 32)
//   KeySchedule:  LabeledExtract("psk_id_hash"), LabeledExtract("info_hash"), LabeledExtract("secret"),
//                 LabeledExpand("key", 16), LabeledExpand("base_nonce", 12), LabeledExpand("exp", 32)
//   Seal:         one AES-128-GCM encryption (key setup + plaintext + tag)
// i.e. 1 key generation, 1 DH, 4 extracts + 4 single-block expands = 8 HMAC-SHA256, 1 AEAD. Open is the same
// without the key generation, plus parsing enc. X25519Kyber768Draft00 adds a Kyber-768 encapsulation/decapsulation
// to the X25519 DHKEM (whose ExtractAndExpand runs under suite "KEM" ‖ 0x0020) and feeds the 64-byte concatenated
// secret to the key schedule; the hybrid floor uses OUR Kyber-768 for that part, so it measures the HPKE/KEM glue
// around Kyber, not Kyber itself (bench_kyber768 does that).
//
// The floor's choices (the cheapest reasonable raw usage): keygen EVP_PKEY_CTX reused; the recipient's derive
// context reused across opens (EVP_PKEY_derive_set_peer_ex per message, no peer re-validation: enc was validated
// when it was imported, as ours does); P-256 points imported into a copy of a parameters-only key (the group is
// copied, not rebuilt from its name); HMAC-SHA256 as two digests on a reused EVP_MD_CTX (floor.h); AES-GCM on a
// reused EVP_CIPHER_CTX keyed per message; outputs in caller-provided buffers. The sender's derive context must be
// new per message because the ephemeral key is.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <memory>

#include "common/bytes.h"
#include "crypto/kem.h"
#include "crypto/kyber768.h"
#include "floor.h"

namespace openpcc::bench {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;

// Single-shot base-mode HPKE on raw EVP for one KEM and one info string, with the recipient's key pair.
class FloorHpke {
 public:
  using KemId = crypto::KemId;
  static constexpr size_t kX25519Size = 32;
  static constexpr size_t kP256PublicSize = 65;
  static constexpr size_t kMaxEnc = kX25519Size + crypto::kyber768::kCiphertextSize;

  FloorHpke(KemId kem, Bytes info) : kem_(kem), p256_(kem == KemId::kDhkemP256HkdfSha256), info_(std::move(info)) {
    const uint16_t hpke_kem = static_cast<uint16_t>(kem);
    const uint16_t dh_kem = static_cast<uint16_t>(p256_ ? KemId::kDhkemP256HkdfSha256 : KemId::kDhkemX25519HkdfSha256);
    kem_suite_ = {'K', 'E', 'M', static_cast<uint8_t>(dh_kem >> 8), static_cast<uint8_t>(dh_kem)};
    hpke_suite_ = {'H', 'P', 'K', 'E', static_cast<uint8_t>(hpke_kem >> 8), static_cast<uint8_t>(hpke_kem), 0, 1, 0, 1};

    keygen_.reset(EVP_PKEY_CTX_new_from_name(nullptr, p256_ ? "EC" : "X25519", nullptr));
    check(keygen_ && EVP_PKEY_keygen_init(keygen_.get()) == 1, "keygen init");
    if (p256_) check(EVP_PKEY_CTX_set_group_name(keygen_.get(), "P-256") == 1, "set group");
    if (p256_) {  // a parameters-only P-256 key: imports copy its group instead of rebuilding it from the name
      PkeyCtx paramgen(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
      EVP_PKEY* params = nullptr;
      check(paramgen && EVP_PKEY_paramgen_init(paramgen.get()) == 1 &&
                EVP_PKEY_CTX_set_group_name(paramgen.get(), "P-256") == 1 &&
                EVP_PKEY_paramgen(paramgen.get(), &params) == 1,
            "P-256 parameters");
      p256_params_.reset(params);
    }

    // The recipient's key pair.
    EVP_PKEY* sk = nullptr;
    check(EVP_PKEY_generate(keygen_.get(), &sk) == 1, "recipient keygen");
    sk_r_.reset(sk);
    pk_r_bytes_.resize(public_size());
    serialize_public(sk_r_.get(), pk_r_bytes_.data());
    pk_r_ = import_public(pk_r_bytes_);
    recipient_derive_.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, sk_r_.get(), nullptr));
    check(recipient_derive_ && EVP_PKEY_derive_init(recipient_derive_.get()) == 1, "recipient derive init");
    if (kem_ == KemId::kX25519Kyber768Draft00) {
      kyber_ = crypto::kyber768::generate_key_pair();
      append(pk_r_bytes_, kyber_.public_key);  // pkR = X25519 ‖ Kyber
    }
  }

  const Bytes& info() const { return info_; }
  size_t enc_size() const {
    return kem_ == KemId::kX25519Kyber768Draft00 ? kMaxEnc : (p256_ ? kP256PublicSize : kX25519Size);
  }
  // SerializePublicKey(pkR), for our side.
  const Bytes& public_key() const { return pk_r_bytes_; }
  // SerializePrivateKey(skR), for our side: the scalar (‖ the Kyber secret key for the hybrid).
  Bytes private_key() const {
    Bytes out(32);
    if (p256_) {
      BIGNUM* d = nullptr;
      check(EVP_PKEY_get_bn_param(sk_r_.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
                BN_bn2binpad(d, out.data(), static_cast<int>(out.size())) == 32,
            "export scalar");
      BN_clear_free(d);
    } else {
      size_t n = out.size();
      check(EVP_PKEY_get_raw_private_key(sk_r_.get(), out.data(), &n) == 1 && n == 32, "export x25519");
    }
    if (kem_ == KemId::kX25519Kyber768Draft00) append(out, kyber_.secret_key);
    return out;
  }

  // enc (enc_size() bytes) and ct (pt.size() + 16 bytes).
  void seal(Span pt, uint8_t* enc, uint8_t* ct, Span aad = {}) {
    // Encap: ephemeral key, DH, enc.
    EVP_PKEY* ephemeral = nullptr;
    check(EVP_PKEY_generate(keygen_.get(), &ephemeral) == 1, "ephemeral keygen");
    Pkey sk_e(ephemeral);
    serialize_public(sk_e.get(), enc);
    PkeyCtx derive(EVP_PKEY_CTX_new_from_pkey(nullptr, sk_e.get(), nullptr));
    check(derive != nullptr && EVP_PKEY_derive_init(derive.get()) == 1, "derive init");
    std::array<uint8_t, 64> shared;  // DHKEM shared secret (‖ Kyber's)
    derive_and_extract(derive.get(), pk_r_.get(), Span(enc, public_size()), shared.data());
    size_t secret_size = 32;
    if (kem_ == KemId::kX25519Kyber768Draft00) {
      auto kyber = crypto::kyber768::encapsulate(Span(pk_r_bytes_).subspan(kX25519Size));
      check(kyber.has_value(), "kyber encapsulate");
      std::memcpy(enc + kX25519Size, kyber->ciphertext.data(), kyber->ciphertext.size());
      std::memcpy(shared.data() + 32, kyber->shared_secret.data(), 32);
      secret_size = 64;
    }
    std::array<uint8_t, 16> key;
    std::array<uint8_t, 12> nonce;
    key_schedule(Span(shared.data(), secret_size), key.data(), nonce.data());
    seal_aead_.set_key(key.data(), nonce.data());
    seal_aead_.seal(nullptr, aad, pt, ct);
  }

  // Export(exporter_context, length) of the last seal/open (RFC 9180 §5.3), length <= 32.
  void export_secret(Span exporter_context, size_t length, uint8_t* out) {
    hkdf_.expand(hpke_suite_, exporter_secret_, "sec", exporter_context, length, out);
  }

  bool open(Span enc, Span ct, uint8_t* pt, Span aad = {}) {
    Pkey pk_e = import_public(enc.first(public_size()));
    check(EVP_PKEY_derive_set_peer_ex(recipient_derive_.get(), pk_e.get(), 0) == 1, "set peer");
    std::array<uint8_t, 64> shared;
    derive_and_extract(recipient_derive_.get(), nullptr, enc.first(public_size()), shared.data());
    size_t secret_size = 32;
    if (kem_ == KemId::kX25519Kyber768Draft00) {
      auto kyber = crypto::kyber768::decapsulate(kyber_.secret_key, enc.subspan(kX25519Size));
      check(kyber.has_value(), "kyber decapsulate");
      std::memcpy(shared.data() + 32, kyber->data(), 32);
      secret_size = 64;
    }
    std::array<uint8_t, 16> key;
    std::array<uint8_t, 12> nonce;
    key_schedule(Span(shared.data(), secret_size), key.data(), nonce.data());
    open_aead_.set_key(key.data(), nonce.data());
    return open_aead_.open(nullptr, aad, ct, pt);
  }

 private:
  size_t public_size() const { return p256_ ? kP256PublicSize : kX25519Size; }

  void serialize_public(EVP_PKEY* key, uint8_t* out) {
    size_t n = public_size();
    if (p256_) {
      check(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, out, n, &n) == 1 && n == kP256PublicSize,
            "serialize p256");
    } else {
      check(EVP_PKEY_get_raw_public_key(key, out, &n) == 1 && n == kX25519Size, "serialize x25519");
    }
  }

  // Parses (and for P-256 validates: EC_POINT_oct2point rejects coordinates >= p and points off the curve) a
  // serialized public key. P-256: a copy of the parameters-only key with the point set, about 4x cheaper than
  // EVP_PKEY_fromdata with a group name, which builds the EC_GROUP from scratch each time.
  Pkey import_public(Span bytes) {
    if (!p256_) return Pkey(EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, bytes.data(), bytes.size()));
    Pkey key(EVP_PKEY_dup(p256_params_.get()));
    check(key && bytes[0] == 0x04 && EVP_PKEY_set1_encoded_public_key(key.get(), bytes.data(), bytes.size()) == 1,
          "import p256");
    return key;
  }

  // DH, then DHKEM ExtractAndExpand with kem_context = enc ‖ pkR (the DH part of pkR for the hybrid).
  void derive_and_extract(EVP_PKEY_CTX* ctx, EVP_PKEY* peer, Span enc, uint8_t* shared_secret) {
    if (peer != nullptr) check(EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1, "set peer");
    std::array<uint8_t, 32> dh;
    size_t n = dh.size();
    check(EVP_PKEY_derive(ctx, dh.data(), &n) == 1 && n == 32, "derive");
    std::array<uint8_t, kP256PublicSize * 2> kem_context;
    std::memcpy(kem_context.data(), enc.data(), enc.size());
    std::memcpy(kem_context.data() + enc.size(), pk_r_bytes_.data(), public_size());
    std::array<uint8_t, 32> prk;
    hkdf_.extract(kem_suite_, {}, "eae_prk", dh, prk.data());
    hkdf_.expand(kem_suite_, prk, "shared_secret", Span(kem_context.data(), enc.size() + public_size()), 32,
                 shared_secret);
  }

  void key_schedule(Span shared_secret, uint8_t* key, uint8_t* nonce) {
    std::array<uint8_t, 65> context;  // mode ‖ psk_id_hash ‖ info_hash
    context[0] = 0;                   // base mode
    hkdf_.extract(hpke_suite_, {}, "psk_id_hash", {}, context.data() + 1);
    hkdf_.extract(hpke_suite_, {}, "info_hash", info_, context.data() + 33);
    std::array<uint8_t, 32> secret;
    hkdf_.extract(hpke_suite_, shared_secret, "secret", {}, secret.data());
    hkdf_.expand(hpke_suite_, secret, "key", context, 16, key);
    hkdf_.expand(hpke_suite_, secret, "base_nonce", context, 12, nonce);
    hkdf_.expand(hpke_suite_, secret, "exp", context, 32, exporter_secret_.data());
  }

  KemId kem_;
  bool p256_;
  Bytes info_;
  std::array<uint8_t, 32> exporter_secret_{};
  std::array<uint8_t, 5> kem_suite_;
  std::array<uint8_t, 10> hpke_suite_;
  PkeyCtx keygen_;
  Pkey p256_params_;
  Pkey sk_r_;
  Pkey pk_r_;
  Bytes pk_r_bytes_;
  PkeyCtx recipient_derive_;
  crypto::kyber768::KeyPair kyber_;
  FloorLabeledHkdf hkdf_;
  FloorAead seal_aead_{"AES-128-GCM", true};
  FloorAead open_aead_{"AES-128-GCM", false};
};

}  // namespace openpcc::bench
