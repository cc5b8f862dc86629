// InnerRequestDecoder: the gateway's streaming decapsulation + BHTTP decoding, fed in slices of every size.
#include <gtest/gtest.h>

#include <random>

#include "services/gateway/inner_request_decoder.h"
#include "unit/gateway/gateway_test_support.h"

namespace openpcc::gateway {
namespace {

using namespace gwtest;

struct Collected {
  std::optional<bhttp::RequestHead> head;
  size_t head_after_bytes = 0;  // outer bytes fed when the head came out
  Bytes body;
  std::optional<bhttp::Fields> trailers;
  bool ended = false;
  std::optional<ohttp::OhttpError> error;
};

class DecoderFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<GatewayKeySpec> specs{key_spec(dir_, 1, -1, 1), key_spec(dir_, 2, -1, 1, crypto::KemId::kDhkemX25519HkdfSha256),
                                      key_spec(dir_, 3, -48, -24)};
    auto material = load_gateway_keys(specs);
    ASSERT_TRUE(material) << material.error().to_string();
    material_ = std::make_shared<const GatewayKeyMaterial>(std::move(*material));
    finder_ = rotating_key_finder(material_, system_now);
  }

  const ohttp::KeyConfig& key(size_t i) const { return material_->keys.keys()[i].config; }

  // Feeds `outer` in slices of `slice` bytes (0 = whole), draining events after each.
  Collected run(wire::Chunking chunking, ByteSpan outer, size_t slice, const InnerRequestLimits& limits = {}) {
    InnerRequestDecoder decoder(chunking, finder_, limits);
    Collected c;
    size_t fed = 0;
    auto drain = [&]() -> bool {
      for (;;) {
        auto ev = decoder.next();
        if (!ev) {
          c.error = ev.error();
          return false;
        }
        if (!*ev) return true;
        if (auto* h = std::get_if<bhttp::RequestHead>(&**ev)) {
          EXPECT_FALSE(c.head);
          c.head = *h;
          c.head_after_bytes = fed;
        } else if (auto* b = std::get_if<InnerBody>(&**ev)) {
          EXPECT_TRUE(c.head);
          EXPECT_FALSE(b->data.empty());
          append(c.body, b->data);
        } else if (auto* t = std::get_if<InnerTrailers>(&**ev)) {
          c.trailers = t->fields;
        } else {
          EXPECT_TRUE(c.trailers);
          c.ended = true;
        }
      }
    };
    while (fed < outer.size()) {
      const size_t n = slice == 0 ? outer.size() : std::min(slice, outer.size() - fed);
      if (auto ok = decoder.feed(outer.subspan(fed, n)); !ok) {
        c.error = ok.error();
        return c;
      }
      fed += n;
      if (!drain()) return c;
    }
    if (auto ok = decoder.finish(); !ok) {
      c.error = ok.error();
      return c;
    }
    drain();
    if (c.ended) {
      EXPECT_TRUE(decoder.response_secrets() != nullptr);
    }
    return c;
  }

  test_support::TempDir dir_;
  std::shared_ptr<const GatewayKeyMaterial> material_;
  ohttp::KeyFinder finder_;
};

bhttp::Request sample_request(size_t body_size) {
  bhttp::Request r = inner_request("POST", "confsec-router.invalid", "/", Bytes(body_size));
  for (size_t i = 0; i < r.body.size(); ++i) r.body[i] = static_cast<uint8_t>(i * 7);
  r.headers = {{"content-type", "application/confsec-chunked-req"}, {"x-credit", "abc"}};
  r.trailers = {{"x-done", "1"}};
  return r;
}

TEST_F(DecoderFixture, ChunkedRequestsDecodeAlikeInAnySlicesAndTheHeadComesEarly) {
  const bhttp::Request request = sample_request(5000);
  auto encoded = bhttp::encode(request, bhttp::fixed_size_profile(bhttp::kOhttpMessageChunkLen));
  ASSERT_TRUE(encoded);
  for (size_t k : {0, 1}) {
    auto sealed = ohttp::encapsulate_chunked_request(key(k), *encoded, {}, ohttp::openpcc_fixed_size_chunks());
    ASSERT_TRUE(sealed);
    for (size_t slice : {size_t{0}, size_t{1}, size_t{7}, size_t{550}, size_t{1000}}) {
      Collected c = run(wire::Chunking::kChunked, sealed->request, slice);
      ASSERT_FALSE(c.error) << c.error->to_string();
      ASSERT_TRUE(c.head);
      EXPECT_EQ(c.head->method, "POST");
      EXPECT_EQ(c.head->authority, "confsec-router.invalid");
      EXPECT_EQ(c.head->path, "/");
      EXPECT_EQ(c.head->headers, request.headers);
      EXPECT_EQ(c.body, request.body);
      EXPECT_EQ(*c.trailers, request.trailers);
      EXPECT_TRUE(c.ended);
      if (slice != 0) {
        // The head is in the first 532-byte piece: it comes out once that chunk (hdr ‖ enc ‖ 550 bytes) is in.
        const size_t enc = k == 0 ? 1120 : 32;
        EXPECT_LE(c.head_after_bytes, 7 + enc + 550 + slice) << slice;
      }
    }
  }
}

TEST_F(DecoderFixture, WholeRequestsDecodeInAnyFraming) {
  const bhttp::Request request = sample_request(3000);
  for (auto framing : {bhttp::Framing::kKnownLength, bhttp::Framing::kIndeterminateLength}) {
    bhttp::EncodeOptions options;
    options.framing = framing;
    auto encoded = bhttp::encode(request, options);
    auto sealed = ohttp::encapsulate_request(key(0), *encoded);
    ASSERT_TRUE(sealed);
    for (size_t slice : {size_t{0}, size_t{13}}) {
      Collected c = run(wire::Chunking::kUnchunked, sealed->request, slice);
      ASSERT_FALSE(c.error) << c.error->to_string();
      EXPECT_EQ(c.head_after_bytes, sealed->request.size());  // nothing before the end
      EXPECT_EQ(c.body, request.body);
      EXPECT_EQ(*c.trailers, request.trailers);
      EXPECT_TRUE(c.ended);
    }
  }
}

TEST_F(DecoderFixture, ErrorsCarryTheirTaxonomyCode) {
  using Code = ohttp::OhttpErrorCode;
  auto encoded = bhttp::encode(sample_request(100), bhttp::fixed_size_profile(bhttp::kOhttpMessageChunkLen));
  auto chunked = ohttp::encapsulate_chunked_request(key(0), *encoded, {}, ohttp::openpcc_fixed_size_chunks());
  ASSERT_TRUE(chunked);
  auto code_of = [&](wire::Chunking chunking, ByteSpan outer, const InnerRequestLimits& limits = {}) {
    Collected c = run(chunking, outer, 0, limits);
    return c.error ? c.error->code : Code::kRequestIo;  // kRequestIo = "no error" here
  };
  // Expired key.
  auto expired = ohttp::encapsulate_chunked_request(key(2), *encoded);
  EXPECT_EQ(code_of(wire::Chunking::kChunked, expired->request), Code::kInactiveKey);
  // Unknown key id.
  Bytes unknown = chunked->request;
  unknown[0] = 99;
  EXPECT_EQ(code_of(wire::Chunking::kChunked, unknown), Code::kKeyNotFound);
  // Unknown KEM id: the header itself is invalid.
  Bytes bad_header = chunked->request;
  bad_header[1] = 0x77;
  EXPECT_EQ(code_of(wire::Chunking::kChunked, bad_header), Code::kInvalidRequestHeader);
  EXPECT_EQ(code_of(wire::Chunking::kChunked, ByteSpan(chunked->request).first(3)), Code::kInvalidRequestHeader);
  // A flipped ciphertext byte, a missing final chunk.
  Bytes flipped = chunked->request;
  flipped[7 + 1120 + 100] ^= 1;
  EXPECT_EQ(code_of(wire::Chunking::kChunked, flipped), Code::kRequestDecoding);
  EXPECT_EQ(code_of(wire::Chunking::kChunked, ByteSpan(chunked->request).first(chunked->request.size() - 17)),
            Code::kRequestDecoding);
  // A chunk larger than the limit.
  InnerRequestLimits small;
  small.max_chunk_plaintext = 100;
  EXPECT_EQ(code_of(wire::Chunking::kChunked, chunked->request, small), Code::kRequestDecoding);
  // Encrypted garbage that is not BHTTP, and a response instead of a request.
  auto garbage = ohttp::encapsulate_chunked_request(key(0), to_bytes("\x07hello"));
  EXPECT_EQ(code_of(wire::Chunking::kChunked, garbage->request), Code::kRequestDecoding);
  bhttp::Response response;
  auto response_bytes = bhttp::encode(response);
  auto wrong_kind = ohttp::encapsulate_request(key(0), *response_bytes);
  EXPECT_EQ(code_of(wire::Chunking::kUnchunked, wrong_kind->request), Code::kRequestDecoding);
  // A header section over its limit.
  InnerRequestLimits tight;
  tight.bhttp.max_header_section_bytes = 8;
  EXPECT_EQ(code_of(wire::Chunking::kChunked, chunked->request, tight), Code::kRequestDecoding);
  // Unchunked: the outer size limit, a truncated body, and a chunked body sent as unchunked.
  auto whole = ohttp::encapsulate_request(key(0), *encoded);
  InnerRequestLimits outer_limit;
  outer_limit.max_request_bytes = 64;
  EXPECT_EQ(code_of(wire::Chunking::kUnchunked, whole->request, outer_limit), Code::kRequestIo);
  EXPECT_TRUE(run(wire::Chunking::kUnchunked, whole->request, 0, outer_limit).error);
  EXPECT_EQ(code_of(wire::Chunking::kUnchunked, ByteSpan(whole->request).first(whole->request.size() - 1)),
            Code::kRequestDecoding);
  EXPECT_EQ(code_of(wire::Chunking::kUnchunked, chunked->request), Code::kRequestDecoding);
  EXPECT_EQ(code_of(wire::Chunking::kUnchunked, ByteSpan()), Code::kInvalidRequestHeader);
}

TEST_F(DecoderFixture, RandomSlicesAndFlipsNeverMisbehave) {
  auto encoded = bhttp::encode(sample_request(1500), bhttp::fixed_size_profile(bhttp::kOhttpMessageChunkLen));
  auto sealed = ohttp::encapsulate_chunked_request(key(1), *encoded, {}, ohttp::openpcc_fixed_size_chunks());
  ASSERT_TRUE(sealed);
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    Bytes outer = sealed->request;
    const size_t at = rng() % outer.size();
    outer[at] ^= static_cast<uint8_t>(1 + rng() % 255);
    Collected c = run(wire::Chunking::kChunked, outer, 1 + rng() % 600);
    // Any change is caught: before the end, or at the latest by the final chunk's tag.
    EXPECT_TRUE(c.error) << "flip at " << at;
    EXPECT_FALSE(c.ended);
  }
}

}  // namespace
}  // namespace openpcc::gateway
