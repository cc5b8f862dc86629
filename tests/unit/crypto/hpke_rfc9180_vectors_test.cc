// Every RFC 9180 test vector for DHKEM(P-256) and DHKEM(X25519): key derivation, encapsulation, key schedule, each
// encryption (seal and open) and each export, in all four modes and for every KDF/AEAD in the file.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "common/bytes.h"
#include "crypto/aead.h"
#include "crypto/hpke.h"
#include "crypto/kem.h"
#include "unit/crypto/vector_files.h"

namespace openpcc::crypto {
namespace {

using nlohmann::json;
using testing::hex_field;

struct Counts {
  int vectors = 0;
  int skipped = 0;
  int encryptions = 0;
  int exports = 0;
  std::map<uint16_t, int> skipped_by_kem;
};

std::string hex(ByteSpan b) { return to_hex(b); }

// Checks one vector. Uses ASSERT_* so that the first mismatch ends this vector only.
void check_vector(const json& v, Counts& counts) {
  const auto mode = static_cast<HpkeMode>(v.at("mode").get<int>());
  const HpkeSuite suite{static_cast<KemId>(v.at("kem_id").get<int>()), static_cast<KdfId>(v.at("kdf_id").get<int>()),
                        static_cast<AeadId>(v.at("aead_id").get<int>())};
  auto hpke = Hpke::create(suite);
  ASSERT_TRUE(hpke.has_value()) << hpke.error().to_string();
  const Kem& kem = hpke->kem();
  const Bytes info = hex_field(v, "info"), psk = hex_field(v, "psk"), psk_id = hex_field(v, "psk_id");
  const Bytes enc = hex_field(v, "enc");
  const bool auth = mode == HpkeMode::kAuth || mode == HpkeMode::kAuthPsk;

  // DeriveKeyPair and (de)serialization.
  auto sk_r = kem.derive_key_pair(hex_field(v, "ikmR"));
  ASSERT_TRUE(sk_r.has_value()) << sk_r.error().to_string();
  ASSERT_EQ(hex((*sk_r)->serialize().value()), v.at("skRm").get<std::string>());
  ASSERT_EQ(hex((*sk_r)->public_key()), v.at("pkRm").get<std::string>());
  auto sk_e = kem.derive_key_pair(hex_field(v, "ikmE"));
  ASSERT_TRUE(sk_e.has_value());
  ASSERT_EQ(hex((*sk_e)->serialize().value()), v.at("skEm").get<std::string>());
  ASSERT_EQ(hex((*sk_e)->public_key()), v.at("pkEm").get<std::string>());
  auto sk_r_loaded = kem.deserialize_private_key(hex_field(v, "skRm"));
  ASSERT_TRUE(sk_r_loaded.has_value());
  ASSERT_EQ(hex((*sk_r_loaded)->public_key()), v.at("pkRm").get<std::string>());
  auto pk_r = kem.deserialize_public_key(hex_field(v, "pkRm"));
  ASSERT_TRUE(pk_r.has_value()) << pk_r.error().to_string();

  std::unique_ptr<KemPrivateKey> sk_s;
  std::optional<KemPublicKey> pk_s;
  if (auth) {
    auto derived = kem.derive_key_pair(hex_field(v, "ikmS"));
    ASSERT_TRUE(derived.has_value());
    sk_s = std::move(*derived);
    ASSERT_EQ(hex(sk_s->serialize().value()), v.at("skSm").get<std::string>());
    ASSERT_EQ(hex(sk_s->public_key()), v.at("pkSm").get<std::string>());
    auto parsed = kem.deserialize_public_key(hex_field(v, "pkSm"));
    ASSERT_TRUE(parsed.has_value());
    pk_s = *parsed;
  }

  // The KEM on its own: Encap from ikmE and from the explicit skE, then Decap.
  const Bytes ikm_e = hex_field(v, "ikmE");
  const std::string shared_secret_hex = v.at("shared_secret").get<std::string>();
  for (EncapOptions options : {EncapOptions{.ikm_e = ikm_e}, EncapOptions{.sk_e = sk_e->get()}}) {
    auto encapsulation = auth ? kem.auth_encap(*pk_r, *sk_s, options) : kem.encap(*pk_r, options);
    ASSERT_TRUE(encapsulation.has_value()) << encapsulation.error().to_string();
    ASSERT_EQ(hex(encapsulation->enc), hex(enc));
    ASSERT_EQ(hex(encapsulation->shared_secret), shared_secret_hex);
  }
  auto decapsulated = auth ? kem.auth_decap(enc, **sk_r, *pk_s) : kem.decap(enc, **sk_r);
  ASSERT_TRUE(decapsulated.has_value()) << decapsulated.error().to_string();
  ASSERT_EQ(hex(*decapsulated), shared_secret_hex);

  // The key schedule.
  auto schedule = hpke->key_schedule(mode, *decapsulated, info, psk, psk_id);
  ASSERT_TRUE(schedule.has_value()) << schedule.error().to_string();
  ASSERT_EQ(hex(schedule->key), v.at("key").get<std::string>());
  ASSERT_EQ(hex(schedule->base_nonce), v.at("base_nonce").get<std::string>());
  ASSERT_EQ(hex(schedule->exporter_secret), v.at("exporter_secret").get<std::string>());

  // Contexts on both sides.
  HpkeSenderOptions sender_options{.mode = mode, .psk = psk, .psk_id = psk_id, .sk_s = sk_s.get()};
  sender_options.ephemeral.ikm_e = ikm_e;
  auto sender = hpke->setup_sender(*pk_r, info, sender_options);
  ASSERT_TRUE(sender.has_value()) << sender.error().to_string();
  ASSERT_EQ(hex(sender->enc()), hex(enc));
  HpkeRecipientOptions recipient_options{.mode = mode, .psk = psk, .psk_id = psk_id, .pk_s = pk_s ? &*pk_s : nullptr};
  auto recipient = hpke->setup_recipient(enc, **sk_r_loaded, info, recipient_options);
  ASSERT_TRUE(recipient.has_value()) << recipient.error().to_string();

  // The AEAD on its own, keyed with the vector's key, must reproduce every ciphertext at the vector's nonce.
  auto aead = Aead::create(suite.aead, hex_field(v, "key"));
  ASSERT_TRUE(aead.has_value());

  uint64_t sequence = 0;
  for (const json& e : v.at("encryptions")) {
    const Bytes aad = hex_field(e, "aad"), pt = hex_field(e, "pt"), nonce = hex_field(e, "nonce");
    const std::string ct_hex = e.at("ct").get<std::string>();
    auto ct = sender->seal(aad, pt);
    ASSERT_TRUE(ct.has_value()) << ct.error().to_string();
    ASSERT_EQ(hex(*ct), ct_hex) << "seal #" << sequence;
    auto opened = recipient->open(aad, *ct);
    ASSERT_TRUE(opened.has_value()) << "open #" << sequence << ": " << opened.error().to_string();
    ASSERT_EQ(hex(*opened), hex(pt));
    auto direct = aead->seal(nonce, aad, pt);
    ASSERT_TRUE(direct.has_value());
    ASSERT_EQ(hex(*direct), ct_hex) << "aead seal #" << sequence;
    ++sequence;
    ++counts.encryptions;
  }
  ASSERT_EQ(sender->sequence(), sequence);
  ASSERT_EQ(recipient->sequence(), sequence);
  if (suite.aead == AeadId::kExportOnly) {
    ASSERT_EQ(sender->seal({}, as_bytes("x")).error().code, ErrorCode::kUnsupported);
  } else {
    // Single-shot open is the context's first message.
    const json& first = v.at("encryptions").at(0);
    auto single = hpke->open(enc, **sk_r, info, hex_field(first, "aad"), hex_field(first, "ct"), recipient_options);
    ASSERT_TRUE(single.has_value()) << single.error().to_string();
    ASSERT_EQ(hex(*single), first.at("pt").get<std::string>());
  }

  for (const json& x : v.at("exports")) {
    const Bytes exporter_context = hex_field(x, "exporter_context");
    const size_t length = x.at("L").get<size_t>();
    const std::string expected = x.at("exported_value").get<std::string>();
    auto from_sender = sender->export_secret(exporter_context, length);
    auto from_recipient = recipient->export_secret(exporter_context, length);
    ASSERT_TRUE(from_sender.has_value() && from_recipient.has_value());
    ASSERT_EQ(hex(*from_sender), expected);
    ASSERT_EQ(hex(*from_recipient), expected);
    auto single = hpke->receive_export(enc, **sk_r, info, exporter_context, length, recipient_options);
    ASSERT_TRUE(single.has_value());
    ASSERT_EQ(hex(*single), expected);
    ++counts.exports;
  }
  ++counts.vectors;
}

TEST(HpkeRfc9180Vectors, AllDhkemP256AndX25519Vectors) {
  const json vectors = testing::load_json_gz("hpke-rfc9180-test-vectors.json.gz");
  ASSERT_TRUE(vectors.is_array());
  Counts counts;
  std::map<std::tuple<int, int, int>, int> covered;  // (mode, kdf, aead) per KEM
  for (const json& v : vectors) {
    const int kem_id = v.at("kem_id").get<int>();
    if (kem_id != 0x0010 && kem_id != 0x0020) {  // P-521 (0x0012) and X448 (0x0021) are out of scope
      ++counts.skipped;
      ++counts.skipped_by_kem[static_cast<uint16_t>(kem_id)];
      continue;
    }
    SCOPED_TRACE("mode " + std::to_string(v.at("mode").get<int>()) + " kem " + std::to_string(kem_id) + " kdf " +
                 std::to_string(v.at("kdf_id").get<int>()) + " aead " + std::to_string(v.at("aead_id").get<int>()));
    check_vector(v, counts);
    ++covered[{v.at("mode").get<int>(), v.at("kdf_id").get<int>(), v.at("aead_id").get<int>()}];
  }
  // The file holds 2 in-scope KEMs x 4 modes x 2 KDFs (SHA-256, SHA-512) x 4 AEADs; 48 of them carry 257
  // encryptions each (the 16 export-only ones carry none), and every vector has 3 exports.
  EXPECT_EQ(counts.vectors, 64);
  EXPECT_EQ(covered.size(), 32u);
  EXPECT_EQ(counts.encryptions, 48 * 257);
  EXPECT_EQ(counts.exports, 64 * 3);
  EXPECT_EQ(counts.skipped, 64);
  EXPECT_EQ(counts.skipped_by_kem[0x0012], 32);
  EXPECT_EQ(counts.skipped_by_kem[0x0021], 32);
  std::cout << "[ vectors  ] checked " << counts.vectors << " vectors (" << counts.encryptions << " encryptions, "
            << counts.exports << " exports); skipped " << counts.skipped << " for KEMs 0x0012/0x0021\n";
}

}  // namespace
}  // namespace openpcc::crypto
