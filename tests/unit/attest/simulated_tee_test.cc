#include "attest/simulated_tee.h"

#include <gtest/gtest.h>

#include "attest/quote_binding.h"
#include "crypto/sha256.h"

namespace openpcc::attest {
namespace {

SimulatedTeeReport sample_report() {
  SimulatedTeeReport report;
  report.measurement = simulated_launch_measurement(as_bytes("firmware 1.0"));
  report.report_data.fill(0x5a);
  report.reported_tcb = 7;
  report.issued_at = 1'790'000'000;
  return report;
}

TEST(SimulatedTee, SignsAndVerifies) {
  auto root = SimulatedHardwareRoot::generate();
  ASSERT_TRUE(root) << root.error().to_string();
  auto signed_report = root->sign(sample_report());
  ASSERT_TRUE(signed_report);
  EXPECT_EQ(signed_report->body.size(), kSimulatedTeeBodySize);
  EXPECT_EQ(signed_report->signature.size(), kSimulatedTeeSignatureSize);
  auto report = verify_simulated_tee_report(signed_report->body, signed_report->signature, root->public_key());
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->measurement, sample_report().measurement);
  EXPECT_EQ(report->report_data, sample_report().report_data);
  EXPECT_EQ(report->chip_id, root->chip_id());
  EXPECT_EQ(report->reported_tcb, 7u);
  EXPECT_EQ(report->issued_at, 1'790'000'000);
}

TEST(SimulatedTee, EveryFlippedBodyOrSignatureByteIsRejected) {
  auto root = SimulatedHardwareRoot::generate().value();
  auto signed_report = root.sign(sample_report()).value();
  for (size_t i = 0; i < signed_report.body.size(); ++i) {
    Bytes body = signed_report.body;
    body[i] ^= 0x01;
    EXPECT_FALSE(verify_simulated_tee_report(body, signed_report.signature, root.public_key())) << "body byte " << i;
  }
  for (size_t i = 0; i < signed_report.signature.size(); ++i) {
    Bytes sig = signed_report.signature;
    sig[i] ^= 0x01;
    EXPECT_FALSE(verify_simulated_tee_report(signed_report.body, sig, root.public_key())) << "signature byte " << i;
  }
}

TEST(SimulatedTee, AnotherRootIsRejected) {
  auto root = SimulatedHardwareRoot::generate().value();
  auto other = SimulatedHardwareRoot::generate().value();
  auto signed_report = root.sign(sample_report()).value();
  auto result = verify_simulated_tee_report(signed_report.body, signed_report.signature, other.public_key());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAuthenticationFailed);
}

TEST(SimulatedTee, RootSurvivesPemRoundTrip) {
  auto root = SimulatedHardwareRoot::generate().value();
  auto pem = root.to_pem().value();
  auto again = SimulatedHardwareRoot::from_pem(pem);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->public_key(), root.public_key());
  auto p256 = crypto::EcdsaPrivateKey::generate(crypto::EcCurve::kP256).value();
  EXPECT_FALSE(SimulatedHardwareRoot::from_pem(p256.to_pem().value()));
}

TEST(SimulatedTee, ParserRejectsMalformedBodies) {
  Bytes body = encode_simulated_tee_report(sample_report());
  EXPECT_TRUE(parse_simulated_tee_report(body));
  EXPECT_FALSE(parse_simulated_tee_report(ByteSpan(body).first(body.size() - 1)));
  Bytes longer = body;
  longer.push_back(0);
  EXPECT_FALSE(parse_simulated_tee_report(longer));
  Bytes wrong_magic = body;
  wrong_magic[0] ^= 0x20;
  EXPECT_FALSE(parse_simulated_tee_report(wrong_magic));
  Bytes wrong_version = body;
  wrong_version[35] = 2;
  EXPECT_FALSE(parse_simulated_tee_report(wrong_version));
  EXPECT_FALSE(parse_simulated_tee_report({}));
}

TEST(QuoteBinding, CommitsToEveryInput) {
  Bytes ak = to_bytes("ak public"), name = to_bytes("rek name"), certify = to_bytes("certify"), log = to_bytes("log");
  Bytes challenge = to_bytes("challenge");
  QuoteBindingInputs base{100, challenge, ak, name, certify, log};
  auto digest = quote_qualifying_data(base).value();
  EXPECT_EQ(digest.size(), 32u);
  EXPECT_EQ(digest, quote_qualifying_data(base).value());

  Bytes other = to_bytes("other");
  auto differs = [&](QuoteBindingInputs changed) { return quote_qualifying_data(changed).value() != digest; };
  auto c = base;
  c.issued_at = 101;
  EXPECT_TRUE(differs(c));
  c = base;
  c.challenge = {};
  EXPECT_TRUE(differs(c));
  c = base;
  c.ak_public = other;
  EXPECT_TRUE(differs(c));
  c = base;
  c.rek_name = other;
  EXPECT_TRUE(differs(c));
  c = base;
  c.certify_creation = other;
  EXPECT_TRUE(differs(c));
  c = base;
  c.event_log = other;
  EXPECT_TRUE(differs(c));

  Bytes big(kMaxChallengeSize + 1, 1);
  c = base;
  c.challenge = big;
  EXPECT_FALSE(quote_qualifying_data(c));
  c = base;
  c.issued_at = -1;
  EXPECT_FALSE(quote_qualifying_data(c));
}

TEST(QuoteBinding, ReportDataIsSignatureDigestThenAkDigest) {
  Bytes sig = to_bytes("signature"), ak = to_bytes("ak");
  Bytes data = tee_report_data(sig, ak);
  ASSERT_EQ(data.size(), 64u);
  auto a = crypto::sha256(sig), b = crypto::sha256(ak);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), data.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), data.begin() + 32));
}

}  // namespace
}  // namespace openpcc::attest
