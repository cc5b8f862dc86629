// Every rule of the reference worker's validator chain (request_validator.h), one table row each, plus the JSON
// rewrite (include_usage) and path cleaning.
#include "services/computenode/request_validator.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "currency/badge.h"

namespace openpcc::computenode {
namespace {

using nlohmann::json;
using wire::bhttp::Field;
using wire::bhttp::RequestHead;

constexpr std::string_view kModel = "llama3.2:1b";
constexpr std::string_view kOtherModel = "qwen2:1.5b";

struct Keys {
  crypto::Ed25519PrivateKey badge_key = crypto::Ed25519PrivateKey::generate().value();
  crypto::Ed25519PrivateKey stranger = crypto::Ed25519PrivateKey::generate().value();
};

Keys& keys() {
  static Keys k;
  return k;
}

std::string badge_header(std::vector<std::string> models, const crypto::Ed25519PrivateKey& key) {
  currency::BadgeIssuer issuer(crypto::Ed25519PrivateKey::from_seed(key.seed().value().span()).value());
  currency::Credentials credentials;
  credentials.models = std::move(models);
  return issuer.issue(credentials).value().to_header().value();
}

// A request that passes: POST http://confsec.invalid/v1/chat/completions with a badge for kModel.
struct Request {
  RequestHead head;
  std::string body;
};

Request valid_chat() {
  Request r;
  r.head.method = "POST";
  r.head.scheme = "http";
  r.head.authority = "confsec.invalid";
  r.head.path = "/v1/chat/completions";
  r.body = R"({"model":"llama3.2:1b","messages":[{"role":"user","content":"hello there"}],"max_tokens":8})";
  r.head.headers = {{"content-type", "application/json"},
                    {"x-confsec-badge", badge_header({std::string(kModel), std::string(kOtherModel)},
                                                     keys().badge_key)},
                    {"content-length", std::to_string(r.body.size())}};
  return r;
}

Request with_body(Request r, std::string body) {
  r.body = std::move(body);
  for (auto& f : r.head.headers) {
    if (f.name == "content-length") f.value = std::to_string(r.body.size());
  }
  return r;
}

Request at_path(std::string path, std::string body) {
  Request r = valid_chat();
  r.head.path = std::move(path);
  return with_body(std::move(r), std::move(body));
}

void remove_header(Request& r, std::string_view name) {
  std::erase_if(r.head.headers, [&](const Field& f) { return f.name == name; });
}

void set_header(Request& r, std::string name, std::string value) {
  remove_header(r, name);
  r.head.headers.push_back(Field{std::move(name), std::move(value)});
}

RequestValidator validator() {
  // The node serves kModel and a model no badge names; not kOtherModel.
  return RequestValidator(keys().badge_key.public_key(), {std::string(kModel), "node-only-model"});
}

std::expected<ValidatedRequest, ValidationError> run(const Request& r) {
  return validator().validate(r.head, as_bytes(r.body));
}

struct Case {
  std::string name;
  std::function<Request()> make;
  int status;  // 0 = accepted
  std::string_view code;
};

std::vector<Case> cases() {
  const std::string chat = R"({"model":"llama3.2:1b","messages":[{"role":"user","content":"hi"}]})";
  return {
      // --- accepted ---------------------------------------------------------------------------------------------
      {"valid_openai_chat", [] { return valid_chat(); }, 0, ""},
      {"valid_openai_completions",
       [] { return at_path("/v1/completions", R"({"model":"llama3.2:1b","prompt":"hi","max_tokens":4})"); }, 0, ""},
      {"valid_openai_completions_prompt_array",
       [] { return at_path("/v1/completions", R"({"model":"llama3.2:1b","prompt":["a","b"]})"); }, 0, ""},
      {"valid_ollama_generate",
       [] { return at_path("/api/generate", R"({"model":"llama3.2:1b","prompt":"hi","options":{"num_predict":4}})"); },
       0, ""},
      {"valid_ollama_chat",
       [] { return at_path("/api/chat", R"({"model":"llama3.2:1b","messages":[{"role":"user","content":"hi"}]})"); },
       0, ""},
      {"valid_without_content_length", [] { auto r = valid_chat(); remove_header(r, "content-length"); return r; }, 0,
       ""},
      {"valid_host_header_instead_of_authority",
       [] {
         auto r = valid_chat();
         r.head.authority = "";
         set_header(r, "host", "confsec.invalid");
         return r;
       },
       0, ""},
      {"valid_host_header_equal_to_authority",
       [] { auto r = valid_chat(); set_header(r, "host", "confsec.invalid"); return r; }, 0, ""},
      {"valid_header_of_exactly_1024_bytes",
       [] { auto r = valid_chat(); set_header(r, "x-note", std::string(1024, 'a')); return r; }, 0, ""},
      {"valid_vllm_extras",
       [] {
         return at_path("/v1/completions",
                        R"({"model":"llama3.2:1b","prompt":"hi","repetition_penalty":1.1,"ignore_eos":true})");
       },
       0, ""},
      {"valid_null_optional_field",
       [] {
         return with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"role":"user"}],"temperature":null})");
       },
       0, ""},
      {"valid_x_confsec_headers_travel_inside",
       [] {
         auto r = valid_chat();
         set_header(r, "x-confsec-node-tags", "model=llama3.2:1b");
         set_header(r, "x-confsec-credit-amount", "1000");
         return r;
       },
       0, ""},

      // --- 1. endpoint ------------------------------------------------------------------------------------------
      {"endpoint_unknown_path", [=] { return at_path("/v1/embeddings", chat); }, 404, kErrUnsupportedEndpoint},
      {"endpoint_models_listing", [=] { return at_path("/v1/models", chat); }, 404, kErrUnsupportedEndpoint},
      {"endpoint_get_method", [] { auto r = valid_chat(); r.head.method = "GET"; return r; }, 404,
       kErrUnsupportedEndpoint},
      {"endpoint_put_method", [] { auto r = valid_chat(); r.head.method = "PUT"; return r; }, 404,
       kErrUnsupportedEndpoint},
      {"endpoint_lowercase_method", [] { auto r = valid_chat(); r.head.method = "post"; return r; }, 404,
       kErrUnsupportedEndpoint},
      {"endpoint_percent_encoded", [=] { return at_path("/v1/chat/%63ompletions", chat); }, 404,
       kErrUnsupportedEndpoint},
      {"endpoint_query", [=] { return at_path("/v1/chat/completions?stream=true", chat); }, 400, kErrQueryNotAllowed},
      {"endpoint_empty_query", [=] { return at_path("/v1/chat/completions?", chat); }, 400, kErrQueryNotAllowed},
      {"endpoint_trailing_slash", [=] { return at_path("/v1/chat/completions/", chat); }, 400, kErrInvalidPath},
      {"endpoint_double_slash", [=] { return at_path("//v1/chat/completions", chat); }, 400, kErrInvalidPath},
      {"endpoint_inner_double_slash", [=] { return at_path("/v1//chat/completions", chat); }, 400, kErrInvalidPath},
      {"endpoint_dot_segment", [=] { return at_path("/v1/./chat/completions", chat); }, 400, kErrInvalidPath},
      {"endpoint_dot_dot_segment", [=] { return at_path("/v1/x/../chat/completions", chat); }, 400, kErrInvalidPath},
      {"endpoint_relative", [=] { return at_path("v1/chat/completions", chat); }, 400, kErrInvalidPath},
      {"endpoint_empty_path", [=] { return at_path("", chat); }, 400, kErrInvalidPath},
      {"endpoint_checked_before_headers",
       [=] {
         auto r = at_path("/v1/embeddings", chat);
         remove_header(r, "x-confsec-badge");
         return r;
       },
       404, kErrUnsupportedEndpoint},

      // --- 2. headers -------------------------------------------------------------------------------------------
      {"content_type_missing", [] { auto r = valid_chat(); remove_header(r, "content-type"); return r; }, 400,
       kErrInvalidContentType},
      {"content_type_with_charset",
       [] { auto r = valid_chat(); set_header(r, "content-type", "application/json; charset=utf-8"); return r; }, 400,
       kErrInvalidContentType},
      {"content_type_uppercase",
       [] { auto r = valid_chat(); set_header(r, "content-type", "Application/JSON"); return r; }, 400,
       kErrInvalidContentType},
      {"content_type_text", [] { auto r = valid_chat(); set_header(r, "content-type", "text/plain"); return r; }, 400,
       kErrInvalidContentType},
      {"content_type_repeated",
       [] {
         auto r = valid_chat();
         r.head.headers.push_back({"Content-Type", "application/json"});
         return r;
       },
       400, kErrInvalidContentType},
      {"blocked_transfer_encoding",
       [] { auto r = valid_chat(); set_header(r, "transfer-encoding", "chunked"); return r; }, 400, kErrBlockedHeader},
      {"blocked_transfer_encoding_identity",
       [] { auto r = valid_chat(); set_header(r, "Transfer-Encoding", "identity"); return r; }, 400, kErrBlockedHeader},
      {"blocked_content_encoding",
       [] { auto r = valid_chat(); set_header(r, "content-encoding", "gzip"); return r; }, 400, kErrBlockedHeader},
      {"header_value_over_1024",
       [] { auto r = valid_chat(); set_header(r, "x-note", std::string(1025, 'a')); return r; }, 400,
       kErrHeaderTooLarge},
      {"header_values_together_over_1024",
       [] {
         auto r = valid_chat();
         r.head.headers.push_back({"x-note", std::string(600, 'a')});
         r.head.headers.push_back({"X-Note", std::string(425, 'b')});
         return r;
       },
       400, kErrHeaderTooLarge},
      {"badge_missing", [] { auto r = valid_chat(); remove_header(r, "x-confsec-badge"); return r; }, 400,
       kErrMissingBadge},
      {"badge_repeated",
       [] {
         auto r = valid_chat();
         r.head.headers.push_back({"x-confsec-badge", badge_header({std::string(kModel)}, keys().badge_key)});
         return r;
       },
       400, kErrInvalidBadge},

      // --- 3. host ----------------------------------------------------------------------------------------------
      {"host_other", [] { auto r = valid_chat(); r.head.authority = "example.com"; return r; }, 400, kErrInvalidHost},
      {"host_with_port", [] { auto r = valid_chat(); r.head.authority = "confsec.invalid:443"; return r; }, 400,
       kErrInvalidHost},
      {"host_uppercase", [] { auto r = valid_chat(); r.head.authority = "CONFSEC.INVALID"; return r; }, 400,
       kErrInvalidHost},
      {"host_router", [] { auto r = valid_chat(); r.head.authority = "confsec-router.invalid"; return r; }, 400,
       kErrInvalidHost},
      {"host_absent", [] { auto r = valid_chat(); r.head.authority = ""; return r; }, 400, kErrInvalidHost},
      {"host_header_disagrees",
       [] { auto r = valid_chat(); set_header(r, "host", "example.com"); return r; }, 400, kErrInvalidHost},
      {"host_header_repeated",
       [] {
         auto r = valid_chat();
         r.head.headers.push_back({"host", "confsec.invalid"});
         r.head.headers.push_back({"host", "confsec.invalid"});
         return r;
       },
       400, kErrInvalidHost},

      // --- 4. badge ---------------------------------------------------------------------------------------------
      {"badge_not_base64", [] { auto r = valid_chat(); set_header(r, "x-confsec-badge", "***"); return r; }, 400,
       kErrInvalidBadge},
      {"badge_not_a_badge",
       [] { auto r = valid_chat(); set_header(r, "x-confsec-badge", to_base64(to_bytes("hello"))); return r; }, 400,
       kErrInvalidBadge},
      {"badge_wrong_key",
       [] {
         auto r = valid_chat();
         set_header(r, "x-confsec-badge", badge_header({std::string(kModel)}, keys().stranger));
         return r;
       },
       400, kErrInvalidBadge},
      {"badge_tampered_models",
       [] {
         // A badge for kOtherModel with the signature of a badge for kModel.
         auto mine = currency::Badge::from_header(badge_header({std::string(kModel)}, keys().badge_key)).value();
         auto other = currency::Badge::from_header(badge_header({std::string(kOtherModel)}, keys().badge_key)).value();
         other.signature = mine.signature;
         auto r = valid_chat();
         set_header(r, "x-confsec-badge", other.to_header().value());
         return r;
       },
       400, kErrInvalidBadge},

      // --- 5. body ----------------------------------------------------------------------------------------------
      {"body_empty", [] { return with_body(valid_chat(), ""); }, 400, kErrEmptyBody},
      {"body_over_1mib",
       [] {
         std::string body = R"({"model":"llama3.2:1b","messages":[{"role":"user","content":"hi"}]})";
         body.append(kMaxPromptBodyBytes + 1 - body.size(), ' ');
         return with_body(valid_chat(), body);
       },
       400, kErrBodyTooLarge},
      {"body_exactly_1mib",
       [] {
         std::string body = R"({"model":"llama3.2:1b","messages":[{"role":"user","content":"hi"}]})";
         body.append(kMaxPromptBodyBytes - body.size(), ' ');
         return with_body(valid_chat(), body);
       },
       0, ""},
      {"content_length_too_small",
       [] { auto r = valid_chat(); set_header(r, "content-length", std::to_string(r.body.size() - 1)); return r; },
       400, kErrContentLengthMismatch},
      {"content_length_too_large",
       [] { auto r = valid_chat(); set_header(r, "content-length", std::to_string(r.body.size() + 1)); return r; },
       400, kErrContentLengthMismatch},
      {"content_length_not_decimal",
       [] { auto r = valid_chat(); set_header(r, "content-length", "0x10"); return r; }, 400,
       kErrContentLengthMismatch},
      {"content_length_negative", [] { auto r = valid_chat(); set_header(r, "content-length", "-1"); return r; }, 400,
       kErrContentLengthMismatch},
      {"content_length_repeated",
       [] {
         auto r = valid_chat();
         r.head.headers.push_back({"content-length", std::to_string(r.body.size())});
         return r;
       },
       400, kErrContentLengthMismatch},
      {"json_malformed", [] { return with_body(valid_chat(), "{\"model\": "); }, 400, kErrInvalidJson},
      {"json_trailing_object", [=] { return with_body(valid_chat(), chat + " {}"); }, 400, kErrInvalidJson},
      {"json_trailing_garbage", [=] { return with_body(valid_chat(), chat + "x"); }, 400, kErrInvalidJson},
      {"json_nul_then_garbage", [=] { return with_body(valid_chat(), chat + std::string("\0x", 2)); }, 400,
       kErrInvalidJson},
      {"json_nul_inside", [=] { return with_body(valid_chat(), std::string("{\"model\"\0: 1}", 13)); }, 400,
       kErrInvalidJson},
      {"json_array", [] { return with_body(valid_chat(), "[1,2]"); }, 400, kErrInvalidJson},
      {"json_string", [] { return with_body(valid_chat(), "\"hi\""); }, 400, kErrInvalidJson},
      {"json_invalid_utf8",
       [] { return with_body(valid_chat(), "{\"model\":\"llama3.2:1b\",\"messages\":[{\"role\":\"\xff\"}]}"); }, 400,
       kErrInvalidJson},
      {"json_too_deep",
       [] {
         std::string deep = std::string(200, '[') + std::string(200, ']');
         return with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"role":"user"}],"tools":)" + deep +
                                            "}");
       },
       400, kErrInvalidJson},
      {"unknown_field",
       [] { return with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"role":"u"}],"x":1})"); }, 400,
       kErrUnknownField},
      {"unknown_field_of_other_route",
       [] { return at_path("/v1/completions", R"({"model":"llama3.2:1b","prompt":"hi","messages":[]})"); }, 400,
       kErrUnknownField},
      {"unknown_ollama_field_on_openai",
       [] { return at_path("/v1/completions", R"({"model":"llama3.2:1b","prompt":"hi","options":{}})"); }, 400,
       kErrUnknownField},
      {"unknown_message_field",
       [] {
         return with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"role":"user","secret":"x"}]})");
       },
       400, kErrUnknownField},
      {"unknown_stream_options_field",
       [] {
         return with_body(valid_chat(),
                          R"({"model":"llama3.2:1b","messages":[{"role":"u"}],"stream_options":{"foo":true}})");
       },
       400, kErrUnknownField},
      {"wrong_type_stream",
       [] { return with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"role":"u"}],"stream":"yes"})"); },
       400, kErrInvalidField},
      {"wrong_type_max_tokens",
       [] { return with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"role":"u"}],"max_tokens":1.5})"); },
       400, kErrInvalidField},
      {"wrong_type_model", [] { return with_body(valid_chat(), R"({"model":7,"messages":[{"role":"u"}]})"); }, 400,
       kErrInvalidField},
      {"wrong_type_ollama_prompt",
       [] { return at_path("/api/generate", R"({"model":"llama3.2:1b","prompt":["a"]})"); }, 400, kErrInvalidField},
      {"messages_not_objects",
       [] { return with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":["hi"]})"); }, 400, kErrInvalidField},
      {"message_without_role",
       [] { return with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"content":"hi"}]})"); }, 400,
       kErrMissingField},
      {"model_missing", [] { return with_body(valid_chat(), R"({"messages":[{"role":"user"}]})"); }, 400,
       kErrMissingField},
      {"model_empty", [] { return with_body(valid_chat(), R"({"model":"","messages":[{"role":"user"}]})"); }, 400,
       kErrMissingField},
      {"model_not_served",
       [] { return with_body(valid_chat(), R"({"model":"qwen2:1.5b","messages":[{"role":"user"}]})"); }, 400,
       kErrModelNotServed},
      {"model_not_in_badge",
       [] { return with_body(valid_chat(), R"({"model":"node-only-model","messages":[{"role":"user"}]})"); }, 400,
       kErrModelNotInBadge},
      {"prompt_missing_completions", [] { return at_path("/v1/completions", R"({"model":"llama3.2:1b"})"); }, 400,
       kErrMissingField},
      {"prompt_missing_generate", [] { return at_path("/api/generate", R"({"model":"llama3.2:1b"})"); }, 400,
       kErrMissingField},
      {"prompt_null", [] { return at_path("/api/generate", R"({"model":"llama3.2:1b","prompt":null})"); }, 400,
       kErrMissingField},
      {"messages_missing_chat", [] { return with_body(valid_chat(), R"({"model":"llama3.2:1b"})"); }, 400,
       kErrMissingField},
      {"messages_missing_ollama_chat", [] { return at_path("/api/chat", R"({"model":"llama3.2:1b"})"); }, 400,
       kErrMissingField},
      {"messages_empty", [] { return with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[]})"); }, 400,
       kErrMissingField},
  };
}

class ValidatorTable : public ::testing::TestWithParam<Case> {};

TEST_P(ValidatorTable, Rule) {
  const Case& c = GetParam();
  auto result = run(c.make());
  if (c.status == 0) {
    ASSERT_TRUE(result) << result.error().code << ": " << result.error().message;
    return;
  }
  ASSERT_FALSE(result) << "accepted";
  EXPECT_EQ(result.error().status, c.status) << result.error().code << ": " << result.error().message;
  EXPECT_EQ(result.error().code, c.code) << result.error().message;
  EXPECT_FALSE(result.error().message.empty());
}

INSTANTIATE_TEST_SUITE_P(Rules, ValidatorTable, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

json body_of(const ValidatedRequest& v) { return json::parse(v.body.span().begin(), v.body.span().end()); }

TEST(RequestValidator, ReportsRouteAndModel) {
  auto v = run(at_path("/api/chat", R"({"model":"llama3.2:1b","messages":[{"role":"user","content":"hi"}]})"));
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->api, PromptApi::kOllamaChat);
  EXPECT_EQ(v->path, "/api/chat");
  EXPECT_EQ(v->model, kModel);
}

TEST(RequestValidator, ForcesIncludeUsageForStreamingOpenAi) {
  // Absent stream_options.
  auto v = run(with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"role":"u"}],"stream":true})"));
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(body_of(*v)["stream_options"]["include_usage"], true);
  // Explicitly off.
  v = run(at_path("/v1/completions",
                  R"({"model":"llama3.2:1b","prompt":"x","stream":true,"stream_options":{"include_usage":false}})"));
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(body_of(*v)["stream_options"]["include_usage"], true);
  // Null stream_options.
  v = run(with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"role":"u"}],"stream":true,)"
                                  R"("stream_options":null})"));
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(body_of(*v)["stream_options"]["include_usage"], true);
}

TEST(RequestValidator, LeavesNonStreamingAndOllamaBodiesAlone) {
  auto v = run(with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"role":"u"}],"stream":false})"));
  ASSERT_TRUE(v);
  EXPECT_FALSE(body_of(*v).contains("stream_options"));
  v = run(at_path("/api/generate", R"({"model":"llama3.2:1b","prompt":"hi","stream":true})"));
  ASSERT_TRUE(v);
  EXPECT_FALSE(body_of(*v).contains("stream_options"));
  EXPECT_EQ(body_of(*v), json::parse(R"({"model":"llama3.2:1b","prompt":"hi","stream":true})"));
}

TEST(RequestValidator, ForwardsWhatItChecked) {
  // A repeated key: the engine sees the one the validator checked (the last, as Go's decoder keeps), never the other.
  auto v = run(with_body(valid_chat(),
                         R"({"model":"node-only-model","model":"llama3.2:1b","messages":[{"role":"u"}]})"));
  ASSERT_TRUE(v) << v.error().message;
  const std::string forwarded = to_string(v->body.span());
  EXPECT_EQ(forwarded.find("node-only-model"), std::string::npos) << forwarded;
  EXPECT_EQ(body_of(*v)["model"], kModel);
  // And the other order is refused on the badge.
  auto refused = run(with_body(valid_chat(),
                               R"({"model":"llama3.2:1b","model":"node-only-model","messages":[{"role":"u"}]})"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, kErrModelNotInBadge);
}

TEST(RequestValidator, ErrorJsonShape) {
  ValidationError e{400, std::string(kErrInvalidBadge), "X-Confsec-Badge is not a valid badge"};
  json j = json::parse(validation_error_json(e));
  EXPECT_EQ(j, json({{"code", "ErrInvalidBadge"},
                     {"error", "Request Validation Error"},
                     {"message", "X-Confsec-Badge is not a valid badge"}}));
}

TEST(RequestValidator, UnknownFieldNameIsQuotedAndBounded) {
  const std::string name(500, 'k');
  auto v = run(with_body(valid_chat(), R"({"model":"llama3.2:1b","messages":[{"role":"u"}],")" + name + R"(":1})"));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, kErrUnknownField);
  EXPECT_LT(v.error().message.size(), 120u);
}

TEST(CleanPath, MatchesGoPathClean) {
  const std::pair<std::string, std::string> table[] = {
      {"", "."},           {"/", "/"},          {"//", "/"},          {"/a/b", "/a/b"},       {"/a/b/", "/a/b"},
      {"/a//b", "/a/b"},   {"/a/./b", "/a/b"},  {"/a/../b", "/b"},    {"/../a", "/a"},        {"/a/b/..", "/a"},
      {"/a/b/../..", "/"}, {"a/../..", ".."},   {"a/b", "a/b"},       {"./a", "a"},           {"/.", "/"},
      {"/..", "/"},        {"/a/.../b", "/a/.../b"}, {"/v1/chat/completions", "/v1/chat/completions"},
  };
  for (const auto& [in, want] : table) EXPECT_EQ(clean_path(in), want) << in;
}

}  // namespace
}  // namespace openpcc::computenode
