// The ohttp.* conformance operations, in process: the RFC 9458 Appendix A and chunked-OHTTP draft examples through
// the ops (byte-exact where the ops are deterministic), ikm_e reproducibility for X25519 and X25519Kyber768Draft00,
// and error answers (taxonomy codes, bad inputs).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "conformance/harness.h"

namespace openpcc::conformance {
namespace {

using nlohmann::json;

constexpr std::string_view kRfcConfig =
    "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003";

json vectors() {
  std::ifstream f(std::string(OPENPCC_TEST_DATA_DIR) + "/ohttp-examples.json");
  EXPECT_TRUE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}

class OhttpOps : public ::testing::Test {
 protected:
  json call(const json& request) {
    std::string line = harness_.answer_line(request.dump());
    json answer = json::parse(line, nullptr, false);
    EXPECT_FALSE(answer.is_discarded()) << line;
    return answer;
  }
  json ok(const json& request) {
    json answer = call(request);
    EXPECT_FALSE(answer.contains("error")) << request.dump() << " → " << answer.dump();
    return answer;
  }
  std::string err(const json& request) {
    json answer = call(request);
    EXPECT_TRUE(answer.contains("error")) << request.dump() << " → " << answer.dump();
    return answer.value("error", "");
  }

  Harness harness_ = Harness::with_all_operations();
};

TEST_F(OhttpOps, Rfc9458AppendixAByteExact) {
  json v = vectors()["rfc9458_appendix_a"];
  json opened = ok({{"op", "ohttp.decapsulate_request"}, {"key_config", kRfcConfig}, {"sk", v["skR"]},
                    {"request", v["encapsulated_request"]}, {"chunked", false}});
  EXPECT_EQ(opened["bhttp"], v["bhttp_request"]);
  EXPECT_EQ(opened["enc"], v["pkE"]);
  ASSERT_TRUE(opened["response_secret"].is_string());
  EXPECT_EQ(opened["response_secret"].get<std::string>().size(), 32u);

  json sealed = ok({{"op", "ohttp.encapsulate_response"}, {"enc", opened["enc"]},
                    {"response_secret", opened["response_secret"]}, {"bhttp", v["bhttp_response"]},
                    {"chunked", false}, {"response_nonce", v["response_nonce"]}});
  EXPECT_EQ(sealed["response"], v["encapsulated_response"]);

  json read = ok({{"op", "ohttp.decapsulate_response"}, {"enc", v["pkE"]},
                  {"response_secret", opened["response_secret"]}, {"response", v["encapsulated_response"]},
                  {"chunked", false}});
  EXPECT_EQ(read["bhttp"], v["bhttp_response"]);
}

TEST_F(OhttpOps, ChunkedDraftExample) {
  json v = vectors()["chunked_ohttp_draft08_example"];
  // The example's key config: key 1, X25519, (HKDF-SHA256, AES-128-GCM).
  std::string config = "010020" + v["pkR"].get<std::string>() + "000400010001";
  json opened = ok({{"op", "ohttp.decapsulate_request"}, {"key_config", config}, {"sk", v["skR"]},
                    {"request", v["encapsulated_request"]}, {"chunked", true}});
  EXPECT_EQ(opened["bhttp"], v["bhttp_request"]);
  EXPECT_EQ(opened["enc"], v["pkE"]);
  json read = ok({{"op", "ohttp.decapsulate_response"}, {"enc", v["pkE"]},
                  {"response_secret", opened["response_secret"]}, {"response", v["encapsulated_response"]},
                  {"chunked", true}});
  EXPECT_EQ(read["bhttp"], v["bhttp_response"]);
  // Our split is one chunk plus an empty final chunk (the example used 1 + 2 bytes), so only the nonce matches.
  json sealed = ok({{"op", "ohttp.encapsulate_response"}, {"enc", opened["enc"]},
                    {"response_secret", opened["response_secret"]}, {"bhttp", v["bhttp_response"]},
                    {"chunked", true}, {"response_nonce", v["response_nonce"]}});
  std::string response = sealed["response"];
  EXPECT_EQ(response.size() / 2, 16 + (1 + 3 + 16) + (1 + 16));
  EXPECT_EQ(response.substr(0, 32), v["response_nonce"]);
  EXPECT_EQ(response.substr(32, 2), "13");  // varint(19): 3 bytes of plaintext + tag
  json again = ok({{"op", "ohttp.decapsulate_response"}, {"enc", opened["enc"]},
                   {"response_secret", opened["response_secret"]}, {"response", response}, {"chunked", true}});
  EXPECT_EQ(again["bhttp"], v["bhttp_response"]);
}

TEST_F(OhttpOps, RoundTripsWithFixedEphemeralForBothKems) {
  for (auto [kem, ikm_len] : {std::pair{32, 32}, std::pair{48, 64}}) {
    SCOPED_TRACE(kem);
    json kp = ok({{"op", "hpke.derive_keypair"}, {"kem", kem}, {"ikm", std::string(64, '7')}});
    char kem_hex[5];
    std::snprintf(kem_hex, sizeof kem_hex, "%04x", kem);
    std::string config = std::string("09") + kem_hex + kp["pk"].get<std::string>() + "000400010001";
    std::string bhttp = "00034745540568747470730b6578616d706c652e636f6d012f";
    for (bool chunked : {false, true}) {
      SCOPED_TRACE(chunked);
      json req = {{"op", "ohttp.encapsulate_request"}, {"key_config", config}, {"bhttp", bhttp},
                  {"chunked", chunked}, {"ikm_e", std::string(2 * ikm_len, 'a')}};
      json a = ok(req);
      json b = ok(req);
      EXPECT_EQ(a["request"], b["request"]) << "ikm_e fixes the ephemeral key";
      EXPECT_EQ(a["response_secret"], b["response_secret"]);
      json opened = ok({{"op", "ohttp.decapsulate_request"}, {"key_config", config}, {"sk", kp["sk"]},
                        {"request", a["request"]}, {"chunked", chunked}});
      EXPECT_EQ(opened["bhttp"], bhttp);
      EXPECT_EQ(opened["enc"], a["enc"]);
      EXPECT_EQ(opened["response_secret"], a["response_secret"]);
      json sealed = ok({{"op", "ohttp.encapsulate_response"}, {"enc", opened["enc"]},
                        {"response_secret", opened["response_secret"]}, {"bhttp", "0140c8"}, {"chunked", chunked}});
      json read = ok({{"op", "ohttp.decapsulate_response"}, {"enc", a["enc"]},
                      {"response_secret", a["response_secret"]}, {"response", sealed["response"]},
                      {"chunked", chunked}});
      EXPECT_EQ(read["bhttp"], "0140c8");
      // The wrong framing fails both ways.
      err({{"op", "ohttp.decapsulate_request"}, {"key_config", config}, {"sk", kp["sk"]}, {"request", a["request"]},
           {"chunked", !chunked}});
    }
  }
}

TEST_F(OhttpOps, ErrorAnswers) {
  json v = vectors()["rfc9458_appendix_a"];
  // A key config with another key id: the gateway does not hold the request's key.
  std::string other = "02" + std::string(kRfcConfig.substr(2));
  std::string e = err({{"op", "ohttp.decapsulate_request"}, {"key_config", other}, {"sk", v["skR"]},
                       {"request", v["encapsulated_request"]}, {"chunked", false}});
  EXPECT_NE(e.find("KeyNotFound (101)"), std::string::npos) << e;
  std::string bad_header = v["encapsulated_request"].get<std::string>();
  bad_header[3] = 'f';  // KEM 0x0f20
  e = err({{"op", "ohttp.decapsulate_request"}, {"key_config", kRfcConfig}, {"sk", v["skR"]},
           {"request", bad_header}, {"chunked", false}});
  EXPECT_NE(e.find("InvalidRequestHeader (100)"), std::string::npos) << e;
  e = err({{"op", "ohttp.decapsulate_request"}, {"key_config", kRfcConfig}, {"sk", v["skR"]},
           {"request", v["encapsulated_request"].get<std::string>().substr(0, 100)}, {"chunked", false}});
  EXPECT_NE(e.find("RequestDecoding (201)"), std::string::npos) << e;
  // sk that does not belong to the config.
  err({{"op", "ohttp.decapsulate_request"}, {"key_config", kRfcConfig}, {"sk", std::string(64, '1')},
       {"request", v["encapsulated_request"]}, {"chunked", false}});
  // Malformed key config, missing and mistyped fields, wrong nonce and secret sizes.
  err({{"op", "ohttp.encapsulate_request"}, {"key_config", "0100"}, {"bhttp", ""}, {"chunked", false}});
  err({{"op", "ohttp.encapsulate_request"}, {"key_config", kRfcConfig}, {"bhttp", ""}});
  err({{"op", "ohttp.encapsulate_request"}, {"key_config", kRfcConfig}, {"bhttp", ""}, {"chunked", "no"}});
  err({{"op", "ohttp.encapsulate_response"}, {"enc", v["pkE"]}, {"response_secret", "00"}, {"bhttp", ""},
       {"chunked", false}});
  err({{"op", "ohttp.encapsulate_response"}, {"enc", v["pkE"]}, {"response_secret", std::string(32, '0')},
       {"bhttp", ""}, {"chunked", false}, {"response_nonce", "00"}});
  err({{"op", "ohttp.decapsulate_response"}, {"enc", v["pkE"]}, {"response_secret", std::string(32, '0')},
       {"response", v["encapsulated_response"]}, {"chunked", false}});
}

TEST_F(OhttpOps, ResponseSideAcceptsOtherAeads) {
  // The optional "kdf"/"aead" fields select the request's algorithms (default 1/1).
  json sealed = ok({{"op", "ohttp.encapsulate_response"}, {"enc", std::string(64, 'e')},
                    {"response_secret", std::string(64, '5')}, {"bhttp", "0140c8"}, {"chunked", false},
                    {"kdf", 1}, {"aead", 3}});
  EXPECT_EQ(sealed["response"].get<std::string>().size() / 2, 32 + 3 + 16u);
  json read = ok({{"op", "ohttp.decapsulate_response"}, {"enc", std::string(64, 'e')},
                  {"response_secret", std::string(64, '5')}, {"response", sealed["response"]}, {"chunked", false},
                  {"kdf", 1}, {"aead", 3}});
  EXPECT_EQ(read["bhttp"], "0140c8");
}

}  // namespace
}  // namespace openpcc::conformance
