// Oblivious HTTP: RFC 9458 Appendix A and the chunked-OHTTP draft example byte-exact in both roles, round trips for
// X25519 and X25519Kyber768Draft00 (whole, byte-by-byte and randomly sliced), the OpenPCC fixed-size profile's exact
// wire sizes, and the error taxonomy codes decapsulation reports.
#include "wire/ohttp.h"

#include <gtest/gtest.h>

#include "common/random.h"
#include "common/varint.h"
#include "crypto/kem.h"
#include "unit/wire/ohttp_test_util.h"
#include "wire/bhttp.h"
#include "wire/ohttp_chunked.h"

namespace openpcc::wire::ohttp {
namespace {

using crypto::AeadId;
using crypto::KdfId;
using crypto::KemId;
using testing::feed_sliced;
using testing::load_json;
using testing::Slicing;
using testing::unhex;

constexpr std::string_view kRfcConfig =
    "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003";

std::shared_ptr<const crypto::KemPrivateKey> private_key(KemId kem, std::string_view sk_hex) {
  return crypto::Kem::create(kem).value().deserialize_private_key(unhex(sk_hex)).value();
}

KeyConfig config_for(const nlohmann::json& v) {
  const auto& kc = v.at("key_config");
  return KeyConfig{kc.at("key_id").get<uint8_t>(), static_cast<KemId>(kc.at("kem_id").get<uint16_t>()),
                   unhex(v.at("pkR").get<std::string>()),
                   {{static_cast<KdfId>(kc.at("kdf_id").get<uint16_t>()),
                     static_cast<AeadId>(kc.at("aead_id").get<uint16_t>())}}};
}

std::string hexs(const nlohmann::json& v, const char* name) { return v.at(name).get<std::string>(); }

// ---- Published examples -------------------------------------------------------------------------------------------

TEST(OhttpVectors, Rfc9458AppendixA) {
  auto v = load_json("ohttp-examples.json").at("rfc9458_appendix_a");
  KeyConfig config = parse_key_config(unhex(kRfcConfig)).value();
  EXPECT_EQ(config.public_key, unhex(hexs(v, "pkR")));

  // Client, with the vector's ephemeral key.
  auto sk_e = private_key(KemId::kDhkemX25519HkdfSha256, hexs(v, "skE"));
  EncapsulateOptions options;
  options.ephemeral_for_testing.sk_e = sk_e.get();
  auto sent = encapsulate_request(config, unhex(hexs(v, "bhttp_request")), options);
  ASSERT_TRUE(sent.has_value()) << sent.error().to_string();
  EXPECT_EQ(to_hex(sent->request), hexs(v, "encapsulated_request"));
  EXPECT_EQ(to_hex(sent->response_secrets.enc()), hexs(v, "pkE"));

  // Gateway.
  GatewayKeySet keys;
  ASSERT_TRUE(keys.add(config, private_key(KemId::kDhkemX25519HkdfSha256, hexs(v, "skR"))).has_value());
  auto got = decapsulate_request(keys, unhex(hexs(v, "encapsulated_request")));
  ASSERT_TRUE(got.has_value()) << got.error().to_string();
  EXPECT_EQ(to_hex(got->bhttp), hexs(v, "bhttp_request"));
  EXPECT_EQ(got->header, (RequestHeader{1, KemId::kDhkemX25519HkdfSha256, KdfId::kHkdfSha256, AeadId::kAes128Gcm}));
  EXPECT_EQ(to_hex(got->response_secrets.secret(Chunking::kUnchunked)),
            to_hex(sent->response_secrets.secret(Chunking::kUnchunked)));

  // Response with the vector's nonce, and the client reading it.
  auto gw_ctx = got->response_secrets.context(Chunking::kUnchunked).value();
  EXPECT_EQ(gw_ctx.response_nonce_size(), 16u);
  auto response = gw_ctx.seal_with_nonce_for_testing(unhex(hexs(v, "bhttp_response")), unhex(hexs(v, "response_nonce")));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(to_hex(*response), hexs(v, "encapsulated_response"));
  auto client_ctx = sent->response_secrets.context(Chunking::kUnchunked).value();
  auto read = client_ctx.open(unhex(hexs(v, "encapsulated_response")));
  ASSERT_TRUE(read.has_value()) << read.error().to_string();
  EXPECT_EQ(to_hex(*read), hexs(v, "bhttp_response"));
  // A fresh random nonce still decrypts.
  EXPECT_EQ(to_hex(client_ctx.open(gw_ctx.seal(unhex("0140c8")).value()).value()), "0140c8");
}

TEST(OhttpVectors, ChunkedDraftExample) {
  auto v = load_json("ohttp-examples.json").at("chunked_ohttp_draft08_example");
  KeyConfig config = config_for(v);
  auto req_chunks = v.at("request_plaintext_chunks");
  auto res_chunks = v.at("response_plaintext_chunks");

  // Client: the example's split (12 + 13 bytes, then an empty final chunk).
  auto sk_e = private_key(KemId::kDhkemX25519HkdfSha256, hexs(v, "skE"));
  EncapsulateOptions options;
  options.ephemeral_for_testing.sk_e = sk_e.get();
  auto sealer = ChunkedRequestSealer::create(config, options);
  ASSERT_TRUE(sealer.has_value()) << sealer.error().to_string();
  Bytes request;
  for (size_t i = 0; i + 1 < req_chunks.size(); ++i) {
    ASSERT_TRUE(sealer->write(unhex(req_chunks[i].get<std::string>()), request).has_value());
  }
  ASSERT_TRUE(sealer->finish(request, unhex(req_chunks.back().get<std::string>())).has_value());
  EXPECT_EQ(to_hex(request), hexs(v, "encapsulated_request"));

  // Gateway, fed whole, byte by byte and in random slices; plaintext arrives per chunk.
  GatewayKeySet keys;
  ASSERT_TRUE(keys.add(config, private_key(KemId::kDhkemX25519HkdfSha256, hexs(v, "skR"))).has_value());
  const Bytes wire = unhex(hexs(v, "encapsulated_request"));
  for (Slicing sl : {Slicing::kWhole, Slicing::kBytewise, Slicing::kRandom}) {
    SCOPED_TRACE(testing::slicing_name(sl));
    ChunkedRequestOpener opener(keys);
    Bytes bhttp;
    ASSERT_TRUE(feed_sliced(wire, sl, [&](ByteSpan s) { return opener.feed(s, bhttp); }).has_value());
    EXPECT_EQ(to_hex(bhttp), hexs(v, "bhttp_request")) << "all non-final chunks are delivered before finish()";
    ASSERT_TRUE(opener.finish(bhttp).has_value());
    EXPECT_EQ(to_hex(bhttp), hexs(v, "bhttp_request"));
    ASSERT_NE(opener.response_secrets(), nullptr);
    EXPECT_EQ(to_hex(opener.response_secrets()->enc()), hexs(v, "pkE"));
    EXPECT_EQ(to_hex(opener.response_secrets()->secret(Chunking::kChunked)),
              to_hex(sealer->response_secrets().secret(Chunking::kChunked)));
  }

  // Response: the example's split (1 + 2 bytes, empty final) with its nonce.
  auto gw_ctx = sealer->response_secrets().context(Chunking::kChunked).value();
  auto rs = gw_ctx.chunked_sealer_with_nonce_for_testing(unhex(hexs(v, "response_nonce")));
  ASSERT_TRUE(rs.has_value());
  Bytes response;
  for (size_t i = 0; i + 1 < res_chunks.size(); ++i) {
    ASSERT_TRUE(rs->write(unhex(res_chunks[i].get<std::string>()), response).has_value());
  }
  ASSERT_TRUE(rs->finish(response, unhex(res_chunks.back().get<std::string>())).has_value());
  EXPECT_EQ(to_hex(response), hexs(v, "encapsulated_response"));

  for (Slicing sl : {Slicing::kWhole, Slicing::kBytewise, Slicing::kRandom}) {
    auto ro = gw_ctx.chunked_opener();
    Bytes bhttp;
    ASSERT_TRUE(feed_sliced(unhex(hexs(v, "encapsulated_response")), sl,
                            [&](ByteSpan s) { return ro.feed(s, bhttp); })
                    .has_value());
    ASSERT_TRUE(ro.finish(bhttp).has_value());
    EXPECT_EQ(to_hex(bhttp), hexs(v, "bhttp_response"));
  }
}

// ---- Round trips --------------------------------------------------------------------------------------------------

struct Gateway {
  KeyConfig config;
  GatewayKeySet keys;
};

Gateway make_gateway(KemId kem, uint8_t key_id = 5) {
  auto sk = crypto::Kem::create(kem).value().generate_key_pair().value();
  Gateway g;
  g.config = KeyConfig{key_id, kem, Bytes(sk->public_key().begin(), sk->public_key().end()),
                       {{KdfId::kHkdfSha256, AeadId::kAes128Gcm}, {KdfId::kHkdfSha384, AeadId::kChaCha20Poly1305}}};
  EXPECT_TRUE(g.keys.add(g.config, std::move(sk)).has_value());
  return g;
}

class OhttpRoundTrip : public ::testing::TestWithParam<KemId> {};

TEST_P(OhttpRoundTrip, Unchunked) {
  Gateway g = make_gateway(GetParam());
  for (auto alg : g.config.algorithms) {
    Bytes bhttp = random_bytes(3000);
    EncapsulateOptions options;
    options.algorithm = alg;
    auto sent = encapsulate_request(g.config, bhttp, options);
    ASSERT_TRUE(sent.has_value()) << sent.error().to_string();
    const size_t nenc = crypto::Kem::create(GetParam()).value().enc_size();
    EXPECT_EQ(sent->request.size(), 7 + nenc + bhttp.size() + 16);
    auto got = decapsulate_request(g.keys, sent->request);
    ASSERT_TRUE(got.has_value()) << got.error().to_string();
    EXPECT_EQ(got->bhttp, bhttp);
    EXPECT_EQ(got->header.algorithm(), alg);
    Bytes reply = random_bytes(777);
    auto response = got->response_secrets.context(Chunking::kUnchunked)->seal(reply).value();
    const size_t nonce = alg.aead == AeadId::kAes128Gcm ? 16 : 32;
    EXPECT_EQ(response.size(), nonce + reply.size() + 16);
    EXPECT_EQ(sent->response_secrets.context(Chunking::kUnchunked)->open(response).value(), reply);
    // The other framing's secret does not open it.
    EXPECT_FALSE(sent->response_secrets.context(Chunking::kChunked)->open(response).has_value());
  }
}

TEST_P(OhttpRoundTrip, ChunkedBothDirectionsAnySlicing) {
  Gateway g = make_gateway(GetParam());
  Bytes bhttp = random_bytes(40000);
  Bytes reply = random_bytes(20000);
  for (Slicing sl : {Slicing::kWhole, Slicing::kBytewise, Slicing::kRandom}) {
    SCOPED_TRACE(testing::slicing_name(sl));
    auto sealer = ChunkedRequestSealer::create(g.config);
    ASSERT_TRUE(sealer.has_value());
    Bytes wire;
    // The client writes in random pieces too.
    ASSERT_TRUE(feed_sliced(bhttp, Slicing::kRandom, [&](ByteSpan s) { return sealer->write(s, wire); }, 99)
                    .has_value());
    ASSERT_TRUE(sealer->finish(wire).has_value());

    ChunkedRequestOpener opener(g.keys);
    Bytes got;
    size_t most = 0;
    ASSERT_TRUE(feed_sliced(wire, sl, [&](ByteSpan s) {
                  auto r = opener.feed(s, got);
                  most = std::max(most, opener.buffered_bytes());
                  return r;
                }).has_value());
    ASSERT_TRUE(opener.finish(got).has_value());
    EXPECT_EQ(got, bhttp);
    EXPECT_LE(most, 1120u + 16384 + 16 + 8);

    auto gw_ctx = opener.response_secrets()->context(Chunking::kChunked).value();
    auto rs = gw_ctx.chunked_sealer().value();
    Bytes response;
    ASSERT_TRUE(feed_sliced(reply, Slicing::kRandom, [&](ByteSpan s) { return rs.write(s, response); }).has_value());
    ASSERT_TRUE(rs.finish(response).has_value());
    auto ro = sealer->response_secrets().context(Chunking::kChunked)->chunked_opener();
    Bytes read;
    ASSERT_TRUE(feed_sliced(response, sl, [&](ByteSpan s) { return ro.feed(s, read); }).has_value());
    ASSERT_TRUE(ro.finish(read).has_value());
    EXPECT_EQ(read, reply);
  }
}

TEST_P(OhttpRoundTrip, ChunkedAndUnchunkedDoNotMix) {
  Gateway g = make_gateway(GetParam());
  Bytes bhttp = random_bytes(100);
  auto unchunked = encapsulate_request(g.config, bhttp).value();
  auto chunked = encapsulate_chunked_request(g.config, bhttp).value();
  EXPECT_FALSE(decapsulate_chunked_request(g.keys, unchunked.request).has_value());
  auto r = decapsulate_request(g.keys, chunked.request);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, OhttpErrorCode::kRequestDecoding);
  EXPECT_EQ(decapsulate_chunked_request(g.keys, chunked.request).value().bhttp, bhttp);
}

INSTANTIATE_TEST_SUITE_P(Kems, OhttpRoundTrip,
                         ::testing::Values(KemId::kDhkemX25519HkdfSha256, KemId::kX25519Kyber768Draft00),
                         [](const auto& info) {
                           return info.param == KemId::kDhkemX25519HkdfSha256 ? std::string("X25519")
                                                                              : std::string("X25519Kyber768");
                         });

TEST(Ohttp, EphemeralSeedMakesRequestsReproducible) {
  // For the hybrid KEM ikm_e is the 64-byte encapsulation seed.
  Gateway g = make_gateway(KemId::kX25519Kyber768Draft00);
  Bytes seed = random_bytes(64);
  EncapsulateOptions options;
  options.ephemeral_for_testing.ikm_e = ByteSpan(seed);
  auto a = encapsulate_request(g.config, to_bytes("x"), options).value();
  auto b = encapsulate_request(g.config, to_bytes("x"), options).value();
  EXPECT_EQ(a.request, b.request);
  auto c = encapsulate_request(g.config, to_bytes("x")).value();
  EXPECT_NE(a.request, c.request);
}

// ---- OpenPCC fixed-size profile -------------------------------------------------------------------------------------

bhttp::Request sample_request(size_t body_size) {
  bhttp::Request r;
  r.method = "POST";
  r.scheme = "https";
  r.authority = "confsec.invalid";
  r.path = "/v1/completions";
  r.headers = {{"content-type", "application/json"}};
  r.body = random_bytes(body_size);
  return r;
}

TEST(OhttpFixedSizeProfile, RequestAndResponseWireSizes) {
  Gateway g = make_gateway(KemId::kX25519Kyber768Draft00, 1);
  for (size_t body_size : {0, 100, 530, 5000}) {
    SCOPED_TRACE(body_size);
    Bytes bhttp = bhttp::encode(sample_request(body_size), bhttp::fixed_size_profile(bhttp::kOhttpMessageChunkLen))
                      .value();
    ASSERT_EQ(bhttp.size() % 532, 0u);
    const size_t n = bhttp.size() / 532;

    auto sealer = ChunkedRequestSealer::create(g.config, {}, openpcc_fixed_size_chunks()).value();
    Bytes wire;
    ASSERT_TRUE(sealer.begin(wire).has_value());
    EXPECT_EQ(wire.size(), 1127u) << "hdr ‖ enc = 7 + 1120";
    ASSERT_TRUE(feed_sliced(bhttp, Slicing::kRandom, [&](ByteSpan s) { return sealer.write(s, wire); }).has_value());
    ASSERT_TRUE(sealer.finish(wire).has_value());
    ASSERT_EQ(wire.size(), 1127 + n * 550 + 17);
    for (size_t i = 0; i < n; ++i) {
      auto len = peek_varint(ByteSpan(wire).subspan(1127 + i * 550));
      ASSERT_TRUE(len.has_value());
      EXPECT_EQ(len->value, 548u);
      EXPECT_EQ(len->size, 2u);
    }
    EXPECT_EQ(wire[1127 + n * 550], 0x00) << "final chunk: varint(0) ‖ 16-byte tag";

    auto got = decapsulate_chunked_request(g.keys, wire);
    ASSERT_TRUE(got.has_value()) << got.error().to_string();
    EXPECT_EQ(got->bhttp, bhttp);

    // Gateway response, same profile: nonce, n × 550, 17.
    bhttp::Response resp;
    resp.status = 200;
    resp.body = random_bytes(body_size * 2);
    Bytes resp_bhttp = bhttp::encode(resp, bhttp::fixed_size_profile(bhttp::kOhttpMessageChunkLen)).value();
    const size_t m = resp_bhttp.size() / 532;
    auto rs = got->response_secrets.context(Chunking::kChunked)->chunked_sealer(openpcc_fixed_size_chunks()).value();
    Bytes response;
    ASSERT_TRUE(rs.write(resp_bhttp, response).has_value());
    ASSERT_TRUE(rs.finish(response).has_value());
    EXPECT_EQ(response.size(), 16 + m * 550 + 17);
  }
}

// ---- Error taxonomy ------------------------------------------------------------------------------------------------

OhttpErrorCode decap_code(const GatewayKeySet& keys, ByteSpan request, bool chunked = false) {
  auto r = chunked ? decapsulate_chunked_request(keys, request) : decapsulate_request(keys, request);
  EXPECT_FALSE(r.has_value());
  return r ? OhttpErrorCode::kResponseIo : r.error().code;
}

TEST(OhttpErrors, KeyLookupCodes) {
  Gateway g = make_gateway(KemId::kDhkemX25519HkdfSha256, 5);
  Bytes bhttp = to_bytes("hi");

  // Unknown key id → 101.
  KeyConfig other_id = g.config;
  other_id.key_id = 6;
  auto r1 = encapsulate_request(other_id, bhttp).value();
  EXPECT_EQ(decap_code(g.keys, r1.request), OhttpErrorCode::kKeyNotFound);
  EXPECT_EQ(decap_code(g.keys, encapsulate_chunked_request(other_id, bhttp).value().request, true),
            OhttpErrorCode::kKeyNotFound);

  // Right key id, other KEM → 101 (keys are looked up by key id and KEM).
  Gateway hybrid = make_gateway(KemId::kX25519Kyber768Draft00, 5);
  auto r2 = encapsulate_request(hybrid.config, bhttp).value();
  EXPECT_EQ(decap_code(g.keys, r2.request), OhttpErrorCode::kKeyNotFound);

  // Right key, (KDF, AEAD) the key does not list → 102.
  KeyConfig more_algs = g.config;
  more_algs.algorithms.push_back({KdfId::kHkdfSha512, AeadId::kAes256Gcm});
  EncapsulateOptions options;
  options.algorithm = SymmetricAlgorithm{KdfId::kHkdfSha512, AeadId::kAes256Gcm};
  auto r3 = encapsulate_request(more_algs, bhttp, options).value();
  EXPECT_EQ(decap_code(g.keys, r3.request), OhttpErrorCode::kInvalidKey);

  // A finder that knows the key is outside its validity period → 103, passed through as is.
  KeyFinder inactive = [&](const RequestHeader& h) -> OhttpResult<GatewayKey> {
    auto k = g.keys.find(h);
    if (!k) return k;
    return make_ohttp_error(OhttpErrorCode::kInactiveKey, ErrorCode::kInvalidArgument, "key expired");
  };
  auto good = encapsulate_request(g.config, bhttp).value();
  auto r4 = decapsulate_request(inactive, good.request);
  ASSERT_FALSE(r4.has_value());
  EXPECT_EQ(r4.error().code, OhttpErrorCode::kInactiveKey);
  ChunkedRequestOpener opener(inactive);
  Bytes sink;
  auto r5 = opener.feed(encapsulate_chunked_request(g.config, bhttp).value().request, sink);
  ASSERT_FALSE(r5.has_value());
  EXPECT_EQ(r5.error().code, OhttpErrorCode::kInactiveKey);
}

TEST(OhttpErrors, HeaderAndDecodingCodes) {
  Gateway g = make_gateway(KemId::kDhkemX25519HkdfSha256, 5);
  auto good = encapsulate_request(g.config, to_bytes("hello")).value();
  const Bytes& req = good.request;

  // Short or unparseable header → 100.
  for (size_t n = 0; n < 7; ++n) {
    EXPECT_EQ(decap_code(g.keys, ByteSpan(req).first(n)), OhttpErrorCode::kInvalidRequestHeader) << n;
  }
  Bytes bad_kem = req;
  bad_kem[1] = 0x99;
  EXPECT_EQ(decap_code(g.keys, bad_kem), OhttpErrorCode::kInvalidRequestHeader);
  Bytes bad_aead = req;
  bad_aead[6] = 0x09;
  EXPECT_EQ(decap_code(g.keys, bad_aead), OhttpErrorCode::kInvalidRequestHeader);

  // Truncated enc or ciphertext, corrupt enc or ciphertext → 201.
  for (size_t n = 7; n < req.size(); ++n) {
    EXPECT_EQ(decap_code(g.keys, ByteSpan(req).first(n)), OhttpErrorCode::kRequestDecoding) << n;
  }
  for (size_t i = 7; i < req.size(); ++i) {
    Bytes bad = req;
    bad[i] ^= 0x40;
    EXPECT_EQ(decap_code(g.keys, bad), OhttpErrorCode::kRequestDecoding) << i;
  }
  Bytes longer = concat({req, Bytes{0}});
  EXPECT_EQ(decap_code(g.keys, longer), OhttpErrorCode::kRequestDecoding);

  // Chunked: the same split, and truncation anywhere.
  auto chunked = encapsulate_chunked_request(g.config, random_bytes(5000), {}, ChunkSealOptions{1000}).value();
  for (size_t n = 0; n < chunked.request.size(); n += 37) {
    auto code = decap_code(g.keys, ByteSpan(chunked.request).first(n), true);
    EXPECT_EQ(code, n < 7 ? OhttpErrorCode::kInvalidRequestHeader : OhttpErrorCode::kRequestDecoding) << n;
  }
  Bytes bad = chunked.request;
  bad[bad.size() - 1] ^= 1;
  EXPECT_EQ(decap_code(g.keys, bad, true), OhttpErrorCode::kRequestDecoding);
  // A chunk over the gateway's limit.
  auto big = encapsulate_chunked_request(g.config, random_bytes(5000), {}, ChunkSealOptions{5000}).value();
  auto r = decapsulate_chunked_request(g.keys, big.request, ChunkOpenLimits{4096});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, OhttpErrorCode::kRequestDecoding);
  EXPECT_EQ(r.error().error.code, ErrorCode::kLimitExceeded);
}

TEST(OhttpErrors, GatewayKeySetValidatesKeys) {
  auto kem = crypto::Kem::create(KemId::kDhkemX25519HkdfSha256).value();
  std::shared_ptr<const crypto::KemPrivateKey> sk = kem.generate_key_pair().value();
  std::shared_ptr<const crypto::KemPrivateKey> other = kem.generate_key_pair().value();
  KeyConfig config{1, KemId::kDhkemX25519HkdfSha256, Bytes(sk->public_key().begin(), sk->public_key().end()),
                   {{KdfId::kHkdfSha256, AeadId::kAes128Gcm}}};
  GatewayKeySet keys;
  EXPECT_FALSE(keys.add(config, other).has_value()) << "private key does not match the config";
  EXPECT_FALSE(keys.add(config, nullptr).has_value());
  ASSERT_TRUE(keys.add(config, sk).has_value());
  EXPECT_FALSE(keys.add(config, sk).has_value()) << "duplicate (key id, KEM)";
  auto list = keys.encode_key_configs().value();
  EXPECT_EQ(parse_key_configs(list).value().front(), config);
}

TEST(OhttpErrors, ClientRejectsUnlistedAlgorithm) {
  Gateway g = make_gateway(KemId::kDhkemX25519HkdfSha256);
  EncapsulateOptions options;
  options.algorithm = SymmetricAlgorithm{KdfId::kHkdfSha512, AeadId::kAes256Gcm};
  auto r = encapsulate_request(g.config, to_bytes("x"), options);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(Ohttp, HeaderInfoAndMediaTypes) {
  RequestHeader h{0x2a, KemId::kX25519Kyber768Draft00, KdfId::kHkdfSha256, AeadId::kAes128Gcm};
  EXPECT_EQ(to_hex(h.encode()), "2a003000010001");
  EXPECT_EQ(RequestHeader::parse(h.encode()).value(), h);
  EXPECT_EQ(to_string(request_info(Chunking::kUnchunked, h)), std::string("message/bhttp request\0", 22) +
                                                                   to_string(h.encode()));
  EXPECT_EQ(to_string(request_info(Chunking::kChunked, h)).substr(0, 30), std::string("message/bhttp chunked request\0", 30));
  EXPECT_EQ(request_media_type(Chunking::kUnchunked), "message/ohttp-req");
  EXPECT_EQ(request_media_type(Chunking::kChunked), "message/ohttp-chunked-req");
  EXPECT_EQ(response_media_type(Chunking::kUnchunked), "message/ohttp-res");
  EXPECT_EQ(response_media_type(Chunking::kChunked), "message/ohttp-chunked-res");
  EXPECT_EQ(response_label(Chunking::kChunked), "message/bhttp chunked response");
  EXPECT_EQ(request_chunking("message/ohttp-req"), Chunking::kUnchunked);
  EXPECT_EQ(request_chunking("message/ohttp-chunked-req"), Chunking::kChunked);
  EXPECT_EQ(request_chunking("message/ohttp-res"), std::nullopt);
  EXPECT_EQ(request_chunking("application/octet-stream"), std::nullopt);
  EXPECT_EQ(response_chunking("message/ohttp-res"), Chunking::kUnchunked);
  EXPECT_EQ(response_chunking("message/ohttp-chunked-res"), Chunking::kChunked);
  EXPECT_EQ(response_chunking("message/ohttp-chunked-req"), std::nullopt);
}

}  // namespace
}  // namespace openpcc::wire::ohttp
