// The currency public key as a JSON Web Key (RFC 7517/7518): what the AuthBank's config answer carries and clients
// verify credits with.
//
//   {"e":"AQAB","kid":"<RFC 7638 thumbprint>","kty":"RSA","n":"<base64url modulus>","use":"sig"}
//
// n and e are unpadded base64url of the big-endian magnitudes (no leading zero bytes). kid is the key's RFC 7638
// SHA-256 thumbprint (base64url), so it names the key without anyone having to assign ids. The reference publishes
// the same JWK fields (with kid "0") inside a transparency statement; `use` must be "sig".
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/rsa_blind.h"

namespace openpcc::authbank {

// The JWK text (compact JSON, keys in ascending order).
std::string rsa_public_key_to_jwk(const crypto::RsaPublicKey& key);

// The RFC 7638 thumbprint: base64url(SHA-256('{"e":…,"kty":"RSA","n":…}')).
std::string rsa_jwk_thumbprint(const crypto::RsaPublicKey& key);

// Parses a JWK: kty "RSA", n and e strict base64url, `use` absent or "sig", a valid key for credits (at least 1024
// bits, see crypto::RsaPublicKey::from_components). Other members are ignored. kDecode / kInvalidArgument otherwise.
Result<crypto::RsaPublicKey> rsa_public_key_from_jwk(std::string_view json);

}  // namespace openpcc::authbank
