// client/remote_config.h and client/ohttp_keys.h: the AuthBank config's bundles believed only when they verify
// (real bundles: statements signed by a publisher key, appended to an in-memory Merkle log, checkpoints signed by
// the log key), each way of getting them wrong refused with the bundle named, key selection by rotation period,
// and the whole path through a running AuthBank that serves the bundle files.
#include "client/remote_config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/kem.h"
#include "net/client.h"
#include "net/runtime.h"
#include "services/authbank/authbank_client.h"
#include "services/authbank/authbank_service.h"
#include "services/authbank/jwk.h"
#include "services/common/http_transport.h"
#include "services/common/key_files.h"
#include "support/temp_dir.h"
#include "transparency/bundle.h"
#include "transparency/checkpoint.h"
#include "transparency/merkle.h"
#include "transparency/note.h"
#include "transparency/predicates.h"
#include "transparency/statement.h"
#include "wire/ohttp_key_config.h"

namespace openpcc::client {
namespace {

using transparency::KeyRotationPeriod;
using transparency::Timestamp;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

crypto::RsaPrivateKey test_currency_key() {
  return crypto::RsaPrivateKey::from_pem(read_text(std::string(OPENPCC_TEST_DATA_DIR) +
                                                   "/authbank-currency-key-1024.pem"))
      .value();
}

Timestamp at(std::string_view rfc3339) { return transparency::parse_rfc3339(rfc3339).value(); }

wire::ohttp::KeyConfig key_config(uint8_t key_id) {
  auto kem = crypto::Kem::create(crypto::KemId::kDhkemX25519HkdfSha256).value();
  auto pair = kem.generate_key_pair().value();
  wire::ohttp::KeyConfig config;
  config.key_id = key_id;
  config.kem = crypto::KemId::kDhkemX25519HkdfSha256;
  config.public_key = Bytes(pair->public_key().begin(), pair->public_key().end());
  config.algorithms = {{crypto::KdfId::kHkdfSha256, crypto::AeadId::kAes128Gcm}};
  return config;
}

bool starts_with(const Error& e, std::string_view prefix) { return e.message.starts_with(prefix); }

// A publisher, a transparency log in memory, and bundles of statements appended to it.
class RemoteConfigTest : public ::testing::Test {
 protected:
  RemoteConfigTest()
      : publisher_(crypto::Ed25519PrivateKey::generate().value()),
        log_signer_(transparency::NoteSigner::create("log.test/remote-config",
                                                     crypto::Ed25519PrivateKey::generate().value())
                        .value()),
        currency_key_(test_currency_key()),
        configs_{key_config(1), key_config(2)},
        periods_{{1, at("2026-01-01T00:00:00Z"), at("2026-07-01T00:00:00Z")},
                 {2, at("2026-03-01T00:00:00Z"), at("2027-01-01T00:00:00Z")}} {}

  TransparencyTrust trust() const {
    return TransparencyTrust{transparency::NoteVerifier::parse(log_signer_.verifier_key()).value(),
                             transparency::PublisherKeys::of({publisher_.public_key()}).value(), std::nullopt};
  }

  // Signs `statement` with `key`, appends it and returns its bundle JSON at the log's current size.
  std::string publish(const transparency::Statement& statement, const crypto::Ed25519PrivateKey& key) {
    auto envelope = transparency::sign_statement(statement, key).value();
    const uint64_t index = tree_.append(transparency::envelope_leaf(envelope));
    envelopes_.push_back(envelope);
    transparency::Checkpoint checkpoint{"log.test/remote-config", tree_.size(), tree_.root()};
    auto note = transparency::sign_checkpoint(checkpoint, log_signer_).value();
    auto proof = tree_.inclusion_proof(index, tree_.size()).value();
    return transparency::to_json(transparency::assemble_bundle(envelope, index, proof, note).value());
  }
  std::string publish(const transparency::Statement& statement) { return publish(statement, publisher_); }

  std::string currency_bundle() {
    return publish(
        transparency::currency_key_statement(authbank::rsa_public_key_to_jwk(currency_key_.public_key())).value());
  }
  Bytes ohttp_keys_bytes() const { return wire::ohttp::encode_key_configs(configs_).value(); }
  std::string ohttp_bundle() { return publish(transparency::ohttp_keys_statement(ohttp_keys_bytes(), periods_).value()); }

  static pb::AuthConfigResponse config_with(std::optional<std::string> currency, std::optional<std::string> ohttp) {
    pb::AuthConfigResponse config;
    if (currency) config.set_currency_key_bundle(*currency);
    if (ohttp) config.set_ohttp_key_configs_bundle(*ohttp);
    return config;
  }

  crypto::Ed25519PrivateKey publisher_;
  transparency::NoteSigner log_signer_;
  transparency::MerkleTree tree_;
  std::vector<transparency::DsseEnvelope> envelopes_;
  crypto::RsaPrivateKey currency_key_;
  std::vector<wire::ohttp::KeyConfig> configs_;
  std::vector<KeyRotationPeriod> periods_;
};

TEST_F(RemoteConfigTest, GoodBundlesVerify) {
  const auto config = config_with(currency_bundle(), ohttp_bundle());
  auto key = verified_currency_key(config, trust());
  ASSERT_TRUE(key) << key.error().to_string();
  EXPECT_EQ(key->n, currency_key_.public_key().n);
  EXPECT_EQ(key->e, currency_key_.public_key().e);

  auto keys = verified_ohttp_keys(config, trust());
  ASSERT_TRUE(keys) << keys.error().to_string();
  EXPECT_EQ(keys->configs, configs_);
  EXPECT_EQ(keys->periods, periods_);

  // The same from bundle text, and with a trusted checkpoint of the same log state.
  EXPECT_TRUE(verified_currency_key_bundle(config.currency_key_bundle(), trust()));
  auto pinned = trust();
  pinned.trusted_checkpoint = transparency::Checkpoint{"log.test/remote-config", tree_.size(), tree_.root()};
  EXPECT_TRUE(verified_ohttp_keys(config, pinned)) << verified_ohttp_keys(config, pinned).error().to_string();
}

TEST_F(RemoteConfigTest, MissingBundlesAreNotFound) {
  const auto config = config_with(std::nullopt, std::string());
  auto key = verified_currency_key(config, trust());
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(starts_with(key.error(), "currency key bundle: ")) << key.error().message;
  auto keys = verified_ohttp_keys(config, trust());
  ASSERT_FALSE(keys);
  EXPECT_EQ(keys.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(starts_with(keys.error(), "OHTTP keys bundle: ")) << keys.error().message;
}

TEST_F(RemoteConfigTest, WrongPublisherIsRefused) {
  const auto stranger = crypto::Ed25519PrivateKey::generate().value();
  const auto jwk = authbank::rsa_public_key_to_jwk(currency_key_.public_key());
  const auto config =
      config_with(publish(transparency::currency_key_statement(jwk).value(), stranger),
                  publish(transparency::ohttp_keys_statement(ohttp_keys_bytes(), periods_).value(), stranger));
  auto key = verified_currency_key(config, trust());
  ASSERT_FALSE(key);
  EXPECT_TRUE(starts_with(key.error(), "currency key bundle: bundle: ")) << key.error().message;
  auto keys = verified_ohttp_keys(config, trust());
  ASSERT_FALSE(keys);
  EXPECT_TRUE(starts_with(keys.error(), "OHTTP keys bundle: bundle: ")) << keys.error().message;
}

TEST_F(RemoteConfigTest, AnotherLogsBundleIsRefused) {
  const auto config = config_with(currency_bundle(), std::nullopt);
  auto other_log = trust();
  other_log.log_key = transparency::NoteVerifier::create("log.test/remote-config",
                                                         crypto::Ed25519PrivateKey::generate()->public_key())
                          .value();
  EXPECT_FALSE(verified_currency_key(config, other_log));
  // A fork: the client holds a checkpoint of the same size with another root.
  auto forked = trust();
  forked.trusted_checkpoint =
      transparency::Checkpoint{"log.test/remote-config", tree_.size(), transparency::Hash{}};
  EXPECT_FALSE(verified_currency_key(config, forked));
}

TEST_F(RemoteConfigTest, TamperedBundlesAreRefused) {
  const std::string good = currency_bundle();
  (void)ohttp_bundle();  // a second entry, so that index and proof matter
  const std::string good_ohttp = publish(transparency::ohttp_keys_statement(ohttp_keys_bytes(), periods_).value());
  ASSERT_TRUE(verified_currency_key_bundle(good, trust()));
  ASSERT_TRUE(verified_ohttp_keys_bundle(good_ohttp, trust()));

  // Each byte position class: the envelope's payload, the log index, the checkpoint text, the proof.
  auto bundle = transparency::parse_transparency_bundle(good).value();
  auto edited = bundle;
  edited.envelope.payload.back() ^= 0x01;
  EXPECT_FALSE(verified_currency_key_bundle(transparency::to_json(edited), trust()));
  edited = bundle;
  edited.leaf_index += 1;
  EXPECT_FALSE(verified_currency_key_bundle(transparency::to_json(edited), trust()));
  edited = bundle;
  edited.signed_checkpoint[edited.signed_checkpoint.find('\n') + 1] ^= 0x01;  // the tree size line
  EXPECT_FALSE(verified_currency_key_bundle(transparency::to_json(edited), trust()));
  auto ohttp = transparency::parse_transparency_bundle(good_ohttp).value();
  ASSERT_FALSE(ohttp.inclusion_proof.empty());
  ohttp.inclusion_proof[0][0] ^= 0x80;
  auto refused = verified_ohttp_keys_bundle(transparency::to_json(ohttp), trust());
  ASSERT_FALSE(refused);
  EXPECT_TRUE(starts_with(refused.error(), "OHTTP keys bundle: bundle: inclusion proof")) << refused.error().message;

  // Not a bundle at all.
  auto garbage = verified_currency_key(config_with(std::string("{\"jwk\": 1}"), std::nullopt), trust());
  ASSERT_FALSE(garbage);
  EXPECT_TRUE(starts_with(garbage.error(), "currency key bundle: ")) << garbage.error().message;
}

TEST_F(RemoteConfigTest, StatementsOfAnotherKindAreRefused) {
  const std::string currency = currency_bundle();
  const std::string ohttp = ohttp_bundle();
  // Swapped fields: each statement is signed and logged, but not what the field must carry.
  const auto swapped = config_with(ohttp, currency);
  auto key = verified_currency_key(swapped, trust());
  ASSERT_FALSE(key);
  EXPECT_TRUE(starts_with(key.error(), "currency key bundle: ")) << key.error().message;
  EXPECT_NE(key.error().message.find("predicate"), std::string::npos) << key.error().message;
  auto keys = verified_ohttp_keys(swapped, trust());
  ASSERT_FALSE(keys);
  EXPECT_TRUE(starts_with(keys.error(), "OHTTP keys bundle: ")) << keys.error().message;

  // An image-manifest statement in the currency field.
  auto manifest = transparency::image_manifest_statement(R"({"id":"image"})").value();
  EXPECT_FALSE(verified_currency_key(config_with(publish(manifest), std::nullopt), trust()));

  // A currency-key statement over a JWK that is not an RSA key.
  auto ec_jwk = transparency::currency_key_statement(R"({"kty":"EC","crv":"P-256","x":"AA","y":"AA"})").value();
  auto not_rsa = verified_currency_key(config_with(publish(ec_jwk), std::nullopt), trust());
  ASSERT_FALSE(not_rsa);
  EXPECT_TRUE(starts_with(not_rsa.error(), "currency key bundle: jwk")) << not_rsa.error().message;
}

TEST_F(RemoteConfigTest, KeyConfigsAndPeriodsThatDoNotMatchAreRefused) {
  // Built by hand (ohttp_keys_statement refuses to make these): correct subjects, but a period naming key id 9.
  const Bytes keys = ohttp_keys_bytes();
  const std::string periods = R"([{"active_from":"2026-01-01T00:00:00Z","active_until":"2027-01-01T00:00:00Z",)"
                              R"("key_id":9}])";
  transparency::Statement statement;
  statement.predicate_type = std::string(transparency::kOhttpKeysPredicateType);
  statement.subject = {transparency::subject_for(std::string(transparency::kOhttpKeysSubject), keys),
                       transparency::subject_for(std::string(transparency::kKeyRotationPeriodsSubject),
                                                 as_bytes(periods))};
  statement.predicate = {{"ohttpKeys", to_base64(keys)}, {"keyRotationPeriods", to_base64(as_bytes(periods))}};
  auto mismatch = verified_ohttp_keys(config_with(std::nullopt, publish(statement)), trust());
  ASSERT_FALSE(mismatch);
  EXPECT_TRUE(starts_with(mismatch.error(), "OHTTP keys bundle: ")) << mismatch.error().message;
  EXPECT_NE(mismatch.error().message.find("key id 9"), std::string::npos) << mismatch.error().message;

  // Periods swapped for others after signing the subjects: the digests no longer match.
  const std::string good_periods = transparency::key_rotation_periods_to_json(periods_);
  statement.subject[1] = transparency::subject_for(std::string(transparency::kKeyRotationPeriodsSubject),
                                                   as_bytes(good_periods));
  auto digest_mismatch = verified_ohttp_keys(config_with(std::nullopt, publish(statement)), trust());
  ASSERT_FALSE(digest_mismatch);
  EXPECT_TRUE(starts_with(digest_mismatch.error(), "OHTTP keys bundle: ")) << digest_mismatch.error().message;

  // Configs that are well framed but unusable by this client (an unknown KEM): nothing left to use.
  const Bytes unknown_kem = {0x00, 0x09, 0x01, 0x7f, 0x7f, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01};
  const auto periods_for_1 = std::vector<KeyRotationPeriod>{periods_[0]};
  auto unusable = transparency::ohttp_keys_statement(unknown_kem, periods_for_1);
  ASSERT_TRUE(unusable) << unusable.error().to_string();
  auto refused = verified_ohttp_keys(config_with(std::nullopt, publish(*unusable)), trust());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "OHTTP keys bundle: no key config this client supports");
}

// ---------------------------------------------------------------------------------------------------------------------
// select_key_config

TEST_F(RemoteConfigTest, SelectKeyConfigPicksTheLatestActivePeriod) {
  OhttpKeys keys{configs_, periods_};
  // Only key 1 is active.
  auto early = select_key_config(keys, at("2026-02-01T00:00:00Z"));
  ASSERT_TRUE(early) << early.error().to_string();
  EXPECT_EQ(early->key_id, 1);
  // Both active: the later active_from wins.
  auto both = select_key_config(keys, at("2026-04-01T00:00:00Z"));
  ASSERT_TRUE(both);
  EXPECT_EQ(both->key_id, 2);
  EXPECT_EQ(*both, configs_[1]);
  // Boundaries: active_from itself is not active yet, active_until still is.
  EXPECT_EQ(select_key_config(keys, at("2026-03-01T00:00:00Z"))->key_id, 1);
  EXPECT_EQ(select_key_config(keys, at("2027-01-01T00:00:00Z"))->key_id, 2);
  // A newer period whose key has no config (left out as unsupported): the next one is used.
  OhttpKeys partial{{configs_[0]}, periods_};
  EXPECT_EQ(select_key_config(partial, at("2026-04-01T00:00:00Z"))->key_id, 1);
}

TEST_F(RemoteConfigTest, SelectKeyConfigRefusesWhenNothingIsActive) {
  OhttpKeys keys{configs_, periods_};
  for (const char* when : {"2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00.000000001Z"}) {
    auto none = select_key_config(keys, at(when));
    ASSERT_FALSE(none) << when;
    EXPECT_EQ(none.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(none.error().message, "no active OHTTP keys");
  }
  OhttpKeys no_config{{}, periods_};
  EXPECT_FALSE(select_key_config(no_config, at("2026-04-01T00:00:00Z")));
  EXPECT_FALSE(select_key_config(OhttpKeys{}, at("2026-04-01T00:00:00Z")));
}

// ---------------------------------------------------------------------------------------------------------------------
// Through a running AuthBank: the bundle files as configured, re-read per request, verified by the client.

TEST_F(RemoteConfigTest, AuthBankServesBundlesThatVerify) {
  test_support::TempDir dir("openpcc-remote-config");
  ASSERT_FALSE(dir.path().empty());
  ASSERT_TRUE(services::write_secret_file_atomically(
      dir / "currency.key", as_bytes(read_text(std::string(OPENPCC_TEST_DATA_DIR) + "/authbank-currency-key-1024.pem"))));
  std::ofstream(dir / "currency-key.bundle.json") << currency_bundle();
  std::ofstream(dir / "ohttp-keys.bundle.json") << ohttp_bundle();
  nlohmann::json json = {{"listen", "127.0.0.1:0"},
                         {"database", "sqlite:money.db"},
                         {"currency_key_bundle", "currency-key.bundle.json"},
                         {"ohttp_keys_bundle", "ohttp-keys.bundle.json"},
                         {"log_level", "warn"}};
  auto config = authbank::parse_service_config(json, dir.path());
  ASSERT_TRUE(config) << config.error().to_string();
  auto service = authbank::Service::start(*config);
  ASSERT_TRUE(service) << service.error().to_string();
  auto& ledger = (*service)->bank().ledger();
  const int64_t now = currency::unix_now();
  const int64_t account = ledger.create_account("acme", "alice", {}, now)->id;
  const std::string api_key = ledger.issue_key(account, now + 3600, now)->key.text();

  net::Runtime runtime(1);
  authbank::AuthBankClient bank(services::direct_transport(net::Client::create().value()), (*service)->url(),
                                api_key);
  auto fetch = [&] {
    return runtime.block_on([&]() -> net::Task<Result<pb::AuthConfigResponse>> { co_return co_await bank.config(); });
  };
  auto answer = fetch();
  ASSERT_TRUE(answer) << answer.error().to_string();
  auto key = verified_currency_key(*answer, trust());
  ASSERT_TRUE(key) << key.error().to_string();
  EXPECT_EQ(key->n, (*service)->bank().currency_public_key().n);
  auto keys = verified_ohttp_keys(*answer, trust());
  ASSERT_TRUE(keys) << keys.error().to_string();
  EXPECT_EQ(keys->configs, configs_);

  // Rotation: a new statement published over the file is served on the next request.
  configs_.push_back(key_config(3));
  periods_.push_back({3, at("2026-06-01T00:00:00Z"), at("2027-06-01T00:00:00Z")});
  std::ofstream(dir / "ohttp-keys.bundle.json", std::ios::trunc) << ohttp_bundle();
  auto rotated = fetch();
  ASSERT_TRUE(rotated) << rotated.error().to_string();
  auto rotated_keys = verified_ohttp_keys(*rotated, trust());
  ASSERT_TRUE(rotated_keys) << rotated_keys.error().to_string();
  EXPECT_EQ(select_key_config(*rotated_keys, at("2026-08-01T00:00:00Z"))->key_id, 3);

  // A bundle file edited on the bank's disk is served, and refused by the client.
  std::string tampered = read_text(dir / "currency-key.bundle.json");
  tampered[tampered.find("\"logIndex\":") + 11] = '7';
  std::ofstream(dir / "currency-key.bundle.json", std::ios::trunc) << tampered;
  auto served = fetch();
  ASSERT_TRUE(served) << served.error().to_string();
  EXPECT_FALSE(verified_currency_key(*served, trust()));
  (*service)->shutdown(std::chrono::seconds(2));
}

}  // namespace
}  // namespace openpcc::client
