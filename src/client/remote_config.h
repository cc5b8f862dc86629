// What a client takes from the AuthBank's config answer only after checking it: the currency key and the gateway's
// OHTTP keys arrive as transparency bundles (transparency/bundle.h) of signed in-toto statements
// (transparency/predicates.h), and are believed only if the bundle verifies under the client's transparency trust:
// the log's signed checkpoint, the inclusion proof, a trusted publisher's DSSE signature, the expected predicate
// type, and subjects that match the data.
//
//   auto config = co_await bank.config();                               // authbank_client.h
//   auto currency_key = client::verified_currency_key(*config, trust);  // → wallet, credit verification
//   auto ohttp_keys = client::verified_ohttp_keys(*config, trust);      // → select_key_config (ohttp_keys.h)
//
// Fail closed: any failure is an error (nothing is used unverified), and its message starts with the bundle's name
// ("currency key bundle: …", "OHTTP keys bundle: …") followed by the step that failed. A missing or empty bundle
// field is kNotFound; the other codes are those of the failing step (bundle parsing kDecode / kLimitExceeded,
// verification as transparency::verify_bundle says, a statement of another kind kInvalidArgument / kDecode).
#pragma once

#include <string_view>

#include "client/ohttp_keys.h"
#include "client/trust/trust_policy.h"
#include "common/error.h"
#include "crypto/rsa_blind.h"
#include "openpcc/auth.pb.h"

namespace openpcc::client {

// The currency key from the config's currency_key_bundle (a currency-key statement carrying the key's JWK).
Result<crypto::RsaPublicKey> verified_currency_key(const pb::AuthConfigResponse& config,
                                                   const TransparencyTrust& trust);

// The OHTTP key configs and their rotation periods from the config's ohttp_key_configs_bundle (an OHTTP-keys
// statement). Every period names a config in the list (the statement's rule); configs this client cannot use
// (unknown KEM, KDF or AEAD) are left out, and a list with none it can use is an error.
Result<OhttpKeys> verified_ohttp_keys(const pb::AuthConfigResponse& config, const TransparencyTrust& trust);

// The same checks on bundle JSON text from elsewhere (a file, the gateway's GET /ohttp-keys/statement).
Result<crypto::RsaPublicKey> verified_currency_key_bundle(std::string_view bundle_json,
                                                          const TransparencyTrust& trust);
Result<OhttpKeys> verified_ohttp_keys_bundle(std::string_view bundle_json, const TransparencyTrust& trust);

}  // namespace openpcc::client
