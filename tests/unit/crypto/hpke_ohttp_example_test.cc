// RFC 9458 Appendix A through the crypto API only: the OHTTP request is HPKE base mode with the example's explicit
// skE, and the response keys come from Export + plain HKDF + a keyed AEAD. This is the usage OHTTP builds on.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/hpke.h"
#include "unit/crypto/vector_files.h"

namespace openpcc::crypto {
namespace {

using testing::hex_field;

TEST(HpkeOhttpExample, Rfc9458AppendixA) {
  const nlohmann::json examples = testing::load_json("ohttp-examples.json");
  const nlohmann::json& a = examples.at("rfc9458_appendix_a");
  auto hpke = Hpke::create({KemId::kDhkemX25519HkdfSha256, KdfId::kHkdfSha256, AeadId::kAes128Gcm}).value();
  const Kem& kem = hpke.kem();

  const Bytes header = {0x01, 0x00, 0x20, 0x00, 0x01, 0x00, 0x01};  // key_id, kem, kdf, aead
  const Bytes info = concat({as_bytes("message/bhttp request"), Bytes{0x00}, header});
  const Bytes request = hex_field(a, "bhttp_request");
  const Bytes encapsulated_request = hex_field(a, "encapsulated_request");

  // Client: explicit ephemeral key from the example.
  auto sk_e = kem.deserialize_private_key(hex_field(a, "skE")).value();
  EXPECT_EQ(to_hex(sk_e->public_key()), a.at("pkE").get<std::string>());
  auto pk_r = kem.deserialize_public_key(hex_field(a, "pkR")).value();
  HpkeSenderOptions options;
  options.ephemeral.sk_e = sk_e.get();
  auto sender = hpke.setup_sender(pk_r, info, options).value();
  Bytes wire = header;
  append(wire, sender.enc());
  ASSERT_TRUE(sender.seal_append({}, request, wire).has_value());
  EXPECT_EQ(to_hex(wire), to_hex(encapsulated_request));

  // Gateway.
  auto sk_r = kem.deserialize_private_key(hex_field(a, "skR")).value();
  ByteSpan enc = ByteSpan(encapsulated_request).subspan(header.size(), kem.enc_size());
  auto recipient = hpke.setup_recipient(enc, *sk_r, info).value();
  EXPECT_EQ(recipient.open({}, ByteSpan(encapsulated_request).subspan(header.size() + kem.enc_size())).value(),
            request);

  // Response: secret = Export("message/bhttp response", max(Nn, Nk)); prk = Extract(enc ‖ response_nonce, secret);
  // key = Expand(prk, "key", Nk); nonce = Expand(prk, "nonce", Nn).
  const Bytes response_nonce = hex_field(a, "response_nonce");
  auto secret = recipient.export_secret(as_bytes("message/bhttp response"), 16).value();
  EXPECT_EQ(to_hex(secret), to_hex(sender.export_secret(as_bytes("message/bhttp response"), 16).value()));
  const Hkdf& kdf = hpke.kdf();
  auto prk = kdf.extract(concat({enc, response_nonce}), secret).value();
  auto key = kdf.expand(prk, as_bytes("key"), 16).value();
  auto nonce = kdf.expand(prk, as_bytes("nonce"), 12).value();
  auto aead = Aead::create(AeadId::kAes128Gcm, key).value();
  Bytes response = response_nonce;
  ASSERT_TRUE(aead.seal_append(nonce, {}, hex_field(a, "bhttp_response"), response).has_value());
  EXPECT_EQ(to_hex(response), a.at("encapsulated_response").get<std::string>());
}

}  // namespace
}  // namespace openpcc::crypto
