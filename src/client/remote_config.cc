#include "client/remote_config.h"

#include <string>

#include "services/authbank/jwk.h"
#include "transparency/bundle.h"
#include "transparency/predicates.h"
#include "wire/ohttp_key_config.h"

namespace openpcc::client {
namespace {

constexpr std::string_view kCurrencyKeyBundle = "currency key bundle";
constexpr std::string_view kOhttpKeysBundle = "OHTTP keys bundle";

std::unexpected<Error> named(std::string_view bundle, const Error& e) {
  return std::unexpected(wrap_error(bundle, e));
}

// Parsed and verified under `trust`: the statement it carries.
Result<transparency::Statement> verified_statement(std::string_view bundle_json, const TransparencyTrust& trust) {
  auto bundle = transparency::parse_transparency_bundle(bundle_json);
  if (!bundle) return std::unexpected(bundle.error());
  auto verified = transparency::verify_bundle(*bundle, trust.publishers, trust.log_key, trust.trusted_checkpoint);
  if (!verified) return std::unexpected(verified.error());
  return std::move(verified->statement);
}

}  // namespace

Result<crypto::RsaPublicKey> verified_currency_key_bundle(std::string_view bundle_json,
                                                          const TransparencyTrust& trust) {
  auto statement = verified_statement(bundle_json, trust);
  if (!statement) return named(kCurrencyKeyBundle, statement.error());
  auto jwk = transparency::currency_key_from_statement(*statement);
  if (!jwk) return named(kCurrencyKeyBundle, jwk.error());
  auto key = authbank::rsa_public_key_from_jwk(*jwk);
  if (!key) return named(kCurrencyKeyBundle, key.error());
  return key;
}

Result<OhttpKeys> verified_ohttp_keys_bundle(std::string_view bundle_json, const TransparencyTrust& trust) {
  auto statement = verified_statement(bundle_json, trust);
  if (!statement) return named(kOhttpKeysBundle, statement.error());
  auto predicate = transparency::ohttp_keys_from_statement(*statement);
  if (!predicate) return named(kOhttpKeysBundle, predicate.error());
  auto configs = wire::ohttp::parse_key_configs(predicate->ohttp_keys, /*skip_unsupported=*/true);
  if (!configs) return named(kOhttpKeysBundle, configs.error());
  if (configs->empty()) {
    return make_error(ErrorCode::kUnsupported, std::string(kOhttpKeysBundle) + ": no key config this client supports");
  }
  return OhttpKeys{std::move(*configs), std::move(predicate->periods)};
}

Result<crypto::RsaPublicKey> verified_currency_key(const pb::AuthConfigResponse& config,
                                                   const TransparencyTrust& trust) {
  if (config.currency_key_bundle().empty()) {
    return make_error(ErrorCode::kNotFound, std::string(kCurrencyKeyBundle) + ": the config has none");
  }
  return verified_currency_key_bundle(config.currency_key_bundle(), trust);
}

Result<OhttpKeys> verified_ohttp_keys(const pb::AuthConfigResponse& config, const TransparencyTrust& trust) {
  if (config.ohttp_key_configs_bundle().empty()) {
    return make_error(ErrorCode::kNotFound, std::string(kOhttpKeysBundle) + ": the config has none");
  }
  return verified_ohttp_keys_bundle(config.ohttp_key_configs_bundle(), trust);
}

}  // namespace openpcc::client
