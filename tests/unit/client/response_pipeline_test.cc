// The compute-request pipeline without a network: the client seals a request for several candidates, a software
// node opens it with the wire library's receiver and answers in streamed chunks, and the client's reader decrypts
// and decodes the answer piece by piece, whatever the transport's splits.
#include <gtest/gtest.h>

#include "client/inner_response_reader.h"
#include "client/request.h"
#include "client/sealed_request.h"
#include "common/random.h"
#include "crypto/ed25519.h"
#include "node_answer.h"

namespace openpcc::client {
namespace {

namespace bhttp = wire::bhttp;

constexpr std::string_view kNodeA = "0190a000-0000-7000-8000-00000000000a";
constexpr std::string_view kNodeB = "0190a000-0000-7000-8000-00000000000b";

currency::Badge badge() {
  currency::BadgeIssuer issuer(crypto::Ed25519PrivateKey::from_seed(Bytes(32, 9)).value());
  currency::Credentials c;
  c.models = {"m"};
  return issuer.issue(c).value();
}

class ResponsePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Request r;
    r.path = "/v1/chat/completions";
    r.body = to_bytes(R"({"model":"m","messages":[{"role":"user","content":")" + std::string(1500, 'x') +
                      R"("}],"stream":true})");
    inner_ = build_inner_request(r, badge()).value();
    auto encoded = encode_inner_request(inner_).value();
    std::vector<Candidate> candidates{{std::string(kNodeA), test::public_of(*rek_a_)},
                                      {std::string(kNodeB), test::public_of(*rek_b_)}};
    auto sealed = seal_compute_request(encoded, candidates);
    ASSERT_TRUE(sealed) << sealed.error().to_string();
    sealed_.emplace(std::move(*sealed));
  }

  // Node B opens the request (it is the router's choice) and returns its receiver.
  wire::compute::RequestReceiver node_b_opens(size_t split = 97) {
    const auto& candidate = sealed_->routing_info.candidates(1);
    EXPECT_EQ(candidate.id(), kNodeB);
    auto opened = test::open_request(as_bytes(candidate.encapsulated_key()), *rek_b_, sealed_->body, split);
    EXPECT_TRUE(opened) << opened.error().to_string();
    EXPECT_EQ(opened->second, inner_);
    return std::move(opened->first);
  }

  // The answer ciphertext: head, three SSE events, end — and the offsets where each event's chunk ends.
  Bytes answer(const wire::compute::RequestReceiver& rx, std::vector<size_t>* event_ends = nullptr,
               bool finish = true) {
    test::StreamedAnswer a(rx.response_secrets());
    Bytes out = a.head(200, {{"content-type", "text/event-stream"}});
    for (std::string_view e : {"data: {\"t\":\"Hel\"}\n\n", "data: {\"t\":\"lo\"}\n\n", "data: [DONE]\n\n"}) {
      Bytes c = a.body(e);
      out.insert(out.end(), c.begin(), c.end());
      if (event_ends) event_ends->push_back(out.size());
    }
    if (finish) {
      Bytes c = a.finish();
      out.insert(out.end(), c.begin(), c.end());
    }
    return out;
  }

  std::unique_ptr<crypto::KemPrivateKey> rek_a_ = test::software_rek();
  std::unique_ptr<crypto::KemPrivateKey> rek_b_ = test::software_rek();
  bhttp::Request inner_;
  std::optional<SealedRequest> sealed_;
};

TEST_F(ResponsePipelineTest, SealedRequestHasOneWrappedKeyPerCandidateAndFixedSizeChunks) {
  EXPECT_EQ(sealed_->media_type, "application/confsec-chunked-req");
  ASSERT_EQ(sealed_->routing_info.candidates_size(), 2);
  for (const auto& c : sealed_->routing_info.candidates()) {
    EXPECT_EQ(c.encapsulated_key().size(), wire::compute::kEncapsulatedKeySize);
  }
  // body nonce ‖ n × 532-byte chunks ‖ 17-byte final chunk
  ASSERT_GT(sealed_->body.size(), 12u + 17u);
  EXPECT_EQ((sealed_->body.size() - 12 - 17) % 532, 0u);
  pb::ComputeRequestInfo parsed;
  auto raw = from_base64(sealed_->routing_info_header()).value();
  ASSERT_TRUE(parsed.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
  EXPECT_EQ(parsed.candidates(0).id(), kNodeA);
  EXPECT_NE(sealed_->secrets_for(kNodeA), nullptr);
  EXPECT_NE(sealed_->secrets_for(kNodeB), nullptr);
  EXPECT_EQ(sealed_->secrets_for("other"), nullptr);
  // Each candidate can open it; a key that is not a candidate cannot.
  auto a = test::open_request(as_bytes(sealed_->routing_info.candidates(0).encapsulated_key()), *rek_a_,
                              sealed_->body, 1000);
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->second, inner_);
  EXPECT_FALSE(test::open_request(as_bytes(sealed_->routing_info.candidates(0).encapsulated_key()), *rek_b_,
                                  sealed_->body, 1000));
}

TEST_F(ResponsePipelineTest, RefusesBadCandidateLists) {
  EXPECT_FALSE(seal_compute_request(to_bytes("x"), {}));
  std::vector<Candidate> dup{{"a", test::public_of(*rek_a_)}, {"a", test::public_of(*rek_b_)}};
  EXPECT_FALSE(seal_compute_request(to_bytes("x"), dup));
  std::vector<Candidate> many(17, Candidate{"x", test::public_of(*rek_a_)});
  for (size_t i = 0; i < many.size(); ++i) many[i].id = std::to_string(i);
  EXPECT_FALSE(seal_compute_request(to_bytes("x"), many));
}

TEST_F(ResponsePipelineTest, DecryptsEachPieceAsItArrives) {
  auto rx = node_b_opens();
  std::vector<size_t> ends;
  Bytes cipher = answer(rx, &ends);
  auto reader = InnerResponseReader::create(*sealed_->secrets_for(kNodeB), "application/confsec-chunked-res");
  ASSERT_TRUE(reader) << reader.error().to_string();
  // Feed up to the end of the first event's chunk: head and first event are out, nothing more.
  ASSERT_TRUE(reader->feed(ByteSpan(cipher).first(ends[0])));
  ASSERT_TRUE(reader->head());
  EXPECT_EQ(reader->head()->status, 200);
  EXPECT_EQ(bhttp::find_field(reader->head()->headers, "content-type"), "text/event-stream");
  EXPECT_EQ(reader->take_body(), to_bytes("data: {\"t\":\"Hel\"}\n\n"));
  EXPECT_FALSE(reader->has_body());
  ASSERT_TRUE(reader->feed(ByteSpan(cipher).subspan(ends[0], ends[1] - ends[0])));
  EXPECT_EQ(reader->take_body(), to_bytes("data: {\"t\":\"lo\"}\n\n"));
  ASSERT_TRUE(reader->feed(ByteSpan(cipher).subspan(ends[1])));
  EXPECT_FALSE(reader->complete());
  ASSERT_TRUE(reader->finish());
  EXPECT_TRUE(reader->complete());
  EXPECT_EQ(reader->take_body(), to_bytes("data: [DONE]\n\n"));
}

TEST_F(ResponsePipelineTest, AnySplitGivesTheSameAnswer) {
  auto rx = node_b_opens(1);
  const Bytes cipher = answer(rx);
  const std::string expected = "data: {\"t\":\"Hel\"}\n\ndata: {\"t\":\"lo\"}\n\ndata: [DONE]\n\n";
  std::vector<std::vector<size_t>> plans = {{1}, {2}, {3}, {7}, {16}, {17}, {531}, {532}, {533}, {100000}};
  std::vector<size_t> random_plan;
  for (int i = 0; i < 64; ++i) random_plan.push_back(1 + random_uniform(40));
  plans.push_back(random_plan);
  for (const auto& plan : plans) {
    auto reader = InnerResponseReader::create(*sealed_->secrets_for(kNodeB), "application/confsec-chunked-res");
    ASSERT_TRUE(reader);
    std::string body;
    size_t at = 0, i = 0;
    while (at < cipher.size()) {
      const size_t n = std::min(plan[i++ % plan.size()], cipher.size() - at);
      ASSERT_TRUE(reader->feed(ByteSpan(cipher).subspan(at, n))) << "split " << plan[0];
      Bytes piece = reader->take_body();
      body.append(piece.begin(), piece.end());
      at += n;
    }
    ASSERT_TRUE(reader->finish());
    Bytes piece = reader->take_body();
    body.append(piece.begin(), piece.end());
    EXPECT_EQ(body, expected) << "split " << plan[0];
    EXPECT_EQ(reader->head()->status, 200);
  }
}

TEST_F(ResponsePipelineTest, TruncatedAnswersFail) {
  auto rx = node_b_opens();
  const Bytes full = answer(rx);
  // Cut anywhere: in the nonce, in a chunk, between chunks, before the final chunk, or the inner message lacks
  // its end (the node stopped the BHTTP message but the encryption ended cleanly).
  for (size_t cut : {size_t{0}, size_t{5}, size_t{16}, size_t{40}, full.size() - 17, full.size() - 1}) {
    auto reader = InnerResponseReader::create(*sealed_->secrets_for(kNodeB), "application/confsec-chunked-res");
    ASSERT_TRUE(reader->feed(ByteSpan(full).first(cut)));
    auto done = reader->finish();
    EXPECT_FALSE(done) << "cut at " << cut;
    EXPECT_FALSE(reader->complete());
    EXPECT_FALSE(reader->finish()) << "errors stick";
  }
  // The sealer finished, but the BHTTP message inside did not: the node's engine broke mid-answer.
  {
    test::StreamedAnswer a(rx.response_secrets());
    Bytes cipher = a.head(200, {});
    Bytes b = a.body("data: partial");
    cipher.insert(cipher.end(), b.begin(), b.end());
    Bytes end = a.cut();
    cipher.insert(cipher.end(), end.begin(), end.end());
    auto reader = InnerResponseReader::create(*sealed_->secrets_for(kNodeB), "application/confsec-chunked-res");
    ASSERT_TRUE(reader->feed(cipher));
    EXPECT_EQ(reader->take_body(), to_bytes("data: partial"));
    auto done = reader->finish();
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().code, ErrorCode::kTruncated) << done.error().to_string();
  }
}

TEST_F(ResponsePipelineTest, OtherNodesSecretsAndTamperingFail) {
  auto rx = node_b_opens();
  Bytes cipher = answer(rx);
  auto wrong = InnerResponseReader::create(*sealed_->secrets_for(kNodeA), "application/confsec-chunked-res");
  EXPECT_FALSE(wrong->feed(cipher) && wrong->finish());

  cipher[40] ^= 1;
  auto reader = InnerResponseReader::create(*sealed_->secrets_for(kNodeB), "application/confsec-chunked-res");
  auto fed = reader->feed(cipher);
  ASSERT_FALSE(fed);
  EXPECT_EQ(fed.error().code, ErrorCode::kAuthenticationFailed) << fed.error().to_string();

  EXPECT_EQ(InnerResponseReader::create(*sealed_->secrets_for(kNodeB), "application/json").error().code,
            ErrorCode::kUnsupported);
}

TEST_F(ResponsePipelineTest, WholeAnswers) {
  auto rx = node_b_opens();
  bhttp::Response response;
  response.status = 400;
  response.headers = {{"content-type", "application/json"}};
  response.body = to_bytes(R"({"code":"ErrInvalidBadge","message":"bad badge"})");
  auto context = rx.response_secrets().context(wire::Chunking::kUnchunked).value();
  Bytes cipher = context.seal(bhttp::encode(response).value()).value();
  auto reader = InnerResponseReader::create(*sealed_->secrets_for(kNodeB), "application/confsec-res");
  ASSERT_TRUE(reader);
  ASSERT_TRUE(reader->feed(ByteSpan(cipher).first(10)));
  ASSERT_TRUE(reader->feed(ByteSpan(cipher).subspan(10)));
  EXPECT_FALSE(reader->head()) << "a whole answer is opened at its end";
  ASSERT_TRUE(reader->finish());
  EXPECT_EQ(reader->head()->status, 400);
  EXPECT_EQ(reader->take_body(), response.body);

  auto small = InnerResponseReader::create(*sealed_->secrets_for(kNodeB), "application/confsec-res", {}, 8);
  EXPECT_EQ(small->feed(cipher).error().code, ErrorCode::kLimitExceeded);
}

}  // namespace
}  // namespace openpcc::client
