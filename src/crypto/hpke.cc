#include "crypto/hpke.h"

#include <algorithm>
#include <limits>

namespace openpcc::crypto {
namespace {

constexpr size_t kMaxNonceSize = 12;

bool is_psk_mode(HpkeMode mode) { return mode == HpkeMode::kPsk || mode == HpkeMode::kAuthPsk; }
bool is_auth_mode(HpkeMode mode) { return mode == HpkeMode::kAuth || mode == HpkeMode::kAuthPsk; }

// VerifyPSKInputs (RFC 9180 §5.1), plus a known mode.
Status verify_psk_inputs(HpkeMode mode, ByteSpan psk, ByteSpan psk_id) {
  switch (mode) {
    case HpkeMode::kBase:
    case HpkeMode::kPsk:
    case HpkeMode::kAuth:
    case HpkeMode::kAuthPsk: break;
    default: return make_error(ErrorCode::kInvalidArgument, "hpke: unknown mode");
  }
  const bool got_psk = !psk.empty();
  if (got_psk != !psk_id.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "hpke: psk and psk_id must be given together");
  }
  if (got_psk && !is_psk_mode(mode)) return make_error(ErrorCode::kInvalidArgument, "hpke: psk given in a non-psk mode");
  if (!got_psk && is_psk_mode(mode)) return make_error(ErrorCode::kInvalidArgument, "hpke: psk mode without a psk");
  return {};
}

// The static-key inputs must match the mode: present in auth modes, absent otherwise.
Status verify_auth_inputs(HpkeMode mode, bool got_key, const Kem& kem) {
  if (!is_auth_mode(mode)) {
    if (got_key) return make_error(ErrorCode::kInvalidArgument, "hpke: sender key given in a non-auth mode");
    return {};
  }
  if (!kem.supports_auth()) return make_error(ErrorCode::kUnsupported, "hpke: this KEM has no auth mode");
  if (!got_key) return make_error(ErrorCode::kInvalidArgument, "hpke: auth mode without the sender key");
  return {};
}

}  // namespace

// ---- contexts ------------------------------------------------------------------------------------------------------

HpkeContext::HpkeContext(const Hkdf& kdf, ByteSpan suite_id, Aead aead, HpkeKeySchedule schedule)
    : kdf_(kdf),
      aead_(std::move(aead)),
      base_nonce_(std::move(schedule.base_nonce)),
      exporter_secret_(std::move(schedule.exporter_secret)) {
  std::copy_n(suite_id.begin(), suite_id_.size(), suite_id_.begin());
}

Result<SecretBytes> HpkeContext::export_secret(ByteSpan exporter_context, size_t length) const {
  if (length > kdf_.max_output_size()) {
    return make_error(ErrorCode::kInvalidArgument, "hpke: export length exceeds 255*Nh");
  }
  return kdf_.labeled_expand(suite_id_, exporter_secret_, "sec", exporter_context, length);
}

Status HpkeContext::compute_nonce(std::array<uint8_t, kMaxNonceSize>& nonce) const {
  if (aead_.id() == AeadId::kExportOnly) {
    return make_error(ErrorCode::kUnsupported, "hpke: the export-only AEAD cannot seal or open");
  }
  if (sequence_ == std::numeric_limits<uint64_t>::max()) {
    return make_error(ErrorCode::kLimitExceeded, "hpke: message limit reached for this context");
  }
  const size_t nn = base_nonce_.size();
  std::copy_n(base_nonce_.data(), nn, nonce.begin());
  for (size_t i = 0; i < sizeof(uint64_t); ++i) nonce[nn - 1 - i] ^= static_cast<uint8_t>(sequence_ >> (8 * i));
  return {};
}

Status SenderContext::seal_append(ByteSpan aad, ByteSpan plaintext, Bytes& out) {
  std::array<uint8_t, kMaxNonceSize> nonce;
  if (auto s = compute_nonce(nonce); !s) return s;
  if (auto s = aead_.seal_append(ByteSpan(nonce.data(), base_nonce_.size()), aad, plaintext, out); !s) return s;
  ++sequence_;
  return {};
}

Result<Bytes> SenderContext::seal(ByteSpan aad, ByteSpan plaintext) {
  Bytes out;
  out.reserve(plaintext.size() + aead_.tag_size());
  if (auto s = seal_append(aad, plaintext, out); !s) return std::unexpected(s.error());
  return out;
}

Status RecipientContext::open_append(ByteSpan aad, ByteSpan ciphertext, Bytes& out) {
  std::array<uint8_t, kMaxNonceSize> nonce;
  if (auto s = compute_nonce(nonce); !s) return s;
  if (auto s = aead_.open_append(ByteSpan(nonce.data(), base_nonce_.size()), aad, ciphertext, out); !s) return s;
  ++sequence_;
  return {};
}

Result<Bytes> RecipientContext::open(ByteSpan aad, ByteSpan ciphertext) {
  Bytes out;
  if (auto s = open_append(aad, ciphertext, out); !s) return std::unexpected(s.error());
  return out;
}

// ---- Hpke ----------------------------------------------------------------------------------------------------------

Hpke::Hpke(HpkeSuite suite, Kem kem, Hkdf kdf, AeadSizes aead_sizes)
    : suite_(suite), kem_(kem), kdf_(kdf), aead_sizes_(aead_sizes) {
  Bytes id = hpke_suite_id(static_cast<uint16_t>(suite.kem), static_cast<uint16_t>(suite.kdf),
                           static_cast<uint16_t>(suite.aead));
  std::copy_n(id.begin(), suite_id_.size(), suite_id_.begin());
}

Result<Hpke> Hpke::create(HpkeSuite suite) {
  auto kem = Kem::create(suite.kem);
  if (!kem) return std::unexpected(kem.error());
  auto kdf = Hkdf::create(suite.kdf);
  if (!kdf) return std::unexpected(kdf.error());
  auto aead_sizes = crypto::aead_sizes(suite.aead);
  if (!aead_sizes) return std::unexpected(aead_sizes.error());
  return Hpke(suite, *kem, *kdf, *aead_sizes);
}

Result<HpkeKeySchedule> Hpke::key_schedule(HpkeMode mode, ByteSpan shared_secret, ByteSpan info, ByteSpan psk,
                                           ByteSpan psk_id) const {
  if (auto s = verify_psk_inputs(mode, psk, psk_id); !s) return std::unexpected(s.error());

  auto psk_id_hash = kdf_.labeled_extract(suite_id_, {}, "psk_id_hash", psk_id);
  if (!psk_id_hash) return std::unexpected(psk_id_hash.error());
  auto info_hash = kdf_.labeled_extract(suite_id_, {}, "info_hash", info);
  if (!info_hash) return std::unexpected(info_hash.error());
  const uint8_t mode_byte = static_cast<uint8_t>(mode);
  const Bytes context = concat({ByteSpan(&mode_byte, 1), *psk_id_hash, *info_hash});

  auto secret = kdf_.labeled_extract(suite_id_, shared_secret, "secret", psk);
  if (!secret) return std::unexpected(secret.error());
  HpkeKeySchedule out;
  if (aead_sizes_.key != 0) {  // the export-only AEAD has no key or nonce
    auto key = kdf_.labeled_expand(suite_id_, *secret, "key", context, aead_sizes_.key);
    if (!key) return std::unexpected(key.error());
    auto base_nonce = kdf_.labeled_expand(suite_id_, *secret, "base_nonce", context, aead_sizes_.nonce);
    if (!base_nonce) return std::unexpected(base_nonce.error());
    out.key = std::move(*key);
    out.base_nonce = std::move(*base_nonce);
  }
  auto exporter_secret = kdf_.labeled_expand(suite_id_, *secret, "exp", context, kdf_.hash_size());
  if (!exporter_secret) return std::unexpected(exporter_secret.error());
  out.exporter_secret = std::move(*exporter_secret);
  return out;
}

Result<SenderContext> Hpke::setup_sender(const KemPublicKey& pk_r, ByteSpan info,
                                         const HpkeSenderOptions& options) const {
  // Check every input before spending a key generation and DH on it.
  if (auto s = verify_psk_inputs(options.mode, options.psk, options.psk_id); !s) return std::unexpected(s.error());
  if (auto s = verify_auth_inputs(options.mode, options.sk_s != nullptr, kem_); !s) return std::unexpected(s.error());

  auto encapsulation = is_auth_mode(options.mode) ? kem_.auth_encap(pk_r, *options.sk_s, options.ephemeral)
                                                  : kem_.encap(pk_r, options.ephemeral);
  if (!encapsulation) return std::unexpected(encapsulation.error());
  auto schedule = key_schedule(options.mode, encapsulation->shared_secret, info, options.psk, options.psk_id);
  if (!schedule) return std::unexpected(schedule.error());
  auto aead = Aead::create(suite_.aead, schedule->key);
  if (!aead) return std::unexpected(aead.error());
  return SenderContext(kdf_, suite_id_, std::move(*aead), std::move(*schedule), std::move(encapsulation->enc));
}

Result<RecipientContext> Hpke::setup_recipient(ByteSpan enc, const KemPrivateKey& sk_r, ByteSpan info,
                                               const HpkeRecipientOptions& options) const {
  if (auto s = verify_psk_inputs(options.mode, options.psk, options.psk_id); !s) return std::unexpected(s.error());
  if (auto s = verify_auth_inputs(options.mode, options.pk_s != nullptr, kem_); !s) return std::unexpected(s.error());

  auto shared_secret =
      is_auth_mode(options.mode) ? kem_.auth_decap(enc, sk_r, *options.pk_s) : kem_.decap(enc, sk_r);
  if (!shared_secret) return std::unexpected(shared_secret.error());
  auto schedule = key_schedule(options.mode, *shared_secret, info, options.psk, options.psk_id);
  if (!schedule) return std::unexpected(schedule.error());
  auto aead = Aead::create(suite_.aead, schedule->key);
  if (!aead) return std::unexpected(aead.error());
  return RecipientContext(kdf_, suite_id_, std::move(*aead), std::move(*schedule));
}

Result<Hpke::Sealed> Hpke::seal(const KemPublicKey& pk_r, ByteSpan info, ByteSpan aad, ByteSpan plaintext,
                                const HpkeSenderOptions& options) const {
  auto context = setup_sender(pk_r, info, options);
  if (!context) return std::unexpected(context.error());
  auto ciphertext = context->seal(aad, plaintext);
  if (!ciphertext) return std::unexpected(ciphertext.error());
  return Sealed{std::move(context->enc_), std::move(*ciphertext)};
}

Result<Bytes> Hpke::open(ByteSpan enc, const KemPrivateKey& sk_r, ByteSpan info, ByteSpan aad, ByteSpan ciphertext,
                         const HpkeRecipientOptions& options) const {
  auto context = setup_recipient(enc, sk_r, info, options);
  if (!context) return std::unexpected(context.error());
  return context->open(aad, ciphertext);
}

Result<Hpke::Exported> Hpke::send_export(const KemPublicKey& pk_r, ByteSpan info, ByteSpan exporter_context,
                                         size_t length, const HpkeSenderOptions& options) const {
  auto context = setup_sender(pk_r, info, options);
  if (!context) return std::unexpected(context.error());
  auto secret = context->export_secret(exporter_context, length);
  if (!secret) return std::unexpected(secret.error());
  return Exported{std::move(context->enc_), std::move(*secret)};
}

Result<SecretBytes> Hpke::receive_export(ByteSpan enc, const KemPrivateKey& sk_r, ByteSpan info,
                                         ByteSpan exporter_context, size_t length,
                                         const HpkeRecipientOptions& options) const {
  auto context = setup_recipient(enc, sk_r, info, options);
  if (!context) return std::unexpected(context.error());
  return context->export_secret(exporter_context, length);
}

}  // namespace openpcc::crypto
