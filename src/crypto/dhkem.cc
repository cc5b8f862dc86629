#include "crypto/dhkem.h"

#include <array>

#include "crypto/ecdh.h"
#include "crypto/hkdf.h"

namespace openpcc::crypto::dhkem {
namespace {

using internal::KemPublicKeyAccess;

constexpr size_t kSecretSize = 32;  // Nsecret of both DHKEMs
constexpr size_t kDhSize = 32;      // Ndh
// RFC 9180 §7.1.3: the top byte of a P-256 candidate scalar is masked with 0xff, i.e. kept whole.
constexpr uint8_t kP256CandidateMask = 0xff;

ecdh::Curve curve_of(KemId id) {
  return id == KemId::kDhkemP256HkdfSha256 ? ecdh::Curve::kP256 : ecdh::Curve::kX25519;
}

// An in-memory DHKEM private key.
class SoftwareDhPrivateKey final : public DhPrivateKey {
 public:
  SoftwareDhPrivateKey(KemId id, ecdh::PrivateKey key, SecretBytes serialized)
      : id_(id), key_(std::move(key)), serialized_(std::move(serialized)) {}

  KemId kem_id() const override { return id_; }
  ByteSpan public_key() const override { return key_.public_key; }
  Result<SecretBytes> serialize() const override { return serialized_.clone(); }

  Result<SecretBytes> dh(ByteSpan peer_public_key) const override {
    auto peer = ecdh::parse_public_key(curve_of(id_), peer_public_key);
    if (!peer) return std::unexpected(peer.error());
    return ecdh::derive(key_.key.get(), peer->get());
  }
  // The same, with a peer key that is already parsed (no re-import on the encap path).
  Result<SecretBytes> dh_parsed(EVP_PKEY* peer) const { return ecdh::derive(key_.key.get(), peer); }

 private:
  KemId id_;
  ecdh::PrivateKey key_;
  SecretBytes serialized_;
};

Result<std::unique_ptr<SoftwareDhPrivateKey>> import_key(KemId id, ByteSpan private_key) {
  auto key = ecdh::import_private_key(curve_of(id), private_key);
  if (!key) return std::unexpected(key.error());
  return std::make_unique<SoftwareDhPrivateKey>(id, std::move(*key), SecretBytes(private_key));
}

Result<std::unique_ptr<SoftwareDhPrivateKey>> generate_key(KemId id) {
  auto generated = ecdh::generate_private_key(curve_of(id));
  if (!generated) return std::unexpected(generated.error());
  return std::make_unique<SoftwareDhPrivateKey>(id, std::move(generated->key), std::move(generated->private_key));
}

Result<std::unique_ptr<SoftwareDhPrivateKey>> derive_key(KemId id, ByteSpan ikm) {
  auto kdf = Hkdf::create(KdfId::kHkdfSha256);
  if (!kdf) return std::unexpected(kdf.error());
  const Bytes suite_id = kem_suite_id(static_cast<uint16_t>(id));
  auto dkp_prk = kdf->labeled_extract(suite_id, {}, "dkp_prk", ikm);
  if (!dkp_prk) return std::unexpected(dkp_prk.error());
  const size_t nsk = ecdh::private_key_size(curve_of(id));

  if (id == KemId::kDhkemX25519HkdfSha256) {
    auto sk = kdf->labeled_expand(suite_id, *dkp_prk, "sk", {}, nsk);
    if (!sk) return std::unexpected(sk.error());
    return import_key(id, *sk);
  }
  // P-256: rejection sampling over counter-indexed candidates (RFC 9180 §7.1.3).
  for (unsigned counter = 0; counter <= 255; ++counter) {
    const uint8_t counter_byte = static_cast<uint8_t>(counter);
    auto candidate = kdf->labeled_expand(suite_id, *dkp_prk, "candidate", ByteSpan(&counter_byte, 1), nsk);
    if (!candidate) return std::unexpected(candidate.error());
    (*candidate)[0] &= kP256CandidateMask;
    if (ecdh::is_valid_p256_scalar(*candidate)) return import_key(id, *candidate);
  }
  return make_error(ErrorCode::kCrypto, "dhkem: DeriveKeyPair found no valid P-256 scalar");
}

Result<SecretBytes> extract_and_expand(KemId id, ByteSpan dh, ByteSpan kem_context) {
  auto kdf = Hkdf::create(KdfId::kHkdfSha256);
  if (!kdf) return std::unexpected(kdf.error());
  const Bytes suite_id = kem_suite_id(static_cast<uint16_t>(id));
  auto eae_prk = kdf->labeled_extract(suite_id, {}, "eae_prk", dh);
  if (!eae_prk) return std::unexpected(eae_prk.error());
  return kdf->labeled_expand(suite_id, *eae_prk, "shared_secret", kem_context, kSecretSize);
}

// A DhPrivateKey of this KEM, or an error naming `role`.
Result<const DhPrivateKey*> as_dh_key(KemId id, const KemPrivateKey& key, const char* role) {
  const auto* dh_key = dynamic_cast<const DhPrivateKey*>(&key);
  if (dh_key == nullptr || key.kem_id() != id) {
    return make_error(ErrorCode::kInvalidArgument, std::string("dhkem: ") + role + " is not a key of this KEM");
  }
  if (key.public_key().size() != ecdh::public_key_size(curve_of(id))) {
    return make_error(ErrorCode::kInvalidArgument, std::string("dhkem: ") + role + " has a malformed public key");
  }
  return dh_key;
}

// DH(sk, pk) for a peer key that has already been parsed and validated. Software keys use the parsed form; other
// implementations get the serialized key, and their output is checked here.
Result<SecretBytes> dh_with(const DhPrivateKey& sk, ByteSpan peer_bytes, EVP_PKEY* peer_parsed) {
  if (const auto* software = dynamic_cast<const SoftwareDhPrivateKey*>(&sk)) return software->dh_parsed(peer_parsed);
  auto shared = sk.dh(peer_bytes);
  if (!shared) return shared;
  if (shared->size() != kDhSize) return make_error(ErrorCode::kCrypto, "dhkem: DH returned a wrong-sized result");
  uint8_t any = 0;
  for (uint8_t b : shared->span()) any |= b;
  if (any == 0) return make_error(ErrorCode::kInvalidArgument, "dhkem: DH result is all zero");
  return shared;
}

SecretBytes concat_secrets(const SecretBytes& a, const SecretBytes& b) {
  SecretBytes out(a.size() + b.size());
  std::copy(a.span().begin(), a.span().end(), out.data());
  std::copy(b.span().begin(), b.span().end(), out.data() + a.size());
  return out;
}

}  // namespace

Result<std::unique_ptr<DhPrivateKey>> generate_key_pair(KemId id) { return generate_key(id); }

Result<std::unique_ptr<DhPrivateKey>> derive_key_pair(KemId id, ByteSpan ikm) { return derive_key(id, ikm); }

Result<std::unique_ptr<DhPrivateKey>> deserialize_private_key(KemId id, ByteSpan private_key) {
  return import_key(id, private_key);
}

Result<KemPublicKey> deserialize_public_key(KemId id, ByteSpan public_key) {
  auto parsed = ecdh::parse_public_key(curve_of(id), public_key);
  if (!parsed) return std::unexpected(parsed.error());
  return KemPublicKeyAccess::make(id, Bytes(public_key.begin(), public_key.end()),
                                  std::shared_ptr<EVP_PKEY>(std::move(*parsed)));
}

Result<Encapsulation> encap(KemId id, const KemPublicKey& pk_r, const EncapOptions& options,
                            const KemPrivateKey* sk_s) {
  EVP_PKEY* pk_r_parsed = KemPublicKeyAccess::dh_key(pk_r).get();
  if (pk_r.kem_id() != id || pk_r_parsed == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "dhkem: recipient public key is not a key of this KEM");
  }
  if (options.ikm_e && options.sk_e != nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "dhkem: give either ikm_e or sk_e, not both");
  }

  // The ephemeral key: fresh, derived from ikm_e, or given.
  std::unique_ptr<SoftwareDhPrivateKey> owned_ephemeral;
  const DhPrivateKey* sk_e = nullptr;
  if (options.sk_e != nullptr) {
    auto given = as_dh_key(id, *options.sk_e, "ephemeral key");
    if (!given) return std::unexpected(given.error());
    sk_e = *given;
  } else {
    auto made = options.ikm_e ? derive_key(id, *options.ikm_e) : generate_key(id);
    if (!made) return std::unexpected(made.error());
    owned_ephemeral = std::move(*made);
    sk_e = owned_ephemeral.get();
  }

  auto dh = dh_with(*sk_e, pk_r.bytes(), pk_r_parsed);
  if (!dh) return std::unexpected(dh.error());
  Encapsulation out;
  out.enc.assign(sk_e->public_key().begin(), sk_e->public_key().end());
  Bytes kem_context = concat({out.enc, pk_r.bytes()});
  if (sk_s != nullptr) {
    auto sender = as_dh_key(id, *sk_s, "sender key");
    if (!sender) return std::unexpected(sender.error());
    auto dh_static = dh_with(**sender, pk_r.bytes(), pk_r_parsed);
    if (!dh_static) return std::unexpected(dh_static.error());
    *dh = concat_secrets(*dh, *dh_static);
    append(kem_context, (*sender)->public_key());
  }
  auto shared_secret = extract_and_expand(id, *dh, kem_context);
  if (!shared_secret) return std::unexpected(shared_secret.error());
  out.shared_secret = std::move(*shared_secret);
  return out;
}

Result<SecretBytes> decap(KemId id, ByteSpan enc, const KemPrivateKey& sk_r, const KemPublicKey* pk_s) {
  auto recipient = as_dh_key(id, sk_r, "recipient key");
  if (!recipient) return std::unexpected(recipient.error());
  // Parsing validates enc (size, and for P-256 an on-curve point) before any implementation sees it.
  auto pk_e = ecdh::parse_public_key(curve_of(id), enc);
  if (!pk_e) return std::unexpected(wrap_error("dhkem: enc", pk_e.error()));
  auto dh = dh_with(**recipient, enc, pk_e->get());
  if (!dh) return std::unexpected(dh.error());
  Bytes kem_context = concat({enc, sk_r.public_key()});
  if (pk_s != nullptr) {
    EVP_PKEY* pk_s_parsed = KemPublicKeyAccess::dh_key(*pk_s).get();
    if (pk_s->kem_id() != id || pk_s_parsed == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, "dhkem: sender public key is not a key of this KEM");
    }
    auto dh_static = dh_with(**recipient, pk_s->bytes(), pk_s_parsed);
    if (!dh_static) return std::unexpected(dh_static.error());
    *dh = concat_secrets(*dh, *dh_static);
    append(kem_context, pk_s->bytes());
  }
  return extract_and_expand(id, *dh, kem_context);
}

}  // namespace openpcc::crypto::dhkem
