// AMD's SEV-SNP key distribution roots: the self-signed ARK (AMD Root Key) and the ASK (AMD SEV Key, signed by the
// ARK) of each processor product, as AMD's Key Distribution Service publishes them
// (https://kdsintf.amd.com/vcek/v1/<product>/cert_chain). Both are RSA-4096 with RSASSA-PSS SHA-384 signatures; the
// ASK signs each chip's VCEK, whose key signs the attestation reports.
//
// The certificates are public data, embedded so that verification works offline and cannot be redirected to
// another root.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "crypto/x509.h"

namespace openpcc::attest {

enum class AmdProduct { kMilan, kGenoa };

// "Milan", "Genoa": the names KDS and the VCEK productName extension use.
std::string_view to_string(AmdProduct product);
// Accepts a product name with an optional stepping suffix ("Milan", "Milan-B0", "Genoa"); nullopt for others.
std::optional<AmdProduct> amd_product_from_name(std::string_view name);

struct AmdRootCertificates {
  AmdProduct product;
  crypto::Certificate ark;
  crypto::Certificate ask;
};

// The embedded Milan and Genoa roots, parsed once (immutable afterwards).
const std::vector<AmdRootCertificates>& embedded_amd_roots();
// The same as PEM text.
std::string_view embedded_ark_pem(AmdProduct product);
std::string_view embedded_ask_pem(AmdProduct product);

}  // namespace openpcc::attest
