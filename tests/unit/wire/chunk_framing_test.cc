// The shared chunk framing (wire/chunk_framing.h) and its counter-nonce cipher: exact layout, nonce sequence,
// arbitrary slicing, bounded buffering, fixed-size mode, and every rejection rule (empty non-final chunks, limits,
// truncation at every offset, reordering, final-chunk confusion, counter exhaustion).
#include "wire/chunk_framing.h"

#include <gtest/gtest.h>

#include <limits>

#include "common/random.h"
#include "common/varint.h"
#include "unit/wire/ohttp_test_util.h"

namespace openpcc::wire {
namespace {

using testing::feed_sliced;
using testing::Slicing;
using testing::unhex;

const Bytes kKey = unhex("000102030405060708090a0b0c0d0e0f");
const Bytes kNonce = unhex("a0a1a2a3a4a5a6a7a8a9aaab");

std::unique_ptr<CounterNonceAead> cipher() {
  return CounterNonceAead::create(crypto::AeadId::kAes128Gcm, kKey, kNonce).value();
}

ChunkStreamSealer sealer(const ChunkSealOptions& options = {}, Bytes prefix = {}) {
  return ChunkStreamSealer::create(cipher(), std::move(prefix), options).value();
}

// Seals `pieces` as separate writes, then an empty final chunk.
Bytes seal_pieces(const std::vector<Bytes>& pieces, const ChunkSealOptions& options = {}) {
  auto s = sealer(options);
  Bytes out;
  for (const auto& p : pieces) EXPECT_TRUE(s.write(p, out).has_value());
  EXPECT_TRUE(s.finish(out).has_value());
  return out;
}

Result<Bytes> open_all(ByteSpan stream, Slicing slicing = Slicing::kWhole, const ChunkOpenLimits& limits = {}) {
  ChunkStreamOpener opener(cipher(), limits);
  Bytes out;
  auto fed = feed_sliced(stream, slicing, [&](ByteSpan s) { return opener.feed(s, out); });
  if (!fed) return std::unexpected(fed.error());
  if (auto f = opener.finish(out); !f) return std::unexpected(f.error());
  return out;
}

Bytes raw_seal(uint64_t counter, std::string_view aad, ByteSpan pt) {
  Bytes nonce = kNonce;
  for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(counter >> (8 * i));
  auto aead = crypto::Aead::create(crypto::AeadId::kAes128Gcm, kKey).value();
  return aead.seal(nonce, as_bytes(aad), pt).value();
}

TEST(ChunkFraming, LayoutAndNoncesMatchTheDraft) {
  Bytes a = to_bytes("hello"), b = to_bytes("chunked world");
  auto s = sealer({}, to_bytes("PFX"));
  Bytes out;
  ASSERT_TRUE(s.write(a, out).has_value());
  ASSERT_TRUE(s.write(b, out).has_value());
  ASSERT_TRUE(s.write({}, out).has_value());  // nothing: non-final chunks are never empty
  ASSERT_TRUE(s.finish(out, to_bytes("tail")).has_value());
  Bytes want = to_bytes("PFX");
  want.push_back(static_cast<uint8_t>(a.size() + 16));
  append(want, raw_seal(0, "", a));
  want.push_back(static_cast<uint8_t>(b.size() + 16));
  append(want, raw_seal(1, "", b));
  want.push_back(0x00);
  append(want, raw_seal(2, "final", to_bytes("tail")));
  EXPECT_EQ(to_hex(out), to_hex(want));
  EXPECT_EQ(s.chunks_emitted(), 3u);
  EXPECT_EQ(s.bytes_emitted(), out.size());
  EXPECT_TRUE(s.finished());
  EXPECT_FALSE(s.write(a, out).has_value());

  auto opened = open_all(ByteSpan(out).subspan(3));
  ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
  EXPECT_EQ(to_string(*opened), "hellochunked worldtail");
}

TEST(ChunkFraming, EmptyMessageIsPrefixPlusFinalChunk) {
  auto s = sealer({}, to_bytes("N"));
  Bytes out;
  ASSERT_TRUE(s.finish(out).has_value());
  EXPECT_EQ(out.size(), 1u + 1 + 16);
  EXPECT_EQ(open_all(ByteSpan(out).subspan(1)).value(), Bytes{});
}

TEST(ChunkFraming, BeginEmitsThePrefixOnce) {
  auto s = sealer({}, to_bytes("PREFIX"));
  Bytes out;
  ASSERT_TRUE(s.begin(out).has_value());
  ASSERT_TRUE(s.begin(out).has_value());
  EXPECT_EQ(to_string(out), "PREFIX");
  ASSERT_TRUE(s.write(to_bytes("x"), out).has_value());
  EXPECT_EQ(out.size(), 6u + 1 + 17);
}

TEST(ChunkFraming, LongWritesAreSplitAtTheMaximum) {
  Bytes data = random_bytes(10000);
  Bytes out = seal_pieces({data}, ChunkSealOptions{4096});
  // 4096 + 4096 + 1808, each with a 2-byte varint and a tag, then the 17-byte final chunk.
  EXPECT_EQ(out.size(), 2 * (2 + 4096 + 16) + (2 + 1808 + 16) + 17);
  for (Slicing sl : {Slicing::kWhole, Slicing::kBytewise, Slicing::kRandom}) {
    SCOPED_TRACE(testing::slicing_name(sl));
    auto opened = open_all(out, sl);
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    EXPECT_EQ(*opened, data);
  }
}

TEST(ChunkFraming, FixedSizeModeIgnoresWriteBoundaries) {
  Bytes data = random_bytes(532 * 5);
  auto s = sealer(fixed_size_chunks(532));
  Bytes out;
  // Awkward write sizes: 1, 531, 600, 1, ... — the pieces must still be exactly 532 bytes.
  std::mt19937 rng(7);
  for (size_t at = 0; at < data.size();) {
    size_t n = std::min<size_t>(data.size() - at, std::uniform_int_distribution<size_t>(0, 900)(rng));
    ASSERT_TRUE(s.write(ByteSpan(data).subspan(at, n), out).has_value());
    EXPECT_LT(s.buffered_bytes(), 532u);
    at += n;
  }
  ASSERT_TRUE(s.finish(out).has_value());
  ASSERT_EQ(out.size(), 5 * 550 + 17u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i * 550], 0x42);  // varint(548) = 0x4224
    EXPECT_EQ(out[i * 550 + 1], 0x24);
  }
  EXPECT_EQ(out[5 * 550], 0x00);
  EXPECT_EQ(open_all(out, Slicing::kRandom).value(), data);
}

TEST(ChunkFraming, FixedSizeModeRemainderBecomesAShortChunk) {
  Bytes data = random_bytes(532 + 10);
  Bytes out = seal_pieces({data}, fixed_size_chunks(532));
  EXPECT_EQ(out.size(), 550 + (1 + 10 + 16) + 17u);
  EXPECT_EQ(open_all(out).value(), data);
}

TEST(ChunkFraming, RejectsEmptyNonFinalChunk) {
  Bytes stream = {16};
  append(stream, raw_seal(0, "", {}));
  stream.push_back(0);
  append(stream, raw_seal(1, "final", {}));
  auto r = open_all(stream);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDecode);
  EXPECT_NE(r.error().message.find("empty non-final"), std::string::npos);
  // Shorter than a tag.
  EXPECT_EQ(open_all(unhex("05 0102030405 00")).error().code, ErrorCode::kDecode);
}

TEST(ChunkFraming, EnforcesChunkLimits) {
  Bytes data = random_bytes(101);
  Bytes out = seal_pieces({data}, ChunkSealOptions{101});
  EXPECT_TRUE(open_all(out, Slicing::kWhole, ChunkOpenLimits{101}).has_value());
  auto r = open_all(out, Slicing::kWhole, ChunkOpenLimits{100});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
  // The final chunk is bounded too, even though it runs to the end of the stream.
  auto s = sealer();
  Bytes fin;
  ASSERT_TRUE(s.finish(fin, data).has_value());
  EXPECT_TRUE(open_all(fin, Slicing::kBytewise, ChunkOpenLimits{101}).has_value());
  auto rf = open_all(fin, Slicing::kBytewise, ChunkOpenLimits{100});
  ASSERT_FALSE(rf.has_value());
  EXPECT_EQ(rf.error().code, ErrorCode::kLimitExceeded);
  // A huge declared length fails at once, before any data arrives.
  ChunkStreamOpener opener(cipher());
  Bytes sink;
  auto huge = opener.feed(unhex("bfffffffffffffff"), sink);
  ASSERT_FALSE(huge.has_value());
  EXPECT_EQ(huge.error().code, ErrorCode::kLimitExceeded);
}

TEST(ChunkFraming, BuffersAtMostOneChunk) {
  Bytes data = random_bytes(50000);
  Bytes out = seal_pieces({data}, ChunkSealOptions{16384});
  ChunkStreamOpener opener(cipher());
  Bytes plain;
  size_t most = 0;
  ASSERT_TRUE(feed_sliced(out, Slicing::kRandom, [&](ByteSpan s) {
                auto r = opener.feed(s, plain);
                most = std::max(most, opener.buffered_bytes());
                return r;
              }).has_value());
  ASSERT_TRUE(opener.finish(plain).has_value());
  EXPECT_EQ(plain, data);
  EXPECT_LE(most, 16384u + 16 + 8);
  EXPECT_EQ(opener.chunks_opened(), 5u);  // 16384 × 3 + 848, final
}

TEST(ChunkFraming, PlaintextIsDeliveredAsEachChunkCompletes) {
  Bytes a = to_bytes("first"), b = to_bytes("second");
  Bytes out = seal_pieces({a, b});
  ChunkStreamOpener opener(cipher());
  Bytes plain;
  const size_t first_chunk_end = 1 + a.size() + 16;
  ASSERT_TRUE(opener.feed(ByteSpan(out).first(first_chunk_end - 1), plain).has_value());
  EXPECT_TRUE(plain.empty());
  ASSERT_TRUE(opener.feed(ByteSpan(out).subspan(first_chunk_end - 1, 1), plain).has_value());
  EXPECT_EQ(to_string(plain), "first");
  ASSERT_TRUE(opener.feed(ByteSpan(out).subspan(first_chunk_end), plain).has_value());
  EXPECT_EQ(to_string(plain), "firstsecond");
  EXPECT_FALSE(opener.finished());
  ASSERT_TRUE(opener.finish(plain).has_value());
  EXPECT_TRUE(opener.finished());
  EXPECT_TRUE(opener.finish(plain).has_value());  // idempotent
}

TEST(ChunkFraming, EveryTruncationFails) {
  Bytes out = seal_pieces({to_bytes("abc"), random_bytes(300), to_bytes("z")});
  for (size_t n = 0; n < out.size(); ++n) {
    auto r = open_all(ByteSpan(out).first(n));
    ASSERT_FALSE(r.has_value()) << "accepted a stream cut at " << n << " of " << out.size();
    EXPECT_TRUE(r.error().code == ErrorCode::kTruncated || r.error().code == ErrorCode::kAuthenticationFailed)
        << n << ": " << r.error().to_string();
  }
  EXPECT_TRUE(open_all(out).has_value());
}

TEST(ChunkFraming, EveryBitFlipFails) {
  Bytes out = seal_pieces({to_bytes("abc"), to_bytes("defgh")});
  for (size_t i = 0; i < out.size(); ++i) {
    Bytes bad = out;
    bad[i] ^= 0x01;
    EXPECT_FALSE(open_all(bad).has_value()) << i;
  }
}

TEST(ChunkFraming, ReorderingAndFinalConfusionFail) {
  Bytes a = to_bytes("AAAA"), b = to_bytes("BBBB");
  Bytes ca = raw_seal(0, "", a), cb = raw_seal(1, "", b), fin = raw_seal(2, "final", {});
  auto frame = [](const Bytes& c) { return concat({Bytes{static_cast<uint8_t>(c.size())}, c}); };
  Bytes good = concat({frame(ca), frame(cb), Bytes{0}, fin});
  EXPECT_EQ(to_string(open_all(good).value()), "AAAABBBB");
  // Swapped chunks.
  EXPECT_EQ(open_all(concat({frame(cb), frame(ca), Bytes{0}, fin})).error().code,
            ErrorCode::kAuthenticationFailed);
  // Last non-final chunk dropped: the final chunk's counter no longer matches.
  EXPECT_FALSE(open_all(concat({frame(ca), Bytes{0}, fin})).has_value());
  // A non-final chunk presented as the final one (wrong AAD).
  EXPECT_FALSE(open_all(concat({frame(ca), Bytes{0}, cb})).has_value());
  // A final chunk presented as a non-final one, followed by a fresh final.
  EXPECT_FALSE(open_all(concat({frame(ca), frame(cb), frame(fin), Bytes{0}, raw_seal(3, "final", {})})).has_value());
}

TEST(ChunkFraming, ErrorsAreSticky) {
  ChunkStreamOpener opener(cipher());
  Bytes sink;
  ASSERT_FALSE(opener.feed(unhex("10"), sink).has_value());
  EXPECT_FALSE(opener.feed(unhex("00"), sink).has_value());
  EXPECT_FALSE(opener.finish(sink).has_value());
}

TEST(ChunkFraming, CounterExhaustionIsAnError) {
  auto c = cipher();
  c->set_counter_for_testing(std::numeric_limits<uint64_t>::max() - 1);
  Bytes out;
  ASSERT_TRUE(c->seal_append({}, to_bytes("x"), out).has_value());
  auto r = c->seal_append({}, to_bytes("y"), out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);

  auto s = ChunkStreamSealer::create(std::move(c), {}).value();
  Bytes more;
  EXPECT_FALSE(s.write(to_bytes("z"), more).has_value());
  EXPECT_TRUE(more.empty()) << "nothing is appended on error";
  EXPECT_FALSE(s.finish(more).has_value());
}

TEST(ChunkFraming, CounterNonceXorsTheBigEndianCounter) {
  auto c = cipher();
  c->set_counter_for_testing(0x0102030405060708ull);
  Bytes out;
  ASSERT_TRUE(c->seal_append(as_bytes("ad"), to_bytes("pt"), out).has_value());
  EXPECT_EQ(out, raw_seal(0x0102030405060708ull, "ad", to_bytes("pt")));
  EXPECT_FALSE(CounterNonceAead::create(crypto::AeadId::kAes128Gcm, kKey, unhex("00")).has_value());
  EXPECT_FALSE(CounterNonceAead::create(crypto::AeadId::kExportOnly, {}, kNonce).has_value());
}

TEST(ChunkFraming, PrefixedOpenerDerivesItsCipherFromThePrefix) {
  Bytes body = seal_pieces({to_bytes("payload")});
  Bytes stream = concat({to_bytes("NONCE"), body});
  int factory_calls = 0;
  auto make = [&](ByteSpan prefix) -> Result<std::unique_ptr<ChunkOpenCipher>> {
    ++factory_calls;
    EXPECT_EQ(to_string(prefix), "NONCE");
    return std::unique_ptr<ChunkOpenCipher>(cipher());
  };
  for (Slicing sl : {Slicing::kWhole, Slicing::kBytewise, Slicing::kRandom}) {
    factory_calls = 0;
    PrefixedChunkOpener opener(5, make);
    Bytes out;
    ASSERT_TRUE(feed_sliced(stream, sl, [&](ByteSpan s) { return opener.feed(s, out); }).has_value());
    ASSERT_TRUE(opener.finish(out).has_value());
    EXPECT_EQ(to_string(out), "payload");
    EXPECT_EQ(factory_calls, 1);
    EXPECT_EQ(to_string(opener.prefix()), "NONCE");
  }
  PrefixedChunkOpener cut(5, make);
  Bytes out;
  ASSERT_TRUE(cut.feed(to_bytes("NON"), out).has_value());
  auto r = cut.finish(out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTruncated);
}

}  // namespace
}  // namespace openpcc::wire
