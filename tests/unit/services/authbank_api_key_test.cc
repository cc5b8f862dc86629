// API keys (format, strict parsing, hashing), key resolution between header and body, SHA-256, the currency key's
// JWK, the attestation rate limiter, and request decoding.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "crypto/sha256.h"
#include "currency/credit_pb.h"
#include "services/authbank/api_key.h"
#include "services/authbank/authbank.h"
#include "services/authbank/jwk.h"
#include "services/authbank/rate_limiter.h"
#include "authbank_test_support.h"

namespace openpcc::authbank {
namespace {

TEST(Sha256, KnownAnswers) {
  // FIPS 180-2 examples.
  EXPECT_EQ(to_hex(crypto::sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(crypto::sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ApiKey, GeneratedKeysHaveTheTextForm) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    ApiKey key = ApiKey::generate();
    ASSERT_EQ(key.text().size(), kApiKeyTextSize);
    EXPECT_TRUE(key.text().starts_with("opcc_"));
    auto raw = from_base64url(std::string_view(key.text()).substr(5));
    ASSERT_TRUE(raw.has_value());
    EXPECT_EQ(raw->size(), 32u);
    EXPECT_EQ(key.hash(), crypto::sha256(as_bytes(key.text())));
    EXPECT_EQ(key.id(), to_hex(ByteSpan(key.hash()).first(8)));
    EXPECT_EQ(key.id(), api_key_id(key.hash()));
    EXPECT_TRUE(seen.insert(key.text()).second);

    auto parsed = ApiKey::parse(key.text());
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->hash(), key.hash());
  }
}

TEST(ApiKey, ParseIsStrictAndAnswersUnauthenticated) {
  const std::string good = ApiKey::generate().text();
  const std::string body = good.substr(5);
  std::vector<std::string> bad = {
      "",
      "opcc_",
      body,                               // no prefix
      "OPCC_" + body,                     // prefix is case-sensitive
      "sk_x_" + body,                     // other prefix
      good + "A",                         // too long
      good.substr(0, good.size() - 1),    // too short
      "opcc_" + body.substr(0, 42) + "=", // padding
      "opcc_" + body.substr(0, 42) + "+", // std alphabet
      "opcc_" + body.substr(0, 42) + " ", // space
      // 43 base64url characters carry 258 bits; the last character's low 2 bits must be zero.
      "opcc_" + std::string(42, 'A') + "B",
  };
  for (const auto& text : bad) {
    SCOPED_TRACE(text);
    auto parsed = ApiKey::parse(text);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code, ErrorCode::kUnauthenticated);
    EXPECT_EQ(parsed.error().message.find(body), std::string::npos);  // the key is not echoed
  }
  EXPECT_TRUE(ApiKey::parse("opcc_" + std::string(42, 'A') + "A").has_value());
}

TEST(ApiKey, MovesAndKeepsTheHash) {
  ApiKey a = ApiKey::generate();
  const auto hash = a.hash();
  const std::string text = a.text();
  ApiKey b = std::move(a);
  EXPECT_EQ(b.text(), text);
  EXPECT_EQ(b.hash(), hash);
  ApiKey c = ApiKey::generate();
  c = std::move(b);
  EXPECT_EQ(c.text(), text);
}

TEST(ResolveApiKey, HeaderBodyBothNeither) {
  const std::string k1 = ApiKey::generate().text();
  const std::string k2 = ApiKey::generate().text();
  EXPECT_EQ(resolve_api_key(k1, std::nullopt)->text(), k1);
  EXPECT_EQ(resolve_api_key(std::nullopt, k1)->text(), k1);
  EXPECT_EQ(resolve_api_key(k1, k1)->text(), k1);
  EXPECT_EQ(resolve_api_key(k1, std::string_view())->text(), k1);  // an empty body field is no key
  auto refused = [](Result<ApiKey> r) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  };
  refused(resolve_api_key(k1, k2));
  refused(resolve_api_key(std::nullopt, std::nullopt));
  refused(resolve_api_key(std::nullopt, std::string_view()));
  refused(resolve_api_key("opcc_nope", std::nullopt));
  refused(resolve_api_key(k1, std::string_view("garbage")));
}

TEST(Jwk, Rfc7638ThumbprintExample) {
  // RFC 7638 §3.1.
  const std::string n =
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
      "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZ"
      "Hzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEg"
      "U8awapJzKnqDKgw";
  auto key = rsa_public_key_from_jwk(R"({"kty":"RSA","n":")" + n + R"(","e":"AQAB","alg":"RS256","kid":"2011-04-29"})");
  ASSERT_TRUE(key.has_value()) << key.error().to_string();
  EXPECT_EQ(rsa_jwk_thumbprint(*key), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(Jwk, RoundTripAndFields) {
  const auto pub = authbank_test::currency_key().public_key();
  const std::string text = rsa_public_key_to_jwk(pub);
  auto json = nlohmann::json::parse(text);
  EXPECT_EQ(json.at("kty"), "RSA");
  EXPECT_EQ(json.at("use"), "sig");
  EXPECT_EQ(json.at("kid"), rsa_jwk_thumbprint(pub));
  EXPECT_EQ(json.at("e"), "AQAB");
  EXPECT_EQ(json.size(), 5u);
  auto back = rsa_public_key_from_jwk(text);
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(back->n, pub.n);
  EXPECT_EQ(back->e, pub.e);
}

TEST(Jwk, Rejections) {
  const auto pub = authbank_test::currency_key().public_key();
  auto with = [&](const std::string& field, const nlohmann::json& value) {
    auto json = nlohmann::json::parse(rsa_public_key_to_jwk(pub));
    if (value.is_null()) {
      json.erase(field);
    } else {
      json[field] = value;
    }
    return json.dump();
  };
  EXPECT_FALSE(rsa_public_key_from_jwk("not json").has_value());
  EXPECT_FALSE(rsa_public_key_from_jwk("[]").has_value());
  EXPECT_FALSE(rsa_public_key_from_jwk(with("kty", "EC")).has_value());
  EXPECT_FALSE(rsa_public_key_from_jwk(with("use", "enc")).has_value());
  EXPECT_FALSE(rsa_public_key_from_jwk(with("n", nullptr)).has_value());
  EXPECT_FALSE(rsa_public_key_from_jwk(with("e", 65537)).has_value());
  EXPECT_FALSE(rsa_public_key_from_jwk(with("n", "AA" + to_base64url(pub.n))).has_value());  // leading zero
  EXPECT_FALSE(rsa_public_key_from_jwk(with("n", to_base64url(pub.n) + "=")).has_value());
  EXPECT_FALSE(rsa_public_key_from_jwk(with("n", to_base64url(ByteSpan(pub.n).first(64)))).has_value());  // 512 bits
  EXPECT_TRUE(rsa_public_key_from_jwk(with("use", nullptr)).has_value());  // `use` is optional
}

TEST(TokenBucketLimiter, BurstRefillAndIndependence) {
  using namespace std::chrono_literals;
  TokenBucketLimiter limiter(RateLimit{.per_second = 2.0, .burst = 3.0});
  const auto t0 = TokenBucketLimiter::Clock::time_point{} + 1h;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.acquire(1, t0), TokenBucketLimiter::Clock::duration::zero());
  const auto wait = limiter.acquire(1, t0);
  EXPECT_GT(wait, 0ms);
  EXPECT_LE(wait, 500ms);
  EXPECT_EQ(limiter.acquire(2, t0), TokenBucketLimiter::Clock::duration::zero());  // other accounts unaffected
  EXPECT_GT(limiter.acquire(1, t0 + 400ms), 0ms);
  EXPECT_EQ(limiter.acquire(1, t0 + 500ms), TokenBucketLimiter::Clock::duration::zero());  // one token refilled
  EXPECT_GT(limiter.acquire(1, t0 + 500ms), 0ms);
  // Long idle: refills to the burst, never beyond.
  const auto later = t0 + 1h;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.acquire(1, later), TokenBucketLimiter::Clock::duration::zero());
  EXPECT_GT(limiter.acquire(1, later), 0ms);
}

TEST(TokenBucketLimiter, DisabledAndBounded) {
  using namespace std::chrono_literals;
  TokenBucketLimiter off(RateLimit{.per_second = 0, .burst = 1});
  EXPECT_FALSE(off.enabled());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(off.acquire(1), TokenBucketLimiter::Clock::duration::zero());

  TokenBucketLimiter small(RateLimit{.per_second = 1.0, .burst = 1.0}, /*max_tracked=*/2);
  const auto t0 = TokenBucketLimiter::Clock::time_point{} + 1h;
  EXPECT_EQ(small.acquire(1, t0), 0ms);
  EXPECT_EQ(small.acquire(2, t0), 0ms);
  EXPECT_GT(small.acquire(3, t0), 0ms);  // full of busy accounts: the newcomer waits
  EXPECT_EQ(small.tracked(), 2u);
  EXPECT_EQ(small.acquire(3, t0 + 2s), 0ms);  // the others' buckets refilled and were forgotten
  EXPECT_LE(small.tracked(), 2u);
}

// ---- Request decoding ----

pb::AuthWithdrawalRequest withdrawal_message(const std::string& key, const currency::Value& value, size_t size) {
  pb::AuthWithdrawalRequest m;
  if (!key.empty()) m.set_api_key(key);
  *m.mutable_value() = currency::to_proto(value);
  m.set_blinded_message(std::string(size, '\x01'));
  return m;
}

TEST(DecodeRequests, Withdrawal) {
  const std::string key = ApiKey::generate().text();
  const auto v100 = *currency::Value::from_amount(100);
  auto ok = decode_withdrawal_request(withdrawal_message(key, v100, 128), std::nullopt);
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(ok->value, v100);
  EXPECT_EQ(ok->blinded_message.size(), 128u);
  EXPECT_TRUE(decode_withdrawal_request(withdrawal_message("", v100, 128), key).has_value());  // header only

  auto code = [&](const pb::AuthWithdrawalRequest& m, std::optional<std::string_view> header = std::nullopt) {
    auto r = decode_withdrawal_request(m, header);
    return r ? std::optional<ErrorCode>() : std::optional<ErrorCode>(r.error().code);
  };
  EXPECT_EQ(code(withdrawal_message("", v100, 128)), ErrorCode::kUnauthenticated);
  EXPECT_EQ(code(withdrawal_message(key, v100, 128), ApiKey::generate().text()), ErrorCode::kUnauthenticated);
  auto no_value = withdrawal_message(key, v100, 128);
  no_value.clear_value();
  EXPECT_EQ(code(no_value), ErrorCode::kInvalidArgument);
  auto bad_value = withdrawal_message(key, v100, 128);
  bad_value.mutable_value()->set_currency("\x07\x00");
  EXPECT_EQ(code(bad_value), ErrorCode::kDecode);
  EXPECT_EQ(code(withdrawal_message(key, currency::attestation_value(), 128)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(withdrawal_message(key, currency::Value(), 128)), ErrorCode::kInvalidArgument);  // zero
  EXPECT_EQ(code(withdrawal_message(key, v100, 0)), ErrorCode::kInvalidArgument);
  auto no_message = withdrawal_message(key, v100, 128);
  no_message.clear_blinded_message();
  EXPECT_EQ(code(no_message), ErrorCode::kInvalidArgument);
}

TEST(DecodeRequests, AttestationWantsSpecialZero) {
  const std::string key = ApiKey::generate().text();
  EXPECT_TRUE(decode_attestation_request(withdrawal_message(key, currency::attestation_value(), 128), std::nullopt)
                  .has_value());
  for (const auto& v : {*currency::Value::from_amount(1), *currency::Value::special(1), currency::Value()}) {
    auto r = decode_attestation_request(withdrawal_message(key, v, 128), std::nullopt);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(DecodeRequests, Refund) {
  const std::string key = ApiKey::generate().text();
  currency::Credit credit;
  credit.value = *currency::Value::from_amount(64);
  credit.nonce.timestamp = 3600;
  credit.signature = Bytes(128, 7);
  pb::AuthRefundRequest m;
  m.set_api_key(key);
  *m.mutable_credit() = currency::to_proto(credit);
  auto ok = decode_refund_request(m, std::nullopt);
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(ok->credit, credit);

  pb::AuthRefundRequest no_credit = m;
  no_credit.clear_credit();
  EXPECT_EQ(decode_refund_request(no_credit, std::nullopt).error().code, ErrorCode::kInvalidArgument);
  pb::AuthRefundRequest bad = m;
  bad.mutable_credit()->clear_signature();
  EXPECT_EQ(decode_refund_request(bad, std::nullopt).error().code, ErrorCode::kDecode);
  credit.value = *currency::Value::special(64);
  pb::AuthRefundRequest special = m;
  *special.mutable_credit() = currency::to_proto(credit);
  EXPECT_EQ(decode_refund_request(special, std::nullopt).error().code, ErrorCode::kInvalidArgument);
  pb::AuthRefundRequest keyless = m;
  keyless.clear_api_key();
  EXPECT_EQ(decode_refund_request(keyless, std::nullopt).error().code, ErrorCode::kUnauthenticated);
}

}  // namespace
}  // namespace openpcc::authbank
