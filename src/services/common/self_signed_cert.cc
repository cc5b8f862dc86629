#include "services/common/self_signed_cert.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/bytes.h"
#include "common/random.h"
#include "common/secure.h"
#include "services/common/key_files.h"

namespace openpcc::services {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>>;
using BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, Deleter<ASN1_BIT_STRING, ASN1_BIT_STRING_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME, GENERAL_NAME_free>>;
using OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using Ia5StringPtr = std::unique_ptr<ASN1_IA5STRING, Deleter<ASN1_IA5STRING, ASN1_IA5STRING_free>>;

struct ObjectStackFree {
  void operator()(EXTENDED_KEY_USAGE* p) const { sk_ASN1_OBJECT_pop_free(p, ASN1_OBJECT_free); }
};
using ExtendedKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, ObjectStackFree>;

// Key-usage bit positions (RFC 5280 §4.2.1.3).
constexpr int kDigitalSignatureBit = 0;
constexpr int kKeyCertSignBit = 5;

std::unexpected<Error> tls_error(std::string message) {
  ERR_clear_error();
  return make_error(ErrorCode::kCrypto, "self-signed certificate: " + std::move(message));
}

bool is_ip_literal(const std::string& host) {
  OctetStringPtr ip(a2i_IPADDRESS(host.c_str()));
  ERR_clear_error();
  return ip != nullptr;
}

Status check_hosts(const std::vector<std::string>& hosts) {
  if (hosts.empty()) return make_error(ErrorCode::kInvalidArgument, "self-signed certificate: no host names");
  for (const auto& host : hosts) {
    const bool ok = !host.empty() && host.size() <= 253 &&
                    std::all_of(host.begin(), host.end(), [](char c) { return c > 32 && c < 127 && c != '*'; });
    if (!ok) return make_error(ErrorCode::kInvalidArgument, "self-signed certificate: invalid host name");
  }
  return {};
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

Result<std::string> read_public_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The existing pair, if it can be reused as it is.
bool reusable(const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
              const std::vector<std::string>& hosts, std::chrono::hours min_remaining) {
  auto key_pem = read_secret_file(key_path);
  auto cert_pem = read_public_text(cert_path);
  if (!key_pem || !cert_pem) return false;
  BioPtr key_bio(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  BioPtr cert_bio(BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
  if (!key_bio || !cert_bio) return false;
  PkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  X509Ptr cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  bool ok = key && cert && X509_check_private_key(cert.get(), key.get()) == 1;
  if (ok) {
    std::time_t now = std::time(nullptr);
    std::time_t until = now + static_cast<std::time_t>(std::chrono::seconds(min_remaining).count());
    ok = X509_cmp_time(X509_get0_notBefore(cert.get()), &now) < 0 &&
         X509_cmp_time(X509_get0_notAfter(cert.get()), &until) > 0;
  }
  for (const auto& host : hosts) {
    if (!ok) break;
    ok = is_ip_literal(host) ? X509_check_ip_asc(cert.get(), host.c_str(), 0) == 1
                             : X509_check_host(cert.get(), host.data(), host.size(),
                                               X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
  }
  ERR_clear_error();
  return ok;
}

Status add_extensions(X509* cert, const std::vector<std::string>& hosts) {
  BasicConstraintsPtr constraints(BASIC_CONSTRAINTS_new());
  if (!constraints) return tls_error("out of memory");
  constraints->ca = 1;
  if (X509_add1_ext_i2d(cert, NID_basic_constraints, constraints.get(), 1, X509V3_ADD_DEFAULT) != 1) {
    return tls_error("basicConstraints");
  }

  BitStringPtr usage(ASN1_BIT_STRING_new());
  if (!usage || ASN1_BIT_STRING_set_bit(usage.get(), kDigitalSignatureBit, 1) != 1 ||
      ASN1_BIT_STRING_set_bit(usage.get(), kKeyCertSignBit, 1) != 1 ||
      X509_add1_ext_i2d(cert, NID_key_usage, usage.get(), 1, X509V3_ADD_DEFAULT) != 1) {
    return tls_error("keyUsage");
  }

  ExtendedKeyUsagePtr extended(sk_ASN1_OBJECT_new_null());
  if (!extended || sk_ASN1_OBJECT_push(extended.get(), OBJ_nid2obj(NID_server_auth)) <= 0 ||
      X509_add1_ext_i2d(cert, NID_ext_key_usage, extended.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return tls_error("extendedKeyUsage");
  }

  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return tls_error("out of memory");
  for (const auto& host : hosts) {
    GeneralNamePtr name(GENERAL_NAME_new());
    if (!name) return tls_error("out of memory");
    if (is_ip_literal(host)) {
      OctetStringPtr ip(a2i_IPADDRESS(host.c_str()));
      if (!ip) return tls_error("bad IP address");
      GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip.release());
    } else {
      Ia5StringPtr dns(ASN1_IA5STRING_new());
      if (!dns || ASN1_STRING_set(dns.get(), host.data(), static_cast<int>(host.size())) != 1) {
        return tls_error("bad DNS name");
      }
      GENERAL_NAME_set0_value(name.get(), GEN_DNS, dns.release());
    }
    if (sk_GENERAL_NAME_push(names.get(), name.get()) <= 0) return tls_error("out of memory");
    name.release();  // owned by the stack now
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return tls_error("subjectAltName");
  }
  return {};
}

Status generate(const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
                const std::vector<std::string>& hosts, std::chrono::hours validity) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) return tls_error("key generation failed");

  // A random positive 128-bit serial (RFC 5280 §4.1.2.2 allows up to 20 octets).
  Bytes serial_bytes = random_bytes(16);
  serial_bytes[0] &= 0x7f;
  BignumPtr serial(BN_bin2bn(serial_bytes.data(), static_cast<int>(serial_bytes.size()), nullptr));
  Asn1IntegerPtr serial_integer(serial ? BN_to_ASN1_INTEGER(serial.get(), nullptr) : nullptr);
  if (!serial_integer || X509_set_version(cert.get(), 2) != 1 ||
      X509_set_serialNumber(cert.get(), serial_integer.get()) != 1) {
    return tls_error("serial number");
  }
  // An hour of slack for clocks that are a little behind.
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(std::chrono::seconds(validity).count()))) {
    return tls_error("validity");
  }
  NamePtr name(X509_NAME_new());
  const std::string common_name = hosts.front();
  if (!name ||
      X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1 || X509_set_issuer_name(cert.get(), name.get()) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return tls_error("subject");
  }
  if (Status s = add_extensions(cert.get(), hosts); !s) return s;
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return tls_error("signing failed");

  BioPtr key_bio(BIO_new(BIO_s_mem()));
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return tls_error("PEM encoding failed");
  }
  std::string key_pem = bio_text(key_bio.get());
  const std::string cert_pem = bio_text(cert_bio.get());
  Status wrote = write_secret_file_atomically(key_path, as_bytes(key_pem));
  secure_wipe(key_pem.data(), key_pem.size());
  if (!wrote) return wrote;
  return write_public_file_atomically(cert_path, as_bytes(cert_pem));
}

}  // namespace

Result<SelfSignedCertificate> ensure_self_signed_certificate(const std::filesystem::path& dir, std::string_view name,
                                                             const std::vector<std::string>& hosts,
                                                             std::chrono::hours validity,
                                                             std::chrono::hours min_remaining) {
  if (Status s = check_hosts(hosts); !s) return std::unexpected(s.error());
  if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "self-signed certificate: empty name");
  SelfSignedCertificate out;
  out.certificate_file = dir / (std::string(name) + "-tls-cert.pem");
  out.private_key_file = dir / (std::string(name) + "-tls-key.pem");
  if (reusable(out.certificate_file, out.private_key_file, hosts, min_remaining)) return out;
  if (Status s = generate(out.certificate_file, out.private_key_file, hosts, validity); !s) {
    return std::unexpected(s.error());
  }
  out.generated = true;
  return out;
}

}  // namespace openpcc::services
