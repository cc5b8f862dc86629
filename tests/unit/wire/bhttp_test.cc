// Binary HTTP (RFC 9292): published examples, byte-exact re-encoding, truncation, malformed inputs, limits,
// validity rules and padding.
#include "wire/bhttp.h"

#include <gtest/gtest.h>

#include "unit/wire/bhttp_test_util.h"

namespace openpcc::wire::bhttp {
namespace {

using testing::load_json;
using testing::message_from_json;
using testing::stream_decode;
using testing::stream_decode_bytewise;

Bytes hex(std::string_view h) {
  std::string clean;
  for (char c : h) {
    if (c != ' ') clean.push_back(c);
  }
  auto b = from_hex(clean);
  EXPECT_TRUE(b.has_value()) << h;
  return b.value_or(Bytes{});
}

// A known-length / indeterminate-length "GET https:///" request's framing and control data.
constexpr std::string_view kKnownGet = "00 03474554 05 6874747073 00 01 2f";
constexpr std::string_view kIndeterminateGet = "02 03474554 05 6874747073 00 01 2f";

std::string cat(std::string_view a, std::string_view b) { return std::string(a) + " " + std::string(b); }

// --- RFC 9292 §5 examples (tests/data/bhttp-rfc9292-examples.json) ----------------------------------------------

TEST(BhttpRfc9292Examples, DecodeToStatedMeaningWholeAndStreaming) {
  auto doc = load_json("bhttp-rfc9292-examples.json");
  ASSERT_EQ(doc.at("examples").size(), 4u);
  for (const auto& ex : doc.at("examples")) {
    SCOPED_TRACE(ex.at("name").get<std::string>());
    Bytes wire = hex(ex.at("hex").get<std::string>());
    DecodedMessage want = message_from_json(ex);

    auto whole = decode(wire);
    ASSERT_TRUE(whole.has_value()) << whole.error().to_string();
    EXPECT_EQ(*whole, want);

    auto bytewise = stream_decode_bytewise(wire);
    ASSERT_TRUE(bytewise.has_value()) << bytewise.error().to_string();
    EXPECT_EQ(*bytewise, want);

    for (size_t cut : ex.at("allowed_truncations").get<std::vector<size_t>>()) {
      SCOPED_TRACE("truncated by " + std::to_string(cut));
      ByteSpan shorter = ByteSpan(wire).first(wire.size() - cut);
      auto t = decode(shorter);
      ASSERT_TRUE(t.has_value()) << t.error().to_string();
      EXPECT_EQ(*t, want);
      auto ts = stream_decode_bytewise(shorter);
      ASSERT_TRUE(ts.has_value()) << ts.error().to_string();
      EXPECT_EQ(*ts, want);
    }
  }
}

TEST(BhttpRfc9292Examples, ReEncodeByteExactly) {
  auto doc = load_json("bhttp-rfc9292-examples.json");
  for (const auto& ex : doc.at("examples")) {
    SCOPED_TRACE(ex.at("name").get<std::string>());
    DecodedMessage m = message_from_json(ex);
    EncodeOptions o = testing::options_for(m);
    const auto& enc = ex.at("encode");
    o.truncate_empty_tail = enc.value("truncate_empty_tail", true);
    o.padding_len = enc.value("padding_len", size_t{0});
    auto out = encode(m.message, o);
    ASSERT_TRUE(out.has_value()) << out.error().to_string();
    EXPECT_EQ(to_hex(*out), ex.at("hex").get<std::string>());
  }
}

TEST(BhttpRfc9292Examples, IndeterminateRequestPaddingAsMultipleOf16) {
  auto doc = load_json("bhttp-rfc9292-examples.json");
  const auto& ex = doc.at("examples").at(1);
  ASSERT_EQ(ex.at("name"), "request_indeterminate_length_padded");
  DecodedMessage m = message_from_json(ex);
  EncodeOptions o = testing::options_for(m);
  o.pad_to_multiple_of = 16;
  EXPECT_EQ(to_hex(encode(m.message, o).value()), ex.at("hex").get<std::string>());

  // The same request through the streaming encoder.
  const auto& req = std::get<Request>(m.message);
  StreamEncoder se(o);
  Bytes out;
  ASSERT_TRUE(se.begin_request(req, out).has_value());
  ASSERT_TRUE(se.body({}, out).has_value());
  ASSERT_TRUE(se.finish({}, out).has_value());
  EXPECT_EQ(to_hex(out), ex.at("hex").get<std::string>());
  EXPECT_EQ(se.bytes_emitted(), 144u);
}

TEST(BhttpRfc9292Examples, KnownLengthRequestTruncatesByDefault) {
  // The RFC says the final two bytes (empty content and trailers) can be omitted; our default encoder does.
  auto doc = load_json("bhttp-rfc9292-examples.json");
  const auto& ex = doc.at("examples").at(0);
  DecodedMessage m = message_from_json(ex);
  std::string full = ex.at("hex");
  EXPECT_EQ(to_hex(encode(m.message).value()), full.substr(0, full.size() - 4));
}

// --- Project examples (tests/data/bhttp-examples.json) -----------------------------------------------------------

TEST(BhttpExamples, KnownLengthRequestRfc9458) {
  auto doc = load_json("bhttp-examples.json");
  const auto& ex = doc.at("known_length_request_get_example_com");
  Bytes wire = hex(ex.at("hex").get<std::string>());
  auto r = decode_request(wire);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->method, ex.at("method"));
  EXPECT_EQ(r->scheme, ex.at("scheme"));
  EXPECT_EQ(r->authority, ex.at("authority"));
  EXPECT_EQ(r->path, ex.at("path"));
  EXPECT_TRUE(r->headers.empty());
  EXPECT_TRUE(r->body.empty());
  EXPECT_TRUE(r->trailers.empty());

  Request req;
  req.method = "GET";
  req.scheme = "https";
  req.authority = "example.com";
  req.path = "/";
  EXPECT_EQ(to_hex(encode(req).value()), ex.at("hex").get<std::string>());
  // Without truncation, the three empty parts are spelled out.
  EncodeOptions full;
  full.truncate_empty_tail = false;
  EXPECT_EQ(to_hex(encode(req, full).value()), ex.at("hex").get<std::string>() + "000000");
  EXPECT_FALSE(decode_response(wire).has_value());
}

TEST(BhttpExamples, KnownLengthResponseWithTrailer) {
  auto doc = load_json("bhttp-examples.json");
  const auto& ex = doc.at("known_length_response_200_with_trailer");
  Bytes wire = hex(ex.at("hex").get<std::string>());
  auto r = decode_response(wire);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->status, ex.at("status").get<uint16_t>());
  EXPECT_TRUE(r->informational.empty());
  EXPECT_TRUE(r->headers.empty());
  EXPECT_EQ(to_string(r->body), ex.at("body_text").get<std::string>());
  EXPECT_EQ(r->trailers, testing::fields_from_json(ex.at("trailers")));
  EXPECT_EQ(to_hex(encode(*r).value()), ex.at("hex").get<std::string>());
  EXPECT_FALSE(decode_request(wire).has_value());
}

TEST(BhttpExamples, IndeterminateResponseWithInformational) {
  auto doc = load_json("bhttp-examples.json");
  const auto& ex = doc.at("indeterminate_length_response_with_informational");
  Bytes wire = hex(ex.at("hex").get<std::string>());
  auto d = decode(wire);
  ASSERT_TRUE(d.has_value()) << d.error().to_string();
  EXPECT_EQ(d->framing, Framing::kIndeterminateLength);
  const auto& r = std::get<Response>(d->message);
  std::vector<uint16_t> statuses;
  for (const auto& info : r.informational) statuses.push_back(info.status);
  EXPECT_EQ(statuses, ex.at("informational").get<std::vector<uint16_t>>());
  EXPECT_EQ(r.status, ex.at("status").get<uint16_t>());
  EXPECT_EQ(to_string(r.body), ex.at("body_text").get<std::string>());
  EXPECT_EQ(find_field(r.headers, "Content-Type").value_or(""), "text/plain");
  EXPECT_EQ(find_field(r.headers, "vary").value_or(""), "Accept-Encoding");
  EncodeOptions o;
  o.framing = Framing::kIndeterminateLength;
  EXPECT_EQ(to_hex(encode(r, o).value()), ex.at("hex").get<std::string>());
  auto s = stream_decode_bytewise(wire);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, *d);
}

// --- Truncation at every offset ----------------------------------------------------------------------------------

std::vector<Bytes> all_example_encodings() {
  std::vector<Bytes> out;
  auto rfc = load_json("bhttp-rfc9292-examples.json");
  for (const auto& ex : rfc.at("examples")) out.push_back(hex(ex.at("hex").get<std::string>()));
  auto project = load_json("bhttp-examples.json");
  for (const auto& [name, ex] : project.items()) {
    if (ex.is_object()) out.push_back(hex(ex.at("hex").get<std::string>()));
  }
  return out;
}

TEST(BhttpTruncation, EveryPrefixDecodesOrFailsAsTruncated) {
  auto examples = all_example_encodings();
  ASSERT_EQ(examples.size(), 7u);
  size_t decoded = 0, failed = 0;
  for (const Bytes& wire : examples) {
    for (size_t len = 0; len <= wire.size(); ++len) {
      SCOPED_TRACE(to_hex(wire) + " prefix " + std::to_string(len));
      ByteSpan prefix = ByteSpan(wire).first(len);
      auto whole = decode(prefix);
      auto streamed = stream_decode_bytewise(prefix);
      ASSERT_EQ(whole.has_value(), streamed.has_value());
      if (whole) {
        EXPECT_EQ(*whole, *streamed);
        ++decoded;
      } else {
        EXPECT_EQ(whole.error().code, ErrorCode::kTruncated) << whole.error().to_string();
        EXPECT_EQ(streamed.error().code, ErrorCode::kTruncated);
        ++failed;
      }
    }
  }
  // The decodable prefixes are exactly the boundaries after the final control data where RFC 9292 §3.8 allows the
  // rest to be missing, plus cuts into padding: 4 + 14 + 4 + 4 + 1 + 4 + 4 (checked by hand against the RFC text).
  EXPECT_EQ(decoded, 35u);
  EXPECT_EQ(failed, 1108u);
}

TEST(BhttpTruncation, AllowedTruncationPoints) {
  for (std::string_view base : {kKnownGet, kIndeterminateGet}) {
    for (std::string_view tail : {"", "00", "0000", "000000", "00000000000000"}) {
      SCOPED_TRACE(cat(base, tail));
      auto r = decode_request(hex(cat(base, tail)));
      ASSERT_TRUE(r.has_value()) << r.error().to_string();
      EXPECT_EQ(r->method, "GET");
      EXPECT_EQ(r->path, "/");
      EXPECT_TRUE(r->headers.empty() && r->body.empty() && r->trailers.empty());
    }
  }
  EXPECT_EQ(decode_response(hex("0140c8")).value().status, 200);
  EXPECT_EQ(decode_response(hex("0340c8")).value().status, 200);
  EXPECT_EQ(decode_response(hex("0340c8 00")).value().status, 200);
  // Content present, trailers omitted.
  EXPECT_EQ(to_string(decode_request(hex(cat(kKnownGet, "00 02 6869"))).value().body), "hi");
  EXPECT_EQ(to_string(decode_request(hex(cat(kIndeterminateGet, "00 02 6869 00"))).value().body), "hi");
}

// --- Malformed inputs --------------------------------------------------------------------------------------------

struct BadCase {
  std::string name;
  std::string hex;
  ErrorCode code;
  std::string message_part;
};

TEST(BhttpMalformed, RejectedWithClearErrors) {
  const BadCase cases[] = {
      {"empty input", "", ErrorCode::kTruncated, "framing indicator"},
      {"framing indicator 4", "04", ErrorCode::kDecode, "invalid framing indicator 4"},
      {"non-minimal framing indicator 4", "4004", ErrorCode::kDecode, "invalid framing indicator 4"},
      {"framing varint cut", "c0000000", ErrorCode::kTruncated, "framing indicator"},
      {"large framing indicator", "8000ffff", ErrorCode::kDecode, "invalid framing indicator"},
      {"status 99", "014063", ErrorCode::kDecode, "invalid status code 99"},
      {"status 600", "014258", ErrorCode::kDecode, "invalid status code 600"},
      {"status 0", "0100", ErrorCode::kDecode, "invalid status code 0"},
      {"status 99 indeterminate", "034063", ErrorCode::kDecode, "invalid status code 99"},
      {"only informational", "01406400", ErrorCode::kTruncated, "final status"},
      {"only informational, indeterminate", "03406400", ErrorCode::kTruncated, "final status"},
      {"informational section cut", "014064", ErrorCode::kTruncated, "informational header section"},
      {"control data cut", "000347", ErrorCode::kTruncated, "control data (method)"},
      {"empty method", "00 00 05 6874747073 00 01 2f", ErrorCode::kDecode, "invalid method"},
      {"method with space", "00 04 47452054 05 6874747073 00 01 2f", ErrorCode::kDecode, "invalid method"},
      {"path with CR", "00 03474554 05 6874747073 00 02 2f0d", ErrorCode::kDecode, "invalid path"},
      {"authority with space", "00 03474554 05 6874747073 03 612062 01 2f", ErrorCode::kDecode,
       "invalid authority"},
      {"scheme with NUL", "00 03474554 02 6800 00 01 2f", ErrorCode::kDecode, "invalid scheme"},
      {"field name with space", cat(kKnownGet, "05 03 612062 00"), ErrorCode::kDecode, "invalid field name"},
      {"pseudo-field", cat(kKnownGet, "08 05 3a70617468 01 2f"), ErrorCode::kDecode, "invalid field name \":path\""},
      {"pseudo-field indeterminate", cat(kIndeterminateGet, "05 3a70617468 01 2f 00"), ErrorCode::kDecode,
       "invalid field name"},
      {"value with CR", cat(kKnownGet, "05 01 61 02 780d"), ErrorCode::kDecode, "invalid value \"x\\x0d\""},
      {"value with LF", cat(kKnownGet, "05 01 61 02 780a"), ErrorCode::kDecode, "invalid value"},
      {"value with NUL", cat(kKnownGet, "05 01 61 02 7800"), ErrorCode::kDecode, "invalid value"},
      {"value with leading space", cat(kKnownGet, "05 01 61 02 2078"), ErrorCode::kDecode, "invalid value"},
      {"value with trailing tab", cat(kKnownGet, "05 01 61 02 7809"), ErrorCode::kDecode, "invalid value"},
      {"trailer value with CR", cat(kKnownGet, "00 00 05 01 61 02 780d"), ErrorCode::kDecode, "trailer section"},
      {"zero-length name", cat(kKnownGet, "02 00 00"), ErrorCode::kDecode, "zero-length field name"},
      {"name overruns section", cat(kKnownGet, "02 05 6162636465 00"), ErrorCode::kDecode, "overruns"},
      {"value overruns section", cat(kKnownGet, "03 01 61 05 68656c6c6f"), ErrorCode::kDecode, "overruns"},
      {"value length overruns section", cat(kKnownGet, "02 01 61 01 78"), ErrorCode::kDecode, "overruns"},
      {"header section beyond input", cat(kKnownGet, "10 01 61"), ErrorCode::kTruncated, "header section"},
      {"field line cut", cat(kKnownGet, "05 01 61 02 78"), ErrorCode::kTruncated, "header section"},
      {"content beyond input", cat(kKnownGet, "00 05 6869"), ErrorCode::kTruncated, "content"},
      {"content length cut", cat(kKnownGet, "00 40"), ErrorCode::kTruncated, "content length"},
      {"trailer section cut", cat(kKnownGet, "00 00 03 01 61"), ErrorCode::kTruncated, "trailer section"},
      {"non-zero padding", cat(kKnownGet, "00 00 00 00 01"), ErrorCode::kDecode, "non-zero padding"},
      {"garbage after message", cat(kKnownGet, "00 00 00 ff"), ErrorCode::kDecode, "non-zero padding"},
      {"indeterminate: unterminated headers", cat(kIndeterminateGet, "01 61 01 78"), ErrorCode::kTruncated,
       "header section"},
      {"indeterminate: chunk cut", cat(kIndeterminateGet, "00 03 6162"), ErrorCode::kTruncated, "content"},
      {"indeterminate: no content terminator", cat(kIndeterminateGet, "00 03 616263"), ErrorCode::kTruncated,
       "content terminator"},
      {"indeterminate: unterminated trailers", cat(kIndeterminateGet, "00 00 01 61 01 78"), ErrorCode::kTruncated,
       "trailer section"},
      {"indeterminate: non-zero padding", cat(kIndeterminateGet, "00 00 00 00 07"), ErrorCode::kDecode,
       "non-zero padding"},
      {"informational pseudo-field", "01 4066 03 01 3a 00", ErrorCode::kDecode,
       "invalid field name \":\" in informational header section"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Bytes wire = hex(c.hex);
    auto whole = decode(wire);
    ASSERT_FALSE(whole.has_value());
    EXPECT_EQ(whole.error().code, c.code) << whole.error().to_string();
    EXPECT_NE(whole.error().message.find(c.message_part), std::string::npos) << whole.error().to_string();
    EXPECT_EQ(whole.error().message.rfind("bhttp: ", 0), 0u) << whole.error().to_string();
    auto streamed = stream_decode_bytewise(wire);
    ASSERT_FALSE(streamed.has_value());
    EXPECT_EQ(streamed.error().code, c.code);
  }
}

TEST(BhttpMalformed, AcceptedEdgeCases) {
  // Non-minimal varints are allowed (RFC 9292 §3): framing 0 as 0x4000, method length as 0x4003.
  auto r = decode_request(hex("4000 4003474554 05 6874747073 00 01 2f"));
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->method, "GET");
  // Uppercase field names are valid tokens; the decoder keeps them as read.
  auto up = decode_request(hex(cat(kKnownGet, "07 04 486f7374 01 78")));
  ASSERT_TRUE(up.has_value()) << up.error().to_string();
  EXPECT_EQ(up->headers, (Fields{{"Host", "x"}}));
  // Empty values, interior spaces and obs-text are fine.
  auto v = decode_request(hex(cat(kKnownGet, "0b 01 61 00 01 62 05 7820ff2079")));
  ASSERT_TRUE(v.has_value()) << v.error().to_string();
  EXPECT_EQ(v->headers, (Fields{{"a", ""}, {"b", "x \xff y"}}));
  // CONNECT with empty scheme and path is encoded as given.
  auto c = decode_request(hex("00 07434f4e4e454354 00 0b6578616d706c652e636f6d 00"));
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  EXPECT_EQ(c->method, "CONNECT");
  EXPECT_EQ(c->scheme, "");
  EXPECT_EQ(c->authority, "example.com");
  EXPECT_EQ(c->path, "");
  EXPECT_EQ(to_hex(encode(*c).value()), "0007434f4e4e454354000b6578616d706c652e636f6d00");
}

// --- Limits ------------------------------------------------------------------------------------------------------

void expect_limit(const Result<DecodedMessage>& r, std::string_view limit_name) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded) << r.error().to_string();
  EXPECT_NE(r.error().message.find(limit_name), std::string::npos) << r.error().to_string();
}

Request request_with(Fields headers, Bytes body = {}, Fields trailers = {}) {
  Request r;
  r.method = "POST";
  r.scheme = "https";
  r.authority = "a";
  r.path = "/";
  r.headers = std::move(headers);
  r.body = std::move(body);
  r.trailers = std::move(trailers);
  return r;
}

EncodeOptions framing_opts(Framing f) {
  EncodeOptions o;
  o.framing = f;
  return o;
}

TEST(BhttpLimits, FieldSectionBytes) {
  // One field line "ab: cdef" is 1+2+1+4 = 8 bytes.
  Fields two = {{"ab", "cdef"}, {"gh", "ijkl"}};  // 16 bytes
  for (Framing f : {Framing::kKnownLength, Framing::kIndeterminateLength}) {
    SCOPED_TRACE(static_cast<int>(f));
    DecodeLimits at;
    at.max_header_section_bytes = 16;
    at.max_trailer_section_bytes = 16;
    DecodeLimits below = at;
    below.max_header_section_bytes = 15;
    below.max_trailer_section_bytes = 15;

    Bytes h = encode(request_with(two), framing_opts(f)).value();
    EXPECT_TRUE(decode(h, at).has_value());
    EXPECT_TRUE(stream_decode_bytewise(h, at).has_value());
    expect_limit(decode(h, below), "max_header_section_bytes");
    expect_limit(stream_decode_bytewise(h, below), "max_header_section_bytes");

    Bytes t = encode(request_with({}, {}, two), framing_opts(f)).value();
    EXPECT_TRUE(decode(t, at).has_value());
    expect_limit(decode(t, below), "max_trailer_section_bytes");
    expect_limit(stream_decode_bytewise(t, below), "max_trailer_section_bytes");

    Response resp;
    resp.informational.push_back({103, two});
    Bytes i = encode(resp, framing_opts(f)).value();
    EXPECT_TRUE(decode(i, at).has_value());
    expect_limit(decode(i, below), "max_header_section_bytes");
  }
  // Defaults: 16 KiB per section.
  Fields big = {{"x", std::string(16 * 1024 - 4, 'v')}};  // 1 + 1 + 2 + 16380 = 16384 bytes
  EXPECT_TRUE(decode(encode(request_with(big)).value()).has_value());
  big[0].value.push_back('v');
  expect_limit(decode(encode(request_with(big)).value()), "max_header_section_bytes (16384)");
}

TEST(BhttpLimits, KnownLengthSectionRejectedBeforeItsBytesArrive) {
  // Header section length 65536 with only the prefix supplied: the decoder refuses at once.
  Bytes prefix = hex(cat(kKnownGet, "80010000"));
  StreamDecoder dec;
  ByteSpan in = prefix;
  auto ev = dec.next(in);
  ASSERT_FALSE(ev.has_value());
  EXPECT_EQ(ev.error().code, ErrorCode::kLimitExceeded);
  EXPECT_NE(ev.error().message.find("max_header_section_bytes"), std::string::npos);
  // Errors are sticky.
  ByteSpan more = prefix;
  EXPECT_FALSE(dec.next(more).has_value());
  EXPECT_FALSE(dec.finish().has_value());
}

TEST(BhttpLimits, FieldLines) {
  Fields three = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  for (Framing f : {Framing::kKnownLength, Framing::kIndeterminateLength}) {
    DecodeLimits l;
    l.max_field_lines = 3;
    Bytes ok = encode(request_with(three, {}, three), framing_opts(f)).value();
    EXPECT_TRUE(decode(ok, l).has_value());
    l.max_field_lines = 2;
    expect_limit(decode(ok, l), "max_field_lines (2)");
    expect_limit(stream_decode_bytewise(ok, l), "max_field_lines");
  }
}

TEST(BhttpLimits, BodyBytes) {
  Bytes body(100, 0x41);
  for (Framing f : {Framing::kKnownLength, Framing::kIndeterminateLength}) {
    EncodeOptions o = framing_opts(f);
    o.max_chunk_data_len = 30;  // indeterminate: 4 chunks
    Bytes wire = encode(request_with({}, body), o).value();
    DecodeLimits l;
    l.max_body_bytes = 100;
    EXPECT_TRUE(decode(wire, l).has_value());
    l.max_body_bytes = 99;
    expect_limit(decode(wire, l), "max_body_bytes (99)");
    expect_limit(stream_decode_bytewise(wire, l), "max_body_bytes");
  }
  // A known-length content length is checked before any content arrives.
  DecodeLimits small;
  small.max_body_bytes = 10;
  StreamDecoder dec(small);
  Bytes head = hex(cat(kKnownGet, "00 4100"));  // content length 256
  ByteSpan in = head;
  Result<DecodeEvent> ev = dec.next(in);
  ASSERT_TRUE(ev.has_value());
  ASSERT_TRUE(std::holds_alternative<RequestHead>(*ev));
  ev = dec.next(in);
  ASSERT_FALSE(ev.has_value());
  EXPECT_EQ(ev.error().code, ErrorCode::kLimitExceeded);
}

TEST(BhttpLimits, InformationalResponses) {
  Response r;
  for (uint16_t s : {100, 102, 103}) r.informational.push_back({s, {}});
  for (Framing f : {Framing::kKnownLength, Framing::kIndeterminateLength}) {
    Bytes wire = encode(r, framing_opts(f)).value();
    DecodeLimits l;
    l.max_informational_responses = 3;
    EXPECT_EQ(std::get<Response>(decode(wire, l).value().message).informational.size(), 3u);
    l.max_informational_responses = 2;
    expect_limit(decode(wire, l), "max_informational_responses (2)");
    expect_limit(stream_decode_bytewise(wire, l), "max_informational_responses");
  }
}

TEST(BhttpLimits, ControlData) {
  Request r = request_with({});
  r.path = "/" + std::string(100, 'p');
  Bytes wire = encode(r).value();
  // 1+4 (POST) + 1+5 (https) + 1+1 (a) + 2+101 (path) = 116 bytes of control data.
  DecodeLimits l;
  l.max_control_data_bytes = 116;
  EXPECT_TRUE(decode(wire, l).has_value());
  l.max_control_data_bytes = 115;
  expect_limit(decode(wire, l), "max_control_data_bytes (115)");
}

// --- Validity rules and encoder checks ---------------------------------------------------------------------------

TEST(BhttpValidity, FieldNamesAndValues) {
  EXPECT_TRUE(is_valid_field_name("content-type"));
  EXPECT_TRUE(is_valid_field_name("X-Custom_1!#$%&'*+.^`|~"));
  EXPECT_FALSE(is_valid_field_name(""));
  EXPECT_FALSE(is_valid_field_name(":path"));
  EXPECT_FALSE(is_valid_field_name("a b"));
  EXPECT_FALSE(is_valid_field_name("a\x80"));
  EXPECT_FALSE(is_valid_field_name("a\"b"));
  EXPECT_TRUE(is_valid_field_value(""));
  EXPECT_TRUE(is_valid_field_value("a b\tc"));
  EXPECT_TRUE(is_valid_field_value("\xff\x01"));
  EXPECT_FALSE(is_valid_field_value(std::string_view("a\0b", 3)));
  EXPECT_FALSE(is_valid_field_value("a\rb"));
  EXPECT_FALSE(is_valid_field_value("a\nb"));
  EXPECT_FALSE(is_valid_field_value(" a"));
  EXPECT_FALSE(is_valid_field_value("a\t"));
  EXPECT_TRUE(is_valid_method("GET"));
  EXPECT_FALSE(is_valid_method(""));
  EXPECT_FALSE(is_valid_method("G T"));
  EXPECT_TRUE(is_valid_control_field(""));
  EXPECT_TRUE(is_valid_control_field("/a?b=%20"));
  EXPECT_FALSE(is_valid_control_field("/a b"));
  EXPECT_FALSE(is_valid_control_field("/a\x7f"));
  EXPECT_EQ(framing_indicator(MessageKind::kRequest, Framing::kKnownLength), 0);
  EXPECT_EQ(framing_indicator(MessageKind::kResponse, Framing::kKnownLength), 1);
  EXPECT_EQ(framing_indicator(MessageKind::kRequest, Framing::kIndeterminateLength), 2);
  EXPECT_EQ(framing_indicator(MessageKind::kResponse, Framing::kIndeterminateLength), 3);
}

TEST(BhttpEncoder, LowercasesNamesAndValidates) {
  Request r = request_with({{"Content-Type", "text/plain"}, {"X-A", "B"}});
  auto d = decode_request(encode(r).value()).value();
  EXPECT_EQ(d.headers, (Fields{{"content-type", "text/plain"}, {"x-a", "B"}}));

  auto expect_invalid = [](const Result<Bytes>& out, std::string_view part) {
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(out.error().message.find(part), std::string::npos) << out.error().to_string();
  };
  expect_invalid(encode(request_with({{"bad name", "x"}})), "invalid field name");
  expect_invalid(encode(request_with({{"a", "x\r\ny: z"}})), "invalid value");
  expect_invalid(encode(request_with({}, {}, {{":status", "200"}})), "trailer section");
  Request m = request_with({});
  m.method = "GE T";
  expect_invalid(encode(m), "invalid method");
  m = request_with({});
  m.path = "/a\nb";
  expect_invalid(encode(m, framing_opts(Framing::kIndeterminateLength)), "invalid path");

  Response resp;
  resp.status = 199;
  expect_invalid(encode(resp), "final status 199");
  resp.status = 600;
  expect_invalid(encode(resp, framing_opts(Framing::kIndeterminateLength)), "final status 600");
  resp.status = 200;
  resp.informational.push_back({200, {}});
  expect_invalid(encode(resp), "informational status 200");
}

TEST(BhttpEncoder, KnownLengthTruncationLadder) {
  Request r = request_with({});
  EXPECT_EQ(to_hex(encode(r).value()), "0004504f5354056874747073016101" "2f");
  r.trailers = {{"t", "v"}};
  EXPECT_EQ(to_hex(encode(r).value()), "0004504f5354056874747073016101" "2f" "00" "00" "0401740176");
  r.trailers.clear();
  r.body = to_bytes("hi");
  EXPECT_EQ(to_hex(encode(r).value()), "0004504f5354056874747073016101" "2f" "00" "026869");
  r.body.clear();
  r.headers = {{"h", "v"}};
  EXPECT_EQ(to_hex(encode(r).value()), "0004504f5354056874747073016101" "2f" "0401680176");
  EncodeOptions no_trunc;
  no_trunc.truncate_empty_tail = false;
  EXPECT_EQ(to_hex(encode(r, no_trunc).value()), "0004504f5354056874747073016101" "2f" "0401680176" "00" "00");
  // Responses too, after the final status; informational sections are never truncated.
  Response resp;
  resp.informational.push_back({100, {}});
  EXPECT_EQ(to_hex(encode(resp).value()), "01" "4064" "00" "40c8");
}

// --- Padding and the fixed-size profile --------------------------------------------------------------------------

TEST(BhttpPadding, LengthAndMultiple) {
  Request r = request_with({{"a", "b"}}, to_bytes("body"));
  for (Framing f : {Framing::kKnownLength, Framing::kIndeterminateLength}) {
    EncodeOptions o = framing_opts(f);
    Bytes plain = encode(r, o).value();
    o.padding_len = 7;
    Bytes padded = encode(r, o).value();
    ASSERT_EQ(padded.size(), plain.size() + 7);
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), padded.begin()));
    EXPECT_TRUE(std::all_of(padded.begin() + plain.size(), padded.end(), [](uint8_t b) { return b == 0; }));
    EXPECT_EQ(decode(padded).value().message, Message(r));

    o.padding_len = 0;
    for (size_t m : {size_t{1}, size_t{2}, size_t{16}, size_t{514}, size_t{532}}) {
      o.pad_to_multiple_of = m;
      Bytes p = encode(r, o).value();
      EXPECT_EQ(p.size() % m, 0u);
      EXPECT_LT(p.size() - plain.size(), m);
      EXPECT_EQ(decode(p).value().message, Message(r));
    }
    // Already a multiple: no padding added.
    o.pad_to_multiple_of = plain.size();
    EXPECT_EQ(encode(r, o).value(), plain);
    // padding_len is added before rounding up.
    o.padding_len = 1;
    EXPECT_EQ(encode(r, o).value().size(), 2 * plain.size());
  }
}

TEST(BhttpPadding, TruncatedKnownLengthMessagePadsUnambiguously) {
  Request r = request_with({});
  EncodeOptions o;
  o.pad_to_multiple_of = 64;
  Bytes wire = encode(r, o).value();
  EXPECT_EQ(wire.size(), 64u);
  EXPECT_EQ(decode_request(wire).value(), r);
}

TEST(BhttpProfile, FixedSizeOptions) {
  EXPECT_EQ(max_chunk_data_len_for(514), 512u);
  EXPECT_EQ(max_chunk_data_len_for(532), 530u);
  EXPECT_EQ(max_chunk_data_len_for(64), 63u);   // varint(63) is 1 byte
  EXPECT_EQ(max_chunk_data_len_for(65), 63u);   // 64 needs a 2-byte varint
  EXPECT_EQ(max_chunk_data_len_for(66), 64u);
  EXPECT_EQ(max_chunk_data_len_for(1), 1u);
  EncodeOptions inner = fixed_size_profile(kComputeMessageChunkLen);
  EXPECT_EQ(inner.framing, Framing::kIndeterminateLength);
  EXPECT_EQ(inner.max_chunk_data_len, 512u);
  EXPECT_EQ(inner.pad_to_multiple_of, 514u);
  EncodeOptions outer = fixed_size_profile(kOhttpMessageChunkLen, Framing::kKnownLength);
  EXPECT_EQ(outer.framing, Framing::kKnownLength);
  EXPECT_EQ(outer.max_chunk_data_len, 530u);
  EXPECT_EQ(outer.pad_to_multiple_of, 532u);
}

TEST(BhttpProfile, IndeterminateChunksFitAndTotalIsAMultiple) {
  Bytes body(2000);
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<uint8_t>(i * 7 + 1);
  Request r = request_with({{"content-type", "application/json"}}, body);
  Bytes wire = encode(r, fixed_size_profile(kComputeMessageChunkLen)).value();
  // Unpadded: framing 1 + control data 15 + header lines 30 + terminator 1 + chunks 3 × (2 + 512) + (2 + 464)
  // + content terminator 1 + trailer terminator 1 = 2057, padded to 5 × 514.
  EXPECT_EQ(wire.size(), 2570u);
  // Fed whole, the decoder reports each chunk's data as one BodyData event.
  StreamDecoder dec;
  ByteSpan in = wire;
  std::vector<size_t> chunk_sizes;
  for (;;) {
    auto ev = dec.next(in);
    ASSERT_TRUE(ev.has_value());
    if (std::holds_alternative<NeedMoreInput>(*ev)) break;
    if (auto* d = std::get_if<BodyData>(&*ev)) chunk_sizes.push_back(d->data.size());
  }
  EXPECT_EQ(chunk_sizes, (std::vector<size_t>{512, 512, 512, 464}));
  EXPECT_EQ(decode_request(wire).value(), r);
  // Known-length under the same profile is padded to the multiple as well.
  Bytes known = encode(r, fixed_size_profile(kComputeMessageChunkLen, Framing::kKnownLength)).value();
  EXPECT_EQ(known.size() % 514, 0u);
  EXPECT_EQ(decode_request(known).value(), r);
}

}  // namespace
}  // namespace openpcc::wire::bhttp
