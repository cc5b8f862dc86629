// Every RSA blind-signature vector in tests/data through the vector-shaped conformance ops: rsa.pbssa.* for the
// draft-irtf-cfrg-partially-blind-rsa vectors, rsa.bssa.verify for the RFC 9474 (cfrg repo) vectors. Expected values
// come from the vector files; each good case is paired with a tampered one that must answer valid:false.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "conformance/harness.h"

namespace openpcc::conformance {
namespace {

using nlohmann::json;

json load_vectors(const std::string& name) {
  std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  json v = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(v.is_array()) << name;
  return v;
}

class RsaOps : public ::testing::Test {
 protected:
  json ask(const json& request) const {
    json answer = json::parse(harness_.answer_line(request.dump()), nullptr, false);
    EXPECT_TRUE(answer.is_object());
    return answer;
  }
  // Flips the lowest bit of the last byte of a hex string.
  static std::string flip_last_bit(std::string hex) {
    char& c = hex.back();
    const int nibble = std::stoi(std::string(1, c), nullptr, 16) ^ 1;
    c = "0123456789abcdef"[nibble];
    return hex;
  }

  Harness harness_ = Harness::with_all_operations();
};

TEST_F(RsaOps, PartiallyBlindVectors) {
  const json vectors = load_vectors("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json");
  ASSERT_EQ(vectors.size(), 4u);
  for (const auto& v : vectors) {
    SCOPED_TRACE("info=" + v["info"].get<std::string>() + " msg=" + v["msg"].get<std::string>());
    json derived = ask({{"op", "rsa.pbssa.derive_public_key"}, {"n", v["n"]}, {"e", v["e"]}, {"info", v["info"]}});
    EXPECT_EQ(derived, (json{{"n", v["n"]}, {"e", v["eprime"]}}));

    json sign = {{"op", "rsa.pbssa.blind_sign"}, {"n", v["n"]},       {"e", v["e"]},
                 {"d", v["d"]},                  {"p", v["p"]},       {"q", v["q"]},
                 {"info", v["info"]},            {"blind_msg", v["blind_msg"]}};
    EXPECT_EQ(ask(sign), (json{{"blind_sig", v["blind_sig"]}}));

    json verify = {{"op", "rsa.pbssa.verify"}, {"n", v["n"]},     {"e", v["e"]},        {"info", v["info"]},
                   {"msg", v["msg"]},          {"sig", v["sig"]}, {"salt_length", 48}};
    EXPECT_EQ(ask(verify), (json{{"valid", true}}));
    json tampered = verify;
    tampered["sig"] = flip_last_bit(v["sig"]);
    EXPECT_EQ(ask(tampered), (json{{"valid", false}}));
    tampered = verify;
    tampered["info"] = v["info"].get<std::string>() + "00";
    EXPECT_EQ(ask(tampered), (json{{"valid", false}}));
    tampered = verify;
    tampered["salt_length"] = 0;
    EXPECT_EQ(ask(tampered), (json{{"valid", false}}));
    // The base key (n, e) does not verify a partially blind signature.
    json as_plain = {{"op", "rsa.bssa.verify"}, {"n", v["n"]},     {"e", v["e"]},
                     {"msg", v["msg"]},         {"sig", v["sig"]}, {"salt_length", 48}};
    EXPECT_EQ(ask(as_plain), (json{{"valid", false}}));
  }
}

TEST_F(RsaOps, BlindRsaVectors) {
  const json vectors = load_vectors("rsabssa-cfrg-repo-2vectors.json");
  ASSERT_EQ(vectors.size(), 2u);
  for (const auto& v : vectors) {
    const size_t salt_length = v["salt"].get<std::string>().size() / 2;
    SCOPED_TRACE("salt_length=" + std::to_string(salt_length));
    json verify = {{"op", "rsa.bssa.verify"}, {"n", v["n"]},     {"e", v["e"]},
                   {"msg", v["msg"]},         {"sig", v["sig"]}, {"salt_length", salt_length}};
    EXPECT_EQ(ask(verify), (json{{"valid", true}}));
    json tampered = verify;
    tampered["sig"] = flip_last_bit(v["sig"]);
    EXPECT_EQ(ask(tampered), (json{{"valid", false}}));
    tampered = verify;
    tampered["msg"] = flip_last_bit(v["msg"]);
    EXPECT_EQ(ask(tampered), (json{{"valid", false}}));
    tampered = verify;
    tampered["salt_length"] = salt_length == 0 ? 48 : 0;
    EXPECT_EQ(ask(tampered), (json{{"valid", false}}));
  }
}

TEST_F(RsaOps, MalformedInputsAreErrorLinesNotAnswers) {
  const json v = load_vectors("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json").at(0);
  const json good = {{"op", "rsa.pbssa.verify"}, {"n", v["n"]},     {"e", v["e"]},        {"info", v["info"]},
                     {"msg", v["msg"]},          {"sig", v["sig"]}, {"salt_length", 48}};
  auto expect_error = [&](json request, const std::string& contains) {
    SCOPED_TRACE(contains);
    json answer = ask(request);
    ASSERT_TRUE(answer.contains("error")) << answer;
    EXPECT_NE(answer["error"].get<std::string>().find(contains), std::string::npos) << answer;
  };
  json r = good;
  r["salt_length"] = 32;
  expect_error(r, "must be 48 (PSS) or 0 (PSSZERO)");
  r["salt_length"] = -1;
  expect_error(r, "salt_length");
  r = good;
  r.erase("salt_length");
  expect_error(r, "salt_length");
  r = good;
  r["sig"] = v["sig"].get<std::string>() + "00";
  expect_error(r, "signature must be 256 bytes");
  r = good;
  r["msg"] = "zz";
  expect_error(r, "\"msg\" is not valid hex");
  r = good;
  r["n"] = "00";
  expect_error(r, "public key");
  // A signature numerically ≥ n is an invalid signature (RSAVP1's range check), not a malformed request.
  r = good;
  r["sig"] = std::string(512, 'f');
  EXPECT_EQ(ask(r), (json{{"valid", false}}));
  // Partially blind signing refuses keys without safe primes.
  const json plain = load_vectors("rsabssa-cfrg-repo-2vectors.json").at(1);
  json sign = {{"op", "rsa.pbssa.blind_sign"}, {"n", plain["n"]}, {"e", plain["e"]}, {"d", plain["d"]},
               {"p", plain["p"]},              {"q", plain["q"]}, {"info", ""},      {"blind_msg", plain["blinded_msg"]}};
  expect_error(sign, "safe primes");
}

TEST(CurrencyOps, EncodeDecodeRoundTripEveryValue) {
  const Harness h = Harness::with_all_operations();
  // Every 9-bit value, both flags: decode, then encode the decoded amount back to the same bytes.
  for (int special = 0; special < 2; ++special) {
    for (int bits = 0; bits < 512; ++bits) {
      const uint8_t b0 = static_cast<uint8_t>((bits >> 8) << 1 | special), b1 = static_cast<uint8_t>(bits & 0xff);
      char hex[5];
      std::snprintf(hex, sizeof hex, "%02x%02x", b0, b1);
      json decoded = json::parse(h.answer_line(json{{"op", "currency.decode"}, {"value", hex}}.dump()));
      ASSERT_TRUE(decoded.contains("amount")) << hex << " " << decoded;
      EXPECT_EQ(decoded["special"], special == 1);
      json encode = {{"op", "currency.encode"}, {"amount", decoded["amount"]}, {"special", special == 1}};
      json encoded = json::parse(h.answer_line(encode.dump()));
      EXPECT_EQ(encoded["value"], hex) << decoded;
      EXPECT_EQ(encoded["amount"], decoded["amount"]);
    }
  }
  EXPECT_TRUE(json::parse(h.answer_line(R"({"op":"currency.decode","value":"0600"})")).contains("error"));
  EXPECT_TRUE(json::parse(h.answer_line(R"({"op":"currency.encode","amount":31})")).contains("value"));
  EXPECT_TRUE(json::parse(h.answer_line(R"({"op":"currency.encode","amount":33})")).contains("error"));
  EXPECT_TRUE(json::parse(h.answer_line(R"({"op":"currency.encode","amount":16,"special":"yes"})")).contains("error"));
}

}  // namespace
}  // namespace openpcc::conformance
