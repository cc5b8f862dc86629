// The OHTTP error taxonomy: names, HTTP statuses and problem+json bodies for every code.
#include "wire/ohttp_error.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace openpcc::wire::ohttp {
namespace {

struct Expected {
  uint16_t value;
  std::string_view name;
  int status;
  bool key_error;
};

constexpr Expected kTaxonomy[] = {
    {1, "RequestIO", 400, false},
    {2, "ResponseIO", 500, false},
    {100, "InvalidRequestHeader", 400, true},
    {101, "KeyNotFound", 400, true},
    {102, "InvalidKey", 400, true},
    {103, "InactiveKey", 400, true},
    {200, "InvalidRequestContentType", 400, false},
    {201, "RequestDecoding", 400, false},
    {202, "InvalidRequest", 400, false},
    {300, "ResponseEncoding", 500, false},
    {301, "ResponseEncryption", 500, false},
};

TEST(OhttpErrorTaxonomy, EveryCode) {
  for (const auto& e : kTaxonomy) {
    SCOPED_TRACE(e.name);
    auto code = ohttp_error_code_from(e.value);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(static_cast<uint16_t>(*code), e.value);
    EXPECT_EQ(name(*code), e.name);
    EXPECT_EQ(http_status(*code), e.status);
    EXPECT_EQ(is_key_error(*code), e.key_error);
    EXPECT_EQ(is_request_error(*code), e.status == 400 && !e.key_error);

    ProblemResponse p = problem_response(*code);
    EXPECT_EQ(p.status, e.status);
    EXPECT_EQ(p.content_type, "application/problem+json");
    auto body = nlohmann::json::parse(p.body);
    if (e.key_error) {
      EXPECT_EQ(body["type"], "https://iana.org/assignments/http-problem-types#ohttp-key");
      EXPECT_EQ(body["title"], "Oblivious HTTP key configuration not acceptable");
    } else {
      EXPECT_EQ(body["type"], "about:blank");
      EXPECT_EQ(body["title"], e.status == 400 ? "Bad Request" : "Internal Server Error");
    }
  }
  EXPECT_EQ(problem_response(OhttpErrorCode::kKeyNotFound).body,
            "{\"type\":\"https://iana.org/assignments/http-problem-types#ohttp-key\","
            "\"title\":\"Oblivious HTTP key configuration not acceptable\"}");
}

TEST(OhttpErrorTaxonomy, UnknownValues) {
  for (uint16_t v : {0, 3, 99, 104, 199, 203, 299, 302, 65535}) {
    EXPECT_FALSE(ohttp_error_code_from(v).has_value()) << v;
  }
}

TEST(OhttpErrorTaxonomy, ToString) {
  OhttpError e{OhttpErrorCode::kKeyNotFound, Error{ErrorCode::kNotFound, "no key 7"}};
  EXPECT_EQ(e.to_string().rfind("KeyNotFound (101): ", 0), 0u) << e.to_string();
  EXPECT_NE(e.to_string().find("no key 7"), std::string::npos);
}

}  // namespace
}  // namespace openpcc::wire::ohttp
