// X25519Kyber768Draft00 (KEM 0x0030) against CIRCL v1.6.1's vectors: DeriveKeyPair, deterministic Encap from the
// 64-byte "ier" seed, Decap, the key schedule, all 257 encryptions (seal and open) and the exports, in base and psk
// mode.
#include <gtest/gtest.h>

#include <string>

#include "common/bytes.h"
#include "crypto/hpke.h"
#include "crypto/kem.h"
#include "unit/crypto/vector_files.h"

namespace openpcc::crypto {
namespace {

using nlohmann::json;
using testing::hex_field;

std::string hex(ByteSpan b) { return to_hex(b); }

class X25519Kyber768Vectors : public ::testing::TestWithParam<int> {};

TEST_P(X25519Kyber768Vectors, Vector) {
  const json vectors = testing::load_json("hpke-x25519kyber768draft00-circl-v1.6.1.json");
  ASSERT_TRUE(vectors.is_array());
  ASSERT_EQ(vectors.size(), 2u);
  const json& v = vectors.at(GetParam());

  const auto mode = static_cast<HpkeMode>(v.at("mode").get<int>());
  const HpkeSuite suite{static_cast<KemId>(v.at("kem_id").get<int>()), static_cast<KdfId>(v.at("kdf_id").get<int>()),
                        static_cast<AeadId>(v.at("aead_id").get<int>())};
  ASSERT_EQ(suite.kem, KemId::kX25519Kyber768Draft00);
  auto hpke = Hpke::create(suite);
  ASSERT_TRUE(hpke.has_value());
  const Kem& kem = hpke->kem();
  EXPECT_EQ(kem.public_key_size(), 1216u);
  EXPECT_EQ(kem.private_key_size(), 2432u);
  EXPECT_EQ(kem.enc_size(), 1120u);
  EXPECT_EQ(kem.secret_size(), 64u);
  const Bytes info = hex_field(v, "info"), psk = hex_field(v, "psk"), psk_id = hex_field(v, "psk_id");
  const Bytes enc = hex_field(v, "enc"), seed = hex_field(v, "ier");
  ASSERT_EQ(seed.size(), 64u);

  auto sk_r = kem.derive_key_pair(hex_field(v, "ikmR"));
  ASSERT_TRUE(sk_r.has_value()) << sk_r.error().to_string();
  EXPECT_EQ(hex((*sk_r)->public_key()), v.at("pkRm").get<std::string>());
  EXPECT_EQ(hex((*sk_r)->serialize().value()), v.at("skRm").get<std::string>());
  auto sk_r_loaded = kem.deserialize_private_key(hex_field(v, "skRm"));
  ASSERT_TRUE(sk_r_loaded.has_value()) << sk_r_loaded.error().to_string();
  EXPECT_EQ(hex((*sk_r_loaded)->public_key()), v.at("pkRm").get<std::string>());
  auto pk_r = kem.deserialize_public_key(hex_field(v, "pkRm"));
  ASSERT_TRUE(pk_r.has_value());

  // Encap with the vector's seed: seed[0:32] drives the X25519 ephemeral, seed[32:64] the Kyber encapsulation.
  auto encapsulation = kem.encap(*pk_r, {.ikm_e = seed});
  ASSERT_TRUE(encapsulation.has_value()) << encapsulation.error().to_string();
  EXPECT_EQ(hex(encapsulation->enc), hex(enc));
  EXPECT_EQ(hex(encapsulation->shared_secret), v.at("shared_secret").get<std::string>());
  auto decapsulated = kem.decap(enc, **sk_r_loaded);
  ASSERT_TRUE(decapsulated.has_value()) << decapsulated.error().to_string();
  EXPECT_EQ(hex(*decapsulated), v.at("shared_secret").get<std::string>());

  auto schedule = hpke->key_schedule(mode, *decapsulated, info, psk, psk_id);
  ASSERT_TRUE(schedule.has_value()) << schedule.error().to_string();
  EXPECT_EQ(hex(schedule->key), v.at("key").get<std::string>());
  EXPECT_EQ(hex(schedule->base_nonce), v.at("base_nonce").get<std::string>());
  EXPECT_EQ(hex(schedule->exporter_secret), v.at("exporter_secret").get<std::string>());

  HpkeSenderOptions sender_options{.mode = mode, .psk = psk, .psk_id = psk_id};
  sender_options.ephemeral.ikm_e = seed;
  auto sender = hpke->setup_sender(*pk_r, info, sender_options);
  ASSERT_TRUE(sender.has_value()) << sender.error().to_string();
  EXPECT_EQ(hex(sender->enc()), hex(enc));
  const HpkeRecipientOptions recipient_options{.mode = mode, .psk = psk, .psk_id = psk_id};
  auto recipient = hpke->setup_recipient(enc, **sk_r, info, recipient_options);
  ASSERT_TRUE(recipient.has_value()) << recipient.error().to_string();

  int encryptions = 0;
  for (const json& e : v.at("encryptions")) {
    const Bytes aad = hex_field(e, "aad"), pt = hex_field(e, "pt");
    auto ct = sender->seal(aad, pt);
    ASSERT_TRUE(ct.has_value());
    ASSERT_EQ(hex(*ct), e.at("ct").get<std::string>()) << "seal #" << encryptions;
    auto opened = recipient->open(aad, *ct);
    ASSERT_TRUE(opened.has_value()) << "open #" << encryptions;
    ASSERT_EQ(*opened, pt);
    ++encryptions;
  }
  EXPECT_EQ(encryptions, 257);

  int exports = 0;
  for (const json& x : v.at("exports")) {
    const Bytes exporter_context = hex_field(x, "exporter_context");
    const size_t length = x.at("L").get<size_t>();
    EXPECT_EQ(hex(sender->export_secret(exporter_context, length).value()), x.at("exported_value").get<std::string>());
    EXPECT_EQ(hex(recipient->export_secret(exporter_context, length).value()),
              x.at("exported_value").get<std::string>());
    ++exports;
  }
  EXPECT_EQ(exports, 3);
}

INSTANTIATE_TEST_SUITE_P(Circl161, X25519Kyber768Vectors, ::testing::Values(0, 1));

}  // namespace
}  // namespace openpcc::crypto
