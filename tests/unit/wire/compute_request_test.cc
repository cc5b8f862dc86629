// Multi-recipient compute-request encryption: every recipient can open, others cannot, tampering fails, per-node
// responses, the 514/532 fixed-size profile, pluggable (TPM-style) node keys, and a cross-check against the
// illustrative vector prefixes in the reference notes.
#include "wire/compute_request.h"

#include <gtest/gtest.h>

#include "common/random.h"
#include "common/varint.h"
#include "crypto/kem.h"
#include "unit/wire/ohttp_test_util.h"
#include "wire/bhttp.h"

namespace openpcc::wire::compute {
namespace {

using crypto::KemId;
using testing::feed_sliced;
using testing::Slicing;
using testing::unhex;

crypto::Kem p256() { return crypto::Kem::create(KemId::kDhkemP256HkdfSha256).value(); }

struct Node {
  std::unique_ptr<crypto::KemPrivateKey> sk;
  crypto::KemPublicKey pk;
};

Node make_node() {
  auto sk = p256().generate_key_pair().value();
  auto pk = p256().deserialize_public_key(sk->public_key()).value();
  return Node{std::move(sk), std::move(pk)};
}

// A node key whose DH happens "elsewhere" (standing in for TPM2_ECDH_ZGen): it forwards dh() and counts calls.
class ForwardingDhKey final : public crypto::DhPrivateKey {
 public:
  explicit ForwardingDhKey(const crypto::KemPrivateKey& inner) : inner_(inner) {}
  KemId kem_id() const override { return inner_.kem_id(); }
  ByteSpan public_key() const override { return inner_.public_key(); }
  Result<SecretBytes> dh(ByteSpan peer) const override {
    ++calls;
    return dynamic_cast<const crypto::DhPrivateKey&>(inner_).dh(peer);
  }
  mutable int calls = 0;

 private:
  const crypto::KemPrivateKey& inner_;
};

Bytes open_chunked(const RequestReceiver& rx, ByteSpan body, Slicing slicing) {
  auto opener = rx.chunked_body_opener();
  EXPECT_TRUE(opener.has_value());
  Bytes out;
  auto fed = feed_sliced(body, slicing, [&](ByteSpan s) { return opener->feed(s, out); });
  EXPECT_TRUE(fed.has_value()) << fed.error().to_string();
  auto fin = opener->finish(out);
  EXPECT_TRUE(fin.has_value()) << fin.error().to_string();
  return out;
}

bhttp::Request user_request(size_t body_size) {
  bhttp::Request r;
  r.method = "POST";
  r.scheme = "https";
  r.authority = "confsec.invalid";
  r.path = "/v1/chat/completions";
  r.headers = {{"content-type", "application/json"}, {"x-confsec-node-tags", "model=llama3.2:1b"}};
  r.body = random_bytes(body_size);
  return r;
}

TEST(ComputeRequest, ThreeRecipientsUnchunked) {
  std::vector<Node> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(make_node());
  Bytes bhttp = bhttp::encode(user_request(1000), bhttp::fixed_size_profile(bhttp::kComputeMessageChunkLen)).value();

  auto sender = RequestSender::create(Chunking::kUnchunked).value();
  EXPECT_EQ(sender.media_type(), "application/confsec-req");
  std::vector<WrappedKey> wrapped;
  for (const auto& n : nodes) {
    auto w = sender.wrap_key(n.pk);
    ASSERT_TRUE(w.has_value()) << w.error().to_string();
    EXPECT_EQ(w->encapsulated_key.size(), 120u);
    EXPECT_EQ(to_hex(ByteSpan(w->encapsulated_key).first(7)), "00001000010001");
    EXPECT_EQ(w->encapsulated_key[7], 0x04) << "uncompressed P-256 enc";
    wrapped.push_back(std::move(*w));
  }
  auto body = sender.seal_body(bhttp);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->size(), 12 + bhttp.size() + 16);

  for (size_t i = 0; i < nodes.size(); ++i) {
    SCOPED_TRACE(i);
    auto rx = RequestReceiver::unwrap_key(wrapped[i].encapsulated_key, *nodes[i].sk, Chunking::kUnchunked);
    ASSERT_TRUE(rx.has_value()) << rx.error().to_string();
    EXPECT_EQ(to_hex(rx->enc()), to_hex(wrapped[i].response_secrets.enc()));
    auto opened = rx->open_body(*body);
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    EXPECT_EQ(*opened, bhttp);

    // This node's response opens only with this node's secrets.
    Bytes reply = to_bytes("hello world! from node " + std::to_string(i));
    auto response = rx->response_secrets().context(Chunking::kUnchunked)->seal(reply).value();
    EXPECT_EQ(response.size(), 16 + reply.size() + 16);
    EXPECT_EQ(wrapped[i].response_secrets.context(Chunking::kUnchunked)->open(response).value(), reply);
    const auto& other = wrapped[(i + 1) % nodes.size()].response_secrets;
    EXPECT_FALSE(other.context(Chunking::kUnchunked)->open(response).has_value());
    // Another node's wrapped key does not open with this node's private key.
    EXPECT_FALSE(RequestReceiver::unwrap_key(wrapped[(i + 1) % nodes.size()].encapsulated_key, *nodes[i].sk,
                                             Chunking::kUnchunked)
                     .has_value());
  }
}

TEST(ComputeRequest, ThreeRecipientsChunkedFixedSizeProfile) {
  std::vector<Node> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(make_node());
  Bytes bhttp = bhttp::encode(user_request(3000), bhttp::fixed_size_profile(bhttp::kComputeMessageChunkLen)).value();
  ASSERT_EQ(bhttp.size() % 514, 0u);
  const size_t n = bhttp.size() / 514;

  auto sender = RequestSender::create(Chunking::kChunked).value();
  EXPECT_EQ(sender.media_type(), "application/confsec-chunked-req");
  std::vector<WrappedKey> wrapped;
  for (const auto& node : nodes) wrapped.push_back(sender.wrap_key(node.pk).value());
  auto sealer = sender.chunked_body_sealer();
  ASSERT_TRUE(sealer.has_value());
  Bytes body;
  ASSERT_TRUE(feed_sliced(bhttp, Slicing::kRandom, [&](ByteSpan s) { return sealer->write(s, body); }).has_value());
  ASSERT_TRUE(sealer->finish(body).has_value());
  ASSERT_EQ(body.size(), 12 + n * kEncapsulatedChunkLen + 17);
  for (size_t i = 0; i < n; ++i) {
    auto len = peek_varint(ByteSpan(body).subspan(12 + i * 532)).value();
    EXPECT_EQ(len.value, 530u);
    EXPECT_EQ(len.size, 2u);
  }

  for (size_t i = 0; i < nodes.size(); ++i) {
    SCOPED_TRACE(i);
    auto rx = RequestReceiver::unwrap_key(wrapped[i].encapsulated_key, *nodes[i].sk, Chunking::kChunked);
    ASSERT_TRUE(rx.has_value()) << rx.error().to_string();
    for (Slicing sl : {Slicing::kWhole, Slicing::kBytewise, Slicing::kRandom}) {
      EXPECT_EQ(open_chunked(*rx, body, sl), bhttp) << testing::slicing_name(sl);
    }

    bhttp::Response resp;
    resp.status = 200;
    resp.body = random_bytes(2000 + i);
    Bytes resp_bhttp = bhttp::encode(resp, bhttp::fixed_size_profile(bhttp::kComputeMessageChunkLen,
                                                                    bhttp::Framing::kIndeterminateLength))
                           .value();
    const size_t m = resp_bhttp.size() / 514;
    auto ctx = rx->response_secrets().context(Chunking::kChunked).value();
    auto rs = ctx.chunked_sealer(fixed_size_body_chunks()).value();
    Bytes response;
    ASSERT_TRUE(rs.write(resp_bhttp, response).has_value());
    ASSERT_TRUE(rs.finish(response).has_value());
    EXPECT_EQ(response.size(), 16 + m * 532 + 17);
    auto ro = wrapped[i].response_secrets.context(Chunking::kChunked)->chunked_opener(body_chunk_limits());
    Bytes read;
    ASSERT_TRUE(feed_sliced(response, Slicing::kRandom, [&](ByteSpan s) { return ro.feed(s, read); }).has_value());
    ASSERT_TRUE(ro.finish(read).has_value());
    EXPECT_EQ(read, resp_bhttp);
  }
}

TEST(ComputeRequest, OpenerRejectsChunksOverThe514Limit) {
  Node node = make_node();
  auto sender = RequestSender::create(Chunking::kChunked).value();
  auto w = sender.wrap_key(node.pk).value();
  auto sealer = sender.chunked_body_sealer(ChunkSealOptions{515}).value();
  Bytes body;
  ASSERT_TRUE(sealer.write(random_bytes(515), body).has_value());
  ASSERT_TRUE(sealer.finish(body).has_value());
  auto rx = RequestReceiver::unwrap_key(w.encapsulated_key, *node.sk, Chunking::kChunked).value();
  auto opener = rx.chunked_body_opener().value();
  Bytes out;
  auto r = opener.feed(body, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
}

TEST(ComputeRequest, WrongNodeKeyFails) {
  Node node = make_node(), stranger = make_node();
  auto sender = RequestSender::create(Chunking::kUnchunked).value();
  auto w = sender.wrap_key(node.pk).value();
  auto r = RequestReceiver::unwrap_key(w.encapsulated_key, *stranger.sk, Chunking::kUnchunked);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kAuthenticationFailed);
  // Non-P-256 keys are refused on both sides.
  auto x = crypto::Kem::create(KemId::kDhkemX25519HkdfSha256).value().generate_key_pair().value();
  auto x_pk = crypto::Kem::create(KemId::kDhkemX25519HkdfSha256).value().deserialize_public_key(x->public_key()).value();
  EXPECT_EQ(sender.wrap_key(x_pk).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(RequestReceiver::unwrap_key(w.encapsulated_key, *x, Chunking::kUnchunked).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(ComputeRequest, TamperedEncapsulatedKeyFails) {
  Node node = make_node();
  auto sender = RequestSender::create(Chunking::kUnchunked).value();
  auto w = sender.wrap_key(node.pk).value();
  for (size_t i = 0; i < w.encapsulated_key.size(); ++i) {
    Bytes bad = w.encapsulated_key;
    bad[i] ^= 0x01;
    auto r = RequestReceiver::unwrap_key(bad, *node.sk, Chunking::kUnchunked);
    ASSERT_FALSE(r.has_value()) << "byte " << i;
    if (i < 7) {
      EXPECT_EQ(r.error().code, ErrorCode::kDecode) << i;
    } else if (i >= 72) {
      EXPECT_EQ(r.error().code, ErrorCode::kAuthenticationFailed) << i;
    }
  }
  for (size_t n : {0, 7, 72, 119}) {
    EXPECT_EQ(RequestReceiver::unwrap_key(ByteSpan(w.encapsulated_key).first(n), *node.sk, Chunking::kUnchunked)
                  .error()
                  .code,
              ErrorCode::kDecode);
  }
  EXPECT_FALSE(
      RequestReceiver::unwrap_key(concat({w.encapsulated_key, Bytes{0}}), *node.sk, Chunking::kUnchunked).has_value());
  // The request media type is bound through the HPKE info: the chunked label does not unwrap an unchunked key.
  EXPECT_EQ(RequestReceiver::unwrap_key(w.encapsulated_key, *node.sk, Chunking::kChunked).error().code,
            ErrorCode::kAuthenticationFailed);
}

TEST(ComputeRequest, TamperedOrTruncatedBodyFails) {
  Node node = make_node();
  auto sender = RequestSender::create(Chunking::kUnchunked).value();
  auto w = sender.wrap_key(node.pk).value();
  Bytes body = sender.seal_body(to_bytes("the prompt")).value();
  auto rx = RequestReceiver::unwrap_key(w.encapsulated_key, *node.sk, Chunking::kUnchunked).value();
  for (size_t i = 0; i < body.size(); ++i) {
    Bytes bad = body;
    bad[i] ^= 0x80;
    EXPECT_FALSE(rx.open_body(bad).has_value()) << i;
  }
  for (size_t n = 0; n < body.size(); ++n) EXPECT_FALSE(rx.open_body(ByteSpan(body).first(n)).has_value()) << n;
  EXPECT_EQ(to_string(rx.open_body(body).value()), "the prompt");
  EXPECT_FALSE(rx.chunked_body_opener().has_value()) << "wrong framing for this request";

  auto csender = RequestSender::create(Chunking::kChunked).value();
  auto cw = csender.wrap_key(node.pk).value();
  auto cs = csender.chunked_body_sealer(ChunkSealOptions{100}).value();
  Bytes cbody;
  ASSERT_TRUE(cs.write(random_bytes(450), cbody).has_value());
  ASSERT_TRUE(cs.finish(cbody).has_value());
  auto crx = RequestReceiver::unwrap_key(cw.encapsulated_key, *node.sk, Chunking::kChunked).value();
  for (size_t n = 0; n < cbody.size(); n += 11) {
    auto opener = crx.chunked_body_opener().value();
    Bytes out;
    bool ok = opener.feed(ByteSpan(cbody).first(n), out).has_value() && opener.finish(out).has_value();
    EXPECT_FALSE(ok) << "truncated at " << n;
  }
  EXPECT_FALSE(crx.open_body(cbody).has_value());
}

TEST(ComputeRequest, MediaTypes) {
  EXPECT_EQ(request_media_type(Chunking::kUnchunked), "application/confsec-req");
  EXPECT_EQ(request_media_type(Chunking::kChunked), "application/confsec-chunked-req");
  EXPECT_EQ(response_media_type(Chunking::kUnchunked), "application/confsec-res");
  EXPECT_EQ(response_media_type(Chunking::kChunked), "application/confsec-chunked-res");
  EXPECT_EQ(request_chunking("application/confsec-chunked-req"), Chunking::kChunked);
  EXPECT_EQ(request_chunking("application/confsec-req"), Chunking::kUnchunked);
  EXPECT_EQ(request_chunking("application/confsec-res"), std::nullopt);
  EXPECT_EQ(response_chunking("application/confsec-chunked-res"), Chunking::kChunked);
  EXPECT_EQ(response_chunking("message/ohttp-res"), std::nullopt);
  EXPECT_EQ(to_string(key_wrap_info(Chunking::kUnchunked)),
            std::string("application/confsec-req\0", 24) + to_string(unhex("00001000010001")));
}

TEST(ComputeRequest, BodyIsSealedOnce) {
  auto sender = RequestSender::create(Chunking::kUnchunked).value();
  ASSERT_TRUE(sender.seal_body(to_bytes("a")).has_value());
  EXPECT_EQ(sender.seal_body(to_bytes("b")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(sender.chunked_body_sealer().has_value());
  auto chunked = RequestSender::create(Chunking::kChunked).value();
  EXPECT_FALSE(chunked.seal_body(to_bytes("a")).has_value());
  ASSERT_TRUE(chunked.chunked_body_sealer().has_value());
  EXPECT_FALSE(chunked.chunked_body_sealer().has_value());
}

TEST(ComputeRequest, PluggableDhNodeKey) {
  Node node = make_node();
  ForwardingDhKey tpm_like(*node.sk);
  auto sender = RequestSender::create(Chunking::kUnchunked).value();
  auto w = sender.wrap_key(node.pk).value();
  Bytes body = sender.seal_body(to_bytes("via the TPM")).value();
  auto rx = RequestReceiver::unwrap_key(w.encapsulated_key, tpm_like, Chunking::kUnchunked);
  ASSERT_TRUE(rx.has_value()) << rx.error().to_string();
  EXPECT_EQ(tpm_like.calls, 1) << "one ECDH per request";
  EXPECT_EQ(to_string(rx->open_body(body).value()), "via the TPM");
}

TEST(ComputeRequest, BodyIsAes256GcmUnderTheDek) {
  // The reference's quirk kept for interop: the 32-byte DEK keys AES-256-GCM.
  const Bytes dek = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const Bytes nonce = unhex("a0a1a2a3a4a5a6a7a8a9aaab");
  auto sender = RequestSender::create_for_testing(Chunking::kUnchunked, dek, nonce).value();
  Bytes body = sender.seal_body(to_bytes("payload")).value();
  auto aes256 = crypto::Aead::create(crypto::AeadId::kAes256Gcm, dek).value();
  EXPECT_EQ(to_hex(body), "a0a1a2a3a4a5a6a7a8a9aaab" + to_hex(aes256.seal(nonce, {}, to_bytes("payload")).value()));
  EXPECT_FALSE(RequestSender::create_for_testing(Chunking::kUnchunked, ByteSpan(dek).first(16), nonce).has_value());
}

// confidentcompute-and-libs.md §2.9 prints an illustrative, self-derived vector: skR = 0x11…11, skE = 0x22…22,
// DEK = 00..1f, body nonce a0..ab, and shows only prefixes: the encapsulated key starts 00001000010001 04d65a93 and
// the body a0..ab b45d2d78. Reading skE as the ephemeral private scalar reproduces the first; the second holds for a
// plaintext starting "REQU" (AES-256-GCM keystream XOR "REQU" = b45d2d78; with AES-128 it would not).
TEST(ComputeRequest, ReproducesTheReferenceNotesIllustrativePrefixes) {
  auto sk_r = p256().deserialize_private_key(Bytes(32, 0x11)).value();
  auto sk_e = p256().deserialize_private_key(Bytes(32, 0x22)).value();
  auto pk_r = p256().deserialize_public_key(sk_r->public_key()).value();
  const Bytes dek = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  auto sender =
      RequestSender::create_for_testing(Chunking::kUnchunked, dek, unhex("a0a1a2a3a4a5a6a7a8a9aaab")).value();
  crypto::EncapOptions ephemeral;
  ephemeral.sk_e = sk_e.get();
  auto w = sender.wrap_key_for_testing(pk_r, ephemeral).value();
  EXPECT_EQ(to_hex(ByteSpan(w.encapsulated_key).first(11)), "0000100001000104d65a93");
  Bytes body = sender.seal_body(to_bytes("REQUEST")).value();
  EXPECT_EQ(to_hex(ByteSpan(body).first(16)), "a0a1a2a3a4a5a6a7a8a9aaabb45d2d78");

  auto rx = RequestReceiver::unwrap_key(w.encapsulated_key, *sk_r, Chunking::kUnchunked).value();
  EXPECT_EQ(to_string(rx.open_body(body).value()), "REQUEST");
}

}  // namespace
}  // namespace openpcc::wire::compute
