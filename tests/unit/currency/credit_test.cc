// Credit wire and header forms: exact bytes, round trips, the protobuf conversions, the X-Refund-Amount value form,
// and rejection of every malformed case (missing fields, wrong lengths, bad timestamps, truncation, garbage).
#include "currency/credit.h"

#include <gtest/gtest.h>

#include <string>

#include "common/random.h"
#include "currency/credit_pb.h"

namespace openpcc::currency {
namespace {

constexpr int64_t kHour = 1795244400;  // 2026-11-21 07:00:00 UTC

Credit sample_credit() {
  Credit c;
  c.value = Value::from_amount(16).value();
  c.nonce.timestamp = kHour;
  for (size_t i = 0; i < c.nonce.random.size(); ++i) c.nonce.random[i] = static_cast<uint8_t>(0xa0 + i);
  c.signature = Bytes{0x01, 0x02, 0x03};
  return c;
}

// A valid proto with one part changed, built through the generated API (independent of our serializer).
pb::Credit sample_proto() {
  pb::Credit m;
  m.mutable_value()->set_currency(std::string("\x00\x10", 2));
  m.mutable_nonce()->mutable_timestamp()->set_seconds(kHour);
  std::string random;
  for (int i = 0; i < 16; ++i) random.push_back(static_cast<char>(0xa0 + i));
  m.mutable_nonce()->set_nonce(random);
  m.set_signature(std::string("\x01\x02\x03", 3));
  return m;
}

Bytes bytes_of(const pb::Credit& m) {
  std::string s;
  m.SerializeToString(&s);
  return Bytes(s.begin(), s.end());
}

void expect_decode_error(ByteSpan bytes, const char* what) {
  auto r = Credit::parse(bytes);
  ASSERT_FALSE(r.has_value()) << what;
  EXPECT_EQ(r.error().code, ErrorCode::kDecode) << what;
}

TEST(Credit, SerializesToTheExpectedProtoBytes) {
  // Credit{value: Currency{currency: 00 10}, nonce: Nonce{timestamp: {seconds: kHour}, nonce: a0..af}, sig: 010203}
  // kHour = 1795244400 = varint f0 82 85 d8 06.
  const std::string expected =
      "0a04"                                  // field 1 (value), 4 bytes
      "0a020010"                              //   Currency.currency = 00 10
      "121a"                                  // field 2 (nonce), 26 bytes
      "0a06" "08f08285d806"                   //   Timestamp{seconds}
      "1210" "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"  // nonce bytes
      "1a03010203";                           // field 3 (signature)
  EXPECT_EQ(to_hex(sample_credit().serialize()), expected);
  EXPECT_EQ(bytes_of(sample_proto()), sample_credit().serialize());
}

TEST(Credit, RoundTrips) {
  for (int i = 0; i < 20; ++i) {
    Credit c;
    c.value = Value::from_bits(static_cast<uint16_t>(random_uniform(512)), random_uniform(2) == 1).value();
    c.nonce.timestamp = static_cast<int64_t>(random_uniform(kMaxCreditTimestamp + 1));
    fill_random(c.nonce.random);
    c.signature = random_bytes(1 + random_uniform(kMaxCreditSignatureSize));
    auto back = Credit::parse(c.serialize());
    ASSERT_TRUE(back.has_value()) << back.error().to_string();
    EXPECT_EQ(*back, c);
    auto from_header = Credit::from_header(c.to_header());
    ASSERT_TRUE(from_header.has_value()) << from_header.error().to_string();
    EXPECT_EQ(*from_header, c);
    EXPECT_EQ(from_header->serialize(), c.serialize());
  }
  // The extremes of the timestamp range and of the signature size.
  Credit c = sample_credit();
  c.nonce.timestamp = 0;
  EXPECT_EQ(Credit::parse(c.serialize()).value(), c);
  c.nonce.timestamp = kMaxCreditTimestamp;
  c.signature = Bytes(kMaxCreditSignatureSize, 0x5a);
  EXPECT_EQ(Credit::parse(c.serialize()).value(), c);
}

TEST(Credit, HeaderIsStandardBase64) {
  Credit c = sample_credit();
  c.signature.push_back(4);  // 40 bytes, so the text ends in padding
  EXPECT_EQ(c.to_header(), to_base64(c.serialize()));
  // A url-safe or unpadded rendering is not accepted.
  std::string h = c.to_header();
  ASSERT_EQ(h.back(), '=');
  EXPECT_FALSE(Credit::from_header(h.substr(0, h.find('='))).has_value());
  EXPECT_FALSE(Credit::from_header("").has_value());
  EXPECT_FALSE(Credit::from_header("!!!!").has_value());
  EXPECT_FALSE(Credit::from_header(std::string(100000, 'A')).has_value());
  EXPECT_EQ(Credit::from_header("not base64").error().code, ErrorCode::kDecode);
}

TEST(Credit, RejectsMissingFields) {
  {
    pb::Credit m = sample_proto();
    m.clear_value();
    expect_decode_error(bytes_of(m), "no value");
  }
  {
    pb::Credit m = sample_proto();
    m.mutable_value()->clear_currency();
    expect_decode_error(bytes_of(m), "empty Currency");
  }
  {
    pb::Credit m = sample_proto();
    m.clear_nonce();
    expect_decode_error(bytes_of(m), "no nonce");
  }
  {
    pb::Credit m = sample_proto();
    m.mutable_nonce()->clear_timestamp();
    expect_decode_error(bytes_of(m), "no timestamp");
  }
  {
    pb::Credit m = sample_proto();
    m.mutable_nonce()->clear_nonce();
    expect_decode_error(bytes_of(m), "no nonce bytes");
  }
  {
    pb::Credit m = sample_proto();
    m.clear_signature();
    expect_decode_error(bytes_of(m), "no signature");
  }
  expect_decode_error({}, "empty input");
}

TEST(Credit, RejectsWrongLengthsAndValues) {
  for (const std::string& bad_value : {std::string(), std::string(1, '\0'), std::string("\x00\x10\x00", 3),
                                       std::string("\x04\x00", 2), std::string("\xff\xff", 2)}) {
    pb::Credit m = sample_proto();
    m.mutable_value()->set_currency(bad_value);
    expect_decode_error(bytes_of(m), "bad value bytes");
  }
  for (size_t len : {size_t{0}, size_t{15}, size_t{17}, size_t{24}}) {
    pb::Credit m = sample_proto();
    m.mutable_nonce()->set_nonce(std::string(len, 'n'));
    expect_decode_error(bytes_of(m), "nonce length");
  }
  for (size_t len : {size_t{0}, kMaxCreditSignatureSize + 1}) {
    pb::Credit m = sample_proto();
    m.set_signature(std::string(len, 's'));
    expect_decode_error(bytes_of(m), "signature length");
  }
}

TEST(Credit, RejectsBadTimestamps) {
  {
    pb::Credit m = sample_proto();
    m.mutable_nonce()->mutable_timestamp()->set_nanos(1);
    expect_decode_error(bytes_of(m), "nanos");
  }
  for (int64_t seconds : {int64_t{-1}, int64_t{-3600}, kMaxCreditTimestamp + 1, INT64_MAX, INT64_MIN}) {
    pb::Credit m = sample_proto();
    m.mutable_nonce()->mutable_timestamp()->set_seconds(seconds);
    expect_decode_error(bytes_of(m), "seconds range");
  }
}

TEST(Credit, RejectsTruncationAndGarbage) {
  const Bytes good = sample_credit().serialize();
  for (size_t len = 0; len < good.size(); ++len) {
    expect_decode_error(ByteSpan(good).first(len), "truncated");
  }
  // Bytes that are not a protobuf continuation: an invalid tag (field 0), a dangling varint, a length beyond the end.
  for (const Bytes& tail : {Bytes{0x00}, Bytes{0xff}, Bytes{0x08}, Bytes{0x22, 0x05, 0x01}, Bytes{0x0f}}) {
    Bytes b = good;
    append(b, tail);
    expect_decode_error(b, "trailing garbage");
  }
  // A well-formed unknown field is ignored, as protobuf does; it does not survive re-serialization.
  Bytes with_unknown = good;
  append(with_unknown, Bytes{0x22, 0x01, 0x00});  // field 4, 1 byte
  auto parsed = Credit::parse(with_unknown);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_EQ(parsed->serialize(), good);
  // Oversized input.
  Bytes huge(kMaxCreditSize + 1, 0);
  expect_decode_error(huge, "oversized");
}

TEST(Credit, ProtoConversions) {
  const Credit c = sample_credit();
  const pb::Credit m = to_proto(c);
  EXPECT_TRUE(m.has_value() && m.has_nonce() && m.has_signature());
  EXPECT_EQ(m.value().currency(), std::string("\x00\x10", 2));
  EXPECT_EQ(m.nonce().timestamp().seconds(), kHour);
  EXPECT_EQ(from_proto(m).value(), c);
  EXPECT_EQ(from_proto(to_proto(c.nonce)).value(), c.nonce);
  EXPECT_EQ(from_proto(to_proto(attestation_value())).value(), attestation_value());
  pb::Currency empty;
  EXPECT_EQ(from_proto(empty).error().code, ErrorCode::kDecode);
}

TEST(Credit, ValueHeaderForm) {
  // Currency{currency: 00 10} = 0a 02 00 10.
  EXPECT_EQ(value_to_header(Value::from_amount(16).value()), "CgIAEA==");
  EXPECT_EQ(value_from_header("CgIAEA==").value(), Value::from_amount(16).value());
  for (int64_t amount : {int64_t{0}, int64_t{1}, int64_t{100}, int64_t{262144}, kMaxAmount}) {
    const Value v = Value::from_amount(amount).value();
    EXPECT_EQ(value_from_header(value_to_header(v)).value(), v) << amount;
  }
  EXPECT_EQ(value_from_header(value_to_header(attestation_value())).value(), attestation_value());
  EXPECT_FALSE(value_from_header("").has_value());         // no currency bytes
  EXPECT_FALSE(value_from_header("CgEA").has_value());     // 1 byte
  EXPECT_FALSE(value_from_header("CgIEAA==").has_value()); // byte0 = 4
  EXPECT_FALSE(value_from_header("CgIAEA").has_value());   // unpadded
  EXPECT_FALSE(value_from_header("/w==").has_value());     // not a Currency
}

}  // namespace
}  // namespace openpcc::currency
