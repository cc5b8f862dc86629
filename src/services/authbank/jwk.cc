#include "services/authbank/jwk.h"

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/json_parse.h"
#include "crypto/sha256.h"

namespace openpcc::authbank {

std::string rsa_public_key_to_jwk(const crypto::RsaPublicKey& key) {
  nlohmann::json jwk = {
      {"kty", "RSA"},
      {"use", "sig"},
      {"kid", rsa_jwk_thumbprint(key)},
      {"n", to_base64url(key.n)},
      {"e", to_base64url(key.e)},
  };
  return jwk.dump();  // nlohmann orders object keys ascending
}

std::string rsa_jwk_thumbprint(const crypto::RsaPublicKey& key) {
  // RFC 7638 §3: the required members only, lexicographic order, no whitespace.
  const std::string canonical =
      R"({"e":")" + to_base64url(key.e) + R"(","kty":"RSA","n":")" + to_base64url(key.n) + R"("})";
  return to_base64url(crypto::sha256(as_bytes(canonical)));
}

Result<crypto::RsaPublicKey> rsa_public_key_from_jwk(std::string_view json) {
  auto parsed = parse_json(json);
  if (!parsed || !parsed->is_object()) return make_error(ErrorCode::kDecode, "jwk: not a JSON object");
  const nlohmann::json& jwk = *parsed;
  auto member = [&](const char* name) -> const nlohmann::json* {
    auto it = jwk.find(name);
    return it == jwk.end() ? nullptr : &*it;
  };
  const auto* kty = member("kty");
  if (!kty || !kty->is_string() || kty->get<std::string>() != "RSA") {
    return make_error(ErrorCode::kInvalidArgument, "jwk: kty must be \"RSA\"");
  }
  if (const auto* use = member("use"); use && (!use->is_string() || use->get<std::string>() != "sig")) {
    return make_error(ErrorCode::kInvalidArgument, "jwk: use must be \"sig\"");
  }
  const auto* n = member("n");
  const auto* e = member("e");
  if (!n || !n->is_string() || !e || !e->is_string()) {
    return make_error(ErrorCode::kDecode, "jwk: n and e must be strings");
  }
  auto n_bytes = from_base64url(n->get<std::string>());
  auto e_bytes = from_base64url(e->get<std::string>());
  if (!n_bytes || !e_bytes) return make_error(ErrorCode::kDecode, "jwk: n and e must be base64url");
  if ((!n_bytes->empty() && (*n_bytes)[0] == 0) || (!e_bytes->empty() && (*e_bytes)[0] == 0)) {
    return make_error(ErrorCode::kDecode, "jwk: n and e must not have leading zero bytes");
  }
  auto key = crypto::RsaPublicKey::from_components(*n_bytes, *e_bytes);
  if (!key) return std::unexpected(wrap_error("jwk", key.error()));
  return key;
}

}  // namespace openpcc::authbank
