// A self-signed TLS certificate for a service that has no other (the local stack, tests): generated once into the
// data directory and reused while it is valid.
//
//   auto files = ensure_self_signed_certificate(data_dir, "authbank", {"localhost", "127.0.0.1"});
//   config.tls = net::TlsServerFiles{files->certificate_file, files->private_key_file};
//   // clients trust it with net::ClientOptions::ca_file = files->certificate_file
//
// The key is ECDSA P-256 (PKCS#8 PEM, mode 0600, written atomically with key_files.h), the certificate is X.509 v3,
// self-issued, SHA-256-signed, with a random 128-bit serial, subjectAltName = the given hosts (IP literals as IP
// addresses, the rest as DNS names), CA:TRUE so that it can serve as its own trust anchor, and serverAuth.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace openpcc::services {

struct SelfSignedCertificate {
  std::filesystem::path certificate_file;  // <dir>/<name>-tls-cert.pem (mode 0644)
  std::filesystem::path private_key_file;  // <dir>/<name>-tls-key.pem (mode 0600)
  bool generated = false;                  // false: an existing pair was reused
};

// Reuses the pair in `dir` if the key loads (with key_files.h's permission rule), belongs to the certificate, the
// certificate names every host in `hosts` and stays valid for at least `min_remaining`; otherwise generates a new
// pair valid for `validity` and replaces both files (key first: a crash in between leaves a mismatched pair, which
// the next call replaces). kInvalidArgument for an empty host list or an empty/invalid host name.
Result<SelfSignedCertificate> ensure_self_signed_certificate(
    const std::filesystem::path& dir, std::string_view name, const std::vector<std::string>& hosts,
    std::chrono::hours validity = std::chrono::hours(24 * 365),
    std::chrono::hours min_remaining = std::chrono::hours(24 * 30));

}  // namespace openpcc::services
