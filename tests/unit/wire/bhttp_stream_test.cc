// Binary HTTP streaming: the incremental decoder (slicing, event timing, pass-through of body bytes, bounded
// buffering, finish semantics), the streaming encoder, and a random round-trip property test.
#include <gtest/gtest.h>

#include <random>

#include "unit/wire/bhttp_test_util.h"
#include "wire/bhttp.h"

namespace openpcc::wire::bhttp {
namespace {

using testing::load_json;
using testing::message_from_json;
using testing::stream_decode;
using testing::stream_decode_bytewise;

std::vector<std::pair<std::string, Bytes>> all_examples() {
  std::vector<std::pair<std::string, Bytes>> out;
  auto rfc = load_json("bhttp-rfc9292-examples.json");
  for (const auto& ex : rfc.at("examples")) out.emplace_back(ex.at("name"), from_hex(ex.at("hex").get<std::string>()).value());
  auto project = load_json("bhttp-examples.json");
  for (const auto& [name, ex] : project.items()) {
    if (ex.is_object()) out.emplace_back(name, from_hex(ex.at("hex").get<std::string>()).value());
  }
  return out;
}

// Collects the events of one next()/finish() pass into a readable trace, e.g. "head body:3 trailers end".
struct Tracer {
  StreamDecoder dec;
  std::vector<std::string> trace;
  Bytes body;

  explicit Tracer(const DecodeLimits& limits = {}) : dec(limits) {}

  void record(const DecodeEvent& ev) {
    if (std::holds_alternative<InformationalResponse>(ev)) {
      trace.push_back("info:" + std::to_string(std::get<InformationalResponse>(ev).status));
    } else if (std::holds_alternative<RequestHead>(ev) || std::holds_alternative<ResponseHead>(ev)) {
      trace.push_back("head");
    } else if (auto* d = std::get_if<BodyData>(&ev)) {
      trace.push_back("body:" + std::to_string(d->data.size()));
      append(body, d->data);
    } else if (std::holds_alternative<Trailers>(ev)) {
      trace.push_back("trailers");
    } else if (std::holds_alternative<EndOfMessage>(ev)) {
      trace.push_back("end");
    }
  }

  // Feeds one slice; returns the events it produced.
  std::vector<std::string> feed(ByteSpan in) {
    trace.clear();
    for (;;) {
      auto ev = dec.next(in);
      EXPECT_TRUE(ev.has_value()) << ev.error().to_string();
      if (!ev || std::holds_alternative<NeedMoreInput>(*ev)) break;
      record(*ev);
    }
    return trace;
  }

  std::vector<std::string> finish() {
    trace.clear();
    for (;;) {
      auto ev = dec.finish();
      EXPECT_TRUE(ev.has_value()) << ev.error().to_string();
      if (!ev) break;
      record(*ev);
      if (std::holds_alternative<EndOfMessage>(*ev)) break;
    }
    return trace;
  }
};

using Trace = std::vector<std::string>;

// --- Decoder -----------------------------------------------------------------------------------------------------

TEST(BhttpStreamDecoder, AnySlicingEqualsWholeDecode) {
  for (const auto& [name, wire] : all_examples()) {
    SCOPED_TRACE(name);
    auto whole = decode(wire);
    ASSERT_TRUE(whole.has_value()) << whole.error().to_string();
    for (size_t step : {1, 2, 3, 5, 7, 16, 64, 1000}) {
      auto s = stream_decode(wire, [step](size_t) { return step; });
      ASSERT_TRUE(s.has_value()) << step << ": " << s.error().to_string();
      EXPECT_EQ(*s, *whole) << "slice " << step;
    }
    std::mt19937 rng(7);
    for (int i = 0; i < 20; ++i) {
      auto s = stream_decode(wire, [&](size_t) { return static_cast<size_t>(rng() % 9); });
      ASSERT_TRUE(s.has_value());
      EXPECT_EQ(*s, *whole);
    }
  }
}

TEST(BhttpStreamDecoder, EventsArriveAsSoonAsTheirBytesDo) {
  // Known-length response: status 200, header "a: b", content "hello", trailer "t: v".
  Response r;
  r.headers = {{"a", "b"}};
  r.body = to_bytes("hello");
  r.trailers = {{"t", "v"}};
  Bytes wire = encode(r).value();  // 01 40c8 04 0161 0162 05 68656c6c6f 04 0174 0176
  ASSERT_EQ(to_hex(wire), "0140c80401610162056865" "6c6c6f0401740176");
  Tracer t;
  ByteSpan w = wire;
  EXPECT_EQ(t.feed(w.first(3)), Trace{});
  EXPECT_EQ(t.dec.kind(), MessageKind::kResponse);
  EXPECT_EQ(t.dec.framing(), Framing::kKnownLength);
  EXPECT_EQ(t.feed(w.subspan(3, 4)), Trace{});
  EXPECT_EQ(t.feed(w.subspan(7, 1)), Trace{"head"});  // the header section is complete
  EXPECT_EQ(t.feed(w.subspan(8, 1)), Trace{});        // content length
  EXPECT_EQ(t.feed(w.subspan(9, 2)), Trace{"body:2"});
  EXPECT_EQ(t.feed(w.subspan(11, 1)), Trace{"body:1"});
  EXPECT_FALSE(t.dec.content_complete());
  EXPECT_EQ(t.feed(w.subspan(12, 6)), (Trace{"body:2"}));
  EXPECT_EQ(t.feed(w.subspan(18)), Trace{"trailers"});
  EXPECT_TRUE(t.dec.content_complete());
  EXPECT_EQ(t.dec.offset(), wire.size());
  EXPECT_EQ(to_string(t.body), "hello");
  EXPECT_EQ(t.finish(), Trace{"end"});
  EXPECT_EQ(t.finish(), Trace{"end"});  // repeats
}

TEST(BhttpStreamDecoder, IndeterminateChunkDataIsPassedThroughPartially) {
  Request r;
  r.method = "POST";
  r.scheme = "https";
  r.authority = "a";
  r.path = "/";
  r.body = to_bytes("abcdefgh");
  EncodeOptions o;
  o.framing = Framing::kIndeterminateLength;
  o.max_chunk_data_len = 5;
  Bytes wire = encode(r, o).value();
  // ... header terminator 00, then: 05 6162636465 | 03 666768 | 00 | 00 (12 bytes)
  size_t body_at = wire.size() - 12;
  Tracer t;
  ByteSpan w = wire;
  EXPECT_EQ(t.feed(w.first(body_at)), Trace{"head"});
  Trace seen;
  for (size_t i = body_at; i < wire.size(); ++i) {
    for (auto& e : t.feed(w.subspan(i, 1))) seen.push_back(e);
  }
  EXPECT_EQ(seen, (Trace{"body:1", "body:1", "body:1", "body:1", "body:1", "body:1", "body:1", "body:1", "trailers"}));
  EXPECT_EQ(to_string(t.body), "abcdefgh");
  EXPECT_EQ(t.finish(), Trace{"end"});
}

TEST(BhttpStreamDecoder, LargeBodyIsNotBuffered) {
  Response r;
  r.headers = {{"content-type", "application/octet-stream"}};
  r.body.resize(1 << 20);
  for (size_t i = 0; i < r.body.size(); ++i) r.body[i] = static_cast<uint8_t>(i * 31 + 7);
  for (Framing f : {Framing::kKnownLength, Framing::kIndeterminateLength}) {
    EncodeOptions o;
    o.framing = f;
    o.max_chunk_data_len = 10000;
    Bytes wire = encode(r, o).value();
    StreamDecoder dec;
    size_t max_buffered = 0, events = 0;
    Bytes body;
    for (size_t pos = 0; pos < wire.size(); pos += 4096) {
      ByteSpan slice = ByteSpan(wire).subspan(pos, std::min<size_t>(4096, wire.size() - pos));
      const uint8_t* lo = slice.data();
      const uint8_t* hi = slice.data() + slice.size();
      for (;;) {
        auto ev = dec.next(slice);
        ASSERT_TRUE(ev.has_value());
        max_buffered = std::max(max_buffered, dec.buffered_bytes());
        if (std::holds_alternative<NeedMoreInput>(*ev)) break;
        if (auto* d = std::get_if<BodyData>(&*ev)) {
          // Zero-copy: the data is a view into the slice just fed.
          EXPECT_TRUE(d->data.data() >= lo && d->data.data() + d->data.size() <= hi);
          append(body, d->data);
          ++events;
        }
      }
    }
    EXPECT_EQ(body, r.body);
    EXPECT_GE(events, 256u);
    EXPECT_LT(max_buffered, 64u);  // only the one header line was ever held
  }
}

TEST(BhttpStreamDecoder, FieldBufferingIsBoundedByTheLimit) {
  Request r;
  r.method = "GET";
  r.scheme = "https";
  r.authority = "a";
  r.path = "/";
  for (int i = 0; i < 200; ++i) r.headers.push_back({"h" + std::to_string(i), std::string(100, 'v')});
  EncodeOptions o;
  o.framing = Framing::kIndeterminateLength;
  Bytes wire = encode(r, o).value();
  DecodeLimits limits;
  limits.max_header_section_bytes = 8 * 1024;
  size_t max_buffered = 0;
  auto res = stream_decode(wire, [](size_t) { return size_t{100}; }, limits, &max_buffered);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kLimitExceeded);
  EXPECT_LE(max_buffered, 8 * 1024u);
}

TEST(BhttpStreamDecoder, FinishRules) {
  // Nothing fed: truncated.
  {
    StreamDecoder dec;
    ByteSpan empty;
    auto ev = dec.next(empty);
    ASSERT_TRUE(ev.has_value());
    EXPECT_TRUE(std::holds_alternative<NeedMoreInput>(*ev));
    EXPECT_FALSE(dec.kind().has_value());
    auto f = dec.finish();
    ASSERT_FALSE(f.has_value());
    EXPECT_EQ(f.error().code, ErrorCode::kTruncated);
  }
  // Control data only: finish() produces the head, empty trailers and the end.
  {
    Tracer t;
    Bytes wire = from_hex("00034745540568747470730b6578616d706c652e636f6d012f").value();
    EXPECT_EQ(t.feed(wire), Trace{});
    EXPECT_EQ(t.finish(), (Trace{"head", "trailers", "end"}));
  }
  // Known-length response cut inside the content.
  {
    Tracer t;
    EXPECT_EQ(t.feed(from_hex("0140c800056869").value()), (Trace{"head", "body:2"}));
    auto f = t.dec.finish();
    ASSERT_FALSE(f.has_value());
    EXPECT_EQ(f.error().code, ErrorCode::kTruncated);
    EXPECT_NE(f.error().message.find("3 more bytes"), std::string::npos) << f.error().to_string();
  }
  // Input after finish() is a caller error.
  {
    StreamDecoder dec;
    Bytes wire = from_hex("0140c8").value();
    ByteSpan in = wire;
    while (!std::holds_alternative<NeedMoreInput>(dec.next(in).value())) {
    }
    ASSERT_TRUE(dec.finish().has_value());
    ByteSpan more = wire;
    auto ev = dec.next(more);
    ASSERT_FALSE(ev.has_value());
    EXPECT_EQ(ev.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(BhttpStreamDecoder, CanBeMovedMidMessage) {
  Bytes wire = from_hex("00034745540568747470730b6578616d706c652e636f6d012f").value();
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    StreamDecoder first;
    ByteSpan a = ByteSpan(wire).first(cut);
    while (!std::holds_alternative<NeedMoreInput>(first.next(a).value())) {
    }
    StreamDecoder second = std::move(first);
    ByteSpan b = ByteSpan(wire).subspan(cut);
    while (!std::holds_alternative<NeedMoreInput>(second.next(b).value())) {
    }
    auto head = second.finish();
    ASSERT_TRUE(head.has_value()) << head.error().to_string();
    ASSERT_TRUE(std::holds_alternative<RequestHead>(*head));
    EXPECT_EQ(std::get<RequestHead>(*head).authority, "example.com");
    EXPECT_EQ(std::get<RequestHead>(*head).path, "/");
  }
}

// --- Encoder -----------------------------------------------------------------------------------------------------

RequestHead sample_head() {
  RequestHead h;
  h.method = "POST";
  h.scheme = "https";
  h.authority = "confsec.invalid";
  h.path = "/v1/completions";
  h.headers = {{"Content-Type", "application/json"}};
  return h;
}

TEST(BhttpStreamEncoder, RequestPiecesDecodeToTheMessage) {
  EncodeOptions o;
  o.max_chunk_data_len = 4;
  StreamEncoder enc(o);
  Bytes out;
  ASSERT_TRUE(enc.begin_request(sample_head(), out).has_value());
  size_t after_head = out.size();
  EXPECT_EQ(enc.bytes_emitted(), after_head);
  ASSERT_TRUE(enc.body({}, out).has_value());
  EXPECT_EQ(out.size(), after_head);  // empty data produces nothing
  ASSERT_TRUE(enc.body(as_bytes("0123456789"), out).has_value());
  // 10 bytes at most 4 per chunk: 04 ×4, 04 ×4, 02 ×2.
  EXPECT_EQ(to_hex(ByteSpan(out).subspan(after_head)), "04" "30313233" "04" "34353637" "02" "3839");
  ASSERT_TRUE(enc.body(as_bytes("ab"), out).has_value());
  ASSERT_TRUE(enc.finish({{"X-Trailer", "1"}}, out).has_value());
  EXPECT_TRUE(enc.finished());
  EXPECT_EQ(enc.bytes_emitted(), out.size());

  Request want;
  static_cast<RequestHead&>(want) = sample_head();
  want.headers[0].name = "content-type";
  want.body = to_bytes("0123456789ab");
  want.trailers = {{"x-trailer", "1"}};
  auto got = decode(out);
  ASSERT_TRUE(got.has_value()) << got.error().to_string();
  EXPECT_EQ(got->framing, Framing::kIndeterminateLength);
  EXPECT_EQ(got->message, Message(want));
  auto bytewise = stream_decode_bytewise(out);
  ASSERT_TRUE(bytewise.has_value());
  EXPECT_EQ(*bytewise, *got);
}

TEST(BhttpStreamEncoder, SameBytesAsWholeEncoderForOneBodyWrite) {
  Request r;
  static_cast<RequestHead&>(r) = sample_head();
  r.body = Bytes(1500, 0x5a);
  r.trailers = {{"t", "v"}};
  EncodeOptions o = fixed_size_profile(kComputeMessageChunkLen);
  StreamEncoder enc(o);
  Bytes out;
  ASSERT_TRUE(enc.begin_request(r, out).has_value());
  ASSERT_TRUE(enc.body(r.body, out).has_value());
  ASSERT_TRUE(enc.finish(r.trailers, out).has_value());
  EXPECT_EQ(out, encode(r, o).value());
}

TEST(BhttpStreamEncoder, ResponseWithInformational) {
  StreamEncoder enc;
  Bytes out;
  ASSERT_TRUE(enc.informational({102, {{"running", "\"sleep 15\""}}}, out).has_value());
  ASSERT_TRUE(enc.informational({103, {{"link", "</style.css>; rel=preload; as=style"},
                                       {"link", "</script.js>; rel=preload; as=script"}}},
                                out)
                  .has_value());
  ResponseHead head;
  head.status = 200;
  head.headers = {{"date", "Mon, 27 Jul 2009 12:28:53 GMT"},   {"server", "Apache"},
                  {"last-modified", "Wed, 22 Jul 2009 19:15:56 GMT"}, {"etag", "\"34aa387-d-1568eb00\""},
                  {"accept-ranges", "bytes"},                      {"content-length", "51"},
                  {"vary", "Accept-Encoding"},                     {"content-type", "text/plain"}};
  ASSERT_TRUE(enc.begin_response(head, out).has_value());
  ASSERT_TRUE(enc.body(as_bytes("Hello World! My content includes a trailing CRLF.\r\n"), out).has_value());
  ASSERT_TRUE(enc.finish({}, out).has_value());
  // This is the RFC 9292 §5 response example.
  auto doc = load_json("bhttp-examples.json");
  EXPECT_EQ(to_hex(out), doc.at("indeterminate_length_response_with_informational").at("hex").get<std::string>());
}

TEST(BhttpStreamEncoder, OrderAndValidationErrors) {
  auto expect_invalid = [](const Status& s) {
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  };
  Bytes out;
  {
    StreamEncoder enc;
    expect_invalid(enc.body(as_bytes("x"), out));
    expect_invalid(enc.finish({}, out));
    ASSERT_TRUE(enc.begin_request(sample_head(), out).has_value());
    expect_invalid(enc.begin_request(sample_head(), out));
    expect_invalid(enc.informational({100, {}}, out));
    expect_invalid(enc.begin_response({}, out));
    ASSERT_TRUE(enc.finish({}, out).has_value());
    expect_invalid(enc.finish({}, out));
    expect_invalid(enc.body(as_bytes("x"), out));
  }
  {
    StreamEncoder enc;
    ASSERT_TRUE(enc.informational({100, {}}, out).has_value());
    expect_invalid(enc.begin_request(sample_head(), out));
    expect_invalid(enc.informational({200, {}}, out));
    ResponseHead bad;
    bad.status = 101;
    expect_invalid(enc.begin_response(bad, out));
  }
  {
    // A rejected call appends nothing and leaves the encoder usable.
    StreamEncoder enc;
    Bytes o2;
    RequestHead bad = sample_head();
    bad.headers.push_back({"bad\nname", "x"});
    expect_invalid(enc.begin_request(bad, o2));
    EXPECT_TRUE(o2.empty());
    EXPECT_EQ(enc.bytes_emitted(), 0u);
    ASSERT_TRUE(enc.begin_request(sample_head(), o2).has_value());
    size_t n = o2.size();
    expect_invalid(enc.finish({{"t", "bad\rvalue"}}, o2));
    EXPECT_EQ(o2.size(), n);
    ASSERT_TRUE(enc.finish({{"t", "ok"}}, o2).has_value());
    EXPECT_TRUE(decode(o2).has_value());
  }
}

TEST(BhttpStreamEncoder, PadsAtFinishFromTotalEmitted) {
  for (size_t body_len : {0u, 1u, 511u, 512u, 513u, 3000u}) {
    SCOPED_TRACE(body_len);
    StreamEncoder enc(fixed_size_profile(kComputeMessageChunkLen));
    Bytes out;
    ASSERT_TRUE(enc.begin_request(sample_head(), out).has_value());
    Bytes body(body_len, 0x61);
    // Write the body in uneven pieces; each piece is split into chunks of <= 512 data bytes.
    for (size_t pos = 0; pos < body.size();) {
      size_t n = std::min<size_t>(body.size() - pos, 300 + pos % 700);
      ASSERT_TRUE(enc.body(ByteSpan(body).subspan(pos, n), out).has_value());
      pos += n;
    }
    ASSERT_TRUE(enc.finish({}, out, /*extra_padding=*/3).has_value());
    EXPECT_EQ(out.size() % 514, 0u);
    EXPECT_EQ(enc.bytes_emitted(), out.size());
    auto r = decode_request(out);
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    EXPECT_EQ(r->body, body);

    // Fed whole, each BodyData event is one content chunk: none above 512 bytes.
    StreamDecoder dec;
    ByteSpan in = out;
    for (;;) {
      auto ev = dec.next(in);
      ASSERT_TRUE(ev.has_value());
      if (std::holds_alternative<NeedMoreInput>(*ev)) break;
      if (auto* d = std::get_if<BodyData>(&*ev)) {
        EXPECT_LE(d->data.size(), 512u);
      }
    }
  }
  // Without a multiple, extra_padding is exact.
  StreamEncoder enc;
  Bytes out;
  ASSERT_TRUE(enc.begin_request(sample_head(), out).has_value());
  size_t before = out.size();
  ASSERT_TRUE(enc.finish({}, out, 5).has_value());
  EXPECT_EQ(out.size(), before + 2 + 5);
}

// --- Random round trips ------------------------------------------------------------------------------------------

class RandomMessages {
 public:
  explicit RandomMessages(uint64_t seed) : rng_(seed) {}

  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng_() % n); }
  bool coin() { return rng_() & 1; }

  std::string name() {
    static constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&'*+^`|~";
    std::string s(1 + below(20), 'a');
    for (char& c : s) c = kChars[below(kChars.size())];
    return s;
  }
  std::string value() {
    std::string s(below(40), 'x');
    for (char& c : s) {
      do {
        c = static_cast<char>(below(256));
      } while (c == '\0' || c == '\r' || c == '\n');
    }
    if (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.front() = 'L';
    if (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.back() = 'T';
    return s;
  }
  std::string visible(size_t max_len) {
    std::string s(below(max_len), 'x');
    for (char& c : s) c = static_cast<char>(0x21 + below(0x7f - 0x21));
    return s;
  }
  Fields fields(size_t max) {
    Fields f(below(max + 1));
    for (auto& x : f) x = {name(), value()};
    return f;
  }
  Bytes body() {
    size_t sizes[] = {0, 0, 1, 63, 64, 700, 5000};
    Bytes b(sizes[below(7)]);
    for (auto& x : b) x = static_cast<uint8_t>(rng_());
    return b;
  }

  Message message() {
    if (coin()) {
      Request r;
      const char* methods[] = {"GET", "POST", "PUT", "CONNECT", "X-Custom"};
      r.method = methods[below(5)];
      r.scheme = coin() ? "https" : visible(8);
      r.authority = visible(30);
      r.path = "/" + visible(60);
      r.headers = fields(6);
      r.body = body();
      r.trailers = coin() ? Fields{} : fields(3);
      return r;
    }
    Response r;
    r.informational.resize(below(3));
    for (auto& i : r.informational) i = {static_cast<uint16_t>(100 + below(100)), fields(2)};
    r.status = static_cast<uint16_t>(200 + below(400));
    r.headers = fields(6);
    r.body = body();
    r.trailers = coin() ? Fields{} : fields(3);
    return r;
  }

  EncodeOptions options() {
    EncodeOptions o;
    o.framing = coin() ? Framing::kKnownLength : Framing::kIndeterminateLength;
    o.truncate_empty_tail = coin();
    size_t chunks[] = {0, 1, 7, 512};
    o.max_chunk_data_len = chunks[below(4)];
    o.padding_len = coin() ? 0 : below(20);
    size_t multiples[] = {0, 1, 16, 514, 532};
    o.pad_to_multiple_of = multiples[below(5)];
    return o;
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

TEST(BhttpProperty, RandomRoundTrips) {
  RandomMessages gen(20260101);
  for (int i = 0; i < 400; ++i) {
    SCOPED_TRACE(i);
    Message m = gen.message();
    EncodeOptions o = gen.options();
    auto wire = encode(m, o);
    ASSERT_TRUE(wire.has_value()) << wire.error().to_string();
    if (o.pad_to_multiple_of > 1) {
      EXPECT_EQ(wire->size() % o.pad_to_multiple_of, 0u);
    }

    DecodedMessage want{o.framing, m};
    auto whole = decode(*wire);
    ASSERT_TRUE(whole.has_value()) << whole.error().to_string() << " " << to_hex(*wire);
    EXPECT_EQ(*whole, want);
    auto sliced = stream_decode(*wire, [&](size_t) { return gen.below(40); });
    ASSERT_TRUE(sliced.has_value()) << sliced.error().to_string();
    EXPECT_EQ(*sliced, want);

    // Re-encoding what was decoded gives the same bytes.
    EXPECT_EQ(encode(whole->message, o).value(), *wire);

    // The streaming encoder, with the body written in random pieces, produces a message with the same meaning.
    StreamEncoder enc(o);
    Bytes out;
    const Bytes* body = nullptr;
    const Fields* trailers = nullptr;
    if (auto* r = std::get_if<Request>(&m)) {
      ASSERT_TRUE(enc.begin_request(*r, out).has_value());
      body = &r->body;
      trailers = &r->trailers;
    } else {
      auto& resp = std::get<Response>(m);
      for (const auto& info : resp.informational) ASSERT_TRUE(enc.informational(info, out).has_value());
      ASSERT_TRUE(enc.begin_response(resp, out).has_value());
      body = &resp.body;
      trailers = &resp.trailers;
    }
    for (size_t pos = 0; pos < body->size();) {
      size_t n = std::min(body->size() - pos, gen.below(900));
      ASSERT_TRUE(enc.body(ByteSpan(*body).subspan(pos, n), out).has_value());
      pos += n;
    }
    ASSERT_TRUE(enc.finish(*trailers, out).has_value());
    if (o.pad_to_multiple_of > 1) {
      EXPECT_EQ(out.size() % o.pad_to_multiple_of, 0u);
    }
    auto streamed = decode(out);
    ASSERT_TRUE(streamed.has_value()) << streamed.error().to_string();
    EXPECT_EQ(*streamed, (DecodedMessage{Framing::kIndeterminateLength, m}));
  }
}

TEST(BhttpProperty, RandomBytesNeverCrash) {
  // Mutations of valid encodings: every outcome is a message or a clean error, and slicing never changes it.
  RandomMessages gen(99);
  size_t ok = 0, errors = 0;
  for (int i = 0; i < 1500; ++i) {
    Bytes wire = encode(gen.message(), gen.options()).value();
    size_t flips = 1 + gen.below(3);
    for (size_t k = 0; k < flips && !wire.empty(); ++k) {
      wire[gen.below(wire.size())] = static_cast<uint8_t>(gen.rng()());
    }
    if (gen.coin() && !wire.empty()) wire.resize(gen.below(wire.size()));
    auto whole = decode(wire);
    auto sliced = stream_decode(wire, [&](size_t) { return 1 + gen.below(5); });
    ASSERT_EQ(whole.has_value(), sliced.has_value());
    if (whole) {
      EXPECT_EQ(*whole, *sliced);
      ++ok;
    } else {
      EXPECT_EQ(whole.error().code, sliced.error().code) << whole.error().to_string();
      EXPECT_FALSE(whole.error().message.empty());
      ++errors;
    }
  }
  EXPECT_GT(ok, 0u);
  EXPECT_GT(errors, 0u);
}

}  // namespace
}  // namespace openpcc::wire::bhttp
