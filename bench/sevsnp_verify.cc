// SEV-SNP report verification on the real Azure (Genoa) report of tests/data/attestation, against the real VCEK,
// AMD's embedded Genoa ARK/ASK and the real Genoa CRL, at a time inside every validity window.
//
//   sevsnp/verify_full/ours          attest::verify_sevsnp_report: parse, VCEK extensions, the chain (ARK self-signed,
//                                    ASK by ARK, VCEK by ASK: three RSA-4096 RSASSA-PSS verifications), the CRL
//                                    (a fourth), validity, revocation, the report's ECDSA P-384 signature, policy.
//   sevsnp/verify_full/floor         the same signature work as bare OpenSSL calls on pre-parsed objects: X509_verify
//                                    ×3, X509_CRL_verify, and the ECDSA floor below. No names, extensions, times or
//                                    policy.
//   sevsnp/report_signature/ours     the report signature alone through our API: EcdsaPublicKey::verify (SHA-384 of
//                                    the 0x2A0 signed bytes + P-384 verification), key prepared once.
//   sevsnp/report_signature/floor    EVP_DigestVerify with SHA-384 on a prepared P-384 key and a DER signature built
//                                    once: the raw ECDSA-P384 floor.
//   sevsnp/parse/ours                parse_sevsnp_report alone (no floor: it is a memcpy-sized job).
//   sevsnp/parts/*                   pieces of verify_full/ours, to see where the time goes.
#include <benchmark/benchmark.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "attest/sevsnp_report.h"
#include "attest/sevsnp_verify.h"
#include "crypto/ecdsa.h"
#include "floor.h"
#include "support/txtar.h"

namespace openpcc::bench {
namespace {

using namespace openpcc::attest;

std::string test_data_dir() {
  if (const char* dir = std::getenv("OPENPCC_TEST_DATA_DIR")) return dir;
  std::string here = __FILE__;  // .../bench/sevsnp_verify.cc
  return here.substr(0, here.rfind("/bench/")) + "/tests/data";
}

struct Data {
  Bytes report;
  std::string vcek_pem;
  std::string genoa_chain_pem;  // ASK then ARK
  std::string genoa_crl_pem;
};

const Data& data() {
  static const Data d = [] {
    const std::string dir = test_data_dir() + "/attestation/";
    auto blob = test_support::txtar_pem(dir + "azure_sevsnp_report.txt", "test_azure_sevsnp_report.pem");
    check(blob && blob->size() >= 32 + kSevSnpReportSize, "read azure_sevsnp_report.txt (set OPENPCC_TEST_DATA_DIR)");
    auto archive = test_support::read_file(dir + "sev_certificates.txt");
    check(archive.has_value(), "read sev_certificates.txt");
    Data out;
    out.report.assign(blob->begin() + 32, blob->begin() + 32 + kSevSnpReportSize);
    out.vcek_pem = test_support::txtar_section(*archive, "test_vcek.pem").value_or("");
    out.genoa_chain_pem = test_support::txtar_section(*archive, "test_amd_sev_genoa_root_certs.pem").value_or("");
    out.genoa_crl_pem = test_support::txtar_section(*archive, "test_amd_genoa_crl.pem").value_or("");
    return out;
  }();
  return d;
}

SevSnpPolicy azure_policy() {
  SevSnpPolicy policy;
  policy.crls = {crypto::CertificateRevocationList::from_pem(data().genoa_crl_pem).value()};
  policy.verification_time = crypto::UnixTime(std::chrono::sys_days{std::chrono::year{2025} / 8 / 1});
  return policy;
}

// ---- The floor, on bare OpenSSL objects ----

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct CrlFree {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::unique_ptr<X509, X509Free> pem_cert(const std::string& pem, int index) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = nullptr;
  for (int i = 0; i <= index; ++i) {
    X509_free(x);
    x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  }
  BIO_free(bio);
  check(x != nullptr, "PEM_read_bio_X509");
  return std::unique_ptr<X509, X509Free>(x);
}

class FloorSevSnp {
 public:
  FloorSevSnp()
      : vcek_(pem_cert(data().vcek_pem, 0)),
        ask_(pem_cert(data().genoa_chain_pem, 0)),
        ark_(pem_cert(data().genoa_chain_pem, 1)),
        md_(EVP_MD_fetch(nullptr, "SHA2-384", nullptr)),
        ctx_(EVP_MD_CTX_new()) {
    BIO* bio = BIO_new_mem_buf(data().genoa_crl_pem.data(), static_cast<int>(data().genoa_crl_pem.size()));
    crl_.reset(PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    check(crl_ != nullptr && md_ != nullptr && ctx_ != nullptr, "floor setup");
    vcek_key_.reset(X509_get_pubkey(vcek_.get()));
    // The report's R and S (72-byte little-endian fields) as a DER ECDSA-Sig-Value, built once.
    const Bytes& r = data().report;
    BIGNUM* bn_r = BN_lebin2bn(r.data() + 0x2A0, 72, nullptr);
    BIGNUM* bn_s = BN_lebin2bn(r.data() + 0x2E8, 72, nullptr);
    ECDSA_SIG* sig = ECDSA_SIG_new();
    check(bn_r && bn_s && sig && ECDSA_SIG_set0(sig, bn_r, bn_s) == 1, "ECDSA_SIG");
    unsigned char* der = nullptr;
    const int n = i2d_ECDSA_SIG(sig, &der);
    check(n > 0, "i2d_ECDSA_SIG");
    signature_der_.assign(der, der + n);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
  }
  ~FloorSevSnp() { EVP_MD_free(md_); }

  // SHA-384 fetched once; the digest context reused.
  bool report_signature() {
    const Bytes& r = data().report;
    EVP_PKEY_CTX* pctx = nullptr;
    return EVP_DigestVerifyInit(ctx_.get(), &pctx, md_, nullptr, vcek_key_.get()) == 1 &&
           EVP_DigestVerify(ctx_.get(), signature_der_.data(), signature_der_.size(), r.data(), 0x2A0) == 1;
  }

  bool full() {
    EVP_PKEY* ark_key = X509_get0_pubkey(ark_.get());
    return X509_verify(ark_.get(), ark_key) == 1 && X509_verify(ask_.get(), ark_key) == 1 &&
           X509_verify(vcek_.get(), X509_get0_pubkey(ask_.get())) == 1 && X509_CRL_verify(crl_.get(), ark_key) == 1 &&
           report_signature();
  }

 private:
  std::unique_ptr<X509, X509Free> vcek_, ask_, ark_;
  std::unique_ptr<X509_CRL, CrlFree> crl_;
  std::unique_ptr<EVP_PKEY, PkeyFree> vcek_key_;
  EVP_MD* md_;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx_;
  Bytes signature_der_;
};

// ---- Benchmarks ----

void BM_verify_full_ours(benchmark::State& state) {
  const SevSnpCertificates certs = parse_sevsnp_certificates(as_bytes(data().vcek_pem)).value();
  const SevSnpPolicy policy = azure_policy();
  {
    auto v = verify_sevsnp_report(data().report, certs, policy);
    check(v && v->valid(), "cross-check: the Azure report verifies");
    Bytes bad = data().report;
    bad[0x90] ^= 1;
    check(!verify_sevsnp_report(bad, certs, policy)->valid(), "cross-check: a tampered report fails");
  }
  for (auto _ : state) {
    auto v = verify_sevsnp_report(data().report, certs, policy);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_verify_full_ours)->Name("sevsnp/verify_full/ours")->Unit(benchmark::kMicrosecond);

void BM_verify_full_floor(benchmark::State& state) {
  FloorSevSnp floor;
  check(floor.full(), "cross-check: the floor verifies the chain, CRL and report");
  for (auto _ : state) benchmark::DoNotOptimize(floor.full());
}
BENCHMARK(BM_verify_full_floor)->Name("sevsnp/verify_full/floor")->Unit(benchmark::kMicrosecond);

void BM_report_signature_ours(benchmark::State& state) {
  const auto certs = parse_sevsnp_certificates(as_bytes(data().vcek_pem)).value();
  const auto key = crypto::EcdsaPublicKey::from_spki_der(certs.vcek.public_key_spki_der().value()).value();
  const SevSnpReport report = parse_sevsnp_report(data().report).value();
  const ByteSpan signed_part = ByteSpan(data().report).first(kSevSnpSignedSize);
  check(key.verify(signed_part, report.signature_r, report.signature_s).has_value(), "cross-check: ours verifies");
  for (auto _ : state) benchmark::DoNotOptimize(key.verify(signed_part, report.signature_r, report.signature_s));
}
BENCHMARK(BM_report_signature_ours)->Name("sevsnp/report_signature/ours")->Unit(benchmark::kMicrosecond);

void BM_report_signature_floor(benchmark::State& state) {
  FloorSevSnp floor;
  check(floor.report_signature(), "cross-check: the floor verifies the report");
  for (auto _ : state) benchmark::DoNotOptimize(floor.report_signature());
}
BENCHMARK(BM_report_signature_floor)->Name("sevsnp/report_signature/floor")->Unit(benchmark::kMicrosecond);

void BM_parse_ours(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(parse_sevsnp_report(data().report));
}
BENCHMARK(BM_parse_ours)->Name("sevsnp/parse/ours")->Unit(benchmark::kMicrosecond);

void BM_part_vcek_key(benchmark::State& state) {
  const auto certs = parse_sevsnp_certificates(as_bytes(data().vcek_pem)).value();
  for (auto _ : state) {
    auto key = certs.vcek.ec_public_key();
    benchmark::DoNotOptimize(crypto::EcdsaPublicKey::from_point(crypto::EcCurve::kP384, key->point));
  }
}
BENCHMARK(BM_part_vcek_key)->Name("sevsnp/parts/vcek_key")->Unit(benchmark::kMicrosecond);

// What the key costs when re-imported from its SPKI DER instead (OpenSSL 3.0's decoder framework).
void BM_part_vcek_key_spki(benchmark::State& state) {
  const auto certs = parse_sevsnp_certificates(as_bytes(data().vcek_pem)).value();
  const Bytes spki = certs.vcek.public_key_spki_der().value();
  for (auto _ : state) benchmark::DoNotOptimize(crypto::EcdsaPublicKey::from_spki_der(spki));
}
BENCHMARK(BM_part_vcek_key_spki)->Name("sevsnp/parts/vcek_key_via_spki")->Unit(benchmark::kMicrosecond);

void BM_part_vcek_extensions(benchmark::State& state) {
  const auto certs = parse_sevsnp_certificates(as_bytes(data().vcek_pem)).value();
  for (auto _ : state) benchmark::DoNotOptimize(read_vcek_extensions(certs.vcek));
}
BENCHMARK(BM_part_vcek_extensions)->Name("sevsnp/parts/vcek_extensions")->Unit(benchmark::kMicrosecond);

void BM_part_chain(benchmark::State& state) {
  const auto certs = parse_sevsnp_certificates(as_bytes(data().vcek_pem)).value();
  const auto& root = embedded_amd_roots()[1];
  check(root.product == AmdProduct::kGenoa, "Genoa root");
  for (auto _ : state) {
    benchmark::DoNotOptimize(root.ark.verify_issued_by(root.ark));
    benchmark::DoNotOptimize(root.ask.verify_issued_by(root.ark));
    benchmark::DoNotOptimize(certs.vcek.verify_issued_by(root.ask));
  }
}
BENCHMARK(BM_part_chain)->Name("sevsnp/parts/chain_3_certs")->Unit(benchmark::kMicrosecond);

void BM_part_crl(benchmark::State& state) {
  const auto crl = crypto::CertificateRevocationList::from_pem(data().genoa_crl_pem).value();
  const auto& root = embedded_amd_roots()[1];
  for (auto _ : state) benchmark::DoNotOptimize(crl.verify_signed_by(root.ark));
}
BENCHMARK(BM_part_crl)->Name("sevsnp/parts/crl")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace openpcc::bench
