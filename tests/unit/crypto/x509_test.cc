// crypto/x509.h on real certificates and CRLs: AMD's KDS chains (RSA-4096, RSASSA-PSS SHA-384) and the Azure/GCE AK
// certificates from tests/data/attestation, plus edited copies.
#include "crypto/x509.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

namespace openpcc::crypto {
namespace {

using namespace std::chrono;

std::string read_data(const std::string& name) {
  std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/attestation/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The text of one txtar section.
std::string section(const std::string& archive, const std::string& name) {
  const std::string marker = "-- " + name + " --\n";
  const size_t begin = archive.find(marker);
  if (begin == std::string::npos) return {};
  const size_t body = begin + marker.size();
  const size_t end = archive.find("\n-- ", body);
  return archive.substr(body, end == std::string::npos ? std::string::npos : end + 1 - body);
}

class X509Amd : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string archive = read_data("sev_certificates.txt");
    auto genoa = Certificate::parse_pem_bundle(section(archive, "test_amd_sev_genoa_root_certs.pem"));
    auto milan = Certificate::parse_pem_bundle(section(archive, "test_amd_sev_milan_root_certs.pem"));
    ASSERT_TRUE(genoa) << genoa.error().to_string();
    ASSERT_TRUE(milan) << milan.error().to_string();
    ASSERT_EQ(genoa->size(), 2u);
    ASSERT_EQ(milan->size(), 2u);
    // The Genoa section lists ASK then ARK, the Milan one ARK then ASK.
    genoa_ask_ = (*genoa)[0];
    genoa_ark_ = (*genoa)[1];
    milan_ark_ = (*milan)[0];
    milan_ask_ = (*milan)[1];
    vcek_pem_ = section(archive, "test_vcek.pem");
    auto vcek = Certificate::from_pem(vcek_pem_);
    ASSERT_TRUE(vcek) << vcek.error().to_string();
    vcek_ = *vcek;
    auto genoa_crl = CertificateRevocationList::from_pem(section(archive, "test_amd_genoa_crl.pem"));
    auto milan_crl = CertificateRevocationList::from_pem(section(archive, "test_amd_milan_crl.pem"));
    ASSERT_TRUE(genoa_crl) << genoa_crl.error().to_string();
    ASSERT_TRUE(milan_crl) << milan_crl.error().to_string();
    genoa_crl_ = *genoa_crl;
    milan_crl_ = *milan_crl;
  }

  std::optional<Certificate> genoa_ark_, genoa_ask_, milan_ark_, milan_ask_, vcek_;
  std::optional<CertificateRevocationList> genoa_crl_, milan_crl_;
  std::string vcek_pem_;
};

TEST_F(X509Amd, NamesSerialsAndValidity) {
  EXPECT_EQ(genoa_ark_->subject(),
            "CN=ARK-Genoa,O=Advanced Micro Devices,ST=CA,L=Santa Clara,C=US,OU=Engineering");
  EXPECT_EQ(genoa_ark_->issuer(), genoa_ark_->subject());
  EXPECT_EQ(genoa_ask_->issuer(), genoa_ark_->subject());
  EXPECT_EQ(vcek_->issuer(), genoa_ask_->subject());
  EXPECT_EQ(to_hex(genoa_ark_->serial_number()), "020000");
  EXPECT_EQ(to_hex(genoa_ask_->serial_number()), "020002");
  EXPECT_EQ(to_hex(vcek_->serial_number()), "00");
  EXPECT_EQ(vcek_->not_before(), sys_days{year{2025} / 6 / 11} + hours{12} + minutes{7} + seconds{37});
  EXPECT_EQ(vcek_->not_after(), sys_days{year{2032} / 6 / 11} + hours{12} + minutes{7} + seconds{37});
  EXPECT_TRUE(vcek_->check_valid_at(sys_days{year{2030} / 1 / 1}));
  EXPECT_TRUE(vcek_->check_valid_at(vcek_->not_before()));
  EXPECT_TRUE(vcek_->check_valid_at(vcek_->not_after()));
  auto early = vcek_->check_valid_at(vcek_->not_before() - seconds{1});
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, ErrorCode::kUnauthenticated);
  auto late = vcek_->check_valid_at(vcek_->not_after() + seconds{1});
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message.find("expired at 2032-06-11T12:07:37Z"), std::string::npos);
  EXPECT_TRUE(genoa_ark_->is_ca());
  EXPECT_TRUE(genoa_ask_->is_ca());
  EXPECT_FALSE(vcek_->is_ca());
  EXPECT_FALSE(vcek_->has_unknown_critical_extension());
}

TEST_F(X509Amd, RsaPssChainVerifies) {
  EXPECT_TRUE(genoa_ark_->verify_issued_by(*genoa_ark_));
  EXPECT_TRUE(genoa_ask_->verify_issued_by(*genoa_ark_));
  EXPECT_TRUE(vcek_->verify_issued_by(*genoa_ask_));
  EXPECT_TRUE(milan_ark_->verify_issued_by(*milan_ark_));
  EXPECT_TRUE(milan_ask_->verify_issued_by(*milan_ark_));
  EXPECT_TRUE(vcek_->verify_signature_by(*genoa_ask_));
}

TEST_F(X509Amd, WrongIssuersAreRefused) {
  // Wrong name.
  auto by_milan = genoa_ask_->verify_issued_by(*milan_ark_);
  ASSERT_FALSE(by_milan);
  EXPECT_EQ(by_milan.error().code, ErrorCode::kAuthenticationFailed);
  // Right key, not a CA: the VCEK cannot issue.
  EXPECT_FALSE(vcek_->verify_issued_by(*vcek_));
  // The ASK (pathLenConstraint 0) may not issue another CA, not even one that happens to verify.
  EXPECT_FALSE(genoa_ask_->verify_issued_by(*genoa_ask_));
  // Signature only, wrong key.
  EXPECT_FALSE(vcek_->verify_signature_by(*milan_ask_));
  EXPECT_FALSE(vcek_->verify_signature_by(*genoa_ark_));
}

TEST_F(X509Amd, EveryFlippedSignatureByteFails) {
  const Bytes der = vcek_->der();
  // The signature BIT STRING is the last 512 bytes of the certificate (RSA-4096).
  for (size_t i = der.size() - 512; i < der.size(); i += 7) {
    Bytes edited = der;
    edited[i] ^= 0x01;
    auto cert = Certificate::from_der(edited);
    ASSERT_TRUE(cert) << i;
    EXPECT_FALSE(cert->verify_signature_by(*genoa_ask_)) << i;
  }
}

TEST_F(X509Amd, ExtensionsByOid) {
  auto product = vcek_->extension("1.3.6.1.4.1.3704.1.2");
  ASSERT_TRUE(product);
  ASSERT_TRUE(product->has_value());
  EXPECT_EQ(to_hex(**product), "160547656e6f61");  // IA5String "Genoa"
  EXPECT_EQ(decode_der_ia5_string(**product).value(), "Genoa");
  auto snp = vcek_->extension("1.3.6.1.4.1.3704.1.3.3");
  ASSERT_TRUE(snp && snp->has_value());
  EXPECT_EQ(decode_der_integer(**snp).value(), 23);
  auto hwid = vcek_->extension("1.3.6.1.4.1.3704.1.4");
  ASSERT_TRUE(hwid && hwid->has_value());
  EXPECT_EQ((*hwid)->size(), 64u);
  auto absent = vcek_->extension("1.3.6.1.4.1.3704.1.99");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->has_value());
  EXPECT_FALSE(vcek_->extension("not an oid"));
  EXPECT_FALSE(vcek_->extension(""));
}

TEST_F(X509Amd, EcPublicKey) {
  auto key = vcek_->ec_public_key();
  ASSERT_TRUE(key) << key.error().to_string();
  EXPECT_EQ(key->curve, "secp384r1");
  ASSERT_EQ(key->point.size(), 97u);
  EXPECT_EQ(to_hex(ByteSpan(key->point).first(4)), "0422d9e5");
  EXPECT_EQ(to_hex(ByteSpan(key->point).last(3)), "75d32e");
  auto rsa = genoa_ark_->ec_public_key();
  ASSERT_FALSE(rsa);
  EXPECT_EQ(rsa.error().code, ErrorCode::kUnsupported);
}

TEST_F(X509Amd, CrlsVerifyAndListSerials) {
  EXPECT_TRUE(genoa_crl_->verify_signed_by(*genoa_ark_));
  EXPECT_TRUE(milan_crl_->verify_signed_by(*milan_ark_));
  EXPECT_FALSE(genoa_crl_->verify_signed_by(*milan_ark_));  // wrong issuer name
  EXPECT_FALSE(genoa_crl_->verify_signed_by(*genoa_ask_));  // wrong issuer name and no cRLSign
  EXPECT_EQ(genoa_crl_->issuer(), genoa_ark_->subject());
  EXPECT_EQ(genoa_crl_->this_update(), sys_days{year{2024} / 10 / 23} + hours{4} + minutes{36} + seconds{24});
  EXPECT_EQ(genoa_crl_->next_update(), sys_days{year{2025} / 11 / 3} + hours{1});
  EXPECT_TRUE(genoa_crl_->check_current_at(sys_days{year{2025} / 1 / 1}));
  EXPECT_FALSE(genoa_crl_->check_current_at(sys_days{year{2025} / 12 / 1}));
  EXPECT_FALSE(genoa_crl_->check_current_at(sys_days{year{2024} / 1 / 1}));

  ASSERT_EQ(genoa_crl_->revoked_serials().size(), 1u);
  EXPECT_EQ(to_hex(genoa_crl_->revoked_serials()[0]), "020001");
  EXPECT_TRUE(genoa_crl_->lists_serial(Bytes{0x02, 0x00, 0x01}));
  EXPECT_TRUE(genoa_crl_->lists_serial(Bytes{0x00, 0x02, 0x00, 0x01}));  // leading zeros ignored
  EXPECT_FALSE(genoa_crl_->lists_serial(Bytes{0x02, 0x00, 0x02}));
  EXPECT_FALSE(genoa_crl_->is_revoked(*genoa_ask_));
  EXPECT_TRUE(milan_crl_->revoked_serials().empty());
}

TEST_F(X509Amd, TamperedCrlFails) {
  Bytes der = genoa_crl_->der();
  der[der.size() - 10] ^= 0x01;  // inside the signature
  auto crl = CertificateRevocationList::from_der(der);
  ASSERT_TRUE(crl);
  auto status = crl->verify_signed_by(*genoa_ark_);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kAuthenticationFailed);
}

TEST_F(X509Amd, ParsingIsStrict) {
  EXPECT_FALSE(Certificate::from_der({}));
  Bytes trailing = vcek_->der();
  trailing.push_back(0);
  EXPECT_FALSE(Certificate::from_der(trailing));
  EXPECT_FALSE(Certificate::from_der(ByteSpan(vcek_->der()).first(vcek_->der().size() - 1)));
  // Two certificates where one is expected.
  EXPECT_FALSE(Certificate::from_pem(genoa_ark_->to_pem() + genoa_ask_->to_pem()));
  // A CRL where a certificate is expected, and the other way round.
  EXPECT_FALSE(Certificate::from_pem(section(read_data("sev_certificates.txt"), "test_amd_genoa_crl.pem")));
  EXPECT_FALSE(CertificateRevocationList::from_pem(vcek_pem_));
  EXPECT_FALSE(Certificate::from_pem("no pem here"));
  EXPECT_FALSE(Certificate::from_pem("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"));
  EXPECT_FALSE(Certificate::parse_pem_bundle(""));
  // parse() sniffs PEM vs DER.
  auto from_der = Certificate::parse(vcek_->der());
  ASSERT_TRUE(from_der) << from_der.error().to_string();
  EXPECT_EQ(*from_der, *vcek_);
  const std::string padded = "\n\n" + vcek_pem_;  // blank lines before the block
  auto from_pem = Certificate::parse(as_bytes(padded));
  ASSERT_TRUE(from_pem) << from_pem.error().to_string();
  EXPECT_EQ(*from_pem, *vcek_);
  auto round_trip = Certificate::from_pem(vcek_->to_pem());
  ASSERT_TRUE(round_trip) << round_trip.error().to_string();
  EXPECT_EQ(*round_trip, *vcek_);
}

TEST(X509, AzureAndGceAkCertificatesParse) {
  const std::string azure = read_data("azure_ak_certificates.txt");
  auto cert = Certificate::from_pem(section(azure, "test_azure_ak_certificate_01.pem"));
  ASSERT_TRUE(cert) << cert.error().to_string();
  EXPECT_TRUE(cert->issuer().starts_with("CN=Global Virtual TPM CA - ")) << cert->issuer();
  const std::string gce = read_data("gce_ak_certificates.txt");
  auto leaf = Certificate::from_pem(section(gce, "test_gce_ak_cert.pem"));
  auto intermediate = Certificate::from_pem(section(gce, "test_gce_ak_intermediate_cert.pem"));
  ASSERT_TRUE(leaf && intermediate);
  EXPECT_TRUE(leaf->verify_issued_by(*intermediate));
  EXPECT_FALSE(intermediate->verify_issued_by(*leaf));
}

TEST(X509, DerValueDecoders) {
  EXPECT_EQ(decode_der_integer(Bytes{0x02, 0x01, 0x0A}).value(), 10);
  EXPECT_EQ(decode_der_integer(Bytes{0x02, 0x02, 0x00, 0xFF}).value(), 255);
  EXPECT_EQ(decode_der_integer(Bytes{0x02, 0x01, 0xFF}).value(), -1);
  EXPECT_FALSE(decode_der_integer(Bytes{0x02, 0x02, 0x00, 0x01}));  // non-minimal
  EXPECT_FALSE(decode_der_integer(Bytes{0x02, 0x01, 0x0A, 0x00}));  // trailing byte
  EXPECT_FALSE(decode_der_integer(Bytes{0x04, 0x01, 0x0A}));        // an OCTET STRING
  EXPECT_FALSE(decode_der_integer(Bytes{}));
  EXPECT_FALSE(decode_der_integer(Bytes{0x02, 0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0}));  // beyond 64 bits
  EXPECT_EQ(decode_der_ia5_string(Bytes{0x16, 0x02, 'h', 'i'}).value(), "hi");
  EXPECT_FALSE(decode_der_ia5_string(Bytes{0x0C, 0x02, 'h', 'i'}));  // UTF8String
  EXPECT_FALSE(decode_der_ia5_string(Bytes{0x16, 0x03, 'h', 'i'}));
}

}  // namespace
}  // namespace openpcc::crypto
