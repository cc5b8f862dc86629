// OHTTP key configurations (RFC 9458 §3): the RFC example, round trips for every supported KEM, the
// application/ohttp-keys list, and malformed inputs (each with the error category it must produce).
#include "wire/ohttp_key_config.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "crypto/kem.h"
#include "unit/wire/ohttp_test_util.h"

namespace openpcc::wire::ohttp {
namespace {

using crypto::AeadId;
using crypto::KdfId;
using crypto::KemId;
using testing::unhex;

constexpr std::string_view kRfcConfig =
    "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003";
constexpr std::string_view kRfcPkR = "31e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e798155";

TEST(OhttpKeyConfig, ParsesRfc9458Example) {
  auto config = parse_key_config(unhex(kRfcConfig));
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(config->key_id, 1);
  EXPECT_EQ(config->kem, KemId::kDhkemX25519HkdfSha256);
  EXPECT_EQ(config->public_key, unhex(kRfcPkR));
  ASSERT_EQ(config->algorithms.size(), 2u);
  EXPECT_EQ(config->algorithms[0], (SymmetricAlgorithm{KdfId::kHkdfSha256, AeadId::kAes128Gcm}));
  EXPECT_EQ(config->algorithms[1], (SymmetricAlgorithm{KdfId::kHkdfSha256, AeadId::kChaCha20Poly1305}));
  EXPECT_TRUE(config->accepts({KdfId::kHkdfSha256, AeadId::kChaCha20Poly1305}));
  EXPECT_FALSE(config->accepts({KdfId::kHkdfSha256, AeadId::kAes256Gcm}));
  auto again = encode_key_config(*config);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(to_hex(*again), kRfcConfig);
}

TEST(OhttpKeyConfig, RoundTripsEveryKem) {
  for (KemId id : {KemId::kDhkemP256HkdfSha256, KemId::kDhkemX25519HkdfSha256, KemId::kX25519Kyber768Draft00}) {
    auto kem = crypto::Kem::create(id).value();
    auto sk = kem.generate_key_pair().value();
    KeyConfig config{7, id, Bytes(sk->public_key().begin(), sk->public_key().end()),
                     {{KdfId::kHkdfSha384, AeadId::kAes256Gcm}, {KdfId::kHkdfSha256, AeadId::kAes128Gcm}}};
    auto encoded = encode_key_config(config);
    ASSERT_TRUE(encoded.has_value()) << encoded.error().to_string();
    EXPECT_EQ(encoded->size(), 1 + 2 + kem.public_key_size() + 2 + 8);
    auto back = parse_key_config(*encoded);
    ASSERT_TRUE(back.has_value()) << back.error().to_string();
    EXPECT_EQ(*back, config);
  }
}

TEST(OhttpKeyConfig, OpenPccDevConfigIs1227BytesInTheList) {
  // The reference's dev bundle: key id 1, KEM 0x0030, 1216-byte pk, (1, 1) — 1227 bytes with its length prefix.
  auto sk = crypto::Kem::create(KemId::kX25519Kyber768Draft00).value().generate_key_pair().value();
  KeyConfig config{1, KemId::kX25519Kyber768Draft00, Bytes(sk->public_key().begin(), sk->public_key().end()),
                   {{KdfId::kHkdfSha256, AeadId::kAes128Gcm}}};
  auto list = encode_key_configs({config});
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 1227u);
  auto back = parse_key_configs(*list);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ(back->front(), config);
}

ErrorCode parse_error(std::string_view hex) {
  auto r = parse_key_config(unhex(hex));
  EXPECT_FALSE(r.has_value()) << hex;
  return r ? ErrorCode::kInternal : r.error().code;
}

TEST(OhttpKeyConfig, RejectsMalformedConfigs) {
  const std::string pk(kRfcPkR);
  // Every strict prefix is truncated.
  Bytes good = unhex(kRfcConfig);
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = parse_key_config(ByteSpan(good).first(n));
    ASSERT_FALSE(r.has_value()) << n;
    EXPECT_TRUE(r.error().code == ErrorCode::kTruncated || r.error().code == ErrorCode::kDecode) << n;
  }
  EXPECT_EQ(parse_error(std::string(kRfcConfig) + "00"), ErrorCode::kDecode);           // trailing byte
  EXPECT_EQ(parse_error("01" "9999" + pk + "0004" "00010001"), ErrorCode::kUnsupported);  // unknown KEM
  EXPECT_EQ(parse_error("01" "0020" + pk + "0000"), ErrorCode::kDecode);                 // no algorithms
  EXPECT_EQ(parse_error("01" "0020" + pk + "0006" "000100010001"), ErrorCode::kDecode);  // not a multiple of 4
  EXPECT_EQ(parse_error("01" "0020" + pk + "0004" "00090001"), ErrorCode::kUnsupported);  // unknown KDF
  EXPECT_EQ(parse_error("01" "0020" + pk + "0004" "00010009"), ErrorCode::kUnsupported);  // unknown AEAD
  EXPECT_EQ(parse_error("01" "0020" + pk + "0004" "0001ffff"), ErrorCode::kUnsupported);  // export-only
  // Algorithms length runs past the end.
  EXPECT_EQ(parse_error("01" "0020" + pk + "0008" "00010001"), ErrorCode::kTruncated);
  // A P-256 "public key" that is not a point on the curve.
  EXPECT_EQ(parse_error("01" "0010" "04" + std::string(128, '1') + "0004" "00010001"), ErrorCode::kDecode);
}

TEST(OhttpKeyConfig, EncodeRejectsInvalidConfigs) {
  KeyConfig config = parse_key_config(unhex(kRfcConfig)).value();
  KeyConfig no_algs = config;
  no_algs.algorithms.clear();
  EXPECT_EQ(encode_key_config(no_algs).error().code, ErrorCode::kInvalidArgument);
  KeyConfig short_pk = config;
  short_pk.public_key.pop_back();
  EXPECT_EQ(encode_key_config(short_pk).error().code, ErrorCode::kInvalidArgument);
  KeyConfig export_only = config;
  export_only.algorithms.push_back({KdfId::kHkdfSha256, AeadId::kExportOnly});
  EXPECT_EQ(encode_key_config(export_only).error().code, ErrorCode::kInvalidArgument);
}

TEST(OhttpKeyConfig, KeyConfigList) {
  KeyConfig a = parse_key_config(unhex(kRfcConfig)).value();
  KeyConfig b = a;
  b.key_id = 2;
  b.algorithms = {{KdfId::kHkdfSha512, AeadId::kAes256Gcm}};
  auto list = encode_key_configs({a, b});
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(to_hex(ByteSpan(*list).first(2)), "002d");  // 45-byte RFC config
  auto back = parse_key_configs(*list);
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0], a);
  EXPECT_EQ((*back)[1], b);

  EXPECT_TRUE(parse_key_configs({}).value().empty());
  // Zero-length entry, length past the end, half a length.
  EXPECT_EQ(parse_key_configs(unhex("0000")).error().code, ErrorCode::kDecode);
  EXPECT_EQ(parse_key_configs(unhex("00ff01")).error().code, ErrorCode::kTruncated);
  EXPECT_EQ(parse_key_configs(unhex("00")).error().code, ErrorCode::kTruncated);

  // An entry with an unknown KEM: fatal by default, skipped on request. A malformed entry is fatal either way.
  Bytes unknown = unhex("000a" "01" "9999" "00" "0004" "00010001");
  Bytes with_unknown = concat({unknown, *list});
  EXPECT_EQ(parse_key_configs(with_unknown).error().code, ErrorCode::kUnsupported);
  auto skipped = parse_key_configs(with_unknown, /*skip_unsupported=*/true);
  ASSERT_TRUE(skipped.has_value());
  EXPECT_EQ(skipped->size(), 2u);
  Bytes malformed = unhex("0005" "01" "0020" "0000");
  EXPECT_FALSE(parse_key_configs(concat({malformed, *list}), true).has_value());
}

}  // namespace
}  // namespace openpcc::wire::ohttp
