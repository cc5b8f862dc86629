// Self-signed certificates for services: files and modes, reuse, regeneration when hosts change or the pair is
// broken, and a real TLS exchange trusting the certificate for both an IP address and a DNS name.
#include "services/common/self_signed_cert.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "support/temp_dir.h"

namespace openpcc::services {
namespace {

using namespace std::chrono_literals;

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 0777;
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::unique_ptr<X509, X509Free> load_cert(const std::filesystem::path& p) {
  const std::string pem = read_text(p);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

TEST(SelfSignedCert, GeneratesReusesAndRegenerates) {
  openpcc::test_support::TempDir dir;
  auto first = ensure_self_signed_certificate(dir.path(), "svc", {"localhost", "127.0.0.1", "::1"});
  ASSERT_TRUE(first.has_value()) << first.error().to_string();
  EXPECT_TRUE(first->generated);
  EXPECT_EQ(first->certificate_file, dir / "svc-tls-cert.pem");
  EXPECT_EQ(first->private_key_file, dir / "svc-tls-key.pem");
  EXPECT_EQ(mode_of(first->private_key_file), 0600u);
  EXPECT_EQ(mode_of(first->certificate_file), 0644u);
  EXPECT_NE(read_text(first->private_key_file).find("BEGIN PRIVATE KEY"), std::string::npos);

  auto cert = load_cert(first->certificate_file);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_get_version(cert.get()), 2);  // v3
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 9, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_NE(X509_check_host(cert.get(), "example.com", 11, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(pub), 256);
  EXPECT_EQ(X509_verify(cert.get(), pub), 1);  // self-signed

  const std::string cert_pem = read_text(first->certificate_file);
  auto again = ensure_self_signed_certificate(dir.path(), "svc", {"127.0.0.1", "localhost"});
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->generated);
  EXPECT_EQ(read_text(again->certificate_file), cert_pem);

  auto more_hosts = ensure_self_signed_certificate(dir.path(), "svc", {"localhost", "bank.internal"});
  ASSERT_TRUE(more_hosts.has_value());
  EXPECT_TRUE(more_hosts->generated);
  EXPECT_NE(read_text(more_hosts->certificate_file), cert_pem);

  // A certificate that no longer matches its key (a crash between the two writes) is replaced.
  auto other = ensure_self_signed_certificate(dir.path(), "other", {"localhost"});
  ASSERT_TRUE(other.has_value());
  std::filesystem::copy_file(other->certificate_file, dir / "svc-tls-cert.pem",
                             std::filesystem::copy_options::overwrite_existing);
  auto repaired = ensure_self_signed_certificate(dir.path(), "svc", {"localhost"});
  ASSERT_TRUE(repaired.has_value());
  EXPECT_TRUE(repaired->generated);

  // Expiring soon → replaced.
  auto short_lived = ensure_self_signed_certificate(dir.path(), "short", {"localhost"}, 24h);
  ASSERT_TRUE(short_lived.has_value());
  auto renewed = ensure_self_signed_certificate(dir.path(), "short", {"localhost"});
  ASSERT_TRUE(renewed.has_value());
  EXPECT_TRUE(renewed->generated);
}

TEST(SelfSignedCert, RejectsBadInput) {
  openpcc::test_support::TempDir dir;
  EXPECT_EQ(ensure_self_signed_certificate(dir.path(), "svc", {}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ensure_self_signed_certificate(dir.path(), "svc", {""}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ensure_self_signed_certificate(dir.path(), "svc", {"a b"}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ensure_self_signed_certificate(dir.path(), "svc", {"*.x"}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ensure_self_signed_certificate(dir.path(), "", {"x"}).error().code, ErrorCode::kInvalidArgument);
}

TEST(SelfSignedCert, ServesTlsTrustedByItself) {
  openpcc::test_support::TempDir dir;
  auto files = ensure_self_signed_certificate(dir.path(), "svc", {"localhost", "127.0.0.1"});
  ASSERT_TRUE(files.has_value());
  net::Runtime rt(1);
  net::ServerConfig config;
  config.tls = net::TlsServerFiles{files->certificate_file.string(), files->private_key_file.string()};
  auto server = net::Server::start(rt, config, [](net::ServerRequest&, net::ServerResponse& res) -> net::Task<Status> {
    net::Headers headers;
    co_return co_await res.send(200, std::move(headers), std::string_view("secure"));
  });
  ASSERT_TRUE(server.has_value()) << server.error().to_string();
  const std::string port = std::to_string((*server)->port());
  net::ClientOptions trusting;
  trusting.ca_file = files->certificate_file.string();
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto response = net::fetch_blocking(net::ClientRequest("GET", "https://" + host + ":" + port + "/"), trusting);
    ASSERT_TRUE(response.has_value()) << host << ": " << response.error().to_string();
    EXPECT_EQ(to_string(response->body), "secure");
  }
  // Without trusting it, verification fails.
  auto other = ensure_self_signed_certificate(dir.path(), "other", {"localhost", "127.0.0.1"});
  ASSERT_TRUE(other.has_value());
  net::ClientOptions wrong;
  wrong.ca_file = other->certificate_file.string();
  EXPECT_FALSE(net::fetch_blocking(net::ClientRequest("GET", "https://127.0.0.1:" + port + "/"), wrong).has_value());
  (*server)->shutdown(2s);
}

}  // namespace
}  // namespace openpcc::services
