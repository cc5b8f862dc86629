#include "conformance/rsa_key_fields.h"

#include <array>

#include <nlohmann/json.hpp>

#include "common/secure.h"
#include "conformance/fields.h"

namespace openpcc::conformance {

Result<crypto::RsaPublicKey> rsa_public_key_fields(const nlohmann::json& req) {
  auto n = hex_field(req, "n");
  if (!n) return std::unexpected(n.error());
  auto e = hex_field(req, "e");
  if (!e) return std::unexpected(e.error());
  auto key = crypto::RsaPublicKey::from_components(*n, *e);
  if (!key) return std::unexpected(wrap_error("public key", key.error()));
  return key;
}

Result<crypto::RsaPrivateKey> rsa_private_key_fields(const nlohmann::json& req) {
  std::array<Result<Bytes>, 5> parts = {hex_field(req, "n"), hex_field(req, "e"), hex_field(req, "d"),
                                        hex_field(req, "p"), hex_field(req, "q")};
  // d, p and q arrive in the clear on this interface; keep our copies in wiped buffers all the same.
  std::array<SecretBytes, 3> secrets;
  for (size_t i = 2; i < parts.size(); ++i) {
    if (!parts[i]) continue;
    secrets[i - 2] = SecretBytes(*parts[i]);
    secure_wipe(parts[i]->data(), parts[i]->size());
  }
  for (const auto& part : parts) {
    if (!part) return std::unexpected(part.error());
  }
  auto key = crypto::RsaPrivateKey::from_components(*parts[0], *parts[1], secrets[0], secrets[1], secrets[2]);
  if (!key) return std::unexpected(wrap_error("private key", key.error()));
  return key;
}

}  // namespace openpcc::conformance
