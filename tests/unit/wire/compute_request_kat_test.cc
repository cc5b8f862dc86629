// Known-answer vectors for the compute-request construction (tests/data/compute-request-kat.json).
//
// There are no official vectors, so ours are generated deterministically from fixed inputs (node keys, ephemeral
// keys, DEK, body nonce, response nonces) with the *_for_testing hooks. To regenerate after a deliberate change:
//
//   OPENPCC_WRITE_COMPUTE_KAT=$PWD/tests/data/compute-request-kat.json
//   build/tests/wire_tests --gtest_filter=ComputeRequestKat.Generate
//
// (one command line, run from the repository root; without the variable the test skips).
//
// The checks below (a) recompute every output from the file's inputs with the wire API and compare byte-exactly,
// (b) derive the same bytes a second way, straight from the crypto layer (HPKE single-shot seal/export, HKDF, raw
// AES-GCM), and (c) run the receiving direction: each node unwraps and opens, the client opens each response.
#include "wire/compute_request.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "crypto/hpke.h"
#include "unit/wire/ohttp_test_util.h"
#include "wire/bhttp.h"

namespace openpcc::wire::compute {
namespace {

using nlohmann::json;
using testing::unhex;

constexpr const char* kKatFile = "compute-request-kat.json";

crypto::Kem p256() { return crypto::Kem::create(crypto::KemId::kDhkemP256HkdfSha256).value(); }

Bytes filled(uint8_t first, size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(first + i);
  return b;
}

// ---- Fixed inputs (the generator's only source of "randomness") ----------------------------------------------------

Bytes kat_request_bhttp(Chunking chunking) {
  bhttp::Request r;
  r.method = "POST";
  r.scheme = "https";
  r.authority = "confsec.invalid";
  r.path = "/v1/chat/completions";
  r.headers = {{"content-type", "application/json"}, {"x-confsec-node-tags", "model=llama3.2:1b"}};
  std::string prompt = "Hello";
  if (chunking == Chunking::kChunked) {
    for (int i = 0; i < 40; ++i) prompt += " Tell me about confidential computing, part " + std::to_string(i) + ".";
  }
  r.body = to_bytes(R"({"model":"llama3.2:1b","messages":[{"role":"user","content":")" + prompt + "\"}]}");
  auto framing = chunking == Chunking::kChunked ? bhttp::Framing::kIndeterminateLength : bhttp::Framing::kKnownLength;
  return bhttp::encode(r, bhttp::fixed_size_profile(bhttp::kComputeMessageChunkLen, framing)).value();
}

Bytes kat_response_bhttp(Chunking chunking) {
  bhttp::Response r;
  r.status = 200;
  r.headers = {{"content-type", "text/plain"}};
  r.body = to_bytes("hello world!");
  auto framing = chunking == Chunking::kChunked ? bhttp::Framing::kIndeterminateLength : bhttp::Framing::kKnownLength;
  return bhttp::encode(r, bhttp::fixed_size_profile(bhttp::kComputeMessageChunkLen, framing)).value();
}

json kat_inputs(Chunking chunking) {
  json nodes = json::array();
  const uint8_t sk_r[] = {0x11, 0x33, 0x55}, sk_e[] = {0x22, 0x44, 0x66}, nonce[] = {0xb0, 0xc0, 0xd0};
  for (int i = 0; i < 3; ++i) {
    nodes.push_back({{"skR", to_hex(Bytes(32, sk_r[i]))},
                     {"skE", to_hex(Bytes(32, sk_e[i]))},
                     {"response_nonce", to_hex(filled(nonce[i], 16))}});
  }
  return {{"name", chunking == Chunking::kChunked ? "chunked, 514/532 profile, three nodes"
                                                  : "unchunked, three nodes"},
          {"chunked", chunking == Chunking::kChunked},
          {"dek", to_hex(filled(0x00, 32))},
          {"body_nonce", to_hex(filled(0xa0, 12))},
          {"request_bhttp", to_hex(kat_request_bhttp(chunking))},
          {"response_bhttp", to_hex(kat_response_bhttp(chunking))},
          {"nodes", nodes}};
}

// ---- The construction through the wire API -----------------------------------------------------------------------

Bytes field(const json& j, const char* name) { return unhex(j.at(name).get<std::string>()); }

// Inputs in, the same object with every output filled in.
json compute_case(const json& in) {
  json out = in;
  const Chunking chunking = in.at("chunked").get<bool>() ? Chunking::kChunked : Chunking::kUnchunked;
  out["request_media_type"] = request_media_type(chunking);
  out["response_media_type"] = response_media_type(chunking);
  auto sender = RequestSender::create_for_testing(chunking, field(in, "dek"), field(in, "body_nonce")).value();
  Bytes body;
  if (chunking == Chunking::kChunked) {
    auto sealer = sender.chunked_body_sealer().value();
    EXPECT_TRUE(sealer.write(field(in, "request_bhttp"), body).has_value());
    EXPECT_TRUE(sealer.finish(body).has_value());
  } else {
    body = sender.seal_body(field(in, "request_bhttp")).value();
  }
  out["body"] = to_hex(body);
  for (auto& node : out["nodes"]) {
    auto sk_r = p256().deserialize_private_key(field(node, "skR")).value();
    auto sk_e = p256().deserialize_private_key(field(node, "skE")).value();
    auto pk_r = p256().deserialize_public_key(sk_r->public_key()).value();
    crypto::EncapOptions ephemeral;
    ephemeral.sk_e = sk_e.get();
    auto wrapped = sender.wrap_key_for_testing(pk_r, ephemeral).value();
    node["pkR"] = to_hex(sk_r->public_key());
    node["pkE"] = to_hex(sk_e->public_key());
    node["encapsulated_key"] = to_hex(wrapped.encapsulated_key);
    node["response_secret"] = to_hex(wrapped.response_secrets.secret(chunking));
    // The node's response, sealed with the response secrets the node derives (the client's are the same).
    auto ctx = wrapped.response_secrets.context(chunking).value();
    Bytes response;
    if (chunking == Chunking::kChunked) {
      auto rs = ctx.chunked_sealer_with_nonce_for_testing(field(node, "response_nonce"), fixed_size_body_chunks()).value();
      EXPECT_TRUE(rs.write(field(in, "response_bhttp"), response).has_value());
      EXPECT_TRUE(rs.finish(response).has_value());
    } else {
      response = ctx.seal_with_nonce_for_testing(field(in, "response_bhttp"), field(node, "response_nonce")).value();
    }
    node["response"] = to_hex(response);
  }
  return out;
}

TEST(ComputeRequestKat, Generate) {
  const char* path = std::getenv("OPENPCC_WRITE_COMPUTE_KAT");
  if (path == nullptr) GTEST_SKIP() << "set OPENPCC_WRITE_COMPUTE_KAT=<path> to (re)write the vector file";
  json doc = {
      {"description",
       "Compute-request (multi-recipient) known-answer vectors, generated deterministically by "
       "tests/unit/wire/compute_request_kat_test.cc (ComputeRequestKat.Generate) from fixed inputs; see "
       "docs/PROTOCOL.md, 'Compute-request encryption (multi-recipient)'. Inputs: dek, body_nonce, request_bhttp, "
       "response_bhttp, and per node skR, skE (ephemeral private scalar), response_nonce. Everything else is output."},
      {"suite", {{"kem", 16}, {"kdf", 1}, {"aead", 1}, {"body_aead", "AES-256-GCM"}, {"key_id", 0}}},
      {"cases", json::array({compute_case(kat_inputs(Chunking::kUnchunked)),
                             compute_case(kat_inputs(Chunking::kChunked))})}};
  std::ofstream f(path);
  ASSERT_TRUE(f.good()) << path;
  f << doc.dump(1) << "\n";
}

// ---- Checks -------------------------------------------------------------------------------------------------------

class ComputeRequestKatCase : public ::testing::Test {
 protected:
  static json cases() { return testing::load_json(kKatFile).at("cases"); }
};

TEST_F(ComputeRequestKatCase, FileHoldsTheGeneratorsInputs) {
  // Guards against the file and the generator drifting apart.
  auto c = cases();
  ASSERT_EQ(c.size(), 2u);
  for (const auto& kase : c) {
    json want = kat_inputs(kase.at("chunked").get<bool>() ? Chunking::kChunked : Chunking::kUnchunked);
    for (const auto& [key, value] : want.items()) {
      if (key == "nodes") {
        for (size_t i = 0; i < value.size(); ++i) {
          for (const auto& [k, v] : value[i].items()) EXPECT_EQ(kase["nodes"][i][k], v) << key << "/" << k;
        }
      } else {
        EXPECT_EQ(kase[key], value) << key;
      }
    }
  }
}

TEST_F(ComputeRequestKatCase, ReproducedByteExactly) {
  for (const auto& kase : cases()) {
    SCOPED_TRACE(kase.at("name").get<std::string>());
    json inputs = kase;
    for (const char* out : {"request_media_type", "response_media_type", "body"}) inputs.erase(out);
    for (auto& node : inputs["nodes"]) {
      for (const char* out : {"pkR", "pkE", "encapsulated_key", "response_secret", "response"}) node.erase(out);
    }
    json again = compute_case(inputs);
    EXPECT_EQ(again["body"], kase["body"]);
    EXPECT_EQ(again["request_media_type"], kase["request_media_type"]);
    EXPECT_EQ(again["response_media_type"], kase["response_media_type"]);
    for (size_t i = 0; i < kase["nodes"].size(); ++i) {
      SCOPED_TRACE(i);
      for (const char* out : {"pkR", "pkE", "encapsulated_key", "response_secret", "response"}) {
        EXPECT_EQ(again["nodes"][i][out], kase["nodes"][i][out]) << out;
      }
    }
  }
}

TEST_F(ComputeRequestKatCase, IndependentDerivationFromTheCryptoLayer) {
  auto hpke = crypto::Hpke::create(kKeyWrapSuite).value();
  auto hkdf = crypto::Hkdf::create(crypto::KdfId::kHkdfSha256).value();
  for (const auto& kase : cases()) {
    SCOPED_TRACE(kase.at("name").get<std::string>());
    const bool chunked = kase.at("chunked").get<bool>();
    const Bytes dek = field(kase, "dek"), body_nonce = field(kase, "body_nonce");
    const Bytes body = field(kase, "body");
    auto aes256 = crypto::Aead::create(crypto::AeadId::kAes256Gcm, dek).value();
    EXPECT_EQ(kase["request_media_type"], chunked ? "application/confsec-chunked-req" : "application/confsec-req");

    if (!chunked) {
      // body = nonce ‖ AES-256-GCM(DEK, nonce, "", bhttp)
      EXPECT_EQ(to_hex(body), to_hex(concat({body_nonce, aes256.seal(body_nonce, {}, field(kase, "request_bhttp")).value()})));
    } else {
      // Walk the chunks: 532 bytes each (varint(530) ‖ ct), nonce = body_nonce XOR i, then varint(0) ‖ final.
      const Bytes bhttp = field(kase, "request_bhttp");
      ASSERT_EQ(bhttp.size() % 514, 0u);
      const size_t n = bhttp.size() / 514;
      ASSERT_GT(n, 1u);
      ASSERT_EQ(body.size(), 12 + n * 532 + 17);
      for (size_t i = 0; i <= n; ++i) {
        Bytes nonce = body_nonce;
        nonce[11] ^= static_cast<uint8_t>(i);
        const bool last = i == n;
        ByteSpan pt = last ? ByteSpan() : ByteSpan(bhttp).subspan(i * 514, 514);
        Bytes frame = last ? Bytes{0x00} : Bytes{0x42, 0x12};
        append(frame, aes256.seal(nonce, as_bytes(last ? "final" : ""), pt).value());
        EXPECT_EQ(to_hex(ByteSpan(body).subspan(12 + i * 532, frame.size())), to_hex(frame)) << "chunk " << i;
      }
    }

    const std::string request_type = kase["request_media_type"];
    const std::string response_type = kase["response_media_type"];
    Bytes info = concat({as_bytes(request_type), Bytes{0x00}, unhex("00001000010001")});
    for (const auto& node : kase["nodes"]) {
      auto sk_r = p256().deserialize_private_key(field(node, "skR")).value();
      auto sk_e = p256().deserialize_private_key(field(node, "skE")).value();
      auto pk_r = p256().deserialize_public_key(sk_r->public_key()).value();
      crypto::HpkeSenderOptions options;
      options.ephemeral.sk_e = sk_e.get();
      // encapsulated key = hdr ‖ enc ‖ Seal(aad "multi-encap-key", DEK) — the single-shot HPKE seal is the same.
      auto sealed = hpke.seal(pk_r, info, as_bytes("multi-encap-key"), dek, options).value();
      EXPECT_EQ(node["encapsulated_key"], to_hex(concat({unhex("00001000010001"), sealed.enc, sealed.ciphertext})));
      // response secret = Export(response media type, 16) of the node's context.
      auto secret = hpke.receive_export(sealed.enc, *sk_r, info, as_bytes(response_type), 16).value();
      EXPECT_EQ(node["response_secret"], to_hex(secret));
      // response keys: HKDF(salt = enc ‖ nonce, secret) → key(16), nonce(12); AES-128-GCM.
      const Bytes response_nonce = field(node, "response_nonce");
      auto prk = hkdf.extract(concat({sealed.enc, response_nonce}), secret).value();
      auto key = hkdf.expand(prk, as_bytes("key"), 16).value();
      auto aead_nonce = hkdf.expand(prk, as_bytes("nonce"), 12).value();
      auto aes128 = crypto::Aead::create(crypto::AeadId::kAes128Gcm, key).value();
      const Bytes response = field(node, "response");
      EXPECT_EQ(to_hex(ByteSpan(response).first(16)), to_hex(response_nonce));
      if (!chunked) {
        EXPECT_EQ(to_hex(ByteSpan(response).subspan(16)),
                  to_hex(aes128.seal(aead_nonce, {}, field(kase, "response_bhttp")).value()));
      } else {
        const Bytes bhttp = field(kase, "response_bhttp");
        ASSERT_EQ(bhttp.size(), 514u);
        Bytes n1 = Bytes(aead_nonce.span().begin(), aead_nonce.span().end());
        n1[11] ^= 1;
        Bytes want = concat({response_nonce, Bytes{0x42, 0x12}, aes128.seal(aead_nonce, {}, bhttp).value(),
                             Bytes{0x00}, aes128.seal(n1, as_bytes("final"), {}).value()});
        EXPECT_EQ(to_hex(response), to_hex(want));
      }
    }
  }
}

TEST_F(ComputeRequestKatCase, ReceiversOpenEverything) {
  for (const auto& kase : cases()) {
    SCOPED_TRACE(kase.at("name").get<std::string>());
    const Chunking chunking = kase.at("chunked").get<bool>() ? Chunking::kChunked : Chunking::kUnchunked;
    for (const auto& node : kase["nodes"]) {
      auto sk_r = p256().deserialize_private_key(field(node, "skR")).value();
      auto rx = RequestReceiver::unwrap_key(field(node, "encapsulated_key"), *sk_r, chunking);
      ASSERT_TRUE(rx.has_value()) << rx.error().to_string();
      EXPECT_EQ(to_hex(rx->response_secrets().secret(chunking)), node["response_secret"]);
      Bytes request;
      if (chunking == Chunking::kChunked) {
        auto opener = rx->chunked_body_opener().value();
        ASSERT_TRUE(opener.feed(field(kase, "body"), request).has_value());
        ASSERT_TRUE(opener.finish(request).has_value());
      } else {
        request = rx->open_body(field(kase, "body")).value();
      }
      EXPECT_EQ(to_hex(request), kase["request_bhttp"]);

      auto ctx = rx->response_secrets().context(chunking).value();
      Bytes response;
      if (chunking == Chunking::kChunked) {
        auto ro = ctx.chunked_opener(body_chunk_limits());
        ASSERT_TRUE(ro.feed(field(node, "response"), response).has_value());
        ASSERT_TRUE(ro.finish(response).has_value());
      } else {
        response = ctx.open(field(node, "response")).value();
      }
      EXPECT_EQ(to_hex(response), kase["response_bhttp"]);
    }
  }
}

}  // namespace
}  // namespace openpcc::wire::compute
