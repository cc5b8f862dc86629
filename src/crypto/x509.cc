#include "crypto/x509.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "crypto/openssl_util.h"

namespace openpcc::crypto {
namespace {

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OpenSslDeleter<ASN1_OBJECT, ASN1_OBJECT_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OpenSslDeleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1Ia5StringPtr = std::unique_ptr<ASN1_IA5STRING, OpenSslDeleter<ASN1_IA5STRING, ASN1_IA5STRING_free>>;
using PssParamsPtr = std::unique_ptr<RSA_PSS_PARAMS, OpenSslDeleter<RSA_PSS_PARAMS, RSA_PSS_PARAMS_free>>;

// Certificates and CRLs of real PKIs are a few KiB; anything this large is not one.
constexpr size_t kMaxEncodedSize = 1 << 20;
constexpr int kMinRsaBits = 2048;

// Leading-whitespace-insensitive "is this PEM?".
bool looks_like_pem(ByteSpan data) {
  constexpr std::string_view kBegin = "-----BEGIN";
  size_t i = 0;
  while (i < data.size() && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) ++i;
  return data.size() - i >= kBegin.size() && std::equal(kBegin.begin(), kBegin.end(), data.begin() + i);
}

struct PemBlock {
  std::string name;
  Bytes der;
};

// Every PEM block of the text, in order. Text between blocks is ignored; a block whose base64 does not decode is
// an error.
Result<std::vector<PemBlock>> read_pem_blocks(std::string_view text, std::string_view what) {
  if (text.size() > 4 * kMaxEncodedSize) {
    return make_error(ErrorCode::kLimitExceeded, std::string(what) + ": PEM input too large");
  }
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return openssl_error(ErrorCode::kCrypto, std::string(what) + ": out of memory");
  std::vector<PemBlock> blocks;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long length = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &length) != 1) {
      const unsigned long err = ERR_peek_last_error();
      ERR_clear_error();
      // "No start line" after at least one block is just the end of the text.
      if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) break;
      return make_error(ErrorCode::kDecode, std::string(what) + ": malformed PEM block");
    }
    PemBlock block{name, Bytes(data, data + length)};
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    blocks.push_back(std::move(block));
  }
  return blocks;
}

// The one PEM block of the text, which must carry `label`.
Result<Bytes> single_pem_block(std::string_view text, std::string_view label, std::string_view what) {
  auto blocks = read_pem_blocks(text, what);
  if (!blocks) return std::unexpected(blocks.error());
  if (blocks->size() != 1) {
    return make_error(ErrorCode::kDecode, std::string(what) + ": expected one PEM block, found " +
                                              std::to_string(blocks->size()));
  }
  if ((*blocks)[0].name != label) {
    return make_error(ErrorCode::kDecode,
                      std::string(what) + ": expected a \"" + std::string(label) + "\" PEM block, found \"" +
                          (*blocks)[0].name + "\"");
  }
  return std::move((*blocks)[0].der);
}

std::string name_to_string(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

// A time field as seconds since the epoch. The parsers only accept well-formed times, so conversion cannot fail
// for a parsed object; should OpenSSL still refuse, the epoch start makes every window check fail safe.
UnixTime to_unix_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return UnixTime{};
  }
  using namespace std::chrono;
  const sys_days day = year{tm.tm_year + 1900} / month{static_cast<unsigned>(tm.tm_mon + 1)} /
                       std::chrono::day{static_cast<unsigned>(tm.tm_mday)};
  return UnixTime{day} + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
}

std::string format_time(UnixTime t) {
  using namespace std::chrono;
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss<seconds> hms(t - day);
  char text[96];  // sized for any int/long values, so the compiler can see nothing is truncated
  std::snprintf(text, sizeof(text), "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()));
  return text;
}

// Big-endian magnitude without leading zeros, at least one byte.
Bytes integer_magnitude(const ASN1_INTEGER* value) {
  BignumPtr bn(ASN1_INTEGER_to_BN(value, nullptr));
  if (!bn) {
    ERR_clear_error();
    return Bytes{0};
  }
  Bytes out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  if (out.empty()) out.push_back(0);
  return out;
}

Bytes strip_leading_zeros(ByteSpan b) {
  size_t i = 0;
  while (i + 1 < b.size() && b[i] == 0) ++i;
  Bytes out(b.begin() + static_cast<std::ptrdiff_t>(i), b.end());
  if (out.empty()) out.push_back(0);
  return out;
}

bool strong_digest(int md_nid) {
  return md_nid == NID_sha256 || md_nid == NID_sha384 || md_nid == NID_sha512 || md_nid == NID_sha3_256 ||
         md_nid == NID_sha3_384 || md_nid == NID_sha3_512;
}

// Refuses signature algorithms with a digest weaker than SHA-256. For RSASSA-PSS the digest is in the parameters
// (absent means SHA-1, RFC 4055).
Status check_signature_algorithm(const X509_ALGOR* alg, std::string_view what) {
  const ASN1_OBJECT* oid = nullptr;
  int param_type = 0;
  const void* param = nullptr;
  X509_ALGOR_get0(&oid, &param_type, &param, alg);
  const int sig_nid = OBJ_obj2nid(oid);
  if (sig_nid == NID_ED25519 || sig_nid == NID_ED448) return {};
  int md_nid = NID_undef;
  if (sig_nid == NID_rsassaPss) {
    if (param_type != V_ASN1_SEQUENCE || param == nullptr) {
      return make_error(ErrorCode::kDecode, std::string(what) + ": RSASSA-PSS signature without parameters");
    }
    const auto* seq = static_cast<const ASN1_STRING*>(param);
    const unsigned char* p = ASN1_STRING_get0_data(seq);
    PssParamsPtr pss(d2i_RSA_PSS_PARAMS(nullptr, &p, ASN1_STRING_length(seq)));
    if (!pss) return openssl_error(ErrorCode::kDecode, std::string(what) + ": malformed RSASSA-PSS parameters");
    md_nid = pss->hashAlgorithm == nullptr ? NID_sha1 : OBJ_obj2nid(pss->hashAlgorithm->algorithm);
  } else {
    int pk_nid = NID_undef;
    if (OBJ_find_sigid_algs(sig_nid, &md_nid, &pk_nid) != 1) {
      return make_error(ErrorCode::kUnsupported, std::string(what) + ": unknown signature algorithm " +
                                                     std::string(OBJ_nid2sn(sig_nid)));
    }
  }
  if (!strong_digest(md_nid)) {
    return make_error(ErrorCode::kUnsupported, std::string(what) + ": signature digest " +
                                                   (md_nid == NID_undef ? std::string("(none)")
                                                                        : std::string(OBJ_nid2sn(md_nid))) +
                                                   " is weaker than SHA-256");
  }
  return {};
}

Status check_issuer_key(const EVP_PKEY* key, std::string_view what) {
  if (key == nullptr) return openssl_error(ErrorCode::kDecode, std::string(what) + ": issuer has no usable public key");
  const int type = EVP_PKEY_get_base_id(key);
  if ((type == EVP_PKEY_RSA || type == EVP_PKEY_RSA_PSS) && EVP_PKEY_get_bits(key) < kMinRsaBits) {
    return make_error(ErrorCode::kUnsupported, std::string(what) + ": RSA issuer key of " +
                                                   std::to_string(EVP_PKEY_get_bits(key)) + " bits is too small");
  }
  return {};
}

uint32_t extension_flags(X509* x) { return X509_get_extension_flags(x); }

}  // namespace

// ---- Certificate ----

Result<Certificate> Certificate::from_der(ByteSpan der) {
  if (der.empty()) return make_error(ErrorCode::kDecode, "x509: empty certificate");
  if (der.size() > kMaxEncodedSize) return make_error(ErrorCode::kLimitExceeded, "x509: certificate too large");
  const unsigned char* p = der.data();
  X509* raw = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) return openssl_error(ErrorCode::kDecode, "x509: certificate does not parse");
  std::shared_ptr<X509> x509(raw, X509_free);
  if (p != der.data() + der.size()) return make_error(ErrorCode::kDecode, "x509: trailing bytes after certificate");
  // Caches the extensions; malformed ones (bad basicConstraints, duplicate key identifiers, ...) are flagged here.
  if (extension_flags(x509.get()) & EXFLAG_INVALID) {
    return openssl_error(ErrorCode::kDecode, "x509: certificate has malformed extensions");
  }
  ERR_clear_error();
  return Certificate(std::move(x509), Bytes(der.begin(), der.end()));
}

Result<Certificate> Certificate::from_pem(std::string_view pem) {
  auto der = single_pem_block(pem, "CERTIFICATE", "x509");
  if (!der) return std::unexpected(der.error());
  return from_der(*der);
}

Result<Certificate> Certificate::parse(ByteSpan der_or_pem) {
  if (looks_like_pem(der_or_pem)) {
    return from_pem(std::string_view(reinterpret_cast<const char*>(der_or_pem.data()), der_or_pem.size()));
  }
  return from_der(der_or_pem);
}

Result<std::vector<Certificate>> Certificate::parse_pem_bundle(std::string_view pem) {
  auto blocks = read_pem_blocks(pem, "x509");
  if (!blocks) return std::unexpected(blocks.error());
  if (blocks->empty()) return make_error(ErrorCode::kDecode, "x509: no PEM certificate found");
  std::vector<Certificate> certs;
  for (const auto& block : *blocks) {
    if (block.name != "CERTIFICATE") {
      return make_error(ErrorCode::kDecode,
                        "x509: unexpected \"" + block.name + "\" PEM block in a certificate bundle");
    }
    auto cert = from_der(block.der);
    if (!cert) return std::unexpected(cert.error());
    certs.push_back(std::move(*cert));
  }
  return certs;
}

std::string Certificate::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), x509_.get()) != 1) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string Certificate::subject() const { return name_to_string(X509_get_subject_name(x509_.get())); }
std::string Certificate::issuer() const { return name_to_string(X509_get_issuer_name(x509_.get())); }
Bytes Certificate::serial_number() const { return integer_magnitude(X509_get0_serialNumber(x509_.get())); }
UnixTime Certificate::not_before() const { return to_unix_time(X509_get0_notBefore(x509_.get())); }
UnixTime Certificate::not_after() const { return to_unix_time(X509_get0_notAfter(x509_.get())); }

Result<Bytes> Certificate::public_key_spki_der() const {
  unsigned char* out = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509_.get()), &out);
  if (size <= 0) return openssl_error(ErrorCode::kDecode, "x509: cannot encode the public key");
  Bytes der(out, out + size);
  OPENSSL_free(out);
  return der;
}

Result<Certificate::EcKey> Certificate::ec_public_key() const {
  const EVP_PKEY* key = X509_get0_pubkey(x509_.get());
  if (key == nullptr) return openssl_error(ErrorCode::kDecode, "x509: no usable public key");
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return make_error(ErrorCode::kUnsupported, "x509: not an EC key");
  char name[64] = {};
  size_t name_length = 0;
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &name_length) != 1 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
    BN_free(x);
    BN_free(y);
    return openssl_error(ErrorCode::kUnsupported, "x509: EC key without a named curve or coordinates");
  }
  BignumPtr owned_x(x), owned_y(y);
  const int field_bytes = (EVP_PKEY_get_bits(key) + 7) / 8;
  EcKey out{std::string(name, name_length), Bytes(1 + 2 * static_cast<size_t>(field_bytes))};
  out.point[0] = 0x04;
  if (BN_bn2binpad(x, out.point.data() + 1, field_bytes) < 0 ||
      BN_bn2binpad(y, out.point.data() + 1 + field_bytes, field_bytes) < 0) {
    return openssl_error(ErrorCode::kDecode, "x509: EC point does not fit its curve");
  }
  return out;
}

Status Certificate::check_valid_at(UnixTime time) const {
  const UnixTime from = not_before();
  const UnixTime until = not_after();
  if (time < from) {
    return make_error(ErrorCode::kUnauthenticated,
                      "x509: certificate \"" + subject() + "\" is not valid before " + format_time(from));
  }
  if (time > until) {
    return make_error(ErrorCode::kUnauthenticated,
                      "x509: certificate \"" + subject() + "\" expired at " + format_time(until));
  }
  return {};
}

bool Certificate::is_ca() const { return (extension_flags(x509_.get()) & EXFLAG_CA) != 0; }

bool Certificate::has_unknown_critical_extension() const {
  return (extension_flags(x509_.get()) & EXFLAG_CRITICAL) != 0;
}

Result<std::optional<Bytes>> Certificate::extension(std::string_view dotted_oid) const {
  const std::string oid_text(dotted_oid);
  Asn1ObjectPtr oid(OBJ_txt2obj(oid_text.c_str(), /*no_name=*/1));
  if (!oid) return openssl_error(ErrorCode::kInvalidArgument, "x509: malformed OID \"" + oid_text + "\"");
  const int index = X509_get_ext_by_OBJ(x509_.get(), oid.get(), -1);
  if (index < 0) return std::optional<Bytes>();
  if (X509_get_ext_by_OBJ(x509_.get(), oid.get(), index) >= 0) {
    return make_error(ErrorCode::kDecode, "x509: extension " + oid_text + " occurs more than once");
  }
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(X509_get_ext(x509_.get(), index));
  const unsigned char* data = ASN1_STRING_get0_data(value);
  return std::optional<Bytes>(Bytes(data, data + ASN1_STRING_length(value)));
}

Status Certificate::verify_signature_by(const Certificate& issuer) const {
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(nullptr, &alg, x509_.get());
  if (auto ok = check_signature_algorithm(alg, "x509"); !ok) return ok;
  EVP_PKEY* key = X509_get0_pubkey(issuer.x509_.get());
  if (auto ok = check_issuer_key(key, "x509"); !ok) return ok;
  if (X509_verify(x509_.get(), key) != 1) {
    return openssl_error(ErrorCode::kAuthenticationFailed,
                         "x509: signature of \"" + subject() + "\" does not verify under \"" + issuer.subject() +
                             "\"'s key");
  }
  return {};
}

Status Certificate::verify_issued_by(const Certificate& issuer) const {
  if (!issuer.is_ca()) {
    return make_error(ErrorCode::kAuthenticationFailed, "x509: issuer \"" + issuer.subject() + "\" is not a CA");
  }
  // Names, key identifiers and keyCertSign.
  const int issued = X509_check_issued(issuer.x509_.get(), x509_.get());
  if (issued != X509_V_OK) {
    return make_error(ErrorCode::kAuthenticationFailed,
                      "x509: \"" + subject() + "\" was not issued by \"" + issuer.subject() +
                          "\": " + X509_verify_cert_error_string(issued));
  }
  // pathLenConstraint 0: the issuer may sign end-entity certificates (and itself), not further CAs.
  const bool self_issued = X509_NAME_cmp(X509_get_subject_name(x509_.get()), X509_get_issuer_name(x509_.get())) == 0;
  if (is_ca() && !self_issued && X509_get_pathlen(issuer.x509_.get()) == 0) {
    return make_error(ErrorCode::kAuthenticationFailed,
                      "x509: \"" + issuer.subject() + "\" may not issue CA certificates (pathLenConstraint 0)");
  }
  return verify_signature_by(issuer);
}

// ---- CertificateRevocationList ----

Result<CertificateRevocationList> CertificateRevocationList::from_der(ByteSpan der) {
  if (der.empty()) return make_error(ErrorCode::kDecode, "x509 crl: empty CRL");
  if (der.size() > kMaxEncodedSize) return make_error(ErrorCode::kLimitExceeded, "x509 crl: CRL too large");
  const unsigned char* p = der.data();
  X509_CRL* raw = d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) return openssl_error(ErrorCode::kDecode, "x509 crl: CRL does not parse");
  std::shared_ptr<X509_CRL> crl(raw, X509_CRL_free);
  if (p != der.data() + der.size()) return make_error(ErrorCode::kDecode, "x509 crl: trailing bytes after CRL");
  ERR_clear_error();
  return CertificateRevocationList(std::move(crl), Bytes(der.begin(), der.end()));
}

Result<CertificateRevocationList> CertificateRevocationList::from_pem(std::string_view pem) {
  auto der = single_pem_block(pem, "X509 CRL", "x509 crl");
  if (!der) return std::unexpected(der.error());
  return from_der(*der);
}

Result<CertificateRevocationList> CertificateRevocationList::parse(ByteSpan der_or_pem) {
  if (looks_like_pem(der_or_pem)) {
    return from_pem(std::string_view(reinterpret_cast<const char*>(der_or_pem.data()), der_or_pem.size()));
  }
  return from_der(der_or_pem);
}

std::string CertificateRevocationList::issuer() const { return name_to_string(X509_CRL_get_issuer(crl_.get())); }
UnixTime CertificateRevocationList::this_update() const { return to_unix_time(X509_CRL_get0_lastUpdate(crl_.get())); }

std::optional<UnixTime> CertificateRevocationList::next_update() const {
  const ASN1_TIME* t = X509_CRL_get0_nextUpdate(crl_.get());
  if (t == nullptr) return std::nullopt;
  return to_unix_time(t);
}

std::vector<Bytes> CertificateRevocationList::revoked_serials() const {
  std::vector<Bytes> serials;
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl_.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    serials.push_back(integer_magnitude(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  }
  return serials;
}

Status CertificateRevocationList::verify_signed_by(const Certificate& issuer) const {
  X509* issuer_x509 = issuer.x509_.get();
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl_.get()), X509_get_subject_name(issuer_x509)) != 0) {
    return make_error(ErrorCode::kAuthenticationFailed,
                      "x509 crl: CRL of \"" + this->issuer() + "\" is not issued by \"" + issuer.subject() + "\"");
  }
  if ((extension_flags(issuer_x509) & EXFLAG_KUSAGE) && !(X509_get_key_usage(issuer_x509) & KU_CRL_SIGN)) {
    return make_error(ErrorCode::kAuthenticationFailed,
                      "x509 crl: \"" + issuer.subject() + "\" may not sign CRLs (no cRLSign key usage)");
  }
  const X509_ALGOR* alg = nullptr;
  X509_CRL_get0_signature(crl_.get(), nullptr, &alg);
  if (auto ok = check_signature_algorithm(alg, "x509 crl"); !ok) return ok;
  EVP_PKEY* key = X509_get0_pubkey(issuer_x509);
  if (auto ok = check_issuer_key(key, "x509 crl"); !ok) return ok;
  if (X509_CRL_verify(crl_.get(), key) != 1) {
    return openssl_error(ErrorCode::kAuthenticationFailed,
                         "x509 crl: signature of the CRL of \"" + this->issuer() + "\" does not verify");
  }
  return {};
}

Status CertificateRevocationList::check_current_at(UnixTime time) const {
  const auto next = next_update();
  if (!next) {
    return make_error(ErrorCode::kUnauthenticated, "x509 crl: CRL of \"" + issuer() + "\" has no nextUpdate");
  }
  if (time < this_update()) {
    return make_error(ErrorCode::kUnauthenticated,
                      "x509 crl: CRL of \"" + issuer() + "\" is not valid before " + format_time(this_update()));
  }
  if (time > *next) {
    return make_error(ErrorCode::kUnauthenticated,
                      "x509 crl: CRL of \"" + issuer() + "\" is stale since " + format_time(*next));
  }
  return {};
}

bool CertificateRevocationList::lists_serial(ByteSpan serial) const {
  const Bytes wanted = strip_leading_zeros(serial);
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl_.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    if (integer_magnitude(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))) == wanted) return true;
  }
  return false;
}

bool CertificateRevocationList::is_revoked(const Certificate& cert) const {
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl_.get()), X509_get_issuer_name(cert.x509_.get())) != 0) return false;
  return lists_serial(cert.serial_number());
}

// ---- DER values ----

Result<int64_t> decode_der_integer(ByteSpan der) {
  const unsigned char* p = der.data();
  Asn1IntegerPtr value(d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(der.size())));
  if (!value) return openssl_error(ErrorCode::kDecode, "der: not an INTEGER");
  if (p != der.data() + der.size()) return make_error(ErrorCode::kDecode, "der: trailing bytes after INTEGER");
  int64_t out = 0;
  if (ASN1_INTEGER_get_int64(&out, value.get()) != 1) {
    return openssl_error(ErrorCode::kDecode, "der: INTEGER does not fit 64 bits");
  }
  return out;
}

Result<std::string> decode_der_ia5_string(ByteSpan der) {
  const unsigned char* p = der.data();
  Asn1Ia5StringPtr value(d2i_ASN1_IA5STRING(nullptr, &p, static_cast<long>(der.size())));
  if (!value) return openssl_error(ErrorCode::kDecode, "der: not an IA5String");
  if (p != der.data() + der.size()) return make_error(ErrorCode::kDecode, "der: trailing bytes after IA5String");
  const unsigned char* data = ASN1_STRING_get0_data(value.get());
  return std::string(data, data + ASN1_STRING_length(value.get()));
}

}  // namespace openpcc::crypto
