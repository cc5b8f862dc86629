// HPKE behaviour beyond the vectors: every suite and mode round-trips, RFC 9180's input checks, the sequence-number
// limit, ordering and tampering, export-only suites, and single-shot APIs.
#include "crypto/hpke.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <tuple>

#include "common/bytes.h"
#include "common/random.h"

namespace openpcc::crypto {
namespace {

const Bytes kPsk = to_bytes("0123456789abcdef0123456789abcdef");
const Bytes kPskId = to_bytes("psk identity");
const Bytes kInfo = to_bytes("message/bhttp request");

struct Parties {
  std::unique_ptr<KemPrivateKey> sk_r, sk_s;
  KemPublicKey pk_r, pk_s;
};

Parties make_parties(const Kem& kem) {
  auto sk_r = kem.generate_key_pair().value();
  auto sk_s = kem.generate_key_pair().value();
  auto pk_r = kem.deserialize_public_key(sk_r->public_key()).value();
  auto pk_s = kem.deserialize_public_key(sk_s->public_key()).value();
  return {std::move(sk_r), std::move(sk_s), pk_r, pk_s};
}

bool is_psk(HpkeMode m) { return m == HpkeMode::kPsk || m == HpkeMode::kAuthPsk; }
bool is_auth(HpkeMode m) { return m == HpkeMode::kAuth || m == HpkeMode::kAuthPsk; }

HpkeSenderOptions sender_options(HpkeMode mode, const Parties& p) {
  return {.mode = mode,
          .psk = is_psk(mode) ? ByteSpan(kPsk) : ByteSpan(),
          .psk_id = is_psk(mode) ? ByteSpan(kPskId) : ByteSpan(),
          .sk_s = is_auth(mode) ? p.sk_s.get() : nullptr};
}
HpkeRecipientOptions recipient_options(HpkeMode mode, const Parties& p) {
  return {.mode = mode,
          .psk = is_psk(mode) ? ByteSpan(kPsk) : ByteSpan(),
          .psk_id = is_psk(mode) ? ByteSpan(kPskId) : ByteSpan(),
          .pk_s = is_auth(mode) ? &p.pk_s : nullptr};
}

using SuiteParam = std::tuple<KemId, KdfId, AeadId>;

class HpkeSuites : public ::testing::TestWithParam<SuiteParam> {};

TEST_P(HpkeSuites, AllModesRoundTrip) {
  const auto [kem_id, kdf_id, aead_id] = GetParam();
  auto hpke = Hpke::create({kem_id, kdf_id, aead_id});
  ASSERT_TRUE(hpke.has_value());
  const Parties p = make_parties(hpke->kem());
  for (HpkeMode mode : {HpkeMode::kBase, HpkeMode::kPsk, HpkeMode::kAuth, HpkeMode::kAuthPsk}) {
    SCOPED_TRACE("mode " + std::to_string(static_cast<int>(mode)));
    auto sender = hpke->setup_sender(p.pk_r, kInfo, sender_options(mode, p));
    if (is_auth(mode) && !hpke->kem().supports_auth()) {
      ASSERT_FALSE(sender.has_value());
      EXPECT_EQ(sender.error().code, ErrorCode::kUnsupported);
      auto recipient = hpke->setup_recipient(Bytes(hpke->kem().enc_size()), *p.sk_r, kInfo, recipient_options(mode, p));
      ASSERT_FALSE(recipient.has_value());
      EXPECT_EQ(recipient.error().code, ErrorCode::kUnsupported);
      continue;
    }
    ASSERT_TRUE(sender.has_value()) << sender.error().to_string();
    EXPECT_EQ(sender->enc().size(), hpke->kem().enc_size());
    auto recipient = hpke->setup_recipient(sender->enc(), *p.sk_r, kInfo, recipient_options(mode, p));
    ASSERT_TRUE(recipient.has_value()) << recipient.error().to_string();

    const size_t nh = hpke->kdf().hash_size();
    EXPECT_EQ(to_hex(sender->export_secret(as_bytes("ctx"), nh).value()),
              to_hex(recipient->export_secret(as_bytes("ctx"), nh).value()));
    EXPECT_EQ(sender->export_secret({}, 255 * nh + 1).error().code, ErrorCode::kInvalidArgument);
    if (aead_id == AeadId::kExportOnly) {
      EXPECT_EQ(sender->seal({}, as_bytes("pt")).error().code, ErrorCode::kUnsupported);
      EXPECT_EQ(recipient->open({}, Bytes(16)).error().code, ErrorCode::kUnsupported);
      continue;
    }
    for (int i = 0; i < 3; ++i) {
      const Bytes pt = random_bytes(static_cast<size_t>(i * 100));
      const Bytes aad = to_bytes("aad " + std::to_string(i));
      auto ct = sender->seal(aad, pt);
      ASSERT_TRUE(ct.has_value());
      EXPECT_EQ(ct->size(), pt.size() + sender->tag_size());
      EXPECT_EQ(recipient->open(aad, *ct).value(), pt);
    }
    EXPECT_EQ(sender->sequence(), 3u);
    EXPECT_EQ(recipient->sequence(), 3u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, HpkeSuites,
    ::testing::Combine(::testing::Values(KemId::kDhkemP256HkdfSha256, KemId::kDhkemX25519HkdfSha256,
                                         KemId::kX25519Kyber768Draft00),
                       ::testing::Values(KdfId::kHkdfSha256, KdfId::kHkdfSha384, KdfId::kHkdfSha512),
                       ::testing::Values(AeadId::kAes128Gcm, AeadId::kAes256Gcm, AeadId::kChaCha20Poly1305,
                                         AeadId::kExportOnly)));

class HpkeX25519 : public ::testing::Test {
 protected:
  Hpke hpke_ =
      Hpke::create({KemId::kDhkemX25519HkdfSha256, KdfId::kHkdfSha256, AeadId::kAes128Gcm}).value();
  Parties p_ = make_parties(hpke_.kem());
};

TEST_F(HpkeX25519, PskInputChecks) {
  auto sender_error = [&](HpkeSenderOptions o) { return hpke_.setup_sender(p_.pk_r, kInfo, o).error().code; };
  auto recipient_error = [&](HpkeRecipientOptions o) {
    return hpke_.setup_recipient(Bytes(32, 9), *p_.sk_r, kInfo, o).error().code;
  };
  const auto invalid = ErrorCode::kInvalidArgument;
  EXPECT_EQ(sender_error({.mode = HpkeMode::kBase, .psk = kPsk, .psk_id = kPskId}), invalid);  // psk in base mode
  EXPECT_EQ(sender_error({.mode = HpkeMode::kPsk}), invalid);                                 // psk mode, no psk
  EXPECT_EQ(sender_error({.mode = HpkeMode::kPsk, .psk = kPsk}), invalid);                    // psk without id
  EXPECT_EQ(sender_error({.mode = HpkeMode::kPsk, .psk_id = kPskId}), invalid);               // id without psk
  EXPECT_EQ(sender_error({.mode = HpkeMode::kAuth, .psk = kPsk, .psk_id = kPskId, .sk_s = p_.sk_s.get()}), invalid);
  EXPECT_EQ(sender_error({.mode = HpkeMode::kAuthPsk, .sk_s = p_.sk_s.get()}), invalid);
  EXPECT_EQ(sender_error({.mode = static_cast<HpkeMode>(4)}), invalid);
  EXPECT_EQ(recipient_error({.mode = HpkeMode::kBase, .psk = kPsk, .psk_id = kPskId}), invalid);
  EXPECT_EQ(recipient_error({.mode = HpkeMode::kPsk, .psk = kPsk}), invalid);
  EXPECT_EQ(recipient_error({.mode = HpkeMode::kPsk, .psk_id = kPskId}), invalid);
  EXPECT_EQ(recipient_error({.mode = HpkeMode::kAuthPsk, .pk_s = &p_.pk_s}), invalid);
  // The key schedule on its own applies the same rules.
  const Bytes ss(32, 1);
  EXPECT_EQ(hpke_.key_schedule(HpkeMode::kBase, ss, kInfo, kPsk, kPskId).error().code, invalid);
  EXPECT_EQ(hpke_.key_schedule(HpkeMode::kPsk, ss, kInfo, {}, {}).error().code, invalid);
  EXPECT_EQ(hpke_.key_schedule(HpkeMode::kPsk, ss, kInfo, kPsk, {}).error().code, invalid);
  EXPECT_TRUE(hpke_.key_schedule(HpkeMode::kPsk, ss, kInfo, kPsk, kPskId).has_value());
}

TEST_F(HpkeX25519, AuthInputChecks) {
  const auto invalid = ErrorCode::kInvalidArgument;
  EXPECT_EQ(hpke_.setup_sender(p_.pk_r, kInfo, {.mode = HpkeMode::kAuth}).error().code, invalid);
  EXPECT_EQ(hpke_.setup_sender(p_.pk_r, kInfo, {.sk_s = p_.sk_s.get()}).error().code, invalid);
  EXPECT_EQ(hpke_.setup_recipient(Bytes(32, 9), *p_.sk_r, kInfo, {.mode = HpkeMode::kAuth}).error().code, invalid);
  EXPECT_EQ(hpke_.setup_recipient(Bytes(32, 9), *p_.sk_r, kInfo, {.pk_s = &p_.pk_s}).error().code, invalid);
}

TEST_F(HpkeX25519, MismatchedInputsFailToOpen) {
  auto sender = hpke_.setup_sender(p_.pk_r, kInfo, {.mode = HpkeMode::kPsk, .psk = kPsk, .psk_id = kPskId}).value();
  const Bytes ct = sender.seal(as_bytes("aad"), as_bytes("secret")).value();
  const Bytes other_psk = to_bytes("another psk of thirty-two bytes!");
  struct Case {
    const char* what;
    Bytes info;
    HpkeRecipientOptions options;
  } cases[] = {
      {"info", to_bytes("other info"), {.mode = HpkeMode::kPsk, .psk = kPsk, .psk_id = kPskId}},
      {"psk", kInfo, {.mode = HpkeMode::kPsk, .psk = other_psk, .psk_id = kPskId}},
      {"psk_id", kInfo, {.mode = HpkeMode::kPsk, .psk = kPsk, .psk_id = as_bytes("other id")}},
  };
  for (const Case& c : cases) {
    auto recipient = hpke_.setup_recipient(sender.enc(), *p_.sk_r, c.info, c.options);
    ASSERT_TRUE(recipient.has_value()) << c.what;
    EXPECT_EQ(recipient->open(as_bytes("aad"), ct).error().code, ErrorCode::kAuthenticationFailed) << c.what;
  }
  // Another recipient key.
  auto other = hpke_.kem().generate_key_pair().value();
  auto recipient =
      hpke_.setup_recipient(sender.enc(), *other, kInfo, {.mode = HpkeMode::kPsk, .psk = kPsk, .psk_id = kPskId});
  EXPECT_EQ(recipient->open(as_bytes("aad"), ct).error().code, ErrorCode::kAuthenticationFailed);
}

TEST_F(HpkeX25519, TamperingAndOrdering) {
  auto sender = hpke_.setup_sender(p_.pk_r, kInfo).value();
  auto recipient = hpke_.setup_recipient(sender.enc(), *p_.sk_r, kInfo).value();
  const Bytes ct0 = sender.seal(as_bytes("aad0"), as_bytes("first")).value();
  const Bytes ct1 = sender.seal(as_bytes("aad1"), as_bytes("second")).value();

  Bytes tampered = ct0;
  tampered[2] ^= 0x04;
  EXPECT_EQ(recipient.open(as_bytes("aad0"), tampered).error().code, ErrorCode::kAuthenticationFailed);
  EXPECT_EQ(recipient.open(as_bytes("aadX"), ct0).error().code, ErrorCode::kAuthenticationFailed);
  EXPECT_EQ(recipient.open(as_bytes("aad1"), ct1).error().code, ErrorCode::kAuthenticationFailed);  // out of order
  EXPECT_EQ(recipient.sequence(), 0u);  // failures do not advance
  Bytes out = to_bytes("kept");
  EXPECT_FALSE(recipient.open_append(as_bytes("aad0"), tampered, out).has_value());
  EXPECT_EQ(out, to_bytes("kept"));

  ASSERT_TRUE(recipient.open_append(as_bytes("aad0"), ct0, out).has_value());
  EXPECT_EQ(out, to_bytes("keptfirst"));
  EXPECT_EQ(recipient.open(as_bytes("aad1"), ct1).value(), to_bytes("second"));
  EXPECT_EQ(recipient.sequence(), 2u);

  // seal_append continues the same sequence.
  Bytes framed = to_bytes("len");
  ASSERT_TRUE(sender.seal_append({}, as_bytes("third"), framed).has_value());
  EXPECT_EQ(recipient.open({}, ByteSpan(framed).subspan(3)).value(), to_bytes("third"));

  // Wrong-size or garbage encapsulations.
  EXPECT_EQ(hpke_.setup_recipient(Bytes(31), *p_.sk_r, kInfo).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(hpke_.setup_recipient(Bytes(33), *p_.sk_r, kInfo).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(hpke_.setup_recipient(Bytes(32, 0), *p_.sk_r, kInfo).has_value());  // low-order point
}

TEST_F(HpkeX25519, SequenceLimit) {
  // Fix the ephemeral key so the test can compute the key schedule independently.
  const Bytes ikm_e = random_bytes(32);
  HpkeSenderOptions options;
  options.ephemeral.ikm_e = ikm_e;
  auto sender = hpke_.setup_sender(p_.pk_r, kInfo, options).value();
  auto recipient = hpke_.setup_recipient(sender.enc(), *p_.sk_r, kInfo).value();
  auto shared_secret = hpke_.kem().encap(p_.pk_r, {.ikm_e = ikm_e}).value().shared_secret;
  auto schedule = hpke_.key_schedule(HpkeMode::kBase, shared_secret, kInfo, {}, {}).value();

  constexpr uint64_t kLast = std::numeric_limits<uint64_t>::max() - 1;
  sender.set_sequence_for_testing(kLast);
  recipient.set_sequence_for_testing(kLast);
  const Bytes ct = sender.seal(as_bytes("aad"), as_bytes("last message")).value();
  // nonce = base_nonce XOR I2OSP(seq, 12)
  Bytes nonce(schedule.base_nonce.span().begin(), schedule.base_nonce.span().end());
  for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(kLast >> (8 * i));
  auto aead = Aead::create(AeadId::kAes128Gcm, schedule.key).value();
  EXPECT_EQ(aead.seal(nonce, as_bytes("aad"), as_bytes("last message")).value(), ct);
  EXPECT_EQ(recipient.open(as_bytes("aad"), ct).value(), to_bytes("last message"));

  EXPECT_EQ(sender.sequence(), kLast + 1);
  auto refused = sender.seal(as_bytes("aad"), as_bytes("one too many"));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(recipient.open(as_bytes("aad"), ct).error().code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(sender.sequence(), kLast + 1);
  // Exports keep working.
  EXPECT_TRUE(sender.export_secret(as_bytes("x"), 32).has_value());
}

TEST_F(HpkeX25519, SingleShot) {
  auto sealed = hpke_.seal(p_.pk_r, kInfo, as_bytes("aad"), as_bytes("one message"));
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(hpke_.open(sealed->enc, *p_.sk_r, kInfo, as_bytes("aad"), sealed->ciphertext).value(),
            to_bytes("one message"));
  EXPECT_EQ(hpke_.open(sealed->enc, *p_.sk_r, kInfo, as_bytes("bad"), sealed->ciphertext).error().code,
            ErrorCode::kAuthenticationFailed);
  auto exported = hpke_.send_export(p_.pk_r, kInfo, as_bytes("label"), 48);
  ASSERT_TRUE(exported.has_value());
  EXPECT_EQ(to_hex(hpke_.receive_export(exported->enc, *p_.sk_r, kInfo, as_bytes("label"), 48).value()),
            to_hex(exported->secret));
}

TEST(Hpke, ExportOnlyAndUnknownIds) {
  auto hpke = Hpke::create({KemId::kDhkemP256HkdfSha256, KdfId::kHkdfSha256, AeadId::kExportOnly});
  ASSERT_TRUE(hpke.has_value());
  const Parties p = make_parties(hpke->kem());
  EXPECT_EQ(hpke->seal(p.pk_r, kInfo, {}, as_bytes("pt")).error().code, ErrorCode::kUnsupported);
  auto schedule = hpke->key_schedule(HpkeMode::kBase, Bytes(32, 1), kInfo, {}, {}).value();
  EXPECT_TRUE(schedule.key.empty());
  EXPECT_TRUE(schedule.base_nonce.empty());
  EXPECT_EQ(schedule.exporter_secret.size(), 32u);

  EXPECT_EQ(Hpke::create({static_cast<KemId>(0x0012), KdfId::kHkdfSha256, AeadId::kAes128Gcm}).error().code,
            ErrorCode::kUnsupported);
  EXPECT_EQ(Hpke::create({KemId::kDhkemX25519HkdfSha256, static_cast<KdfId>(9), AeadId::kAes128Gcm}).error().code,
            ErrorCode::kUnsupported);
  EXPECT_EQ(Hpke::create({KemId::kDhkemX25519HkdfSha256, KdfId::kHkdfSha256, static_cast<AeadId>(9)}).error().code,
            ErrorCode::kUnsupported);
}

TEST(Hpke, HybridRefusesAuthModes) {
  auto hpke = Hpke::create({KemId::kX25519Kyber768Draft00, KdfId::kHkdfSha256, AeadId::kAes128Gcm}).value();
  const Parties p = make_parties(hpke.kem());
  for (HpkeMode mode : {HpkeMode::kAuth, HpkeMode::kAuthPsk}) {
    EXPECT_EQ(hpke.setup_sender(p.pk_r, kInfo, sender_options(mode, p)).error().code, ErrorCode::kUnsupported);
    EXPECT_EQ(hpke.setup_recipient(Bytes(1120), *p.sk_r, kInfo, recipient_options(mode, p)).error().code,
              ErrorCode::kUnsupported);
  }
}

TEST(Hpke, KeyOfAnotherKemIsRefused) {
  auto x25519 = Hpke::create({KemId::kDhkemX25519HkdfSha256, KdfId::kHkdfSha256, AeadId::kAes128Gcm}).value();
  auto p256 = Hpke::create({KemId::kDhkemP256HkdfSha256, KdfId::kHkdfSha256, AeadId::kAes128Gcm}).value();
  const Parties p = make_parties(p256.kem());
  EXPECT_EQ(x25519.setup_sender(p.pk_r, kInfo).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(x25519.setup_recipient(Bytes(32, 9), *p.sk_r, kInfo).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace openpcc::crypto
