#include "attest/tpm/attestation.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include <memory>

#include "attest/pcr.h"
#include "attest/tpm/node_keys.h"
#include "attest/tpm_structures.h"
#include "common/random.h"
#include "swtpm_device.h"

namespace openpcc::tpm {
namespace {

// An OpenSSL verifier for TPM signatures written here from the raw structures (Tss2_MU + EVP), independent of
// attest::verify_tpm_signature, so the two check each other.
struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using EvpPkey = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

EvpPkey openssl_key(const TPMT_PUBLIC& pub) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  Bytes point;
  const char* type = nullptr;
  if (pub.type == TPM2_ALG_RSA) {
    type = "RSA";
    n = BN_bin2bn(pub.unique.rsa.buffer, pub.unique.rsa.size, nullptr);
    e = BN_new();
    BN_set_word(e, pub.parameters.rsaDetail.exponent == 0 ? 65537 : pub.parameters.rsaDetail.exponent);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  } else {
    type = "EC";
    point.push_back(0x04);
    point.insert(point.end(), pub.unique.ecc.x.buffer, pub.unique.ecc.x.buffer + pub.unique.ecc.x.size);
    point.insert(point.end(), pub.unique.ecc.y.buffer, pub.unique.ecc.y.buffer + pub.unique.ecc.y.size);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    key = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return EvpPkey(key);
}

// Verifies the marshalled TPMT_SIGNATURE over SHA-256(signed_bytes) with the AK's marshalled TPMT_PUBLIC.
bool openssl_verify(ByteSpan ak_public, ByteSpan signed_bytes, ByteSpan signature) {
  TPMT_PUBLIC pub{};
  size_t offset = 0;
  if (Tss2_MU_TPMT_PUBLIC_Unmarshal(ak_public.data(), ak_public.size(), &offset, &pub) != TSS2_RC_SUCCESS) {
    return false;
  }
  TPMT_SIGNATURE sig{};
  offset = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(signature.data(), signature.size(), &offset, &sig) != TSS2_RC_SUCCESS ||
      offset != signature.size()) {
    return false;
  }
  Bytes der;
  if (sig.sigAlg == TPM2_ALG_RSASSA) {
    if (sig.signature.rsassa.hash != TPM2_ALG_SHA256) return false;
    der.assign(sig.signature.rsassa.sig.buffer, sig.signature.rsassa.sig.buffer + sig.signature.rsassa.sig.size);
  } else if (sig.sigAlg == TPM2_ALG_ECDSA) {
    if (sig.signature.ecdsa.hash != TPM2_ALG_SHA256) return false;
    ECDSA_SIG* es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig.signature.ecdsa.signatureR.buffer, sig.signature.ecdsa.signatureR.size, nullptr),
                   BN_bin2bn(sig.signature.ecdsa.signatureS.buffer, sig.signature.ecdsa.signatureS.size, nullptr));
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(es, &out);
    ECDSA_SIG_free(es);
    if (len <= 0) return false;
    der.assign(out, out + len);
    OPENSSL_free(out);
  } else {
    return false;
  }
  EvpPkey key = openssl_key(pub);
  if (!key) return false;
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
            EVP_DigestVerify(md, der.data(), der.size(), signed_bytes.data(), signed_bytes.size()) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

Status verifier_check(const TpmKey& ak, ByteSpan signed_bytes, ByteSpan signature) {
  auto key = attest::parse_tpmt_public(ak.public_area());
  if (!key) return std::unexpected(key.error());
  auto sig = attest::parse_tpmt_signature(signature);
  if (!sig) return std::unexpected(sig.error());
  return attest::verify_tpm_signature(*key, signed_bytes, *sig);
}

class AttestationTest : public SwtpmTest, public ::testing::WithParamInterface<AkAlgorithm> {};

TEST_P(AttestationTest, QuoteVerifiesAndCoversThePcrsAndNonce) {
  for (uint32_t pcr : {0u, 7u, 12u}) ASSERT_TRUE(tpm().pcr_extend(pcr, sha256_of(to_bytes("m" + std::to_string(pcr)))));
  auto ak = create_ak(tpm(), GetParam());
  ASSERT_TRUE(ak) << ak.error().to_string();
  const Bytes nonce = random_bytes(32);
  auto q = quote(tpm(), *ak, attest::kAttestedPcrs, nonce);
  ASSERT_TRUE(q) << q.error().to_string();

  EXPECT_TRUE(openssl_verify(ak->public_area(), q->tpms_attest, q->tpmt_signature));
  auto checked = verifier_check(*ak, q->tpms_attest, q->tpmt_signature);
  EXPECT_TRUE(checked) << checked.error().to_string();

  auto attest = attest::parse_tpms_attest(q->tpms_attest);
  ASSERT_TRUE(attest) << attest.error().to_string();
  EXPECT_EQ(attest->type, attest::kTpmStAttestQuote);
  EXPECT_EQ(attest->extra_data, nonce);
  EXPECT_EQ(attest->qualified_signer.size(), 34u);
  EXPECT_EQ(attest->quoted_pcrs, std::vector<uint32_t>(attest::kAttestedPcrs.begin(), attest::kAttestedPcrs.end()));
  auto now = tpm().pcr_read(attest::kAttestedPcrs);
  ASSERT_TRUE(now);
  EXPECT_EQ(attest->pcr_digest, attest::pcr_composite_digest(*now));

  // One flipped bit in the signed bytes: both verifiers refuse.
  Bytes tampered = q->tpms_attest;
  tampered[tampered.size() - 1] ^= 0x01;
  EXPECT_FALSE(openssl_verify(ak->public_area(), tampered, q->tpmt_signature));
  auto bad = verifier_check(*ak, tampered, q->tpmt_signature);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kAuthenticationFailed);
}

TEST_P(AttestationTest, QualifyingDataUpTo64Bytes) {
  auto ak = create_ak(tpm(), GetParam());
  ASSERT_TRUE(ak) << ak.error().to_string();
  for (size_t size : {0u, 1u, 64u}) {
    const Bytes data = random_bytes(size);
    auto q = quote(tpm(), *ak, std::array<uint32_t, 1>{12}, data);
    ASSERT_TRUE(q) << size << ": " << q.error().to_string();
    auto attest = attest::parse_tpms_attest(q->tpms_attest);
    ASSERT_TRUE(attest);
    EXPECT_EQ(attest->extra_data, data);
  }
  auto too_long = quote(tpm(), *ak, std::array<uint32_t, 1>{12}, Bytes(65, 1));
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, ErrorCode::kInvalidArgument);
  auto no_pcrs = quote(tpm(), *ak, {}, {});
  ASSERT_FALSE(no_pcrs);
  EXPECT_EQ(no_pcrs.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(AttestationTest, CertifyCreationOfTheRek) {
  auto golden = tpm().pcr_read(attest::kAttestedPcrs);
  ASSERT_TRUE(golden);
  auto srk = create_storage_primary(tpm());
  ASSERT_TRUE(srk) << srk.error().to_string();
  auto rek = create_rek(tpm(), *srk, *golden);
  ASSERT_TRUE(rek) << rek.error().to_string();
  auto ak = create_ak(tpm(), GetParam());
  ASSERT_TRUE(ak) << ak.error().to_string();

  const Bytes nonce = random_bytes(32);
  auto cert = certify_creation(tpm(), *ak, rek->key, rek->creation_hash, rek->creation_ticket, nonce);
  ASSERT_TRUE(cert) << cert.error().to_string();

  auto attest = attest::parse_tpm2b_attest(cert->tpm2b_attest);
  ASSERT_TRUE(attest) << attest.error().to_string();
  EXPECT_EQ(attest->type, attest::kTpmStAttestCreation);
  EXPECT_EQ(attest->certified_name, rek->key.name());
  EXPECT_EQ(attest->creation_hash, rek->creation_hash);
  EXPECT_EQ(attest->extra_data, nonce);
  // The signature covers the TPMS_ATTEST inside the TPM2B.
  ASSERT_EQ(Bytes(cert->tpm2b_attest.begin() + 2, cert->tpm2b_attest.end()), attest->marshalled);
  EXPECT_TRUE(openssl_verify(ak->public_area(), attest->marshalled, cert->tpmt_signature));
  auto checked = verifier_check(*ak, attest->marshalled, cert->tpmt_signature);
  EXPECT_TRUE(checked) << checked.error().to_string();

  // A creation hash the ticket does not vouch for: the TPM refuses to certify it.
  Bytes wrong_hash = rek->creation_hash;
  wrong_hash[0] ^= 0x80;
  auto forged = certify_creation(tpm(), *ak, rek->key, wrong_hash, rek->creation_ticket, nonce);
  ASSERT_FALSE(forged);
  EXPECT_NE(forged.error().message.find("Esys_CertifyCreation"), std::string::npos) << forged.error().message;
  // Malformed inputs are caught before the TPM.
  auto short_hash = certify_creation(tpm(), *ak, rek->key, Bytes(31, 0), rek->creation_ticket, nonce);
  ASSERT_FALSE(short_hash);
  EXPECT_EQ(short_hash.error().code, ErrorCode::kInvalidArgument);
  Bytes truncated_ticket(rek->creation_ticket.begin(), rek->creation_ticket.end() - 1);
  auto bad_ticket = certify_creation(tpm(), *ak, rek->key, rek->creation_hash, truncated_ticket, nonce);
  ASSERT_FALSE(bad_ticket);
  EXPECT_EQ(bad_ticket.error().code, ErrorCode::kDecode);
}

INSTANTIATE_TEST_SUITE_P(Ak, AttestationTest, ::testing::Values(AkAlgorithm::kRsa2048, AkAlgorithm::kEccP256),
                         [](const auto& info) {
                           return std::string(info.param == AkAlgorithm::kRsa2048 ? "Rsa2048" : "EccP256");
                         });

}  // namespace
}  // namespace openpcc::tpm
