#include "sevsnp_fake_amd.h"

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <memory>

namespace openpcc::attest::testing {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL, X509_CRL_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>>;
using IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using ObjectPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT, ASN1_OBJECT_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using RevokedPtr = std::unique_ptr<X509_REVOKED, Deleter<X509_REVOKED, X509_REVOKED_free>>;

// Test setup failing is a broken test environment, not a test result.
void require(bool ok) {
  if (!ok) std::abort();
}

PkeyPtr rsa_key() {
  PkeyPtr key(EVP_RSA_gen(2048));
  require(key != nullptr);
  return key;
}

PkeyPtr pkey_from_ecdsa(const crypto::EcdsaPublicKey& pub) {
  Bytes spki = pub.to_spki_der().value();
  const unsigned char* p = spki.data();
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
  require(key != nullptr);
  return key;
}

NamePtr amd_name(const std::string& common_name) {
  NamePtr name(X509_NAME_new());
  const auto add = [&](const char* field, const std::string& value) {
    require(X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) == 1);
  };
  add("OU", "Engineering");
  add("C", "US");
  add("L", "Santa Clara");
  add("ST", "CA");
  add("O", "Advanced Micro Devices");
  add("CN", common_name);
  return name;
}

TimePtr asn1_time(crypto::UnixTime t) {
  TimePtr out(ASN1_TIME_set(nullptr, static_cast<time_t>(t.time_since_epoch().count())));
  require(out != nullptr);
  return out;
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  require(ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1);
}

void add_raw_extension(X509* cert, const std::string& oid, ByteSpan der_value) {
  ObjectPtr obj(OBJ_txt2obj(oid.c_str(), 1));
  OctetPtr data(ASN1_OCTET_STRING_new());
  require(obj && data && ASN1_OCTET_STRING_set(data.get(), der_value.data(), static_cast<int>(der_value.size())) == 1);
  ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, data.get()));
  require(ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1);
}

Bytes der_integer(long v) {
  IntegerPtr i(ASN1_INTEGER_new());
  require(ASN1_INTEGER_set(i.get(), v) == 1);
  unsigned char* out = nullptr;
  const int n = i2d_ASN1_INTEGER(i.get(), &out);
  Bytes der(out, out + n);
  OPENSSL_free(out);
  return der;
}

Bytes der_ia5(const std::string& s) {
  std::unique_ptr<ASN1_IA5STRING, Deleter<ASN1_IA5STRING, ASN1_IA5STRING_free>> str(ASN1_IA5STRING_new());
  require(ASN1_STRING_set(str.get(), s.data(), static_cast<int>(s.size())) == 1);
  unsigned char* out = nullptr;
  const int n = i2d_ASN1_IA5STRING(str.get(), &out);
  Bytes der(out, out + n);
  OPENSSL_free(out);
  return der;
}

// RSASSA-PSS, SHA-384, MGF1-SHA-384, 48-byte salt: AMD's profile.
MdCtxPtr pss_signing_context(EVP_PKEY* key) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  require(EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha384(), nullptr, key) == 1);
  require(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
  require(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1);
  require(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1);
  return ctx;
}

crypto::Certificate to_certificate(X509* cert) {
  unsigned char* out = nullptr;
  const int n = i2d_X509(cert, &out);
  require(n > 0);
  Bytes der(out, out + n);
  OPENSSL_free(out);
  return crypto::Certificate::from_der(der).value();
}

X509Ptr new_certificate(long serial, const X509_NAME* subject, const X509_NAME* issuer, EVP_PKEY* subject_key) {
  X509Ptr cert(X509_new());
  require(X509_set_version(cert.get(), 2) == 1);
  require(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial) == 1);
  require(X509_set_subject_name(cert.get(), subject) == 1 && X509_set_issuer_name(cert.get(), issuer) == 1);
  require(X509_set1_notBefore(cert.get(), asn1_time(kFakeNotBefore).get()) == 1);
  require(X509_set1_notAfter(cert.get(), asn1_time(kFakeNotAfter).get()) == 1);
  require(X509_set_pubkey(cert.get(), subject_key) == 1);
  return cert;
}

}  // namespace

struct FakeAmdRoot::Keys {
  PkeyPtr ark;
  PkeyPtr ask;
};

FakeAmdRoot::FakeAmdRoot(std::unique_ptr<Keys> keys, crypto::Certificate ark, crypto::Certificate ask,
                         std::string product)
    : keys_(std::move(keys)), ark_(std::move(ark)), ask_(std::move(ask)), product_(std::move(product)) {}
FakeAmdRoot::~FakeAmdRoot() = default;
FakeAmdRoot::FakeAmdRoot(FakeAmdRoot&&) noexcept = default;

FakeAmdRoot FakeAmdRoot::create(std::string product_name, long ask_serial) {
  auto keys = std::make_unique<Keys>(Keys{rsa_key(), rsa_key()});
  NamePtr ark_name = amd_name("ARK-" + product_name);
  NamePtr ask_name = amd_name("SEV-" + product_name);

  X509Ptr ark = new_certificate(ask_serial - 2, ark_name.get(), ark_name.get(), keys->ark.get());
  add_extension(ark.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(ark.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(ark.get(), NID_subject_key_identifier, "hash");
  require(X509_sign_ctx(ark.get(), pss_signing_context(keys->ark.get()).get()) > 0);

  X509Ptr ask = new_certificate(ask_serial, ask_name.get(), ark_name.get(), keys->ask.get());
  add_extension(ask.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_extension(ask.get(), NID_key_usage, "critical,keyCertSign");
  require(X509_sign_ctx(ask.get(), pss_signing_context(keys->ark.get()).get()) > 0);

  return FakeAmdRoot(std::move(keys), to_certificate(ark.get()), to_certificate(ask.get()), std::move(product_name));
}

FakeAmdRoot::Vcek FakeAmdRoot::issue_vcek(const FakeVcekOptions& options) const {
  auto key = crypto::EcdsaPrivateKey::generate(crypto::EcCurve::kP384).value();
  PkeyPtr pub = pkey_from_ecdsa(key.public_key());
  NamePtr ask_name = amd_name("SEV-" + product_);
  NamePtr vcek_name = amd_name("SEV-VCEK");
  X509Ptr cert = new_certificate(options.serial, vcek_name.get(), ask_name.get(), pub.get());
  add_raw_extension(cert.get(), "1.3.6.1.4.1.3704.1.1", der_integer(0));
  add_raw_extension(cert.get(), "1.3.6.1.4.1.3704.1.2", der_ia5(options.product_name));
  const TcbVersion& t = options.tcb;
  add_raw_extension(cert.get(), "1.3.6.1.4.1.3704.1.3.1", der_integer(t.boot_loader));
  add_raw_extension(cert.get(), "1.3.6.1.4.1.3704.1.3.2", der_integer(t.tee));
  for (int arc = 4; arc <= 7; ++arc) {
    add_raw_extension(cert.get(), "1.3.6.1.4.1.3704.1.3." + std::to_string(arc),
                      der_integer(static_cast<long>((t.raw >> (8 * (arc - 2))) & 0xFF)));
  }
  add_raw_extension(cert.get(), "1.3.6.1.4.1.3704.1.3.3", der_integer(t.snp));
  add_raw_extension(cert.get(), "1.3.6.1.4.1.3704.1.3.8", der_integer(t.microcode));
  add_raw_extension(cert.get(), "1.3.6.1.4.1.3704.1.4", options.hardware_id);
  require(X509_sign_ctx(cert.get(), pss_signing_context(keys_->ask.get()).get()) > 0);
  return Vcek{to_certificate(cert.get()), std::move(key)};
}

crypto::CertificateRevocationList FakeAmdRoot::issue_crl(const FakeCrlOptions& options) const {
  CrlPtr crl(X509_CRL_new());
  NamePtr ark_name = amd_name("ARK-" + product_);
  require(X509_CRL_set_version(crl.get(), 1) == 1);
  require(X509_CRL_set_issuer_name(crl.get(), ark_name.get()) == 1);
  require(X509_CRL_set1_lastUpdate(crl.get(), asn1_time(options.this_update).get()) == 1);
  if (options.next_update) require(X509_CRL_set1_nextUpdate(crl.get(), asn1_time(*options.next_update).get()) == 1);
  for (long serial : options.revoked_serials) {
    RevokedPtr revoked(X509_REVOKED_new());
    IntegerPtr number(ASN1_INTEGER_new());
    require(ASN1_INTEGER_set(number.get(), serial) == 1);
    require(X509_REVOKED_set_serialNumber(revoked.get(), number.get()) == 1);
    require(X509_REVOKED_set_revocationDate(revoked.get(), asn1_time(options.this_update).get()) == 1);
    require(X509_CRL_add0_revoked(crl.get(), revoked.release()) == 1);
  }
  require(X509_CRL_sort(crl.get()) == 1);
  PkeyPtr other;
  EVP_PKEY* signer = keys_->ark.get();
  if (options.sign_with_other_key) {
    other = rsa_key();
    signer = other.get();
  }
  require(X509_CRL_sign_ctx(crl.get(), pss_signing_context(signer).get()) > 0);
  unsigned char* out = nullptr;
  const int n = i2d_X509_CRL(crl.get(), &out);
  require(n > 0);
  Bytes der(out, out + n);
  OPENSSL_free(out);
  return crypto::CertificateRevocationList::from_der(der).value();
}

crypto::Certificate fake_certificate_under(const crypto::Certificate& issuer, long serial) {
  const unsigned char* p = issuer.der().data();
  X509Ptr issuer_x509(d2i_X509(nullptr, &p, static_cast<long>(issuer.der().size())));
  require(issuer_x509 != nullptr);
  PkeyPtr key = rsa_key();
  NamePtr subject = amd_name("impostor");
  X509Ptr cert = new_certificate(serial, subject.get(), X509_get_subject_name(issuer_x509.get()), key.get());
  require(X509_sign_ctx(cert.get(), pss_signing_context(key.get()).get()) > 0);
  return to_certificate(cert.get());
}

void put_le32(Bytes& b, size_t offset, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) b[offset + i] = static_cast<uint8_t>(v >> (8 * i));
}

void put_le64(Bytes& b, size_t offset, uint64_t v) {
  for (size_t i = 0; i < 8; ++i) b[offset + i] = static_cast<uint8_t>(v >> (8 * i));
}

void sign_report(Bytes& report, const crypto::EcdsaPrivateKey& key) {
  require(report.size() == kSevSnpReportSize);
  auto sig = key.sign(ByteSpan(report).first(kSevSnpSignedSize)).value();
  std::fill(report.begin() + kSevSnpSignedSize, report.end(), 0);
  for (size_t i = 0; i < 48; ++i) {
    report[kSevSnpSignatureOffset + i] = sig.r[47 - i];
    report[kSevSnpSignatureOffset + kSevSnpSignatureComponentSize + i] = sig.s[47 - i];
  }
}

Bytes make_report(ByteSpan template_report, const FakeVcekOptions& vcek, const crypto::EcdsaPrivateKey& key) {
  Bytes report(template_report.begin(), template_report.end());
  require(report.size() == kSevSnpReportSize);
  // CURRENT, REPORTED, COMMITTED and LAUNCH TCB.
  for (size_t offset : {size_t{0x38}, size_t{0x180}, size_t{0x1E0}, size_t{0x1F0}}) {
    put_le64(report, offset, vcek.tcb.raw);
  }
  std::copy(vcek.hardware_id.begin(), vcek.hardware_id.end(), report.begin() + kSevSnpChipIdOffset);
  sign_report(report, key);
  return report;
}

}  // namespace openpcc::attest::testing
