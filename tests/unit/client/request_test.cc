#include "client/request.h"

#include <gtest/gtest.h>

#include "client/request_step.h"
#include "crypto/ed25519.h"
#include "wire/bhttp_decoder.h"
#include "wire/bhttp_encoder.h"

namespace openpcc::client {
namespace {

namespace bhttp = wire::bhttp;

currency::Badge test_badge(std::vector<std::string> models = {"llama3"}) {
  auto key = crypto::Ed25519PrivateKey::from_seed(Bytes(32, 7));
  currency::BadgeIssuer issuer(std::move(*key));
  currency::Credentials credentials;
  credentials.models = std::move(models);
  return issuer.issue(credentials).value();
}

Request chat(std::string body) {
  Request r;
  r.path = "/v1/chat/completions";
  r.body = to_bytes(body);
  return r;
}

TEST(RequestTest, PromptPaths) {
  EXPECT_TRUE(is_prompt_path("/api/generate"));
  EXPECT_TRUE(is_prompt_path("/api/chat"));
  EXPECT_TRUE(is_prompt_path("/v1/completions"));
  EXPECT_TRUE(is_prompt_path("/v1/chat/completions"));
  EXPECT_FALSE(is_prompt_path("/v1/models"));
  EXPECT_FALSE(is_prompt_path("/v1/chat/completions/"));
  EXPECT_FALSE(is_prompt_path(""));
  // The query is not part of the path.
  EXPECT_TRUE(is_prompt_path("/v1/chat/completions?api-version=2024-06-01"));
  EXPECT_TRUE(is_prompt_path("/api/generate?"));
  EXPECT_FALSE(is_prompt_path("/v1/models?x=/v1/completions"));
  EXPECT_FALSE(is_prompt_path("?/v1/completions"));
}

TEST(RequestTest, ModelOfBody) {
  EXPECT_EQ(model_of(to_bytes(R"({"model":"llama3","x":1})")), "llama3");
  EXPECT_FALSE(model_of(to_bytes(R"({"model":""})")));
  EXPECT_FALSE(model_of(to_bytes(R"({"model":3})")));
  EXPECT_FALSE(model_of(to_bytes(R"(["model"])")));
  EXPECT_FALSE(model_of(to_bytes(R"({"model":"x")")));
  EXPECT_FALSE(model_of({}));
}

TEST(RequestTest, TagsGetTheBodysModelForPromptPaths) {
  auto tags = request_tags(chat(R"({"model":"llama3","messages":[]})"), {"llm"});
  ASSERT_TRUE(tags) << tags.error().to_string();
  EXPECT_EQ(*tags, (std::vector<std::string>{"llm", "model=llama3"}));

  // A query string does not hide the prompt path.
  Request queried = chat(R"({"model":"llama3","messages":[]})");
  queried.path = "/v1/chat/completions?api-version=1";
  tags = request_tags(queried, {"llm"});
  ASSERT_TRUE(tags) << tags.error().to_string();
  EXPECT_EQ(*tags, (std::vector<std::string>{"llm", "model=llama3"}));
  queried.body = to_bytes(R"({"messages":[]})");
  EXPECT_FALSE(request_tags(queried, {"llm"}));

  // A model= tag given by the caller wins; the body's model is not added.
  Request r = chat(R"({"model":"llama3"})");
  r.tags = {"gpu", "model=other"};
  tags = request_tags(r, {"llm"});
  ASSERT_TRUE(tags);
  EXPECT_EQ(*tags, (std::vector<std::string>{"gpu", "model=other"}));

  // Not a prompt path: no model needed, none added.
  Request models;
  models.path = "/v1/models";
  models.body = to_bytes(R"({"model":"llama3"})");
  tags = request_tags(models, {"llm"});
  ASSERT_TRUE(tags);
  EXPECT_EQ(*tags, std::vector<std::string>{"llm"});

  // Repeats collapse.
  r = chat(R"({"model":"m"})");
  r.tags = {"llm", "llm"};
  EXPECT_EQ(*request_tags(r, {}), (std::vector<std::string>{"llm", "model=m"}));
}

TEST(RequestTest, PromptWithoutModelIsARequestError) {
  auto tags = request_tags(chat(R"({"messages":[]})"), {"llm"});
  ASSERT_FALSE(tags);
  EXPECT_EQ(tags.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(step_of(tags.error()), Step::kRequest) << tags.error().message;

  Request r = chat(R"({"model":"m"})");
  r.tags = {std::string(513, 'x')};
  EXPECT_FALSE(request_tags(r, {}));
}

TEST(RequestTest, InnerRequest) {
  const std::string body = R"({"model":"llama3","messages":[{"role":"user","content":"hi"}]})";
  Request r = chat(body);
  r.headers.add("Host", "evil.example");        // replaced by the client's host
  r.headers.add("Content-Length", "1");         // recomputed
  r.headers.add("X-Confsec-Badge", "forged");   // the wallet's badge only
  r.headers.add("Connection", "close");         // hop-by-hop
  r.headers.add("X-Trace", "abc");
  const auto badge = test_badge();
  auto inner = build_inner_request(r, badge);
  ASSERT_TRUE(inner) << inner.error().to_string();
  EXPECT_EQ(inner->method, "POST");
  EXPECT_EQ(inner->scheme, "http");
  EXPECT_EQ(inner->authority, "confsec.invalid");
  EXPECT_EQ(inner->path, "/v1/chat/completions");
  EXPECT_EQ(inner->body, to_bytes(body));
  EXPECT_EQ(bhttp::find_field(inner->headers, "content-type"), "application/json");
  EXPECT_EQ(bhttp::find_field(inner->headers, "content-length"), std::to_string(body.size()));
  EXPECT_EQ(bhttp::find_field(inner->headers, "x-confsec-badge"), *badge.to_header());
  EXPECT_EQ(bhttp::find_field(inner->headers, "x-trace"), "abc");
  EXPECT_FALSE(bhttp::find_field(inner->headers, "host"));
  EXPECT_FALSE(bhttp::find_field(inner->headers, "connection"));
  size_t lengths = 0, badges = 0;
  for (const auto& f : inner->headers) {
    lengths += net::iequals(f.name, "content-length");
    badges += net::iequals(f.name, "x-confsec-badge");
  }
  EXPECT_EQ(lengths, 1u);
  EXPECT_EQ(badges, 1u);
  // The badge decodes to what the wallet holds.
  auto parsed = currency::Badge::from_header(*bhttp::find_field(inner->headers, "x-confsec-badge"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->credentials.models, std::vector<std::string>{"llama3"});

  // A caller's Content-Type is kept (the node decides whether it accepts it).
  r.headers.add("Content-Type", "application/json; charset=utf-8");
  inner = build_inner_request(r, badge);
  ASSERT_TRUE(inner);
  EXPECT_EQ(bhttp::find_field(inner->headers, "content-type"), "application/json; charset=utf-8");
}

TEST(RequestTest, InnerRequestRefusesBadPathsAndHeaders) {
  const auto badge = test_badge();
  Request r = chat("{}");
  r.path = "v1/chat";
  EXPECT_EQ(step_of(build_inner_request(r, badge).error()), Step::kRequest);
  r.path = "/a b";
  EXPECT_FALSE(build_inner_request(r, badge));
  r.path = "/v1/completions";
  r.method = "PO ST";
  EXPECT_FALSE(build_inner_request(r, badge));
  r.method = "POST";
  r.headers.add("X-Bad", " leading space");
  EXPECT_FALSE(build_inner_request(r, badge));
}

TEST(RequestTest, EncodingIsTheFixedSizeProfile) {
  for (size_t size : {0u, 1u, 400u, 512u, 513u, 5000u}) {
    Request r = chat(std::string(size, 'a'));
    auto inner = build_inner_request(r, test_badge());
    ASSERT_TRUE(inner);
    auto encoded = encode_inner_request(*inner);
    ASSERT_TRUE(encoded) << encoded.error().to_string();
    EXPECT_EQ(encoded->size() % 514, 0u) << size;
    auto decoded = bhttp::decode(*encoded);
    ASSERT_TRUE(decoded) << decoded.error().to_string();
    EXPECT_EQ(decoded->framing, bhttp::Framing::kIndeterminateLength);
    auto& back = std::get<bhttp::Request>(decoded->message);
    EXPECT_EQ(back.body, inner->body);
    EXPECT_EQ(back.authority, "confsec.invalid");
  }
}

TEST(RequestStepTest, StepsArePrefixedOnce) {
  Error e{ErrorCode::kTimeout, "no credit ready"};
  Error p = step_error(Step::kPayment, e);
  EXPECT_EQ(p.message, "payment: no credit ready");
  EXPECT_EQ(p.code, ErrorCode::kTimeout);
  EXPECT_EQ(step_of(p), Step::kPayment);
  EXPECT_EQ(step_error(Step::kRouting, p).message, "payment: no credit ready");
  EXPECT_EQ(step_of(Error{ErrorCode::kIo, "no verified node: none"}), Step::kNoVerifiedNode);
  EXPECT_FALSE(step_of(Error{ErrorCode::kIo, "nodes: x"}));
  EXPECT_FALSE(step_of(Error{ErrorCode::kIo, "node:x"}));
  for (Step s : {Step::kRequest, Step::kConfig, Step::kAuth, Step::kNoVerifiedNode, Step::kPayment, Step::kRouting,
                 Step::kNode, Step::kEngine}) {
    EXPECT_EQ(step_of(step_error(s, Error{ErrorCode::kIo, "x"})), s) << step_name(s);
  }
}

}  // namespace
}  // namespace openpcc::client
