// TPM structures against objects, quotes and Names from a real (software) TPM via tpm2-tools (tests/data/tpm), and
// the signature check, which must accept those quotes and reject every single-byte change.
#include "attest/tpm_structures.h"

#include <gtest/gtest.h>

#include <string>

#include "attest/boot_manifest.h"
#include "attest/pcr.h"
#include "tpm_fixtures.h"

namespace openpcc::attest {
namespace {

using testing::fixture_boot_manifest;
using testing::tpm_fixture;

struct QuoteFixture {
  std::string name;
  uint16_t key_type, sig_alg;
};

class TpmQuoteTest : public ::testing::TestWithParam<QuoteFixture> {
 protected:
  Bytes ak() const { return tpm_fixture("ak_" + GetParam().name + ".tpmt_public"); }
  Bytes msg() const { return tpm_fixture("quote_" + GetParam().name + ".msg"); }
  Bytes sig() const { return tpm_fixture("quote_" + GetParam().name + ".sig"); }
};

TEST_P(TpmQuoteTest, ParsesAkAndQuote) {
  auto key = parse_tpmt_public(ak());
  ASSERT_TRUE(key.has_value()) << key.error().to_string();
  EXPECT_EQ(key->type, GetParam().key_type);
  EXPECT_EQ(key->name_alg, kTpmAlgSha256);
  EXPECT_EQ(key->scheme, GetParam().sig_alg);
  EXPECT_EQ(key->scheme_hash, kTpmAlgSha256);
  EXPECT_EQ(key->symmetric_alg, kTpmAlgNull);
  const uint32_t ak_attrs = kTpmaObjectFixedTpm | kTpmaObjectFixedParent | kTpmaObjectSensitiveDataOrigin |
                            kTpmaObjectUserWithAuth | kTpmaObjectRestricted | kTpmaObjectSign;
  EXPECT_EQ(key->attributes & ak_attrs, ak_attrs);
  EXPECT_EQ(key->attributes & kTpmaObjectDecrypt, 0u);
  if (key->type == kTpmAlgRsa) {
    EXPECT_EQ(key->rsa_bits, 2048);
    EXPECT_EQ(key->rsa_modulus.size(), 256u);
    EXPECT_TRUE(key->rsa_exponent == 0 || key->rsa_exponent == 65537);
  } else {
    EXPECT_EQ(key->ecc_curve, kTpmEccNistP256);
    EXPECT_EQ(ecc_public_point(*key).value().size(), 65u);
  }
  EXPECT_EQ(key->marshalled, ak());
  // The Name tpm2_createak reported.
  EXPECT_EQ(tpm_object_name(ak()).value(), tpm_fixture("ak_" + GetParam().name + ".name"));

  auto quote = parse_tpms_attest(msg());
  ASSERT_TRUE(quote.has_value()) << quote.error().to_string();
  EXPECT_EQ(quote->magic, kTpmGeneratedValue);
  EXPECT_EQ(quote->type, kTpmStAttestQuote);
  EXPECT_EQ(to_hex(quote->extra_data), test_support::read_file(testing::tpm_fixture_path("quote_nonce.hex"))
                                            .value()
                                            .substr(0, 64));
  EXPECT_EQ(quote->qualified_signer.size(), 34u);
  EXPECT_EQ(quote->quoted_pcrs, std::vector<uint32_t>(kAttestedPcrs.begin(), kAttestedPcrs.end()));
  // The quoted PCRs are those of the fixture boot, so the composite digest is predictable from the manifest alone.
  EXPECT_EQ(quote->pcr_digest, pcr_composite_digest(expected_pcrs(fixture_boot_manifest())));
  EXPECT_EQ(quote->marshalled, msg());

  auto signature = parse_tpmt_signature(sig());
  ASSERT_TRUE(signature.has_value()) << signature.error().to_string();
  EXPECT_EQ(signature->sig_alg, GetParam().sig_alg);
  EXPECT_EQ(signature->hash_alg, kTpmAlgSha256);
  EXPECT_EQ(signature->marshalled, sig());
  EXPECT_TRUE(verify_tpm_signature(*key, msg(), *signature).has_value());
}

TEST_P(TpmQuoteTest, SizePrefixedAttest) {
  Bytes tpm2b;
  append_u16be(tpm2b, static_cast<uint16_t>(msg().size()));
  append(tpm2b, msg());
  auto quote = parse_tpm2b_attest(tpm2b);
  ASSERT_TRUE(quote.has_value()) << quote.error().to_string();
  EXPECT_EQ(quote->marshalled, msg());
  tpm2b.push_back(0);
  EXPECT_FALSE(parse_tpm2b_attest(tpm2b).has_value());
  tpm2b.pop_back();
  tpm2b.pop_back();
  EXPECT_EQ(parse_tpm2b_attest(tpm2b).error().code, ErrorCode::kTruncated);
  EXPECT_FALSE(parse_tpm2b_attest(Bytes{0x00}).has_value());
}

TEST_P(TpmQuoteTest, EverySingleByteChangeOfMessageFails) {
  const TpmPublic key = parse_tpmt_public(ak()).value();
  const TpmSignature signature = parse_tpmt_signature(sig()).value();
  Bytes m = msg();
  for (size_t i = 0; i < m.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80}) {
      m[i] ^= flip;
      auto st = verify_tpm_signature(key, m, signature);
      ASSERT_FALSE(st.has_value()) << "byte " << i;
      EXPECT_EQ(st.error().code, ErrorCode::kAuthenticationFailed) << "byte " << i;
      m[i] ^= flip;
    }
  }
  EXPECT_TRUE(verify_tpm_signature(key, m, signature).has_value());
  m.push_back(0);
  EXPECT_FALSE(verify_tpm_signature(key, m, signature).has_value());
}

TEST_P(TpmQuoteTest, EverySingleByteChangeOfSignatureFails) {
  const TpmPublic key = parse_tpmt_public(ak()).value();
  Bytes s = sig();
  size_t rejected_by_parse = 0, rejected_by_verify = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    s[i] ^= 0x01;
    auto parsed = parse_tpmt_signature(s);
    if (!parsed) {
      ++rejected_by_parse;  // a changed algorithm or size field
    } else {
      ASSERT_FALSE(verify_tpm_signature(key, msg(), *parsed).has_value()) << "byte " << i;
      ++rejected_by_verify;
    }
    s[i] ^= 0x01;
  }
  EXPECT_EQ(rejected_by_parse + rejected_by_verify, s.size());
  EXPECT_GT(rejected_by_verify, s.size() / 2);
}

TEST_P(TpmQuoteTest, WrongKeyFails) {
  const std::string other = GetParam().name == "ecc" ? "rsa" : "ecc";
  const TpmPublic wrong_type = parse_tpmt_public(tpm_fixture("ak_" + other + ".tpmt_public")).value();
  const TpmSignature signature = parse_tpmt_signature(sig()).value();
  EXPECT_FALSE(verify_tpm_signature(wrong_type, msg(), signature).has_value());
  // Same type, different key (ECC: the tpm2_create'd signing key; RSA: the other RSA AK, whose scheme differs, so
  // compare with the scheme cleared).
  TpmPublic other_key = parse_tpmt_public(tpm_fixture(GetParam().name == "ecc" ? "key_ecc.tpmt_public"
                                                      : GetParam().name == "rsa" ? "ak_rsapss.tpmt_public"
                                                                                 : "ak_rsa.tpmt_public"))
                            .value();
  other_key.scheme = kTpmAlgNull;
  auto st = verify_tpm_signature(other_key, msg(), signature);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::kAuthenticationFailed);
}

TEST_P(TpmQuoteTest, KeySchemeMustMatchAndKeyMustSign) {
  TpmPublic key = parse_tpmt_public(ak()).value();
  const TpmSignature signature = parse_tpmt_signature(sig()).value();
  TpmPublic scheme_null = key;
  scheme_null.scheme = kTpmAlgNull;
  EXPECT_TRUE(verify_tpm_signature(scheme_null, msg(), signature).has_value());
  TpmPublic other_scheme = key;
  other_scheme.scheme = key.type == kTpmAlgRsa ? (key.scheme == kTpmAlgRsassa ? kTpmAlgRsapss : kTpmAlgRsassa)
                                               : kTpmAlgEcdh;
  EXPECT_EQ(verify_tpm_signature(other_scheme, msg(), signature).error().code, ErrorCode::kInvalidArgument);
  TpmPublic not_signing = key;
  not_signing.attributes &= ~kTpmaObjectSign;
  EXPECT_EQ(verify_tpm_signature(not_signing, msg(), signature).error().code, ErrorCode::kInvalidArgument);
  TpmSignature sha1 = signature;
  sha1.hash_alg = 0x0004;
  EXPECT_EQ(verify_tpm_signature(key, msg(), sha1).error().code, ErrorCode::kUnsupported);
}

INSTANTIATE_TEST_SUITE_P(Swtpm, TpmQuoteTest,
                         ::testing::Values(QuoteFixture{"rsa", kTpmAlgRsa, kTpmAlgRsassa},
                                           QuoteFixture{"rsapss", kTpmAlgRsa, kTpmAlgRsapss},
                                           QuoteFixture{"ecc", kTpmAlgEcc, kTpmAlgEcdsa}),
                         [](const auto& info) { return info.param.name; });

TEST(TpmPublic, CreatedEccKeysMatchTpm2ToolsNames) {
  for (const std::string name : {"key_ecc", "rek_ecc"}) {
    const Bytes marshalled = tpm_fixture(name + ".tpmt_public");
    ASSERT_FALSE(marshalled.empty()) << name;
    auto key = parse_tpmt_public(marshalled);
    ASSERT_TRUE(key.has_value()) << key.error().to_string();
    EXPECT_EQ(key->type, kTpmAlgEcc);
    EXPECT_EQ(key->ecc_curve, kTpmEccNistP256);
    EXPECT_EQ(key->ecc_x.size(), 32u);
    EXPECT_EQ(key->ecc_y.size(), 32u);
    auto point = ecc_public_point(*key);
    ASSERT_TRUE(point.has_value());
    EXPECT_EQ(Bytes(point->begin() + 1, point->begin() + 33), key->ecc_x);
    EXPECT_EQ(tpm_object_name(marshalled).value(), tpm_fixture(name + ".name")) << name;
  }
}

TEST(TpmPublic, RekShapedKeyCarriesThePolicy) {
  auto rek = parse_tpmt_public(tpm_fixture("rek_ecc.tpmt_public")).value();
  EXPECT_EQ(rek.scheme, kTpmAlgEcdh);
  EXPECT_EQ(rek.scheme_hash, kTpmAlgSha256);
  EXPECT_EQ(rek.symmetric_alg, kTpmAlgNull);
  EXPECT_EQ(rek.attributes, kTpmaObjectFixedTpm | kTpmaObjectFixedParent | kTpmaObjectSensitiveDataOrigin |
                                kTpmaObjectDecrypt | kTpmaObjectAdminWithPolicy);
  auto booted = testing::attested_pcr_values(tpm_fixture("pcr_values_boot.bin")).value();
  EXPECT_EQ(rek.auth_policy, policy_pcr_digest(booted).value());
  // A decrypt-only key cannot vouch for a signature.
  const TpmSignature sig = parse_tpmt_signature(tpm_fixture("quote_ecc.sig")).value();
  EXPECT_EQ(verify_tpm_signature(rek, tpm_fixture("quote_ecc.msg"), sig).error().code, ErrorCode::kInvalidArgument);
}

TEST(TpmPublic, RejectsTrailingTruncatedAndUnsupported) {
  const Bytes ak = tpm_fixture("ak_rsa.tpmt_public");
  Bytes longer = ak;
  longer.push_back(0);
  EXPECT_EQ(parse_tpmt_public(longer).error().code, ErrorCode::kDecode);
  for (size_t n = 0; n < ak.size(); n += 7) {
    auto r = parse_tpmt_public(ByteSpan(ak).first(n));
    ASSERT_FALSE(r.has_value()) << n;
  }
  EXPECT_EQ(parse_tpmt_public(ByteSpan(ak).first(ak.size() - 1)).error().code, ErrorCode::kTruncated);
  // A KEYEDHASH object (type 0x0008, nameAlg SHA-256, attributes, empty policy, scheme NULL, empty unique).
  const Bytes keyedhash = from_hex("0008" "000b" "00040072" "0000" "0010" "0000").value();
  auto r = parse_tpmt_public(keyedhash);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  // Name needs nameAlg SHA-256.
  Bytes sha384_name = tpm_fixture("key_ecc.tpmt_public");
  sha384_name[3] = 0x0c;
  EXPECT_EQ(tpm_object_name(sha384_name).error().code, ErrorCode::kUnsupported);
  // A P-256 point needs an ECC P-256 key.
  EXPECT_FALSE(ecc_public_point(parse_tpmt_public(ak).value()).has_value());
}

TEST(TpmPublic, ShortCoordinatesArePadded) {
  TpmPublic key = parse_tpmt_public(tpm_fixture("key_ecc.tpmt_public")).value();
  const Bytes full = ecc_public_point(key).value();
  key.ecc_x = Bytes(full.begin() + 1, full.begin() + 33);
  key.ecc_x[0] = 0;
  key.ecc_x.erase(key.ecc_x.begin());
  auto padded = ecc_public_point(key).value();
  EXPECT_EQ(padded[1], 0);
  EXPECT_EQ(Bytes(padded.begin() + 2, padded.end()), Bytes(full.begin() + 2, full.end()));
  key.ecc_y.push_back(0);
  EXPECT_FALSE(ecc_public_point(key).has_value());
}

TEST(TpmsAttest, RejectsBadMagicTypesAndBanks) {
  const Bytes quote = tpm_fixture("quote_rsa.msg");
  Bytes bad_magic = quote;
  bad_magic[0] = 0x00;
  EXPECT_EQ(parse_tpms_attest(bad_magic).error().code, ErrorCode::kDecode);
  // Type TPM_ST_ATTEST_TIME (0x8019) parses as a different union member: unsupported (or malformed).
  Bytes other_type = quote;
  other_type[5] = 0x19;
  EXPECT_FALSE(parse_tpms_attest(other_type).has_value());
  // Layout after the fixed header: qualifiedSigner (2 + 34), extraData (2 + 32), clockInfo (17),
  // firmwareVersion (8), then TPML_PCR_SELECTION count (4), hash (2).
  const size_t hash_offset = 4 + 2 + 2 + 34 + 2 + 32 + 17 + 8 + 4;
  ASSERT_EQ(quote[hash_offset], 0x00);
  ASSERT_EQ(quote[hash_offset + 1], 0x0b);
  Bytes sha1_bank = quote;
  sha1_bank[hash_offset + 1] = 0x04;
  EXPECT_EQ(parse_tpms_attest(sha1_bank).error().code, ErrorCode::kUnsupported);
  Bytes trailing = quote;
  trailing.push_back(1);
  EXPECT_EQ(parse_tpms_attest(trailing).error().code, ErrorCode::kDecode);
  EXPECT_EQ(parse_tpms_attest(ByteSpan(quote).first(quote.size() - 1)).error().code, ErrorCode::kTruncated);
  EXPECT_FALSE(parse_tpms_attest({}).has_value());
}

TEST(TpmsAttest, CreationCertification) {
  // A TPMS_ATTEST of type TPM_ST_ATTEST_CREATION, marshalled by hand: the Name of the REK-shaped key and a
  // creation hash.
  const Bytes name = tpm_fixture("rek_ecc.name");
  Bytes att;
  append(att, i2osp(kTpmGeneratedValue, 4));
  append_u16be(att, kTpmStAttestCreation);
  append_u16be(att, 34);
  append(att, tpm_fixture("ak_rsa.name"));  // qualifiedSigner
  append_u16be(att, 4);
  append(att, to_bytes("data"));  // extraData
  append(att, i2osp(123456789, 8));  // clock
  append(att, i2osp(3, 4));          // resetCount
  append(att, i2osp(4, 4));          // restartCount
  append_u8(att, 1);                 // safe
  append(att, i2osp(0x0102030405060708, 8));  // firmwareVersion
  append_u16be(att, static_cast<uint16_t>(name.size()));
  append(att, name);
  append_u16be(att, 32);
  append(att, Bytes(32, 0xab));
  auto parsed = parse_tpms_attest(att);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_EQ(parsed->type, kTpmStAttestCreation);
  EXPECT_EQ(parsed->certified_name, name);
  EXPECT_EQ(parsed->creation_hash, Bytes(32, 0xab));
  EXPECT_EQ(parsed->extra_data, to_bytes("data"));
  EXPECT_EQ(parsed->clock, 123456789u);
  EXPECT_EQ(parsed->reset_count, 3u);
  EXPECT_EQ(parsed->restart_count, 4u);
  EXPECT_TRUE(parsed->safe);
  EXPECT_EQ(parsed->firmware_version, 0x0102030405060708u);
  EXPECT_TRUE(parsed->quoted_pcrs.empty());
}

TEST(TpmtSignature, RejectsUnsupportedAlgorithmsAndTrailingBytes) {
  Bytes sig = tpm_fixture("quote_ecc.sig");
  sig.push_back(0);
  EXPECT_EQ(parse_tpmt_signature(sig).error().code, ErrorCode::kDecode);
  // TPM_ALG_HMAC signature: sigAlg 0x0005, TPMT_HA {SHA-256, 32 bytes}.
  Bytes hmac = from_hex("0005000b").value();
  append(hmac, Bytes(32, 7));
  EXPECT_EQ(parse_tpmt_signature(hmac).error().code, ErrorCode::kUnsupported);
  EXPECT_FALSE(parse_tpmt_signature({}).has_value());
}

}  // namespace
}  // namespace openpcc::attest
