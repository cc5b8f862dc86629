// Test keys for the currency tests, read from tests/data: the RSA key of the draft-irtf-cfrg-partially-blind-rsa
// vectors (2048 bits, safe primes) and the RSABSSA vector key as "another key".
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "common/bytes.h"
#include "crypto/rsa_blind.h"

namespace openpcc::currency::testing {

inline nlohmann::json load_test_json(const std::string& name) {
  std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << "cannot open " << name;
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
}

inline Bytes hex_of(const nlohmann::json& object, const char* key) {
  return from_hex(object.at(key).get<std::string>()).value();
}

// The partially blind vectors' key, safe primes, 2048 bits.
inline crypto::RsaPrivateKey currency_test_key() {
  const auto v = load_test_json("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json").at(0);
  auto key = crypto::RsaPrivateKey::from_components(hex_of(v, "n"), hex_of(v, "e"), hex_of(v, "d"), hex_of(v, "p"),
                                                    hex_of(v, "q"));
  EXPECT_TRUE(key.has_value()) << key.error().to_string();
  return std::move(*key);
}

// A different public key (the RFC 9474 vectors' key), for "signed by someone else" cases.
inline crypto::RsaPublicKey other_public_key() {
  const auto vectors = load_test_json("rsabssa-cfrg-repo-2vectors.json");
  const auto& v = vectors.is_array() ? vectors.at(0) : vectors;
  auto key = crypto::RsaPublicKey::from_components(hex_of(v, "n"), hex_of(v, "e"));
  EXPECT_TRUE(key.has_value()) << key.error().to_string();
  return std::move(*key);
}

}  // namespace openpcc::currency::testing
