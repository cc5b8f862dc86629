// RSA keys given as hex components in a conformance request: the public key (n, e) and the private key
// (n, e, d, p, q). Shared by the rsa_blind.* and rsa.* operations. Internal to the conformance library.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "common/error.h"
#include "crypto/rsa_blind.h"

namespace openpcc::conformance {

// Fields "n" and "e" (big-endian hex); the key is validated by crypto::RsaPublicKey::from_components.
Result<crypto::RsaPublicKey> rsa_public_key_fields(const nlohmann::json& req);

// Fields "n", "e", "d", "p", "q"; the key is validated by crypto::RsaPrivateKey::from_components. Our copies of the
// secret components live in wiped buffers.
Result<crypto::RsaPrivateKey> rsa_private_key_fields(const nlohmann::json& req);

}  // namespace openpcc::conformance
